"""``python -m openkwh.demo`` (``make demo``)."""

import sys

from openkwh.demo import main

sys.exit(main())

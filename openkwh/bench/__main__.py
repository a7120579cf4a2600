"""``python -m openkwh.bench`` (``make bench``)."""

import sys

from openkwh.bench.gas import main

sys.exit(main())

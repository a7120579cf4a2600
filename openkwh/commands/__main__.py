"""``python -m openkwh.commands``: the same as ``openkwh``."""

import sys

from openkwh.commands.cli import main

sys.exit(main())

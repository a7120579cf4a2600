"""OpenKWh market actions: `python -m openkwh.commands.market --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("market"))

"""OpenKWh operator actions: `python -m openkwh.commands.operator --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("operator"))

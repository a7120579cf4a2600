"""OpenKWh auditor actions: `python -m openkwh.commands.auditor --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("auditor"))

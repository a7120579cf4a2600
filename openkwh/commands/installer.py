"""OpenKWh installer actions: `python -m openkwh.commands.installer --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("installer"))

"""OpenKWh factor publisher actions: `python -m openkwh.commands.publisher --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("publisher"))

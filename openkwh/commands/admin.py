"""OpenKWh admin actions: `python -m openkwh.commands.admin --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("admin"))

"""OpenKWh prosumer actions: `python -m openkwh.commands.prosumer --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("prosumer"))

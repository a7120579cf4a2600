"""OpenKWh keeper actions (anyone may run them): `python -m openkwh.commands.keeper --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("keeper"))

"""OpenKWh issuing body actions: `python -m openkwh.commands.issuing_body --help`."""

import sys

from openkwh.commands.actions import main

if __name__ == "__main__":
    sys.exit(main("issuing_body"))

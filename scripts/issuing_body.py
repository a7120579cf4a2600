"""OpenKWh issuing body actions: `python -m scripts.issuing_body --help`."""

import sys

from scripts.actions import main

if __name__ == "__main__":
    sys.exit(main("issuing_body"))

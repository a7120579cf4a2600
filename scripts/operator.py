"""OpenKWh operator actions: `python -m scripts.operator --help`."""

import sys

from scripts.actions import main

if __name__ == "__main__":
    sys.exit(main("operator"))

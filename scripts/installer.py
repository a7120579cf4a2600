"""OpenKWh installer actions: `python -m scripts.installer --help`."""

import sys

from scripts.actions import main

if __name__ == "__main__":
    sys.exit(main("installer"))

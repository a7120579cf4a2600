"""OpenKWh admin actions: `python -m scripts.admin --help`."""

import sys

from scripts.actions import main

if __name__ == "__main__":
    sys.exit(main("admin"))

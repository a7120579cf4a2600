"""OpenKWh prosumer actions: `python -m scripts.prosumer --help`."""

import sys

from scripts.actions import main

if __name__ == "__main__":
    sys.exit(main("prosumer"))

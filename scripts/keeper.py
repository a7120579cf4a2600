"""OpenKWh keeper actions (anyone may run them): `python -m scripts.keeper --help`."""

import sys

from scripts.actions import main

if __name__ == "__main__":
    sys.exit(main("keeper"))

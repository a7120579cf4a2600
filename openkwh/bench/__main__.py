"""``python -m openkwh.bench`` (``make bench``): gas, the bridge's and the dApp's
figures (openkwh.bench.gas), then the national replay through the data hub
(openkwh.bench.scale, bench/scale.json; alone: ``make bench-scale``)."""

import sys

from openkwh.bench import scale
from openkwh.bench.gas import main

code = main()
sys.exit(code or scale.main([]))

"""`make demo HUB=1`: one household through the data hub, on a real anvil node."""

import pytest

from openkwh.demo import hub

pytestmark = pytest.mark.anvil


def test_demo_hub_household_reveals_and_settles():
    lines = []
    figures = hub.run(say=lines.append)
    # the traded hour went through the hub, was revealed and settled unchanged
    assert figures["delivered_wh"] == hub.OFFER_WH
    assert figures["payment"] == hub.OFFER_WH * hub.PRICE
    assert figures["intervals_settled"] == 2
    assert figures["measured"]["dana"][1] >= hub.OFFER_WH
    assert figures["measured"]["erik"][2] > 0
    assert any(line.startswith("4. The hub publishes DK1's root") for line in lines)
    # what the household reads: kWh and tokens, as the rest of the demo shows them
    dana, erik = figures["measured"]["dana"][1], figures["measured"]["erik"][2]
    produced = f"{dana // 1000}.{dana % 1000:03d} kWh"
    consumed = f"{erik // 1000}.{erik % 1000:03d} kWh"
    assert f"   Dana produced {produced}, Erik consumed {consumed}" in lines
    assert (
        "   deal: 0.500 kWh of 0.500 kWh delivered, 0.0500 tokens paid; 2 intervals settled"
        in lines
    )

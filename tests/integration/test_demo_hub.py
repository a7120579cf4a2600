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

"""Certificates grouped by day and producing meter, with totals; a retirement is
pre-filled with what the holder's consumption of that hour can still claim, never
the whole balance."""

from __future__ import annotations

import pytest

from tests.dapp.conftest import RETIRED_WH, SOLD_WH
from tests.dapp.test_browser import browser, connect_wallet, served, wallet_page  # noqa: F401

pytestmark = pytest.mark.anvil


def test_the_api_says_what_each_hour_can_still_retire(client, world):
    solar, home = "0x" + world.solar.hex(), "0x" + world.home.hex()
    ben = client.get(f"/api/v1/accounts/{world.ben.address}/certificates").get_json()
    (held,) = ben["held"]
    assert held["wh"] == SOLD_WH - RETIRED_WH
    assert held["remaining_wh"] == {home: 2_400 - RETIRED_WH}  # Ben used 2,400 Wh
    assert held["retirable_wh"] == SOLD_WH - RETIRED_WH  # all he holds: he used more
    anna = client.get(f"/api/v1/accounts/{world.anna.address}/certificates").get_json()
    (own,) = anna["held"]
    assert own["remaining_wh"] == {solar: 300}  # Anna drew 300 Wh from the grid
    assert own["wh"] > 300
    assert own["retirable_wh"] == 300  # up to her consumption, not her whole balance


def test_the_page_groups_by_day_and_meter_and_prefills_the_remaining_consumption(
    world,
    served,  # noqa: F811
    browser,  # noqa: F811
):
    anna = wallet_page(browser, world.w3, world.anna, served)
    connect_wallet(anna, "/certificates", world.anna)
    group = anna.locator("details.group").first
    assert group.get_attribute("open") is not None
    summary = group.locator("summary").inner_text()
    assert "1 hour" in summary
    assert "0.3 kWh retirable" in summary
    assert group.locator("input[name=wh]").input_value() == "300"
    anna.context.close()

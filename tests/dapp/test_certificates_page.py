"""Certificates grouped by day and producing meter, with totals; a retirement is
pre-filled with what the holder's consumption of that hour can still claim, never
the whole balance; a whole day retired at once; a transfer's address checked (form,
EIP-55 checksum, not one's own) before the wallet is asked."""

from __future__ import annotations

import pytest

from tests.dapp.conftest import RETIRED_WH, SOLD_WH
from tests.dapp.test_browser import (  # noqa: F401
    browser,
    confirmed,
    connect_wallet,
    served,
    wallet_page,
)
from tests.dapp.test_layout import open_page

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


def test_a_whole_day_is_retired_at_once(world, served, browser):  # noqa: F811
    registry = world.contract("GGORegistry").functions
    certificate = registry.certificate_id(world.solar, world.begin).call()
    held = registry.balanceOf(world.ben.address, certificate).call()
    assert held == SOLD_WH - RETIRED_WH
    ben = open_page(browser, world, served, "phone", "ben")
    connect_wallet(ben, "/certificates", world.ben)
    day = ben.locator("details.group form.day").first
    button = day.get_by_role("button")
    assert "Retire the whole day: 0.5 kWh" in button.inner_text()
    button.click()
    confirmed(ben, f"Retire {held} Wh of ")
    assert registry.balanceOf(world.ben.address, certificate).call() == 0
    assert ben.locator(".transactions li").count() == 1  # one transaction: retire_many
    ben.locator("#retired td", has_text=f"{held} Wh").wait_for()
    ben.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_transfer_checks_the_address_before_the_wallet_is_asked(
    world,
    served,  # noqa: F811
    browser,  # noqa: F811
    size,
):
    registry = world.contract("GGORegistry").functions
    certificate = registry.certificate_id(world.solar, world.begin).call()
    before = registry.balanceOf(world.ben.address, certificate).call()
    anna = open_page(browser, world, served, size, "anna")
    connect_wallet(anna, "/certificates", world.anna)
    form = anna.locator("form[data-cert]").first
    ben = world.ben.address
    i = max(i for i, c in enumerate(ben) if c.isalpha() and i > 1)
    attempts = {
        ben[:i] + ben[i].swapcase() + ben[i + 1 :]: "fails its checksum",
        ben[:-1]: "0x and 40 hex digits",
        world.anna.address: "your own address",
    }
    form.locator("input[name=wh]").fill("10")
    for typed, message in attempts.items():
        form.locator("input[name=to]").fill(typed)
        form.get_by_role("button", name="Transfer").click()
        form.locator(".toast.error", has_text=message).wait_for()
    assert anna.locator(".transactions li").count() == 0  # the wallet was never asked
    form.locator("input[name=to]").fill(ben)
    form.get_by_role("button", name="Transfer").click()
    form.locator(".toast.confirmed", has_text=f"Transfer 10 Wh to {ben[:8]}").wait_for()
    assert registry.balanceOf(ben, certificate).call() == before + 10
    anna.context.close()

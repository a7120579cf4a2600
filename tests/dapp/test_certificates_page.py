"""Certificates grouped by day and producing meter, with totals; a retirement is
pre-filled with what the holder's consumption of that hour can still claim, never
the whole balance; a whole day retired at once; a transfer's address checked (form,
EIP-55 checksum, not one's own) before the wallet is asked."""

from __future__ import annotations

import pytest

from tests.dapp.conftest import RETIRED_WH, SOLD_WH
from tests.dapp.test_browser import browser, confirmed, connect_wallet, served  # noqa: F401
from tests.dapp.test_layout import SIZES, open_page

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


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_page_groups_by_day_and_meter_and_prefills_the_remaining_consumption(
    world,
    served,  # noqa: F811
    browser,  # noqa: F811
    size,
):
    anna = open_page(browser, world, served, size, "anna")
    connect_wallet(anna, "/certificates", world.anna)
    group = anna.locator("details.group").first
    assert group.get_attribute("open") is not None
    summary = group.locator("summary").inner_text()
    assert "1 hour" in summary
    assert "0.3 kWh retirable" in summary
    assert group.locator("input[name=wh]").input_value() == "300"
    assert anna.evaluate("() => document.documentElement.scrollWidth") == SIZES[size][0]
    anna.context.close()


# Ben holds what he bought less what he retired, all of it within his consumption;
# Anna holds her whole export, of which her own 300 Wh drawn from the grid is retirable.
@pytest.mark.parametrize(
    ("size", "who", "retirable"), [("phone", "ben", SOLD_WH - RETIRED_WH), ("desktop", "anna", 300)]
)
def test_a_whole_day_is_retired_at_once(world, served, browser, size, who, retirable):  # noqa: F811
    registry = world.contract("GGORegistry").functions
    certificate = registry.certificate_id(world.solar, world.begin).call()
    account = getattr(world, who)
    held = registry.balanceOf(account.address, certificate).call()
    assert held >= retirable
    page = open_page(browser, world, served, size, who)
    connect_wallet(page, "/certificates", account)
    day = page.locator("details.group form.day").first
    button = day.get_by_role("button")
    assert f"Retire the whole day: {retirable / 1000:g} kWh" in button.inner_text()
    button.click()
    confirmed(page, f"Retire {retirable} Wh of ")
    assert registry.balanceOf(account.address, certificate).call() == held - retirable
    assert page.locator(".transactions li").count() == 1  # one transaction: retire_many
    page.locator("#retired td", has_text=f"{retirable} Wh").wait_for()
    page.context.close()


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

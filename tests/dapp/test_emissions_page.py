"""The emissions page shows the default factors as values, labelled with their
source, and keeps a prosumer's own factors in the browser across reloads."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dapp.test_browser import browser, connect_wallet, served  # noqa: F401
from tests.dapp.test_layout import open_page

pytestmark = pytest.mark.anvil


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_default_factors_are_values_and_custom_ones_are_kept(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/emissions", world.ben)
    form = page.locator("#factors")
    # The page fills the factors once it has read them: wait for that, not a moment.
    page.locator("#factor-source", has_text="Illustrative").wait_for()
    expect(form.locator("input[name=location]")).to_have_value("125")  # DK1, shipped
    expect(form.locator("input[name=residual]")).to_have_value("410")
    expect(page.locator("#location-based .value")).not_to_have_text("")
    before = page.locator("#location-based .value").inner_text()

    form.locator("input[name=location]").fill("98,5")  # a decimal comma
    form.locator("button[type=submit]").click()
    page.locator("#factor-source", has_text="Your own factors").wait_for()
    after = page.locator("#location-based .value").inner_text()
    assert after != before
    # Ben used 2,400 Wh: 2.4 kWh x 98.5 g/kWh = 236.4 g
    assert after == "0.236 kg CO₂e"

    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(form.locator("input[name=location]")).to_have_value("98.5")
    expect(page.locator("#location-based .value")).to_have_text(after)

    assert (
        page.evaluate("() => document.documentElement.scrollWidth") == page.viewport_size["width"]
    )
    page.locator("#factors-reset").click()
    page.locator("#factor-source", has_text="Illustrative").wait_for()
    expect(form.locator("input[name=location]")).to_have_value("125")
    expect(page.locator("#location-based .value")).to_have_text(before)
    page.context.close()

"""The emissions page shows the default factors as values, labelled with their
source, and keeps a prosumer's own factors in the browser across reloads."""

from __future__ import annotations

import pytest

from tests.dapp.test_browser import browser, connect_wallet, served, wallet_page  # noqa: F401

pytestmark = pytest.mark.anvil


def test_default_factors_are_values_and_custom_ones_are_kept(world, served, browser):  # noqa: F811
    page = wallet_page(browser, world.w3, world.ben, served)
    connect_wallet(page, "/emissions", world.ben)
    form = page.locator("#factors")
    assert form.locator("input[name=location]").input_value() == "125"  # DK1, shipped
    assert form.locator("input[name=residual]").input_value() == "410"
    assert "Illustrative" in page.locator("#factor-source").inner_text()
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
    assert form.locator("input[name=location]").input_value() == "98.5"
    assert page.locator("#location-based .value").inner_text() == after

    page.locator("#factors-reset").click()
    page.locator("#factor-source", has_text="Illustrative").wait_for()
    assert form.locator("input[name=location]").input_value() == "125"
    assert page.locator("#location-based .value").inner_text() == before
    page.context.close()

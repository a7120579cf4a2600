"""The market page in Chromium: a visitor sees the hours and a two-sided book; a
prosumer's book marks their own orders and refreshes itself; expired orders are
not offered as open; the side follows the meter; "," works as the decimal
separator; settling is offered once the hour is measured, all at once, with the
refunds shown; the transaction history survives a reload."""

from __future__ import annotations

import time

import pytest

from openkwh.chain import transact
from tests.dapp.conftest import HOUR, PRICE
from tests.dapp.test_browser import browser, connect_wallet, served  # noqa: F401
from tests.dapp.test_layout import open_page

pytestmark = pytest.mark.anvil


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_visitor_sees_the_hours_and_the_book(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "visitor")  # no wallet at all
    page.goto("/market")
    page.wait_for_selector("body[data-ready='visitor']")
    open_hour = world.begin + 6 * HOUR
    page.locator(f"a[data-hour='{open_hour}']").click()
    page.locator("#book tr.ask").first.wait_for()
    assert page.locator("#book tr.spread").count() == 1
    assert page.locator("#book form[data-take]").count() == 0  # nothing to take with
    title = page.locator("#book-title time")
    assert title.get_attribute("title").endswith("UTC")  # local time, UTC on hover
    assert (
        page.evaluate("() => document.documentElement.scrollWidth") == page.viewport_size["width"]
    )
    page.context.close()


def rows(page) -> list[str]:
    return page.locator("#book tbody tr").evaluate_all("rows => rows.map(r => r.className)")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_prosumers_market(world, served, browser, size):  # noqa: F811
    w3, exchange = world.w3, world.contract("Exchange")
    now = w3.eth.get_block("latest")["timestamp"]
    hour = now - now % HOUR + 3 * HOUR  # a fresh hour, its gate still open
    # Anna's offer of 2,000 Wh, alone in that hour's book
    transact(w3, world.anna, exchange.functions.offer(world.solar, hour, 2_000, PRICE))
    ben = open_page(browser, world, served, size, "ben")
    connect_wallet(ben, "/market", world.ben)
    form = ben.locator("#order-form")
    assert form.locator("select[name=side]").input_value() == "bid"  # a household meter

    # A bid typed with a decimal comma; the toast beside the form tells the outcome.
    form.locator("input[name=begin]").fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(hour)))
    form.locator("input[name=wh]").fill("300")
    form.locator("input[name=price]").fill("0,12")
    form.locator("button[type=submit]").click()
    form.locator(".toast.confirmed", has_text="Bid 300 Wh: confirmed").wait_for()
    order_id = exchange.functions.order_count().call() - 1
    assert exchange.functions.orders(order_id).call()[4] == 12 * 10**13  # 0.12 per kWh

    # The book shows it, marked as Ben's, below the spread, without a reload.
    ben.locator(f"a[data-hour='{hour}']").click()
    ben.locator("#book tr.bid.own .badge", has_text="yours").wait_for()
    assert rows(ben) == ["ask", "spread", "bid own"]
    assert "spread" in ben.locator("#book tr.spread").inner_text()

    # Anna offers more from outside the page: the book refreshes by itself.
    transact(w3, world.anna, exchange.functions.offer(world.solar, hour, 500, PRICE + 10**12))
    ben.locator("#book tr.ask").nth(1).wait_for()
    assert rows(ben) == ["ask", "ask", "spread", "bid own"]  # the dearer ask on top

    # Two takes of Anna's first offer: two deals, not yet measured, so not yet settleable.
    offer = ben.locator("#book tr.ask").last.locator("form[data-take]")
    for _ in range(2):
        offer.locator("input[name=wh]").fill("400")
        offer.locator("button").click()
        offer.locator(".toast.confirmed", has_text="Take 400 Wh").wait_for()
        offer = ben.locator("#book tr.ask").last.locator("form[data-take]")
    ben.locator("#deals td", has_text="awaiting delivery").first.wait_for()
    assert ben.locator("button[data-settle]").count() == 0

    # The hour passes and is measured: Anna exported 600 of the 800 Wh sold.
    world.meter_readings(hour, {"solar": (0, 0), "home": (0, 0)})
    world.meter_readings(hour + HOUR, {"solar": (0, 600), "home": (900, 0)})
    settle_all = ben.locator("#settle-all", has_text="Settle all 2 of my deals")
    settle_all.wait_for()
    settle_all.click()
    beside = ben.locator("p", has=ben.locator("#settle-all"))
    beside.locator(".toast.confirmed", has_text="Settle 2 deals: confirmed").wait_for()
    refunded = ben.locator(
        "#deals tr", has=ben.locator(f"time[datetime^='{iso(hour)}']"), has_text="refunded"
    )
    refunded.first.wait_for()
    assert refunded.count() == 2
    assert ben.evaluate("() => document.documentElement.scrollWidth") == ben.viewport_size["width"]

    # The history lasts across a reload.
    ben.reload()
    ben.wait_for_selector("body[data-ready='true']")
    ben.locator(".transactions li.confirmed", has_text="Settle 2 deals").wait_for()
    ben.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_order_whose_gate_closed_is_expired_not_open(world, served, browser, size):  # noqa: F811
    closed = world.begin + HOUR  # Anna's offer; its gate has closed
    anna = open_page(browser, world, served, size, "anna")
    connect_wallet(anna, "/market", world.anna)
    row = anna.locator("#orders tr", has=anna.locator(f"time[datetime^='{iso(closed)}']"))
    row.first.wait_for()
    assert "expired" in row.first.inner_text()
    assert row.first.locator("button").count() == 0  # an offer: nothing to recover
    anna.context.close()


def iso(unix: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(unix))

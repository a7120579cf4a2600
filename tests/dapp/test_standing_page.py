"""Standing orders on the market page, in Chromium with the injected wallet, at a
phone's width and a laptop's: the clearing price per hour as a chart with its
numbers as text; one's standing orders with their fills per hour; a standing bid
with the same Wh every hour and a "," decimal price; an offer "up to my forecast"
that shows the proposed Wh per hour before the wallet signs, and refuses to place a
forecast of nothing; a cancellation from a chosen hour. The world is the dApp's
community with conftest.add_auction's standing orders, two hours cleared."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from web3.logs import DISCARD

from openkwh.chain import transact
from openkwh.devtools.anvil import run_anvil
from tests.dapp.conftest import HOUR, add_auction, build_world
from tests.dapp.test_browser import browser, confirmed, indexed, served, shoot  # noqa: F401
from tests.dapp.test_layout import open_page, visit

pytestmark = pytest.mark.anvil

DAY = 86_400


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with run_anvil() as node:
        world = build_world(node.url, tmp_path_factory.mktemp("world"))
        add_auction(world)
        world.index()
        yield world


def local(unix: int) -> str:
    """A datetime-local input's value for the UTC hour ``unix``."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M")


def no_sideways_scroll(page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") == width


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_visitor_sees_the_clearing_price_per_hour(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "visitor")
    visit(page, "/market", "visitor")
    page.wait_for_selector("#clearing .chart[data-drawn='2']")
    numbers = page.locator("#clearing-table").inner_text()
    assert "0.12" in numbers
    assert "0.18" in numbers  # the two hours' uniform prices, per kWh, as text
    canvas = page.locator("#clearing-chart")
    assert "tokens per kWh" in canvas.get_attribute("aria-label")
    assert canvas.get_attribute("data-unit").endswith("/kWh")  # the y-axis title Chart.js drew
    assert page.locator("#standing").is_hidden()  # nothing of an account's for a visitor
    no_sideways_scroll(page)
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_my_standing_orders_and_their_fills(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "ben")
    visit(page, "/market", "ben")
    orders = page.locator("#standing-orders")
    orders.locator("details").first.wait_for()
    assert orders.locator("tbody > tr").count() >= 2
    week = orders.locator(
        "tbody > tr", has=page.locator("td[data-label='order']", has_text=re.compile("^2$"))
    )
    week.locator("summary").click()
    fills = week.locator("details table").inner_text()
    assert "1500 Wh" in fills  # filled in full in both cleared hours
    assert "0.12" in fills
    assert "0.18" in fills
    assert week.locator("summary").inner_text().startswith("3 kWh in 2 hours")
    shoot(page, "market-standing")
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_standing_bid_the_same_wh_every_hour(world, served, browser, size):  # noqa: F811
    wh = {"phone": 700, "desktop": 701}[size]
    first = world.auction_first + 3 * HOUR
    page = open_page(browser, world, served, size, "ben")
    visit(page, "/market", "ben")
    form = page.locator("#standing-form")
    form.locator("select[name='meter']").select_option("0x" + world.home.hex())
    form.locator("select[name='side']").select_option("bid")
    form.locator("input[name='from']").fill(local(first))
    form.locator("input[name='to']").fill(local(first + HOUR))
    form.locator("input[name='wh']").fill(str(wh))
    form.locator("input[name='price']").fill("0,2")  # a comma: 0.2 tokens per kWh
    form.locator("button[type='submit']").click()
    confirmed(page, f"Standing bid of {wh} Wh per hour")
    indexed(
        world,
        "SELECT count(*) FROM standing_orders WHERE maker = ? AND wh = ? AND price = ? "
        "AND first = ? AND last = ? AND is_bid = 1",
        (world.ben.address, str(wh), str(2 * 10**14), first, first + HOUR),
    )
    no_sideways_scroll(page)
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_an_offer_up_to_my_forecast(world, served, browser, size):  # noqa: F811
    # Anna's meter measured 3,100 Wh of export in the traded hour: the forecast of that
    # hour of the day, and 0 Wh in the others.
    day = {"phone": 1, "desktop": 2}[size]
    first = world.begin + day * DAY
    page = open_page(browser, world, served, size, "anna")
    visit(page, "/market", "anna")
    form = page.locator("#standing-form")
    form.locator("select[name='side']").select_option("offer")
    form.locator("input[value='forecast']").check()
    form.locator("input[name='from']").fill(local(first + HOUR))
    form.locator("input[name='to']").fill(local(first + 2 * HOUR))
    form.locator("input[name='to']").dispatch_event("change")
    page.locator("#forecast", has_text="nothing to place").wait_for()
    form.locator("input[name='price']").fill("0.13")
    form.locator("button[type='submit']").click()
    form.locator(".toast.error", has_text="nothing to place").wait_for()

    form.locator("input[name='from']").fill(local(first))
    form.locator("input[name='from']").dispatch_event("change")
    proposed = page.locator("#forecast table")
    proposed.wait_for()
    assert "3100 Wh" in proposed.inner_text()
    assert "as 1 standing order" in page.locator("#forecast").inner_text()
    no_sideways_scroll(page)
    form.locator("button[type='submit']").click()
    confirmed(page, "Standing offer of 3100 Wh per hour")
    indexed(
        world,
        "SELECT count(*) FROM standing_orders WHERE maker = ? AND wh = '3100' AND first = ? "
        "AND last = ? AND is_bid = 0",
        (world.anna.address, first, first),
    )
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_cancel_a_standing_order_from_an_hour(world, served, browser, size):  # noqa: F811
    auction = world.contract("Auction")
    first = world.auction_first + 3 * HOUR
    receipt = transact(
        world.w3,
        world.anna,
        auction.functions.place(world.solar, first, first + 3 * HOUR, 900, 15 * 10**13, False),
    )
    (event,) = auction.events.StandingOrderPlaced().process_receipt(receipt, errors=DISCARD)
    order_id = event["args"]["order_id"]
    indexed(world, "SELECT count(*) FROM standing_orders WHERE order_id = ?", (order_id,))
    page = open_page(browser, world, served, size, "anna")
    visit(page, "/market", "anna")
    cancel = page.locator(f"form[data-cancel-standing='{order_id}']")
    cancel.wait_for()
    cancel.locator("select").select_option(str(first + 2 * HOUR))
    cancel.locator("button").click()
    confirmed(page, f"Cancel standing order {order_id}")
    indexed(
        world,
        "SELECT count(*) FROM standing_orders WHERE order_id = ? AND cancelled_from = ?",
        (order_id, first + 2 * HOUR),
    )
    assert auction.functions.order(order_id).call()[3] == first + HOUR
    no_sideways_scroll(page)
    page.context.close()

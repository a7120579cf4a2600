"""Behaviour of the dApp that issue 16 asked for, pinned in Chromium: the dashboard
chart's y axis says kWh; a backend's trust announced is news for every account; a
buyer's refund is told to the token base unit; Settle is offered once the settlement
timeout has passed without a measurement; the order book shows its depth per price
level on both sides; the transaction history is per account; the screenshots go to
out/screens/. Every job runs at both sizes, each on a fresh hour."""

from __future__ import annotations

from pathlib import Path
from time import gmtime, strftime

import pytest
from web3 import Web3
from web3.logs import DISCARD

from openkwh.chain import transact
from openkwh.commands import actions
from openkwh.commands.deploy import contract_partial
from openkwh.devtools.anvil import dev_accounts
from tests.dapp import test_browser, test_layout
from tests.dapp.conftest import HANG_GUARD_MS, HOUR, PRICE, SIZES
from tests.dapp.test_browser import (  # noqa: F401
    WALLET_SCRIPT,
    InjectedWallet,
    browser,
    confirmed,
    connect_wallet,
    indexed,
    served,
)
from tests.dapp.test_layout import open_page

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
# A fresh hour of its own for each job and size (hours ahead of the chain's time),
# so that no job finds another's orders in its book.
AHEAD = {
    ("depth", "desktop"): 10,
    ("depth", "phone"): 11,
    ("history", "desktop"): 20,
    ("history", "phone"): 21,
    ("switch", "desktop"): 22,
}

# Records every text Chromium draws on a canvas, and whether it was drawn turned
# (an axis title along the y axis is drawn rotated a quarter turn).
DRAWN_TEXT = """
(() => {
  window.__drawn = [];
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    const { b } = this.getTransform();
    window.__drawn.push({ text: String(text), canvas: this.canvas.id, turned: b !== 0 });
    return fillText.call(this, text, ...rest);
  };
})();
"""


def fresh_hour(world, ahead: int = 3) -> int:
    now = world.w3.eth.get_block("latest")["timestamp"]
    return now - now % HOUR + ahead * HOUR


def symbol(world) -> str:
    return world.contract("Wallet").functions.symbol().call()


def sell_to_ben(world, hour: int, wh: int):
    """Anna offers ``wh`` for ``hour`` and Ben takes it all: the DealMade event."""
    w3, exchange = world.w3, world.contract("Exchange")
    receipt = transact(w3, world.anna, exchange.functions.offer(world.solar, hour, wh, PRICE))
    (placed,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
    receipt = transact(
        w3, world.ben, exchange.functions.take(placed["args"]["order_id"], wh, PRICE, 0, world.home)
    )
    (deal,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)
    return deal


def increase_time_to(w3: Web3, timestamp: int) -> None:
    """anvil: moves its clock on to ``timestamp`` (or a second or two past it) and mines a
    block, so that the chain's time the dApp reads is there."""
    w3.provider.make_request(
        "evm_increaseTime", [timestamp - w3.eth.get_block("latest")["timestamp"]]
    )
    w3.provider.make_request("evm_mine", [])
    assert w3.eth.get_block("latest")["timestamp"] >= timestamp


# 1. The chart's unit


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_dashboard_charts_y_axis_carries_its_unit(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "anna")
    page.context.add_init_script(DRAWN_TEXT)
    connect_wallet(page, "/", world.anna)
    # Chart.js draws a chart in one go: once its legend is on the canvas, so are its axes.
    page.wait_for_function(
        "() => window.__drawn.some((d) => d.text === 'produced, kWh' && d.canvas === 'energy-chart')"
    )
    drawn = page.evaluate("() => window.__drawn.filter((d) => d.canvas === 'energy-chart')")
    assert {"text": "kWh", "canvas": "energy-chart", "turned": True} in drawn  # the y axis' title
    page.context.close()


# 2. A backend's trust announced


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_backend_trust_announced_is_news_for_every_account(world, served, browser, size):  # noqa: F811
    # A backend of its own for each size (today's code, without roots: the
    # operator refuses to trust other code): the operator announces trusting it.
    operator = dev_accounts(1)[0]
    first = world.contract("SmartMeterBackend").functions
    factory = world.w3.eth.contract(
        abi=world.deployments["contracts"]["SmartMeterBackend"]["abi"],
        bytecode=contract_partial("SmartMeterBackend").compiler_data.bytecode,
    )
    backend = transact(
        world.w3,
        operator,
        factory.constructor(
            first.interval_length().call(), first.future_tolerance().call(), "0x" + "00" * 20
        ),
    )["contractAddress"]
    as_operator = actions.Actor(world.w3, operator, world.deployments)
    receipt = actions.announce_backend_trust(as_operator, backend, True)
    block = world.w3.eth.get_block(receipt["blockNumber"])
    effective_from = (
        block["timestamp"] + world.contract("OperatorBackend").functions.notice_period().call()
    )
    indexed(
        world,
        "SELECT COUNT(*) FROM notifications WHERE kind = 'backend_trust_announced' AND block = ?",
        (receipt["blockNumber"],),
    )
    for who in ("anna", "ben"):
        page = open_page(browser, world, served, size, who)
        connect_wallet(page, "/notifications", getattr(world, who))
        news = page.locator("#notifications li", has_text=backend[:8])
        news.wait_for()
        text = news.inner_text()
        assert "The operator will trust the meter backend" in text
        assert news.locator(f"code[title='{backend}']").count() == 1
        assert f"from {strftime('%Y-%m-%d %H:%M', gmtime(effective_from))} UTC" in text
        assert "new" in news.locator(".badge").inner_text()  # unread
        page.context.close()


# 3. A refund, to the base unit


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_buyer_is_told_the_exact_refund_of_a_short_delivery(world, served, browser, size, client):  # noqa: F811
    hour = fresh_hour(world)
    deal = sell_to_ben(world, hour, 800)
    # The hour is measured: Anna exported 600 of the 800 Wh sold; the keeper settles.
    world.meter_readings(hour, {"solar": (0, 0), "home": (0, 0)})
    world.meter_readings(hour + HOUR, {"solar": (0, 600), "home": (900, 0)})
    exchange = world.contract("Exchange")
    transact(
        world.w3,
        world.keeper,
        exchange.functions.settle_many([actions.settlement(deal, exchange.abi)]),
    )
    deal_id = deal["args"]["deal_id"]
    indexed(world, "SELECT COUNT(*) FROM deals WHERE deal_id = ? AND settled", (deal_id,))
    indexed(
        world,
        "SELECT COUNT(*) FROM notifications WHERE kind = 'deal_settled' AND account = ?",
        (world.ben.address,),
    )
    answer = client.get(f"/api/v1/accounts/{world.ben.address}/notifications?limit=200")
    (settled,) = [
        n
        for n in answer.get_json()["notifications"]
        if n["kind"] == "deal_settled" and n["deal_id"] == deal_id
    ]
    assert settled["role"] == "buyer"
    assert settled["delivered_wh"] == "600"
    assert settled["payment"] == str(600 * PRICE)
    assert settled["refund"] == str(200 * PRICE)  # 200 Wh not delivered, at the deal's price

    ben = open_page(browser, world, served, size, "ben")
    connect_wallet(ben, "/notifications", world.ben)
    news = ben.locator("#notifications li", has_text=f"Deal {deal_id} settled")
    news.wait_for()
    # 200 Wh at 0.15 per kWh: 0.03 tokens, exactly, back to Ben's Exchange credit
    assert (
        f"0.6 kWh delivered for 0.0900 {symbol(world)}, 0.0300 {symbol(world)} refunded "
        "to your Exchange credit" in news.inner_text()
    )
    ben.context.close()


# 5. The book's depth


def book_rows(page) -> list[tuple[str, str, str, str]]:
    return page.locator("#book tbody tr:not(.spread)").evaluate_all(
        """rows => rows.map((r) => [r.className,
             ...['price', 'open', 'depth'].map((l) => r.querySelector(`td[data-label='${l}']`).textContent.trim())])"""
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_book_shows_its_depth_per_price_level_on_both_sides(world, served, browser, size):  # noqa: F811
    w3, exchange = world.w3, world.contract("Exchange")
    hour = fresh_hour(world, AHEAD[("depth", size)])
    dear, cheap = PRICE + 10**12, PRICE - 10**12  # 0.151 and 0.149 per kWh
    for wh, price in ((500, PRICE), (300, PRICE), (200, dear)):
        transact(w3, world.anna, exchange.functions.offer(world.solar, hour, wh, price))
    for wh, price in ((400, cheap), (250, cheap), (100, cheap - 10**12)):
        transact(w3, world.ben, exchange.functions.bid(world.home, hour, wh, price, False))
    indexed(world, "SELECT COUNT(*) = 6 FROM orders WHERE interval_begin = ?", (hour,))
    page = open_page(browser, world, served, size, "visitor")
    page.goto("/market")
    page.wait_for_selector("body[data-ready='visitor']")
    page.locator(f"a[data-hour='{hour}']").click()
    page.locator("#book tr.bid").nth(2).wait_for()
    token = symbol(world)
    # Asks above the spread, dearest on top; bids below, dearest first. The depth of a
    # row is every Wh open at its price or better: both orders of one price count it.
    assert book_rows(page) == [
        ["ask", f"0.1510 {token}/kWh", "0.2 kWh", "1 kWh"],
        ["ask", f"0.1500 {token}/kWh", "0.3 kWh", "0.8 kWh"],
        ["ask", f"0.1500 {token}/kWh", "0.5 kWh", "0.8 kWh"],
        ["bid", f"0.1490 {token}/kWh", "0.4 kWh", "0.65 kWh"],
        ["bid", f"0.1490 {token}/kWh", "0.25 kWh", "0.65 kWh"],
        ["bid", f"0.1480 {token}/kWh", "0.1 kWh", "0.75 kWh"],
    ]
    assert page.locator("#book tr.spread").inner_text() == f"spread 0.0010 {token}/kWh"
    page.context.close()


# 6. The history, per account


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_history_kept_in_a_browser_is_per_account(world, served, browser, size):  # noqa: F811
    from playwright.sync_api import expect

    width, height = SIZES[size]
    context = browser.new_context(base_url=served, viewport={"width": width, "height": height})
    wallet = InjectedWallet(world.w3, world.anna)  # one wallet, its account switched below
    context.expose_function("__testWallet", wallet)
    context.add_init_script(WALLET_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(HANG_GUARD_MS)
    connect_wallet(page, "/market", world.anna)
    hour = fresh_hour(world, AHEAD[("history", size)])
    form = page.locator("#order-form")
    form.locator("select[name=side]").select_option("offer")
    form.locator("input[name=begin]").fill(strftime("%Y-%m-%dT%H:%M", gmtime(hour)))
    form.locator("input[name=wh]").fill("123")
    form.locator("input[name=price]").fill("0.15")
    form.locator("button[type=submit]").click()
    annas = page.locator(".transactions li.confirmed", has_text="Offer 123 Wh")
    annas.wait_for()

    # Ben uses the same browser: his history is his own, empty so far.
    wallet.account = world.ben
    page.reload()
    page.wait_for_function(
        "address => document.querySelector('#account').textContent.startsWith(address)",
        arg=world.ben.address[:8],
    )
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator(".transactions li")).to_have_count(0)

    # Anna's comes back with her.
    wallet.account = world.anna
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    annas.wait_for()
    page.context.close()


def test_a_transaction_stays_in_the_history_of_the_account_that_sent_it(world, served, browser):  # noqa: F811
    """The wallet switches to Ben while Anna's offer waits for its block: its
    confirmation goes to Anna's history, not to Ben's list on screen."""
    from playwright.sync_api import expect

    width, height = SIZES["desktop"]
    context = browser.new_context(base_url=served, viewport={"width": width, "height": height})
    wallet = InjectedWallet(world.w3, world.anna)
    context.expose_function("__testWallet", wallet)
    context.add_init_script(WALLET_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(HANG_GUARD_MS)
    connect_wallet(page, "/market", world.anna)
    hour = fresh_hour(world, AHEAD[("switch", "desktop")])
    form = page.locator("#order-form")
    form.locator("select[name=side]").select_option("offer")
    form.locator("input[name=begin]").fill(strftime("%Y-%m-%dT%H:%M", gmtime(hour)))
    form.locator("input[name=wh]").fill("321")
    form.locator("input[name=price]").fill("0.15")
    provider = world.w3.provider
    provider.make_request("evm_setAutomine", [False])  # the offer waits in the pool
    try:
        form.locator("button[type=submit]").click()
        page.locator(".transactions li.pending", has_text="Offer 321 Wh: pending").wait_for()
        wallet.account = world.ben
        page.evaluate("a => window.__testWalletEmit('accountsChanged', [a])", world.ben.address)
        page.wait_for_function(
            "address => document.querySelector('#account').textContent.startsWith(address)",
            arg=world.ben.address[:8],
        )
    finally:
        provider.make_request("evm_setAutomine", [True])
    provider.make_request("evm_mine", [])
    kept = """a => Object.keys(localStorage)
        .filter((k) => k.toLowerCase() === `openkwh.history.${a.toLowerCase()}`)
        .flatMap((k) => JSON.parse(localStorage.getItem(k)))
        .map((e) => `${e.kind} ${e.label}`)"""
    page.wait_for_function(
        f"a => ({kept})(a).some((e) => e.startsWith('confirmed Offer 321 Wh'))",
        arg=world.anna.address,
    )
    assert not any("Offer 321 Wh" in e for e in page.evaluate(kept, world.ben.address))
    expect(page.locator(".transactions li", has_text="Offer 321 Wh")).to_have_count(0)
    page.context.close()


# 7. The screenshots


def test_the_screenshots_go_to_out_screens_which_git_ignores():
    assert test_browser.SCREENSHOTS == test_layout.SCREENS == ROOT / "out" / "screens"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "out/" in ignored


# 4. Settling after the timeout, with no measurement (last: it moves the clock far on)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_settle_offered_once_the_timeout_passed_unmeasured(world, served, browser, size):  # noqa: F811
    hour = fresh_hour(world)
    deal = sell_to_ben(world, hour, 800)
    deal_id = deal["args"]["deal_id"]
    indexed(world, "SELECT COUNT(*) FROM deals WHERE deal_id = ?", (deal_id,))
    timeout = world.contract("Exchange").functions.settlement_timeout().call()
    ben = open_page(browser, world, served, size, "ben")
    row = ben.locator("#deals tr", has=ben.locator(f"td[data-label='deal']:text-is('{deal_id}')"))

    # The hour is over, nobody's meter reported it, the timeout runs: nothing to settle yet.
    increase_time_to(world.w3, hour + HOUR)
    connect_wallet(ben, "/market", world.ben)
    assert "awaiting the meter's reading" in row.inner_text()
    assert ben.locator(f"button[data-settle='{deal_id}']").count() == 0

    # The timeout has passed: Settle is offered, and it refunds Ben in full.
    increase_time_to(world.w3, hour + HOUR + timeout)
    ben.reload()
    ben.wait_for_selector("body[data-ready='true']")
    settle = ben.locator(f"button[data-settle='{deal_id}']")
    assert settle.count() == 1
    settle.click()
    confirmed(ben, f"Settle deal {deal_id}")
    row.locator("td", has_text=f"0.1200 {symbol(world)} refunded").wait_for()
    assert "0 kWh delivered" in row.inner_text()
    ben.context.close()

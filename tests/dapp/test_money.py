"""Every money job on the dashboard, in Chromium with an injected wallet, against the
real contracts on anvil: withdraw the Exchange's credit, deposit to the operator's
ledger with an EIP-2612 permit (amounts typed with "," or "."), withdraw from it,
buy tokens while the sale runs; what the balance cannot cover is refused next to
the button before the wallet is asked."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from openkwh.chain import transact
from openkwh.commands import actions
from openkwh.devtools.anvil import dev_accounts
from tests.dapp.conftest import ETHER, HOUR, PRICE, SOLD_WH
from tests.dapp.test_browser import browser, connect_wallet, indexed, served  # noqa: F401
from tests.dapp.test_layout import open_page

SIZES = ["desktop", "phone"]

pytestmark = pytest.mark.anvil


def test_the_api_tells_the_arrears_and_the_sale(client, world):
    data = client.get(f"/api/v1/accounts/{world.ben.address}/dashboard").get_json()
    assert data["balances"]["arrears"] == "0"
    wallet = world.contract("Wallet").functions
    assert data["sale"] == {
        "open": True,
        "ends_at": wallet.sale_end().call(),
        "rate": str(wallet.sale_rate().call()),
        "left": str(wallet.tokens_left_for_sale().call()),
    }


def sell_and_settle(world, wh: int) -> None:
    """Anna sells Ben ``wh`` of a fresh hour; the hour is metered and the deal settled,
    so its payment waits on the Exchange as Anna's credit."""
    w3, exchange = world.w3, world.contract("Exchange")
    now = w3.eth.get_block("latest")["timestamp"]
    hour = now - now % HOUR + 3 * HOUR
    receipt = transact(w3, world.anna, exchange.functions.offer(world.solar, hour, wh, PRICE))
    (placed,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
    receipt = transact(
        w3, world.ben, exchange.functions.take(placed["args"]["order_id"], wh, PRICE, 0, world.home)
    )
    (deal,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)
    world.meter_readings(hour, {"solar": (0, 0), "home": (0, 0)})
    world.meter_readings(hour + HOUR, {"solar": (0, wh), "home": (wh, 0)})
    transact(
        w3, world.keeper, exchange.functions.settle_many([actions.settlement(deal, exchange.abi)])
    )
    # the page reads the credit from the index: wait until it has seen the settlement
    indexed(world, "SELECT COUNT(*) FROM deals WHERE interval_begin = ? AND settled", (hour,))


@pytest.mark.parametrize("size", SIZES)
def test_a_seller_withdraws_the_exchanges_credit(world, served, browser, size):  # noqa: F811
    exchange, token = world.contract("Exchange").functions, world.contract("Wallet").functions
    anna = world.anna.address
    if not exchange.credit_of(anna).call():  # withdrawn at the other size: sell again
        sell_and_settle(world, 700)
        assert exchange.credit_of(anna).call() == 700 * PRICE
    credit = exchange.credit_of(anna).call()
    assert credit in (SOLD_WH * PRICE, 700 * PRICE)  # the settled deal's payment
    before = token.balanceOf(anna).call()
    page = open_page(browser, world, served, size, "anna")
    connect_wallet(page, "/", world.anna)
    form = page.locator("#withdraw-credit")
    form.locator("button").click()
    form.locator(".toast.confirmed", has_text="Withdraw Exchange credit: confirmed").wait_for()
    assert exchange.credit_of(anna).call() == 0
    assert token.balanceOf(anna).call() == before + credit
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_deposit_is_permitted_by_signature_and_a_withdrawal_follows(
    world,
    served,  # noqa: F811
    browser,  # noqa: F811
    size,
):
    w3, ben = world.w3, world.ben.address
    token = world.contract("Wallet")
    ledger = world.contract("OperatorBackend").functions
    operator = world.contract("OperatorBackend").address
    transact(w3, world.ben, token.functions.approve(operator, 0))  # no allowance left
    nonce = token.functions.nonces(ben).call()
    held = token.functions.balanceOf(ben).call()
    on_ledger = ledger.balance_of(ben).call()
    debt = ledger.debt_of(ben).call()
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/", world.ben)

    deposit = page.locator("#deposit")
    deposit.locator("input[name=amount]").fill(str(held // ETHER + 1))  # more than Ben holds
    deposit.locator("button").click()
    deposit.locator(".toast.error", has_text="less than").wait_for()
    assert page.locator(".transactions li").count() == 0  # the wallet was never asked

    deposit.locator("input[name=amount]").fill("1,5")
    deposit.locator("button").click()
    deposit.locator(".toast.confirmed", has_text="with a permit): confirmed").wait_for()
    assert token.functions.nonces(ben).call() == nonce + 1  # one permit, no approval
    paid = debt - ledger.debt_of(ben).call()
    assert ledger.balance_of(ben).call() + paid == on_ledger + 3 * ETHER // 2
    assert token.functions.balanceOf(ben).call() == held - 3 * ETHER // 2

    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    on_ledger = ledger.balance_of(ben).call()
    withdraw = page.locator("#withdraw-ledger")
    withdraw.locator("input[name=amount]").fill(str(on_ledger // ETHER + 1))
    withdraw.locator("button").click()
    withdraw.locator(".toast.error", has_text="less than").wait_for()
    withdraw.locator("input[name=amount]").fill("0.25")
    withdraw.locator("button").click()
    withdraw.locator(".toast.confirmed", has_text="from the ledger: confirmed").wait_for()
    assert ledger.balance_of(ben).call() == on_ledger - ETHER // 4
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_tokens_are_bought_while_the_sale_runs(world, served, browser, size):  # noqa: F811
    wallet = world.contract("Wallet").functions
    ben = world.ben.address
    before = wallet.balanceOf(ben).call()
    rate = wallet.sale_rate().call()
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/", world.ben)
    buy = page.locator("#buy-tokens")
    buy.locator("input[name=eth]").fill("1000000")  # more ether than Ben has
    buy.locator("button").click()
    buy.locator(".toast.error", has_text="Your wallet holds").wait_for()
    buy.locator("input[name=eth]").fill("0,01")
    buy.locator("button").click()
    buy.locator(".toast.confirmed", has_text="confirmed").wait_for()
    assert wallet.balanceOf(ben).call() == before + ETHER // 100 * rate
    assert (
        page.evaluate("() => document.documentElement.scrollWidth") == page.viewport_size["width"]
    )
    page.context.close()


def arrears_for_anna(world) -> int:
    """The operator empties its treasury; Anna's solar exports an hour it then rewards
    but cannot pay (arrears); the operator refills the treasury. Returns the arrears."""
    admin = dev_accounts(1)[0]
    ob = world.contract("OperatorBackend")
    treasury = ob.functions.treasury().call()
    if treasury:
        transact(world.w3, admin, ob.functions.withdraw_revenue(treasury, admin.address))
    before = ob.functions.arrears_of(world.anna.address).call()
    now = world.w3.eth.get_block("latest")["timestamp"]
    hour = now - now % HOUR + HOUR
    world.meter_readings(hour, {"solar": (0, 0), "home": (0, 0)})
    world.meter_readings(hour + HOUR, {"solar": (0, 2_000), "home": (0, 0)})
    smb = world.contract("SmartMeterBackend").address
    transact(world.w3, world.keeper, ob.functions.settle_many(smb, [(world.solar, hour)]))
    owed = ob.functions.arrears_of(world.anna.address).call()
    assert owed > before  # rewarded, not paid
    actions.fund_treasury(actions.Actor(world.w3, admin, world.deployments), 10 * ETHER)
    return owed


@pytest.mark.parametrize("size", SIZES)
def test_arrears_are_claimed_once_the_treasury_can_pay(world, served, browser, size):  # noqa: F811
    ob = world.contract("OperatorBackend").functions
    anna = world.anna.address
    owed = arrears_for_anna(world)
    on_ledger = ob.balance_of(anna).call()
    page = open_page(browser, world, served, size, "anna")
    connect_wallet(page, "/", world.anna)
    claim = page.locator("#claim-arrears")
    assert claim.is_visible()  # the balances are read from the chain, not the index
    assert "The operator owes you" in claim.inner_text()
    claim.get_by_role("button", name="Claim arrears").click()
    claim.locator(".toast.confirmed", has_text="Claim arrears: confirmed").wait_for()
    assert ob.arrears_of(anna).call() == 0
    paid = ob.balance_of(anna).call() - on_ledger
    assert 0 < paid <= owed  # what a debt of hers did not take first
    assert (
        page.evaluate("() => document.documentElement.scrollWidth") == page.viewport_size["width"]
    )
    page.context.close()

"""Every money job on the dashboard, in Chromium with an injected wallet, against the
real contracts on anvil: withdraw the Exchange's credit, deposit to the operator's
ledger with an EIP-2612 permit (amounts typed with "," or "."), withdraw from it,
buy tokens while the sale runs; what the balance cannot cover is refused next to
the button before the wallet is asked."""

from __future__ import annotations

import pytest

from openkwh.chain import transact
from tests.dapp.conftest import ETHER, PRICE, SOLD_WH
from tests.dapp.test_browser import (  # noqa: F401
    browser,
    confirmed,
    connect_wallet,
    served,
    wallet_page,
)

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


def test_a_seller_withdraws_the_exchanges_credit(world, served, browser):  # noqa: F811
    exchange, token = world.contract("Exchange").functions, world.contract("Wallet").functions
    anna = world.anna.address
    credit = exchange.credit_of(anna).call()
    assert credit == SOLD_WH * PRICE  # the settled deal's payment
    before = token.balanceOf(anna).call()
    page = wallet_page(browser, world.w3, world.anna, served)
    connect_wallet(page, "/", world.anna)
    form = page.locator("#withdraw-credit")
    form.locator("button").click()
    form.locator(".toast.confirmed", has_text="Withdraw Exchange credit: confirmed").wait_for()
    assert exchange.credit_of(anna).call() == 0
    assert token.balanceOf(anna).call() == before + credit
    page.context.close()


def test_a_deposit_is_permitted_by_signature_and_a_withdrawal_follows(world, served, browser):  # noqa: F811
    w3, ben = world.w3, world.ben.address
    token = world.contract("Wallet")
    ledger = world.contract("OperatorBackend").functions
    operator = world.contract("OperatorBackend").address
    transact(w3, world.ben, token.functions.approve(operator, 0))  # no allowance left
    nonce = token.functions.nonces(ben).call()
    held = token.functions.balanceOf(ben).call()
    on_ledger = ledger.balance_of(ben).call()
    debt = ledger.debt_of(ben).call()
    page = wallet_page(browser, w3, world.ben, served)
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


def test_tokens_are_bought_while_the_sale_runs(world, served, browser):  # noqa: F811
    wallet = world.contract("Wallet").functions
    ben = world.ben.address
    before = wallet.balanceOf(ben).call()
    rate = wallet.sale_rate().call()
    page = wallet_page(browser, world.w3, world.ben, served)
    connect_wallet(page, "/", world.ben)
    buy = page.locator("#buy-tokens")
    buy.locator("input[name=eth]").fill("1000000")  # more ether than Ben has
    buy.locator("button").click()
    buy.locator(".toast.error", has_text="Your wallet holds").wait_for()
    buy.locator("input[name=eth]").fill("0,01")
    buy.locator("button").click()
    buy.locator(".toast.confirmed", has_text="confirmed").wait_for()
    assert wallet.balanceOf(ben).call() == before + ETHER // 100 * rate
    page.context.close()

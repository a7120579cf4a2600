"""The Exchange on a real anvil node: a maker's change and a stale take in one block."""

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from openkwh.bench.gas import certified_installer, register_solar_and_home
from openkwh.chain import transact
from openkwh.commands import actions
from openkwh.commands.deploy import deploy_all

pytestmark = pytest.mark.anvil

PRICE = 15 * 10**13  # token base units per Wh
ETHER = 10**18  # wei


@pytest.fixture
def market(anvil_connection, anvil_accounts, tmp_path):
    """Deployed contracts; a solar meter of account 1's and a household meter of
    account 2's; account 2 holds tokens and approved the Exchange."""
    w3 = anvil_connection.w3
    deployments = deploy_all(anvil_connection, tmp_path)
    admin, seller, buyer, body, installer = (anvil_accounts[i] for i in (0, 1, 2, 4, 5))
    as_admin = actions.Actor(w3, admin, deployments)
    solar, home = keccak(text="anvil-solar"), keccak(text="anvil-home")
    register_solar_and_home(
        certified_installer(as_admin, body, installer),
        {"solar": solar, "home": home},
        {"solar": anvil_accounts[6].address, "home": anvil_accounts[7].address},
        seller,
        buyer,
    )
    token = as_admin.contract("Wallet")
    exchange = as_admin.contract("Exchange")
    transact(w3, buyer, token.functions.buyTokens(), value=ETHER)
    transact(w3, buyer, token.functions.approve(exchange.address, 2**256 - 1))
    return w3, exchange, token, seller, buyer, solar, home


def offer_in_three_hours(market) -> int:
    """The seller offers 2,000 Wh for the hour that begins in about three hours."""
    w3, exchange, _token, seller, _buyer, solar, _home = market
    now = w3.eth.get_block("latest")["timestamp"]
    begin = now - now % 3_600 + 3 * 3_600
    receipt = transact(w3, seller, exchange.functions.offer(solar, begin, 2_000, PRICE))
    (placed,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
    return placed["args"]["order_id"]


def signed(w3, account, call, nonce, tip):
    """A signed transaction with a fixed gas limit, so nothing is estimated against
    a state that is about to change."""
    tx = call.build_transaction(
        {
            "from": account.address,
            "nonce": nonce,
            "gas": 400_000,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": tip,
            "chainId": w3.eth.chain_id,
        }
    )
    return account.sign_transaction(tx).raw_transaction


def test_take_at_a_price_the_maker_changed_in_the_same_block_reverts(market):
    w3, exchange, token, seller, buyer, _solar, home = market
    order_id = offer_in_three_hours(market)
    tokens_before = token.functions.balanceOf(buyer.address).call()

    # Both transactions wait in the mempool; the maker pays the higher tip, so
    # the block orders the price change first.
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        amend = w3.eth.send_raw_transaction(
            signed(
                w3,
                seller,
                exchange.functions.amend(order_id, 2_000, 2 * PRICE),
                w3.eth.get_transaction_count(seller.address),
                5 * 10**9,
            )
        )
        take = w3.eth.send_raw_transaction(
            signed(
                w3,
                buyer,
                exchange.functions.take(order_id, 1_000, PRICE, 0, home),
                w3.eth.get_transaction_count(buyer.address),
                10**9,
            )
        )
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])

    amended = w3.eth.get_transaction_receipt(amend)
    taken = w3.eth.get_transaction_receipt(take)
    assert amended["blockNumber"] == taken["blockNumber"]
    assert amended["transactionIndex"] < taken["transactionIndex"]
    assert amended["status"] == 1
    assert taken["status"] == 0
    trace = w3.provider.make_request(
        "debug_traceTransaction", [take.hex(), {"tracer": "callTracer"}]
    )
    assert trace["result"]["revertReason"] == "exchange: order changed since it was seen"
    assert token.functions.balanceOf(buyer.address).call() == tokens_before
    assert exchange.functions.orders(order_id).call()[3] == 2_000  # still open in full


def test_take_at_the_new_terms_goes_through(market):
    w3, exchange, _token, seller, buyer, _solar, home = market
    order_id = offer_in_three_hours(market)
    transact(w3, seller, exchange.functions.amend(order_id, 2_000, 2 * PRICE))
    receipt = transact(w3, buyer, exchange.functions.take(order_id, 1_000, 2 * PRICE, 1, home))
    (made,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)
    assert made["args"]["price"] == 2 * PRICE
    assert made["args"]["buyer"] == buyer.address

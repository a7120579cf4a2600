"""An Exchange deployed with another settlement token than the Wallet: the dApp reads
the token from the Exchange itself, shows its symbol (escaped: this one is "<s>")
and decimals (6), checks the balance and asks approval of that token, never of the
Wallet; the operator's ledger stays in the Wallet token."""

from __future__ import annotations

import json
import threading
import time

import pytest
from web3 import Web3

from openkwh.chain import transact
from openkwh.commands.deploy import contract_partial
from openkwh.dapp import create_app
from openkwh.dapp.indexer import Indexer, connect
from openkwh.devtools.anvil import dev_accounts
from tests.dapp.conftest import HOUR
from tests.dapp.test_browser import browser, confirmed, connect_wallet  # noqa: F401
from tests.dapp.test_layout import open_page

pytestmark = pytest.mark.anvil

SYMBOL = "<s>"  # an HTML tag, if a page ever put it in unescaped
DECIMALS = 6
BEN_UNITS = 1_000 * 10**DECIMALS


def deploy(w3: Web3, account, name: str, abi: list, *args) -> tuple[str, int]:
    bytecode = contract_partial(name).compiler_data.bytecode
    receipt = transact(w3, account, w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args))
    return receipt["contractAddress"], receipt["blockNumber"]


@pytest.fixture(scope="module")
def other(world, tmp_path_factory):
    """A second token and an Exchange that settles in it; a deployments file naming it."""
    w3, contracts = world.w3, world.deployments["contracts"]
    deployer = dev_accounts(10)[9]
    now = w3.eth.get_block("latest")["timestamp"]
    token, _ = deploy(
        w3,
        deployer,
        "Wallet",
        contracts["Wallet"]["abi"],
        "Other coin",
        SYMBOL,
        DECIMALS,
        10**15,
        10**12,
        1,
        now + 86_400,
    )
    current = world.contract("Exchange").functions
    exchange, block = deploy(
        w3,
        deployer,
        "Exchange",
        contracts["Exchange"]["abi"],
        token,
        contracts["SmartMeterBackend"]["address"],
        contracts["GGORegistry"]["address"],
        contracts["OperatorBackend"]["address"],
        current.lead_time().call(),
        current.settlement_timeout().call(),
    )
    coin = w3.eth.contract(address=token, abi=contracts["Wallet"]["abi"])
    transact(w3, deployer, coin.functions.transfer(world.ben.address, BEN_UNITS))
    deployments = json.loads(json.dumps(world.deployments))
    deployments["contracts"]["Exchange"] |= {"address": exchange, "block": block}
    folder = tmp_path_factory.mktemp("other-token")
    (folder / "anvil.json").write_text(json.dumps(deployments))
    app = create_app(
        {
            "TESTING": True,
            "RPC_URL": world.url,
            "DEPLOYMENTS": str(folder / "anvil.json"),
            "DATABASE": str(folder / "index.sqlite"),
        }
    )
    return {"app": app, "coin": coin, "exchange": exchange, "deployments": deployments}


def test_the_site_names_the_exchanges_token_and_the_ledgers(other, world):
    site = other["app"].test_client().get("/api/v1/site").get_json()
    assert site["token"] == {
        "address": other["coin"].address,
        "symbol": SYMBOL,
        "decimals": DECIMALS,
    }
    assert site["contracts"]["SettlementToken"]["address"] == other["coin"].address
    wallet = world.deployments["contracts"]["Wallet"]["address"]
    assert site["ledger_token"]["address"] == wallet
    assert site["ledger_token"]["symbol"] != SYMBOL


def test_the_dashboard_shows_the_balance_in_each_token(other, world):
    client = other["app"].test_client()
    balances = client.get(f"/api/v1/accounts/{world.ben.address}/dashboard").get_json()["balances"]
    assert balances["settlement_token"] == str(BEN_UNITS)
    wallet = world.contract("Wallet").functions.balanceOf(world.ben.address).call()
    assert balances["token"] == str(wallet)


@pytest.fixture(scope="module")
def served_other(world, other):
    from waitress import create_server

    server = create_server(other["app"], host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    stop = threading.Event()

    def follow():
        db = connect(other["app"].config["DATABASE"])
        Indexer(world.w3, other["deployments"], db, confirmations=1).follow(0.1, stop.is_set)
        db.close()

    indexing = threading.Thread(target=follow, daemon=True)
    indexing.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop.set()
    indexing.join(timeout=5)
    server.close()


def bid(page, hour: int, wh: int, price: str) -> None:
    form = page.locator("#order-form")
    form.locator("select[name=side]").select_option("bid")
    form.locator("select[name=meter]").select_option("0x" + page.home.hex())
    form.locator("input[name=begin]").fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(hour)))
    form.locator("input[name=wh]").fill(str(wh))
    form.locator("input[name=price]").fill(price)
    form.locator("button[type=submit]").click()


@pytest.mark.parametrize(("size", "hour"), [("desktop", 8), ("phone", 9)])
def test_a_bid_is_checked_approved_and_escrowed_in_the_exchanges_token(
    world,
    other,
    served_other,
    browser,  # noqa: F811
    size,
    hour,
):
    ben, coin = world.ben.address, other["coin"]
    wallet = world.contract("Wallet")
    wallet_before = wallet.functions.balanceOf(ben).call()
    coin_before = coin.functions.balanceOf(ben).call()
    page = open_page(browser, world, served_other, size, "ben")
    page.home = world.home
    connect_wallet(page, "/market", world.ben)
    assert page.locator("#order-form .symbol").text_content() == SYMBOL
    assert page.locator("main s").count() == 0
    hour = world.begin + hour * HOUR

    # More than Ben holds: caught before the wallet is asked.
    bid(page, hour, 10_000_000, "0.15")  # 1,500 of the other coin; Ben has 1,000
    page.locator("#order-form .toast.error", has_text="your wallet holds").wait_for()
    assert page.locator(".transactions li").count() == 0

    bid(page, hour, 1_000, "0.15")  # 0.15 per kWh: 150 base units per Wh at 6 decimals
    confirmed(page, f"Allow the Exchange to take 0.1500 {SYMBOL}")
    confirmed(page, "Bid 1000 Wh")
    assert coin.functions.balanceOf(ben).call() == coin_before - 150 * 1_000
    assert wallet.functions.balanceOf(ben).call() == wallet_before  # the Wallet untouched
    assert wallet.functions.allowance(ben, other["exchange"]).call() == 0
    page.locator("#orders td", has_text=f"0.1500 {SYMBOL}/kWh").first.wait_for()
    assert page.locator("main s").count() == 0
    assert (
        page.evaluate("() => document.documentElement.scrollWidth") == page.viewport_size["width"]
    )
    page.context.close()

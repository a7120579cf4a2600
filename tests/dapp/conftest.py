"""A small energy community on a real anvil node, indexed, for the dApp's tests.

Anna has a rooftop-solar meter, Ben a household meter. Anna offered an hour,
Ben took most of it; the hour was metered, settled with the Exchange and the
operator; Ben retired part of the certificate he received. Two more offers of
Anna's stand in the book: one for an hour whose gate has closed, one open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from meter_bridge.signing import Reading, sign_reading
from openkwh.auction import clear
from openkwh.bench.gas import certified_installer, register_solar_and_home
from openkwh.chain import advance_time, transact
from openkwh.commands import actions
from openkwh.commands.deploy import deploy_all
from openkwh.commands.network import connected
from openkwh.dapp import create_app
from openkwh.dapp.indexer import Indexer, connect
from openkwh.devtools.anvil import dev_accounts, run_anvil

HOUR = 3_600
# How long a wait in Chromium may last: a guard against a hang, not a pace a
# busy machine must keep.
HANG_GUARD_MS = 120_000
# Every job in the browser runs at both: a phone (390 px wide) and a laptop.
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
PRICE = 15 * 10**13  # token base units per Wh: 0.15 tokens per kWh
SOLD_WH = 1_500
RETIRED_WH = 1_000
ETHER = 10**18


@dataclass
class World:
    url: str
    w3: Web3
    deployments: dict
    deployments_file: str
    database: str
    anna: LocalAccount
    ben: LocalAccount
    keeper: LocalAccount
    keys: dict  # meter label -> signer key
    solar: bytes
    home: bytes
    begin: int  # the traded hour
    registers: dict  # meter label -> (import Wh, export Wh) last signed
    last_end: int
    auction_first: int = 0  # add_auction: the standing orders' first hour (cleared, with the next)

    def contract(self, name: str):
        return actions.Actor(self.w3, self.keeper, self.deployments).contract(name)

    def index(self) -> int:
        db = connect(self.database)
        try:
            return Indexer(self.w3, self.deployments, db, confirmations=1).catch_up()
        finally:
            db.close()

    def meter_readings(self, end: int, flows: dict) -> None:
        """Moves anvil to ``end`` and submits both meters' readings at ``end``, their
        registers moved by ``flows`` (label -> (import Wh, export Wh))."""
        if self.w3.eth.get_block("latest")["timestamp"] < end:
            advance_time(self.w3, end)
        smb = self.contract("SmartMeterBackend")
        batch = []
        for label, meter in (("solar", self.solar), ("home", self.home)):
            imported, exported = self.registers[label]
            imported += flows[label][0]
            exported += flows[label][1]
            self.registers[label] = (imported, exported)
            batch.append(
                sign_reading(
                    self.keys[label],
                    Reading(
                        meter,
                        end,
                        imported,
                        exported,
                        keccak(text=f"{label} {end}"),
                        smb.functions.next_reading_begin(meter).call(),
                    ),
                    self.w3.eth.chain_id,
                    smb.address,
                ).contract_args()
            )
        transact(self.w3, self.keeper, smb.functions.submit_readings(batch))
        self.last_end = end


def build_world(url: str, folder) -> World:
    accounts = dev_accounts(10)
    admin, anna, ben, body, installer, keeper = (accounts[i] for i in (0, 1, 2, 4, 5, 8))
    keys = {"solar": accounts[6], "home": accounts[7]}
    with connected("anvil", url=url) as conn:
        deployments = deploy_all(conn, folder)
    w3 = Web3(Web3.HTTPProvider(url))
    as_admin = actions.Actor(w3, admin, deployments)
    solar, home = keccak(text="dapp-solar"), keccak(text="dapp-home")
    register_solar_and_home(
        certified_installer(as_admin, body, installer),
        {"solar": solar, "home": home},
        {label: key.address for label, key in keys.items()},
        anna,
        ben,
    )
    actions.fund_treasury(as_admin, 100 * ETHER)
    token, exchange = as_admin.contract("Wallet"), as_admin.contract("Exchange")
    registry, ob = as_admin.contract("GGORegistry"), as_admin.contract("OperatorBackend")
    transact(w3, ben, token.functions.buyTokens(), value=ETHER // 10)
    transact(w3, ben, token.functions.approve(exchange.address, 2**256 - 1))
    transact(w3, ben, token.functions.approve(ob.address, 10 * ETHER))
    transact(w3, ben, ob.functions.deposit(5 * ETHER))

    now = w3.eth.get_block("latest")["timestamp"]
    begin = now - now % HOUR + 3 * HOUR
    world = World(
        url,
        w3,
        deployments,
        str(folder / "anvil.json"),
        str(folder / "index.sqlite"),
        anna,
        ben,
        keeper,
        keys,
        solar,
        home,
        begin,
        {"solar": (0, 0), "home": (0, 0)},
        0,
    )
    (folder / "anvil.json").write_text(json.dumps(deployments))
    receipts = [
        transact(w3, anna, exchange.functions.offer(solar, b, 2_000, PRICE))
        for b in (begin, begin + HOUR, begin + 6 * HOUR)
    ]
    (placed, *_) = exchange.events.OrderPlaced().process_receipt(receipts[0], errors=DISCARD)
    receipt = transact(
        w3, ben, exchange.functions.take(placed["args"]["order_id"], SOLD_WH, PRICE, 0, home)
    )
    (deal,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)

    world.meter_readings(begin, {"solar": (0, 0), "home": (0, 0)})  # baselines
    world.meter_readings(begin + HOUR, {"solar": (300, 3_100), "home": (2_400, 0)})
    transact(w3, keeper, exchange.functions.settle_many([actions.settlement(deal, exchange.abi)]))
    smb = world.contract("SmartMeterBackend")
    transact(w3, keeper, ob.functions.settle_many(smb.address, [(solar, begin), (home, begin)]))
    certificate = registry.functions.certificate_id(solar, begin).call()
    transact(w3, ben, registry.functions.retire(certificate, RETIRED_WH, home, b"dapp test"))
    return world


# add_auction's standing orders: Anna offers 2,000 Wh at 0.12 per kWh for six hours and
# 1,000 Wh at 0.10 in the first; Ben bids 1,500 Wh at 0.20 for six hours and 2,000 Wh
# at 0.18 in the second. (is_bid, meter label, offset in hours, hours, Wh, price per Wh)
STANDING = (
    (False, "solar", 0, 6, 2_000, 12 * 10**13),
    (False, "solar", 0, 1, 1_000, 10 * 10**13),
    (True, "home", 0, 6, 1_500, 20 * 10**13),
    (True, "home", 1, 1, 2_000, 18 * 10**13),
)


def add_auction(world: World) -> None:
    """The deployed Auction's standing orders of STANDING, and their first two hours
    cleared at the price openkwh.auction.clear finds; the other four hours are still
    open."""
    w3 = world.w3
    exchange = world.contract("Exchange")
    auction = world.contract("Auction")
    token = w3.eth.contract(
        address=exchange.functions.token().call(),
        abi=world.deployments["contracts"]["Wallet"]["abi"],
    )
    transact(w3, world.ben, token.functions.approve(auction.address, 2**256 - 1))
    now = w3.eth.get_block("latest")["timestamp"]
    first = now - now % HOUR + 3 * HOUR
    meters = {"solar": (world.anna, world.solar), "home": (world.ben, world.home)}
    placed = []  # (order id, is_bid, first, last, Wh, price), in placement order
    for is_bid, label, offset, hours, wh, price in STANDING:
        maker, meter = meters[label]
        begin = first + offset * HOUR
        end = begin + (hours - 1) * HOUR
        receipt = transact(w3, maker, auction.functions.place(meter, begin, end, wh, price, is_bid))
        (event,) = auction.events.StandingOrderPlaced().process_receipt(receipt, errors=DISCARD)
        placed.append((event["args"]["order_id"], is_bid, begin, end, wh, price))
    advance_time(w3, first)
    retail, feed_in, _ = world.contract("OperatorBackend").functions.tariff_at(first).call()
    for hour in (first, first + HOUR):
        live = [order for order in placed if order[2] <= hour <= order[3]]
        book = clear([(is_bid, wh, price) for _, is_bid, _, _, wh, price in live], retail, feed_in)
        ids = [order[0] for order in live]
        transact(w3, world.keeper, auction.functions.clear(hour, ids, book.price))
    world.auction_first = first


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with run_anvil() as node:
        world = build_world(node.url, tmp_path_factory.mktemp("world"))
        world.index()
        yield world


@pytest.fixture(scope="module")
def app(world):
    return create_app(
        {
            "TESTING": True,
            "RPC_URL": world.url,
            "DEPLOYMENTS": world.deployments_file,
            "DATABASE": world.database,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()

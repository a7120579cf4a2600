"""Standing orders in the dApp (issue 19): the indexer takes the Auction's events when
the deployments file has an Auction and skips it otherwise; the API answers an
account's standing orders with their fill per cleared hour, the clearing price per
hour and a meter's forecast. The world is the dApp's community with the Auction's
standing orders of conftest.STANDING, their first two hours cleared."""

from __future__ import annotations

import copy
import json

import pytest

from openkwh.chain import transact
from openkwh.dapp import create_app, standing
from openkwh.dapp.indexer import Indexer, connect
from openkwh.devtools.anvil import run_anvil
from tests.dapp.conftest import HOUR, add_auction, build_world

pytestmark = pytest.mark.anvil

P = 10**13  # token base units per Wh: 0.01 tokens per kWh


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with run_anvil() as node:
        world = build_world(node.url, tmp_path_factory.mktemp("world"))
        add_auction(world)
        world.index()
        yield world


def test_indexer_fills_equal_the_auctions_own(world):
    auction = world.contract("Auction")
    db = connect(world.database)
    fills = db.execute("SELECT order_id, interval_begin, wh FROM auction_fills").fetchall()
    assert len(fills) == 6  # three orders live in each hour
    for order_id, begin, wh in fills:
        assert int(wh) == auction.functions.fill(order_id, begin).call()
    for begin, price, bought, sold in db.execute(
        "SELECT interval_begin, price, bought_wh, sold_wh FROM auction_clearings"
    ):
        clearing = auction.functions.clearing(begin).call()
        assert (int(price), int(bought), int(sold)) == tuple(clearing[1:4])
    db.close()


def test_standing_orders_with_fills_per_hour(client, world):
    first = world.auction_first
    data = client.get(f"/api/v1/accounts/{world.ben.address}/standing-orders").get_json()
    assert data["auction"] == world.deployments["contracts"]["Auction"]["address"]
    assert [o["order_id"] for o in data["orders"]] == [3, 2]
    second, week = data["orders"]
    assert (week["side"], week["first"], week["last"], week["wh"]) == (
        "bid",
        first,
        first + 5 * HOUR,
        1_500,
    )
    assert week["price"] == str(20 * P)
    assert week["intervals"] == 6
    # The chain is at `first`: the gate (an hour ahead) is open from the third hour on.
    assert week["cancellable_from"] == first + 2 * HOUR
    assert week["fills"] == [
        {"interval_begin": first, "wh": 1_500, "price": str(12 * P)},
        {"interval_begin": first + HOUR, "wh": 1_500, "price": str(18 * P)},
    ]
    # The marginal bid at 0.18 in the second hour: 2,000 Wh of supply, 1,500 to the
    # dearer bid, the remaining 500 to it.
    assert second["fills"] == [{"interval_begin": first + HOUR, "wh": 500, "price": str(18 * P)}]
    assert second["cancellable_from"] is None
    assert second["filled_wh"] == 500


def test_anna_sees_her_offers_filled(client, world):
    data = client.get(f"/api/v1/accounts/{world.anna.address}/standing-orders").get_json()
    assert {o["order_id"]: o["filled_wh"] for o in data["orders"]} == {1: 1_000, 0: 500 + 2_000}


def test_clearing_price_per_hour(client, world):
    first = world.auction_first
    data = client.get("/api/v1/auction/clearings").get_json()
    assert data["clearings"] == [
        {
            "interval_begin": first,
            "price": str(12 * P),
            "bought_wh": 1_500,
            "sold_wh": 1_500,
            "orders": 3,
        },
        {
            "interval_begin": first + HOUR,
            "price": str(18 * P),
            "bought_wh": 2_000,
            "sold_wh": 2_000,
            "orders": 3,
        },
    ]
    later = client.get(f"/api/v1/auction/clearings?from={first + HOUR}&intervals=5").get_json()
    assert [c["interval_begin"] for c in later["clearings"]] == [first + HOUR]
    # off the grid, as the OpenAPI document says (schemathesis found it accepted)
    off = client.get(f"/api/v1/auction/clearings?from={first + 1}")
    assert off.status_code == 400
    assert f"from must be the start of an interval (3600 s), got {first + 1}" in off.text


def test_a_cancellation_cuts_the_order_short(client, world):
    auction = world.contract("Auction")
    first = world.auction_first
    transact(world.w3, world.anna, auction.functions.cancel(0, first + 4 * HOUR))
    world.index()
    data = client.get(f"/api/v1/accounts/{world.anna.address}/standing-orders").get_json()
    (week,) = (o for o in data["orders"] if o["order_id"] == 0)
    assert (week["last"], week["intervals"], week["refunded"]) == (first + 3 * HOUR, 4, "0")


def test_forecast_of_a_meter(client, world):
    slot = (world.begin % 86_400) // HOUR
    solar = "0x" + world.solar.hex()
    data = client.get(f"/api/v1/meters/{solar}/forecast?side=offer&days=2").get_json()
    assert data["profile"][slot] == 3_100  # Anna's metered export of the traded hour
    assert sum(data["profile"]) == 3_100
    assert data["samples"][slot] == 1
    home = "0x" + world.home.hex()
    bid = client.get(f"/api/v1/meters/{home}/forecast?side=bid&days=2").get_json()
    assert bid["profile"][slot] == 2_400
    assert "vector" not in bid


def test_forecast_vector_and_its_orders(client, world):
    solar = "0x" + world.solar.hex()
    first = world.begin + 86_400
    data = client.get(
        f"/api/v1/meters/{solar}/forecast?side=offer&days=2&first={first}&intervals=3"
    ).get_json()
    assert data["vector"] == [3_100, 0, 0]
    assert data["orders"] == [{"first": first, "last": first, "wh": 3_100}]
    assert data["last"] == first + 2 * HOUR


def test_forecast_of_nothing_places_nothing(client, world):
    solar = "0x" + world.solar.hex()
    first = world.begin + 86_400 + HOUR
    data = client.get(
        f"/api/v1/meters/{solar}/forecast?side=offer&days=2&first={first}&intervals=2"
    ).get_json()
    assert data["vector"] == [0, 0]
    assert data["orders"] == []
    assert "nothing to place" in data["nothing_to_place"]


def test_forecast_without_history_is_a_conflict(client, world, monkeypatch):
    solar = "0x" + world.solar.hex()
    monkeypatch.setattr(standing, "chain_now", lambda: world.begin + 30 * 86_400)
    answer = client.get(f"/api/v1/meters/{solar}/forecast?days=2")
    assert answer.status_code == 409
    assert "no history to forecast from" in answer.get_json()["error"]


def test_forecast_of_an_unknown_meter(client):
    answer = client.get("/api/v1/meters/0x" + "12" * 32 + "/forecast")
    assert answer.status_code == 404
    assert "no meter" in answer.get_json()["error"]


def test_without_an_auction_the_index_and_api_skip_it(world, tmp_path):
    deployments = copy.deepcopy(world.deployments)
    del deployments["contracts"]["Auction"]
    path = tmp_path / "anvil.json"
    path.write_text(json.dumps(deployments))
    db = connect(tmp_path / "index.sqlite")
    indexer = Indexer(world.w3, deployments, db, confirmations=1)
    assert "Auction" not in indexer.contracts
    assert indexer.catch_up() > 0
    assert db.execute("SELECT count(*) FROM standing_orders").fetchone()[0] == 0
    db.close()
    app = create_app(
        {
            "TESTING": True,
            "RPC_URL": world.url,
            "DEPLOYMENTS": str(path),
            "DATABASE": str(tmp_path / "index.sqlite"),
        }
    )
    client = app.test_client()
    mine = client.get(f"/api/v1/accounts/{world.ben.address}/standing-orders").get_json()
    assert (mine["auction"], mine["orders"]) == (None, [])
    assert client.get("/api/v1/auction/clearings").get_json() == {
        "auction": None,
        "clearings": [],
    }

"""Every API route and page through Flask's test client, against an indexed anvil
world; bad input of every kind gets a clear message and never a 500."""

import csv
import io

import pytest

from tests.dapp.conftest import HOUR, PRICE, RETIRED_WH, SOLD_WH

pytestmark = pytest.mark.anvil

PAGES = ["/", "/meters", "/market", "/certificates", "/operator", "/emissions"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_its_frame_and_takes_its_data_from_the_api(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/static/build/app.js" in html  # the bundle fetches /api/v1; no data inline
    assert 'aria-current="page"' in html
    assert "0x" not in html.split("<main")[1]  # no chain data rendered by the server


def test_status_and_site_describe_the_chain(client, world):
    status = client.get("/api/v1/status").get_json()
    assert status["chain_id"] == 31337
    assert status["indexed_block"] == world.w3.eth.block_number
    site = client.get("/api/v1/site").get_json()
    assert site["token"]["decimals"] == 18
    assert site["interval_length"] == HOUR
    assert set(site["contracts"]) >= {"Exchange", "GGORegistry", "Wallet"}
    assert (
        site["contracts"]["Exchange"]["address"]
        == world.deployments["contracts"]["Exchange"]["address"]
    )


def test_the_dashboard_shows_balances_energy_and_trades(client, world):
    ben = client.get(f"/api/v1/accounts/{world.ben.address}/dashboard?period=hour").get_json()
    token = world.contract("Wallet").functions.balanceOf(world.ben.address).call()
    assert ben["balances"]["token"] == str(token)
    assert ben["energy"] == [{"start": world.begin, "produced_wh": 0, "consumed_wh": 2_400}]
    assert ben["traded"]["bought_wh"] == ben["traded"]["delivered_bought_wh"] == SOLD_WH
    assert ben["traded"]["paid"] == str(SOLD_WH * PRICE)
    anna = client.get(f"/api/v1/accounts/{world.anna.address}/dashboard?period=year").get_json()
    assert anna["energy"][0]["produced_wh"] == 3_100
    assert anna["traded"]["received"] == str(SOLD_WH * PRICE)


@pytest.mark.parametrize("period", ["hour", "day", "week", "month", "year"])
def test_every_period_buckets_the_same_energy(client, world, period):
    data = client.get(f"/api/v1/accounts/{world.anna.address}/dashboard?period={period}")
    energy = data.get_json()["energy"]
    assert sum(e["produced_wh"] for e in energy) == 3_100
    assert all(e["start"] <= world.begin for e in energy)


def test_meters_show_registration_last_reading_and_its_cid(client, world):
    (meter,) = client.get(f"/api/v1/accounts/{world.anna.address}/meters").get_json()["meters"]
    assert meter["meter_id"] == "0x" + world.solar.hex()
    assert meter["capacity_w"] == 6_000
    assert meter["connection_w"] == 17_250
    assert meter["last_end"] == world.last_end
    assert meter["last_cid"].startswith("bafkrei")  # CIDv1, raw, sha2-256
    assert not meter["suspended"]
    detail = client.get(f"/api/v1/meters/0x{world.solar.hex()}").get_json()
    assert detail["measurements"][0]["produced_wh"] == 3_100


def test_the_order_book_lists_open_hours_and_sorts_each(client, world):
    hours = client.get("/api/v1/orderbook").get_json()["hours"]
    assert [h["interval_begin"] for h in hours] == [world.begin + HOUR, world.begin + 6 * HOUR]
    assert [h["open"] for h in hours] == [False, True]
    book = client.get(f"/api/v1/orderbook?begin={world.begin + 6 * HOUR}").get_json()
    assert book["open"]
    assert book["gate_closes_at"] == world.begin + 5 * HOUR
    assert [(o["wh"], o["price"]) for o in book["offers"]] == [(2_000, str(PRICE))]
    assert book["bids"] == []


def test_deals_carry_the_terms_and_the_settlement(client, world):
    (deal,) = client.get(f"/api/v1/accounts/{world.ben.address}/deals").get_json()["deals"]
    assert deal["settled"]
    assert (deal["wh"], deal["delivered_wh"]) == (SOLD_WH, SOLD_WH)
    assert deal["payment"] == str(SOLD_WH * PRICE)
    assert deal["refund"] == "0"
    assert deal["seller"] == world.anna.address
    orders = client.get(f"/api/v1/accounts/{world.anna.address}/orders").get_json()["orders"]
    assert sorted(o["status"] for o in orders) == ["open", "open", "open"]
    assert sorted(o["wh"] for o in orders) == [500, 2_000, 2_000]


def test_certificates_held_and_retired(client, world):
    data = client.get(f"/api/v1/accounts/{world.ben.address}/certificates").get_json()
    assert data["held_wh"] == SOLD_WH - RETIRED_WH
    assert data["retired_wh"] == RETIRED_WH
    assert data["retired"][0]["interval_begin"] == world.begin
    anna = client.get(f"/api/v1/accounts/{world.anna.address}/certificates").get_json()
    assert anna["held_wh"] == 3_100 - SOLD_WH  # the share not sold stays with the producer


def test_tariffs_mark_the_current_one(client):
    (tariff,) = client.get("/api/v1/tariffs").get_json()["tariffs"]
    assert tariff["state"] == "current"
    assert tariff["retail_price"] == str(3 * 10**14)


def test_emissions_are_exact_and_hourly_matched(client, world):
    data = client.get(f"/api/v1/accounts/{world.ben.address}/emissions").get_json()
    assert data["consumed_wh"] == 2_400
    assert data["matched_wh"] == RETIRED_WH
    assert data["location_based_g"] == "300"  # 2,400 Wh x 125 g/kWh
    assert data["market_based_g"] == "574"  # (2,400 - 1,000) Wh x 410 g/kWh
    assert data["hourly_matched_percent"] == "41.7"
    edited = client.get(
        f"/api/v1/accounts/{world.ben.address}/emissions?location=98.5&residual=500"
    ).get_json()
    assert edited["location_based_g"] == "236.4"  # 2,400 Wh x 98.5 g/kWh, exact
    assert edited["market_based_g"] == "700"


def test_emissions_export_as_csv_hour_by_hour(client, world):
    response = client.get(f"/api/v1/accounts/{world.ben.address}/emissions.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert rows[0]["consumed_wh"] == "2400"
    assert rows[0]["matched_wh"] == "1000"
    assert rows[0]["market_based_g"] == "574"


def test_an_order_check_answers_the_escrow_of_a_good_bid(client, world):
    begin = world.begin + 6 * HOUR
    response = client.get(
        f"/api/v1/orders/check?side=bid&account={world.ben.address}&meter=0x{world.home.hex()}"
        f"&begin={begin}&wh=700&price={PRICE}"
    )
    assert response.status_code == 200
    assert response.get_json()["escrow"] == str(700 * PRICE)


def bad_inputs(world):
    ben, home, solar = world.ben.address, "0x" + world.home.hex(), "0x" + world.solar.hex()
    open_hour = world.begin + 6 * HOUR

    def check(**overrides):
        query = {"side": "offer", "account": world.anna.address, "meter": solar}
        query |= {"begin": open_hour, "wh": 500, "price": PRICE} | overrides
        return "/api/v1/orders/check?" + "&".join(f"{k}={v}" for k, v in query.items())

    return [
        ("/api/v1/accounts/0x123/dashboard", 400, "is not an Ethereum address"),
        ("/api/v1/accounts/not-an-address/meters", 400, "is not an Ethereum address"),
        (f"/api/v1/accounts/{ben}/dashboard?period=decade", 400, "period must be one of"),
        ("/api/v1/meters/0x1234", 400, "is not a meter id"),
        (f"/api/v1/meters/0x{'00' * 32}", 404, "no meter"),
        ("/api/v1/orderbook?begin=soon", 400, "begin must be a whole number"),
        (
            f"/api/v1/orderbook?begin={open_hour + 60}",
            400,
            "begin must be the start of an interval",
        ),
        (check(wh="1.5"), 400, "wh must be a whole number"),
        (check(wh="-3"), 400, "wh must be a whole number"),
        (check(wh="0"), 400, "wh must be between 1"),
        (check(price="0.15"), 400, "price must be a whole number"),
        (check(price=""), 400, "price is required"),
        (check(begin=world.begin - HOUR), 409, "that interval is in the past"),
        (check(begin=world.begin + 2 * HOUR), 409, "has closed"),
        (check(meter="0x" + "11" * 32), 404, "no meter"),
        (check(account=ben), 409, "belongs to another account"),
        (check(wh=str(2**64)), 400, f"wh must be between 1 and {2**64 - 1}"),
        (check(wh=str(2**256)), 400, f"wh must be between 1 and {2**64 - 1}"),
        (check(price=str(2**96)), 400, f"price must be between 1 and {2**96 - 1}"),
        ("/api/v1/orderbook?begin=40532396646334464000", 400, "begin must be between 0 and"),
        (check(begin=str(2**63)), 400, "begin must be between 0 and"),
        (f"/api/v1/accounts/{ben}/dashboard?period=", 400, "period must be one of"),
        (check(side="swap"), 400, "side must be one of"),
        (check(side="offer", account=ben, meter=home), 409, "only a producing meter can offer"),
        (check(account="0xZZ"), 400, "is not an Ethereum address"),
        (f"/api/v1/accounts/{ben}/emissions?location=lots", 400, "location must be a number"),
        (f"/api/v1/accounts/{ben}/emissions?residual=", 400, "residual must be a number"),
        (f"/api/v1/accounts/{ben}/notifications?limit=", 400, "limit must be a whole number"),
        ("/api/v1/nowhere", 404, "not found"),
    ]


BAD_INPUTS = 29


def test_the_bad_inputs_are_all_listed(world):
    assert len(bad_inputs(world)) == BAD_INPUTS


@pytest.mark.parametrize("case", range(BAD_INPUTS))
def test_bad_input_gets_a_clear_message_never_a_500(client, world, case):
    path, status, message = bad_inputs(world)[case]
    response = client.get(path)
    assert response.status_code == status, response.get_json()
    assert message.lower() in response.get_json()["error"].lower()

"""Issue 19's commands against a real anvil: standing orders in the hourly auction
(placed for a period or up to a forecast, listed with their fills, cancelled
from an hour), and the keeper that clears every interval past gate closure and
delivers its fills as Exchange deals, which settle as any deal does."""

import json

import pytest

from openkwh.chain import Deployment, advance_time, contract
from openkwh.commands import actions
from tests.integration.test_actions_cli import _iso, _read, _registered

pytestmark = pytest.mark.anvil

HOUR = 3_600  # seconds
PRICE = 3 * 10**14  # 0.30 tokens per kWh, in base units per Wh


def test_standing_orders_clear_deliver_and_settle_through_the_commands(
    cli,
    anvil_connection,
    anvil_accounts,
    deployment,
    tmp_path,
    caplog,
):
    w3 = anvil_connection.w3
    record = Deployment.load(deployment)
    admin, seller, buyer, keeper = (anvil_accounts[i] for i in (0, 1, 2, 7))
    as_admin = actions.Actor(w3, admin, record)
    solar, solar_key = _registered(as_admin, anvil_accounts, seller, "auction-solar", "production")
    home, _ = _registered(as_admin, anvil_accounts, buyer, "auction-home", "consumption")
    token, auction = contract(w3, record, "Wallet"), contract(w3, record, "Auction")
    exchange = contract(w3, record, "Exchange")
    as_admin.send(token.functions.transfer(buyer.address, 10 * 10**18))
    now = w3.eth.get_block("latest")["timestamp"]
    hour = now - now % HOUR + 3 * HOUR
    _read(as_admin, keeper, solar_key, solar, now - now % HOUR, 0, 0)  # its baseline
    caplog.set_level("INFO", logger="openkwh.commands.actions")
    block = w3.eth.block_number

    period = ("--from", _iso(hour), "--to", _iso(hour + 3 * HOUR))
    code, out = cli(
        "market", seller, "standing-offer", "--meter-id", solar.hex(), *period,
        "--kwh", "1,0", "--price", "0.10",
    )  # fmt: skip
    assert code == 0, out.err
    assert "1000 Wh an interval from" in caplog.text
    forecast = tmp_path / "forecast.csv"
    forecast.write_text(
        f"# hour, Wh\n{_iso(hour)}Z,1500\n{hour + HOUR},1500\n{_iso(hour + 2 * HOUR)}Z,800\n"
    )
    code, out = cli(
        "market", buyer, "standing-bid", "--meter-id", home.hex(), *period,
        "--forecast", str(forecast), "--price", "0,30",
    )  # fmt: skip
    assert code == 0, out.err
    assert len(out.out.splitlines()) == 4  # two approvals, two orders: 1,500 Wh x 2 h, 800 x 1 h
    assert [tuple(auction.functions.order(i).call()[2:5]) for i in (1, 2)] == [
        (hour, hour + HOUR, 1_500),
        (hour + 2 * HOUR, hour + 2 * HOUR, 800),
    ]
    assert token.functions.balanceOf(auction.address).call() == (3_000 + 800) * PRICE

    code, out = cli("market", buyer, "cancel-standing", "--order", "1", "--from", _iso(hour + HOUR))
    assert code == 0, out.err
    assert token.functions.balanceOf(auction.address).call() == (1_500 + 800) * PRICE

    code, out = cli("keeper", keeper, "clear-auctions")
    assert (code, "no auction interval to clear or deliver: nothing sent" in out.err) == (1, True)
    advance_time(w3, hour - HOUR)  # the first hour's gate closes
    code, out = cli("keeper", keeper, "clear-auctions")
    assert code == 0, out.err
    assert tuple(auction.functions.clearing(hour).call()[:2]) == (True, PRICE)
    assert auction.functions.delivered(hour).call()
    (deal,) = exchange.events.DealMade().get_logs(from_block=block)
    assert (deal["args"]["seller"], deal["args"]["buyer"], deal["args"]["wh"]) == (
        seller.address,
        buyer.address,
        1_000,
    )

    caplog.clear()
    code, out = cli("market", buyer, "standing-orders")
    assert code == 0, out.err
    assert (
        f"1 interval from {actions._when(hour)}, cancelled from {actions._when(hour + HOUR)}"
        in caplog.text
    )
    assert "standing bid 2: 800 Wh an interval at 0.3 OKWH/kWh, 1 interval from" in caplog.text
    listed = json.loads(out.out)["orders"]
    assert [(o["order_id"], o["side"], o["wh"]) for o in listed] == [
        (1, "bid", 1_500),
        (2, "bid", 800),
    ]
    first = listed[0]["intervals"]
    assert [(h["interval_begin"], h["fill_wh"], h["delivered"]) for h in first] == [
        (hour, 1_000, True)
    ]

    code, out = cli("market", buyer, "release-standing", "--order", "1")
    assert code == 0, out.err
    assert auction.functions.credit_of(buyer.address).call() == 500 * PRICE
    code, out = cli("market", buyer, "withdraw-auction-credit")
    assert code == 0, out.err

    # The keeper's round reads the hour, clears and delivers the next, settles the deal.
    for h in range(1, 4):
        _read(as_admin, keeper, solar_key, solar, now - now % HOUR + h * HOUR, 0, 0)
    _read(as_admin, keeper, solar_key, solar, hour + HOUR, 0, 600)  # 600 Wh of 1,000 sold
    code, out = cli("keeper", keeper, "run", "--from", _iso(hour), "--to", _iso(hour + HOUR))
    assert code == 0, out.err
    assert auction.functions.clearing(hour + HOUR).call()[0]
    assert exchange.functions.is_settled(deal["args"]["deal_id"]).call()
    assert exchange.functions.credit_of(seller.address).call() == 600 * PRICE
    assert exchange.functions.credit_of(buyer.address).call() == 400 * PRICE

    for argv, message in (
        (("cancel-standing", "--order", "2", "--from", _iso(hour)), "no open interval from"),
        (("release-standing", "--order", "0"), "order 0 is an offer"),
        (("withdraw-auction-credit",), "no credit on the Auction to withdraw: nothing sent"),
        (
            ("standing-bid", "--meter-id", home.hex(), "--from", "2030-01-01T00:30Z",
             "--to", "2030-01-01T02:00Z", "--wh", "1", "--price", "0.3"),
            "on the 3600 s interval grid",
        ),
        (
            ("standing-bid", "--meter-id", home.hex(), *period, "--wh", "0", "--price", "0.3"),
            "an order is of 1 Wh an interval at least (--kwh 0,001): nothing sent",
        ),
        (
            ("standing-bid", "--meter-id", home.hex(), *period, "--kwh", "0,0005",
             "--price", "0.3"),
            "0,0005 kWh is finer than the 3 decimals kWh have",
        ),
        (
            ("standing-bid", "--meter-id", home.hex(), *period, "--up-to-forecast",
             "--price", "0.3"),
            "has no history to forecast from; give the Wh per interval instead",
        ),
    ):  # fmt: skip
        code, out = cli("market", buyer, *argv)
        assert (code, message in out.err) == (1, True), out.err

    # A month is longer than one order may be (MAX_INTERVALS, four weeks of
    # hours): the command places it as two, where one was refused whole.
    start = hour + 24 * HOUR
    code, out = cli(
        "market", seller, "standing-offer", "--meter-id", solar.hex(), "--from", _iso(start),
        "--to", _iso(start + 31 * 24 * HOUR), "--wh", "10", "--price", "0.10",
    )  # fmt: skip
    assert code == 0, out.err
    assert [tuple(auction.functions.order(i).call()[2:4]) for i in (3, 4)] == [
        (start, start + 671 * HOUR),
        (start + 672 * HOUR, start + 743 * HOUR),
    ]

    # Up to the meter's forecast from its own measurements: the 600 Wh it fed
    # in at `hour` is that hour of the day's median; the next hour, never
    # measured, forecasts 0 Wh and gets no order.
    code, out = cli(
        "market", seller, "standing-offer", "--meter-id", solar.hex(), "--from", _iso(start),
        "--to", _iso(start + 2 * HOUR), "--up-to-forecast", "--price", "0.10",
    )  # fmt: skip
    assert code == 0, out.err
    assert auction.functions.order_count().call() == 6
    assert tuple(auction.functions.order(5).call()[2:5]) == (start, start, 600)

"""Standing orders and the hourly call auction (issue 19): an account's standing orders
with their fill in each cleared hour, a meter's forecast for "up to my forecast", and
the clearing price per hour. Every write (place, cancel) is signed in the browser
wallet; these routes only read the index and the Auction's immutables.

A deployment without an Auction answers ``auction: null`` and nothing else: the page
then hides its standing-order parts."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from openkwh import forecast as forecasting
from openkwh.dapp import chain
from openkwh.dapp.api import MAX_BEGIN, address, chain_now, choice, meter_id, natural
from openkwh.dapp.openapi import MAX_CLEARINGS, MAX_STANDING_INTERVALS

bp = Blueprint("standing", __name__)

MAX_STANDING_ORDERS = 200  # an account's standing orders in one answer, newest first
DEFAULT_CLEARINGS = 48


def auction_address() -> str | None:
    deployment = chain.deployments()
    return deployment["Auction"].address if "Auction" in deployment else None


_lead_times: dict[tuple[str, str], int] = {}  # by node and address


def auction_lead_time() -> int:
    """The Auction's gate closure, seconds before an interval begins (an immutable: read once)."""
    key = (current_app.config["RPC_URL"], auction_address())
    if key not in _lead_times:
        _lead_times[key] = chain.contract("Auction").functions.lead_time().call()
    return _lead_times[key]


@bp.get("/api/v1/accounts/<account>/standing-orders")
def api_standing_orders(account: str):
    """The account's standing orders, newest first, each with the last interval it
    still holds (``last``: before ``first`` when cancelled whole), the first of them
    that can still be cancelled (``cancellable_from``, null when none) and its fill in
    every cleared interval (``fills``: Wh, and the hour's uniform price)."""
    account = address(account)
    auction = auction_address()
    if auction is None:
        return jsonify(account=account, auction=None, orders=[])
    interval = chain.interval_length()
    now = chain_now()
    gate = auction_lead_time()
    db = chain.db()
    rows = db.execute(
        "SELECT order_id, meter_id, first, last, wh, price, is_bid, cancelled_from, refunded, "
        "released, placed_at, tx FROM standing_orders WHERE maker = ? "
        "ORDER BY order_id DESC LIMIT ?",
        (account, MAX_STANDING_ORDERS),
    ).fetchall()
    orders = []
    for row in rows:
        last = row["last"]
        if row["cancelled_from"] is not None:
            last = min(last, row["cancelled_from"] - interval)
        # The first interval whose gate is still open: now + lead time < its begin.
        earliest = now + gate + 1
        earliest += -earliest % interval
        cancellable = max(row["first"], earliest)
        fills = [
            {"interval_begin": begin, "wh": int(wh), "price": price}
            for begin, wh, price in db.execute(
                "SELECT f.interval_begin, f.wh, c.price FROM auction_fills f "
                "JOIN auction_clearings c ON c.interval_begin = f.interval_begin "
                "WHERE f.order_id = ? ORDER BY f.interval_begin",
                (row["order_id"],),
            )
        ]
        orders.append(
            {
                "order_id": row["order_id"],
                "side": "bid" if row["is_bid"] else "offer",
                "meter_id": row["meter_id"],
                "first": row["first"],
                "last": last,
                "wh": int(row["wh"]),
                "price": row["price"],
                "intervals": max((last - row["first"]) // interval + 1, 0),
                "cancellable_from": cancellable if cancellable <= last else None,
                "refunded": row["refunded"],
                "released": row["released"],
                "placed_at": row["placed_at"],
                "tx": row["tx"],
                "filled_wh": sum(f["wh"] for f in fills),
                "fills": fills,
            }
        )
    return jsonify(
        account=account,
        auction=auction,
        now=now,
        lead_time=gate,
        interval_length=interval,
        orders=orders,
    )


@bp.get("/api/v1/meters/<meter>/forecast")
def api_forecast(meter: str):
    """The meter's forecast (openkwh/forecast.py): Wh per interval of the UTC day, the
    median of the same interval over the last ``days`` days of its measurements; with
    ``first``, the vector of ``intervals`` intervals from there that "up to my
    forecast" fixes, and the standing orders that place it (one per run of equal Wh;
    none, and ``nothing_to_place`` saying why, when the forecast is 0 Wh throughout).
    A meter without measurements in the window has no forecast: 409."""
    meter = meter_id(meter)
    side = choice("side", request.args.get("side"), forecasting.SIDES, "offer")
    days = natural(
        "days",
        request.args.get("days"),
        default=forecasting.DEFAULT_DAYS,
        minimum=1,
        maximum=forecasting.MAX_DAYS,
    )
    first = request.args.get("first")
    first = None if first is None else natural("first", first, maximum=MAX_BEGIN)
    count = natural(
        "intervals",
        request.args.get("intervals"),
        default=24,
        minimum=1,
        maximum=MAX_STANDING_INTERVALS,
    )
    interval = chain.interval_length()
    if first is not None and first % interval:
        abort(400, f"first must be the start of an interval ({interval} s), got {first}")
    db = chain.db()
    if db.execute("SELECT 1 FROM meters WHERE meter_id = ?", (meter,)).fetchone() is None:
        abort(404, f"no meter {meter} is registered")
    try:
        fc = forecasting.from_index(db, meter, side, chain_now(), interval, days)
    except forecasting.NoHistory as error:
        abort(409, str(error))
    answer = {
        "meter_id": meter,
        "side": side,
        "interval_length": interval,
        "days": days,
        "since": fc.since,
        "until": fc.until,
        "method": "median of the same UTC interval of the day over the last days' "
        "measurements (export for an offer, import for a bid), whole Wh; gaps left out",
        "profile": list(fc.profile),
        "samples": list(fc.samples),
    }
    if first is not None:
        last = first + (count - 1) * interval
        vector = fc.vector(first, last)
        answer.update(first=first, last=last, vector=vector)
        try:
            answer["orders"] = [
                {"first": a, "last": b, "wh": wh}
                for a, b, wh in forecasting.standing_orders(fc, first, last)
            ]
        except forecasting.ForecastError as error:
            answer.update(orders=[], nothing_to_place=str(error))
    return jsonify(answer)


@bp.get("/api/v1/auction/clearings")
def api_clearings():
    """The uniform clearing price of each cleared interval, oldest first: the latest
    ``intervals`` (default 48), or ``intervals`` from ``from`` on."""
    count = natural(
        "intervals",
        request.args.get("intervals"),
        default=DEFAULT_CLEARINGS,
        minimum=1,
        maximum=MAX_CLEARINGS,
    )
    since = request.args.get("from")
    since = None if since is None else natural("from", since, maximum=MAX_BEGIN)
    interval = chain.interval_length()
    if since is not None and since % interval:
        abort(400, f"from must be the start of an interval ({interval} s), got {since}")
    auction = auction_address()
    if auction is None:
        return jsonify(auction=None, clearings=[])
    columns = "interval_begin, price, bought_wh, sold_wh, orders"
    db = chain.db()
    if since is None:
        rows = db.execute(
            f"SELECT {columns} FROM auction_clearings ORDER BY interval_begin DESC LIMIT ?",
            (count,),
        ).fetchall()[::-1]
    else:
        rows = db.execute(
            f"SELECT {columns} FROM auction_clearings WHERE interval_begin >= ? "
            "ORDER BY interval_begin LIMIT ?",
            (since, count),
        ).fetchall()
    return jsonify(
        auction=auction,
        interval_length=interval,
        clearings=[
            {
                "interval_begin": row["interval_begin"],
                "price": row["price"],
                "bought_wh": int(row["bought_wh"]),
                "sold_wh": int(row["sold_wh"]),
                "orders": row["orders"],
            }
            for row in rows
        ],
    )

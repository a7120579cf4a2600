"""Market: the order book per delivery hour, the account's orders and deals, and
a pre-flight check of an order before the wallet is asked to sign it."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from openkwh.dapp import chain
from openkwh.dapp.api import (
    MAX_BEGIN,
    MAX_PRICE,
    MAX_WH,
    address,
    chain_now,
    choice,
    meter_id,
    natural,
)

bp = Blueprint("market", __name__)

MAX_HOURS = 200  # delivery hours in the order book's summary

ORDER_COLUMNS = (
    "order_id",
    "maker",
    "meter_id",
    "interval_begin",
    "wh",
    "price",
    "is_bid",
    "retire",
    "version",
    "status",
)
DEAL_COLUMNS = (
    "deal_id",
    "order_id",
    "seller",
    "buyer",
    "seller_meter",
    "buyer_meter",
    "interval_begin",
    "wh",
    "price",
    "retire",
    "settled",
    "delivered_wh",
    "payment",
    "refund",
    "retired_wh",
)


def whole(text: str | None) -> int | None:
    """An amount the index keeps as exact decimal TEXT, as a JSON integer."""
    return None if text is None else int(text)


def as_order(row: sqlite3.Row) -> dict:
    order = {column: row[column] for column in ORDER_COLUMNS}
    order["wh"] = whole(order["wh"])
    order["is_bid"] = bool(order["is_bid"])
    order["retire"] = bool(order["retire"])
    return order


def as_deal(row: sqlite3.Row) -> dict:
    deal = {column: row[column] for column in DEAL_COLUMNS}
    for key in ("wh", "delivered_wh", "retired_wh"):
        deal[key] = whole(deal[key])
    deal["retire"] = bool(deal["retire"])
    deal["settled"] = bool(deal["settled"])
    return deal


def lead_time() -> int:
    return chain.contract("Exchange").functions.lead_time().call()


_timeouts: dict[tuple[str, str], int] = {}  # by node and address


def settlement_timeout() -> int:
    """Seconds after an interval's end when a deal settles without a measurement (read once:
    the Exchange's immutable)."""
    exchange = chain.deployments()["Exchange"].address
    key = (current_app.config["RPC_URL"], exchange)
    if key not in _timeouts:
        _timeouts[key] = chain.contract("Exchange").functions.settlement_timeout().call()
    return _timeouts[key]


@bp.get("/api/v1/orderbook")
def api_orderbook():
    """Open orders per delivery hour: one hour with ``begin``, else a summary of every
    hour from now on that has open orders."""
    db = chain.db()
    interval = chain.interval_length()
    now = chain_now()
    gate = lead_time()
    begin = request.args.get("begin")
    if begin is None:
        # Summed in Python: open Wh are uint256 (as TEXT), and SQLite's SUM overflows at 2**63.
        hours: dict[int, dict] = {}
        for start, is_bid, wh in db.execute(
            "SELECT interval_begin, is_bid, wh FROM orders "
            "WHERE status = 'open' AND interval_begin >= ? ORDER BY interval_begin",
            (now - now % interval,),
        ):
            if start not in hours:
                if len(hours) == MAX_HOURS:
                    break
                hours[start] = {
                    "interval_begin": start,
                    "offers": 0,
                    "bids": 0,
                    "offered_wh": 0,
                    "bid_wh": 0,
                    "open": start - gate > now,
                }
            hour = hours[start]
            hour["bids" if is_bid else "offers"] += 1
            hour["bid_wh" if is_bid else "offered_wh"] += int(wh)
        return jsonify(now=now, lead_time=gate, hours=list(hours.values()))
    begin = natural("begin", begin, maximum=MAX_BEGIN)
    if begin % interval:
        abort(400, f"begin must be the start of an interval ({interval} s), got {begin}")
    rows = [
        as_order(row)
        for row in db.execute(
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders "
            "WHERE interval_begin = ? AND status = 'open'",
            (begin,),
        )
    ]
    offers = sorted(
        (o for o in rows if not o["is_bid"]), key=lambda o: (int(o["price"]), o["order_id"])
    )
    bids = sorted((o for o in rows if o["is_bid"]), key=lambda o: (-int(o["price"]), o["order_id"]))
    return jsonify(
        now=now,
        interval_begin=begin,
        gate_closes_at=begin - gate,
        open=begin - gate > now,
        offers=offers,
        bids=bids,
    )


@bp.get("/api/v1/accounts/<account>/orders")
def api_orders(account: str):
    account = address(account)
    rows = chain.db().execute(
        f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE maker = ? "
        "ORDER BY interval_begin DESC, order_id DESC LIMIT 500",
        (account,),
    )
    return jsonify(account=account, orders=[as_order(row) for row in rows])


@bp.get("/api/v1/accounts/<account>/deals")
def api_deals(account: str):
    """The account's deals, each with the terms ``Exchange.settle`` takes back, whether the
    seller's meter has reported the hour (``measured``: it can settle now), and when it can
    settle without that report (``settleable_from``, unix seconds)."""
    account = address(account)
    columns = ", ".join(f"d.{c}" for c in DEAL_COLUMNS)
    rows = chain.db().execute(
        f"SELECT {columns}, EXISTS (SELECT 1 FROM measurements x WHERE x.meter_id = "
        "d.seller_meter AND x.interval_begin = d.interval_begin) AS measured FROM deals d "
        "WHERE d.seller = ? OR d.buyer = ? ORDER BY d.interval_begin DESC, d.deal_id DESC "
        "LIMIT 500",
        (account, account),
    )
    after = chain.interval_length() + settlement_timeout()
    deals = []
    for row in rows:
        deal = as_deal(row)
        deal["measured"] = bool(row["measured"])
        deal["settleable_from"] = deal["interval_begin"] + after
        deals.append(deal)
    return jsonify(account=account, deals=deals)


@bp.get("/api/v1/orders/check")
def api_check_order():
    """Checks an order before the wallet signs it: the meter exists and belongs to
    the account, the hour is still open, the amounts are whole and positive. Answers
    what the bid would escrow. Input the document allows but the chain's state refuses
    now (an hour past or closed, a meter another's, suspended or of the other kind)
    is a 409: the same request may pass at another time or for another account."""
    side = choice("side", request.args.get("side"), ("offer", "bid"), "offer")
    account = address(request.args.get("account", ""))
    meter = meter_id(request.args.get("meter", ""))
    begin = natural("begin", request.args.get("begin"), maximum=MAX_BEGIN)
    wh = natural("wh", request.args.get("wh"), minimum=1, maximum=MAX_WH)
    price = natural("price", request.args.get("price"), minimum=1, maximum=MAX_PRICE)
    interval = chain.interval_length()
    if begin % interval:
        abort(400, f"begin must be the start of an interval ({interval} s), got {begin}")
    now = chain_now()
    if begin <= now:
        abort(409, "that interval is in the past")
    if begin - lead_time() <= now:
        abort(409, "the market for that interval has closed (gate closure)")
    row = (
        chain.db()
        .execute("SELECT owner, kind, suspended FROM meters WHERE meter_id = ?", (meter,))
        .fetchone()
    )
    if row is None:
        abort(404, f"no meter {meter} is registered")
    owner, kind, suspended = row
    if owner != account:
        abort(409, "that meter belongs to another account")
    if suspended:
        abort(409, "that meter is suspended")
    if side == "offer" and not kind & 1:
        abort(409, "only a producing meter can offer")
    if side == "bid" and not kind & 2:
        abort(409, "only a consuming meter can bid")
    escrow = wh * price if side == "bid" else 0
    return jsonify(ok=True, side=side, escrow=str(escrow), gate_closes_at=begin - lead_time())


@bp.get("/market")
def page():
    return render_template("market.html", area="market")

"""Dashboard: balances, and energy produced, consumed, sold and bought."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request

from openkwh.dapp import chain
from openkwh.dapp.api import address, choice

bp = Blueprint("dashboard", __name__)

PERIODS = ("hour", "day", "week", "month", "year")
# How far back each period's chart reaches, in its own buckets, from the last measurement.
SPANS = {"hour": 48, "day": 31, "week": 26, "month": 12, "year": 10}
WEEK_OFFSET = 4 * 86_400  # 1970-01-01 was a Thursday; weeks begin on Monday


def bucket_sql(period: str) -> str:
    """An SQL expression giving the bucket start (unix seconds) of interval_begin."""
    if period == "hour":
        return "interval_begin - interval_begin % 3600"
    if period == "day":
        return "interval_begin - interval_begin % 86400"
    if period == "week":
        return f"interval_begin - (interval_begin - {WEEK_OFFSET}) % 604800"
    if period == "month":
        return "CAST(strftime('%s', interval_begin, 'unixepoch', 'start of month') AS INTEGER)"
    return "CAST(strftime('%s', interval_begin, 'unixepoch', 'start of year') AS INTEGER)"


def meters_of(account: str) -> list[str]:
    return [
        row["meter_id"]
        for row in chain.db().execute(
            "SELECT meter_id FROM meters WHERE owner = ? ORDER BY registered_at", (account,)
        )
    ]


def energy(meters: list[str], period: str) -> list[dict]:
    if not meters:
        return []
    marks = ",".join("?" * len(meters))
    db = chain.db()
    last = db.execute(
        f"SELECT MAX(interval_begin) FROM measurements WHERE meter_id IN ({marks})", meters
    ).fetchone()[0]
    if last is None:
        return []
    size = {"hour": 3_600, "day": 86_400, "week": 604_800, "month": 31 * 86_400}
    since = last - SPANS[period] * size.get(period, 366 * 86_400)
    # Summed in Python: Wh are uint256 (as TEXT), and SQLite's SUM overflows at 2**63.
    buckets: dict[int, list[int]] = {}
    for start, produced, consumed in db.execute(
        f"SELECT {bucket_sql(period)} AS bucket, produced_wh, consumed_wh "
        f"FROM measurements WHERE meter_id IN ({marks}) AND interval_begin > ? ORDER BY bucket",
        [*meters, since],
    ):
        sums = buckets.setdefault(start, [0, 0])
        sums[0] += int(produced)
        sums[1] += int(consumed)
    return [
        {"start": start, "produced_wh": p, "consumed_wh": c} for start, (p, c) in buckets.items()
    ]


def traded(account: str) -> dict:
    """Wh sold and bought, as dealt and as delivered, and the payments settled."""
    totals = {}
    for role, sold, delivered, paid in (
        ("seller", "sold_wh", "delivered_sold_wh", "received"),
        ("buyer", "bought_wh", "delivered_bought_wh", "paid"),
    ):
        rows = (
            chain.db()
            .execute(f"SELECT wh, delivered_wh, payment FROM deals WHERE {role} = ?", (account,))
            .fetchall()
        )
        totals[sold] = sum(int(row["wh"]) for row in rows)
        totals[delivered] = sum(int(row["delivered_wh"] or 0) for row in rows)
        totals[paid] = str(sum(int(row["payment"] or 0) for row in rows))
    return totals


_sale_terms: dict[tuple[str, str], tuple[int, int]] = {}  # by node and address


def sale_terms() -> tuple[int, int]:
    """The Wallet's sale end (unix seconds) and rate (token base units per wei): immutable,
    read once."""
    wallet = chain.contract("Wallet")
    key = (current_app.config["RPC_URL"], wallet.address)
    if key not in _sale_terms:
        _sale_terms[key] = (
            wallet.functions.sale_end().call(),
            wallet.functions.sale_rate().call(),
        )
    return _sale_terms[key]


def balances(account: str) -> tuple[dict, dict]:
    """Live from the contracts' views (the index may trail by its confirmation depth),
    in one JSON-RPC batch: one round trip to the node. The balances, and the token sale:
    open until its end or until nothing is left."""
    token = chain.contract("Wallet")
    settlement = chain.contract_at(chain.token_address(), "Wallet").functions
    operator = chain.contract("OperatorBackend").functions
    exchange = chain.contract("Exchange").functions
    end, rate = sale_terms()
    # The batch is opened on the contracts' own connection: a call made on another one
    # would leave the batch and answer at once.
    with token.w3.batch_requests() as batch:
        batch.add(token.functions.balanceOf(account))
        batch.add(operator.balance_of(account))
        batch.add(operator.debt_of(account))
        batch.add(exchange.credit_of(account))
        batch.add(settlement.balanceOf(account))
        batch.add(operator.arrears_of(account))
        batch.add(token.functions.tokens_left_for_sale())
        batch.add(token.w3.eth.get_block("latest"))
        token_balance, ledger, debt, credit, settlement_balance, arrears, left, head = (
            batch.execute()
        )
    return {
        "token": str(token_balance),  # the Wallet token: the ledger's, the sale's
        "ledger": str(ledger),
        "debt": str(debt),
        "exchange_credit": str(credit),  # in the Exchange's token
        "settlement_token": str(settlement_balance),  # the Exchange's token
        "arrears": str(arrears),  # rewards the operator's treasury still owes
    }, {
        "open": head["timestamp"] < end and left > 0,
        "ends_at": end,
        "rate": str(rate),
        "left": str(left),
    }


@bp.get("/api/v1/accounts/<account>/dashboard")
def api_dashboard(account: str):
    """Balances, energy per period, and the account's trading totals."""
    account = address(account)
    period = choice("period", request.args.get("period"), PERIODS, "day")
    meters = meters_of(account)
    money, sale = balances(account)
    return jsonify(
        account=account,
        balances=money,
        meters=meters,
        period=period,
        energy=energy(meters, period),
        traded=traded(account),
        sale=sale,
    )


@bp.get("/")
def page():
    return render_template("dashboard.html", area="dashboard")

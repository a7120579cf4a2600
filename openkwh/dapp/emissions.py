"""Emissions: Scope 2 per the GHG Protocol's Scope 2 Guidance, hour by hour.

- location-based = consumption * the sector's grid emission factor;
- market-based = (consumption - certificate Wh retired against the same meter
  and the same hour, at most that hour's consumption) * the residual-mix factor;
- the hourly-matched share (24/7 carbon-free score) = matched Wh / consumption.

Factors are g CO2e per kWh from a CSV (sector, location_g_per_kwh,
residual_mix_g_per_kwh, year, source) that a user may edit, or override per
request. Wh * (g/kWh) / 1000 is exact in decimal: nothing is rounded until
the page formats it.
"""

from __future__ import annotations

import csv
import io
import re
import time
from decimal import Decimal
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from openkwh.dapp import chain
from openkwh.dapp.api import address

bp = Blueprint("emissions", __name__)

FACTOR = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")


def factors() -> dict[str, dict]:
    """Sector -> factors and source, from the configured CSV."""
    path = Path(current_app.config["FACTORS"])
    with path.open(newline="") as source:
        return {
            row["sector"]: {
                "location_g_per_kwh": row["location_g_per_kwh"],
                "residual_mix_g_per_kwh": row["residual_mix_g_per_kwh"],
                "year": row["year"],
                "source": row["source"],
            }
            for row in csv.DictReader(source)
        }


def factor_arg(name: str, default: str) -> Decimal:
    text = request.args.get(name)
    if text is None:  # absent; an empty one is no number, as the document's pattern says
        text = default
    if not FACTOR.fullmatch(text):
        abort(400, f"{name} must be a number of g CO2e per kWh, like 125 or 98.5; got {text!r}")
    return Decimal(text)


def hourly(account: str) -> list[tuple]:
    """(meter, sector, interval_begin, consumed Wh, retired Wh) for each measured hour of
    the account's consuming meters. Wh are uint256 (TEXT in the index): summed in Python."""
    db = chain.db()
    retired: dict[tuple[str, int], int] = {}
    for meter, begin, wh in db.execute(
        "SELECT r.consumption_meter_id, r.interval_begin, r.wh FROM retirements r "
        "JOIN meters m ON m.meter_id = r.consumption_meter_id WHERE m.owner = ? AND m.kind & 2",
        (account,),
    ):
        retired[meter, begin] = retired.get((meter, begin), 0) + int(wh)
    return [
        (meter, sector, begin, int(consumed), retired.get((meter, begin), 0))
        for meter, sector, begin, consumed in db.execute(
            "SELECT m.meter_id, m.sector, x.interval_begin, x.consumed_wh "
            "FROM meters m JOIN measurements x ON x.meter_id = m.meter_id "
            "WHERE m.owner = ? AND m.kind & 2 ORDER BY x.interval_begin, m.meter_id",
            (account,),
        )
    ]


def report(account: str) -> dict:
    table = factors()
    rows = hourly(account)
    sectors = sorted({row[1] for row in rows}) or sorted(table)[:1]
    missing = [s for s in sectors if s not in table]
    if missing and not (request.args.get("location") and request.args.get("residual")):
        abort(400, f"no emission factors for sector {missing[0]}: add it to the factors CSV")
    used = {}
    for sector in sectors:
        known = table.get(sector, {})
        used[sector] = {
            "location_g_per_kwh": factor_arg("location", known.get("location_g_per_kwh", "0")),
            "residual_mix_g_per_kwh": factor_arg(
                "residual", known.get("residual_mix_g_per_kwh", "0")
            ),
            "year": known.get("year", ""),
            "source": known.get("source", "given in the request"),
        }
    consumed = matched = 0
    location = market = Decimal(0)
    lines = []
    for meter, sector, begin, used_wh, retired_wh in rows:
        match = min(retired_wh, used_wh)
        loc = Decimal(used_wh) * used[sector]["location_g_per_kwh"] / 1000
        mkt = Decimal(used_wh - match) * used[sector]["residual_mix_g_per_kwh"] / 1000
        consumed += used_wh
        matched += match
        location += loc
        market += mkt
        lines.append((meter, begin, used_wh, retired_wh, match, loc, mkt))
    return {
        "account": account,
        "factors": {
            sector: {key: str(value) for key, value in entry.items()}
            for sector, entry in used.items()
        },
        "consumed_wh": consumed,
        "matched_wh": matched,
        "location_based_g": f"{location:f}",
        "market_based_g": f"{market:f}",
        "hourly_matched_percent": str((Decimal(matched * 100) / consumed).quantize(Decimal("0.1")))
        if consumed
        else "0.0",
        "hours": len(lines),
        "_lines": lines,
    }


@bp.get("/api/v1/accounts/<account>/emissions")
def api_emissions(account: str):
    """Scope 2, location- and market-based, and the hourly-matched share."""
    result = report(address(account))
    result.pop("_lines")
    return jsonify(result)


@bp.get("/api/v1/accounts/<account>/emissions.csv")
def api_emissions_csv(account: str):
    """The same, hour by hour, as CSV."""
    account = address(account)
    result = report(account)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "meter_id",
            "interval_begin_utc",
            "consumed_wh",
            "retired_wh",
            "matched_wh",
            "location_based_g",
            "market_based_g",
        ]
    )
    for meter, begin, used_wh, retired_wh, match, loc, mkt in result["_lines"]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(begin))
        writer.writerow([meter, stamp, used_wh, retired_wh, match, f"{loc:f}", f"{mkt:f}"])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="scope2-{account}.csv"'},
    )


@bp.get("/emissions")
def page():
    return render_template("emissions.html", area="emissions")

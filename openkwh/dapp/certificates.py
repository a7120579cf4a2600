"""Certificates: held, held for the account by the Exchange, and retired."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from openkwh.dapp import chain
from openkwh.dapp.api import address

bp = Blueprint("certificates", __name__)


@bp.get("/api/v1/accounts/<account>/certificates")
def api_certificates(account: str):
    """Held certificates (each an hour of one meter's production), those the Exchange
    holds to be claimed, and the retirements against the account's meters."""
    account = address(account)
    db = chain.db()
    held = [
        {
            "id": row["id"],
            "wh": int(row["wh"]),
            "meter_id": row["meter_id"],
            "interval_begin": row["interval_begin"],
            "issued_wh": int(row["issued_wh"]),
            "revoked": bool(row["revoked"]),
        }
        for row in db.execute(
            "SELECT h.id, h.wh, c.meter_id, c.interval_begin, c.issued_wh, c.revoked "
            "FROM holdings h JOIN certificates c ON c.id = h.id "
            "WHERE h.holder = ? ORDER BY c.interval_begin DESC LIMIT 1000",
            (account,),
        )
    ]
    claimable = [
        {"id": row["id"], "wh": int(row["wh"])}
        for row in db.execute(
            "SELECT id, wh FROM exchange_held WHERE account = ? ORDER BY id", (account,)
        )
    ]
    retired = [
        {
            "id": row["id"],
            "wh": int(row["wh"]),
            "consumption_meter_id": row["consumption_meter_id"],
            "interval_begin": row["interval_begin"],
            "holder": row["holder"],
        }
        for row in db.execute(
            "SELECT r.id, r.wh, r.consumption_meter_id, r.interval_begin, r.holder "
            "FROM retirements r JOIN meters m ON m.meter_id = r.consumption_meter_id "
            "WHERE m.owner = ? OR r.holder = ? ORDER BY r.interval_begin DESC LIMIT 1000",
            (account, account),
        )
    ]
    remaining = remaining_consumption(account, {c["interval_begin"] for c in held})
    for certificate in held:
        left = remaining.get(certificate["interval_begin"], {})
        certificate["remaining_wh"] = left  # per consuming meter of the account
        certificate["retirable_wh"] = min(certificate["wh"], max(left.values(), default=0))
    return jsonify(
        account=account,
        held=held,
        held_wh=sum(c["wh"] for c in held),
        claimable=claimable,
        retired=retired,
        retired_wh=sum(r["wh"] for r in retired),
    )


def remaining_consumption(account: str, hours: set[int]) -> dict[int, dict[str, int]]:
    """For each hour: the Wh each of the account's consuming meters used and no
    certificate was retired against yet (what a retirement of that hour can still
    claim). Wh are exact TEXT in the index: summed in Python."""
    if not hours:
        return {}
    db = chain.db()
    marks = ",".join("?" * len(hours))
    used: dict[int, dict[str, int]] = {}
    for meter, begin, consumed in db.execute(
        "SELECT x.meter_id, x.interval_begin, x.consumed_wh FROM measurements x "
        "JOIN meters m ON m.meter_id = x.meter_id WHERE m.owner = ? AND m.kind & 2 "
        f"AND x.interval_begin IN ({marks})",
        (account, *hours),
    ):
        used.setdefault(begin, {})[meter] = int(consumed)
    for meter, begin, wh in db.execute(
        "SELECT r.consumption_meter_id, r.interval_begin, r.wh FROM retirements r "
        "JOIN meters m ON m.meter_id = r.consumption_meter_id WHERE m.owner = ? "
        f"AND r.interval_begin IN ({marks})",
        (account, *hours),
    ):
        if meter in used.get(begin, {}):
            used[begin][meter] = max(used[begin][meter] - int(wh), 0)
    return used


@bp.get("/certificates")
def page():
    return render_template("certificates.html", area="certificates")

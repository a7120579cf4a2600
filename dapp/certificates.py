"""Certificates: held, held for the account by the Exchange, and retired."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from dapp import chain
from dapp.api import address

bp = Blueprint("certificates", __name__)


@bp.get("/api/v1/accounts/<account>/certificates")
def api_certificates(account: str):
    """Held certificates (each an hour of one meter's production), those the Exchange
    holds to be claimed, and the retirements against the account's meters."""
    account = address(account)
    db = chain.db()
    held = [
        {
            "id": id,
            "wh": int(wh),
            "meter_id": meter,
            "interval_begin": begin,
            "issued_wh": int(issued),
            "revoked": bool(revoked),
        }
        for id, wh, meter, begin, issued, revoked in db.execute(
            "SELECT h.id, h.wh, c.meter_id, c.interval_begin, c.issued_wh, c.revoked "
            "FROM holdings h JOIN certificates c ON c.id = h.id "
            "WHERE h.holder = ? ORDER BY c.interval_begin DESC LIMIT 1000",
            (account,),
        )
    ]
    claimable = [
        {"id": id, "wh": int(wh)}
        for id, wh in db.execute(
            "SELECT id, wh FROM exchange_held WHERE account = ? ORDER BY id", (account,)
        )
    ]
    retired = [
        {
            "id": id,
            "wh": int(wh),
            "consumption_meter_id": meter,
            "interval_begin": begin,
            "holder": holder,
        }
        for id, wh, meter, begin, holder in db.execute(
            "SELECT r.id, r.wh, r.consumption_meter_id, r.interval_begin, r.holder "
            "FROM retirements r JOIN meters m ON m.meter_id = r.consumption_meter_id "
            "WHERE m.owner = ? OR r.holder = ? ORDER BY r.interval_begin DESC LIMIT 1000",
            (account, account),
        )
    ]
    return jsonify(
        account=account,
        held=held,
        held_wh=sum(c["wh"] for c in held),
        claimable=claimable,
        retired=retired,
        retired_wh=sum(r["wh"] for r in retired),
    )


@bp.get("/certificates")
def page():
    return render_template("certificates.html", area="certificates")

"""Meters: registration, last reading, its data digest and CID, suspension."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template
from multiformats import CID, multihash

from dapp import chain
from dapp.api import address, meter_id

bp = Blueprint("meters", __name__)

KINDS = {1: "production", 2: "consumption", 3: "production and consumption"}
COLUMNS = (
    "meter_id",
    "owner",
    "signer",
    "installer",
    "sector",
    "tech_code",
    "fuel_code",
    "capacity_w",
    "connection_w",
    "kind",
    "suspended",
    "status_reason",
    "registered_at",
    "last_end",
    "last_digest",
)


def cid_of_digest(digest: str | None) -> str | None:
    """The CIDv1 (raw, sha2-256) of the telegram batch whose sha256 is ``digest``:
    the name the meter bridge filed it under, locally and on IPFS."""
    if not digest:
        return None
    wrapped = multihash.wrap(bytes.fromhex(digest[2:]), "sha2-256")
    return str(CID("base32", 1, "raw", wrapped))


def as_meter(row) -> dict:
    meter = dict(zip(COLUMNS, row, strict=True))
    meter["capacity_w"] = int(meter["capacity_w"])
    meter["connection_w"] = int(meter["connection_w"])
    meter["kind"] = KINDS.get(meter["kind"], str(meter["kind"]))
    meter["suspended"] = bool(meter["suspended"])
    meter["last_cid"] = cid_of_digest(meter["last_digest"])
    return meter


@bp.get("/api/v1/accounts/<account>/meters")
def api_meters_of(account: str):
    account = address(account)
    rows = chain.db().execute(
        f"SELECT {', '.join(COLUMNS)} FROM meters WHERE owner = ? ORDER BY registered_at",
        (account,),
    )
    return jsonify(account=account, meters=[as_meter(row) for row in rows])


@bp.get("/api/v1/meters/<meter>")
def api_meter(meter: str):
    meter = meter_id(meter)
    db = chain.db()
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM meters WHERE meter_id = ?", (meter,))
    row = row.fetchone()
    if row is None:
        abort(404, f"no meter {meter} is registered")
    recent = db.execute(
        "SELECT interval_begin, interval_end, produced_wh, consumed_wh, digest FROM measurements "
        "WHERE meter_id = ? ORDER BY interval_begin DESC LIMIT 24",
        (meter,),
    )
    return jsonify(
        meter=as_meter(row),
        measurements=[
            {
                "interval_begin": begin,
                "interval_end": end,
                "produced_wh": int(produced),
                "consumed_wh": int(consumed),
                "digest": digest,
                "cid": cid_of_digest(digest),
            }
            for begin, end, produced, consumed, digest in recent
        ],
    )


@bp.get("/meters")
def page():
    return render_template("meters.html", area="meters")

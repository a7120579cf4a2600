"""Meters: registration, last reading, its data digest and CID, suspension."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, abort, jsonify, render_template
from multiformats import CID, multihash

from openkwh.chain.types import KIND_WORDS
from openkwh.dapp import chain
from openkwh.dapp.api import address, meter_id
from openkwh.dapp.indexer import ZERO

bp = Blueprint("meters", __name__)

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
    "approved_signer",
)
MAX_OFFERS = 50  # meters offered to one account, in one answer


def cid_of_digest(digest: str | None) -> str | None:
    """The CIDv1 (raw, sha2-256) of the telegram batch whose sha256 is ``digest``:
    the name the meter bridge filed it under, locally and on IPFS."""
    if not digest:
        return None
    wrapped = multihash.wrap(bytes.fromhex(digest[2:]), "sha2-256")
    return str(CID("base32", 1, "raw", wrapped))


def as_meter(row: sqlite3.Row) -> dict:
    meter = {column: row[column] for column in COLUMNS}
    meter["capacity_w"] = int(meter["capacity_w"])
    meter["connection_w"] = int(meter["connection_w"])
    meter["kind"] = KIND_WORDS.get(meter["kind"], str(meter["kind"]))
    meter["suspended"] = bool(meter["suspended"])
    meter["last_cid"] = cid_of_digest(meter["last_digest"])
    return meter


def ledger_state(db, account: str, meter: str) -> str:
    """Whether the operator takes the meter's bills from the account's ledger:
    "untrusted" while the operator has not announced trusting the meter's backend (or
    has announced no longer trusting it): it bills none of its meters; "always" for a
    backend it trusted from the start; else "open" or "closed" as the account consented
    (OperatorBackend.open_ledger)."""
    backend = chain.deployments()["SmartMeterBackend"].address
    trust = db.execute(
        "SELECT trusted, genesis FROM backends WHERE backend = ?", (backend,)
    ).fetchone()
    if trust is None or not trust["trusted"]:
        return "untrusted"
    if trust["genesis"]:
        return "always"
    consent = db.execute(
        "SELECT open FROM ledger_consents WHERE account = ? AND backend = ? AND meter_id = ?",
        (account, backend, meter),
    ).fetchone()
    return "open" if consent is not None and consent["open"] else "closed"


@bp.get("/api/v1/accounts/<account>/meters")
def api_meters_of(account: str):
    """The account's meters, and the meters offered to it (at registration or by their
    owner) with the debt an acceptance takes on: as the offer logged it, and now."""
    account = address(account)
    db = chain.db()
    rows = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM meters WHERE owner = ? AND meter_id NOT IN "
        "(SELECT meter_id FROM offers WHERE owner = ?) ORDER BY registered_at",
        (account, ZERO),  # registered for the account, but not accepted yet: an offer
    ).fetchall()
    meters = [
        as_meter(row) | {"ledger": ledger_state(db, account, row["meter_id"])} for row in rows
    ]
    offers = db.execute(
        "SELECT o.meter_id, o.owner, o.debt, o.offered_at, m.kind, m.installer FROM offers o "
        "JOIN meters m ON m.meter_id = o.meter_id WHERE o.pending_owner = ? "
        "ORDER BY o.offered_at LIMIT ?",
        (account, MAX_OFFERS),
    ).fetchall()
    backend = chain.contract("SmartMeterBackend").functions
    offered = [
        {
            "meter_id": row["meter_id"],
            "kind": KIND_WORDS.get(row["kind"], str(row["kind"])),
            # The zero address: offered by its installer at registration.
            "owner": row["owner"],
            "installer": row["installer"],
            "offered_at": row["offered_at"],
            "offered_debt": row["debt"],
            "debt": str(backend.meter_debt(bytes.fromhex(row["meter_id"][2:])).call()),
        }
        for row in offers
    ]
    return jsonify(account=account, meters=meters, offered=offered)


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

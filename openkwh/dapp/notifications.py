"""Notifications: what happened to an account, as the indexer derived it from the
logs (an order taken, a deal settled, certificates received, a debt recorded, a
meter offered, a tariff or a backend's trust announced). Which ones were read is
kept by the browser: the server knows nothing of its readers."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, render_template, request

from openkwh.dapp import chain
from openkwh.dapp.api import address, natural
from openkwh.dapp.indexer import EVERYONE
from openkwh.dapp.openapi import MAX_NOTIFICATION_ID, MAX_NOTIFICATIONS

bp = Blueprint("notifications", __name__)


@bp.get("/api/v1/accounts/<account>/notifications")
def api_notifications(account: str):
    """The account's notifications newer than ``after`` (an id), newest first, at most
    ``limit``; ``latest`` is the newest id of all (0 when there is none), ``unread`` the
    count newer than ``after``."""
    account = address(account)
    after = natural("after", request.args.get("after"), 0, 0, MAX_NOTIFICATION_ID)
    limit = natural("limit", request.args.get("limit"), 50, 1, MAX_NOTIFICATIONS)
    db = chain.db()
    rows = db.execute(
        "SELECT id, kind, at, block, data, account FROM notifications "
        "WHERE account IN (?, ?) AND id > ? ORDER BY id DESC LIMIT ?",
        (account, EVERYONE, after, limit),
    ).fetchall()
    latest, unread = db.execute(
        "SELECT MAX(id), COALESCE(SUM(id > ?), 0) FROM notifications WHERE account IN (?, ?)",
        (after, account, EVERYONE),
    ).fetchone()
    return jsonify(
        account=account,
        latest=latest or 0,
        unread=unread,
        notifications=[
            {
                "id": row["id"],
                "kind": row["kind"],
                "at": row["at"],
                "block": row["block"],
                "everyone": row["account"] == EVERYONE,
                **json.loads(row["data"]),
            }
            for row in rows
        ],
    )


@bp.get("/notifications")
def page():
    return render_template("notifications.html", area="notifications")

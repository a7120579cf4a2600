"""Operator: the current and announced tariffs."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from openkwh.dapp import chain
from openkwh.dapp.api import chain_now

bp = Blueprint("operator", __name__)


@bp.get("/api/v1/tariffs")
def api_tariffs():
    """Every tariff, prices in token base units per Wh; the one in force is marked."""
    now = chain_now()
    rows = (
        chain.db()
        .execute(
            "SELECT idx, retail_price, feed_in_reward, effective_from FROM tariffs ORDER BY idx"
        )
        .fetchall()
    )
    current = max((r["idx"] for r in rows if r["effective_from"] <= now), default=None)
    return jsonify(
        now=now,
        tariffs=[
            {
                "index": row["idx"],
                "retail_price": row["retail_price"],
                "feed_in_reward": row["feed_in_reward"],
                "effective_from": row["effective_from"],
                "state": "current"
                if row["idx"] == current
                else "announced"
                if row["effective_from"] > now
                else "past",
            }
            for row in rows
        ],
    )


@bp.get("/operator")
def page():
    return render_template("operator.html", area="operator")

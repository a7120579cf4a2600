"""The JSON API's common parts: /api/v1/status, /api/v1/site, the OpenAPI
document, and the checks every route applies to its input."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, jsonify
from web3 import Web3

from openkwh.dapp import chain
from openkwh.dapp.openapi import MAX_BEGIN, MAX_PRICE, MAX_WH, document

__all__ = ["MAX_BEGIN", "MAX_PRICE", "MAX_WH", "address", "choice", "meter_id", "natural"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")

HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")
HEX20 = re.compile(r"0x[0-9a-fA-F]{40}")
DECIMAL = re.compile(r"[0-9]{1,78}")


def address(text: str) -> str:
    """A checksummed address, or 400 with a message that says what is wrong."""
    if not HEX20.fullmatch(text or ""):
        abort(400, f"{text!r} is not an Ethereum address (0x and 40 hex digits)")
    return Web3.to_checksum_address(text)


def meter_id(text: str) -> str:
    if not HEX32.fullmatch(text or ""):
        abort(400, f"{text!r} is not a meter id (0x and 64 hex digits)")
    return text.lower()


def natural(
    name: str,
    text: str | None,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = 2**256 - 1,
) -> int:
    """A whole number from a query string: amounts are integer Wh and base units. The
    bounds are the ones the OpenAPI document states. Absent, it is ``default``; present
    but empty, it is no number (as ``choice`` refuses an empty choice)."""
    if text is None or (text == "" and default is None):
        if default is None:
            abort(400, f"{name} is required")
        return default
    if not DECIMAL.fullmatch(text):
        abort(400, f"{name} must be a whole number, got {text!r}")
    value = int(text)
    if not minimum <= value <= maximum:
        abort(400, f"{name} must be between {minimum} and {maximum}, got {text}")
    return value


def choice(name: str, text: str | None, options: tuple[str, ...], default: str) -> str:
    """One of ``options``; ``default`` when the parameter is absent (an empty one is refused)."""
    value = default if text is None else text
    if value not in options:
        abort(400, f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def chain_now() -> int:
    """The chain's time: the latest block's timestamp."""
    return chain.w3().eth.get_block("latest")["timestamp"]


@bp.get("/status")
def status():
    """Chain id, indexed block and the chain's time."""
    return jsonify(chain_id=chain.deployments().chain_id, now=chain_now(), **chain.index_head())


@bp.get("/site")
def site():
    """The chain and each contract's address and ABI, for the page's wallet calls."""
    return jsonify(chain.site_info())


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(current_app.config["PUBLIC_URL"], chain.interval_length()))

"""The hub's HTTP service (`openkwh hub serve`): readings in, roots and proofs out.

    POST /api/v1/readings            meter-signed readings (the bridge's hub relay mode):
                                     a JSON list; answers {accepted, refused: [{at, reason}]}
    GET  /api/v1/roots/<sector>/<begin>   the interval's published roots and their CIDs (public)
    GET  /api/v1/siwe/nonce          a fresh Sign-In with Ethereum nonce
    POST /api/v1/siwe/login          {message, signature}: an EIP-4361 sign-in; answers
                                     {token, address, expires}
    GET  /api/v1/proofs/<meter_id>/<begin>?kind=hub|signed
                                     a leaf and its proof: to its meter's owner (Authorization:
                                     Bearer <token>), to anyone once the leaf is revealed on
                                     chain or its meter traded the interval on the Exchange
    GET  /api/v1/multiproofs/<sector>/<begin>?meters=0x…,0x…
                                     the hub leaves of several meters of the interval and one
                                     multiproof (openkwh-multiproof-v1), public leaves only: what
                                     a keeper reveals traded hours with (`reveal_many`)

A sign-in is refused unless its domain is the hub's, its nonce one the hub
issued and never accepted before (a replayed sign-in is refused), its
signature the address's, and it expires within ``SIWE_MAX_SECONDS``.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from flask import Blueprint, Flask, current_app, jsonify, request
from siwe import SiweMessage, VerificationError, generate_nonce

from openkwh.hub.ingest import Ingestor
from openkwh.hub.leaves import Leaf
from openkwh.hub.publish import build
from openkwh.hub.store import Store
from openkwh.hub.tree import MerkleTree
from openkwh.merkle import HUB_LEAF_TYPES, MULTIPROOF_FORMAT, PROOF_FORMAT, SIGNED_LEAF_TYPES

SIWE_MAX_SECONDS = 86_400  # the longest session a sign-in opens
NONCE_SECONDS = 600  # a nonce not used within this is refused
MAX_READINGS = 10_000  # per request
MAX_MULTI = 24  # leaves a multiproof, as MeasurementRoots.reveal_many takes them

api = Blueprint("hub", __name__, url_prefix="/api/v1")


class Hub:
    """What the service holds: the store, the checks, the trees it built, the sessions."""

    def __init__(self, store: Store, ingestor: Ingestor, publisher: str, domain: str,
                 clock=time.time, revealed_on_chain=None, traded_on_chain=None):  # fmt: skip
        self.store = store
        self.ingestor = ingestor
        self.publisher = publisher  # the hub's address: the `publisher` of reveal calls
        self.domain = domain  # the sign-in's expected domain (host[:port])
        self.clock = clock
        # (meter_id, begin) -> bool: whether the backend recorded it (is_revealed); None: ask nobody
        self.revealed_on_chain = revealed_on_chain
        # (meter_id, begin) -> bool: whether the meter traded the interval (the operator's
        # is_traded); a traded hour's leaf is served to anyone (issue 18: traded hours are
        # revealed, always, so no seller stays unmeasured by hiding its leaf)
        self.traded_on_chain = traded_on_chain
        self.trees: dict[tuple, tuple[MerkleTree, dict]] = {}
        self.sessions: dict[str, tuple[str, int]] = {}  # token -> (address, expires)

    def keep_tree(self, sector: str, begin: int, kind: str, tree: MerkleTree) -> None:
        self.trees[(sector, begin, kind)] = tree

    def tree(self, sector: str, begin: int, kind: str) -> MerkleTree:
        key = (sector, begin, kind)
        if key not in self.trees:
            leaves = self.store.leaves(sector, begin, signed=kind == "signed")
            self.trees[key] = build(leaves, kind == "signed")[0]
        return self.trees[key]

    def public(self, meter_id: bytes, begin: int) -> bool:
        """Whether anyone may have the leaf's proof: revealed, or traded."""
        if self.revealed(meter_id, begin):
            return True
        return self.traded_on_chain is not None and bool(self.traded_on_chain(meter_id, begin))

    def revealed(self, meter_id: bytes, begin: int) -> bool:
        if self.store.is_revealed(meter_id, begin):
            return True
        if self.revealed_on_chain is not None and self.revealed_on_chain(meter_id, begin):
            self.store.mark_revealed(meter_id, begin)
            return True
        return False


def hub() -> Hub:
    return current_app.extensions["openkwh-hub"]


def refuse(status: int, reason: str):
    return jsonify({"error": reason}), status


@api.post("/readings")
def readings():
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return refuse(400, "expected a JSON list of signed readings")
    if len(body) > MAX_READINGS:
        return refuse(413, f"at most {MAX_READINGS} readings a request")
    return jsonify(hub().ingestor.ingest_signed(body).as_json())


@api.get("/roots/<sector>/<int:begin>")
def roots(sector: str, begin: int):
    found = hub().store.roots(sector, begin)
    for root in found:
        root["root"] = "0x" + root["root"].hex()
    return jsonify({"sector": sector, "interval_begin": begin, "publisher": hub().publisher,
                    "roots": found})  # fmt: skip


@api.get("/siwe/nonce")
def nonce():
    value = generate_nonce()
    hub().store.add_nonce(value, int(hub().clock()))
    return jsonify({"nonce": value, "domain": hub().domain})


@api.post("/siwe/login")
def login():
    body = request.get_json(silent=True) or {}
    text, signature = body.get("message"), body.get("signature")
    if not isinstance(text, str) or not isinstance(signature, str):
        return refuse(400, "expected {message, signature}")
    try:
        message = SiweMessage.from_message(text)
    except ValueError as exc:
        return refuse(400, f"not an EIP-4361 message: {exc}")
    now = hub().clock()
    if message.expiration_time is None:
        return refuse(401, "the sign-in must expire (Expiration Time)")
    expires = int(message.expiration_time._datetime.timestamp())
    if expires > now + SIWE_MAX_SECONDS:
        return refuse(401, f"the sign-in must expire within {SIWE_MAX_SECONDS} s")
    try:
        message.verify(signature, domain=hub().domain,
                       timestamp=datetime.fromtimestamp(now, UTC))  # fmt: skip
    except VerificationError as exc:
        reason = {"DomainMismatch": "the sign-in is for another domain",
                  "ExpiredMessage": "the sign-in has expired",
                  "NotYetValidMessage": "the sign-in is not valid yet",
                  "InvalidSignature": "the signature is not the address's"}  # fmt: skip
        return refuse(401, reason.get(type(exc).__name__, f"sign-in refused: {type(exc).__name__}"))
    issued = hub().store.execute("SELECT issued_at FROM nonces WHERE nonce = ?", (message.nonce,))
    if not issued or now - issued[0][0] > NONCE_SECONDS:
        return refuse(401, "the nonce is not one this hub issued, or it is stale")
    if not hub().store.use_nonce(message.nonce):
        return refuse(401, "the nonce was used already: a replayed sign-in")
    token = secrets.token_urlsafe(32)
    hub().sessions[token] = (message.address, expires)
    return jsonify({"token": token, "address": message.address, "expires": expires})


def _session_address() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    session = hub().sessions.get(header.removeprefix("Bearer ").strip())
    if session is None or session[1] <= hub().clock():
        return None
    return session[0]


def leaf_json(leaf: Leaf, signed: bool) -> dict:
    values = leaf.signed_values() if signed else leaf.hub_values()
    return {
        "values": ["0x" + v.hex() if isinstance(v, bytes) else str(v) for v in values],
        "types": SIGNED_LEAF_TYPES if signed else HUB_LEAF_TYPES,
    }


@api.get("/proofs/<meter_hex>/<int:begin>")
def proof(meter_hex: str, begin: int):
    kind = request.args.get("kind", "hub")
    if kind not in ("hub", "signed"):
        return refuse(400, "kind must be hub or signed")
    try:
        meter_id = bytes.fromhex(meter_hex.removeprefix("0x"))
    except ValueError:
        return refuse(400, "the meter id must be 32 bytes in hex")
    the_hub = hub()
    meter = the_hub.store.meter(meter_id)
    if meter is None:
        return refuse(404, "not a meter of this hub")
    if not the_hub.public(meter_id, begin):
        address = _session_address()
        if address is None:
            return refuse(401, "sign in with the meter owner's address (Sign-In with Ethereum)")
        if address.lower() != meter["owner"].lower():
            return refuse(403, "only the meter's owner gets an unrevealed leaf's proof")
    leaf = the_hub.store.leaf(meter_id, begin)
    published = {root["kind"]: root for root in the_hub.store.roots(meter["sector"], begin)}
    if leaf is None or kind not in published or (kind == "signed" and not leaf.signed):
        return refuse(404, f"no published {kind} leaf of this meter for this interval")
    tree = the_hub.tree(meter["sector"], begin, kind)
    signed = kind == "signed"
    hashes = tree.proof(leaf.signed_hash() if signed else leaf.hub_hash())
    root = published[kind]
    # An openkwh-proof-v1 file as it stands (format, publisher, root, leafEncoding,
    # value, proof): saved, it is what `openkwh prosumer reveal --proof` sends.
    served = leaf_json(leaf, signed)
    return jsonify({
        "format": PROOF_FORMAT,
        "leafEncoding": served["types"],
        "value": served["values"],
        "kind": kind,
        "publisher": the_hub.publisher,  # the hub publishes both of its trees
        "root": "0x" + root["root"].hex(),
        "cid": root["cid"],
        "leaf": served,
        "proof": ["0x" + h.hex() for h in hashes],
    })  # fmt: skip


@api.get("/multiproofs/<sector>/<int:begin>")
def multiproof(sector: str, begin: int):
    try:
        meters = [bytes.fromhex(m.removeprefix("0x")) for m in
                  request.args.get("meters", "").split(",") if m]  # fmt: skip
    except ValueError:
        return refuse(400, "meters: a comma-separated list of 32-byte meter ids in hex")
    if not 2 <= len(set(meters)) == len(meters) <= MAX_MULTI:
        return refuse(400, f"meters: 2 to {MAX_MULTI} distinct meter ids")
    the_hub = hub()
    published = {root["kind"]: root for root in the_hub.store.roots(sector, begin)}
    if "hub" not in published:
        return refuse(404, f"no published hub root of {sector} for this interval")
    leaves = []
    for meter_id in meters:
        meter = the_hub.store.meter(meter_id)
        leaf = the_hub.store.leaf(meter_id, begin)
        if meter is None or meter["sector"] != sector or leaf is None:
            return refuse(404, f"no hub leaf of meter 0x{meter_id.hex()} in this root")
        if not the_hub.public(meter_id, begin):
            return refuse(403, f"meter 0x{meter_id.hex()}'s leaf is neither revealed nor "
                               "traded: only its owner gets it, on its own")  # fmt: skip
        leaves.append(leaf)
    by_hash = {leaf.hub_hash(): leaf for leaf in leaves}
    ordered, hashes, flags = the_hub.tree(sector, begin, "hub").multiproof(list(by_hash))
    return jsonify({
        "format": MULTIPROOF_FORMAT,
        "publisher": the_hub.publisher,
        "root": "0x" + published["hub"]["root"].hex(),
        "leafEncoding": HUB_LEAF_TYPES,
        "leaves": [leaf_json(by_hash[h], False)["values"] for h in ordered],
        "proof": ["0x" + h.hex() for h in hashes],
        "proofFlags": flags,
    })  # fmt: skip


def create_app(the_hub: Hub, test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(JSON_SORT_KEYS=False, MAX_CONTENT_LENGTH=16 * 1024 * 1024)
    if test_config:
        app.config.update(test_config)
    app.extensions["openkwh-hub"] = the_hub
    app.register_blueprint(api)
    return app

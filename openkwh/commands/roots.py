"""MeasurementRoots on the command line: an issuing body appoints and dismisses
its sector's data hubs; a data hub (or anyone, for meter-signed leaves)
publishes an interval's root from a tree file; a meter's owner (or anyone
holding the proof) reveals a measurement from a proof file.

A tree file is OpenZeppelin's ``StandardMerkleTree.dump()`` (format
"standard-v1") of hub or meter-signed leaves; a proof file is
``openkwh-proof-v1`` and a multiproof file ``openkwh-multiproof-v1``, both
described in ``openkwh.merkle``; ``openkwh data-hub make-proof`` writes one
from a tree file. Every file is checked before anything is sent: its proof
must lead to its root, the root must be published by the file's publisher
for the leaf's interval, the meter must publish by root and its interval be
unrevealed. Energy is shown in kWh, exactly (integer Wh underneath).

Its module registers the commands in ``actions.COMMANDS`` (imported at the
end of actions.py).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from eth_utils import keccak
from web3 import Web3

from openkwh import merkle
from openkwh.chain import TransactionFailed
from openkwh.commands import actions
from openkwh.commands.actions import (
    SECTOR,
    Actor,
    Report,
    _add_meter_arguments,
    _address,
    _meter_id,
    _time,
    _when,
)
from openkwh.hub import client

logger = logging.getLogger(__name__)

CONTRACT = "MeasurementRoots"


def kwh(wh: int) -> str:
    """Integer Wh as exact kWh: 740 -> "0.740 kWh"."""
    return f"{wh // 1000}.{wh % 1000:03d} kWh"


def _read(path: Path) -> str:
    return Path(path).read_text()


def _publisher(text) -> str:
    if not isinstance(text, str) or not Web3.is_address(text):
        raise merkle.ProofFileError(f"publisher: not an address: {text!r}")
    return Web3.to_checksum_address(text)


# ISSUING BODY


def appoint_hub(actor: Actor, sector: str, hub: str):
    """Appoints ``hub`` a data hub of ``sector``; the actor is its issuing body."""
    receipt = actor.send(actor.contract(CONTRACT).functions.appoint_hub(sector, hub))
    logger.info("appointed %s a data hub of %s", hub, sector)
    return receipt


def dismiss_hub(actor: Actor, sector: str, hub: str):
    """Dismisses a data hub of ``sector``; the roots it published stay usable."""
    roots = actor.contract(CONTRACT)
    if not roots.functions.is_hub(sector, hub).call():
        raise ValueError(f"{hub} is not a data hub of {sector}: nothing sent")
    receipt = actor.send(roots.functions.dismiss_hub(sector, hub))
    logger.info("dismissed %s as a data hub of %s; its roots stay", hub, sector)
    return receipt


# DATA HUB, OR ANYONE


def publish_root(
    actor: Actor, tree_file: Path, sector: str, begin: int, end: int | None, as_hub: bool
):
    """Publishes the root of the tree in ``tree_file`` for ``sector`` and the
    interval(s) ``[begin, end)``: as the sector's data hub (``as_hub``, one
    interval, ``end`` not given) or as anyone (meter-signed leaves only)."""
    types, values, nodes = merkle.load_dump(_read(tree_file))
    roots = actor.contract(CONTRACT)
    length = roots.functions.interval_length().call()
    if as_hub:
        if end is not None and end != begin + length:
            raise ValueError(f"a hub root covers one interval of {length} s: leave out --to")
        end = begin + length
    elif end is None:
        end = begin + length
    if begin % length or end % length:
        raise ValueError(f"--from and --to must lie on the {length} s interval grid: nothing sent")
    if end <= begin:
        raise ValueError("--to must come after --from: nothing sent")
    now = actor.w3.eth.get_block("latest")["timestamp"]
    if end > now:
        raise ValueError(f"the interval ends at {_when(end)}, after the chain's time: nothing sent")
    if not as_hub and types != merkle.SIGNED_LEAF_TYPES:
        raise ValueError(
            "a root of hub leaves counts only when the sector's data hub publishes it "
            "(--as-hub); anyone may publish only meter-signed leaves: nothing sent"
        )
    for i, value in enumerate(values):
        if value[1] < begin or value[2] > end:
            raise ValueError(
                f"leaf {i} ({_when(value[1])} to {_when(value[2])}) lies outside "
                f"{_when(begin)} to {_when(end)}: nothing sent"
            )
    if as_hub:
        if not roots.functions.is_hub(sector, actor.account.address).call():
            raise ValueError(f"{actor.account.address} is not a data hub of {sector}: nothing sent")
        receipt = actor.send(roots.functions.publish_hub_root(sector, begin, nodes[0]))
    else:
        receipt = actor.send(roots.functions.publish_root(sector, begin, end, nodes[0]))
    logger.info(
        "published root 0x%s of %d leaves of %s, %s to %s%s",
        nodes[0].hex(), len(values), sector, _when(begin), _when(end),
        " as its data hub" if as_hub else "",
    )  # fmt: skip
    return receipt


def publish_aggregate_root(actor: Actor, tree_file: Path, sector: str, begin: int, end: int):
    """Publishes, as the sector's data hub, the root of a billing period's
    aggregate leaves (a hub leaf per meter over ``[begin, end)``)."""
    types, values, nodes = merkle.load_dump(_read(tree_file))
    roots = actor.contract(CONTRACT)
    length = roots.functions.interval_length().call()
    if begin % length or end % length or end <= begin:
        raise ValueError(f"--from and --to must lie on the {length} s grid, --to after --from")
    if end - begin > roots.functions.MAX_PERIOD().call():
        raise ValueError("a billing period is at most 31 days: nothing sent")
    if types != merkle.HUB_LEAF_TYPES:
        raise ValueError("aggregate leaves are hub leaves: nothing sent")
    for i, value in enumerate(values):
        if (value[1], value[2]) != (begin, end):
            raise ValueError(f"leaf {i} is not of the period {_when(begin)} to {_when(end)}")
    if not roots.functions.is_hub(sector, actor.account.address).call():
        raise ValueError(f"{actor.account.address} is not a data hub of {sector}: nothing sent")
    receipt = actor.send(roots.functions.publish_aggregate_root(sector, begin, end, nodes[0]))
    logger.info(
        "published aggregate root 0x%s of %d meters of %s, %s to %s",
        nodes[0].hex(), len(values), sector, _when(begin), _when(end),
    )  # fmt: skip
    return receipt


def settle_aggregate(actor: Actor, proof_file: Path):
    """Settles a meter's billing period with its operator from the aggregate
    leaf of a proof file."""
    proof = merkle.load_proof(_read(proof_file))
    if proof["types"] != merkle.HUB_LEAF_TYPES:
        raise ValueError("an aggregate leaf is a hub leaf: nothing sent")
    publisher = _publisher(proof["publisher"])
    roots = actor.contract(CONTRACT)
    value = proof["value"]
    receipt = actor.send(roots.functions.settle_aggregate(publisher, value, proof["proof"]))
    logger.info(
        "settled meter 0x%s from %s to %s from its aggregate: %s consumed, %s produced "
        "(net of the hours settled on their own)",
        value[0].hex(), _when(value[1]), _when(value[2]), kwh(value[4]), kwh(value[3]),
    )  # fmt: skip
    return receipt


def make_proof(
    actor: Actor, tree_file: Path, meter_id: bytes, begin: int, publisher: str, out: Path
) -> Report:
    """Writes the proof file of the meter's leaf that begins at ``begin``."""
    types, values, nodes = merkle.load_dump(_read(tree_file))
    matching = [v for v in values if v[0] == meter_id and v[1] == begin]
    if not matching:
        raise ValueError(f"the tree has no leaf of meter 0x{meter_id.hex()} from {_when(begin)}")
    value = matching[0]
    index = nodes.index(merkle.leaf_hash(types, value))
    document = merkle.proof_document(publisher, types, value, nodes, index)
    out.write_text(json.dumps(document, indent=2) + "\n")
    logger.info(
        "wrote the proof of meter 0x%s from %s (%d hashes) to %s",
        meter_id.hex(), _when(begin), len(document["proof"]), out,
    )  # fmt: skip
    return Report(proof=str(out), root=document["root"], hashes=len(document["proof"]))


# MEASUREMENTS: THE OWNER, OR ANYONE


def _check_publication(roots, publisher: str, root: bytes, hub_leaf: bool) -> int:
    """The publication's sector tag, after checking the root is published."""
    tag, _begin, end, by_hub = roots.functions.publication(publisher, root).call()
    if end == 0:
        raise ValueError(f"{publisher} has not published root 0x{root.hex()}: nothing sent")
    if hub_leaf and not by_hub:
        raise ValueError(
            "a hub leaf counts only against a data hub's root, and this root was "
            "published by anyone: nothing sent"
        )
    return tag


def _check_meter(smb, value: tuple) -> None:
    meter, begin = value[0], value[1]
    if not smb.functions.publishes_by_root(meter).call():
        raise ValueError(
            f"meter 0x{meter.hex()} is not registered to publish by root: nothing sent"
        )
    if smb.functions.is_revealed(meter, begin).call():
        raise ValueError(
            f"meter 0x{meter.hex()}'s interval from {_when(begin)} is already revealed: "
            "nothing sent"
        )


def reveal(actor: Actor, proof_file: Path):
    """Reveals one leaf from a proof file: a hub leaf (``reveal``) or a
    meter-signed one (``reveal_signed``)."""
    proof = merkle.load_proof(_read(proof_file))
    publisher = _publisher(proof["publisher"])
    roots, smb = actor.contract(CONTRACT), actor.contract("SmartMeterBackend")
    hub_leaf = proof["types"] == merkle.HUB_LEAF_TYPES
    _check_publication(roots, publisher, proof["root"], hub_leaf)
    value = proof["value"]
    _check_meter(smb, value)
    if hub_leaf:
        receipt = actor.send(roots.functions.reveal(publisher, value, proof["proof"]))
    else:
        receipt = actor.send(roots.functions.reveal_signed(publisher, value, proof["proof"]))
    logger.info(
        "revealed meter 0x%s, %s to %s: %s consumed, %s produced",
        value[0].hex(), _when(value[1]), _when(value[2]), kwh(value[4]), kwh(value[3]),
    )  # fmt: skip
    return receipt


def reveal_many(actor: Actor, proof_file: Path):
    """Reveals the hub leaves of a multiproof file in one transaction."""
    proof = merkle.load_multiproof(_read(proof_file))
    if len(proof["leaves"]) > MAX_MULTI:
        raise ValueError(
            f"a multiproof reveals at most {MAX_MULTI} leaves, this one has "
            f"{len(proof['leaves'])}: split it; nothing sent"
        )
    publisher = _publisher(proof["publisher"])
    roots, smb = actor.contract(CONTRACT), actor.contract("SmartMeterBackend")
    _check_publication(roots, publisher, proof["root"], True)
    for value in proof["leaves"]:
        _check_meter(smb, value)
    receipt = actor.send(
        roots.functions.reveal_many(
            publisher, proof["leaves"], proof["proof"], merkle.pack_flags(proof["flags"])
        )
    )
    consumed = sum(value[4] for value in proof["leaves"])
    produced = sum(value[3] for value in proof["leaves"])
    logger.info(
        "revealed %d measurements: %s consumed, %s produced in all",
        len(proof["leaves"]), kwh(consumed), kwh(produced),
    )  # fmt: skip
    return receipt


MAX_MULTI = 24  # MeasurementRoots.MAX_MULTI, leaves


# THE DATA HUB'S PROOFS: THE OWNER FETCHES ITS OWN, A KEEPER REVEALS TRADED HOURS


def _fallback(sector: str, meter_id: bytes, begin: int, end: int, owner: str) -> str:
    """The commands that put the bridge's own signed leaf on chain, ready to paste."""
    since, until = _iso(begin), _iso(end)
    return (
        "fall back on your bridge's own signed readings: `meter-bridge export-leaves "
        f"--from {since} --to {until} --out tree.json` on the bridge, then `openkwh data-hub "
        f"publish-root --tree tree.json --sector {sector} --from {since} --to {until}`, "
        f"`openkwh data-hub make-proof --tree tree.json --meter-id 0x{meter_id.hex()} "
        f"--interval {since} --publisher {owner} --out proof.json` and `openkwh prosumer "
        "reveal --proof proof.json`"
    )


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _served(roots, document, meter_id: bytes, begin: int, kind: str, sector: str) -> dict:
    """The proof the hub served, checked: its leaf is the meter's of the interval,
    of the kind asked, and leads to the root its publisher published on chain
    for the meter's sector and that interval (for a hub leaf: the sector's hub
    root of the interval). ProofFileError (a ValueError) says what is wrong."""
    proof = merkle.load_proof(json.dumps(document))
    value, types = proof["value"], proof["types"]
    wanted = merkle.HUB_LEAF_TYPES if kind == "hub" else merkle.SIGNED_LEAF_TYPES
    if types != wanted:
        raise merkle.ProofFileError(f"a proof of a {'signed' if kind == 'hub' else 'hub'} leaf, "
                                    f"not of the {kind} leaf asked")  # fmt: skip
    if value[0] != meter_id or value[1] != begin:
        raise merkle.ProofFileError(
            f"a proof of meter 0x{value[0].hex()}'s leaf from {_when(value[1])}, not of the "
            f"meter and hour asked"
        )
    publisher, root = _publisher(proof["publisher"]), proof["root"]
    tag, first, last, by_hub = roots.functions.publication(publisher, root).call()
    if last == 0 or tag != roots.functions.sector_tag(sector).call():
        raise merkle.ProofFileError(
            f"its root 0x{root.hex()} is not one {publisher} published on chain for {sector}"
        )
    if not first <= begin < last or value[2] > last:
        raise merkle.ProofFileError(f"its root 0x{root.hex()} is of another interval")
    if kind == "hub":
        on_chain = roots.functions.hub_root(keccak(text=sector), begin).call()
        if not by_hub or on_chain != root:
            raise merkle.ProofFileError(
                f"its root 0x{root.hex()} is not {sector}'s hub root of the hour on chain, "
                f"0x{on_chain.hex()}"
            )
    return proof


def fetch_proof(actor: Actor, hub_url: str, meter_id: bytes, begin: int, kind: str,
                out: Path) -> Report:  # fmt: skip
    """Signs in to the data hub as the meter's owner, fetches the proof of its
    leaf of the interval beginning at ``begin``, checks it against the chain and
    writes it to ``out``. A hub that refuses, cannot be reached, or serves a
    proof that does not lead to the published root is reported (which hour,
    which hub, what it answered) with the fallback, and nothing is written."""
    if not Path(out).parent.is_dir():
        raise ValueError(f"no folder {Path(out).parent} for --out: nothing fetched")
    smb, roots = actor.contract("SmartMeterBackend"), actor.contract(CONTRACT)
    length = roots.functions.interval_length().call()
    if begin % length:
        raise ValueError(f"--interval must lie on the {length} s interval grid: nothing fetched")
    if not smb.functions.publishes_by_root(meter_id).call():
        raise ValueError(
            f"meter 0x{meter_id.hex()} is not registered to publish by root: no hub holds "
            "its proofs; nothing fetched"
        )
    sector = smb.functions.meter(meter_id).call()[3]
    hour = f"meter 0x{meter_id.hex()}'s {kind} leaf of {_when(begin)}"
    fallback = _fallback(sector, meter_id, begin, begin + length, actor.account.address)
    try:
        now = actor.w3.eth.get_block("latest")["timestamp"]  # the hub's clock, within a block
        token = client.sign_in(hub_url, actor.account, actor.w3.eth.chain_id, now)
        document = client.fetch_proof(hub_url, meter_id, begin, kind, token)
        proof = _served(roots, document, meter_id, begin, kind, sector)
    except client.HubError as exc:
        raise ValueError(f"the proof of {hour}: {exc}; {fallback}; nothing written") from None
    except merkle.ProofFileError as exc:
        raise ValueError(
            f"the proof of {hour}: the hub at {hub_url} served a bad proof: {exc}; "
            f"{fallback}; nothing written"
        ) from None
    Path(out).write_text(json.dumps(document, indent=2) + "\n")
    value = proof["value"]
    logger.info(
        "fetched the proof of %s from %s (root 0x%s, %d hashes): %s consumed, %s produced; "
        "wrote %s",
        hour, hub_url, proof["root"].hex(), len(proof["proof"]), kwh(value[4]), kwh(value[3]),
        out,
    )  # fmt: skip
    return Report(proof=str(out), root="0x" + proof["root"].hex(), kind=kind,
                  hashes=len(proof["proof"]))  # fmt: skip


def _traded_hours(actor: Actor, start: int, end: int) -> list[tuple[bytes, int]]:
    """(meter, interval begin) of every deal's root-published seller and buyer
    meters over ``[start, end)``, not revealed yet, in deal order. Auction fills
    are delivered as Exchange deals, so they are among them."""
    exchange, smb = actor.contract("Exchange"), actor.contract("SmartMeterBackend")
    first = actor.deployment["Exchange"].block or actor.deployment["SmartMeterBackend"].block
    hours: dict[tuple[bytes, int], None] = {}
    for event in exchange.events.DealMade().get_logs(from_block=first):
        begin = event["args"]["interval_begin"]
        if not start <= begin < end:
            continue
        for meter_id in (event["args"]["seller_meter"], event["args"]["buyer_meter"]):
            if meter_id != bytes(32):
                hours.setdefault((meter_id, begin))
    return [
        (meter_id, begin)
        for meter_id, begin in hours
        if smb.functions.publishes_by_root(meter_id).call()
        and not smb.functions.is_revealed(meter_id, begin).call()
    ]


def reveal_traded(actor: Actor, hub_url: str, start: int, end: int):
    """Reveals, from the data hub's public proofs, every traded hour of a
    root-published meter over ``[start, end)`` not revealed yet (issue 18:
    traded hours are revealed, always). The hub leaves of one sector and hour
    go together with ``reveal_many`` when the hub serves their multiproof,
    the others one by one; hours the hub refuses are listed, not fatal."""
    smb, roots = actor.contract("SmartMeterBackend"), actor.contract(CONTRACT)
    hours = _traded_hours(actor, start, end)
    if not hours:
        raise ValueError(
            f"no traded hour of a root-published meter waits for its reveal between "
            f"{_when(start)} and {_when(end)}: nothing sent"
        )
    proofs, refused = {}, []
    for number, (meter_id, begin) in enumerate(hours, 1):
        sector = smb.functions.meter(meter_id).call()[3]
        hour = f"meter 0x{meter_id.hex()[:8]}…'s hour {_when(begin)}"
        try:
            document = client.fetch_proof(hub_url, meter_id, begin, "hub")
            proofs[(meter_id, begin)] = (sector, _served(roots, document, meter_id, begin,
                                                         "hub", sector))  # fmt: skip
            logger.info("%d of %d: fetched the proof of %s", number, len(hours), hour)
        except (client.HubError, merkle.ProofFileError) as exc:
            refused.append((meter_id, begin, str(exc)))
            logger.warning("%d of %d: %s: refused: %s", number, len(hours), hour, exc)
    groups: dict[tuple, list] = {}
    for (_, begin), (sector, proof) in proofs.items():
        groups.setdefault((sector, begin, proof["publisher"], proof["root"]), []).append(proof)
    receipts, revealed = [], 0
    for (sector, begin, _, _), group in groups.items():
        singles = group
        if len(group) > 1:
            singles = []
            for i in range(0, len(group), MAX_MULTI):
                batch = group[i : i + MAX_MULTI]
                sent = _reveal_together(actor, hub_url, sector, begin, batch)
                if sent is None:
                    singles.extend(batch)
                else:
                    receipts.append(sent)
                    revealed += len(batch)
        for proof in singles:
            value = proof["value"]
            try:
                receipts.append(actor.send(roots.functions.reveal(
                    _publisher(proof["publisher"]), value, proof["proof"])))  # fmt: skip
            except TransactionFailed as exc:
                refused.append((value[0], value[1], f"the chain refused it: {exc}"))
                continue
            revealed += 1
            logger.info("revealed meter 0x%s…'s hour %s", value[0].hex()[:8], _when(value[1]))
    logger.info(
        "revealed %d traded hour(s) of %d; %d refused (by the hub, or the chain)",
        revealed,
        len(hours),
        len(refused),
    )
    for meter_id, begin, reason in refused:
        logger.info("  refused: meter 0x%s, %s: %s", meter_id.hex(), _when(begin), reason)
    if not receipts:
        raise ValueError(
            f"the hub at {hub_url} served none of the {len(hours)} traded hour(s) waiting "
            "for their reveal: nothing sent"
        )
    return receipts


def _reveal_together(actor: Actor, hub_url: str, sector: str, begin: int, group: list):
    """``reveal_many`` of a group of hub leaves of one root, from the hub's
    multiproof of them; None when the hub does not serve it or it does not fit."""
    roots = actor.contract(CONTRACT)
    meters = ",".join("0x" + proof["value"][0].hex() for proof in group)
    try:
        document = client.fetch_multiproof(hub_url, sector, begin, meters)
        multi = merkle.load_multiproof(json.dumps(document))
    except (client.HubError, merkle.ProofFileError) as exc:
        logger.warning("no multiproof of %s's hour %s (%s): one by one", sector, _when(begin), exc)
        return None
    if multi["root"] != group[0]["root"] or sorted(v[0] for v in multi["leaves"]) != sorted(
        p["value"][0] for p in group
    ):
        logger.warning("the hub's multiproof is not of the leaves asked: one by one")
        return None
    receipt = actor.send(roots.functions.reveal_many(
        _publisher(multi["publisher"]), multi["leaves"], multi["proof"],
        merkle.pack_flags(multi["flags"])))  # fmt: skip
    logger.info("revealed %d hours of %s, %s, in one transaction", len(group), sector,
                _when(begin))  # fmt: skip
    return receipt


HUB_HELP = "the data hub's URL, e.g. https://hub.example (its /api/v1 is appended)"
TREE_HELP = "the tree: OpenZeppelin's StandardMerkleTree.dump() JSON (format standard-v1)"
PROOF_HELP = (
    "the proof, as the data hub serves it: JSON with format openkwh-proof-v1, publisher, "
    "root, leafEncoding, value, proof (see openkwh/chain/merkle.py)"
)

COMMANDS = {
    "issuing_body": {
        "appoint-hub": (
            "appoint a data hub of your sector: it publishes the sector's hourly roots",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument("--hub", type=_address, required=True, help="the hub's account"),
            ),
            lambda a, args: appoint_hub(a, args.sector, args.hub),
        ),
        "dismiss-hub": (
            "dismiss a data hub of your sector; the roots it published stay usable",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument("--hub", type=_address, required=True),
            ),
            lambda a, args: dismiss_hub(a, args.sector, args.hub),
        ),
    },
    "data_hub": {
        "publish-root": (
            "publish the root of an interval's leaves: as the sector's data hub (--as-hub), "
            "or as anyone for meter-signed leaves",
            lambda p: (
                p.add_argument("--tree", type=Path, required=True, help=TREE_HELP),
                p.add_argument("--sector", type=SECTOR, required=True, help='e.g. "DK1"'),
                p.add_argument(
                    "--from",
                    dest="start",
                    type=_time,
                    required=True,
                    help="the interval's begin: ISO 8601 (UTC unless zoned) or unix seconds",
                ),
                p.add_argument(
                    "--to",
                    dest="end",
                    type=_time,
                    help="the end (excluded) of meter-signed leaves' intervals "
                    "(default: one interval)",
                ),
                p.add_argument(
                    "--as-hub",
                    action="store_true",
                    help="publish as the sector's data hub, once per interval: "
                    "its leaves count as the hub vouches for them",
                ),
            ),
            lambda a, args: publish_root(
                a, args.tree, args.sector, args.start, args.end, args.as_hub
            ),
        ),
        "publish-aggregate-root": (
            "publish, as the sector's data hub, the root of a billing period's aggregate "
            "leaves (Wh per meter over the period), for billing without hourly reveals",
            lambda p: (
                p.add_argument("--tree", type=Path, required=True, help=TREE_HELP),
                p.add_argument("--sector", type=SECTOR, required=True, help='e.g. "DK1"'),
                p.add_argument(
                    "--from",
                    dest="start",
                    type=_time,
                    required=True,
                    help="the period's begin: ISO 8601 or unix seconds",
                ),
                p.add_argument(
                    "--to",
                    dest="end",
                    type=_time,
                    required=True,
                    help="the period's end (excluded), at most 31 days later",
                ),
            ),
            lambda a, args: publish_aggregate_root(a, args.tree, args.sector, args.start, args.end),
        ),
        "make-proof": (
            "write the proof file of one meter's leaf from a tree file (sends nothing)",
            lambda p: (
                p.add_argument("--tree", type=Path, required=True, help=TREE_HELP),
                _add_meter_arguments(p),
                p.add_argument(
                    "--interval",
                    type=_time,
                    required=True,
                    help="the leaf's interval begin: ISO 8601 or unix seconds",
                ),
                p.add_argument(
                    "--publisher",
                    type=_address,
                    required=True,
                    help="who published the tree's root",
                ),
                p.add_argument("--out", type=Path, required=True, help="the proof file to write"),
            ),
            lambda a, args: make_proof(
                a, args.tree, _meter_id(args), args.interval, args.publisher, args.out
            ),
        ),
    },
    "keeper": {
        "reveal-traded": (
            "reveal, from the data hub's public proofs, every traded hour not revealed yet of "
            "a seller or buyer whose meter publishes by root, so its deals settle; hours the "
            "hub refuses are listed",
            lambda p: (
                p.add_argument("--hub", required=True, help=HUB_HELP),
                actions._add_period_options(p),
            ),
            lambda a, args: reveal_traded(a, args.hub, *actions._period(args)),
        ),
        "settle-aggregate": (
            "settle a root-published meter's billing period with its operator from the "
            "hub's aggregate leaf, net of the hours settled on their own",
            lambda p: p.add_argument("--proof", type=Path, required=True, help=PROOF_HELP),
            lambda a, args: settle_aggregate(a, args.proof),
        ),
    },
    "prosumer": {
        "fetch-proof": (
            "sign in to the data hub as the meter's owner, fetch a leaf's proof, check it "
            "against the root on chain and write it; a hub that refuses is reported with "
            "the fallback (meter-bridge export-leaves) and nothing is written",
            lambda p: (
                p.add_argument("--hub", required=True, help=HUB_HELP),
                _add_meter_arguments(p),
                p.add_argument(
                    "--interval",
                    type=_time,
                    required=True,
                    help="the hour's begin: ISO 8601 (UTC unless zoned) or unix seconds",
                ),
                p.add_argument(
                    "--kind",
                    choices=("hub", "signed"),
                    default="hub",
                    help="the hub's leaf (default) or the meter-signed one",
                ),
                p.add_argument("--out", type=Path, required=True, help="the proof file to write"),
            ),
            lambda a, args: fetch_proof(
                a, args.hub, _meter_id(args), args.interval, args.kind, args.out
            ),
        ),
        "reveal": (
            "put one measurement on chain from its proof file, once: from then on the "
            "operator, the registry and the Exchange use it",
            lambda p: p.add_argument("--proof", type=Path, required=True, help=PROOF_HELP),
            lambda a, args: reveal(a, args.proof),
        ),
        "reveal-many": (
            "put up to 24 hub leaves of one root on chain in one transaction, from a "
            "multiproof file",
            lambda p: p.add_argument(
                "--proof",
                type=Path,
                required=True,
                help="JSON with format openkwh-multiproof-v1: publisher, root, leafEncoding, "
                "and OpenZeppelin getMultiProof's leaves, proof, proofFlags",
            ),
            lambda a, args: reveal_many(a, args.proof),
        ),
    },
}

EXAMPLES = {
    ("issuing-body", "appoint-hub"): "--sector DK1 --hub 0x…",
    ("issuing-body", "dismiss-hub"): "--sector DK1 --hub 0x…",
    ("data-hub", "publish-root"): "--tree tree.json --sector DK1 --from 2026-06-20T10:00Z --as-hub",
    ("data-hub", "make-proof"): "--tree tree.json --gsrn 571313115100000006 --salt-file salt "
    "--interval 2026-06-20T10:00Z --publisher 0x… --out proof.json",
    ("prosumer", "reveal"): "--proof proof.json",
    ("prosumer", "fetch-proof"): "--hub https://hub.example --meter-id 0x… "
    "--interval 2026-06-20T10:00Z --out proof.json",
    ("keeper", "reveal-traded"): "--hub https://hub.example --from 2026-06-20 --to 2026-06-21",
    ("data-hub", "publish-aggregate-root"): "--tree june.json --sector DK1 --from 2026-06-01 "
    "--to 2026-07-01",
    ("keeper", "settle-aggregate"): "--proof june-proof.json",
    ("prosumer", "reveal-many"): "--proof multiproof.json",
}

ROLE_TITLES = {
    "data_hub": "a sector's data hub, or anyone with meter-signed leaves: publishes "
    "interval roots and writes proofs",
}

for _role, _commands in COMMANDS.items():
    actions.COMMANDS.setdefault(_role, {}).update(_commands)
actions.ROLE_TITLES.update(ROLE_TITLES)

"""`openkwh hub`: the data hub service of a sector (issue 18).

    openkwh hub add-meter  --gsrn G --salt-file F --signer 0x… --owner 0x… --sector DK1 [--max-w W]
    openkwh hub import     FILE.csv            a DataHub time-series file (openkwh.hub.ingest)
    openkwh hub publish    --sector DK1 --interval 2026-06-20T10:00Z
    openkwh hub serve      [--host 127.0.0.1] [--port 8600] [--domain hub.example]

Every command takes ``--store`` (an SQLite path or a ``postgresql://`` URL;
default $OPENKWH_HUB_STORE, else hub.sqlite) and the network options of the
other commands (``--network``, ``--account``, ``--deployments``): the hub signs
its roots with its account, appointed by the sector's issuing body
(MeasurementRoots' ``appoint_hub``). ``--salt-key-file`` holds the hub's 32
secret bytes from which each leaf's salt is derived (``head -c 32
/dev/urandom > hub-salt``): lose it and the hub can no longer rebuild its
leaves; leak it and unrevealed leaves can be tried against the roots.
``--kubo`` puts each interval's leaf hashes to an IPFS node's RPC API;
``--blobs`` keeps the leaf sets by CID (default hub-blobs/).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from meter_bridge.content import BlobStore, Kubo
from meter_bridge.signing import meter_id, read_salt
from openkwh.hub.ingest import Ingestor
from openkwh.hub.leaves import roots_domain_separator
from openkwh.hub.store import open_store

logger = logging.getLogger(__name__)
DEFAULT_MAX_W = 55_000  # a meter's connection rating when none is given, W


class HubError(Exception):
    """A command that cannot do what it was asked; its message says why."""


def _utc(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _deployment(args):
    from openkwh.chain.deployment import Deployment
    from openkwh.commands.deploy import DEPLOYMENTS_DIR, deployments_path

    network = getattr(args, "network", None) or os.environ.get("NETWORK", "anvil")
    return Deployment.load(args.deployments or deployments_path(network, DEPLOYMENTS_DIR))


def _ingestor(args, store) -> Ingestor:
    deployment = _deployment(args)
    roots = deployment["MeasurementRoots"].address
    salt_key = Path(args.salt_key_file).read_bytes()
    if len(salt_key) < 32:
        raise HubError(f"--salt-key-file: expected 32 bytes at least, got {len(salt_key)}")
    interval = int(args.interval_length)
    return Ingestor(store, interval, roots_domain_separator(deployment.chain_id, roots), salt_key)


def command_add_meter(args) -> int:
    if args.gsrn and not args.salt_file:
        raise HubError("--gsrn needs --salt-file (the operator's salt of meter ids)")
    store = open_store(args.store)
    if args.meter_id:
        meter = bytes.fromhex(args.meter_id.removeprefix("0x"))
        if len(meter) != 32:
            raise HubError(f"--meter-id: expected 32 bytes (0x + 64 hex digits), got {len(meter)}")
    else:
        meter = meter_id(args.gsrn, read_salt(args.salt_file))
    held = store.meters_by_gsrn([args.gsrn]).get(args.gsrn) if args.gsrn else None
    if held is not None and bytes(held[0]) != meter:  # another salt, another id
        raise HubError(f"metering point {args.gsrn} is served already as meter "
                       f"0x{bytes(held[0]).hex()}, not 0x{meter.hex()}: nothing changed")  # fmt: skip
    if store.meter(meter) is not None:
        raise HubError(f"meter 0x{meter.hex()}" + (f" (metering point {args.gsrn})" if args.gsrn
                       else "") + " is served already: nothing changed")  # fmt: skip
    store.add_meter(meter, args.signer, args.owner, args.sector, args.max_w, args.gsrn)
    print(json.dumps({"meter_id": "0x" + meter.hex(), "gsrn": args.gsrn}))
    return 0


def command_import(args) -> int:
    store = open_store(args.store)
    # utf-8-sig: a file saved by a spreadsheet opens with a byte order mark
    with open(args.file, newline="", encoding="utf-8-sig") as lines:
        outcome = _ingestor(args, store).ingest_csv(lines)
    print(json.dumps(outcome.as_json()))
    return 0 if not outcome.refused else 3


def command_publish(args) -> int:
    from openkwh.commands.actions import Actor
    from openkwh.commands.network import connect_from_args
    from openkwh.hub.publish import publish_interval

    store = open_store(args.store)
    begin, length = args.interval, int(args.interval_length)
    if begin % length:
        raise HubError(f"--interval: {_utc(begin)} is not the begin of an interval of the "
                       f"{length} s grid")  # fmt: skip
    if not store.has_leaves(args.sector, begin):
        raise HubError(f"no measurement of a {args.sector} meter for {_utc(begin)} to "
                       f"{_utc(begin + length)} in {args.store}: nothing published")  # fmt: skip
    done = {root["kind"] for root in store.roots(args.sector, begin)}
    if "hub" in done and ("signed" in done or not store.leaves(args.sector, begin, signed=True)):
        raise HubError(f"the {args.sector} roots of {_utc(begin)} to {_utc(begin + length)} "
                       f"are published already (see {args.store}): nothing sent")  # fmt: skip
    conn = connect_from_args(args)
    actor = Actor(conn.w3, conn.account, _deployment(args))
    roots = actor.contract("MeasurementRoots")

    def send(function: str, call_args: tuple) -> str:
        receipt = actor.send(getattr(roots.functions, function)(*call_args))
        return receipt["transactionHash"].to_0x_hex()

    published = publish_interval(
        store, args.sector, begin, int(args.interval_length), send, BlobStore(args.blobs),
        Kubo(args.kubo) if args.kubo else None,
    )  # fmt: skip
    for each in published:
        print(json.dumps({"kind": each.kind, "root": "0x" + each.tree.root.hex(),
                          "leaves": len(each.leaves), "cid": each.cid,
                          "leaves_cid": each.leaves_cid, "tx": each.tx_hash}))  # fmt: skip
    return 0


def command_serve(args) -> int:
    from waitress import serve
    from web3 import Web3

    from openkwh.commands.network import connect_from_args
    from openkwh.hub.app import Hub, create_app

    store = open_store(args.store)
    conn = connect_from_args(args)
    deployment = _deployment(args)
    backend = deployment.contract(conn.w3, "SmartMeterBackend")
    # Every proof served names this account as its root's publisher: served as
    # another account than the one that publishes, each would be refused.
    publisher = Web3.to_checksum_address(conn.account.address)
    roots = deployment.contract(conn.w3, "MeasurementRoots")
    sectors = sorted({row[0] for row in store.execute("SELECT DISTINCT sector FROM meters")})
    foreign = [sector for sector in sectors if not roots.functions.is_hub(sector, publisher).call()]
    if foreign:
        raise HubError(
            f"{publisher} is not a data hub of {', '.join(foreign)}: the proofs it served would "
            "name it as the publisher of roots it cannot publish. Serve with the account that "
            "publishes (--account), once the sector's issuing body has appointed it "
            "(openkwh issuing-body appoint-hub)"
        )

    def revealed_on_chain(meter: bytes, begin: int) -> bool:
        return bool(backend.functions.is_revealed(meter, begin).call())

    operator = deployment.contract(conn.w3, "OperatorBackend")

    def traded_on_chain(meter: bytes, begin: int) -> bool:
        return bool(operator.functions.is_traded(backend.address, meter, begin).call())

    the_hub = Hub(store, _ingestor(args, store), publisher,
                  args.domain or f"{args.host}:{args.port}", revealed_on_chain=revealed_on_chain,
                  traded_on_chain=traded_on_chain)  # fmt: skip
    logger.info("hub serving on http://%s:%d", args.host, args.port)
    serve(create_app(the_hub), host=args.host, port=args.port, threads=4)
    return 0


EXAMPLES = {
    "add-meter": "openkwh hub add-meter --gsrn 571313180400012349 --salt-file salt "
    "--signer 0x… --owner 0x… --sector DK1 --max-w 17250",
    "import": "openkwh hub import datahub-2026-06-20.csv",
    "publish": "openkwh hub publish --sector DK1 --interval 2026-06-20T10:00Z --account hub",
    "serve": "openkwh hub serve --port 8600 --domain hub.example --account hub",
}
DESCRIPTIONS = {
    "add-meter": "Serve a metering point: its meter id (--gsrn hashed with the operator's "
    "--salt-file, as the installer registered it, or --meter-id), the meter key's address "
    "(--signer: the bridge's readings must be signed by it), the owner's address (--owner: "
    "the only one who gets its unrevealed proofs), its sector, and its connection rating "
    "(--max-w, W: more Wh than it carries over an interval is refused as absurd). Prints "
    "{meter_id, gsrn}.",
    "import": "Import a DataHub time-series file: ';'-separated, a header row, UTC times, "
    "one row per metering point, interval and type:\n\n"
    "  metering_point_id;begin;end;quantity_wh;quality;type\n"
    "  571313180400012349;2026-06-20T10:00:00Z;2026-06-20T11:00:00Z;512;measured;E17\n\n"
    "quantity_wh is an integer in Wh (DataHub's kWh times 1000); quality is measured, "
    "estimated or calculated (or E01, 56, D01); type is E17 (consumption, the default "
    "when the column is absent) or E18 (production). Prints {accepted, refused: [{at, "
    "reason}]}, at being the file's line; the accepted rows are stored whatever is refused. "
    "Exits 0 when every row was accepted, 3 when some were refused, 1 on an error.",
    "publish": "Publish an interval's roots: the hub tree of every leaf of the sector's "
    "meters (publish_hub_root) and the tree of the meter-signed ones (publish_root), sent "
    "with the hub's account, which the sector's issuing body must have appointed "
    "(openkwh issuing-body appoint-hub). The interval must be over; readings of it that "
    "arrive later are refused. Prints a JSON line per root: kind, root, leaves, cid (the "
    "leaf hashes), leaves_cid (the full leaf set, in --blobs) and tx.",
    "serve": "Serve the hub's HTTP API: bridges post signed readings, anyone reads roots, "
    "owners sign in with Ethereum and fetch their proofs. --domain is the host the owners' "
    "wallets sign in to (the public name behind a proxy). Reads the chain to learn which "
    "leaves are revealed or traded, and so public. Run it as the account that publishes "
    "(--account): every proof names that account as its root's publisher, so it refuses "
    "to start as one that is not a data hub of each sector of its meters.",
}


def _wrapped(text: str) -> str:
    """Paragraphs filled to the terminal's usual width; indented lines (a file's rows) kept."""
    return "\n\n".join(part if part.startswith(" ") else textwrap.fill(part, 79)
                       for part in text.split("\n\n"))  # fmt: skip


def parser() -> argparse.ArgumentParser:
    from openkwh.commands.actions import _address, _time
    from openkwh.commands.network import add_network_arguments

    shared = argparse.ArgumentParser(add_help=False)
    add_network_arguments(shared, defaults=True)  # not --json: every hub command prints JSON
    shared.add_argument("--deployments", type=Path,
                        help="deployments file (default: deployments/<network>.json)")  # fmt: skip
    shared.add_argument("--store", default=os.environ.get("OPENKWH_HUB_STORE", "hub.sqlite"),
                        help="SQLite path or postgresql:// URL (default $OPENKWH_HUB_STORE or hub.sqlite)")  # fmt: skip
    shared.add_argument("--salt-key-file", default="hub-salt",
                        help="the hub's 32 secret bytes every leaf's salt derives from "
                        "(default hub-salt; make it with head -c 32 /dev/urandom > hub-salt)")  # fmt: skip
    shared.add_argument(
        "--interval-length", type=int, default=3_600, help="seconds (the backend's)"
    )
    shared.add_argument("--blobs", default="hub-blobs", help="folder of the leaf sets by CID")
    shared.add_argument(
        "--kubo", default="", help="an IPFS node's RPC API, e.g. http://127.0.0.1:5001"
    )
    top = argparse.ArgumentParser(prog="openkwh hub", description=__doc__,
                                  epilog="each command's --help describes it, with an example",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[shared], help=text,
                                   description=_wrapped(DESCRIPTIONS[name]),
                                   epilog=f"example: {EXAMPLES[name]}",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip

    add = command("add-meter", "serve a metering point")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--meter-id", help="the meter id (0x + 64 hex digits)")
    who.add_argument("--gsrn", help="the 18-digit GSRN (with --salt-file: its meter id)")
    add.add_argument("--salt-file", type=Path, help="the operator's salt of meter ids")
    add.add_argument("--signer", required=True, type=_address,
                     help="the meter key's address (EIP-55 checksummed)")  # fmt: skip
    add.add_argument("--owner", required=True, type=_address,
                     help="the owner's address (EIP-55 checksummed): who may fetch its proofs")  # fmt: skip
    add.add_argument("--sector", required=True, help="the meter's sector, e.g. DK1")
    add.add_argument("--max-w", type=int, default=DEFAULT_MAX_W,
                     help=f"connection rating, W (default {DEFAULT_MAX_W:,})")  # fmt: skip
    add.set_defaults(run=command_add_meter)
    imported = command("import", "import a DataHub CSV file")
    imported.add_argument("file", type=Path, help="the DataHub CSV file")
    imported.set_defaults(run=command_import)
    publish = command("publish", "publish an interval's roots")
    publish.add_argument("--sector", required=True, help="the sector, e.g. DK1")
    publish.add_argument("--interval", required=True, type=_time,
                         help="its begin: an ISO 8601 time (UTC unless it names a zone), "
                         "e.g. 2026-06-20T10:00Z, or unix seconds")  # fmt: skip
    publish.set_defaults(run=command_publish)
    serve = command("serve", "the HTTP service")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8600, help="port to listen on (default 8600)")
    serve.add_argument("--domain", help="the Sign-In with Ethereum domain (default host:port)")
    serve.set_defaults(run=command_serve)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from openkwh.chain.deployment import DeploymentError
    from openkwh.chain.transactions import TransactionFailed
    from openkwh.commands.network import ConnectionSetupError

    args = parser().parse_args(argv)
    prog = f"openkwh hub {args.command}"
    try:
        return args.run(args)
    except (HubError, TransactionFailed, ConnectionSetupError, DeploymentError, ValueError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    except OSError as exc:  # a file missing or unreadable, a port in use
        what = f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
        print(f"{prog}: {what}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

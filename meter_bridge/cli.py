"""meter-bridge: the meter's daemon and its tools.

    meter-bridge run       read the meter, store, sign and relay (the daemon)
    meter-bridge keygen    make the meter key on this device; prints only its address
    meter-bridge status    whether it runs, checks, funds, last telegram and reading, outbox
    meter-bridge replay    sign and send stored readings again (those on chain are skipped)
    meter-bridge export-leaves  the meter's own signed measurements as a Merkle tree file
    meter-bridge meter-id  the on-chain meter id of a GSRN/EAN and the operator's salt
    meter-bridge probe     what a meter sends, telegram by telegram; stores and signs nothing
    meter-bridge simulate  a meter writing real-format telegrams into a pseudo-terminal

Every command but probe and simulate reads the TOML configuration (--config); see
deploy/bridge.example.toml for every option.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import tty
from datetime import UTC, datetime
from pathlib import Path

from meter_bridge import config as config_module
from meter_bridge.bounds import BoundsInForce, describe
from meter_bridge.keys import KeystoreError, create_keystore, passphrase
from meter_bridge.protocols import PROTOCOLS, SML_CRCS

DEFAULT_CONFIG = Path("/etc/meter-bridge/bridge.toml")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what journald and log shippers index."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def text_formatter() -> logging.Formatter:
    """Lines with their UTC time: '2026-12-02T04:50:00Z WARNING meter_bridge.relay: ...'."""
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    return formatter


def setup_logging(style: str, level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if style == "json" else text_formatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def load_config(args, need_id: bool = True) -> config_module.Config:
    try:
        return config_module.load(args.config, need_id)
    except config_module.ConfigError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc


def command_run(args) -> int:
    from meter_bridge.daemon import Bridge, PortBusy

    try:
        bridge = Bridge(load_config(args))
    except config_module.ConfigError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: bridge.stop.set())
    from meter_bridge.store import StoreError

    try:
        bridge.run()
    except (KeystoreError, PortBusy, StoreError, config_module.ConfigError) as exc:
        logging.getLogger("meter_bridge.cli").error("%s", exc)
        raise SystemExit(f"meter-bridge: {exc}") from exc
    return 1 if bridge.failed else 0


def command_keygen(args) -> int:
    config = load_config(args, need_id=False)  # the key comes before the meter id
    secret_file = Path(config.meter.passphrase_file) if config.meter.passphrase_file else None
    try:
        address = create_keystore(Path(config.meter.keystore), passphrase(secret_file))
    except KeystoreError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    print(address)
    return 0


def _when(unix: int | None) -> str:
    if unix is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def daemon_state(heartbeat: tuple[dict, int] | None, now: float) -> dict:
    """Whether the daemon runs: its pid is alive and its heartbeat recent."""
    if heartbeat is None:
        return {"running": False, "pid": None, "last_seen": None}
    beat, at = heartbeat
    alive = True
    try:
        os.kill(beat["pid"], 0)
    except ProcessLookupError:
        alive = False
    except PermissionError:
        pass  # alive, as another user (the service's)
    running = alive and now - at <= 3 * beat["every"]
    return {"running": running, "pid": beat["pid"], "last_seen": at}


def status_of(config: config_module.Config, now: float) -> dict:
    """Everything `status` shows, as labelled objects (what --json prints)."""
    from meter_bridge.store import Store

    store = Store(config.store.path, config.clock.interval_length)
    try:
        summary = store.summary()
        checks = store.state("checks")
        relayer = store.state("relayer")
        heartbeat = store.state("heartbeat")
        bounds = store.state("bounds")
    finally:
        store.close()
    telegram = summary["last_telegram"]
    reading = summary["last_reading"]
    event = summary["last_event"]
    funds = None
    if relayer is not None:
        value, at = relayer
        funds = {
            "address": value["address"],
            "meter_key": value.get("signer", value["address"]),
            "balance_eth": value["balance"] / 10**18,
            "per_day_eth": value["per_day"] / 10**18,
            "days_left": value["days_left"],
            "checked_at": at,
        }
    return {
        "meter": {
            "id": config.meter.id,
            "protocol": config.meter.protocol,
            "detected": summary["protocol"],
            "port": config.serial.port,
        },
        "daemon": daemon_state(heartbeat, now),
        # In force: as the daemon last kept them, else as the configuration sets
        # them before any read (a bridge that has not run since this version).
        "bounds": bounds[0]
        if bounds
        else BoundsInForce(config.meter, config.chain.check_every).state(),
        "checks": {
            "problems": checks[0]["problems"] if checks else {},
            "warnings": checks[0]["warnings"] if checks else {},
            "checked_at": checks[1] if checks else None,
        },
        "relayer": funds,
        "last_telegram": dict(
            zip(("received_at", "meter_time", "import_wh", "export_wh"), telegram, strict=True)
        )
        if telegram
        else None,
        "last_reading": dict(
            zip(
                ("interval_end", "import_wh", "export_wh", "status", "detail"),
                reading,
                strict=True,
            )
        )
        if reading
        else None,
        "telegrams": summary["telegrams"],
        "readings": {
            "delivered": summary["delivered"],
            "outbox": summary["outbox"],
            "rejected": summary["rejected"],
            "unregistered": summary["unregistered"],
            "set_aside": summary["set_aside"],
        },
        "skipped": summary["skipped"],
        "evidence": summary["evidence"],
        "last_rebase": dict(zip(("at", "message"), summary["last_rebase"], strict=True))
        if summary["last_rebase"]
        else None,
        "last_event": dict(zip(("at", "kind", "message"), event, strict=True)) if event else None,
    }


def command_status(args) -> int:
    config = load_config(args)
    if not Path(config.store.path).exists():
        raise SystemExit(f"meter-bridge: no store at {config.store.path}: has the bridge run?")
    status = status_of(config, time.time())
    if args.json:
        print(json.dumps(status))
        return 0
    meter, daemon = status["meter"], status["daemon"]
    protocol = meter["protocol"]
    if protocol == "auto":
        protocol = f"auto: {meter['detected'] or 'not detected yet'}"
    print(f"meter          {meter['id']} ({protocol} on {meter['port']})")
    if daemon["running"]:
        print(f"daemon         running (pid {daemon['pid']}, seen {_when(daemon['last_seen'])})")
    else:
        print(f"daemon         NOT running (last seen {_when(daemon['last_seen'])})")
    checks = status["checks"]
    for message in checks["problems"].values():
        print(f"problem        {message}")
    for message in checks["warnings"].values():
        print(f"warning        {message}")
    funds = status["relayer"]
    if funds:
        print(f"meter key      {funds['meter_key']}")
        days = funds["days_left"]
        print(
            f"relayer        {funds['address']}: {funds['balance_eth']:.6f} ETH, "
            f"{'unknown' if days is None else f'{days:,.1f}'} days of gas left "
            f"at {funds['per_day_eth']:.6f} ETH a day"
        )
    telegram = status["last_telegram"]
    if telegram:
        print(
            f"last telegram  {_when(telegram['received_at'])}: import "
            f"{telegram['import_wh']:,} Wh, export {telegram['export_wh']:,} Wh"
        )
        if telegram["meter_time"] is not None:
            offset = telegram["meter_time"] - telegram["received_at"]
            print(f"               meter clock {offset:+d} s from this device")
    else:
        print("last telegram  none yet")
    reading = status["last_reading"]
    if reading:
        detail = f" ({reading['detail']})" if reading["detail"] else ""
        print(f"last reading   {_when(reading['interval_end'])}: {reading['status']}{detail}")
    else:
        print("last reading   none yet")
    print(f"telegrams      {status['telegrams']:,} stored")
    readings = status["readings"]
    print(
        f"readings       {readings['delivered']:,} delivered, {readings['outbox']} in the "
        f"outbox, {readings['rejected']} rejected, {readings['set_aside']} set aside, "
        f"{readings['unregistered']} taken before registration (kept, never sent)"
    )
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(status["skipped"].items()))
    print(f"skipped        {skipped or 'none'} ({status['evidence']} frames kept as evidence)")
    bounds = status["bounds"]
    print(f"bounds         {describe(bounds)}")
    if bounds["read_at"] is not None:
        print(f"               registration read {_when(bounds['read_at'])}")
    if bounds["error"]:
        print(f"               last read failed: {bounds['error']}")
    rebase = status["last_rebase"]
    if rebase:
        print(f"last re-base   {_when(rebase['at'])}: {rebase['message']}")
    event = status["last_event"]
    print(
        "last event     "
        + (f"{_when(event['at'])} {event['kind']}: {event['message']}" if event else "none")
    )
    return 0


def since(text: str) -> int:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it says otherwise)."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected unix seconds or an ISO date such as 2026-12-01 or "
            f"2026-12-01T06:00+01:00, got {text!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def command_replay(args) -> int:
    from meter_bridge.store import Store

    config = load_config(args)
    store = Store(config.store.path, config.clock.interval_length)
    # Signed again by the daemon with the current key (the signer may have been
    # rotated since); readings of before the registration are never sent.
    with store.transaction() as db:
        count = db.execute(
            "UPDATE readings SET status = 'new', signature = NULL, detail = 'replayed' "
            "WHERE interval_end >= ? AND status IN ('signed', 'rejected', 'delivered')",
            (args.since,),
        ).rowcount
    store.close()
    print(f"{count} reading(s) queued again; those already on chain count as delivered")
    return 0


def command_export_leaves(args) -> int:
    from meter_bridge.hub_relay import ExportError, export_leaves
    from meter_bridge.keys import load_key
    from meter_bridge.store import Store
    from openkwh.chain import merkle
    from openkwh.chain.deployment import Deployment, DeploymentError

    config = load_config(args)
    length = config.clock.interval_length
    if args.start % length or args.end % length:
        raise SystemExit(f"meter-bridge: --from and --to must lie on the {length} s interval grid")
    if args.end <= args.start:
        raise SystemExit("meter-bridge: --to must come after --from")
    out = Path(args.out)
    if out.exists():
        raise SystemExit(
            f"meter-bridge: {out} exists: not overwritten (a published root's salts are "
            "only in its tree file); choose another --out"
        )
    if not out.parent.is_dir():
        raise SystemExit(f"meter-bridge: no folder {out.parent} for --out")
    if not Path(config.store.path).exists():
        raise SystemExit(f"meter-bridge: no store at {config.store.path}: has the bridge run?")
    try:
        deployment = Deployment.load(config.chain.deployments)
        roots = deployment["MeasurementRoots"]
    except DeploymentError as exc:
        raise SystemExit(f"meter-bridge: [chain] deployments: {exc}") from exc
    secret_file = Path(config.meter.passphrase_file) if config.meter.passphrase_file else None
    try:
        signer = load_key(Path(config.meter.keystore), passphrase(secret_file))
    except KeystoreError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    store = Store(config.store.path, length)
    try:
        leaves = export_leaves(store, config.meter_id, signer, deployment.chain_id,
                               roots.address, args.start, args.end)  # fmt: skip
    except ExportError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    finally:
        store.close()
    nodes = merkle.build_tree(merkle.SIGNED_LEAF_TYPES, leaves)
    document = merkle.dump_document(merkle.SIGNED_LEAF_TYPES, leaves, nodes)
    out.write_text(json.dumps(document, indent=2) + "\n")
    os.chmod(out, 0o600)  # the salts keep the unrevealed hours private
    print(
        f"{len(leaves)} signed measurement(s), {_when(leaves[0][1])} to {_when(leaves[-1][2])}: "
        f"root 0x{nodes[0].hex()} written to {out}"
    )
    return 0


def command_probe(args) -> int:
    import serial

    from meter_bridge.probe import listen, render
    from meter_bridge.protocols import decoder

    try:
        keys = config_module.load_meter_keys(args.keys_file) if args.keys_file else None
        stream = decoder(args.protocol, args.sml_crc, keys)
    except (config_module.ConfigError, ValueError) as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    try:
        port = serial.Serial(
            args.port,
            baudrate=args.baudrate,
            bytesize=args.bytesize,
            parity=args.parity,
            stopbits=1,
            timeout=0.5,
            exclusive=True,
        )
    except serial.SerialException as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    logging.getLogger(__name__).info("serial port %s open", args.port)
    read = 0
    try:
        for line in listen(
            lambda: port.read(port.in_waiting or 1), stream, args.seconds, args.count
        ):
            print(render(line, args.json), flush=True)
            read += line["skipped"] is None
    except KeyboardInterrupt:
        pass
    finally:
        port.close()
    return 0 if read else 1


def command_simulate(args) -> int:
    from meter_bridge.simulator import SimulatedMeter, run

    clock = config_module.ClockConfig(
        speed=args.speed, origin=args.origin or time.time(), origin_wall=time.time()
    )
    meter = SimulatedMeter(
        args.protocol,
        peak_w=args.peak_w,
        load_percent=args.load_percent,
        clock_offset=args.clock_offset,
    )
    if args.device:
        fd = os.open(args.device, os.O_WRONLY | os.O_NOCTTY)
        where = args.device
    else:
        fd, follower = os.openpty()
        tty.setraw(follower)  # bytes as they are: no CR/LF translation, no echo
        where = os.ttyname(follower)
        if args.link:
            link = Path(args.link)
            link.unlink(missing_ok=True)
            link.symlink_to(where)
            where = f"{where} (linked at {link})"
    print(f"simulated {args.protocol} meter writing to {where}", flush=True)
    try:
        written = run(fd, meter, clock, every=args.every, count=args.count)
    except KeyboardInterrupt:
        written = None
    print(f"stopped after {written if written is not None else 'some'} telegrams", flush=True)
    return 0


def command_meter_id(args) -> int:
    from meter_bridge.signing import ReadingError, meter_id, read_salt

    try:
        print("0x" + meter_id(args.gsrn, read_salt(args.salt_file)).hex())
    except (OSError, ReadingError) as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="meter-bridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, summary: str, description: str, config: bool = True):
        sub = commands.add_parser(name, help=summary, description=description)
        if config:
            sub.add_argument(
                "--config",
                type=Path,
                default=DEFAULT_CONFIG,
                help=f"the TOML configuration (default {DEFAULT_CONFIG})",
            )
        sub.add_argument("--log-format", choices=("text", "json"), default="text")
        sub.add_argument("--log-level", default="info", help="debug, info, warning or error")
        return sub

    command(
        "run",
        "the daemon",
        "Reads the meter's serial port, stores every telegram, builds one reading per "
        "interval, signs it with the meter key and relays it to the chain (and batches "
        "to IPFS when configured). Exits at once, non-zero, if another process holds "
        "the port.",
    ).set_defaults(func=command_run)
    command(
        "keygen",
        "make the meter key; prints only the address",
        "Makes the meter key on this device, in an encrypted keystore (mode 0600) at "
        "[meter] keystore, with the passphrase from [meter] passphrase_file or "
        "$METER_BRIDGE_PASSPHRASE. Prints the address the installer registers as the "
        "meter's signer. Never overwrites a key.",
    ).set_defaults(func=command_keygen)
    status = command(
        "status",
        "what the bridge does and what is wrong",
        "Whether the daemon runs, the last checks (registration, signer, chain, funds), "
        "the relayer's address, balance and days of gas left, the last telegram and "
        "reading, the outbox, skipped frames and the last event. Reads the store only.",
    )
    status.add_argument("--json", action="store_true", help="one JSON object, labelled fields")
    status.set_defaults(func=command_status)
    replay = command(
        "replay",
        "sign and send stored readings again",
        "Queues stored readings again, to be signed with the current key and sent by "
        "the daemon; those already on chain count as delivered, and readings taken "
        "before the meter was registered are never sent.",
    )
    replay.add_argument(
        "--since",
        type=since,
        default=0,
        help="only readings ending at or after this: unix seconds or an ISO date "
        "(2026-12-01, 2026-12-01T06:00+01:00; UTC unless it says otherwise)",
    )
    replay.set_defaults(func=command_replay)
    export = command(
        "export-leaves",
        "the meter's own signed measurements as a Merkle tree file",
        "The owner's fallback when the data hub refuses a proof (issue 18): writes the "
        "stored measurements of [--from, --to) as an OpenZeppelin StandardMerkleTree "
        "dump (format standard-v1) of meter-signed leaves, each signed with the meter "
        "key under the deployment's MeasurementRoots domain, as the hub relay signs "
        "them. Each leaf gets a fresh random salt: the signature covers the values, "
        "not the salt, so the file is the only copy of the salts, and a leaf differs "
        "from the hub's only in it. Then: `openkwh data-hub publish-root --tree FILE "
        "--sector S --from ... --to ...` (anyone's root), `openkwh data-hub make-proof` "
        "and `openkwh prosumer reveal`. Sends nothing; never overwrites a file.",
    )
    export.add_argument(
        "--from", dest="start", type=since, required=True,
        help="the first interval's begin: unix seconds or an ISO date (UTC unless zoned)",
    )  # fmt: skip
    export.add_argument(
        "--to", dest="end", type=since, required=True,
        help="the end (excluded) of the last interval",
    )  # fmt: skip
    export.add_argument("--out", required=True, help="the tree file to write (mode 0600)")
    export.set_defaults(func=command_export_leaves)
    meter_id = command(
        "meter-id",
        "the on-chain meter id of a GSRN/EAN",
        "Prints the meter id to register and to put in [meter] id: keccak256(salt || "
        "GSRN). The installer and the Pi run the same command with the same salt file, "
        "read byte for byte.",
        config=False,
    )
    meter_id.add_argument("--gsrn", required=True, help="the meter's 18-digit GSRN/EAN")
    meter_id.add_argument(
        "--salt-file", type=Path, required=True, help="the operator's salt (>= 16 bytes)"
    )
    meter_id.set_defaults(func=command_meter_id)

    probe = command(
        "probe",
        "what a meter sends; stores and signs nothing",
        "Listens to a serial port for up to --seconds and prints one line per telegram "
        "(or per frame skipped, and why): the protocol, the meter, the registers in Wh. "
        "Nothing is stored or signed: an installer checks a meter with it before "
        "registering it.",
        config=False,
    )
    probe.add_argument("--port", required=True, help="the serial device, e.g. /dev/ttyUSB0")
    probe.add_argument("--protocol", choices=PROTOCOLS, default="auto")
    probe.add_argument("--sml-crc", choices=SML_CRCS, default="x25")
    probe.add_argument("--keys-file", type=Path, help="an encrypted meter's keys (TOML, 0600)")
    probe.add_argument("--baudrate", type=int, default=115_200)
    probe.add_argument("--bytesize", type=int, choices=(7, 8), default=8)
    probe.add_argument("--parity", choices=("N", "E", "O"), default="N")
    probe.add_argument("--seconds", type=float, default=60.0, help="listen this long at most")
    probe.add_argument("--count", type=int, help="stop after this many lines")
    probe.add_argument("--json", action="store_true", help="one JSON object per line")
    probe.set_defaults(func=command_probe)

    simulate = command(
        "simulate",
        "a meter writing telegrams",
        "A simulated meter writing real-format DSMR or SML telegrams, with a solar or "
        "household profile, into a new pseudo-terminal (or --device), at real or "
        "accelerated speed. For demos and tests.",
        config=False,
    )
    simulate.add_argument(
        "--protocol", choices=("dsmr2.2", "dsmr4", "dsmr5", "sml"), default="dsmr5"
    )
    simulate.add_argument("--peak-w", type=int, default=0, help="solar peak power, W (0: none)")
    simulate.add_argument("--load-percent", type=int, default=100, help="household load scale")
    simulate.add_argument("--every", type=int, help="device seconds between telegrams")
    simulate.add_argument("--speed", type=float, default=1.0, help="device seconds per second")
    simulate.add_argument("--origin", type=float, help="device time at start (unix seconds)")
    simulate.add_argument("--clock-offset", type=int, default=0, help="meter clock error, s")
    simulate.add_argument("--count", type=int, help="stop after this many telegrams")
    where = simulate.add_mutually_exclusive_group()
    where.add_argument("--link", help="symlink this path to the pseudo-terminal made")
    where.add_argument("--device", help="write to this existing serial device instead")
    simulate.set_defaults(func=command_simulate)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

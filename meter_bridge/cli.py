"""meter-bridge: the meter's daemon and its tools.

    meter-bridge run       read the meter, store, sign and relay (the daemon)
    meter-bridge keygen    make the meter key on this device; prints only its address
    meter-bridge status    protocol, last telegram, last reading, outbox, last error, skips
    meter-bridge replay    send stored readings again (those on chain are skipped)
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
from pathlib import Path

from meter_bridge import config as config_module
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


def setup_logging(style: str, level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if style == "json" else logging.Formatter("%(levelname)s %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def load_config(args) -> config_module.Config:
    try:
        return config_module.load(args.config)
    except config_module.ConfigError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc


def command_run(args) -> int:
    from meter_bridge.daemon import Bridge

    try:
        bridge = Bridge(load_config(args))
    except config_module.ConfigError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: bridge.stop.set())
    try:
        bridge.run()
    except KeystoreError as exc:
        raise SystemExit(f"meter-bridge: {exc}") from exc
    return 1 if bridge.failed else 0


def command_keygen(args) -> int:
    config = load_config(args)
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


def command_status(args) -> int:
    from meter_bridge.store import Store

    config = load_config(args)
    if not Path(config.store.path).exists():
        raise SystemExit(f"meter-bridge: no store at {config.store.path}: has the bridge run?")
    store = Store(config.store.path, config.clock.interval_length)
    summary = store.summary()
    store.close()
    if args.json:
        print(json.dumps(summary))
        return 0
    protocol = config.meter.protocol
    if protocol == "auto":
        protocol = f"auto: {summary['protocol'] or 'not detected yet'}"
    print(f"meter          {config.meter.id} ({protocol} on {config.serial.port})")
    telegram = summary["last_telegram"]
    if telegram:
        received, meter_time, imported, exported = telegram
        print(f"last telegram  {_when(received)}: import {imported:,} Wh, export {exported:,} Wh")
        if meter_time is not None:
            print(f"               meter clock {meter_time - received:+d} s from this device")
    else:
        print("last telegram  none yet")
    reading = summary["last_reading"]
    if reading:
        end, imported, exported, status, detail = reading
        print(f"last reading   {_when(end)}: {status}" + (f" ({detail})" if detail else ""))
    else:
        print("last reading   none yet")
    print(f"telegrams      {summary['telegrams']:,} stored")
    print(
        f"readings       {summary['delivered']:,} delivered, {summary['outbox']} in the outbox, "
        f"{summary['rejected']} rejected, {summary['set_aside']} set aside"
    )
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(summary["skipped"].items()))
    print(f"skipped        {skipped or 'none'} ({summary['evidence']} frames kept as evidence)")
    rebase = summary["last_rebase"]
    if rebase:
        print(f"last re-base   {_when(rebase[0])}: {rebase[1]}")
    event = summary["last_event"]
    print(f"last event     {f'{_when(event[0])} {event[1]}: {event[2]}' if event else 'none'}")
    return 0


def command_replay(args) -> int:
    from meter_bridge.store import Store

    config = load_config(args)
    store = Store(config.store.path, config.clock.interval_length)
    with store.transaction() as db:
        count = db.execute(
            "UPDATE readings SET status = 'signed', detail = 'replayed' "
            "WHERE interval_end >= ? AND signature IS NOT NULL AND status != 'sent'",
            (args.since,),
        ).rowcount
    store.close()
    print(f"{count} reading(s) queued again; those already on chain count as delivered")
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


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="meter-bridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="command")

    def with_config(sub):
        sub.add_argument(
            "--config",
            type=Path,
            default=DEFAULT_CONFIG,
            help=f"the TOML configuration (default {DEFAULT_CONFIG})",
        )
        sub.add_argument("--log-format", choices=("text", "json"), default="text")
        sub.add_argument("--log-level", default="info", help="debug, info, warning or error")
        return sub

    with_config(commands.add_parser("run", help="the daemon")).set_defaults(func=command_run)
    with_config(
        commands.add_parser("keygen", help="make the meter key; prints only the address")
    ).set_defaults(func=command_keygen)
    status = with_config(commands.add_parser("status", help="what the bridge did last"))
    status.add_argument("--json", action="store_true", help="machine-readable")
    status.set_defaults(func=command_status)
    replay = with_config(commands.add_parser("replay", help="send stored readings again"))
    replay.add_argument(
        "--since", type=int, default=0, help="only readings ending at or after (unix seconds)"
    )
    replay.set_defaults(func=command_replay)

    probe = commands.add_parser("probe", help="what a meter sends; stores and signs nothing")
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
    probe.add_argument("--log-format", choices=("text", "json"), default="text")
    probe.add_argument("--log-level", default="info")
    probe.set_defaults(func=command_probe)

    simulate = commands.add_parser("simulate", help="a meter writing telegrams")
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
    simulate.add_argument("--log-format", choices=("text", "json"), default="text")
    simulate.add_argument("--log-level", default="info")
    simulate.set_defaults(func=command_simulate)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_format, args.log_level)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""The meter bridge's speed and memory on this machine, for `make bench`.

Writes ``bench/bridge.json`` (not committed: timings vary from run to run):
DSMR telegrams and SML frames decoded per second, the same for a real capture
of each meter family (``decode_per_s``) with the bridge's rate divided by the
library's own parse rate of the same telegrams (``decode_ratio_to_library``), both
timed in CPU time (``time.process_time``), so a busy machine does not skew them,
readings signed per second,
readings relayed per second to anvil in batches of 24, and the daemon's
resident memory after it read 10,000 telegrams from a pseudo-terminal.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

from meter_bridge.config import ClockConfig
from meter_bridge.protocols import Telegram, decoder
from meter_bridge.relay import RelayConfig, Relayer
from meter_bridge.signing import Reading, sign_reading
from meter_bridge.simulator import SimulatedMeter, run
from meter_bridge.store import Store
from openkwh.bench.gas import certified_installer
from openkwh.chain import advance_time
from openkwh.commands import actions
from openkwh.commands.deploy import deploy_all
from openkwh.commands.network import connected
from openkwh.devtools.anvil import PROJECT_ROOT, dev_accounts, run_anvil

BRIDGE_FILE = PROJECT_ROOT / "bench" / "bridge.json"
HOUR = 3_600
T0 = 1_798_761_600


@dataclass
class MeterOnChain:
    deployments: dict
    backend: object  # web3 contract
    meter_id: bytes
    key: object  # the meter's LocalAccount


def register_meter(conn, accounts, folder, label: str = "bridge-meter") -> MeterOnChain:
    """Deploys, appoints an issuing body and an installer, and registers one meter
    whose key is derived from ``label``."""
    deployments = deploy_all(conn, folder)
    admin, body, installer, owner = (accounts[i] for i in (0, 4, 5, 6))
    as_admin = actions.Actor(conn.w3, admin, deployments)
    key = Account.from_key(keccak(text=f"openkwh-test-{label}"))
    meter_id = keccak(text=label)
    actions.register_meter(
        certified_installer(as_admin, body, installer),
        meter_id,
        key.address,
        owner.address,
        "DK1",
        "both",
        6_000,
        "T020002",
        "F01050100",
    )
    actions.accept_meter(as_admin.with_account(owner), meter_id)
    return MeterOnChain(deployments, as_admin.contract("SmartMeterBackend"), meter_id, key)


def decode_rate(protocol: str, count: int = 3_000) -> float:
    meter = SimulatedMeter(protocol, peak_w=6_000)
    stream = b"".join(meter.telegram(T0 + i * 10, i) for i in range(count))
    began = time.perf_counter()
    decoded = list(decoder(protocol).feed(stream))
    elapsed = time.perf_counter() - began
    assert len(decoded) == count
    return count / elapsed


def family_rates(count: int = 1_000) -> tuple[dict, dict]:
    """Per meter family: real captures decoded per second by the bridge (framing,
    CRC, units, bounds) and that rate over the library's own parse rate of the
    same telegrams (dsmr_parser's TelegramParser.parse, given the keys of an
    encrypted frame; smllib's get_frame and parse_frame; amshan's
    HdlcFrameReader.read and AutoDecoder, on the meters' whole HDLC frames), each
    the best of five runs, alternated."""
    from dsmr_parser.parsers import TelegramParser
    from han.autodecoder import AutoDecoder
    from han.hdlc import HdlcFrameReader
    from smllib import SmlStreamReader

    from meter_bridge.protocols import DSMR_SPECS, Keys
    from tests.fixtures import captures, crafted

    # Each family's capture, as the daemon's tests replay it; the HAN meters' whole
    # hourly frames, as they sent them.
    families = {name: family for name, family in crafted.FAMILIES.items() if name != "han"}
    families["han-kaifa"] = ("han", captures.HAN_KAIFA_HOURLY_0500, "x25", None)
    families["han-aidon"] = ("han", captures.HAN_AIDON_HOURLY[:377], "x25", None)
    families["han-kamstrup"] = ("han", captures.HAN_KAMSTRUP_HOURLY[:303], "x25", None)

    rates, ratios = {}, {}
    # The decoders' skip warnings (the Q3D meter's trailer after each telegram is
    # garbage) are not printed while timed: the daemon logs to its journal, not a
    # terminal, and thousands of lines on one would time the terminal.
    logging.disable(logging.WARNING)
    try:
        for family, (protocol, capture, crc, key_pair) in families.items():
            stream = capture * count
            keys = Keys(*key_pair) if key_pair else None

            def bridge(stream=stream, protocol=protocol, crc=crc, keys=keys):
                assert len(list(decoder(protocol, crc, keys).feed(stream))) == count

            if protocol == "han":

                def library(capture=capture):
                    reader, payloads = HdlcFrameReader(), AutoDecoder()
                    for _ in range(count):
                        (frame,) = reader.read(capture)
                        assert payloads.decode_message_payload(frame.payload)

            elif protocol == "sml":

                def library(capture=capture, crc=crc):
                    reader = SmlStreamReader(crc=crc)
                    for _ in range(count):
                        reader.add(capture)
                        reader.get_frame().parse_frame()

            elif keys is not None:
                parser = TelegramParser({**DSMR_SPECS[protocol], "general_global_cipher": True})
                text = capture.hex()
                secrets = (keys.encryption_key.hex(), keys.authentication_key.hex())

                def library(parser=parser, text=text, secrets=secrets):
                    for _ in range(count):
                        parser.parse(text, *secrets)

            else:
                parser = TelegramParser(DSMR_SPECS[protocol])
                text = capture.decode("latin-1")

                def library(parser=parser, text=text):
                    for _ in range(count):
                        parser.parse(text)

            # Alternated, best of five each: the machine is shared, and a slow moment
            # must not fall on one side only.
            bridge_s = library_s = float("inf")
            for _ in range(5):
                bridge_s = min(bridge_s, _timed(bridge))
                library_s = min(library_s, _timed(library))
            rates[family] = round(count / bridge_s)
            ratios[family] = round(library_s / bridge_s, 2)
    finally:
        logging.disable(logging.NOTSET)
    return rates, ratios


def _timed(run) -> float:
    """The CPU time ``run`` takes, in seconds. Not the wall clock: on a shared machine
    another process's turn on our core is not our decoder's time, and it fell on one side
    of a ratio only (under load, the Q3D's ratio read 0.61 by the wall clock, 0.82 to
    0.92 by CPU time)."""
    began = time.process_time()
    run()
    return time.process_time() - began


def signing_rate(count: int = 500) -> float:
    key = Account.from_key(b"\x11" * 32)
    began = time.perf_counter()
    for i in range(count):
        sign_reading(
            key,
            Reading(
                b"\x22" * 32, T0 + i * HOUR, i, i, b"\x33" * 32, T0 + (i - 1) * HOUR if i else 0
            ),
            31_337,
            "0x" + "44" * 20,
        )
    return count / (time.perf_counter() - began)


def relay_rate(hours: int = 480) -> float:
    """Readings per second from a full outbox to anvil, 24 to a transaction."""
    with (
        run_anvil() as node,
        tempfile.TemporaryDirectory() as folder,
        connected("anvil", url=node.url) as conn,
    ):
        accounts = dev_accounts(8)
        meter = register_meter(conn, accounts, Path(folder) / "deploy")
        store = Store(Path(folder) / "bridge.sqlite", HOUR)
        now = conn.w3.eth.get_block("latest")["timestamp"]
        start = now - now % HOUR + HOUR
        for h in range(hours + 1):
            store.add_telegram(Telegram(b"/t %d!\r\n" % h, 1_000 + 700 * h, 0), start + h * HOUR)
        advance_time(conn.w3, start + hours * HOUR)
        relayer = Relayer(
            conn.w3,
            meter.backend,
            meter.meter_id,
            meter.key,
            accounts[7],
            store,
            RelayConfig(confirmations=1, max_batch=24),
            clock=lambda: start + hours * HOUR,
        )
        relayer.sign_new()
        began = time.perf_counter()
        while store.readings("signed", "sent"):
            relayer.step()
        elapsed = time.perf_counter() - began
        store.close()
    return (hours + 1) / elapsed


def rss_after(telegrams: int = 10_000) -> float:
    """MB the daemon holds (VmRSS) once it has read ``telegrams`` DSMR 5 telegrams."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        leader, follower = os.openpty()
        tty.setraw(follower)
        key = Account.create()
        (folder / "key.json").write_text(
            json.dumps(Account.encrypt(key.key, "x", kdf="pbkdf2", iterations=1_000))
        )
        (folder / "key.json").chmod(0o600)
        (folder / "deployments.json").write_text(
            json.dumps(
                {
                    "chain_id": 31_337,
                    "contracts": {"SmartMeterBackend": {"address": "0x" + "00" * 20, "abi": []}},
                }
            )
        )
        origin_wall = time.time()
        (folder / "bridge.toml").write_text(
            f"""
[meter]
id = "0x{"55" * 32}"
protocol = "dsmr5"
keystore = "{folder / "key.json"}"
[serial]
port = "{os.ttyname(follower)}"
[chain]
rpc_url = "http://127.0.0.1:9"
deployments = "{folder / "deployments.json"}"
poll_seconds = 3600
[store]
path = "{folder / "bridge.sqlite"}"
blobs = "{folder / "blobs"}"
[clock]
speed = 3600
origin = {T0}
origin_wall = {origin_wall}
"""
        )
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meter_bridge.cli",
                "run",
                "--config",
                str(folder / "bridge.toml"),
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "METER_BRIDGE_PASSPHRASE": "x"},
            stderr=subprocess.PIPE,
        )
        wait_for_line(daemon, b"serial port", 60)
        # Keep its log flowing, so that it never blocks on a full pipe.
        threading.Thread(target=daemon.stderr.read, daemon=True).start()
        clock = ClockConfig(speed=3_600, origin=T0, origin_wall=origin_wall)
        writer = threading.Thread(
            target=run,
            args=(leader, SimulatedMeter("dsmr5", peak_w=6_000), clock),
            kwargs={"every": 1, "count": telegrams},
        )
        writer.start()
        writer.join()
        store = Store(folder / "bridge.sqlite", HOUR)
        while store.summary()["telegrams"] < telegrams:
            if daemon.poll() is not None:
                raise RuntimeError("the bridge stopped before reading every telegram")
            time.sleep(0.2)  # waiting for the daemon to drain the terminal
        store.close()
        status = Path(f"/proc/{daemon.pid}/status").read_text()
        rss_kb = int(
            next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
        )
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        os.close(leader)
        os.close(follower)
    return rss_kb / 1024


def wait_for_line(process, text: bytes, timeout: float) -> None:
    """Reads the process's standard error until a line contains ``text``."""
    deadline = time.monotonic() + timeout
    seen = b""
    while text not in seen:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([process.stderr], [], [], max(left, 0))
        if not ready:
            raise RuntimeError(f"no {text!r} from the bridge: {seen[-500:]!r}")
        chunk = os.read(process.stderr.fileno(), 65_536)
        if not chunk:
            raise RuntimeError(f"the bridge exited: {seen[-500:]!r}")
        seen += chunk


# The bridge alone, as a Pi installs it (the distribution openkwh-meter-bridge).
BRIDGE_PROJECT = PROJECT_ROOT / "meter_bridge"
# What the bridge's install must not bring: the commands, the dApp, the
# contracts' toolchain, the test tools (import names).
NOT_ON_A_PI = (
    "openkwh.commands",
    "openkwh.dapp",
    "openkwh.bench",
    "openkwh.demo",
    "vyper",
    "boa",
    "moccasin",
    "flask",
    "waitress",
    "hypothesis",
)


def bridge_source(folder: Path) -> Path:
    """The bridge's distribution copied into ``folder`` as a checkout holds it (its
    folder, and the chain client it shares with the project next to it), without
    build output: the folder to pip install."""
    skip = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    shutil.copytree(BRIDGE_PROJECT, folder / "meter_bridge", ignore=skip)
    package = PROJECT_ROOT / "openkwh"
    (folder / "openkwh").mkdir()
    shutil.copy(package / "__init__.py", folder / "openkwh" / "__init__.py")
    shutil.copytree(package / "chain", folder / "openkwh" / "chain", ignore=skip)
    return folder / "meter_bridge"


def bridge_install() -> tuple[int, float]:
    """Packages and MB of the bridge alone in a fresh venv, installed as the
    README's Pi steps do (`pip install -c constraints.txt ./meter_bridge`); pip
    fetches what its cache lacks from the package index. It installs from a copy,
    so the checkout gains no build folder, and checks that `meter-bridge --help`
    runs there and that none of ``NOT_ON_A_PI`` can be imported."""
    with tempfile.TemporaryDirectory() as folder:
        source = bridge_source(Path(folder))
        venv = Path(folder) / "venv"
        python = str(venv / "bin" / "python")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [python, "-m", "pip", "--disable-pip-version-check"]
        constraints = str(PROJECT_ROOT / "constraints.txt")
        subprocess.run([*pip, "install", "--quiet", "-c", constraints, str(source)], check=True)
        subprocess.run([venv / "bin" / "meter-bridge", "--help"], capture_output=True, check=True)
        probe = (
            "import importlib.util as u\n"
            f"for m in {NOT_ON_A_PI!r}:\n"
            "    try:\n        u.find_spec(m) and print(m)\n"
            "    except ModuleNotFoundError:\n        pass\n"
        )
        found = subprocess.run(
            [python, "-c", probe], cwd=venv, capture_output=True, text=True, check=True
        ).stdout.split()
        if found:
            raise RuntimeError(f"the bridge's install brought {', '.join(found)} along")
        listed = subprocess.run(
            [*pip, "list", "--format=json"], capture_output=True, text=True, check=True
        )
        packages = [p["name"] for p in json.loads(listed.stdout)]
        size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    # pip (and setuptools, if the venv brought it) come with every venv.
    return len([p for p in packages if p not in ("pip", "setuptools")]), size / 1_000_000


def measure(out: Path = BRIDGE_FILE, install: bool = True) -> dict:
    """Every figure, written to ``out``; ``install`` adds the bridge-only install's
    size, which pip fetches from the package index (so the tests leave it out)."""
    rates, ratios = family_rates()
    figures = {
        "dsmr_telegrams_per_s": round(decode_rate("dsmr5")),
        "sml_frames_per_s": round(decode_rate("sml")),
        "decode_per_s": rates,
        "decode_ratio_to_library": ratios,
        "readings_signed_per_s": round(signing_rate()),
        "readings_relayed_per_s": round(relay_rate()),
        "rss_mb_after_10000_telegrams": round(rss_after(), 1),
    }
    if install:
        packages, megabytes = bridge_install()
        figures["bridge_install_packages"] = packages
        figures["bridge_install_mb"] = round(megabytes, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


TARGETS = {
    "dsmr_telegrams_per_s": (">=", 500),
    "readings_relayed_per_s": (">=", 200),
    "rss_mb_after_10000_telegrams": ("<=", 120),
    "bridge_install_packages": ("<=", 65),
    "bridge_install_mb": ("<=", 150),
}


def format_figures(figures: dict, targets: dict = TARGETS) -> str:
    """One line per figure, with its target and whether it was met."""
    lines = []
    for key, value in figures.items():
        if isinstance(value, dict):
            bar = {"decode_per_s": ">= 500", "decode_ratio_to_library": ">= 0.8"}.get(key, "")
            lines.append(f"{key} (target {bar} each)")
            lines += [f"  {family:<30} {figure:>10,}" for family, figure in value.items()]
            continue
        target = targets.get(key)
        verdict = ""
        if target:
            sign, bar = target
            met = value >= bar if sign == ">=" else value <= bar
            verdict = f"target {sign} {bar} ({'met' if met else 'MISSED'})"
        lines.append(f"{key:<32} {value:>10,}  {verdict}")
    return "\n".join(lines)

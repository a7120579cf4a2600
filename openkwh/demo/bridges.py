"""Simulated meters and their bridge processes, for the demo and the tests.

A site is what one household has: a meter writing real-format telegrams into
one end of a pseudo-terminal, and a ``meter-bridge run`` process reading the
other end, with its own keystore, store and configuration in its own folder.
All sites share one clock that moves only when the driver steps it, a telegram
at a time, so that hours pass in seconds and the same on any machine.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from meter_bridge.config import ClockConfig
from meter_bridge.content import cid_of
from meter_bridge.keys import create_keystore
from meter_bridge.simulator import SimulatedMeter
from meter_bridge.store import Store
from openkwh.devtools.anvil import PROJECT_ROOT

# The daemon's line once its serial port is open (an error line names the port too).
LISTENING = re.compile(rb'"message": "serial port \S+ open"')
STEP_TIMEOUT = 120  # seconds a bridge may take for one telegram before the driver gives up


def write_config(
    path: Path,
    *,
    meter_id: bytes,
    protocol: str,
    port: str,
    rpc_url: str,
    deployments: Path,
    keystore: Path,
    passphrase_file: Path,
    store: Path,
    clock: ClockConfig,
    poll_seconds: float = 0.2,
    max_skew: int = 60,
    ipfs_api: str = "",
    sml_crc: str = "x25",
    keys_file: Path | None = None,
) -> Path:
    """Writes a bridge configuration (deploy/bridge.example.toml explains each option)."""
    keys = f'keys_file = "{keys_file}"\n' if keys_file else ""
    path.write_text(
        f"""[meter]
id = "0x{meter_id.hex()}"
protocol = "{protocol}"
sml_crc = "{sml_crc}"
{keys}keystore = "{keystore}"
passphrase_file = "{passphrase_file}"

[serial]
port = "{port}"
baudrate = 115200

[chain]
rpc_url = "{rpc_url}"
deployments = "{deployments}"
confirmations = 1
poll_seconds = {poll_seconds}

[store]
path = "{store}"
blobs = "{store.parent / "blobs"}"

[ipfs]
api = "{ipfs_api}"

[clock]
interval_length = {clock.interval_length}
max_skew = {max_skew}
speed = {clock.speed}
origin = {clock.origin}
origin_wall = {clock.origin_wall}
file = "{clock.file}"
"""
    )
    return path


def start_daemon(config: Path, stderr=subprocess.PIPE) -> subprocess.Popen:
    """``meter-bridge run`` as its own process, logging JSON lines to ``stderr``."""
    command = ["run", "--config", str(config), "--log-format", "json"]
    return subprocess.Popen(
        [sys.executable, "-m", "meter_bridge.cli", *command],
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


@dataclass
class Site:
    folder: Path
    meter: SimulatedMeter
    meter_id: bytes = b""  # set once the meter is registered
    sml_crc: str = "x25"
    keys_file: Path | None = None  # an encrypted meter's keys
    process: subprocess.Popen | None = None
    _reader: sqlite3.Connection | None = None  # read-only, on the bridge's store

    @property
    def keystore(self) -> Path:
        return self.folder / "meter-key.json"

    @property
    def store(self) -> Path:
        return self.folder / "bridge.sqlite"

    @property
    def log(self) -> Path:
        return self.folder / "bridge.log"

    def make_key(self) -> str:
        """Makes the meter key, as ``meter-bridge keygen`` does on the Pi; returns its address."""
        self.folder.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(16)
        file = self.folder / "passphrase"
        file.touch(mode=0o600)
        file.write_text(secret + "\n")
        return create_keystore(self.keystore, secret)

    def summary(self) -> dict:
        """What ``meter-bridge status`` shows (telegrams, readings, outbox, skips), and
        the CID of the last reading's batch."""
        store = Store(self.store, 3_600)
        try:
            summary = store.summary()
            last = summary["last_reading"]
            summary["last_cid"] = str(cid_of(store.batch(last[0]))) if last else None
            return summary
        finally:
            store.close()

    def log_tail(self, lines: int = 10) -> str:
        return "\n".join(self.log.read_text().splitlines()[-lines:]) if self.log.exists() else ""

    def wait_until_listening(self, timeout: float = 60, since: int = 0) -> None:
        """Waits until the bridge has its serial port open, so that no telegram
        is written before anyone reads; ``since`` skips what the log held before
        this bridge started (an earlier start of the same site)."""
        deadline = time.monotonic() + timeout
        while not LISTENING.search(self.log.read_bytes()[since:] if self.log.exists() else b""):
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bridge in {self.folder.name} did not open its port")
            time.sleep(0.05)  # a poll of the log file

    def telegrams_taken(self) -> int:
        """Telegrams the bridge has stored or counted as skipped, from its store."""
        if self._reader is None:
            if not self.store.exists():
                return 0
            self._reader = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=30)
        try:
            stored = self._reader.execute("SELECT max(id) FROM telegrams").fetchone()[0]
            skipped = self._reader.execute("SELECT sum(count) FROM skipped").fetchone()[0]
        except sqlite3.OperationalError:  # the bridge has not made its tables yet
            return 0
        return (stored or 0) + (skipped or 0)

    def close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def wait_until_taken(self, count: int, timeout: float = STEP_TIMEOUT) -> None:
        """Waits until the bridge has taken ``count`` telegrams in all."""
        deadline = time.monotonic() + timeout
        while self.telegrams_taken() < count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the bridge in {self.folder.name} took no telegram in {timeout} s; "
                    f"its log ends:\n{self.log_tail()}"
                )
            time.sleep(0.001)  # a poll of the bridge's store

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"the bridge in {self.folder.name} exited ({self.process.returncode}); "
                f"its log ends:\n{self.log_tail()}"
            )


class SteppedClock:
    """Device time that moves only when the driver says: an integer in a file that
    every bridge reads (``[clock] file``). The meters write their telegrams at the
    same times, so what the bridges store, sign and relay is the same on a busy
    machine as on an idle one."""

    def __init__(self, path: Path, time: int, interval_length: int = 3_600):
        self.path = path
        self.interval_length = interval_length
        self.set(time)

    def set(self, time: int) -> None:
        scratch = self.path.with_name(self.path.name + ".new")
        scratch.write_text(str(time))
        os.replace(scratch, self.path)  # atomic: a bridge never reads half a number
        self.time = time

    def config(self) -> ClockConfig:
        return ClockConfig(interval_length=self.interval_length, file=str(self.path))


class Stepper:
    """Moves the sites' clock forward a telegram at a time: at each step every meter
    writes its telegram, and the next step waits until every bridge has taken it
    (stored it, or counted it as skipped)."""

    def __init__(self, sites: list[Site], clock: SteppedClock, leaders: list[int], every: int):
        self.sites, self.clock, self.leaders, self.every = sites, clock, leaders, every
        self.due = clock.time + every - clock.time % every
        self.written = 0
        self.taken = [site.telegrams_taken() for site in sites]

    def advance(self, to: int, timeout: float = STEP_TIMEOUT) -> None:
        """Device time to ``to``, with a telegram from each meter every ``every``
        seconds up to it; raises if a bridge stops taking them."""
        while self.due <= to:
            self.clock.set(self.due)
            for site, leader in zip(self.sites, self.leaders, strict=True):
                _write_all(leader, site.meter.telegram(self.due, self.written))
            self.written += 1
            for site, before in zip(self.sites, self.taken, strict=True):
                site.wait_until_taken(before + self.written, timeout)
            self.due += self.every
        self.clock.set(max(to, self.clock.time))


@contextmanager
def running(
    sites: list[Site],
    clock: SteppedClock,
    rpc_url: str,
    deployments: Path,
    every: int = 60,
    ipfs_api: str = "",
) -> Iterator[Stepper]:
    """Starts every site's bridge on ``clock`` (pushing batches to the kubo node at
    ``ipfs_api``, if given), and yields the stepper that drives their meters; stops
    every bridge on exit with SIGTERM, as systemd would."""
    with ExitStack() as stack:
        leaders = []
        log_starts = {}
        for site in sites:
            log_starts[site.folder] = site.log.stat().st_size if site.log.exists() else 0
            leader, follower = os.openpty()
            tty.setraw(follower)  # bytes as they are: no CR/LF translation, no echo
            stack.callback(os.close, leader)
            stack.callback(os.close, follower)
            leaders.append(leader)
            config = write_config(
                site.folder / "bridge.toml",
                meter_id=site.meter_id,
                protocol=site.meter.protocol,
                port=os.ttyname(follower),
                rpc_url=rpc_url,
                deployments=deployments,
                keystore=site.keystore,
                passphrase_file=site.folder / "passphrase",
                store=site.store,
                clock=clock.config(),
                poll_seconds=0.1,
                ipfs_api=ipfs_api,
                sml_crc=site.sml_crc,
                keys_file=site.keys_file,
            )
            log = stack.enter_context(site.log.open("ab"))
            site.process = start_daemon(config, stderr=log)
            stack.callback(_terminate, site.process)
            stack.callback(site.close_reader)
        for site in sites:
            site.wait_until_listening(since=log_starts[site.folder])
        yield Stepper(sites, clock, leaders, every)


def _write_all(fd: int, data: bytes) -> None:
    """Writes all of ``data`` to a pseudo-terminal whose reader is running."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""Simulated meters and their bridge processes, for the demo and the tests.

A site is what one household has: a meter writing real-format telegrams into
one end of a pseudo-terminal, and a ``meter-bridge run`` process reading the
other end, with its own keystore, store and configuration in its own folder.
All sites share one accelerated clock, so that hours pass in seconds.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from meter_bridge import simulator
from meter_bridge.config import ClockConfig
from meter_bridge.content import cid_of
from meter_bridge.keys import create_keystore
from meter_bridge.simulator import SimulatedMeter
from meter_bridge.store import Store
from scripts.anvil import PROJECT_ROOT

# The daemon's line once its serial port is open (an error line names the port too).
LISTENING = re.compile(rb'"message": "serial port \S+ open"')


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
) -> Path:
    """Writes a bridge configuration (deploy/bridge.example.toml explains each option)."""
    path.write_text(
        f"""[meter]
id = "0x{meter_id.hex()}"
protocol = "{protocol}"
keystore = "{keystore}"
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

[clock]
interval_length = {clock.interval_length}
max_skew = {max_skew}
speed = {clock.speed}
origin = {clock.origin}
origin_wall = {clock.origin_wall}
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
    process: subprocess.Popen | None = None

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

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"the bridge in {self.folder.name} exited ({self.process.returncode}); "
                f"its log ends:\n{self.log_tail()}"
            )


class LateBoot(RuntimeError):
    """The bridges were not all reading when the meters' clock started (a busy
    machine): nothing was read or sent yet, so they can be started again."""


@contextmanager
def running(
    sites: list[Site], clock: ClockConfig, rpc_url: str, deployments: Path, every: int = 60
) -> Iterator[list[Site]]:
    """Starts every site's bridge and meter on ``clock``; stops them all on exit:
    the meters first, then each bridge with SIGTERM, as systemd would."""
    stop = threading.Event()
    with ExitStack() as stack:
        writers = []
        log_starts = {}
        for site in sites:
            log_starts[site.folder] = site.log.stat().st_size if site.log.exists() else 0
            leader, follower = os.openpty()
            tty.setraw(follower)  # bytes as they are: no CR/LF translation, no echo
            stack.callback(os.close, leader)
            stack.callback(os.close, follower)
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
                clock=clock,
                poll_seconds=0.1,
                # On an accelerated clock, a millisecond of scheduling is seconds of device time.
                max_skew=int(clock.speed),
            )
            log = stack.enter_context(site.log.open("ab"))
            site.process = start_daemon(config, stderr=log)
            stack.callback(_terminate, site.process)
            writers.append(
                threading.Thread(
                    target=simulator.run,
                    args=(leader, site.meter, clock),
                    kwargs={"every": every, "stop": stop},
                    name=f"meter {site.folder.name}",
                    daemon=True,
                )
            )
        stack.callback(_join, writers)
        stack.callback(stop.set)
        for site in sites:
            site.wait_until_listening(since=log_starts[site.folder])
        if time.time() > clock.origin_wall:
            raise LateBoot(
                "the bridges opened their ports after the meters' clock started: "
                "give them more time to boot"
            )
        for writer in writers:
            writer.start()
        yield sites


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        if thread.is_alive():
            thread.join(timeout=5)

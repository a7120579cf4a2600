"""The bridge daemon end to end: a simulated meter on a real pseudo-terminal, the
daemon as its own process, a real anvil node."""

import json
import os
import select
import signal
import threading
import time
import tty

import pytest
from eth_account import Account

from meter_bridge.config import ClockConfig
from meter_bridge.simulator import SimulatedMeter, run
from scripts import bridges
from scripts.bench_bridge import register_meter
from scripts.bridges import start_daemon
from scripts.chain import send_ether

pytestmark = pytest.mark.anvil

HOUR = 3_600
SPEED = 3_600  # device seconds per second: an hour a second
HOURS = 6


def lines_until(process, predicate, timeout: float) -> list[dict]:
    """Reads the daemon's JSON log lines until one satisfies ``predicate``."""
    seen = []
    deadline = time.monotonic() + timeout
    buffer = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; the log said: {seen[-10:]}")
        ready, _, _ = select.select([process.stderr], [], [], left)
        if not ready:
            continue
        chunk = os.read(process.stderr.fileno(), 65_536)
        if not chunk:
            raise AssertionError(f"the daemon exited; the log said: {seen[-10:]}")
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            entry = json.loads(line)
            seen.append(entry)
            if predicate(entry):
                return seen


@pytest.fixture
def bridge_setup(anvil, anvil_connection, anvil_accounts, tmp_path):
    meter = register_meter(anvil_connection, anvil_accounts, tmp_path / "deploy")
    w3 = anvil_connection.w3
    (tmp_path / "deployments.json").write_text(json.dumps(meter.deployments))
    keystore = Account.encrypt(meter.key.key, "pi passphrase", kdf="pbkdf2", iterations=1_000)
    (tmp_path / "meter-key.json").write_text(json.dumps(keystore))
    (tmp_path / "passphrase").write_text("pi passphrase\n")
    # The meter key relays its own readings: it needs ether for gas.
    send_ether(w3, anvil_accounts[0], meter.key.address, 10**18)
    chain_now = w3.eth.get_block("latest")["timestamp"]
    start = chain_now - chain_now % HOUR - (HOURS + 2) * HOUR  # device time starts in the past
    return meter, start


def write_config(tmp_path, anvil, meter, port, protocol, origin, origin_wall):
    return bridges.write_config(
        tmp_path / "bridge.toml",
        meter_id=meter.meter_id,
        protocol=protocol,
        port=port,
        rpc_url=anvil.url,
        deployments=tmp_path / "deployments.json",
        keystore=tmp_path / "meter-key.json",
        passphrase_file=tmp_path / "passphrase",
        store=tmp_path / "bridge.sqlite",
        clock=ClockConfig(speed=SPEED, origin=origin, origin_wall=origin_wall),
    )


@pytest.mark.parametrize("protocol", ["dsmr5", "sml"])
def test_meter_to_chain_through_a_pseudo_terminal(anvil, bridge_setup, tmp_path, protocol):
    meter, start = bridge_setup
    leader, follower = os.openpty()
    tty.setraw(follower)
    origin_wall = time.time()
    clock = ClockConfig(speed=SPEED, origin=start, origin_wall=origin_wall)
    config = write_config(
        tmp_path, anvil, meter, os.ttyname(follower), protocol, start, origin_wall
    )
    daemon = start_daemon(config)
    stop = threading.Event()
    simulated = SimulatedMeter(protocol, peak_w=6_000)
    writer = threading.Thread(
        target=run, args=(leader, simulated, clock), kwargs={"every": 60, "stop": stop}
    )
    writer.start()
    try:
        last = start + HOURS * HOUR
        log = lines_until(
            daemon,
            lambda e: "delivered" in e["message"] and str(last) in e["message"],
            timeout=60,
        )
    finally:
        stop.set()
        writer.join()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        os.close(leader)
        os.close(follower)
    assert daemon.returncode == 0
    events = meter.backend.events
    baseline = events.BaselineRecorded().get_logs(from_block=0)
    measured = events.MeasurementRecorded().get_logs(from_block=0)
    ends = [e["args"]["interval_end"] for e in baseline + measured]
    assert ends == sorted(set(ends))  # each once, in order
    assert ends[0] <= start + HOUR
    assert last in ends
    assert all(e["args"]["produced_wh"] + e["args"]["consumed_wh"] > 0 for e in measured)
    assert not any(e["level"] == "error" for e in log)


def log_of(process) -> list[dict]:
    """Every complete JSON line the process logged (it has exited)."""
    lines = process.stderr.read().split(b"\n")
    return [json.loads(line) for line in lines if line.startswith(b"{")]


def test_sigkill_at_fifty_random_points_loses_nothing_acknowledged(anvil, bridge_setup, tmp_path):
    import random
    import sqlite3

    meter, start = bridge_setup
    start -= 60 * HOUR  # room for a long run, all of it in the chain's past
    leader, follower = os.openpty()
    tty.setraw(follower)
    origin_wall = time.time()
    clock = ClockConfig(speed=SPEED, origin=start, origin_wall=origin_wall)
    config = write_config(tmp_path, anvil, meter, os.ttyname(follower), "dsmr5", start, origin_wall)
    stop = threading.Event()
    writer = threading.Thread(
        target=run,
        args=(leader, SimulatedMeter("dsmr5", peak_w=6_000), clock),
        kwargs={"every": 60, "stop": stop},
    )
    writer.start()
    chance = random.Random(20261122)
    acknowledged, delivered = set(), set()
    try:
        for _ in range(50):
            daemon = start_daemon(config)
            time.sleep(chance.uniform(0.2, 2.0))  # the kill point: a random moment of the run
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            for entry in log_of(daemon):
                words = entry["message"].split()
                if words[0] == "reading" and words[1].endswith(":"):
                    acknowledged.add(int(words[1][:-1]))
                if "delivered in" in entry["message"]:
                    delivered.update(json.loads(entry["message"].split(" delivered")[0][9:]))
        stop.set()
        writer.join()
        store = sqlite3.connect(tmp_path / "bridge.sqlite")
        assert store.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        final = store.execute("SELECT MAX(interval_end) FROM readings").fetchone()[0]
        store.close()
        daemon = start_daemon(config)
        lines_until(
            daemon, lambda e: "delivered" in e["message"] and str(final) in e["message"], 60
        )
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    finally:
        stop.set()
        os.close(leader)
        os.close(follower)
    store = sqlite3.connect(tmp_path / "bridge.sqlite")
    stored = {row[0] for row in store.execute("SELECT interval_end FROM readings")}
    statuses = {row[0] for row in store.execute("SELECT status FROM readings")}
    store.close()
    events = meter.backend.events
    ends = [e["args"]["interval_end"] for e in events.BaselineRecorded().get_logs(from_block=0)]
    ends += [e["args"]["interval_end"] for e in events.MeasurementRecorded().get_logs(from_block=0)]
    assert acknowledged <= stored  # every reading the bridge said it stored is there
    assert delivered <= set(ends)  # every reading it said delivered is on chain
    assert ends == sorted(set(ends))  # nothing twice, in order
    assert set(ends) == stored  # and, in the end, everything stored is on chain
    assert statuses == {"delivered"}
    assert len(acknowledged) > 20

"""The bridge daemon end to end: a simulated meter on a real pseudo-terminal, the
daemon as its own process, a real anvil node."""

import collections
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tty

import pytest
from eth_account import Account

from meter_bridge.config import ClockConfig
from meter_bridge.content import cid_of
from meter_bridge.protocols import Keys, decoder
from meter_bridge.simulator import SimulatedMeter, run
from meter_bridge.store import Store
from openkwh.bench.bridge import register_meter
from openkwh.chain import send_ether
from openkwh.demo import bridges
from openkwh.demo.bridges import start_daemon
from tests.bridge_chain import chain_time_to
from tests.fixtures import crafted
from tests.fixtures.kubo import WrongKubo

pytestmark = pytest.mark.anvil

HOUR = 3_600
SPEED = 3_600  # device seconds per second: an hour a second
HOURS = 6
BOOT_SECONDS = 4  # for the bridge to start and open its port
ROOM = 120  # device hours the SIGKILL run may take: at SPEED, seconds


class DaemonLog:
    """The JSON lines a daemon logs to its stderr pipe, read as they come."""

    def __init__(self, process):
        self.process = process
        self.entries: list[dict] = []
        self._buffer = b""

    def _take(self, chunk: bytes) -> list[dict]:
        *complete, self._buffer = (self._buffer + chunk).split(b"\n")
        fresh = [json.loads(line) for line in complete if line.startswith(b"{")]
        self.entries += fresh
        return fresh

    def until(self, predicate, timeout: float) -> None:
        """Reads until an entry satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; the log said: {self.entries[-10:]}")
            ready, _, _ = select.select([self.process.stderr], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.process.stderr.fileno(), 65_536)
            if not chunk:
                raise AssertionError(f"the daemon exited; the log said: {self.entries[-10:]}")
            if any(predicate(entry) for entry in self._take(chunk)):
                return

    def rest(self) -> list[dict]:
        """Every entry, once the process has exited (a line cut by SIGKILL is left out)."""
        self._take(self.process.stderr.read())
        return self.entries


@pytest.fixture
def daemons():
    """Starts ``meter-bridge run`` processes; whatever still runs at the end is
    killed, so that no bridge outlives its test and reads another test's port."""
    started = []

    def start(config):
        started.append(start_daemon(config))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def bridge_setup(anvil, anvil_connection, anvil_accounts, tmp_path):
    meter = register_meter(anvil_connection, anvil_accounts, tmp_path / "deploy")
    w3 = anvil_connection.w3
    (tmp_path / "deployments.json").write_text(json.dumps(meter.deployments))
    keystore = Account.encrypt(meter.key.key, "pi passphrase", kdf="pbkdf2", iterations=1_000)
    (tmp_path / "meter-key.json").write_text(json.dumps(keystore))
    (tmp_path / "passphrase").write_text("pi passphrase\n")
    for secret in ("meter-key.json", "passphrase"):
        (tmp_path / secret).chmod(0o600)
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


def status_json(config) -> dict:
    """What ``meter-bridge status --json`` prints, run as its own process."""
    command = [sys.executable, "-m", "meter_bridge.cli", "status", "--json", "--config", config]
    return json.loads(subprocess.run(command, capture_output=True, check=True).stdout)


@pytest.mark.parametrize("protocol", ["dsmr5", "sml"])
def test_meter_to_chain_through_a_pseudo_terminal(anvil, bridge_setup, tmp_path, protocol):
    """On a stepped clock (as ``make demo`` runs): a telegram a device minute, the
    next once the bridge has stored it, so a busy machine reads the same hours."""
    meter, start = bridge_setup
    # bridge_setup put the meter key and its passphrase in tmp_path: the site's folder.
    site = bridges.Site(tmp_path, SimulatedMeter(protocol, peak_w=6_000), meter.meter_id)
    clock = bridges.SteppedClock(tmp_path / "clock", start - 60)
    last = start + HOURS * HOUR
    deployments = tmp_path / "deployments.json"
    with bridges.running([site], clock, anvil.url, deployments) as stepper:
        stepper.advance(last)
        deadline = time.monotonic() + 600  # a guard against a hang, not a pace
        while not delivered_everything(meter, site.store, last):
            site.check_alive()
            assert time.monotonic() < deadline, site.log_tail()
            time.sleep(0.05)  # a poll: the bridge relays on its own
        running = status_json(str(tmp_path / "bridge.toml"))
        daemon = site.process
    assert daemon.returncode == 0  # stopped with SIGTERM, as systemd does
    assert running["daemon"]["running"] is True
    assert running["daemon"]["pid"] == daemon.pid
    assert running["checks"]["problems"] == {}
    assert running["relayer"]["address"] == meter.key.address
    assert running["relayer"]["meter_key"] == meter.key.address
    assert running["relayer"]["days_left"] > 1
    # The default bounds, read from the registration: 2 x the household's 17,250 W
    # connection, the 6,000 W capacity.
    assert (running["bounds"]["import"], running["bounds"]["export"]) == (
        {"w": 34_500, "source": "registered"},
        {"w": 6_000, "source": "registered"},
    )
    assert status_json(str(tmp_path / "bridge.toml"))["daemon"]["running"] is False
    events = meter.backend.events
    baseline = events.BaselineRecorded().get_logs(from_block=0)
    measured = events.MeasurementRecorded().get_logs(from_block=0)
    ends = [e["args"]["interval_end"] for e in baseline + measured]
    # The baseline is the meter's first telegram, then every hour once, in order.
    assert ends == [start + h * HOUR for h in range(HOURS + 1)]
    assert all(e["args"]["produced_wh"] + e["args"]["consumed_wh"] > 0 for e in measured)
    entries = [json.loads(line) for line in site.log.read_text().splitlines() if line]
    assert not any(e["level"] == "error" for e in entries)


def test_a_second_bridge_on_the_port_exits_at_once_touching_nothing(
    anvil, bridge_setup, daemons, tmp_path
):
    """A second bridge with the same configuration (the same port, store and key)
    exits at once, non-zero, with one error line, and writes nothing to the store;
    the first reads on, and in the end every hour is on chain once, in order."""
    meter, start = bridge_setup
    site = bridges.Site(tmp_path, SimulatedMeter("dsmr5", peak_w=6_000), meter.meter_id)
    clock = bridges.SteppedClock(tmp_path / "clock", start - 60)
    middle, last = start + HOURS // 2 * HOUR, start + HOURS * HOUR
    with bridges.running([site], clock, anvil.url, tmp_path / "deployments.json") as stepper:
        stepper.advance(middle)
        wait_until_delivered(meter, site, middle)  # the first bridge is idle now
        before = store_rows(site.store)
        second = daemons(site.folder / "bridge.toml")
        log = DaemonLog(second)
        assert second.wait(timeout=600) != 0  # a guard against a hang, not a pace
        entries = log.rest()
        after = store_rows(site.store)
        site.check_alive()  # the first bridge runs on
        stepper.advance(last)
        wait_until_delivered(meter, site, last)
        heartbeat = status_json(str(site.folder / "bridge.toml"))["daemon"]
        first = site.process
    assert first.returncode == 0
    assert [e["level"] for e in entries] == ["error"]
    assert "is locked by another process" in entries[0]["message"]
    assert after == before  # nothing of the second in the shared store
    assert heartbeat["pid"] == first.pid  # the first's heartbeat, never the second's
    # Each hour once, in order.
    assert recorded_ends(meter) == [start + h * HOUR for h in range(HOURS + 1)]


def test_an_ipfs_node_answering_html_then_a_wrong_cid_only_delays_the_batches(
    anvil, bridge_setup, tmp_path
):
    """The node answers the first block/put with a web page, the second with
    another block's CID, then as kubo does: each is a logged retry, the daemon
    runs on, every batch reaches the node, and every hour is on chain once, in order."""
    meter, start = bridge_setup
    other = str(cid_of(b"another block"))
    node = WrongKubo(
        [
            (200, "text/html", b"<html><body>Welcome to nginx!</body></html>"),
            (200, "application/json", json.dumps({"Key": other}).encode()),
        ]
    )
    site = bridges.Site(tmp_path, SimulatedMeter("dsmr5", peak_w=6_000), meter.meter_id)
    clock = bridges.SteppedClock(tmp_path / "clock", start - 60)
    last = start + HOURS * HOUR
    deployments = tmp_path / "deployments.json"
    try:
        with bridges.running([site], clock, anvil.url, deployments, ipfs_api=node.api) as stepper:
            stepper.advance(last)
            wait_until_delivered(meter, site, last)
            wait_until(site, lambda: store_unpushed(site.store) == 0)
            daemon = site.process
    finally:
        node.shutdown()
    assert daemon.returncode == 0  # never stopped, until SIGTERM
    store = Store(site.store, HOUR)
    batches = [str(cid_of(store.batch(r.interval_end))) for r in store.readings()]
    store.close()
    waits = [e["message"] for e in logged(site) if e["message"].startswith("pushing batches")]
    assert waits == [
        "pushing batches waits: IPFS node: block/put: expected kubo's JSON with a Key, "
        "got b'<html><body>Welcome to nginx!</body></html>'",
        f"pushing batches waits: IPFS node: block/put: the node stored {other}, "
        f"expected {batches[0]}",
    ]
    assert set(node.blocks) == set(batches)
    assert recorded_ends(meter) == [start + h * HOUR for h in range(HOURS + 1)]


def store_unpushed(path) -> int:
    """Readings whose batch is not on the IPFS node yet."""
    store = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return store.execute("SELECT COUNT(*) FROM readings WHERE pushed = 0").fetchone()[0]
    finally:
        store.close()


def recorded_ends(meter) -> list[int]:
    """Interval ends on chain: the baseline, then each measurement's end."""
    events = meter.backend.events
    ends = [e["args"]["interval_end"] for e in events.BaselineRecorded().get_logs(from_block=0)]
    return ends + [
        e["args"]["interval_end"] for e in events.MeasurementRecorded().get_logs(from_block=0)
    ]


def store_rows(path) -> dict[str, list[tuple]]:
    """The store's events, readings and transactions (not the heartbeat, which a
    running bridge moves once a minute)."""
    store = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            "events": store.execute("SELECT * FROM events ORDER BY id").fetchall(),
            "readings": store.execute("SELECT * FROM readings ORDER BY interval_end").fetchall(),
            "transactions": store.execute("SELECT * FROM transactions").fetchall(),
        }
    finally:
        store.close()


def wait_until(site, condition) -> None:
    """Until ``condition()`` holds, while the site's bridge runs."""
    deadline = time.monotonic() + 600  # a guard against a hang, not a pace
    while not condition():
        site.check_alive()
        assert time.monotonic() < deadline, site.log_tail()
        time.sleep(0.05)  # a poll: the bridge relays on its own


def wait_until_delivered(meter, site, final: int) -> None:
    """Until the chain has ``final`` and the store marks every reading delivered."""
    wait_until(site, lambda: delivered_everything(meter, site.store, final))


def delivered_everything(meter, store_path, final: int) -> bool:
    """The chain has the reading for ``final`` and the store marks all delivered."""
    if meter.backend.functions.last_reading(meter.meter_id).call()[0] < final:
        return False
    store = sqlite3.connect(store_path)
    try:
        query = "SELECT COUNT(*) FROM readings WHERE status != 'delivered'"
        return store.execute(query).fetchone() == (0,)
    finally:
        store.close()


@pytest.mark.slow(seconds=130)
def test_sigkill_at_fifty_random_points_loses_nothing_acknowledged(
    anvil, bridge_setup, daemons, tmp_path
):
    meter, start = bridge_setup
    start -= ROOM * HOUR  # room for a long run, all of it in the chain's past
    leader, follower = os.openpty()
    tty.setraw(follower)
    origin_wall = time.time()
    clock = ClockConfig(speed=SPEED, origin=start, origin_wall=origin_wall)
    config = write_config(tmp_path, anvil, meter, os.ttyname(follower), "dsmr5", start, origin_wall)
    stop = threading.Event()
    # The meter falls silent two hours before the chain's present, however long the
    # kills take: a reading dated after the chain's clock would wait, not be delivered.
    writer = threading.Thread(
        target=run,
        # A household without panels: on the accelerated clock, kills make some
        # readings hours late, and such an "hour" holds hours of energy, which
        # the contract refuses as production beyond the capacity (imports have
        # no such bound). What is tested here is that kills lose nothing.
        args=(leader, SimulatedMeter("dsmr5"), clock),
        kwargs={"every": 60, "stop": stop, "count": (ROOM + HOURS) * HOUR // 60},
    )
    writer.start()
    chance = random.Random(20261122)
    acknowledged, delivered = set(), set()
    try:
        for _ in range(50):
            daemon = daemons(config)
            log = DaemonLog(daemon)
            log.until(lambda e: e["message"].startswith("serial port /"), 60)
            time.sleep(chance.uniform(0.0, 1.5))  # the kill point: a random moment of the run
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            for entry in log.rest():
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
        # On a busy machine the kills take longer than ROOM: the device's clock,
        # which places readings, then runs past the chain's. The chain catches up
        # (a reading dated after its clock waits, and is not what is tested here).
        chain_time_to(meter.backend.w3, final + HOUR)
        # The last run delivers what is left, if anything is (the last kill may have
        # come after the final reading was delivered): the chain and the store are
        # watched, not the log.
        daemon = daemons(config)
        deadline = time.monotonic() + 600  # a guard against a hang, not a pace
        while not delivered_everything(meter, tmp_path / "bridge.sqlite", final):
            assert daemon.poll() is None, f"the daemon exited: {DaemonLog(daemon).rest()[-10:]}"
            assert time.monotonic() < deadline, f"{final} not delivered in 600 s"
            time.sleep(0.1)  # a poll: the daemon relays on its own
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    finally:
        stop.set()
        writer.join()
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


def crafted_frames(protocol: str) -> dict[bytes, str]:
    """Crafted telegrams with valid checksums, each with the reason it is skipped."""
    if protocol == "sml":
        return {crafted.sml(*entry): reason for entry, reason in crafted.SML_BAD.items()}
    return {crafted.dsmr(register): reason for register, reason in crafted.DSMR_BAD.items()}


def delivered_ends(entry: dict) -> list[int]:
    """The interval ends a "readings [...] delivered in ..." log line names."""
    message = entry["message"]
    if not message.startswith("readings [") or " delivered in " not in message:
        return []
    return json.loads(message[len("readings ") : message.index(" delivered in ")])


def logged(site) -> list[dict]:
    """The JSON lines the site's bridge has logged so far (a line being written is left out)."""
    text = site.log.read_text() if site.log.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1] if line.startswith("{")]


def wait_for_log(site, predicate) -> None:
    deadline = time.monotonic() + 600  # a guard against a hang, not a pace
    while not any(predicate(entry) for entry in logged(site)):
        site.check_alive()
        assert time.monotonic() < deadline, site.log_tail()
        time.sleep(0.02)  # a poll of the bridge's log


@pytest.mark.parametrize("protocol", ["dsmr5", "sml"])
def test_crafted_telegrams_never_stop_the_daemon(anvil, bridge_setup, tmp_path, protocol):
    """Negative, 1E30, 10**30, Infinity, NaN, unknown units, each after a good telegram:
    each is skipped with its reason, the daemon stays up, every good telegram is
    stored, and the readings after them are relayed."""
    meter, start = bridge_setup
    simulated = SimulatedMeter(protocol, peak_w=6_000)
    site = bridges.Site(tmp_path, simulated, meter.meter_id)
    bad = crafted_frames(protocol)
    good = []
    clock = bridges.SteppedClock(tmp_path / "clock", start - 60 * (len(bad) + 1))
    with bridges.running([site], clock, anvil.url, tmp_path / "deployments.json") as stepper:
        for frame, reason in bad.items():
            # A minute apart, all before the meter's first telegram at start.
            at = start - 60 * (len(bad) - len(good))
            clock.set(at)
            good.append(simulated.telegram(at, len(good)))
            os.write(stepper.leaders[0], good[-1] + frame)
            wait_for_log(
                site,
                lambda e, reason=reason: e["message"].startswith(f"telegram skipped: {reason}"),
            )
        # The meter's own telegrams from start on, after the ones written here.
        stepper.taken, stepper.due = [site.telegrams_taken()], start
        stepper.advance(start + 2 * HOUR)
        wait_for_log(site, lambda e: any(end > start for end in delivered_ends(e)))
        site.check_alive()
        daemon = site.process
    assert daemon.returncode == 0
    store = sqlite3.connect(tmp_path / "bridge.sqlite")
    stored = {row[0] for row in store.execute("SELECT raw FROM telegrams")}
    skipped = dict(store.execute("SELECT reason, count FROM skipped"))
    kept = [row[0] for row in store.execute("SELECT raw FROM evidence ORDER BY id")]
    store.close()
    assert set(good) <= stored
    assert not set(bad) & stored
    assert skipped == dict(collections.Counter(bad.values()))
    assert kept == list(bad)
    assert not any(e["level"] == "error" for e in logged(site))


def test_bad_han_frames_never_stop_the_daemon(anvil, bridge_setup, tmp_path):
    """A Kamstrup meter on the HAN port: before the hour, each bad frame of
    crafted.HAN_BAD (a negative, out-of-range, Infinity or NaN register, a list
    whose units nobody documents, another APDU, a bad FCS, a frame cut short,
    garbage) is written ahead of a good hourly list, a step at a time; then the
    meter runs two hours of its own lists (list 1 every minute, the hourly list
    on the hour). Each bad frame is skipped with its reason, the daemon stays up,
    every hourly list is stored, and the readings from them are relayed."""
    meter, start = bridge_setup
    han = crafted.HanMeter(SimulatedMeter("han", peak_w=6_000))
    site = bridges.Site(tmp_path, han, meter.meter_id)
    bad = crafted.HAN_BAD
    good = []
    clock = bridges.SteppedClock(tmp_path / "clock", start - 60 * (len(bad) + 1))
    with bridges.running([site], clock, anvil.url, tmp_path / "deployments.json") as stepper:
        for frame in bad:
            # A minute apart, all before the meter's first list at start; the bad
            # frame first, so that the good one ends a frame cut short.
            at = start - 60 * (len(bad) - len(good))
            clock.set(at)
            good.append(han.hourly_list(at))
            taken = site.telegrams_taken()
            assert os.write(stepper.leaders[0], frame + good[-1]) == len(frame + good[-1])
            site.wait_until_taken(taken + 2, timeout=600)  # a hang guard, not a pace
        stepper.taken, stepper.due = [site.telegrams_taken()], start
        stepper.advance(start + 2 * HOUR)
        wait_for_log(site, lambda e: any(end > start for end in delivered_ends(e)))
        site.check_alive()
        daemon = site.process
    assert daemon.returncode == 0
    assert meter.backend.functions.last_reading(meter.meter_id).call()[0] > start
    store = sqlite3.connect(tmp_path / "bridge.sqlite")
    stored = [row[0] for row in store.execute("SELECT raw FROM telegrams ORDER BY id")]
    skipped = dict(store.execute("SELECT reason, count FROM skipped"))
    kept = [row[0] for row in store.execute("SELECT raw FROM evidence ORDER BY id")]
    readings = dict(store.execute("SELECT interval_end, import_wh FROM readings"))
    store.close()
    hours = [start, start + HOUR, start + 2 * HOUR]
    assert stored == good + [crafted.han(*(wh // 10 for wh in han.hourly[t])) for t in hours]
    assert skipped == {**collections.Counter(bad.values()), "no energy registers": han.lists_1}
    assert kept == [
        frame for frame, reason in bad.items() if reason not in ("garbage", "truncated")
    ]
    assert {t: readings[t] for t in hours} == {t: han.hourly[t][0] for t in hours}
    assert not any(e["level"] == "error" for e in logged(site))


class Replay:
    """A meter that sends one real capture, for openkwh.demo.bridges (as SimulatedMeter)."""

    def __init__(self, protocol: str, capture: bytes):
        self.protocol, self.capture = protocol, capture

    def telegram(self, t: int, sequence: int) -> bytes:
        return self.capture


@pytest.mark.slow(seconds=8)  # each family
@pytest.mark.parametrize("family", sorted(crafted.FAMILIES))
def test_every_familys_bad_frames_never_stop_the_daemon(anvil, bridge_setup, tmp_path, family):
    """Each family's real capture, then each of its bad frames (crafted.bad_frames:
    cut short, damaged, a negative register or an unknown unit with a valid CRC,
    line noise, garbage) followed by the capture again, a minute apart, then the
    capture on the hour. The daemon stays up; it stores, skips and keeps as
    evidence exactly what the decoder does with the same bytes in one piece; and
    the reading the last capture completes is relayed."""
    meter, start = bridge_setup
    protocol, capture, sml_crc, keys = crafted.FAMILIES[family]
    keys_file = None
    if keys is not None:
        keys_file = tmp_path / "meter-keys.toml"
        keys_file.touch(mode=0o600)
        keys_file.write_text(
            f'encryption_key = "{keys[0].hex()}"\nauthentication_key = "{keys[1].hex()}"\n'
        )
    site = bridges.Site(
        tmp_path, Replay(protocol, capture), meter.meter_id, sml_crc=sml_crc, keys_file=keys_file
    )
    expected = decoder(protocol, sml_crc, Keys(*keys) if keys else None)
    stored = []
    bad = crafted.bad_frames(family)
    clock = bridges.SteppedClock(tmp_path / "clock", start - 60 * (len(bad) + 2))
    with bridges.running([site], clock, anvil.url, tmp_path / "deployments.json") as stepper:
        writes = [(start - 60 * (len(bad) + 1), capture)]
        writes += [(start - 60 * (len(bad) - i), frame + capture) for i, frame in enumerate(bad)]
        writes += [(start, capture)]
        for at, data in writes:
            clock.set(at)
            stored += list(expected.feed(data))
            assert os.write(stepper.leaders[0], data) == len(data)
            # a hang guard, not a pace
            site.wait_until_taken(len(stored) + sum(expected.skipped.values()), timeout=600)
        wait_for_log(site, lambda e: any(end >= start for end in delivered_ends(e)))
        site.check_alive()
        daemon = site.process
    assert daemon.returncode == 0
    assert meter.backend.functions.last_reading(meter.meter_id).call()[0] >= start
    store = sqlite3.connect(tmp_path / "bridge.sqlite")
    raws = [row[0] for row in store.execute("SELECT raw FROM telegrams ORDER BY id")]
    skipped = dict(store.execute("SELECT reason, count FROM skipped"))
    kept = list(store.execute("SELECT reason, raw FROM evidence ORDER BY id"))
    store.close()
    assert raws == [t.raw for t in stored]
    assert len(raws) >= 2
    assert set(raws) == {raws[0]}
    assert raws[0] in capture  # the frame, without what follows it (Q3D's trailer)
    assert skipped == dict(expected.skipped)
    assert sum(skipped.values()) >= len(bad)
    assert kept == list(expected.evidence)
    assert not any(e["level"] == "error" for e in logged(site))
    if keys is not None:  # no line of the log names a key
        log = site.log.read_text().lower()
        assert not any(key.hex() in log for key in keys)

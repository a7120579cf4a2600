"""The daemon's ingest path and configuration, without a serial port or a chain."""

import json
import os
import re
import time
import tty
from collections import Counter
from pathlib import Path

import pytest

from meter_bridge import config as config_module
from meter_bridge import profiles, simulator
from meter_bridge.daemon import PORT_RETRY_MAX, Bridge, PortBusy
from meter_bridge.protocols import SmlDecoder
from meter_bridge.simulator import SimulatedMeter
from meter_bridge.store import batch_telegrams
from tests.fixtures import captures, crafted

HOUR = 3_600
T0 = 1_798_761_600
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "bridge.example.toml"


def bridge_at(tmp_path, protocol="dsmr5", port=None, **meter) -> Bridge:
    options = {
        "meter": {"id": "0x" + "ab" * 32, "protocol": protocol, **meter},
        "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
    }
    if port is not None:
        options["serial"] = {"port": port}
    return Bridge(config_module.parse(options))


def feed(bridge, meter, start, hours, every=60):
    readings = []
    for t in range(start, start + hours * HOUR + 1, every):
        bridge.now = lambda t=t: t  # this device's clock
        readings += bridge.ingest(meter.telegram(t, t))
    return readings


@pytest.mark.parametrize("offset", [-900, 900])
def test_a_meter_clock_fifteen_minutes_off_places_no_bogus_interval(tmp_path, offset):
    honest = feed(bridge_at(tmp_path / "a"), SimulatedMeter("dsmr5", peak_w=6_000), T0, 3)
    skewed_bridge = bridge_at(tmp_path / "b")
    skewed = feed(skewed_bridge, SimulatedMeter("dsmr5", peak_w=6_000, clock_offset=offset), T0, 3)
    # Readings follow this device's clock: the same boundaries and registers.
    assert [(r.interval_end, r.import_wh, r.export_wh) for r in skewed] == [
        (r.interval_end, r.import_wh, r.export_wh) for r in honest
    ]
    assert [r.interval_end for r in skewed] == [T0 + h * HOUR for h in range(4)]
    event = skewed_bridge.store.summary()["last_event"]
    assert event[1:] == ("clock", f"meter clock off by {offset:+d} s")


def test_each_reading_files_its_batch_under_its_content_id(tmp_path):
    bridge = bridge_at(tmp_path, "sml")
    readings = feed(bridge, SimulatedMeter("sml", load_percent=100), T0, 1, every=300)
    batch = bridge.store.batch(readings[-1].interval_end)
    assert len(list(batch_telegrams(batch))) == 12  # 300 s apart, after the first reading's
    from meter_bridge.content import cid_of

    assert bridge.blobs.get(cid_of(batch)) == batch


def test_skips_reach_the_store(tmp_path):
    bridge = bridge_at(tmp_path)
    bridge.now = lambda: T0
    bridge.ingest(b"\x00garbage/OKW5 truncated")
    bridge.ingest(SimulatedMeter("dsmr5").telegram(T0, 0))
    assert bridge.store.summary()["skipped"] == {"garbage": 1, "truncated": 1}


def test_the_example_configuration_documents_every_option():
    text = EXAMPLE.read_text()
    parsed = config_module.load(EXAMPLE)
    for section, kind in config_module.SECTIONS.items():
        for field in kind.__dataclass_fields__:
            assert f"\n{field} =" in text or f"\n# {field} =" in text, f"[{section}] {field}"
    assert parsed.meter.protocol in ("dsmr2.2", "dsmr4", "dsmr5", "sml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "[meter] id is required"),
        ({"meter": {"id": "0x12"}}, "[meter] id must be 32 bytes"),
        ({"meter": {"id": "0x" + "00" * 32, "protocol": "iec"}}, "[meter] protocol must be"),
        ({"meter": {"id": "0x" + "00" * 32, "sml_crc": "crc16"}}, "[meter] sml_crc must be one"),
        ({"meter": {"id": "0x" + "00" * 32, "max_import_w": 0}}, "max_import_w must be at least"),
        ({"meter": {"id": "0x" + "00" * 32}, "serial": {"parity": "X"}}, "parity must be"),
        ({"meter": {"id": "0x" + "00" * 32}, "serial": {"baud": 9600}}, "has no option 'baud'"),
        ({"meter": {"id": "0x" + "00" * 32}, "chain": {"confirmations": "2"}}, "must be a int"),
        ({"meter": {"id": "0x" + "00" * 32}, "clock": {"interval_length": 60}}, "900 or 3600"),
        ({"meter": {"id": "0x" + "00" * 32}, "mqtt": {}}, "unknown section [mqtt]"),
    ],
)
def test_bad_configuration_is_explained(data, message):
    with pytest.raises(config_module.ConfigError, match=message.replace("[", r"\[")):
        config_module.parse(data)


ID = "0x" + "00" * 32


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_import_w": "registred"}, 'max_import_w must be a number of W or "registered", got'),
        ({"max_export_w": "55000"}, 'max_export_w must be a number of W or "registered", got'),
        ({"max_import_w": 5.5}, 'max_import_w must be a number of W or "registered", got 5.5'),
        ({"max_export_w": True}, 'max_export_w must be a number of W or "registered", got True'),
        ({"max_export_w": -1}, 'max_export_w must be at least 1 W, or "registered"'),
        ({"fallback_w": 0}, "fallback_w must be at least 1"),
        ({"fallback_w": "registered"}, "fallback_w must be a int"),
    ],
)
def test_a_bad_plausibility_bound_is_explained(data, message):
    with pytest.raises(config_module.ConfigError, match=re.escape(f"[meter] {message}")):
        config_module.parse({"meter": {"id": ID, **data}})


def test_the_bounds_are_registered_by_default_in_chain_relay_mode_and_numbers_stay_numbers():
    chain = config_module.parse({"meter": {"id": ID}}).meter
    assert (chain.max_import_w, chain.max_export_w, chain.fallback_w) == (
        "registered",
        "registered",
        55_000,
    )
    mixed = config_module.parse(
        {"meter": {"id": ID, "max_import_w": 17_250, "max_export_w": "registered"}}
    ).meter
    assert (mixed.max_import_w, mixed.max_export_w) == (17_250, "registered")


def test_hub_relay_mode_bounds_by_numbers_and_refuses_registered():
    hub = {"url": "https://hub.example"}
    meter = config_module.parse({"meter": {"id": ID}, "hub": hub}).meter
    assert (meter.max_import_w, meter.max_export_w) == (55_000, 55_000)
    meter = config_module.parse({"meter": {"id": ID, "max_import_w": 9_000}, "hub": hub}).meter
    assert (meter.max_import_w, meter.max_export_w) == (9_000, 55_000)
    with pytest.raises(
        config_module.ConfigError,
        match=re.escape('[meter] max_export_w = "registered" needs chain relay mode'),
    ):
        config_module.parse({"meter": {"id": ID, "max_export_w": "registered"}, "hub": hub})


def test_a_shaded_hour_exports_the_dimmed_sun_and_no_other_hour_changes():
    noon = T0 + 12 * HOUR
    clear = SimulatedMeter("dsmr4", peak_w=4_000)
    cloudy = SimulatedMeter("dsmr4", peak_w=4_000, shade={noon: 15})
    assert cloudy.flows(noon + HOUR) == clear.flows(noon + HOUR)
    solar = profiles.solar_wh(4_000, noon)
    load = profiles.household_wh(noon, 100)
    assert cloudy.flows(noon) == profiles.net_flows(solar * 15 // 100, load)
    assert cloudy.flows(noon)[1] < clear.flows(noon)[1]


def test_the_simulator_starts_at_its_clock_origin_and_not_before():
    import os

    leader, follower = os.openpty()
    tty.setraw(follower)
    try:
        # A clock whose origin is still ahead: device time is before it for now.
        clock = config_module.ClockConfig(speed=3_600, origin=T0, origin_wall=time.time() + 0.05)
        written = simulator.run(leader, SimulatedMeter("sml"), clock, every=60, count=2)
        decoder, frames = SmlDecoder(), []
        while len(frames) < 2:  # both are written: the reads cannot block
            frames += decoder.feed(os.read(follower, 65_536))
    finally:
        os.close(leader)
        os.close(follower)
    assert written == 2
    expected = SimulatedMeter("sml")
    assert [f.import_wh for f in frames] == [
        sum(expected.registers_at(T0)[0]),
        sum(expected.registers_at(T0 + 60)[0]),
    ]


def test_a_simulator_on_a_line_nobody_reads_stops_when_told():
    import os
    import threading

    leader, follower = os.openpty()
    tty.setraw(follower)
    stop = threading.Event()
    clock = config_module.ClockConfig(speed=1e6, origin=T0, origin_wall=time.time())
    writer = threading.Thread(
        target=simulator.run, args=(leader, SimulatedMeter("dsmr5"), clock), kwargs={"stop": stop}
    )
    try:
        writer.start()
        writer.join(timeout=1)  # it fills the line's buffer, then waits for a reader
        assert writer.is_alive()
        stop.set()
        writer.join(timeout=5)
        assert not writer.is_alive()
    finally:
        stop.set()
        os.close(leader)
        os.close(follower)


def test_a_second_bridge_on_the_same_port_is_refused(tmp_path):
    import os

    leader, follower = os.openpty()
    tty.setraw(follower)
    port = os.ttyname(follower)
    first = bridge_at(tmp_path / "first", port=port).open_port()
    try:
        with pytest.raises(PortBusy, match=f"serial port {port} is locked by another process"):
            bridge_at(tmp_path / "second", port=port).open_port()
        os.write(leader, b"/ISK5")  # the bytes all go to the bridge that holds the port
        assert first.read(5) == b"/ISK5"
        first.close()  # the lock goes with the port: a restarted bridge gets it
        first = bridge_at(tmp_path / "second", port=port).open_port()
    finally:
        first.close()
        os.close(leader)
        os.close(follower)


class CountingStop:
    """The bridge's stop event, recording how long each wait would be; stops after ``rounds``."""

    def __init__(self, rounds: int):
        self.rounds = rounds
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return len(self.waits) >= self.rounds

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.is_set()

    def set(self) -> None:
        self.rounds = 0


def test_a_missing_serial_port_is_tried_again_with_back_off(tmp_path):
    bridge = bridge_at(tmp_path, port=str(tmp_path / "ttyUSB-absent"))
    bridge.stop = CountingStop(9)
    bridge.read_forever()
    assert bridge.stop.waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert PORT_RETRY_MAX == 60
    _, kind, message = bridge.store.summary()["last_event"]
    assert kind == "error"
    assert message.startswith("serial port: ")


@pytest.mark.parametrize("protocol", ["dsmr5", "sml"])
def test_crafted_registers_are_skipped_kept_and_every_good_telegram_stored(tmp_path, protocol):
    bridge = bridge_at(tmp_path, protocol)
    meter = SimulatedMeter(protocol, peak_w=6_000)
    if protocol == "sml":
        bad = {crafted.sml(*entry): reason for entry, reason in crafted.SML_BAD.items()}
    else:
        bad = {crafted.dsmr(register): reason for register, reason in crafted.DSMR_BAD.items()}
    good = []
    for i, frame in enumerate([*bad, *bad]):
        t = T0 + 60 * i
        bridge.now = lambda t=t: t
        bridge.ingest(frame)
        good.append(meter.telegram(t, t))
        bridge.ingest(good[-1])
    rows = bridge.store.db.execute("SELECT raw FROM telegrams ORDER BY id").fetchall()
    assert rows == [(raw,) for raw in good]
    summary = bridge.store.summary()
    assert summary["skipped"] == {r: 2 * n for r, n in Counter(bad.values()).items()}
    assert [(reason, raw) for _, reason, raw in bridge.store.evidence()] == [
        (bad[frame], frame) for frame in [*bad, *bad]
    ]


def test_an_implausible_jump_is_skipped_and_a_new_meter_re_based(tmp_path):
    bridge = bridge_at(tmp_path, "sml")
    times = iter(range(T0, T0 + 100 * 60, 60))

    def send(import_wh: int) -> None:
        t = next(times)
        bridge.now = lambda: t
        bridge.ingest(crafted.sml(import_wh, sequence=t))

    send(5_000_000)
    send(9_000_000)  # 4 MWh in a minute
    send(5_000_100)
    for i in range(10):  # a replaced meter, from 100 Wh: ten consistent telegrams
        send(100 + i)
    imports = [r[0] for r in bridge.store.db.execute("SELECT import_wh FROM telegrams")]
    assert imports == [5_000_000, 5_000_100, 109]
    summary = bridge.store.summary()
    assert summary["skipped"] == {"implausible import jump": 1, "register went backwards": 9}
    assert summary["last_rebase"][1] == (
        "re-based after 10 consistent telegrams: import 109 Wh, export 0 Wh"
    )
    assert summary["evidence"] == 10


def test_the_configured_bounds_are_the_ones_applied(tmp_path):
    """A 2 kW connection, a 1 kW installation, a re-base after 2 telegrams: what
    the defaults (55 kW, 55 kW, 10) let through, these refuse, and the reverse."""
    sent = [  # (hours after T0, import Wh, export Wh)
        (0, 10_000, 0),
        (1, 12_100, 0),  # 2,100 Wh in an hour: more than 2 kW gives
        (2, 12_000, 2_100),  # 2,100 Wh exported in two hours: more than 1 kW gives
        (3, 12_500, 2_200),
        (4, 100, 2_200),  # a replaced meter, from 100 Wh
        (5, 101, 2_200),
    ]
    stored = {}
    for name, bounds in {
        "configured": {"max_import_w": 2_000, "max_export_w": 1_000, "rebase_after": 2},
        "default": {},
    }.items():
        bridge = bridge_at(tmp_path / name, "sml", **bounds)
        for hours, imported, exported in sent:
            t = T0 + hours * HOUR
            bridge.now = lambda t=t: t
            bridge.ingest(crafted.sml(imported, export=exported, sequence=hours))
        rows = bridge.store.db.execute("SELECT import_wh, export_wh FROM telegrams ORDER BY id")
        stored[name] = (rows.fetchall(), bridge.store.summary())
    rows, summary = stored["configured"]
    assert rows == [(10_000, 0), (12_500, 2_200), (101, 2_200)]
    assert summary["skipped"] == {
        "implausible import jump": 1,
        "implausible export jump": 1,
        "register went backwards": 1,
    }
    assert summary["last_rebase"][1] == (
        "re-based after 2 consistent telegrams: import 101 Wh, export 2200 Wh"
    )
    rows, summary = stored["default"]
    assert rows == [(10_000, 0), (12_100, 0), (12_500, 2_200)]
    assert summary["skipped"] == {"register went backwards": 3}


def test_plausibility_starts_from_the_last_stored_telegram_after_a_restart(tmp_path):
    bridge = bridge_at(tmp_path, "sml")
    bridge.now = lambda: T0
    bridge.ingest(crafted.sml(5_000_000))
    restarted = bridge_at(tmp_path, "sml")
    restarted.now = lambda: T0 + 60
    restarted.ingest(crafted.sml(9_000_000))
    assert restarted.store.summary()["skipped"] == {"implausible import jump": 1}


def test_auto_shows_the_specification_it_chose_and_an_import_only_meter_exports_0(tmp_path):
    bridge = bridge_at(tmp_path, "auto")
    bridge.now = lambda: T0
    bridge.ingest(captures.EASYMETER_Q3DA1004)
    bridge.now = lambda: T0 + HOUR
    bridge.ingest(captures.EASYMETER_Q3DA1004)  # after its gateway's two trailing lines
    summary = bridge.store.summary()
    assert summary["protocol"] == "q3d"
    assert summary["last_telegram"][2:] == (32_549_506, 0)
    # The gateway's lines after each telegram are part of it: a healthy Q3D
    # meter's garbage count no longer climbs with every telegram.
    assert summary["skipped"] == {}


def test_more_than_a_q3d_trailer_after_its_telegram_is_garbage(tmp_path):
    bridge = bridge_at(tmp_path, "q3d")
    bridge.now = lambda: T0
    bridge.ingest(captures.EASYMETER_Q3DB1024 + b"x" * 80)
    bridge.now = lambda: T0 + HOUR
    bridge.ingest(captures.EASYMETER_Q3DB1024)
    assert bridge.store.summary()["skipped"] == {"garbage": 1}


def test_a_reader_that_fails_stops_the_daemon_to_be_restarted(tmp_path):
    bridge = bridge_at(tmp_path)
    bridge.now = lambda: T0

    class Port:
        in_waiting = 0

        def read(self, size):
            return b"x"

        def close(self):
            pass

    def broken(data):
        raise OSError(28, "No space left on device")

    bridge.open_port = Port
    bridge.ingest = broken
    bridge.read_forever()  # returns: the reader stopped
    assert bridge.failed
    assert bridge.stop.is_set()
    event = bridge.store.summary()["last_event"]
    assert event[1:] == ("error", "reader stopped: OSError: [Errno 28] No space left on device")


def test_a_stepped_clock_is_the_time_its_driver_wrote_whatever_the_wall_clock(tmp_path):
    from openkwh.demo.bridges import SteppedClock

    clock = SteppedClock(tmp_path / "clock", T0 - 60)
    options = {
        "meter": {"id": "0x" + "ab" * 32, "protocol": "sml"},
        "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
        "clock": {"file": str(clock.path)},
    }
    bridge = Bridge(config_module.parse(options))
    assert bridge.now() == T0 - 60
    meter = SimulatedMeter("sml", load_percent=100)
    readings, at_boundaries = [], []
    for t in range(T0, T0 + 2 * HOUR + 1, 60):
        clock.set(t)
        if t % HOUR == 0:
            at_boundaries.append(sum(meter.registers_at(t)[0]))
        readings += bridge.ingest(meter.telegram(t, t))
    # Each reading is the telegram written at the boundary, stamped with it.
    assert [r.interval_end for r in readings] == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert [r.import_wh for r in readings] == at_boundaries
    assert at_boundaries[0] < at_boundaries[1] < at_boundaries[2]
    assert not list(tmp_path.glob("clock.new"))  # written whole, then renamed


def test_keygen_needs_no_meter_id_the_key_comes_first(tmp_path, monkeypatch, capsys):
    """The Pi makes its key before the installer registers the meter: keygen
    reads a configuration without [meter] id; run still needs it."""
    from meter_bridge import cli

    config = tmp_path / "bridge.toml"
    config.write_text('[meter]\nkeystore = "meter-key.json"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METER_BRIDGE_PASSPHRASE", "pi passphrase")
    assert cli.main(["keygen", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("0x")
    assert (tmp_path / "meter-key.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(SystemExit, match=r"\[meter\] id is required"):
        cli.load_config(cli.parser().parse_args(["run", "--config", str(config)]))


def _config_with(tmp_path, **paths) -> tuple[Path, tuple[int, int]]:
    """A bridge configuration on a pseudo-terminal, its key made, with ``paths``
    (keystore, deployments, store) replaced."""
    leader, follower = os.openpty()
    tty.setraw(follower)
    folder = {"keystore": tmp_path / "key" / "meter-key.json", "store": tmp_path / "s" / "b.db"}
    folder.update(paths)
    deployments = paths.get("deployments", tmp_path / "deployments.json")
    if "deployments" not in paths:
        deployments.write_text(
            json.dumps(
                {
                    "chain_id": 31_337,
                    "contracts": {"SmartMeterBackend": {"address": "0x" + "11" * 20, "abi": []}},
                }
            )
        )
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[meter]\nid = "0x{"ab" * 32}"\nkeystore = "{folder["keystore"]}"\n'
        f'[serial]\nport = "{os.ttyname(follower)}"\n'
        f'[chain]\nrpc_url = "http://127.0.0.1:9"\ndeployments = "{deployments}"\n'
        f'[store]\npath = "{folder["store"]}"\nblobs = "{tmp_path / "blobs"}"\n'
    )
    return config, (leader, follower)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "keystore",
            r"cannot make the folder of .*meter-key\.json: .*taken is a file, not a folder",
        ),
        ("store", r"cannot make the store's folder .*: .*taken is a file, not a folder"),
        (
            "deployments",
            r"\[chain\] deployments: no deployments file at .*: run `make deploy` first",
        ),
    ],
)
def test_a_folder_or_file_the_bridge_cannot_use_is_a_message_not_a_traceback(
    tmp_path, monkeypatch, where, message
):
    """Issue 13 found a state folder that cannot be written stopping the bridge
    with a traceback; so did a keystore's folder and a missing deployments file."""
    from meter_bridge import cli

    (tmp_path / "taken").write_text("a file where a folder should be")
    monkeypatch.setenv("METER_BRIDGE_PASSPHRASE", "pi passphrase")
    paths = {
        "keystore": {"keystore": tmp_path / "taken" / "meter-key.json"},
        "store": {"store": tmp_path / "taken" / "b.db"},
        "deployments": {"deployments": tmp_path / "none.json"},
    }[where]
    config, fds = _config_with(tmp_path, **paths)
    try:
        if where != "keystore":
            assert cli.main(["keygen", "--config", str(config)]) == 0
        command = "keygen" if where == "keystore" else "run"
        with pytest.raises(SystemExit) as exit_:
            cli.main([command, "--config", str(config)])
        assert re.search(message, str(exit_.value.code))
    finally:
        for fd in fds:
            os.close(fd)

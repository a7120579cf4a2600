"""The bridge's plausibility bounds from the meter's registration on a real
anvil node: the registered connection rating bounds import, an operator's
set_connection_rating reaches a running bridge, and a node down at start leaves
the fallback in force and said in `status`."""

import argparse
import dataclasses
import json
import logging

import pytest

from meter_bridge import cli
from meter_bridge.config import load
from meter_bridge.daemon import Bridge
from openkwh.bench.bridge import register_meter
from openkwh.commands import actions
from tests.bridge_chain import Forwarder
from tests.fixtures import crafted

pytestmark = pytest.mark.anvil

HOUR = 3_600
T0 = 1_798_761_600


@pytest.fixture
def meter(anvil_connection, anvil_accounts, tmp_path):
    """The meter register_meter registers (capacity 6,000 W, a household's 17,250 W
    connection), its deployments file where a Pi keeps it."""
    registered = register_meter(anvil_connection, anvil_accounts, tmp_path / "deploy")
    (tmp_path / "deployments.json").write_text(json.dumps(registered.deployments))
    return registered


def rate(meter, anvil_connection, anvil_accounts, connection_w: int) -> None:
    """The grid operator (the deployer holds OPERATOR_ROLE) sets the rating."""
    operator = actions.Actor(anvil_connection.w3, anvil_accounts[0], meter.deployments)
    actions.set_connection_rating(operator, meter.meter_id, connection_w, "fuse checked on site")


def bridge_for(meter, tmp_path, rpc_url: str) -> tuple[Bridge, object]:
    """A bridge whose bounds are left at their default ("registered"), as the
    daemon's run() makes it: its registration reader, and its config file."""
    path = tmp_path / "bridge.toml"
    path.write_text(
        f'[meter]\nid = "0x{meter.meter_id.hex()}"\nprotocol = "sml"\n'
        f'[chain]\nrpc_url = "{rpc_url}"\ndeployments = "{tmp_path / "deployments.json"}"\n'
        f'[store]\npath = "{tmp_path / "bridge.sqlite"}"\nblobs = "{tmp_path / "blobs"}"\n'
    )
    bridge = Bridge(load(path))
    bridge.registration = bridge.registration_reader()
    return bridge, path


def telegram(bridge, at: int, imported: int, sequence: int) -> None:
    bridge.now = lambda: at
    bridge.ingest(crafted.sml(imported, sequence=sequence))


def stored(bridge) -> list[int]:
    rows = bridge.store.db.execute("SELECT import_wh FROM telegrams ORDER BY id").fetchall()
    return [imported for (imported,) in rows]


def status_text(path, capsys) -> list[str]:
    """What `meter-bridge status` prints of the bounds: its line and the lines under it."""
    cli.command_status(argparse.Namespace(config=path, json=False))
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("bounds "))
    under = 1
    while lines[at + under].startswith(" "):
        under += 1
    return lines[at : at + under]


def test_a_registered_rating_skips_a_jump_and_a_raised_one_reaches_the_bridge_without_restart(
    anvil, anvil_connection, anvil_accounts, meter, tmp_path, caplog, capsys
):
    caplog.set_level(logging.INFO, logger="meter_bridge.daemon")
    rate(meter, anvil_connection, anvil_accounts, 3_000)
    bridge, path = bridge_for(meter, tmp_path, anvil.url)
    bridge.now = lambda: T0
    bridge.bounds_round(bridge.store)
    telegram(bridge, T0, 10_000, 1)
    # 10 kWh in an hour: 10 kW, which 55,000 W lets through and 2 x 3,000 W does not.
    telegram(bridge, T0 + HOUR, 20_000, 2)
    assert stored(bridge) == [10_000]
    summary = bridge.store.summary()
    assert summary["skipped"] == {"implausible import jump": 1}
    assert summary["evidence"] == 1
    assert status_text(path, capsys) == [
        "bounds         import 6,000 W (2 x registered connection 3,000 W), "
        "export 6,000 W (registered capacity 6,000 W)",
        "               registration read 2027-01-01 00:00:00 UTC",
    ]
    # The operator raises the rating; the bridge reads it at its next check,
    # check_every (600 s) later, and is not restarted.
    rate(meter, anvil_connection, anvil_accounts, 17_250)
    bridge.now = lambda: T0 + HOUR + 600
    bridge.bounds_round(bridge.store)
    telegram(bridge, T0 + 2 * HOUR, 30_000, 3)  # 20 kWh in two hours: 10 kW again
    assert stored(bridge) == [10_000, 30_000]
    assert bridge.store.summary()["skipped"] == {"implausible import jump": 1}
    status = cli.status_of(load(path), T0)["bounds"]
    assert status["import"] == {"w": 34_500, "source": "registered"}
    assert status["registration"] == {"connection_w": 17_250, "capacity_w": 6_000, "headroom": 2}
    assert (status["read_at"], status["error"]) == (T0 + HOUR + 600, None)
    said = [r.getMessage() for r in caplog.records if r.name == "meter_bridge.daemon"]
    assert [m for m in said if m.startswith("plausibility bounds")] == [
        "plausibility bounds now import 6,000 W (2 x registered connection 3,000 W), "
        "export 6,000 W (registered capacity 6,000 W)",
        "plausibility bounds now import 34,500 W (2 x registered connection 17,250 W), "
        "export 6,000 W (registered capacity 6,000 W)",
    ]


def test_a_node_down_at_start_leaves_the_fallback_in_force_and_said_in_status(
    anvil, anvil_connection, anvil_accounts, meter, tmp_path, caplog, capsys
):
    rate(meter, anvil_connection, anvil_accounts, 3_000)
    forwarder = Forwarder(anvil.port)
    try:
        forwarder.cut()
        bridge, path = bridge_for(meter, tmp_path, forwarder.url)
        for round_at in (T0, T0 + 5):  # no exception escapes a round
            bridge.now = lambda round_at=round_at: round_at
            bridge.bounds_round(bridge.store)
        # The fallback (55,000 W) lets through the 10 kW the registration would not.
        telegram(bridge, T0, 10_000, 1)
        telegram(bridge, T0 + HOUR, 20_000, 2)
        assert stored(bridge) == [10_000, 20_000]
        lines = status_text(path, capsys)
        assert lines[0] == (
            "bounds         import 55,000 W (fallback_w: the registration not read yet), "
            "export 55,000 W (fallback_w: the registration not read yet)"
        )
        assert len(lines) == 2  # never read
        assert lines[1].startswith("               last read failed: ConnectionError: ")
        said = [r.getMessage() for r in caplog.records if r.name == "meter_bridge.daemon"]
        failures = [m for m in said if m.startswith("reading the registered bounds failed")]
        assert len(failures) == 1
        assert failures[0].endswith("the fallback stays in force")
        # The node back: the next round reads the registration, no restart.
        forwarder.restore()
        bridge.now = lambda: T0 + HOUR + 10
        bridge.bounds_round(bridge.store)
    finally:
        forwarder.close()
    telegram(bridge, T0 + 2 * HOUR, 30_000, 3)  # 10 kW: beyond 2 x 3,000 W
    assert stored(bridge) == [10_000, 20_000]
    assert bridge.store.summary()["skipped"] == {"implausible import jump": 1}
    status = cli.status_of(load(path), T0)["bounds"]
    assert (status["import"], status["error"]) == ({"w": 6_000, "source": "registered"}, None)


def test_a_consumption_only_meter_exports_within_its_import_bound(
    anvil, anvil_connection, anvil_accounts, meter, tmp_path
):
    """Registered with capacity 0: its export (a balcony panel nobody registered)
    is recorded, not certified, so it is bounded as its import, not by 0 W."""
    installer = actions.Actor(anvil_connection.w3, anvil_accounts[5], meter.deployments)
    household = meter.meter_id[:31] + b"\x01"
    actions.register_meter(
        installer, household, meter.key.address, anvil_accounts[6].address, "DK1", "consumption"
    )
    bridge, _ = bridge_for(dataclasses.replace(meter, meter_id=household), tmp_path, anvil.url)
    bridge.now = lambda: T0
    bridge.bounds_round(bridge.store)
    assert bridge.store.state("bounds")[0]["export"] == {"w": 34_500, "source": "registered"}
    bridge.ingest(crafted.sml(10_000, export=0, sequence=1))
    bridge.now = lambda: T0 + HOUR
    bridge.ingest(crafted.sml(10_500, export=800, sequence=2))  # 800 Wh in an hour
    assert stored(bridge) == [10_000, 10_500]
    assert bridge.store.summary()["skipped"] == {}

"""The bridge's hub relay mode over loopback: its signed measurements go to a
real hub service (openkwh.hub), which stores them or refuses them with a reason."""

import itertools
import threading

import pytest
from werkzeug.serving import make_server

from meter_bridge import config as config_module
from meter_bridge.daemon import Bridge
from meter_bridge.hub_relay import HubRelayer
from meter_bridge.simulator import SimulatedMeter
from openkwh.hub.app import create_app
from openkwh.hub.store import open_store
from tests.fixtures.accounts import keyed_account
from tests.fixtures.hub import CHAIN_ID, ROOTS_ADDRESS, make_hub

HOUR = 3_600
T0 = 1_798_761_600
METER = bytes.fromhex("ab" * 32)


@pytest.fixture
def hub_server():
    """The hub's app on 127.0.0.1, on a port of its own."""
    store = open_store(":memory:")
    the_hub = make_hub(store)
    server = make_server("127.0.0.1", 0, create_app(the_hub), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield the_hub, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    store.close()


def bridge_with_readings(tmp_path, hours=3) -> Bridge:
    bridge = Bridge(config_module.parse({
        "meter": {"id": "0x" + METER.hex()},
        "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
    }))  # fmt: skip
    meter = SimulatedMeter("dsmr5", peak_w=6_000)
    for t in range(T0, T0 + hours * HOUR + 1, 60):
        bridge.now = lambda t=t: t
        bridge.ingest(meter.telegram(t, t))
    return bridge


def relayer(bridge, url, key) -> HubRelayer:
    return HubRelayer(url, METER, key, bridge.store, CHAIN_ID, ROOTS_ADDRESS, HOUR,
                      clock=lambda: T0 + 4 * HOUR)  # fmt: skip


def statuses(bridge):
    return [(r.interval_end - T0, r.status) for r in bridge.store.readings()]


def test_hub_relay_delivers_signed_measurements(tmp_path, hub_server):
    the_hub, url = hub_server
    key = keyed_account("bridge-meter")
    the_hub.store.add_meter(METER, key.address, keyed_account("owner").address, "DK1", 17_250)
    bridge = bridge_with_readings(tmp_path)
    assert relayer(bridge, url, key).step() == 3
    assert statuses(bridge) == [(0, "delivered"), (HOUR, "delivered"), (2 * HOUR, "delivered"),
                                (3 * HOUR, "delivered")]  # fmt: skip
    readings = bridge.store.readings()
    for before, after in itertools.pairwise(readings):
        leaf = the_hub.store.leaf(METER, before.interval_end)
        assert leaf.interval_end == after.interval_end
        assert leaf.consumed_wh == after.import_wh - before.import_wh
        assert leaf.produced_wh == after.export_wh - before.export_wh
        assert (leaf.import_wh, leaf.export_wh, leaf.data_digest) == (
            after.import_wh, after.export_wh, after.digest)  # fmt: skip
        assert leaf.signed


def test_hub_relay_refusal_is_kept_with_the_hub_reason(tmp_path, hub_server):
    the_hub, url = hub_server
    the_hub.store.add_meter(METER, keyed_account("another-key").address,
                            keyed_account("owner").address, "DK1", 17_250)  # fmt: skip
    bridge = bridge_with_readings(tmp_path, hours=1)
    relayer(bridge, url, keyed_account("bridge-meter")).step()
    rejected = bridge.store.readings()[1]
    assert rejected.status == "rejected"
    assert rejected.detail.startswith("bad signature: signed by")
    assert the_hub.store.leaf(METER, T0) is None


def test_hub_relay_counts_what_the_hub_has_already_as_delivered(tmp_path, hub_server):
    the_hub, url = hub_server
    key = keyed_account("bridge-meter")
    the_hub.store.add_meter(METER, key.address, keyed_account("owner").address, "DK1", 17_250)
    bridge = bridge_with_readings(tmp_path, hours=2)
    hub_relayer = relayer(bridge, url, key)
    lost = hub_relayer.pending()  # posted, but the answer never came back
    hub_relayer.post([signed for _, signed in lost])
    assert hub_relayer.step() == 2
    assert [s for _, s in statuses(bridge)] == ["delivered"] * 3


def test_hub_relay_waits_while_the_hub_is_down(tmp_path):
    bridge = bridge_with_readings(tmp_path, hours=1)
    with pytest.raises(OSError, match="Connection refused"):
        relayer(bridge, "http://127.0.0.1:9", keyed_account("bridge-meter")).step()
    assert statuses(bridge) == [(0, "delivered"), (HOUR, "new")]


def test_hub_relay_answer_not_the_hub_json_is_retried(tmp_path, hub_server):
    _, url = hub_server
    bridge = bridge_with_readings(tmp_path, hours=1)
    with pytest.raises(OSError, match="answered HTTP 404"):
        relayer(bridge, url + "/nowhere", keyed_account("bridge-meter")).step()
    assert bridge.store.readings()[1].status == "new"


@pytest.mark.parametrize(
    ("hub", "message"),
    [({"url": "hub.example"}, "[hub] url must be an http"), ({"max_batch": 0}, "[hub] max_batch")],
)
def test_hub_configuration_is_checked(hub, message):
    with pytest.raises(
        config_module.ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        config_module.parse({"meter": {"id": "0x" + "00" * 32}, "hub": hub})

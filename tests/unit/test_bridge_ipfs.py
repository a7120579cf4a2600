"""Batches to an IPFS node through the kubo RPC API.

No IPFS daemon can run here: ``FakeKuboRPC`` and ``WrongKubo``
(tests/fixtures/kubo.py) stand in for one on loopback.
"""

import json
import urllib.error

import pytest

from meter_bridge.content import Kubo, cid_of
from meter_bridge.protocols import Telegram
from meter_bridge.store import Store
from tests.fixtures.kubo import FakeKuboRPC, WrongKubo

T0 = 1_798_761_600


@pytest.fixture
def node():
    server = FakeKuboRPC()
    yield server
    server.shutdown()


def test_block_put_yields_the_locally_computed_cid(node):
    data = b"\x00\x01 a batch \r\n" * 100
    assert Kubo(node.api).block_put(data) == cid_of(data)
    assert node.blocks[str(cid_of(data))] == data
    assert "cid-codec=raw" in node.queries[0]
    assert "mhtype=sha2-256" in node.queries[0]


def test_batches_are_pushed_oldest_first_and_retried_until_the_node_answers(tmp_path):
    from meter_bridge.config import parse
    from meter_bridge.daemon import Bridge

    server = FakeKuboRPC(failures=1)
    try:
        config = parse(
            {
                "meter": {"id": "0x" + "cd" * 32},
                "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
                "ipfs": {"api": server.api},
            }
        )
        bridge = Bridge(config)
        store = Store(config.store.path, 3_600)
        for hour in range(3):
            store.add_telegram(Telegram(b"/t %d!\r\n" % hour, 10 + hour, 0), T0 + hour * 3_600)
        with pytest.raises(urllib.error.HTTPError, match="500"):
            bridge.push_batches(store)  # the node answers 500
        assert store.unpushed() == [T0, T0 + 3_600, T0 + 7_200]
        bridge.push_batches(store)
        assert store.unpushed() == []
        assert set(server.blocks) == {str(cid_of(store.batch(T0 + h * 3_600))) for h in range(3)}
    finally:
        server.shutdown()


OTHER_CID = str(cid_of(b"some other block"))
WRONG_ANSWERS = [
    (200, "text/html", b"<html><body>Welcome to nginx!</body></html>", "got b'<html>"),
    (200, "application/json", b'{"Size": 12}', "with a Key, got"),
    (200, "application/json", b'{"Key": "not a cid"}', "with a Key, got"),
    (200, "application/json", json.dumps({"Key": OTHER_CID}).encode(), f"stored {OTHER_CID}"),
    (200, "application/json", b'{"Key": "' + b"x" * 100_000 + b'"}', "got over 65,536 bytes"),
]


def test_a_node_answering_nonsense_is_retried_and_never_stops_the_daemon(tmp_path):
    from meter_bridge.config import parse
    from meter_bridge.daemon import Bridge

    server = WrongKubo([answer[:3] for answer in WRONG_ANSWERS])
    try:
        config = parse(
            {
                "meter": {"id": "0x" + "cd" * 32},
                "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
                "ipfs": {"api": server.api},
            }
        )
        bridge = Bridge(config)
        store = Store(config.store.path, 3_600)
        store.add_telegram(Telegram(b"/t 0!\r\n", 10, 0), T0)
        for *_, said in WRONG_ANSWERS:
            bridge.push_round(store)  # no exception escapes
            assert store.unpushed() == [T0]
            _, kind, message = store.summary()["last_event"]
            assert kind == "error"
            assert message.startswith("IPFS node: block/put: ")
            assert said in message
        bridge.push_round(store)  # now it answers as kubo does
        assert store.unpushed() == []
        assert set(server.blocks) == {str(cid_of(store.batch(T0)))}
    finally:
        server.shutdown()

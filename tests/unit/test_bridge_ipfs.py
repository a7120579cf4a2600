"""Batches to an IPFS node through the kubo RPC API.

No IPFS daemon can run here, so ``FakeKuboRPC`` stands in for one: an HTTP
server on loopback that answers ``/api/v0/block/put`` the way kubo does, with
the CID it computes itself from the bytes it received.
"""

import json
import threading
import urllib.error
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from meter_bridge.content import Kubo, cid_of
from meter_bridge.protocols import Telegram
from meter_bridge.store import Store

T0 = 1_798_761_600


class FakeKuboRPC(ThreadingHTTPServer):
    """A stand-in for kubo's RPC API: block/put only; ``failures`` answers 500 first."""

    def __init__(self, failures: int = 0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.blocks: dict[str, bytes] = {}
        self.queries: list[str] = []
        self.failures = failures
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        server.queries.append(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if server.failures:
            server.failures -= 1
            self.send_response(500)
            self.end_headers()
            return
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        (part,) = message.iter_parts()
        data = part.get_payload(decode=True)
        cid = str(cid_of(data))
        server.blocks[cid] = data
        answer = json.dumps({"Key": cid, "Size": len(data)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


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


class WrongKubo(ThreadingHTTPServer):
    """A stand-in for a node that is not kubo, or a kubo gone wrong: it answers
    each block/put with the next of ``answers`` (status, content type, body),
    then as kubo does."""

    def __init__(self, answers: list[tuple[int, str, bytes]]):
        super().__init__(("127.0.0.1", 0), _WrongHandler)
        self.answers = list(answers)
        self.queries: list[str] = []
        self.failures = 0
        self.blocks: dict[str, bytes] = {}
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _WrongHandler(_Handler):
    def do_POST(self):
        server = self.server
        if not server.answers:
            super().do_POST()
            return
        self.rfile.read(int(self.headers["Content-Length"]))
        status, kind, body = server.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


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

"""The hub on the real contracts (titanoboa): it publishes an interval's roots,
the leaf hashes go to kubo by CID, and the proofs it serves reveal on chain."""

import json
from datetime import UTC, datetime

import boa
import pytest
from eth_utils import keccak

from meter_bridge.content import BlobStore, Kubo, cid_of
from openkwh.hub.app import Hub
from openkwh.hub.ingest import Ingestor
from openkwh.hub.leaves import roots_domain_separator
from openkwh.hub.publish import publish_interval
from openkwh.hub.store import open_store
from openkwh.merkle import load_proof
from tests.fixtures.hub import DOMAIN, SALT_KEY, hub_client, sign_in, signed_reading
from tests.fixtures.kubo import FakeKuboRPC
from tests.fixtures.meters import INTERVAL, SECTOR, grid_time


@pytest.fixture
def hub_service(roots, hub, root_meter, root_meter_key, owner_key, smb):
    """The hub's service for ``root_meter`` (owned on chain by alice; here the
    hub knows ``owner_key`` as its owner, who signs in), with four other meters."""
    store = open_store(":memory:")
    store.add_meter(root_meter, root_meter_key.address, owner_key.address, SECTOR, 17_250)
    ingestor = Ingestor(store, INTERVAL,
                        roots_domain_separator(boa.env.evm.patch.chain_id, str(roots.address)),
                        SALT_KEY)  # fmt: skip
    service = Hub(store, ingestor, str(hub), DOMAIN, clock=lambda: boa.env.evm.patch.timestamp,
                  revealed_on_chain=lambda m, b: smb.is_revealed(m, b))  # fmt: skip
    yield service
    store.close()


def send_as(roots, sender):
    def send(function, args):
        getattr(roots, function)(*args, sender=sender)
        return None

    return send


def test_hub_root_published_and_the_served_proof_reveals(
    roots, smb, hub, root_meter, root_meter_key, owner_key, hub_service, tmp_path, alice
):
    begin = grid_time(-1)
    readings = [signed_reading(root_meter_key, root_meter, begin, 120, 480,
                               chain_id=boa.env.evm.patch.chain_id, roots=str(roots.address))]  # fmt: skip
    assert hub_service.ingestor.ingest_signed(readings).as_json() == {"accepted": 1, "refused": []}
    csv_meter = keccak(text="hub-csv-meter")
    hub_service.store.add_meter(csv_meter, "0x" + "00" * 20, owner_key.address, SECTOR, 17_250,
                                "571313180400012349")  # fmt: skip
    start = boa.env.evm.patch.timestamp - boa.env.evm.patch.timestamp % INTERVAL - INTERVAL

    def iso(t):
        return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")

    csv = "metering_point_id;begin;end;quantity_wh;quality\n"
    csv += f"571313180400012349;{iso(start)};{iso(start + INTERVAL)};333;measured\n"
    assert hub_service.ingestor.ingest_csv(csv).accepted == 1
    kubo = FakeKuboRPC()
    published = publish_interval(hub_service.store, SECTOR, begin, INTERVAL, send_as(roots, hub),
                                 BlobStore(tmp_path / "blobs"), Kubo(kubo.api))  # fmt: skip
    assert [p.kind for p in published] == ["hub", "signed"]
    hub_tree, signed_tree = published[0].tree, published[1].tree
    assert roots.hub_root(keccak(text=SECTOR), begin) == hub_tree.root
    # the leaf hashes are public by CID; the full leaf set stays with the hub
    layer = b"".join(hub_tree.nodes[hub_tree.count - 1 :])
    assert kubo.blocks[str(cid_of(layer))] == layer
    assert published[0].cid == str(cid_of(layer))
    assert published[0].leaves_cid in BlobStore(tmp_path / "blobs")
    assert published[0].leaves_cid not in kubo.blocks

    client = hub_client(hub_service)
    token = sign_in(client, owner_key, now=boa.env.evm.patch.timestamp).get_json()["token"]
    answer = client.get(f"/api/v1/proofs/0x{root_meter.hex()}/{begin}",
                        headers={"Authorization": f"Bearer {token}"}).get_json()  # fmt: skip
    leaf = hub_service.store.leaf(root_meter, begin)
    assert answer["publisher"] == str(hub)
    # the answer is a proof file as `openkwh prosumer reveal --proof` reads it
    document = load_proof(json.dumps(answer))
    assert document["value"] == tuple(leaf.hub_values())
    roots.reveal(document["publisher"], document["value"], document["proof"], sender=alice)
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 120, 480)
    # revealed: the proof is public now, no sign-in needed
    public = client.get(f"/api/v1/proofs/0x{root_meter.hex()}/{begin}")
    assert public.status_code == 200
    assert public.get_json()["proof"] == answer["proof"]
    assert signed_tree.count == 1


def test_signed_root_published_and_the_served_proof_reveals(
    roots, smb, hub, root_meter, root_meter_key, owner_key, hub_service
):
    begin = grid_time(-2)
    chain = {"chain_id": boa.env.evm.patch.chain_id, "roots": str(roots.address)}
    hub_service.ingestor.ingest_signed([signed_reading(root_meter_key, root_meter, begin, 0, 700,
                                                       **chain)])  # fmt: skip
    publish_interval(hub_service.store, SECTOR, begin, INTERVAL, send_as(roots, hub))
    client = hub_client(hub_service)
    token = sign_in(client, owner_key, now=boa.env.evm.patch.timestamp).get_json()["token"]
    answer = client.get(f"/api/v1/proofs/0x{root_meter.hex()}/{begin}?kind=signed",
                        headers={"Authorization": f"Bearer {token}"}).get_json()  # fmt: skip
    leaf = hub_service.store.leaf(root_meter, begin)
    roots.reveal_signed(hub, leaf.signed_values(), [bytes.fromhex(h[2:]) for h in answer["proof"]])
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 0, 700)
    assert [int(v) if v.isdigit() else v for v in answer["leaf"]["values"]][4] == 700


def test_a_second_hub_root_of_an_interval_is_refused(roots, hub, root_meter, root_meter_key,
                                                     hub_service):  # fmt: skip
    begin = grid_time(-1)
    chain = {"chain_id": boa.env.evm.patch.chain_id, "roots": str(roots.address)}
    hub_service.ingestor.ingest_signed([signed_reading(root_meter_key, root_meter, begin, 0, 700,
                                                       **chain)])  # fmt: skip
    publish_interval(hub_service.store, SECTOR, begin, INTERVAL, send_as(roots, hub))
    with boa.reverts("roots: the sector's hub root of this interval is already published"):
        roots.publish_hub_root(SECTOR, begin, keccak(text="another"), sender=hub)

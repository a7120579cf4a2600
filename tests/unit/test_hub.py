"""The data hub: its trees are OpenZeppelin's, its checks refuse with a reason,
its proofs go to the meter's owner only (Sign-In with Ethereum) until revealed."""

import pytest
from eth_utils import keccak

from openkwh.hub.ingest import salt_for
from openkwh.hub.leaves import Leaf
from openkwh.hub.store import open_store
from openkwh.hub.tree import MerkleTree, TreeError
from openkwh.merkle import load_multiproof, root_from_proof
from tests.fixtures.accounts import keyed_account
from tests.fixtures.hub import (
    BEGIN,
    HOUR,
    SALT_KEY,
    hub_client,
    make_hub,
    sign_in,
    signed_reading,
)
from tests.fixtures.roots import HUB_LEAF_TYPES, SIGNED_LEAF_TYPES, build_tree

GSRN = "571313180400012349"


def sample_leaves(count: int, signed: bool = False) -> list[Leaf]:
    leaves = []
    for i in range(count):
        extra = {}
        if signed:
            extra = {"import_wh": 5_000 + i, "export_wh": 4_000 + i, "v": 27 + i % 2,
                     "r": keccak(text=f"r{i}"), "s": keccak(text=f"s{i}")}  # fmt: skip
        leaves.append(Leaf(keccak(text=f"meter-{i}"), BEGIN, BEGIN + HOUR, i * 7, 100 + i,
                           keccak(text=f"digest-{i}"), keccak(text=f"salt-{i}"), **extra))  # fmt: skip
    return leaves


# TREE


@pytest.mark.parametrize("count", [1, 2, 7, 33])
def test_tree_hub_leaves_match_openzeppelin(count):
    leaves = sample_leaves(count)
    expected = build_tree(HUB_LEAF_TYPES, [leaf.hub_values() for leaf in leaves])
    tree = MerkleTree([leaf.hub_hash() for leaf in leaves])
    assert tree.root == expected.root
    for leaf, proof in zip(leaves, expected.proofs, strict=True):
        assert tree.proof(leaf.hub_hash()) == proof


def test_tree_signed_leaves_match_openzeppelin():
    leaves = sample_leaves(9, signed=True)
    expected = build_tree(SIGNED_LEAF_TYPES, [leaf.signed_values() for leaf in leaves])
    tree = MerkleTree([leaf.signed_hash() for leaf in leaves])
    assert tree.root == expected.root
    assert [tree.proof(leaf.signed_hash()) for leaf in leaves] == expected.proofs


def test_tree_multiproof_matches_openzeppelin():
    leaves = sample_leaves(40)
    picked = [3, 17, 18, 39]
    expected = build_tree(HUB_LEAF_TYPES, [leaf.hub_values() for leaf in leaves], picked)
    tree = MerkleTree([leaf.hub_hash() for leaf in leaves])
    ordered, proof, flags = tree.multiproof([leaves[i].hub_hash() for i in picked])
    by_hash = {leaf.hub_hash(): leaf for leaf in leaves}
    want = expected.multiproof
    assert [list(map(str, by_hash[h].hub_values()[1:5])) for h in ordered] == [
        value[1:5] for value in want["leaves"]
    ]
    assert ["0x" + h.hex() for h in proof] == want["proof"]
    assert flags == want["proofFlags"]


def test_tree_proof_of_a_leaf_not_in_it_is_refused():
    tree = MerkleTree([leaf.hub_hash() for leaf in sample_leaves(5)])
    with pytest.raises(TreeError, match="is not in the tree"):
        tree.proof(keccak(text="stranger"))


def test_tree_proofs_lead_to_the_root():
    leaves = sample_leaves(1_000)
    tree = MerkleTree([leaf.hub_hash() for leaf in leaves])
    assert tree.depth == 10
    for leaf in leaves[::97]:
        assert root_from_proof(leaf.hub_hash(), tree.proof(leaf.hub_hash())) == tree.root


# INGEST: METER-SIGNED READINGS


@pytest.fixture
def meter_id():
    return keccak(text="hub-meter-1")


@pytest.fixture
def hub(hub_store, hub_meter_key, owner_key, meter_id):
    hub_store.add_meter(meter_id, hub_meter_key.address, owner_key.address, "DK1", 17_250, GSRN)
    return make_hub(hub_store)


def test_ingest_signed_reading_is_stored_with_the_hub_salt(hub, hub_meter_key, meter_id):
    outcome = hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    assert outcome.as_json() == {"accepted": 1, "refused": []}
    leaf = hub.store.leaf(meter_id, BEGIN)
    assert (leaf.consumed_wh, leaf.produced_wh, leaf.signed) == (740, 0, True)
    assert leaf.salt == salt_for(SALT_KEY, meter_id, BEGIN)


def forged(key, meter_id):
    reading = signed_reading(key, meter_id, BEGIN, 0, 740)
    reading["consumed_wh"] = 74  # changed after signing
    return reading


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda key, m: signed_reading(keyed_account("not-the-meter"), m, BEGIN, 0, 740),
         "bad signature: signed by"),
        (forged, "bad signature: signed by"),
        (lambda key, m: signed_reading(key, m, BEGIN, 0, 740, chain_id=1),
         "bad signature: signed by"),
        (lambda key, m: signed_reading(key, keccak(text="stranger"), BEGIN, 0, 740),
         "unknown meter: 0x"),
        (lambda key, m: signed_reading(key, m, BEGIN, 0, 17_251),
         "absurd Wh: consumed_wh is 17251 Wh, above the 17250 Wh"),
        (lambda key, m: {**signed_reading(key, m, BEGIN, 0, 740), "produced_wh": -5},
         "negative Wh: produced_wh is -5"),
        (lambda key, m: signed_reading(key, m, BEGIN + 60, 0, 740),
         "bad interval: 2026-05-28T20:01:00Z to 2026-05-28T21:01:00Z is not one interval of the "
         "3600 s grid"),
        (lambda key, m: signed_reading(key, m, BEGIN, 0, 740, end=BEGIN + 2 * HOUR),
         "bad interval"),
        (lambda key, m: {**signed_reading(key, m, BEGIN, 0, 740), "v": 29},
         "bad signature: signature v must be 27 or 28"),
        (lambda key, m: {"meter_id": "0x12"}, "bad field"),
    ],
)  # fmt: skip
def test_ingest_signed_refuses_with_a_reason(hub, hub_meter_key, meter_id, make, reason):
    outcome = hub.ingestor.ingest_signed([make(hub_meter_key, meter_id)])
    assert outcome.accepted == 0
    (refusal,) = outcome.refused
    assert refusal["at"] == 0
    assert refusal["reason"].startswith(reason)
    assert hub.store.leaf(meter_id, BEGIN) is None


def test_ingest_signed_overlapping_interval_is_refused(hub, hub_meter_key, meter_id):
    first = signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)
    other = signed_reading(hub_meter_key, meter_id, BEGIN, 0, 750)
    outcome = hub.ingestor.ingest_signed([first, first, other])
    assert outcome.accepted == 1
    assert outcome.refused[0]["reason"].startswith("overlapping interval: meter 0x")
    assert outcome.refused[1]["reason"] == (
        "conflicting measurement: the hub holds (0, 740) Wh (produced, consumed) of "
        f"2026-05-28T20:00:00Z to 2026-05-28T21:00:00Z for meter 0x{meter_id.hex()}, "
        "this reading (0, 750)"
    )
    later = hub.ingestor.ingest_signed([first, other])
    assert [r["reason"].split(":")[0] for r in later.refused] == [
        "overlapping interval", "conflicting measurement"]  # fmt: skip
    assert hub.store.leaf(meter_id, BEGIN).consumed_wh == 740


def test_ingest_signed_after_a_datahub_row_of_other_wh_is_a_conflict(hub, hub_meter_key,
                                                                     meter_id):  # fmt: skip
    """The bridge counts "overlapping interval" as delivered: a reading the hub
    will not publish, because a DataHub row of other Wh came first, must not be."""
    assert hub.ingestor.ingest_csv(HEADER + row(wh="512")).accepted == 1
    outcome = hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    assert outcome.refused[0]["reason"].startswith(
        "conflicting measurement: the hub holds (0, 512) Wh"
    )
    same = hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 512)])
    assert same.refused[0]["reason"].startswith("overlapping interval")


def test_readings_endpoint_answers_per_reading(hub, hub_meter_key, meter_id):
    client = hub_client(hub)
    good = signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)
    bad = signed_reading(hub_meter_key, meter_id, BEGIN + HOUR, 0, 99_999)
    answer = client.post("/api/v1/readings", json=[good, bad])
    assert answer.status_code == 200
    assert answer.get_json()["accepted"] == 1
    assert answer.get_json()["refused"][0]["at"] == 1


# INGEST: DATAHUB FILES

HEADER = "metering_point_id;begin;end;quantity_wh;quality;type\n"


def row(gsrn=GSRN, begin="2026-05-28T20:00:00Z", end="2026-05-28T21:00:00Z", wh="512",
        quality="measured", kind="E17"):  # fmt: skip
    return f"{gsrn};{begin};{end};{wh};{quality};{kind}\n"


def test_csv_consumption_and_production_rows_make_one_leaf(hub, meter_id):
    outcome = hub.ingestor.ingest_csv(HEADER + row() + row(wh="2100", kind="E18"))
    assert outcome.as_json() == {"accepted": 1, "refused": []}
    leaf = hub.store.leaf(meter_id, BEGIN)
    assert (leaf.consumed_wh, leaf.produced_wh, leaf.signed) == (512, 2100, False)


def test_csv_without_a_type_column_is_consumption(hub, meter_id):
    text = "metering_point_id;begin;end;quantity_wh;quality\n"
    text += f"{GSRN};2026-05-28T20:00:00Z;2026-05-28T21:00:00Z;512;E01\n"
    assert hub.ingestor.ingest_csv(text).accepted == 1
    assert hub.store.leaf(meter_id, BEGIN).consumed_wh == 512


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (row(gsrn="571313180400099999"), "unknown meter: metering point 571313180400099999"),
        (row(wh="-1"), "negative Wh: consumed_wh is -1"),
        (row(wh="90000"), "absurd Wh: consumed_wh is 90000 Wh"),
        (row(wh="0,512"), "bad field: quantity_wh must be an integer in Wh"),
        (row(quality="missing"), "missing: the row has no measurement"),
        (row(end="2026-05-28T20:15:00Z"),
         "bad interval: 2026-05-28T20:00:00Z to 2026-05-28T20:15:00Z is not one interval"),
        (row(begin="2026-05-28T22:00:00+02:00", end="2026-05-28T23:00:00+02:00"),
         "bad field: '2026-05-28T22:00:00+02:00' must be UTC"),
        (row(kind="E20"), "bad field: type must be E17"),
    ],
)  # fmt: skip
def test_csv_refuses_a_row_with_a_reason(hub, meter_id, line, reason):
    outcome = hub.ingestor.ingest_csv(HEADER + line)
    assert outcome.accepted == 0
    assert outcome.refused == [{"at": 2, "reason": outcome.refused[0]["reason"]}]
    assert outcome.refused[0]["reason"].startswith(reason)


def test_csv_overlapping_rows_are_refused(hub, meter_id):
    outcome = hub.ingestor.ingest_csv(HEADER + row() + row(wh="600"))
    assert outcome.accepted == 1
    assert outcome.refused[0]["at"] == 3
    assert outcome.refused[0]["reason"] == (
        "overlapping interval: metering point 571313180400012349 has two consumed_wh rows for "
        "2026-05-28T20:00:00Z to 2026-05-28T21:00:00Z"
    )
    again = hub.ingestor.ingest_csv(HEADER + row(wh="2100", kind="E18"))
    assert again.refused[0]["reason"].startswith("overlapping interval: meter 0x")
    assert again.refused[0]["reason"].endswith(
        "has a measurement of 2026-05-28T20:00:00Z to 2026-05-28T21:00:00Z"
    )


def test_csv_bad_header_is_refused(hub):
    outcome = hub.ingestor.ingest_csv("gsrn;from;to;kwh\n" + row())
    assert outcome.refused[0]["reason"].startswith("bad header: expected metering_point_id;begin")


# STORE: POSTGRESQL THROUGH THE SAME CODE


def test_postgres_store_takes_and_gives_leaves(postgres_url, hub_meter_key, owner_key, meter_id):
    store = open_store(postgres_url)
    try:
        store.execute("DROP TABLE IF EXISTS measurements, meters, roots, revealed, nonces")
        store = open_store(postgres_url)
        hub = make_hub(store)
        store.add_meter(meter_id, hub_meter_key.address, owner_key.address, "DK1", 17_250, GSRN)
        outcome = hub.ingestor.ingest_signed([
            signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740),
            signed_reading(hub_meter_key, meter_id, BEGIN, 0, 741),
        ])  # fmt: skip
        assert outcome.accepted == 1
        assert outcome.refused[0]["reason"].startswith("conflicting measurement")
        again = hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
        assert again.refused[0]["reason"].startswith("overlapping interval")
        (leaf,) = store.leaves("DK1", BEGIN)
        assert leaf == store.leaf(meter_id, BEGIN)
        assert (leaf.consumed_wh, leaf.signed) == (740, True)
        store.add_nonce("abc", 1)
        assert store.use_nonce("abc") is True
        assert store.use_nonce("abc") is False
    finally:
        store.close()


# PROOFS BEHIND SIGN-IN WITH ETHEREUM


@pytest.fixture
def published(hub, hub_meter_key, meter_id):
    """The meter's hour of BEGIN, stored and its hub root recorded (the chain is
    test_hub_chain's)."""
    hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    tree = MerkleTree([leaf.hub_hash() for leaf in hub.store.leaves("DK1", BEGIN)])
    hub.store.add_root("DK1", BEGIN, "hub", BEGIN + HOUR, tree.root, "bafy-layer", "bafy-full", 1,
                       None)  # fmt: skip
    return tree


def proof_path(meter_id):
    return f"/api/v1/proofs/0x{meter_id.hex()}/{BEGIN}"


def test_proof_served_to_the_signed_in_owner(hub, published, owner_key, meter_id):
    client = hub_client(hub)
    login = sign_in(client, owner_key)
    assert login.status_code == 200
    answer = client.get(proof_path(meter_id),
                        headers={"Authorization": f"Bearer {login.get_json()['token']}"})  # fmt: skip
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["root"] == "0x" + published.root.hex()
    leaf = hub.store.leaf(meter_id, BEGIN)
    proof = [bytes.fromhex(h[2:]) for h in body["proof"]]
    assert root_from_proof(leaf.hub_hash(), proof) == published.root
    assert body["leaf"]["values"][4] == "740"


def test_proof_refused_without_sign_in(hub, published, meter_id):
    answer = hub_client(hub).get(proof_path(meter_id))
    assert answer.status_code == 401
    assert answer.get_json()["error"].startswith("sign in with the meter owner's address")


def test_proof_refused_to_another_address(hub, published, meter_id):
    client = hub_client(hub)
    token = sign_in(client, keyed_account("neighbour")).get_json()["token"]
    answer = client.get(proof_path(meter_id), headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert answer.get_json()["error"] == "only the meter's owner gets an unrevealed leaf's proof"


def test_proof_public_once_revealed_on_chain(hub_store, hub_meter_key, owner_key, meter_id):
    hub_store.add_meter(meter_id, hub_meter_key.address, owner_key.address, "DK1", 17_250, GSRN)
    asked = []
    hub = make_hub(hub_store, revealed_on_chain=lambda m, b: asked.append((m, b)) or True)
    hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    tree = MerkleTree([leaf.hub_hash() for leaf in hub_store.leaves("DK1", BEGIN)])
    hub_store.add_root("DK1", BEGIN, "hub", BEGIN + HOUR, tree.root, "c", "f", 1, None)
    answer = hub_client(hub).get(proof_path(meter_id))
    assert answer.status_code == 200
    assert asked == [(meter_id, BEGIN)]
    assert hub_store.is_revealed(meter_id, BEGIN)


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"domain": "evil.test"}, 401, "the sign-in is for another domain"),
        ({"expires_in": 2 * 86_400}, 401, "the sign-in must expire within 86400 s"),
        ({"expires_in": -60}, 401, "the sign-in has expired"),
        ({"nonce": "neverissued1"}, 401, "the nonce is not one this hub issued"),
    ],
)  # fmt: skip
def test_sign_in_refused_with_a_reason(hub, owner_key, kwargs, status, reason):
    answer = sign_in(hub_client(hub), owner_key, **kwargs)
    assert answer.status_code == status
    assert answer.get_json()["error"].startswith(reason)


def test_sign_in_replayed_is_refused(hub, owner_key):
    client = hub_client(hub)
    nonce = client.get("/api/v1/siwe/nonce").get_json()["nonce"]
    assert sign_in(client, owner_key, nonce=nonce).status_code == 200
    replay = sign_in(client, owner_key, nonce=nonce)
    assert replay.status_code == 401
    assert replay.get_json()["error"] == "the nonce was used already: a replayed sign-in"


def test_sign_in_signed_by_another_key_is_refused(hub, owner_key):
    impostor = keyed_account("impostor")

    class Impostor:
        """Names the owner's address in the message, signs with its own key."""

        address = owner_key.address
        sign_message = staticmethod(impostor.sign_message)

    answer = sign_in(hub_client(hub), Impostor)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "the signature is not the address's"


def test_ingest_after_the_interval_is_published_is_refused(hub, hub_meter_key, meter_id):
    hub.store.add_root("DK1", BEGIN, "hub", BEGIN + HOUR, keccak(text="root"), "c", "f", 1, None)
    outcome = hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    assert outcome.refused[0]["reason"] == (
        "published interval: the DK1 roots of 2026-05-28T20:00:00Z to 2026-05-28T21:00:00Z "
        "are on chain already"
    )
    late = hub.ingestor.ingest_csv(HEADER + row())
    assert late.refused[0]["reason"].startswith("published interval: the DK1 roots")
    assert hub.store.leaf(meter_id, BEGIN) is None


def test_proof_public_when_the_meter_traded_the_interval(hub_store, hub_meter_key, owner_key,
                                                         meter_id):  # fmt: skip
    hub_store.add_meter(meter_id, hub_meter_key.address, owner_key.address, "DK1", 17_250, GSRN)
    hub = make_hub(hub_store, revealed_on_chain=lambda m, b: False)
    hub.traded_on_chain = lambda m, b: (m, b) == (meter_id, BEGIN)
    hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    tree = MerkleTree([leaf.hub_hash() for leaf in hub_store.leaves("DK1", BEGIN)])
    hub_store.add_root("DK1", BEGIN, "hub", BEGIN + HOUR, tree.root, "c", "f", 1, None)
    answer = hub_client(hub).get(proof_path(meter_id))
    assert answer.status_code == 200
    assert answer.get_json()["root"] == "0x" + tree.root.hex()
    hub.traded_on_chain = lambda m, b: False
    assert hub_client(hub).get(proof_path(meter_id)).status_code == 401


# MULTIPROOFS OF TRADED HOURS (keeper reveal-traded)


@pytest.fixture
def three_traded(hub_store, owner_key):
    """Three meters' hours of BEGIN under one hub root; the first two traded it."""
    keys = [keyed_account(f"multi-key-{i}") for i in range(3)]
    ids = [keccak(text=f"multi-meter-{i}") for i in range(3)]
    for key, meter in zip(keys, ids, strict=True):
        hub_store.add_meter(meter, key.address, owner_key.address, "DK1", 17_250)
    hub = make_hub(hub_store, revealed_on_chain=lambda m, b: False)
    hub.traded_on_chain = lambda m, b: m in ids[:2] and b == BEGIN
    for i, (key, meter) in enumerate(zip(keys, ids, strict=True)):
        hub.ingestor.ingest_signed([signed_reading(key, meter, BEGIN, 0, 500 + i)])
    tree = MerkleTree([leaf.hub_hash() for leaf in hub_store.leaves("DK1", BEGIN)])
    hub_store.add_root("DK1", BEGIN, "hub", BEGIN + HOUR, tree.root, "c", "f", 3, None)
    return hub, ids, tree


def multiproof_path(*meters):
    return f"/api/v1/multiproofs/DK1/{BEGIN}?meters=" + ",".join("0x" + m.hex() for m in meters)


def test_multiproof_of_traded_hours_is_served_to_anyone(three_traded):
    hub, ids, tree = three_traded
    answer = hub_client(hub).get(multiproof_path(ids[1], ids[0]))
    assert answer.status_code == 200
    multi = load_multiproof(answer.get_data(as_text=True))
    assert multi["root"] == tree.root
    assert sorted(leaf[0] for leaf in multi["leaves"]) == sorted(ids[:2])
    assert sorted(leaf[4] for leaf in multi["leaves"]) == [500, 501]


def test_multiproof_refuses_a_leaf_neither_revealed_nor_traded(three_traded):
    hub, ids, _ = three_traded
    answer = hub_client(hub).get(multiproof_path(ids[0], ids[2]))
    assert answer.status_code == 403
    assert answer.get_json()["error"] == (
        f"meter 0x{ids[2].hex()}'s leaf is neither revealed nor traded: only its owner gets "
        "it, on its own"
    )


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("meters=0xzz", 400, "meters: a comma-separated list of 32-byte meter ids in hex"),
        ("meters=", 400, "meters: 2 to 24 distinct meter ids"),
        ("sector", 404, "no published hub root of SE3 for this interval"),
    ],
)
def test_multiproof_refuses_bad_requests(three_traded, query, status, reason):
    hub, ids, _ = three_traded
    path = multiproof_path(ids[0], ids[1])
    path = path.replace("/DK1/", "/SE3/") if query == "sector" else f"{path.split('?')[0]}?{query}"
    answer = hub_client(hub).get(path)
    assert answer.status_code == status
    assert answer.get_json()["error"] == reason


def test_publish_cut_off_after_the_hub_root_completes_when_run_again(hub, hub_meter_key,
                                                                      meter_id):  # fmt: skip
    """The node goes down between the hub root and the signed one: run again,
    the hub root is not sent twice (the contract would refuse it) and the
    signed root goes out."""
    from openkwh.hub.publish import publish_interval

    hub.ingestor.ingest_signed([signed_reading(hub_meter_key, meter_id, BEGIN, 0, 740)])
    sent = []

    def node_down_after_one(function, args):
        if sent:
            raise ConnectionError("the node went away")
        sent.append(function)
        return "0x01"

    with pytest.raises(ConnectionError):
        publish_interval(hub.store, "DK1", BEGIN, HOUR, node_down_after_one)
    assert [root["kind"] for root in hub.store.roots("DK1", BEGIN)] == ["hub"]

    def send(function, args):
        sent.append(function)
        return "0x02"

    (again,) = publish_interval(hub.store, "DK1", BEGIN, HOUR, send)
    assert (again.kind, sent) == ("signed", ["publish_hub_root", "publish_root"])
    assert [root["kind"] for root in hub.store.roots("DK1", BEGIN)] == ["hub", "signed"]
    assert publish_interval(hub.store, "DK1", BEGIN, HOUR, send) == []


def test_csv_refusals_come_in_the_file_order(hub, meter_id):
    hub.ingestor.ingest_csv(HEADER + row(begin="2026-05-28T19:00:00Z", end="2026-05-28T20:00:00Z"))
    outcome = hub.ingestor.ingest_csv(
        HEADER
        + row(begin="2026-05-28T19:00:00Z", end="2026-05-28T20:00:00Z")  # 2: stored already
        + row(gsrn="571313180400099999")  # 3: unknown meter
        + row(wh="90000")  # 4: absurd
        + row(wh="0,5")  # 5: bad field
        + row()  # 6: accepted
    )
    assert outcome.accepted == 1
    assert [(r["at"], r["reason"].split(":")[0]) for r in outcome.refused] == [
        (2, "overlapping interval"), (3, "unknown meter"), (4, "absurd Wh"), (5, "bad field")]  # fmt: skip

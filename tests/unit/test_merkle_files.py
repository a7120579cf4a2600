"""openkwh.merkle: trees, proofs and multiproofs as OpenZeppelin's library makes
them, the flag bitmap of reveal_many, and the files the commands read, with
what each bad file is refused for."""

import json

import pytest

from openkwh import merkle
from tests.fixtures.roots import build_tree, filler_leaves, hub_leaf, meter_id_for

BEGIN = 1_781_949_600  # on the hour


def values(count=5):
    return [*filler_leaves(count - 1, BEGIN), hub_leaf(meter_id_for("mine"), BEGIN, 0, 740)]


@pytest.fixture(scope="module")
def tree():
    return build_tree(merkle.HUB_LEAF_TYPES, values(), multiproof=[1, 4])


def test_build_tree_is_the_javascript_library_s(tree):
    nodes = merkle.build_tree(merkle.HUB_LEAF_TYPES, values())
    assert nodes[0] == tree.root
    assert ["0x" + node.hex() for node in nodes] == tree.dump["tree"]


def test_load_dump_of_the_javascript_library(tree):
    types, loaded, nodes = merkle.load_dump(json.dumps(tree.dump))
    assert types == merkle.HUB_LEAF_TYPES
    assert loaded == values()
    assert nodes[0] == tree.root


def test_load_dump_with_another_root_refused(tree):
    dump = dict(tree.dump, tree=["0x" + "11" * 32, *tree.dump["tree"][1:]])
    with pytest.raises(merkle.ProofFileError, match="is not the root of its values"):
        merkle.load_dump(json.dumps(dump))


def test_multiproof_root_and_flags(tree):
    multiproof = tree.multiproof
    leaves = [
        merkle.leaf_hash(merkle.HUB_LEAF_TYPES, merkle.parse_value(merkle.HUB_LEAF_TYPES, leaf))
        for leaf in multiproof["leaves"]
    ]
    proof = [bytes.fromhex(h[2:]) for h in multiproof["proof"]]
    assert merkle.root_from_multiproof(leaves, proof, multiproof["proofFlags"]) == tree.root
    with pytest.raises(ValueError, match="flags, not"):
        merkle.root_from_multiproof(leaves, proof, [*multiproof["proofFlags"], True])


def test_pack_flags_bit_i_of_word_i_div_256():
    flags = [False] * 300
    flags[0] = flags[255] = flags[256] = flags[299] = True
    assert merkle.pack_flags(flags) == [1 | 1 << 255, 1 | 1 << 43]
    assert merkle.pack_flags([]) == []


def proof_file(tree, **changes):
    document = merkle.proof_document(
        "0x6fb64f7b665ca99b41A3aF8627527D4B51f58F93",
        merkle.HUB_LEAF_TYPES,
        values()[-1],
        merkle.build_tree(merkle.HUB_LEAF_TYPES, values()),
        merkle.build_tree(merkle.HUB_LEAF_TYPES, values()).index(
            merkle.leaf_hash(merkle.HUB_LEAF_TYPES, values()[-1])
        ),
    )
    return json.dumps({**document, **changes})


def test_load_proof_of_a_leaf(tree):
    loaded = merkle.load_proof(proof_file(tree))
    assert loaded["value"] == values()[-1]
    assert loaded["root"] == tree.root
    assert loaded["proof"] == tree.proofs[-1]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"format": "standard-v1"}, 'expected a proof file with "format": "openkwh-proof-v1"'),
        ({"leafEncoding": ["bytes32"]}, "leafEncoding must be the hub leaf's"),
        ({"value": ["0x12", "1", "2", "3", "4", "0x1", "0x2"]}, r"value\[0\]: expected 32 bytes"),
        (
            {
                "value": [
                    "0x" + "00" * 32,
                    str(2**64),
                    "2",
                    "3",
                    "4",
                    "0x" + "00" * 32,
                    "0x" + "00" * 32,
                ]
            },
            r"value\[1\]: 18446744073709551616 is outside uint64",
        ),
        ({"value": ["0x" + "00" * 32] * 3}, "expected 7 values"),
        ({"proof": ["0xzz"]}, r"proof\[0\]: not hex"),
        ({"proof": []}, "the proof does not lead from the leaf to the file's root"),
    ],
)
def test_load_proof_bad_file_refused(tree, changes, reason):
    with pytest.raises(merkle.ProofFileError, match=reason):
        merkle.load_proof(proof_file(tree, **changes))


def test_load_proof_not_json_refused():
    with pytest.raises(merkle.ProofFileError, match="not JSON"):
        merkle.load_proof("{")


def test_load_multiproof_of_signed_leaves_refused(tree):
    document = {
        "format": merkle.MULTIPROOF_FORMAT,
        "publisher": "0x6fb64f7b665ca99b41A3aF8627527D4B51f58F93",
        "root": "0x" + tree.root.hex(),
        "leafEncoding": merkle.SIGNED_LEAF_TYPES,
        **tree.multiproof,
    }
    with pytest.raises(merkle.ProofFileError, match="reveal-many takes hub leaves only"):
        merkle.load_multiproof(json.dumps(document))

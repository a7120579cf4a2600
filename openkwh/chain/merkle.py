"""OpenZeppelin StandardMerkleTree proofs as MeasurementRoots takes them.

Pure logic, no I/O: the leaf hash, a tree and its proofs, a multiproof's
root, the multiproof's flags packed as the bitmap ``MeasurementRoots.reveal_many``
takes (flag i is bit ``i % 256`` of word ``i // 256``), and the JSON files of
trees and proofs (parsed from text; the callers read and write the files).

It lives in ``openkwh.chain`` because the meter bridge, which installs that
package alone, writes its own trees with it (``meter-bridge export-leaves``);
``openkwh.merkle`` re-exports it for the rest of the project."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from Crypto.Hash import keccak as _keccak
from eth_abi import encode as abi_encode
from eth_utils import keccak

HUB_LEAF_TYPES = ["bytes32", "uint64", "uint64", "uint64", "uint64", "bytes32", "bytes32"]
SIGNED_LEAF_TYPES = [*HUB_LEAF_TYPES[:5], "uint64", "uint64", "bytes32", "bytes32", "uint8"]
SIGNED_LEAF_TYPES += ["bytes32", "bytes32"]
FLAG_WORD_BITS = 256


def leaf_hash(types: Sequence[str], values: Sequence) -> bytes:
    """StandardMerkleTree's leaf: keccak256(keccak256(abi.encode(values)))."""
    return keccak(keccak(abi_encode(list(types), list(values))))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def root_from_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """OpenZeppelin's ``processProof``: each step hashes the pair in ascending order."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def root_from_multiproof(
    leaves: Sequence[bytes], proof: Sequence[bytes], flags: Sequence[bool]
) -> bytes:
    """OpenZeppelin's ``processMultiProof``; ValueError when the parts do not fit."""
    if len(leaves) + len(proof) != len(flags) + 1:
        raise ValueError(
            f"a multiproof of {len(leaves)} leaves and {len(proof)} hashes has "
            f"{len(leaves) + len(proof) - 1} flags, not {len(flags)}"
        )
    queue, proof_at = list(leaves), 0
    for flag in flags:
        if not queue:
            raise ValueError("the multiproof's flags take more hashes than it has")
        a = queue.pop(0)
        if flag:
            if not queue:
                raise ValueError("the multiproof's flags take more hashes than it has")
            b = queue.pop(0)
        else:
            b, proof_at = proof[proof_at], proof_at + 1
        queue.append(hash_pair(a, b))
    if flags:
        return queue[-1]
    return leaves[0] if leaves else proof[0]


def pack_flags(flags: Sequence[bool]) -> list[int]:
    """A multiproof's ``proofFlags`` as ``reveal_many`` takes them: ceil(n / 256)
    words, flag i in bit ``i % 256`` of word ``i // 256``."""
    words = [0] * (-(-len(flags) // FLAG_WORD_BITS))
    for i, flag in enumerate(flags):
        if flag:
            words[i // FLAG_WORD_BITS] |= 1 << (i % FLAG_WORD_BITS)
    return words


# FILES
#
# A tree of leaves is OpenZeppelin's own dump (``StandardMerkleTree.dump()``,
# format "standard-v1"). A proof of one leaf, as a data hub serves it and
# ``openkwh prosumer reveal`` reads it, is this JSON object:
#
#   {"format": "openkwh-proof-v1",
#    "publisher": "0x…",            the account that published the root
#    "root": "0x…",                 the root, 32 bytes hex
#    "leafEncoding": [...],         HUB_LEAF_TYPES or SIGNED_LEAF_TYPES
#    "value": [...],                the leaf's values in that order: bytes32 as
#                                   0x-hex, integers as decimal strings or numbers
#    "proof": ["0x…", ...]}         the sibling hashes from the leaf up
#
# and a multiproof of several hub leaves of one root (``reveal-many``) is
#
#   {"format": "openkwh-multiproof-v1", "publisher", "root", "leafEncoding",
#    "leaves": [[...], ...],        in the multiproof's order
#    "proof": ["0x…", ...],
#    "proofFlags": [true, false, ...]}
#
# the fields of OpenZeppelin's ``tree.getMultiProof(indexes)`` with the
# publisher and the root beside them.

PROOF_FORMAT = "openkwh-proof-v1"
MULTIPROOF_FORMAT = "openkwh-multiproof-v1"
DUMP_FORMAT = "standard-v1"
UINT64_MAX = 2**64 - 1


class ProofFileError(ValueError):
    """A tree, proof or multiproof file that is not what it should be."""


def _hex32(text, where: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise ProofFileError(f"{where}: expected 0x and 64 hex digits, got {text!r}")
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError:
        raise ProofFileError(f"{where}: not hex: {text!r}") from None
    if len(raw) != 32:
        raise ProofFileError(f"{where}: expected 32 bytes, got {len(raw)}")
    return raw


def _integer(raw, bits: int, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ProofFileError(f"{where}: expected an integer, got {raw!r}")
    try:
        value = int(raw, 0) if isinstance(raw, str) else raw
    except ValueError:
        raise ProofFileError(f"{where}: not an integer: {raw!r}") from None
    if not 0 <= value < 2**bits:
        raise ProofFileError(f"{where}: {value} is outside uint{bits}")
    return value


def parse_value(types: Sequence[str], raw: Sequence, where: str = "value") -> tuple:
    """A leaf's values from JSON, checked against ``types``."""
    if not isinstance(raw, list) or len(raw) != len(types):
        raise ProofFileError(f"{where}: expected {len(types)} values ({', '.join(types)})")
    parsed = []
    for i, (kind, item) in enumerate(zip(types, raw, strict=True)):
        if kind == "bytes32":
            parsed.append(_hex32(item, f"{where}[{i}]"))
        elif kind.startswith("uint"):
            parsed.append(_integer(item, int(kind[4:]), f"{where}[{i}]"))
        else:
            raise ProofFileError(f"{where}: type {kind} is not a leaf type")
    return tuple(parsed)


def json_value(value: Sequence) -> list:
    """A leaf's values as the files hold them."""
    return ["0x" + v.hex() if isinstance(v, bytes) else str(v) for v in value]


def leaf_types(raw) -> list[str]:
    types = list(raw) if isinstance(raw, list) else None
    if types not in (HUB_LEAF_TYPES, SIGNED_LEAF_TYPES):
        raise ProofFileError(
            f"leafEncoding must be the hub leaf's ({','.join(HUB_LEAF_TYPES)}) or the "
            f"meter-signed leaf's ({','.join(SIGNED_LEAF_TYPES)}), got {raw!r}"
        )
    return types


PROGRESS_EVERY = 500_000  # inner nodes between progress lines


def tree_nodes(
    leaf_hashes: Sequence[bytes], progress: Callable[[str], None] | None = None
) -> list[bytes]:
    """StandardMerkleTree's array of ``2n - 1`` nodes over ``leaf_hashes`` (any
    order): the hashes sorted ascending and laid out from the end (the smallest
    last), each inner node the keccak256 of its two children in ascending order;
    ``nodes[0]`` is the root. A national tree has millions of inner nodes:
    ``progress``, when given, gets a line every PROGRESS_EVERY of them."""
    if not leaf_hashes:
        raise ValueError("a tree needs at least one leaf")
    count = len(leaf_hashes)
    nodes: list[bytes] = [b""] * (count - 1)
    nodes.extend(sorted(leaf_hashes, reverse=True))  # rank r (ascending) at 2n - 2 - r
    new = _keccak.new  # hashing directly: eth_utils' checks double a national tree's time
    started = time.monotonic()
    for node in range(count - 2, -1, -1):
        left, right = nodes[2 * node + 1], nodes[2 * node + 2]
        nodes[node] = new(
            digest_bits=256, data=left + right if left < right else right + left
        ).digest()
        if progress is not None and node % PROGRESS_EVERY == 0:
            progress(f"tree: {count - 1 - node:,} of {count - 1:,} inner nodes, "
                     f"{time.monotonic() - started:.0f} s")  # fmt: skip
    return nodes


def build_tree(types: Sequence[str], values: Sequence[Sequence]) -> list[bytes]:
    """StandardMerkleTree's array of nodes for ``values`` (``tree_nodes`` of
    their leaf hashes): ``tree[0]`` is the root."""
    if not values:
        raise ProofFileError("a tree needs at least one leaf")
    return tree_nodes([leaf_hash(types, value) for value in values])


def tree_proof(nodes: Sequence[bytes], index: int) -> list[bytes]:
    """The proof of the node at ``index`` of a tree's array."""
    proof = []
    while index > 0:
        proof.append(nodes[index - 1 if index % 2 == 0 else index + 1])
        index = (index - 1) // 2
    return proof


def load_dump(text: str) -> tuple[list[str], list[tuple], list[bytes]]:
    """(types, values, nodes) of an OpenZeppelin ``StandardMerkleTree.dump()``;
    the tree is rebuilt from the values and must match the dump's."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProofFileError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != DUMP_FORMAT:
        raise ProofFileError(
            f'expected an OpenZeppelin StandardMerkleTree dump ("format": "{DUMP_FORMAT}")'
        )
    types = leaf_types(data.get("leafEncoding"))
    entries = data.get("values")
    if not isinstance(entries, list) or not entries:
        raise ProofFileError("the dump has no values")
    values = [
        parse_value(types, entry.get("value") if isinstance(entry, dict) else None, f"values[{i}]")
        for i, entry in enumerate(entries)
    ]
    nodes = build_tree(types, values)
    given = data.get("tree")
    if isinstance(given, list) and given and _hex32(given[0], "tree[0]") != nodes[0]:
        raise ProofFileError(
            f"the dump's root {given[0]} is not the root of its values, 0x{nodes[0].hex()}"
        )
    return types, values, nodes


def _load(text: str, expected: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProofFileError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != expected:
        raise ProofFileError(f'expected a proof file with "format": "{expected}"')
    for key in ("publisher", "root", "leafEncoding", "proof"):
        if key not in data:
            raise ProofFileError(f"the proof file has no {key!r}")
    if not isinstance(data["proof"], list):
        raise ProofFileError("proof: expected a list of 0x hashes")
    return data


def load_proof(text: str) -> dict:
    """A proof file (``PROOF_FORMAT``) checked: its leaf leads to its root."""
    data = _load(text, PROOF_FORMAT)
    types = leaf_types(data["leafEncoding"])
    value = parse_value(types, data.get("value"))
    proof = [_hex32(h, f"proof[{i}]") for i, h in enumerate(data["proof"])]
    root = _hex32(data["root"], "root")
    if root_from_proof(leaf_hash(types, value), proof) != root:
        raise ProofFileError("the proof does not lead from the leaf to the file's root")
    return {
        "publisher": data["publisher"],
        "root": root,
        "types": types,
        "value": value,
        "proof": proof,
    }


def load_multiproof(text: str) -> dict:
    """A multiproof file (``MULTIPROOF_FORMAT``) of hub leaves, checked: its
    leaves lead to its root."""
    data = _load(text, MULTIPROOF_FORMAT)
    types = leaf_types(data["leafEncoding"])
    if types != HUB_LEAF_TYPES:
        raise ProofFileError("reveal-many takes hub leaves only; reveal a signed leaf on its own")
    leaves = data.get("leaves")
    if not isinstance(leaves, list) or not leaves:
        raise ProofFileError("leaves: expected a list of leaves")
    values = [parse_value(types, leaf, f"leaves[{i}]") for i, leaf in enumerate(leaves)]
    proof = [_hex32(h, f"proof[{i}]") for i, h in enumerate(data["proof"])]
    flags = data.get("proofFlags")
    if not isinstance(flags, list) or not all(isinstance(flag, bool) for flag in flags):
        raise ProofFileError("proofFlags: expected a list of true and false")
    root = _hex32(data["root"], "root")
    hashes = [leaf_hash(types, value) for value in values]
    if root_from_multiproof(hashes, proof, flags) != root:
        raise ProofFileError("the multiproof does not lead from the leaves to the file's root")
    return {
        "publisher": data["publisher"], "root": root, "types": types,
        "leaves": values, "proof": proof, "flags": flags,
    }  # fmt: skip


def proof_document(
    publisher: str, types: Sequence[str], value: Sequence, nodes: Sequence[bytes], index: int
) -> dict:
    """The proof file of the leaf at ``index`` of a tree's array."""
    return {
        "format": PROOF_FORMAT,
        "publisher": publisher,
        "root": "0x" + nodes[0].hex(),
        "leafEncoding": list(types),
        "value": json_value(value),
        "proof": ["0x" + h.hex() for h in tree_proof(nodes, index)],
    }


def dump_document(types: Sequence[str], values: Sequence[Sequence], nodes: Sequence[bytes]) -> dict:
    """OpenZeppelin's ``StandardMerkleTree.dump()`` of ``values`` (in their order)
    and the tree ``build_tree`` made of them: what ``load_dump`` reads back."""
    index = {digest: i for i, digest in enumerate(nodes)}
    return {
        "format": DUMP_FORMAT,
        "leafEncoding": list(types),
        "tree": ["0x" + node.hex() for node in nodes],
        "values": [
            {"value": json_value(value), "treeIndex": index[leaf_hash(types, value)]}
            for value in values
        ],
    }

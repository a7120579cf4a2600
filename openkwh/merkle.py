"""OpenZeppelin StandardMerkleTree proofs as MeasurementRoots takes them.

Pure logic, no I/O: the leaf hash, a proof's root, a multiproof's root, and
the multiproof's flags packed as the bitmap ``MeasurementRoots.reveal_many``
takes (flag i is bit ``i % 256`` of word ``i // 256``)."""

from __future__ import annotations

from collections.abc import Sequence

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


def root_from_multiproof(leaves: Sequence[bytes], proof: Sequence[bytes], flags: Sequence[bool]) -> bytes:
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

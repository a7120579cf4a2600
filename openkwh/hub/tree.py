"""The hub's trees: OpenZeppelin's StandardMerkleTree (npm ``@openzeppelin/merkle-tree``)
over leaf hashes, found by hash. The layout and proofs are ``openkwh.chain.merkle``'s
(``tree_nodes``, ``tree_proof``), which the meter bridge and the commands use too.

The library's layout, so that its proofs are the library's proofs: the leaf hashes
sorted ascending, laid out from the end of a heap array of ``2n - 1`` nodes (the
smallest last), each inner node the keccak256 of its two children in ascending
order. A proof is the sibling hashes from the leaf up; a multiproof is the
library's ``getMultiProof`` (leaves, proof, proofFlags).

A national tree (3.3 M leaves) holds about 6.6 M nodes of 32 bytes: about 0.5 GB
in Python. Leaves are found by binary search over the sorted leaf layer, so no
index beside the tree is needed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from openkwh.chain.merkle import tree_nodes, tree_proof


class TreeError(ValueError):
    """A leaf not in the tree, or an empty tree."""


class MerkleTree:
    def __init__(self, leaf_hashes: Sequence[bytes], progress: Callable[[str], None] | None = None):
        """Builds the tree of ``leaf_hashes`` (StandardMerkleTree leaf hashes, any order)."""
        if not leaf_hashes:
            raise TreeError("a tree needs at least one leaf")
        self.nodes = tree_nodes(leaf_hashes, progress)
        self.count = len(leaf_hashes)

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    @property
    def depth(self) -> int:
        """The longest proof, in hashes."""
        return (2 * self.count - 2).bit_length() - 1 if self.count > 1 else 0

    def index_of(self, leaf_hash: bytes) -> int:
        """The heap index of ``leaf_hash``: a binary search over the leaf layer,
        which holds the hashes in descending order from index ``n - 1``."""
        nodes, low, high = self.nodes, self.count - 1, 2 * self.count - 1
        while low < high:  # first index whose hash is <= leaf_hash
            middle = (low + high) // 2
            if nodes[middle] > leaf_hash:
                low = middle + 1
            else:
                high = middle
        if low == 2 * self.count - 1 or nodes[low] != leaf_hash:
            raise TreeError(f"leaf 0x{leaf_hash.hex()} is not in the tree")
        return low

    def proof(self, leaf_hash: bytes) -> list[bytes]:
        """The library's ``getProof``: sibling hashes from the leaf up."""
        return tree_proof(self.nodes, self.index_of(leaf_hash))

    def multiproof(self, leaf_hashes: Sequence[bytes]) -> tuple[list, list, list]:
        """The library's ``getMultiProof``: (leaf hashes in the proof's order, proof, flags)."""
        indices = sorted({self.index_of(h) for h in leaf_hashes}, reverse=True)
        if len(indices) != len(leaf_hashes):
            raise TreeError("a multiproof needs distinct leaves")
        stack, proof, flags = list(indices), [], []
        while stack and stack[0] > 0:
            index = stack.pop(0)
            sibling = index - 1 if index % 2 == 0 else index + 1
            if stack and stack[0] == sibling:
                flags.append(True)
                stack.pop(0)
            else:
                flags.append(False)
                proof.append(self.nodes[sibling])
            stack.append((index - 1) // 2)
        if not indices:
            proof.append(self.root)
        return [self.nodes[i] for i in indices], proof, flags


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

"""Publishing an interval: the trees, their roots on chain, their leaf sets by CID.

For a sector and interval the hub builds up to two trees of the stored leaves:
- the hub tree, of every meter's hub leaf (MeasurementRoots' ``HubLeaf``),
  whose root goes on chain with ``publish_hub_root``: the hub vouches for it;
- the signed tree, of the meter-signed leaves only (``SignedLeaf``), whose root
  goes on chain with ``publish_root``: each leaf counts by its own signature.

Each tree's data is kept content-addressed (CIDv1, raw codec, sha2-256, as the
meter bridge addresses its batches: ``meter_bridge.content``):
- the leaf hashes, sorted as the tree's leaf layer (32 bytes each): public,
  put to kubo when one is configured. Anyone can rebuild the root from them
  and count the leaves; an owner who holds its leaf finds its hash there. They
  say nothing of a leaf's values (salted);
- the full leaf set (each leaf's ABI encoding, 224 or 384 bytes, in the same
  order): kept by the hub in its blob store, never put to a public node: it
  holds every meter's values and salts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from meter_bridge.content import BlobStore, Kubo, cid_of
from openkwh.hub.leaves import Leaf, word
from openkwh.hub.store import Store
from openkwh.hub.tree import MerkleTree


@dataclass
class Published:
    kind: str  # "hub" or "signed"
    tree: MerkleTree
    leaves: list[Leaf]
    cid: str  # of the leaf hashes
    leaves_cid: str  # of the full leaf set
    tx_hash: str | None


def encode_leaf(leaf: Leaf, signed: bool) -> bytes:
    values = leaf.signed_values() if signed else leaf.hub_values()
    return b"".join(value if isinstance(value, bytes) else word(value) for value in values)


def build(leaves: list[Leaf], signed: bool, progress=None) -> tuple[MerkleTree, bytes, bytes]:
    """The tree of ``leaves``, its leaf layer's bytes and the full leaf set's bytes."""
    hashes = [leaf.signed_hash() if signed else leaf.hub_hash() for leaf in leaves]
    tree = MerkleTree(hashes, progress)
    by_hash = dict(zip(hashes, leaves, strict=True))
    layer = tree.nodes[tree.count - 1 :]
    full = b"".join(encode_leaf(by_hash[h], signed) for h in layer)
    return tree, b"".join(layer), full


def publish_interval(
    store: Store,
    sector: str,
    interval_begin: int,
    interval_length: int,
    send: Callable[[str, tuple], str | None],
    blobs: BlobStore | None = None,
    kubo: Kubo | None = None,
    progress=None,
) -> list[Published]:
    """Builds and publishes the interval's trees; ``send(function, args)`` sends a
    MeasurementRoots transaction and returns its hash. A tree with no leaves is
    not published, nor one whose root the store holds already: a publication cut
    off between the hub root and the signed one (the node down, say) completes
    when run again, instead of failing on the hub root forever."""
    published = []
    interval_end = interval_begin + interval_length
    done = {root["kind"] for root in store.roots(sector, interval_begin)}
    for kind, signed in (("hub", False), ("signed", True)):
        if kind in done:
            continue
        leaves = store.leaves(sector, interval_begin, signed=signed)
        if not leaves:
            continue
        tree, layer, full = build(leaves, signed, progress)
        cid, leaves_cid = str(cid_of(layer)), str(cid_of(full))
        if blobs is not None:
            blobs.put(layer)
            blobs.put(full)
        if kubo is not None:
            kubo.block_put(layer)
        if signed:
            tx_hash = send("publish_root", (sector, interval_begin, interval_end, tree.root))
        else:
            tx_hash = send("publish_hub_root", (sector, interval_begin, tree.root))
        store.add_root(sector, interval_begin, kind, interval_end, tree.root, cid, leaves_cid,
                       len(leaves), tx_hash)  # fmt: skip
        published.append(Published(kind, tree, leaves, cid, leaves_cid, tx_hash))
    return published

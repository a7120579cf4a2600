"""OpenZeppelin StandardMerkleTree proofs and files: the code lives in
``openkwh.chain.merkle``, where the meter bridge (which installs ``openkwh.chain``
alone) builds its own trees with it (``meter-bridge export-leaves``)."""

from openkwh.chain.merkle import (  # noqa: F401
    DUMP_FORMAT,
    FLAG_WORD_BITS,
    HUB_LEAF_TYPES,
    MULTIPROOF_FORMAT,
    PROOF_FORMAT,
    SIGNED_LEAF_TYPES,
    UINT64_MAX,
    ProofFileError,
    build_tree,
    dump_document,
    hash_pair,
    json_value,
    leaf_hash,
    leaf_types,
    load_dump,
    load_multiproof,
    load_proof,
    pack_flags,
    parse_value,
    proof_document,
    root_from_multiproof,
    root_from_proof,
    tree_proof,
)

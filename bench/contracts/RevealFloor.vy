# pragma version ~=0.4.3
"""
@title Reveal floor: the least a correct reveal does, in one contract (benchmark only)
@license GNU Affero General Public License v3.0 only
@notice The peer `make bench` measures MeasurementRoots' reveals against
        (issue 18): the same leaves (`HubLeaf`, `SignedLeaf`), the same
        StandardMerkleTree leaf hashing and sorted-pair proofs, the same
        packed multiproof flags and the same EIP-712 `Measurement` typed data
        (under this contract's own domain), with what any correct reveal must
        do and nothing more, in plain Vyper and in one contract, so with no
        call into a backend:
        - the proof to the root, and one cold read that the root is
          published: the sector's hub root of the interval, or (meter-signed
          leaves) the root's publication;
        - one read of the meter's state: registered, published by root, not
          suspended, of the root's sector;
        - the interval on the grid, one interval per leaf;
        - the measurement's slot empty, then written (a fresh slot);
        - SmartMeterBackend's `MeasurementRecorded` log.
        Meter-signed leaves also check the registers, v, and the meter key's
        signature. What SmartMeterBackend.record_revealed does beyond this is
        left out on purpose: the owner epoch, the capacity and connection
        bounds, leaves spanning several intervals.
@custom:security Not for deployment: `setup` lets its deployer write any
                 meter, key and root. It exists so that the bench can put the
                 same meters and roots here as in the real contracts.
"""


from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

from snekmate.utils import ecdsa


# @dev A data hub's leaf, as in MeasurementRoots.
struct HubLeaf:
    meter_id: bytes32  # the salted hash of the meter's GSRN/EAN
    interval_begin: uint64  # unix seconds, on the interval grid
    interval_end: uint64  # unix seconds, one interval after interval_begin
    produced_wh: uint64  # exported Wh over the interval
    consumed_wh: uint64  # imported Wh over the interval
    data_digest: bytes32  # digest of the raw data behind the values
    salt: bytes32  # random, unique per leaf; never signed


# @dev A meter-signed leaf, as in MeasurementRoots.
struct SignedLeaf:
    meter_id: bytes32
    interval_begin: uint64
    interval_end: uint64
    produced_wh: uint64
    consumed_wh: uint64
    import_wh: uint64  # cumulative import register at interval_end, in Wh
    export_wh: uint64  # cumulative export register at interval_end, in Wh
    data_digest: bytes32
    salt: bytes32
    v: uint8  # 27 or 28
    r: bytes32
    s: bytes32  # in the lower half of the curve order


# @dev What `setup` writes of a meter.
struct MeterSetup:
    meter_id: bytes32
    sector_tag: uint256  # top 120 bits of keccak256(sector)
    by_root: bool  # publishes by root
    suspended: bool
    key: address  # the meter key that signs its measurements


# @dev What `setup` writes of a root: a hub root of its sector and interval
# (`by_hub`), or a publication of meter-signed leaves.
struct RootSetup:
    root: bytes32
    sector_tag: uint256  # top 120 bits of keccak256(sector)
    interval_begin: uint256  # unix seconds
    interval_end: uint256  # unix seconds
    by_hub: bool


# @dev The typed data a meter key signs, as in MeasurementRoots.
MEASUREMENT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Measurement(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 producedWh,uint64 consumedWh,uint64 importWh,uint64 exportWh,bytes32 dataDigest)"
)

# @dev Proof and multiproof bounds, as in MeasurementRoots.
MAX_PROOF: constant(uint256) = 40  # hashes
MAX_MULTI: constant(uint256) = 24  # leaves
MAX_MULTI_PROOF: constant(uint256) = 528  # hashes
MAX_MULTI_FLAGS: constant(uint256) = MAX_MULTI + MAX_MULTI_PROOF - 1  # flags
MAX_FLAG_WORDS: constant(uint256) = (MAX_MULTI_FLAGS + 255) // 256  # words of 256 flags
# The multiproof's queue of leaf and computed hashes: a ring of 32 (>= MAX_MULTI).
_QUEUE: constant(uint256) = 32  # hashes
_RING: constant(uint256) = _QUEUE - 1

_UINT64_MASK: constant(uint256) = 2**64 - 1
_TAG_BITS: constant(uint256) = 120
_TAG_MASK: constant(uint256) = 2**120 - 1
# A meter's state, one slot: bits 0-119 its sector tag, and three flags.
_REGISTERED: constant(uint256) = 1 << 192
_SUSPENDED: constant(uint256) = 1 << 193
_BY_ROOT: constant(uint256) = 1 << 196
# A publication, one slot: bits 0-63 interval begin, 64-127 interval end
# (unix seconds), 136-255 the sector tag.
_TAG_SHIFT: constant(uint256) = 136


# @dev Who may call `setup`.
deployer: public(immutable(address))

# @dev The interval length in seconds.
interval_length: public(immutable(uint256))

# @dev Meter id => state (see above); zero for an unknown meter.
_state: HashMap[bytes32, uint256]

# @dev Meter id => the key that signs its measurements.
_keys: HashMap[bytes32, address]

# @dev The hub root of a sector and interval: sector tag => interval begin
# (unix seconds) => root.
hub_root: public(HashMap[uint256, HashMap[uint256, bytes32]])

# @dev Roots of meter-signed leaves: root => publication (see above).
_publications: HashMap[bytes32, uint256]

# @dev Meter id => interval begin (unix seconds) => interval end | produced Wh
# << 64 | consumed Wh << 128; zero until revealed.
measurements: public(HashMap[bytes32, HashMap[uint256, uint256]])


# @dev SmartMeterBackend's event, with the same fields and the same indexed ones.
event MeasurementRecorded:
    meter_id: indexed(bytes32)
    interval_begin: indexed(uint256)
    interval_end: uint256
    produced_wh: uint256
    consumed_wh: uint256
    data_digest: bytes32


@deploy
def __init__(interval_length_: uint256):
    """
    @param interval_length_ Interval length in seconds, as the backend's.
    """
    eip712_domain_separator.__init__("OpenKWh RevealFloor", "1")
    deployer = msg.sender
    interval_length = interval_length_


# PERMISSIONLESS


@external
def reveal(leaf: HubLeaf, proof: DynArray[bytes32, MAX_PROOF]):
    """
    @notice Records a hub leaf proved against its sector's hub root of its
            interval, as MeasurementRoots.reveal does.
    @param leaf The leaf, as in the tree.
    @param proof The sibling hashes from the leaf up to the root.
    """
    root: bytes32 = self._root_of(self._hub_leaf_encoded_hash(leaf), proof)
    tag: uint256 = self._meter_tag(leaf.meter_id)
    begin: uint256 = convert(leaf.interval_begin, uint256)
    # The root is looked up by the meter's sector: a match is of its sector.
    assert self.hub_root[tag][begin] == root, "floor: the proof does not lead to the sector's hub root of this interval"
    self._record(leaf.meter_id, leaf.interval_begin, leaf.interval_end, leaf.produced_wh, leaf.consumed_wh, leaf.data_digest)


@external
def reveal_signed(leaf: SignedLeaf, proof: DynArray[bytes32, MAX_PROOF]):
    """
    @notice Records a meter-signed leaf proved against a published root, once
            the signature is the meter key's, as MeasurementRoots.reveal_signed
            does.
    @param leaf The leaf, as in the tree.
    @param proof The sibling hashes from the leaf up to the root.
    """
    root: bytes32 = self._root_of(
        keccak256(
            abi_encode(
                leaf.meter_id,
                leaf.interval_begin,
                leaf.interval_end,
                leaf.produced_wh,
                leaf.consumed_wh,
                leaf.import_wh,
                leaf.export_wh,
                leaf.data_digest,
                leaf.salt,
                leaf.v,
                leaf.r,
                leaf.s,
            )
        ),
        proof,
    )
    published: uint256 = self._publications[root]
    assert published != 0, "floor: the proof does not lead to a published root"
    assert self._meter_tag(leaf.meter_id) == published >> _TAG_SHIFT, "floor: the root is of another sector than the meter"
    assert convert(leaf.interval_begin, uint256) >= published & _UINT64_MASK and convert(leaf.interval_end, uint256) <= (published >> 64) & _UINT64_MASK, "floor: the leaf is not of the root's interval"
    # A register holds at least what went through it in one interval.
    assert leaf.import_wh >= leaf.consumed_wh and leaf.export_wh >= leaf.produced_wh, "floor: the registers are below the measurement"
    assert leaf.v == 27 or leaf.v == 28, "floor: signature v must be 27 or 28"
    signer: address = ecdsa._recover_vrs(
        eip712_domain_separator._hash_typed_data_v4(
            keccak256(
                abi_encode(
                    MEASUREMENT_TYPEHASH,
                    leaf.meter_id,
                    leaf.interval_begin,
                    leaf.interval_end,
                    leaf.produced_wh,
                    leaf.consumed_wh,
                    leaf.import_wh,
                    leaf.export_wh,
                    leaf.data_digest,
                )
            )
        ),
        convert(leaf.v, uint256),
        convert(leaf.r, uint256),
        convert(leaf.s, uint256),
    )
    assert signer == self._keys[leaf.meter_id], "floor: signer does not match meter"
    self._record(leaf.meter_id, leaf.interval_begin, leaf.interval_end, leaf.produced_wh, leaf.consumed_wh, leaf.data_digest)


@external
def reveal_many(
    leaves: DynArray[HubLeaf, MAX_MULTI],
    proof: DynArray[bytes32, MAX_MULTI_PROOF],
    proof_flags: DynArray[uint256, MAX_FLAG_WORDS],
):
    """
    @notice `reveal` for several hub leaves of one root at once, with one
            OpenZeppelin multiproof, as MeasurementRoots.reveal_many does.
    @param leaves The leaves, in the multiproof's order, all of one interval.
    @param proof The multiproof's sibling hashes.
    @param proof_flags The multiproof's flags as a bitmap (flag i is bit
           i % 256 of word i // 256).
    """
    queue: bytes32[_QUEUE] = empty(bytes32[_QUEUE])
    count: uint256 = 0
    for leaf: HubLeaf in leaves:
        queue[count] = keccak256(self._hub_leaf_encoded_hash(leaf))
        count += 1
    root: bytes32 = self._multi_root(queue, count, proof, proof_flags)
    # One root, so one sector and one interval: the first leaf's.
    tag: uint256 = self._meter_tag(leaves[0].meter_id)
    begin: uint64 = leaves[0].interval_begin
    assert self.hub_root[tag][convert(begin, uint256)] == root, "floor: the proof does not lead to the sector's hub root of this interval"
    for leaf: HubLeaf in leaves:
        assert leaf.interval_begin == begin, "floor: the leaves are not of one interval"
        assert self._meter_tag(leaf.meter_id) == tag, "floor: the root is of another sector than the meter"
        self._record(leaf.meter_id, leaf.interval_begin, leaf.interval_end, leaf.produced_wh, leaf.consumed_wh, leaf.data_digest)


# BENCH ONLY


@external
def setup(meters: DynArray[MeterSetup, 32], roots: DynArray[RootSetup, 8]):
    """
    @notice Writes meters and roots, for the bench only: the real contracts
            register meters and publish roots with their checks; here the
            deployer writes them as they are.
    @param meters Meters to register, each published by root or not,
           suspended or not, with its key.
    @param roots Roots to publish: a hub root of its sector and interval, or a
           root of meter-signed leaves.
    """
    assert msg.sender == deployer, "floor: caller is not the deployer"
    for meter: MeterSetup in meters:
        state: uint256 = _REGISTERED | (meter.sector_tag & _TAG_MASK)
        if meter.by_root:
            state |= _BY_ROOT
        if meter.suspended:
            state |= _SUSPENDED
        self._state[meter.meter_id] = state
        self._keys[meter.meter_id] = meter.key
    for root: RootSetup in roots:
        if root.by_hub:
            self.hub_root[root.sector_tag][root.interval_begin] = root.root
        else:
            self._publications[root.root] = root.interval_begin | (root.interval_end << 64) | ((root.sector_tag & _TAG_MASK) << _TAG_SHIFT)


# VIEW


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @return bytes32 The EIP-712 domain separator meter-signed leaves are
            signed under: name "OpenKWh RevealFloor", version "1".
    """
    return eip712_domain_separator._domain_separator_v4()


# INTERNAL


@internal
@view
def _meter_tag(meter_id: bytes32) -> uint256:
    """
    @dev The sector tag of a meter that may have a measurement revealed:
         registered, published by root, not suspended.
    """
    state: uint256 = self._state[meter_id]
    assert state & _REGISTERED != 0, "floor: unknown meter"
    assert state & _BY_ROOT != 0, "floor: the meter is read on chain, not published by root"
    assert state & _SUSPENDED == 0, "floor: meter is suspended"
    return state & _TAG_MASK


@internal
def _record(meter_id: bytes32, begin: uint64, end: uint64, produced_wh: uint64, consumed_wh: uint64, data_digest: bytes32):
    """
    @dev Writes one interval's measurement, once, and logs it.
    """
    interval_begin: uint256 = convert(begin, uint256)
    interval_end: uint256 = convert(end, uint256)
    assert interval_begin % interval_length == 0 and interval_end == interval_begin + interval_length, "floor: not one interval of the interval grid"
    assert self.measurements[meter_id][interval_begin] == 0, "floor: this interval is already revealed"
    self.measurements[meter_id][interval_begin] = interval_end | (convert(produced_wh, uint256) << 64) | (convert(consumed_wh, uint256) << 128)
    log MeasurementRecorded(
        meter_id=meter_id,
        interval_begin=interval_begin,
        interval_end=interval_end,
        produced_wh=convert(produced_wh, uint256),
        consumed_wh=convert(consumed_wh, uint256),
        data_digest=data_digest,
    )


@internal
@pure
def _hub_leaf_encoded_hash(leaf: HubLeaf) -> bytes32:
    """
    @dev keccak256(abi.encode(values)) of a hub leaf; its StandardMerkleTree
         leaf hash is the keccak256 of this.
    """
    return keccak256(
        abi_encode(
            leaf.meter_id,
            leaf.interval_begin,
            leaf.interval_end,
            leaf.produced_wh,
            leaf.consumed_wh,
            leaf.data_digest,
            leaf.salt,
        )
    )


@internal
@pure
def _root_of(encoded_hash: bytes32, proof: DynArray[bytes32, MAX_PROOF]) -> bytes32:
    """
    @dev OpenZeppelin's `MerkleProof.processProof` from the StandardMerkleTree
         leaf keccak256(`encoded_hash`).
    """
    node: bytes32 = keccak256(encoded_hash)
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    return node


@internal
@pure
def _multi_root(
    queue: bytes32[_QUEUE],
    count: uint256,
    proof: DynArray[bytes32, MAX_MULTI_PROOF],
    flag_words: DynArray[uint256, MAX_FLAG_WORDS],
) -> bytes32:
    """
    @dev OpenZeppelin's `MerkleProof.processMultiProof` on the `count` leaf
         hashes in `queue`, MeasurementRoots' algorithm: leaves and computed
         hashes share one ring queue; exactly `count` - 1 set flags (and
         `len(proof)` clear ones) are checked first, which keeps every read
         of the queue and the proof in bounds.
    """
    assert count != 0, "floor: the multiproof does not fit its leaves"
    flags: uint256 = count + len(proof) - 1
    assert len(flag_words) == unsafe_div(flags + 255, 256), "floor: the multiproof does not fit its leaves"
    set_flags: uint256 = 0
    for i: uint256 in range(len(flag_words), bound=MAX_FLAG_WORDS):
        word: uint256 = flag_words[i]
        if i == len(flag_words) - 1 and flags & 255 != 0:
            assert word >> (flags & 255) == 0, "floor: the multiproof does not fit its leaves"
        for _: uint256 in range(MAX_MULTI):
            if word == 0:
                break
            word &= word - 1
            set_flags += 1
        assert word == 0, "floor: the multiproof does not fit its leaves"
    assert set_flags == count - 1, "floor: the multiproof does not fit its leaves"
    read: uint256 = 0
    write: uint256 = count
    proof_at: uint256 = 0
    node: bytes32 = queue[0]
    word: uint256 = 0
    for i: uint256 in range(flags, bound=MAX_MULTI_FLAGS):
        if i & 255 == 0:
            word = flag_words[i >> 8]
        a: bytes32 = queue[read & _RING]
        b: bytes32 = empty(bytes32)
        if word & 1 != 0:
            b = queue[unsafe_add(read, 1) & _RING]
            read = unsafe_add(read, 2)
        else:
            b = proof[proof_at]
            proof_at = unsafe_add(proof_at, 1)
            read = unsafe_add(read, 1)
        word >>= 1
        if convert(a, uint256) < convert(b, uint256):
            node = keccak256(abi_encode(a, b))
        else:
            node = keccak256(abi_encode(b, a))
        queue[write & _RING] = node
        write = unsafe_add(write, 1)
    return node

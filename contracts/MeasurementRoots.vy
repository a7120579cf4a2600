# pragma version ~=0.4.3
"""
@title OpenKWh measurement roots
@license GNU Affero General Public License v3.0 only
@notice A country's interval measurements as Merkle roots, each measurement
        revealed only when it is used (seed 002's DataHub, Project Origin, on
        a public chain). Per sector and interval a root goes on chain:
        - by an appointed data hub of the sector, which vouches for its
          leaves (`publish_hub_root`, one root per sector and interval);
        - by anyone, from meter-signed measurements (`publish_root`): each
          leaf carries the meter key's EIP-712 signature, checked on use.
        A leaf revealed with its proof (`reveal`, `reveal_signed`) becomes a
        measurement of the SmartMeterBackend (`record_revealed`), the same
        the operator, the registry and the Exchange read; the backend records
        each interval of a meter once, whichever root it comes from, and logs
        it as it logs a reading's measurement (`MeasurementRecorded`); which
        root a measurement came from is in the revealing call's arguments,
        not in a log of its own (it would add about 2,000 gas a reveal).

        Leaves follow OpenZeppelin's StandardMerkleTree (npm
        `@openzeppelin/merkle-tree`, `StandardMerkleTree.of(values, types)`):
        leaf = keccak256(keccak256(abi.encode(values))), a node is the
        keccak256 of its two children in ascending order, a proof is the
        sibling hashes from the leaf up. The types, in order:
        - a hub leaf: `HUB_LEAF_TYPES`, 7 static words;
        - a meter-signed leaf: `SIGNED_LEAF_TYPES`, 12 static words.
        The salt (32 random bytes per leaf) keeps an unrevealed leaf's values
        from being guessed from its root.
@custom:security A data hub is trusted with its sector's data, as Project
                 Origin trusts its DataHub: its leaves are recorded as they
                 are, within the meter's capacity and connection bounds. The
                 sector's issuing body appoints and dismisses hubs; the roots
                 a hub published stay usable after its dismissal. A hub
                 publishes one root per sector and interval, and never
                 replaces it, so that it cannot hold two versions of a
                 meter's hour and choose later which one counts. Roots from
                 meter-signed leaves need no trust in their publisher, so
                 anyone may publish any number; a signature binds the meter,
                 the interval and the values, under this contract's EIP-712
                 domain (chain id and address). Where a hub's leaf and the
                 meter's own signed leaf of an interval differ, the first
                 revealed counts. Revealing is permissionless: whoever holds
                 a leaf and its proof may record it, and the measurement
                 belongs to the owner of its interval, whoever sends it.
"""


from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

from snekmate.utils import ecdsa


exports: eip712_domain_separator.eip712Domain


from .interfaces import ISmartMeterBackend


interface IPeriodOwners:
    def period_owner(meter_id: bytes32, period_begin: uint256, period_end: uint256) -> (address, uint256): view
    def operator() -> address: view


interface IAggregateSettler:
    def settle_aggregate(
        backend: address,
        meter_id: bytes32,
        period_begin: uint256,
        period_end: uint256,
        produced_wh: uint256,
        consumed_wh: uint256,
        owner: address,
    ): nonpayable


interface IRevealedStore:
    def record_revealed(
        meter_id: bytes32,
        interval_begin: uint256,
        interval_end: uint256,
        produced_wh: uint256,
        consumed_wh: uint256,
        data_digest: bytes32,
        sector_tag: uint256,
        signer: address,
    ): nonpayable


# @dev A data hub's leaf: the hub vouches for its values.
struct HubLeaf:
    meter_id: bytes32  # the salted hash of the meter's GSRN/EAN
    interval_begin: uint64  # unix seconds, on the interval grid
    interval_end: uint64  # unix seconds, on the grid, after interval_begin
    produced_wh: uint64  # exported Wh over the interval
    consumed_wh: uint64  # imported Wh over the interval
    data_digest: bytes32  # digest of the raw data behind the values
    salt: bytes32  # random, unique per leaf; never signed


# @dev A meter-signed leaf: a hub leaf's fields, the registers at its end and
# the meter key's signature of the typed data `Measurement`.
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


# @dev What a publication says: the sector (tag), the interval it covers, and
# whether a hub of the sector published it.
struct Publication:
    sector_tag: uint256  # top 120 bits of keccak256(sector)
    interval_begin: uint256  # unix seconds
    interval_end: uint256  # unix seconds
    by_hub: bool


# @dev The StandardMerkleTree leaf encodings, as `StandardMerkleTree.of` takes them.
HUB_LEAF_TYPES: public(constant(String[80])) = "bytes32,uint64,uint64,uint64,uint64,bytes32,bytes32"
SIGNED_LEAF_TYPES: public(constant(String[140])) = "bytes32,uint64,uint64,uint64,uint64,uint64,uint64,bytes32,bytes32,uint8,bytes32,bytes32"

# @dev The typed data a meter key signs for a meter-signed leaf.
MEASUREMENT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Measurement(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 producedWh,uint64 consumedWh,uint64 importWh,uint64 exportWh,bytes32 dataDigest)"
)

# @dev The longest proof: a tree of up to 2**40 leaves.
MAX_PROOF: constant(uint256) = 40  # hashes

# @dev The most leaves of one multiproof, and its most hashes and flags: 24
# leaves of a 2**22-leaf tree need at most 24 x 22 hashes.
MAX_MULTI: constant(uint256) = 24  # leaves
MAX_MULTI_PROOF: constant(uint256) = 528  # hashes
MAX_MULTI_FLAGS: constant(uint256) = MAX_MULTI + MAX_MULTI_PROOF - 1  # flags
MAX_FLAG_WORDS: constant(uint256) = (MAX_MULTI_FLAGS + 255) // 256  # words of 256 flags
# The multiproof's queue of leaf and computed hashes: a ring of 32 (>= MAX_MULTI).
_QUEUE: constant(uint256) = 32  # hashes
_RING: constant(uint256) = _QUEUE - 1

# A publication packed in one slot: bits 0-63 interval begin, 64-127 interval
# end (unix seconds), bit 128 published by a hub, bit 129 a root of aggregate
# leaves (a billing period's), bits 136-255 the sector tag.
_UINT64_MASK: constant(uint256) = 2**64 - 1
_BY_HUB: constant(uint256) = 1 << 128
_AGGREGATE: constant(uint256) = 1 << 129
# @dev The longest billing period of an aggregate root.
MAX_PERIOD: public(constant(uint256)) = 31 * 86_400  # seconds
_TAG_SHIFT: constant(uint256) = 136
_TAG_BITS: constant(uint256) = 120
_STATE_TAG_BITS: constant(uint256) = 110  # what the backend's meter state keeps of a tag


# @dev The SmartMeterBackend whose meters the roots measure, and which
# records the revealed measurements.
backend: public(immutable(address))

# @dev The backend's interval length in seconds.
interval_length: public(immutable(uint256))

# @dev Data hubs: keccak256(sector) => account => appointed.
_hubs: HashMap[bytes32, HashMap[address, bool]]

# @dev The hub root of a sector and interval: keccak256(sector) => interval
# begin (unix seconds) => root; empty until a hub publishes it.
hub_root: public(HashMap[bytes32, HashMap[uint256, bytes32]])

# @dev Publications: publisher => root => packed (see above); zero when none.
# Keyed by the publisher, so that nobody can take a root's place before its
# publisher by publishing the same hash with another sector or interval.
_publications: HashMap[address, HashMap[bytes32, uint256]]

# @dev The hub's aggregate root of a sector and billing period:
# keccak256(sector) => period begin (unix seconds) => root; empty until published.
aggregate_root: public(HashMap[bytes32, HashMap[uint256, bytes32]])


event HubAppointed:
    sector: String[16]
    hub: indexed(address)
    issuing_body: indexed(address)


event HubDismissed:
    sector: String[16]
    hub: indexed(address)
    issuing_body: indexed(address)


event RootPublished:
    root: indexed(bytes32)
    publisher: indexed(address)
    sector: String[16]
    interval_begin: uint256
    interval_end: uint256
    by_hub: bool


@deploy
def __init__(interval_length_: uint256):
    """
    @notice Created by its SmartMeterBackend's constructor, from a blueprint
            (`create_from_blueprint`): the creator is the backend, and the
            backend knows this contract's address without a storage read.
    @dev The backend has no code yet while it creates this contract, so its
         interval length comes as an argument and nothing is read from it.
    @param interval_length_ The backend's interval length in seconds.
    """
    eip712_domain_separator.__init__("OpenKWh MeasurementRoots", "1")
    backend = msg.sender
    interval_length = interval_length_


# PERMISSIONLESS


@external
def publish_root(sector: String[16], interval_begin: uint256, interval_end: uint256, root: bytes32):
    """
    @notice Publishes the root of a tree of meter-signed leaves of `sector`,
            each inside `[interval_begin, interval_end)`; anyone may. Its
            leaves count only with the meter's signature (`reveal_signed`).
    @param sector The bidding zone, e.g. "DK1".
    @param interval_begin Unix seconds, on the interval grid.
    @param interval_end Unix seconds, on the grid, after `interval_begin`,
           and past.
    @param root The tree's root.
    """
    self._publish(sector, interval_begin, interval_end, root, 0)


@external
def reveal(publisher: address, leaf: HubLeaf, proof: DynArray[bytes32, MAX_PROOF]):
    """
    @notice Records a data hub's leaf, proved against the root that hub
            published, as the meter's measurement; anyone may send it.
    @param publisher The hub that published the root.
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
                leaf.data_digest,
                leaf.salt,
            )
        ),
        proof,
    )
    published: uint256 = self._published(publisher, root, leaf.interval_begin, leaf.interval_end)
    assert published & _BY_HUB != 0, "roots: a hub leaf is revealed only against a hub's root"
    extcall IRevealedStore(backend).record_revealed(
        leaf.meter_id,
        convert(leaf.interval_begin, uint256),
        convert(leaf.interval_end, uint256),
        convert(leaf.produced_wh, uint256),
        convert(leaf.consumed_wh, uint256),
        leaf.data_digest,
        published >> _TAG_SHIFT,
        empty(address),
        # The backend created this contract, so it has code; a copy an account
        # deployed on its own names that account, and its reveals record nothing.
        skip_contract_check=True,
    )


@external
def reveal_signed(publisher: address, leaf: SignedLeaf, proof: DynArray[bytes32, MAX_PROOF]):
    """
    @notice Records a meter-signed leaf, proved against a root `publisher`
            published (a hub's or anyone's), as the meter's measurement once
            the signature is the meter key's; anyone may send it.
    @param publisher Who published the root.
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
    published: uint256 = self._published(publisher, root, leaf.interval_begin, leaf.interval_end)
    # A register holds at least what went through it in one interval.
    assert leaf.import_wh >= leaf.consumed_wh and leaf.export_wh >= leaf.produced_wh, "roots: the registers are below the measurement"
    assert leaf.v == 27 or leaf.v == 28, "roots: signature v must be 27 or 28"
    signer: address = ecdsa._recover_vrs(
        self._measurement_digest(
            leaf.meter_id,
            leaf.interval_begin,
            leaf.interval_end,
            leaf.produced_wh,
            leaf.consumed_wh,
            leaf.import_wh,
            leaf.export_wh,
            leaf.data_digest,
        ),
        convert(leaf.v, uint256),
        convert(leaf.r, uint256),
        convert(leaf.s, uint256),
    )
    extcall IRevealedStore(backend).record_revealed(
        leaf.meter_id,
        convert(leaf.interval_begin, uint256),
        convert(leaf.interval_end, uint256),
        convert(leaf.produced_wh, uint256),
        convert(leaf.consumed_wh, uint256),
        leaf.data_digest,
        published >> _TAG_SHIFT,
        signer,
        skip_contract_check=True,
    )


@external
def reveal_many(
    publisher: address,
    leaves: DynArray[HubLeaf, MAX_MULTI],
    proof: DynArray[bytes32, MAX_MULTI_PROOF],
    proof_flags: DynArray[uint256, MAX_FLAG_WORDS],
):
    """
    @notice `reveal` for several hub leaves of one root at once, with one
            OpenZeppelin multiproof (`tree.getMultiProof(indexes)`: its
            `leaves` in its order, `proof`, and `proofFlags` as a bitmap).
    @dev The flags come as bits, not as a bool array: flag i is bit i % 256
         of word i // 256, and there are len(leaves) + len(proof) - 1 of
         them. A bool array costs a calldata word and a validity check per
         flag, about 2,000 gas a leaf in a national tree.
    @param publisher The hub that published the root.
    @param leaves The leaves, in the multiproof's order.
    @param proof The multiproof's sibling hashes.
    @param proof_flags The multiproof's flags as a bitmap, ceil(flags / 256)
           words (`openkwh.roots.pack_flags`); bits past the last flag are
           ignored.
    """
    queue: bytes32[_QUEUE] = empty(bytes32[_QUEUE])
    count: uint256 = 0
    for leaf: HubLeaf in leaves:
        queue[count] = self._hub_leaf_hash(leaf)
        count += 1
    root: bytes32 = self._multi_root(queue, count, proof, proof_flags)
    # One root, so one publication: each leaf must lie in its interval.
    published: uint256 = self._publications[publisher][root]
    assert published != 0, "roots: the proof does not lead to a root this publisher published"
    assert published & _BY_HUB != 0, "roots: a hub leaf is revealed only against a hub's root"
    assert published & _AGGREGATE == 0, "roots: an hourly leaf is revealed only against an hourly root"
    for leaf: HubLeaf in leaves:
        self._check_covered(published, leaf.interval_begin, leaf.interval_end)
        extcall IRevealedStore(backend).record_revealed(
            leaf.meter_id,
            convert(leaf.interval_begin, uint256),
            convert(leaf.interval_end, uint256),
            convert(leaf.produced_wh, uint256),
            convert(leaf.consumed_wh, uint256),
            leaf.data_digest,
            published >> _TAG_SHIFT,
            empty(address),
            skip_contract_check=True,
        )


@external
def settle_aggregate(publisher: address, leaf: HubLeaf, proof: DynArray[bytes32, MAX_PROOF]):
    """
    @notice Settles a root-published meter's billing period with its
            operator from the hub's aggregate leaf, proved against the
            aggregate root `publisher` published; anyone may send it. The
            operator bills and rewards the period's Wh net of the hours
            settled on their own, and then no hour of it settles again.
    @param publisher The hub that published the aggregate root.
    @param leaf The aggregate leaf: its interval is the root's period, its
           Wh the period's sums.
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
                leaf.data_digest,
                leaf.salt,
            )
        ),
        proof,
    )
    packed: uint256 = self._publications[publisher][root]
    assert packed != 0, "roots: the proof does not lead to a root this publisher published"
    assert packed & _AGGREGATE != 0, "roots: an aggregate leaf is settled only against an aggregate root"
    begin: uint256 = convert(leaf.interval_begin, uint256)
    end: uint256 = convert(leaf.interval_end, uint256)
    assert begin == packed & _UINT64_MASK and end == (packed >> 64) & _UINT64_MASK, "roots: the leaf is not of the root's period"
    owner: address = empty(address)
    tag: uint256 = 0
    owner, tag = staticcall IPeriodOwners(backend).period_owner(leaf.meter_id, begin, end)
    assert owner != empty(address), "roots: the meter has no one owner over the period, or does not publish by root"
    assert tag == (packed >> _TAG_SHIFT) >> (_TAG_BITS - _STATE_TAG_BITS), "roots: the root is of another sector than the meter"
    operator: address = staticcall IPeriodOwners(backend).operator()
    assert operator != empty(address), "roots: the backend has no operator"
    # A meter not registered as producing has its export measured, never
    # rewarded, as the backend's settlement data has it for single hours.
    produced: uint256 = 0
    if ISmartMeterBackend.MeterKind.PRODUCTION in (staticcall ISmartMeterBackend(backend).trading_data(leaf.meter_id)).kind:
        produced = convert(leaf.produced_wh, uint256)
    extcall IAggregateSettler(operator).settle_aggregate(
        backend,
        leaf.meter_id,
        begin,
        end,
        produced,
        convert(leaf.consumed_wh, uint256),
        owner,
    )


# DATA HUB


@external
def publish_hub_root(sector: String[16], interval_begin: uint256, root: bytes32):
    """
    @notice Publishes, once, the root of every leaf of `sector` for the past
            interval that begins at `interval_begin`; the caller vouches for
            the leaves, as the sector's data hub.
    @param sector The bidding zone the caller is a data hub of.
    @param interval_begin Unix seconds, on the interval grid.
    @param root The tree's root.
    """
    sector_key: bytes32 = keccak256(sector)
    assert self._hubs[sector_key][msg.sender], "roots: caller is not a data hub of this sector"
    assert self.hub_root[sector_key][interval_begin] == empty(bytes32), "roots: the sector's hub root of this interval is already published"
    self.hub_root[sector_key][interval_begin] = root
    self._publish(sector, interval_begin, interval_begin + interval_length, root, _BY_HUB)


@external
def publish_aggregate_root(sector: String[16], period_begin: uint256, period_end: uint256, root: bytes32):
    """
    @notice Publishes, once, the root of the aggregate leaves of `sector` for
            the past billing period `[period_begin, period_end)`: a hub leaf
            per meter whose interval is the period and whose Wh are the
            period's sums. The operator settles a meter's period from it
            (`settle_aggregate`), net of the hours settled on their own.
    @param sector The bidding zone the caller is a data hub of.
    @param period_begin Unix seconds, on the interval grid.
    @param period_end Unix seconds, on the grid, at most MAX_PERIOD after the begin, and past.
    @param root The tree's root.
    """
    sector_key: bytes32 = keccak256(sector)
    assert self._hubs[sector_key][msg.sender], "roots: caller is not a data hub of this sector"
    assert self.aggregate_root[sector_key][period_begin] == empty(bytes32), "roots: the sector's aggregate root of this period is already published"
    assert period_end <= period_begin + MAX_PERIOD, "roots: the period is longer than MAX_PERIOD"
    self.aggregate_root[sector_key][period_begin] = root
    self._publish(sector, period_begin, period_end, root, _BY_HUB | _AGGREGATE)


# ISSUING BODY


@external
def appoint_hub(sector: String[16], hub: address):
    """
    @notice Appoints a data hub for the caller's sector.
    @param sector The sector the caller is the issuing body of (at the backend).
    @param hub The hub's address.
    """
    assert staticcall ISmartMeterBackend(backend).is_issuing_body(sector, msg.sender), "roots: caller is not the issuing body of this sector"
    assert hub != empty(address), "roots: hub is the zero address"
    self._hubs[keccak256(sector)][hub] = True
    log HubAppointed(sector=sector, hub=hub, issuing_body=msg.sender)


@external
def dismiss_hub(sector: String[16], hub: address):
    """
    @notice Dismisses a data hub of the caller's sector; the roots it
            published stay.
    @param sector The sector the caller is the issuing body of.
    @param hub The hub's address.
    """
    assert staticcall ISmartMeterBackend(backend).is_issuing_body(sector, msg.sender), "roots: caller is not the issuing body of this sector"
    sector_key: bytes32 = keccak256(sector)
    assert self._hubs[sector_key][hub], "roots: not a data hub of this sector"
    self._hubs[sector_key][hub] = False
    log HubDismissed(sector=sector, hub=hub, issuing_body=msg.sender)


# VIEW


@external
@view
def is_hub(sector: String[16], account: address) -> bool:
    """
    @return bool Whether `account` is a data hub of `sector`.
    """
    return self._hubs[keccak256(sector)][account]


@external
@view
def publication(publisher: address, root: bytes32) -> Publication:
    """
    @notice What `publisher` published `root` for; all empty when it did not.
    """
    packed: uint256 = self._publications[publisher][root]
    return Publication(
        sector_tag=packed >> _TAG_SHIFT,
        interval_begin=packed & _UINT64_MASK,
        interval_end=(packed >> 64) & _UINT64_MASK,
        by_hub=packed & _BY_HUB != 0,
    )


@external
@pure
def sector_tag(sector: String[16]) -> uint256:
    """
    @return uint256 The top 120 bits of keccak256(sector), as a publication
            names its sector.
    """
    return convert(keccak256(sector), uint256) >> (256 - _TAG_BITS)


@external
@pure
def hub_leaf_hash(leaf: HubLeaf) -> bytes32:
    """
    @return bytes32 The StandardMerkleTree leaf hash of a hub leaf.
    """
    return keccak256(
        keccak256(
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
    )


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @return bytes32 The EIP-712 domain separator meter-signed leaves are signed under.
    """
    return eip712_domain_separator._domain_separator_v4()


@external
@view
def measurement_digest(
    meter_id: bytes32,
    interval_begin: uint64,
    interval_end: uint64,
    produced_wh: uint64,
    consumed_wh: uint64,
    import_wh: uint64,
    export_wh: uint64,
    data_digest: bytes32,
) -> bytes32:
    """
    @return bytes32 The EIP-712 digest a meter key signs for a meter-signed leaf.
    """
    return self._measurement_digest(
        meter_id, interval_begin, interval_end, produced_wh, consumed_wh, import_wh, export_wh, data_digest
    )


# INTERNAL


@internal
def _publish(sector: String[16], interval_begin: uint256, interval_end: uint256, root: bytes32, kind: uint256):
    assert len(sector) != 0, "roots: sector is empty"
    assert root != empty(bytes32), "roots: root is empty"
    assert interval_begin % interval_length == 0 and interval_end % interval_length == 0, "roots: interval not on the interval grid"
    assert interval_end > interval_begin, "roots: interval ends before it begins"
    assert interval_end <= block.timestamp, "roots: the interval has not ended"
    assert interval_end <= _UINT64_MASK, "roots: interval end beyond 2**64"
    assert self._publications[msg.sender][root] == 0, "roots: the caller already published this root"
    packed: uint256 = interval_begin | (interval_end << 64) | (
        (convert(keccak256(sector), uint256) >> (256 - _TAG_BITS)) << _TAG_SHIFT
    )
    packed |= kind
    self._publications[msg.sender][root] = packed
    log RootPublished(
        root=root,
        publisher=msg.sender,
        sector=sector,
        interval_begin=interval_begin,
        interval_end=interval_end,
        by_hub=kind != 0,
    )


@internal
@view
def _published(publisher: address, root: bytes32, leaf_begin: uint64, leaf_end: uint64) -> uint256:
    """
    @dev The publication of `root` by `publisher`, which must cover the
         leaf's interval.
    """
    packed: uint256 = self._publications[publisher][root]
    assert packed != 0, "roots: the proof does not lead to a root this publisher published"
    assert packed & _AGGREGATE == 0, "roots: an hourly leaf is revealed only against an hourly root"
    self._check_covered(packed, leaf_begin, leaf_end)
    return packed


@internal
@pure
def _check_covered(packed: uint256, leaf_begin: uint64, leaf_end: uint64):
    """
    @dev Refuses a leaf whose interval lies outside the publication `packed`'s.
    """
    assert convert(leaf_begin, uint256) >= packed & _UINT64_MASK and convert(leaf_end, uint256) <= (packed >> 64) & _UINT64_MASK, "roots: the leaf is not of the root's interval"


@internal
@pure
def _hub_leaf_hash(leaf: HubLeaf) -> bytes32:
    return keccak256(
        keccak256(
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
    )


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
         hashes in `queue`: each flag hashes the next leaf or computed hash
         with the next leaf or computed hash (set) or with the next proof
         hash (clear). Leaves and computed hashes are taken in the order
         they come, so one queue holds both, as a ring: each step takes one
         or two and puts one, so it never holds more than `count` <= 24.
         Exactly `count` - 1 flags set (and `len(proof)` clear) is checked
         first, and makes the steps' reads safe: before a set flag at most
         `count` - 2 were set, so the queue holds two or more; before a
         clear one at most `count` - 1, so it holds one or more; and the
         proof is read to its end, never past it.
    """
    assert count != 0, "roots: the multiproof does not fit its leaves"
    flags: uint256 = count + len(proof) - 1
    assert len(flag_words) == unsafe_div(flags + 255, 256), "roots: the multiproof does not fit its leaves"
    set_flags: uint256 = 0
    for i: uint256 in range(len(flag_words), bound=MAX_FLAG_WORDS):
        word: uint256 = flag_words[i]
        if i == len(flag_words) - 1 and flags & 255 != 0:
            assert word >> (flags & 255) == 0, "roots: the multiproof does not fit its leaves"
        for _: uint256 in range(MAX_MULTI):
            if word == 0:
                break
            word &= word - 1
            set_flags += 1
        assert word == 0, "roots: the multiproof does not fit its leaves"
    assert set_flags == count - 1, "roots: the multiproof does not fit its leaves"
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


@internal
@pure
def _root_of(encoded_hash: bytes32, proof: DynArray[bytes32, MAX_PROOF]) -> bytes32:
    """
    @dev OpenZeppelin's `MerkleProof.processProof` from the StandardMerkleTree
         leaf keccak256(`encoded_hash`), `encoded_hash` being
         keccak256(abi.encode(values)).
    """
    node: bytes32 = keccak256(encoded_hash)
    for sibling: bytes32 in proof:
        # abi_encode of two words is their concatenation, and costs about
        # 50 gas a level less than concat, which copies through a Bytes buffer.
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    return node


@internal
@view
def _measurement_digest(
    meter_id: bytes32,
    interval_begin: uint64,
    interval_end: uint64,
    produced_wh: uint64,
    consumed_wh: uint64,
    import_wh: uint64,
    export_wh: uint64,
    data_digest: bytes32,
) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(
            abi_encode(
                MEASUREMENT_TYPEHASH,
                meter_id,
                interval_begin,
                interval_end,
                produced_wh,
                consumed_wh,
                import_wh,
                export_wh,
                data_digest,
            )
        )
    )

# pragma version ~=0.4.3
"""
@title OpenKWh smart meter backend
@license GNU Affero General Public License v3.0 only
@notice The registry of certified meters and the store of their measurements:
        the single source of truth that the operator, the certificate registry
        and the exchange read. A meter signs each interval reading of its
        cumulative registers as EIP-712 typed data (seed 003's SmartMeter that
        reports to the blockchain); anyone may relay it. The first reading of
        a meter is its baseline; every later one stores the produced and
        consumed Wh of `[last end, interval end)`.
@custom:security Trusted roles: the admin names the issuing body of each
                 sector; an issuing body certifies the installers of its
                 sector; a certified installer vouches for the meter key it
                 registers, and puts in place a new key only once the meter's
                 owner approved it; the operator may suspend a meter (and
                 resume it), each act with a logged reason. Nobody owns a
                 meter without accepting it. Nobody can alter or delete a
                 recorded measurement. The raw telegrams' digest is signed
                 and logged with each measurement but not kept in storage:
                 it would cost a fresh storage slot per reading.
"""


from snekmate.auth import access_control
initializes: access_control

from snekmate.utils import eip712_domain_separator
initializes: eip712_domain_separator

from snekmate.utils import ecdsa


exports: (
    access_control.DEFAULT_ADMIN_ROLE,
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.supportsInterface,
    eip712_domain_separator.eip712Domain,
    # @notice Not exported: `set_role_admin`; the operator role is
    # administered by the admin and nothing else needs a role hierarchy.
)


from .interfaces import ISmartMeterBackend
from .interfaces import IOperatorBackend
implements: ISmartMeterBackend


struct Reading:
    meter_id: bytes32
    interval_begin: uint64
    interval_end: uint64
    import_wh: uint64
    export_wh: uint64
    data_digest: bytes32
    v: uint8
    r: bytes32
    s: bytes32


OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

READING_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Reading(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 importWh,uint64 exportWh,bytes32 dataDigest)"
)

MAX_BATCH: constant(uint256) = 96  # readings: four days of hours, one day of quarter hours
# @dev The largest rated capacity of a producing meter, and the largest
# connection rating: 10 GW, beyond any single plant; they bound the Wh a meter
# may sell, and the Wh it may report, in an interval.
MAX_CAPACITY_W: public(constant(uint256)) = 10_000_000_000  # W
MAX_REASON: constant(uint256) = 128  # characters
# @dev How many times its connection rating a meter may import, on average
# over a measurement.
CONNECTION_HEADROOM: public(constant(uint256)) = 2
# @dev How long before its registration a meter's baseline may be dated.
BASELINE_SLACK: public(constant(uint256)) = 7 * 86_400  # seconds

# Packed hot state of a meter, one storage slot:
# bits 0-63 last interval end (unix seconds), 64-127 import register (Wh),
# 128-191 export register (Wh), then three flags, and from bit 200 the owner
# epoch (32 bits): how many owners the meter has had.
_UINT64_MASK: constant(uint256) = 2**64 - 1
_REGISTERED: constant(uint256) = 1 << 192
_SUSPENDED: constant(uint256) = 1 << 193
_HAS_BASELINE: constant(uint256) = 1 << 194
_PRODUCES: constant(uint256) = 1 << 195  # registered as a producing meter
# @dev Registered to publish by root (MeasurementRoots): no readings, its
# measurements come revealed from published Merkle roots. For such a meter
# bits 0-39 of `_state` hold the current owner epoch's first interval begin
# (unix seconds), bits 40-73 its connection rating (W, as in `_meters`, kept
# here so that a reveal reads one slot of the meter, not two) and bits
# 74-183 the top 110 bits of its sector tag (see `_TAG_BITS`); it has no
# registers.
_BY_ROOT: constant(uint256) = 1 << 196
_BEGIN_MASK: constant(uint256) = 2**40 - 1
_CONNECTION_SHIFT: constant(uint256) = 40
_CONNECTION_MASK: constant(uint256) = 2**34 - 1  # W; MAX_CAPACITY_W < 2**34
# @dev The top 120 bits of keccak256(sector): what a root names its sector by.
_TAG_BITS: constant(uint256) = 120
# @dev A root-published meter's state keeps the tag's top 110 bits.
_STATE_TAG_SHIFT: constant(uint256) = 74
_STATE_TAG_BITS: constant(uint256) = 110
_STATE_TAG_MASK: constant(uint256) = 2**110 - 1
_EPOCH_SHIFT: constant(uint256) = 200
_CERTIFIABLE: constant(uint256) = 1 << 224  # in a measurement: see `_measurements`
# @dev In a measurement slot of a root-published meter: the interval lies
# inside a revealed measurement that began earlier. Its low fields are zero,
# so every view reads "no measurement here".
_COVERED: constant(uint256) = 1 << 225
# @dev The most intervals one revealed measurement may span: each costs a
# storage slot, which is how overlaps are refused.
MAX_REVEAL_SPAN: public(constant(uint256)) = 24  # intervals
# @dev The most owners one meter can have.
MAX_OWNER_EPOCH: public(constant(uint256)) = 2**32 - 1
# What a reading keeps of a meter's state besides its new registers.
_KEPT_BY_A_READING: constant(uint256) = _SUSPENDED | _PRODUCES | (MAX_OWNER_EPOCH << _EPOCH_SHIFT)


# @dev Length of an interval in seconds; interval ends lie on multiples of it.
interval_length: public(immutable(uint256))

# @dev Seconds a reading may be dated after the current block time.
future_tolerance: public(immutable(uint256))

# @dev Issuing body of a sector: keccak256(sector) => account => appointed.
_issuing_bodies: HashMap[bytes32, HashMap[address, bool]]

# @dev Certified installers: keccak256(sector) => installer => certified.
_installers: HashMap[bytes32, HashMap[address, bool]]

_meters: HashMap[bytes32, ISmartMeterBackend.MeterInfo]
_state: HashMap[bytes32, uint256]
_baseline: HashMap[bytes32, uint256]

# @dev Measurements: meter => interval begin => packed (end, produced Wh, consumed Wh),
# laid out like `_state`'s first three fields, the owner epoch the
# measurement belongs to (bits 192-223), and bit 224 when its export counts
# as production (the meter is registered as producing); zero means no
# measurement.
_measurements: HashMap[bytes32, HashMap[uint256, uint256]]

# @dev The owners of a meter, by epoch (1 is the first owner who accepted it).
_owners: HashMap[bytes32, HashMap[uint256, address]]

# @dev Root-published meters: meter => owner epoch => the first interval
# begin (unix seconds) whose measurement belongs to that epoch's owner.
# Non-decreasing in the epoch; a measurement revealed late still belongs to
# the owner of its interval, not to whoever owns the meter when it is revealed.
_epoch_from: HashMap[bytes32, HashMap[uint256, uint256]]

# @dev The MeasurementRoots contract whose revealed measurements this
# backend records: created by this backend's constructor from a blueprint,
# so it is known without a storage read; the zero address when the backend
# was deployed without one.
roots: public(immutable(address))

# @dev Who may accept a meter: named by its installer at registration or by
# its owner offering it; the zero address when no offer is open.
pending_owner_of: public(HashMap[bytes32, address])

# @dev The signing key a meter's owner agreed to, for an installer to put in
# place with `rotate_signer`; the zero address when none.
approved_signer: public(HashMap[bytes32, address])

# @dev The OperatorBackend that settles these meters and keeps their debts,
# wired once by the admin; an acceptance names the meter's debt there.
operator: public(address)


event IssuingBodySet:
    sector: String[16]
    account: indexed(address)
    appointed: bool
    admin: indexed(address)


event InstallerCertified:
    sector: String[16]
    installer: indexed(address)
    issuing_body: indexed(address)


event InstallerCertificationWithdrawn:
    sector: String[16]
    installer: indexed(address)
    issuing_body: indexed(address)


event MeterRegistered:
    meter_id: indexed(bytes32)
    owner: indexed(address)
    installer: indexed(address)
    signer: address
    sector: String[16]
    tech_code: String[16]
    fuel_code: String[16]
    capacity_w: uint256
    connection_w: uint256
    kind: ISmartMeterBackend.MeterKind


event SignerApproved:
    meter_id: indexed(bytes32)
    owner: indexed(address)
    signer: address


event SignerRotated:
    meter_id: indexed(bytes32)
    installer: indexed(address)
    previous_signer: address
    new_signer: address
    new_device: bool


event MeterOffered:
    meter_id: indexed(bytes32)
    owner: indexed(address)
    pending_owner: indexed(address)
    debt: uint256  # the meter's unpaid bills at the operator, now


event MeterOwnerChanged:
    meter_id: indexed(bytes32)
    previous_owner: indexed(address)
    new_owner: indexed(address)
    epoch: uint256
    effective_from: uint256
    debt: uint256  # the meter's unpaid bills, taken on by the new owner


event OperatorWired:
    operator: indexed(address)
    admin: indexed(address)


event MeterPublishesByRoot:
    meter_id: indexed(bytes32)
    installer: indexed(address)


event MeterSuspended:
    meter_id: indexed(bytes32)
    operator: indexed(address)
    reason: String[MAX_REASON]


event ConnectionRatingSet:
    meter_id: indexed(bytes32)
    connection_w: uint256
    operator: indexed(address)
    reason: String[MAX_REASON]


event MeterResumed:
    meter_id: indexed(bytes32)
    operator: indexed(address)
    reason: String[MAX_REASON]


event BaselineRecorded:
    meter_id: indexed(bytes32)
    interval_end: uint256
    import_wh: uint256
    export_wh: uint256
    data_digest: bytes32


event MeasurementRecorded:
    meter_id: indexed(bytes32)
    interval_begin: indexed(uint256)
    interval_end: uint256
    produced_wh: uint256
    consumed_wh: uint256
    data_digest: bytes32


@deploy
def __init__(interval_length_: uint256, future_tolerance_: uint256, roots_blueprint: address):
    """
    @dev The deployer becomes admin and operator.
    @param interval_length_ Interval length in seconds: 3600 or 900.
    @param future_tolerance_ Seconds a reading may be dated after block time
           (clock drift between the meter and the chain).
    @param roots_blueprint An ERC-5202 blueprint of MeasurementRoots.vy, from
           which this backend creates its roots contract; the zero address
           for a backend without one (no meter can then be revealed).
    """
    assert interval_length_ == 3_600 or interval_length_ == 900, "meter: interval must be 3600 or 900 seconds"
    assert future_tolerance_ < interval_length_, "meter: future tolerance must be under one interval"
    access_control.__init__()
    access_control._grant_role(OPERATOR_ROLE, msg.sender)
    eip712_domain_separator.__init__("OpenKWh SmartMeterBackend", "1")
    interval_length = interval_length_
    future_tolerance = future_tolerance_
    # Created here, so that `record_revealed` knows its caller from the code
    # (an immutable) and not from a storage slot: 2,100 gas a reveal.
    roots_: address = empty(address)
    if roots_blueprint != empty(address):
        roots_ = create_from_blueprint(roots_blueprint, interval_length_, code_offset=3)
    roots = roots_


# PERMISSIONLESS


@external
def submit_reading(
    meter_id: bytes32,
    interval_begin: uint64,
    interval_end: uint64,
    import_wh: uint64,
    export_wh: uint64,
    data_digest: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @notice Records a reading signed by the meter's key; anyone may relay it.
    @dev The first reading of a meter is its baseline; each later one stores
         the measurement of `[last interval end, interval_end)`.
    @param meter_id The meter (salted hash of its GSRN/EAN).
    @param interval_begin Where the measurement begins: the meter's last
           interval end (`next_reading_begin`), or 0 for a baseline. Signed,
           so that nobody can relay a later reading before an earlier one
           and merge a meter's intervals into one measurement.
    @param interval_end Unix seconds, on the interval grid.
    @param import_wh The cumulative import register, in Wh.
    @param export_wh The cumulative export register, in Wh.
    @param data_digest The sha256 digest of the raw telegrams behind the reading.
    @param v The signature's recovery id, 27 or 28.
    @param r The signature's r.
    @param s The signature's s, in the lower half of the curve order.
    """
    self._record(Reading(
        meter_id=meter_id,
        interval_begin=interval_begin,
        interval_end=interval_end,
        import_wh=import_wh,
        export_wh=export_wh,
        data_digest=data_digest,
        v=v,
        r=r,
        s=s,
    ))


@external
def submit_readings(readings: DynArray[Reading, MAX_BATCH]):
    """
    @notice Records a batch of signed readings, in order; one bad reading
            reverts the batch.
    @param readings The readings, oldest first per meter.
    """
    for reading: Reading in readings:
        self._record(reading)


# METER OWNER


@external
def offer_meter(meter_id: bytes32, new_owner: address):
    """
    @notice Offers a meter, and its measurements from the next reading on, to
            `new_owner`, who takes it with `accept_meter`; until then nothing
            changes. An open offer is replaced by a new one; offering to the
            zero address withdraws it.
    @param meter_id The caller's meter.
    @param new_owner Who may accept it.
    """
    owner: address = self._meters[meter_id].owner
    assert self._state[meter_id] & _REGISTERED != 0, "meter: unknown meter"
    assert msg.sender == owner, "meter: caller is not the meter owner"
    assert new_owner != owner, "meter: offering the meter to its owner"
    self.pending_owner_of[meter_id] = new_owner
    log MeterOffered(meter_id=meter_id, owner=owner, pending_owner=new_owner, debt=self._meter_debt(meter_id))


@external
def accept_meter(meter_id: bytes32, max_debt: uint256):
    """
    @notice Takes a meter offered to the caller (by its installer at
            registration, or by its owner). The caller owns every measurement
            recorded from now on: they begin at the meter's last reading,
            `effective_from` in the event. Measurements recorded before stay
            with the previous owner: its bills, rewards and certificates.
            A meter with readings must be read up to the current interval, so
            that the measurement the new owner takes on begins at most one
            interval before its acceptance (not at a reading the previous
            owner held back, days ago).
            A root-published meter's measurements are revealed later, in any
            order: the caller owns those of the intervals that begin at or
            after the next interval boundary (`effective_from`), the
            previous owner those before.
            The caller also takes on the meter's debt at the operator (bills
            its owners' ledgers did not pay), at most `max_debt`: the meter's
            later rewards and its new owner's ledger pay it. Bills of the
            previous owner's measurements settled after this stay with it.
    @param meter_id The meter.
    @param max_debt The most debt, in token base units, the caller takes on
           (`meter_debt` of the operator, as `MeterOffered` logged it).
    """
    assert self.pending_owner_of[meter_id] == msg.sender and msg.sender != empty(address), "meter: meter not offered to the caller"
    debt: uint256 = self._meter_debt(meter_id)
    assert debt <= max_debt, "meter: the meter's debt exceeds what the caller takes on"
    state: uint256 = self._state[meter_id]
    epoch: uint256 = self._epoch_of(state)
    assert epoch < MAX_OWNER_EPOCH, "meter: meter changed owner too often"
    epoch += 1
    effective_from: uint256 = state & _UINT64_MASK
    if state & _BY_ROOT != 0:
        # Bits 0-39 of a root-published meter's state: where this epoch begins.
        effective_from = (block.timestamp + interval_length - 1) // interval_length * interval_length
        self._epoch_from[meter_id][epoch] = effective_from
        state = (state & ~_BEGIN_MASK) | effective_from
    elif state & _HAS_BASELINE != 0:
        assert (state & _UINT64_MASK) + interval_length > block.timestamp, "meter: the meter's readings are behind: relay them up to the current interval first"
    self._state[meter_id] = self._with_epoch(state, epoch)
    self._owners[meter_id][epoch] = msg.sender
    previous: address = self._meters[meter_id].owner
    self._meters[meter_id].owner = msg.sender
    self.pending_owner_of[meter_id] = empty(address)
    # A key the previous owner approved is not the new owner's choice.
    self.approved_signer[meter_id] = empty(address)
    log MeterOwnerChanged(
        meter_id=meter_id,
        previous_owner=previous,
        new_owner=msg.sender,
        epoch=epoch,
        effective_from=effective_from,
        debt=debt,
    )


@external
def approve_signer(meter_id: bytes32, signer: address):
    """
    @notice Agrees to a new signing key for the caller's meter (a new key on
            the device, or a replaced device); a certified installer then puts
            it in place. Without this, no installer can change the key that
            signs the readings the owner is billed and paid for.
    @param meter_id The caller's meter.
    @param signer The new key's address; the zero address withdraws the approval.
    """
    owner: address = self._meters[meter_id].owner
    assert owner != empty(address) and msg.sender == owner, "meter: caller is not the meter owner"
    self.approved_signer[meter_id] = signer
    log SignerApproved(meter_id=meter_id, owner=owner, signer=signer)


# INSTALLER


@external
def register_meter(
    meter_id: bytes32,
    signer: address,
    owner: address,
    sector: String[16],
    tech_code: String[16],
    fuel_code: String[16],
    capacity_w: uint256,
    connection_w: uint256,
    kind: ISmartMeterBackend.MeterKind,
    by_root: bool = False,
):
    """
    @notice Registers a sealed meter: a certified installer of the sector
            vouches that `signer` is the key made on the meter's device.
    @param meter_id The salted hash of the meter's GSRN/EAN; the raw number never goes on chain.
    @param signer The address of the meter's signing key.
    @param owner Who is to own the meter and its measurements: it becomes the
           owner by `accept_meter`, and no reading is taken before.
    @param sector The bidding zone, e.g. "DK1".
    @param tech_code The AIB EECS technology code, e.g. "T020002"; empty for consumption only.
    @param fuel_code The AIB EECS fuel code, e.g. "F01050100"; empty for consumption only.
    @param capacity_w The rated production capacity, in W; it bounds the
           export a reading may report as production.
    @param connection_w The connection's rating, in W (for a household the
           main fuse: 3 x 25 A at 230 V is 17,250 W); a reading may report
           at most CONNECTION_HEADROOM times it as import, so no key can
           claim unbounded consumption. The operator corrects it with
           `set_connection_rating`.
    @param kind Production, consumption, or both.
    @param by_root How the meter's measurements come, fixed for its life:
           False (the default) by its signed readings (`submit_reading`),
           True revealed one by one from Merkle roots published for its
           sector and interval (MeasurementRoots), so that nothing of its
           consumption is on chain until it is used; refused by a backend
           deployed without roots.
    """
    assert self._installers[keccak256(sector)][msg.sender], "meter: caller is not a certified installer for this sector"
    assert meter_id != empty(bytes32), "meter: meter id is empty"
    assert self._state[meter_id] == 0, "meter: already registered"
    assert signer != empty(address), "meter: signer is the zero address"
    assert owner != empty(address), "meter: owner is the zero address"
    assert kind != empty(ISmartMeterBackend.MeterKind), "meter: kind is empty"
    assert connection_w != 0, "meter: a meter needs its connection rating"
    assert connection_w <= MAX_CAPACITY_W, "meter: connection rating above 10 GW"
    if ISmartMeterBackend.MeterKind.PRODUCTION in kind:
        assert capacity_w != 0, "meter: producing meter needs a capacity"
        assert capacity_w <= MAX_CAPACITY_W, "meter: capacity above 10 GW"
        assert self._is_aib_code(tech_code, 0x54, 6), "meter: technology code is not an AIB EECS code (T and 6 digits)"
        assert self._is_aib_code(fuel_code, 0x46, 8), "meter: fuel code is not an AIB EECS code (F and 8 digits)"
    else:
        assert capacity_w == 0, "meter: consumption-only meter has no capacity"
        assert len(tech_code) == 0 and len(fuel_code) == 0, "meter: consumption-only meter has no technology or fuel code"

    self._meters[meter_id] = ISmartMeterBackend.MeterInfo(
        owner=empty(address),
        signer=signer,
        installer=msg.sender,
        sector=sector,
        tech_code=tech_code,
        fuel_code=fuel_code,
        capacity_w=capacity_w,
        connection_w=connection_w,
        kind=kind,
        registered_at=block.timestamp,
    )
    flags: uint256 = _REGISTERED
    if ISmartMeterBackend.MeterKind.PRODUCTION in kind:
        flags |= _PRODUCES
    if by_root:
        # Else the meter could take neither readings nor reveals, for life.
        assert roots != empty(address), "meter: this backend has no roots contract, so no meter publishes by root"
        flags |= _BY_ROOT | (connection_w << _CONNECTION_SHIFT) | (
            (self._sector_tag(sector) >> (_TAG_BITS - _STATE_TAG_BITS)) << _STATE_TAG_SHIFT
        )
    self._state[meter_id] = flags
    self.pending_owner_of[meter_id] = owner
    log MeterRegistered(
        meter_id=meter_id,
        owner=owner,
        installer=msg.sender,
        signer=signer,
        sector=sector,
        tech_code=tech_code,
        fuel_code=fuel_code,
        capacity_w=capacity_w,
        connection_w=connection_w,
        kind=kind,
    )
    if by_root:
        log MeterPublishesByRoot(meter_id=meter_id, installer=msg.sender)


@external
def rotate_signer(meter_id: bytes32, new_signer: address, new_device: bool):
    """
    @notice Puts in place the signing key the meter's owner approved; any
            installer certified for the meter's sector may do it. A new key on
            the same device carries the registers and the chain of readings
            on; a replaced device starts a new baseline (its registers may be
            lower), and the time between the last reading and that baseline
            stays unmeasured.
    @param meter_id The meter.
    @param new_signer The address of the new key, as the owner approved it.
    @param new_device True when the device was replaced.
    """
    assert self._state[meter_id] & _REGISTERED != 0, "meter: unknown meter"
    assert self._installers[keccak256(self._meters[meter_id].sector)][msg.sender], "meter: caller is not a certified installer for this sector"
    assert new_signer != empty(address), "meter: signer is the zero address"
    assert self.approved_signer[meter_id] == new_signer, "meter: the owner has not approved this signer"
    self.approved_signer[meter_id] = empty(address)
    previous: address = self._meters[meter_id].signer
    self._meters[meter_id].signer = new_signer
    if new_device:
        self._state[meter_id] = self._state[meter_id] & ~_HAS_BASELINE
    log SignerRotated(
        meter_id=meter_id, installer=msg.sender, previous_signer=previous, new_signer=new_signer, new_device=new_device
    )


# ROOTS


@external
def record_revealed(
    meter_id: bytes32,
    interval_begin: uint256,
    interval_end: uint256,
    produced_wh: uint256,
    consumed_wh: uint256,
    data_digest: bytes32,
    sector_tag: uint256,
    signer: address,
):
    """
    @notice Records a measurement of a root-published meter that this backend's
            MeasurementRoots proved against a published root; from then on it
            is a measurement like any other. Each interval of a meter is
            recorded once, whichever root it comes from: a measurement that
            overlaps one already recorded is refused.
    @dev The measurement belongs to the owner of its interval (`_epoch_at`),
         not to the owner at the time of the reveal; it is bounded like a
         reading (`_check_bounds`).
    @param meter_id The meter.
    @param interval_begin Unix seconds, on the interval grid.
    @param interval_end Unix seconds, on the grid, at most MAX_REVEAL_SPAN
           intervals after `interval_begin`.
    @param produced_wh The exported Wh, < 2**64.
    @param consumed_wh The imported Wh, < 2**64.
    @param data_digest The digest of the data behind the measurement, logged.
    @param sector_tag The sector of the root it was proved against (top 120
           bits of keccak256(sector)).
    @param signer The meter key that signed the measurement, checked against
           the meter's; the zero address for a data hub's leaf.
    """
    assert msg.sender == roots and msg.sender != empty(address), "meter: caller is not the backend's roots contract"
    state: uint256 = self._state[meter_id]
    assert state & _REGISTERED != 0, "meter: unknown meter"
    assert state & _BY_ROOT != 0, "meter: the meter is read on chain, not published by root"
    assert state & _SUSPENDED == 0, "meter: meter is suspended"
    assert (state >> _STATE_TAG_SHIFT) & _STATE_TAG_MASK == sector_tag >> (_TAG_BITS - _STATE_TAG_BITS), "meter: the root is of another sector than the meter"
    if signer != empty(address):
        assert signer == self._meters[meter_id].signer, "meter: signer does not match meter"
    assert interval_begin % interval_length == 0 and interval_end % interval_length == 0, "meter: interval not on the interval grid"
    assert interval_end > interval_begin, "meter: measurement ends before it begins"
    span: uint256 = unsafe_div(unsafe_sub(interval_end, interval_begin), interval_length)
    assert span <= MAX_REVEAL_SPAN, "meter: measurement spans too many intervals"
    epoch: uint256 = self._epoch_at(meter_id, state, interval_begin)
    assert epoch != 0, "meter: no owner had accepted the meter by this interval"
    certifiable: bool = state & _PRODUCES != 0
    # The connection rating from the state: no read of the meter's record.
    self._check_bounds(meter_id, produced_wh, consumed_wh, interval_end - interval_begin, certifiable, (state >> _CONNECTION_SHIFT) & _CONNECTION_MASK)
    # The measurement slots are the bitmap of revealed intervals: nonzero for
    # every interval a recorded measurement covers.
    assert self._measurements[meter_id][interval_begin] == 0, "meter: an interval of this measurement is already revealed"
    for i: uint256 in range(1, MAX_REVEAL_SPAN):
        if i == span:
            break
        covered: uint256 = interval_begin + i * interval_length
        assert self._measurements[meter_id][covered] == 0, "meter: an interval of this measurement is already revealed"
        self._measurements[meter_id][covered] = _COVERED
    self._measurements[meter_id][interval_begin] = self._pack_measurement(
        interval_end, produced_wh, consumed_wh, epoch, certifiable
    )
    log MeasurementRecorded(
        meter_id=meter_id,
        interval_begin=interval_begin,
        interval_end=interval_end,
        produced_wh=produced_wh,
        consumed_wh=consumed_wh,
        data_digest=data_digest,
    )


# ISSUING BODY


@external
def certify_installer(sector: String[16], installer: address):
    """
    @notice Certifies an installer for the caller's sector.
    @param sector The sector the caller is the issuing body of.
    @param installer The installer's address.
    """
    sector_key: bytes32 = keccak256(sector)
    assert self._issuing_bodies[sector_key][msg.sender], "meter: caller is not the issuing body of this sector"
    assert installer != empty(address), "meter: installer is the zero address"
    self._installers[sector_key][installer] = True
    log InstallerCertified(sector=sector, installer=installer, issuing_body=msg.sender)


@external
def withdraw_certification(sector: String[16], installer: address):
    """
    @notice Withdraws an installer's certification; meters it registered stay registered.
    @param sector The sector the caller is the issuing body of.
    @param installer The installer's address.
    """
    sector_key: bytes32 = keccak256(sector)
    assert self._issuing_bodies[sector_key][msg.sender], "meter: caller is not the issuing body of this sector"
    assert self._installers[sector_key][installer], "meter: installer is not certified"
    self._installers[sector_key][installer] = False
    log InstallerCertificationWithdrawn(sector=sector, installer=installer, issuing_body=msg.sender)


# OPERATOR


@external
def suspend_meter(meter_id: bytes32, reason: String[MAX_REASON]):
    """
    @notice Stops accepting the meter's readings (tamper alarm).
    @param meter_id The meter.
    @param reason Why, for the record.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    state: uint256 = self._state[meter_id]
    assert state & _REGISTERED != 0, "meter: unknown meter"
    assert state & _SUSPENDED == 0, "meter: already suspended"
    self._state[meter_id] = state | _SUSPENDED
    log MeterSuspended(meter_id=meter_id, operator=msg.sender, reason=reason)


@external
def set_connection_rating(meter_id: bytes32, connection_w: uint256, reason: String[MAX_REASON]):
    """
    @notice Corrects a meter's connection rating (a fuse changed, or a
            registration that was wrong), from its next reading on. The grid
            operator knows the connection, and can already suspend a meter.
    @param meter_id The meter.
    @param connection_w The rating in W, as at `register_meter`.
    @param reason Why, for the record.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    assert self._state[meter_id] & _REGISTERED != 0, "meter: unknown meter"
    assert connection_w != 0, "meter: a meter needs its connection rating"
    assert connection_w <= MAX_CAPACITY_W, "meter: connection rating above 10 GW"
    self._meters[meter_id].connection_w = connection_w
    state: uint256 = self._state[meter_id]
    if state & _BY_ROOT != 0:
        self._state[meter_id] = (state & ~(_CONNECTION_MASK << _CONNECTION_SHIFT)) | (connection_w << _CONNECTION_SHIFT)
    log ConnectionRatingSet(meter_id=meter_id, connection_w=connection_w, operator=msg.sender, reason=reason)


@external
def resume_meter(meter_id: bytes32, reason: String[MAX_REASON]):
    """
    @notice Accepts the meter's readings again. The first reading after a
            suspension measures the whole time since the last one.
    @param meter_id The meter.
    @param reason Why, for the record.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    state: uint256 = self._state[meter_id]
    assert state & _SUSPENDED != 0, "meter: not suspended"
    self._state[meter_id] = state ^ _SUSPENDED
    log MeterResumed(meter_id=meter_id, operator=msg.sender, reason=reason)


# ADMIN


@external
def wire_operator(operator_: address):
    """
    @notice Names, once, the OperatorBackend that settles this backend's
            meters, so that a meter's acceptance names its debt there.
    @param operator_ An OperatorBackend that trusts this backend.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert self.operator == empty(address), "meter: operator already wired"
    assert operator_.is_contract, "meter: operator is not a contract"
    assert staticcall IOperatorBackend(operator_).is_trusted(self), "meter: the operator does not trust this backend"
    self.operator = operator_
    log OperatorWired(operator=operator_, admin=msg.sender)


@external
def set_issuing_body(sector: String[16], account: address, appointed: bool):
    """
    @notice Appoints (or removes) an issuing body for a sector.
    @param sector The bidding zone, e.g. "DK1".
    @param account The issuing body's address.
    @param appointed True to appoint, False to remove.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert len(sector) != 0, "meter: sector is empty"
    assert account != empty(address), "meter: issuing body is the zero address"
    self._issuing_bodies[keccak256(sector)][account] = appointed
    log IssuingBodySet(sector=sector, account=account, appointed=appointed, admin=msg.sender)


# VIEW


@external
@view
def meter_debt(meter_id: bytes32) -> uint256:
    """
    @return uint256 The meter's debt at the wired operator, in token base
            units: what an acceptance of the meter takes on; 0 before wiring.
    """
    return self._meter_debt(meter_id)


@external
@view
def is_issuing_body(sector: String[16], account: address) -> bool:
    """
    @return bool Whether `account` is an issuing body of `sector`.
    """
    return self._issuing_bodies[keccak256(sector)][account]


@external
@view
def is_certified_installer(sector: String[16], installer: address) -> bool:
    """
    @return bool Whether `installer` is certified for `sector`.
    """
    return self._installers[keccak256(sector)][installer]


@external
@view
def meter(meter_id: bytes32) -> ISmartMeterBackend.MeterInfo:
    """
    @notice The registration of a meter; all fields empty for an unknown meter.
    """
    return self._meters[meter_id]


@external
@view
def owner_of(meter_id: bytes32) -> address:
    """
    @return address The meter's owner; the zero address for an unknown meter.
    """
    return self._meters[meter_id].owner


@external
@view
def owner_at(meter_id: bytes32, epoch: uint256) -> address:
    """
    @return address The meter's owner in `epoch` (1 for the first owner who
            accepted it); the zero address for an epoch that has not come.
    """
    return self._owners[meter_id][epoch]


@external
@view
def owner_epoch(meter_id: bytes32) -> uint256:
    """
    @return uint256 How many owners have accepted the meter (0: none yet).
    """
    return self._epoch_of(self._state[meter_id])


@external
@view
def is_suspended(meter_id: bytes32) -> bool:
    return self._state[meter_id] & _SUSPENDED != 0


@external
@view
def last_reading(meter_id: bytes32) -> ISmartMeterBackend.Registers:
    """
    @return The registers of the meter's last accepted reading (interval end
            in unix seconds, import and export in Wh); zeros before its baseline.
    """
    state: uint256 = self._state[meter_id]
    if state & _BY_ROOT != 0:
        return empty(ISmartMeterBackend.Registers)
    end: uint256 = 0
    imported: uint256 = 0
    exported: uint256 = 0
    end, imported, exported = self._unpack(state)
    return ISmartMeterBackend.Registers(interval_end=end, import_wh=imported, export_wh=exported)


@external
@view
def publishes_by_root(meter_id: bytes32) -> bool:
    """
    @return bool Whether the meter's measurements come revealed from
            published roots (True) or from its readings (False).
    """
    return self._state[meter_id] & _BY_ROOT != 0


@external
@view
def period_owner(meter_id: bytes32, period_begin: uint256, period_end: uint256) -> (address, uint256):
    """
    @notice Who owned a root-published meter over a whole billing period
            `[period_begin, period_end)` (unix seconds), and its sector tag's
            top 110 bits, for its settlement from an aggregate leaf; the zero
            address when it is not root-published or not one owner's over
            the period.
    """
    state: uint256 = self._state[meter_id]
    epoch: uint256 = self._epoch_at(meter_id, state, period_begin)
    if state & _BY_ROOT == 0 or epoch != self._epoch_at(meter_id, state, period_end - 1):
        return empty(address), 0
    return self._owners[meter_id][epoch], (state >> _STATE_TAG_SHIFT) & _STATE_TAG_MASK


@external
@view
def is_revealed(meter_id: bytes32, interval_begin: uint256) -> bool:
    """
    @return bool Whether a recorded measurement of the meter covers the
            interval that begins at `interval_begin` (unix seconds), for a
            root-published meter; for a meter read on chain, whether a
            measurement begins there.
    """
    return self._measurements[meter_id][interval_begin] != 0


@external
@view
def next_reading_begin(meter_id: bytes32) -> uint256:
    """
    @notice The interval begin the meter's next reading must name: the end of
            its last reading, or 0 when the next is a baseline (a new meter,
            or a new device after `rotate_signer`).
    """
    state: uint256 = self._state[meter_id]
    if state & _HAS_BASELINE == 0:
        return 0
    return state & _UINT64_MASK


@external
@view
def baseline(meter_id: bytes32) -> ISmartMeterBackend.Registers:
    """
    @return The registers of the meter's first reading; zeros before it.
    """
    end: uint256 = 0
    imported: uint256 = 0
    exported: uint256 = 0
    end, imported, exported = self._unpack(self._baseline[meter_id])
    return ISmartMeterBackend.Registers(interval_end=end, import_wh=imported, export_wh=exported)


@external
@view
def measurement(meter_id: bytes32, interval_begin: uint256) -> ISmartMeterBackend.Measurement:
    """
    @notice The measurement that begins at `interval_begin`: its end (unix
            seconds), produced and consumed Wh; all zero when there is none.
    """
    end: uint256 = 0
    produced: uint256 = 0
    consumed: uint256 = 0
    end, produced, consumed = self._unpack(self._measurements[meter_id][interval_begin])
    return ISmartMeterBackend.Measurement(interval_end=end, produced_wh=produced, consumed_wh=consumed)


@external
@view
def settlement_data(meter_id: bytes32, interval_begin: uint256) -> ISmartMeterBackend.Settlement:
    """
    @notice What a settlement needs in one call: the meter's owner when the
            measurement was recorded, its end, produced and consumed Wh; the
            end is zero (and the owner the zero address) when there is none.
    """
    packed: uint256 = self._measurements[meter_id][interval_begin]
    end: uint256 = 0
    produced: uint256 = 0
    consumed: uint256 = 0
    end, produced, consumed = self._unpack(packed)
    if packed & _CERTIFIABLE == 0:
        # A consumption-only meter's export (say, a balcony panel nobody
        # registered) is measured, but neither rewarded nor certified.
        produced = 0
    return ISmartMeterBackend.Settlement(
        owner=self._owners[meter_id][self._measurement_epoch(packed)], interval_end=end, produced_wh=produced, consumed_wh=consumed
    )


@external
@view
def trading_data(meter_id: bytes32) -> ISmartMeterBackend.Trading:
    """
    @notice What the Exchange checks of a meter, in one call: its owner, kind
            and rated production capacity in W; all empty for an unknown meter.
    """
    return ISmartMeterBackend.Trading(
        owner=self._meters[meter_id].owner, kind=self._meters[meter_id].kind, capacity_w=self._meters[meter_id].capacity_w
    )


@external
@view
def consumption_data(meter_id: bytes32, interval_begin: uint256) -> ISmartMeterBackend.Consumption:
    """
    @notice What a retirement against consumption needs in one call: the
            meter's owner when the measurement was recorded, its end, consumed
            Wh and keccak256 of the meter's sector; the end is zero when there
            is no such measurement.
    """
    packed: uint256 = self._measurements[meter_id][interval_begin]
    end: uint256 = 0
    produced: uint256 = 0
    consumed: uint256 = 0
    end, produced, consumed = self._unpack(packed)
    return ISmartMeterBackend.Consumption(
        owner=self._owners[meter_id][self._measurement_epoch(packed)],
        interval_end=end,
        consumed_wh=consumed,
        sector_hash=keccak256(self._meters[meter_id].sector),
    )


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @return bytes32 The EIP-712 domain separator readings are signed under.
    """
    return eip712_domain_separator._domain_separator_v4()


@external
@view
def reading_digest(
    meter_id: bytes32,
    interval_begin: uint64,
    interval_end: uint64,
    import_wh: uint64,
    export_wh: uint64,
    data_digest: bytes32,
) -> bytes32:
    """
    @return bytes32 The EIP-712 digest a meter signs for this reading.
    """
    return self._reading_digest(meter_id, interval_begin, interval_end, import_wh, export_wh, data_digest)


# INTERNAL


@internal
@view
def _check_bounds(meter_id: bytes32, produced: uint256, consumed: uint256, seconds: uint256, certifiable: bool, connection_w: uint256):
    """
    @dev Refuses a measurement of `seconds` that no honest meter could report.
    @param produced The exported Wh; bounded only when `certifiable`.
    @param consumed The imported Wh.
    @param connection_w The meter's connection rating in W, if the caller has
           it; 0 to read it from the meter's record.
    """
    if certifiable:
        # A stolen or faulty key cannot mint certificates beyond what the
        # installation can produce: its rated capacity over the measurement,
        # and `future_tolerance` more (a bridge takes the registers of the
        # first telegram after a boundary, a little late).
        if produced != 0:
            assert produced * 3_600 <= self._meters[meter_id].capacity_w * (seconds + future_tolerance), "meter: production beyond the meter's capacity"
    # Nor can it claim more consumption than the connection carries, over the
    # measurement and `future_tolerance` more, so a stolen key cannot bill
    # its owner without bound. The bound is twice the rating: a gG fuse
    # carries up to 1.45 times its rating for an hour, at up to 10 % above
    # the nominal voltage, and no honest reading may be refused.
    if consumed != 0:
        rating: uint256 = connection_w
        if rating == 0:
            rating = self._meters[meter_id].connection_w
        assert consumed * 3_600 <= CONNECTION_HEADROOM * rating * (seconds + future_tolerance), "meter: import beyond the meter's connection rating"


@internal
@pure
def _sector_tag(sector: String[16]) -> uint256:
    """
    @dev The top `_TAG_BITS` bits of keccak256(sector), as MeasurementRoots
         names a root's sector.
    """
    return convert(keccak256(sector), uint256) >> (256 - _TAG_BITS)


@internal
@view
def _epoch_at(meter_id: bytes32, state: uint256, interval_begin: uint256) -> uint256:
    """
    @dev The owner epoch of a root-published meter at `interval_begin`: the
         last epoch that began at or before it; 0 when no owner had accepted
         the meter by then. The current epoch costs no storage read; an
         earlier one a binary search over `_epoch_from` (at most 32 reads).
    """
    epoch: uint256 = self._epoch_of(state)
    if interval_begin >= state & _BEGIN_MASK:
        return epoch
    low: uint256 = 0
    high: uint256 = epoch - 1
    for _: uint256 in range(32):
        if low >= high:
            break
        middle: uint256 = unsafe_div(unsafe_add(unsafe_add(low, high), 1), 2)
        if self._epoch_from[meter_id][middle] <= interval_begin:
            low = middle
        else:
            high = middle - 1
    return low


@internal
@view
def _meter_debt(meter_id: bytes32) -> uint256:
    operator_: address = self.operator
    if operator_ == empty(address):
        return 0
    return staticcall IOperatorBackend(operator_).meter_debt(self, meter_id)


@internal
@view
def _reading_digest(
    meter_id: bytes32,
    interval_begin: uint64,
    interval_end: uint64,
    import_wh: uint64,
    export_wh: uint64,
    data_digest: bytes32,
) -> bytes32:
    return eip712_domain_separator._hash_typed_data_v4(
        keccak256(abi_encode(READING_TYPEHASH, meter_id, interval_begin, interval_end, import_wh, export_wh, data_digest))
    )


@internal
@pure
def _is_aib_code(code: String[16], prefix: bytes1, digits: uint256) -> bool:
    """
    @dev Whether `code` is `prefix` (an ASCII letter) followed by exactly
         `digits` decimal digits, the form of AIB EECS technology (T020002)
         and fuel (F01050100) codes.
    """
    raw: Bytes[16] = convert(code, Bytes[16])
    if len(raw) != digits + 1:
        return False
    if convert(slice(raw, 0, 1), bytes1) != prefix:
        return False
    for i: uint256 in range(1, 16):
        if i > digits:
            break
        char: uint256 = convert(convert(slice(raw, i, 1), bytes1), uint256)
        if char < 48 or char > 57:
            return False
    return True


# Packing. `_state`, `_baseline` and `_measurements` share their first three
# fields, 64 bits each: an interval end (unix seconds) and two Wh figures
# (registers, or a measurement's produced and consumed Wh), all at most
# 2**64 - 1 (readings sign them as uint64, so they fit by construction).


@internal
@pure
def _pack_registers(end: uint256, first_wh: uint256, second_wh: uint256) -> uint256:
    """
    @dev Bits 0-63 `end`, 64-127 `first_wh`, 128-191 `second_wh`; each < 2**64.
    """
    return end | (first_wh << 64) | (second_wh << 128)


@internal
@pure
def _unpack(packed: uint256) -> (uint256, uint256, uint256):
    """
    @dev The three 64-bit fields `_pack_registers` wrote, whatever lies above them.
    """
    return packed & _UINT64_MASK, (packed >> 64) & _UINT64_MASK, (packed >> 128) & _UINT64_MASK


@internal
@pure
def _epoch_of(state: uint256) -> uint256:
    """
    @dev A meter's owner epoch in its `_state`: bits 200-231, at most MAX_OWNER_EPOCH.
    """
    return (state >> _EPOCH_SHIFT) & MAX_OWNER_EPOCH


@internal
@pure
def _with_epoch(state: uint256, epoch: uint256) -> uint256:
    """
    @dev `state` with its owner epoch replaced by `epoch` (< 2**32: masked).
    """
    return (state & ~(MAX_OWNER_EPOCH << _EPOCH_SHIFT)) | ((epoch & MAX_OWNER_EPOCH) << _EPOCH_SHIFT)


@internal
@pure
def _pack_measurement(end: uint256, produced: uint256, consumed: uint256, epoch: uint256, certifiable: bool) -> uint256:
    """
    @dev A measurement: its registers' layout, the owner epoch in bits 192-223
         (masked to 32 bits) and `_CERTIFIABLE` (bit 224) when its export counts
         as production.
    """
    packed: uint256 = self._pack_registers(end, produced, consumed) | ((epoch & MAX_OWNER_EPOCH) << 192)
    if certifiable:
        packed |= _CERTIFIABLE
    return packed


@internal
@pure
def _measurement_epoch(packed: uint256) -> uint256:
    """
    @dev The owner epoch a measurement was recorded in: bits 192-223.
    """
    return (packed >> 192) & MAX_OWNER_EPOCH


@internal
def _record(reading: Reading):
    state: uint256 = self._state[reading.meter_id]
    assert state & _REGISTERED != 0, "meter: unknown meter"
    assert state & _BY_ROOT == 0, "meter: the meter publishes by root, not by readings"
    assert state & _SUSPENDED == 0, "meter: meter is suspended"
    epoch: uint256 = self._epoch_of(state)
    assert epoch != 0, "meter: no owner has accepted the meter yet"

    end: uint256 = convert(reading.interval_end, uint256)
    assert end % interval_length == 0, "meter: interval end not on the interval grid"
    assert end <= block.timestamp + future_tolerance, "meter: reading dated in the future"

    assert reading.v == 27 or reading.v == 28, "meter: signature v must be 27 or 28"
    digest: bytes32 = self._reading_digest(
        reading.meter_id,
        reading.interval_begin,
        reading.interval_end,
        reading.import_wh,
        reading.export_wh,
        reading.data_digest,
    )
    signer: address = ecdsa._recover_vrs(
        digest, convert(reading.v, uint256), convert(reading.r, uint256), convert(reading.s, uint256)
    )
    assert signer == self._meters[reading.meter_id].signer, "meter: signer does not match meter"

    import_wh: uint256 = convert(reading.import_wh, uint256)
    export_wh: uint256 = convert(reading.export_wh, uint256)
    registers: uint256 = self._pack_registers(end, import_wh, export_wh)
    new_state: uint256 = registers | (state & _KEPT_BY_A_READING) | _REGISTERED | _HAS_BASELINE

    if state & _HAS_BASELINE == 0:
        assert reading.interval_begin == 0, "meter: a baseline reading names no interval begin"
        # A meter read before its registration may start there, but not years
        # before: a measurement from 1970 would be decades long.
        assert end + BASELINE_SLACK >= self._meters[reading.meter_id].registered_at, "meter: a baseline dated over a week before the meter's registration"
        # A replaced device's baseline comes after the last reading of the old one.
        assert end > state & _UINT64_MASK, "meter: reading not newer than last"
        self._state[reading.meter_id] = new_state
        self._baseline[reading.meter_id] = registers
        log BaselineRecorded(
            meter_id=reading.meter_id,
            interval_end=end,
            import_wh=import_wh,
            export_wh=export_wh,
            data_digest=reading.data_digest,
        )
        return

    last_end: uint256 = 0
    last_import: uint256 = 0
    last_export: uint256 = 0
    last_end, last_import, last_export = self._unpack(state)
    assert convert(reading.interval_begin, uint256) == last_end, "meter: reading does not begin at the meter's last reading"
    assert end > last_end, "meter: reading not newer than last"
    assert import_wh >= last_import, "meter: import register decreased"
    assert export_wh >= last_export, "meter: export register decreased"

    produced: uint256 = unsafe_sub(export_wh, last_export)
    consumed: uint256 = unsafe_sub(import_wh, last_import)
    certifiable: bool = state & _PRODUCES != 0
    self._check_bounds(reading.meter_id, produced, consumed, end - last_end, certifiable, 0)
    self._state[reading.meter_id] = new_state
    self._measurements[reading.meter_id][last_end] = self._pack_measurement(end, produced, consumed, epoch, certifiable)
    log MeasurementRecorded(
        meter_id=reading.meter_id,
        interval_begin=last_end,
        interval_end=end,
        produced_wh=produced,
        consumed_wh=consumed,
        data_digest=reading.data_digest,
    )

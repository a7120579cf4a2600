# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title OpenKWh Scope 2 emissions registry
@license GNU Affero General Public License v3.0 only
@notice Emission factors and audited Scope 2 statements (seed 004, the
        Utility Emissions Channel). Factor publishers, appointed per sector,
        publish location-based factors (hourly for a day, or for a year),
        residual-mix factors per year and non-renewable fuel factors per
        year, in integer mg CO2e per kWh, each with its source's name and the
        content id of its data file; a correction supersedes the current
        publication and is logged, never deleted. A meter's owner obtains a
        statement of its Scope 2 emissions over whole intervals, computed here
        from its measurements on the SmartMeterBackend and the certificates
        retired against them on the GGORegistry (GHG Protocol Scope 2 dual
        reporting). Statements are non-transferable ERC-721 tokens (ERC-5192
        locked). Auditors, appointed per sector, attest statements, and
        publish statements from a customer's utility data at its request.
        A statement is computed from at most MAX_INTERVALS measurements in
        one transaction (a gap in readings is one), over at most 366 days;
        `merge` joins them up to a year.
        Its holder can `restate` a statement computed from meters: computed
        anew (later retirements, current factors), it supersedes the old.
        An auditor attests neither its own statement nor one that used a
        factor publication superseded since, or the year's factor on a day
        whose hourly factors came later, or that counts a retirement voided
        since (its holder restates it first);
        one bill's raw data (its sha256) makes one statement, whatever the
        utility is called. A fuel table lists each fuel once, and its
        correction lists every fuel of the table it corrects.
@custom:accounting Per interval of consumed c Wh, location factor L, residual
        mix R, retired r Wh of which w_f Wh of non-renewable fuel f at factor
        F_f (all mg CO2e/kWh): location += c * L; market += (c - r) * R +
        sum_f w_f * F_f; matched += r. Wh x mg/kWh is exactly micrograms, so
        the sums are exact; grams are rounded once per statement, half up:
        g = (ug + 500_000) // 1_000_000. Renewable fuels (AIB EECS codes F01,
        listed by the GGORegistry as fuel number 0) count as zero. The
        location factor is the hourly one of the interval's hour when its
        day is published, else the year's; a measurement spanning several
        intervals (a gap in readings) uses the year's, and nothing can be
        retired against it. The year of an interval is the UTC calendar year
        of its begin. The hourly-matched share is matched_wh / consumed_wh
        (left to readers: a view of it would not fit the EIP-170 limit).
@custom:security Trusted: the admin and each sector's issuing bodies (on the
                 SmartMeterBackend), who appoint publishers and auditors; the
                 publishers' factors; the auditors' attestations and utility
                 data. Only a measurement's owner gets a statement of it, and
                 each interval of a meter is in at most one live statement;
                 only a statement's holder merges or restates it. A revoked
                 certificate's Wh stop counting as matched once the issuing
                 body voids its retirements on the GGORegistry; a statement
                 made before keeps them, and is not attested until restated.
                 Anyone may address requests to an auditor, at its own gas.
"""


from snekmate.auth import access_control
initializes: access_control


exports: (
    access_control.DEFAULT_ADMIN_ROLE,
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    # @notice Not exported: `supportsInterface` (this contract answers for
    # ERC-721 and ERC-5192 too) and `set_role_admin`.
)


from .interfaces import ISmartMeterBackend
from .interfaces import IGGORegistry


struct Publication:
    kind: uint256  # KIND_HOURLY_DAY, KIND_LOCATION_YEAR, KIND_RESIDUAL_YEAR or KIND_FUEL_YEAR
    sector: String[16]
    period: uint256  # a day's begin (unix seconds, UTC midnight) or a year
    factor_mg_per_kwh: uint256  # the year kinds' factor; 0 for the others
    publisher: address
    source: String[MAX_SOURCE]
    cid: String[MAX_CID]
    published_at: uint256
    supersedes: uint256
    superseded_by: uint256


struct Statement:
    account: address
    origin: uint256  # ORIGIN_METER, ORIGIN_MERGED or ORIGIN_UTILITY
    meter_id: bytes32  # empty for utility data
    sector: String[16]
    begin: uint256
    end: uint256
    consumed_wh: uint256
    matched_wh: uint256  # certificates retired against the same interval
    location_ug: uint256  # exact, micrograms CO2e
    market_ug: uint256
    location_g: uint256  # rounded once, half up
    market_g: uint256
    made_at: uint256
    superseded_by: uint256  # the statement that burned it, 0 while it lives
    attestations: uint256


struct UtilityData:
    auditor: address
    utility: String[MAX_SOURCE]
    location_mg_per_kwh: uint256
    market_mg_per_kwh: uint256  # the utility's supplier-specific factor
    data_format: String[32]  # e.g. "Green Button ESPI XML", "CSV"
    data_sha256: bytes32  # of the raw data before encryption
    data_cid: String[MAX_CID]  # of the raw data, encrypted to the customer


struct Attestation:
    auditor: address
    note: String[MAX_NOTE]
    cid: String[MAX_CID]  # the working papers
    attested_at: uint256


struct Request:
    customer: address
    auditor: address
    sector: String[16]
    utility: String[MAX_SOURCE]
    begin: uint256
    end: uint256
    statement: uint256  # 0 while open


KIND_HOURLY_DAY: public(constant(uint256)) = 1
KIND_LOCATION_YEAR: public(constant(uint256)) = 2
KIND_RESIDUAL_YEAR: public(constant(uint256)) = 3
KIND_FUEL_YEAR: public(constant(uint256)) = 4

ORIGIN_METER: public(constant(uint256)) = 1
ORIGIN_MERGED: public(constant(uint256)) = 2
ORIGIN_UTILITY: public(constant(uint256)) = 3

MAX_SOURCE: constant(uint256) = 64  # characters
MAX_CID: constant(uint256) = 64  # characters: a CIDv1 in base32 is 59
MAX_NOTE: constant(uint256) = 128  # characters
MAX_FUELS: constant(uint256) = 16  # fuel factors in one publication
# @dev The most measurements a statement computed in one transaction reads:
# a 31-day month of hours, 7.75 days of quarter hours (a month of them in
# four statements). A gap in a meter's readings is one measurement, however
# long (bounding intervals instead left a gap of more than MAX_INTERVALS
# intervals out of every statement, and its year unmerged); the period is
# bounded by MAX_PERIOD, which bounds the coverage words it marks. A month
# of hours with a certificate retired against every hour takes about half
# of EIP-7825's 2**24 gas a transaction (bench/gas.json), leaving room for
# the four non-renewable fuels an interval can have. A year of quarter hours
# in statements of MAX_INTERVALS measurements is a merge of up to MAX_PARTS,
# 48.
MAX_INTERVALS: public(constant(uint256)) = 744
MAX_PERIOD: public(constant(uint256)) = 366 * 86_400  # seconds
MAX_PARTS: public(constant(uint256)) = 48
_MAX_USED: constant(uint256) = 40  # publications used by one computed statement
_MAX_WORDS: constant(uint256) = 140  # coverage words of MAX_PERIOD's quarter hours, and more
# @dev Factors are below 2**32 mg CO2e/kWh (4.29 t/kWh).
MAX_FACTOR: public(constant(uint256)) = 2**32 - 1
HOUR: constant(uint256) = 3_600
DAY: constant(uint256) = 86_400
_UG_PER_G: constant(uint256) = 1_000_000
_UINT32: constant(uint256) = 2**32 - 1
_UINT16: constant(uint256) = 2**16 - 1
_UINT48: constant(uint256) = 2**48 - 1
_PUBLISHED: constant(uint256) = 1 << 255  # a fuel factor's "present" flag

_SUPPORTED_INTERFACES: constant(bytes4[4]) = [
    0x01FFC9A7,  # ERC-165
    0x80AC58CD,  # ERC-721
    0xB45A3C0E,  # ERC-5192 (minimal soulbound)
    0x7965DB0B,  # access control
]


# @dev The GGORegistry whose retirements count, and its SmartMeterBackend.
registry: public(immutable(IGGORegistry))
backend: public(immutable(ISmartMeterBackend))
interval_length: public(immutable(uint256))

name: public(constant(String[32])) = "OpenKWh Scope 2 statement"
symbol: public(constant(String[8])) = "OKWH-S2"

_publishers: HashMap[bytes32, HashMap[address, bool]]  # keccak256(sector) => account
_auditors: HashMap[bytes32, HashMap[address, bool]]
publication_count: public(uint256)
_publications: HashMap[uint256, Publication]
# @dev The current publication of a sector, kind and period.
_current: HashMap[bytes32, HashMap[uint256, HashMap[uint256, uint256]]]
# @dev A day's hourly factors: publication => three words of eight 32-bit factors.
_hourly: HashMap[uint256, HashMap[uint256, uint256]]
# @dev A fuel table: publication => keccak256(fuel code) => factor | _PUBLISHED,
# and how many fuels it lists.
_fuel_factors: HashMap[uint256, HashMap[bytes32, uint256]]
_fuels_listed: HashMap[uint256, uint256]

statement_count: public(uint256)
_statements: HashMap[uint256, Statement]
# @dev The publications a computed statement used, eight 32-bit ids a word;
# their count (bits 0-31), and when it was computed the publication count
# (bits 32-63) and the registry's void count (bits 64 on); a merged
# statement's parts, eight ids a word, and their count.
_used: HashMap[uint256, HashMap[uint256, uint256]]
_used_count: HashMap[uint256, uint256]
_parts: HashMap[uint256, HashMap[uint256, uint256]]
_part_count: HashMap[uint256, uint256]
_utility: HashMap[uint256, UtilityData]
_attestations: HashMap[uint256, HashMap[uint256, Attestation]]
_attested_by: HashMap[uint256, HashMap[address, bool]]
# @dev Coverage: key (a meter id, or `_utility_key`) => word => a bit per
# interval of the backend (for utility data too, whose hours are whole
# intervals), bit i of word w for the interval that begins at (256 w + i)
# intervals.
_covered: HashMap[bytes32, HashMap[uint256, uint256]]
# @dev The sha256 of every bill's raw data stated from, whatever its utility.
_bill_stated: HashMap[bytes32, bool]
balanceOf: public(HashMap[address, uint256])
request_count: public(uint256)
_requests: HashMap[uint256, Request]


event PublisherSet:
    sector: String[16]
    account: indexed(address)
    appointed: bool
    by: indexed(address)


event AuditorSet:
    sector: String[16]
    account: indexed(address)
    appointed: bool
    by: indexed(address)


event FactorsPublished:
    id: indexed(uint256)
    publisher: indexed(address)
    kind: uint256
    sector: String[16]
    period: uint256
    source: String[MAX_SOURCE]
    cid: String[MAX_CID]
    supersedes: uint256


event PublicationSuperseded:
    id: indexed(uint256)
    by: indexed(uint256)
    publisher: indexed(address)


event Transfer:
    _from: indexed(address)
    _to: indexed(address)
    _tokenId: indexed(uint256)


event Locked:
    tokenId: uint256


event StatementMade:
    id: indexed(uint256)
    account: indexed(address)
    meter_id: indexed(bytes32)
    origin: uint256
    begin: uint256
    end: uint256
    consumed_wh: uint256
    matched_wh: uint256
    location_g: uint256
    market_g: uint256


event StatementSuperseded:
    id: indexed(uint256)
    by: indexed(uint256)


event StatementAttested:
    id: indexed(uint256)
    auditor: indexed(address)
    note: String[MAX_NOTE]
    cid: String[MAX_CID]


event StatementRequested:
    id: indexed(uint256)
    customer: indexed(address)
    auditor: indexed(address)
    sector: String[16]
    utility: String[MAX_SOURCE]
    begin: uint256
    end: uint256


event UtilityStatementPublished:
    id: indexed(uint256)
    request: indexed(uint256)
    auditor: indexed(address)
    data_sha256: bytes32
    data_cid: String[MAX_CID]


@deploy
def __init__(registry_: IGGORegistry, backend_: ISmartMeterBackend):
    """
    @dev The deployer becomes admin.
    @param registry_ The GGORegistry whose retirements count.
    @param backend_ That registry's SmartMeterBackend (`registry_.backend()`),
           whose measurements and issuing bodies are used. Named by the
           deployer rather than read here: deploy scripts simulate the
           constructor against a registry deployed moments before.
    """
    access_control.__init__()
    registry = registry_
    backend = backend_
    interval_length = staticcall backend_.interval_length()


# ADMIN OR ISSUING BODY


@external
def set_publisher(sector: String[16], account: address, appointed: bool):
    """
    @notice Appoints (or removes) a factor publisher of a sector.
    @dev The admin, or an issuing body of the sector.
    """
    self._check_appointer(sector, account)
    self._publishers[keccak256(sector)][account] = appointed
    log PublisherSet(sector=sector, account=account, appointed=appointed, by=msg.sender)


@external
def set_auditor(sector: String[16], account: address, appointed: bool):
    """
    @notice Appoints (or removes) an auditor of a sector.
    @dev The admin, or an issuing body of the sector.
    """
    self._check_appointer(sector, account)
    self._auditors[keccak256(sector)][account] = appointed
    log AuditorSet(sector=sector, account=account, appointed=appointed, by=msg.sender)


# FACTOR PUBLISHER


@external
def publish_day(
    sector: String[16],
    day_begin: uint256,
    factors: uint256[24],
    source: String[MAX_SOURCE],
    cid: String[MAX_CID],
    supersedes: uint256,
) -> uint256:
    """
    @notice Publishes a day's hourly location-based factors of a sector.
    @param day_begin The day's begin, a UTC midnight (unix seconds).
    @param factors mg CO2e per kWh for each hour, 00:00-01:00 UTC first.
    @param source The source's name, e.g. "Energinet environmental declaration 2025".
    @param cid The content id of the source's data file.
    @param supersedes The current publication this corrects; 0 for the first.
    @return uint256 The publication's id.
    """
    assert day_begin % DAY == 0, "emissions: a day begins at midnight UTC"
    words: uint256[3] = empty(uint256[3])
    for h: uint256 in range(24):
        self._check_factor(factors[h])
        words[h // 8] |= self._pack_hour(factors[h], h % 8)
    id: uint256 = self._publish(KIND_HOURLY_DAY, sector, day_begin, 0, source, cid, supersedes)
    for w: uint256 in range(3):
        self._hourly[id][w] = words[w]
    return id


@external
def publish_year(
    sector: String[16],
    kind: uint256,
    year: uint256,
    factor: uint256,
    source: String[MAX_SOURCE],
    cid: String[MAX_CID],
    supersedes: uint256,
) -> uint256:
    """
    @notice Publishes a sector's yearly location-based factor
            (KIND_LOCATION_YEAR) or residual mix (KIND_RESIDUAL_YEAR).
    @param year A calendar year (UTC), e.g. 2025.
    @param factor mg CO2e per kWh.
    @return uint256 The publication's id.
    """
    assert kind == KIND_LOCATION_YEAR or kind == KIND_RESIDUAL_YEAR, "emissions: not a yearly kind"
    self._check_factor(factor)
    self._check_year(year)
    return self._publish(kind, sector, year, factor, source, cid, supersedes)


@external
def publish_fuel_factors(
    sector: String[16],
    year: uint256,
    fuel_codes: DynArray[String[16], MAX_FUELS],
    factors: DynArray[uint256, MAX_FUELS],
    source: String[MAX_SOURCE],
    cid: String[MAX_CID],
    supersedes: uint256,
) -> uint256:
    """
    @notice Publishes the factors of non-renewable fuels (AIB EECS fuel
            codes) at which their retired certificates count in a sector's
            market-based emissions that year.
    @return uint256 The publication's id.
    """
    assert len(fuel_codes) == len(factors), "emissions: lists differ in length"
    self._check_year(year)
    id: uint256 = self._publish(KIND_FUEL_YEAR, sector, year, 0, source, cid, supersedes)
    kept: uint256 = 0  # fuels of the superseded table listed again
    for i: uint256 in range(len(fuel_codes), bound=MAX_FUELS):
        self._check_factor(factors[i])
        key: bytes32 = keccak256(fuel_codes[i])
        assert self._fuel_factors[id][key] == 0, "emissions: a fuel code is listed twice"
        self._fuel_factors[id][key] = factors[i] | _PUBLISHED
        if self._fuel_factors[supersedes][key] != 0:
            kept += 1
    assert kept == self._fuels_listed[supersedes], "emissions: a correction drops a fuel"
    self._fuels_listed[id] = len(fuel_codes)
    return id


# METER OWNER


@external
def make_statement(meter_id: bytes32, begin: uint256, end: uint256) -> uint256:
    """
    @notice Computes and mints the caller's statement of a consumption
            meter's Scope 2 emissions over [begin, end).
    @dev Every interval of the period must be measured, by measurements
         recorded while the caller owned the meter, and in no other live
         statement. At most MAX_INTERVALS measurements (a month of hours is
         one statement, of quarter hours four), at most 366 days; `merge`
         joins them.
    @param begin Unix seconds on the interval grid.
    @param end Unix seconds on the interval grid, after `begin`.
    @return uint256 The statement's id.
    """
    assert begin % interval_length == 0 and end % interval_length == 0, "emissions: period not on the interval grid"
    self._check_period(begin, end)
    info: ISmartMeterBackend.MeterInfo = staticcall backend.meter(meter_id)
    assert info.owner != empty(address), "emissions: unknown meter"
    self._cover(meter_id, begin // interval_length, (end - begin) // interval_length)
    return self._make(meter_id, info.sector, begin, end, 0)


@external
def restate(id: uint256) -> uint256:
    """
    @notice Computes the caller's live statement from meters anew, over the
            same meter and period, with the retirements and the current
            factor publications of today, and supersedes (burns) it: for a
            certificate retired against the period after the statement was
            made, a retirement voided or a factor corrected since, or hourly
            factors published since for its days. The new statement starts
            unattested (the old one keeps its attestations).
    @dev A merged statement is not restated: restate its months, then merge.
    @return uint256 The new statement's id.
    """
    self._check_holder(id)
    return self._make(self._statements[id].meter_id, self._statements[id].sector, self._statements[id].begin, self._statements[id].end, id)


@external
def merge(parts: DynArray[uint256, MAX_PARTS]) -> uint256:
    """
    @notice Joins the caller's consecutive statements of one meter (say, a
            year's months) into one, and burns them. Its amounts are the exact
            sums of theirs, rounded once.
    @param parts Statement ids, in time order, each beginning where the one
           before ends; at most 366 days in all.
    @return uint256 The new statement's id.
    """
    assert len(parts) >= 2, "emissions: a merge needs two statements or more"
    joined: Statement = self._statements[parts[0]]
    joined.origin = ORIGIN_MERGED
    joined.consumed_wh = 0
    joined.matched_wh = 0
    joined.location_ug = 0
    joined.market_ug = 0
    joined.end = joined.begin
    joined.attestations = 0
    id: uint256 = self.statement_count + 1
    self.statement_count = id
    for part_id: uint256 in parts:
        part: Statement = self._statements[part_id]
        self._check_holder(part_id)
        assert part.meter_id == joined.meter_id, "emissions: statements of different meters"
        assert part.begin == joined.end, "emissions: statements not consecutive"
        joined.end = part.end
        joined.consumed_wh += part.consumed_wh
        joined.matched_wh += part.matched_wh
        joined.location_ug += part.location_ug
        joined.market_ug += part.market_ug
        self._burn(part_id, msg.sender, id)
    assert joined.end - joined.begin <= MAX_PERIOD, "emissions: merged period longer than 366 days"
    self._mint(id, joined)
    for i: uint256 in range(len(parts), bound=MAX_PARTS):
        self._parts[id][i // 8] |= self._pack_hour(parts[i], i % 8)
    self._part_count[id] = len(parts)
    return id


# CUSTOMER WITHOUT A METER ON CHAIN


@external
def request_utility_statement(auditor: address, sector: String[16], utility: String[MAX_SOURCE], begin: uint256, end: uint256) -> uint256:
    """
    @notice Asks an auditor of the sector for a statement from the caller's
            utility data over [begin, end). The auditor encrypts the raw data
            to the public key recovered from this transaction's signature.
    @param begin Unix seconds on the hour.
    @param end Unix seconds on the hour, at most 366 days after `begin`.
    @return uint256 The request's id.
    """
    assert self._auditors[keccak256(sector)][auditor], "emissions: not an auditor of this sector"
    assert auditor != msg.sender, "emissions: an auditor does not state its own emissions"
    assert begin % HOUR == 0 and end % HOUR == 0, "emissions: period not on the hour"
    self._check_period(begin, end)
    assert len(utility) != 0, "emissions: utility is empty"
    id: uint256 = self.request_count + 1
    self.request_count = id
    self._requests[id] = Request(customer=msg.sender, auditor=auditor, sector=sector, utility=utility, begin=begin, end=end, statement=0)
    log StatementRequested(id=id, customer=msg.sender, auditor=auditor, sector=sector, utility=utility, begin=begin, end=end)
    return id


# AUDITOR


@external
def publish_utility_statement(
    request_id: uint256,
    consumed_wh: uint256,
    location_mg_per_kwh: uint256,
    market_mg_per_kwh: uint256,
    data_format: String[32],
    data_sha256: bytes32,
    data_cid: String[MAX_CID],
) -> uint256:
    """
    @notice Mints the statement a customer requested from its utility data,
            marked ORIGIN_UTILITY; the amounts are computed here from the
            consumption and the two factors, rounded once like any statement.
    @param consumed_wh The bill's consumption over the request's period, Wh.
    @param location_mg_per_kwh The grid's location-based factor used.
    @param market_mg_per_kwh The utility's supplier-specific (market-based) factor used.
    @param data_format The raw data's format, e.g. "Green Button ESPI XML".
    @param data_sha256 The sha256 of the raw data, before encryption.
    @param data_cid The content id of the raw data encrypted to the customer's key.
    @return uint256 The statement's id.
    """
    request: Request = self._requests[request_id]
    assert request.auditor == msg.sender and msg.sender != empty(address), "emissions: request not addressed to the caller"
    assert self._auditors[keccak256(request.sector)][msg.sender], "emissions: caller is not an auditor of this sector"
    assert request.statement == 0, "emissions: request already answered"
    self._check_factor(location_mg_per_kwh)
    self._check_factor(market_mg_per_kwh)
    assert consumed_wh <= _UINT48, "emissions: consumption too large"
    # One bill, one statement: whatever the utility is called in the request.
    assert not self._bill_stated[data_sha256], "emissions: this bill data already has a statement"
    self._bill_stated[data_sha256] = True
    self._cover(self._utility_key(request.customer, request.utility), request.begin // interval_length, (request.end - request.begin) // interval_length)

    id: uint256 = self.statement_count + 1
    self.statement_count = id
    self._requests[request_id].statement = id
    self._utility[id] = UtilityData(
        auditor=msg.sender,
        utility=request.utility,
        location_mg_per_kwh=location_mg_per_kwh,
        market_mg_per_kwh=market_mg_per_kwh,
        data_format=data_format,
        data_sha256=data_sha256,
        data_cid=data_cid,
    )
    self._mint(
        id,
        Statement(
            account=request.customer,
            origin=ORIGIN_UTILITY,
            meter_id=empty(bytes32),
            sector=request.sector,
            begin=request.begin,
            end=request.end,
            consumed_wh=consumed_wh,
            matched_wh=0,
            location_ug=consumed_wh * location_mg_per_kwh,
            market_ug=consumed_wh * market_mg_per_kwh,
            location_g=0,
            market_g=0,
            made_at=0,
            superseded_by=0,
            attestations=0,
        ),
    )
    log UtilityStatementPublished(id=id, request=request_id, auditor=msg.sender, data_sha256=data_sha256, data_cid=data_cid)
    return id


@external
def attest(statement_id: uint256, note: String[MAX_NOTE], cid: String[MAX_CID]):
    """
    @notice Attests a live statement of the caller's sector, with a note and
            the content id of the working papers; once per auditor. Not the
            caller's own statement (an auditor is independent of what it
            attests), and not one computed on a factor publication that was
            superseded since (a correction it was made ahead of), nor one
            with a day whose hourly factors were published after it was made
            (it counted the year's factor), or whose meter had a retirement
            voided that day since: its holder restates it first.
    """
    account: address = self._statements[statement_id].account
    assert account != empty(address), "emissions: no such statement"
    assert self._auditors[keccak256(self._statements[statement_id].sector)][msg.sender], "emissions: caller is not an auditor of this sector"
    assert account != msg.sender, "emissions: an auditor does not attest its own statement"
    assert self._statements[statement_id].superseded_by == 0, "emissions: statement already superseded"
    assert not self._attested_by[statement_id][msg.sender], "emissions: caller already attested this statement"
    # A merged statement's publications are its parts'.
    if self._statements[statement_id].origin == ORIGIN_MERGED:
        for i: uint256 in range(self._part_count[statement_id], bound=MAX_PARTS):
            self._check_current(self._unpack_hour(self._parts[statement_id][i // 8], i % 8))
    else:
        self._check_current(statement_id)
    count: uint256 = self._statements[statement_id].attestations
    self._attested_by[statement_id][msg.sender] = True
    self._attestations[statement_id][count] = Attestation(auditor=msg.sender, note=note, cid=cid, attested_at=block.timestamp)
    self._statements[statement_id].attestations = count + 1
    log StatementAttested(id=statement_id, auditor=msg.sender, note=note, cid=cid)


# ERC-721, LOCKED


@external
def transferFrom(_from: address, _to: address, _tokenId: uint256):
    self._refuse_transfer()


@external
def safeTransferFrom(_from: address, _to: address, _tokenId: uint256, _data: Bytes[1_024] = b""):
    self._refuse_transfer()


@external
def approve(_approved: address, _tokenId: uint256):
    self._refuse_transfer()


@external
def setApprovalForAll(_operator: address, _approved: bool):
    self._refuse_transfer()


# VIEW


@external
@view
def supportsInterface(interfaceId: bytes4) -> bool:
    return interfaceId in _SUPPORTED_INTERFACES


@external
@view
def ownerOf(_tokenId: uint256) -> address:
    return self._live_account(_tokenId)


@external
@view
def getApproved(_tokenId: uint256) -> address:
    return empty(address)


@external
@view
def isApprovedForAll(_owner: address, _operator: address) -> bool:
    return False


@external
@view
def locked(tokenId: uint256) -> bool:
    """
    @notice ERC-5192: every statement is locked to its account.
    """
    self._live_account(tokenId)
    return True


@external
@view
def statement(id: uint256) -> Statement:
    """
    @notice A statement, live or superseded (`superseded_by` non-zero);
            all empty for an unknown id.
    """
    return self._statements[id]


@external
@view
def utility_data(id: uint256) -> UtilityData:
    """
    @notice What an auditor published with a statement from utility data.
    """
    return self._utility[id]


@external
@view
def attestation(id: uint256, index: uint256) -> Attestation:
    """
    @notice A statement's attestation `index` (0 to `attestations` - 1).
    """
    return self._attestations[id][index]


@external
@view
def publications_used(id: uint256) -> DynArray[uint256, _MAX_USED]:
    """
    @notice The factor publications a computed statement used, in order of
            first use (a merged statement: see `parts`).
    """
    return self._used_ids(id)


@external
@view
def parts(id: uint256) -> DynArray[uint256, MAX_PARTS]:
    """
    @notice The statements a merged statement burned, in time order.
    """
    return self._part_ids(id)


@external
@view
def publication(id: uint256) -> Publication:
    return self._publications[id]


@external
@view
def current_publication(sector: String[16], kind: uint256, period: uint256) -> uint256:
    """
    @return uint256 The live publication of a sector, kind and period (a
            day's begin for KIND_HOURLY_DAY, else a year); 0 when none.
    """
    return self._current[keccak256(sector)][kind][period]


@external
@view
def hourly_factors(id: uint256) -> uint256[24]:
    """
    @return The 24 hourly factors of a day's publication, mg CO2e/kWh.
    """
    factors: uint256[24] = empty(uint256[24])
    for h: uint256 in range(24):
        factors[h] = self._unpack_hour(self._hourly[id][h // 8], h % 8)
    return factors


@external
@view
def fuel_factor(id: uint256, fuel_code: String[16]) -> (bool, uint256):
    """
    @return (bool, uint256) Whether a fuel table publication lists the fuel, and its factor.
    """
    entry: uint256 = self._fuel_factors[id][keccak256(fuel_code)]
    return entry != 0, entry & _UINT32


@external
@view
def is_publisher(sector: String[16], account: address) -> bool:
    return self._publishers[keccak256(sector)][account]


@external
@view
def is_auditor(sector: String[16], account: address) -> bool:
    return self._auditors[keccak256(sector)][account]


@external
@view
def is_covered(key: bytes32, interval_begin: uint256) -> bool:
    """
    @return bool Whether a live statement covers the interval of a meter (or,
            with keccak256(abi_encode(customer, keccak256(utility))) and an
            hour's begin, of a customer's statements from a utility's data).
    """
    step: uint256 = interval_length
    index: uint256 = interval_begin // step
    return (self._covered[key][index >> 8] >> (index & 255)) & 1 != 0


@external
@view
def request(id: uint256) -> Request:
    return self._requests[id]


# INTERNAL


@internal
@view
def _check_appointer(sector: String[16], account: address):
    assert len(sector) != 0, "emissions: sector is empty"
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender] or staticcall backend.is_issuing_body(sector, msg.sender), "emissions: caller is not the admin or an issuing body of this sector"
    assert account != empty(address), "emissions: account is the zero address"


@internal
@pure
def _check_factor(factor: uint256):
    assert factor <= MAX_FACTOR, "emissions: factor too large"


@internal
@pure
def _refuse_transfer():
    raise "emissions: statements are not transferable"


@internal
@view
def _live_account(id: uint256) -> address:
    """
    @dev The account holding a live statement; reverts for any other id.
    """
    account: address = self._statements[id].account
    assert account != empty(address) and self._statements[id].superseded_by == 0, "emissions: no such statement"
    return account


@internal
@pure
def _check_period(begin: uint256, end: uint256):
    assert end > begin, "emissions: empty period"
    assert end - begin <= MAX_PERIOD, "emissions: period longer than 366 days"


@internal
@pure
def _check_year(year: uint256):
    assert year >= 1970 and year <= 9999, "emissions: year out of range"


@internal
def _publish(kind: uint256, sector: String[16], period: uint256, factor: uint256, source: String[MAX_SOURCE], cid: String[MAX_CID], supersedes: uint256) -> uint256:
    sector_key: bytes32 = keccak256(sector)
    assert self._publishers[sector_key][msg.sender], "emissions: caller is not a factor publisher of this sector"
    assert len(source) != 0 and len(cid) != 0, "emissions: a publication names its source and content id"
    # Naming the publication it corrects, a publisher cannot overwrite one
    # it has not seen (another publisher's, published meanwhile).
    assert self._current[sector_key][kind][period] == supersedes, "emissions: the publication to supersede is not the current one"
    id: uint256 = self.publication_count + 1
    assert id <= _UINT32, "emissions: too many publications"
    self.publication_count = id
    self._publications[id] = Publication(
        kind=kind,
        sector=sector,
        period=period,
        factor_mg_per_kwh=factor,
        publisher=msg.sender,
        source=source,
        cid=cid,
        published_at=block.timestamp,
        supersedes=supersedes,
        superseded_by=0,
    )
    self._current[sector_key][kind][period] = id
    log FactorsPublished(id=id, publisher=msg.sender, kind=kind, sector=sector, period=period, source=source, cid=cid, supersedes=supersedes)
    if supersedes != 0:
        self._publications[supersedes].superseded_by = id
        log PublicationSuperseded(id=supersedes, by=id, publisher=msg.sender)
    return id


@internal
def _make(meter_id: bytes32, sector: String[16], begin: uint256, end: uint256, supersedes: uint256) -> uint256:
    """
    @dev Computes and mints the caller's statement of a meter over a period
         already marked covered, burning `supersedes` (0: none) for it.
    """
    id: uint256 = self.statement_count + 1
    self.statement_count = id
    statement: Statement = self._compute(id, meter_id, keccak256(sector), begin, end, msg.sender)
    statement.sector = sector
    if supersedes != 0:
        self._burn(supersedes, msg.sender, id)
    self._mint(id, statement)
    return id


@internal
@view
def _check_holder(id: uint256):
    """
    @dev The caller holds live statement `id`, computed from meters (the
         statements that merge and restate).
    """
    assert self._statements[id].account == msg.sender, "emissions: caller does not hold the statement"
    assert self._statements[id].superseded_by == 0, "emissions: statement already superseded"
    assert self._statements[id].origin == ORIGIN_METER, "emissions: not a statement computed from meters"


@internal
def _compute(id: uint256, meter_id: bytes32, sector_key: bytes32, begin: uint256, end: uint256, account: address) -> Statement:
    """
    @dev Walks the period's measurements in order and sums the accounting
         described at the top; records the publications used.
    """
    s: Statement = empty(Statement)
    s.account = account
    s.origin = ORIGIN_METER
    s.meter_id = meter_id
    s.begin = begin
    s.end = end
    used: uint256[5] = empty(uint256[5])
    used_count: uint256 = 0

    # Caches: the day's publication and words, the year's bounds and publications.
    day: uint256 = max_value(uint256)
    day_pub: uint256 = 0
    day_words: uint256[3] = empty(uint256[3])
    day_noted: bool = False
    year_end: uint256 = 0
    year: uint256 = 0
    location_pub: uint256 = 0
    residual_pub: uint256 = 0
    fuel_pub: uint256 = 0
    location_noted: bool = False
    residual_noted: bool = False
    fuel_noted: bool = False

    t: uint256 = begin
    for i: uint256 in range(MAX_INTERVALS):
        if t >= end:
            break
        m: ISmartMeterBackend.Settlement = staticcall backend.settlement_data(meter_id, t)
        assert m.interval_end != 0, "emissions: an interval of the period has no measurement"
        assert m.owner == account, "emissions: a measurement of the period is not the caller's"
        assert m.interval_end <= end, "emissions: a measurement runs past the period's end"
        c: uint256 = m.consumed_wh
        if c != 0:
            if t >= year_end:
                year = self._year_of(t)
                year_end = self._year_start(year + 1)
                location_pub = self._current[sector_key][KIND_LOCATION_YEAR][year]
                residual_pub = self._current[sector_key][KIND_RESIDUAL_YEAR][year]
                fuel_pub = self._current[sector_key][KIND_FUEL_YEAR][year]
                location_noted = False
                residual_noted = False
                fuel_noted = False
            single: bool = m.interval_end - t == interval_length
            # Location-based: the hour's factor, else the year's.
            factor: uint256 = 0
            hourly: bool = False
            if single:
                if t // DAY != day:
                    day = t // DAY
                    day_pub = self._current[sector_key][KIND_HOURLY_DAY][day * DAY]
                    day_noted = False
                    if day_pub != 0:
                        for w: uint256 in range(3):
                            day_words[w] = self._hourly[day_pub][w]
                if day_pub != 0:
                    hour: uint256 = (t % DAY) // HOUR
                    factor = self._unpack_hour(day_words[hour // 8], hour % 8)
                    hourly = True
                    if not day_noted:
                        used, used_count = self._note(used, used_count, day_pub)
                        day_noted = True
            if not hourly:
                assert location_pub != 0, "emissions: no location-based factor for an interval"
                factor = self._publications[location_pub].factor_mg_per_kwh
                if not location_noted:
                    used, used_count = self._note(used, used_count, location_pub)
                    location_noted = True
            s.location_ug += c * factor

            # Market-based: unmatched Wh at the residual mix, retired Wh of
            # non-renewable fuels at their factors, renewable ones at zero.
            retired: uint256 = 0
            fuels: uint256 = 0
            if single:
                retired, fuels = staticcall registry.retirement_data(meter_id, t)
            if retired < c:
                assert residual_pub != 0, "emissions: no residual mix for an interval"
                s.market_ug += (c - retired) * self._publications[residual_pub].factor_mg_per_kwh
                if not residual_noted:
                    used, used_count = self._note(used, used_count, residual_pub)
                    residual_noted = True
            if fuels != 0:
                assert fuel_pub != 0, "emissions: no fuel factors for a retired certificate"
                if not fuel_noted:
                    used, used_count = self._note(used, used_count, fuel_pub)
                    fuel_noted = True
                for k: uint256 in range(4):
                    pair: uint256 = (fuels >> (64 * k)) & (2**64 - 1)
                    if pair == 0:
                        break
                    fuel_code: String[16] = staticcall registry.fuel_code(pair & _UINT16)
                    entry: uint256 = self._fuel_factors[fuel_pub][keccak256(fuel_code)]
                    assert entry != 0, "emissions: no factor for a retired certificate's fuel"
                    s.market_ug += (pair >> 16) * (entry & _UINT32)
            s.consumed_wh += c
            s.matched_wh += retired
        t = m.interval_end
    # Each pass reads one measurement: a period of more is refused, never
    # minted partial.
    assert t == end, "emissions: more than MAX_INTERVALS measurements"
    for w: uint256 in range(5):
        if w * 8 >= used_count:
            break
        self._used[id][w] = used[w]
    self._used_count[id] = used_count | (self.publication_count << 32) | ((staticcall registry.void_count()) << 64)
    return s


@internal
@view
def _check_current(id: uint256):
    """
    @dev Reverts if a publication a computed statement used was superseded,
         if a day of its period got hourly factors after it was made (it
         counted the year's factor then, and its holder would choose the
         lower by timing), or if a retirement against its meter on a day of
         its period was voided since. A statement from utility data, or one
         that consumed nothing, used no publication and is not checked.
    """
    stale: bool = False
    count: uint256 = self._used_count[id] & _UINT32
    for i: uint256 in range(count, bound=_MAX_USED):
        stale = stale or self._publications[self._unpack_hour(self._used[id][i // 8], i % 8)].superseded_by != 0
    if count != 0:
        # Ids grow: a day's publication, or a void of a retirement against
        # its meter that day, numbered after the last it knew came later, in
        # the same block too (a front-run statement).
        known: uint256 = self._used_count[id] >> 32
        meter_id: bytes32 = self._statements[id].meter_id
        sector_key: bytes32 = keccak256(self._statements[id].sector)
        day: uint256 = self._statements[id].begin // DAY * DAY
        for d: uint256 in range(MAX_PERIOD // DAY + 1):
            if day >= self._statements[id].end:
                break
            stale = stale or self._current[sector_key][KIND_HOURLY_DAY][day] > (known & _UINT32) or staticcall registry.voided_in(meter_id, day) > (known >> 32)
            day += DAY
    assert not stale, "emissions: its factors or retirements changed since; restate it"


@internal
@pure
def _note(used: uint256[5], count: uint256, pub: uint256) -> (uint256[5], uint256):
    """
    @dev `used` with publication `pub` appended as entry `count`.
    """
    assert count < _MAX_USED, "emissions: too many publications for one statement"
    result: uint256[5] = used
    result[count // 8] |= self._pack_hour(pub, count % 8)
    return result, count + 1


@internal
def _cover(key: bytes32, first: uint256, count: uint256):
    """
    @dev Marks intervals [first, first + count) of `key` covered, reverting
         if any already is: statements of one meter never overlap.
    """
    last: uint256 = first + count  # exclusive
    for w: uint256 in range(first >> 8, (first >> 8) + _MAX_WORDS, bound=_MAX_WORDS):
        if w << 8 >= last:
            break
        low: uint256 = max(first, w << 8) - (w << 8)
        high: uint256 = min(last, (w + 1) << 8) - (w << 8)
        mask: uint256 = self._bit_range(low, high)
        word: uint256 = self._covered[key][w]
        assert word & mask == 0, "emissions: an interval of the period already has a statement"
        self._covered[key][w] = word | mask


@internal
@pure
def _bit_range(low: uint256, high: uint256) -> uint256:
    """
    @dev Bits [low, high) of a word set, 0 <= low < high <= 256.
    """
    return (max_value(uint256) >> (256 - (high - low))) << low


@internal
@pure
def _pack_hour(field: uint256, slot: uint256) -> uint256:
    """
    @dev `field` (< 2**32) in 32-bit slot `slot` (0-7) of a word: an hour's
         factor of a day's word, or a publication or statement id in a list.
    """
    return (field & _UINT32) << (32 * slot)


@internal
@pure
def _unpack_hour(word: uint256, slot: uint256) -> uint256:
    """
    @dev 32-bit slot `slot` (0-7) of a word.
    """
    return (word >> (32 * slot)) & _UINT32


@internal
@view
def _used_ids(id: uint256) -> DynArray[uint256, _MAX_USED]:
    """
    @dev The publications a computed statement used, unpacked.
    """
    ids: DynArray[uint256, _MAX_USED] = []
    for i: uint256 in range(self._used_count[id] & _UINT32, bound=_MAX_USED):
        ids.append(self._unpack_hour(self._used[id][i // 8], i % 8))
    return ids


@internal
@view
def _part_ids(id: uint256) -> DynArray[uint256, MAX_PARTS]:
    """
    @dev The statements a merged statement burned, unpacked.
    """
    ids: DynArray[uint256, MAX_PARTS] = []
    for i: uint256 in range(self._part_count[id], bound=MAX_PARTS):
        ids.append(self._unpack_hour(self._parts[id][i // 8], i % 8))
    return ids


@internal
@pure
def _utility_key(customer: address, utility: String[MAX_SOURCE]) -> bytes32:
    return keccak256(abi_encode(customer, keccak256(utility)))


@internal
@pure
def _grams(ug: uint256) -> uint256:
    """
    @dev Micrograms to grams, half up: the one rounding of a statement.
    """
    return (ug + _UG_PER_G // 2) // _UG_PER_G


@internal
@pure
def _year_start(year: uint256) -> uint256:
    """
    @dev Unix seconds of 1 January of `year` (>= 1970), 00:00 UTC.
    """
    y: uint256 = year - 1
    return (365 * y + y // 4 - y // 100 + y // 400 - 719_162) * DAY


@internal
@pure
def _year_of(timestamp: uint256) -> uint256:
    """
    @dev The UTC calendar year of a unix time: an estimate by the mean
         Gregorian year, corrected by one either way.
    """
    year: uint256 = 1970 + timestamp // 31_556_952
    if self._year_start(year) > timestamp:
        year -= 1
    elif self._year_start(year + 1) <= timestamp:
        year += 1
    return year


@internal
def _mint(id: uint256, statement: Statement):
    s: Statement = statement
    s.location_g = self._grams(s.location_ug)
    s.market_g = self._grams(s.market_ug)
    s.made_at = block.timestamp
    s.superseded_by = 0
    self._statements[id] = s
    self.balanceOf[s.account] += 1
    log Transfer(_from=empty(address), _to=s.account, _tokenId=id)
    log Locked(tokenId=id)
    log StatementMade(
        id=id,
        account=s.account,
        meter_id=s.meter_id,
        origin=s.origin,
        begin=s.begin,
        end=s.end,
        consumed_wh=s.consumed_wh,
        matched_wh=s.matched_wh,
        location_g=s.location_g,
        market_g=s.market_g,
    )


@internal
def _burn(id: uint256, account: address, by: uint256):
    self._statements[id].superseded_by = by
    self.balanceOf[account] -= 1
    log Transfer(_from=account, _to=empty(address), _tokenId=id)
    log StatementSuperseded(id=id, by=by)

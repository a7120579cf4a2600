# pragma version ~=0.4.3
"""
@title OpenKWh granular guarantees of origin
@license GNU Affero General Public License v3.0 only
@notice Hourly certificates of origin (seed 002, Energinet's Project Origin)
        as ERC-1155 tokens of whole Wh, with ERC-1888 claims. A certificate
        is the production measurement of one interval of one certified meter:
        its id is `uint256(keccak256(abi_encode(meter_id, interval_begin)))`.
        Issuance is permissionless and idempotent; Wh sold forward are minted
        to the Exchange's custody, the rest to the meter's owner. A holder
        retires (claims) Wh against its own consumption measurement of the same
        interval and sector; an interval's retired Wh never exceed its
        consumed Wh.
@custom:security Trusted: the SmartMeterBackend this registry certifies (its
                 measurements and its issuing bodies), and the admin, who
                 wires the Exchange once. An issuing body can revoke the
                 certificates of its sector. Expired or revoked certificates
                 neither move nor retire.
@custom:storage The ERC-1155 logic is written here rather than taken from
                snekmate's `erc1155` module because the layout is what makes
                hourly certificates affordable: a certificate is one packed
                slot; the owner's share is not written at issuance but
                credited the first time the owner moves or retires it (the
                TransferSingle event is logged at issuance as usual); a
                holder's balance and claimed balance share one slot.
"""


from ethereum.ercs import IERC165
implements: IERC165

from snekmate.tokens.interfaces import IERC1155
implements: IERC1155

from snekmate.tokens.interfaces import IERC1155MetadataURI
implements: IERC1155MetadataURI

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
    # ERC-1155 and its metadata too) and `set_role_admin`.
)


struct Certificate:
    meter_id: bytes32
    interval_begin: uint256
    interval_end: uint256
    sector: String[16]
    tech_code: String[16]
    fuel_code: String[16]
    issued_wh: uint256
    custody_wh: uint256
    expiry: uint256
    revoked: bool


struct Retirement:
    id: uint256
    wh: uint256
    consumption_meter_id: bytes32


from .interfaces import ISmartMeterBackend
from .interfaces import IExchange
from .interfaces import IGGORegistry
implements: IGGORegistry


MAX_BATCH: constant(uint256) = 96
MAX_CLAIM_DATA: constant(uint256) = 256  # bytes
MAX_REASON: constant(uint256) = 128  # characters
DAY: constant(uint256) = 86_400  # seconds: `voided_in` notes voids per UTC day
ENERGY_TOPIC: constant(int256) = 1  # ERC-1888 topic of these claims: energy attribute certificates

_SUPPORTED_INTERFACES: constant(bytes4[4]) = [
    0x01FFC9A7,  # ERC-165
    0xD9B67A26,  # ERC-1155
    0x0E89341C,  # ERC-1155 metadata URI
    0x7965DB0B,  # access control
]
_ON_RECEIVED: constant(bytes4) = method_id("onERC1155Received(address,address,uint256,uint256,bytes)", output_type=bytes4)
_ON_BATCH_RECEIVED: constant(bytes4) = method_id("onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)", output_type=bytes4)

# Certificate slot: begin (bits 0-39, unix seconds), issued Wh (40-87), Wh in
# the Exchange's custody (88-135), meter number (136-175), owner epoch
# (176-207), sector number (208-223), flags: owner's share credited (224),
# revoked (225), expiry logged (226), and the fuel number (232-239: 0 for a
# renewable fuel, see `_fuel_number`). Read through `_cert_meter`,
# `_cert_epoch`, `_cert_sector` and `_cert_fuel`.
_UINT40: constant(uint256) = 2**40 - 1
_UINT48: constant(uint256) = 2**48 - 1
_UINT32: constant(uint256) = 2**32 - 1
_UINT16: constant(uint256) = 2**16 - 1
_CREDITED: constant(uint256) = 1 << 224
_REVOKED: constant(uint256) = 1 << 225
_EXPIRY_LOGGED: constant(uint256) = 1 << 226

# Meter record: owner at the last issuance (bits 0-159), meter number
# (160-199), owner epoch (200-231), sector number (232-247), fuel number
# (248-255). Every field is wide enough for what can happen: 2**40 meters,
# 2**32 owner changes of one meter, 65,535 sectors, 255 non-renewable fuels;
# `_enrol` and `_issue` refuse to go past them.
_UINT160: constant(uint256) = 2**160 - 1
# @dev The largest meter number, owner epoch and sector number.
MAX_METERS: public(constant(uint256)) = 2**40 - 1
MAX_OWNER_EPOCH: public(constant(uint256)) = 2**32 - 1
MAX_SECTORS: public(constant(uint256)) = 2**16 - 1
# @dev The most non-renewable fuel codes, and the most of them retired against
# one consumption interval (see `retired_fuels`).
MAX_FUELS: public(constant(uint256)) = 2**8 - 1
MAX_FUELS_PER_INTERVAL: public(constant(uint256)) = 4
# @dev Gas a contract owner's ERC-1155 hook may use at issuance; a hook that
# fails or runs out does not stop issuance (the share stays its balance).
HOOK_GAS: public(constant(uint256)) = 100_000

# Holding slot: balance (bits 0-127) and claimed balance (128-255), in Wh.
_UINT128: constant(uint256) = 2**128 - 1


# @dev The SmartMeterBackend whose measurements this registry certifies.
backend: public(immutable(ISmartMeterBackend))

# @dev Interval length of the backend, in seconds.
interval_length: public(immutable(uint256))

# @dev Seconds a certificate stays valid after its interval ends.
validity: public(immutable(uint256))

# @dev The Exchange holding sold Wh in custody; wired once by the admin.
exchange: public(address)

isApprovedForAll: public(HashMap[address, HashMap[address, bool]])

_certificates: HashMap[uint256, uint256]
_holdings: HashMap[address, HashMap[uint256, uint256]]
_meters: HashMap[bytes32, uint256]
_meter_ids: HashMap[uint256, bytes32]  # meter number => meter id
_owners: HashMap[uint256, HashMap[uint256, address]]  # meter number => epoch => owner
_sector_numbers: HashMap[bytes32, uint256]  # keccak256(sector) => sector number
_sector_names: HashMap[uint256, String[16]]
_sector_keys: HashMap[uint256, bytes32]
_meter_count: uint256
_sector_count: uint256

# @dev Retired Wh per consumption meter and interval begin.
retired_against: public(HashMap[bytes32, HashMap[uint256, uint256]])

# @dev Of those, the Wh of non-renewable fuels, by fuel: per consumption
# meter and interval begin, up to four (fuel number 16 bits, Wh 48 bits)
# pairs, pair k in bits 64k to 64k+63 (see `_fuel_pair`); written only when a
# certificate of a non-renewable fuel is retired, so that renewable
# retirements cost what they did. The EmissionsRegistry reads it.
_retired_fuels: HashMap[bytes32, HashMap[uint256, uint256]]
_fuel_numbers: HashMap[bytes32, uint256]  # keccak256(fuel code) => fuel number
# @dev Wh of a revoked certificate taken out of `retired_against` (see
# `void_retirement`), in all; at most its issued Wh.
voided: public(HashMap[uint256, uint256])
# @dev Voids so far, and per consumption meter and UTC day (its begin, unix
# seconds) the number of the last void of a retirement against an interval
# of that day: an EmissionsRegistry tells a statement computed before a
# void of its period from one computed after.
void_count: public(uint256)
voided_in: public(HashMap[bytes32, HashMap[uint256, uint256]])
_fuel_codes: HashMap[uint256, String[16]]
_fuel_count: uint256


event CertificateIssued:
    id: indexed(uint256)
    meter_id: indexed(bytes32)
    interval_begin: uint256
    issued_wh: uint256
    custody_wh: uint256


event ClaimSingle:
    _claimIssuer: indexed(address)
    _claimSubject: indexed(address)
    _topic: indexed(int256)
    _id: uint256
    _value: uint256
    _claimData: Bytes[MAX_CLAIM_DATA]


event CertificateRetired:
    id: indexed(uint256)
    consumption_meter_id: indexed(bytes32)
    holder: indexed(address)
    wh: uint256


event CertificateRevoked:
    id: indexed(uint256)
    issuing_body: indexed(address)
    reason: String[MAX_REASON]


event RetirementVoided:
    id: indexed(uint256)
    consumption_meter_id: indexed(bytes32)
    issuing_body: indexed(address)
    wh: uint256


event CertificateExpired:
    id: indexed(uint256)
    expiry: uint256


event ExchangeWired:
    exchange: indexed(address)
    admin: indexed(address)


event CertificatesHeld:
    account: indexed(address)
    id: indexed(uint256)
    wh: uint256


@deploy
def __init__(backend_: ISmartMeterBackend, validity_: uint256):
    """
    @dev The deployer becomes admin.
    @param backend_ The SmartMeterBackend to certify.
    @param validity_ Seconds a certificate stays valid after its interval ends (e.g. 365 days).
    """
    assert validity_ != 0, "registry: validity is zero"
    access_control.__init__()
    backend = backend_
    interval_length = staticcall backend_.interval_length()
    validity = validity_


# PERMISSIONLESS


@external
def issue(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @notice Issues the certificate of a production measurement; anyone may
            call it, and a second call issues nothing.
    @param meter_id A certified producing meter with AIB technology and fuel codes.
    @param interval_begin Unix seconds, the begin of a measurement exactly one interval long.
    @return uint256 The Wh issued by this call.
    """
    return self._issue(meter_id, interval_begin)


@external
def issue_many(meter_ids: DynArray[bytes32, MAX_BATCH], interval_begins: DynArray[uint256, MAX_BATCH]) -> uint256:
    """
    @notice `issue` for a batch of (meter, interval begin) pairs.
    @return uint256 The Wh issued by this call.
    """
    assert len(meter_ids) == len(interval_begins), "registry: batch lengths differ"
    issued: uint256 = 0
    for i: uint256 in range(len(meter_ids), bound=MAX_BATCH):
        issued += self._issue(meter_ids[i], interval_begins[i])
    return issued


@external
def expire(id: uint256):
    """
    @notice Logs `CertificateExpired` once the certificate's validity has
            passed (it stops moving at that moment whether or not this is called).
    """
    cert: uint256 = self._certificates[id]
    assert cert != 0, "registry: unknown certificate"
    expiry: uint256 = self._expiry(cert)
    assert block.timestamp >= expiry, "registry: certificate has not expired"
    assert cert & _EXPIRY_LOGGED == 0, "registry: expiry already logged"
    self._certificates[id] = cert | _EXPIRY_LOGGED
    log CertificateExpired(id=id, expiry=expiry)


# HOLDER


@external
def safeTransferFrom(_from: address, _to: address, _id: uint256, _value: uint256, _data: Bytes[1_024]):
    """
    @notice Moves `_value` Wh of certificate `_id`; a part of a balance is a split.
    """
    assert _from == msg.sender or self.isApprovedForAll[_from][msg.sender], "registry: caller is not holder or approved"
    assert _to != empty(address), "registry: transfer to the zero address"
    self._check_movable(self._certificates[_id])
    self._move(_from, _to, _id, _value)
    log IERC1155.TransferSingle(_operator=msg.sender, _from=_from, _to=_to, _id=_id, _value=_value)
    if _to.is_contract:
        self._check_received(_to, abi_encode(msg.sender, _from, _id, _value, _data, method_id=_ON_RECEIVED), _ON_RECEIVED)


@external
def safeBatchTransferFrom(
    _from: address,
    _to: address,
    _ids: DynArray[uint256, 128],
    _values: DynArray[uint256, 128],
    _data: Bytes[1_024],
):
    """
    @notice Moves several certificates at once.
    """
    assert _from == msg.sender or self.isApprovedForAll[_from][msg.sender], "registry: caller is not holder or approved"
    assert _to != empty(address), "registry: transfer to the zero address"
    assert len(_ids) == len(_values), "registry: batch lengths differ"
    for i: uint256 in range(len(_ids), bound=128):
        self._check_movable(self._certificates[_ids[i]])
        self._move(_from, _to, _ids[i], _values[i])
    log IERC1155.TransferBatch(_operator=msg.sender, _from=_from, _to=_to, _ids=_ids, _values=_values)
    if _to.is_contract:
        success: bool = False
        response: Bytes[256] = b""
        success, response = raw_call(
            _to,
            abi_encode(msg.sender, _from, _ids, _values, _data, method_id=_ON_BATCH_RECEIVED),
            max_outsize=256,
            revert_on_failure=False,
        )
        self._check_answer(success, response, _ON_BATCH_RECEIVED)


@external
def setApprovalForAll(_operator: address, _approved: bool):
    """
    @notice Lets `_operator` move and retire the caller's certificates, and
            claim against the caller's consumption meters.
    """
    assert _operator != msg.sender, "registry: approving self"
    self.isApprovedForAll[msg.sender][_operator] = _approved
    log IERC1155.ApprovalForAll(_owner=msg.sender, _operator=_operator, _approved=_approved)


@external
def retire(id: uint256, wh: uint256, consumption_meter_id: bytes32, claim_data: Bytes[MAX_CLAIM_DATA]):
    """
    @notice Retires (claims) `wh` of the caller's certificate against a
            consumption measurement of the same interval and sector.
    @param id The certificate.
    @param wh Whole Wh to retire.
    @param consumption_meter_id A meter the caller owns, or whose owner approved the caller.
    @param claim_data Free data logged with the claim (beneficiary, purpose).
    """
    self._retire(msg.sender, msg.sender, id, wh, consumption_meter_id, claim_data)


@external
def retire_many(retirements: DynArray[Retirement, MAX_BATCH], claim_data: Bytes[MAX_CLAIM_DATA]):
    """
    @notice `retire` for a batch, all with the same claim data.
    """
    for item: Retirement in retirements:
        self._retire(msg.sender, msg.sender, item.id, item.wh, item.consumption_meter_id, claim_data)


# EXCHANGE


@external
def retire_delivered(id: uint256, wh: uint256, consumption_meter_id: bytes32, buyer: address, claim_data: Bytes[MAX_CLAIM_DATA]):
    """
    @notice Retires Wh a buyer bought on the Exchange straight from custody,
            on the buyer's behalf: the buyer is the claimant (its
            `claimedBalanceOf`, the `ClaimSingle` issuer), not the Exchange.
    @dev Only the wired Exchange, and only for a buyer that approved it.
    @param id The certificate.
    @param wh Whole Wh to retire, from the Exchange's custody.
    @param consumption_meter_id The buyer's consumption meter.
    @param buyer The claimant.
    @param claim_data Free data logged with the claim.
    """
    assert msg.sender == self.exchange, "registry: caller is not the exchange"
    assert self.isApprovedForAll[buyer][msg.sender], "registry: buyer has not approved the exchange"
    self._retire(msg.sender, buyer, id, wh, consumption_meter_id, claim_data)


# ISSUING BODY


@external
def revoke(id: uint256, reason: String[MAX_REASON]):
    """
    @notice Revokes a certificate of the caller's sector (a tampered meter,
            say): it moves and retires no more; what was retired stays retired.
    """
    cert: uint256 = self._certificates[id]
    assert cert != 0, "registry: unknown certificate"
    sector: String[16] = self._sector_names[self._cert_sector(cert)]
    assert staticcall backend.is_issuing_body(sector, msg.sender), "registry: caller is not the issuing body of this sector"
    assert cert & _REVOKED == 0, "registry: certificate already revoked"
    self._certificates[id] = cert | _REVOKED
    log CertificateRevoked(id=id, issuing_body=msg.sender, reason=reason)


@external
def void_retirement(id: uint256, consumption_meter_id: bytes32, wh: uint256):
    """
    @notice Takes `wh` Wh of a revoked certificate, retired against a
            consumption meter's interval, out of what counts as retired
            against it (`retired_against`, `retirement_data`): Scope 2
            statements made from then on count those Wh as unmatched, and
            one made before is not attested until restated (`void_count`,
            `voided_in`). The claim stays (`claimedBalanceOf`: what was
            retired stays retired).
    @dev The issuing body of the certificate's sector, after `revoke`, once
         per CertificateRetired log of the certificate (which names the
         consumption meter and the Wh; this registry does not index them,
         so that retiring costs what it did). Bounded: at most the
         certificate's issued Wh in all, and at most what is retired against
         the interval (of the certificate's fuel, for a non-renewable one),
         of a consumption meter of the certificate's sector.
    @param id The revoked certificate.
    @param consumption_meter_id The consumption meter it was retired against.
    @param wh Whole Wh retired against it.
    """
    cert: uint256 = self._certificates[id]
    assert cert & _REVOKED != 0, "registry: certificate not revoked"
    assert staticcall backend.is_issuing_body(self._sector_names[self._cert_sector(cert)], msg.sender), "registry: caller is not the issuing body of this sector"
    voided: uint256 = self.voided[id] + wh
    assert voided <= self._cert_issued(cert), "registry: voiding more than the certificate's Wh"
    begin: uint256 = self._cert_begin(cert)
    # Its own sector's meters only: another sector's retirements in the same
    # interval are not the body's to void.
    assert (staticcall backend.consumption_data(consumption_meter_id, begin)).sector_hash == self._sector_keys[self._cert_sector(cert)], "registry: consumption is in another sector"
    retired: uint256 = self.retired_against[consumption_meter_id][begin]
    assert wh <= retired, "registry: voiding more than was retired against the interval"
    self.voided[id] = voided
    self.retired_against[consumption_meter_id][begin] = unsafe_sub(retired, wh)
    count: uint256 = self.void_count + 1
    self.void_count = count
    self.voided_in[consumption_meter_id][begin // DAY * DAY] = count
    fuel: uint256 = self._cert_fuel(cert)
    if fuel != 0:
        # The fuel's pair keeps its number at zero Wh: pairs never move.
        packed: uint256 = self._retired_fuels[consumption_meter_id][begin]
        left: uint256 = wh
        for k: uint256 in range(MAX_FUELS_PER_INTERVAL):
            pair: uint256 = self._fuel_pair(packed, k)
            if pair & _UINT16 == fuel:
                assert wh <= pair >> 16, "registry: voiding more than was retired against the interval"
                packed -= wh << (64 * k + 16)
                left = 0
                break
        assert left == 0, "registry: voiding more than was retired against the interval"
        self._retired_fuels[consumption_meter_id][begin] = packed
    log RetirementVoided(id=id, consumption_meter_id=consumption_meter_id, issuing_body=msg.sender, wh=wh)


# ADMIN


@external
def wire_exchange(exchange_: address):
    """
    @notice Names the Exchange whose sold Wh are minted to its custody; once.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert self.exchange == empty(address), "registry: exchange already wired"
    assert exchange_.is_contract, "registry: exchange is not a contract"
    assert staticcall IExchange(exchange_).registry() == self, "registry: exchange does not point back to this registry"
    self.exchange = exchange_
    log ExchangeWired(exchange=exchange_, admin=msg.sender)


# VIEW


@external
@view
def supportsInterface(interfaceId: bytes4) -> bool:
    return interfaceId in _SUPPORTED_INTERFACES


@external
@view
def certificate_id(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @return uint256 The id of the certificate of that measurement:
            uint256(keccak256(abi_encode(meter_id, interval_begin))).
    """
    return self._id(meter_id, interval_begin)


@external
@view
def balanceOf(_owner: address, _id: uint256) -> uint256:
    """
    @return uint256 Wh of certificate `_id` held by `_owner`.
    """
    return self._balance(_owner, _id)


@external
@view
def balanceOfBatch(_owners: DynArray[address, 128], _ids: DynArray[uint256, 128]) -> DynArray[uint256, 128]:
    assert len(_owners) == len(_ids), "registry: batch lengths differ"
    balances: DynArray[uint256, 128] = []
    for i: uint256 in range(len(_owners), bound=128):
        balances.append(self._balance(_owners[i], _ids[i]))
    return balances


@external
@view
def claimedBalanceOf(_owner: address, _id: uint256) -> uint256:
    """
    @notice ERC-1888: Wh of certificate `_id` retired by `_owner`.
    """
    return self._claimed(self._holdings[_owner][_id])


@external
@view
def certificate(id: uint256) -> Certificate:
    """
    @notice Everything known of a certificate; all empty for an unknown id.
    """
    cert: uint256 = self._certificates[id]
    if cert == 0:
        return empty(Certificate)
    meter_id: bytes32 = self._meter_ids[self._cert_meter(cert)]
    info: ISmartMeterBackend.MeterInfo = staticcall backend.meter(meter_id)
    begin: uint256 = self._cert_begin(cert)
    return Certificate(
        meter_id=meter_id,
        interval_begin=begin,
        interval_end=begin + interval_length,
        sector=info.sector,
        tech_code=info.tech_code,
        fuel_code=info.fuel_code,
        issued_wh=self._cert_issued(cert),
        custody_wh=self._cert_custody(cert),
        expiry=self._expiry(cert),
        revoked=cert & _REVOKED != 0,
    )


@external
@view
def retirement_data(meter_id: bytes32, interval_begin: uint256) -> (uint256, uint256):
    """
    @notice What an emissions statement needs of one consumption interval, in
            one call: the Wh retired against it, and of those the Wh of
            non-renewable fuels, packed (see `retired_fuels`).
    """
    return self.retired_against[meter_id][interval_begin], self._retired_fuels[meter_id][interval_begin]


@external
@view
def retired_fuels(meter_id: bytes32, interval_begin: uint256) -> DynArray[uint256[2], MAX_FUELS_PER_INTERVAL]:
    """
    @notice The Wh of non-renewable fuels retired against a consumption
            interval: (fuel number, Wh) pairs; `fuel_code` names the number.
            Renewable fuels (AIB EECS codes beginning F01) are not listed.
    """
    packed: uint256 = self._retired_fuels[meter_id][interval_begin]
    pairs: DynArray[uint256[2], MAX_FUELS_PER_INTERVAL] = []
    for k: uint256 in range(MAX_FUELS_PER_INTERVAL):
        pair: uint256 = self._fuel_pair(packed, k)
        if pair == 0:
            break
        pairs.append([pair & _UINT16, pair >> 16])
    return pairs


@external
@view
def fuel_code(number: uint256) -> String[16]:
    """
    @return String[16] The AIB EECS fuel code of a non-renewable fuel number
            (`retired_fuels`); empty for 0 (renewable) or an unused number.
    """
    return self._fuel_codes[number]


@external
@view
def is_active(id: uint256) -> bool:
    """
    @return bool Whether the certificate exists, is not revoked and has not expired.
    """
    cert: uint256 = self._certificates[id]
    return cert != 0 and cert & _REVOKED == 0 and block.timestamp < self._expiry(cert)


@external
@view
def uri(_id: uint256) -> String[512]:
    """
    @notice ERC-1155 metadata as a JSON data URI, so that wallets show what
            the certificate is; empty for an unknown id.
    """
    cert: uint256 = self._certificates[_id]
    if cert == 0:
        return ""
    info: ISmartMeterBackend.MeterInfo = staticcall backend.meter(self._meter_ids[self._cert_meter(cert)])
    begin: uint256 = self._cert_begin(cert)
    return concat(
        'data:application/json;utf8,{"name":"OpenKWh guarantee of origin","decimals":0,',
        '"description":"Whole Wh of electricity produced',
        ' in [', uint2str(convert(begin, uint64)), ', ', uint2str(convert(begin + interval_length, uint64)),
        ') unix seconds",', '"properties":{"sector":"', info.sector, '","tech_code":"', info.tech_code,
        '","fuel_code":"', info.fuel_code, '","issued_wh":', uint2str(convert(self._cert_issued(cert), uint64)),
        ',"expiry":', uint2str(convert(self._expiry(cert), uint64)), '}}',
    )


# INTERNAL


@internal
@pure
def _id(meter_id: bytes32, interval_begin: uint256) -> uint256:
    return convert(keccak256(abi_encode(meter_id, interval_begin)), uint256)


@internal
@view
def _expiry(cert: uint256) -> uint256:
    return self._cert_begin(cert) + interval_length + validity


@internal
@view
def _check_movable(cert: uint256):
    assert cert != 0, "registry: unknown certificate"
    assert cert & _REVOKED == 0, "registry: certificate revoked"
    assert block.timestamp < self._expiry(cert), "registry: certificate expired"


@internal
@view
def _is_uncredited_owner(holder: address, cert: uint256) -> bool:
    """
    @dev Whether `holder` is the meter's owner at issuance and its share of
         the certificate (issued minus custody) is not yet in its holding.
    """
    return cert & _CREDITED == 0 and holder == self._owners[self._cert_meter(cert)][self._cert_epoch(cert)]


@internal
@pure
def _cert_meter(cert: uint256) -> uint256:
    """
    @dev The meter number of a certificate slot (bits 136-175).
    """
    return (cert >> 136) & MAX_METERS


@internal
@pure
def _cert_epoch(cert: uint256) -> uint256:
    """
    @dev The owner epoch of a certificate slot (bits 176-207).
    """
    return (cert >> 176) & MAX_OWNER_EPOCH


@internal
@pure
def _cert_sector(cert: uint256) -> uint256:
    """
    @dev The sector number of a certificate slot (bits 208-223).
    """
    return (cert >> 208) & MAX_SECTORS


@internal
@pure
def _cert_fuel(cert: uint256) -> uint256:
    """
    @dev The fuel number of a certificate slot (bits 232-239; 0: renewable).
    """
    return (cert >> 232) & MAX_FUELS


@internal
@pure
def _fuel_pair(packed: uint256, k: uint256) -> uint256:
    """
    @dev Pair `k` (0-3) of a `_retired_fuels` slot: fuel number in its bits
         0-15, Wh in 16-63; zero when unused.
    """
    return (packed >> (64 * k)) & (2**64 - 1)


@internal
@pure
def _with_fuel_wh(packed: uint256, fuel: uint256, wh: uint256) -> uint256:
    """
    @dev `packed` with `wh` more Wh of `fuel` (in its pair, or the first
         unused one); reverts when four other fuels fill the slot. The sum
         of Wh retired against one interval is at most its consumed Wh
         (< 2**48, checked by the caller first), so a pair cannot overflow.
    """
    for k: uint256 in range(MAX_FUELS_PER_INTERVAL):
        pair: uint256 = self._fuel_pair(packed, k)
        if pair == 0 or pair & _UINT16 == fuel:
            total: uint256 = (pair >> 16) + wh
            assert total <= _UINT48, "registry: too many Wh of one fuel in an interval"
            return (packed & ~((2**64 - 1) << (64 * k))) | ((fuel | (total << 16)) << (64 * k))
    raise "registry: more than four non-renewable fuels retired against one interval"


@internal
@pure
def _cert_begin(cert: uint256) -> uint256:
    """
    @dev The interval begin of a certificate slot (bits 0-39, unix seconds).
    """
    return cert & _UINT40


@internal
@pure
def _cert_issued(cert: uint256) -> uint256:
    """
    @dev The Wh issued (bits 40-87).
    """
    return (cert >> 40) & _UINT48


@internal
@pure
def _cert_custody(cert: uint256) -> uint256:
    """
    @dev The Wh issued into the Exchange's custody (bits 88-135).
    """
    return (cert >> 88) & _UINT48


@internal
@pure
def _pack_cert(begin: uint256, issued: uint256, custody: uint256, number: uint256, epoch: uint256, sector: uint256, fuel: uint256) -> uint256:
    """
    @dev A certificate slot without flags. Each field is masked to its width
         (begin 40 bits, Wh 48, meter number 40, epoch 32, sector 16, fuel
         8), so none can spill into the next; the callers check the bounds
         first (`_issue` and `_enrol` revert past them).
    """
    return (begin & _UINT40) | ((issued & _UINT48) << 40) | ((custody & _UINT48) << 88) | ((number & MAX_METERS) << 136) | ((epoch & MAX_OWNER_EPOCH) << 176) | ((sector & MAX_SECTORS) << 208) | ((fuel & MAX_FUELS) << 232)


@internal
@pure
def _owner_share(cert: uint256) -> uint256:
    return self._cert_issued(cert) - self._cert_custody(cert)


@internal
@pure
def _meter_owner(meter: uint256) -> address:
    """
    @dev The owner at a meter's last issuance (meter record bits 0-159).
    """
    return convert(meter & _UINT160, address)


@internal
@pure
def _meter_number(meter: uint256) -> uint256:
    """
    @dev A meter record's number (bits 160-199).
    """
    return (meter >> 160) & MAX_METERS


@internal
@pure
def _meter_epoch(meter: uint256) -> uint256:
    """
    @dev A meter record's owner epoch (bits 200-231).
    """
    return (meter >> 200) & MAX_OWNER_EPOCH


@internal
@pure
def _meter_sector(meter: uint256) -> uint256:
    """
    @dev A meter record's sector number (bits 232-247).
    """
    return (meter >> 232) & MAX_SECTORS


@internal
@pure
def _meter_fuel(meter: uint256) -> uint256:
    """
    @dev A meter record's fuel number (bits 248-255; 0: renewable).
    """
    return meter >> 248


@internal
@pure
def _pack_meter(number: uint256, sector: uint256, fuel: uint256) -> uint256:
    """
    @dev A new meter record: no owner yet (epoch 0), its number, sector and fuel number, masked.
    """
    return ((number & MAX_METERS) << 160) | ((sector & MAX_SECTORS) << 232) | ((fuel & MAX_FUELS) << 248)


@internal
@pure
def _with_owner(meter: uint256, owner: address, epoch: uint256) -> uint256:
    """
    @dev `meter` with a new owner and owner epoch (masked to 32 bits).
    """
    return (meter & ~(_UINT160 | (MAX_OWNER_EPOCH << 200))) | convert(owner, uint256) | ((epoch & MAX_OWNER_EPOCH) << 200)


@internal
@pure
def _held(holding: uint256) -> uint256:
    """
    @dev A holding slot's balance (bits 0-127, Wh).
    """
    return holding & _UINT128


@internal
@pure
def _claimed(holding: uint256) -> uint256:
    """
    @dev A holding slot's claimed (retired) Wh (bits 128-255).
    """
    return holding >> 128


@internal
@pure
def _as_claimed(wh: uint256) -> uint256:
    """
    @dev `wh` in a holding slot's claimed field, to add (Wh < 2**48 each, so
         the sum of all claims of one certificate stays far below 2**128).
    """
    return wh << 128


@internal
@view
def _balance(holder: address, id: uint256) -> uint256:
    balance: uint256 = self._held(self._holdings[holder][id])
    cert: uint256 = self._certificates[id]
    if self._is_uncredited_owner(holder, cert):
        balance += self._owner_share(cert)
    return balance


@internal
def _credit_owner_share(holder: address, id: uint256, cert: uint256) -> uint256:
    """
    @dev The holding of `holder`, with the owner's share written into it
         first if `holder` is that owner and it was not yet.
    """
    holding: uint256 = self._holdings[holder][id]
    if self._is_uncredited_owner(holder, cert):
        self._certificates[id] = cert | _CREDITED
        holding += self._owner_share(cert)
    return holding


@internal
def _move(owner: address, to: address, id: uint256, amount: uint256):
    holding: uint256 = self._credit_owner_share(owner, id, self._certificates[id])
    assert self._held(holding) >= amount, "registry: insufficient balance for transfer"
    self._holdings[owner][id] = unsafe_sub(holding, amount)
    self._holdings[to][id] += amount


@internal
def _issue(meter_id: bytes32, interval_begin: uint256) -> uint256:
    id: uint256 = self._id(meter_id, interval_begin)
    if self._certificates[id] != 0:
        return 0

    meter: uint256 = self._meters[meter_id]
    if meter == 0:
        meter = self._enrol(meter_id)

    measured: ISmartMeterBackend.Settlement = staticcall backend.settlement_data(meter_id, interval_begin)
    owner: address = measured.owner
    end: uint256 = measured.interval_end
    produced: uint256 = measured.produced_wh
    assert end != 0, "registry: no measurement for this interval"
    assert end - interval_begin == interval_length, "registry: measurement spans more than one interval"
    if produced == 0:
        return 0
    assert produced <= _UINT48, "registry: production too large for one certificate"

    number: uint256 = self._meter_number(meter)
    epoch: uint256 = self._meter_epoch(meter)
    if owner != self._meter_owner(meter):
        assert epoch < MAX_OWNER_EPOCH, "registry: meter changed owner too often"
        epoch += 1
        self._owners[number][epoch] = owner
        self._meters[meter_id] = self._with_owner(meter, owner, epoch)

    custody: uint256 = 0
    exchange: address = self.exchange
    if exchange != empty(address):
        custody = min(staticcall IExchange(exchange).sold_wh(meter_id, interval_begin), produced)

    sector: uint256 = self._meter_sector(meter)
    self._certificates[id] = self._pack_cert(interval_begin, produced, custody, number, epoch, sector, self._meter_fuel(meter))
    log CertificateIssued(id=id, meter_id=meter_id, interval_begin=interval_begin, issued_wh=produced, custody_wh=custody)

    if custody != 0:
        self._holdings[exchange][id] = custody
        log IERC1155.TransferSingle(_operator=msg.sender, _from=empty(address), _to=exchange, _id=id, _value=custody)
        self._check_received(exchange, abi_encode(msg.sender, empty(address), id, custody, b"", method_id=_ON_RECEIVED), _ON_RECEIVED)
    share: uint256 = produced - custody
    if share != 0:
        log IERC1155.TransferSingle(_operator=msg.sender, _from=empty(address), _to=owner, _id=id, _value=share)
        if owner.is_contract:
            # Unlike a plain ERC-1155 mint, a contract owner cannot refuse:
            # issuance is part of settling other people's deals. Its hook is
            # told, with bounded gas; if it refuses, the share stays its
            # balance all the same, and the event says so.
            # Enough gas for the hook, or an estimate could find a limit at
            # which it always fails.
            assert msg.gas > HOOK_GAS * 64 // 63 + 5_000, "registry: out of gas for the owner's hook"
            success: bool = False
            response: Bytes[32] = b""
            success, response = raw_call(
                owner,
                abi_encode(msg.sender, empty(address), id, share, b"", method_id=_ON_RECEIVED),
                max_outsize=32,
                gas=HOOK_GAS,
                revert_on_failure=False,
            )
            if not success or len(response) < 4 or convert(slice(response, 0, 4), bytes4) != _ON_RECEIVED:
                log CertificatesHeld(account=owner, id=id, wh=share)
    return produced


@internal
def _check_received(receiver: address, payload: Bytes[1_220], expected: bytes4):
    """
    @dev Calls a contract receiver's `onERC1155Received` with `payload`. (The
         batch hook is called in place: its larger buffer here would make
         every single transfer pay for the memory.)
    """
    success: bool = False
    response: Bytes[256] = b""
    success, response = raw_call(receiver, payload, max_outsize=256, revert_on_failure=False)
    self._check_answer(success, response, expected)


@internal
@pure
def _check_answer(success: bool, response: Bytes[256], expected: bytes4):
    """
    @dev A receiver's revert with a reason is passed on; no answer, a revert
         without reason or a wrong answer is refused in the registry's words.
    """
    if not success and len(response) != 0:
        raw_revert(response)
    assert success and len(response) >= 4 and convert(slice(response, 0, 4), bytes4) == expected, "registry: receiver rejected the certificate"


@internal
def _enrol(meter_id: bytes32) -> uint256:
    """
    @dev First issuance for a meter: checks it may get certificates and gives
         it a number, and its sector one.
    """
    info: ISmartMeterBackend.MeterInfo = staticcall backend.meter(meter_id)
    assert info.owner != empty(address), "registry: unknown meter"
    assert ISmartMeterBackend.MeterKind.PRODUCTION in info.kind, "registry: meter does not produce"
    assert len(info.tech_code) != 0 and len(info.fuel_code) != 0, "registry: meter has no technology and fuel codes"

    sector_key: bytes32 = keccak256(info.sector)
    sector: uint256 = self._sector_numbers[sector_key]
    if sector == 0:
        sector = self._sector_count + 1
        assert sector <= MAX_SECTORS, "registry: too many sectors"
        self._sector_count = sector
        self._sector_numbers[sector_key] = sector
        self._sector_names[sector] = info.sector
        self._sector_keys[sector] = sector_key

    # A fuel whose AIB EECS code does not begin F01 (renewable) gets a
    # number, so that its retirements can be counted at its emission factor.
    fuel: uint256 = 0
    if slice(info.fuel_code, 0, 3) != "F01":
        fuel_key: bytes32 = keccak256(info.fuel_code)
        fuel = self._fuel_numbers[fuel_key]
        if fuel == 0:
            fuel = self._fuel_count + 1
            assert fuel <= MAX_FUELS, "registry: too many non-renewable fuels"
            self._fuel_count = fuel
            self._fuel_numbers[fuel_key] = fuel
            self._fuel_codes[fuel] = info.fuel_code

    number: uint256 = self._meter_count + 1
    assert number <= MAX_METERS, "registry: too many meters"
    self._meter_count = number
    self._meter_ids[number] = meter_id
    # Epoch 0 has no owner: the first issuance starts epoch 1 with the meter's owner.
    meter: uint256 = self._pack_meter(number, sector, fuel)
    self._meters[meter_id] = meter
    return meter


@internal
def _retire(holder: address, claimant: address, id: uint256, wh: uint256, consumption_meter_id: bytes32, claim_data: Bytes[MAX_CLAIM_DATA]):
    """
    @dev Burns `wh` of `holder`'s certificate `id` as `claimant`'s claim
         against a consumption measurement that `claimant` owns or may claim
         for. The holder is the claimant, except for the Exchange retiring a
         buyer's delivered Wh from custody.
    """
    cert: uint256 = self._certificates[id]
    self._check_movable(cert)
    assert wh != 0, "registry: nothing to retire"

    begin: uint256 = self._cert_begin(cert)
    consumption: ISmartMeterBackend.Consumption = staticcall backend.consumption_data(consumption_meter_id, begin)
    subject: address = consumption.owner
    consumed: uint256 = consumption.consumed_wh
    assert consumption.interval_end == begin + interval_length, "registry: no consumption measurement for this interval"
    assert consumption.sector_hash == self._sector_keys[self._cert_sector(cert)], "registry: consumption is in another sector"
    assert claimant == subject or self.isApprovedForAll[subject][claimant], "registry: caller may not claim for this consumption meter"

    retired: uint256 = self.retired_against[consumption_meter_id][begin] + wh
    assert retired <= consumed, "registry: retiring more than was consumed"
    self.retired_against[consumption_meter_id][begin] = retired
    fuel: uint256 = self._cert_fuel(cert)
    if fuel != 0:
        self._retired_fuels[consumption_meter_id][begin] = self._with_fuel_wh(self._retired_fuels[consumption_meter_id][begin], fuel, wh)

    holding: uint256 = self._credit_owner_share(holder, id, cert)
    assert self._held(holding) >= wh, "registry: retiring more than held"
    if claimant == holder:
        self._holdings[holder][id] = unsafe_sub(holding, wh) + self._as_claimed(wh)
    else:
        self._holdings[holder][id] = unsafe_sub(holding, wh)
        self._holdings[claimant][id] += self._as_claimed(wh)

    log IERC1155.TransferSingle(_operator=holder, _from=holder, _to=empty(address), _id=id, _value=wh)
    log ClaimSingle(_claimIssuer=claimant, _claimSubject=subject, _topic=ENERGY_TOPIC, _id=id, _value=wh, _claimData=claim_data)
    log CertificateRetired(id=id, consumption_meter_id=consumption_meter_id, holder=claimant, wh=wh)

# pragma version ~=0.4.3
"""
@title Test double: emits, with any values, the events the dApp's indexer reads
@license MIT
@notice Each event has the signature and the indexed fields of the one in
        SmartMeterBackend, OperatorBackend, GGORegistry (ERC-1155), Exchange or
        EmissionsRegistry (with the views the indexer reads of it),
        so the real contracts' ABIs decode it. Anyone may emit any value, up to
        2**256 - 1 where the real contracts never go: the indexer must hold or
        skip every one, and never stop.
@custom:security For tests only. A deployments file that points a contract's
        name at this address makes the indexer read it as that contract.
"""

# SmartMeterBackend

event MeterRegistered:
    meter_id: indexed(bytes32)
    owner: indexed(address)
    installer: indexed(address)
    signer: address
    sector: String[64]
    tech_code: String[64]
    fuel_code: String[64]
    capacity_w: uint256
    connection_w: uint256
    kind: uint256  # the MeterKind flag: uint256 in the ABI

event SignerRotated:
    meter_id: indexed(bytes32)
    installer: indexed(address)
    previous_signer: address
    new_signer: address
    new_device: bool

event MeterOwnerChanged:
    meter_id: indexed(bytes32)
    previous_owner: indexed(address)
    new_owner: indexed(address)
    epoch: uint256
    effective_from: uint256
    debt: uint256

event MeterSuspended:
    meter_id: indexed(bytes32)
    operator: indexed(address)
    reason: String[64]

event ConnectionRatingSet:
    meter_id: indexed(bytes32)
    connection_w: uint256
    operator: indexed(address)
    reason: String[64]

event MeterResumed:
    meter_id: indexed(bytes32)
    operator: indexed(address)
    reason: String[64]

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

event MeterOffered:
    meter_id: indexed(bytes32)
    owner: indexed(address)
    pending_owner: indexed(address)
    debt: uint256

event SignerApproved:
    meter_id: indexed(bytes32)
    owner: indexed(address)
    signer: address

# OperatorBackend

event BackendTrustAnnounced:
    backend: indexed(address)
    trusted: bool
    effective_from: uint256
    operator: indexed(address)

event LedgerOpened:
    account: indexed(address)
    backend: indexed(address)
    meter_id: indexed(bytes32)
    open: bool

event DebtRecorded:
    account: indexed(address)
    amount: uint256

event MeterDebtRecorded:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    account: indexed(address)
    amount: uint256

event BillUnpaid:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    account: indexed(address)
    amount: uint256

event TariffAnnounced:
    index: indexed(uint256)
    retail_price: uint256
    feed_in_reward: uint256
    effective_from: uint256
    operator: indexed(address)

event IntervalSettled:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    interval_begin: indexed(uint256)
    account: address
    feed_in_wh: uint256
    retail_wh: uint256
    reward: uint256
    bill: uint256

# GGORegistry

event CertificateIssued:
    id: indexed(uint256)
    meter_id: indexed(bytes32)
    interval_begin: uint256
    issued_wh: uint256
    custody_wh: uint256

event TransferSingle:
    _operator: indexed(address)
    _from: indexed(address)
    _to: indexed(address)
    _id: uint256
    _value: uint256

event TransferBatch:
    _operator: indexed(address)
    _from: indexed(address)
    _to: indexed(address)
    _ids: DynArray[uint256, 8]
    _values: DynArray[uint256, 8]

event CertificateRetired:
    id: indexed(uint256)
    consumption_meter_id: indexed(bytes32)
    holder: indexed(address)
    wh: uint256

event CertificateRevoked:
    id: indexed(uint256)
    issuing_body: indexed(address)
    reason: String[64]

# Exchange

event OrderPlaced:
    order_id: indexed(uint256)
    maker: indexed(address)
    interval_begin: indexed(uint256)
    meter_id: bytes32
    wh: uint256
    price: uint256
    is_bid: bool
    retire: bool

event OrderAmended:
    order_id: indexed(uint256)
    wh: uint256
    price: uint256
    version: uint256

event OrderCancelled:
    order_id: indexed(uint256)
    refund: uint256

event DealMade:
    deal_id: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    order_id: uint256
    seller_meter: bytes32
    buyer_meter: bytes32
    interval_begin: uint256
    wh: uint256
    price: uint256
    retire: bool

event DealSettled:
    deal_id: indexed(uint256)
    seller: indexed(address)
    buyer: indexed(address)
    delivered_wh: uint256
    payment: uint256
    refund: uint256
    retired_wh: uint256

event CertificatesHeld:
    account: indexed(address)
    id: indexed(uint256)
    wh: uint256

event CertificatesClaimed:
    account: indexed(address)
    id: indexed(uint256)
    recipient: address
    wh: uint256


# EmissionsRegistry

struct Publication:
    kind: uint256
    sector: String[16]
    period: uint256
    factor_mg_per_kwh: uint256
    publisher: address
    source: String[64]
    cid: String[64]
    published_at: uint256
    supersedes: uint256
    superseded_by: uint256


struct UtilityData:
    auditor: address
    utility: String[64]
    location_mg_per_kwh: uint256
    market_mg_per_kwh: uint256
    data_format: String[32]
    data_sha256: bytes32
    data_cid: String[64]


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
    source: String[64]
    cid: String[64]
    supersedes: uint256


event PublicationSuperseded:
    id: indexed(uint256)
    by: indexed(uint256)
    publisher: indexed(address)


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
    note: String[128]
    cid: String[64]


event StatementRequested:
    id: indexed(uint256)
    customer: indexed(address)
    auditor: indexed(address)
    sector: String[16]
    utility: String[64]
    begin: uint256
    end: uint256


event UtilityStatementPublished:
    id: indexed(uint256)
    request: indexed(uint256)
    auditor: indexed(address)
    data_sha256: bytes32
    data_cid: String[64]


@external
def meter_registered(
    meter_id: bytes32,
    owner: address,
    installer: address,
    signer: address,
    sector: String[64],
    capacity_w: uint256,
    connection_w: uint256,
    kind: uint256,
):
    log MeterRegistered(
        meter_id=meter_id,
        owner=owner,
        installer=installer,
        signer=signer,
        sector=sector,
        tech_code="T020002",
        fuel_code="F01050100",
        capacity_w=capacity_w,
        connection_w=connection_w,
        kind=kind,
    )


@external
def signer_rotated(meter_id: bytes32, new_signer: address):
    log SignerRotated(meter_id=meter_id, installer=msg.sender, previous_signer=msg.sender, new_signer=new_signer, new_device=True)


@external
def meter_owner_changed(meter_id: bytes32, new_owner: address, epoch: uint256, effective_from: uint256, debt: uint256):
    log MeterOwnerChanged(meter_id=meter_id, previous_owner=msg.sender, new_owner=new_owner, epoch=epoch, effective_from=effective_from, debt=debt)


@external
def meter_offered(meter_id: bytes32, pending_owner: address, debt: uint256):
    log MeterOffered(meter_id=meter_id, owner=msg.sender, pending_owner=pending_owner, debt=debt)


@external
def signer_approved(meter_id: bytes32, signer: address):
    log SignerApproved(meter_id=meter_id, owner=msg.sender, signer=signer)


@external
def meter_suspended(meter_id: bytes32, reason: String[64]):
    log MeterSuspended(meter_id=meter_id, operator=msg.sender, reason=reason)


@external
def connection_rating_set(meter_id: bytes32, connection_w: uint256):
    log ConnectionRatingSet(meter_id=meter_id, connection_w=connection_w, operator=msg.sender, reason="fuse")


@external
def meter_resumed(meter_id: bytes32, reason: String[64]):
    log MeterResumed(meter_id=meter_id, operator=msg.sender, reason=reason)


@external
def baseline_recorded(meter_id: bytes32, interval_end: uint256, import_wh: uint256, export_wh: uint256):
    log BaselineRecorded(
        meter_id=meter_id, interval_end=interval_end, import_wh=import_wh, export_wh=export_wh, data_digest=keccak256("baseline")
    )


@external
def measurement_recorded(
    meter_id: bytes32, interval_begin: uint256, interval_end: uint256, produced_wh: uint256, consumed_wh: uint256
):
    log MeasurementRecorded(
        meter_id=meter_id,
        interval_begin=interval_begin,
        interval_end=interval_end,
        produced_wh=produced_wh,
        consumed_wh=consumed_wh,
        data_digest=keccak256("measurement"),
    )


@external
def backend_trust_announced(backend: address, trusted: bool, effective_from: uint256):
    log BackendTrustAnnounced(backend=backend, trusted=trusted, effective_from=effective_from, operator=msg.sender)


@external
def ledger_opened(account: address, meter_id: bytes32, open: bool):
    log LedgerOpened(account=account, backend=msg.sender, meter_id=meter_id, open=open)


@external
def debt_recorded(account: address, amount: uint256):
    log DebtRecorded(account=account, amount=amount)


@external
def meter_debt_recorded(meter_id: bytes32, account: address, amount: uint256):
    log MeterDebtRecorded(backend=msg.sender, meter_id=meter_id, account=account, amount=amount)


@external
def bill_unpaid(meter_id: bytes32, account: address, amount: uint256):
    log BillUnpaid(backend=msg.sender, meter_id=meter_id, account=account, amount=amount)


@external
def tariff_announced(index: uint256, retail_price: uint256, feed_in_reward: uint256, effective_from: uint256):
    log TariffAnnounced(
        index=index, retail_price=retail_price, feed_in_reward=feed_in_reward, effective_from=effective_from, operator=msg.sender
    )


@external
def interval_settled(
    meter_id: bytes32,
    interval_begin: uint256,
    account: address,
    feed_in_wh: uint256,
    retail_wh: uint256,
    reward: uint256,
    bill: uint256,
):
    log IntervalSettled(
        backend=msg.sender,
        meter_id=meter_id,
        interval_begin=interval_begin,
        account=account,
        feed_in_wh=feed_in_wh,
        retail_wh=retail_wh,
        reward=reward,
        bill=bill,
    )


@external
def certificate_issued(id: uint256, meter_id: bytes32, interval_begin: uint256, issued_wh: uint256, custody_wh: uint256):
    log CertificateIssued(id=id, meter_id=meter_id, interval_begin=interval_begin, issued_wh=issued_wh, custody_wh=custody_wh)


@external
def transfer_single(_from: address, _to: address, _id: uint256, _value: uint256):
    log TransferSingle(_operator=msg.sender, _from=_from, _to=_to, _id=_id, _value=_value)


@external
def transfer_batch(_from: address, _to: address, _ids: DynArray[uint256, 8], _values: DynArray[uint256, 8]):
    log TransferBatch(_operator=msg.sender, _from=_from, _to=_to, _ids=_ids, _values=_values)


@external
def certificate_retired(id: uint256, consumption_meter_id: bytes32, holder: address, wh: uint256):
    log CertificateRetired(id=id, consumption_meter_id=consumption_meter_id, holder=holder, wh=wh)


@external
def certificate_revoked(id: uint256, reason: String[64]):
    log CertificateRevoked(id=id, issuing_body=msg.sender, reason=reason)


@external
def order_placed(
    order_id: uint256,
    maker: address,
    interval_begin: uint256,
    meter_id: bytes32,
    wh: uint256,
    price: uint256,
    is_bid: bool,
):
    log OrderPlaced(
        order_id=order_id,
        maker=maker,
        interval_begin=interval_begin,
        meter_id=meter_id,
        wh=wh,
        price=price,
        is_bid=is_bid,
        retire=False,
    )


@external
def order_amended(order_id: uint256, wh: uint256, price: uint256, version: uint256):
    log OrderAmended(order_id=order_id, wh=wh, price=price, version=version)


@external
def order_cancelled(order_id: uint256, refund: uint256):
    log OrderCancelled(order_id=order_id, refund=refund)


@external
def deal_made(
    deal_id: uint256,
    seller: address,
    buyer: address,
    order_id: uint256,
    seller_meter: bytes32,
    buyer_meter: bytes32,
    interval_begin: uint256,
    wh: uint256,
    price: uint256,
):
    log DealMade(
        deal_id=deal_id,
        seller=seller,
        buyer=buyer,
        order_id=order_id,
        seller_meter=seller_meter,
        buyer_meter=buyer_meter,
        interval_begin=interval_begin,
        wh=wh,
        price=price,
        retire=False,
    )


@external
def deal_settled(deal_id: uint256, seller: address, buyer: address, delivered_wh: uint256, payment: uint256, refund: uint256, retired_wh: uint256):
    log DealSettled(deal_id=deal_id, seller=seller, buyer=buyer, delivered_wh=delivered_wh, payment=payment, refund=refund, retired_wh=retired_wh)


@external
def certificates_held(account: address, id: uint256, wh: uint256):
    log CertificatesHeld(account=account, id=id, wh=wh)


@external
def certificates_claimed(account: address, id: uint256, recipient: address, wh: uint256):
    log CertificatesClaimed(account=account, id=id, recipient=recipient, wh=wh)


# EmissionsRegistry: its events, and the views the indexer reads for what they do not
# carry, every figure at 2**256 - 1 or near it.

BIG: constant(uint256) = max_value(uint256)


@external
def publisher_set(sector: String[16], account: address, appointed: bool):
    log PublisherSet(sector=sector, account=account, appointed=appointed, by=msg.sender)


@external
def auditor_set(sector: String[16], account: address, appointed: bool):
    log AuditorSet(sector=sector, account=account, appointed=appointed, by=msg.sender)


@external
def factors_published(id: uint256, kind: uint256, sector: String[16], period: uint256, source: String[64], cid: String[64], supersedes: uint256):
    log FactorsPublished(id=id, publisher=msg.sender, kind=kind, sector=sector, period=period, source=source, cid=cid, supersedes=supersedes)


@external
def publication_superseded(id: uint256, by: uint256):
    log PublicationSuperseded(id=id, by=by, publisher=msg.sender)


@external
def statement_made(
    id: uint256,
    account: address,
    meter_id: bytes32,
    origin: uint256,
    begin: uint256,
    end: uint256,
    consumed_wh: uint256,
    matched_wh: uint256,
    location_g: uint256,
    market_g: uint256,
):
    log StatementMade(
        id=id,
        account=account,
        meter_id=meter_id,
        origin=origin,
        begin=begin,
        end=end,
        consumed_wh=consumed_wh,
        matched_wh=matched_wh,
        location_g=location_g,
        market_g=market_g,
    )


@external
def statement_superseded(id: uint256, by: uint256):
    log StatementSuperseded(id=id, by=by)


@external
def statement_attested(id: uint256, auditor: address, note: String[128], cid: String[64]):
    log StatementAttested(id=id, auditor=auditor, note=note, cid=cid)


@external
def statement_requested(id: uint256, customer: address, auditor: address, utility: String[64], begin: uint256, end: uint256):
    log StatementRequested(id=id, customer=customer, auditor=auditor, sector="DK1", utility=utility, begin=begin, end=end)


@external
def utility_statement_published(id: uint256, request: uint256, auditor: address, data_cid: String[64]):
    log UtilityStatementPublished(id=id, request=request, auditor=auditor, data_sha256=keccak256("data"), data_cid=data_cid)


@external
@view
def hourly_factors(id: uint256) -> uint256[24]:
    factors: uint256[24] = empty(uint256[24])
    for h: uint256 in range(24):
        factors[h] = BIG - h
    return factors


@external
@view
def publication(id: uint256) -> Publication:
    return Publication(kind=2, sector="DK1", period=2026, factor_mg_per_kwh=BIG, publisher=msg.sender, source="s", cid="c", published_at=0, supersedes=0, superseded_by=0)


@external
@view
def publications_used(id: uint256) -> DynArray[uint256, 40]:
    return [1, 2]


@external
@view
def utility_data(id: uint256) -> UtilityData:
    return UtilityData(auditor=msg.sender, utility="utility", location_mg_per_kwh=BIG, market_mg_per_kwh=BIG - 1, data_format="Green Button ESPI XML", data_sha256=keccak256("data"), data_cid="c")

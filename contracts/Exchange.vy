# pragma version ~=0.4.3
"""
@title OpenKWh forward energy market
@license GNU Affero General Public License v3.0 only
@notice Seed 001's decentralised kWh exchange (BlockPro), settled by the
        sealed meter instead of by either party. Producers offer Wh of a
        future interval from their meter, consumers bid with their tokens in
        escrow; taking an order makes a deal. Nothing is placed, changed or
        taken after gate closure (interval begin minus a lead time). Once the
        seller's measurement of the interval is on chain, anyone settles a
        deal: the Wh delivered are paid for (pro rata, floored, when the meter
        produced less than it sold), the rest of the escrow is refunded, and
        the certificates of the delivered Wh go from the Exchange's custody to
        the buyer, retired at once if the bid asked. Without a measurement
        by interval end plus a timeout, the buyer is refunded in full.
@custom:security Nobody is trusted with funds: payments and refunds are pull
                 credits (`withdraw_credit`), so a recipient that reverts only
                 blocks itself. Trusted: the SmartMeterBackend (measurements,
                 meter owners and capacities) and the certificate registry.
@custom:rounding Delivered Wh of a deal = deal Wh when the meter produced at
                 least everything it sold in the interval, else
                 floor(deal Wh x produced / sold). Payment = delivered x price;
                 refund = escrow - payment, so payment + refund = escrow to the
                 base unit. The Wh lost to flooring count as not delivered: the
                 buyer does not pay for them.
"""


from ethereum.ercs import IERC20

from snekmate.tokens.interfaces import IERC1155Receiver
implements: IERC1155Receiver


flag MeterKind:
    PRODUCTION
    CONSUMPTION


struct Order:
    maker: address
    meter_id: bytes32
    interval_begin: uint256
    wh: uint256  # still open
    price: uint256  # token base units per Wh
    is_bid: bool
    retire: bool
    version: uint256
    open: bool


struct Deal:
    seller: address
    buyer: address
    seller_meter: bytes32
    buyer_meter: bytes32
    interval_begin: uint256
    wh: uint256
    price: uint256
    retire: bool
    settled: bool


interface ISmartMeterBackend:
    def trading_data(meter_id: bytes32) -> (address, MeterKind, uint256): view
    def measurement(meter_id: bytes32, interval_begin: uint256) -> (uint256, uint256, uint256): view
    def interval_length() -> uint256: view


interface IRegistry:
    def issue(meter_id: bytes32, interval_begin: uint256) -> uint256: nonpayable
    def certificate_id(meter_id: bytes32, interval_begin: uint256) -> uint256: view
    def safeTransferFrom(_from: address, _to: address, _id: uint256, _value: uint256, _data: Bytes[1_024]): nonpayable
    def retire(id: uint256, wh: uint256, consumption_meter_id: bytes32, claim_data: Bytes[256]): nonpayable
    def isApprovedForAll(_owner: address, _operator: address) -> bool: view
    def balanceOf(_owner: address, _id: uint256) -> uint256: view


MAX_BATCH: constant(uint256) = 64
MAX_PAGE: constant(uint256) = 256  # orders or deals scanned by one view call


# @dev The settlement token.
token: public(immutable(IERC20))

# @dev Where meters and measurements are.
backend: public(immutable(ISmartMeterBackend))

# @dev Where the certificates of sold Wh are held in custody.
registry: public(immutable(IRegistry))

# @dev Interval length of the backend, in seconds.
interval_length: public(immutable(uint256))

# @dev Seconds before an interval begins when its market closes.
lead_time: public(immutable(uint256))

# @dev Seconds after an interval ends after which an unmeasured deal refunds.
settlement_timeout: public(immutable(uint256))

orders: public(HashMap[uint256, Order])
order_count: public(uint256)
deals: public(HashMap[uint256, Deal])
deal_count: public(uint256)

# @dev Wh sold in deals, per seller meter and interval begin.
sold_wh: public(HashMap[bytes32, HashMap[uint256, uint256]])

# @dev Wh offered in open offers plus sold, per seller meter and interval begin.
committed_wh: public(HashMap[bytes32, HashMap[uint256, uint256]])

# @dev Wh delivered in settled deals, per seller meter and per buyer meter, and interval begin.
delivered_sold_wh: public(HashMap[bytes32, HashMap[uint256, uint256]])
delivered_bought_wh: public(HashMap[bytes32, HashMap[uint256, uint256]])

# @dev Deals not yet settled, per seller meter and interval begin.
unsettled_deals: public(HashMap[bytes32, HashMap[uint256, uint256]])

# @dev Tokens held for open bids and unsettled deals, in token base units.
escrowed: public(uint256)

# @dev Payments and refunds waiting to be withdrawn, per account, in token base units.
credit_of: public(HashMap[address, uint256])

# @dev Sum of all credits, in token base units.
total_credit: public(uint256)


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
    order_id: indexed(uint256)
    interval_begin: indexed(uint256)
    seller: address
    buyer: address
    wh: uint256
    price: uint256


event DealSettled:
    deal_id: indexed(uint256)
    delivered_wh: uint256
    payment: uint256
    refund: uint256


event CreditWithdrawn:
    account: indexed(address)
    amount: uint256


@deploy
def __init__(
    token_: IERC20,
    backend_: ISmartMeterBackend,
    registry_: IRegistry,
    lead_time_: uint256,
    settlement_timeout_: uint256,
):
    """
    @param token_ The settlement token (any ERC-20).
    @param backend_ The SmartMeterBackend of the meters traded.
    @param registry_ The GGORegistry certifying that backend.
    @param lead_time_ Seconds before an interval's begin when its market closes.
    @param settlement_timeout_ Seconds after an interval's end after which an unmeasured deal refunds.
    """
    token = token_
    backend = backend_
    registry = registry_
    interval_length = staticcall backend_.interval_length()
    lead_time = lead_time_
    settlement_timeout = settlement_timeout_


# METER OWNER


@external
def offer(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256) -> uint256:
    """
    @notice Offers Wh that `meter_id` will produce in an interval.
    @param meter_id The caller's producing meter.
    @param interval_begin Unix seconds, on the interval grid, before gate closure.
    @param wh Whole Wh offered; with what is already offered and sold, at most capacity x interval.
    @param price Token base units per Wh.
    @return uint256 The order id.
    """
    self._check_open(interval_begin)
    assert wh != 0 and price != 0, "exchange: amount and price must be positive"
    self._check_seller(meter_id, interval_begin, wh)
    self.committed_wh[meter_id][interval_begin] += wh
    return self._place(meter_id, interval_begin, wh, price, False, False)


@external
def bid(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256, retire: bool) -> uint256:
    """
    @notice Bids for Wh delivered to `meter_id` in an interval; wh x price
            tokens go into escrow now.
    @param meter_id The caller's consuming meter.
    @param interval_begin Unix seconds, on the interval grid, before gate closure.
    @param wh Whole Wh wanted.
    @param price Limit price, token base units per Wh.
    @param retire Retire the certificates at once against `meter_id` on delivery.
    @return uint256 The order id.
    """
    return self._bid(meter_id, interval_begin, wh, price, retire)


@external
def bid_with_permit(
    meter_id: bytes32,
    interval_begin: uint256,
    wh: uint256,
    price: uint256,
    retire: bool,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
) -> uint256:
    """
    @notice `bid` with an EIP-2612 permit for the escrow instead of a prior
            approval; a permit someone already used is fine if the allowance is there.
    """
    permitted: bool = raw_call(
        token.address,
        abi_encode(msg.sender, self, wh * price, deadline, v, r, s, method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)")),
        revert_on_failure=False,
    )
    if not permitted:
        assert staticcall token.allowance(msg.sender, self) >= wh * price, "exchange: permit failed and allowance is short"
    return self._bid(meter_id, interval_begin, wh, price, retire)


@external
def amend(order_id: uint256, wh: uint256, price: uint256):
    """
    @notice Changes the open Wh and the price of one's order; its version
            moves on, so takes prepared against the old terms fail.
    """
    order: Order = self.orders[order_id]
    assert order.open, "exchange: order is not open"
    assert order.maker == msg.sender, "exchange: caller is not the maker"
    self._check_open(order.interval_begin)
    assert wh != 0 and price != 0, "exchange: amount and price must be positive"
    if order.is_bid:
        before: uint256 = order.wh * order.price
        after: uint256 = wh * price
        if after > before:
            self._pull(msg.sender, after - before)
        elif before > after:
            self._push(msg.sender, before - after)
    else:
        self.committed_wh[order.meter_id][order.interval_begin] -= order.wh
        self._check_seller(order.meter_id, order.interval_begin, wh)
        self.committed_wh[order.meter_id][order.interval_begin] += wh
    version: uint256 = order.version + 1
    self.orders[order_id].wh = wh
    self.orders[order_id].price = price
    self.orders[order_id].version = version
    log OrderAmended(order_id=order_id, wh=wh, price=price, version=version)


@external
def cancel(order_id: uint256):
    """
    @notice Withdraws one's open order; a bid's escrow comes back at once.
    """
    order: Order = self.orders[order_id]
    assert order.open, "exchange: order is not open"
    assert order.maker == msg.sender, "exchange: caller is not the maker"
    self.orders[order_id].open = False
    self.orders[order_id].version = order.version + 1
    refund: uint256 = 0
    if order.is_bid:
        refund = order.wh * order.price
    else:
        self.committed_wh[order.meter_id][order.interval_begin] -= order.wh
    log OrderCancelled(order_id=order_id, refund=refund)
    if refund != 0:
        self._push(msg.sender, refund)


@external
def take(order_id: uint256, wh: uint256, price: uint256, version: uint256, meter_id: bytes32) -> uint256:
    """
    @notice Takes an order, partly or fully; the deal's terms are the order's.
    @param order_id The order.
    @param wh Whole Wh to take, at most what is open.
    @param price The price the taker saw; guards against a changed order.
    @param version The version the taker saw; guards against a changed order.
    @param meter_id The taker's meter: consuming when taking an offer, producing when taking a bid.
    @return uint256 The deal id.
    """
    order: Order = self.orders[order_id]
    assert order.open, "exchange: order is not open"
    self._check_open(order.interval_begin)
    assert order.version == version and order.price == price, "exchange: order changed since it was seen"
    assert wh != 0, "exchange: amount must be positive"
    assert wh <= order.wh, "exchange: taking more than is open"
    assert msg.sender != order.maker, "exchange: cannot take one's own order"

    deal: Deal = empty(Deal)
    if order.is_bid:
        self._check_seller(meter_id, order.interval_begin, wh)
        self.committed_wh[meter_id][order.interval_begin] += wh
        deal = Deal(seller=msg.sender, buyer=order.maker, seller_meter=meter_id, buyer_meter=order.meter_id,
                    interval_begin=order.interval_begin, wh=wh, price=order.price, retire=order.retire, settled=False)
    else:
        self._check_buyer(meter_id)
        self._pull(msg.sender, wh * order.price)
        deal = Deal(seller=order.maker, buyer=msg.sender, seller_meter=order.meter_id, buyer_meter=meter_id,
                    interval_begin=order.interval_begin, wh=wh, price=order.price, retire=False, settled=False)

    remaining: uint256 = order.wh - wh
    self.orders[order_id].wh = remaining
    if remaining == 0:
        self.orders[order_id].open = False
    self.sold_wh[deal.seller_meter][deal.interval_begin] += wh
    self.unsettled_deals[deal.seller_meter][deal.interval_begin] += 1

    deal_id: uint256 = self.deal_count
    self.deal_count = deal_id + 1
    self.deals[deal_id] = deal
    log DealMade(deal_id=deal_id, order_id=order_id, interval_begin=deal.interval_begin, seller=deal.seller, buyer=deal.buyer, wh=wh, price=deal.price)
    return deal_id


# PERMISSIONLESS


@external
def settle(deal_id: uint256):
    """
    @notice Settles a deal from the seller's measurement, or refunds it when
            there is none by interval end plus the timeout. Anyone may call it.
    """
    self._settle(deal_id)


@external
def settle_many(deal_ids: DynArray[uint256, MAX_BATCH]):
    """
    @notice `settle` for a batch; each deal must be settleable.
    """
    for deal_id: uint256 in deal_ids:
        self._settle(deal_id)


@external
def withdraw_credit():
    """
    @notice Pays out the caller's payments and refunds.
    """
    amount: uint256 = self.credit_of[msg.sender]
    assert amount != 0, "exchange: no credit to withdraw"
    self.credit_of[msg.sender] = 0
    self.total_credit -= amount
    log CreditWithdrawn(account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount, default_return_value=True), "exchange: token transfer failed"


@external
def onERC1155Received(_operator: address, _from: address, _id: uint256, _value: uint256, _data: Bytes[1_024]) -> bytes4:
    """
    @notice Accepts certificates from the registry only (custody of sold Wh).
    """
    assert msg.sender == registry.address, "exchange: only certificates of the registry"
    return method_id("onERC1155Received(address,address,uint256,uint256,bytes)", output_type=bytes4)


@external
def onERC1155BatchReceived(
    _operator: address,
    _from: address,
    _ids: DynArray[uint256, 65_535],
    _values: DynArray[uint256, 65_535],
    _data: Bytes[1_024],
) -> bytes4:
    assert msg.sender == registry.address, "exchange: only certificates of the registry"
    return method_id("onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)", output_type=bytes4)


@external
@view
def order_book(interval_begin: uint256, first_order: uint256) -> DynArray[uint256, MAX_PAGE]:
    """
    @notice The open orders of an interval among order ids
            [first_order, first_order + 256): a page of the book; clients sort
            by price and sum depth, and page on while ids remain.
    @return DynArray The open order ids.
    """
    found: DynArray[uint256, MAX_PAGE] = []
    end: uint256 = min(first_order + MAX_PAGE, self.order_count)
    for order_id: uint256 in range(first_order, end, bound=MAX_PAGE):
        if self.orders[order_id].open and self.orders[order_id].interval_begin == interval_begin:
            found.append(order_id)
    return found


@external
@view
def orders_of(maker: address, first_order: uint256) -> DynArray[uint256, MAX_PAGE]:
    """
    @return DynArray The ids of `maker`'s orders, open or not, among
            [first_order, first_order + 256).
    """
    found: DynArray[uint256, MAX_PAGE] = []
    end: uint256 = min(first_order + MAX_PAGE, self.order_count)
    for order_id: uint256 in range(first_order, end, bound=MAX_PAGE):
        if self.orders[order_id].maker == maker:
            found.append(order_id)
    return found


@external
@view
def deals_of(account: address, first_deal: uint256) -> DynArray[uint256, MAX_PAGE]:
    """
    @return DynArray The ids of deals where `account` sells or buys, among
            [first_deal, first_deal + 256); `deals(id).settled` is their status.
    """
    found: DynArray[uint256, MAX_PAGE] = []
    end: uint256 = min(first_deal + MAX_PAGE, self.deal_count)
    for deal_id: uint256 in range(first_deal, end, bound=MAX_PAGE):
        if self.deals[deal_id].seller == account or self.deals[deal_id].buyer == account:
            found.append(deal_id)
    return found


@external
@view
def supportsInterface(interfaceId: bytes4) -> bool:
    return interfaceId == 0x01FFC9A7 or interfaceId == 0x4E2312E0


# INTERNAL


@internal
@view
def _check_open(interval_begin: uint256):
    assert interval_begin % interval_length == 0, "exchange: interval not on the grid"
    assert block.timestamp + lead_time < interval_begin, "exchange: gate closed for this interval"


@internal
@view
def _check_seller(meter_id: bytes32, interval_begin: uint256, wh: uint256):
    owner: address = empty(address)
    kind: MeterKind = empty(MeterKind)
    capacity_w: uint256 = 0
    owner, kind, capacity_w = staticcall backend.trading_data(meter_id)
    assert owner == msg.sender, "exchange: caller is not the meter owner"
    assert MeterKind.PRODUCTION in kind, "exchange: meter does not produce"
    # Wh a meter can deliver in one interval: capacity x length, floored.
    assert self.committed_wh[meter_id][interval_begin] + wh <= capacity_w * interval_length // 3_600, "exchange: selling beyond the meter's capacity"


@internal
@view
def _check_buyer(meter_id: bytes32):
    owner: address = empty(address)
    kind: MeterKind = empty(MeterKind)
    capacity_w: uint256 = 0
    owner, kind, capacity_w = staticcall backend.trading_data(meter_id)
    assert owner == msg.sender, "exchange: caller is not the meter owner"
    assert MeterKind.CONSUMPTION in kind, "exchange: meter does not consume"


@internal
def _bid(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256, retire: bool) -> uint256:
    self._check_open(interval_begin)
    assert wh != 0 and price != 0, "exchange: amount and price must be positive"
    self._check_buyer(meter_id)
    order_id: uint256 = self._place(meter_id, interval_begin, wh, price, True, retire)
    self._pull(msg.sender, wh * price)
    return order_id


@internal
def _place(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256, is_bid: bool, retire: bool) -> uint256:
    order_id: uint256 = self.order_count
    self.order_count = order_id + 1
    self.orders[order_id] = Order(maker=msg.sender, meter_id=meter_id, interval_begin=interval_begin, wh=wh,
                                  price=price, is_bid=is_bid, retire=retire, version=0, open=True)
    log OrderPlaced(order_id=order_id, maker=msg.sender, interval_begin=interval_begin, meter_id=meter_id, wh=wh,
                    price=price, is_bid=is_bid, retire=retire)
    return order_id


@internal
def _pull(account: address, amount: uint256):
    self.escrowed += amount
    assert extcall token.transferFrom(account, self, amount, default_return_value=True), "exchange: token transfer failed"


@internal
def _push(account: address, amount: uint256):
    self.escrowed -= amount
    assert extcall token.transfer(account, amount, default_return_value=True), "exchange: token transfer failed"


@internal
def _settle(deal_id: uint256):
    deal: Deal = self.deals[deal_id]
    assert deal.wh != 0, "exchange: unknown deal"
    assert not deal.settled, "exchange: deal already settled"

    end: uint256 = 0
    produced: uint256 = 0
    consumed: uint256 = 0
    end, produced, consumed = staticcall backend.measurement(deal.seller_meter, deal.interval_begin)
    interval_end: uint256 = deal.interval_begin + interval_length
    delivered: uint256 = 0
    if end == interval_end:
        sold: uint256 = self.sold_wh[deal.seller_meter][deal.interval_begin]
        if produced >= sold:
            delivered = deal.wh
        else:
            delivered = deal.wh * produced // sold
    else:
        assert block.timestamp >= interval_end + settlement_timeout, "exchange: no measurement yet for this interval"

    escrow: uint256 = deal.wh * deal.price
    payment: uint256 = delivered * deal.price
    refund: uint256 = escrow - payment
    self.deals[deal_id].settled = True
    self.escrowed -= escrow
    self.credit_of[deal.seller] += payment
    self.credit_of[deal.buyer] += refund
    self.total_credit += escrow
    log DealSettled(deal_id=deal_id, delivered_wh=delivered, payment=payment, refund=refund)

    unsettled: uint256 = self.unsettled_deals[deal.seller_meter][deal.interval_begin] - 1
    self.unsettled_deals[deal.seller_meter][deal.interval_begin] = unsettled
    if end != interval_end:
        return

    # The certificates of the sold Wh are minted to this contract's custody
    # when the measurement is certified; make sure it is.
    extcall registry.issue(deal.seller_meter, deal.interval_begin)
    id: uint256 = staticcall registry.certificate_id(deal.seller_meter, deal.interval_begin)
    if delivered != 0:
        self.delivered_sold_wh[deal.seller_meter][deal.interval_begin] += delivered
        self.delivered_bought_wh[deal.buyer_meter][deal.interval_begin] += delivered
        if deal.retire and staticcall registry.isApprovedForAll(deal.buyer, self):
            extcall registry.retire(id, delivered, deal.buyer_meter, b"delivered by the OpenKWh exchange")
        else:
            extcall registry.safeTransferFrom(self, deal.buyer, id, delivered, b"")
    if unsettled == 0:
        # Wh lost to flooring stay with the seller, and so do their certificates.
        dust: uint256 = staticcall registry.balanceOf(self, id)
        if dust != 0:
            extcall registry.safeTransferFrom(self, deal.seller, id, dust, b"")

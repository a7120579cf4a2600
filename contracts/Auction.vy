# pragma version ~=0.4.3
"""
@title OpenKWh hourly uniform-price auction with standing orders
@license GNU Affero General Public License v3.0 only
@notice Issue 19: a household says once what it wants ("sell my surplus
        every hour of the next week for no less than p", "buy up to w Wh an
        hour for no more than p") and every interval's market clears by
        itself at one price after gate closure. A standing order covers the
        intervals `first` to `last` with the same Wh and limit price in each;
        a bid escrows wh x price for every interval at placement, so no
        clearing can fail for want of funds. Any interval not yet closed can
        be cancelled (the order is cut short there) with its escrow back.
@custom:clearing Each interval keeps an accumulator of the orders placed in
        it: their count and a hash chain of their ids, in placement order.
        Anyone (a keeper) clears an interval after its gate closure by
        submitting those ids, in that order, and a price. The contract
        recomputes the chain (so no order can be left out, added or
        repeated), and in one pass, O(n), sums the Wh of bids above, at and
        one below the price and of offers below, at and one above it. No
        sorting is needed: the price is checked against these sums. The
        price must be the lowest Walrasian price, the lowest integer p with
            bids above p <= offers at or below p, and
            offers below p <= bids at or above p,
        so the clearing of a book is unique: replaying or replacing it is
        refused ("interval already cleared"). Nobody but the rule chooses the
        price, and arrival order changes no fill but the rounding below.
@custom:fills Volume V = min(bids at or above p, offers at or below p). An
        order strictly better than p (a bid above, an offer below) fills in
        full; an order at p is marginal and fills pro rata: a bid at p gets
        floor(wh x (V - bids above p) / bids at p), an offer at p
        floor(wh x (V - offers below p) / offers at p); a worse order fills
        nothing. Fills are not stored per order: the interval stores the
        price, both sides' ratios and the tariff bounds (one clearing writes
        three slots whatever the book), and an order's fill is derived from them in O(1). The Wh
        the floors leave out (fewer than the marginal orders of that side)
        are not traded on that side; the interval records both sides' totals
        (`bought_wh`, `sold_wh`), which differ by those few Wh at most.
@custom:tariffs A buyer never pays more than the retail price and a seller
        never gets less than the feed-in reward of the operator's tariff in
        force at the interval's begin, as read by the clearing and stored
        with it (a tariff changed later changes no fill): an order's limit counts as
        min(limit, retail) for a bid and max(limit, feed-in) for an offer,
        so a clearing with any volume lies between the two tariffs.
@custom:settlement A bid's `release` leaves the payment of its fills (fill
        x clearing price) here; `deliver`, which anyone may call after the
        clearing and before the interval begins, turns the fills into deals
        of the Exchange, which takes their payment from this escrow and
        settles them as it settles any deal (metered, pro rata, certificates
        to the buyer). With one price any pairing pays the same, so the
        pairing is fixed: buy fills with sell fills in placement order (the
        accumulator's, re-verified by `deliver`), a two-pointer walk, so at
        most bids + offers - 1 deals. The Wh one side fills beyond the other
        (the floors of the marginal orders) pair with nothing: an offer's
        are not sold, a bid's payment for them comes back as credit. So do
        the payments of every fill not delivered when the interval begins,
        whoever failed to call `deliver`: a delivery is never half made.
        A deal's seller and buyer are the orders' makers; the Exchange pays
        the owner of the seller meter during the interval, as for its own
        deals. `deliver` makes at most 64 deals, or pays back at most 256
        fills, a call and goes on where it stopped; the clearing itself writes no deal, so that it stays within
        15,000 gas per order (a deal costs the Exchange about 100,000).
@custom:books An interval's book holds at most MAX_BOOK (2,000) orders, what
        one `clear` takes, and one meter places at most MAX_PER_METER (16) of
        them: an offer escrows nothing, so one meter could otherwise fill a
        book alone and every standing order spanning that interval would be
        refused.
@custom:security Payments and refunds are pull credits (`withdraw_credit`).
        Every state change comes before the one token transfer of a call,
        and the external functions are non-reentrant, so a token with hooks
        (ERC-777 style) cannot re-enter. Trusted: the SmartMeterBackend
        (meter owners) and the OperatorBackend (tariffs).
"""


from ethereum.ercs import IERC20

from .interfaces import ISmartMeterBackend
from .interfaces import IOperatorBackend
from .interfaces import IExchange


# The OperatorBackend's tariff view (its interface file does not list it).
interface ITariffs:
    def tariff_at(timestamp: uint256) -> IOperatorBackend.Tariff: view


struct Order:
    maker: address
    meter_id: bytes32
    first: uint256  # interval begin of the first interval, unix seconds
    last: uint256  # interval begin of the last interval not cancelled
    wh: uint256  # per interval
    price: uint256  # limit, token base units per Wh
    is_bid: bool
    released: uint256  # intervals from `first` whose escrow is settled with the maker


struct Clearing:
    cleared: bool
    price: uint256
    bought_wh: uint256
    sold_wh: uint256
    bid_ratio_num: uint256
    bid_ratio_den: uint256
    ask_ratio_num: uint256
    ask_ratio_den: uint256
    orders: uint256


MAX_BOOK: constant(uint256) = 2000  # orders in one interval's book
# Orders of one meter in one interval: an offer escrows nothing, so without it
# one meter could fill a book alone and lock everyone else out of the interval.
MAX_PER_METER: public(constant(uint256)) = 16
MAX_INTERVALS: public(constant(uint256)) = 24 * 7 * 4  # a standing order spans at most four weeks of hours
MAX_RELEASE: constant(uint256) = 24 * 7 * 4
MAX_DEALS: public(constant(uint256)) = 64  # deals one `deliver` makes
MAX_REFUNDS: public(constant(uint256)) = 256  # unpaired bid fills one `deliver` pays back

_UINT40: constant(uint256) = 2**40 - 1
_UINT64: constant(uint256) = 2**64 - 1
_UINT96: constant(uint256) = 2**96 - 1
_UINT128: constant(uint256) = 2**128 - 1
_UINT160: constant(uint256) = 2**160 - 1
_COUNT: constant(uint256) = 2**64 - 1
_HASH: constant(uint256) = ~_COUNT  # the chain's top 192 bits
_IS_BID: constant(uint256) = 1 << 240
_CLEARED: constant(uint256) = 1 << 255
_DELIVERED: constant(uint256) = 1 << 255
_UINT32: constant(uint256) = 2**32 - 1

token: public(immutable(IERC20))
backend: public(immutable(ISmartMeterBackend))
operator: public(immutable(ITariffs))
interval_length: public(immutable(uint256))
lead_time: public(immutable(uint256))
exchange: public(immutable(IExchange))

order_count: public(uint256)

# @dev Payments and refunds waiting to be withdrawn, per account, in token base units.
credit_of: public(HashMap[address, uint256])

# @dev An order's terms: price (bits 0-95) | Wh per interval (96-159) | first
# interval (160-199) | last interval (200-239, below first when all cancelled)
# | is bid (240).
_terms: HashMap[uint256, uint256]
# @dev An order's maker (bits 0-159) and intervals released (160-199).
_owner: HashMap[uint256, uint256]
_meter: HashMap[uint256, bytes32]

# @dev Per interval begin: the hash chain of its orders (top 192 bits of
# keccak256(previous slot, order id)) and their count (bits 0-63).
accumulator: public(HashMap[uint256, uint256])

# @dev Per meter and group of 32 consecutive intervals (interval begin //
# (32 x interval length)): the meter's orders placed in each, 8 bits apiece
# (at most MAX_PER_METER, 16).
_placed: HashMap[bytes32, HashMap[uint256, uint256]]

# @dev Per interval begin: cleared (bit 255) | price (0-95) | Wh bought (96-159) | Wh sold (160-223).
_clearing: HashMap[uint256, uint256]
# @dev Per interval begin: bid ratio numerator (0-63) / denominator (64-127),
# offer ratio numerator (128-191) / denominator (192-255).
_ratios: HashMap[uint256, uint256]
# @dev Per interval begin, as the clearing read them: retail price (bits 0-127)
# and feed-in reward (128-255), so that fills never depend on a tariff read later.
_bounds: HashMap[uint256, uint256]
# @dev Per interval begin, where `deliver` stopped: delivered (bit 255) | the
# next bid's index in the book (0-31) and its Wh already paired (32-95) | the
# next offer's index (96-127) and its Wh already paired (128-191).
_delivery: HashMap[uint256, uint256]


event StandingOrderPlaced:
    order_id: indexed(uint256)
    maker: indexed(address)
    meter_id: bytes32
    first: uint256
    last: uint256
    wh: uint256
    price: uint256
    is_bid: bool


event StandingOrderCancelled:
    order_id: indexed(uint256)
    from_interval: uint256
    refund: uint256


event IntervalCleared:
    interval_begin: indexed(uint256)
    keeper: indexed(address)
    price: uint256
    bought_wh: uint256
    sold_wh: uint256
    orders: uint256


event Released:
    order_id: indexed(uint256)
    intervals: uint256
    refund: uint256


event DealDelivered:
    interval_begin: indexed(uint256)
    bid_id: indexed(uint256)
    offer_id: indexed(uint256)
    deal_id: uint256  # the Exchange's
    wh: uint256


event FillRefunded:
    order_id: indexed(uint256)
    interval_begin: indexed(uint256)
    wh: uint256  # of the bid's fill paired with no offer
    refund: uint256


event IntervalDelivered:
    interval_begin: indexed(uint256)
    keeper: indexed(address)
    deals: uint256  # made by this call
    complete: bool


event CreditWithdrawn:
    account: indexed(address)
    amount: uint256


@deploy
def __init__(token_: IERC20, backend_: ISmartMeterBackend, operator_: ITariffs, exchange_: IExchange, lead_time_: uint256):
    """
    @param token_ The settlement token (any ERC-20 without a transfer fee), the Exchange's.
    @param backend_ The SmartMeterBackend of the meters traded.
    @param operator_ The OperatorBackend whose tariffs bound the prices.
    @param exchange_ The Exchange that settles the deals `deliver` makes; its
           admin wires this Auction there, and it draws their payments from
           this contract's escrow (approved by `deliver`, exactly).
    @param lead_time_ Seconds before an interval's begin when its market closes.
    """
    token = token_
    backend = backend_
    operator = operator_
    exchange = exchange_
    interval_length = staticcall backend_.interval_length()
    lead_time = lead_time_


# METER OWNER


@external
@nonreentrant
def place(meter_id: bytes32, first: uint256, last: uint256, wh: uint256, price: uint256, is_bid: bool) -> uint256:
    """
    @notice Places a standing order for the intervals `first` to `last`; a
            bid takes wh x price x intervals into escrow now.
    @param meter_id The caller's meter (producing for an offer, consuming for a bid).
    @param first Interval begin of the first interval, on the grid, before its gate closure.
    @param last Interval begin of the last interval, on the grid, at least `first`.
    @param wh Whole Wh per interval, 1 to 2**64 - 1.
    @param price Limit price, token base units per Wh, 1 to 2**96 - 1.
    @param is_bid A bid (buy) or an offer (sell).
    @return uint256 The order id.
    """
    return self._place(meter_id, first, last, wh, price, is_bid)


@external
@nonreentrant
def place_with_permit(
    meter_id: bytes32,
    first: uint256,
    last: uint256,
    wh: uint256,
    price: uint256,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
) -> uint256:
    """
    @notice A standing bid with an EIP-2612 permit for its whole escrow
            instead of a prior approval; a permit already used is fine if the
            allowance is there.
    """
    # `place`'s bounds, before the escrow's arithmetic could overflow without a reason.
    assert wh != 0 and wh <= _UINT64, "auction: Wh out of range"
    assert price != 0 and price <= _UINT96, "auction: price out of range"
    assert last >= first and last <= _UINT40, "auction: bad interval range"
    escrow: uint256 = wh * price * ((last - first) // interval_length + 1)
    permitted: bool = raw_call(
        token.address,
        abi_encode(msg.sender, self, escrow, deadline, v, r, s, method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)")),
        revert_on_failure=False,
    )
    if not permitted:
        assert staticcall token.allowance(msg.sender, self) >= escrow, "auction: permit failed and allowance is short"
    return self._place(meter_id, first, last, wh, price, True)


@external
@nonreentrant
def cancel(order_id: uint256, from_interval: uint256):
    """
    @notice Cancels one's order from `from_interval` on: the order keeps its
            intervals before it, and a bid's escrow for the rest comes back.
    @param from_interval An interval of the order whose gate has not closed.
    """
    terms: uint256 = self._terms[order_id]
    assert terms != 0, "auction: no such order"
    maker: address = convert(self._owner[order_id] & _UINT160, address)
    if msg.sender != maker:
        # An order ends with its maker's ownership of the meter: the meter's
        # new owner may cancel it (a bid's escrow still goes back to the maker).
        owner: address = staticcall backend.owner_of(self._meter[order_id])
        assert owner == msg.sender and owner != maker, "auction: caller is not the maker"
    first: uint256 = self._first(terms)
    last: uint256 = self._last(terms)
    assert from_interval >= first and from_interval <= last and last >= first, "auction: interval not in the order"
    assert from_interval % interval_length == 0, "auction: interval not on the grid"
    assert block.timestamp + lead_time < from_interval, "auction: gate closed for this interval"
    cut: uint256 = (last - from_interval) // interval_length + 1
    # Last below first (`first - interval`, or 0 for an order from 0) marks an
    # order cancelled whole; the new last is below `from_interval` either way.
    new_last: uint256 = 0
    if from_interval > first:
        new_last = from_interval - interval_length
    self._terms[order_id] = (terms & ~(_UINT40 << 200)) | (new_last << 200)
    refund: uint256 = 0
    if terms & _IS_BID != 0:
        refund = cut * self._wh(terms) * self._price(terms)
    log StandingOrderCancelled(order_id=order_id, from_interval=from_interval, refund=refund)
    if refund != 0:
        self._push(maker, refund)


# KEEPER


@external
@nonreentrant
def clear(interval_begin: uint256, order_ids: DynArray[uint256, MAX_BOOK], price: uint256):
    """
    @notice Clears an interval after its gate closure; anyone may.
    @param interval_begin The interval.
    @param order_ids Every order placed in the interval, in placement order
           (`OrderPlaced`/`StandingOrderPlaced` logs, or `accumulator`).
    @param price The lowest Walrasian price of the book (see the contract's notice).
    """
    assert self._clearing[interval_begin] & _CLEARED == 0, "auction: interval already cleared"
    assert price <= _UINT96, "auction: price out of range"
    assert block.timestamp + lead_time >= interval_begin, "auction: gate not closed yet"
    acc: uint256 = self.accumulator[interval_begin]
    assert len(order_ids) == acc & _COUNT, "auction: book does not hold every order"
    tariff: IOperatorBackend.Tariff = staticcall operator.tariff_at(interval_begin)
    retail: uint256 = tariff.retail_price
    feed_in: uint256 = tariff.feed_in_reward
    # Clamped to 128 bits as stored: a price is below 2**96 anyway.
    retail = min(retail, _UINT128)
    feed_in = min(feed_in, _UINT128)

    link: uint256 = 0
    bids_above: uint256 = 0
    bids_at: uint256 = 0
    asks_below: uint256 = 0
    asks_at: uint256 = 0
    for order_id: uint256 in order_ids:
        link = (convert(keccak256(abi_encode(link, order_id)), uint256) & _HASH) | ((link & _COUNT) + 1)
        terms: uint256 = self._terms[order_id]
        if self._last(terms) < interval_begin:
            continue  # cancelled for this interval
        wh: uint256 = self._wh(terms)
        limit: uint256 = self._price(terms)
        if terms & _IS_BID != 0:
            limit = min(limit, retail)
            if limit > price:
                bids_above += wh
            elif limit == price:
                bids_at += wh
        else:
            limit = max(limit, feed_in)
            if limit < price:
                asks_below += wh
            elif limit == price:
                asks_at += wh
    assert link == acc, "auction: book does not match the orders placed"
    # Walrasian at `price`: excess demand changes sign there.
    assert bids_above <= asks_below + asks_at, "auction: demand above the price exceeds supply"
    assert asks_below <= bids_above + bids_at, "auction: supply below the price exceeds demand"
    # Lowest such price: at price - 1 the second test holds whenever it holds
    # at `price` (fewer offers below, more bids at or above), and the first
    # reads "bids at or above price <= offers below price"; it must fail.
    # Both tests are monotone in the price, so the Walrasian prices form one
    # interval and this pins its lower end: the clearing is unique.
    if price != 0:
        assert bids_above + bids_at > asks_below, "auction: a lower price clears the book"
    volume: uint256 = min(bids_above + bids_at, asks_below + asks_at)
    bid_num: uint256 = volume - bids_above
    ask_num: uint256 = volume - asks_below
    # Totals traded per side: full fills plus the marginal pro rata floors.
    bought: uint256 = bids_above
    sold: uint256 = asks_below
    if bids_at != 0 or asks_at != 0:
        for order_id: uint256 in order_ids:
            terms: uint256 = self._terms[order_id]
            if self._last(terms) < interval_begin:
                continue
            if terms & _IS_BID != 0:
                if min(self._price(terms), retail) == price:
                    bought += self._wh(terms) * bid_num // bids_at
            elif max(self._price(terms), feed_in) == price:
                sold += self._wh(terms) * ask_num // asks_at
    self._clearing[interval_begin] = _CLEARED | (price & _UINT96) | ((bought & _UINT64) << 96) | ((sold & _UINT64) << 160)
    self._ratios[interval_begin] = bid_num | (bids_at << 64) | (ask_num << 128) | (asks_at << 192)
    self._bounds[interval_begin] = min(retail, _UINT128) | (min(feed_in, _UINT128) << 128)
    log IntervalCleared(interval_begin=interval_begin, keeper=msg.sender, price=price, bought_wh=bought, sold_wh=sold, orders=len(order_ids))


@external
@nonreentrant
def release(order_id: uint256, intervals: uint256):
    """
    @notice Settles up to `intervals` more cleared intervals of a bid's
            escrow, in order from its first: the maker is credited the Wh it
            did not fill at its limit, and the difference between its limit
            and the clearing price on the Wh it did. The fills' payment
            (fill x clearing price) stays in escrow for `deliver`.
    """
    terms: uint256 = self._terms[order_id]
    assert terms & _IS_BID != 0, "auction: not a bid"
    owner: uint256 = self._owner[order_id]
    done: uint256 = owner >> 160
    first: uint256 = self._first(terms)
    last: uint256 = self._last(terms)
    wh: uint256 = self._wh(terms)
    limit: uint256 = self._price(terms)
    refund: uint256 = 0
    n: uint256 = 0
    for i: uint256 in range(MAX_RELEASE):
        if n == intervals:
            break
        begin: uint256 = first + (done + n) * interval_length
        if begin > last:
            break
        clearing: uint256 = self._clearing[begin]
        assert clearing & _CLEARED != 0, "auction: interval not cleared yet"
        fill: uint256 = self._fill(terms, begin, clearing)
        refund += wh * limit - fill * (clearing & _UINT96)
        n += 1
    assert n != 0, "auction: nothing to release"
    self._owner[order_id] = (owner & _UINT160) | ((done + n) << 160)
    maker: address = convert(owner & _UINT160, address)
    self.credit_of[maker] += refund
    log Released(order_id=order_id, intervals=n, refund=refund)


@external
@nonreentrant
def withdraw_credit():
    """
    @notice Sends the caller its credit.
    """
    amount: uint256 = self.credit_of[msg.sender]
    assert amount != 0, "auction: no credit"
    self.credit_of[msg.sender] = 0
    log CreditWithdrawn(account=msg.sender, amount=amount)
    self._push(msg.sender, amount)


@external
@nonreentrant
def deliver(interval_begin: uint256, order_ids: DynArray[uint256, MAX_BOOK]) -> bool:
    """
    @notice Makes the deals of a cleared interval on the Exchange, up to
            MAX_DEALS a call, going on where the last call stopped; anyone
            may. Pairs buy fills with sell fills in placement order (see the
            contract's notice), and once the walk ends credits back the
            payment of the bid fills left unpaired, up to MAX_REFUNDS a
            call. From the interval's begin on it makes no deal: every fill
            not delivered is credited back to its bidder instead.
    @param interval_begin The interval, cleared and not yet delivered.
    @param order_ids Every order placed in the interval, in placement order,
           as for `clear`.
    @return bool Whether the interval is now delivered in full.
    """
    clearing: uint256 = self._clearing[interval_begin]
    assert clearing & _CLEARED != 0, "auction: interval not cleared yet"
    state: uint256 = self._delivery[interval_begin]
    assert state & _DELIVERED == 0, "auction: interval already delivered"
    acc: uint256 = self.accumulator[interval_begin]
    assert len(order_ids) == acc & _COUNT, "auction: book does not hold every order"
    link: uint256 = 0
    for order_id: uint256 in order_ids:
        link = (convert(keccak256(abi_encode(link, order_id)), uint256) & _HASH) | ((link & _COUNT) + 1)
    assert link == acc, "auction: book does not match the orders placed"

    n: uint256 = len(order_ids)
    price: uint256 = clearing & _UINT96
    bid: uint256 = self._next_fill(order_ids, state & _UINT32, True, interval_begin, clearing)
    bid_used: uint256 = (state >> 32) & _UINT64
    ask: uint256 = self._next_fill(order_ids, (state >> 96) & _UINT32, False, interval_begin, clearing)
    ask_used: uint256 = (state >> 128) & _UINT64
    late: bool = block.timestamp >= interval_begin
    deals: DynArray[IExchange.AuctionDeal, MAX_DEALS] = []
    pairs: DynArray[uint256, MAX_DEALS] = []  # bid id (bits 0-127) | offer id (128-255)
    for _: uint256 in range(MAX_DEALS):
        if late or bid == n or ask == n:
            break
        bid_id: uint256 = order_ids[bid]
        ask_id: uint256 = order_ids[ask]
        bid_fill: uint256 = self._fill(self._terms[bid_id], interval_begin, clearing)
        ask_fill: uint256 = self._fill(self._terms[ask_id], interval_begin, clearing)
        wh: uint256 = min(bid_fill - bid_used, ask_fill - ask_used)
        deals.append(IExchange.AuctionDeal(
            seller=convert(self._owner[ask_id] & _UINT160, address),
            buyer=convert(self._owner[bid_id] & _UINT160, address),
            seller_meter=self._meter[ask_id],
            buyer_meter=self._meter[bid_id],
            interval_begin=interval_begin,
            wh=wh,
            price=price,
        ))
        pairs.append(bid_id | (ask_id << 128))
        bid_used += wh
        ask_used += wh
        if bid_used == bid_fill:
            bid = self._next_fill(order_ids, bid + 1, True, interval_begin, clearing)
            bid_used = 0
        if ask_used == ask_fill:
            ask = self._next_fill(order_ids, ask + 1, False, interval_begin, clearing)
            ask_used = 0

    # The walk is over when the interval has begun or a side has no fill
    # left; the bids' fills from `bid` on are then paid back, at most
    # MAX_REFUNDS a call (a 2,000-order book's refunds in one call would
    # take about 68 million gas, past any block: the interval could never
    # be delivered and its bids' payments would stay here for good).
    walked: bool = late or bid == n or ask == n
    if walked:
        for _: uint256 in range(MAX_REFUNDS):
            if bid == n:
                break
            bid_id: uint256 = order_ids[bid]
            wh: uint256 = self._fill(self._terms[bid_id], interval_begin, clearing) - bid_used
            maker: address = convert(self._owner[bid_id] & _UINT160, address)
            self.credit_of[maker] += wh * price
            log FillRefunded(order_id=bid_id, interval_begin=interval_begin, wh=wh, refund=wh * price)
            bid = self._next_fill(order_ids, bid + 1, True, interval_begin, clearing)
            bid_used = 0
    complete: bool = bid == n
    if complete:
        self._delivery[interval_begin] = _DELIVERED
    elif walked:
        # The offer index at the book's end: the next call pairs nothing and goes on paying back.
        self._delivery[interval_begin] = bid | (bid_used << 32) | (n << 96)
    else:
        self._delivery[interval_begin] = bid | (bid_used << 32) | (ask << 96) | (ask_used << 128)
    log IntervalDelivered(interval_begin=interval_begin, keeper=msg.sender, deals=len(deals), complete=complete)
    if len(deals) != 0:
        # The Exchange pulls exactly the deals' payment, as it pulls a taker's.
        assert extcall token.approve(exchange.address, self._paid(deals), default_return_value=True), "auction: token approval failed"
        deal_id: uint256 = extcall exchange.make_auction_deals(deals)
        for i: uint256 in range(MAX_DEALS):
            if i == len(pairs):
                break
            log DealDelivered(interval_begin=interval_begin, bid_id=pairs[i] & _UINT128, offer_id=pairs[i] >> 128,
                              deal_id=deal_id + i, wh=deals[i].wh)
    return complete


# VIEW


@external
@view
def delivered(interval_begin: uint256) -> bool:
    """
    @return bool Whether the interval's fills are delivered in full (deals made, the rest paid back).
    """
    return self._delivery[interval_begin] & _DELIVERED != 0


@external
@view
def order(order_id: uint256) -> Order:
    terms: uint256 = self._terms[order_id]
    owner: uint256 = self._owner[order_id]
    return Order(maker=convert(owner & _UINT160, address), meter_id=self._meter[order_id], first=self._first(terms),
                 last=self._last(terms), wh=self._wh(terms), price=self._price(terms), is_bid=terms & _IS_BID != 0,
                 released=owner >> 160)


@external
@view
def clearing(interval_begin: uint256) -> Clearing:
    c: uint256 = self._clearing[interval_begin]
    r: uint256 = self._ratios[interval_begin]
    return Clearing(cleared=c & _CLEARED != 0, price=c & _UINT96, bought_wh=(c >> 96) & _UINT64,
                    sold_wh=(c >> 160) & _UINT64, bid_ratio_num=r & _UINT64, bid_ratio_den=(r >> 64) & _UINT64,
                    ask_ratio_num=(r >> 128) & _UINT64, ask_ratio_den=r >> 192,
                    orders=self.accumulator[interval_begin] & _COUNT)


@external
@view
def fill(order_id: uint256, interval_begin: uint256) -> uint256:
    """
    @return uint256 The Wh the order filled in the cleared interval (0 before clearing).
    """
    clearing: uint256 = self._clearing[interval_begin]
    if clearing & _CLEARED == 0:
        return 0
    return self._fill(self._terms[order_id], interval_begin, clearing)


# INTERNAL


@internal
def _place(meter_id: bytes32, first: uint256, last: uint256, wh: uint256, price: uint256, is_bid: bool) -> uint256:
    assert wh != 0 and wh <= _UINT64, "auction: Wh out of range"
    assert price != 0 and price <= _UINT96, "auction: price out of range"
    assert first % interval_length == 0 and last % interval_length == 0, "auction: interval not on the grid"
    assert last >= first and last <= _UINT40, "auction: bad interval range"
    assert block.timestamp + lead_time < first, "auction: gate closed for this interval"
    count: uint256 = (last - first) // interval_length + 1
    assert count <= MAX_INTERVALS, "auction: too many intervals"
    meter: ISmartMeterBackend.Trading = staticcall backend.trading_data(meter_id)
    assert meter.owner == msg.sender, "auction: caller does not own the meter"
    if is_bid:
        assert ISmartMeterBackend.MeterKind.CONSUMPTION in meter.kind, "auction: meter does not consume"
    else:
        assert ISmartMeterBackend.MeterKind.PRODUCTION in meter.kind, "auction: meter does not produce"
        # One offer sells at most what the meter can make in an interval, so
        # a book of MAX_BOOK offers cannot overflow the Exchange's Wh fields.
        assert wh <= meter.capacity_w * interval_length // 3_600, "auction: selling beyond the meter's capacity"
    order_id: uint256 = self.order_count
    self.order_count = order_id + 1
    flags: uint256 = 0
    if is_bid:
        flags = _IS_BID
    self._terms[order_id] = price | (wh << 96) | (first << 160) | (last << 200) | flags
    self._owner[order_id] = convert(msg.sender, uint256)
    self._meter[order_id] = meter_id
    # The meter's counts, one slot per 32 intervals, read and written once per slot.
    group: uint256 = first // (32 * interval_length)
    placed: uint256 = self._placed[meter_id][group]
    for i: uint256 in range(MAX_INTERVALS):
        if i == count:
            break
        begin: uint256 = first + i * interval_length
        acc: uint256 = self.accumulator[begin]
        assert acc & _COUNT < MAX_BOOK, "auction: the interval's book is full"
        if begin // (32 * interval_length) != group:
            self._placed[meter_id][group] = placed
            group = begin // (32 * interval_length)
            placed = self._placed[meter_id][group]
        bit: uint256 = (begin // interval_length % 32) * 8
        assert (placed >> bit) & 255 < MAX_PER_METER, "auction: the meter has too many orders in the interval"
        placed += 1 << bit
        self.accumulator[begin] = (convert(keccak256(abi_encode(acc, order_id)), uint256) & _HASH) | ((acc & _COUNT) + 1)
    self._placed[meter_id][group] = placed
    log StandingOrderPlaced(order_id=order_id, maker=msg.sender, meter_id=meter_id, first=first, last=last, wh=wh,
                            price=price, is_bid=is_bid)
    if is_bid:
        self._pull(msg.sender, count * wh * price)
    return order_id


@internal
@view
def _fill(terms: uint256, begin: uint256, clearing: uint256) -> uint256:
    """
    @dev An order's fill in a cleared interval (rule in the contract's notice).
    """
    if begin < self._first(terms) or begin > self._last(terms):
        return 0
    bounds: uint256 = self._bounds[begin]
    price: uint256 = clearing & _UINT96
    r: uint256 = self._ratios[begin]
    wh: uint256 = self._wh(terms)
    if terms & _IS_BID != 0:
        limit: uint256 = min(self._price(terms), bounds & _UINT128)
        if limit > price:
            return wh
        if limit == price:
            return wh * (r & _UINT64) // ((r >> 64) & _UINT64)
        return 0
    limit: uint256 = max(self._price(terms), bounds >> 128)
    if limit < price:
        return wh
    if limit == price:
        return wh * ((r >> 128) & _UINT64) // (r >> 192)
    return 0


@internal
@pure
def _paid(deals: DynArray[IExchange.AuctionDeal, MAX_DEALS]) -> uint256:
    """
    @dev What the deals pay the seller in all: Wh x clearing price each, in token base units.
    """
    total: uint256 = 0
    for d: IExchange.AuctionDeal in deals:
        total += d.wh * d.price
    return total


@internal
@view
def _next_fill(order_ids: DynArray[uint256, MAX_BOOK], start: uint256, is_bid: bool, begin: uint256, clearing: uint256) -> uint256:
    """
    @dev The index in `order_ids`, from `start` on, of the next bid (or
         offer) that filled in the cleared interval; len(order_ids) for none.
    """
    n: uint256 = len(order_ids)
    for k: uint256 in range(start, n, bound=MAX_BOOK):
        terms: uint256 = self._terms[order_ids[k]]
        if (terms & _IS_BID != 0) == is_bid and self._fill(terms, begin, clearing) != 0:
            return k
    return n


@internal
def _pull(account: address, amount: uint256):
    held: uint256 = staticcall token.balanceOf(self)
    assert extcall token.transferFrom(account, self, amount, default_return_value=True), "auction: token transfer failed"
    assert staticcall token.balanceOf(self) == held + amount, "auction: token delivered another amount than sent"


@internal
def _push(account: address, amount: uint256):
    assert extcall token.transfer(account, amount, default_return_value=True), "auction: token transfer failed"


@internal
@pure
def _price(terms: uint256) -> uint256:
    return terms & _UINT96


@internal
@pure
def _wh(terms: uint256) -> uint256:
    return (terms >> 96) & _UINT64


@internal
@pure
def _first(terms: uint256) -> uint256:
    return (terms >> 160) & _UINT40


@internal
@pure
def _last(terms: uint256) -> uint256:
    return (terms >> 200) & _UINT40

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
                 meter owners and capacities), the certificate registry, and
                 the OperatorBackend, which learns of every deal so that it
                 pays and bills only the Wh not traded here.
@custom:rounding Delivered Wh of a deal = deal Wh when the meter produced at
                 least everything it sold in the interval, else
                 floor(deal Wh x produced / sold). Payment = delivered x price;
                 refund = escrow - payment, so payment + refund = escrow to the
                 base unit. The Wh lost to flooring count as not delivered: the
                 buyer does not pay for them, their certificates go back to the
                 seller, and the operator pays their feed-in reward.
@custom:auction The Auction wired by the admin (`wire_auction`, once) turns
                a cleared interval's fills into deals here with
                `make_auction_deals`, paying their escrow in from its own:
                each is recorded as a taken deal is (sold Wh, deal counts, the
                operator told, `DealMade` with `order_id` AUCTION_ORDER), so
                `settle` works on it unchanged. Only before the interval
                begins, so never after a measurement or a settlement of it.
"""


from ethereum.ercs import IERC20

from snekmate.tokens.interfaces import IERC1155Receiver
implements: IERC1155Receiver


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


# A deal's terms, as logged by `DealMade`; the contract keeps their hash only.
struct Deal:
    order_id: uint256
    seller: address
    buyer: address
    seller_meter: bytes32
    buyer_meter: bytes32
    interval_begin: uint256
    wh: uint256
    price: uint256
    retire: bool


struct Settlement:
    deal_id: uint256
    deal: Deal


# An order lives in three slots, packed as below.
struct _OrderSlots:
    head: uint256  # maker (bits 0-159) | price (160-255)
    meter_id: bytes32
    tail: uint256  # begin (0-39) | open Wh (40-103) | version (104-135) | is bid (136) | retire (137)
    # | the interval's next (138-175) and previous (176-213) open order, and the
    # maker's order before this one (214-251): order ids plus one, 0 for none


from .interfaces import ISmartMeterBackend
from .interfaces import IOperatorBackend
from .interfaces import IGGORegistry
from .interfaces import IExchange
implements: IExchange


MAX_BATCH: constant(uint256) = 64
MAX_PAGE: constant(uint256) = 256  # orders or deals scanned by one view call

_UINT32: constant(uint256) = 2**32 - 1
_UINT40: constant(uint256) = 2**40 - 1
_UINT64: constant(uint256) = 2**64 - 1
_UINT96: constant(uint256) = 2**96 - 1
_UINT128: constant(uint256) = 2**128 - 1
_UINT160: constant(uint256) = 2**160 - 1
_UINT63: constant(uint256) = 2**63 - 1
_LAPSED: constant(uint256) = 1 << 255
_IS_BID: constant(uint256) = 1 << 136
_RETIRE: constant(uint256) = 1 << 137
_LINK: constant(uint256) = 2**38 - 1  # an order id plus one, in the lists below
_NEXT: constant(uint256) = 138
_PREV: constant(uint256) = 176
_MAKERS_PREVIOUS: constant(uint256) = 214
_OPEN_WH_AND_VERSION: constant(uint256) = (_UINT64 << 40) | (_UINT32 << 104)
_BOOK_LINKS: constant(uint256) = (_LINK << _NEXT) | (_LINK << _PREV)
# One more deal not settled, in a `_sales` slot (bits 192-254) and a `_purchases` slot (128-255).
_ONE_SALE: constant(uint256) = 1 << 192
_ONE_PURCHASE: constant(uint256) = 1 << 128
# @dev The most orders the Exchange takes: ids fit the lists' 38-bit links.
MAX_ORDERS: public(constant(uint256)) = 2**38 - 1
# What `deal_hash` holds once a deal is settled.
# @dev The `order_id` of a deal the Auction made: no order of this Exchange has it.
AUCTION_ORDER: public(constant(uint256)) = MAX_ORDERS
# @dev The most deals one `make_auction_deals` records.
MAX_AUCTION_DEALS: constant(uint256) = 64
SETTLED: public(constant(bytes32)) = 0x0000000000000000000000000000000000000000000000000000000000000001
_RETIRE_NOTE: constant(Bytes[33]) = b"delivered by the OpenKWh exchange"


# @dev The settlement token.
token: public(immutable(IERC20))

# @dev Where meters and measurements are.
backend: public(immutable(ISmartMeterBackend))

# @dev Where the certificates of sold Wh are held in custody.
registry: public(immutable(IGGORegistry))

# @dev The grid operator told of every deal, so it bills and pays only untraded Wh.
operator: public(immutable(IOperatorBackend))

# @dev Interval length of the backend, in seconds.
interval_length: public(immutable(uint256))

# @dev Seconds before an interval begins when its market closes.
lead_time: public(immutable(uint256))

# @dev Seconds after an interval ends after which an unmeasured deal refunds.
settlement_timeout: public(immutable(uint256))

# @dev The deployer: wires the Auction, once, and nothing else.
admin: public(immutable(address))

# @dev The Auction whose cleared fills become deals here; empty until wired.
auction: public(address)

order_count: public(uint256)
deal_count: public(uint256)

# @dev Payments and refunds waiting to be withdrawn, per account, in token base units.
credit_of: public(HashMap[address, uint256])

_orders: HashMap[uint256, _OrderSlots]

# @dev The newest open order of an interval, plus one (0: none): the head of a
# doubly linked list of the interval's open orders, through the orders' tails,
# so that a book costs what its own open orders cost, whatever others placed
# and cancelled.
_book_head: HashMap[uint256, uint256]

# @dev A maker's newest order, plus one: the head of a list of its orders,
# open or not, newest first.
_maker_head: HashMap[address, uint256]

# @dev keccak256(abi_encode(Deal)) of an open deal, SETTLED once settled, zero for no deal.
# The terms are in the deal's `DealMade` event; settling passes them back.
deal_hash: public(HashMap[uint256, bytes32])

# @dev Per seller meter and interval begin: Wh committed in open offers and
# deals (bits 0-63), Wh sold in deals (64-127), Wh delivered (128-191), deals
# not settled (192-254), and the interval's lapse (255): set when a deal is
# refunded for want of a measurement by the timeout, after which every deal
# of the interval refunds, whatever measurement comes later.
_sales: HashMap[bytes32, HashMap[uint256, uint256]]

# @dev Per buyer meter and interval begin: Wh delivered (bits 0-127), deals not settled (128-255).
_purchases: HashMap[bytes32, HashMap[uint256, uint256]]

# @dev Certificate Wh held for an account whose wallet refused them, per certificate id.
held_certificates: public(HashMap[address, HashMap[uint256, uint256]])


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
    seller: indexed(address)  # who is paid: the seller meter's owner during the interval
    buyer: indexed(address)
    delivered_wh: uint256
    payment: uint256
    refund: uint256
    retired_wh: uint256


event AuctionWired:
    auction: indexed(address)


event CreditWithdrawn:
    account: indexed(address)
    amount: uint256


event CertificatesHeld:
    account: indexed(address)
    id: indexed(uint256)
    wh: uint256


event CertificatesClaimed:
    account: indexed(address)
    id: indexed(uint256)
    recipient: address
    wh: uint256


@deploy
def __init__(
    token_: IERC20,
    backend_: ISmartMeterBackend,
    registry_: IGGORegistry,
    operator_: IOperatorBackend,
    lead_time_: uint256,
    settlement_timeout_: uint256,
):
    """
    @param token_ The settlement token (any ERC-20).
    @param backend_ The SmartMeterBackend of the meters traded.
    @param registry_ The GGORegistry certifying that backend; it must wire this Exchange.
    @param operator_ The OperatorBackend settling those meters; it must wire this Exchange.
    @param lead_time_ Seconds before an interval's begin when its market closes.
    @param settlement_timeout_ Seconds after an interval's end after which an unmeasured deal refunds.
    """
    token = token_
    backend = backend_
    registry = registry_
    operator = operator_
    interval_length = staticcall backend_.interval_length()
    lead_time = lead_time_
    settlement_timeout = settlement_timeout_
    admin = msg.sender


# METER OWNER


@external
@nonreentrant
def offer(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256) -> uint256:
    """
    @notice Offers Wh that `meter_id` will produce in an interval.
    @param meter_id The caller's producing meter.
    @param interval_begin Unix seconds, on the interval grid, before gate closure.
    @param wh Whole Wh offered; with what is already offered and sold, at most capacity x interval.
    @param price Token base units per Wh, below 2**96.
    @return uint256 The order id.
    """
    self._check_terms(interval_begin, wh, price)
    self._commit(meter_id, interval_begin, wh, 0)
    return self._place(meter_id, interval_begin, wh, price, 0)


@external
@nonreentrant
def bid(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256, retire: bool) -> uint256:
    """
    @notice Bids for Wh delivered to `meter_id` in an interval; wh x price
            tokens go into escrow now.
    @param meter_id The caller's consuming meter.
    @param interval_begin Unix seconds, on the interval grid, before gate closure.
    @param wh Whole Wh wanted, below 2**64.
    @param price Limit price, token base units per Wh, below 2**96.
    @param retire Retire the certificates on delivery against `meter_id`'s
           consumption, as far as it is measured and this Exchange is approved
           on the registry; the rest reach the caller's wallet.
    @return uint256 The order id.
    """
    return self._bid(meter_id, interval_begin, wh, price, retire)


@external
@nonreentrant
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
@nonreentrant
def amend(order_id: uint256, wh: uint256, price: uint256):
    """
    @notice Changes the open Wh and the price of one's order; its version
            moves on, so takes prepared against the old terms fail. A bid's
            escrow follows: the difference is taken or returned at once.
    """
    head: uint256 = self._orders[order_id].head
    tail: uint256 = self._orders[order_id].tail
    open_wh: uint256 = self._open_wh(tail)
    assert open_wh != 0, "exchange: order is not open"
    assert self._maker(head) == msg.sender, "exchange: caller is not the maker"
    begin: uint256 = self._begin(tail)
    self._check_terms(begin, wh, price)
    version: uint256 = self._next_version(tail)

    meter_id: bytes32 = self._orders[order_id].meter_id
    if tail & _IS_BID == 0:
        self._commit(meter_id, begin, wh, open_wh)
    # Effects before the token moves (checks-effects-interactions).
    self._orders[order_id].head = self._pack_head(self._maker(head), price)
    self._orders[order_id].tail = (tail & ~_OPEN_WH_AND_VERSION) | self._pack_wh_and_version(wh, version)
    log OrderAmended(order_id=order_id, wh=wh, price=price, version=version)
    if tail & _IS_BID != 0:
        before: uint256 = open_wh * self._price(head)
        after: uint256 = wh * price
        if after > before:
            self._pull(msg.sender, after - before)
        elif before > after:
            self._push(msg.sender, before - after)


@external
@nonreentrant
def cancel(order_id: uint256):
    """
    @notice Withdraws one's open order, even after gate closure; a bid's
            escrow comes back at once, an offer's Wh are no longer committed.
    """
    head: uint256 = self._orders[order_id].head
    tail: uint256 = self._orders[order_id].tail
    open_wh: uint256 = self._open_wh(tail)
    assert open_wh != 0, "exchange: order is not open"
    maker: address = self._maker(head)
    meter_id: bytes32 = self._orders[order_id].meter_id
    if msg.sender != maker:
        # An order ends with its maker's ownership of the meter: the meter's
        # new owner may cancel it (the escrow still goes back to the maker).
        owner: address = staticcall backend.owner_of(meter_id)
        assert owner == msg.sender and owner != maker, "exchange: caller is not the maker"
    version: uint256 = self._next_version(tail)
    self._unlink(tail)
    self._orders[order_id].tail = (tail & ~(_OPEN_WH_AND_VERSION | _BOOK_LINKS)) | self._pack_wh_and_version(0, version)
    refund: uint256 = 0
    if tail & _IS_BID != 0:
        refund = open_wh * self._price(head)
    else:
        self._sales[meter_id][self._begin(tail)] -= open_wh
    log OrderCancelled(order_id=order_id, refund=refund)
    if refund != 0:
        self._push(maker, refund)


@external
@nonreentrant
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
    head: uint256 = self._orders[order_id].head
    tail: uint256 = self._orders[order_id].tail
    open_wh: uint256 = self._open_wh(tail)
    assert open_wh != 0, "exchange: order is not open"
    begin: uint256 = self._begin(tail)
    self._check_gate(begin)
    assert self._version(tail) == version and self._price(head) == price, "exchange: order changed since it was seen"
    assert wh != 0, "exchange: amount must be positive"
    assert wh <= open_wh, "exchange: taking more than is open"
    maker: address = self._maker(head)
    assert msg.sender != maker, "exchange: cannot take one's own order"
    maker_meter: bytes32 = self._orders[order_id].meter_id
    assert staticcall backend.owner_of(maker_meter) == maker, "exchange: the order's meter has changed owner"
    # The order first, before any token moves (checks-effects-interactions):
    # its Wh, and its place in the book once it closes.
    if wh == open_wh:
        self._unlink(tail)
        self._orders[order_id].tail = (tail - self._pack_wh_and_version(wh, 0)) & ~_BOOK_LINKS
    else:
        self._orders[order_id].tail = tail - self._pack_wh_and_version(wh, 0)

    deal: Deal = Deal(order_id=order_id, seller=maker, buyer=msg.sender, seller_meter=maker_meter, buyer_meter=meter_id,
                      interval_begin=begin, wh=wh, price=price, retire=False)
    if tail & _IS_BID != 0:
        deal.seller = msg.sender
        deal.buyer = maker
        deal.seller_meter = meter_id
        deal.buyer_meter = maker_meter
        deal.retire = tail & _RETIRE != 0
        # The Wh sold are committed and sold at once.
        self._commit(meter_id, begin, wh, 0)
        self._sales[meter_id][begin] += self._as_sold(wh) | _ONE_SALE
    else:
        self._check_buyer(meter_id)
        self._sales[maker_meter][begin] += self._as_sold(wh) | _ONE_SALE
        self._pull(msg.sender, wh * price)
    self._purchases[deal.buyer_meter][begin] += _ONE_PURCHASE

    deal_id: uint256 = self.deal_count
    self.deal_count = deal_id + 1
    self.deal_hash[deal_id] = keccak256(abi_encode(deal))
    log DealMade(deal_id=deal_id, seller=deal.seller, buyer=deal.buyer, order_id=order_id, seller_meter=deal.seller_meter,
                 buyer_meter=deal.buyer_meter, interval_begin=begin, wh=wh, price=price, retire=deal.retire)
    extcall operator.mark_traded(deal.seller_meter, deal.buyer_meter, begin)
    return deal_id


# AUCTION


@external
@nonreentrant
def make_auction_deals(deals: DynArray[IExchange.AuctionDeal, MAX_AUCTION_DEALS]) -> uint256:
    """
    @notice Records deals the wired Auction made from a cleared interval's
            fills, each as a taken deal is recorded, and takes their escrow
            (wh x price each) from the Auction.
    @dev Only the Auction, and only before each deal's interval begins: no
         measurement, issuance or settlement of the interval can exist yet,
         so every deal of the interval is known before any is settled. The
         Auction bounds an offer's Wh by the meter's capacity per interval
         and a book by 2,000 orders, so the 64-bit Wh fields cannot overflow.
    @param deals At most 64 deals.
    @return uint256 The first deal's id; the others follow in order.
    """
    assert msg.sender == self.auction, "exchange: caller is not the auction"
    first: uint256 = self.deal_count
    deal_id: uint256 = first
    escrow: uint256 = 0
    for d: IExchange.AuctionDeal in deals:
        begin: uint256 = d.interval_begin
        assert block.timestamp < begin, "exchange: the interval has begun"
        # Committed and sold at once, as when a bid is taken; an auction
        # sale is not held to the capacity left by the continuous book.
        self._sales[d.seller_meter][begin] += (d.wh & _UINT64) | self._as_sold(d.wh) | _ONE_SALE
        self._purchases[d.buyer_meter][begin] += _ONE_PURCHASE
        deal: Deal = Deal(order_id=AUCTION_ORDER, seller=d.seller, buyer=d.buyer, seller_meter=d.seller_meter,
                          buyer_meter=d.buyer_meter, interval_begin=begin, wh=d.wh, price=d.price, retire=False)
        self.deal_hash[deal_id] = keccak256(abi_encode(deal))
        log DealMade(deal_id=deal_id, seller=d.seller, buyer=d.buyer, order_id=AUCTION_ORDER, seller_meter=d.seller_meter,
                     buyer_meter=d.buyer_meter, interval_begin=begin, wh=d.wh, price=d.price, retire=False)
        extcall operator.mark_traded(d.seller_meter, d.buyer_meter, begin)
        escrow += d.wh * d.price
        deal_id += 1
    self.deal_count = deal_id
    if escrow != 0:
        self._pull(msg.sender, escrow)
    return first


# ADMIN


@external
def wire_auction(auction_: address):
    """
    @notice Names the Auction allowed to make deals here; once, by the admin.
    @param auction_ The Auction, which must settle in this Exchange's token.
    """
    assert msg.sender == admin, "exchange: caller is not the admin"
    assert self.auction == empty(address), "exchange: auction already wired"
    assert auction_.is_contract, "exchange: the auction is not a contract"
    self.auction = auction_
    log AuctionWired(auction=auction_)


# PERMISSIONLESS


@external
@nonreentrant
def settle(deal_id: uint256, deal: Deal):
    """
    @notice Settles a deal from the seller's measurement, or refunds it when
            there is none by interval end plus the timeout. Anyone may call it.
    @param deal_id The deal.
    @param deal Its terms, as its `DealMade` event logged them.
    """
    self._settle(deal_id, deal)


@external
@nonreentrant
def settle_many(settlements: DynArray[Settlement, MAX_BATCH]):
    """
    @notice `settle` for a batch; each deal must be settleable.
    """
    for item: Settlement in settlements:
        self._settle(item.deal_id, item.deal)


@external
@nonreentrant
def withdraw_credit():
    """
    @notice Pays out the caller's payments and refunds.
    """
    amount: uint256 = self.credit_of[msg.sender]
    assert amount != 0, "exchange: no credit to withdraw"
    self.credit_of[msg.sender] = 0
    log CreditWithdrawn(account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount, default_return_value=True), "exchange: token transfer failed"


@external
@nonreentrant
def claim_certificates(id: uint256, recipient: address):
    """
    @notice Sends the caller the certificates held for it at settlement: a
            contract's, and those of a certificate not issued then (claimable
            once it is).
    @param id The certificate id.
    @param recipient Where they go: the caller or another address.
    """
    wh: uint256 = self.held_certificates[msg.sender][id]
    assert wh != 0, "exchange: no certificates held for the caller"
    self.held_certificates[msg.sender][id] = 0
    log CertificatesClaimed(account=msg.sender, id=id, recipient=recipient, wh=wh)
    extcall registry.safeTransferFrom(self, recipient, id, wh, b"")


@external
def onERC1155Received(_operator: address, _from: address, _id: uint256, _value: uint256, _data: Bytes[1_024]) -> bytes4:
    """
    @notice Accepts only the registry's mint of sold Wh into custody;
            certificates sent here by anyone could never leave again.
    """
    assert msg.sender == registry.address, "exchange: only certificates of the registry"
    assert _from == empty(address), "exchange: only issuance into custody is accepted"
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
    assert _from == empty(address), "exchange: only issuance into custody is accepted"
    return method_id("onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)", output_type=bytes4)


# VIEW


@external
@view
def orders(order_id: uint256) -> Order:
    """
    @return Order The order's terms; `open` is false once it is filled or cancelled.
    """
    return self._order(order_id)


@external
@view
def is_settled(deal_id: uint256) -> bool:
    """
    @return bool Whether the deal is settled (false for an open or unknown deal).
    """
    return self.deal_hash[deal_id] == SETTLED


@external
@view
def committed_wh(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @return uint256 Wh of `meter_id` in open offers and deals for the interval.
    """
    return self._committed(self._sales[meter_id][interval_begin])


@external
@view
def sold_wh(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @return uint256 Wh of `meter_id` sold for the interval, zero once the
            interval lapsed (its deals refunded for want of a measurement);
            the registry mints the certificates of these (at most the
            production) into this Exchange's custody.
    """
    sales: uint256 = self._sales[meter_id][interval_begin]
    if sales & _LAPSED != 0:
        return 0
    return self._sold(sales)


@external
@view
def delivered_sold_wh(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @return uint256 Wh of `meter_id` delivered in settled deals for the interval.
    """
    return self._delivered(self._sales[meter_id][interval_begin])


@external
@view
def delivered_bought_wh(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @return uint256 Wh delivered to `meter_id` in settled deals for the interval.
    """
    return self._bought(self._purchases[meter_id][interval_begin])


@external
@view
def unsettled_deals(meter_id: bytes32, interval_begin: uint256) -> uint256:
    """
    @return uint256 Deals of the interval, selling from or buying for `meter_id`, not settled yet.
    """
    return self._open_sales(self._sales[meter_id][interval_begin]) + self._open_purchases(self._purchases[meter_id][interval_begin])


@external
@view
def position(meter_id: bytes32, interval_begin: uint256) -> IExchange.Position:
    """
    @notice What the OperatorBackend needs of a traded interval, in one call:
            the Wh of the meter's production the operator does not reward
            (those delivered in deals, or all those sold once the interval
            lapsed), the Wh delivered to the meter, and the deals not settled yet.
    """
    sales: uint256 = self._sales[meter_id][interval_begin]
    purchases: uint256 = self._purchases[meter_id][interval_begin]
    sold: uint256 = self._delivered(sales)
    if sales & _LAPSED != 0:
        sold = self._sold(sales)
    return IExchange.Position(
        sold_wh=sold, bought_wh=self._bought(purchases), unsettled_deals=self._open_sales(sales) + self._open_purchases(purchases)
    )


@external
@view
def order_book(interval_begin: uint256, cursor: uint256) -> IExchange.Page:
    """
    @notice A page of an interval's open orders, newest first: clients sort by
            price and sum depth. Its cost is that of the page, whatever else
            was placed and cancelled.
    @param cursor 0 for the first page; then the cursor the last page returned.
    @return The open order ids, and the cursor of the next page (0 after the
            last). A cursor whose order closed meanwhile reverts: start again from 0.
    """
    found: DynArray[uint256, MAX_PAGE] = []
    link: uint256 = cursor
    if link == 0:
        link = self._book_head[interval_begin]
    for _: uint256 in range(MAX_PAGE):
        if link == 0:
            break
        tail: uint256 = self._orders[link - 1].tail
        assert self._open_wh(tail) != 0 and self._begin(tail) == interval_begin, "exchange: the cursor's order closed or is of another interval: start again from 0"
        found.append(link - 1)
        link = self._link(tail, _NEXT)
    return IExchange.Page(ids=found, next_cursor=link)


@external
@view
def orders_of(maker: address, cursor: uint256) -> IExchange.Page:
    """
    @notice A page of `maker`'s orders, open or not, newest first; its cost is
            that of the page.
    @param cursor 0 for the first page; then the cursor the last page returned.
    @return The order ids, and the cursor of the next page (0 after the last).
    """
    found: DynArray[uint256, MAX_PAGE] = []
    link: uint256 = cursor
    if link == 0:
        link = self._maker_head[maker]
    for _: uint256 in range(MAX_PAGE):
        if link == 0:
            break
        assert self._maker(self._orders[link - 1].head) == maker, "exchange: the cursor is not one of the maker's orders"
        found.append(link - 1)
        link = self._link(self._orders[link - 1].tail, _MAKERS_PREVIOUS)
    return IExchange.Page(ids=found, next_cursor=link)


@external
@view
def supportsInterface(interfaceId: bytes4) -> bool:
    return interfaceId == 0x01FFC9A7 or interfaceId == 0x4E2312E0


# INTERNAL


@internal
@view
def _check_gate(interval_begin: uint256):
    assert block.timestamp + lead_time < interval_begin, "exchange: gate closed for this interval"


@internal
@view
def _check_terms(interval_begin: uint256, wh: uint256, price: uint256):
    assert interval_begin % interval_length == 0, "exchange: interval not on the grid"
    assert interval_begin <= _UINT40, "exchange: interval too far ahead"
    self._check_gate(interval_begin)
    assert wh != 0 and price != 0, "exchange: amount and price must be positive"
    assert wh <= _UINT64 and price <= _UINT96, "exchange: amount or price too large"


@internal
def _commit(meter_id: bytes32, interval_begin: uint256, wh: uint256, released: uint256):
    """
    @dev Commits `wh` more of the caller's producing meter in the interval,
         after releasing `released`; the total stays within the Wh its rated
         capacity can deliver in one interval (capacity x length, floored).
    """
    meter: ISmartMeterBackend.Trading = staticcall backend.trading_data(meter_id)
    assert meter.owner == msg.sender, "exchange: caller is not the meter owner"
    assert ISmartMeterBackend.MeterKind.PRODUCTION in meter.kind, "exchange: meter does not produce"
    sales: uint256 = self._sales[meter_id][interval_begin]
    committed: uint256 = self._committed(sales) - released + wh
    assert committed <= min(meter.capacity_w * interval_length // 3_600, _UINT64), "exchange: selling beyond the meter's capacity"
    self._sales[meter_id][interval_begin] = (sales & ~_UINT64) | committed


@internal
@view
def _check_buyer(meter_id: bytes32):
    meter: ISmartMeterBackend.Trading = staticcall backend.trading_data(meter_id)
    assert meter.owner == msg.sender, "exchange: caller is not the meter owner"
    assert ISmartMeterBackend.MeterKind.CONSUMPTION in meter.kind, "exchange: meter does not consume"


@internal
def _bid(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256, retire: bool) -> uint256:
    self._check_terms(interval_begin, wh, price)
    self._check_buyer(meter_id)
    flags: uint256 = _IS_BID
    if retire:
        flags |= _RETIRE
    order_id: uint256 = self._place(meter_id, interval_begin, wh, price, flags)
    self._pull(msg.sender, wh * price)
    return order_id


@internal
def _place(meter_id: bytes32, interval_begin: uint256, wh: uint256, price: uint256, flags: uint256) -> uint256:
    order_id: uint256 = self.order_count
    assert order_id < MAX_ORDERS, "exchange: the order ids are used up"
    self.order_count = order_id + 1
    # First in its interval's list of open orders, and in its maker's list.
    newest: uint256 = self._book_head[interval_begin]
    if newest != 0:
        self._orders[newest - 1].tail |= self._as_link(order_id + 1, _PREV)
    self._book_head[interval_begin] = order_id + 1
    makers: uint256 = self._maker_head[msg.sender]
    self._maker_head[msg.sender] = order_id + 1
    self._orders[order_id] = _OrderSlots(
        head=self._pack_head(msg.sender, price),
        meter_id=meter_id,
        tail=interval_begin | self._pack_wh_and_version(wh, 0) | flags | self._as_link(newest, _NEXT) | self._as_link(makers, _MAKERS_PREVIOUS),
    )
    log OrderPlaced(order_id=order_id, maker=msg.sender, interval_begin=interval_begin, meter_id=meter_id, wh=wh,
                    price=price, is_bid=flags & _IS_BID != 0, retire=flags & _RETIRE != 0)
    return order_id


@internal
def _unlink(tail: uint256):
    """
    @dev Takes a closing order out of its interval's list of open orders.
    """
    after: uint256 = self._link(tail, _NEXT)
    before: uint256 = self._link(tail, _PREV)
    if before == 0:
        self._book_head[self._begin(tail)] = after
    else:
        self._orders[before - 1].tail = self._with_link(self._orders[before - 1].tail, _NEXT, after)
    if after != 0:
        self._orders[after - 1].tail = self._with_link(self._orders[after - 1].tail, _PREV, before)


@internal
def _pull(account: address, amount: uint256):
    """
    @dev Takes `amount` into escrow and checks that exactly that much arrived:
         escrow is booked as Wh x price, so a token that keeps a fee on
         transfer would pay early cancellers from later bidders' escrow.
    """
    held: uint256 = staticcall token.balanceOf(self)
    assert extcall token.transferFrom(account, self, amount, default_return_value=True), "exchange: token transfer failed"
    assert staticcall token.balanceOf(self) == held + amount, "exchange: token delivered another amount than sent (fee-on-transfer tokens are not supported)"


@internal
def _push(account: address, amount: uint256):
    assert extcall token.transfer(account, amount, default_return_value=True), "exchange: token transfer failed"


@internal
@view
def _order(order_id: uint256) -> Order:
    head: uint256 = self._orders[order_id].head
    tail: uint256 = self._orders[order_id].tail
    open_wh: uint256 = self._open_wh(tail)
    return Order(maker=self._maker(head), meter_id=self._orders[order_id].meter_id,
                 interval_begin=self._begin(tail), wh=open_wh, price=self._price(head), is_bid=tail & _IS_BID != 0,
                 retire=tail & _RETIRE != 0, version=self._version(tail), open=open_wh != 0)


@internal
def _settle(deal_id: uint256, deal: Deal):
    stored: bytes32 = self.deal_hash[deal_id]
    assert stored != empty(bytes32), "exchange: unknown deal"
    assert stored != SETTLED, "exchange: deal already settled"
    assert stored == keccak256(abi_encode(deal)), "exchange: these are not the deal's terms"
    self.deal_hash[deal_id] = SETTLED

    wh: uint256 = deal.wh
    begin: uint256 = deal.interval_begin
    seller_meter: bytes32 = deal.seller_meter
    buyer_meter: bytes32 = deal.buyer_meter

    measurement: ISmartMeterBackend.Settlement = staticcall backend.settlement_data(seller_meter, begin)
    producer: address = measurement.owner
    end: uint256 = measurement.interval_end
    produced: uint256 = measurement.produced_wh
    sales: uint256 = self._sales[seller_meter][begin]
    measured: bool = end == begin + interval_length and sales & _LAPSED == 0
    delivered: uint256 = 0
    sold: uint256 = self._sold(sales)  # no settlement changes it
    if measured:
        if produced >= sold:
            delivered = wh
        else:
            delivered = wh * produced // sold
    else:
        assert block.timestamp >= begin + interval_length + settlement_timeout, "exchange: no measurement yet for this interval"
        # The timeout holds for all the interval's deals together: once one
        # refunds, a measurement that comes later pays none of them, so a
        # seller cannot withhold its reading, let the deals it regrets refund
        # and collect on the rest. Their Wh stay sold: the operator pays no
        # feed-in for them, and none of their certificates go into custody.
        sales |= _LAPSED
    sales = sales + self._as_delivered(delivered) - _ONE_SALE
    self._sales[seller_meter][begin] = sales
    self._purchases[buyer_meter][begin] = self._purchases[buyer_meter][begin] + delivered - _ONE_PURCHASE

    payment: uint256 = delivered * deal.price
    refund: uint256 = wh * deal.price - payment
    if payment != 0:
        # A meter's forward sales go with it: whoever owned it during the
        # interval produced the Wh and is paid, the seller or, if the seller
        # handed the meter on before, the new owner (who saw the sales, public
        # in `DealMade`, before accepting). So a seller cannot walk away from
        # its sales by handing the meter to itself, and is never paid for
        # another owner's production.
        self.credit_of[producer] += payment
    if refund != 0:
        self.credit_of[deal.buyer] += refund

    retired: uint256 = 0
    if measured:
        dust: uint256 = 0
        if self._open_sales(sales) == 0:
            # The interval's last deal: what custody got less what was delivered.
            dust = min(sold, produced) - self._delivered(sales)
        retired = self._hand_over(producer, deal.buyer, seller_meter, buyer_meter, begin, delivered, deal.retire, dust)
    log DealSettled(deal_id=deal_id, seller=producer, buyer=deal.buyer, delivered_wh=delivered, payment=payment, refund=refund, retired_wh=retired)


@internal
def _hand_over(
    producer: address,
    buyer: address,
    seller_meter: bytes32,
    buyer_meter: bytes32,
    begin: uint256,
    delivered: uint256,
    retire: bool,
    dust: uint256,
) -> uint256:
    """
    @dev Moves the certificates of `delivered` Wh from custody to the buyer,
         retiring what the buyer asked for and its consumption allows; after
         the interval's last deal, the `dust` Wh custody holds beyond those
         delivered (lost to flooring, or sold by a previous owner of the
         meter) go back to the owner of the measurement, `producer`.
    @return uint256 The Wh retired.
    """
    id: uint256 = convert(keccak256(abi_encode(seller_meter, begin)), uint256)
    if not staticcall registry.is_active(id):
        # The registry mints the sold Wh into custody when it certifies the
        # measurement; certify it if nobody did yet. Issuance that fails (a
        # meter the registry will not certify) must not stop the payment.
        gas_before: uint256 = msg.gas
        if not raw_call(
            registry.address,
            abi_encode(seller_meter, begin, method_id=method_id("issue(bytes32,uint256)")),
            revert_on_failure=False,
        ):
            self._check_gas(gas_before)
        if not staticcall registry.is_active(id):
            # Not issued (the registry refused now, or issuance ran short of
            # gas), revoked or expired. What the deal delivered is the buyer's
            # (and the dust the seller's) whenever the certificate exists and
            # moves: booked as held, to claim then. Revoked or expired ones
            # stay in custody, moving no more.
            if delivered != 0:
                self._hold(buyer, id, delivered)
            if dust != 0:
                self._hold(producer, id, dust)
            return 0
    retired: uint256 = 0
    if delivered != 0:
        if retire:
            retired = min(delivered, self._retirable(buyer, seller_meter, buyer_meter, begin))
            if retired != 0:
                gas_before: uint256 = msg.gas
                if not raw_call(
                    registry.address,
                    abi_encode(id, retired, buyer_meter, buyer, _RETIRE_NOTE, method_id=method_id("retire_delivered(uint256,uint256,bytes32,address,bytes)")),
                    revert_on_failure=False,
                ):
                    self._check_gas(gas_before)
                    retired = 0
        if delivered > retired:
            self._deliver(buyer, id, delivered - retired)
    if dust != 0:
        self._deliver(producer, id, dust)
    return retired


@internal
def _deliver(account: address, id: uint256, wh: uint256):
    """
    @dev Sends certificates to `account`. A contract's are held for it to
         claim (`claim_certificates`): settlement calls no receiver hook, so
         no wallet can refuse them, burn the batch's gas or re-enter.
    """
    sent: bool = False
    if not account.is_contract:
        gas_before: uint256 = msg.gas
        sent = raw_call(
            registry.address,
            abi_encode(self, account, id, wh, b"", method_id=method_id("safeTransferFrom(address,address,uint256,uint256,bytes)")),
            revert_on_failure=False,
        )
        if not sent:
            self._check_gas(gas_before)
    if not sent:
        self._hold(account, id, wh)


@internal
def _hold(account: address, id: uint256, wh: uint256):
    """
    @dev Books `wh` of certificate `id` in custody for `account` to claim.
    """
    self.held_certificates[account][id] += wh
    log CertificatesHeld(account=account, id=id, wh=wh)


@internal
@view
def _check_gas(gas_before: uint256):
    """
    @dev After a registry call whose failure settlement tolerates: the
         registry fails early (a revoked certificate, a meter it will not
         certify) and calls no hook with unbounded gas, so a call that left
         less than 1/32 of the gas ran out of it. Revert then, or a
         transaction sent with too little gas (an estimate that found the
         cheapest success) would settle without the certificates.
    """
    assert msg.gas > gas_before // 32, "exchange: out of gas during settlement"


@internal
@view
def _retirable(buyer: address, seller_meter: bytes32, buyer_meter: bytes32, begin: uint256) -> uint256:
    """
    @dev Wh the registry would let this Exchange retire for `buyer` against
         `buyer_meter`'s consumption of the interval: zero unless the buyer
         approved this Exchange, still owns the meter, its consumption is
         measured and in the seller's sector.
    """
    if not staticcall registry.isApprovedForAll(buyer, self):
        return 0
    consumption: ISmartMeterBackend.Consumption = staticcall backend.consumption_data(buyer_meter, begin)
    if consumption.owner != buyer or consumption.interval_end != begin + interval_length:
        return 0
    if consumption.sector_hash != (staticcall backend.consumption_data(seller_meter, begin)).sector_hash:
        return 0
    return consumption.consumed_wh - staticcall registry.retired_against(buyer_meter, begin)


# PACKING: an order's head and tail, and the `_sales` and `_purchases` slots,
# read and written through these (layouts above, at `_OrderSlots`, `_sales`
# and `_purchases`). Each writer masks its field to its width.


@internal
@pure
def _pack_head(maker: address, price: uint256) -> uint256:
    """
    @dev An order's head: its maker (bits 0-159) and price (160-255; `_check_terms` bounds it to 96 bits).
    """
    return convert(maker, uint256) | ((price & _UINT96) << 160)


@internal
@pure
def _maker(head: uint256) -> address:
    return convert(head & _UINT160, address)


@internal
@pure
def _price(head: uint256) -> uint256:
    return head >> 160


@internal
@pure
def _begin(tail: uint256) -> uint256:
    """
    @dev An order's interval begin (tail bits 0-39, unix seconds).
    """
    return tail & _UINT40


@internal
@pure
def _open_wh(tail: uint256) -> uint256:
    """
    @dev An order's open Wh (tail bits 40-103).
    """
    return (tail >> 40) & _UINT64


@internal
@pure
def _version(tail: uint256) -> uint256:
    """
    @dev An order's version (tail bits 104-135).
    """
    return (tail >> 104) & _UINT32


@internal
@pure
def _next_version(tail: uint256) -> uint256:
    """
    @dev The version after the order's: 32 bits, so after 2**32 changes it
         wraps, and the price a taker names still guards it.
    """
    return unsafe_add(self._version(tail), 1) & _UINT32


@internal
@pure
def _pack_wh_and_version(wh: uint256, version: uint256) -> uint256:
    """
    @dev Open Wh and version in their tail bits, masked to 64 and 32 bits.
    """
    return ((wh & _UINT64) << 40) | ((version & _UINT32) << 104)


@internal
@pure
def _link(tail: uint256, at: uint256) -> uint256:
    """
    @dev One of a tail's three links (at `_NEXT`, `_PREV` or `_MAKERS_PREVIOUS`):
         an order id plus one, 0 for none.
    """
    return (tail >> at) & _LINK


@internal
@pure
def _as_link(link: uint256, at: uint256) -> uint256:
    """
    @dev `link` at bit `at` of a tail, masked to 38 bits (`MAX_ORDERS` keeps ids below).
    """
    return (link & _LINK) << at


@internal
@pure
def _with_link(tail: uint256, at: uint256, link: uint256) -> uint256:
    """
    @dev `tail` with the link at bit `at` replaced by `link`.
    """
    return (tail & ~(_LINK << at)) | self._as_link(link, at)


@internal
@pure
def _committed(sales: uint256) -> uint256:
    """
    @dev Wh committed in open offers and deals (`_sales` bits 0-63).
    """
    return sales & _UINT64


@internal
@pure
def _sold(sales: uint256) -> uint256:
    """
    @dev Wh sold in deals (`_sales` bits 64-127).
    """
    return (sales >> 64) & _UINT64


@internal
@pure
def _as_sold(wh: uint256) -> uint256:
    """
    @dev `wh` (< 2**64, an order's Wh) in a `_sales` slot's sold field, to add.
    """
    return (wh & _UINT64) << 64


@internal
@pure
def _delivered(sales: uint256) -> uint256:
    """
    @dev Wh delivered in settled deals (`_sales` bits 128-191).
    """
    return (sales >> 128) & _UINT64


@internal
@pure
def _as_delivered(wh: uint256) -> uint256:
    """
    @dev `wh` (at most what was sold) in a `_sales` slot's delivered field, to add.
    """
    return (wh & _UINT64) << 128


@internal
@pure
def _open_sales(sales: uint256) -> uint256:
    """
    @dev Deals selling from the meter in the interval, not settled yet (`_sales` bits 192-254).
    """
    return (sales >> 192) & _UINT63


@internal
@pure
def _bought(purchases: uint256) -> uint256:
    """
    @dev Wh delivered to the meter in settled deals (`_purchases` bits 0-127).
    """
    return purchases & _UINT128


@internal
@pure
def _open_purchases(purchases: uint256) -> uint256:
    """
    @dev Deals buying for the meter in the interval, not settled yet (`_purchases` bits 128-255).
    """
    return purchases >> 128

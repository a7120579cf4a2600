# pragma version ~=0.4.3
"""
@title OpenKWh grid operator backend
@license GNU Affero General Public License v3.0 only
@notice Seed 003's OperatorBackend, made fair: the grid operator's tariffs,
        a prepaid ledger per account in the settlement token, and the
        settlement of every measured interval, once. Feed-in is rewarded and
        consumption billed at the tariff in effect during the measurement
        (over a tariff change: the highest retail price and the lowest
        feed-in reward in force during it); tariffs and the set of trusted meter backends change only after a
        notice period. A bill the ledger cannot pay becomes recorded debt, and
        a reward the treasury cannot pay becomes recorded arrears: settlement
        never reverts for lack of funds, so no meter's data flow is blocked.
        With the Exchange wired, an interval a meter traded is settled once
        its deals are: the Wh delivered through the Exchange are paid and
        billed there, so the feed-in reward covers only produced Wh beyond
        those sold and delivered, and retail only consumed Wh beyond those
        bought and delivered.
@custom:security The operator is trusted to set tariffs (announced ahead),
                 to trust meter backends (announced ahead) and to take the
                 treasury's revenue; it cannot touch an account's ledger.
                 Settlement reads only measurements of trusted backends.
"""


from ethereum.ercs import IERC20

from snekmate.auth import access_control
initializes: access_control


exports: (
    access_control.DEFAULT_ADMIN_ROLE,
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.supportsInterface,
)


from .interfaces import ISmartMeterBackend
from .interfaces import IOperatorBackend
from .interfaces import IExchange


interface IRootsBackend:
    def roots() -> address: view
    def is_revealed(meter_id: bytes32, interval_begin: uint256) -> bool: view
implements: IOperatorBackend


struct Interval:
    meter_id: bytes32
    interval_begin: uint256


OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

MAX_BATCH: constant(uint256) = 96  # intervals per settle_many
MAX_INITIAL_BACKENDS: constant(uint256) = 4
MAX_TARIFFS: constant(uint256) = 2**32
# @dev Tariffs take effect on the hour (a boundary of 3600 and 900 second
# intervals alike), at least a day apart: a measurement spans few of them.
TARIFF_GRID: public(constant(uint256)) = 3_600  # seconds
# @dev The longest notice period: a year. Far longer, the effective times of
# trust changes would not fit their 64 bits.
MAX_NOTICE_PERIOD: public(constant(uint256)) = 365 * 86_400  # seconds
MIN_TARIFF_GAP: public(constant(uint256)) = 86_400  # seconds
_SEARCH_STEPS: constant(uint256) = 33  # binary search over at most 2**32 tariffs

# Two bits per 900 seconds of a meter's time, whatever the backend's interval
# length (3600 or 900 seconds): bit 2i is "settled", bit 2i + 1 "traded on
# the Exchange", for i = begin / 900 modulo 128 in word begin / 900 / 128.
# One storage read tells a settlement both.
_MIN_INTERVAL: constant(uint256) = 900  # seconds
_TRADED_BITS: constant(uint256) = (max_value(uint256) // 3) << 1  # 0b1010…10: the traded bits
# @dev What one transaction nets of a measurement that spans several intervals
# (its meter missed readings) at most: bitmap words (128 quarter hours each) and
# Exchange calls (one per traded interval). `settle` does it all at once when it
# fits; a longer measurement is netted first, in steps, with `net_span`.
MAX_NET_WORDS: public(constant(uint256)) = 1_000
MAX_NET_CALLS: public(constant(uint256)) = 96
# @dev A measurement no longer than this many quarter hours always nets in one go.
_SHORT_SPAN: constant(uint256) = 96
# @dev Bitmap words of a billing period of 31 days (MeasurementRoots.MAX_PERIOD), at most.
_PERIOD_WORDS: constant(uint256) = 25
_UINT40_MASK: constant(uint256) = 2**40 - 1
_UINT108_MASK: constant(uint256) = 2**108 - 1

# Packed tariff: bits 0-95 retail price, 96-191 feed-in reward (token base
# units per Wh), 192-255 effective from (unix seconds).
_UINT96_MASK: constant(uint256) = 2**96 - 1
_UINT64_MASK: constant(uint256) = 2**64 - 1
_GENESIS: constant(uint256) = 1 << 255  # a backend trusted at deployment
_NETTED: constant(uint256) = 1 << 254  # the wired Exchange's backend: its trades are netted


# @dev The settlement token.
token: public(immutable(IERC20))

# @dev Seconds between announcing a tariff or a trust change and its effect.
notice_period: public(immutable(uint256))

# @dev Token base units held for rewards, and collected from bills.
treasury: public(uint256)

# @dev Prepaid ledger balance per account, in token base units.
balance_of: public(HashMap[address, uint256])

# @dev Unpaid bills per account, in token base units; deposits and rewards
# pay them first. Only a bill settled after its meter passed to a new owner
# lands here (the new owner did not take it on); see `meter_debt`.
debt_of: public(HashMap[address, uint256])

# @dev Rewards the treasury could not pay yet, per account, in token base units.
arrears_of: public(HashMap[address, uint256])

# @dev Sum of all arrears, in token base units.
total_arrears: public(uint256)

# @dev Number of tariffs ever announced; tariff 0 is the one set at deployment.
tariff_count: public(uint256)

_tariffs: HashMap[uint256, uint256]

# @dev Per backend: trusted from (bits 0-63) and untrusted from (bits 64-127),
# unix seconds, bit 254 for the wired Exchange's backend and bit 255 for a
# backend trusted at deployment: a settlement reads all it needs in one slot.
_trust: HashMap[address, uint256]

# @dev account => backend => meter => the account lets the bills of that
# meter be taken from its ledger. Needed for backends trusted after the
# deployment: the operator could deploy one that reports anyone as owner.
ledger_pays: public(HashMap[address, HashMap[address, HashMap[bytes32, bool]]])

# @dev backend => meter => bills of the meter's current owner that its ledger
# did not pay (short, or not open to the meter), in token base units. The debt
# stays with the meter: the meter's rewards and its owner's ledger pay it
# first, and whoever accepts the meter takes it on, named in the acceptance
# (`SmartMeterBackend.accept_meter`), so a debtor cannot leave it behind by
# handing the meter to a fresh address.
meter_debt: public(HashMap[address, HashMap[bytes32, uint256]])

# @dev The Exchange whose deals this operator nets out, wired once; zero until then.
exchange: public(address)

# @dev The SmartMeterBackend of the Exchange's meters.
exchange_backend: public(address)

# @dev backend => meter => word => bitmap of settled and traded intervals.
_settled: HashMap[address, HashMap[bytes32, HashMap[uint256, uint256]]]

# @dev The netting of a long measurement in progress (`net_span`): backend =>
# meter => begin => packed (bits 0-39 the next quarter-hour index to read, plus
# one; 40-147 Wh sold; 148-255 Wh bought, so far).
_netting: HashMap[address, HashMap[bytes32, HashMap[uint256, uint256]]]

# @dev backend => root-published meter => the end (unix seconds) of the last
# billing period settled from its aggregate leaf: periods settle in order,
# and never overlap.
aggregated_until: public(HashMap[address, HashMap[bytes32, uint256]])


event TariffAnnounced:
    index: indexed(uint256)
    retail_price: uint256
    feed_in_reward: uint256
    effective_from: uint256
    operator: indexed(address)


event BackendTrustAnnounced:
    backend: indexed(address)
    trusted: bool
    effective_from: uint256
    operator: indexed(address)


event Deposited:
    account: indexed(address)
    amount: uint256
    debt_paid: uint256


event Withdrawn:
    account: indexed(address)
    amount: uint256


event TreasuryFunded:
    funder: indexed(address)
    amount: uint256


event RevenueWithdrawn:
    operator: indexed(address)
    recipient: indexed(address)
    amount: uint256


event ArrearsRecorded:
    account: indexed(address)
    amount: uint256


event ArrearsPaid:
    account: indexed(address)
    amount: uint256


event ExchangeWired:
    exchange: indexed(address)
    backend: indexed(address)
    admin: indexed(address)


event DebtRecorded:
    account: indexed(address)
    amount: uint256


event DebtRepaid:
    account: indexed(address)
    amount: uint256  # taken from a reward or a deposit before it reached the ledger


event ArrearsOffset:
    account: indexed(address)
    amount: uint256  # rewards the operator owed, set against a bill


event IntervalTraded:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    interval_begin: indexed(uint256)


event LedgerOpened:
    account: indexed(address)
    backend: indexed(address)
    meter_id: indexed(bytes32)
    open: bool


event MeterDebtRecorded:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    account: indexed(address)
    amount: uint256


event MeterDebtPaid:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    payer: indexed(address)
    amount: uint256


event BillUnpaid:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    account: indexed(address)
    amount: uint256  # left to the operator to collect off chain


event IntervalSettled:
    backend: indexed(address)
    meter_id: indexed(bytes32)
    interval_begin: indexed(uint256)
    account: address
    feed_in_wh: uint256
    retail_wh: uint256
    reward: uint256
    bill: uint256


@deploy
def __init__(
    token_: IERC20,
    notice_period_: uint256,
    retail_price: uint96,
    feed_in_reward: uint96,
    backends: DynArray[address, MAX_INITIAL_BACKENDS],
):
    """
    @dev The deployer becomes admin and operator. The first tariff applies to
         every interval until the next one takes effect; the first backends
         are trusted at once.
    @param token_ The settlement token (an ERC-20, with EIP-2612 permit for `deposit_with_permit`).
    @param notice_period_ Seconds of notice for tariff and trust changes, at most a year.
    @param retail_price The first retail price, in token base units per Wh.
    @param feed_in_reward The first feed-in reward, in token base units per Wh.
    @param backends The SmartMeterBackend contracts trusted from the start.
    """
    access_control.__init__()
    access_control._grant_role(OPERATOR_ROLE, msg.sender)
    assert notice_period_ <= MAX_NOTICE_PERIOD, "operator: notice period longer than a year"
    token = token_
    notice_period = notice_period_

    self._tariffs[0] = self._pack_tariff(retail_price, feed_in_reward, 0)
    self.tariff_count = 1
    log TariffAnnounced(index=0, retail_price=convert(retail_price, uint256), feed_in_reward=convert(feed_in_reward, uint256), effective_from=0, operator=msg.sender)

    for backend: address in backends:
        self._trust[backend] = block.timestamp | _GENESIS
        log BackendTrustAnnounced(backend=backend, trusted=True, effective_from=block.timestamp, operator=msg.sender)


# PERMISSIONLESS


@external
def settle(backend: address, meter_id: bytes32, interval_begin: uint256):
    """
    @notice Settles one measured interval of a meter: credits its owner the
            feed-in reward and debits the retail bill. Anyone may call it; each
            measurement is settled once, and a traded one after its deals.
    @param backend The trusted SmartMeterBackend holding the measurement.
    @param meter_id The meter.
    @param interval_begin Unix seconds, the begin of the measurement.
    """
    window: uint256 = self._trust[backend]
    assert self._trusted(window), "operator: backend not trusted"
    assert self._settle(backend, window, meter_id, interval_begin, True), "operator: interval already settled"


@external
def net_span(backend: address, meter_id: bytes32, interval_begin: uint256) -> bool:
    """
    @notice Nets a step of a long measurement (one its meter's missed readings
            stretched over many intervals) against the Exchange, so that
            `settle` can finish it: at most MAX_NET_WORDS bitmap words (128
            quarter hours each) and MAX_NET_CALLS traded intervals per call.
            Anyone may call it, as often as it takes.
    @return bool Whether the netting reached the measurement's end.
    """
    window: uint256 = self._trust[backend]
    assert self._trusted(window), "operator: backend not trusted"
    assert backend == self.exchange_backend, "operator: nothing to net for this backend"
    end: uint256 = (staticcall ISmartMeterBackend(backend).settlement_data(meter_id, interval_begin)).interval_end
    assert end != 0, "operator: no measurement for this interval"
    done: bool = False
    sold: uint256 = 0
    bought: uint256 = 0
    done, sold, bought = self._net(backend, meter_id, interval_begin, end, True, True)
    if done:
        # Kept for `settle`, which resumes from the end.
        self._keep_netting(backend, meter_id, interval_begin, (end - 1) // _MIN_INTERVAL + 1, sold, bought)
    return done


@external
def settle_many(backend: address, intervals: DynArray[Interval, MAX_BATCH]) -> uint256:
    """
    @notice Settles a batch; intervals already settled are skipped, so a
            keeper may resend a batch safely, and so are those that cannot
            settle yet (no measurement, deals not settled, a long measurement
            to net first with `net_span`): one such interval never stops the
            batch.
    @param backend The trusted SmartMeterBackend holding the measurements.
    @param intervals The (meter, interval begin) pairs.
    @return uint256 The number of intervals settled by this call.
    """
    window: uint256 = self._trust[backend]
    assert self._trusted(window), "operator: backend not trusted"
    settled: uint256 = 0
    for item: Interval in intervals:
        if self._settle(backend, window, item.meter_id, item.interval_begin, False):
            settled += 1
    return settled


@external
@nonreentrant
def fund_treasury(amount: uint256):
    """
    @notice Adds tokens to the reward treasury (the operator does; anyone may).
    @param amount In token base units; needs the token's allowance.
    """
    assert amount != 0, "operator: amount is zero"
    self.treasury += amount
    log TreasuryFunded(funder=msg.sender, amount=amount)
    self._pull(msg.sender, amount)


# ACCOUNT


@external
@nonreentrant
def deposit(amount: uint256):
    """
    @notice Prepays the caller's ledger; recorded debt is paid first.
    @param amount In token base units; needs the token's allowance.
    """
    self._deposit(msg.sender, amount)


@external
@nonreentrant
def deposit_with_permit(amount: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32):
    """
    @notice `deposit` with an EIP-2612 permit instead of a prior approval.
    @dev A permit that someone else already used (front-running) is not an
         error as long as the allowance is there.
    """
    permitted: bool = raw_call(
        token.address,
        abi_encode(msg.sender, self, amount, deadline, v, r, s, method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)")),
        revert_on_failure=False,
    )
    if not permitted:
        assert staticcall token.allowance(msg.sender, self) >= amount, "operator: permit failed and allowance is short"
    self._deposit(msg.sender, amount)


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Pays out part of the caller's ledger balance (pull payment).
    @param amount In token base units.
    """
    balance: uint256 = self.balance_of[msg.sender]
    assert amount != 0, "operator: amount is zero"
    assert amount <= balance, "operator: amount exceeds ledger balance"
    self.balance_of[msg.sender] = unsafe_sub(balance, amount)
    log Withdrawn(account=msg.sender, amount=amount)
    assert extcall token.transfer(msg.sender, amount, default_return_value=True), "operator: token transfer failed"


@external
def open_ledger(backend: address, meter_id: bytes32, open: bool):
    """
    @notice Lets the bills of a meter of a backend trusted after the
            deployment be taken from the caller's ledger (or stops it). Only
            measurements the caller owned are billed to it; without this,
            they become the meter's debt and the ledger is left alone.
    @dev Backends trusted at deployment need no such consent.
    @param backend The SmartMeterBackend.
    @param meter_id The caller's meter there.
    @param open True to let the bills be taken, False to stop.
    """
    self.ledger_pays[msg.sender][backend][meter_id] = open
    log LedgerOpened(account=msg.sender, backend=backend, meter_id=meter_id, open=open)


@external
def pay_meter_debt(backend: address, meter_id: bytes32, amount: uint256):
    """
    @notice Pays a meter's recorded debt from the caller's ledger.
    @param amount In token base units, at most the debt and the ledger balance.
    """
    assert amount != 0, "operator: amount is zero"
    assert amount <= self.meter_debt[backend][meter_id], "operator: amount exceeds the meter's debt"
    balance: uint256 = self.balance_of[msg.sender]
    assert amount <= balance, "operator: amount exceeds ledger balance"
    self.balance_of[msg.sender] = unsafe_sub(balance, amount)
    self.meter_debt[backend][meter_id] -= amount
    self.treasury += amount
    log MeterDebtPaid(backend=backend, meter_id=meter_id, payer=msg.sender, amount=amount)


@external
def claim_arrears():
    """
    @notice Moves unpaid rewards from the treasury to the caller's ledger, as
            far as the treasury now allows; recorded debt is paid first.
    """
    owed: uint256 = self.arrears_of[msg.sender]
    assert owed != 0, "operator: no arrears"
    paid: uint256 = min(owed, self.treasury)
    assert paid != 0, "operator: treasury is empty"
    self.arrears_of[msg.sender] = unsafe_sub(owed, paid)
    self.total_arrears -= paid
    self.treasury -= paid
    log ArrearsPaid(account=msg.sender, amount=paid)
    self._credit(msg.sender, paid)


# OPERATOR


@external
def announce_tariff(retail_price: uint96, feed_in_reward: uint96, effective_from: uint64):
    """
    @notice Announces the tariff for intervals that begin at or after `effective_from`.
    @param retail_price In token base units per Wh consumed from the grid.
    @param feed_in_reward In token base units per Wh fed in.
    @param effective_from Unix seconds, at least the notice period from now and
           after every tariff announced before.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    start: uint256 = convert(effective_from, uint256)
    assert start >= block.timestamp + notice_period, "operator: tariff needs the notice period"
    assert start % TARIFF_GRID == 0, "operator: tariff must start on the hour"
    count: uint256 = self.tariff_count
    last: uint256 = self._tariff_start(self._tariffs[count - 1])
    assert start >= last + MIN_TARIFF_GAP, "operator: tariff must start a day or more after the last announced one"
    self._tariffs[count] = self._pack_tariff(retail_price, feed_in_reward, effective_from)
    self.tariff_count = count + 1
    log TariffAnnounced(index=count, retail_price=convert(retail_price, uint256), feed_in_reward=convert(feed_in_reward, uint256), effective_from=convert(effective_from, uint256), operator=msg.sender)


@external
def announce_backend_trust(backend: address, trusted: bool):
    """
    @notice Starts or ends trusting a SmartMeterBackend after the notice period.
    @param backend The SmartMeterBackend contract.
    @param trusted True to trust it, False to stop.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    assert backend != empty(address), "operator: backend is the zero address"
    window: uint256 = self._trust[backend]
    flags: uint256 = window & (_GENESIS | _NETTED)
    start: uint256 = 0
    stop: uint256 = 0
    start, stop = self._unpack_trust(window)
    effective: uint256 = block.timestamp + notice_period
    if trusted:
        assert start == 0 or stop != 0, "operator: backend already trusted"
        if stop > block.timestamp:
            # An announced end that has not come yet is called off: the
            # backend stays trusted without a gap.
            self._trust[backend] = flags | self._pack_trust(start, 0)
            effective = max(start, block.timestamp)
        else:
            # Trusted anew after a gap: a new backend as far as ledgers go.
            self._trust[backend] = (window & _NETTED) | self._pack_trust(effective, 0)
    else:
        assert start != 0 and stop == 0, "operator: backend not trusted"
        self._trust[backend] = flags | self._pack_trust(start, effective)
    log BackendTrustAnnounced(backend=backend, trusted=trusted, effective_from=effective, operator=msg.sender)


@external
@nonreentrant
def withdraw_revenue(amount: uint256, recipient: address):
    """
    @notice Takes collected bills out of the treasury. Rewards the treasury
            then cannot pay become arrears.
    @param amount In token base units.
    @param recipient Who receives the tokens.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    assert amount != 0, "operator: amount is zero"
    assert recipient != empty(address), "operator: recipient is the zero address"
    treasury: uint256 = self.treasury
    assert amount <= treasury, "operator: amount exceeds treasury"
    self.treasury = unsafe_sub(treasury, amount)
    log RevenueWithdrawn(operator=msg.sender, recipient=recipient, amount=amount)
    assert extcall token.transfer(recipient, amount, default_return_value=True), "operator: token transfer failed"


@external
def wire_exchange(exchange_: address):
    """
    @notice Nets out the deals of `exchange_` from now on: it tells this
            contract which intervals its meters traded, and their settlement
            pays and bills only the Wh not traded. Once only: the deals already
            marked keep reading that Exchange.
    @param exchange_ The Exchange contract.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert self.exchange == empty(address), "operator: exchange already wired"
    assert exchange_.is_contract, "operator: exchange is not a contract"
    assert staticcall IExchange(exchange_).operator() == self, "operator: exchange does not point back to this operator"
    backend: address = staticcall IExchange(exchange_).backend()
    self.exchange = exchange_
    self.exchange_backend = backend
    self._trust[backend] |= _NETTED
    log ExchangeWired(exchange=exchange_, backend=backend, admin=msg.sender)


# MEASUREMENT ROOTS


@external
def settle_aggregate(
    backend: address,
    meter_id: bytes32,
    period_begin: uint256,
    period_end: uint256,
    produced_wh: uint256,
    consumed_wh: uint256,
    owner: address,
):
    """
    @notice Settles a root-published meter's billing period from its data
            hub's aggregate leaf, as the backend's MeasurementRoots proved it
            (`settle_aggregate` there): the period's Wh net of the
            measurements of it settled on their own, once; then every
            quarter hour of the period is marked settled, so none settles
            again. Each hour is thus counted once, on its own or in the
            aggregate.
    @dev Refused: a period before the end of one settled so (periods settle
         in order), a traded quarter hour of the period not settled (its
         deals' Wh would be billed as retail), a revealed measurement
         crossing the period's begin or end, an aggregate below the Wh
         settled on their own. Reads one bitmap word per 128 quarter hours
         (24 for 31 days) and the backend once per measurement settled in
         the period.
    @param backend The trusted SmartMeterBackend that created the roots contract.
    @param meter_id The meter.
    @param period_begin Unix seconds, on the backend's interval grid.
    @param period_end Unix seconds, on the grid, after the begin.
    @param produced_wh The period's exported Wh, the aggregate leaf's.
    @param consumed_wh The period's imported Wh, the aggregate leaf's.
    @param owner Who owned the meter over the whole period (the backend's `period_owner`).
    """
    assert msg.sender == staticcall IRootsBackend(backend).roots() and msg.sender != empty(address), "operator: caller is not the backend's roots contract"
    window: uint256 = self._trust[backend]
    assert self._trusted(window), "operator: backend not trusted"
    assert period_begin >= self.aggregated_until[backend][meter_id], "operator: the period overlaps one already settled from its aggregate"
    for edge: uint256 in [period_begin, period_end]:
        if staticcall IRootsBackend(backend).is_revealed(meter_id, edge):
            assert (staticcall ISmartMeterBackend(backend).settlement_data(meter_id, edge)).interval_end != 0, "operator: a revealed measurement crosses the period's begin or end"
    self.aggregated_until[backend][meter_id] = period_end
    settled_produced: uint256 = 0
    settled_consumed: uint256 = 0
    first: uint256 = period_begin // _MIN_INTERVAL
    last: uint256 = (period_end - 1) // _MIN_INTERVAL
    for w: uint256 in range(first >> 7, (last >> 7) + 1, bound=_PERIOD_WORDS):
        low: uint256 = max(first, w << 7) & 127
        high: uint256 = min(last, (w << 7) | 127) & 127
        # Both bits of quarter hours low..high of the word.
        mask: uint256 = (max_value(uint256) >> (254 - (high << 1))) & ~((1 << (low << 1)) - 1)
        bits: uint256 = self._settled[backend][meter_id][w]
        # Traded implies settled: (traded bits >> 1) must lie in the settled bits.
        assert ((bits & mask & _TRADED_BITS) >> 1) & ~bits == 0, "operator: a traded hour of the period is not settled"
        settled: uint256 = (bits & mask & ~_TRADED_BITS) >> (low << 1)
        index: uint256 = (w << 7) | low
        for _: uint256 in range(128):
            if settled == 0:
                break
            if settled & 1 != 0:
                measured: ISmartMeterBackend.Settlement = staticcall ISmartMeterBackend(backend).settlement_data(meter_id, index * _MIN_INTERVAL)
                assert measured.interval_end <= period_end, "operator: a revealed measurement crosses the period's begin or end"
                settled_produced += measured.produced_wh
                settled_consumed += measured.consumed_wh
            settled = settled >> 2
            index += 1
        self._settled[backend][meter_id][w] = bits | (mask & ~_TRADED_BITS)
    assert produced_wh >= settled_produced and consumed_wh >= settled_consumed, "operator: the aggregate is below the hours already settled"
    self._pay(backend, window, meter_id, period_begin, period_end, owner, unsafe_sub(produced_wh, settled_produced), unsafe_sub(consumed_wh, settled_consumed))


# EXCHANGE


@external
def mark_traded(seller_meter: bytes32, buyer_meter: bytes32, interval_begin: uint256):
    """
    @notice Records that two meters traded an interval on the Exchange, so its
            settlement waits for the deals and nets them out.
    @dev Only the wired Exchange; before gate closure, so never after a settlement.
    """
    assert msg.sender == self.exchange, "operator: caller is not the exchange"
    backend: address = self.exchange_backend
    self._mark_traded(backend, seller_meter, interval_begin)
    self._mark_traded(backend, buyer_meter, interval_begin)


# VIEW


@external
@view
def tariff(index: uint256) -> IOperatorBackend.Tariff:
    """
    @return Tariff `index`: retail price and feed-in reward in token base
            units per Wh, effective from in unix seconds.
    """
    assert index < self.tariff_count, "operator: no such tariff"
    return self._tariff_struct(self._tariffs[index])


@external
@view
def tariff_at(timestamp: uint256) -> IOperatorBackend.Tariff:
    """
    @return The tariff in effect at `timestamp` (see `tariff`).
    """
    return self._tariff_struct(self._tariffs[self._tariff_index(timestamp, self.tariff_count)])


@external
@view
def is_trusted(backend: address) -> bool:
    """
    @return bool Whether settlements read `backend` now.
    """
    return self._is_trusted(backend)


@external
@view
def trust_window(backend: address) -> IOperatorBackend.TrustWindow:
    """
    @return Trusted from and untrusted from, in unix seconds; zero means never.
    """
    start: uint256 = 0
    stop: uint256 = 0
    start, stop = self._unpack_trust(self._trust[backend])
    return IOperatorBackend.TrustWindow(trusted_from=start, untrusted_from=stop)


@external
@view
def is_settled(backend: address, meter_id: bytes32, interval_begin: uint256) -> bool:
    word: uint256 = 0
    bit: uint256 = 0
    word, bit = self._bitmap_position(interval_begin)
    return self._settled[backend][meter_id][word] & bit != 0


@external
@view
def is_traded(backend: address, meter_id: bytes32, interval_begin: uint256) -> bool:
    """
    @return bool Whether the meter traded the interval on the wired Exchange.
    """
    word: uint256 = 0
    bit: uint256 = 0
    word, bit = self._bitmap_position(interval_begin)
    return self._settled[backend][meter_id][word] & (bit << 1) != 0


@external
@pure
def billable_wh(produced_wh: uint256, consumed_wh: uint256, sold_wh: uint256, bought_wh: uint256) -> IOperatorBackend.Billable:
    """
    @notice The Wh the operator pays and bills for an interval: feed-in Wh,
            produced beyond what was sold and delivered on the Exchange, plus
            bought and delivered beyond what was consumed; retail Wh, consumed
            beyond what was bought and delivered.
    """
    feed_in_wh: uint256 = 0
    retail_wh: uint256 = 0
    feed_in_wh, retail_wh = self._billable_wh(produced_wh, consumed_wh, sold_wh, bought_wh)
    return IOperatorBackend.Billable(feed_in_wh=feed_in_wh, retail_wh=retail_wh)


# INTERNAL


@internal
def _settle(backend: address, window: uint256, meter_id: bytes32, interval_begin: uint256, strict: bool) -> bool:
    """
    @dev Settles one measurement; False if it was settled already, or, unless
         `strict` (which reverts with the reason instead), if it cannot be yet.
    """
    word: uint256 = 0
    bit: uint256 = 0
    word, bit = self._bitmap_position(interval_begin)
    settled: uint256 = self._settled[backend][meter_id][word]
    if settled & bit != 0:
        return False

    measured: ISmartMeterBackend.Settlement = staticcall ISmartMeterBackend(backend).settlement_data(meter_id, interval_begin)
    account: address = measured.owner
    end: uint256 = measured.interval_end
    produced: uint256 = measured.produced_wh
    consumed: uint256 = measured.consumed_wh
    if end == 0:
        assert not strict, "operator: no measurement for this interval"
        return False

    sold: uint256 = 0
    bought: uint256 = 0
    feed_in_wh: uint256 = 0
    retail_wh: uint256 = 0
    if window & _NETTED != 0:
        done: bool = False
        done, sold, bought = self._net(backend, meter_id, interval_begin, end, end - interval_begin > _SHORT_SPAN * _MIN_INTERVAL, strict)
        if not done:
            assert not strict, "operator: a measurement this long is netted first, in steps, with net_span"
            return False
    # Netting only reads (the Exchange's positions), so the mark may follow it.
    self._settled[backend][meter_id][word] = settled | bit
    if end - interval_begin <= staticcall ISmartMeterBackend(backend).interval_length():
        feed_in_wh, retail_wh = self._billable_wh(produced, consumed, sold, bought)
    else:
        # Over several intervals the hours are not known apart: the Wh bought
        # are taken as not consumed (they earn the feed-in reward) and all the
        # consumption is billed, the buyer's least favourable split, so that
        # leaving a reading out never pays. Production is netted whole: that
        # never favours the seller (the sum of hourly minima is the smaller).
        feed_in_wh = produced - min(sold, produced) + bought
        retail_wh = consumed

    self._pay(backend, window, meter_id, interval_begin, end, account, feed_in_wh, retail_wh)
    return True


@internal
def _pay(backend: address, window: uint256, meter_id: bytes32, interval_begin: uint256, end: uint256, account: address, feed_in_wh: uint256, retail_wh: uint256):
    """
    @dev Credits `account` the feed-in reward of `feed_in_wh` and debits the
         bill of `retail_wh`, at the tariff over `[interval_begin, end)`.
    """
    retail_price: uint256 = 0
    feed_in_reward: uint256 = 0
    retail_price, feed_in_reward = self._tariff_over(interval_begin, end)
    reward: uint256 = feed_in_wh * feed_in_reward
    bill: uint256 = retail_wh * retail_price

    if reward >= bill:
        gain: uint256 = unsafe_sub(reward, bill)
        if gain != 0:
            debt: uint256 = self.meter_debt[backend][meter_id]
            if debt != 0 and account == staticcall ISmartMeterBackend(backend).owner_of(meter_id):
                # The meter's debt is its current owner's: its rewards pay it
                # first. A reward of an earlier owner's measurement does not.
                repaid: uint256 = min(debt, gain)
                self.meter_debt[backend][meter_id] = unsafe_sub(debt, repaid)
                gain = unsafe_sub(gain, repaid)
                log MeterDebtPaid(backend=backend, meter_id=meter_id, payer=account, amount=repaid)
        if gain != 0:
            treasury: uint256 = self.treasury
            paid: uint256 = min(gain, treasury)
            self.treasury = unsafe_sub(treasury, paid)
            if gain > paid:
                short: uint256 = unsafe_sub(gain, paid)
                self.arrears_of[account] += short
                self.total_arrears += short
                log ArrearsRecorded(account=account, amount=short)
            self._credit(account, paid)
    else:
        owed: uint256 = unsafe_sub(bill, reward)
        # A backend trusted later may say anything of who owns what: its
        # bills reach only ledgers whose account opened them to the meter.
        ledger_open: bool = window & _GENESIS != 0 or self.ledger_pays[account][backend][meter_id]
        if ledger_open:
            owed = self._charge(account, owed)
            if owed == 0:
                self._collect_meter_debt(backend, meter_id, account)
        if owed != 0:
            self._book_unpaid(backend, meter_id, account, owed, ledger_open)

    log IntervalSettled(
        backend=backend,
        meter_id=meter_id,
        interval_begin=interval_begin,
        account=account,
        feed_in_wh=feed_in_wh,
        retail_wh=retail_wh,
        reward=reward,
        bill=bill,
    )


@internal
def _net(backend: address, meter_id: bytes32, begin: uint256, end: uint256, resume: bool, strict: bool) -> (bool, uint256, uint256):
    """
    @dev The Wh sold and bought on the Exchange in every interval of
         `[begin, end)` that the meter traded: a measurement spans several
         when its meter missed readings, and the Wh bought inside it are
         netted all the same, so a buyer never pays both its seller and the
         retail bill for them. Reads one bitmap word per 128 quarter hours and
         calls the Exchange once per traded interval, none of which may have
         unsettled deals; at most MAX_NET_WORDS and MAX_NET_CALLS, from where
         an earlier step stopped (`resume`). Returns whether it got to `end`;
         if not, it keeps how far it got. An interval with unsettled deals
         reverts if `strict`, else it stops there (False, nothing kept).
    """
    sold: uint256 = 0
    bought: uint256 = 0
    index: uint256 = begin // _MIN_INTERVAL
    if resume:
        packed: uint256 = self._netting[backend][meter_id][begin]
        if packed != 0:
            index, sold, bought = self._unpack_netting(packed)
    last: uint256 = (end - 1) // _MIN_INTERVAL
    if index > last:
        return True, sold, bought
    stop: uint256 = min((last >> 7) + 1, (index >> 7) + MAX_NET_WORDS)
    calls: uint256 = 0
    for w: uint256 in range(index >> 7, stop, bound=MAX_NET_WORDS):
        # Two bits per quarter hour from `index` on; the traded bit is the higher.
        traded: uint256 = (self._settled[backend][meter_id][w] & _TRADED_BITS) >> ((index & 127) << 1)
        if w == last >> 7 and last & 127 != 127:
            traded = traded & ((1 << (((last - index) << 1) + 2)) - 1)
        for _: uint256 in range(128):
            if traded == 0:
                break
            if traded & 2 != 0:
                if calls == MAX_NET_CALLS:
                    self._keep_netting(backend, meter_id, begin, index, sold, bought)
                    return False, sold, bought
                calls += 1
                position: IExchange.Position = staticcall IExchange(self.exchange).position(meter_id, index * _MIN_INTERVAL)
                if position.unsettled_deals != 0:
                    assert not strict, "operator: interval has unsettled deals"
                    return False, sold, bought
                sold += position.sold_wh
                bought += position.bought_wh
            traded = traded >> 2
            index += 1
        index = (w + 1) << 7
    if index <= last:
        self._keep_netting(backend, meter_id, begin, index, sold, bought)
        return False, sold, bought
    return True, sold, bought


@internal
def _keep_netting(backend: address, meter_id: bytes32, begin: uint256, index: uint256, sold: uint256, bought: uint256):
    assert sold <= _UINT108_MASK and bought <= _UINT108_MASK  # sums of uint64 Wh: never
    self._netting[backend][meter_id][begin] = self._pack_netting(index, sold, bought)


@internal
def _mark_traded(backend: address, meter_id: bytes32, interval_begin: uint256):
    word: uint256 = 0
    bit: uint256 = 0
    word, bit = self._bitmap_position(interval_begin)
    bits: uint256 = self._settled[backend][meter_id][word]
    assert bits & bit == 0, "operator: interval already settled"
    if bits & (bit << 1) == 0:
        self._settled[backend][meter_id][word] = bits | (bit << 1)
        log IntervalTraded(backend=backend, meter_id=meter_id, interval_begin=interval_begin)


@internal
def _deposit(account: address, amount: uint256):
    assert amount != 0, "operator: amount is zero"
    debt: uint256 = self.debt_of[account]
    debt_paid: uint256 = min(debt, amount)
    if debt_paid != 0:
        self.debt_of[account] = unsafe_sub(debt, debt_paid)
        self.treasury += debt_paid
    self.balance_of[account] += unsafe_sub(amount, debt_paid)
    log Deposited(account=account, amount=amount, debt_paid=debt_paid)
    self._pull(account, amount)


@internal
def _pull(account: address, amount: uint256):
    """
    @dev Takes `amount` from `account` and checks that exactly that much
         arrived: ledgers and the treasury are booked in what was sent, so a
         token that keeps a fee on transfer would pay one account from another's.
    """
    held: uint256 = staticcall token.balanceOf(self)
    assert extcall token.transferFrom(account, self, amount, default_return_value=True), "operator: token transfer failed"
    assert staticcall token.balanceOf(self) == held + amount, "operator: token delivered another amount than sent (fee-on-transfer tokens are not supported)"


@internal
def _credit(account: address, amount: uint256):
    """
    @dev Adds tokens already held by this contract to `account`: its debt is
         paid first (into the treasury), the rest goes to its balance.
    """
    if amount == 0:
        return
    debt: uint256 = self.debt_of[account]
    if debt != 0:
        debt_paid: uint256 = min(debt, amount)
        self.debt_of[account] = unsafe_sub(debt, debt_paid)
        self.treasury += debt_paid
        amount = unsafe_sub(amount, debt_paid)
        log DebtRepaid(account=account, amount=debt_paid)
    if amount != 0:
        self.balance_of[account] += amount


@internal
def _charge(account: address, amount: uint256) -> uint256:
    """
    @dev Bills `account`: from its balance first, then against rewards the
         operator still owes it.
    @return uint256 What remains unpaid.
    """
    balance: uint256 = self.balance_of[account]
    taken: uint256 = min(balance, amount)
    if taken != 0:
        self.balance_of[account] = unsafe_sub(balance, taken)
        self.treasury += taken
    rest: uint256 = unsafe_sub(amount, taken)
    if rest == 0:
        return 0
    owed: uint256 = self.arrears_of[account]
    if owed != 0:
        offset: uint256 = min(owed, rest)
        self.arrears_of[account] = unsafe_sub(owed, offset)
        self.total_arrears -= offset
        rest = unsafe_sub(rest, offset)
        log ArrearsOffset(account=account, amount=offset)
    return rest


@internal
def _collect_meter_debt(backend: address, meter_id: bytes32, account: address):
    """
    @dev After a bill `account`'s ledger paid in full: the meter's debt, as
         far as the ledger allows, when `account` owns the meter now (the
         debt is the current owner's, taken on or run up).
    """
    debt: uint256 = self.meter_debt[backend][meter_id]
    if debt == 0:
        return
    balance: uint256 = self.balance_of[account]
    if balance == 0 or account != staticcall ISmartMeterBackend(backend).owner_of(meter_id):
        return
    paid: uint256 = min(debt, balance)
    self.balance_of[account] = unsafe_sub(balance, paid)
    self.meter_debt[backend][meter_id] = unsafe_sub(debt, paid)
    self.treasury += paid
    log MeterDebtPaid(backend=backend, meter_id=meter_id, payer=account, amount=paid)


@internal
@view
def _keeps_debt(backend: address) -> bool:
    """
    @dev Whether `backend` names this operator as the keeper of its meters'
         debts (`SmartMeterBackend.wire_operator`); a backend without the view
         (or one that reverts) does not.
    """
    ok: bool = False
    answer: Bytes[32] = b""
    ok, answer = raw_call(backend, method_id("operator()"), max_outsize=32, is_static_call=True, revert_on_failure=False)
    return ok and len(answer) == 32 and convert(convert(answer, bytes32), uint256) == convert(self, uint256)


@internal
def _book_unpaid(backend: address, meter_id: bytes32, account: address, owed: uint256, ledger_open: bool):
    """
    @dev Books a bill, or what its ledger left of it, that nobody paid:
         the meter's debt while `account` still owns the meter; else, the
         meter having passed to an owner who did not take this bill on, the
         account's own debt (a ledger open to the meter), or a bill left to
         the operator to collect off chain (a backend trusted later, whose
         word alone never reaches a ledger). A meter's debt is kept only for
         a backend that names this operator (`operator()`): there an
         acceptance names it, so no new owner carries it unawares; any other
         backend's shortfalls are the account's, or left unpaid, as above.
    """
    if account == staticcall ISmartMeterBackend(backend).owner_of(meter_id) and self._keeps_debt(backend):
        self.meter_debt[backend][meter_id] += owed
        log MeterDebtRecorded(backend=backend, meter_id=meter_id, account=account, amount=owed)
    elif ledger_open:
        self.debt_of[account] += owed
        log DebtRecorded(account=account, amount=owed)
    else:
        log BillUnpaid(backend=backend, meter_id=meter_id, account=account, amount=owed)


@internal
@view
def _tariff_index(timestamp: uint256, count: uint256) -> uint256:
    """
    @dev The index of the tariff in effect at `timestamp`: the newest one
         when it is (the usual case, one read), else a binary search, so the
         cost grows with log2 of the number of tariffs, never with it.
    """
    last: uint256 = count - 1
    if self._tariff_start(self._tariffs[last]) <= timestamp:
        return last
    # Tariff `low` starts at or before `timestamp` (tariff 0 starts at 0),
    # tariff `high` after it.
    low: uint256 = 0
    high: uint256 = last
    for _: uint256 in range(_SEARCH_STEPS):
        if high - low <= 1:
            break
        middle: uint256 = unsafe_add(low, high) >> 1
        if self._tariff_start(self._tariffs[middle]) <= timestamp:
            low = middle
        else:
            high = middle
    return low


@internal
@view
def _tariff_over(begin: uint256, end: uint256) -> (uint256, uint256):
    """
    @dev The tariff a measurement of `[begin, end)` is settled at: the
         highest retail price and the lowest feed-in reward in force at any
         time during it. A measurement spanning a tariff change (a bridge
         switched off, a suspended meter) thus never pays less or earns more
         than the same Wh measured interval by interval. Tariffs are a day or
         more apart, so the scan is bounded by the measurement's length.
    @return (retail price, feed-in reward), token base units per Wh.
    """
    count: uint256 = self.tariff_count
    index: uint256 = self._tariff_index(begin, count)
    retail_price: uint256 = 0
    feed_in_reward: uint256 = 0
    start: uint256 = 0
    retail_price, feed_in_reward, start = self._unpack_tariff(self._tariffs[index])
    for later: uint256 in range(index + 1, count, bound=MAX_TARIFFS):
        retail: uint256 = 0
        feed_in: uint256 = 0
        retail, feed_in, start = self._unpack_tariff(self._tariffs[later])
        if start >= end:
            break
        retail_price = max(retail_price, retail)
        feed_in_reward = min(feed_in_reward, feed_in)
    return retail_price, feed_in_reward


@internal
@view
def _is_trusted(backend: address) -> bool:
    return self._trusted(self._trust[backend])


@internal
@view
def _trusted(window: uint256) -> bool:
    start: uint256 = 0
    stop: uint256 = 0
    start, stop = self._unpack_trust(window)
    return start != 0 and start <= block.timestamp and (stop == 0 or block.timestamp < stop)


@internal
@pure
def _billable_wh(produced_wh: uint256, consumed_wh: uint256, sold_wh: uint256, bought_wh: uint256) -> (uint256, uint256):
    """
    @dev Feed-in: the Wh produced beyond those sold (the seller's buyers paid
         for those), plus the Wh bought and delivered beyond those consumed:
         the buyer paid the seller for them, and the grid took them, so the
         buyer is rewarded for them as if it had fed them in. Retail: the Wh
         consumed beyond those bought. Every Wh fed in is thus paid for once:
         by a buyer, or by the operator's reward.
    """
    return (produced_wh - min(sold_wh, produced_wh)) + (bought_wh - min(bought_wh, consumed_wh)), consumed_wh - min(bought_wh, consumed_wh)


@internal
@pure
def _pack_tariff(retail_price: uint96, feed_in_reward: uint96, effective_from: uint64) -> uint256:
    return convert(retail_price, uint256) | (convert(feed_in_reward, uint256) << 96) | (convert(effective_from, uint256) << 192)


@internal
@pure
def _tariff_struct(packed: uint256) -> IOperatorBackend.Tariff:
    retail_price: uint256 = 0
    feed_in_reward: uint256 = 0
    effective_from: uint256 = 0
    retail_price, feed_in_reward, effective_from = self._unpack_tariff(packed)
    return IOperatorBackend.Tariff(retail_price=retail_price, feed_in_reward=feed_in_reward, effective_from=effective_from)


@internal
@pure
def _unpack_tariff(packed: uint256) -> (uint256, uint256, uint256):
    """
    @dev Retail price (bits 0-95), feed-in reward (96-191), effective from (192-255).
    """
    return packed & _UINT96_MASK, (packed >> 96) & _UINT96_MASK, packed >> 192


@internal
@pure
def _tariff_start(packed: uint256) -> uint256:
    """
    @dev When a packed tariff takes effect (bits 192-255, unix seconds).
    """
    return packed >> 192


@internal
@pure
def _pack_trust(start: uint256, stop: uint256) -> uint256:
    """
    @dev A trust window without its flags: trusted from (bits 0-63) and
         untrusted from (64-127), unix seconds, each masked to 64 bits.
    """
    return (start & _UINT64_MASK) | ((stop & _UINT64_MASK) << 64)


@internal
@pure
def _unpack_trust(window: uint256) -> (uint256, uint256):
    """
    @dev Trusted from and untrusted from of a trust window; its flags ignored.
    """
    return window & _UINT64_MASK, (window >> 64) & _UINT64_MASK


@internal
@pure
def _bitmap_position(interval_begin: uint256) -> (uint256, uint256):
    """
    @dev The bitmap word of the quarter hour `interval_begin` lies in, and its
         "settled" bit there (its "traded" bit is the next one up).
    """
    index: uint256 = interval_begin // _MIN_INTERVAL
    return index >> 7, 1 << ((index & 127) << 1)


@internal
@pure
def _pack_netting(index: uint256, sold: uint256, bought: uint256) -> uint256:
    """
    @dev A netting in progress: the next quarter-hour index plus one (bits
         0-39), Wh sold (40-147) and bought (148-255) so far, each masked.
    """
    return ((index + 1) & _UINT40_MASK) | ((sold & _UINT108_MASK) << 40) | ((bought & _UINT108_MASK) << 148)


@internal
@pure
def _unpack_netting(packed: uint256) -> (uint256, uint256, uint256):
    """
    @dev The next quarter-hour index, Wh sold and Wh bought of a netting in progress.
    """
    return (packed & _UINT40_MASK) - 1, (packed >> 40) & _UINT108_MASK, packed >> 148

"""Auction.vy: standing orders, the per-interval accumulator, the verified
uniform-price clearing and the refunds of escrow; every attack on a clearing
is refused with its reason."""

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openkwh import auction as auction_model
from tests.fixtures.auction import LEAD_TIME
from tests.fixtures.meters import INTERVAL, advance_to, grid_time
from tests.fixtures.operator import FEED_IN, RETAIL
from tests.fixtures.wallet import CONTRACTS

TEST_CONTRACTS = CONTRACTS.parent / "tests" / "contracts"
P = 10**14  # token base units per Wh, between feed-in (0.8 P) and retail (3 P)


@pytest.fixture
def hour():
    """An interval three hours ahead: its gate is open."""
    return grid_time(3)


def place(auction, traders, meters, i, first, last, wh, price, is_bid):
    return auction.place(meters[i], first, last, wh, price, is_bid, sender=traders[i])


def model_of(auction, begin, ids):
    orders = []
    for i in ids:
        o = auction.order(i)
        if o.first <= begin <= o.last:
            orders.append((o.is_bid, o.wh, o.price))
    return auction_model.clear(orders, RETAIL, FEED_IN)


def close_gate(begin):
    advance_to(begin - LEAD_TIME)


# STANDING ORDERS


def test_a_standing_bid_escrows_its_whole_range(auction, wallet, traders, trader_meters, hour):
    last = hour + 167 * INTERVAL
    before = wallet.balanceOf(traders[0])
    order_id = place(auction, traders, trader_meters, 0, hour, last, 1_000, P, True)
    assert wallet.balanceOf(traders[0]) == before - 168 * 1_000 * P
    assert wallet.balanceOf(auction.address) == 168 * 1_000 * P
    o = auction.order(order_id)
    assert (o.maker, o.first, o.last, o.wh, o.price, o.is_bid) == (
        traders[0],
        hour,
        last,
        1_000,
        P,
        True,
    )
    assert auction.accumulator(hour) & (2**64 - 1) == 1
    assert auction.accumulator(last) & (2**64 - 1) == 1
    assert auction.accumulator(last + INTERVAL) == 0


def test_an_offer_escrows_nothing(auction, wallet, traders, trader_meters, hour):
    place(auction, traders, trader_meters, 1, hour, hour + 23 * INTERVAL, 500, P, False)
    assert wallet.balanceOf(auction.address) == 0


@pytest.mark.parametrize(
    ("shift", "last_shift", "wh", "price", "reason"),
    [
        (0, 0, 0, P, "auction: Wh out of range"),
        (0, 0, 2**64, P, "auction: Wh out of range"),
        (0, 0, 1, 0, "auction: price out of range"),
        (0, 0, 1, 2**96, "auction: price out of range"),
        (1, 0, 1, P, "auction: interval not on the grid"),
        (0, -INTERVAL, 1, P, "auction: bad interval range"),
        (-3 * INTERVAL, 0, 1, P, "auction: gate closed for this interval"),
        (0, 24 * 7 * 4 * INTERVAL, 1, P, "auction: too many intervals"),
    ],
)
def test_placing_out_of_bounds_is_refused(
    auction, traders, trader_meters, hour, shift, last_shift, wh, price, reason
):
    with boa.reverts(reason):
        place(
            auction,
            traders,
            trader_meters,
            0,
            hour + shift,
            hour + shift + last_shift,
            wh,
            price,
            True,
        )


def test_only_a_meter_owner_places_for_it(auction, traders, trader_meters, hour):
    with boa.reverts("auction: caller does not own the meter"):
        auction.place(trader_meters[1], hour, hour, 1, P, False, sender=traders[0])


def test_cancelling_the_rest_of_a_bid_refunds_its_escrow(
    auction, wallet, traders, trader_meters, hour
):
    order_id = place(auction, traders, trader_meters, 0, hour, hour + 9 * INTERVAL, 100, P, True)
    before = wallet.balanceOf(traders[0])
    auction.cancel(order_id, hour + 4 * INTERVAL, sender=traders[0])
    assert wallet.balanceOf(traders[0]) == before + 6 * 100 * P
    assert auction.order(order_id).last == hour + 3 * INTERVAL
    auction.cancel(order_id, hour, sender=traders[0])
    assert wallet.balanceOf(traders[0]) == before + 10 * 100 * P
    assert wallet.balanceOf(auction.address) == 0
    with boa.reverts("auction: interval not in the order"):
        auction.cancel(order_id, hour, sender=traders[0])


def test_a_closed_interval_cannot_be_cancelled(auction, traders, trader_meters, hour):
    order_id = place(auction, traders, trader_meters, 0, hour, hour + INTERVAL, 100, P, True)
    close_gate(hour)
    with boa.reverts("auction: gate closed for this interval"):
        auction.cancel(order_id, hour, sender=traders[0])
    auction.cancel(order_id, hour + INTERVAL, sender=traders[0])  # the next one is still open


def test_only_the_maker_cancels(auction, traders, trader_meters, hour):
    order_id = place(auction, traders, trader_meters, 0, hour, hour, 100, P, True)
    with boa.reverts("auction: caller is not the maker"):
        auction.cancel(order_id, hour, sender=traders[1])


def test_a_standing_bid_with_a_permit_needs_no_approval(
    auction, wallet, smb, installer, deployer, hour
):
    """The permit covers the whole range's escrow: 24 hours x 100 Wh x P."""
    from openkwh.chain import permit_typed_data
    from tests.fixtures.accounts import keyed_account
    from tests.fixtures.meters import CONNECTION_W, CONSUMPTION, SECTOR, meter_id_for
    from tests.fixtures.wallet import NAME

    buyer = keyed_account("auction-permit-buyer")
    meter = meter_id_for("auction-permit-home")
    key = keyed_account("auction-permit-key").address
    smb.register_meter(
        meter, key, buyer.address, SECTOR, "", "", 0, CONNECTION_W, CONSUMPTION, sender=installer
    )
    smb.accept_meter(meter, 0, sender=buyer.address)
    wallet.transfer(buyer.address, 10**18, sender=deployer)
    escrow = 24 * 100 * P
    deadline = boa.env.evm.patch.timestamp + 3_600
    data = permit_typed_data(
        NAME,
        buyer.address,
        str(auction.address),
        escrow,
        0,
        deadline,
        boa.env.evm.patch.chain_id,
        str(wallet.address),
    )
    signed = buyer.sign_typed_data(full_message=data)
    last = hour + 23 * INTERVAL
    args = (
        meter,
        hour,
        last,
        100,
        P,
        deadline,
        signed.v,
        signed.r.to_bytes(32),
        signed.s.to_bytes(32),
    )
    order_id = auction.place_with_permit(*args, sender=buyer.address)
    assert auction.order(order_id).is_bid
    assert wallet.balanceOf(auction.address) == escrow
    assert wallet.allowance(buyer.address, auction.address) == 0
    with boa.reverts("auction: permit failed and allowance is short"):
        auction.place_with_permit(*args, sender=buyer.address)  # used, and no allowance left


@pytest.mark.parametrize(
    ("last_shift", "wh", "price", "reason"),
    [
        (-INTERVAL, 1, P, "auction: bad interval range"),
        (2**100 * INTERVAL, 2**64 - 1, 2**96 - 1, "auction: bad interval range"),
        (0, 2**200, 2**60, "auction: Wh out of range"),
        (0, 2**60, 2**200, "auction: price out of range"),
    ],
)
def test_a_permit_bid_out_of_bounds_says_why(
    auction, traders, trader_meters, hour, last_shift, wh, price, reason
):
    """The permit's escrow is computed first: a range ending before it begins, or
    terms whose product overflows, reverted there with no reason."""
    with boa.reverts(reason):
        auction.place_with_permit(
            trader_meters[0], hour, hour + last_shift, wh, price, 0, 27, b"\0" * 32, b"\0" * 32,
            sender=traders[0],
        )  # fmt: skip


# CLEARING


@pytest.fixture
def crossed(auction, traders, trader_meters, hour):
    """Two bids and two offers for ``hour`` that cross at 2 P with 150 Wh; the gate closed."""
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour + INTERVAL, 100, 3 * P, True),
        place(auction, traders, trader_meters, 1, hour, hour, 100, 2 * P, True),
        place(auction, traders, trader_meters, 2, hour, hour, 50, P, False),
        place(auction, traders, trader_meters, 3, hour, hour, 200, 2 * P, False),
    ]
    close_gate(hour)
    return ids


def test_a_clearing_agrees_with_the_model(auction, crossed, hour):
    book = model_of(auction, hour, crossed)
    assert (book.price, book.volume) == (2 * P, 200)
    auction.clear(hour, crossed, book.price, sender=boa.env.generate_address("keeper"))
    c = auction.clearing(hour)
    assert (c.cleared, c.price, c.bought_wh, c.sold_wh, c.orders) == (
        True,
        book.price,
        book.bought,
        book.sold,
        4,
    )
    assert [auction.fill(i, hour) for i in crossed] == book.fills == [100, 100, 50, 150]


def test_a_keeper_leaving_out_a_rivals_order_is_refused(auction, crossed, hour):
    with boa.reverts("auction: book does not hold every order"):
        auction.clear(hour, crossed[:3], 2 * P)


def test_a_book_with_another_order_in_a_rivals_place_is_refused(
    auction, crossed, hour, traders, trader_meters
):
    stranger = place(
        auction, traders, trader_meters, 4, hour + INTERVAL, hour + INTERVAL, 100, P, False
    )
    with boa.reverts("auction: book does not match the orders placed"):
        auction.clear(hour, [*crossed[:3], stranger], 2 * P)
    with boa.reverts("auction: book does not match the orders placed"):
        auction.clear(hour, [*crossed[:3], crossed[0]], 2 * P)  # one twice


def test_a_book_out_of_placement_order_is_refused(auction, crossed, hour):
    with boa.reverts("auction: book does not match the orders placed"):
        auction.clear(hour, list(reversed(crossed)), 2 * P)


def test_a_price_too_high_is_refused(auction, crossed, hour):
    with boa.reverts("auction: supply below the price exceeds demand"):
        auction.clear(hour, crossed, 3 * P)


def test_a_price_too_low_is_refused(auction, crossed, hour):
    with boa.reverts("auction: demand above the price exceeds supply"):
        auction.clear(hour, crossed, P)


def test_a_higher_walrasian_price_is_refused(auction, traders, trader_meters, hour):
    """100 Wh bid at 3 P against 100 offered at P: every price from P to 3 P
    clears it; only the lowest, P, is the clearing."""
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour, 100, 3 * P, True),
        place(auction, traders, trader_meters, 1, hour, hour, 100, P, False),
    ]
    close_gate(hour)
    with boa.reverts("auction: a lower price clears the book"):
        auction.clear(hour, ids, 2 * P)
    auction.clear(hour, ids, P)


def test_a_clearing_cannot_be_replayed_or_replaced(auction, crossed, hour):
    auction.clear(hour, crossed, 2 * P)
    with boa.reverts("auction: interval already cleared"):
        auction.clear(hour, crossed, 2 * P)


def test_no_clearing_before_gate_closure(auction, traders, trader_meters, hour):
    ids = [place(auction, traders, trader_meters, 0, hour, hour, 100, P, True)]
    with boa.reverts("auction: gate not closed yet"):
        auction.clear(hour, ids, P)


def test_a_cancelled_interval_is_in_the_book_but_trades_nothing(
    auction, traders, trader_meters, hour
):
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour, 100, 3 * P, True),
        place(auction, traders, trader_meters, 1, hour, hour, 100, P, False),
    ]
    auction.cancel(ids[1], hour, sender=traders[1])
    close_gate(hour)
    with boa.reverts("auction: book does not hold every order"):
        auction.clear(hour, ids[:1], 3 * P)
    with boa.reverts("auction: demand above the price exceeds supply"):
        auction.clear(hour, ids, P)  # the cancelled offer counts for nothing
    auction.clear(hour, ids, min(3 * P, RETAIL))
    assert auction.fill(ids[1], hour) == 0
    assert auction.clearing(hour).sold_wh == 0


def test_the_price_stays_within_the_tariffs(auction, traders, trader_meters, hour):
    """A bid far above retail pays at most retail; an offer far below feed-in gets at least feed-in."""
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour, 100, 100 * RETAIL, True),
        place(auction, traders, trader_meters, 1, hour, hour, 300, 1, False),
    ]
    close_gate(hour)
    auction.clear(hour, ids, FEED_IN)
    assert auction.fill(ids[0], hour) == 100
    ids2 = [
        place(
            auction,
            traders,
            trader_meters,
            2,
            hour + 5 * INTERVAL,
            hour + 5 * INTERVAL,
            100,
            100 * RETAIL,
            True,
        ),
    ]
    close_gate(hour + 5 * INTERVAL)
    auction.clear(hour + 5 * INTERVAL, ids2, RETAIL)  # no offer: the bid counts at retail
    assert auction.clearing(hour + 5 * INTERVAL).price == RETAIL


def test_an_empty_interval_clears_at_zero(auction, hour):
    close_gate(hour)
    auction.clear(hour, [], 0)
    assert auction.clearing(hour).cleared


def test_ties_split_pro_rata_floored(auction, traders, trader_meters, hour):
    """Three bids tied at P share 100 Wh offered: 100 x w / 300 each, floored (33 Wh
    each, 99 bought of 100 sold: the floors leave one Wh untraded)."""
    ids = [place(auction, traders, trader_meters, i, hour, hour, 100, P, True) for i in range(3)]
    ids.append(place(auction, traders, trader_meters, 3, hour, hour, 100, P, False))
    close_gate(hour)
    auction.clear(hour, ids, P)
    assert [auction.fill(i, hour) for i in ids] == [33, 33, 33, 100]
    c = auction.clearing(hour)
    assert (c.bought_wh, c.sold_wh) == (99, 100)


# ESCROW


def test_release_refunds_unfilled_escrow_and_the_price_improvement(
    auction, wallet, crossed, hour, traders
):
    auction.clear(hour, crossed, 2 * P)
    with boa.reverts("auction: interval not cleared yet"):
        auction.release(crossed[0], 2)
    auction.release(crossed[0], 1, sender=traders[5])  # anyone; the credit is the maker's
    assert auction.credit_of(traders[0]) == 100 * 3 * P - 100 * 2 * P
    with boa.reverts("auction: not a bid"):
        auction.release(crossed[2], 1)
    before = wallet.balanceOf(traders[0])
    auction.withdraw_credit(sender=traders[0])
    assert wallet.balanceOf(traders[0]) == before + 100 * P
    with boa.reverts("auction: no credit"):
        auction.withdraw_credit(sender=traders[0])
    # The hour after: nothing offered, the bid fills nothing and gets it all back.
    close_gate(hour + INTERVAL)
    auction.clear(hour + INTERVAL, [crossed[0]], RETAIL)
    auction.release(crossed[0], 5)
    assert auction.credit_of(traders[0]) == 100 * 3 * P
    with boa.reverts("auction: nothing to release"):
        auction.release(crossed[0], 1)
    # What stays: the fills' payments at the clearing price, for settlement.
    auction.withdraw_credit(sender=traders[0])
    auction.release(crossed[1], 1)
    assert auction.credit_of(traders[1]) == 0  # filled in full at its own limit
    assert wallet.balanceOf(auction.address) == 200 * 2 * P


# RE-ENTRANCY


@pytest.fixture
def hook_market(auction_deployer, exchange_deployer, smb, registry, ob, installer, deployer, hour):
    """An Auction on HookToken, with a re-entrant maker owning a meter and holding tokens."""
    from tests.fixtures.meters import (
        CAPACITY_W,
        CONNECTION_W,
        CONSUMPTION,
        PRODUCTION,
        SECTOR,
        SOLAR_FUEL,
        SOLAR_TECH,
        meter_id_for,
    )

    token = boa.load(
        TEST_CONTRACTS / "HookToken.vy", 10**24, override_address=None, sender=deployer
    )
    hook_exchange = exchange_deployer.deploy(
        token.address, smb.address, registry.address, ob.address, LEAD_TIME, 86_400, sender=deployer
    )
    market = auction_deployer.deploy(
        token.address, smb.address, ob.address, hook_exchange.address, LEAD_TIME, sender=deployer
    )
    owner = boa.env.generate_address("hook-owner")
    maker = boa.load(TEST_CONTRACTS / "ReentrantMaker.vy", override_address=None, sender=owner)
    meter = meter_id_for("hook-meter")
    smb.register_meter(
        meter,
        owner,
        maker.address,
        SECTOR,
        SOLAR_TECH,
        SOLAR_FUEL,
        CAPACITY_W,
        CONNECTION_W,
        PRODUCTION | CONSUMPTION,
        sender=installer,
    )
    maker.execute(smb.address, smb.accept_meter.prepare_calldata(meter, 0), sender=owner)
    token.transfer(maker.address, 10**22, sender=deployer)
    maker.execute(
        token.address, token.approve.prepare_calldata(market.address, 2**256 - 1), sender=owner
    )
    return market, token, maker, owner, meter


def test_a_token_hook_cannot_reenter_placing(hook_market, hour):
    market, token, maker, owner, meter = hook_market
    maker.arm(
        market.address, market.place.prepare_calldata(meter, hour, hour, 1, P, True), sender=owner
    )
    maker.execute(
        market.address, market.place.prepare_calldata(meter, hour, hour, 100, P, True), sender=owner
    )
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert market.order_count() == 1
    assert token.balanceOf(market.address) == 100 * P


def test_a_token_hook_cannot_reenter_cancelling(hook_market, hour):
    market, token, maker, owner, meter = hook_market
    maker.execute(
        market.address,
        market.place.prepare_calldata(meter, hour, hour + INTERVAL, 100, P, True),
        sender=owner,
    )
    maker.arm(market.address, market.cancel.prepare_calldata(0, hour), sender=owner)
    maker.execute(market.address, market.cancel.prepare_calldata(0, hour + INTERVAL), sender=owner)
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert token.balanceOf(market.address) == 100 * P  # one hour's escrow back, not two


def test_a_token_hook_cannot_reenter_withdrawing(hook_market, hour):
    market, token, maker, owner, meter = hook_market
    maker.execute(
        market.address, market.place.prepare_calldata(meter, hour, hour, 100, P, True), sender=owner
    )
    close_gate(hour)
    market.clear(hour, [0], P)  # nothing offered: the bid fills nothing
    market.release(0, 1)
    assert market.credit_of(maker.address) == 100 * P
    maker.arm(market.address, market.withdraw_credit.prepare_calldata(), sender=owner)
    maker.execute(market.address, market.withdraw_credit.prepare_calldata(), sender=owner)
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert token.balanceOf(market.address) == 0
    assert token.balanceOf(maker.address) == 10**22


def test_a_token_hook_cannot_reenter_delivering(hook_market, hour):
    market, _token, maker, owner, meter = hook_market
    maker.execute(
        market.address, market.place.prepare_calldata(meter, hour, hour, 100, P, True), sender=owner
    )
    close_gate(hour)
    market.clear(hour, [0], P)
    market.release(0, 1)
    maker.arm(market.address, market.deliver.prepare_calldata(hour, [0]), sender=owner)
    maker.execute(market.address, market.withdraw_credit.prepare_calldata(), sender=owner)
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert not market.delivered(hour)
    assert market.deliver(hour, [0])  # the lock, not the delivery, refused it


# ROLES


def test_the_role_matrix(auction, traders, trader_meters, hour):
    """place: a meter's owner; cancel: the maker; clear, release: anyone; withdraw: one's own credit."""
    stranger = boa.env.generate_address("stranger")
    order_id = place(auction, traders, trader_meters, 0, hour, hour + INTERVAL, 100, P, True)
    with boa.reverts("auction: caller does not own the meter"):
        auction.place(trader_meters[0], hour, hour, 1, P, True, sender=stranger)
    with boa.reverts("auction: caller is not the maker"):
        auction.cancel(order_id, hour + INTERVAL, sender=stranger)
    close_gate(hour)
    auction.clear(hour, [order_id], P, sender=stranger)
    auction.release(order_id, 1, sender=stranger)
    assert auction.credit_of(stranger) == 0
    with boa.reverts("auction: no credit"):
        auction.withdraw_credit(sender=stranger)


# THE MODEL


order_st = st.tuples(
    st.integers(min_value=0, max_value=5),  # trader
    st.booleans(),  # bid
    st.integers(min_value=1, max_value=500),  # Wh
    st.sampled_from([FEED_IN // 2, FEED_IN, P, 2 * P, 2 * P + 1, RETAIL, 2 * RETAIL]),
    st.integers(min_value=0, max_value=2),  # first hour offset
    st.integers(min_value=0, max_value=2),  # hours
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(orders=st.lists(order_st, max_size=12), arrival=st.randoms(use_true_random=False))
def test_the_clearing_is_the_models_and_arrival_order_changes_nothing(
    auction, traders, trader_meters, orders, arrival
):
    """Over random books: the contract accepts the model's price and refuses its
    neighbours, its fills are the model's, no order fills beyond its limit, and
    the same orders placed in another order clear at the same price and
    totals, with the same fill for the same terms: a fill depends on an
    order's terms only, so placing first gains nothing."""
    base = grid_time(3)
    target = base + 2 * INTERVAL
    results = []
    for attempt in range(2):
        sequence = list(orders) if attempt == 0 else arrival.sample(list(orders), len(orders))
        with boa.env.anchor():
            ids = [
                place(
                    auction,
                    traders,
                    trader_meters,
                    t,
                    base + s * INTERVAL,
                    base + (s + n) * INTERVAL,
                    w,
                    p,
                    b,
                )
                for t, b, w, p, s, n in sequence
            ]
            close_gate(target)
            # Placed for the interval: the book; live there: all of them (none cancelled).
            placed = [i for i in ids if auction.order(i).first <= target <= auction.order(i).last]
            live = placed
            book = model_of(auction, target, ids)
            if book.price > 0:
                with boa.reverts():
                    auction.clear(target, placed, book.price - 1)
            with boa.reverts():
                auction.clear(target, placed, book.price + 1)
            auction.clear(target, placed, book.price)
            c = auction.clearing(target)
            assert (c.price, c.bought_wh, c.sold_wh) == (book.price, book.bought, book.sold)
            assert [auction.fill(i, target) for i in live] == book.fills
            for i in live:
                o = auction.order(i)
                if auction.fill(i, target):
                    limit = min(o.price, RETAIL) if o.is_bid else max(o.price, FEED_IN)
                    assert (book.price <= limit) if o.is_bid else (book.price >= limit)
            fills = {}
            for i, (_, b, w, p, _, _) in zip(ids, sequence, strict=True):
                fills.setdefault((b, w, p), set()).add(auction.fill(i, target))
            results.append((c.price, c.bought_wh, c.sold_wh, fills))
    # Same price, same totals, and identical orders fill the same whatever came first.
    assert results[0] == results[1]

"""Auction.deliver and Exchange.make_auction_deals: a cleared interval's fills become
Exchange deals, settled as any deal is. Written as an attacker would try them:
whose escrow, Wh or certificates a delivery touches, a second delivery, another
pairing, a keeper who never delivers, a cancelled order, a meter handed on, the
Wh the floors leave out, a token hook, and who may call the Exchange's entry."""

import boa
import pytest

from tests.fixtures.auction import LEAD_TIME, register_meters
from tests.fixtures.exchange import TIMEOUT
from tests.fixtures.meters import (
    CONNECTION_W,
    CONSUMPTION,
    INTERVAL,
    SECTOR,
    advance_to,
    grid_time,
    meter_id_for,
)
from tests.fixtures.registry import certificate_id
from tests.helpers import events, only_event

P = 10**14  # token base units per Wh, between feed-in (0.8 P) and retail (3 P)
AUCTION_ORDER = 2**38 - 1  # the order_id of an auction's deal on the Exchange


@pytest.fixture
def hour():
    """An interval three hours ahead: its gate is open."""
    return grid_time(3)


def place(auction, traders, meters, i, first, last, wh, price, is_bid):
    return auction.place(meters[i], first, last, wh, price, is_bid, sender=traders[i])


@pytest.fixture
def crossed(auction, traders, trader_meters, hour):
    """Two bids (100 Wh at 3 P, 100 Wh at 2 P) and two offers (50 Wh at P, 200 Wh
    at 2 P) that clear at 2 P, 200 Wh: fills 100, 100 and 50, 150. Returns the order ids."""
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour + INTERVAL, 100, 3 * P, True),
        place(auction, traders, trader_meters, 1, hour, hour, 100, 2 * P, True),
        place(auction, traders, trader_meters, 2, hour, hour, 50, P, False),
        place(auction, traders, trader_meters, 3, hour, hour, 200, 2 * P, False),
    ]
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, 2 * P)
    return ids


def deal_terms(event):
    return (
        event.order_id,
        event.seller,
        event.buyer,
        event.seller_meter,
        event.buyer_meter,
        event.interval_begin,
        event.wh,
        event.price,
        event.retire,
    )


# DELIVERING


def test_deliver_pairs_fills_in_placement_order_as_exchange_deals(
    auction, exchange, wallet, ob, smb, traders, trader_meters, crossed, hour
):
    held = wallet.balanceOf(auction.address)
    assert auction.deliver(hour, crossed, sender=traders[5])
    made = events(auction, "DealMade")
    assert [deal_terms(e) for e in made] == [
        (AUCTION_ORDER, traders[2], traders[0], trader_meters[2], trader_meters[0], hour, 50, 2 * P, False),
        (AUCTION_ORDER, traders[3], traders[0], trader_meters[3], trader_meters[0], hour, 50, 2 * P, False),
        (AUCTION_ORDER, traders[3], traders[1], trader_meters[3], trader_meters[1], hour, 100, 2 * P, False),
    ]  # fmt: skip
    delivered = events(auction, "DealDelivered")
    assert [(e.bid_id, e.offer_id, e.deal_id, e.wh) for e in delivered] == [
        (crossed[0], crossed[2], made[0].deal_id, 50),
        (crossed[0], crossed[3], made[1].deal_id, 50),
        (crossed[1], crossed[3], made[2].deal_id, 100),
    ]
    assert auction.delivered(hour)
    # The deals' payment moved from the Auction's escrow to the Exchange's.
    assert wallet.balanceOf(exchange.address) == 200 * 2 * P
    assert wallet.balanceOf(auction.address) == held - 200 * 2 * P
    assert exchange.sold_wh(trader_meters[3], hour) == 150
    assert exchange.committed_wh(trader_meters[3], hour) == 150
    assert exchange.unsettled_deals(trader_meters[0], hour) == 2
    assert ob.is_traded(smb.address, trader_meters[1], hour)


def test_a_deal_of_the_auction_settles_metered_with_certificates_to_the_buyer(
    auction, exchange, wallet, registry, solar_meter, alice, traders, trader_meters, hour, deliver
):
    """Alice's solar meter sells 1,000 Wh at the clearing price; it produces 600:
    the buyer pays for 600, gets 400 back and the certificates of 600 Wh."""
    offer = auction.place(solar_meter, hour, hour, 1_000, P, False, sender=alice)
    bid = place(auction, traders, trader_meters, 0, hour, hour, 1_000, 2 * P, True)
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, [offer, bid], P)
    auction.deliver(hour, [offer, bid])
    event = only_event(auction, "DealMade")
    deliver(hour, 600)
    exchange.settle(event.deal_id, deal_terms(event))
    settled = only_event(exchange, "DealSettled")
    assert (
        settled.seller,
        settled.buyer,
        settled.delivered_wh,
        settled.payment,
        settled.refund,
    ) == (
        alice,
        traders[0],
        600,
        600 * P,
        400 * P,
    )
    assert registry.balanceOf(traders[0], certificate_id(solar_meter, hour)) == 600
    auction.release(bid, 1)  # the limit's excess over the clearing price comes back
    assert auction.credit_of(traders[0]) == 1_000 * (2 * P - P)
    assert wallet.balanceOf(auction.address) == 1_000 * P
    assert wallet.balanceOf(exchange.address) == 1_000 * P


def test_deliver_goes_on_where_it_stopped_64_deals_a_call(
    auction, exchange, wallet, many_meters, hour
):
    ids = []
    for k in range(66):  # traders 0 and 1 bid, 2 and 3 offer, from 8 meters each
        (buyer, home), (seller, solar) = many_meters[k % 8], many_meters[8 + k % 8]
        ids.append(auction.place(home, hour, hour, 1, 2 * P, True, sender=buyer))
        ids.append(auction.place(solar, hour, hour, 1, P, False, sender=seller))
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, P)
    assert not auction.deliver(hour, ids)
    assert len(events(auction, "DealMade")) == 64
    assert not auction.delivered(hour)
    assert auction.deliver(hour, ids)
    assert len(events(auction, "DealMade")) == 2
    assert exchange.deal_count() == 66
    assert wallet.balanceOf(exchange.address) == 66 * P


def test_marginal_bids_pair_after_the_full_ones(
    auction, exchange, wallet, traders, trader_meters, hour
):
    """A bid above the price fills 5 Wh; two bids of 3 Wh at it share the 2 Wh left
    of the 7 offered, floor(3 x 2 / 6) = 1 each: deals of 5, 1 and 1 Wh."""
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour, 5, 2 * P, True),
        place(auction, traders, trader_meters, 1, hour, hour, 3, P, True),
        place(auction, traders, trader_meters, 4, hour, hour, 3, P, True),
        place(auction, traders, trader_meters, 2, hour, hour, 7, P, False),
    ]
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, P)
    assert [auction.fill(i, hour) for i in ids] == [5, 1, 1, 7]
    auction.deliver(hour, ids)
    assert [e.wh for e in events(auction, "DealMade")] == [5, 1, 1]
    assert events(auction, "FillRefunded") == []
    assert wallet.balanceOf(exchange.address) == 7 * P


def test_offer_fills_beyond_the_bought_wh_are_not_sold(
    auction, exchange, traders, trader_meters, hour
):
    """Three bids of 1 Wh at the price share 2 Wh offered: floor(1 x 2 / 3) = 0 each.
    The offer filled 2 Wh that no bid bought: no deal, nothing sold."""
    ids = [place(auction, traders, trader_meters, i, hour, hour, 1, P, True) for i in (0, 1, 4)]
    ids.append(place(auction, traders, trader_meters, 2, hour, hour, 2, P, False))
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, P)
    assert [auction.fill(i, hour) for i in ids] == [0, 0, 0, 2]
    assert auction.deliver(hour, ids)
    assert exchange.deal_count() == 0
    assert exchange.sold_wh(trader_meters[2], hour) == 0


def test_bid_fills_left_unpaired_come_back_as_credit(
    auction, exchange, wallet, traders, trader_meters, hour
):
    """Offers at the price split 4 Wh bid above it: two offers of 3 Wh fill floor(3 x
    4 / 6) = 2 each, 4 sold; bids above fill 4: all paired. With three offers of
    3 Wh at the price, each fills floor(3 x 4 / 9) = 1: 3 sold, and the 4th bought
    Wh pairs with nothing: its payment is credited back to the last bidder."""
    ids = [
        place(auction, traders, trader_meters, 0, hour, hour, 2, 2 * P, True),
        place(auction, traders, trader_meters, 1, hour, hour, 2, 2 * P, True),
        place(auction, traders, trader_meters, 2, hour, hour, 3, P, False),
        place(auction, traders, trader_meters, 3, hour, hour, 3, P, False),
        place(auction, traders, trader_meters, 4, hour, hour, 3, P, False),
    ]
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, P)
    assert [auction.fill(i, hour) for i in ids] == [2, 2, 1, 1, 1]
    auction.deliver(hour, ids)
    assert [(e.buyer, e.seller, e.wh) for e in events(auction, "DealMade")] == [
        (traders[0], traders[2], 1),
        (traders[0], traders[3], 1),
        (traders[1], traders[4], 1),
    ]
    refunded = only_event(auction, "FillRefunded")
    assert (refunded.order_id, refunded.wh, refunded.refund) == (ids[1], 1, P)
    assert auction.credit_of(traders[1]) == P
    for bid in ids[:2]:
        auction.release(bid, 1)  # limit 2 P, price P: P a Wh back on each filled Wh
    # Escrow 8 P in: 3 P to the Exchange, 5 P credited back, nothing left over.
    assert wallet.balanceOf(exchange.address) == 3 * P
    assert auction.credit_of(traders[0]) + auction.credit_of(traders[1]) == 5 * P
    assert wallet.balanceOf(auction.address) == 5 * P


def test_delivering_twice_is_refused(auction, crossed, hour):
    auction.deliver(hour, crossed)
    with boa.reverts("auction: interval already delivered"):
        auction.deliver(hour, crossed)


def test_delivering_another_pairing_is_refused(auction, crossed, hour):
    with boa.reverts("auction: book does not match the orders placed"):
        auction.deliver(hour, [crossed[1], crossed[0], crossed[2], crossed[3]])
    with boa.reverts("auction: book does not hold every order"):
        auction.deliver(hour, crossed[:3])
    with boa.reverts("auction: book does not match the orders placed"):
        auction.deliver(hour, [crossed[0], crossed[0], crossed[2], crossed[3]])


def test_delivering_before_the_clearing_is_refused(auction, traders, trader_meters, hour):
    ids = [place(auction, traders, trader_meters, 0, hour, hour, 1, P, True)]
    with boa.reverts("auction: interval not cleared yet"):
        auction.deliver(hour, ids)


def test_a_keeper_who_waits_it_out_delivers_nothing_and_bidders_get_their_fills_back(
    auction, exchange, wallet, traders, crossed, hour
):
    advance_to(hour)
    assert auction.deliver(hour, crossed)
    assert events(auction, "DealMade") == []
    assert exchange.deal_count() == 0
    refunds = {(e.order_id, e.wh, e.refund) for e in events(auction, "FillRefunded")}
    assert refunds == {(crossed[0], 100, 100 * 2 * P), (crossed[1], 100, 100 * 2 * P)}
    assert auction.credit_of(traders[0]) == 100 * 2 * P
    assert wallet.balanceOf(exchange.address) == 0


def test_a_delivery_half_made_when_the_interval_begins_pays_the_rest_back(
    auction, exchange, wallet, many_meters, hour
):
    ids = []
    for k in range(66):  # traders 0 and 1 bid, 2 and 3 offer, from 8 meters each
        (buyer, home), (seller, solar) = many_meters[k % 8], many_meters[8 + k % 8]
        ids.append(auction.place(home, hour, hour, 1, 2 * P, True, sender=buyer))
        ids.append(auction.place(solar, hour, hour, 1, P, False, sender=seller))
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, P)
    auction.deliver(hour, ids)
    advance_to(hour)
    assert auction.deliver(hour, ids)
    assert sum(e.refund for e in events(auction, "FillRefunded")) == 2 * P
    assert wallet.balanceOf(exchange.address) == 64 * P


def test_a_cancelled_interval_makes_no_deal(auction, exchange, traders, trader_meters, hour):
    bid = place(auction, traders, trader_meters, 0, hour, hour + INTERVAL, 100, 2 * P, True)
    offer = place(auction, traders, trader_meters, 2, hour, hour + INTERVAL, 100, P, False)
    auction.cancel(offer, hour + INTERVAL, sender=traders[2])
    advance_to(hour + INTERVAL - LEAD_TIME)
    auction.clear(hour + INTERVAL, [bid, offer], 2 * P)
    assert auction.deliver(hour + INTERVAL, [bid, offer])
    assert events(auction, "DealMade") == []
    assert exchange.deal_count() == 0


def test_a_meter_handed_on_after_placing_still_delivers_to_the_makers(
    auction, exchange, smb, traders, trader_meters, crossed, hour
):
    """The deal names the makers; the Exchange pays the owner of the seller meter
    during the interval, as it does for its own deals (see Exchange.settle)."""
    newcomer = boa.env.generate_address("newcomer")
    smb.offer_meter(trader_meters[3], newcomer, sender=traders[3])
    smb.accept_meter(trader_meters[3], 0, sender=newcomer)
    assert auction.deliver(hour, crossed)
    assert [e.seller for e in events(auction, "DealMade")][1:] == [traders[3], traders[3]]


def test_a_meters_new_owner_may_cancel_the_previous_owners_orders(
    auction, smb, traders, trader_meters, hour
):
    offer = place(auction, traders, trader_meters, 2, hour, hour + INTERVAL, 100, P, False)
    newcomer = boa.env.generate_address("newcomer")
    with boa.reverts("auction: caller is not the maker"):
        auction.cancel(offer, hour, sender=newcomer)
    smb.offer_meter(trader_meters[2], newcomer, sender=traders[2])
    smb.accept_meter(trader_meters[2], 0, sender=newcomer)
    auction.cancel(offer, hour, sender=newcomer)
    assert auction.order(offer).last < auction.order(offer).first


# PLACING: what keeps a delivery from failing


def test_an_offer_beyond_the_meters_capacity_is_refused(auction, traders, trader_meters, hour):
    with boa.reverts("auction: selling beyond the meter's capacity"):
        place(auction, traders, trader_meters, 2, hour, hour, 6_001, P, False)  # 6 kW, 1 h
    place(auction, traders, trader_meters, 2, hour, hour, 6_000, P, False)


def test_orders_need_a_meter_of_their_side(auction, smb, installer, hour):
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

    owner = boa.env.generate_address("one-sided")
    producer, consumer = meter_id_for("only-produces"), meter_id_for("only-consumes")
    for meter, kind, capacity, tech, fuel in (
        (producer, PRODUCTION, CAPACITY_W, SOLAR_TECH, SOLAR_FUEL),
        (consumer, CONSUMPTION, 0, "", ""),
    ):
        key = boa.env.generate_address(f"key-{kind}")
        smb.register_meter(
            meter, key, owner, SECTOR, tech, fuel, capacity, CONNECTION_W, kind,
            sender=installer,
        )  # fmt: skip
        smb.accept_meter(meter, 0, sender=owner)
    with boa.reverts("auction: meter does not consume"):
        auction.place(producer, hour, hour, 1, P, True, sender=owner)
    with boa.reverts("auction: meter does not produce"):
        auction.place(consumer, hour, hour, 1, P, False, sender=owner)


def test_a_full_book_refuses_the_next_order(auction, smb, installer, traders, hour):
    """A book clear cannot take (more than 2,000 orders) would lock every bid's escrow."""
    meters = register_meters(smb, installer, traders[2], "full-book", 126)
    last = hour + 99 * INTERVAL
    for meter in meters[:20]:  # 20 x 100 orders
        auction.place(meter, hour, last, 1, P, False, sender=traders[2])
    for k, meter in enumerate(meters[:125]):
        for _ in range(15 if k < 20 else 16):
            auction.place(meter, hour, hour, 1, P, False, sender=traders[2])
    with boa.reverts("auction: the interval's book is full"):
        auction.place(meters[125], hour, hour, 1, P, False, sender=traders[2])
    auction.place(meters[125], hour + INTERVAL, hour + INTERVAL, 1, P, False, sender=traders[2])


def test_one_meter_cannot_fill_a_book(auction, traders, trader_meters, hour):
    """An offer escrows nothing: one meter's 2,000 orders of 1 Wh filled an hour's
    book alone, and every standing order spanning that hour was refused whole."""
    for _ in range(16):  # a standing order over hour and the next counts in both
        place(auction, traders, trader_meters, 2, hour, hour + INTERVAL, 1, P, False)
    for begin in (hour, hour + INTERVAL):
        with boa.reverts("auction: the meter has too many orders in the interval"):
            place(auction, traders, trader_meters, 2, begin, begin, 1, P, False)
        with boa.reverts("auction: the meter has too many orders in the interval"):
            place(auction, traders, trader_meters, 2, begin, begin, 1, P, True)  # a bid too
    week = hour + 167 * INTERVAL
    with boa.reverts("auction: the meter has too many orders in the interval"):
        place(auction, traders, trader_meters, 2, hour, week, 1, P, False)
    place(auction, traders, trader_meters, 2, hour + 2 * INTERVAL, week, 1, P, False)
    place(
        auction, traders, trader_meters, 3, hour, week, 100, P, True
    )  # another meter, the same hours


# RE-ENTRANCY AND ROLES


def test_only_the_auction_makes_auction_deals(
    auction, exchange, deployer, traders, trader_meters, hour
):
    deal = (traders[2], traders[0], trader_meters[2], trader_meters[0], hour, 1, P)
    for caller in (deployer, traders[0], traders[2], boa.env.generate_address("stranger")):
        with boa.reverts("exchange: caller is not the auction"):
            exchange.make_auction_deals([deal], sender=caller)


def test_only_the_admin_wires_the_auction_once(auction, exchange, deployer, traders):
    with boa.reverts("exchange: caller is not the admin"):
        exchange.wire_auction(traders[0], sender=traders[0])
    with boa.reverts("exchange: auction already wired"):
        exchange.wire_auction(auction.address, sender=deployer)
    assert exchange.auction() == auction.address
    assert exchange.admin() == deployer


def test_a_fresh_exchange_refuses_an_account_as_its_auction(
    exchange_deployer, wallet, smb, registry, ob, deployer, traders
):
    fresh = exchange_deployer.deploy(
        wallet.address, smb.address, registry.address, ob.address, LEAD_TIME, TIMEOUT,
        sender=deployer,
    )  # fmt: skip
    with boa.reverts("exchange: the auction is not a contract"):
        fresh.wire_auction(traders[0], sender=deployer)
    with boa.reverts("exchange: caller is not the auction"):
        fresh.make_auction_deals([], sender=traders[0])


def test_the_exchange_takes_no_auction_deal_once_the_interval_began(
    auction, exchange, traders, trader_meters, hour
):
    deal = (traders[2], traders[0], trader_meters[2], trader_meters[0], hour, 1, P)
    advance_to(hour)
    with boa.reverts("exchange: the interval has begun"):
        exchange.make_auction_deals([deal], sender=auction.address)


# GAS: a 2,000-order hour stays deliverable


def test_a_late_delivery_pays_back_at_most_256_fills_a_call(
    auction, wallet, smb, installer, deployer, traders, trader_meters, hour
):
    """Paying back every unpaired fill in one call cost about 34,000 gas a bidder
    (a fresh credit slot, the maker's cold read, the event): a 2,000-order hour
    took 68 million gas once it had begun, past any block, and its bids'
    payments stayed in the Auction for good. Now 256 a call, going on."""
    ids, bidders = [], []
    for i in range(300):
        who = boa.env.generate_address(f"late-bidder-{i}")
        bidders.append(who)
        meter = meter_id_for(f"late-bidder-meter-{i}")
        key = boa.env.generate_address(f"late-bidder-key-{i}")
        smb.register_meter(
            meter, key, who, SECTOR, "", "", 0, CONNECTION_W, CONSUMPTION, sender=installer
        )
        smb.accept_meter(meter, 0, sender=who)
        wallet.transfer(who, 2 * P, sender=deployer)
        wallet.approve(auction.address, 2 * P, sender=who)
        ids.append(auction.place(meter, hour, hour, 1, 2 * P, True, sender=who))
    ids.append(place(auction, traders, trader_meters, 2, hour, hour, 300, P, False))
    advance_to(hour - LEAD_TIME)
    auction.clear(hour, ids, P)
    advance_to(hour)
    held = wallet.balanceOf(auction.address)
    assert not auction.deliver(hour, ids)
    assert len(events(auction, "FillRefunded")) == 256
    assert auction._computation.get_gas_used() < 2**24  # EIP-7825's cap on one transaction
    assert not auction.delivered(hour)
    assert auction.deliver(hour, ids)
    assert len(events(auction, "FillRefunded")) == 44
    assert events(auction, "DealMade") == []
    with boa.reverts("auction: interval already delivered"):
        auction.deliver(hour, ids)
    assert {auction.credit_of(b) for b in bidders} == {P}
    assert wallet.balanceOf(auction.address) == held

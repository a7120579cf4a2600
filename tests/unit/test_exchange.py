"""Exchange.vy: offers, bids, takes, gate closure, escrow, and settlement from the meter."""

from functools import partial

import boa
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.fixtures.exchange import LEAD_TIME, PRICE, TIMEOUT
from tests.fixtures.meters import CAPACITY_W, CONNECTION_W, INTERVAL, grid_time
from tests.fixtures.registry import certificate_id
from tests.helpers import made_deal, only_event

DEAL_TYPE = "(uint256,address,address,bytes32,bytes32,uint256,uint256,uint256,bool)"

# deadline, v, r, s of a permit that cannot be valid: bids fall back on the allowance.
UNUSABLE_PERMIT = (0, 27, b"\x01" * 32, b"\x01" * 32)


@pytest.fixture
def offer(exchange, solar_meter, delivery_hour, alice):
    """Alice offers 3,000 Wh of her solar meter for the delivery hour."""
    return exchange.offer(solar_meter, delivery_hour, 3_000, PRICE, sender=alice)


def test_offer_is_placed(exchange, solar_meter, delivery_hour, alice):
    order_id = exchange.offer(solar_meter, delivery_hour, 3_000, PRICE, sender=alice)
    event = only_event(exchange, "OrderPlaced")
    assert (event.order_id, event.maker, event.interval_begin) == (order_id, alice, delivery_hour)
    assert (event.wh, event.price, event.is_bid) == (3_000, PRICE, False)
    assert exchange.orders(order_id).open
    assert exchange.committed_wh(solar_meter, delivery_hour) == 3_000


@pytest.mark.parametrize(
    ("who", "meter", "wh", "hours_ahead", "reason"),
    [
        ("bob", "solar", 1, 3, "exchange: caller is not the meter owner"),
        ("bob", "household", 1, 3, "exchange: meter does not produce"),
        ("alice", "solar", CAPACITY_W + 1, 3, "exchange: selling beyond the meter's capacity"),
        ("alice", "solar", 0, 3, "exchange: amount and price must be positive"),
        ("alice", "solar", 1, 1, "exchange: gate closed for this interval"),
    ],
)
def test_offer_reverts(
    exchange, solar_meter, household_meter, actors, who, meter, wh, hours_ahead, reason
):
    meter_id = solar_meter if meter == "solar" else household_meter
    with boa.reverts(reason):
        exchange.offer(meter_id, grid_time(hours_ahead), wh, PRICE, sender=actors[who])


def test_offer_reverts_off_grid(exchange, solar_meter, delivery_hour, alice):
    with boa.reverts("exchange: interval not on the grid"):
        exchange.offer(solar_meter, delivery_hour + 60, 1, PRICE, sender=alice)


def test_offers_together_stay_within_capacity(exchange, solar_meter, delivery_hour, alice):
    exchange.offer(solar_meter, delivery_hour, CAPACITY_W - 100, PRICE, sender=alice)
    with boa.reverts("exchange: selling beyond the meter's capacity"):
        exchange.offer(solar_meter, delivery_hour, 101, PRICE, sender=alice)


def test_bid_escrows_tokens(exchange, wallet, household_meter, delivery_hour, bob):
    before = wallet.balanceOf(bob)
    exchange.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    assert wallet.balanceOf(bob) == before - 1_000 * PRICE
    assert wallet.balanceOf(exchange.address) == 1_000 * PRICE


def test_bid_reverts_for_a_foreign_meter(
    exchange, solar_meter, household_meter, delivery_hour, alice
):
    with boa.reverts("exchange: caller is not the meter owner"):
        exchange.bid(household_meter, delivery_hour, 1, PRICE, False, sender=alice)


def test_take_offer_makes_a_deal(
    exchange, wallet, offer, household_meter, solar_meter, delivery_hour, alice, bob
):
    deal_id = exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    event = only_event(exchange, "DealMade")
    assert (event.deal_id, event.order_id, event.seller, event.buyer) == (
        deal_id,
        offer,
        alice,
        bob,
    )
    assert (event.seller_meter, event.buyer_meter, event.interval_begin) == (
        solar_meter,
        household_meter,
        delivery_hour,
    )
    assert (event.wh, event.price, event.retire) == (1_000, PRICE, False)
    terms = made_deal(exchange)[1]
    assert exchange.deal_hash(deal_id) == keccak(encode([DEAL_TYPE], [terms]))
    assert not exchange.is_settled(deal_id)
    assert exchange.orders(offer).wh == 2_000
    assert exchange.orders(offer).open
    assert exchange.sold_wh(solar_meter, delivery_hour) == 1_000
    assert wallet.balanceOf(exchange.address) == 1_000 * PRICE


def test_take_all_closes_the_order(exchange, offer, household_meter, bob):
    exchange.take(offer, 3_000, PRICE, 0, household_meter, sender=bob)
    assert not exchange.orders(offer).open


def test_take_bid_as_seller(exchange, household_meter, solar_meter, delivery_hour, alice, bob):
    bid = exchange.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    exchange.take(bid, 400, PRICE, 0, solar_meter, sender=alice)
    event = only_event(exchange, "DealMade")
    assert (event.seller, event.buyer, event.wh) == (alice, bob, 400)
    assert (event.seller_meter, event.buyer_meter) == (solar_meter, household_meter)
    assert exchange.committed_wh(solar_meter, delivery_hour) == 400


def test_take_at_stale_version_reverts(exchange, offer, household_meter, alice, bob):
    exchange.amend(offer, 3_000, PRICE * 2, sender=alice)
    with boa.reverts("exchange: order changed since it was seen"):
        exchange.take(offer, 1, PRICE, 0, household_meter, sender=bob)
    with boa.reverts("exchange: order changed since it was seen"):
        exchange.take(offer, 1, PRICE * 2, 0, household_meter, sender=bob)
    exchange.take(offer, 1, PRICE * 2, 1, household_meter, sender=bob)


def test_take_after_gate_closure_reverts(exchange, offer, household_meter, delivery_hour, bob):
    boa.env.time_travel(seconds=delivery_hour - LEAD_TIME - boa.env.evm.patch.timestamp)
    with boa.reverts("exchange: gate closed for this interval"):
        exchange.take(offer, 1, PRICE, 0, household_meter, sender=bob)


@pytest.mark.parametrize(
    ("wh", "taker", "reason"),
    [
        (3_001, "bob", "exchange: taking more than is open"),
        (0, "bob", "exchange: amount must be positive"),
        (1, "alice", "exchange: cannot take one's own order"),
    ],
)
def test_take_reverts(exchange, offer, household_meter, solar_meter, actors, wh, taker, reason):
    with boa.reverts(reason):
        exchange.take(
            offer,
            wh,
            PRICE,
            0,
            household_meter if taker == "bob" else solar_meter,
            sender=actors[taker],
        )


def test_cancel_bid_returns_escrow_at_once(exchange, wallet, household_meter, delivery_hour, bob):
    before = wallet.balanceOf(bob)
    bid = exchange.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    exchange.cancel(bid, sender=bob)
    assert (only_event(exchange, "OrderCancelled").refund) == 1_000 * PRICE
    assert wallet.balanceOf(bob) == before
    assert wallet.balanceOf(exchange.address) == 0


def test_cancel_offer_frees_capacity(exchange, offer, solar_meter, delivery_hour, alice, bob):
    with boa.reverts("exchange: caller is not the maker"):
        exchange.cancel(offer, sender=bob)
    exchange.cancel(offer, sender=alice)
    assert exchange.committed_wh(solar_meter, delivery_hour) == 0
    with boa.reverts("exchange: order is not open"):
        exchange.cancel(offer, sender=alice)


def test_settle_full_delivery_pays_and_hands_over_certificates(
    exchange,
    registry,
    wallet,
    offer,
    household_meter,
    solar_meter,
    delivery_hour,
    deliver,
    alice,
    bob,
):
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    deliver(delivery_hour, 2_500)
    exchange.settle(*deal)
    event = only_event(exchange, "DealSettled")
    assert (event.delivered_wh, event.payment, event.refund) == (1_000, 1_000 * PRICE, 0)
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.balanceOf(bob, cert) == 1_000
    assert registry.balanceOf(alice, cert) == 1_500
    assert registry.balanceOf(exchange.address, cert) == 0
    assert exchange.credit_of(alice) == 1_000 * PRICE
    exchange.withdraw_credit(sender=alice)
    assert wallet.balanceOf(alice) == 1_000 * PRICE
    assert wallet.balanceOf(exchange.address) == 0


def test_settle_short_delivery_is_pro_rata_and_floored(
    exchange, registry, household_meter, solar_meter, delivery_hour, deliver, alice, bob
):
    deals = []
    for _ in range(3):
        order_id = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
        exchange.take(order_id, 1_000, PRICE, 0, household_meter, sender=bob)
        deals.append(made_deal(exchange))
    deliver(delivery_hour, 1_000)  # sold 3,000 Wh, produced 1,000
    exchange.settle_many(deals)
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.balanceOf(bob, cert) == 999  # 3 x floor(1,000 x 1,000 / 3,000)
    assert registry.balanceOf(alice, cert) == 1  # the floored Wh stay with the seller
    assert exchange.credit_of(alice) == 999 * PRICE
    assert exchange.credit_of(bob) == 3 * 1_000 * PRICE - 999 * PRICE
    assert exchange.delivered_sold_wh(solar_meter, delivery_hour) == 999


def test_settle_before_measurement_reverts(exchange, offer, household_meter, bob):
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    with boa.reverts("exchange: no measurement yet for this interval"):
        exchange.settle(*deal)


def test_settle_without_measurement_after_timeout_refunds(
    exchange, offer, household_meter, delivery_hour, bob
):
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    boa.env.time_travel(seconds=delivery_hour + INTERVAL + TIMEOUT - boa.env.evm.patch.timestamp)
    exchange.settle(*deal)
    assert only_event(exchange, "DealSettled").refund == 1_000 * PRICE
    assert exchange.credit_of(bob) == 1_000 * PRICE


def test_settle_twice_reverts(exchange, offer, household_meter, delivery_hour, deliver, bob):
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    deliver(delivery_hour, 2_500)
    exchange.settle(*deal)
    assert exchange.is_settled(deal[0])
    assert exchange.deal_hash(deal[0]) == exchange.SETTLED()
    with boa.reverts("exchange: deal already settled"):
        exchange.settle(*deal)
    with boa.reverts("exchange: unknown deal"):
        exchange.settle(deal[0] + 1, deal[1])


@pytest.mark.parametrize("field", range(9))
def test_settle_with_altered_terms_reverts(
    exchange, offer, household_meter, delivery_hour, deliver, carol, bob, field
):
    """Terms are checked against the stored hash: a settler cannot pay itself,
    inflate the Wh or move the price."""
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal_id, terms = made_deal(exchange)
    deliver(delivery_hour, 2_500)
    altered = list(terms)
    original = altered[field]
    if isinstance(original, bool):
        altered[field] = not original
    elif isinstance(original, int):
        altered[field] = original + 1
    elif isinstance(original, bytes):
        altered[field] = bytes(32 - len(original)) + b"\x01" if original != b"\x01" else b"\x02"
    else:
        altered[field] = carol
    with boa.reverts("exchange: these are not the deal's terms"):
        exchange.settle(deal_id, tuple(altered))


def test_retire_on_delivery_when_approved(
    exchange,
    registry,
    smb,
    sign,
    household_meter,
    solar_meter,
    delivery_hour,
    deliver,
    household_key,
    alice,
    bob,
):
    from tests.fixtures.meters import advance_to

    registry.setApprovalForAll(exchange.address, True, sender=bob)
    bid = exchange.bid(household_meter, delivery_hour, 500, PRICE, True, sender=bob)
    exchange.take(bid, 500, PRICE, 0, solar_meter, sender=alice)
    deal = made_deal(exchange)
    advance_to(delivery_hour)
    smb.submit_reading(*sign(household_key, household_meter, delivery_hour, 0, 0).contract_args())
    deliver(delivery_hour, 2_000)
    smb.submit_reading(
        *sign(household_key, household_meter, delivery_hour + INTERVAL, 800, 0).contract_args()
    )
    exchange.settle(*deal)
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.retired_against(household_meter, delivery_hour) == 500
    # Issue 12, item 10: the buyer is the claimant, not the Exchange.
    assert registry.claimedBalanceOf(bob, cert) == 500
    assert registry.claimedBalanceOf(exchange.address, cert) == 0
    assert registry.balanceOf(bob, cert) == 0


def test_only_registry_certificates_are_accepted(exchange, alice):
    with boa.reverts("exchange: only certificates of the registry"):
        exchange.onERC1155Received(alice, alice, 1, 1, b"", sender=alice)


def test_bid_with_permit_needs_no_approval(
    exchange, wallet, smb, installer, delivery_hour, deployer
):
    from openkwh.chain import permit_typed_data
    from tests.fixtures.accounts import keyed_account
    from tests.fixtures.meters import SECTOR, meter_id_for
    from tests.fixtures.wallet import NAME

    buyer = keyed_account("permit-buyer")
    meter = meter_id_for("permit-buyer-home")
    smb.register_meter(
        meter,
        keyed_account("permit-home").address,
        buyer.address,
        SECTOR,
        "",
        "",
        0,
        CONNECTION_W,
        2,
        sender=installer,
    )
    smb.accept_meter(meter, 0, sender=buyer.address)
    wallet.transfer(buyer.address, 10**18, sender=deployer)
    deadline = boa.env.evm.patch.timestamp + 3_600
    data = permit_typed_data(
        NAME,
        buyer.address,
        str(exchange.address),
        100 * PRICE,
        0,
        deadline,
        boa.env.evm.patch.chain_id,
        str(wallet.address),
    )
    signed = buyer.sign_typed_data(full_message=data)
    order_id = exchange.bid_with_permit(
        meter,
        delivery_hour,
        100,
        PRICE,
        False,
        deadline,
        signed.v,
        signed.r.to_bytes(32),
        signed.s.to_bytes(32),
        sender=buyer.address,
    )
    assert exchange.orders(order_id).maker == buyer.address
    assert wallet.balanceOf(exchange.address) == 100 * PRICE
    assert wallet.allowance(buyer.address, exchange.address) == 0


def test_bid_with_bad_permit_and_no_allowance_reverts(
    exchange, wallet, household_meter, delivery_hour, bob
):
    wallet.approve(exchange.address, 0, sender=bob)
    with boa.reverts("exchange: permit failed and allowance is short"):
        exchange.bid_with_permit(
            household_meter,
            delivery_hour,
            100,
            PRICE,
            False,
            *UNUSABLE_PERMIT,
            sender=bob,
        )


def test_bid_with_permit_when_allowance_is_there(
    exchange, wallet, household_meter, delivery_hour, bob
):
    order_id = exchange.bid_with_permit(
        household_meter,
        delivery_hour,
        100,
        PRICE,
        False,
        *UNUSABLE_PERMIT,
        sender=bob,
    )
    assert exchange.orders(order_id).is_bid
    assert wallet.balanceOf(exchange.address) == 100 * PRICE


def test_order_book_lists_an_interval_s_open_orders_newest_first(
    exchange, solar_meter, household_meter, delivery_hour, alice, bob
):
    first = exchange.offer(solar_meter, delivery_hour, 100, PRICE, sender=alice)
    other_hour = exchange.offer(solar_meter, delivery_hour + INTERVAL, 100, PRICE, sender=alice)
    bid = exchange.bid(household_meter, delivery_hour, 100, PRICE, False, sender=bob)
    cancelled = exchange.offer(solar_meter, delivery_hour, 100, PRICE, sender=alice)
    exchange.cancel(cancelled, sender=alice)
    assert exchange.order_book(delivery_hour, 0) == ([bid, first], 0)
    assert exchange.order_book(delivery_hour + INTERVAL, 0) == ([other_hour], 0)
    assert exchange.order_book(delivery_hour + 2 * INTERVAL, 0) == ([], 0)
    assert exchange.orders_of(alice, 0) == ([cancelled, other_hour, first], 0)
    assert exchange.orders_of(bob, 0) == ([bid], 0)


@pytest.mark.parametrize("closed", [0, 1, 2])  # the oldest, a middle one, the newest
@pytest.mark.parametrize("how", ["cancel", "take"])
def test_an_order_leaves_the_book_from_any_place_when_it_closes(
    exchange, solar_meter, household_meter, delivery_hour, alice, bob, closed, how
):
    orders = [
        exchange.offer(solar_meter, delivery_hour, 100, PRICE, sender=alice) for _ in range(3)
    ]
    if how == "cancel":
        exchange.cancel(orders[closed], sender=alice)
    else:
        exchange.take(orders[closed], 100, PRICE, 0, household_meter, sender=bob)
    rest = [order for order in reversed(orders) if order != orders[closed]]
    assert exchange.order_book(delivery_hour, 0) == (rest, 0)
    exchange.take(orders[(closed + 1) % 3], 40, PRICE, 0, household_meter, sender=bob)  # partly
    assert exchange.order_book(delivery_hour, 0) == (rest, 0)
    for order in rest:
        exchange.cancel(order, sender=alice)
    assert exchange.order_book(delivery_hour, 0) == ([], 0)
    again = exchange.offer(solar_meter, delivery_hour, 100, PRICE, sender=alice)
    assert exchange.order_book(delivery_hour, 0) == ([again], 0)


def test_spam_placed_and_cancelled_does_not_push_a_book_away(
    exchange, solar_meter, household_meter, delivery_hour, alice, bob
):
    """Issue 12, item 16: the book scanned all order ids 256 at a time, so free
    place-and-cancel spam of 1 Wh bids pushed an interval's real orders pages away."""
    real = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    for _ in range(300):
        spam = exchange.bid(household_meter, delivery_hour, 1, 1, False, sender=bob)
        exchange.cancel(spam, sender=bob)
    assert exchange.order_book(delivery_hour, 0) == ([real], 0)
    assert exchange.orders_of(alice, 0) == ([real], 0)


def test_pages_follow_the_cursor(exchange, solar_meter, delivery_hour, alice):
    orders = [
        exchange.offer(solar_meter, delivery_hour, 1, PRICE, sender=alice) for _ in range(300)
    ]
    page, cursor = exchange.order_book(delivery_hour, 0)
    rest, end = exchange.order_book(delivery_hour, cursor)
    assert (len(page), end) == (256, 0)
    assert page + rest == list(reversed(orders))
    mine, cursor = exchange.orders_of(alice, 0)
    assert mine + exchange.orders_of(alice, cursor)[0] == list(reversed(orders))
    stranger = "0x" + "11" * 20
    with boa.reverts("exchange: the cursor is not one of the maker's orders"):
        exchange.orders_of(stranger, cursor)


def test_deal_made_indexes_both_parties(exchange, offer, household_meter, alice, bob):
    """A participant's deals are found by filtering DealMade logs on seller or buyer."""
    exchange.take(offer, 10, PRICE, 0, household_meter, sender=bob)
    inputs = {item["name"]: item for item in exchange.abi if item.get("name") == "DealMade"}
    indexed = [field["name"] for field in inputs["DealMade"]["inputs"] if field["indexed"]]
    assert indexed == ["deal_id", "seller", "buyer"]


@pytest.mark.parametrize("caller", ["deployer", "bob", "carol"])
@pytest.mark.parametrize("change", ["amend", "cancel"])
def test_only_the_maker_changes_an_order(exchange, offer, actors, caller, change):
    call = (
        partial(exchange.amend, offer, 1, PRICE)
        if change == "amend"
        else partial(exchange.cancel, offer)
    )
    with boa.reverts("exchange: caller is not the maker"):
        call(sender=actors[caller])

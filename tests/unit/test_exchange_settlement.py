"""Exchange.vy settlement at the edges, and the operator netting traded Wh out."""

from pathlib import Path

import boa
import pytest

from tests.fixtures.exchange import LEAD_TIME, PRICE, TIMEOUT
from tests.fixtures.meters import CONNECTION_W, INTERVAL, SECTOR, advance_to, meter_id_for
from tests.fixtures.registry import certificate_id
from tests.helpers import made_deal, only_event, reverts_in_callee

TEST_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
REVERT, BURN_GAS = 2, 4  # GriefingWallet moods


@pytest.fixture
def consume(smb, sign, household_key, household_meter):
    """Records the household meter's consumption of ``begin``'s interval (time must be past it)."""

    def consume_(begin, consumed):
        smb.submit_reading(*sign(household_key, household_meter, begin, 0, 0).contract_args())
        smb.submit_reading(
            *sign(household_key, household_meter, begin + INTERVAL, consumed, 0).contract_args()
        )

    return consume_


@pytest.fixture
def sold(exchange, solar_meter, household_meter, delivery_hour, alice, bob):
    """Bob bought 1,000 Wh of Alice's solar meter for the delivery hour; the deal id."""
    offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    return made_deal(exchange)


def settle_interval(ob, smb, meter, begin):
    ob.settle(smb.address, meter, begin)
    return only_event(ob, "IntervalSettled")


def test_operator_waits_for_the_deals_then_nets_them_out(
    exchange, ob, smb, sold, solar_meter, household_meter, delivery_hour, deliver, consume
):
    assert ob.is_traded(smb.address, solar_meter, delivery_hour)
    assert ob.is_traded(smb.address, household_meter, delivery_hour)
    deliver(delivery_hour, 2_500)
    consume(delivery_hour, 1_800)
    for meter in (solar_meter, household_meter):
        with boa.reverts("operator: interval has unsettled deals"):
            ob.settle(smb.address, meter, delivery_hour)
    exchange.settle(*sold)
    assert exchange.position(solar_meter, delivery_hour) == (1_000, 0, 0)
    assert exchange.position(household_meter, delivery_hour) == (0, 1_000, 0)
    assert settle_interval(ob, smb, solar_meter, delivery_hour).feed_in_wh == 1_500
    assert settle_interval(ob, smb, household_meter, delivery_hour).retail_wh == 800


def test_the_exchanges_backend_is_still_netted_after_its_trust_lapsed_and_came_back(
    exchange, ob, smb, sold, solar_meter, delivery_hour, deliver, operator
):
    """Whether a backend's trades are netted is a flag beside its trust window
    (one read per settlement): trusting the backend anew must keep it."""
    ob.announce_backend_trust(smb.address, False, sender=operator)
    boa.env.time_travel(seconds=ob.notice_period())
    ob.announce_backend_trust(smb.address, True, sender=operator)
    boa.env.time_travel(seconds=ob.notice_period())
    deliver(delivery_hour, 2_500)
    with boa.reverts("operator: interval has unsettled deals"):
        ob.settle(smb.address, solar_meter, delivery_hour)
    exchange.settle(*sold)
    assert settle_interval(ob, smb, solar_meter, delivery_hour).feed_in_wh == 1_500


def test_a_batch_settles_the_hours_it_can_and_skips_one_whose_deals_are_open(
    exchange, ob, smb, sold, solar_meter, household_meter, delivery_hour, deliver, consume
):
    """From the review of issue 12: one traded hour whose deals were not settled
    made the operator's whole settle_many revert."""
    deliver(delivery_hour, 2_500)
    consume(delivery_hour, 1_800)
    batch = [(solar_meter, delivery_hour), (household_meter, delivery_hour)]
    assert ob.settle_many(smb.address, batch) == 0  # both wait for the deal
    exchange.settle(*sold)
    assert ob.settle_many(smb.address, batch) == 2
    assert ob.is_settled(smb.address, solar_meter, delivery_hour)


def test_operator_rewards_the_wh_lost_to_flooring(
    exchange, ob, smb, solar_meter, household_meter, delivery_hour, deliver, alice, bob
):
    deals = []
    for _ in range(3):
        offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
        exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
        deals.append(made_deal(exchange))
    deliver(delivery_hour, 1_000)
    exchange.settle_many(deals)
    # 999 Wh paid by Bob, 1 Wh (and its certificate) left to the seller and the operator.
    assert settle_interval(ob, smb, solar_meter, delivery_hour).feed_in_wh == 1


def test_untraded_hours_of_a_trading_meter_settle_in_full(
    exchange, ob, smb, sold, solar_meter, delivery_hour, deliver
):
    deliver(delivery_hour + INTERVAL, 700)  # the next hour: baseline, then its measurement
    assert not ob.is_traded(smb.address, solar_meter, delivery_hour + INTERVAL)
    assert settle_interval(ob, smb, solar_meter, delivery_hour + INTERVAL).feed_in_wh == 700


def test_refunded_deal_leaves_certificates_to_the_seller_but_earns_no_feed_in(
    exchange, registry, ob, smb, sold, solar_meter, delivery_hour, deliver, alice, bob
):
    """Issue 12, item 7: Wh sold and refunded for want of a timely measurement
    earn the seller no feed-in reward (it used to get 2,500 Wh's worth)."""
    advance_to(delivery_hour + INTERVAL + TIMEOUT)
    exchange.settle(*sold)
    assert only_event(exchange, "DealSettled").refund == 1_000 * PRICE
    assert exchange.sold_wh(solar_meter, delivery_hour) == 0
    deliver(delivery_hour, 2_500)  # the meter reports late
    registry.issue(solar_meter, delivery_hour)
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.balanceOf(exchange.address, cert) == 0
    assert registry.balanceOf(alice, cert) == 2_500
    assert settle_interval(ob, smb, solar_meter, delivery_hour).feed_in_wh == 1_500


def test_retire_on_delivery_is_capped_by_consumption(
    exchange, registry, solar_meter, household_meter, delivery_hour, deliver, consume, alice, bob
):
    registry.setApprovalForAll(exchange.address, True, sender=bob)
    bid = exchange.bid(household_meter, delivery_hour, 500, PRICE, True, sender=bob)
    exchange.take(bid, 500, PRICE, 0, solar_meter, sender=alice)
    deal = made_deal(exchange)
    deliver(delivery_hour, 2_000)
    consume(delivery_hour, 300)
    exchange.settle(*deal)
    assert only_event(exchange, "DealSettled").retired_wh == 300
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.retired_against(household_meter, delivery_hour) == 300
    assert registry.balanceOf(bob, cert) == 200


@pytest.mark.parametrize("approved", [True, False])
def test_retire_on_delivery_falls_back_to_the_wallet(
    exchange, registry, solar_meter, household_meter, delivery_hour, deliver, alice, bob, approved
):
    """Without a consumption measurement yet, or without approval, the buyer gets
    the certificates to retire later."""
    registry.setApprovalForAll(exchange.address, approved, sender=bob)
    bid = exchange.bid(household_meter, delivery_hour, 500, PRICE, True, sender=bob)
    exchange.take(bid, 500, PRICE, 0, solar_meter, sender=alice)
    deal = made_deal(exchange)
    deliver(delivery_hour, 2_000)
    exchange.settle(*deal)
    assert only_event(exchange, "DealSettled").retired_wh == 0
    assert registry.balanceOf(bob, certificate_id(solar_meter, delivery_hour)) == 500


def test_revoked_certificate_does_not_block_payment(
    exchange, registry, sold, solar_meter, delivery_hour, deliver, issuing_body, alice, bob
):
    deliver(delivery_hour, 2_500)
    cert = certificate_id(solar_meter, delivery_hour)
    registry.issue(solar_meter, delivery_hour)
    registry.revoke(cert, "seal broken", sender=issuing_body)
    exchange.settle(*sold)
    assert exchange.credit_of(alice) == 1_000 * PRICE
    assert registry.balanceOf(bob, cert) == 0
    assert registry.balanceOf(exchange.address, cert) == 1_000  # frozen in custody


def test_wallet_refusing_certificates_cannot_block_settlement(
    exchange, registry, griefer, solar_meter, delivery_hour, deliver, alice, bob, carol
):
    contract, deal = griefer
    contract.set_mood(REVERT, sender=carol)
    deliver(delivery_hour, 2_500)

    exchange.settle(*deal, sender=bob)
    cert = certificate_id(solar_meter, delivery_hour)
    held = only_event(exchange, "CertificatesHeld")
    assert (held.account, held.id, held.wh) == (contract.address, cert, 1_000)
    assert exchange.credit_of(alice) == 1_000 * PRICE  # the seller is paid regardless
    assert exchange.held_certificates(contract.address, cert) == 1_000

    claim = exchange.claim_certificates.prepare_calldata(cert, carol)
    contract.execute(exchange.address, claim, sender=carol)
    assert registry.balanceOf(carol, cert) == 1_000
    assert exchange.held_certificates(contract.address, cert) == 0


def test_wallet_burning_gas_cannot_block_settlement(
    exchange, registry, griefer, solar_meter, delivery_hour, deliver, alice, carol
):
    contract, deal = griefer
    contract.set_mood(BURN_GAS, sender=carol)
    deliver(delivery_hour, 2_500)

    exchange.settle(*deal, gas=2_000_000)
    assert exchange.credit_of(alice) == 1_000 * PRICE
    cert = certificate_id(solar_meter, delivery_hour)
    assert exchange.held_certificates(contract.address, cert) == 1_000


def test_claim_certificates_reverts_without_holdings(exchange, alice):
    with boa.reverts("exchange: no certificates held for the caller"):
        exchange.claim_certificates(1, alice, sender=alice)


def test_take_needs_the_operator_to_know_the_exchange(
    exchange,
    exchange_deployer,
    wallet,
    smb,
    registry,
    ob,
    solar_meter,
    household_meter,
    delivery_hour,
    alice,
    bob,
):
    unwired = exchange_deployer.deploy(
        wallet.address, smb.address, registry.address, ob.address, LEAD_TIME, TIMEOUT
    )
    wallet.approve(unwired.address, 2**256 - 1, sender=bob)
    offer = unwired.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    with reverts_in_callee("operator: caller is not the exchange"):
        unwired.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)


@pytest.mark.parametrize("caller", ["deployer", "alice", "bob", "carol", "operator"])
def test_mark_traded_only_by_the_exchange(exchange, ob, solar_meter, actors, operator, caller):
    who = (actors | {"operator": operator})[caller]
    with boa.reverts("operator: caller is not the exchange"):
        ob.mark_traded(solar_meter, solar_meter, 0, sender=who)


def test_wire_exchange_once_by_admin(
    ob_deployer, exchange_deployer, wallet, smb, registry, exchange, deployer, alice
):
    fresh = ob_deployer.deploy(wallet.address, 1, 1, 1, [smb.address], sender=deployer)
    with boa.reverts("operator: exchange is not a contract"):
        fresh.wire_exchange(alice, sender=deployer)
    with boa.reverts("operator: exchange does not point back to this operator"):
        fresh.wire_exchange(exchange.address, sender=deployer)
    own = exchange_deployer.deploy(
        wallet.address, smb.address, registry.address, fresh.address, LEAD_TIME, TIMEOUT
    )
    fresh.wire_exchange(own.address, sender=deployer)
    event = only_event(fresh, "ExchangeWired")
    assert (event.exchange, event.backend, event.admin) == (own.address, smb.address, deployer)
    assert fresh.exchange_backend() == smb.address
    with boa.reverts("operator: exchange already wired"):
        fresh.wire_exchange(own.address, sender=deployer)


def test_amend_bid_moves_the_escrow(exchange, wallet, household_meter, delivery_hour, alice, bob):
    bid = exchange.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    exchange.amend(bid, 1_500, PRICE, sender=bob)
    assert wallet.balanceOf(exchange.address) == 1_500 * PRICE
    exchange.amend(bid, 500, PRICE * 2, sender=bob)
    assert wallet.balanceOf(exchange.address) == 1_000 * PRICE
    assert exchange.orders(bid).version == 2
    with boa.reverts("exchange: caller is not the maker"):
        exchange.amend(bid, 500, PRICE, sender=alice)
    advance_to(delivery_hour - LEAD_TIME)
    with boa.reverts("exchange: gate closed for this interval"):
        exchange.amend(bid, 500, PRICE, sender=bob)


def test_cancel_after_gate_closure_returns_the_escrow(
    exchange, wallet, household_meter, delivery_hour, bob
):
    before = wallet.balanceOf(bob)
    bid = exchange.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    advance_to(delivery_hour + INTERVAL)
    exchange.cancel(bid, sender=bob)
    assert wallet.balanceOf(bob) == before


@pytest.mark.parametrize(
    ("wh", "price", "begin_shift", "reason"),
    [
        (2**64, 1, 0, "exchange: amount or price too large"),
        (1, 2**96, 0, "exchange: amount or price too large"),
        (1, 1, 2**40 - 2**40 % INTERVAL + INTERVAL, "exchange: interval too far ahead"),
    ],
)
def test_bid_terms_must_fit(exchange, household_meter, bob, wh, price, begin_shift, reason):
    from tests.fixtures.meters import grid_time

    begin = begin_shift or grid_time(3)
    with boa.reverts(reason):
        exchange.bid(household_meter, begin, wh, price, False, sender=bob)


def test_unknown_deal_is_neither_open_nor_settled(exchange):
    assert exchange.deal_hash(7) == b"\x00" * 32
    assert not exchange.is_settled(7)


def test_bid_for_a_meter_that_does_not_consume_reverts(
    exchange, smb, installer, delivery_hour, bob
):
    producer = meter_id_for("producer-only")
    smb.register_meter(
        producer, bob, bob, SECTOR, "T020002", "F01050100", 1_000, CONNECTION_W, 1, sender=installer
    )
    smb.accept_meter(producer, 0, sender=bob)
    with boa.reverts("exchange: meter does not consume"):
        exchange.bid(producer, delivery_hour, 1, PRICE, False, sender=bob)


def test_a_token_answering_false_is_noticed(
    exchange_deployer, ob_deployer, smb, registry, household_meter, delivery_hour, deployer, bob
):
    token = boa.load(TEST_CONTRACTS / "FalseToken.vy")
    operator = ob_deployer.deploy(token.address, 1, 1, 1, [smb.address], sender=deployer)
    market = exchange_deployer.deploy(
        token.address, smb.address, registry.address, operator.address, LEAD_TIME, TIMEOUT
    )
    with boa.reverts("exchange: token transfer failed"):
        market.bid(household_meter, delivery_hour, 1, PRICE, False, sender=bob)
    with boa.reverts("operator: token transfer failed"):
        operator.deposit(1, sender=bob)


def test_bought_but_not_consumed_is_rewarded_to_the_buyer(
    exchange, ob, smb, sold, solar_meter, household_meter, delivery_hour, deliver, consume
):
    """Issue 12, item 17: Bob bought and received 1,000 Wh and consumed 200; he
    paid Alice for 1,000, and the 800 he left to the grid earned nobody anything.
    Now they earn Bob the feed-in reward: every Wh fed in is paid for once."""
    deliver(delivery_hour, 2_500)
    consume(delivery_hour, 200)
    exchange.settle(*sold)
    seller = settle_interval(ob, smb, solar_meter, delivery_hour)
    buyer = settle_interval(ob, smb, household_meter, delivery_hour)
    assert (buyer.feed_in_wh, buyer.retail_wh) == (800, 0)
    # produced 2,500 = 1,000 paid by Bob + 1,500 rewarded to Alice; of Bob's
    # 1,000, 200 were consumed and 800 rewarded to him
    assert seller.feed_in_wh + 1_000 == 2_500
    assert buyer.feed_in_wh + 200 == 1_000

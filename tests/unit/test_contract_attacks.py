"""Issue 12: attacks on other people's tokens, Wh and certificates.

Each test was written first against the contracts as they were, and failed
there; the numbers are the issue's items.
"""

from pathlib import Path

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from eth_abi import encode
from eth_utils import keccak

from tests.fixtures.accounts import keyed_account
from tests.fixtures.exchange import LEAD_TIME, PRICE, TIMEOUT
from tests.fixtures.meters import (
    CAPACITY_W,
    CONNECTION_W,
    CONSUMPTION,
    FUTURE_TOLERANCE,
    INTERVAL,
    PRODUCTION,
    SECTOR,
    SOLAR_FUEL,
    SOLAR_TECH,
    ZERO_ADDRESS,
    accept,
    advance_to,
    grid_time,
    hand_over,
    meter_id_for,
)
from tests.fixtures.operator import FEED_IN, NOTICE, RETAIL
from tests.fixtures.registry import VALIDITY, certificate_id
from tests.helpers import made_deal, only_event

TEST_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
SUPPLY = 10**30  # token base units of the test tokens
REVERT, BURN_GAS = 2, 4  # GriefingWallet moods
FEE_REFUSED = "token delivered another amount than sent (fee-on-transfer tokens are not supported)"


def storage_slot(contract, name: str, *keys: bytes) -> int:
    """The storage slot of variable ``name`` (a HashMap reached through ``keys``,
    each already ABI-encoded), from the compiler's storage layout; Vyper puts a
    HashMap's value at keccak256(slot || key)."""
    slot = contract.compiler_data.storage_layout["storage_layout"][name]["slot"]
    for key in keys:
        slot = int.from_bytes(keccak(slot.to_bytes(32, "big") + key))
    return slot


def word(value) -> bytes:
    return encode(["uint256"] if isinstance(value, int) else ["bytes32"], [value])


@pytest.fixture
def sold_deal(exchange, solar_meter, household_meter, delivery_hour, alice, bob):
    """Bob bought 1,000 Wh of Alice's solar meter for the delivery hour."""
    offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    return made_deal(exchange)


# item 3: re-entry through a token's hooks


@pytest.fixture
def hook_market(
    exchange_deployer, ob_deployer, registry_deployer, smb, installer, deployer, bob, carol
):
    """An Exchange and an operator settling in a token that calls holders back,
    and Carol's maker contract with a consuming meter; Bob has tokens approved.
    A registry of its own: the module's is wired to the module's Exchange."""
    token = boa.load(TEST_CONTRACTS / "HookToken.vy", SUPPLY, sender=deployer)
    with boa.env.prank(deployer):
        registry = registry_deployer.deploy(smb.address, VALIDITY)
        ob = ob_deployer.deploy(token.address, NOTICE, RETAIL, FEED_IN, [smb.address])
        market = exchange_deployer.deploy(
            token.address, smb.address, registry.address, ob.address, LEAD_TIME, TIMEOUT
        )
        registry.wire_exchange(market.address)
        ob.wire_exchange(market.address)
        token.transfer(bob, 100_000 * PRICE)
    maker = boa.load(TEST_CONTRACTS / "ReentrantMaker.vy", sender=carol)
    meter = meter_id_for("reentrant-home")
    smb.register_meter(
        meter, carol, maker.address, SECTOR, "", "", 0, CONNECTION_W, CONSUMPTION, sender=installer
    )
    accept(smb, meter, maker)
    token.transfer(maker.address, 10_000 * PRICE, sender=deployer)
    for spender in (market, ob):
        maker.execute(
            token.address, token.approve.prepare_calldata(spender.address, 2**256 - 1), sender=carol
        )
        token.approve(spender.address, 2**256 - 1, sender=bob)
    return token, ob, market, maker, meter


def test_amend_reentered_through_a_token_hook_cannot_pay_escrow_twice(
    hook_market, household_meter, delivery_hour, bob, carol
):
    """The maker amends its bid down; the refund's hook cancels the same bid,
    which used to refund the old escrow again, out of Bob's."""
    token, _, market, maker, meter = hook_market
    market.bid(household_meter, delivery_hour, 5_000, PRICE, False, sender=bob)
    order = market.order_count()
    maker.execute(
        market.address,
        market.bid.prepare_calldata(meter, delivery_hour, 1_000, PRICE, False),
        sender=carol,
    )
    maker.arm(market.address, market.cancel.prepare_calldata(order), sender=carol)
    maker.execute(market.address, market.amend.prepare_calldata(order, 100, PRICE), sender=carol)
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert token.balanceOf(market.address) == (5_000 + 100) * PRICE
    assert token.balanceOf(maker.address) == (10_000 - 100) * PRICE
    assert market.orders(order).wh == 100


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        (outer, inner)
        for outer in ("amend", "cancel", "bid")
        for inner in ("cancel", "amend", "take")
    ]
    + [("cancel", "withdraw_credit")],
)
def test_token_hooks_cannot_reenter_the_exchange(
    hook_market, solar_meter, delivery_hour, alice, carol, outer, inner
):
    """Every token movement of the Exchange calls the maker's hook, which tries
    one nested call; the same call made on its own goes through."""
    _, _, market, maker, meter = hook_market
    offer = market.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)

    def maker_calls(calldata):
        return maker.execute(market.address, calldata, sender=carol)

    target = market.order_count()
    maker_calls(market.bid.prepare_calldata(meter, delivery_hour, 1_000, PRICE, False))
    outer_target = market.order_count()
    maker_calls(market.bid.prepare_calldata(meter, delivery_hour, 1_000, PRICE, False))
    if inner == "withdraw_credit":
        # a deal refunded for want of a measurement: the maker has credit
        maker_calls(market.take.prepare_calldata(offer, 10, PRICE, 0, meter))
        terms = (offer, alice, maker.address, solar_meter, meter, delivery_hour, 10, PRICE, False)
        advance_to(delivery_hour + INTERVAL + TIMEOUT)
        market.settle(market.deal_count() - 1, terms)
        assert market.credit_of(maker.address) == 10 * PRICE
    nested = {
        "cancel": market.cancel.prepare_calldata(target),
        "amend": market.amend.prepare_calldata(target, 10, PRICE),
        "take": market.take.prepare_calldata(offer, 10, PRICE, 0, meter),
        "withdraw_credit": market.withdraw_credit.prepare_calldata(),
    }[inner]
    outer_call = {
        "amend": market.amend.prepare_calldata(outer_target, 500, PRICE),
        "cancel": market.cancel.prepare_calldata(outer_target),
        "bid": market.bid.prepare_calldata(meter, delivery_hour, 700, PRICE, False),
    }[outer]
    with boa.env.anchor():
        maker_calls(nested)  # on its own, the nested call goes through

    maker.arm(market.address, nested, sender=carol)
    maker_calls(outer_call)
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()


def test_token_hooks_cannot_reenter_the_operator(hook_market, carol):
    """A deposit's hook tries to withdraw the deposit before it is booked."""
    token, ob, _, maker, _ = hook_market
    maker.execute(ob.address, ob.deposit.prepare_calldata(1_000), sender=carol)
    maker.arm(ob.address, ob.withdraw.prepare_calldata(1_000), sender=carol)
    maker.execute(ob.address, ob.deposit.prepare_calldata(500), sender=carol)
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert ob.balance_of(maker.address) == 1_500
    assert token.balanceOf(ob.address) == 1_500


# item 12: fee-on-transfer tokens


def test_fee_on_transfer_token_is_refused(
    exchange_deployer, ob_deployer, smb, registry, household_meter, delivery_hour, deployer, bob
):
    token = boa.load(TEST_CONTRACTS / "FeeToken.vy", SUPPLY, sender=deployer)
    token.transfer(bob, 10**24, sender=deployer)
    with boa.env.prank(deployer):
        ob = ob_deployer.deploy(token.address, NOTICE, RETAIL, FEED_IN, [smb.address])
        market = exchange_deployer.deploy(
            token.address, smb.address, registry.address, ob.address, LEAD_TIME, TIMEOUT
        )
    token.approve(market.address, 2**256 - 1, sender=bob)
    token.approve(ob.address, 2**256 - 1, sender=bob)
    with boa.reverts(f"exchange: {FEE_REFUSED}"):
        market.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    with boa.reverts(f"operator: {FEE_REFUSED}"):
        ob.deposit(10**18, sender=bob)
    with boa.reverts(f"operator: {FEE_REFUSED}"):
        ob.fund_treasury(10**18, sender=bob)


# item 6: orders end with the meter's ownership


def test_take_after_the_meter_changed_owner_reverts(
    exchange, smb, solar_meter, household_meter, delivery_hour, alice, bob, carol
):
    offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    hand_over(smb, solar_meter, alice, carol)
    with boa.reverts("exchange: the order's meter has changed owner"):
        exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)


def test_new_owner_ends_the_previous_owners_offer_and_sells_the_capacity(
    exchange, smb, solar_meter, delivery_hour, alice, carol
):
    offer = exchange.offer(solar_meter, delivery_hour, CAPACITY_W, PRICE, sender=alice)
    hand_over(smb, solar_meter, alice, carol)
    exchange.cancel(offer, sender=carol)
    assert exchange.committed_wh(solar_meter, delivery_hour) == 0
    exchange.offer(solar_meter, delivery_hour, CAPACITY_W, PRICE, sender=carol)
    assert exchange.committed_wh(solar_meter, delivery_hour) == CAPACITY_W


def test_new_owner_ends_the_previous_owners_bid_and_the_escrow_goes_back(
    exchange, wallet, smb, household_meter, delivery_hour, bob, carol
):
    before = wallet.balanceOf(bob)
    bid = exchange.bid(household_meter, delivery_hour, 1_000, PRICE, False, sender=bob)
    hand_over(smb, household_meter, bob, carol)
    exchange.cancel(bid, sender=carol)
    assert wallet.balanceOf(bob) == before
    assert wallet.balanceOf(carol) == 0


def test_a_forward_sale_goes_with_the_meter_and_pays_whoever_produced_it(
    exchange, registry, smb, sold_deal, deliver, solar_meter, delivery_hour, alice, bob, carol
):
    """Alice sold 1,000 Wh of tomorrow's hour to Bob, then handed her meter to
    Carol, whose panels produced that hour: Alice used to be paid for Carol's
    energy. The sale goes with the meter: Carol delivers it and is paid; Bob
    gets what he bought."""
    hand_over(smb, solar_meter, alice, carol)
    deliver(delivery_hour, 2_500)
    exchange.settle(*sold_deal)
    event = only_event(exchange, "DealSettled")
    assert (event.seller, event.delivered_wh, event.payment) == (carol, 1_000, 1_000 * PRICE)
    assert exchange.credit_of(alice) == 0
    assert exchange.credit_of(carol) == 1_000 * PRICE
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.balanceOf(bob, cert) == 1_000
    assert registry.balanceOf(carol, cert) == 1_500
    assert registry.balanceOf(alice, cert) == 0


def test_a_seller_cannot_walk_away_from_its_sales_by_handing_the_meter_to_itself(
    exchange, smb, sold_deal, deliver, solar_meter, delivery_hour, alice, bob
):
    """From the review: voiding a previous owner's sales let a seller, after gate
    closure, hand the meter to its own second address and keep the energy."""
    alias = boa.env.generate_address("alice-again")
    hand_over(smb, solar_meter, alice, alias)
    deliver(delivery_hour, 2_500)
    exchange.settle(*sold_deal)
    assert only_event(exchange, "DealSettled").delivered_wh == 1_000
    assert exchange.credit_of(bob) == 0  # no refund: Bob's energy came


def test_cancel_by_someone_else_than_maker_or_new_owner_reverts(
    exchange, solar_meter, delivery_hour, alice, carol
):
    offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    with boa.reverts("exchange: caller is not the maker"):
        exchange.cancel(offer, sender=carol)


# item 2: nothing stops a deal from being paid


def test_settlement_pays_when_the_seller_moved_its_meter_to_a_refusing_contract(
    exchange, registry, smb, solar_meter, household_meter, delivery_hour, deliver, alice, bob, carol
):
    """Issuance used to revert inside settlement, and with it the payment, the
    timeout refund and the operator's settlement of both meters. The sale went
    with the meter: its owner during the hour, the refusing contract, is paid."""
    refuser = boa.load(TEST_CONTRACTS / "GriefingWallet.vy", sender=carol)
    refuser.set_mood(REVERT, sender=carol)
    offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    hand_over(smb, solar_meter, alice, refuser)  # its owner during the delivery hour
    deliver(delivery_hour, 2_500)
    exchange.settle(*deal)
    assert exchange.credit_of(refuser.address) == 1_000 * PRICE
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.balanceOf(bob, cert) == 1_000
    assert registry.balanceOf(refuser.address, cert) == 1_500  # its share, held as its balance


def test_issuance_to_a_refusing_owner_logs_the_certificates_held(
    registry, smb, solar_meter, deliver, delivery_hour, alice, carol
):
    refuser = boa.load(TEST_CONTRACTS / "GriefingWallet.vy", sender=carol)
    refuser.set_mood(BURN_GAS, sender=carol)
    hand_over(smb, solar_meter, alice, refuser)
    deliver(delivery_hour, 2_500)
    registry.issue(solar_meter, delivery_hour, gas=1_000_000)
    held = only_event(registry, "CertificatesHeld")
    cert = certificate_id(solar_meter, delivery_hour)
    assert (held.account, held.id, held.wh) == (refuser.address, cert, 2_500)


@pytest.mark.parametrize(
    ("kind", "tech", "fuel", "capacity", "reason"),
    [
        (
            PRODUCTION,
            "T02000",
            SOLAR_FUEL,
            CAPACITY_W,
            "meter: technology code is not an AIB EECS code (T and 6 digits)",
        ),
        (
            PRODUCTION,
            "X020002",
            SOLAR_FUEL,
            CAPACITY_W,
            "meter: technology code is not an AIB EECS code (T and 6 digits)",
        ),
        (
            PRODUCTION,
            "T02000A",
            SOLAR_FUEL,
            CAPACITY_W,
            "meter: technology code is not an AIB EECS code (T and 6 digits)",
        ),
        (
            PRODUCTION,
            SOLAR_TECH,
            "F0105010",
            CAPACITY_W,
            "meter: fuel code is not an AIB EECS code (F and 8 digits)",
        ),
        (
            PRODUCTION,
            SOLAR_TECH,
            "F01050100 ",
            CAPACITY_W,
            "meter: fuel code is not an AIB EECS code (F and 8 digits)",
        ),
        (PRODUCTION, SOLAR_TECH, SOLAR_FUEL, 10_000_000_001, "meter: capacity above 10 GW"),
        (CONSUMPTION, "", "", 1, "meter: consumption-only meter has no capacity"),
        (
            CONSUMPTION,
            SOLAR_TECH,
            "",
            0,
            "meter: consumption-only meter has no technology or fuel code",
        ),
        (
            CONSUMPTION,
            "",
            SOLAR_FUEL,
            0,
            "meter: consumption-only meter has no technology or fuel code",
        ),
    ],
)
def test_register_meter_refuses_what_cannot_be_certified(
    smb, installer, alice, kind, tech, fuel, capacity, reason
):
    with boa.reverts(reason):
        smb.register_meter(
            meter_id_for("odd"),
            alice,
            alice,
            SECTOR,
            tech,
            fuel,
            capacity,
            CONNECTION_W,
            kind,
            sender=installer,
        )


def test_register_meter_accepts_the_largest_capacity(smb, installer, alice):
    meter = meter_id_for("plant")
    smb.register_meter(
        meter,
        alice,
        alice,
        SECTOR,
        SOLAR_TECH,
        SOLAR_FUEL,
        10_000_000_000,
        CONNECTION_W,
        PRODUCTION,
        sender=installer,
    )
    smb.accept_meter(meter, 0, sender=alice)
    assert smb.meter(meter).capacity_w == smb.MAX_CAPACITY_W()


# item 11: no receiver can make a batch fail


def test_gas_burning_buyer_cannot_make_a_batch_fail(
    exchange, wallet, registry, griefer, solar_meter, delivery_hour, deliver, deployer, alice, carol
):
    contract, first = griefer
    contract.set_mood(BURN_GAS, sender=carol)
    offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    wallet.transfer(contract.address, 1_000 * PRICE, sender=deployer)
    contract.execute(
        wallet.address,
        wallet.approve.prepare_calldata(exchange.address, 1_000 * PRICE),
        sender=carol,
    )
    contract.execute(
        exchange.address,
        exchange.take.prepare_calldata(offer, 1_000, PRICE, 0, first[1][4]),
        sender=carol,
    )
    terms = (
        offer,
        alice,
        contract.address,
        solar_meter,
        first[1][4],
        delivery_hour,
        1_000,
        PRICE,
        False,
    )
    second = (exchange.deal_count() - 1, terms)
    deliver(delivery_hour, 2_500)
    exchange.settle_many([first, second], gas=30_000_000)
    cert = certificate_id(solar_meter, delivery_hour)
    assert exchange.held_certificates(contract.address, cert) == 2_000


def test_settlement_runs_no_receiver_hook(
    exchange, registry, griefer, solar_meter, delivery_hour, deliver, carol
):
    contract, deal = griefer  # in the mood to accept, counting the hooks that run
    deliver(delivery_hour, 2_500)
    exchange.settle(*deal)
    cert = certificate_id(solar_meter, delivery_hour)
    assert exchange.held_certificates(contract.address, cert) == 1_000
    assert contract.hooks() == 0
    # Claimed, the certificates reach the wallet through its hook: the count works.
    contract.execute(
        exchange.address,
        exchange.claim_certificates.prepare_calldata(cert, contract.address),
        sender=carol,
    )
    assert (contract.hooks(), registry.balanceOf(contract.address, cert)) == (1, 1_000)


def test_certificates_sent_straight_to_the_exchange_are_refused(
    exchange, registry, solar_meter, deliver, delivery_hour, alice
):
    deliver(delivery_hour, 2_500)
    registry.issue(solar_meter, delivery_hour)
    cert = certificate_id(solar_meter, delivery_hour)
    with boa.reverts("exchange: only issuance into custody is accepted"):
        registry.safeTransferFrom(alice, exchange.address, cert, 1, b"", sender=alice)


# item 7: the timeout holds for all deals of an interval together


def test_a_late_reading_pays_none_of_an_interval_s_deals_once_one_refunded(
    exchange, ob, smb, solar_meter, household_meter, delivery_hour, deliver, alice, bob
):
    offer = exchange.offer(solar_meter, delivery_hour, 2_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    regretted = made_deal(exchange)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    kept = made_deal(exchange)
    advance_to(delivery_hour + INTERVAL + TIMEOUT)
    exchange.settle(*regretted)  # the seller withheld its reading
    deliver(delivery_hour, 2_500)  # and reports it now
    exchange.settle(*kept)
    event = only_event(exchange, "DealSettled")
    assert (event.delivered_wh, event.payment, event.refund) == (0, 0, 1_000 * PRICE)
    assert exchange.credit_of(alice) == 0
    assert exchange.credit_of(bob) == 2_000 * PRICE


# item 10: the buyer is the claimant of what the Exchange retires for it


@pytest.mark.parametrize("caller", ["deployer", "alice", "bob", "carol"])
def test_retire_delivered_only_by_the_exchange(exchange, registry, actors, caller, household_meter):
    with boa.reverts("registry: caller is not the exchange"):
        registry.retire_delivered(1, 1, household_meter, actors[caller], b"", sender=actors[caller])


# items 8 and 14: packed fields wide enough, tested at their maximum


def test_a_meter_numbered_beyond_24_bits_keeps_its_identity_and_owner(
    registry, solar_meter, deliver, delivery_hour, alice
):
    """The 16,777,217th meter used to read back as meter 1."""
    boa.env.set_storage(registry.address, storage_slot(registry, "_meter_count"), 2**24)
    deliver(delivery_hour, 2_500)
    registry.issue(solar_meter, delivery_hour)
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.certificate(cert).meter_id == solar_meter
    assert registry.balanceOf(alice, cert) == 2_500


def test_meter_numbers_stop_at_their_maximum(registry, solar_meter, deliver, delivery_hour):
    boa.env.set_storage(
        registry.address, storage_slot(registry, "_meter_count"), registry.MAX_METERS()
    )
    deliver(delivery_hour, 2_500)
    with boa.reverts("registry: too many meters"):
        registry.issue(solar_meter, delivery_hour)


def test_owner_epoch_at_its_maximum(
    registry, smb, sign, meter_key, solar_meter, delivery_hour, alice, carol
):
    """At the old 16-bit limit the epoch spilled into the sector bits and the new
    owner's share was lost; at the 32-bit limit, issuance says so."""

    def measure(begin, exported):
        advance_to(begin + INTERVAL)
        smb.submit_reading(
            *sign(meter_key, solar_meter, begin + INTERVAL, 0, exported).contract_args()
        )
        return begin

    advance_to(delivery_hour)
    smb.submit_reading(*sign(meter_key, solar_meter, delivery_hour, 0, 0).contract_args())
    registry.issue(solar_meter, measure(delivery_hour, 2_500))
    slot = storage_slot(registry, "_meters", word(solar_meter))
    record = boa.env.get_storage(registry.address, slot)
    epoch_mask = registry.MAX_OWNER_EPOCH() << 200

    boa.env.set_storage(registry.address, slot, (record & ~epoch_mask) | ((2**16 - 1) << 200))
    hand_over(smb, solar_meter, alice, carol)
    begin = measure(delivery_hour + INTERVAL, 3_500)
    registry.issue(solar_meter, begin)
    cert = certificate_id(solar_meter, begin)
    assert registry.balanceOf(carol, cert) == 1_000
    assert registry.certificate(cert).sector == SECTOR

    record = boa.env.get_storage(registry.address, slot)
    boa.env.set_storage(
        registry.address, slot, (record & ~epoch_mask) | (registry.MAX_OWNER_EPOCH() << 200)
    )
    hand_over(smb, solar_meter, carol, alice)
    begin = measure(delivery_hour + 2 * INTERVAL, 4_500)
    with boa.reverts("registry: meter changed owner too often"):
        registry.issue(solar_meter, begin)


# items 4 and 9: tariffs over a measurement, and their cost


def next_hour_after(seconds: int) -> int:
    earliest = boa.env.evm.patch.timestamp + seconds
    return earliest + (-earliest) % 3_600


def test_a_measurement_over_a_price_rise_is_billed_at_the_higher_price(
    ob, smb, sign, household_key, household_meter, operator, bob
):
    """A household that stopped its bridge before an announced rise paid the old
    price for the whole gap (9.6 times less in the review's case)."""
    rise = next_hour_after(NOTICE)
    ob.announce_tariff(RETAIL * 10, FEED_IN, rise, sender=operator)
    begin = rise - 2 * INTERVAL
    advance_to(begin)
    smb.submit_reading(*sign(household_key, household_meter, begin, 0, 0).contract_args())
    end = rise + 2 * INTERVAL  # the bridge was off over the rise
    advance_to(end)
    smb.submit_reading(*sign(household_key, household_meter, end, 400, 0).contract_args())
    ob.settle(smb.address, household_meter, begin)
    assert ob.meter_debt(smb.address, household_meter) == 400 * RETAIL * 10


def test_a_measurement_over_a_reward_cut_earns_the_lower_reward(
    ob, smb, sign, meter_key, solar_meter, operator, alice
):
    cut = next_hour_after(NOTICE)
    ob.announce_tariff(RETAIL, FEED_IN // 4, cut, sender=operator)
    begin = cut - INTERVAL
    advance_to(begin)
    smb.submit_reading(*sign(meter_key, solar_meter, begin, 0, 0).contract_args())
    advance_to(cut + INTERVAL)
    smb.submit_reading(*sign(meter_key, solar_meter, cut + INTERVAL, 0, 1_000).contract_args())
    ob.settle(smb.address, solar_meter, begin)
    assert ob.arrears_of(alice) == 1_000 * (FEED_IN // 4)  # the treasury is empty


def test_settlement_cost_does_not_grow_with_the_number_of_tariffs(
    ob, smb, measure, household_key, household_meter, operator, bob
):
    """Tariffs used to be scanned newest first, about 2,200 gas each: enough of
    them pushed every settlement of an earlier hour past a block."""
    begin = measure(household_key, household_meter, produced=0, consumed=100)
    first = next_hour_after(NOTICE)
    for day in range(300):
        ob.announce_tariff(RETAIL, FEED_IN, first + day * 86_400, sender=operator)
    ob.settle(smb.address, household_meter, begin, gas=120_000)
    assert ob.meter_debt(smb.address, household_meter) == 100 * RETAIL


# item 1: bills, rewards and certificates follow the owner during the measurement


def test_a_meter_handed_to_someone_who_does_not_accept_changes_nothing(
    ob, smb, fund, measure, household_key, household_meter, bob, carol
):
    """The review's attack: a consumer hands its meter, with unsettled hours, to an
    account with a prepaid ledger and settles; that account paid (30 tokens)."""
    fund(carol, 30 * 10**18)
    ob.deposit(30 * 10**18, sender=carol)
    begin = measure(household_key, household_meter, produced=0, consumed=1_000)
    smb.offer_meter(household_meter, carol, sender=bob)
    ob.settle(smb.address, household_meter, begin)
    assert ob.balance_of(carol) == 30 * 10**18
    assert ob.meter_debt(smb.address, household_meter) == 1_000 * RETAIL  # still Bob's meter


def test_hours_measured_before_a_transfer_bill_the_previous_owner(
    ob, smb, fund, measure, household_key, household_meter, bob, carol
):
    fund(carol, 30 * 10**18)
    ob.deposit(30 * 10**18, sender=carol)
    before = measure(household_key, household_meter, produced=0, consumed=1_000)
    hand_over(smb, household_meter, bob, carol)
    after = measure(household_key, household_meter, produced=0, consumed=200)
    ob.settle(smb.address, household_meter, before)
    ob.settle(smb.address, household_meter, after)
    assert ob.debt_of(bob) == 1_000 * RETAIL  # settled after the transfer: Bob's own
    assert ob.meter_debt(smb.address, household_meter) == 0
    assert ob.balance_of(carol) == 30 * 10**18 - 200 * RETAIL


def test_a_meter_whose_readings_were_held_back_cannot_be_accepted_until_they_are_relayed(
    ob, smb, sign, household_key, household_meter, bob, carol
):
    """From the review: Bob's bridge holds back three days of readings, then he
    offers the meter to Carol. Had she accepted, the next reading would have made
    one measurement of the three days, stamped with her ownership."""
    start = grid_time(-1)
    smb.submit_reading(*sign(household_key, household_meter, start, 0, 0).contract_args())
    advance_to(start + 72 * INTERVAL + 60)
    smb.offer_meter(household_meter, carol, sender=bob)
    with boa.reverts(
        "meter: the meter's readings are behind: relay them up to the current interval first"
    ):
        smb.accept_meter(household_meter, 0, sender=carol)
    smb.submit_reading(
        *sign(household_key, household_meter, start + 72 * INTERVAL, 9_000, 0).contract_args()
    )
    smb.accept_meter(household_meter, 0, sender=carol)
    ob.settle(smb.address, household_meter, start)
    assert ob.debt_of(bob) == 9_000 * RETAIL  # the three days stay Bob's


def test_certificates_go_to_the_owner_during_the_measurement(
    registry, smb, sign, meter_key, solar_meter, delivery_hour, alice, carol
):
    advance_to(delivery_hour)
    smb.submit_reading(*sign(meter_key, solar_meter, delivery_hour, 0, 0).contract_args())
    advance_to(delivery_hour + INTERVAL)
    smb.submit_reading(
        *sign(meter_key, solar_meter, delivery_hour + INTERVAL, 0, 2_000).contract_args()
    )
    hand_over(smb, solar_meter, alice, carol)
    registry.issue(solar_meter, delivery_hour)  # issued after the transfer
    cert = certificate_id(solar_meter, delivery_hour)
    assert registry.balanceOf(alice, cert) == 2_000
    assert registry.balanceOf(carol, cert) == 0


# item 5: a backend trusted later reaches no ledger without its account's consent


@pytest.fixture
def rogue(ob, operator, fund, bob):
    """A backend the operator trusted after the deployment, which reports Bob as
    the owner of any meter with 10,000 Wh consumed; Bob has 30 tokens prepaid."""
    backend = boa.load(TEST_CONTRACTS / "RogueBackend.vy", bob, 10_000)
    backend.name_operator(ob.address)  # it may say so: only its own meters' debts follow
    ob.announce_backend_trust(backend.address, True, sender=operator)
    boa.env.time_travel(seconds=NOTICE)
    fund(bob, 30 * 10**18)
    ob.deposit(30 * 10**18, sender=bob)
    return backend


def test_a_backend_trusted_later_cannot_empty_a_ledger(ob, rogue, bob):
    meter = meter_id_for("invented")
    ob.settle(rogue.address, meter, 0)
    event = only_event(ob, "MeterDebtRecorded")
    assert (event.backend, event.meter_id, event.account) == (rogue.address, meter, bob)
    assert ob.balance_of(bob) == 30 * 10**18
    assert ob.meter_debt(rogue.address, meter) == 10_000 * RETAIL


def test_a_ledger_opened_to_a_meter_pays_its_bills(ob, rogue, bob):
    meter = meter_id_for("really bob's")
    ob.open_ledger(rogue.address, meter, True, sender=bob)
    event = only_event(ob, "LedgerOpened")
    assert (event.account, event.backend, event.meter_id, event.open) == (
        bob,
        rogue.address,
        meter,
        True,
    )
    ob.settle(rogue.address, meter, 0)
    assert ob.balance_of(bob) == 30 * 10**18 - 10_000 * RETAIL
    ob.open_ledger(rogue.address, meter, False, sender=bob)
    ob.settle(rogue.address, meter, 3_600)
    assert ob.balance_of(bob) == 30 * 10**18 - 10_000 * RETAIL


def test_pay_meter_debt_from_a_ledger(ob, rogue, bob):
    meter = meter_id_for("invented")
    ob.settle(rogue.address, meter, 0)
    ob.pay_meter_debt(rogue.address, meter, 1_000 * RETAIL, sender=bob)
    assert ob.meter_debt(rogue.address, meter) == 9_000 * RETAIL
    assert ob.balance_of(bob) == 30 * 10**18 - 1_000 * RETAIL
    with boa.reverts("operator: amount exceeds the meter's debt"):
        ob.pay_meter_debt(rogue.address, meter, 9_000 * RETAIL + 1, sender=bob)


@pytest.mark.parametrize("owner", ["account", "contract"])
def test_no_gas_limit_settles_a_deal_without_its_certificates(
    exchange,
    registry,
    smb,
    solar_meter,
    household_meter,
    delivery_hour,
    deliver,
    alice,
    bob,
    carol,
    owner,
):
    """Settlement tolerates a failed issuance; a gas estimate finds the cheapest
    limit that succeeds, which used to be one where issuance ran out of gas and
    the deal settled with no certificate; with a contract owning the seller's
    meter, the registry's own gas check made that range wide (the review after
    the fix found it). At every limit, the deal settles with the buyer's
    certificates, at once or held for it to claim once issued, or not at all."""
    if owner == "contract":
        wallet = boa.load(TEST_CONTRACTS / "GriefingWallet.vy", sender=carol)
        hand_over(smb, solar_meter, alice, wallet)
        offer = exchange.order_count()
        calldata = exchange.offer.prepare_calldata(solar_meter, delivery_hour, 1_000, PRICE)
        wallet.execute(exchange.address, calldata, sender=carol)  # the contract sells
    else:
        offer = exchange.offer(solar_meter, delivery_hour, 1_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    sold_deal = made_deal(exchange)
    deliver(delivery_hour, 2_500)
    cert = certificate_id(solar_meter, delivery_hour)
    outcomes = set()
    for gas in range(150_000, 450_000, 2_500):
        with boa.env.anchor():
            try:
                exchange.settle(*sold_deal, gas=gas)
            except BoaError:
                outcomes.add("reverted")
                continue
            outcomes.add("settled")
            registry.issue(solar_meter, delivery_hour)  # a no-op if settlement issued it
            if exchange.held_certificates(bob, cert):
                exchange.claim_certificates(cert, bob, sender=bob)
            assert registry.balanceOf(bob, cert) == 1_000, f"at {gas:,} gas"
            assert registry.balanceOf(exchange.address, cert) == 0, f"at {gas:,} gas"
    assert outcomes == {"reverted", "settled"}


def test_an_approved_key_ends_with_the_owner_who_approved_it(
    smb, installer, solar_meter, alice, carol
):
    """The review after the fix: a key Alice approved could still be put in
    after she handed the meter to Carol, and sign Carol's readings."""
    rogue = boa.env.generate_address("alice's key")
    smb.approve_signer(solar_meter, rogue, sender=alice)
    hand_over(smb, solar_meter, alice, carol)
    assert smb.approved_signer(solar_meter) == "0x" + "00" * 20
    with boa.reverts("meter: the owner has not approved this signer"):
        smb.rotate_signer(solar_meter, rogue, False, sender=installer)


# item 15: debt stays with the meter, and only an acceptance takes it on


@pytest.fixture
def indebted_meter(ob, smb, measure, household_key, household_meter):
    """Bob's household meter with 1,000 Wh billed and no ledger to pay them."""
    ob.settle(smb.address, household_meter, measure(household_key, household_meter, 0, 1_000))
    assert ob.meter_debt(smb.address, household_meter) == 1_000 * RETAIL
    return household_meter


def test_a_debtor_cannot_leave_its_debt_behind_by_handing_the_meter_on(
    ob, smb, fund, measure, household_key, indebted_meter, bob, carol
):
    """The review's attack: Bob runs up a debt, hands the meter to a fresh address
    and goes on with a clean ledger. The offer names the debt; the new owner takes
    it on only by naming at least that much; then the meter's bills collect it."""
    smb.offer_meter(indebted_meter, carol, sender=bob)
    assert only_event(smb, "MeterOffered").debt == 1_000 * RETAIL
    assert smb.meter_debt(indebted_meter) == 1_000 * RETAIL
    with boa.reverts("meter: the meter's debt exceeds what the caller takes on"):
        smb.accept_meter(indebted_meter, 1_000 * RETAIL - 1, sender=carol)
    smb.accept_meter(indebted_meter, 1_000 * RETAIL, sender=carol)
    event = only_event(smb, "MeterOwnerChanged")
    assert (event.new_owner, event.debt) == (carol, 1_000 * RETAIL)
    assert ob.debt_of(bob) == ob.debt_of(carol) == 0

    fund(carol, 10**18)
    ob.deposit(10**18, sender=carol)
    ob.settle(smb.address, indebted_meter, measure(household_key, indebted_meter, 0, 200))
    assert ob.meter_debt(smb.address, indebted_meter) == 0
    assert ob.balance_of(carol) == 10**18 - 1_200 * RETAIL


def test_nobody_carries_a_debt_it_did_not_accept(
    ob, smb, fund, measure, household_key, household_meter, bob, carol
):
    """Carol accepts a meter free of debt; a bill of Bob's last hour settled after
    that, which his ledger cannot pay, is his own debt, not the meter's."""
    last = measure(household_key, household_meter, 0, 1_000)
    hand_over(smb, household_meter, bob, carol)
    fund(carol, 10**18)
    ob.deposit(10**18, sender=carol)
    ob.settle(smb.address, household_meter, last)
    event = only_event(ob, "DebtRecorded")
    assert (event.account, event.amount) == (bob, 1_000 * RETAIL)
    assert ob.meter_debt(smb.address, household_meter) == 0
    ob.settle(smb.address, household_meter, measure(household_key, household_meter, 0, 100))
    assert ob.balance_of(carol) == 10**18 - 100 * RETAIL
    assert ob.debt_of(carol) == 0


def test_a_reward_of_the_previous_owner_does_not_pay_the_new_owners_debt(
    ob, smb, measure, treasury, meter_key, solar_meter, alice, carol
):
    """Alice's meter owes for a night; her noon hour is measured, then Carol takes
    the meter with its debt. The noon reward, settled later, is Alice's whole."""
    ob.settle(smb.address, solar_meter, measure(meter_key, solar_meter, 0, 1_000))
    noon = measure(meter_key, solar_meter, 5_000, 0)
    hand_over(smb, solar_meter, alice, carol, max_debt=1_000 * RETAIL)
    ob.settle(smb.address, solar_meter, noon)
    assert ob.balance_of(alice) == 5_000 * FEED_IN
    assert ob.meter_debt(smb.address, solar_meter) == 1_000 * RETAIL
    ob.settle(smb.address, solar_meter, measure(meter_key, solar_meter, 5_000, 0))
    assert ob.meter_debt(smb.address, solar_meter) == 0
    assert ob.balance_of(carol) == 5_000 * FEED_IN - 1_000 * RETAIL


def test_a_later_backends_bill_for_a_past_owner_reaches_no_ledger_and_no_new_owner(
    ob, rogue, bob, carol
):
    """A backend trusted later says the meter has passed to Carol and bills Bob for
    an hour before: Bob never opened his ledger to it and Carol did not take it on,
    so the bill is logged as unpaid, for the operator to collect off chain."""
    meter = meter_id_for("invented")
    rogue.hand_over(carol)
    ob.settle(rogue.address, meter, 0)
    event = only_event(ob, "BillUnpaid")
    assert (event.backend, event.meter_id, event.account, event.amount) == (
        rogue.address,
        meter,
        bob,
        10_000 * RETAIL,
    )
    assert ob.balance_of(bob) == 30 * 10**18
    assert ob.debt_of(bob) == ob.debt_of(carol) == ob.meter_debt(rogue.address, meter) == 0


@pytest.fixture
def unwired_backend(smb_deployer, deployer, operator, issuing_body, installer, ob, treasury):
    """A second SmartMeterBackend the operator trusts after its deployment (a new
    region's, say) whose admin has not wired it to the operator."""
    with boa.env.prank(deployer):
        backend = smb_deployer.deploy(INTERVAL, FUTURE_TOLERANCE, ZERO_ADDRESS)
        backend.set_issuing_body(SECTOR, issuing_body, True)
    backend.certify_installer(SECTOR, installer, sender=issuing_body)
    ob.announce_backend_trust(backend.address, True, sender=operator)
    boa.env.time_travel(seconds=NOTICE)
    return backend


@pytest.mark.parametrize("opened", [False, True])
def test_no_meter_debt_is_kept_for_a_backend_that_does_not_name_the_operator(
    ob, unwired_backend, sign, installer, fund, bob, carol, opened
):
    """From the review: an acceptance names the debt at the operator its backend
    is wired to (none here: 0), so a debt booked for the meter at this operator
    would have been paid by Carol's first reward. Bob's unpaid bill is his own
    (his ledger opened to the meter) or left unpaid; Carol's reward is whole."""
    smb2 = unwired_backend
    key = keyed_account("meter-solar-2")
    meter = meter_id_for("solar-2")
    kind = PRODUCTION | CONSUMPTION
    smb2.register_meter(
        meter,
        key.address,
        bob,
        SECTOR,
        SOLAR_TECH,
        SOLAR_FUEL,
        CAPACITY_W,
        CONNECTION_W,
        kind,
        sender=installer,
    )
    smb2.accept_meter(meter, 0, sender=bob)
    if opened:
        ob.open_ledger(smb2.address, meter, True, sender=bob)

    def read(end, imported, exported, begin):
        advance_to(end)
        reading = sign(key, meter, end, imported, exported, contract=smb2.address, begin=begin)
        smb2.submit_reading(*reading.contract_args())

    t0 = grid_time(0)
    read(t0, 0, 0, begin=0)
    read(t0 + INTERVAL, 1_000, 0, begin=t0)
    ob.settle(smb2.address, meter, t0)
    if not opened:
        assert only_event(ob, "BillUnpaid").amount == 1_000 * RETAIL
    assert ob.meter_debt(smb2.address, meter) == 0
    assert ob.debt_of(bob) == (1_000 * RETAIL if opened else 0)
    hand_over(smb2, meter, bob, carol)
    read(t0 + 2 * INTERVAL, 1_000, 5_000, begin=t0 + INTERVAL)
    ob.settle(smb2.address, meter, t0 + INTERVAL)
    assert ob.balance_of(carol) == 5_000 * FEED_IN


def test_wire_operator_once_by_the_admin_to_an_operator_that_trusts_the_backend(
    smb_deployer, ob_deployer, wallet, deployer, alice
):
    with boa.env.prank(deployer):
        fresh = smb_deployer.deploy(INTERVAL, 300, ZERO_ADDRESS)
        stranger = ob_deployer.deploy(wallet.address, NOTICE, RETAIL, FEED_IN, [alice])
        own = ob_deployer.deploy(wallet.address, NOTICE, RETAIL, FEED_IN, [fresh.address])
    assert fresh.meter_debt(meter_id_for("any")) == 0  # nothing wired: no debt
    with boa.reverts("access_control: account is missing role"):
        fresh.wire_operator(own.address, sender=alice)
    with boa.reverts("meter: operator is not a contract"):
        fresh.wire_operator(alice, sender=deployer)
    with boa.reverts("meter: the operator does not trust this backend"):
        fresh.wire_operator(stranger.address, sender=deployer)
    fresh.wire_operator(own.address, sender=deployer)
    event = only_event(fresh, "OperatorWired")
    assert (event.operator, event.admin) == (own.address, deployer)
    with boa.reverts("meter: operator already wired"):
        fresh.wire_operator(stranger.address, sender=deployer)


# item 13: a meter's hours stay apart; a measurement over several is netted whole


def test_a_buyer_whose_meter_missed_the_traded_hour_is_credited_what_it_bought(
    exchange, ob, smb, sign, household_key, household_meter, sold_deal, deliver, delivery_hour
):
    """Bob bought and was delivered 1,000 Wh for the delivery hour; his meter's
    bridge was down over it, so one measurement spans three hours. He paid Alice
    for the 1,000 Wh, and they were netted nowhere: he paid twice. Now they are
    netted, in the least favourable split (all bought Wh earn the feed-in
    reward, all consumption is billed), so that missing a reading never pays."""
    before = delivery_hour - INTERVAL
    advance_to(before)
    smb.submit_reading(*sign(household_key, household_meter, before, 0, 0).contract_args())
    deliver(delivery_hour, 1_500)
    exchange.settle(*sold_deal)
    assert only_event(exchange, "DealSettled").delivered_wh == 1_000
    after = delivery_hour + 2 * INTERVAL
    advance_to(after)
    smb.submit_reading(*sign(household_key, household_meter, after, 1_800, 0).contract_args())
    assert smb.measurement(household_meter, before) == (after, 0, 1_800)
    ob.settle(smb.address, household_meter, before)
    event = only_event(ob, "IntervalSettled")
    assert (event.feed_in_wh, event.retail_wh) == (1_000, 1_800)
    assert (event.reward, event.bill) == (1_000 * FEED_IN, 1_800 * RETAIL)


def test_a_measurement_over_several_hours_waits_for_their_deals(
    exchange, ob, smb, sign, household_key, household_meter, sold_deal, delivery_hour
):
    before = delivery_hour - INTERVAL
    advance_to(before)
    smb.submit_reading(*sign(household_key, household_meter, before, 0, 0).contract_args())
    after = delivery_hour + 2 * INTERVAL
    advance_to(after)
    smb.submit_reading(*sign(household_key, household_meter, after, 1_800, 0).contract_args())
    # The delivery hour's deal is not settled yet (Alice's reading is late).
    with boa.reverts("operator: interval has unsettled deals"):
        ob.settle(smb.address, household_meter, before)
    advance_to(delivery_hour + INTERVAL + TIMEOUT)
    exchange.settle(*sold_deal)  # refunded: nothing delivered, nothing netted
    ob.settle(smb.address, household_meter, before)
    assert only_event(ob, "IntervalSettled").retail_wh == 1_800


def test_a_measurement_over_days_nets_every_traded_hour_in_it(
    exchange,
    ob,
    smb,
    sign,
    household_key,
    meter_key,
    household_meter,
    sold_deal,
    deliver,
    delivery_hour,
    alice,
    bob,
    solar_meter,
):
    """Traded hours 40 hours apart, in different words of the operator's bitmap
    (128 quarter hours each), inside one measurement of Bob's meter."""
    later = delivery_hour + 40 * INTERVAL
    offer = exchange.offer(solar_meter, later, 500, PRICE, sender=alice)
    exchange.take(offer, 500, PRICE, 0, household_meter, sender=bob)
    second = made_deal(exchange)
    before = delivery_hour - INTERVAL
    advance_to(before)
    smb.submit_reading(*sign(household_key, household_meter, before, 0, 0).contract_args())
    deliver(delivery_hour, 1_500)
    exchange.settle(*sold_deal)
    for end, exported in ((later, 1_500), (later + INTERVAL, 2_300)):
        advance_to(end)
        smb.submit_reading(*sign(meter_key, solar_meter, end, 0, exported).contract_args())
    exchange.settle(*second)
    assert only_event(exchange, "DealSettled").delivered_wh == 500
    after = later + 2 * INTERVAL
    advance_to(after)
    smb.submit_reading(*sign(household_key, household_meter, after, 3_000, 0).contract_args())
    ob.settle(smb.address, household_meter, before)
    event = only_event(ob, "IntervalSettled")
    assert (event.feed_in_wh, event.retail_wh) == (1_000 + 500, 3_000)


def test_leaving_a_reading_out_never_lowers_a_buyer_s_bill(
    exchange, ob, smb, sign, household_key, household_meter, sold_deal, deliver, delivery_hour
):
    """From the review: Bob bought 1,000 Wh for an hour in which he consumed
    nothing, and consumed 1,000 Wh the hour after. Read hourly, the bought Wh
    earn feed-in and the next hour is billed; a reading left out must not let
    him net the purchase against the next hour's consumption."""
    before = delivery_hour - INTERVAL
    advance_to(before)
    smb.submit_reading(*sign(household_key, household_meter, before, 0, 0).contract_args())
    deliver(delivery_hour, 1_500)
    exchange.settle(*sold_deal)

    def net_bill(readings) -> int:
        with boa.env.anchor():
            for end, imported in readings:
                advance_to(end)
                smb.submit_reading(
                    *sign(household_key, household_meter, end, imported, 0).contract_args()
                )
            total = 0
            begin = before
            for end, _ in readings:
                ob.settle(smb.address, household_meter, begin)
                event = only_event(ob, "IntervalSettled")
                total += event.bill - event.reward
                begin = end
            return total

    hour, next_hour = delivery_hour + INTERVAL, delivery_hour + 2 * INTERVAL
    hourly = net_bill([(delivery_hour, 0), (hour, 0), (next_hour, 1_000)])
    merged = net_bill([(delivery_hour, 0), (next_hour, 1_000)])
    assert hourly == 1_000 * RETAIL - 1_000 * FEED_IN
    assert merged >= hourly


def poke_traded(ob, backend, meter, begins) -> None:
    """Marks intervals traded in the operator's bitmap, as the Exchange's deals would."""
    words = {}
    for begin in begins:
        index = begin // 900
        words[index >> 7] = words.get(index >> 7, 0) | (2 << ((index & 127) << 1))
    for word_index, bits in words.items():
        slot = storage_slot(ob, "_settled", encode(["address"], [backend]), meter, word(word_index))
        boa.env.set_storage(ob.address, slot, boa.env.get_storage(ob.address, slot) | bits)


def test_a_long_measurement_with_many_traded_hours_is_netted_in_steps(
    exchange, ob, smb, sign, household_key, household_meter, delivery_hour
):
    """From the review: an accomplice's 1 Wh deal every hour over months of a
    meter held offline made its measurement too costly to settle in any block,
    so its consumption was never billed. It is netted in steps, by anyone."""
    before = delivery_hour - INTERVAL
    advance_to(before)
    smb.submit_reading(*sign(household_key, household_meter, before, 0, 0).contract_args())
    hours = 250
    poke_traded(ob, smb.address, household_meter, [before + h * INTERVAL for h in range(hours)])
    end = before + (hours + 1) * INTERVAL
    advance_to(end)
    smb.submit_reading(*sign(household_key, household_meter, end, 50_000, 0).contract_args())
    with boa.reverts("operator: a measurement this long is netted first, in steps, with net_span"):
        ob.settle(smb.address, household_meter, before)
    steps = 0
    while not ob.net_span(smb.address, household_meter, before):
        steps += 1
    assert steps == hours // ob.MAX_NET_CALLS()
    ob.settle(smb.address, household_meter, before)
    assert only_event(ob, "IntervalSettled").retail_wh == 50_000


def test_a_baseline_dated_long_before_registration_is_refused(
    smb, sign, household_key, household_meter
):
    """From the review: a baseline dated 1970 made the next measurement decades long."""
    with boa.reverts("meter: a baseline dated over a week before the meter's registration"):
        smb.submit_reading(*sign(household_key, household_meter, INTERVAL, 0, 0).contract_args())


# Also from the review: what a compromised meter key can report


def test_a_stolen_key_cannot_report_production_beyond_the_capacity(
    smb, sign, meter_key, solar_meter, registry
):
    """Before, any Wh a key signed were measured and certified: a million
    certificates in an hour from a 6 kW roof."""
    start = grid_time(-2)
    smb.submit_reading(*sign(meter_key, solar_meter, start, 0, 0).contract_args())
    # The capacity over the hour and the reading's tolerance (300 s) more.
    most = CAPACITY_W * (INTERVAL + smb.future_tolerance()) // 3_600
    with boa.reverts("meter: production beyond the meter's capacity"):
        smb.submit_reading(
            *sign(meter_key, solar_meter, start + INTERVAL, 0, most + 1).contract_args()
        )
    # The refused reading blocks nothing: the most the hour allows is fine.
    smb.submit_reading(*sign(meter_key, solar_meter, start + INTERVAL, 0, most).contract_args())
    assert smb.measurement(solar_meter, start)[1] == most


def test_a_stolen_key_cannot_report_import_beyond_the_connection_rating(
    ob, smb, sign, household_key, household_meter, bob
):
    """Before, any import a key signed was measured and billed: a stolen or
    faulty key could empty its owner's ledger in one reading."""
    start = grid_time(-3)
    smb.submit_reading(*sign(household_key, household_meter, start, 0, 0).contract_args())
    assert smb.meter(household_meter).connection_w == CONNECTION_W
    # Twice the rating (a fuse's overload at a high voltage is honest) over the
    # hour and the reading's tolerance (300 s) more.
    assert smb.CONNECTION_HEADROOM() == 2
    most = 2 * CONNECTION_W * (INTERVAL + smb.future_tolerance()) // 3_600
    with boa.reverts("meter: import beyond the meter's connection rating"):
        smb.submit_reading(
            *sign(household_key, household_meter, start + INTERVAL, most + 1, 0).contract_args()
        )
    # The refused reading blocks nothing: the most the hour allows is fine, and
    # after a gap the bound grows with the measurement.
    smb.submit_reading(
        *sign(household_key, household_meter, start + INTERVAL, most, 0).contract_args()
    )
    assert smb.measurement(household_meter, start).consumed_wh == most
    two_hours = 2 * CONNECTION_W * (2 * INTERVAL + smb.future_tolerance()) // 3_600
    smb.submit_reading(
        *sign(
            household_key, household_meter, start + 3 * INTERVAL, most + two_hours, 0
        ).contract_args()
    )
    assert smb.measurement(household_meter, start + INTERVAL).consumed_wh == two_hours


def test_the_operator_corrects_a_connection_rating_that_refuses_honest_readings(
    smb, sign, operator, household_key, household_meter
):
    """From the review: a rating registered too low refused every later
    reading, for good; only the operator corrects it, with a reason logged."""
    start = grid_time(-3)
    smb.submit_reading(*sign(household_key, household_meter, start, 0, 0).contract_args())
    used = 2 * CONNECTION_W * (INTERVAL + smb.future_tolerance()) // 3_600 + 1
    honest = sign(household_key, household_meter, start + INTERVAL, used, 0)
    with boa.reverts("meter: import beyond the meter's connection rating"):
        smb.submit_reading(*honest.contract_args())
    smb.set_connection_rating(household_meter, 3 * CONNECTION_W, "a 3 x 63 A fuse", sender=operator)
    event = only_event(smb, "ConnectionRatingSet")
    assert (event.meter_id, event.connection_w, event.operator, event.reason) == (
        household_meter,
        3 * CONNECTION_W,
        operator,
        "a 3 x 63 A fuse",
    )
    smb.submit_reading(*honest.contract_args())
    assert smb.measurement(household_meter, start).consumed_wh == used
    with boa.reverts("meter: a meter needs its connection rating"):
        smb.set_connection_rating(household_meter, 0, "", sender=operator)
    with boa.reverts("meter: unknown meter"):
        smb.set_connection_rating(meter_id_for("nowhere"), 1, "", sender=operator)


@pytest.mark.parametrize(
    ("connection_w", "reason"),
    [
        (0, "meter: a meter needs its connection rating"),
        (10**10 + 1, "meter: connection rating above 10 GW"),
    ],
)
def test_register_meter_refuses_a_missing_or_absurd_connection_rating(
    smb, installer, alice, connection_w, reason
):
    with boa.reverts(reason):
        smb.register_meter(
            meter_id_for("fuse"), alice, alice, SECTOR, "", "", 0, connection_w, 2, sender=installer
        )


def test_a_consumption_meter_s_export_is_measured_but_never_rewarded_or_certified(
    ob, smb, sign, household_key, household_meter, registry, bob
):
    """An unregistered balcony panel behind a consumption-only meter."""
    start = grid_time(-2)
    smb.submit_reading(*sign(household_key, household_meter, start, 0, 0).contract_args())
    smb.submit_reading(
        *sign(household_key, household_meter, start + INTERVAL, 300, 500).contract_args()
    )
    assert smb.measurement(household_meter, start) == (start + INTERVAL, 500, 300)
    assert smb.settlement_data(household_meter, start) == (bob, start + INTERVAL, 0, 300)
    ob.settle(smb.address, household_meter, start)
    event = only_event(ob, "IntervalSettled")
    assert (event.feed_in_wh, event.retail_wh) == (0, 300)


# Also from the review: the events an auditor and the indexer need


def test_a_take_logs_each_meter_s_interval_traded_once(
    exchange, ob, smb, solar_meter, household_meter, delivery_hour, alice, bob
):
    offer = exchange.offer(solar_meter, delivery_hour, 2_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    traded = [e for e in exchange.get_logs() if type(e).__name__ == "IntervalTraded"]
    assert {(e.meter_id, e.interval_begin) for e in traded} == {
        (solar_meter, delivery_hour),
        (household_meter, delivery_hour),
    }
    exchange.take(offer, 500, PRICE, 0, household_meter, sender=bob)
    assert not [e for e in exchange.get_logs() if type(e).__name__ == "IntervalTraded"]


def test_deal_settled_names_the_parties(exchange, sold_deal, deliver, delivery_hour, alice, bob):
    deliver(delivery_hour, 2_500)
    exchange.settle(*sold_deal)
    event = only_event(exchange, "DealSettled")
    assert (event.seller, event.buyer) == (alice, bob)


def test_arrears_set_against_a_bill_and_debt_repaid_from_a_reward_are_logged(
    ob, smb, fund, measure, meter_key, solar_meter, alice, carol
):
    """Alice's reward finds an empty treasury (arrears); her next bill is set
    against them; a bill beyond that is her debt, repaid from her next reward."""
    ob.settle(smb.address, solar_meter, measure(meter_key, solar_meter, produced=1_000, consumed=0))
    owed = ob.arrears_of(alice)
    assert owed == 1_000 * FEED_IN
    ob.settle(smb.address, solar_meter, measure(meter_key, solar_meter, produced=0, consumed=100))
    offset = only_event(ob, "ArrearsOffset")
    assert (offset.account, offset.amount) == (alice, min(100 * RETAIL, owed))
    ob.settle(smb.address, solar_meter, measure(meter_key, solar_meter, produced=0, consumed=5_000))
    debt = ob.meter_debt(smb.address, solar_meter)
    assert debt > 0
    fund(carol, 10**21)
    ob.fund_treasury(10**21, sender=carol)
    ob.settle(smb.address, solar_meter, measure(meter_key, solar_meter, produced=5_000, consumed=0))
    repaid = only_event(ob, "MeterDebtPaid")
    assert (repaid.payer, repaid.amount) == (alice, min(debt, 5_000 * FEED_IN))
    assert ob.meter_debt(smb.address, solar_meter) == debt - repaid.amount


def test_an_offer_made_from_a_token_hook_during_a_take_cannot_hide_the_book(
    hook_market, smb, installer, solar_meter, delivery_hour, alice, carol
):
    """From the review of item 16: `take` wrote the order back from a copy read
    before the token moved, and `offer` had no lock; an offer placed from the
    taker's token hook was orphaned, and cancelling it left the book's head on
    a closed order: the competitor's open offer vanished from `order_book`."""
    _, _, market, maker, meter = hook_market
    solar = meter_id_for("reentrant-roof")
    smb.register_meter(
        solar,
        carol,
        maker.address,
        SECTOR,
        SOLAR_TECH,
        SOLAR_FUEL,
        CAPACITY_W,
        CONNECTION_W,
        PRODUCTION,
        sender=installer,
    )
    accept(smb, solar, maker)
    competitor = market.offer(solar_meter, delivery_hour, 500, PRICE, sender=alice)
    bait = market.offer(solar_meter, delivery_hour, 1, PRICE, sender=alice)
    maker.arm(
        market.address, market.offer.prepare_calldata(solar, delivery_hour, 10, PRICE), sender=carol
    )
    maker.execute(
        market.address, market.take.prepare_calldata(bait, 1, PRICE, 0, meter), sender=carol
    )
    assert maker.reentry_attempted()
    assert not maker.reentry_succeeded()
    assert market.order_book(delivery_hour, 0) == ([competitor], 0)


def test_a_cursor_whose_order_closed_reverts_rather_than_end_the_book(
    exchange, solar_meter, household_meter, delivery_hour, alice, bob
):
    orders = [
        exchange.offer(solar_meter, delivery_hour, 1, PRICE, sender=alice) for _ in range(300)
    ]
    _, cursor = exchange.order_book(delivery_hour, 0)
    exchange.take(cursor - 1, 1, PRICE, 0, household_meter, sender=bob)
    with boa.reverts(
        "exchange: the cursor's order closed or is of another interval: start again from 0"
    ):
        exchange.order_book(delivery_hour, cursor)
    assert len(orders) == 300

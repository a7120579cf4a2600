"""OperatorBackend.vy: settling measured intervals, once, fairly, never blocked by money."""

import boa
import pytest

from tests.fixtures.meters import CONNECTION_W, INTERVAL, ZERO_ADDRESS, meter_id_for
from tests.fixtures.operator import FEED_IN, NOTICE, RETAIL, TOKENS
from tests.helpers import events, only_event


def test_settle_pays_feed_in_and_bills_consumption(
    ob, smb, solar_meter, meter_key, measure, treasury, alice, bob
):
    begin = measure(meter_key, solar_meter, produced=2_000, consumed=300)
    ob.settle(smb.address, solar_meter, begin, sender=bob)
    event = only_event(ob, "IntervalSettled")
    assert (event.backend, event.meter_id, event.interval_begin) == (
        smb.address,
        solar_meter,
        begin,
    )
    assert (event.account, event.feed_in_wh, event.retail_wh) == (alice, 2_000, 300)
    assert (event.reward, event.bill) == (2_000 * FEED_IN, 300 * RETAIL)
    net = 2_000 * FEED_IN - 300 * RETAIL
    assert ob.balance_of(alice) == net
    assert ob.treasury() == treasury - net
    assert ob.is_settled(smb.address, solar_meter, begin)


def test_settle_bills_a_household_from_its_ledger(
    ob, smb, household_meter, household_key, measure, fund, bob
):
    fund(bob, TOKENS)
    ob.deposit(TOKENS, sender=bob)
    begin = measure(household_key, household_meter, produced=0, consumed=700)
    ob.settle(smb.address, household_meter, begin)
    assert ob.balance_of(bob) == TOKENS - 700 * RETAIL
    assert ob.treasury() == 700 * RETAIL
    assert ob.debt_of(bob) == 0


def test_settle_records_the_meters_debt_instead_of_reverting(
    ob, smb, household_meter, household_key, measure, fund, bob
):
    fund(bob, 100 * RETAIL)
    ob.deposit(100 * RETAIL, sender=bob)
    begin = measure(household_key, household_meter, produced=0, consumed=700)
    ob.settle(smb.address, household_meter, begin)
    event = only_event(ob, "MeterDebtRecorded")
    assert (event.backend, event.meter_id, event.account, event.amount) == (
        smb.address,
        household_meter,
        bob,
        600 * RETAIL,
    )
    assert ob.balance_of(bob) == 0
    assert ob.meter_debt(smb.address, household_meter) == 600 * RETAIL
    assert ob.debt_of(bob) == 0
    assert ob.treasury() == 100 * RETAIL


def test_the_meters_next_bill_collects_its_debt_from_the_ledger(
    ob, smb, household_meter, household_key, measure, fund, bob
):
    ob.settle(smb.address, household_meter, measure(household_key, household_meter, 0, 700))
    fund(bob, TOKENS)
    ob.deposit(TOKENS, sender=bob)
    assert only_event(ob, "Deposited").debt_paid == 0  # the debt is the meter's
    ob.settle(smb.address, household_meter, measure(household_key, household_meter, 0, 100))
    event = only_event(ob, "MeterDebtPaid")
    assert (event.meter_id, event.payer, event.amount) == (household_meter, bob, 700 * RETAIL)
    assert ob.meter_debt(smb.address, household_meter) == 0
    assert ob.balance_of(bob) == TOKENS - 800 * RETAIL
    assert ob.treasury() == 800 * RETAIL


def test_reward_pays_the_meters_debt_first(
    ob, smb, solar_meter, meter_key, measure, treasury, alice
):
    night = measure(meter_key, solar_meter, produced=0, consumed=1_000)
    ob.settle(smb.address, solar_meter, night)
    assert ob.meter_debt(smb.address, solar_meter) == 1_000 * RETAIL
    noon = measure(meter_key, solar_meter, produced=5_000, consumed=0)
    ob.settle(smb.address, solar_meter, noon)
    assert ob.meter_debt(smb.address, solar_meter) == 0
    assert ob.balance_of(alice) == 5_000 * FEED_IN - 1_000 * RETAIL


def test_reward_beyond_treasury_becomes_arrears(
    ob, smb, solar_meter, meter_key, measure, fund, operator, alice
):
    fund(operator, 1_000 * FEED_IN)
    ob.fund_treasury(1_000 * FEED_IN, sender=operator)
    begin = measure(meter_key, solar_meter, produced=3_000, consumed=0)
    ob.settle(smb.address, solar_meter, begin)
    event = only_event(ob, "ArrearsRecorded")
    assert (event.account, event.amount) == (alice, 2_000 * FEED_IN)
    assert ob.balance_of(alice) == 1_000 * FEED_IN
    assert ob.arrears_of(alice) == ob.total_arrears() == 2_000 * FEED_IN
    assert ob.treasury() == 0


def test_claim_arrears_once_the_treasury_is_funded(
    ob, smb, solar_meter, meter_key, measure, fund, operator, alice
):
    begin = measure(meter_key, solar_meter, produced=3_000, consumed=0)
    ob.settle(smb.address, solar_meter, begin)
    with boa.reverts("operator: treasury is empty"):
        ob.claim_arrears(sender=alice)
    fund(operator, 1_000 * FEED_IN)
    ob.fund_treasury(1_000 * FEED_IN, sender=operator)
    ob.claim_arrears(sender=alice)
    event = only_event(ob, "ArrearsPaid")
    assert (event.account, event.amount) == (alice, 1_000 * FEED_IN)
    assert ob.balance_of(alice) == 1_000 * FEED_IN
    assert ob.arrears_of(alice) == ob.total_arrears() == 2_000 * FEED_IN


def test_bill_is_offset_against_arrears(ob, smb, solar_meter, meter_key, measure, alice):
    noon = measure(meter_key, solar_meter, produced=3_000, consumed=0)
    ob.settle(smb.address, solar_meter, noon)
    night = measure(meter_key, solar_meter, produced=0, consumed=500)
    ob.settle(smb.address, solar_meter, night)
    assert ob.arrears_of(alice) == 3_000 * FEED_IN - 500 * RETAIL
    assert ob.meter_debt(smb.address, solar_meter) == 0


def test_settle_uses_the_tariff_at_interval_begin(
    ob, smb, household_meter, household_key, measure, operator, bob
):
    effective = boa.env.evm.patch.timestamp + NOTICE
    effective -= effective % INTERVAL
    effective += INTERVAL
    ob.announce_tariff(RETAIL * 2, FEED_IN, effective, sender=operator)
    boa.env.time_travel(seconds=effective - boa.env.evm.patch.timestamp)
    before = measure(household_key, household_meter, produced=0, consumed=100)  # begins before
    after = measure(household_key, household_meter, produced=0, consumed=100)  # begins at effective
    assert after == effective
    ob.settle(smb.address, household_meter, before)
    ob.settle(smb.address, household_meter, after)
    assert ob.meter_debt(smb.address, household_meter) == 100 * RETAIL + 100 * RETAIL * 2


def test_settle_twice_reverts(ob, smb, solar_meter, meter_key, measure, treasury):
    begin = measure(meter_key, solar_meter, produced=10, consumed=0)
    ob.settle(smb.address, solar_meter, begin)
    with boa.reverts("operator: interval already settled"):
        ob.settle(smb.address, solar_meter, begin)


def test_settle_before_the_measurement_reverts(ob, smb, solar_meter, meter_key, measure):
    begin = measure(meter_key, solar_meter, produced=10, consumed=0)
    with boa.reverts("operator: no measurement for this interval"):
        ob.settle(smb.address, solar_meter, begin + INTERVAL)


def test_settle_unknown_meter_reverts(ob, smb):
    with boa.reverts("operator: no measurement for this interval"):
        ob.settle(smb.address, meter_id_for("unknown"), 0)


def test_settle_from_untrusted_backend_reverts(ob, smb_deployer, solar_meter):
    rogue = smb_deployer.deploy(INTERVAL, 0, ZERO_ADDRESS)
    with boa.reverts("operator: backend not trusted"):
        ob.settle(rogue.address, solar_meter, 0)


def test_settle_after_untrust_took_effect_reverts(
    ob, smb, solar_meter, meter_key, measure, operator
):
    begin = measure(meter_key, solar_meter, produced=10, consumed=0)
    ob.announce_backend_trust(smb.address, False, sender=operator)
    boa.env.time_travel(seconds=NOTICE)
    with boa.reverts("operator: backend not trusted"):
        ob.settle(smb.address, solar_meter, begin)


def test_settle_many_skips_what_is_settled(
    ob, smb, solar_meter, meter_key, household_meter, household_key, measure, treasury
):
    first = measure(meter_key, solar_meter, produced=100, consumed=0)
    second = measure(meter_key, solar_meter, produced=200, consumed=0)
    household = measure(household_key, household_meter, produced=0, consumed=50)
    ob.settle(smb.address, solar_meter, first)
    batch = [(solar_meter, first), (solar_meter, second), (household_meter, household)]
    assert ob.settle_many(smb.address, batch) == 2
    assert len(events(ob, "IntervalSettled")) == 2
    assert ob.settle_many(smb.address, batch) == 0


def test_settle_many_skips_what_is_not_measured_yet(
    ob, smb, solar_meter, meter_key, measure, treasury
):
    """A keeper's batch that names an interval not measured yet settles the rest
    (it used to revert whole); `settle` alone still says why."""
    begin = measure(meter_key, solar_meter, produced=1_000, consumed=0)
    assert ob.settle_many(smb.address, [(solar_meter, begin + INTERVAL), (solar_meter, begin)]) == 1
    assert ob.is_settled(smb.address, solar_meter, begin)
    assert not ob.is_settled(smb.address, solar_meter, begin + INTERVAL)
    with boa.reverts("operator: no measurement for this interval"):
        ob.settle(smb.address, solar_meter, begin + INTERVAL)


def test_settle_many_reverts_for_untrusted_backend(ob, smb_deployer):
    rogue = smb_deployer.deploy(INTERVAL, 0, ZERO_ADDRESS)
    with boa.reverts("operator: backend not trusted"):
        ob.settle_many(rogue.address, [])


def test_quarter_hour_intervals_settle_separately(
    ob_deployer, smb_deployer, wallet, deployer, issuing_body, installer, meter_key, alice
):
    """The settled bitmap has a bit per 900 s: neighbouring quarter hours do not collide."""
    from meter_bridge.signing import Reading, sign_reading

    with boa.env.prank(deployer):
        smb = smb_deployer.deploy(900, 60, ZERO_ADDRESS)
        smb.set_issuing_body("DK1", issuing_body, True)
        ob = ob_deployer.deploy(wallet.address, NOTICE, RETAIL, FEED_IN, [smb.address])
    smb.certify_installer("DK1", installer, sender=issuing_body)
    meter = meter_id_for("quarter")
    smb.register_meter(
        meter, meter_key.address, alice, "DK1", "", "", 0, CONNECTION_W, 2, sender=installer
    )
    smb.accept_meter(meter, 0, sender=alice)
    now = boa.env.evm.patch.timestamp
    start = now - now % 900 - 3 * 900
    for i in range(4):
        signed = sign_reading(
            meter_key,
            Reading(meter, start + i * 900, i, 0, b"\x01" * 32, start + (i - 1) * 900 if i else 0),
            boa.env.evm.patch.chain_id,
            str(smb.address),
        )
        smb.submit_reading(*signed.contract_args())
    assert ob.settle_many(smb.address, [(meter, start + i * 900) for i in range(3)]) == 3


@pytest.mark.parametrize(
    ("produced", "consumed", "sold", "bought", "expected"),
    [
        (1_000, 200, 0, 0, (1_000, 200)),
        (1_000, 200, 600, 50, (400, 150)),
        (1_000, 200, 1_500, 500, (300, 0)),  # sold more than produced; bought 300 unused
        (0, 200, 0, 1_000, (800, 0)),  # issue 12, item 17: 800 Wh bought and not consumed
    ],
)
def test_billable_wh_subtracts_traded_energy(ob, produced, consumed, sold, bought, expected):
    assert ob.billable_wh(produced, consumed, sold, bought) == expected

"""OperatorBackend.vy: tariffs, the prepaid ledger, the treasury, trusted backends, roles."""

import boa
import pytest

from openkwh.chain import permit_typed_data
from tests.fixtures.operator import FEED_IN, NOTICE, RETAIL, TOKENS
from tests.fixtures.wallet import NAME
from tests.helpers import only_event

ZERO = "0x0000000000000000000000000000000000000000"


def test_init_sets_first_tariff_and_trusts_backend(ob, smb, wallet, deployer):
    assert ob.token() == wallet.address
    assert ob.notice_period() == NOTICE
    assert ob.tariff_count() == 1
    assert ob.tariff(0) == (RETAIL, FEED_IN, 0)
    assert ob.tariff_at(0) == (RETAIL, FEED_IN, 0)
    assert ob.is_trusted(smb.address)
    assert ob.hasRole(ob.OPERATOR_ROLE(), deployer)


def on_the_hour_after(seconds: int) -> int:
    """The first whole hour at least ``seconds`` from now (tariffs start on the hour)."""
    earliest = boa.env.evm.patch.timestamp + seconds
    return earliest + (-earliest) % 3_600


def test_announce_tariff_after_notice(ob, operator):
    effective = on_the_hour_after(NOTICE)
    ob.announce_tariff(RETAIL * 2, FEED_IN // 2, effective, sender=operator)
    event = only_event(ob, "TariffAnnounced")
    assert (event.index, event.retail_price, event.feed_in_reward) == (1, RETAIL * 2, FEED_IN // 2)
    assert (event.effective_from, event.operator) == (effective, operator)
    assert ob.tariff_at(effective - 1) == (RETAIL, FEED_IN, 0)
    assert ob.tariff_at(effective) == (RETAIL * 2, FEED_IN // 2, effective)


def test_announce_tariff_reverts_inside_notice(ob, operator):
    with boa.reverts("operator: tariff needs the notice period"):
        ob.announce_tariff(1, 1, boa.env.evm.patch.timestamp + NOTICE - 1, sender=operator)


@pytest.mark.parametrize("after", [0, 3_600, 86_400 - 3_600])
def test_announce_tariff_reverts_less_than_a_day_after_the_last(ob, operator, after):
    """Issue 12, item 4: tariffs a day apart or more, so a measurement spans few."""
    effective = on_the_hour_after(2 * NOTICE)
    ob.announce_tariff(1, 1, effective, sender=operator)
    with boa.reverts("operator: tariff must start a day or more after the last announced one"):
        ob.announce_tariff(2, 2, effective + after, sender=operator)
    ob.announce_tariff(2, 2, effective + 86_400, sender=operator)
    assert ob.tariff_count() == 3


def test_announce_tariff_reverts_off_the_hour(ob, operator):
    """Issue 12, item 4: tariffs take effect on the interval grid (the hour is on
    the grid of 3600 and 900 second intervals alike)."""
    with boa.reverts("operator: tariff must start on the hour"):
        ob.announce_tariff(1, 1, on_the_hour_after(NOTICE) + 900, sender=operator)


def test_tariff_reverts_for_unknown_index(ob):
    with boa.reverts("operator: no such tariff"):
        ob.tariff(1)


def test_deposit_credits_ledger(ob, wallet, fund, alice):
    fund(alice, 5 * TOKENS)
    ob.deposit(5 * TOKENS, sender=alice)
    event = only_event(ob, "Deposited")
    assert (event.account, event.amount, event.debt_paid) == (alice, 5 * TOKENS, 0)
    assert ob.balance_of(alice) == 5 * TOKENS
    assert wallet.balanceOf(ob.address) == 5 * TOKENS


def test_deposit_reverts_for_zero(ob, alice):
    with boa.reverts("operator: amount is zero"):
        ob.deposit(0, sender=alice)


def test_deposit_reverts_without_allowance(ob, wallet, deployer, alice):
    wallet.transfer(alice, TOKENS, sender=deployer)
    with boa.reverts("erc20: insufficient allowance"):
        ob.deposit(TOKENS, sender=alice)


@pytest.fixture
def permit_for(wallet, ob, alice_account):
    def sign(amount):
        deadline = boa.env.evm.patch.timestamp + 3_600
        data = permit_typed_data(
            NAME,
            alice_account.address,
            str(ob.address),
            amount,
            wallet.nonces(alice_account.address),
            deadline,
            boa.env.evm.patch.chain_id,
            str(wallet.address),
        )
        signed = alice_account.sign_typed_data(full_message=data)
        return deadline, signed.v, signed.r.to_bytes(32), signed.s.to_bytes(32)

    return sign


def test_deposit_with_permit_needs_no_approval(ob, wallet, deployer, alice, permit_for):
    wallet.transfer(alice, TOKENS, sender=deployer)
    ob.deposit_with_permit(TOKENS, *permit_for(TOKENS), sender=alice)
    assert ob.balance_of(alice) == TOKENS
    assert wallet.allowance(alice, ob.address) == 0
    assert wallet.name() == NAME


def test_deposit_with_front_run_permit_still_deposits(ob, wallet, deployer, alice, bob, permit_for):
    wallet.transfer(alice, TOKENS, sender=deployer)
    deadline, v, r, s = permit_for(TOKENS)
    wallet.permit(alice, ob.address, TOKENS, deadline, v, r, s, sender=bob)  # someone used it first
    ob.deposit_with_permit(TOKENS, deadline, v, r, s, sender=alice)
    assert ob.balance_of(alice) == TOKENS


def test_deposit_with_bad_permit_reverts(ob, wallet, deployer, alice, permit_for):
    wallet.transfer(alice, TOKENS, sender=deployer)
    deadline, v, r, s = permit_for(TOKENS)
    with boa.reverts("operator: permit failed and allowance is short"):
        ob.deposit_with_permit(2 * TOKENS, deadline, v, r, s, sender=alice)


def test_withdraw_pays_out(ob, wallet, fund, alice):
    fund(alice, 5 * TOKENS)
    ob.deposit(5 * TOKENS, sender=alice)
    ob.withdraw(2 * TOKENS, sender=alice)
    event = only_event(ob, "Withdrawn")
    assert (event.account, event.amount) == (alice, 2 * TOKENS)
    assert ob.balance_of(alice) == 3 * TOKENS
    assert wallet.balanceOf(alice) == 2 * TOKENS


@pytest.mark.parametrize(
    ("amount", "reason"),
    [(0, "operator: amount is zero"), (TOKENS + 1, "operator: amount exceeds ledger balance")],
)
def test_withdraw_reverts(ob, fund, alice, amount, reason):
    fund(alice, TOKENS)
    ob.deposit(TOKENS, sender=alice)
    with boa.reverts(reason):
        ob.withdraw(amount, sender=alice)


def test_fund_treasury_by_anyone(ob, fund, carol):
    fund(carol, 3 * TOKENS)
    ob.fund_treasury(3 * TOKENS, sender=carol)
    event = only_event(ob, "TreasuryFunded")
    assert (event.funder, event.amount) == (carol, 3 * TOKENS)
    assert ob.treasury() == 3 * TOKENS


def test_fund_treasury_reverts_for_zero(ob, operator):
    with boa.reverts("operator: amount is zero"):
        ob.fund_treasury(0, sender=operator)


def test_withdraw_revenue_by_operator(ob, wallet, fund, operator, carol):
    fund(operator, 3 * TOKENS)
    ob.fund_treasury(3 * TOKENS, sender=operator)
    ob.withdraw_revenue(TOKENS, carol, sender=operator)
    event = only_event(ob, "RevenueWithdrawn")
    assert (event.operator, event.recipient, event.amount) == (operator, carol, TOKENS)
    assert ob.treasury() == 2 * TOKENS
    assert wallet.balanceOf(carol) == TOKENS


@pytest.mark.parametrize(
    ("amount", "recipient", "reason"),
    [
        (0, "carol", "operator: amount is zero"),
        (TOKENS, None, "operator: recipient is the zero address"),
        (TOKENS + 1, "carol", "operator: amount exceeds treasury"),
    ],
)
def test_withdraw_revenue_reverts(ob, fund, operator, actors, amount, recipient, reason):
    fund(operator, TOKENS)
    ob.fund_treasury(TOKENS, sender=operator)
    with boa.reverts(reason):
        ob.withdraw_revenue(amount, actors[recipient] if recipient else ZERO, sender=operator)


def test_claim_arrears_reverts_without_arrears(ob, alice):
    with boa.reverts("operator: no arrears"):
        ob.claim_arrears(sender=alice)


def test_trust_backend_after_notice(ob, operator, bob):
    ob.announce_backend_trust(bob, True, sender=operator)
    event = only_event(ob, "BackendTrustAnnounced")
    effective = boa.env.evm.patch.timestamp + NOTICE
    assert (event.backend, event.trusted, event.effective_from) == (bob, True, effective)
    assert not ob.is_trusted(bob)
    boa.env.time_travel(seconds=NOTICE)
    assert ob.is_trusted(bob)
    assert ob.trust_window(bob) == (effective, 0)


def test_untrust_backend_after_notice(ob, smb, operator):
    ob.announce_backend_trust(smb.address, False, sender=operator)
    assert ob.is_trusted(smb.address)
    boa.env.time_travel(seconds=NOTICE - 1)
    assert ob.is_trusted(smb.address)
    boa.env.time_travel(seconds=1)
    assert not ob.is_trusted(smb.address)


def test_trust_again_calls_off_pending_untrust(ob, smb, operator):
    ob.announce_backend_trust(smb.address, False, sender=operator)
    ob.announce_backend_trust(smb.address, True, sender=operator)
    boa.env.time_travel(seconds=2 * NOTICE)
    assert ob.is_trusted(smb.address)


def test_trust_again_after_untrust_took_effect_needs_notice(ob, smb, operator):
    ob.announce_backend_trust(smb.address, False, sender=operator)
    boa.env.time_travel(seconds=NOTICE)
    ob.announce_backend_trust(smb.address, True, sender=operator)
    assert not ob.is_trusted(smb.address)
    boa.env.time_travel(seconds=NOTICE)
    assert ob.is_trusted(smb.address)


@pytest.mark.parametrize(
    ("backend", "trusted", "reason"),
    [
        ("smb", True, "operator: backend already trusted"),
        ("bob", False, "operator: backend not trusted"),
        (None, True, "operator: backend is the zero address"),
    ],
)
def test_announce_backend_trust_reverts(ob, smb, operator, actors, backend, trusted, reason):
    address = {"smb": smb.address, None: ZERO} | actors
    with boa.reverts(reason):
        ob.announce_backend_trust(address[backend], trusted, sender=operator)


OPERATOR_ONLY = {
    "announce_tariff": lambda ob, who: ob.announce_tariff(
        1, 1, boa.env.evm.patch.timestamp + NOTICE, sender=who
    ),
    "announce_backend_trust": lambda ob, who: ob.announce_backend_trust(
        boa.env.generate_address("backend"), True, sender=who
    ),
    "withdraw_revenue": lambda ob, who: ob.withdraw_revenue(1, who, sender=who),
}
ADMIN_ONLY = {
    "grantRole": lambda ob, who: ob.grantRole(ob.OPERATOR_ROLE(), who, sender=who),
    "revokeRole": lambda ob, who: ob.revokeRole(ob.OPERATOR_ROLE(), who, sender=who),
    "wire_exchange": lambda ob, who: ob.wire_exchange(
        boa.env.generate_address("exchange"), sender=who
    ),
}


@pytest.mark.parametrize("function", sorted(OPERATOR_ONLY))
@pytest.mark.parametrize("role", ["alice", "bob", "issuing_body", "installer"])
def test_operator_functions_reject_every_other_role(
    ob, actors, issuing_body, installer, function, role
):
    who = (actors | {"issuing_body": issuing_body, "installer": installer})[role]
    with boa.reverts("access_control: account is missing role"):
        OPERATOR_ONLY[function](ob, who)


@pytest.mark.parametrize("function", sorted(ADMIN_ONLY))
@pytest.mark.parametrize("role", ["operator", "alice", "issuing_body", "installer"])
def test_admin_functions_reject_every_other_role(
    ob, actors, operator, issuing_body, installer, function, role
):
    who = (actors | {"operator": operator, "issuing_body": issuing_body, "installer": installer})[
        role
    ]
    with boa.reverts("access_control: account is missing role"):
        ADMIN_ONLY[function](ob, who)


def test_a_notice_period_longer_than_a_year_is_refused(ob_deployer, wallet, smb, deployer):
    """From the review of the packing helpers: a notice period near 2**64 s
    made a trust change's effective time wrap to the past (trusted at once)."""
    year = 365 * 86_400
    with boa.env.prank(deployer), boa.reverts("operator: notice period longer than a year"):
        ob_deployer.deploy(wallet.address, year + 1, RETAIL, FEED_IN, [smb.address])
    with boa.env.prank(deployer):
        ob = ob_deployer.deploy(wallet.address, year, RETAIL, FEED_IN, [smb.address])
    assert ob.MAX_NOTICE_PERIOD() == year

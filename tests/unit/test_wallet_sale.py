"""Wallet.vy's token sale: buyTokens, withdraw, recover_unsold_tokens."""

from pathlib import Path

import boa
import pytest

from tests.fixtures.wallet import SALE_CAP, SALE_DURATION, SALE_RATE, SUPPLY
from tests.helpers import only_event

TEST_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
ZERO = "0x0000000000000000000000000000000000000000"
ETHER = 10**18  # wei
NON_OWNERS = ["alice", "bob", "carol"]


@pytest.fixture
def buyer(alice):
    boa.env.set_balance(alice, 1_000 * ETHER)
    return alice


def test_buy_tokens_pays_at_the_fixed_rate(wallet, buyer):
    bought = wallet.buyTokens(value=ETHER, sender=buyer)
    event = only_event(wallet, "TokensPurchased")
    assert (event.buyer, event.wei_paid, event.tokens) == (buyer, ETHER, ETHER * SALE_RATE)
    assert bought == ETHER * SALE_RATE
    assert wallet.balanceOf(buyer) == ETHER * SALE_RATE
    assert wallet.balanceOf(wallet.address) == SALE_CAP - ETHER * SALE_RATE
    assert wallet.tokens_sold() == ETHER * SALE_RATE
    assert wallet.wei_raised() == ETHER
    assert boa.env.get_balance(wallet.address) == ETHER


def test_buy_tokens_up_to_exactly_the_cap(wallet, buyer):
    wallet.buyTokens(value=SALE_CAP // SALE_RATE, sender=buyer)
    assert wallet.tokens_left_for_sale() == 0
    assert wallet.balanceOf(wallet.address) == 0


def test_buy_tokens_reverts_past_the_cap(wallet, buyer):
    wallet.buyTokens(value=SALE_CAP // SALE_RATE - 1, sender=buyer)
    with boa.reverts("wallet: purchase exceeds tokens left for sale"):
        wallet.buyTokens(value=2, sender=buyer)


def test_buy_tokens_reverts_without_ether(wallet, buyer):
    with boa.reverts("wallet: no ether sent"):
        wallet.buyTokens(sender=buyer)


def test_buy_tokens_until_one_second_before_the_end(wallet, buyer, sale_end):
    boa.env.time_travel(seconds=sale_end - boa.env.evm.patch.timestamp - 1)
    wallet.buyTokens(value=1, sender=buyer)
    assert wallet.tokens_sold() == SALE_RATE


def test_buy_tokens_reverts_at_the_end(wallet, buyer, sale_end):
    boa.env.time_travel(seconds=sale_end - boa.env.evm.patch.timestamp)
    with boa.reverts("wallet: sale has ended"):
        wallet.buyTokens(value=1, sender=buyer)
    assert wallet.tokens_left_for_sale() == 0


def test_plain_ether_transfer_is_refused(wallet, buyer):
    """No fallback function: ether arrives only through buyTokens (empty revert data)."""
    computation = boa.env.execute_code(wallet.address, sender=buyer, value=1)
    assert computation.is_error
    assert computation.output == b""
    assert boa.env.get_balance(wallet.address) == 0


def test_withdraw_sends_all_raised_ether(wallet, deployer, buyer, carol):
    wallet.buyTokens(value=3 * ETHER, sender=buyer)
    wallet.withdraw(carol, sender=deployer)
    event = only_event(wallet, "EtherWithdrawn")
    assert (event.recipient, event.amount) == (carol, 3 * ETHER)
    assert boa.env.get_balance(carol) == 3 * ETHER
    assert boa.env.get_balance(wallet.address) == 0
    assert wallet.wei_withdrawn() == 3 * ETHER


@pytest.mark.parametrize("caller", NON_OWNERS)
def test_withdraw_reverts_for_non_owner(wallet, buyer, actors, caller):
    wallet.buyTokens(value=ETHER, sender=buyer)
    with boa.reverts("ownable: caller is not the owner"):
        wallet.withdraw(actors[caller], sender=actors[caller])


def test_withdraw_reverts_for_pending_owner(wallet, deployer, buyer, bob):
    wallet.buyTokens(value=ETHER, sender=buyer)
    wallet.transfer_ownership(bob, sender=deployer)
    with boa.reverts("ownable: caller is not the owner"):
        wallet.withdraw(bob, sender=bob)


def test_withdraw_reverts_for_zero_recipient(wallet, deployer, buyer):
    wallet.buyTokens(value=ETHER, sender=buyer)
    with boa.reverts("wallet: recipient is the zero address"):
        wallet.withdraw(ZERO, sender=deployer)


def test_withdraw_reverts_when_nothing_raised(wallet, deployer):
    with boa.reverts("wallet: no ether to withdraw"):
        wallet.withdraw(deployer, sender=deployer)


def test_withdraw_to_refusing_recipient_keeps_the_ether(wallet, deployer, buyer, carol):
    refuser = boa.load(TEST_CONTRACTS / "RevertingReceiver.vy")
    wallet.buyTokens(value=ETHER, sender=buyer)
    with boa.reverts("receiver: no ether accepted"):
        wallet.withdraw(refuser.address, sender=deployer)
    assert wallet.wei_withdrawn() == 0
    wallet.withdraw(carol, sender=deployer)
    assert boa.env.get_balance(carol) == ETHER


def test_withdraw_holds_the_reentrancy_lock_while_paying(wallet, deployer, buyer):
    owner = boa.load(TEST_CONTRACTS / "ReentrantOwner.vy", wallet.address)
    wallet.transfer_ownership(owner.address, sender=deployer)
    owner.accept_ownership()
    wallet.buyTokens(value=ETHER, sender=buyer)
    owner.withdraw()
    assert owner.reentry_attempted()
    assert not owner.reentry_succeeded()
    assert wallet.tokens_sold() == ETHER * SALE_RATE
    assert boa.env.get_balance(owner.address) == ETHER
    assert wallet.wei_withdrawn() == ETHER


def test_withdraw_by_new_owner_after_handover(wallet, deployer, buyer, bob):
    wallet.buyTokens(value=ETHER, sender=buyer)
    wallet.transfer_ownership(bob, sender=deployer)
    wallet.accept_ownership(sender=bob)
    with boa.reverts("ownable: caller is not the owner"):
        wallet.withdraw(deployer, sender=deployer)
    wallet.withdraw(bob, sender=bob)
    assert boa.env.get_balance(bob) == ETHER


def test_recover_unsold_tokens_after_the_end(wallet, deployer, buyer, carol, sale_end):
    wallet.buyTokens(value=ETHER, sender=buyer)
    boa.env.time_travel(seconds=sale_end - boa.env.evm.patch.timestamp)
    wallet.recover_unsold_tokens(carol, sender=deployer)
    unsold = SALE_CAP - ETHER * SALE_RATE
    event = only_event(wallet, "UnsoldTokensRecovered")
    assert (event.recipient, event.amount) == (carol, unsold)
    assert wallet.balanceOf(carol) == unsold
    assert wallet.balanceOf(wallet.address) == 0
    assert wallet.totalSupply() == SUPPLY


def test_recover_unsold_tokens_reverts_during_the_sale(wallet, deployer):
    with boa.reverts("wallet: sale has not ended"):
        wallet.recover_unsold_tokens(deployer, sender=deployer)


@pytest.mark.parametrize("caller", NON_OWNERS)
def test_recover_unsold_tokens_reverts_for_non_owner(wallet, actors, caller):
    boa.env.time_travel(seconds=SALE_DURATION)
    with boa.reverts("ownable: caller is not the owner"):
        wallet.recover_unsold_tokens(actors[caller], sender=actors[caller])


def test_recover_unsold_tokens_reverts_for_zero_recipient(wallet, deployer):
    boa.env.time_travel(seconds=SALE_DURATION)
    with boa.reverts("wallet: recipient is the zero address"):
        wallet.recover_unsold_tokens(ZERO, sender=deployer)


def test_recover_unsold_tokens_reverts_when_sold_out(wallet, deployer, buyer):
    wallet.buyTokens(value=SALE_CAP // SALE_RATE, sender=buyer)
    boa.env.time_travel(seconds=SALE_DURATION)
    with boa.reverts("wallet: no tokens to recover"):
        wallet.recover_unsold_tokens(deployer, sender=deployer)

"""Wallet.vy as an ERC-20: metadata, transfers, allowances, ownership."""

import boa
import pytest

from tests.fixtures.wallet import (
    DECIMALS,
    NAME,
    SALE_CAP,
    SALE_DURATION,
    SALE_RATE,
    SUPPLY,
    SYMBOL,
)
from tests.helpers import only_event

ZERO = "0x0000000000000000000000000000000000000000"
MAX_UINT256 = 2**256 - 1


def test_init_sets_metadata_and_splits_supply(wallet, deployer, sale_end):
    assert wallet.name() == NAME
    assert wallet.symbol() == SYMBOL
    assert wallet.decimals() == DECIMALS
    assert wallet.totalSupply() == SUPPLY
    assert wallet.balanceOf(wallet.address) == SALE_CAP
    assert wallet.balanceOf(deployer) == SUPPLY - SALE_CAP
    assert wallet.owner() == deployer
    assert wallet.pending_owner() == ZERO
    assert wallet.sale_rate() == SALE_RATE
    assert wallet.sale_cap() == SALE_CAP
    assert wallet.sale_end() == sale_end
    assert wallet.tokens_sold() == 0
    assert wallet.tokens_left_for_sale() == SALE_CAP


def test_init_whole_supply_for_sale(wallet_deployer, deployer, sale_end):
    with boa.env.prank(deployer):
        token = wallet_deployer.deploy(NAME, SYMBOL, DECIMALS, SUPPLY, SUPPLY, SALE_RATE, sale_end)
    assert token.balanceOf(token.address) == SUPPLY
    assert token.balanceOf(deployer) == 0


@pytest.mark.parametrize(
    ("cap", "rate", "end_offset", "reason"),
    [
        (SUPPLY + 1, SALE_RATE, SALE_DURATION, "wallet: sale cap exceeds supply"),
        (SALE_CAP, 0, SALE_DURATION, "wallet: sale rate is zero"),
        (SALE_CAP, SALE_RATE, 0, "wallet: sale ends in the past"),
    ],
)
def test_init_reverts_on_bad_parameters(wallet_deployer, cap, rate, end_offset, reason):
    end = boa.env.evm.patch.timestamp + end_offset
    with boa.reverts(reason):
        wallet_deployer.deploy(NAME, SYMBOL, DECIMALS, SUPPLY, cap, rate, end)


def test_eip712_domain_names_the_token(wallet):
    fields, name, version, chain_id, verifying_contract, salt, extensions = wallet.eip712Domain()
    assert fields == b"\x0f"
    assert (name, version) == (NAME, "1")
    assert chain_id == boa.env.evm.patch.chain_id
    assert verifying_contract == wallet.address
    assert (salt, extensions) == (b"\x00" * 32, [])


def test_minting_burning_and_renouncing_are_not_exported(wallet):
    for name in ("mint", "set_minter", "is_minter", "burn", "burn_from", "renounce_ownership"):
        assert not hasattr(wallet, name), name


def test_transfer_moves_tokens_and_logs(wallet, deployer, alice):
    wallet.transfer(alice, 123, sender=deployer)
    event = only_event(wallet, "Transfer")
    assert (event.sender, event.receiver, event.value) == (deployer, alice, 123)
    assert wallet.balanceOf(alice) == 123
    assert wallet.balanceOf(deployer) == SUPPLY - SALE_CAP - 123


def test_transfer_reverts_beyond_balance(wallet, alice, bob):
    with boa.reverts("erc20: transfer amount exceeds balance"):
        wallet.transfer(bob, 1, sender=alice)


def test_transfer_reverts_to_zero_address(wallet, deployer):
    with boa.reverts("erc20: transfer to the zero address"):
        wallet.transfer(ZERO, 1, sender=deployer)


def test_approve_sets_allowance_and_logs(wallet, alice, bob):
    wallet.approve(bob, 500, sender=alice)
    event = only_event(wallet, "Approval")
    assert (event.owner, event.spender, event.value) == (alice, bob, 500)
    assert wallet.allowance(alice, bob) == 500


def test_approve_reverts_for_zero_spender(wallet, alice):
    with boa.reverts("erc20: approve to the zero address"):
        wallet.approve(ZERO, 1, sender=alice)


def test_transfer_from_spends_allowance(wallet, deployer, alice, bob):
    wallet.approve(alice, 1_000, sender=deployer)
    wallet.transferFrom(deployer, bob, 400, sender=alice)
    assert wallet.balanceOf(bob) == 400
    assert wallet.allowance(deployer, alice) == 600


def test_transfer_from_keeps_infinite_allowance(wallet, deployer, alice, bob):
    wallet.approve(alice, MAX_UINT256, sender=deployer)
    wallet.transferFrom(deployer, bob, 400, sender=alice)
    assert wallet.allowance(deployer, alice) == MAX_UINT256


def test_transfer_from_reverts_beyond_allowance(wallet, deployer, alice, bob):
    wallet.approve(alice, 10, sender=deployer)
    with boa.reverts("erc20: insufficient allowance"):
        wallet.transferFrom(deployer, bob, 11, sender=alice)


def test_transfer_ownership_is_two_step(wallet, deployer, alice):
    wallet.transfer_ownership(alice, sender=deployer)
    started = only_event(wallet, "OwnershipTransferStarted")
    assert (started.previous_owner, started.new_owner) == (deployer, alice)
    assert wallet.owner() == deployer
    assert wallet.pending_owner() == alice

    wallet.accept_ownership(sender=alice)
    moved = only_event(wallet, "OwnershipTransferred")
    assert (moved.previous_owner, moved.new_owner) == (deployer, alice)
    assert wallet.owner() == alice
    assert wallet.pending_owner() == ZERO


@pytest.mark.parametrize("caller", ["alice", "bob", "carol"])
def test_transfer_ownership_reverts_for_non_owner(wallet, actors, caller):
    with boa.reverts("ownable: caller is not the owner"):
        wallet.transfer_ownership(actors[caller], sender=actors[caller])


@pytest.mark.parametrize("caller", ["deployer", "bob", "carol"])
def test_accept_ownership_reverts_for_anyone_but_pending_owner(
    wallet, deployer, alice, actors, caller
):
    wallet.transfer_ownership(alice, sender=deployer)
    with boa.reverts("ownable_2step: caller is not the new owner"):
        wallet.accept_ownership(sender=actors[caller])

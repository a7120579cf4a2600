"""EIP-2612 permit on Wallet.vy, signed with eth-account's typed-data signing."""

import boa
import pytest

from openkwh import chain
from tests.fixtures.wallet import NAME
from tests.helpers import high_s_twin, only_event

VALUE = 10**18
DEADLINE_IN = 3_600  # seconds


def permit_typed_data(owner, spender, value, nonce, deadline, chain_id, verifying_contract):
    return chain.permit_typed_data(
        NAME, owner, str(spender), value, nonce, deadline, chain_id, str(verifying_contract)
    )


@pytest.fixture
def sign_permit(wallet, alice_account):
    """Signs a permit from alice; every field can be overridden to forge a bad one."""

    def sign(spender, value=VALUE, nonce=None, deadline=None, chain_id=None, contract=None):
        data = permit_typed_data(
            alice_account.address,
            spender,
            value,
            wallet.nonces(alice_account.address) if nonce is None else nonce,
            boa.env.evm.patch.timestamp + DEADLINE_IN if deadline is None else deadline,
            boa.env.evm.patch.chain_id if chain_id is None else chain_id,
            wallet.address if contract is None else contract,
        )
        signed = alice_account.sign_typed_data(full_message=data)
        return data["message"]["deadline"], signed.v, signed.r, signed.s

    return sign


def test_domain_separator_matches_eth_account(wallet, alice_account):
    from eth_account.messages import encode_typed_data

    data = permit_typed_data(
        alice_account.address,
        alice_account.address,
        0,
        0,
        0,
        boa.env.evm.patch.chain_id,
        wallet.address,
    )
    assert wallet.DOMAIN_SEPARATOR() == encode_typed_data(full_message=data).header


def test_permit_sets_allowance_and_bumps_nonce(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob)
    wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32), sender=bob)
    event = only_event(wallet, "Approval")
    assert (event.owner, event.spender, event.value) == (alice, bob, VALUE)
    assert wallet.allowance(alice, bob) == VALUE
    assert wallet.nonces(alice) == 1


def test_permit_reverts_when_replayed(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob)
    wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))
    with boa.reverts("erc20: invalid signature"):
        wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))


def test_permit_reverts_after_deadline(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob)
    boa.env.time_travel(seconds=DEADLINE_IN + 1)
    with boa.reverts("erc20: expired deadline"):
        wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))


def test_permit_reverts_for_other_chain_id(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob, chain_id=boa.env.evm.patch.chain_id + 1)
    with boa.reverts("erc20: invalid signature"):
        wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))


def test_permit_reverts_for_other_contract(
    wallet, alice, bob, sign_permit, wallet_deployer, deployer, sale_end
):
    """A permit for one deployment cannot be played on another (cross-contract replay)."""
    with boa.env.prank(deployer):
        twin = wallet_deployer.deploy(NAME, "OKWH", 18, 10**24, 0, 1, sale_end)
    deadline, v, r, s = sign_permit(bob, contract=twin.address)
    with boa.reverts("erc20: invalid signature"):
        wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))


def test_permit_reverts_for_wrong_nonce(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob, nonce=1)
    with boa.reverts("erc20: invalid signature"):
        wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))


def test_permit_reverts_for_altered_value(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob)
    with boa.reverts("erc20: invalid signature"):
        wallet.permit(alice, bob, VALUE + 1, deadline, v, r.to_bytes(32), s.to_bytes(32))


def test_permit_reverts_for_high_s_twin(wallet, alice, bob, sign_permit):
    deadline, v, r, s = sign_permit(bob)
    v, r, s = high_s_twin(v, r, s)
    with boa.reverts("ecdsa: invalid signature `s` value"):
        wallet.permit(alice, bob, VALUE, deadline, v, r.to_bytes(32), s.to_bytes(32))

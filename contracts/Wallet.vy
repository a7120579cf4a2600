# pragma version ~=0.4.3
"""
@title OpenKWh settlement token
@license GNU Affero General Public License v3.0 only
@notice The ERC-20 token in which energy is paid for, billed and rewarded:
        seed 003's Wallet made standard. Built on snekmate's `erc20`
        module (ERC-20, EIP-2612 `permit`, EIP-712 domain and EIP-5267
        `eip712Domain`) with two-step ownership (snekmate `ownable_2step`).
        The whole supply is minted at deployment; part of it is held by
        this contract and sold at a fixed rate of token base units per wei
        until a cap or an end time is reached.
@custom:security The owner is trusted with two things only: pulling the
                 raised ether (`withdraw`) and, once the sale has ended,
                 the unsold tokens (`recover_unsold_tokens`). The supply is
                 fixed: no mint function is exported. Ownership cannot be
                 renounced, because raised ether and unsold tokens would
                 then be locked for good.
"""


from ethereum.ercs import IERC20
implements: IERC20

from ethereum.ercs import IERC20Detailed
implements: IERC20Detailed


from snekmate.auth import ownable
initializes: ownable

from snekmate.auth import ownable_2step
initializes: ownable_2step[ownable := ownable]

from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]


exports: (
    erc20.transfer,
    erc20.approve,
    erc20.transferFrom,
    erc20.permit,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    # @notice Not exported: `mint`, `set_minter` and `is_minter` (the
    # supply is fixed), `burn` and `burn_from` (a settlement token whose
    # supply shrinks would break the accounting of every ledger built on
    # it), and erc20's own `transfer_ownership` / `renounce_ownership`,
    # which `ownable_2step` replaces.
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


# @dev Version of the EIP-712 signing domain used by `permit`.
_EIP712_VERSION: constant(String[20]) = "1"


# @dev Token base units sold for one wei.
sale_rate: public(immutable(uint256))

# @dev Token base units offered in the sale, held by this contract.
sale_cap: public(immutable(uint256))

# @dev Unix seconds; purchases are accepted while `block.timestamp < sale_end`.
sale_end: public(immutable(uint256))

# @dev Token base units sold so far.
tokens_sold: public(uint256)

# @dev Wei paid for tokens so far.
wei_raised: public(uint256)

# @dev Wei pulled by the owner so far.
wei_withdrawn: public(uint256)


event TokensPurchased:
    buyer: indexed(address)
    wei_paid: uint256
    tokens: uint256


event EtherWithdrawn:
    recipient: indexed(address)
    amount: uint256


event UnsoldTokensRecovered:
    recipient: indexed(address)
    amount: uint256


@deploy
def __init__(
    name_: String[25],
    symbol_: String[5],
    decimals_: uint8,
    supply_: uint256,
    sale_cap_: uint256,
    sale_rate_: uint256,
    sale_end_: uint256,
):
    """
    @dev Mints `supply_` once: `sale_cap_` to this contract for the sale,
         the rest to the deployer, who becomes the owner.
    @param name_ The token name, also the EIP-712 domain name.
    @param symbol_ The token symbol.
    @param decimals_ The decimal places of the token.
    @param supply_ The total supply, in token base units.
    @param sale_cap_ The tokens offered in the sale, in token base units.
    @param sale_rate_ The sale price, in token base units per wei.
    @param sale_end_ The end of the sale, in unix seconds.
    """
    assert sale_cap_ <= supply_, "wallet: sale cap exceeds supply"
    assert sale_rate_ != 0, "wallet: sale rate is zero"
    assert sale_end_ > block.timestamp, "wallet: sale ends in the past"

    ownable.__init__()
    ownable_2step.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, _EIP712_VERSION)

    sale_rate = sale_rate_
    sale_cap = sale_cap_
    sale_end = sale_end_

    erc20._mint(self, sale_cap_)
    erc20._mint(msg.sender, unsafe_sub(supply_, sale_cap_))


# PERMISSIONLESS


@external
@payable
@nonreentrant
def buyTokens() -> uint256:
    """
    @notice Buys tokens at the fixed sale rate with the ether sent.
    @dev Reverts once the sale has ended or when the purchase would take
         more tokens than are left for sale; no partial fills.
    @return uint256 The tokens bought, in token base units.
    """
    assert block.timestamp < sale_end, "wallet: sale has ended"
    assert msg.value != 0, "wallet: no ether sent"

    tokens: uint256 = msg.value * sale_rate
    sold: uint256 = self.tokens_sold + tokens
    assert sold <= sale_cap, "wallet: purchase exceeds tokens left for sale"

    self.tokens_sold = sold
    self.wei_raised += msg.value
    erc20._transfer(self, msg.sender, tokens)

    log TokensPurchased(buyer=msg.sender, wei_paid=msg.value, tokens=tokens)
    return tokens


# ADMIN


@external
@nonreentrant
def withdraw(recipient: address):
    """
    @notice Sends all ether held by this contract to `recipient`.
    @dev Pull payment: the owner collects when it chooses; a failing
         recipient reverts only its own withdrawal. State is written
         before the call, and the function is non-reentrant.
    @param recipient The address that receives the ether.
    """
    ownable._check_owner()
    assert recipient != empty(address), "wallet: recipient is the zero address"
    amount: uint256 = self.balance
    assert amount != 0, "wallet: no ether to withdraw"

    self.wei_withdrawn += amount
    log EtherWithdrawn(recipient=recipient, amount=amount)
    raw_call(recipient, b"", value=amount)


@external
def recover_unsold_tokens(recipient: address):
    """
    @notice Sends every token still held by this contract to `recipient`
            once the sale has ended.
    @param recipient The address that receives the tokens.
    """
    ownable._check_owner()
    assert block.timestamp >= sale_end, "wallet: sale has not ended"
    assert recipient != empty(address), "wallet: recipient is the zero address"
    amount: uint256 = erc20.balanceOf[self]
    assert amount != 0, "wallet: no tokens to recover"

    erc20._transfer(self, recipient, amount)
    log UnsoldTokensRecovered(recipient=recipient, amount=amount)


# VIEW


@external
@view
def tokens_left_for_sale() -> uint256:
    """
    @return uint256 The tokens that can still be bought, in token base units:
            zero once the sale has ended.
    """
    if block.timestamp >= sale_end:
        return 0
    return sale_cap - self.tokens_sold

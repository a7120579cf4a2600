# pragma version ~=0.4.3
"""
@title Test double: an ERC-20 that keeps a fee on every transfer
@notice The recipient gets the amount less 1 %, which is burnt (as USDT
        could be switched to, or PAXG does). Escrow booked as the amount sent
        would be short by the fee.
"""


from snekmate.auth import ownable
initializes: ownable

from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]

exports: (
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.decimals,
)


FEE_BPS: constant(uint256) = 100  # basis points kept on each transfer


@deploy
def __init__(supply: uint256):
    ownable.__init__()
    erc20.__init__("Fee Token", "FEE", 18, "Fee Token", "1")
    erc20._mint(msg.sender, supply)


@external
def transfer(to: address, amount: uint256) -> bool:
    self._move(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    erc20._spend_allowance(owner, msg.sender, amount)
    self._move(owner, to, amount)
    return True


@internal
def _move(owner: address, to: address, amount: uint256):
    fee: uint256 = amount * FEE_BPS // 10_000
    erc20._transfer(owner, to, amount - fee)
    erc20._burn(owner, fee)

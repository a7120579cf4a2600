# pragma version ~=0.4.3
"""
@title Test double: an ERC-20 that calls its holders back (ERC-777 style)
@notice Before tokens leave a contract it calls the sender's
        `tokensToSend`, after they reach a contract the recipient's
        `tokensReceived`: the hooks through which a holder can re-enter
        whoever moves its tokens. The Exchange and the operator accept any
        ERC-20, so they must hold against it.
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


@deploy
def __init__(supply: uint256):
    ownable.__init__()
    erc20.__init__("Hook Token", "HOOK", 18, "Hook Token", "1")
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
    # Contracts without the hooks are called all the same and their failure
    # ignored (ERC-777 would look them up in the ERC-1820 registry).
    success: bool = False
    if owner.is_contract:
        success = raw_call(owner, abi_encode(to, amount, method_id=method_id("tokensToSend(address,uint256)")), revert_on_failure=False)
    erc20._transfer(owner, to, amount)
    if to.is_contract:
        success = raw_call(to, abi_encode(owner, amount, method_id=method_id("tokensReceived(address,uint256)")), revert_on_failure=False)

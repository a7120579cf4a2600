# pragma version ~=0.4.3
"""
@title Test double: an ERC-20 that answers false instead of reverting
@notice Some tokens report a failed transfer by returning false; contracts
        that take any ERC-20 must notice.
"""


@external
def transfer(_to: address, _value: uint256) -> bool:
    return False


@external
def transferFrom(_from: address, _to: address, _value: uint256) -> bool:
    return False


@external
@view
def allowance(_owner: address, _spender: address) -> uint256:
    return max_value(uint256)


@external
@view
def balanceOf(_owner: address) -> uint256:
    return 0

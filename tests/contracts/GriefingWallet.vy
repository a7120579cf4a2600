# pragma version ~=0.4.3
"""
@title Test double: a contract wallet that refuses certificates
@notice Stands for a smart-contract wallet that trades on the Exchange (its
        owner sends calls through it) and then refuses the certificates it
        bought: by reverting, or by burning all the gas it is given.
"""


flag Mood:
    ACCEPT
    REVERT
    BURN_GAS


owner: public(immutable(address))
mood: public(Mood)
burnt: public(uint256)
hooks: public(uint256)  # certificates received while accepting: hooks that ran


@deploy
def __init__():
    owner = msg.sender
    self.mood = Mood.ACCEPT


@external
def set_mood(mood: Mood):
    assert msg.sender == owner, "griefer: not the owner"
    self.mood = mood


@external
def execute(target: address, data: Bytes[2_048]) -> Bytes[1_024]:
    assert msg.sender == owner, "griefer: not the owner"
    return raw_call(target, data, max_outsize=1_024)


@external
def onERC1155Received(_operator: address, _from: address, _id: uint256, _value: uint256, _data: Bytes[1_024]) -> bytes4:
    if self.mood == Mood.REVERT:
        raise "griefer: no certificates"
    if self.mood == Mood.BURN_GAS:
        for i: uint256 in range(2**32):
            self.burnt += 1
    self.hooks += 1
    return method_id("onERC1155Received(address,address,uint256,uint256,bytes)", output_type=bytes4)

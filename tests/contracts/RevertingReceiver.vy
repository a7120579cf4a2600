# pragma version ~=0.4.3
"""
@title Test double: a contract that refuses ether
@notice Stands for a multisig or contract wallet that cannot take a payment.
"""


@external
@payable
def __default__():
    raise "receiver: no ether accepted"

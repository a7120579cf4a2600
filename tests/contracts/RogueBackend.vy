# pragma version ~=0.4.3
"""
@title Test double: a meter backend that says whatever it is told
@notice Stands for a backend the operator deploys and has trusted after the
        notice period: it reports any account as a meter's owner, with any
        consumption, for any interval.
"""


victim: public(address)
consumed_wh: public(uint256)
# @dev Who it says owns every meter now; the victim until told otherwise.
current_owner: public(address)
# @dev The operator it names as the keeper of its meters' debts, if told one.
operator: public(address)


@deploy
def __init__(victim_: address, consumed_wh_: uint256):
    self.victim = victim_
    self.consumed_wh = consumed_wh_
    self.current_owner = victim_


@external
def hand_over(new_owner: address):
    self.current_owner = new_owner


@external
def name_operator(operator_: address):
    self.operator = operator_


@external
@view
def settlement_data(meter_id: bytes32, interval_begin: uint256) -> (address, uint256, uint256, uint256):
    return self.victim, interval_begin + 3_600, 0, self.consumed_wh


@external
@view
def owner_of(meter_id: bytes32) -> address:
    return self.current_owner


@external
@view
def interval_length() -> uint256:
    return 3_600

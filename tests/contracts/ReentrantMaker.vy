# pragma version ~=0.4.3
"""
@title Test double: a market maker that re-enters through token hooks
@notice Its owner trades through `execute`. When armed, the first token hook
        it gets (tokens leaving it, or arriving) makes one nested call
        (`cancel` from inside `amend`, say), records whether it went
        through, and lets the outer call go on either way, so a test sees
        the outcome of the re-entry itself.
"""


owner: public(immutable(address))
target: public(address)
reentry: public(Bytes[1_024])
armed: public(bool)
reentry_attempted: public(bool)
reentry_succeeded: public(bool)


@deploy
def __init__():
    owner = msg.sender


@external
def execute(target: address, data: Bytes[2_048]) -> Bytes[1_024]:
    assert msg.sender == owner, "maker: not the owner"
    return raw_call(target, data, max_outsize=1_024)


@external
def arm(target: address, data: Bytes[1_024]):
    assert msg.sender == owner, "maker: not the owner"
    self.target = target
    self.reentry = data
    self.armed = True


@external
def tokensToSend(to: address, amount: uint256):
    self._reenter()


@external
def tokensReceived(sender: address, amount: uint256):
    self._reenter()


@internal
def _reenter():
    if not self.armed:
        return
    self.armed = False
    self.reentry_attempted = True
    self.reentry_succeeded = raw_call(self.target, self.reentry, revert_on_failure=False)

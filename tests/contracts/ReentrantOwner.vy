# pragma version ~=0.4.3
"""
@title Test double: a Wallet owner that tries to re-enter the Wallet when paid
@notice On receiving the withdrawn ether it calls `buyTokens` with one wei,
        records whether that nested call went through, and accepts the
        payment either way, so a test sees the outcome of the re-entry itself.
"""


interface IWallet:
    def withdraw(recipient: address): nonpayable
    def accept_ownership(): nonpayable


wallet: IWallet
reentry_attempted: public(bool)
reentry_succeeded: public(bool)


@deploy
def __init__(wallet_: address):
    self.wallet = IWallet(wallet_)


@external
def accept_ownership():
    extcall self.wallet.accept_ownership()


@external
def withdraw():
    extcall self.wallet.withdraw(self)


@external
@payable
def __default__():
    if self.reentry_attempted:
        return
    self.reentry_attempted = True
    self.reentry_succeeded = raw_call(
        self.wallet.address,
        method_id("buyTokens()"),
        value=1,
        revert_on_failure=False,
    )

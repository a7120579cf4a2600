"""Stateful properties of Wallet.vy against a plain Python model.

Invariants: totalSupply == sum of balances; tokens sold == ether received x rate;
ether held == received - withdrawn; every balance and allowance equals the model's.
"""

import boa
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.hypothesis import campaign, deployer, timed_campaign

DAY = 86_400  # seconds
ACTORS = [boa.env.generate_address(f"wallet-actor-{i}") for i in range(4)]
OWNER = ACTORS[0]


actor = st.sampled_from(ACTORS)
amount = st.integers(min_value=0, max_value=10**22)
wei = st.integers(min_value=0, max_value=10**19)


class WalletMachine(RuleBasedStateMachine):
    @initialize(
        supply=st.integers(min_value=10**18, max_value=10**27),
        sale_share=st.integers(min_value=0, max_value=100),  # percent of supply for sale
        rate=st.integers(min_value=1, max_value=10**4),  # token base units per wei
        duration=st.integers(min_value=DAY, max_value=30 * DAY),  # seconds
    )
    def deploy(self, supply, sale_share, rate, duration):
        self.cap = supply * sale_share // 100
        self.rate = rate
        self.end = boa.env.evm.patch.timestamp + duration
        with boa.env.prank(OWNER):
            self.wallet = deployer("Wallet").deploy(
                "OpenKWh Token", "OKWH", 18, supply, self.cap, rate, self.end
            )
        for address in ACTORS:
            boa.env.set_balance(address, 10**21)
        self.holders = [*ACTORS, self.wallet.address]
        self.balances = dict.fromkeys(self.holders, 0)
        self.balances[self.wallet.address] = self.cap
        self.balances[OWNER] = supply - self.cap
        self.allowances = {}
        self.sold = self.raised = self.withdrawn = 0

    def now(self):
        return boa.env.evm.patch.timestamp

    @rule(sender=actor, receiver=actor, value=amount)
    def transfer(self, sender, receiver, value):
        if value > self.balances[sender]:
            with boa.reverts("erc20: transfer amount exceeds balance"):
                self.wallet.transfer(receiver, value, sender=sender)
            return
        self.wallet.transfer(receiver, value, sender=sender)
        self.balances[sender] -= value
        self.balances[receiver] += value

    @rule(owner=actor, spender=actor, value=amount)
    def approve(self, owner, spender, value):
        self.wallet.approve(spender, value, sender=owner)
        self.allowances[owner, spender] = value

    @rule(owner=actor, spender=actor, receiver=actor, value=amount)
    def transfer_from(self, owner, spender, receiver, value):
        allowed = self.allowances.get((owner, spender), 0)
        if value > allowed:
            with boa.reverts("erc20: insufficient allowance"):
                self.wallet.transferFrom(owner, receiver, value, sender=spender)
            return
        if value > self.balances[owner]:
            with boa.reverts("erc20: transfer amount exceeds balance"):
                self.wallet.transferFrom(owner, receiver, value, sender=spender)
            return
        self.wallet.transferFrom(owner, receiver, value, sender=spender)
        self.allowances[owner, spender] = allowed - value
        self.balances[owner] -= value
        self.balances[receiver] += value

    @rule(buyer=actor, value=wei)
    def buy(self, buyer, value):
        tokens = value * self.rate
        if self.now() >= self.end:
            reason = "wallet: sale has ended"
        elif value == 0:
            reason = "wallet: no ether sent"
        elif self.sold + tokens > self.cap:
            reason = "wallet: purchase exceeds tokens left for sale"
        else:
            assert self.wallet.buyTokens(value=value, sender=buyer) == tokens
            self.sold += tokens
            self.raised += value
            self.balances[self.wallet.address] -= tokens
            self.balances[buyer] += tokens
            return
        with boa.reverts(reason):
            self.wallet.buyTokens(value=value, sender=buyer)

    @precondition(lambda self: self.cap > self.sold)
    @rule(buyer=actor)
    def buy_the_rest(self, buyer):
        """Large purchases that exactly meet the cap, which random values rarely hit."""
        left = self.cap - self.sold
        if left % self.rate == 0 and self.now() < self.end:
            boa.env.set_balance(buyer, boa.env.get_balance(buyer) + left // self.rate)
            self.buy(buyer, left // self.rate)

    @rule(caller=actor, recipient=actor)
    def withdraw(self, caller, recipient):
        held = self.raised - self.withdrawn
        if caller != OWNER:
            reason = "ownable: caller is not the owner"
        elif held == 0:
            reason = "wallet: no ether to withdraw"
        else:
            before = boa.env.get_balance(recipient)
            self.wallet.withdraw(recipient, sender=caller)
            assert boa.env.get_balance(recipient) == before + held
            self.withdrawn += held
            return
        with boa.reverts(reason):
            self.wallet.withdraw(recipient, sender=caller)

    @rule(caller=actor, recipient=actor)
    def recover_unsold(self, caller, recipient):
        left = self.balances[self.wallet.address]
        if caller != OWNER:
            reason = "ownable: caller is not the owner"
        elif self.now() < self.end:
            reason = "wallet: sale has not ended"
        elif left == 0:
            reason = "wallet: no tokens to recover"
        else:
            self.wallet.recover_unsold_tokens(recipient, sender=caller)
            self.balances[self.wallet.address] = 0
            self.balances[recipient] += left
            return
        with boa.reverts(reason):
            self.wallet.recover_unsold_tokens(recipient, sender=caller)

    @rule(seconds=st.integers(min_value=1, max_value=10 * DAY))
    def time_passes(self, seconds):
        boa.env.time_travel(seconds=seconds)

    @invariant()
    def supply_is_the_sum_of_balances(self):
        on_chain = [self.wallet.balanceOf(holder) for holder in self.holders]
        assert self.wallet.totalSupply() == sum(on_chain) == sum(self.balances.values())
        assert on_chain == [self.balances[holder] for holder in self.holders]

    @invariant()
    def tokens_sold_are_ether_received_times_rate(self):
        assert self.wallet.tokens_sold() == self.sold == self.wallet.wei_raised() * self.rate

    @invariant()
    def ether_held_is_received_minus_withdrawn(self):
        held = boa.env.get_balance(self.wallet.address)
        assert held == self.wallet.wei_raised() - self.wallet.wei_withdrawn()
        assert held == self.raised - self.withdrawn

    @invariant()
    def allowances_match_the_model(self):
        for (owner, spender), value in self.allowances.items():
            assert self.wallet.allowance(owner, spender) == value


TestWallet = WalletMachine.TestCase
TestWallet.settings = campaign(100, 30)
test_long_campaign = timed_campaign(WalletMachine, 30)

"""Stateful properties of Auction.vy against a plain Python model.

Two sellers and two buyers place standing orders over a few future hours,
cancel the rest of them, time passes, a keeper clears every hour whose gate
closed (with the plain Python auction's price, openkwh.auction) and delivers
its fills as Exchange deals (before the hour begins, or late, when they come
back), anyone settles the deals (no meter reports, so they refund after the
timeout), and bidders release their escrow and withdraw credits from both
contracts. Invariants: each trader's tokens are conserved (wallet + Auction
credit + what the Auction holds for its bids + Exchange credit + the escrow
of its open deals = what it started with); the Auction's token balance ==
what it holds for bids + its credits, the Exchange's == open deals' escrow +
its credits; the deals are the placement-order pairing of the fills, at most
bids + offers - 1 an hour; each cleared hour's price and per-side Wh are the
model's, no side trades more Wh than the volume, and no order fills beyond
its limit.
"""

import boa
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from openkwh import auction as model
from tests.fixtures.accounts import keyed_account
from tests.fixtures.meters import CONNECTION_W, ZERO_ADDRESS
from tests.hypothesis import campaign, deployer, timed_campaign

HOUR = 3_600  # seconds
LEAD = 3_600  # seconds
RETAIL = 1_000  # token base units per Wh
FEED_IN = 100  # token base units per Wh
BUDGET = 10**12  # token base units per trader
HOURS = 6
TIMEOUT = HOUR  # seconds after an hour when an unmeasured deal refunds

ADMIN = boa.env.generate_address("a-admin")
INSTALLER = boa.env.generate_address("a-installer")
BODY = boa.env.generate_address("a-body")
TRADERS = [boa.env.generate_address(f"a-trader-{i}") for i in range(4)]  # 0, 1 sell; 2, 3 buy
METERS = [keccak(text=f"a-meter-{i}") for i in range(4)]
KEEPER = boa.env.generate_address("a-keeper")

trader = st.integers(min_value=0, max_value=3)
hour = st.integers(min_value=0, max_value=HOURS - 1)
wh = st.integers(min_value=1, max_value=1_000)
price = st.sampled_from([50, 100, 101, 300, 499, 500, 501, 999, 1_000, 2_000])
pick = st.integers(min_value=0, max_value=1_000)


class Auction(RuleBasedStateMachine):
    @initialize()
    def deploy(self):
        now = boa.env.evm.patch.timestamp
        with boa.env.prank(ADMIN):
            self.token = deployer("Wallet").deploy(
                "OpenKWh Token", "OKWH", 18, 10**30, 0, 1, now + 1
            )
            self.smb = deployer("SmartMeterBackend").deploy(HOUR, 300, ZERO_ADDRESS)
            self.smb.set_issuing_body("DK1", BODY, True)
            self.ob = deployer("OperatorBackend").deploy(
                self.token.address, 86_400, RETAIL, FEED_IN, [self.smb.address]
            )
            self.smb.wire_operator(self.ob.address)
            self.registry = deployer("GGORegistry").deploy(self.smb.address, 365 * 86_400)
            self.exchange = deployer("Exchange").deploy(
                self.token.address,
                self.smb.address,
                self.registry.address,
                self.ob.address,
                LEAD,
                TIMEOUT,
            )
            self.registry.wire_exchange(self.exchange.address)
            self.ob.wire_exchange(self.exchange.address)
            self.market = deployer("Auction").deploy(
                self.token.address, self.smb.address, self.ob.address, self.exchange.address, LEAD
            )
            self.exchange.wire_auction(self.market.address)
            for t in TRADERS:
                self.token.transfer(t, BUDGET)
        self.smb.certify_installer("DK1", INSTALLER, sender=BODY)
        for i, t in enumerate(TRADERS):
            self.token.approve(self.market.address, 2**256 - 1, sender=t)
            self.smb.register_meter(
                METERS[i],
                keyed_account(f"a-key-{i}").address,
                t,
                "DK1",
                "T020002",
                "F01050100",
                5_000,
                CONNECTION_W,
                3,
                sender=INSTALLER,
            )
            self.smb.accept_meter(METERS[i], 0, sender=t)
        self.first_hour = now - now % HOUR + 3 * HOUR
        self.orders = {}  # id -> dict
        self.book = {}  # begin -> order ids in placement order
        self.cleared = {}  # begin -> model.Book over the live orders
        self.released = set()  # (bid id, begin) whose escrow is released
        self.delivered = set()  # begins delivered in full
        self.deals = {}  # deal id -> dict(terms, buyer, escrow, begin, settled)

    def begin(self, h):
        return self.first_hour + h * HOUR

    def is_open(self, begin):
        return boa.env.evm.patch.timestamp + LEAD < begin

    @rule(t=trader, h=hour, hours=st.integers(min_value=1, max_value=HOURS), w=wh, p=price)
    def place(self, t, h, hours, w, p):
        first = self.begin(h)
        last = self.begin(min(h + hours, HOURS) - 1)
        is_bid = t >= 2
        if not self.is_open(first):
            with boa.reverts("auction: gate closed for this interval"):
                self.market.place(METERS[t], first, last, w, p, is_bid, sender=TRADERS[t])
            return
        hours_of = range(first, last + 1, HOUR)
        if any(
            sum(1 for i in self.book.get(b, []) if self.orders[i]["t"] == t) >= 16 for b in hours_of
        ):
            with boa.reverts("auction: the meter has too many orders in the interval"):
                self.market.place(METERS[t], first, last, w, p, is_bid, sender=TRADERS[t])
            return
        order_id = self.market.place(METERS[t], first, last, w, p, is_bid, sender=TRADERS[t])
        self.orders[order_id] = dict(
            t=t, bid=is_bid, wh=w, price=p, first=first, last=last, released=0
        )
        for b in range(first, last + 1, HOUR):
            self.book.setdefault(b, []).append(order_id)

    @rule(i=pick, h=hour)
    def cancel(self, i, h):
        if not self.orders:
            return
        order_id = sorted(self.orders)[i % len(self.orders)]
        o = self.orders[order_id]
        at = self.begin(h)
        if not o["first"] <= at <= o["last"]:
            with boa.reverts("auction: interval not in the order"):
                self.market.cancel(order_id, at, sender=TRADERS[o["t"]])
            return
        if not self.is_open(at):
            with boa.reverts("auction: gate closed for this interval"):
                self.market.cancel(order_id, at, sender=TRADERS[o["t"]])
            return
        self.market.cancel(order_id, at, sender=TRADERS[o["t"]])
        o["last"] = at - HOUR if at > o["first"] else 0

    @rule()
    def an_hour_passes(self):
        boa.env.time_travel(seconds=HOUR)

    @rule()
    def keeper_clears_what_it_can(self):
        for h in range(HOURS):
            begin = self.begin(h)
            if begin in self.cleared or self.is_open(begin):
                continue
            ids = self.book.get(begin, [])
            live = [i for i in ids if self.orders[i]["first"] <= begin <= self.orders[i]["last"]]
            book = model.clear(
                [
                    (self.orders[i]["bid"], self.orders[i]["wh"], self.orders[i]["price"])
                    for i in live
                ],
                RETAIL,
                FEED_IN,
            )
            with boa.reverts("auction: book does not hold every order"):
                self.market.clear(
                    begin, [*ids, 0] if 0 not in ids else ids[1:], book.price, sender=KEEPER
                )
            with boa.reverts():
                self.market.clear(begin, ids, book.price + 1, sender=KEEPER)
            self.market.clear(begin, ids, book.price, sender=KEEPER)
            self.cleared[begin] = book
            for i, fill in zip(live, book.fills, strict=True):
                assert self.market.fill(i, begin) == fill

    @rule(i=pick, n=st.integers(min_value=1, max_value=HOURS))
    def release(self, i, n):
        bids = [k for k, o in self.orders.items() if o["bid"] and o["last"] >= o["first"]]
        if not bids:
            return
        order_id = bids[i % len(bids)]
        o = self.orders[order_id]
        todo = [
            o["first"] + k * HOUR
            for k in range(o["released"], (o["last"] - o["first"]) // HOUR + 1)
        ]
        if not todo:
            with boa.reverts("auction: nothing to release"):
                self.market.release(order_id, n)
            return
        if todo[0] not in self.cleared:
            with boa.reverts("auction: interval not cleared yet"):
                self.market.release(order_id, n)
            return
        done = []
        for b in todo[:n]:
            if b not in self.cleared:
                break
            done.append(b)
        if len(done) < min(n, len(todo)):
            with boa.reverts("auction: interval not cleared yet"):
                self.market.release(order_id, n)
            n = len(done)
        self.market.release(order_id, n, sender=KEEPER)
        for b in done:
            self.released.add((order_id, b))
        o["released"] += len(done)

    @rule(n=pick)
    def keeper_delivers_an_hour(self, n):
        """Delivers one cleared hour: the others wait, some until they begin."""
        now = boa.env.evm.patch.timestamp
        waiting = sorted(b for b in self.cleared if b not in self.delivered)
        if not waiting:
            return
        for begin in waiting[n % len(waiting) :][:1]:
            ids = self.book.get(begin, [])
            fills = {i: self.market.fill(i, begin) for i in ids}
            bids = [[i, fills[i]] for i in ids if self.orders[i]["bid"] and fills[i]]
            asks = [[i, fills[i]] for i in ids if not self.orders[i]["bid"] and fills[i]]
            expected = []  # (bid id, offer id, Wh): the placement-order pairing
            if now < begin:
                b = a = 0
                while b < len(bids) and a < len(asks):
                    wh = min(bids[b][1], asks[a][1])
                    expected.append((bids[b][0], asks[a][0], wh))
                    bids[b][1] -= wh
                    asks[a][1] -= wh
                    b += bids[b][1] == 0
                    a += asks[a][1] == 0
                assert len(expected) <= max(len(bids) + len(asks) - 1, 0)
            if ids:  # a keeper delivering another book, or another pairing of it
                with boa.reverts("auction: book does not match the orders placed"):
                    self.market.deliver(begin, [*ids[1:], 2**64], sender=KEEPER)
            made = []
            while True:
                complete = self.market.deliver(begin, ids, sender=KEEPER)
                made += [e for e in self.market.get_logs() if type(e).__name__ == "DealMade"]
                if complete:
                    break
            assert [(e.buyer, e.seller, e.wh) for e in made] == [
                (TRADERS[self.orders[b]["t"]], TRADERS[self.orders[a]["t"]], wh)
                for b, a, wh in expected
            ]
            for e in made:
                assert e.price == self.cleared[begin].price
                self.deals[e.deal_id] = dict(
                    terms=(e.order_id, e.seller, e.buyer, e.seller_meter, e.buyer_meter,
                           e.interval_begin, e.wh, e.price, e.retire),
                    buyer=TRADERS.index(e.buyer), escrow=e.wh * e.price, begin=begin,
                    settled=False,
                )  # fmt: skip
            self.delivered.add(begin)
            with boa.reverts("auction: interval already delivered"):
                self.market.deliver(begin, ids, sender=KEEPER)

    @rule(n=pick)
    def anyone_settles(self, n):
        now = boa.env.evm.patch.timestamp
        pending = sorted(i for i, d in self.deals.items() if not d["settled"])
        if not pending:
            return
        deal_id = pending[n % len(pending)]
        deal = self.deals[deal_id]
        if now < deal["begin"] + HOUR + TIMEOUT:
            with boa.reverts("exchange: no measurement yet for this interval"):
                self.exchange.settle(deal_id, deal["terms"], sender=KEEPER)
            return
        self.exchange.settle(deal_id, deal["terms"], sender=KEEPER)
        event = next(e for e in self.exchange.get_logs() if type(e).__name__ == "DealSettled")
        assert (event.payment, event.refund) == (0, deal["escrow"])  # nobody measured
        deal["settled"] = True

    @rule(t=trader)
    def withdraw_from_the_exchange(self, t):
        if self.exchange.credit_of(TRADERS[t]) == 0:
            with boa.reverts("exchange: no credit to withdraw"):
                self.exchange.withdraw_credit(sender=TRADERS[t])
            return
        self.exchange.withdraw_credit(sender=TRADERS[t])

    @rule(t=trader)
    def withdraw(self, t):
        if self.market.credit_of(TRADERS[t]) == 0:
            with boa.reverts("auction: no credit"):
                self.market.withdraw_credit(sender=TRADERS[t])
            return
        self.market.withdraw_credit(sender=TRADERS[t])

    def escrow(self, t):
        """What the Auction holds for trader ``t``'s bids, hour by hour: a bid hour's
        escrow until it is released, less its fills' payment once delivered, plus
        that payment until delivered (to the Exchange, or back as credit)."""
        total = 0
        for order_id, o in self.orders.items():
            if o["t"] != t or not o["bid"] or o["last"] < o["first"]:
                continue
            for begin in range(o["first"], o["last"] + 1, HOUR):
                payment = 0
                if begin in self.cleared:
                    payment = self.market.fill(order_id, begin) * self.cleared[begin].price
                if (order_id, begin) not in self.released:
                    total += o["wh"] * o["price"] - payment
                if begin not in self.delivered:
                    total += payment
        return total

    def open_deals(self, t):
        return sum(d["escrow"] for d in self.deals.values() if d["buyer"] == t and not d["settled"])

    @invariant()
    def tokens_are_conserved(self):
        if not hasattr(self, "market"):
            return
        held = 0
        in_exchange = 0
        for t in range(4):
            credit = self.market.credit_of(TRADERS[t])
            exchange = self.exchange.credit_of(TRADERS[t]) + self.open_deals(t)
            mine = self.escrow(t) + credit
            assert self.token.balanceOf(TRADERS[t]) + mine + exchange == BUDGET
            held += mine
            in_exchange += exchange
        assert self.token.balanceOf(self.market.address) == held
        assert self.token.balanceOf(self.exchange.address) == in_exchange

    @invariant()
    def clearings_are_the_models(self):
        if not hasattr(self, "market"):
            return
        for begin, book in self.cleared.items():
            c = self.market.clearing(begin)
            assert (c.cleared, c.price, c.bought_wh, c.sold_wh) == (
                True,
                book.price,
                book.bought,
                book.sold,
            )
            assert c.bought_wh <= book.volume
            assert c.sold_wh <= book.volume
            assert FEED_IN <= c.price <= RETAIL or book.volume == 0
            for i in self.book.get(begin, []):
                o = self.orders[i]
                if self.market.fill(i, begin):
                    if o["bid"]:
                        assert c.price <= min(o["price"], RETAIL)
                    else:
                        assert c.price >= max(o["price"], FEED_IN)


TestAuction = Auction.TestCase
TestAuction.settings = campaign(30, 40)
test_long_campaign = timed_campaign(Auction, 40)

"""Stateful properties of Exchange.vy against a plain Python model.

Two sellers and two buyers place, amend, cancel and take orders for a few
future hours; time passes; meters report (or not); anyone settles. Invariants:
the Exchange's token balance == open bids' escrow + unsettled deals' escrow +
unclaimed credits; every settled deal paid + refunded its escrow exactly;
delivered Wh never exceed production; certificates in custody are the sold Wh
not yet settled; and the operator, settling a seller's hour after its deals,
rewards exactly the produced Wh that were not delivered through the Exchange.
"""

from functools import partial

import boa
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from meter_bridge.signing import Reading, sign_reading
from tests.fixtures.accounts import keyed_account
from tests.fixtures.meters import CONNECTION_W, ZERO_ADDRESS
from tests.helpers import made_deal
from tests.hypothesis import campaign, deployer, timed_campaign

HOUR = 3_600  # seconds
LEAD = 3_600  # seconds
TIMEOUT = 2 * HOUR  # seconds
CAPACITY_W = 5_000


ADMIN = boa.env.generate_address("x-admin")
INSTALLER = boa.env.generate_address("x-installer")
BODY = boa.env.generate_address("x-body")
SELLERS = [boa.env.generate_address(f"x-seller-{i}") for i in range(2)]
SPARE = boa.env.generate_address("x-next-owner")  # takes over a seller's meter
BUYERS = [boa.env.generate_address(f"x-buyer-{i}") for i in range(2)]
SELLER_KEYS = [keyed_account(f"x-seller-meter-{i}") for i in range(2)]
SELLER_METERS = [keccak(text=f"x-seller-meter-{i}") for i in range(2)]
BUYER_METERS = [keccak(text=f"x-buyer-meter-{i}") for i in range(2)]

side = st.integers(min_value=0, max_value=1)
hour = st.integers(min_value=0, max_value=3)
wh = st.integers(min_value=1, max_value=3_000)
price = st.integers(min_value=1, max_value=10**12)
pick = st.integers(min_value=0, max_value=1_000)


class Market(RuleBasedStateMachine):
    @initialize()
    def deploy(self):
        now = boa.env.evm.patch.timestamp
        with boa.env.prank(ADMIN):
            self.token = deployer("Wallet").deploy(
                "OpenKWh Token", "OKWH", 18, 10**30, 0, 1, now + 1
            )
            self.smb = deployer("SmartMeterBackend").deploy(HOUR, 300, ZERO_ADDRESS)
            self.smb.set_issuing_body("DK1", BODY, True)
            self.registry = deployer("GGORegistry").deploy(self.smb.address, 365 * 86_400)
            self.ob = deployer("OperatorBackend").deploy(
                self.token.address, 86_400, 3, 1, [self.smb.address]
            )
            self.market = deployer("Exchange").deploy(
                self.token.address,
                self.smb.address,
                self.registry.address,
                self.ob.address,
                LEAD,
                TIMEOUT,
            )
            self.registry.wire_exchange(self.market.address)
            self.ob.wire_exchange(self.market.address)
            self.smb.wire_operator(self.ob.address)
            for buyer in BUYERS:
                self.token.transfer(buyer, 10**27)
        for buyer in BUYERS:
            self.token.approve(self.market.address, 2**256 - 1, sender=buyer)
        self.smb.certify_installer("DK1", INSTALLER, sender=BODY)
        for i in range(2):
            self.smb.register_meter(
                SELLER_METERS[i],
                SELLER_KEYS[i].address,
                SELLERS[i],
                "DK1",
                "T020002",
                "F01050100",
                CAPACITY_W,
                CONNECTION_W,
                1,
                sender=INSTALLER,
            )
            self.smb.accept_meter(SELLER_METERS[i], 0, sender=SELLERS[i])
            self.smb.register_meter(
                BUYER_METERS[i],
                keyed_account(f"b{i}").address,
                BUYERS[i],
                "DK1",
                "",
                "",
                0,
                CONNECTION_W,
                2,
                sender=INSTALLER,
            )
            self.smb.accept_meter(BUYER_METERS[i], 0, sender=BUYERS[i])
        self.first_hour = now - now % HOUR + 6 * HOUR  # hours 0-3 are open for trading
        self.seller_owner = list(SELLERS)  # who owns each seller meter now
        self.measured_owner = {}  # (seller, begin) -> the owner when it was measured
        self.orders = {}  # id -> dict(model of the order)
        self.deals = {}  # id -> dict
        self.measured = {}  # (seller, begin) -> produced Wh
        self.reported = {i: None for i in range(2)}  # last reading end per seller meter
        self.settled_escrow = []  # (escrow, payment, refund)
        self.operator_settled = set()  # (seller, begin)
        self.issued = set()  # (seller, begin) whose certificate exists

    def begin(self, h):
        return self.first_hour + h * HOUR

    def open(self, begin):
        return boa.env.evm.patch.timestamp + LEAD < begin

    def committed(self, seller, begin):
        offers = sum(
            o["wh"]
            for o in self.orders.values()
            if o["open"] and not o["bid"] and o["meter"] == seller and o["begin"] == begin
        )
        sold = sum(
            d["wh"] for d in self.deals.values() if d["seller"] == seller and d["begin"] == begin
        )
        return offers + sold

    @rule(seller=side, h=hour, amount=wh, unit=price)
    def offer(self, seller, h, amount, unit):
        self.place_offer(seller, h, amount, unit)

    def place_offer(self, seller, h, amount, unit):
        begin = self.begin(h)
        call = partial(
            self.market.offer,
            SELLER_METERS[seller],
            begin,
            amount,
            unit,
            sender=self.seller_owner[seller],
        )
        if not self.open(begin):
            with boa.reverts("exchange: gate closed for this interval"):
                call()
        elif self.committed(seller, begin) + amount > CAPACITY_W:
            with boa.reverts("exchange: selling beyond the meter's capacity"):
                call()
        else:
            order_id = call()
            self.orders[order_id] = {
                "bid": False,
                "meter": seller,
                "maker": seller,
                "account": self.seller_owner[seller],
                "begin": begin,
                "wh": amount,
                "price": unit,
                "version": 0,
                "open": True,
            }

    @rule(buyer=side, h=hour, amount=wh, unit=price)
    def bid(self, buyer, h, amount, unit):
        begin = self.begin(h)
        call = partial(
            self.market.bid,
            BUYER_METERS[buyer],
            begin,
            amount,
            unit,
            False,
            sender=BUYERS[buyer],
        )
        if not self.open(begin):
            with boa.reverts("exchange: gate closed for this interval"):
                call()
            return
        order_id = call()
        self.orders[order_id] = {
            "bid": True,
            "meter": buyer,
            "maker": buyer,
            "account": BUYERS[buyer],
            "begin": begin,
            "wh": amount,
            "price": unit,
            "version": 0,
            "open": True,
        }

    def pick_order(self, n):
        ids = sorted(i for i, o in self.orders.items() if o["open"])
        return ids[n % len(ids)] if ids else None

    @rule(
        seller=side,
        buyer=side,
        h=hour,
        amount=wh,
        unit=price,
        fraction=st.integers(min_value=1, max_value=100),
        productions=st.lists(
            st.integers(min_value=0, max_value=CAPACITY_W), min_size=6, max_size=6
        ),
        silent=st.booleans(),
    )
    def trade_deliver_settle(self, seller, buyer, h, amount, unit, fraction, productions, silent):
        """A whole trading day in one step: an offer, a take, the hour delivered, settlement."""
        before = len(self.orders)
        self.place_offer(seller, h, amount, unit)
        if len(self.orders) == before:
            return
        order_id = max(self.orders)
        order = self.orders[order_id]
        if not self.open(order["begin"]):
            return
        self.take_order(order_id, buyer, fraction, False)
        self.deliver(productions, silent)
        self.settle_all(0)

    @rule(
        n=pick,
        taker=side,
        fraction=st.integers(min_value=1, max_value=100),
        stale=st.booleans(),
        whole=st.booleans(),
    )
    def take(self, n, taker, fraction, stale, whole):
        """Takes part of an order, or all of it (half the time: the order closes
        and leaves its interval's book)."""
        order_id = self.pick_order(n)
        if order_id is None:
            return
        self.take_order(order_id, taker, 100 if whole else fraction, stale)

    def take_order(self, order_id, taker, fraction, stale):
        order = self.orders[order_id]
        amount = max(1, order["wh"] * fraction // 100)
        version = order["version"] - 1 if stale and order["version"] else order["version"]
        if order["bid"]:
            meter, who = SELLER_METERS[taker], self.seller_owner[taker]
        else:
            meter, who = BUYER_METERS[taker], BUYERS[taker]
        call = partial(
            self.market.take,
            order_id,
            amount,
            order["price"],
            version,
            meter,
            sender=who,
        )
        if not self.open(order["begin"]):
            reason = "exchange: gate closed for this interval"
        elif version != order["version"]:
            reason = "exchange: order changed since it was seen"
        elif not order["bid"] and order["account"] != self.seller_owner[order["meter"]]:
            reason = "exchange: the order's meter has changed owner"
        elif order["bid"] and self.committed(taker, order["begin"]) + amount > CAPACITY_W:
            reason = "exchange: selling beyond the meter's capacity"
        else:
            deal_id, terms = call(), made_deal(self.market)[1]
            seller = order["maker"] if not order["bid"] else taker
            buyer = order["maker"] if order["bid"] else taker
            self.deals[deal_id] = {
                "seller": seller,
                "buyer": buyer,
                "begin": order["begin"],
                "wh": amount,
                "price": order["price"],
                "settled": False,
                "terms": terms,
            }
            order["wh"] -= amount
            order["open"] = order["wh"] > 0
            return
        with boa.reverts(reason):
            call()

    @rule(n=pick, unit=price, withdraw=st.booleans())
    def amend_or_cancel(self, n, unit, withdraw):
        """The maker changes the price (the version moves on) or cancels."""
        order_id = self.pick_order(n)
        if order_id is None:
            return
        order = self.orders[order_id]
        who = order["account"]
        if withdraw:
            self.market.cancel(order_id, sender=who)
            order["open"] = False
        elif not self.open(order["begin"]):
            with boa.reverts("exchange: gate closed for this interval"):
                self.market.amend(order_id, order["wh"], unit, sender=who)
        elif not order["bid"] and who != self.seller_owner[order["meter"]]:
            with boa.reverts("exchange: caller is not the meter owner"):
                self.market.amend(order_id, order["wh"], unit, sender=who)
        else:
            self.market.amend(order_id, order["wh"], unit, sender=who)
            order["price"] = unit
            order["version"] += 1

    @rule(minutes=st.integers(min_value=1, max_value=60))
    def time_passes(self, minutes):
        boa.env.time_travel(seconds=minutes * 60)

    @rule(
        productions=st.lists(
            st.integers(min_value=0, max_value=CAPACITY_W), min_size=6, max_size=6
        ),
        silent=st.booleans(),
    )
    def next_traded_hour_ends(self, productions, silent):
        self.deliver(productions, silent)

    def deliver(self, productions, silent):
        """Time runs to the end of the earliest traded hour not yet measured; the first
        seller's meter reports every hour since its last reading, the second's too unless
        ``silent`` (its deals then refund after the timeout)."""
        traded = [
            d["begin"] for d in self.deals.values() if d["begin"] + HOUR > self.measured_until()
        ]
        if not traded:
            return
        end = min(traded) + HOUR
        if end > boa.env.evm.patch.timestamp:
            boa.env.time_travel(seconds=end - boa.env.evm.patch.timestamp)
        for seller in (0,) if silent else (0, 1):
            self.meter_reports(seller, productions)

    def measured_until(self):
        ends = [r[0] for r in self.reported.values() if r is not None]
        return min(ends) if len(ends) == 2 else 0

    def meter_reports(self, seller, productions):
        """The seller's meter reports every whole hour that has ended since its last reading."""
        now = boa.env.evm.patch.timestamp
        if self.reported[seller] is None:
            if now < self.first_hour:
                return
            self.submit(seller, self.first_hour, 0)
            self.reported[seller] = (self.first_hour, 0)
        for produced in productions:
            end, exported = self.reported[seller]
            if now < end + HOUR:
                return
            self.submit(seller, end + HOUR, exported + produced)
            self.measured[seller, end] = produced
            self.measured_owner[seller, end] = self.seller_owner[seller]
            self.reported[seller] = (end + HOUR, exported + produced)

    def submit(self, seller, end, exported):
        meter = SELLER_METERS[seller]
        reading = Reading(meter, end, 0, exported, b"\x05" * 32, self.smb.next_reading_begin(meter))
        signed = sign_reading(
            SELLER_KEYS[seller], reading, boa.env.evm.patch.chain_id, str(self.smb.address)
        )
        self.smb.submit_reading(*signed.contract_args())

    @rule(n=pick)
    def settle(self, n):
        """Tries one deal that cannot be settled yet, then settles every deal that can."""
        self.settle_all(n)

    def settle_all(self, n):
        now = boa.env.evm.patch.timestamp
        pending = sorted(i for i, d in self.deals.items() if not d["settled"])
        waiting = [
            i
            for i in pending
            if (self.deals[i]["seller"], self.deals[i]["begin"]) not in self.measured
            and now < self.deals[i]["begin"] + HOUR + TIMEOUT
        ]
        if waiting:
            with boa.reverts("exchange: no measurement yet for this interval"):
                deal_id = waiting[n % len(waiting)]
                self.market.settle(deal_id, self.deals[deal_id]["terms"])
        for deal_id in pending:
            if deal_id not in waiting:
                self.settle_one(deal_id)

    def settle_one(self, deal_id):
        deal = self.deals[deal_id]
        produced = self.measured.get((deal["seller"], deal["begin"]))
        self.market.settle(deal_id, deal["terms"])
        same = [
            d
            for d in self.deals.values()
            if d["seller"] == deal["seller"] and d["begin"] == deal["begin"]
        ]
        # Once one deal refunded for want of a measurement, the interval has
        # lapsed: every deal of it refunds, and they all stay sold.
        if any(d.get("refunded") for d in same):
            produced = None
        sold = sum(d["wh"] for d in same)
        if produced is None:
            delivered = 0
        elif produced >= sold:
            delivered = deal["wh"]
        else:
            delivered = deal["wh"] * produced // sold
        escrow = deal["wh"] * deal["price"]
        event = next(e for e in self.market.get_logs() if type(e).__name__ == "DealSettled")
        assert event.delivered_wh == delivered
        if produced is not None:  # the sale went with the meter: its owner then is paid
            assert event.seller == self.measured_owner[deal["seller"], deal["begin"]]
        self.settled_escrow.append((escrow, event.payment, event.refund))
        deal["settled"] = True
        deal["delivered"] = delivered
        deal["refunded"] = produced is None
        if produced is not None:
            self.issued.add((deal["seller"], deal["begin"]))

    @rule(n=pick)
    def anyone_issues(self, n):
        """Someone certifies a measured hour before (or without) any settlement."""
        todo = sorted(self.measured)
        if todo:
            seller, begin = todo[n % len(todo)]
            self.registry.issue(SELLER_METERS[seller], begin)
            self.issued.add((seller, begin))

    @rule(n=pick)
    def operator_settles(self, n):
        """The operator settles the measured seller hours: those with unsettled deals
        wait; the others are rewarded for the Wh not delivered through the Exchange."""
        todo = sorted(k for k in self.measured if k not in self.operator_settled)
        if not todo:
            return
        seller, begin = todo[n % len(todo)]
        deals = [d for d in self.deals.values() if d["seller"] == seller and d["begin"] == begin]
        call = partial(self.ob.settle, self.smb.address, SELLER_METERS[seller], begin)
        if any(not d["settled"] for d in deals):
            with boa.reverts("operator: interval has unsettled deals"):
                call()
            return
        call()
        event = next(e for e in self.ob.get_logs() if type(e).__name__ == "IntervalSettled")
        produced = self.measured[seller, begin]
        if any(d.get("refunded") for d in deals):  # lapsed: no feed-in for what was sold
            assert event.feed_in_wh == produced - min(sum(d["wh"] for d in deals), produced)
        else:
            assert event.feed_in_wh == produced - sum(d["delivered"] for d in deals)
        self.operator_settled.add((seller, begin))

    @rule(seller=side)
    def hand_over(self, seller):
        """A seller meter passes between its first owner and the spare account,
        which accepts it once its readings are current. Deals sold before go with
        the meter (its owner during the hour is paid); offers made before are
        untakeable."""
        meter = SELLER_METERS[seller]
        old = self.seller_owner[seller]
        new = SPARE if old == SELLERS[seller] else SELLERS[seller]
        self.smb.offer_meter(meter, new, sender=old)
        reported = self.reported[seller]
        if reported is not None and reported[0] + HOUR <= boa.env.evm.patch.timestamp:
            with boa.reverts(
                "meter: the meter's readings are behind: relay them up to the current interval first"
            ):
                self.smb.accept_meter(meter, 0, sender=new)
            return
        self.smb.accept_meter(meter, self.smb.meter_debt(meter), sender=new)
        self.seller_owner[seller] = new

    @rule(who=st.integers(min_value=0, max_value=4))
    def withdraw_credit(self, who):
        account = (SELLERS + BUYERS + [SPARE])[who]
        if self.market.credit_of(account) == 0:
            with boa.reverts("exchange: no credit to withdraw"):
                self.market.withdraw_credit(sender=account)
            return
        self.market.withdraw_credit(sender=account)

    @invariant()
    def tokens_held_are_escrow_plus_credits(self):
        open_bids = sum(
            o["wh"] * o["price"] for o in self.orders.values() if o["open"] and o["bid"]
        )
        unsettled = sum(d["wh"] * d["price"] for d in self.deals.values() if not d["settled"])
        credits = sum(self.market.credit_of(a) for a in [*SELLERS, *BUYERS, SPARE])
        assert self.token.balanceOf(self.market.address) == open_bids + unsettled + credits

    @invariant()
    def settled_deals_pay_and_refund_exactly_their_escrow(self):
        for escrow, payment, refund in self.settled_escrow:
            assert payment + refund == escrow

    @invariant()
    def delivered_never_exceeds_produced(self):
        for (seller, begin), produced in self.measured.items():
            delivered = sum(
                d.get("delivered", 0)
                for d in self.deals.values()
                if d["seller"] == seller and d["begin"] == begin
            )
            assert delivered <= produced
            assert self.market.delivered_sold_wh(SELLER_METERS[seller], begin) == delivered

    @invariant()
    def custody_is_sold_wh_not_yet_settled(self):
        for seller, begin in self.issued:
            produced = self.measured[seller, begin]
            cert = self.registry.certificate_id(SELLER_METERS[seller], begin)
            deals = [
                d for d in self.deals.values() if d["seller"] == seller and d["begin"] == begin
            ]
            lapsed = any(d.get("refunded") for d in deals)
            custody = 0 if lapsed else min(sum(d["wh"] for d in deals), produced)
            delivered = sum(d.get("delivered", 0) for d in deals if d["settled"])
            open_wh = sum(d["wh"] for d in deals if not d["settled"])
            expected = 0 if open_wh == 0 else custody - delivered
            assert self.registry.balanceOf(self.market.address, cert) == expected

    @invariant()
    def the_book_is_every_open_order_newest_first(self):
        for begin in {o["begin"] for o in self.orders.values()}:
            listed, cursor = self.market.order_book(begin, 0)
            while cursor:
                page, cursor = self.market.order_book(begin, cursor)
                listed += page
            expected = [
                i
                for i in sorted(self.orders, reverse=True)
                if self.orders[i]["open"] and self.orders[i]["begin"] == begin
            ]
            assert listed == expected
        # Each maker's orders, open or not, newest first.
        for account in {o["account"] for o in self.orders.values()}:
            listed, cursor = self.market.orders_of(account, 0)
            while cursor:
                page, cursor = self.market.orders_of(account, cursor)
                listed += page
            mine = [
                i for i in sorted(self.orders, reverse=True) if self.orders[i]["account"] == account
            ]
            assert listed == mine


TestMarket = Market.TestCase
TestMarket.settings = campaign(30, 40)
test_long_campaign = timed_campaign(Market, 40)

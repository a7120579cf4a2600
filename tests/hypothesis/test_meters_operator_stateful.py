"""Stateful properties of SmartMeterBackend.vy and OperatorBackend.vy together.

Random meters' readings (valid and forged), tariffs, deposits, withdrawals,
treasury moves, suspensions, meters handed to other owners (with their debt,
or refused for it), settlements and the passing of time, checked against a
plain Python model. Invariants: each measurement is settled at most once; the
OperatorBackend's token balance is the sum of ledger balances plus the
treasury; every ledger, debt and meter debt is the model's (a ledger moves
only by its owner's action or a bill of a measurement its account owned); per
meter, measured Wh add up to last register minus baseline.
"""

from dataclasses import dataclass, field

import boa
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from meter_bridge.signing import Reading, sign_reading
from openkwh.chain.types import BOTH, MeterKind
from tests.fixtures.accounts import keyed_account
from tests.fixtures.meters import ZERO_ADDRESS
from tests.hypothesis import campaign, deployer, timed_campaign

HOUR = 3_600  # seconds
TOLERANCE = 300  # seconds
NOTICE = 86_400  # seconds
TOKENS = 10**18  # token base units
RETAIL, FEED_IN = 3 * 10**14, 8 * 10**13  # token base units per Wh


ADMIN = boa.env.generate_address("stateful-admin")
INSTALLER = boa.env.generate_address("stateful-installer")
BODY = boa.env.generate_address("stateful-body")
OWNERS = [boa.env.generate_address(f"stateful-owner-{i}") for i in range(3)]
KEYS = [keyed_account(f"stateful-meter-{i}") for i in range(3)]
IMPOSTOR = keyed_account("stateful-impostor")
METER_IDS = [keccak(text=f"stateful-meter-{i}") for i in range(3)]
KINDS = [int(BOTH), int(MeterKind.CONSUMPTION), int(BOTH)]

CAPACITY_W = 5_000  # of the producing meters
CONNECTION_W = 7_000  # of every meter: small, so that flows of up to 20 kWh an hour exceed it
meter_index = st.integers(min_value=0, max_value=2)
owner_index = st.integers(min_value=0, max_value=2)
wh = st.integers(min_value=0, max_value=20_000)
tokens = st.integers(min_value=1, max_value=50 * TOKENS)


@dataclass
class MeterModel:
    owner: int
    baseline: tuple  # (end, import, export)
    last: tuple
    suspended: bool = False
    measurements: dict = field(default_factory=dict)  # begin -> (end, produced, consumed)
    owners: dict = field(default_factory=dict)  # begin -> owner index when measured
    settled: set = field(default_factory=set)
    debt: int = 0  # bills its current owner's ledger did not pay (token base units)


class MetersAndOperator(RuleBasedStateMachine):
    @initialize()
    def deploy(self):
        with boa.env.prank(ADMIN):
            self.token = deployer("Wallet").deploy(
                "OpenKWh Token", "OKWH", 18, 10**27, 0, 1, boa.env.evm.patch.timestamp + 1
            )
            self.smb = deployer("SmartMeterBackend").deploy(HOUR, TOLERANCE, ZERO_ADDRESS)
            self.ob = deployer("OperatorBackend").deploy(
                self.token.address, NOTICE, RETAIL, FEED_IN, [self.smb.address]
            )
            self.smb.wire_operator(self.ob.address)
            self.smb.set_issuing_body("DK1", BODY, True)
            for owner in OWNERS:
                self.token.transfer(owner, 1_000 * TOKENS)
                self.token.approve(self.ob.address, 2**256 - 1, sender=owner)
            self.token.approve(self.ob.address, 2**256 - 1)
        self.smb.certify_installer("DK1", INSTALLER, sender=BODY)
        self.meters = []
        baseline_end = self.now() - self.now() % HOUR
        for i in range(3):
            self.smb.register_meter(
                METER_IDS[i],
                KEYS[i].address,
                OWNERS[i],
                "DK1",
                *(("T020002", "F01050100", CAPACITY_W) if KINDS[i] & 1 else ("", "", 0)),
                CONNECTION_W,
                KINDS[i],
                sender=INSTALLER,
            )
            self.smb.accept_meter(METER_IDS[i], 0, sender=OWNERS[i])
            self.submit(i, baseline_end, 1_000, 1_000)
            last = (baseline_end, 1_000, 1_000)
            self.meters.append(MeterModel(owner=i, baseline=last, last=last))
        self.tariffs = [(0, RETAIL, FEED_IN)]  # (effective from, retail, feed-in)
        self.balance = [0, 0, 0]
        self.debt = [0, 0, 0]
        self.arrears = [0, 0, 0]
        self.treasury = 0
        self.touched = set()  # (meter, begin) recorded or settled since the last check

    # helpers

    def now(self):
        return boa.env.evm.patch.timestamp

    def submit(self, i, end, imported, exported, key=None):
        begin = self.smb.next_reading_begin(METER_IDS[i])
        reading = Reading(METER_IDS[i], end, imported, exported, keccak(text=f"{i}{end}"), begin)
        signed = sign_reading(
            key or KEYS[i], reading, boa.env.evm.patch.chain_id, str(self.smb.address)
        )
        self.smb.submit_reading(*signed.contract_args())

    def tariff_over(self, begin, end):
        """The highest retail price and lowest feed-in reward in force during
        ``[begin, end)``: the tariff at ``begin`` and every one starting before ``end``."""
        first = max(i for i, t in enumerate(self.tariffs) if t[0] <= begin)
        spanned = [self.tariffs[first]] + [t for t in self.tariffs[first + 1 :] if t[0] < end]
        return max(t[1] for t in spanned), min(t[2] for t in spanned)

    def credit(self, owner, amount):
        paid = min(self.debt[owner], amount)
        self.debt[owner] -= paid
        self.treasury += paid
        self.balance[owner] += amount - paid

    def charge(self, owner, amount):
        """Takes ``amount`` from the ledger, then from arrears; returns what is left."""
        taken = min(self.balance[owner], amount)
        self.balance[owner] -= taken
        self.treasury += taken
        rest = amount - taken
        offset = min(self.arrears[owner], rest)
        self.arrears[owner] -= offset
        return rest - offset

    # meters

    @rule(
        hours=st.integers(min_value=1, max_value=3),
        flows=st.lists(st.tuples(wh, wh), min_size=3, max_size=3),
    )
    def meters_report(self, hours, flows):
        """Every meter reports its registers ``hours`` after its last reading."""
        for i, (imported, exported) in enumerate(flows):
            meter = self.meters[i]
            last_end, last_import, last_export = meter.last
            end = last_end + hours * HOUR
            if KINDS[i] & 1:
                exported = min(exported, CAPACITY_W * hours)  # a key reports no more
            if end > self.now():
                boa.env.time_travel(seconds=end - self.now())
            new_import, new_export = last_import + imported, last_export + exported
            if meter.suspended:
                with boa.reverts("meter: meter is suspended"):
                    self.submit(i, end, new_import, new_export)
                continue
            if imported * 3_600 > 2 * CONNECTION_W * (hours * HOUR + TOLERANCE):
                # more than the connection carries: refused, and the meter's
                # next reading is not blocked by it
                with boa.reverts("meter: import beyond the meter's connection rating"):
                    self.submit(i, end, new_import, new_export)
                continue
            self.submit(i, end, new_import, new_export)
            meter.measurements[last_end] = (end, exported, imported)
            meter.owners[last_end] = meter.owner
            meter.last = (end, new_import, new_export)
            self.touched.add((i, last_end))

    @rule(
        i=meter_index,
        forgery=st.sampled_from(["replay", "backwards", "unaligned", "future", "impostor"]),
    )
    def forged_reading(self, i, forgery):
        meter = self.meters[i]
        if meter.suspended:
            return
        end, imported, exported = meter.last
        key = None
        if forgery == "replay":
            reason = "meter: reading not newer than last"
        elif forgery == "backwards":
            if imported == 0:
                return
            end, imported = end + HOUR, imported - 1
            reason = "meter: import register decreased"
            if end > self.now():
                boa.env.time_travel(seconds=end - self.now())
        elif forgery == "unaligned":
            end += HOUR // 2
            reason = "meter: interval end not on the interval grid"
        elif forgery == "future":
            end = self.now() - self.now() % HOUR + 2 * HOUR
            reason = "meter: reading dated in the future"
        else:
            end += HOUR
            key = IMPOSTOR
            reason = "meter: signer does not match meter"
            if end > self.now():
                boa.env.time_travel(seconds=end - self.now())
        with boa.reverts(reason):
            self.submit(i, end, imported, exported, key)

    @rule(i=meter_index)
    def suspend_or_resume(self, i):
        meter = self.meters[i]
        if meter.suspended:
            self.smb.resume_meter(METER_IDS[i], "repaired", sender=ADMIN)
        else:
            self.smb.suspend_meter(METER_IDS[i], "tamper alarm", sender=ADMIN)
        meter.suspended = not meter.suspended

    @rule(i=meter_index, new=owner_index, enough=st.booleans())
    def hand_over(self, i, new, enough):
        """The owner offers the meter; the new owner accepts, naming enough debt
        or one base unit too little."""
        meter = self.meters[i]
        meter_id = METER_IDS[i]
        if new == meter.owner:
            with boa.reverts("meter: offering the meter to its owner"):
                self.smb.offer_meter(meter_id, OWNERS[new], sender=OWNERS[meter.owner])
            return
        self.smb.offer_meter(meter_id, OWNERS[new], sender=OWNERS[meter.owner])
        assert self.smb.meter_debt(meter_id) == meter.debt
        if meter.last[0] + HOUR <= self.now():
            with boa.reverts(
                "meter: the meter's readings are behind: relay them up to the current interval first"
            ):
                self.smb.accept_meter(meter_id, meter.debt, sender=OWNERS[new])
            return
        if not enough and meter.debt:
            with boa.reverts("meter: the meter's debt exceeds what the caller takes on"):
                self.smb.accept_meter(meter_id, meter.debt - 1, sender=OWNERS[new])
            return
        self.smb.accept_meter(meter_id, meter.debt, sender=OWNERS[new])
        meter.owner = new

    # operator

    @rule(i=meter_index, pick=st.integers(min_value=0, max_value=1_000))
    def settle(self, i, pick):
        meter = self.meters[i]
        if not meter.measurements:
            with boa.reverts("operator: no measurement for this interval"):
                self.ob.settle(self.smb.address, METER_IDS[i], self.now() - self.now() % HOUR)
            return
        begins = sorted(meter.measurements)
        begin = begins[pick % len(begins)]
        if begin in meter.settled:
            with boa.reverts("operator: interval already settled"):
                self.ob.settle(self.smb.address, METER_IDS[i], begin)
            return
        self.ob.settle(self.smb.address, METER_IDS[i], begin)
        self.settled(i, begin)

    @rule(i=meter_index)
    def settle_many(self, i):
        meter = self.meters[i]
        begins = sorted(meter.measurements)
        count = self.ob.settle_many(self.smb.address, [(METER_IDS[i], b) for b in begins])
        assert count == len(set(begins) - meter.settled)
        for begin in begins:
            if begin not in meter.settled:
                self.settled(i, begin)

    def settled(self, i, begin):
        """The model's side of settling measurement ``begin`` of meter ``i``."""
        meter = self.meters[i]
        meter.settled.add(begin)
        self.touched.add((i, begin))
        end, produced, consumed = meter.measurements[begin]
        owner = meter.owners[begin]  # the owner during the measurement
        current = owner == meter.owner  # the meter's debt is its current owner's
        if not KINDS[i] & 1:
            produced = 0  # a consumption-only meter's export: measured, never rewarded
        retail, feed_in = self.tariff_over(begin, end)
        reward, bill = produced * feed_in, consumed * retail
        if reward >= bill:
            gain = reward - bill
            if current and gain:
                repaid = min(meter.debt, gain)
                meter.debt -= repaid
                gain -= repaid
            paid = min(gain, self.treasury)
            self.treasury -= paid
            self.arrears[owner] += gain - paid
            self.credit(owner, paid)
            return
        rest = self.charge(owner, bill - reward)
        if rest == 0 and current:
            collected = min(meter.debt, self.balance[owner])
            meter.debt -= collected
            self.balance[owner] -= collected
            self.treasury += collected
        elif current:
            meter.debt += rest
        else:
            self.debt[owner] += rest  # settled after the meter passed on: not the new owner's

    @rule(owner=owner_index, amount=tokens, pay_in=st.booleans())
    def ledger_move(self, owner, amount, pay_in):
        """The owner deposits (debt is paid first) or withdraws."""
        if pay_in:
            self.ob.deposit(amount, sender=OWNERS[owner])
            paid = min(self.debt[owner], amount)
            self.debt[owner] -= paid
            self.treasury += paid
            self.balance[owner] += amount - paid
        elif amount > self.balance[owner]:
            with boa.reverts("operator: amount exceeds ledger balance"):
                self.ob.withdraw(amount, sender=OWNERS[owner])
        else:
            self.ob.withdraw(amount, sender=OWNERS[owner])
            self.balance[owner] -= amount

    @rule(owner=owner_index)
    def claim_arrears(self, owner):
        if self.arrears[owner] == 0:
            with boa.reverts("operator: no arrears"):
                self.ob.claim_arrears(sender=OWNERS[owner])
            return
        if self.treasury == 0:
            with boa.reverts("operator: treasury is empty"):
                self.ob.claim_arrears(sender=OWNERS[owner])
            return
        self.ob.claim_arrears(sender=OWNERS[owner])
        paid = min(self.arrears[owner], self.treasury)
        self.arrears[owner] -= paid
        self.treasury -= paid
        self.credit(owner, paid)

    @rule(amount=tokens, pay_in=st.booleans())
    def treasury_move(self, amount, pay_in):
        """The operator funds the treasury or takes revenue out of it."""
        if pay_in:
            self.ob.fund_treasury(amount, sender=ADMIN)
            self.treasury += amount
        elif amount > self.treasury:
            with boa.reverts("operator: amount exceeds treasury"):
                self.ob.withdraw_revenue(amount, ADMIN, sender=ADMIN)
        else:
            self.ob.withdraw_revenue(amount, ADMIN, sender=ADMIN)
            self.treasury -= amount

    @rule(
        retail=st.integers(min_value=0, max_value=10**15),
        feed_in=st.integers(min_value=0, max_value=10**15),
        delay=st.integers(min_value=0, max_value=3 * NOTICE),
    )
    def announce_tariff(self, retail, feed_in, delay):
        effective = self.now() + delay
        effective += -effective % 3_600  # tariffs start on the hour
        if effective < self.now() + NOTICE:
            with boa.reverts("operator: tariff needs the notice period"):
                self.ob.announce_tariff(retail, feed_in, effective, sender=ADMIN)
        elif effective < self.tariffs[-1][0] + 86_400:
            with boa.reverts(
                "operator: tariff must start a day or more after the last announced one"
            ):
                self.ob.announce_tariff(retail, feed_in, effective, sender=ADMIN)
        else:
            self.ob.announce_tariff(retail, feed_in, effective, sender=ADMIN)
            self.tariffs.append((effective, retail, feed_in))

    @rule(seconds=st.integers(min_value=1, max_value=2 * NOTICE))
    def time_passes(self, seconds):
        boa.env.time_travel(seconds=seconds)

    # invariants

    @invariant()
    def each_measurement_is_settled_at_most_once(self):
        """Settling twice reverts in the rules; here the flags match for what just changed."""
        for i, begin in self.touched:
            settled = self.ob.is_settled(self.smb.address, METER_IDS[i], begin)
            assert settled == (begin in self.meters[i].settled)
            assert self.smb.measurement(METER_IDS[i], begin) == self.meters[i].measurements[begin]
        self.touched.clear()

    @invariant()
    def tokens_held_are_ledgers_plus_treasury(self):
        held = self.token.balanceOf(self.ob.address)
        ledgers = sum(self.ob.balance_of(owner) for owner in OWNERS)
        assert held == ledgers + self.ob.treasury()
        assert self.ob.treasury() == self.treasury

    @invariant()
    def ledgers_match_the_model(self):
        for i, owner in enumerate(OWNERS):
            assert self.ob.balance_of(owner) == self.balance[i]
            assert self.ob.debt_of(owner) == self.debt[i]
            assert self.ob.arrears_of(owner) == self.arrears[i]
        assert self.ob.total_arrears() == sum(self.arrears)
        for i, meter in enumerate(self.meters):
            assert self.ob.meter_debt(self.smb.address, METER_IDS[i]) == meter.debt
            assert self.smb.owner_of(METER_IDS[i]) == OWNERS[meter.owner]

    @invariant()
    def measured_wh_add_up_to_the_registers(self):
        """Per meter: the measurements (each checked against the chain when recorded, and
        never changed since) add up to last register minus baseline."""
        for i, meter in enumerate(self.meters):
            assert self.smb.baseline(METER_IDS[i]) == meter.baseline
            assert self.smb.last_reading(METER_IDS[i]) == meter.last
            produced = sum(p for _, p, _ in meter.measurements.values())
            consumed = sum(c for _, _, c in meter.measurements.values())
            assert produced == meter.last[2] - meter.baseline[2]
            assert consumed == meter.last[1] - meter.baseline[1]
            if meter.measurements:
                first = min(meter.measurements)
                assert self.smb.measurement(METER_IDS[i], first) == meter.measurements[first]


TestMetersAndOperator = MetersAndOperator.TestCase
TestMetersAndOperator.settings = campaign(30, 50)
test_long_campaign = timed_campaign(MetersAndOperator, 50)

"""Stateful properties of root-published meters: MeasurementRoots.vy, the
SmartMeterBackend and the OperatorBackend together.

A data hub publishes each interval's root; anyone publishes roots of
meter-signed leaves, over one to three intervals, whose values may differ
from the hub's; and billing periods' aggregate leaves, settled net of the
hours settled on their own. Leaves are revealed in any order, again, forged or through
the wrong publisher; meters change owners and are suspended; the operator
settles what was revealed. A plain Python model predicts every outcome.
Invariants: every interval of a meter counts once, whichever root it came
from; a revealed measurement is the leaf's, and belongs to the owner of its
interval; the Wh settled are the Wh revealed.
"""

from dataclasses import dataclass, field

import boa
from eth_utils import keccak
from hypothesis import event as statistic
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from meter_bridge.signing import Measurement, sign_measurement
from tests.fixtures.accounts import keyed_account
from tests.fixtures.roots import HUB_LEAF_TYPES, SIGNED_LEAF_TYPES, python_tree
from tests.hypothesis import campaign, deployer, timed_campaign

HOUR = 3_600  # seconds
TOLERANCE = 300  # seconds
NOTICE = 86_400  # seconds
RETAIL, FEED_IN = 3 * 10**14, 8 * 10**13  # token base units per Wh

ADMIN = boa.env.generate_address("roots-admin")
INSTALLER = boa.env.generate_address("roots-installer")
BODY = boa.env.generate_address("roots-body")
HUB = boa.env.generate_address("roots-hub")
ANYONE = boa.env.generate_address("roots-anyone")
OWNERS = [boa.env.generate_address(f"roots-owner-{i}") for i in range(3)]
KEYS = [keyed_account(f"roots-meter-{i}") for i in range(3)]
METER_IDS = [keccak(text=f"roots-meter-{i}") for i in range(3)]
KINDS = [3, 2, 3]  # both, consumption, both
CAPACITY_W = 5_000  # of the producing meters
CONNECTION_W = 7_000  # of every meter: flows of up to 20 kWh an hour exceed it

meter_index = st.integers(min_value=0, max_value=2)
owner_index = st.integers(min_value=0, max_value=2)
# produced and consumed Wh of a leaf: mostly within an hour's bounds (5,416 and
# 15,166 Wh), sometimes beyond
flows = st.lists(st.tuples(st.integers(0, 6_000), st.integers(0, 16_000)), min_size=3, max_size=3)


@dataclass
class MeterModel:
    epochs: list  # (first interval begin, owner index), in order
    suspended: bool = False
    covered: dict = field(default_factory=dict)  # interval begin -> begin of its measurement
    revealed: dict = field(default_factory=dict)  # begin -> (end, produced, consumed, owner)
    settled: set = field(default_factory=set)
    sealed: list = field(default_factory=list)  # (begin, end) settled from an aggregate

    def epoch_at(self, begin):
        return sum(1 for start, _ in self.epochs if start <= begin)

    def is_settled(self, begin):
        return begin in self.settled or any(s <= begin < e for s, e in self.sealed)

    def owner_at(self, begin):
        owners = [owner for start, owner in self.epochs if start <= begin]
        return owners[-1] if owners else None


@dataclass(frozen=True)
class Published:
    meter: int
    signed: bool
    publisher: str
    leaf: tuple
    proof: list


class RootsAndMeters(RuleBasedStateMachine):
    @initialize()
    def deploy(self):
        with boa.env.prank(ADMIN):
            token = deployer("Wallet").deploy(
                "OpenKWh Token", "OKWH", 18, 10**27, 0, 1, boa.env.evm.patch.timestamp + 1
            )
            self.smb = deployer("SmartMeterBackend").deploy(
                HOUR, TOLERANCE, deployer("MeasurementRoots").deploy_as_blueprint()
            )
            self.ob = deployer("OperatorBackend").deploy(
                token.address, NOTICE, RETAIL, FEED_IN, [self.smb.address]
            )
            self.roots = deployer("MeasurementRoots").at(self.smb.roots())
            self.smb.wire_operator(self.ob.address)
            self.smb.set_issuing_body("DK1", BODY, True)
        self.smb.certify_installer("DK1", INSTALLER, sender=BODY)
        self.roots.appoint_hub("DK1", HUB, sender=BODY)
        self.meters = []
        for i in range(3):
            self.smb.register_meter(
                METER_IDS[i],
                KEYS[i].address,
                OWNERS[i],
                "DK1",
                *(("T020002", "F01050100", CAPACITY_W) if KINDS[i] & 1 else ("", "", 0)),
                CONNECTION_W,
                KINDS[i],
                True,
                sender=INSTALLER,
            )
            self.smb.accept_meter(METER_IDS[i], 0, sender=OWNERS[i])
            self.meters.append(MeterModel(epochs=[(self.boundary(), i)]))
        # Signed roots reach up to five intervals back from the next hub
        # interval: all of them owned (test_roots.py tests the unowned).
        self.next_begin = self.boundary() + 5 * HOUR
        self.published: list[Published] = []
        self.aggregated_until = self.boundary()  # the next billing period's begin
        self.touched = set()  # (meter, begin) revealed or settled since the last check

    # helpers

    def now(self):
        return boa.env.evm.patch.timestamp

    def boundary(self):
        """The next interval boundary at or after now: where an acceptance's epoch begins."""
        return -(-self.now() // HOUR) * HOUR

    def advance_to(self, timestamp):
        if timestamp > self.now():
            boa.env.time_travel(seconds=timestamp - self.now())

    def signed_leaf(self, i, begin, end, produced, consumed):
        registers = (10**9 + consumed, 10**9 + produced)
        measurement = Measurement(
            METER_IDS[i], begin, end, produced, consumed, *registers, keccak(text=f"{i}{begin}")
        )
        v, r, s = sign_measurement(
            KEYS[i], measurement, boa.env.evm.patch.chain_id, str(self.roots.address)
        )
        return (
            *measurement.__dict__.values(),
            keccak(text=f"salt-signed-{i}-{begin}-{end}"),
            v,
            r.to_bytes(32, "big"),
            s.to_bytes(32, "big"),
        )

    # publication

    @rule(values=flows)
    def hub_publishes(self, values):
        """The hub publishes the next interval's root, every meter's leaf in it."""
        begin = self.next_begin
        self.next_begin += HOUR
        self.advance_to(begin + HOUR)
        leaves = [
            (METER_IDS[i], begin, begin + HOUR, produced, consumed, keccak(text=f"d{begin}"),
             keccak(text=f"salt-hub-{i}-{begin}"))
            for i, (produced, consumed) in enumerate(values)
        ]  # fmt: skip
        tree = python_tree(HUB_LEAF_TYPES, leaves)
        self.roots.publish_hub_root("DK1", begin, tree.root, sender=HUB)
        for i, leaf in enumerate(leaves):
            self.published.append(Published(i, False, HUB, leaf, tree.proofs[i]))

    @rule(values=flows, span=st.integers(min_value=1, max_value=3), back=st.integers(0, 2))
    def anyone_publishes_signed(self, values, span, back):
        """Anyone publishes a root of the meters' signed leaves over ``span``
        intervals that ended up to ``back`` intervals before the next one."""
        end = self.next_begin - back * HOUR
        begin = end - span * HOUR
        self.advance_to(end)
        leaves = [self.signed_leaf(i, begin, end, p, c) for i, (p, c) in enumerate(values)]
        tree = python_tree(SIGNED_LEAF_TYPES, leaves)
        if self.roots.publication(ANYONE, tree.root).interval_end:
            return  # the same leaves again: already published
        self.roots.publish_root("DK1", begin, end, tree.root, sender=ANYONE)
        for i, leaf in enumerate(leaves):
            self.published.append(Published(i, True, ANYONE, leaf, tree.proofs[i]))

    # reveal

    @rule(pick=st.integers(min_value=0, max_value=10_000))
    def reveal(self, pick):
        if self.published:
            self.reveal_item(self.published[pick % len(self.published)])

    @rule(back=st.integers(min_value=1, max_value=8))
    def reveal_recent(self, back):
        """One of the leaves published last: spans and single intervals of the same hours."""
        if self.published:
            self.reveal_item(self.published[-min(back, len(self.published))])

    def reveal_item(self, item):
        meter = self.meters[item.meter]
        begin, end, produced, consumed = item.leaf[1:5]
        seconds = end - begin + TOLERANCE
        intervals = range(begin, end, HOUR)
        owner = meter.owner_at(begin)
        if meter.suspended:
            reason = "meter: meter is suspended"
        elif owner is None:
            reason = "meter: no owner had accepted the meter by this interval"
        elif KINDS[item.meter] & 1 and produced * 3_600 > CAPACITY_W * seconds:
            reason = "meter: production beyond the meter's capacity"
        elif consumed * 3_600 > 2 * CONNECTION_W * seconds:
            reason = "meter: import beyond the meter's connection rating"
        elif any(start in meter.covered for start in intervals):
            reason = "meter: an interval of this measurement is already revealed"
        else:
            reason = None
        call = self.roots.reveal_signed if item.signed else self.roots.reveal
        if reason:
            with boa.reverts(reason):
                call(item.publisher, item.leaf, item.proof)
            return
        call(item.publisher, item.leaf, item.proof)
        for start in intervals:
            meter.covered[start] = begin
        meter.revealed[begin] = (end, produced, consumed, owner)
        self.touched.add((item.meter, begin))

    @rule(
        pick=st.integers(min_value=0, max_value=10_000),
        forgery=st.sampled_from(["values", "publisher", "proof"]),
    )
    def forged_reveal(self, pick, forgery):
        if not self.published:
            return
        item = self.published[pick % len(self.published)]
        leaf, publisher, proof = item.leaf, item.publisher, item.proof
        if forgery == "values":
            leaf = (*leaf[:4], leaf[4] + 1, *leaf[5:])
        elif forgery == "publisher":
            publisher = OWNERS[item.meter]
        else:
            proof = [keccak(b"forged"), *proof]
        call = self.roots.reveal_signed if item.signed else self.roots.reveal
        with boa.reverts("roots: the proof does not lead to a root this publisher published"):
            call(publisher, leaf, proof)

    # meters

    @rule(i=meter_index, new=owner_index)
    def hand_over(self, i, new):
        meter = self.meters[i]
        current = meter.epochs[-1][1]
        if new == current:
            return
        self.smb.offer_meter(METER_IDS[i], OWNERS[new], sender=OWNERS[current])
        self.smb.accept_meter(METER_IDS[i], 2**256 - 1, sender=OWNERS[new])
        meter.epochs.append((self.boundary(), new))

    @rule(i=meter_index)
    def suspend_or_resume(self, i):
        meter = self.meters[i]
        if meter.suspended:
            self.smb.resume_meter(METER_IDS[i], "repaired", sender=ADMIN)
        else:
            self.smb.suspend_meter(METER_IDS[i], "tamper alarm", sender=ADMIN)
        meter.suspended = not meter.suspended

    # operator

    @rule(i=meter_index, pick=st.integers(min_value=0, max_value=1_000))
    def settle(self, i, pick):
        meter = self.meters[i]
        if not meter.revealed:
            return
        begins = sorted(meter.revealed)
        begin = begins[pick % len(begins)]
        if meter.is_settled(begin):
            with boa.reverts("operator: interval already settled"):
                self.ob.settle(self.smb.address, METER_IDS[i], begin)
            return
        self.ob.settle(self.smb.address, METER_IDS[i], begin)
        (event,) = [e for e in self.ob.get_logs() if type(e).__name__ == "IntervalSettled"]
        _, produced, consumed, owner = meter.revealed[begin]
        produced = produced if KINDS[i] & 1 else 0
        assert (event.account, event.feed_in_wh, event.retail_wh) == (
            OWNERS[owner],
            produced,
            consumed,
        )
        meter.settled.add(begin)

    @rule(hours=st.integers(min_value=1, max_value=12), values=flows)
    def bill_a_period_from_aggregates(self, hours, values):
        """The hub publishes the next billing period's aggregate leaves (every
        meter's, any Wh) and each meter's period is settled from its own: net
        of its hours settled on their own, once, or refused with its reason."""
        begin = self.aggregated_until
        end = begin + hours * HOUR
        self.aggregated_until = end
        self.advance_to(end)
        leaves = [
            (METER_IDS[i], begin, end, produced, consumed, keccak(text=f"agg{begin}"),
             keccak(text=f"salt-agg-{i}-{begin}"))
            for i, (produced, consumed) in enumerate(values)
        ]  # fmt: skip
        tree = python_tree(HUB_LEAF_TYPES, leaves)
        self.roots.publish_aggregate_root("DK1", begin, end, tree.root, sender=HUB)
        for i, meter in enumerate(self.meters):
            epoch = meter.epoch_at(begin)
            settled = [b for b in meter.settled if begin <= b < end]
            settled_p = sum(meter.revealed[b][1] for b in settled) if KINDS[i] & 1 else 0
            settled_c = sum(meter.revealed[b][2] for b in settled)
            produced = values[i][0] if KINDS[i] & 1 else 0
            crossing = any(
                b < edge < e for b, (e, *_) in meter.revealed.items() for edge in (begin, end)
            )
            if epoch == 0 or epoch != meter.epoch_at(end - 1):
                reason = (
                    "roots: the meter has no one owner over the period, or does not publish by root"
                )
            elif crossing:
                reason = "operator: a revealed measurement crosses the period's begin or end"
            elif produced < settled_p or values[i][1] < settled_c:
                reason = "operator: the aggregate is below the hours already settled"
            else:
                reason = None
            statistic(f"aggregate: {reason or 'settled'}")
            if reason:
                with boa.reverts(reason):
                    self.roots.settle_aggregate(HUB, leaves[i], tree.proofs[i])
                continue
            self.roots.settle_aggregate(HUB, leaves[i], tree.proofs[i])
            logs = self.ob.get_logs(self.roots._computation, strict=False)
            (event,) = [e for e in logs if type(e).__name__ == "IntervalSettled"]
            owner = meter.epochs[epoch - 1][1]
            assert (event.account, event.feed_in_wh, event.retail_wh) == (
                OWNERS[owner],
                produced - settled_p,
                values[i][1] - settled_c,
            )
            meter.sealed.append((begin, end))

    @rule(seconds=st.integers(min_value=1, max_value=3 * HOUR))
    def time_passes(self, seconds):
        boa.env.time_travel(seconds=seconds)

    # invariants

    @invariant()
    def a_revealed_measurement_is_its_leafs_and_its_intervals_owners(self):
        for i, begin in self.touched:
            end, produced, consumed, owner = self.meters[i].revealed[begin]
            settlement = self.smb.settlement_data(METER_IDS[i], begin)
            produced = produced if KINDS[i] & 1 else 0
            assert settlement == (OWNERS[owner], end, produced, consumed)
        self.touched.clear()

    @invariant()
    def every_interval_counts_once(self):
        """The Wh on chain, summed over every interval a meter has revealed, are
        the Wh of the leaves accepted, each interval taken from one leaf only."""
        for i, meter in enumerate(self.meters):
            on_chain = [self.smb.measurement(METER_IDS[i], b) for b in meter.covered]
            assert sum(m[1] for m in on_chain) == sum(r[1] for r in meter.revealed.values())
            assert sum(m[2] for m in on_chain) == sum(r[2] for r in meter.revealed.values())
            assert all(self.smb.is_revealed(METER_IDS[i], b) for b in meter.covered)
            for start, begin in meter.covered.items():
                assert start == begin or self.smb.measurement(METER_IDS[i], start) == (0, 0, 0)


TestRootsAndMeters = RootsAndMeters.TestCase
TestRootsAndMeters.settings = campaign(30, 40)
test_long_campaign = timed_campaign(RootsAndMeters, 40)

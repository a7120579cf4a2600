"""Stateful properties of EmissionsRegistry.vy against a plain Python model.

A household meter reports random hours; a solar meter's certificates are
retired against some of them; the publisher publishes and corrects the
year's factors; the owner, or a stranger, asks for statements over random
periods, merges consecutive ones and restates them; an auditor attests, or
is refused a statement made on a factor corrected since. Invariants: every
hour is in at most one live statement; a statement's amounts are the model's
dual report of its hours at the factors current when it was made (or
restated), and it records the publications the model says it used; a merge
keeps the exact sums and rounds once; live statements are the owner's balance.
"""

import itertools

import boa
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from meter_bridge.signing import Reading, sign_reading
from tests.fixtures.accounts import keyed_account
from tests.fixtures.meters import CONNECTION_W, ZERO_ADDRESS
from tests.fixtures.registry import certificate_id
from tests.hypothesis import campaign, deployer, timed_campaign

HOUR = 3_600  # seconds
ADMIN = boa.env.generate_address("emissions-admin")
INSTALLER = boa.env.generate_address("emissions-installer")
BODY = boa.env.generate_address("emissions-body")
PUBLISHER = boa.env.generate_address("emissions-publisher")
AUDITOR = boa.env.generate_address("emissions-auditor")
OWNER = boa.env.generate_address("emissions-owner")
STRANGER = boa.env.generate_address("emissions-stranger")
KEYS = [keyed_account(f"emissions-meter-{i}") for i in range(2)]
METERS = [keccak(text=f"emissions-meter-{i}") for i in range(2)]  # household, solar
CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
LOCATION, RESIDUAL = 2, 3

pick = st.integers(min_value=0, max_value=10_000)
factor = st.integers(min_value=0, max_value=1_000_000)


def grams(ug: int) -> int:
    return (ug + 500_000) // 1_000_000


class Emissions(RuleBasedStateMachine):
    @initialize(location=factor, residual=factor)
    def deploy(self, location, residual):
        with boa.env.prank(ADMIN):
            self.smb = deployer("SmartMeterBackend").deploy(HOUR, 300, ZERO_ADDRESS)
            self.smb.set_issuing_body("DK1", BODY, True)
            self.registry = deployer("GGORegistry").deploy(self.smb.address, 30 * 86_400)
            self.emissions = deployer("EmissionsRegistry").deploy(
                self.registry.address, self.smb.address
            )
        self.smb.certify_installer("DK1", INSTALLER, sender=BODY)
        self.emissions.set_publisher("DK1", PUBLISHER, True, sender=BODY)
        self.emissions.set_auditor("DK1", AUDITOR, True, sender=BODY)
        now = boa.env.evm.patch.timestamp
        self.start = now - now % HOUR
        for i, (kind, fuel) in enumerate(((2, ""), (3, "F01050100"))):
            self.smb.register_meter(
                METERS[i],
                KEYS[i].address,
                OWNER,
                "DK1",
                "T020002" if fuel else "",
                fuel,
                4_000 if fuel else 0,
                CONNECTION_W,
                kind,
                sender=INSTALLER,
            )
            self.smb.accept_meter(METERS[i], 0, sender=OWNER)
            self.submit(i, self.start, 0, 0)
        self.registers = [(self.start, 0, 0), (self.start, 0, 0)]
        self.hours = {}  # begin -> (consumed, retired)
        self.factors = {}  # kind -> (publication id, factor)
        self.years = set()
        self.live = {}  # statement id -> (begin, end, location ug, market ug, consumed)
        self.used = {}  # live statement id -> publication ids it (or its parts) used
        self.merged = set()  # live merged statements
        self.superseded = set()  # publication ids corrected since
        # live statement id -> (begin, end, used any publication) of it, or of
        # each of its parts; and the live statements with a void since
        self.spans = {}
        self.voided_since = set()
        self.covered = set()
        self.publish(LOCATION, location)
        self.publish(RESIDUAL, residual)

    def year_of(self, t):
        import datetime

        return datetime.datetime.fromtimestamp(t, datetime.UTC).year

    def publish(self, kind, value, year=None):
        year = year or self.year_of(self.start)
        current = self.emissions.current_publication("DK1", kind, year)
        if current:
            self.superseded.add(current)
        pub = self.emissions.publish_year(
            "DK1", kind, year, value, "src", CID, current, sender=PUBLISHER
        )
        self.factors[kind, year] = (pub, value)

    def submit(self, i, end, imported, exported):
        begin = self.smb.next_reading_begin(METERS[i])
        reading = Reading(METERS[i], end, imported, exported, keccak(text=f"{i}{end}"), begin)
        signed = sign_reading(KEYS[i], reading, boa.env.evm.patch.chain_id, str(self.smb.address))
        self.smb.submit_reading(*signed.contract_args())

    @rule(
        consumed=st.integers(min_value=0, max_value=3_000),
        retire=st.integers(min_value=0, max_value=3_000),
    )
    def an_hour(self, consumed, retire):
        begin = self.registers[0][0]
        end = begin + HOUR
        if end > boa.env.evm.patch.timestamp:
            boa.env.time_travel(seconds=end - boa.env.evm.patch.timestamp)
        _, imported, _ = self.registers[0]
        self.submit(0, end, imported + consumed, 0)
        _, _, exported = self.registers[1]
        self.submit(1, end, 0, exported + retire)
        self.registers = [(end, imported + consumed, 0), (end, 0, exported + retire)]
        retired = min(retire, consumed)
        if retired:
            self.registry.issue(METERS[1], begin)
            self.registry.retire(
                certificate_id(METERS[1], begin), retired, METERS[0], b"", sender=OWNER
            )
        self.hours[begin] = (consumed, retired)
        if self.year_of(begin) not in {y for (_, y) in self.factors}:
            for kind in (LOCATION, RESIDUAL):
                self.publish(kind, 100_000, self.year_of(begin))

    @rule(n=pick)
    def void(self, n):
        """The issuing body revokes a certificate retired against an hour and
        voids the retirement: a statement computed before, with a factor used
        (a consumption), over a day of it (its own or a part's) is stale."""
        retired = sorted(t for t, (_, r) in self.hours.items() if r)
        if not retired:
            return
        t = retired[n % len(retired)]
        consumed, r = self.hours[t]
        cert = certificate_id(METERS[1], t)
        self.registry.revoke(cert, "seal broken", sender=BODY)
        self.registry.void_retirement(cert, METERS[0], r, sender=BODY)
        self.hours[t] = (consumed, 0)
        day = t - t % 86_400
        for id_, spans in self.spans.items():
            if any(used and b - b % 86_400 <= day < e for b, e, used in spans):
                self.voided_since.add(id_)

    @rule(kind=st.sampled_from((LOCATION, RESIDUAL)), value=factor)
    def correct(self, kind, value):
        self.publish(kind, value)

    @rule(a=pick, b=pick, stranger=st.booleans())
    def statement(self, a, b, stranger):
        begins = sorted(self.hours)
        if not begins:
            return
        first, last = sorted((a % len(begins), b % len(begins)))
        period = begins[first : last + 1]
        begin, end = period[0], period[-1] + HOUR
        call = lambda who: self.emissions.make_statement(METERS[0], begin, end, sender=who)  # noqa: E731
        if any(t in self.covered for t in period):
            with boa.reverts("emissions: an interval of the period already has a statement"):
                call(OWNER)
            return
        if stranger:
            with boa.reverts("emissions: a measurement of the period is not the caller's"):
                call(STRANGER)
            return
        id_ = call(OWNER)
        self.covered.update(period)
        self.computed(id_, begin, end)

    def computed(self, id_, begin, end):
        """Checks statement ``id_``, just computed over [begin, end), against the model."""
        location = market = consumed = 0
        used = set()
        for t in range(begin, end, HOUR):
            c, r = self.hours[t]
            consumed += c
            location += c * self.factors[LOCATION, self.year_of(t)][1]
            market += (c - r) * self.factors[RESIDUAL, self.year_of(t)][1]
            if c:
                used.add(self.factors[LOCATION, self.year_of(t)][0])
            if c > r:
                used.add(self.factors[RESIDUAL, self.year_of(t)][0])
        self.live[id_] = (begin, end, location, market, consumed)
        self.used[id_] = used
        self.spans[id_] = [(begin, end, bool(used))]
        s = self.emissions.statement(id_)
        assert (s.location_ug, s.market_ug, s.consumed_wh) == (location, market, consumed)
        assert (s.location_g, s.market_g) == (grams(location), grams(market))

    @rule(n=pick, stranger=st.booleans())
    def restate(self, n, stranger):
        if not self.live:
            return
        id_ = sorted(self.live)[n % len(self.live)]
        if stranger:
            with boa.reverts("emissions: caller does not hold the statement"):
                self.emissions.restate(id_, sender=STRANGER)
            return
        if id_ in self.merged:
            with boa.reverts("emissions: not a statement computed from meters"):
                self.emissions.restate(id_, sender=OWNER)
            return
        new = self.emissions.restate(id_, sender=OWNER)
        begin, end, *_ = self.live.pop(id_)
        del self.used[id_]
        del self.spans[id_]
        self.voided_since.discard(id_)
        assert self.emissions.statement(id_).superseded_by == new
        self.computed(new, begin, end)

    @rule(n=pick, count=st.integers(min_value=2, max_value=4))
    def merge(self, n, count):
        live = sorted(self.live.items(), key=lambda item: item[1][0])
        runs = [
            live[i : i + count]
            for i in range(len(live) - count + 1)
            if all(live[i + k][1][1] == live[i + k + 1][1][0] for k in range(count - 1))
        ]
        if not runs:
            return
        run = runs[n % len(runs)]
        ids = [i for i, _ in run]
        if any(i in self.merged for i in ids):
            with boa.reverts("emissions: not a statement computed from meters"):
                self.emissions.merge(ids, sender=OWNER)
            return
        merged = self.emissions.merge(ids, sender=OWNER)
        sums = [sum(part[k] for _, part in run) for k in (2, 3, 4)]
        used, spans = set(), []
        for i in ids:
            del self.live[i]
            used |= self.used.pop(i)
            spans += self.spans.pop(i)
            if i in self.voided_since:
                self.voided_since.discard(i)
                self.voided_since.add(merged)
        self.live[merged] = (run[0][1][0], run[-1][1][1], *sums)
        self.used[merged] = used
        self.spans[merged] = spans
        self.merged.add(merged)
        s = self.emissions.statement(merged)
        assert (s.location_g, s.market_g, s.consumed_wh) == (
            grams(sums[0]),
            grams(sums[1]),
            sums[2],
        )

    @rule(n=pick)
    def attest(self, n):
        if not self.live:
            return
        id_ = sorted(self.live)[n % len(self.live)]
        if self.emissions.statement(id_).attestations:
            with boa.reverts("emissions: caller already attested this statement"):
                self.emissions.attest(id_, "ok", CID, sender=AUDITOR)
            return
        if self.used[id_] & self.superseded or id_ in self.voided_since:
            with boa.reverts("emissions: its factors or retirements changed since; restate it"):
                self.emissions.attest(id_, "ok", CID, sender=AUDITOR)
            return
        self.emissions.attest(id_, "ok", CID, sender=AUDITOR)

    @invariant()
    def live_statements_are_the_owners(self):
        if not hasattr(self, "emissions"):
            return
        assert self.emissions.balanceOf(OWNER) == len(self.live)

    @invariant()
    def statements_record_the_publications_they_used(self):
        if not hasattr(self, "emissions"):
            return
        for id_, used in self.used.items():
            if id_ in self.merged:
                parts = self.emissions.parts(id_)
                recorded = {p for part in parts for p in self.emissions.publications_used(part)}
            else:
                recorded = set(self.emissions.publications_used(id_))
            assert recorded == used, id_

    @invariant()
    def hours_are_covered_once(self):
        if not hasattr(self, "emissions"):
            return
        spans = sorted((b, e) for b, e, *_ in self.live.values())
        for (_, e1), (b2, _) in itertools.pairwise(spans):
            assert e1 <= b2
        for t in list(self.hours)[-3:]:
            assert self.emissions.is_covered(METERS[0], t) == (t in self.covered)


TestEmissions = Emissions.TestCase
TestEmissions.settings = campaign(20, 30)
test_long_campaign = timed_campaign(Emissions, 30)

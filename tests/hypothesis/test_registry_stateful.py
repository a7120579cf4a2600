"""Stateful properties of GGORegistry.vy against a plain Python model.

Meters report random hours; anyone issues; holders split, transfer and retire;
the issuing body revokes, and voids revoked certificates' retirements; time
runs past expiry. Invariants: per certificate, issued == sum of balances +
retired, and voided <= issued; per consumption interval, retired <= consumed
(less what was voided); a measurement's certificate is issued once and never
exceeds its production; nothing moves after expiry or revocation.
"""

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
VALIDITY = 5 * 86_400  # seconds: short, so that runs reach expiry


ADMIN = boa.env.generate_address("registry-admin")
INSTALLER = boa.env.generate_address("registry-installer")
BODY = boa.env.generate_address("registry-body")
HOLDERS = [boa.env.generate_address(f"registry-holder-{i}") for i in range(3)]
KEYS = [keyed_account(f"registry-meter-{i}") for i in range(3)]
METERS = [keccak(text=f"registry-meter-{i}") for i in range(3)]
PRODUCERS = (0, 1)  # meters 0 and 1 produce (and consume); meter 2 only consumes

holder = st.integers(min_value=0, max_value=2)
pick = st.integers(min_value=0, max_value=10_000)
wh = st.integers(min_value=0, max_value=4_000)  # the producers' capacity: 4 kW over an hour


class Registry(RuleBasedStateMachine):
    @initialize()
    def deploy(self):
        with boa.env.prank(ADMIN):
            self.smb = deployer("SmartMeterBackend").deploy(HOUR, 300, ZERO_ADDRESS)
            self.smb.set_issuing_body("DK1", BODY, True)
            self.registry = deployer("GGORegistry").deploy(self.smb.address, VALIDITY)
        self.smb.certify_installer("DK1", INSTALLER, sender=BODY)
        start = boa.env.evm.patch.timestamp - boa.env.evm.patch.timestamp % HOUR
        self.last = []
        for i in range(3):
            producing = i in PRODUCERS
            self.smb.register_meter(
                METERS[i],
                KEYS[i].address,
                HOLDERS[i],
                "DK1",
                "T020002" if producing else "",
                "F01050100" if producing else "",
                4_000 if producing else 0,
                CONNECTION_W,
                3 if producing else 2,
                sender=INSTALLER,
            )
            self.smb.accept_meter(METERS[i], 0, sender=HOLDERS[i])
            self.submit(i, start, 0, 0)
            self.last.append((start, 0, 0))
        self.measurements = {}  # (meter, begin) -> (produced, consumed)
        self.certs = {}  # id -> {"meter", "begin", "issued", "revoked"}
        self.balances = {}  # (holder, id) -> Wh
        self.claimed = {}  # (holder, id) -> Wh
        self.retired = {}  # (consumption meter, begin) -> Wh, less the voided
        self.voided = {}  # id -> Wh voided
        self.voids = 0  # successful void_retirement calls
        self.touched = set()  # certificates changed since the last check
        self.steps = 0

    def submit(self, i, end, imported, exported):
        begin = self.smb.next_reading_begin(METERS[i])
        reading = Reading(METERS[i], end, imported, exported, keccak(text=f"{i}{end}"), begin)
        signed = sign_reading(KEYS[i], reading, boa.env.evm.patch.chain_id, str(self.smb.address))
        self.smb.submit_reading(*signed.contract_args())

    def active(self, id_):
        cert = self.certs[id_]
        expiry = cert["begin"] + HOUR + VALIDITY
        return not cert["revoked"] and boa.env.evm.patch.timestamp < expiry

    def pick_cert(self, n):
        ids = sorted(self.certs)
        if not ids:
            return None
        self.touched.add(ids[n % len(ids)])
        return ids[n % len(ids)]

    @rule(flows=st.lists(st.tuples(wh, wh), min_size=3, max_size=3))
    def meters_report_an_hour(self, flows):
        end = self.last[0][0] + HOUR
        if end > boa.env.evm.patch.timestamp:
            boa.env.time_travel(seconds=end - boa.env.evm.patch.timestamp)
        for i, (produced, consumed) in enumerate(flows):
            produced = produced if i in PRODUCERS else 0
            begin, imported, exported = self.last[i]
            self.submit(i, end, imported + consumed, exported + produced)
            self.last[i] = (end, imported + consumed, exported + produced)
            self.measurements[i, begin] = (produced, consumed)

    @rule(meter=st.sampled_from(PRODUCERS), n=pick)
    def issue(self, meter, n):
        begins = sorted(b for (m, b) in self.measurements if m == meter)
        if not begins:
            return
        begin = begins[n % len(begins)]
        id_ = certificate_id(METERS[meter], begin)
        produced = self.measurements[meter, begin][0]
        expected = 0 if id_ in self.certs or produced == 0 else produced
        assert self.registry.issue(METERS[meter], begin) == expected
        if expected:
            assert self.registry.certificate(id_).issued_wh == produced
            self.certs[id_] = {"meter": meter, "begin": begin, "issued": produced, "revoked": False}
            self.balances[meter, id_] = self.balances.get((meter, id_), 0) + produced
            self.touched.add(id_)

    @rule(sender=holder, receiver=holder, n=pick, amount=wh)
    def transfer(self, sender, receiver, n, amount):
        id_ = self.pick_cert(n)
        if id_ is None:
            return
        held = self.balances.get((sender, id_), 0)
        call = lambda: self.registry.safeTransferFrom(  # noqa: E731
            HOLDERS[sender], HOLDERS[receiver], id_, amount, b"", sender=HOLDERS[sender]
        )
        if self.certs[id_]["revoked"]:
            with boa.reverts("registry: certificate revoked"):
                call()
        elif not self.active(id_):
            with boa.reverts("registry: certificate expired"):
                call()
        elif amount > held:
            with boa.reverts("registry: insufficient balance for transfer"):
                call()
        else:
            call()
            self.balances[sender, id_] = held - amount
            self.balances[receiver, id_] = self.balances.get((receiver, id_), 0) + amount

    @rule(who=holder, n=pick, amount=wh, against=st.integers(min_value=0, max_value=2))
    def retire(self, who, n, amount, against):
        id_ = self.pick_cert(n)
        if id_ is None:
            return
        begin = self.certs[id_]["begin"]
        consumed = self.measurements[against, begin][1]
        done = self.retired.get((against, begin), 0)
        held = self.balances.get((who, id_), 0)
        call = lambda: self.registry.retire(  # noqa: E731
            id_, amount, METERS[against], b"claim", sender=HOLDERS[who]
        )
        if self.certs[id_]["revoked"]:
            reason = "registry: certificate revoked"
        elif not self.active(id_):
            reason = "registry: certificate expired"
        elif amount == 0:
            reason = "registry: nothing to retire"
        elif who != against:
            reason = "registry: caller may not claim for this consumption meter"
        elif done + amount > consumed:
            reason = "registry: retiring more than was consumed"
        elif amount > held:
            reason = "registry: retiring more than held"
        else:
            call()
            self.retired[against, begin] = done + amount
            self.balances[who, id_] = held - amount
            self.claimed[who, id_] = self.claimed.get((who, id_), 0) + amount
            return
        with boa.reverts(reason):
            call()

    @rule(n=pick)
    def revoke(self, n):
        id_ = self.pick_cert(n)
        if id_ is None:
            return
        if self.certs[id_]["revoked"]:
            with boa.reverts("registry: certificate already revoked"):
                self.registry.revoke(id_, "tamper", sender=BODY)
            return
        self.registry.revoke(id_, "tamper", sender=BODY)
        self.certs[id_]["revoked"] = True

    @rule(n=pick, amount=wh, against=st.integers(min_value=0, max_value=2))
    def void_retirement(self, n, amount, against):
        id_ = self.pick_cert(n)
        if id_ is None:
            return
        begin = self.certs[id_]["begin"]
        done = self.retired.get((against, begin), 0)
        voided = self.voided.get(id_, 0)
        call = lambda: self.registry.void_retirement(  # noqa: E731
            id_, METERS[against], amount, sender=BODY
        )
        if not self.certs[id_]["revoked"]:
            reason = "registry: certificate not revoked"
        elif voided + amount > self.certs[id_]["issued"]:
            reason = "registry: voiding more than the certificate's Wh"
        elif amount > done:
            reason = "registry: voiding more than was retired against the interval"
        else:
            call()
            self.retired[against, begin] = done - amount
            self.voided[id_] = voided + amount
            # Numbered, and noted on the meter's day, for emissions statements.
            self.voids += 1
            assert self.registry.void_count() == self.voids
            assert self.registry.voided_in(METERS[against], begin - begin % 86_400) == self.voids
            return
        with boa.reverts(reason):
            call()

    @rule(days=st.integers(min_value=1, max_value=3))
    def days_pass(self, days):
        boa.env.time_travel(seconds=days * 86_400)

    @invariant()
    def issued_is_balances_plus_retired(self):
        """Checked for every certificate a rule touched, and one more in turn."""
        self.steps += 1
        ids = sorted(self.certs)
        if ids:
            self.touched.add(ids[self.steps % len(ids)])
        for id_ in self.touched:
            cert = self.certs[id_]
            balances = [self.registry.balanceOf(h, id_) for h in HOLDERS]
            claimed = [self.registry.claimedBalanceOf(h, id_) for h in HOLDERS]
            assert balances == [self.balances.get((i, id_), 0) for i in range(3)]
            assert claimed == [self.claimed.get((i, id_), 0) for i in range(3)]
            assert cert["issued"] == sum(balances) + sum(claimed)
            assert self.registry.is_active(id_) == self.active(id_)
        self.touched.clear()

    @invariant()
    def retired_never_exceeds_consumed(self):
        for (meter, begin), done in self.retired.items():
            assert self.registry.retired_against(METERS[meter], begin) == done
            assert done <= self.measurements[meter, begin][1]

    @invariant()
    def voided_never_exceeds_issued(self):
        for id_, voided in self.voided.items():
            assert self.registry.voided(id_) == voided
            assert voided <= self.certs[id_]["issued"]

    @invariant()
    def issued_at_most_produced_and_once(self):
        for cert in self.certs.values():
            assert cert["issued"] <= self.measurements[cert["meter"], cert["begin"]][0]


TestRegistry = Registry.TestCase
TestRegistry.settings = campaign(30, 40)
test_long_campaign = timed_campaign(Registry, 40)

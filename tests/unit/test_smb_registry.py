"""SmartMeterBackend.vy: roles, issuing bodies, installers, meter registration and custody."""

import boa
import pytest

from tests.fixtures.meters import (
    CAPACITY_W,
    CONNECTION_W,
    CONSUMPTION,
    INTERVAL,
    PRODUCTION,
    SECTOR,
    SOLAR_FUEL,
    SOLAR_TECH,
    ZERO_ADDRESS,
    meter_id_for,
)
from tests.helpers import only_event

ZERO = "0x0000000000000000000000000000000000000000"
NEW_METER = meter_id_for("new-meter")


@pytest.fixture
def signer():
    return boa.env.generate_address("meter-signer")


def register(
    smb,
    installer,
    signer,
    owner,
    meter=NEW_METER,
    sector=SECTOR,
    kind=PRODUCTION | CONSUMPTION,
    capacity=CAPACITY_W,
    accept=True,
):
    smb.register_meter(
        meter,
        signer,
        owner,
        sector,
        SOLAR_TECH,
        SOLAR_FUEL,
        capacity,
        CONNECTION_W,
        kind,
        sender=installer,
    )
    if accept:
        smb.accept_meter(meter, 0, sender=owner)


def test_init_sets_grid_admin_and_operator(smb, deployer):
    assert smb.interval_length() == INTERVAL
    assert smb.future_tolerance() == 300
    assert smb.hasRole(smb.DEFAULT_ADMIN_ROLE(), deployer)
    assert smb.hasRole(smb.OPERATOR_ROLE(), deployer)
    assert smb.eip712Domain()[1:3] == ("OpenKWh SmartMeterBackend", "1")


@pytest.mark.parametrize(
    ("interval", "tolerance", "reason"),
    [
        (1_800, 60, "meter: interval must be 3600 or 900 seconds"),
        (900, 900, "meter: future tolerance must be under one interval"),
    ],
)
def test_init_reverts_on_bad_grid(smb_deployer, interval, tolerance, reason):
    with boa.reverts(reason):
        smb_deployer.deploy(interval, tolerance, ZERO_ADDRESS)


def test_init_accepts_quarter_hours(smb_deployer):
    assert smb_deployer.deploy(900, 60, ZERO_ADDRESS).interval_length() == 900


def test_set_issuing_body_appoints_and_logs(smb, deployer, bob):
    smb.set_issuing_body("SE3", bob, True, sender=deployer)
    event = only_event(smb, "IssuingBodySet")
    assert (event.sector, event.account, event.appointed, event.admin) == (
        "SE3",
        bob,
        True,
        deployer,
    )
    assert smb.is_issuing_body("SE3", bob)
    assert not smb.is_issuing_body(SECTOR, bob)


def test_set_issuing_body_removes(smb, deployer, issuing_body):
    smb.set_issuing_body(SECTOR, issuing_body, False, sender=deployer)
    assert not smb.is_issuing_body(SECTOR, issuing_body)


@pytest.mark.parametrize(
    ("sector", "account", "reason"),
    [
        ("", "bob", "meter: sector is empty"),
        ("SE3", None, "meter: issuing body is the zero address"),
    ],
)
def test_set_issuing_body_reverts_on_bad_input(smb, deployer, actors, sector, account, reason):
    with boa.reverts(reason):
        smb.set_issuing_body(sector, actors[account] if account else ZERO, True, sender=deployer)


def test_certify_installer_logs(smb, issuing_body, bob):
    smb.certify_installer(SECTOR, bob, sender=issuing_body)
    event = only_event(smb, "InstallerCertified")
    assert (event.sector, event.installer, event.issuing_body) == (SECTOR, bob, issuing_body)
    assert smb.is_certified_installer(SECTOR, bob)


def test_certify_installer_only_in_own_sector(smb, deployer, issuing_body, bob):
    smb.set_issuing_body("SE3", bob, True, sender=deployer)
    with boa.reverts("meter: caller is not the issuing body of this sector"):
        smb.certify_installer(SECTOR, bob, sender=bob)


def test_certify_installer_reverts_for_zero_address(smb, issuing_body):
    with boa.reverts("meter: installer is the zero address"):
        smb.certify_installer(SECTOR, ZERO, sender=issuing_body)


def test_withdraw_certification_stops_registrations(smb, issuing_body, installer, signer, alice):
    smb.withdraw_certification(SECTOR, installer, sender=issuing_body)
    event = only_event(smb, "InstallerCertificationWithdrawn")
    assert (event.installer, event.issuing_body) == (installer, issuing_body)
    with boa.reverts("meter: caller is not a certified installer for this sector"):
        register(smb, installer, signer, alice)


def test_withdraw_certification_reverts_when_not_certified(smb, issuing_body, bob):
    with boa.reverts("meter: installer is not certified"):
        smb.withdraw_certification(SECTOR, bob, sender=issuing_body)


def test_register_meter_stores_and_logs(smb, installer, signer, alice):
    register(smb, installer, signer, alice, accept=False)
    event = only_event(smb, "MeterRegistered")
    assert event.meter_id == NEW_METER
    assert (event.owner, event.installer, event.signer) == (alice, installer, signer)
    assert (event.sector, event.tech_code, event.fuel_code) == (SECTOR, SOLAR_TECH, SOLAR_FUEL)
    assert (event.capacity_w, event.kind) == (CAPACITY_W, PRODUCTION | CONSUMPTION)
    smb.accept_meter(NEW_METER, 0, sender=alice)
    info = smb.meter(NEW_METER)
    assert (info.owner, info.signer, info.installer) == (alice, signer, installer)
    assert (info.sector, info.capacity_w, info.kind) == (SECTOR, CAPACITY_W, 3)
    assert info.registered_at == boa.env.evm.patch.timestamp
    assert smb.owner_of(NEW_METER) == alice
    assert smb.last_reading(NEW_METER) == (0, 0, 0)


def test_register_consumption_meter_without_codes(smb, installer, signer, alice):
    smb.register_meter(
        NEW_METER, signer, alice, SECTOR, "", "", 0, CONNECTION_W, CONSUMPTION, sender=installer
    )
    smb.accept_meter(NEW_METER, 0, sender=alice)
    assert smb.meter(NEW_METER).tech_code == ""


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"meter": b"\x00" * 32}, "meter: meter id is empty"),
        ({"signer": ZERO}, "meter: signer is the zero address"),
        ({"owner": ZERO}, "meter: owner is the zero address"),
        ({"kind": 0}, "meter: kind is empty"),
        ({"capacity": 0}, "meter: producing meter needs a capacity"),
        ({"sector": "SE3"}, "meter: caller is not a certified installer for this sector"),
    ],
)
def test_register_meter_reverts_on_bad_input(smb, installer, signer, alice, change, reason):
    arguments = {"signer": signer, "owner": alice} | change
    with boa.reverts(reason):
        register(smb, installer, **arguments)


def test_register_meter_reverts_when_registered(smb, installer, signer, alice):
    register(smb, installer, signer, alice)
    with boa.reverts("meter: already registered"):
        register(smb, installer, signer, alice)


def test_rotate_signer_by_any_certified_installer(smb, issuing_body, installer, signer, alice, bob):
    register(smb, installer, signer, alice)
    smb.certify_installer(SECTOR, bob, sender=issuing_body)
    smb.approve_signer(NEW_METER, alice, sender=alice)
    event = only_event(smb, "SignerApproved")
    assert (event.meter_id, event.owner, event.signer) == (NEW_METER, alice, alice)
    smb.rotate_signer(NEW_METER, alice, False, sender=bob)
    event = only_event(smb, "SignerRotated")
    assert (event.installer, event.previous_signer, event.new_signer) == (bob, signer, alice)
    assert not event.new_device
    assert smb.meter(NEW_METER).signer == alice
    assert smb.approved_signer(NEW_METER) == ZERO


def test_rotate_signer_needs_the_owners_approval(smb, installer, signer, alice, bob):
    """Issue 12: any installer of the sector could put in a key of its own and
    then forge the readings the owner is billed for."""
    register(smb, installer, signer, alice)
    with boa.reverts("meter: the owner has not approved this signer"):
        smb.rotate_signer(NEW_METER, bob, False, sender=installer)
    smb.approve_signer(NEW_METER, alice, sender=alice)
    with boa.reverts("meter: the owner has not approved this signer"):
        smb.rotate_signer(NEW_METER, bob, False, sender=installer)


@pytest.mark.parametrize("caller", ["deployer", "bob", "carol"])
def test_approve_signer_only_by_the_owner(smb, installer, signer, alice, actors, caller):
    register(smb, installer, signer, alice)
    with boa.reverts("meter: caller is not the meter owner"):
        smb.approve_signer(NEW_METER, actors[caller], sender=actors[caller])


@pytest.mark.parametrize(
    ("meter", "new_signer", "caller", "reason"),
    [
        (meter_id_for("unknown"), "bob", "installer", "meter: unknown meter"),
        (NEW_METER, None, "installer", "meter: signer is the zero address"),
        (NEW_METER, "bob", "alice", "meter: caller is not a certified installer for this sector"),
    ],
)
def test_rotate_signer_reverts(
    smb, installer, signer, alice, actors, meter, new_signer, caller, reason
):
    register(smb, installer, signer, alice)
    smb.approve_signer(NEW_METER, actors[new_signer] if new_signer else ZERO, sender=alice)
    callers = actors | {"installer": installer}
    with boa.reverts(reason):
        smb.rotate_signer(
            meter, actors[new_signer] if new_signer else ZERO, False, sender=callers[caller]
        )


def test_registration_names_a_pending_owner_who_accepts(smb, installer, signer, alice):
    """Issue 12, item 1: nobody owns a meter, nor is billed for it, without accepting it."""
    register(smb, installer, signer, alice, accept=False)
    assert smb.owner_of(NEW_METER) == ZERO
    assert smb.pending_owner_of(NEW_METER) == alice
    smb.accept_meter(NEW_METER, 0, sender=alice)
    event = only_event(smb, "MeterOwnerChanged")
    assert (event.previous_owner, event.new_owner, event.epoch) == (ZERO, alice, 1)
    assert smb.owner_of(NEW_METER) == alice
    assert smb.pending_owner_of(NEW_METER) == ZERO


def test_no_reading_before_an_owner_accepted_the_meter(smb, installer, alice):
    from meter_bridge.signing import Reading, sign_reading
    from tests.fixtures.accounts import keyed_account
    from tests.fixtures.meters import grid_time

    key = keyed_account("pending-meter")
    smb.register_meter(
        NEW_METER,
        key.address,
        alice,
        SECTOR,
        "",
        "",
        0,
        CONNECTION_W,
        CONSUMPTION,
        sender=installer,
    )
    signed = sign_reading(
        key,
        Reading(NEW_METER, grid_time(0), 0, 0, b"\x00" * 32),
        boa.env.evm.patch.chain_id,
        str(smb.address),
    )
    with boa.reverts("meter: no owner has accepted the meter yet"):
        smb.submit_reading(*signed.contract_args())


def test_offer_meter_changes_nothing_until_accepted(smb, installer, signer, alice, bob):
    register(smb, installer, signer, alice)
    smb.offer_meter(NEW_METER, bob, sender=alice)
    event = only_event(smb, "MeterOffered")
    assert (event.meter_id, event.owner, event.pending_owner) == (NEW_METER, alice, bob)
    assert smb.owner_of(NEW_METER) == alice
    smb.accept_meter(NEW_METER, 0, sender=bob)
    event = only_event(smb, "MeterOwnerChanged")
    assert (event.previous_owner, event.new_owner, event.epoch) == (alice, bob, 2)
    assert smb.owner_of(NEW_METER) == bob
    assert (smb.owner_at(NEW_METER, 1), smb.owner_at(NEW_METER, 2)) == (alice, bob)


def test_an_offer_to_the_zero_address_withdraws_it(smb, installer, signer, alice, bob):
    register(smb, installer, signer, alice)
    smb.offer_meter(NEW_METER, bob, sender=alice)
    smb.offer_meter(NEW_METER, ZERO, sender=alice)
    with boa.reverts("meter: meter not offered to the caller"):
        smb.accept_meter(NEW_METER, 0, sender=bob)


@pytest.mark.parametrize(
    ("meter", "caller", "new_owner", "reason"),
    [
        (meter_id_for("unknown"), "alice", "bob", "meter: unknown meter"),
        (NEW_METER, "bob", "bob", "meter: caller is not the meter owner"),
        (NEW_METER, "alice", "alice", "meter: offering the meter to its owner"),
    ],
)
def test_offer_meter_reverts(
    smb, installer, signer, alice, actors, meter, caller, new_owner, reason
):
    register(smb, installer, signer, alice)
    with boa.reverts(reason):
        smb.offer_meter(meter, actors[new_owner], sender=actors[caller])


@pytest.mark.parametrize("caller", ["deployer", "alice", "carol"])
def test_accept_meter_only_by_the_pending_owner(smb, installer, signer, alice, bob, actors, caller):
    register(smb, installer, signer, alice)
    smb.offer_meter(NEW_METER, bob, sender=alice)
    with boa.reverts("meter: meter not offered to the caller"):
        smb.accept_meter(NEW_METER, 0, sender=actors[caller])


def test_suspend_and_resume_log_reasons(smb, operator, solar_meter):
    smb.suspend_meter(solar_meter, "seal broken", sender=operator)
    event = only_event(smb, "MeterSuspended")
    assert (event.meter_id, event.operator, event.reason) == (solar_meter, operator, "seal broken")
    assert smb.is_suspended(solar_meter)

    smb.resume_meter(solar_meter, "seal replaced", sender=operator)
    event = only_event(smb, "MeterResumed")
    assert (event.operator, event.reason) == (operator, "seal replaced")
    assert not smb.is_suspended(solar_meter)


def test_suspend_reverts_for_unknown_or_suspended_meter(smb, operator, solar_meter):
    with boa.reverts("meter: unknown meter"):
        smb.suspend_meter(meter_id_for("unknown"), "x", sender=operator)
    smb.suspend_meter(solar_meter, "x", sender=operator)
    with boa.reverts("meter: already suspended"):
        smb.suspend_meter(solar_meter, "x", sender=operator)


def test_resume_reverts_when_not_suspended(smb, operator, solar_meter):
    with boa.reverts("meter: not suspended"):
        smb.resume_meter(solar_meter, "x", sender=operator)


# Role matrix: every privileged function, called by every role that is not its own.
ROLES = ["deployer", "operator", "issuing_body", "installer", "alice", "bob"]


def call_privileged(smb, name, meter, who):
    bob = boa.env.generate_address("bob")
    calls = {
        "set_issuing_body": lambda: smb.set_issuing_body("SE3", bob, True, sender=who),
        "grantRole": lambda: smb.grantRole(smb.OPERATOR_ROLE(), bob, sender=who),
        "revokeRole": lambda: smb.revokeRole(smb.OPERATOR_ROLE(), bob, sender=who),
        "certify_installer": lambda: smb.certify_installer(SECTOR, bob, sender=who),
        "withdraw_certification": lambda: smb.withdraw_certification(
            SECTOR, boa.env.generate_address("installer"), sender=who
        ),
        "register_meter": lambda: smb.register_meter(
            NEW_METER, bob, bob, SECTOR, "", "", 0, CONNECTION_W, CONSUMPTION, sender=who
        ),
        "rotate_signer": lambda: smb.rotate_signer(meter, bob, False, sender=who),
        "suspend_meter": lambda: smb.suspend_meter(meter, "tamper", sender=who),
        "set_connection_rating": lambda: smb.set_connection_rating(
            meter, 40_000, "new fuse", sender=who
        ),
        "offer_meter": lambda: smb.offer_meter(meter, bob, sender=who),
        "wire_operator": lambda: smb.wire_operator(bob, sender=who),
    }
    calls[name]()


OWNERS = {
    "set_issuing_body": (("deployer",), "access_control: account is missing role"),
    "grantRole": (("deployer",), "access_control: account is missing role"),
    "revokeRole": (("deployer",), "access_control: account is missing role"),
    "certify_installer": (
        ("issuing_body",),
        "meter: caller is not the issuing body of this sector",
    ),
    "withdraw_certification": (
        ("issuing_body",),
        "meter: caller is not the issuing body of this sector",
    ),
    "register_meter": (
        ("installer",),
        "meter: caller is not a certified installer for this sector",
    ),
    "rotate_signer": (("installer",), "meter: caller is not a certified installer for this sector"),
    "suspend_meter": (("operator", "deployer"), "access_control: account is missing role"),
    "set_connection_rating": (
        ("operator", "deployer"),
        "access_control: account is missing role",
    ),
    "offer_meter": (("alice",), "meter: caller is not the meter owner"),
    "wire_operator": (("deployer",), "access_control: account is missing role"),
}
MATRIX = [
    (name, role) for name, (owners, _) in OWNERS.items() for role in ROLES if role not in owners
]


@pytest.mark.parametrize(("function", "role"), MATRIX)
def test_role_matrix_rejects_every_other_role(
    smb, solar_meter, actors, operator, issuing_body, installer, function, role
):
    people = actors | {"operator": operator, "issuing_body": issuing_body, "installer": installer}
    with boa.reverts(OWNERS[function][1]):
        call_privileged(smb, function, solar_meter, people[role])


def test_resume_meter_rejects_every_non_operator(
    smb, solar_meter, operator, issuing_body, installer, actors
):
    smb.suspend_meter(solar_meter, "tamper", sender=operator)
    non_operators = [actors[name] for name in ("alice", "bob", "carol")]
    for who in [*non_operators, issuing_body, installer]:
        with boa.reverts("access_control: account is missing role"):
            smb.resume_meter(solar_meter, "ok", sender=who)

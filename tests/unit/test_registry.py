"""GGORegistry.vy: issuing, splitting, retiring, revoking and expiring hourly certificates."""

import json
from pathlib import Path

import boa
import pytest

from tests.fixtures.meters import (
    CONNECTION_W,
    INTERVAL,
    SECTOR,
    SOLAR_FUEL,
    SOLAR_TECH,
    hand_over,
    meter_id_for,
)
from tests.fixtures.registry import VALIDITY, certificate_id
from tests.helpers import events, only_event, values

TEST_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def hour(measure, meter_key, solar_meter, household_key, household_meter):
    """One hour in which alice's solar meter produced 2,000 Wh and bob's household used 700 Wh."""
    begin = measure(meter_key, solar_meter, produced=2_000, consumed=100)
    assert measure(household_key, household_meter, produced=0, consumed=700) == begin
    return begin


@pytest.fixture
def cert(registry, solar_meter, hour):
    registry.issue(solar_meter, hour)
    return certificate_id(solar_meter, hour)


def test_certificate_id_is_the_documented_hash(registry, solar_meter):
    assert registry.certificate_id(solar_meter, 1_800_000_000) == certificate_id(
        solar_meter, 1_800_000_000
    )


def test_issue_mints_production_to_the_owner(registry, solar_meter, hour, alice, carol):
    id_ = certificate_id(solar_meter, hour)
    assert registry.issue(solar_meter, hour, sender=carol) == 2_000
    issued = only_event(registry, "CertificateIssued")
    assert (issued.id, issued.meter_id, issued.interval_begin) == (id_, solar_meter, hour)
    assert (issued.issued_wh, issued.custody_wh) == (2_000, 0)
    assert values(only_event(registry, "TransferSingle")) == (carol, ZERO, alice, id_, 2_000)
    assert registry.balanceOf(alice, id_) == 2_000
    data = registry.certificate(id_)
    assert (data.meter_id, data.interval_begin, data.interval_end) == (
        solar_meter,
        hour,
        hour + INTERVAL,
    )
    assert (data.sector, data.tech_code, data.fuel_code) == (SECTOR, SOLAR_TECH, SOLAR_FUEL)
    assert (data.issued_wh, data.custody_wh, data.revoked) == (2_000, 0, False)
    assert data.expiry == hour + INTERVAL + VALIDITY
    assert registry.is_active(id_)


def test_issue_is_idempotent(registry, solar_meter, hour, alice):
    registry.issue(solar_meter, hour)
    assert registry.issue(solar_meter, hour) == 0
    assert events(registry, "TransferSingle") == []
    assert registry.balanceOf(alice, certificate_id(solar_meter, hour)) == 2_000


def test_issue_nothing_for_zero_production(
    registry, household_meter, meter_key, solar_meter, measure
):
    begin = measure(meter_key, solar_meter, produced=0, consumed=300)
    assert registry.issue(solar_meter, begin) == 0
    assert registry.certificate(certificate_id(solar_meter, begin)).issued_wh == 0


@pytest.mark.parametrize(
    ("meter", "reason"),
    [
        ("household", "registry: meter does not produce"),
        ("unknown", "registry: unknown meter"),
    ],
)
def test_issue_reverts_for_meters_without_certificates(
    registry, household_meter, hour, meter, reason
):
    meter_id = household_meter if meter == "household" else meter_id_for("unknown")
    with boa.reverts(reason):
        registry.issue(meter_id, hour)


def test_producing_meter_without_codes_is_refused_at_registration(smb, installer, alice):
    """Issue 12, item 2: such a meter used to register, and then every issuance
    of its hours reverted, and with it every settlement of its deals."""
    from tests.fixtures.accounts import keyed_account

    key = keyed_account("meter-no-codes")
    meter = meter_id_for("no-codes")
    with boa.reverts("meter: technology code is not an AIB EECS code (T and 6 digits)"):
        smb.register_meter(
            meter, key.address, alice, SECTOR, "", "", 3_000, CONNECTION_W, 3, sender=installer
        )


def test_issue_reverts_without_measurement(registry, solar_meter, hour):
    with boa.reverts("registry: no measurement for this interval"):
        registry.issue(solar_meter, hour + INTERVAL)


def test_issue_reverts_for_measurement_longer_than_an_interval(
    registry, smb, solar_meter, meter_key, sign, hour
):
    boa.env.time_travel(seconds=3 * INTERVAL)
    smb.submit_reading(
        *sign(meter_key, solar_meter, hour + 4 * INTERVAL, 10**4, 10**4).contract_args()
    )  # a gap: one measurement of three hours
    with boa.reverts("registry: measurement spans more than one interval"):
        registry.issue(solar_meter, hour + INTERVAL)


def test_issue_many_issues_a_batch(registry, solar_meter, meter_key, measure, alice):
    begins = [measure(meter_key, solar_meter, produced=100 * i, consumed=0) for i in (1, 2, 3)]
    assert registry.issue_many([solar_meter] * 3, begins) == 600
    assert [registry.balanceOf(alice, certificate_id(solar_meter, b)) for b in begins] == [
        100,
        200,
        300,
    ]
    assert registry.issue_many([solar_meter] * 3, begins) == 0


def test_issue_many_reverts_on_length_mismatch(registry, solar_meter):
    with boa.reverts("registry: batch lengths differ"):
        registry.issue_many([solar_meter], [])


def test_new_owner_gets_later_certificates_only(
    registry, smb, solar_meter, meter_key, measure, alice, carol
):
    first = measure(meter_key, solar_meter, produced=100, consumed=0)
    registry.issue(solar_meter, first)
    hand_over(smb, solar_meter, alice, carol)
    second = measure(meter_key, solar_meter, produced=200, consumed=0)
    registry.issue(solar_meter, second)
    assert registry.balanceOf(alice, certificate_id(solar_meter, first)) == 100
    assert registry.balanceOf(carol, certificate_id(solar_meter, first)) == 0
    assert registry.balanceOf(carol, certificate_id(solar_meter, second)) == 200
    assert registry.balanceOf(alice, certificate_id(solar_meter, second)) == 0


def test_transfer_part_is_a_split(registry, cert, alice, bob):
    registry.safeTransferFrom(alice, bob, cert, 600, b"", sender=alice)
    assert values(only_event(registry, "TransferSingle")) == (alice, alice, bob, cert, 600)
    assert registry.balanceOf(alice, cert) == 1_400
    assert registry.balanceOf(bob, cert) == 600
    registry.safeTransferFrom(alice, bob, cert, 1_400, b"", sender=alice)
    assert registry.balanceOf(alice, cert) == 0
    assert registry.balanceOf(bob, cert) == 2_000


def test_transfer_by_approved_operator(registry, cert, alice, bob, carol):
    registry.setApprovalForAll(carol, True, sender=alice)
    assert values(only_event(registry, "ApprovalForAll")) == (alice, carol, True)
    registry.safeTransferFrom(alice, bob, cert, 5, b"", sender=carol)
    assert registry.balanceOf(bob, cert) == 5


@pytest.mark.parametrize(
    ("caller", "to", "amount", "reason"),
    [
        ("carol", "bob", 1, "registry: caller is not holder or approved"),
        ("alice", None, 1, "registry: transfer to the zero address"),
        ("alice", "bob", 2_001, "registry: insufficient balance for transfer"),
    ],
)
def test_transfer_reverts(registry, cert, actors, alice, caller, to, amount, reason):
    with boa.reverts(reason):
        registry.safeTransferFrom(
            alice, actors[to] if to else ZERO, cert, amount, b"", sender=actors[caller]
        )


def test_transfer_unknown_certificate_reverts(registry, alice, bob):
    with boa.reverts("registry: unknown certificate"):
        registry.safeTransferFrom(alice, bob, 12345, 0, b"", sender=alice)


def test_transfer_to_receiver_contract(registry, cert, alice):
    receiver = boa.load(TEST_CONTRACTS / "CertificateReceiver.vy")
    registry.safeTransferFrom(alice, receiver.address, cert, 10, b"", sender=alice)
    assert registry.balanceOf(receiver.address, cert) == 10


def test_transfer_to_contract_without_receiver_hook_reverts(registry, smb, cert, alice):
    with boa.reverts("registry: receiver rejected the certificate"):
        registry.safeTransferFrom(alice, smb.address, cert, 10, b"", sender=alice)
    assert registry.balanceOf(alice, cert) == 2_000


def test_receiver_revert_reason_is_passed_on(registry, cert, alice):
    refuser = boa.load(TEST_CONTRACTS / "RevertingReceiver.vy")
    with boa.reverts("receiver: no ether accepted"):
        registry.safeTransferFrom(alice, refuser.address, cert, 10, b"", sender=alice)


def test_batch_transfer_to_receiver_contract(registry, cert, alice):
    receiver = boa.load(TEST_CONTRACTS / "CertificateReceiver.vy")
    registry.safeBatchTransferFrom(alice, receiver.address, [cert], [7], b"", sender=alice)
    assert registry.balanceOf(receiver.address, cert) == 7


def test_batch_transfer(registry, solar_meter, meter_key, measure, alice, bob):
    begins = [measure(meter_key, solar_meter, produced=100, consumed=0) for _ in range(2)]
    registry.issue_many([solar_meter] * 2, begins)
    ids = [certificate_id(solar_meter, b) for b in begins]
    registry.safeBatchTransferFrom(alice, bob, ids, [40, 60], b"", sender=alice)
    assert values(only_event(registry, "TransferBatch")) == (alice, alice, bob, ids, [40, 60])
    assert registry.balanceOfBatch([bob, bob, alice], [*ids, ids[0]]) == [40, 60, 60]


def test_batch_transfer_reverts_on_length_mismatch(registry, cert, alice, bob):
    with boa.reverts("registry: batch lengths differ"):
        registry.safeBatchTransferFrom(alice, bob, [cert], [], b"", sender=alice)


def test_approving_self_reverts(registry, alice):
    with boa.reverts("registry: approving self"):
        registry.setApprovalForAll(alice, True, sender=alice)


def test_retire_against_own_consumption(registry, cert, household_meter, hour, alice, bob):
    registry.safeTransferFrom(alice, bob, cert, 600, b"", sender=alice)
    registry.retire(cert, 500, household_meter, b"Ben's heat pump", sender=bob)
    claim = values(only_event(registry, "ClaimSingle"))
    assert claim == (bob, bob, 1, cert, 500, b"Ben's heat pump")
    retired = only_event(registry, "CertificateRetired")
    assert (retired.id, retired.consumption_meter_id, retired.holder, retired.wh) == (
        cert,
        household_meter,
        bob,
        500,
    )
    assert values(only_event(registry, "TransferSingle")) == (bob, bob, ZERO, cert, 500)
    assert registry.balanceOf(bob, cert) == 100
    assert registry.claimedBalanceOf(bob, cert) == 500
    assert registry.retired_against(household_meter, hour) == 500


def test_retire_never_exceeds_consumption(registry, cert, household_meter, alice, bob):
    registry.safeTransferFrom(alice, bob, cert, 2_000, b"", sender=alice)
    registry.retire(cert, 700, household_meter, b"", sender=bob)
    with boa.reverts("registry: retiring more than was consumed"):
        registry.retire(cert, 1, household_meter, b"", sender=bob)


def test_retire_by_the_owner_from_its_issued_share(registry, cert, solar_meter, hour, alice):
    registry.retire(cert, 100, solar_meter, b"own use", sender=alice)
    assert registry.balanceOf(alice, cert) == 1_900
    assert registry.claimedBalanceOf(alice, cert) == 100


def test_retire_for_someone_elses_meter_needs_approval(registry, cert, household_meter, alice, bob):
    with boa.reverts("registry: caller may not claim for this consumption meter"):
        registry.retire(cert, 100, household_meter, b"", sender=alice)
    registry.setApprovalForAll(alice, True, sender=bob)
    registry.retire(cert, 100, household_meter, b"", sender=alice)
    assert (
        registry.retired_against(household_meter, registry.certificate(cert).interval_begin) == 100
    )


def test_retire_against_a_longer_consumption_measurement_reverts(
    registry, smb, installer, cert, sign, alice, hour
):
    """Hourly matching: a consumption measurement spanning two hours does not match one."""
    from tests.fixtures.accounts import keyed_account

    key = keyed_account("late-reporter")
    late = meter_id_for("late-reporter")
    smb.register_meter(
        late, key.address, alice, SECTOR, "", "", 0, CONNECTION_W, 2, sender=installer
    )
    smb.accept_meter(late, 0, sender=alice)
    smb.submit_reading(*sign(key, late, hour, 0, 0).contract_args())
    boa.env.time_travel(seconds=2 * INTERVAL)
    smb.submit_reading(*sign(key, late, hour + 2 * INTERVAL, 900, 0).contract_args())
    with boa.reverts("registry: no consumption measurement for this interval"):
        registry.retire(cert, 1, late, b"", sender=alice)


def test_retire_without_consumption_measurement_reverts(
    registry, smb, installer, cert, alice, hour
):
    from tests.fixtures.accounts import keyed_account

    idle = meter_id_for("idle-consumer")
    smb.register_meter(
        idle,
        keyed_account("idle").address,
        alice,
        SECTOR,
        "",
        "",
        0,
        CONNECTION_W,
        2,
        sender=installer,
    )
    smb.accept_meter(idle, 0, sender=alice)
    with boa.reverts("registry: no consumption measurement for this interval"):
        registry.retire(cert, 1, idle, b"", sender=alice)


def test_retire_in_another_sector_reverts(
    registry, smb, deployer, issuing_body, installer, cert, sign, alice, hour
):
    from tests.fixtures.accounts import keyed_account

    smb.set_issuing_body("SE3", issuing_body, True, sender=deployer)
    smb.certify_installer("SE3", installer, sender=issuing_body)
    key = keyed_account("swedish-consumer")
    swede = meter_id_for("swede")
    smb.register_meter(
        swede, key.address, alice, "SE3", "", "", 0, CONNECTION_W, 2, sender=installer
    )
    smb.accept_meter(swede, 0, sender=alice)
    smb.submit_reading(*sign(key, swede, hour, 0, 0).contract_args())
    smb.submit_reading(*sign(key, swede, hour + INTERVAL, 500, 0).contract_args())
    with boa.reverts("registry: consumption is in another sector"):
        registry.retire(cert, 1, swede, b"", sender=alice)


def test_void_retirement_in_another_sector_reverts(
    registry, smb, deployer, issuing_body, installer, cert, sign, alice, hour
):
    """Review-17c: DK1's issuing body voided, with a revoked DK1 certificate, Wh
    of an SE3 certificate retired against a Swedish meter in the same hour (the
    registry keeps no list of where a certificate was retired): the Swedish
    meter's statements lost matched Wh in a sector the body has no say in."""
    from tests.fixtures.accounts import keyed_account
    from tests.fixtures.meters import CAPACITY_W

    se3_body = boa.env.generate_address("se3-issuing-body")
    smb.set_issuing_body("SE3", se3_body, True, sender=deployer)
    smb.certify_installer("SE3", installer, sender=se3_body)
    keys = {name: keyed_account(f"se3-{name}") for name in ("consumer", "plant")}
    ids = {name: meter_id_for(f"se3-{name}") for name in keys}
    smb.register_meter(
        ids["consumer"], keys["consumer"].address, alice, "SE3", "", "", 0, CONNECTION_W, 2,
        sender=installer,
    )  # fmt: skip
    smb.register_meter(
        ids["plant"], keys["plant"].address, alice, "SE3", SOLAR_TECH, SOLAR_FUEL, CAPACITY_W,
        CONNECTION_W, 3, sender=installer,
    )  # fmt: skip
    for name, (imported, exported) in {"consumer": (500, 0), "plant": (0, 500)}.items():
        smb.accept_meter(ids[name], 0, sender=alice)
        smb.submit_reading(*sign(keys[name], ids[name], hour, 0, 0).contract_args())
        smb.submit_reading(
            *sign(keys[name], ids[name], hour + INTERVAL, imported, exported).contract_args()
        )
    registry.issue(ids["plant"], hour)
    registry.retire(certificate_id(ids["plant"], hour), 500, ids["consumer"], b"", sender=alice)
    registry.revoke(cert, "seal broken", sender=issuing_body)
    with boa.reverts("registry: consumption is in another sector"):
        registry.void_retirement(cert, ids["consumer"], 500, sender=issuing_body)
    assert registry.retired_against(ids["consumer"], hour) == 500


@pytest.mark.parametrize(
    ("wh", "reason"),
    [(0, "registry: nothing to retire"), (2_001, "registry: retiring more than was consumed")],
)
def test_retire_reverts_on_bad_amount(registry, cert, solar_meter, alice, wh, reason):
    with boa.reverts(reason):
        registry.retire(cert, wh, solar_meter, b"", sender=alice)


def test_retire_more_than_held_reverts(registry, cert, household_meter, alice, bob):
    registry.safeTransferFrom(alice, bob, cert, 10, b"", sender=alice)
    with boa.reverts("registry: retiring more than held"):
        registry.retire(cert, 11, household_meter, b"", sender=bob)


def test_retire_many(
    registry, solar_meter, meter_key, household_meter, household_key, measure, alice, bob
):
    registry.setApprovalForAll(alice, True, sender=bob)
    begins = []
    for _ in range(2):
        begin = measure(meter_key, solar_meter, produced=300, consumed=0)
        measure(household_key, household_meter, produced=0, consumed=200)
        begins.append(begin)
    registry.issue_many([solar_meter] * 2, begins)
    ids = [certificate_id(solar_meter, b) for b in begins]
    registry.retire_many([(i, 150, household_meter) for i in ids], b"batch", sender=alice)
    assert len(events(registry, "ClaimSingle")) == 2
    assert [registry.claimedBalanceOf(alice, i) for i in ids] == [150, 150]


def test_revoke_by_issuing_body_stops_moving(
    registry, cert, household_meter, issuing_body, alice, bob
):
    registry.revoke(cert, "seal broken", sender=issuing_body)
    event = only_event(registry, "CertificateRevoked")
    assert (event.id, event.issuing_body, event.reason) == (cert, issuing_body, "seal broken")
    assert registry.certificate(cert).revoked
    assert not registry.is_active(cert)
    with boa.reverts("registry: certificate revoked"):
        registry.safeTransferFrom(alice, bob, cert, 1, b"", sender=alice)
    with boa.reverts("registry: certificate revoked"):
        registry.retire(cert, 1, household_meter, b"", sender=alice)


@pytest.mark.parametrize("caller", ["alice", "bob", "deployer"])
def test_revoke_by_anyone_else_reverts(registry, cert, actors, caller):
    with boa.reverts("registry: caller is not the issuing body of this sector"):
        registry.revoke(cert, "x", sender=actors[caller])


def test_revoke_twice_or_unknown_reverts(registry, cert, issuing_body):
    with boa.reverts("registry: unknown certificate"):
        registry.revoke(1, "x", sender=issuing_body)
    registry.revoke(cert, "x", sender=issuing_body)
    with boa.reverts("registry: certificate already revoked"):
        registry.revoke(cert, "x", sender=issuing_body)


def test_expired_certificate_stops_moving(registry, cert, household_meter, alice, bob):
    expiry = registry.certificate(cert).expiry
    boa.env.time_travel(seconds=expiry - boa.env.evm.patch.timestamp - 1)
    registry.safeTransferFrom(alice, bob, cert, 1, b"", sender=alice)
    with boa.reverts("registry: certificate has not expired"):
        registry.expire(cert)
    boa.env.time_travel(seconds=1)
    assert not registry.is_active(cert)
    with boa.reverts("registry: certificate expired"):
        registry.safeTransferFrom(alice, bob, cert, 1, b"", sender=alice)
    with boa.reverts("registry: certificate expired"):
        registry.retire(cert, 1, household_meter, b"", sender=bob)
    registry.expire(cert)
    event = only_event(registry, "CertificateExpired")
    assert (event.id, event.expiry) == (cert, expiry)
    with boa.reverts("registry: expiry already logged"):
        registry.expire(cert)


def test_wire_exchange_once_by_admin(
    registry, registry_deployer, exchange_deployer, wallet, smb, ob, deployer, alice
):
    own = exchange_deployer.deploy(
        wallet.address, smb.address, registry.address, ob.address, 3_600, 86_400
    )
    other = registry_deployer.deploy(smb.address, 86_400, sender=deployer)
    with boa.reverts("access_control: account is missing role"):
        registry.wire_exchange(own.address, sender=alice)
    with boa.reverts("registry: exchange is not a contract"):
        registry.wire_exchange(alice, sender=deployer)
    with boa.reverts("registry: exchange does not point back to this registry"):
        other.wire_exchange(own.address, sender=deployer)
    registry.wire_exchange(own.address, sender=deployer)
    assert registry.exchange() == own.address
    with boa.reverts("registry: exchange already wired"):
        registry.wire_exchange(own.address, sender=deployer)


def test_supports_erc1155_interfaces(registry):
    for interface in (b"\x01\xff\xc9\xa7", b"\xd9\xb6\x7a\x26", b"\x0e\x89\x34\x1c"):
        assert registry.supportsInterface(interface)
    assert not registry.supportsInterface(b"\xff\xff\xff\xff")


def test_uri_is_json_metadata(registry, cert, hour):
    uri = registry.uri(cert)
    prefix = "data:application/json;utf8,"
    assert uri.startswith(prefix)
    metadata = json.loads(uri[len(prefix) :])
    assert metadata["properties"]["issued_wh"] == 2_000
    assert metadata["properties"]["sector"] == SECTOR
    assert str(hour) in metadata["description"]
    assert registry.uri(1) == ""

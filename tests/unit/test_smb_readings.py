"""SmartMeterBackend.vy: signed readings become baselines and measurements; forgeries do not."""

import boa
import pytest
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from meter_bridge.signing import Reading, typed_data
from tests.fixtures.accounts import keyed_account
from tests.fixtures.meters import (
    CONNECTION_W,
    DIGEST,
    FUTURE_TOLERANCE,
    INTERVAL,
    PRODUCTION,
    SECTOR,
    SOLAR_FUEL,
    SOLAR_TECH,
    ZERO_ADDRESS,
    advance_to,
    grid_time,
    meter_id_for,
)
from tests.helpers import high_s_twin, only_event

OTHER_DIGEST = bytes.fromhex("cd" * 32)


def submit(smb, signed, sender=None):
    smb.submit_reading(*signed.contract_args(), sender=sender or boa.env.eoa)


@pytest.fixture
def baseline(smb, solar_meter, meter_key, sign):
    """The meter's first reading, one interval ago: 1,000 Wh imported, 500 Wh exported."""
    end = grid_time(-1)
    submit(smb, sign(meter_key, solar_meter, end, 1_000, 500))
    return end


def test_first_reading_is_a_baseline(smb, solar_meter, meter_key, sign, bob):
    end = grid_time(-1)
    submit(smb, sign(meter_key, solar_meter, end, 1_000, 500), sender=bob)
    event = only_event(smb, "BaselineRecorded")
    assert (event.meter_id, event.interval_end) == (solar_meter, end)
    assert (event.import_wh, event.export_wh, event.data_digest) == (1_000, 500, DIGEST)
    assert smb.last_reading(solar_meter) == (end, 1_000, 500)
    assert smb.baseline(solar_meter) == (end, 1_000, 500)
    assert smb.measurement(solar_meter, end - INTERVAL) == (0, 0, 0)


def test_next_reading_stores_a_measurement(smb, solar_meter, meter_key, sign, baseline):
    end = baseline + INTERVAL
    advance_to(end)
    submit(smb, sign(meter_key, solar_meter, end, 1_300, 2_500, OTHER_DIGEST))
    event = only_event(smb, "MeasurementRecorded")
    assert (event.meter_id, event.interval_begin, event.interval_end) == (
        solar_meter,
        baseline,
        end,
    )
    assert (event.produced_wh, event.consumed_wh, event.data_digest) == (2_000, 300, OTHER_DIGEST)
    assert smb.measurement(solar_meter, baseline) == (end, 2_000, 300)
    assert smb.settlement_data(solar_meter, baseline)[1:] == (end, 2_000, 300)
    assert smb.last_reading(solar_meter) == (end, 1_300, 2_500)
    assert smb.baseline(solar_meter) == (baseline, 1_000, 500)


def test_unchanged_registers_measure_zero(smb, solar_meter, meter_key, sign, baseline):
    end = baseline + INTERVAL
    advance_to(end)
    submit(smb, sign(meter_key, solar_meter, end, 1_000, 500))
    assert smb.measurement(solar_meter, baseline) == (end, 0, 0)


def test_gap_gives_one_measurement_spanning_it(smb, solar_meter, meter_key, sign, baseline):
    end = baseline + 3 * INTERVAL
    advance_to(end)
    submit(smb, sign(meter_key, solar_meter, end, 1_900, 800))
    assert smb.measurement(solar_meter, baseline) == (end, 300, 900)
    assert smb.measurement(solar_meter, baseline + INTERVAL) == (0, 0, 0)


def test_reading_within_future_tolerance_is_accepted(smb, solar_meter, meter_key, sign, baseline):
    end = baseline + 2 * INTERVAL
    advance_to(end - FUTURE_TOLERANCE)
    submit(smb, sign(meter_key, solar_meter, end, 1_000, 500))
    assert smb.last_reading(solar_meter)[0] == end


def test_submit_readings_records_a_batch_in_order(smb, solar_meter, meter_key, sign, baseline):
    ends = [baseline + i * INTERVAL for i in range(1, 5)]
    advance_to(ends[-1])
    batch = [
        sign(
            meter_key, solar_meter, end, 1_000 + 10 * i, 500 + 100 * i, begin=end - INTERVAL
        ).contract_args()
        for i, end in enumerate(ends, start=1)
    ]
    smb.submit_readings(batch)
    for end in ends:
        assert smb.measurement(solar_meter, end - INTERVAL) == (end, 100, 10)
    assert smb.last_reading(solar_meter) == (ends[-1], 1_040, 900)


def test_submit_readings_reverts_whole_batch_on_one_bad_reading(
    smb, solar_meter, meter_key, sign, baseline
):
    ends = [baseline + INTERVAL, baseline + 2 * INTERVAL]
    advance_to(ends[-1])
    good = sign(meter_key, solar_meter, ends[0], 1_010, 600).contract_args()
    backwards = sign(meter_key, solar_meter, ends[1], 1_005, 700, begin=ends[0]).contract_args()
    with boa.reverts("meter: import register decreased"):
        smb.submit_readings([good, backwards])
    assert smb.last_reading(solar_meter) == (baseline, 1_000, 500)


def test_reading_digest_matches_eth_account(smb, solar_meter):
    for begin in (0, 3_600):
        reading = Reading(solar_meter, 7_200, 1, 2, DIGEST, begin)
        data = typed_data(reading, boa.env.evm.patch.chain_id, str(smb.address))
        signable = encode_typed_data(full_message=data)
        assert smb.DOMAIN_SEPARATOR() == signable.header
        expected = keccak(b"\x19\x01" + signable.header + signable.body)
        assert smb.reading_digest(solar_meter, begin, 7_200, 1, 2, DIGEST) == expected


# Attacks: each is rejected with its own reason.


def test_replayed_reading_is_rejected(smb, solar_meter, meter_key, sign, baseline):
    end = baseline + INTERVAL
    advance_to(end)
    signed = sign(meter_key, solar_meter, end, 1_100, 600)
    submit(smb, signed)
    with boa.reverts("meter: reading does not begin at the meter's last reading"):
        submit(smb, signed)


def test_reading_not_after_its_begin_is_rejected(smb, solar_meter, meter_key, sign, baseline):
    with boa.reverts("meter: reading not newer than last"):
        submit(smb, sign(meter_key, solar_meter, baseline, 1_000, 500, begin=baseline))


def test_replayed_baseline_is_rejected(smb, solar_meter, meter_key, sign, baseline):
    with boa.reverts("meter: reading does not begin at the meter's last reading"):
        submit(smb, sign(meter_key, solar_meter, baseline, 1_000, 500, begin=0))


def test_a_baseline_naming_a_begin_is_rejected(smb, solar_meter, meter_key, sign):
    end = grid_time(-1)
    with boa.reverts("meter: a baseline reading names no interval begin"):
        submit(smb, sign(meter_key, solar_meter, end, 1_000, 500, begin=end - INTERVAL))


def test_next_reading_begin_follows_the_chain_of_readings(
    smb, solar_meter, meter_key, sign, baseline
):
    assert smb.next_reading_begin(solar_meter) == baseline
    end = baseline + 3 * INTERVAL
    advance_to(end)
    submit(smb, sign(meter_key, solar_meter, end, 1_300, 800))
    # A gap (an outage) is one measurement spanning it, begun where the last ended.
    assert smb.measurement(solar_meter, baseline) == (end, 300, 300)
    assert smb.next_reading_begin(solar_meter) == end


def test_a_relayer_cannot_merge_hours_by_sending_the_last_reading_first(
    smb, solar_meter, meter_key, sign, baseline, bob
):
    """The bridge sends three hours in one batch; an attacker who sees it in the
    mempool sends the last reading alone first. Before readings named their
    begin, that made one measurement of three hours, leaving the hours' deals
    unmeasured for good."""
    ends = [baseline + i * INTERVAL for i in range(1, 4)]
    advance_to(ends[-1])
    batch = [
        sign(
            meter_key, solar_meter, end, 1_000 + 10 * i, 500 + 100 * i, begin=end - INTERVAL
        ).contract_args()
        for i, end in enumerate(ends, start=1)
    ]
    with boa.reverts("meter: reading does not begin at the meter's last reading"):
        smb.submit_reading(*batch[-1], sender=bob)
    smb.submit_readings(batch)
    assert [smb.measurement(solar_meter, end - INTERVAL) for end in ends] == [
        (end, 100, 10) for end in ends
    ]


def test_an_altered_begin_is_rejected(smb, solar_meter, meter_key, sign, baseline):
    end = baseline + 2 * INTERVAL
    advance_to(end)
    args = list(
        sign(meter_key, solar_meter, end, 1_100, 600, begin=baseline + INTERVAL).contract_args()
    )
    args[1] = baseline  # moved to where the chain's readings end, after signing
    with boa.reverts("meter: signer does not match meter"):
        smb.submit_reading(*args)


def test_reading_replayed_on_second_deployment_is_rejected(
    smb_deployer, smb, solar_meter, meter_key, sign, deployer, issuing_body, installer, alice
):
    with boa.env.prank(deployer):
        twin = smb_deployer.deploy(INTERVAL, FUTURE_TOLERANCE, ZERO_ADDRESS)
        twin.set_issuing_body(SECTOR, issuing_body, True)
    twin.certify_installer(SECTOR, installer, sender=issuing_body)
    twin.register_meter(
        solar_meter,
        meter_key.address,
        alice,
        SECTOR,
        SOLAR_TECH,
        SOLAR_FUEL,
        6_000,
        CONNECTION_W,
        PRODUCTION,
        sender=installer,
    )
    twin.accept_meter(solar_meter, 0, sender=alice)
    signed_for_first = sign(meter_key, solar_meter, grid_time(-1), 1_000, 500)
    with boa.reverts("meter: signer does not match meter"):
        twin.submit_reading(*signed_for_first.contract_args())


def test_reading_signed_for_other_chain_is_rejected(smb, solar_meter, meter_key, sign):
    signed = sign(
        meter_key, solar_meter, grid_time(-1), 1_000, 500, chain_id=boa.env.evm.patch.chain_id + 1
    )
    with boa.reverts("meter: signer does not match meter"):
        submit(smb, signed)


def test_high_s_twin_is_rejected(smb, solar_meter, meter_key, sign):
    signed = sign(meter_key, solar_meter, grid_time(-1), 1_000, 500)
    args = list(signed.contract_args())
    v, r, s = high_s_twin(signed.v, signed.r, signed.s)
    args[6:] = [v, r.to_bytes(32), s.to_bytes(32)]
    with boa.reverts("ecdsa: invalid signature `s` value"):
        smb.submit_reading(*args)


@pytest.mark.parametrize("v", [0, 1, 26, 29])
def test_signature_v_outside_27_28_is_rejected(smb, solar_meter, meter_key, sign, v):
    args = list(sign(meter_key, solar_meter, grid_time(-1), 1_000, 500).contract_args())
    args[6] = v
    with boa.reverts("meter: signature v must be 27 or 28"):
        smb.submit_reading(*args)


def test_wrong_signer_is_rejected(smb, solar_meter, sign):
    with boa.reverts("meter: signer does not match meter"):
        submit(smb, sign(keyed_account("impostor"), solar_meter, grid_time(-1), 1_000, 500))


def test_altered_register_is_rejected(smb, solar_meter, meter_key, sign):
    args = list(sign(meter_key, solar_meter, grid_time(-1), 1_000, 500).contract_args())
    args[4] = 5_000  # export register raised after signing
    with boa.reverts("meter: signer does not match meter"):
        smb.submit_reading(*args)


@pytest.mark.parametrize(
    ("import_wh", "export_wh", "reason"),
    [
        (999, 500, "meter: import register decreased"),
        (1_000, 499, "meter: export register decreased"),
    ],
)
def test_registers_going_backwards_are_rejected(
    smb, solar_meter, meter_key, sign, baseline, import_wh, export_wh, reason
):
    end = baseline + INTERVAL
    advance_to(end)
    with boa.reverts(reason):
        submit(smb, sign(meter_key, solar_meter, end, import_wh, export_wh))


def test_reading_dated_in_the_future_is_rejected(smb, solar_meter, meter_key, sign):
    end = grid_time(2)  # two boundaries ahead: the block is before end - tolerance at any minute
    advance_to(end - FUTURE_TOLERANCE - 1)
    assert boa.env.evm.patch.timestamp == end - FUTURE_TOLERANCE - 1
    with boa.reverts("meter: reading dated in the future"):
        submit(smb, sign(meter_key, solar_meter, end, 1_000, 500))


@pytest.mark.parametrize("offset", [1, 900, INTERVAL - 1])
def test_unaligned_interval_is_rejected(smb, solar_meter, meter_key, sign, offset):
    with boa.reverts("meter: interval end not on the interval grid"):
        submit(smb, sign(meter_key, solar_meter, grid_time(-2) + offset, 1_000, 500))


def test_reading_after_suspension_is_rejected(
    smb, solar_meter, meter_key, sign, operator, baseline
):
    smb.suspend_meter(solar_meter, "seal broken", sender=operator)
    end = baseline + INTERVAL
    advance_to(end)
    with boa.reverts("meter: meter is suspended"):
        submit(smb, sign(meter_key, solar_meter, end, 1_100, 600))


def test_reading_after_resume_spans_the_suspension(
    smb, solar_meter, meter_key, sign, operator, baseline
):
    smb.suspend_meter(solar_meter, "seal broken", sender=operator)
    advance_to(baseline + 2 * INTERVAL)
    smb.resume_meter(solar_meter, "seal replaced", sender=operator)
    submit(smb, sign(meter_key, solar_meter, baseline + 2 * INTERVAL, 1_100, 600))
    assert smb.measurement(solar_meter, baseline) == (baseline + 2 * INTERVAL, 100, 100)


def test_reading_for_unknown_meter_is_rejected(smb, meter_key, sign):
    with boa.reverts("meter: unknown meter"):
        submit(smb, sign(meter_key, meter_id_for("unknown"), grid_time(-1), 1, 1))


def test_rotated_signer_replaces_the_old_key(
    smb, solar_meter, meter_key, sign, installer, baseline, alice
):
    new_key = keyed_account("meter-solar-1-replacement")
    smb.approve_signer(solar_meter, new_key.address, sender=alice)
    smb.rotate_signer(solar_meter, new_key.address, False, sender=installer)
    end = baseline + INTERVAL
    advance_to(end)
    with boa.reverts("meter: signer does not match meter"):
        submit(smb, sign(meter_key, solar_meter, end, 1_100, 600))
    submit(smb, sign(new_key, solar_meter, end, 1_100, 600))
    assert smb.last_reading(solar_meter) == (end, 1_100, 600)


def test_a_replaced_device_starts_a_new_baseline(
    smb, solar_meter, meter_key, sign, installer, baseline, alice
):
    """Its registers start lower: a new key on the old chain of readings would be
    stuck at "import register decreased"."""
    device = keyed_account("meter-solar-1-new-device")
    smb.approve_signer(solar_meter, device.address, sender=alice)
    smb.rotate_signer(solar_meter, device.address, True, sender=installer)
    assert only_event(smb, "SignerRotated").new_device
    with boa.reverts("meter: reading not newer than last"):
        submit(smb, sign(device, solar_meter, baseline, 0, 0))
    advance_to(baseline + 2 * INTERVAL)
    submit(smb, sign(device, solar_meter, baseline + INTERVAL, 3, 1))  # the new baseline
    assert only_event(smb, "BaselineRecorded").import_wh == 3
    submit(smb, sign(device, solar_meter, baseline + 2 * INTERVAL, 103, 51))
    assert smb.measurement(solar_meter, baseline + INTERVAL) == (baseline + 2 * INTERVAL, 50, 100)
    assert smb.measurement(solar_meter, baseline) == (0, 0, 0)  # unmeasured

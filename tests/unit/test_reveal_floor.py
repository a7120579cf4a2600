"""RevealFloor (bench/contracts/RevealFloor.vy), the peer `make bench` measures
MeasurementRoots' reveals against: it must be a real reveal, not a no-op, so it
records a correct leaf once and refuses a wrong proof, a replay and a leaf its
meter's state or key does not allow."""

import boa
import pytest
from eth_abi import encode
from eth_utils import keccak

from meter_bridge.signing import Measurement
from openkwh.bench.gas import REVEAL_FLOOR, national_multiproof, sign_for_floor
from openkwh.merkle import pack_flags
from tests.fixtures.accounts import keyed_account
from tests.fixtures.meters import DIGEST, INTERVAL, SECTOR, meter_id_for
from tests.fixtures.roots import (
    HUB_LEAF_TYPES,
    SIGNED_LEAF_TYPES,
    filler_leaves,
    hub_leaf,
    python_tree,
)

TAG = int.from_bytes(keccak(text=SECTOR), "big") >> (256 - 120)
BEGIN = 1_798_761_600  # on the hour
WRONG_PROOF = "floor: the proof does not lead to the sector's hub root of this interval"
REPLAY = "floor: this interval is already revealed"


@pytest.fixture(scope="module")
def floor_deployer():
    return boa.load_partial(REVEAL_FLOOR)


@pytest.fixture
def floor(floor_deployer, deployer):
    with boa.env.prank(deployer):
        return floor_deployer.deploy(INTERVAL)


@pytest.fixture(scope="module")
def meter_key():
    return keyed_account("floor-meter")


def setup_meter(floor, deployer, meter, key, by_root=True, suspended=False, tag=TAG):
    floor.setup([(meter, tag, by_root, suspended, key)], [], sender=deployer)


def hub_tree(floor, deployer, leaves, begin=BEGIN):
    """The tree of ``leaves``, set up as the sector's hub root of ``begin``."""
    tree = python_tree(HUB_LEAF_TYPES, leaves)
    floor.setup([], [(tree.root, TAG, begin, begin + INTERVAL, True)], sender=deployer)
    return tree


def floor_signed_leaf(floor, key, meter, produced=0, consumed=690, registers=(1_000_000, 0)):
    measurement = Measurement(
        meter, BEGIN, BEGIN + INTERVAL, produced, consumed, *registers, DIGEST
    )  # fmt: skip
    v, r, s = sign_for_floor(key, measurement, boa.env.evm.patch.chain_id, str(floor.address))
    return (
        meter, BEGIN, BEGIN + INTERVAL, produced, consumed, *registers, DIGEST,
        keccak(text=f"salt-{meter.hex()}"), v, r.to_bytes(32, "big"), s.to_bytes(32, "big"),
    )  # fmt: skip


def signed_tree(floor, deployer, leaves):
    tree = python_tree(SIGNED_LEAF_TYPES, leaves)
    floor.setup([], [(tree.root, TAG, BEGIN, BEGIN + INTERVAL, False)], sender=deployer)
    return tree


def recorded(floor) -> list:
    return [e for e in floor.get_logs() if type(e).__name__ == "MeasurementRecorded"]


# reveal


def test_reveal_records_the_measurement_and_logs(floor, deployer, meter_key):
    meter = meter_id_for("floor-home")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = hub_leaf(meter, BEGIN, 0, 740)
    tree = hub_tree(floor, deployer, [*filler_leaves(6, BEGIN), leaf])
    floor.reveal(leaf, tree.proofs[6])
    (event,) = recorded(floor)
    assert floor.measurements(meter, BEGIN) == BEGIN + INTERVAL | 740 << 128
    assert (event.meter_id, event.interval_begin, event.interval_end) == (
        meter,
        BEGIN,
        BEGIN + INTERVAL,
    )
    assert (event.produced_wh, event.consumed_wh, event.data_digest) == (0, 740, DIGEST)


def test_reveal_twice_refused(floor, deployer, meter_key):
    meter = meter_id_for("floor-home")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = hub_leaf(meter, BEGIN, 0, 740)
    tree = hub_tree(floor, deployer, [*filler_leaves(6, BEGIN), leaf])
    floor.reveal(leaf, tree.proofs[6])
    with boa.reverts(REPLAY):
        floor.reveal(leaf, tree.proofs[6])


def test_reveal_with_a_wrong_proof_refused(floor, deployer, meter_key):
    meter = meter_id_for("floor-home")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = hub_leaf(meter, BEGIN, 0, 740)
    tree = hub_tree(floor, deployer, [*filler_leaves(6, BEGIN), leaf])
    with boa.reverts(WRONG_PROOF):
        floor.reveal(leaf, tree.proofs[0])
    with boa.reverts(WRONG_PROOF):
        floor.reveal(hub_leaf(meter, BEGIN, 0, 741), tree.proofs[6])
    assert floor.measurements(meter, BEGIN) == 0


def test_reveal_of_another_sectors_meter_refused(floor, deployer, meter_key):
    """The hub root is looked up by the meter's sector: another sector's root is not found."""
    meter = meter_id_for("floor-home")
    setup_meter(floor, deployer, meter, meter_key.address, tag=TAG + 1)
    leaf = hub_leaf(meter, BEGIN, 0, 740)
    tree = hub_tree(floor, deployer, [*filler_leaves(6, BEGIN), leaf])
    with boa.reverts(WRONG_PROOF):
        floor.reveal(leaf, tree.proofs[6])


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (None, "floor: unknown meter"),
        ({"by_root": False}, "floor: the meter is read on chain, not published by root"),
        ({"suspended": True}, "floor: meter is suspended"),
    ],
)
def test_reveal_refused_by_the_meters_state(floor, deployer, meter_key, state, reason):
    meter = meter_id_for("floor-home")
    if state is not None:
        setup_meter(floor, deployer, meter, meter_key.address, **state)
    leaf = hub_leaf(meter, BEGIN, 0, 740)
    tree = hub_tree(floor, deployer, [*filler_leaves(6, BEGIN), leaf])
    with boa.reverts(reason):
        floor.reveal(leaf, tree.proofs[6])


def test_reveal_of_more_than_one_interval_refused(floor, deployer, meter_key):
    meter = meter_id_for("floor-home")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = hub_leaf(meter, BEGIN, 0, 740, end=BEGIN + 2 * INTERVAL)
    tree = hub_tree(floor, deployer, [*filler_leaves(6, BEGIN), leaf])
    with boa.reverts("floor: not one interval of the interval grid"):
        floor.reveal(leaf, tree.proofs[6])


# reveal_signed


def test_reveal_signed_records_once(floor, deployer, meter_key):
    meter = meter_id_for("floor-signed")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = floor_signed_leaf(floor, meter_key, meter)
    other = floor_signed_leaf(floor, meter_key, meter_id_for("floor-other"))
    tree = signed_tree(floor, deployer, [other, leaf])
    floor.reveal_signed(leaf, tree.proofs[1])
    (event,) = recorded(floor)
    assert floor.measurements(meter, BEGIN) == BEGIN + INTERVAL | 690 << 128
    assert (event.meter_id, event.consumed_wh) == (meter, 690)
    with boa.reverts(REPLAY):
        floor.reveal_signed(leaf, tree.proofs[1])


def test_reveal_signed_with_a_wrong_proof_refused(floor, deployer, meter_key):
    meter = meter_id_for("floor-signed")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = floor_signed_leaf(floor, meter_key, meter)
    other = floor_signed_leaf(floor, meter_key, meter_id_for("floor-other"))
    signed_tree(floor, deployer, [other, leaf])
    with boa.reverts("floor: the proof does not lead to a published root"):
        floor.reveal_signed(leaf, [keccak(text="not a sibling")])


def test_reveal_signed_by_another_key_refused(floor, deployer, meter_key):
    meter = meter_id_for("floor-signed")
    setup_meter(floor, deployer, meter, boa.env.generate_address("not-the-key"))
    leaf = floor_signed_leaf(floor, meter_key, meter)
    other = floor_signed_leaf(floor, meter_key, meter_id_for("floor-other"))
    tree = signed_tree(floor, deployer, [other, leaf])
    with boa.reverts("floor: signer does not match meter"):
        floor.reveal_signed(leaf, tree.proofs[1])


def test_reveal_signed_with_registers_below_the_measurement_refused(floor, deployer, meter_key):
    meter = meter_id_for("floor-signed")
    setup_meter(floor, deployer, meter, meter_key.address)
    leaf = floor_signed_leaf(floor, meter_key, meter, consumed=690, registers=(689, 0))
    other = floor_signed_leaf(floor, meter_key, meter_id_for("floor-other"))
    tree = signed_tree(floor, deployer, [other, leaf])
    with boa.reverts("floor: the registers are below the measurement"):
        floor.reveal_signed(leaf, tree.proofs[1])


# reveal_many


def street(floor, deployer, meter_key, count=4):
    """``count`` meters' leaves of one hub root, and their multiproof."""
    meters = [meter_id_for(f"floor-street-{i}") for i in range(count)]
    floor.setup([(m, TAG, True, False, meter_key.address) for m in meters], [], sender=deployer)
    leaves = [hub_leaf(m, BEGIN, 0, 300 + i) for i, m in enumerate(meters)]
    by_hash = {keccak(keccak(encode(HUB_LEAF_TYPES, list(leaf)))): leaf for leaf in leaves}
    ordered, proof, flags, root = national_multiproof(list(by_hash), 8, "floor-test")
    floor.setup([], [(root, TAG, BEGIN, BEGIN + INTERVAL, True)], sender=deployer)
    return meters, [by_hash[h] for h in ordered], proof, flags


def test_reveal_many_records_each_leaf_once(floor, deployer, meter_key):
    meters, ordered, proof, flags = street(floor, deployer, meter_key)
    floor.reveal_many(ordered, proof, pack_flags(flags))
    assert sorted(e.meter_id for e in recorded(floor)) == sorted(meters)
    for i, meter in enumerate(meters):
        assert floor.measurements(meter, BEGIN) == BEGIN + INTERVAL | (300 + i) << 128
    with boa.reverts(REPLAY):
        floor.reveal_many(ordered, proof, pack_flags(flags))


def test_reveal_many_with_a_wrong_proof_refused(floor, deployer, meter_key):
    _, ordered, proof, flags = street(floor, deployer, meter_key)
    with boa.reverts(WRONG_PROOF):
        floor.reveal_many(ordered, [keccak(text="wrong"), *proof[1:]], pack_flags(flags))
    with boa.reverts("floor: the multiproof does not fit its leaves"):
        floor.reveal_many(ordered, proof[1:], pack_flags(flags))


# setup


def test_setup_by_another_caller_refused(floor, meter_key):
    with boa.reverts("floor: caller is not the deployer"):
        floor.setup(
            [(meter_id_for("floor-home"), TAG, True, False, meter_key.address)],
            [],
            sender=boa.env.generate_address("anyone"),
        )

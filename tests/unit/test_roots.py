"""MeasurementRoots: roots published per sector and interval, measurements
revealed once with proofs built by OpenZeppelin's @openzeppelin/merkle-tree."""

import boa
import pytest
from eth_abi import encode
from eth_utils import keccak

from openkwh.merkle import pack_flags
from tests.fixtures.meters import (
    CAPACITY_W,
    CONNECTION_W,
    CONSUMPTION,
    DIGEST,
    INTERVAL,
    SECTOR,
    ZERO_ADDRESS,
    advance_to,
    grid_time,
    meter_id_for,
)
from tests.fixtures.roots import (
    HUB_LEAF_TYPES,
    SIGNED_LEAF_TYPES,
    build_tree,
    filler_leaves,
    hub_leaf,
    python_tree,
    register_root_meter,
    signed_leaf,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def publish_hub(roots, hub, leaves, begin):
    """``hub`` publishes the tree of ``leaves`` as its root of ``begin``; the tree."""
    tree = build_tree(HUB_LEAF_TYPES, leaves)
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    return tree


def publish_signed(roots, publisher, leaves, begin, end=None):
    tree = build_tree(SIGNED_LEAF_TYPES, leaves)
    roots.publish_root(
        SECTOR, begin, begin + INTERVAL if end is None else end, tree.root, sender=publisher
    )
    return tree


# Publication


def test_publish_hub_root_logs_and_records(roots, hub):
    begin = grid_time(-1)
    tree = publish_hub(roots, hub, filler_leaves(3, begin), begin)
    (event,) = [e for e in roots.get_logs() if type(e).__name__ == "RootPublished"]
    assert (event.root, event.publisher, event.sector) == (tree.root, hub, SECTOR)
    assert (event.interval_begin, event.interval_end, event.by_hub) == (
        begin,
        begin + INTERVAL,
        True,
    )
    assert roots.hub_root(keccak(text=SECTOR), begin) == tree.root
    assert roots.publication(hub, tree.root) == (
        roots.sector_tag(SECTOR),
        begin,
        begin + INTERVAL,
        True,
    )


def test_publish_hub_root_second_root_for_interval_refused(roots, hub):
    begin = grid_time(-1)
    publish_hub(roots, hub, filler_leaves(2, begin), begin)
    with boa.reverts("roots: the sector's hub root of this interval is already published"):
        publish_hub(roots, hub, filler_leaves(3, begin), begin)


def test_publish_hub_root_second_hub_same_interval_refused(roots, hub, issuing_body, carol):
    roots.appoint_hub(SECTOR, carol, sender=issuing_body)
    begin = grid_time(-1)
    publish_hub(roots, hub, filler_leaves(2, begin), begin)
    with boa.reverts("roots: the sector's hub root of this interval is already published"):
        publish_hub(roots, carol, filler_leaves(3, begin), begin)


def test_publish_hub_root_by_hub_of_another_sector_refused(roots, smb, deployer, carol):
    smb.set_issuing_body("DK2", carol, True, sender=deployer)
    dk2_hub = boa.env.generate_address("dk2-hub")
    roots.appoint_hub("DK2", dk2_hub, sender=carol)
    begin = grid_time(-1)
    with boa.reverts("roots: caller is not a data hub of this sector"):
        roots.publish_hub_root(SECTOR, begin, keccak(b"root"), sender=dk2_hub)


def test_publish_hub_root_interval_not_ended_refused(roots, hub):
    with boa.reverts("roots: the interval has not ended"):
        roots.publish_hub_root(SECTOR, grid_time(0), keccak(b"root"), sender=hub)


def test_publish_hub_root_off_grid_refused(roots, hub):
    with boa.reverts("roots: interval not on the interval grid"):
        roots.publish_hub_root(SECTOR, grid_time(-2) + 60, keccak(b"root"), sender=hub)


def test_publish_root_empty_refused(roots, bob):
    with boa.reverts("roots: root is empty"):
        roots.publish_root(SECTOR, grid_time(-1), grid_time(0), b"\x00" * 32, sender=bob)


def test_publish_root_twice_by_same_publisher_refused(roots, bob):
    roots.publish_root(SECTOR, grid_time(-1), grid_time(0), keccak(b"root"), sender=bob)
    with boa.reverts("roots: the caller already published this root"):
        roots.publish_root(SECTOR, grid_time(-2), grid_time(0), keccak(b"root"), sender=bob)


def test_publish_same_root_first_by_another_does_not_block_the_hub(roots, hub, bob):
    """Whoever copies a hub's root from the mempool publishes only its own."""
    begin = grid_time(-1)
    leaves = filler_leaves(2, begin)
    tree = build_tree(HUB_LEAF_TYPES, leaves)
    roots.publish_root(SECTOR, grid_time(-3), grid_time(-2), tree.root, sender=bob)
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    assert roots.publication(hub, tree.root)[1:] == (begin, begin + INTERVAL, True)


def test_publication_names_no_meter(roots, hub, root_meter):
    """A root publication's transaction carries no meter id, only the root (its
    log's fields are pinned in test_publish_hub_root_logs_and_records)."""
    begin = grid_time(-1)
    leaves = [hub_leaf(root_meter, begin, 10, 400), *filler_leaves(3, begin)]
    tree = build_tree(HUB_LEAF_TYPES, leaves)
    calldata = roots.publish_hub_root.prepare_calldata(SECTOR, begin, tree.root)
    assert root_meter not in calldata
    assert root_meter[:8] not in calldata


# The leaf encoding


def test_hub_leaf_hash_is_standard_merkle_tree_leaf(roots, root_meter):
    leaf = hub_leaf(root_meter, grid_time(-1), 7, 420)
    expected = keccak(keccak(encode(HUB_LEAF_TYPES, list(leaf))))
    assert roots.hub_leaf_hash(leaf) == expected
    assert roots.HUB_LEAF_TYPES() == ",".join(HUB_LEAF_TYPES)
    assert roots.SIGNED_LEAF_TYPES() == ",".join(SIGNED_LEAF_TYPES)


@pytest.mark.parametrize("count", [1, 2, 5, 8])
def test_python_tree_equals_the_javascript_library(root_meter, count):
    begin = grid_time(-1)
    leaves = [*filler_leaves(count - 1, begin), hub_leaf(root_meter, begin, 7, 420)]
    assert python_tree(HUB_LEAF_TYPES, leaves) == build_tree(HUB_LEAF_TYPES, leaves)


def test_salt_hides_equal_values(roots, root_meter):
    begin = grid_time(-1)
    one = roots.hub_leaf_hash(hub_leaf(root_meter, begin, 0, 0, salt=b"\x01" * 32))
    other = roots.hub_leaf_hash(hub_leaf(root_meter, begin, 0, 0, salt=b"\x02" * 32))
    assert one != other


# Reveal: a hub's leaf


def test_reveal_hub_leaf_records_the_measurement(roots, smb, hub, root_meter, alice, carol):
    begin = grid_time(-1)
    leaves = [*filler_leaves(5, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    roots.reveal(hub, leaves[-1], tree.proofs[-1], sender=carol)
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 120, 480)
    assert smb.settlement_data(root_meter, begin) == (alice, begin + INTERVAL, 120, 480)
    assert smb.is_revealed(root_meter, begin)
    # The backend's log, as for a reading: an indexer sees nothing new.
    (recorded,) = [e for e in roots.get_logs() if type(e).__name__ == "MeasurementRecorded"]
    assert (recorded.meter_id, recorded.interval_begin, recorded.interval_end) == (
        root_meter,
        begin,
        begin + INTERVAL,
    )
    assert (recorded.produced_wh, recorded.consumed_wh, recorded.data_digest) == (120, 480, DIGEST)


def test_reveal_single_leaf_tree(roots, smb, hub, root_meter):
    begin = grid_time(-1)
    leaf = hub_leaf(root_meter, begin, 0, 300)
    tree = publish_hub(roots, hub, [leaf], begin)
    assert tree.proofs == [[]]
    roots.reveal(hub, leaf, [], sender=hub)
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 0, 300)


def test_reveal_wrong_proof_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(5, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("roots: the proof does not lead to a root this publisher published"):
        roots.reveal(hub, leaves[-1], tree.proofs[0])


def test_reveal_forged_leaf_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(5, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    forged = hub_leaf(root_meter, begin, 1_200, 480)
    with boa.reverts("roots: the proof does not lead to a root this publisher published"):
        roots.reveal(hub, forged, tree.proofs[-1])


def test_reveal_names_another_publisher_refused(roots, hub, root_meter, bob):
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("roots: the proof does not lead to a root this publisher published"):
        roots.reveal(bob, leaves[-1], tree.proofs[-1])


def test_reveal_inner_node_as_leaf_refused(roots, hub, root_meter):
    """A leaf is hashed twice, so no pair of inner nodes passes for a leaf."""
    begin = grid_time(-1)
    leaves = [*filler_leaves(3, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    # The parent of leaves 0 and 1's encodings read as a leaf's fields cannot
    # be built; the nearest forgery is a leaf made of a proof's hashes.
    forged = (tree.proofs[-1][0], begin, begin + INTERVAL, 0, 0, tree.proofs[-1][1], DIGEST)
    with boa.reverts("roots: the proof does not lead to a root this publisher published"):
        roots.reveal(hub, forged, tree.proofs[-1][2:])


def test_reveal_twice_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    roots.reveal(hub, leaves[-1], tree.proofs[-1])
    with boa.reverts("meter: an interval of this measurement is already revealed"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_leaf_of_another_interval_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin - INTERVAL, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("roots: the leaf is not of the root's interval"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_leaf_of_another_sector_refused(roots, smb, deployer, carol, root_meter):
    smb.set_issuing_body("DK2", carol, True, sender=deployer)
    dk2_hub = boa.env.generate_address("dk2-hub")
    roots.appoint_hub("DK2", dk2_hub, sender=carol)
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = build_tree(HUB_LEAF_TYPES, leaves)
    roots.publish_hub_root("DK2", begin, tree.root, sender=dk2_hub)
    with boa.reverts("meter: the root is of another sector than the meter"):
        roots.reveal(dk2_hub, leaves[-1], tree.proofs[-1])


def test_reveal_hub_leaf_against_anyones_root_refused(roots, root_meter, bob):
    """Only an appointed hub vouches for unsigned values."""
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = build_tree(HUB_LEAF_TYPES, leaves)
    roots.publish_root(SECTOR, begin, begin + INTERVAL, tree.root, sender=bob)
    with boa.reverts("roots: a hub leaf is revealed only against a hub's root"):
        roots.reveal(bob, leaves[-1], tree.proofs[-1])


def test_reveal_by_dismissed_hub_root_stays(roots, smb, hub, issuing_body, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 0, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    roots.dismiss_hub(SECTOR, hub, sender=issuing_body)
    roots.reveal(hub, leaves[-1], tree.proofs[-1])
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 0, 480)
    with boa.reverts("roots: caller is not a data hub of this sector"):
        roots.publish_hub_root(SECTOR, begin - INTERVAL, keccak(b"root"), sender=hub)


def test_reveal_for_chain_read_meter_refused(roots, hub, solar_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(solar_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("meter: the meter is read on chain, not published by root"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_unknown_meter_refused(roots, hub):
    begin = grid_time(-1)
    leaves = filler_leaves(3, begin)
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("meter: unknown meter"):
        roots.reveal(hub, leaves[0], tree.proofs[0])


def test_reveal_suspended_meter_refused(roots, smb, hub, operator, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 120, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    smb.suspend_meter(root_meter, "tamper alarm", sender=operator)
    with boa.reverts("meter: meter is suspended"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_production_beyond_capacity_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    too_much = CAPACITY_W * (INTERVAL + 300) // 3_600 + 1
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, too_much, 0)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("meter: production beyond the meter's capacity"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_import_beyond_connection_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    too_much = 2 * CONNECTION_W * (INTERVAL + 300) // 3_600 + 1
    leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 0, too_much)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("meter: import beyond the meter's connection rating"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_before_first_owner_refused(roots, smb, hub, installer, bob, root_meter_key):
    """The interval in which the meter was accepted has no owner: it began before."""
    meter = register_root_meter(smb, installer, bob, root_meter_key.address, name="root-late")
    begin = grid_time(0)
    advance_to(grid_time(1))
    leaves = [*filler_leaves(2, begin), hub_leaf(meter, begin, 0, 480)]
    tree = publish_hub(roots, hub, leaves, begin)
    with boa.reverts("meter: no owner had accepted the meter by this interval"):
        roots.reveal(hub, leaves[-1], tree.proofs[-1])


def test_reveal_after_hand_over_belongs_to_the_owner_of_the_interval(
    roots, smb, hub, root_meter, alice, bob, carol
):
    """A measurement revealed late is the owner's of its interval, not the revealer's or today's."""
    first = grid_time(-1)
    smb.offer_meter(root_meter, bob, sender=alice)
    smb.accept_meter(root_meter, 0, sender=bob)
    advance_to(grid_time(2))
    smb.offer_meter(root_meter, carol, sender=bob)
    smb.accept_meter(root_meter, 0, sender=carol)
    advance_to(grid_time(2))
    second = grid_time(-3)  # bob's: after his acceptance's boundary, before carol's
    third = grid_time(-1)  # carol's
    for begin, owner in ((first, alice), (second, bob), (third, carol)):
        leaves = [*filler_leaves(2, begin), hub_leaf(root_meter, begin, 5, 50)]
        tree = publish_hub(roots, hub, leaves, begin)
        roots.reveal(hub, leaves[-1], tree.proofs[-1], sender=carol)
        assert smb.settlement_data(root_meter, begin)[0] == owner
        assert smb.consumption_data(root_meter, begin)[0] == owner


# Reveal: a meter-signed leaf


def test_reveal_signed_leaf_records_the_measurement(
    roots, smb, root_meter, root_meter_key, alice, bob
):
    begin = grid_time(-1)
    leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    leaves = [leaf] + [
        signed_leaf(roots, root_meter_key, root_meter, begin - INTERVAL * i, 1, 1) for i in (1, 2)
    ]
    tree = publish_signed(roots, bob, leaves, begin - 2 * INTERVAL, begin + INTERVAL)
    roots.reveal_signed(bob, leaf, tree.proofs[0], sender=bob)
    assert smb.settlement_data(root_meter, begin) == (alice, begin + INTERVAL, 90, 310)


def test_reveal_signed_leaf_in_a_hub_root(roots, smb, hub, root_meter, root_meter_key):
    """A hub may relay its meters' signed leaves; they count by their signature."""
    begin = grid_time(-1)
    leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    tree = build_tree(SIGNED_LEAF_TYPES, [leaf])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    roots.reveal_signed(hub, leaf, tree.proofs[0])
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 90, 310)


def test_reveal_signed_leaf_spanning_intervals_refuses_overlap(
    roots, smb, hub, root_meter, root_meter_key, bob
):
    """A span leaf covers every interval in it: a leaf of one of them is refused, either way round."""
    begin = grid_time(-2)
    span = signed_leaf(roots, root_meter_key, root_meter, begin, 0, 900, end=begin + 2 * INTERVAL)
    tree = publish_signed(roots, bob, [span], begin, begin + 2 * INTERVAL)
    roots.reveal_signed(bob, span, tree.proofs[0])
    assert smb.measurement(root_meter, begin) == (begin + 2 * INTERVAL, 0, 900)
    assert smb.measurement(root_meter, begin + INTERVAL) == (0, 0, 0)
    assert smb.is_revealed(root_meter, begin + INTERVAL)
    inner = [hub_leaf(root_meter, begin + INTERVAL, 0, 450)]
    hub_tree = publish_hub(roots, hub, inner, begin + INTERVAL)
    with boa.reverts("meter: an interval of this measurement is already revealed"):
        roots.reveal(hub, inner[0], hub_tree.proofs[0])


def test_reveal_span_over_a_revealed_interval_refused(roots, hub, root_meter, root_meter_key, bob):
    begin = grid_time(-2)
    inner = [hub_leaf(root_meter, begin + INTERVAL, 0, 450)]
    hub_tree = publish_hub(roots, hub, inner, begin + INTERVAL)
    roots.reveal(hub, inner[0], hub_tree.proofs[0])
    span = signed_leaf(roots, root_meter_key, root_meter, begin, 0, 900, end=begin + 2 * INTERVAL)
    tree = publish_signed(roots, bob, [span], begin, begin + 2 * INTERVAL)
    with boa.reverts("meter: an interval of this measurement is already revealed"):
        roots.reveal_signed(bob, span, tree.proofs[0])


def test_reveal_span_too_long_refused(roots, smb, root_meter, root_meter_key, bob):
    advance_to(grid_time(30))
    begin = grid_time(-26)
    end = begin + (smb.MAX_REVEAL_SPAN() + 1) * INTERVAL
    span = signed_leaf(roots, root_meter_key, root_meter, begin, 0, 900, end=end)
    tree = publish_signed(roots, bob, [span], begin, end)
    with boa.reverts("meter: measurement spans too many intervals"):
        roots.reveal_signed(bob, span, tree.proofs[0])


def test_reveal_hub_and_signed_leaf_of_same_interval_count_once(
    roots, smb, hub, root_meter, root_meter_key, bob
):
    """Two roots of one interval: the first revealed counts, the other is refused."""
    begin = grid_time(-1)
    signed = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    signed_tree = publish_signed(roots, bob, [signed], begin)
    hub_leaves = [hub_leaf(root_meter, begin, 80, 320)]
    hub_tree = publish_hub(roots, hub, hub_leaves, begin)
    roots.reveal_signed(bob, signed, signed_tree.proofs[0])
    with boa.reverts("meter: an interval of this measurement is already revealed"):
        roots.reveal(hub, hub_leaves[0], hub_tree.proofs[0])
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 90, 310)


def test_reveal_signed_replay_through_another_root_refused(
    roots, root_meter, root_meter_key, bob, carol
):
    begin = grid_time(-1)
    leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    first = publish_signed(roots, bob, [leaf], begin)
    roots.reveal_signed(bob, leaf, first.proofs[0])
    resalted = (*leaf[:8], b"\x07" * 32, *leaf[9:])
    second = publish_signed(roots, carol, [resalted, leaf], begin)
    with boa.reverts("meter: an interval of this measurement is already revealed"):
        roots.reveal_signed(carol, resalted, second.proofs[0])


@pytest.mark.parametrize("forgery", ["other key", "other chain", "other contract"])
def test_reveal_signed_leaf_with_foreign_signature_refused(
    roots, smb, root_meter, root_meter_key, meter_key, bob, forgery
):
    begin = grid_time(-1)
    if forgery == "other key":
        leaf = signed_leaf(roots, meter_key, root_meter, begin, 90, 310)
    elif forgery == "other chain":
        leaf = signed_leaf(
            roots,
            root_meter_key,
            root_meter,
            begin,
            90,
            310,
            chain_id=boa.env.evm.patch.chain_id + 1,
        )
    else:
        leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310, contract=smb.address)
    tree = publish_signed(roots, bob, [leaf], begin)
    with boa.reverts("meter: signer does not match meter"):
        roots.reveal_signed(bob, leaf, tree.proofs[0])


def test_reveal_signed_leaf_with_altered_values_refused(roots, root_meter, root_meter_key, bob):
    """The tree builder cannot change what the meter signed."""
    begin = grid_time(-1)
    honest = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    altered = (*honest[:4], 31, *honest[5:])
    tree = publish_signed(roots, bob, [altered], begin)
    with boa.reverts("meter: signer does not match meter"):
        roots.reveal_signed(bob, altered, tree.proofs[0])


def test_reveal_signed_leaf_high_s_refused(roots, root_meter, root_meter_key, bob):
    begin = grid_time(-1)
    leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    s = int.from_bytes(leaf[11], "big")
    malleated = (*leaf[:9], 55 - leaf[9], leaf[10], (SECP256K1_N - s).to_bytes(32, "big"))
    tree = publish_signed(roots, bob, [malleated], begin)
    with boa.reverts("ecdsa: invalid signature `s` value"):
        roots.reveal_signed(bob, malleated, tree.proofs[0])


def test_reveal_signed_leaf_bad_v_refused(roots, root_meter, root_meter_key, bob):
    begin = grid_time(-1)
    leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310)
    bad = (*leaf[:9], leaf[9] - 27, *leaf[10:])
    tree = publish_signed(roots, bob, [bad], begin)
    with boa.reverts("roots: signature v must be 27 or 28"):
        roots.reveal_signed(bob, bad, tree.proofs[0])


def test_reveal_signed_leaf_registers_below_measurement_refused(
    roots, root_meter, root_meter_key, bob
):
    begin = grid_time(-1)
    leaf = signed_leaf(roots, root_meter_key, root_meter, begin, 90, 310, registers=(300, 5_000))
    tree = publish_signed(roots, bob, [leaf], begin)
    with boa.reverts("roots: the registers are below the measurement"):
        roots.reveal_signed(bob, leaf, tree.proofs[0])


# The two modes


def test_submit_reading_by_root_published_meter_refused(
    smb, roots, root_meter, root_meter_key, sign
):
    signed = sign(root_meter_key, root_meter, grid_time(0), 1_000, 0)
    with boa.reverts("meter: the meter publishes by root, not by readings"):
        smb.submit_reading(*signed.contract_args())


def test_register_meter_mode_is_reported(smb, roots, root_meter, solar_meter):
    assert smb.publishes_by_root(root_meter)
    assert not smb.publishes_by_root(solar_meter)
    assert smb.last_reading(root_meter) == (0, 0, 0)
    assert smb.next_reading_begin(root_meter) == 0


def test_register_meter_by_root_logs_the_mode(smb, installer, alice, root_meter_key):
    meter = meter_id_for("root-logged")
    smb.register_meter(
        meter,
        root_meter_key.address,
        alice,
        SECTOR,
        "",
        "",
        0,
        CONNECTION_W,
        2,
        True,
        sender=installer,
    )
    events = [type(e).__name__ for e in smb.get_logs()]
    assert events == ["MeterRegistered", "MeterPublishesByRoot"]


def test_accept_root_meter_logs_the_next_boundary(smb, installer, alice, root_meter_key):
    meter = meter_id_for("root-accepted")
    smb.register_meter(
        meter,
        root_meter_key.address,
        alice,
        SECTOR,
        "",
        "",
        0,
        CONNECTION_W,
        2,
        True,
        sender=installer,
    )
    advance_to(grid_time(0) + 1_000)
    smb.accept_meter(meter, 0, sender=alice)
    (event,) = [e for e in smb.get_logs() if type(e).__name__ == "MeterOwnerChanged"]
    assert (event.epoch, event.effective_from) == (1, grid_time(1))


# The backend's own roots contract, and roles


def test_record_revealed_by_anyone_but_roots_refused(
    smb, roots, root_meter, alice, deployer, operator
):
    for caller in (alice, deployer, operator):
        with boa.reverts("meter: caller is not the backend's roots contract"):
            smb.record_revealed(
                root_meter, grid_time(-1), grid_time(0), 0, 100, DIGEST, 0, alice, sender=caller
            )


def test_backend_creates_its_roots(smb, roots):
    """The backend's constructor creates its MeasurementRoots from the blueprint:
    the roots name the backend and share its interval, and sign their own domain."""
    assert smb.roots() == roots.address
    assert boa.env.get_code(roots.address) != b""
    assert roots.backend() == smb.address
    assert roots.interval_length() == smb.interval_length()
    assert roots.eip712Domain()[4] == roots.address


def test_record_revealed_without_roots_refused(smb_deployer, deployer, alice):
    with boa.env.prank(deployer):
        backend = smb_deployer.deploy(INTERVAL, 300, ZERO_ADDRESS)
    assert backend.roots() == ZERO_ADDRESS
    for caller in (alice, deployer):
        with boa.reverts("meter: caller is not the backend's roots contract"):
            backend.record_revealed(
                meter_id_for("x"), 0, INTERVAL, 0, 0, DIGEST, 0, alice, sender=caller
            )


def test_register_meter_by_root_without_roots_refused(
    smb_deployer, deployer, issuing_body, installer, alice, root_meter_key
):
    """A backend deployed without roots never gets any: a meter registered
    there to publish by root could take neither readings nor reveals, for
    life, and its id could not be registered again."""
    with boa.env.prank(deployer):
        backend = smb_deployer.deploy(INTERVAL, 300, ZERO_ADDRESS)
        backend.set_issuing_body(SECTOR, issuing_body, True)
    backend.certify_installer(SECTOR, installer, sender=issuing_body)
    with boa.reverts("meter: this backend has no roots contract, so no meter publishes by root"):
        register_root_meter(backend, installer, alice, root_meter_key.address)
    # A meter read on chain is still welcome there.
    meter = meter_id_for("read")
    backend.register_meter(
        meter,
        root_meter_key.address,
        alice,
        SECTOR,
        "",
        "",
        0,
        CONNECTION_W,
        CONSUMPTION,
        False,
        sender=installer,
    )
    assert not backend.publishes_by_root(meter)


def test_another_backends_roots_cannot_record(
    smb, roots, smb_deployer, roots_blueprint, root_meter, deployer, alice
):
    """A MeasurementRoots created by another backend (or deployed on its own,
    naming its deployer as backend) is not this backend's: its calls are refused."""
    with boa.env.prank(deployer):
        other = smb_deployer.deploy(INTERVAL, 300, roots_blueprint)
    for rogue in (other.roots(), roots.deployer.deploy(INTERVAL, sender=alice).address):
        with boa.reverts("meter: caller is not the backend's roots contract"):
            smb.record_revealed(
                root_meter, grid_time(-1), grid_time(0), 0, 100, DIGEST, 0, alice, sender=rogue
            )


@pytest.mark.parametrize("caller", ["operator", "issuing_body", "hub", "deployer", "alice"])
def test_register_meter_by_root_only_by_certified_installer(
    smb, roots, request, caller, operator, issuing_body, hub, deployer, alice
):
    with boa.reverts("meter: caller is not a certified installer for this sector"):
        smb.register_meter(
            meter_id_for("root-uncertified"),
            alice,
            alice,
            SECTOR,
            "",
            "",
            0,
            CONNECTION_W,
            2,
            True,
            sender=request.getfixturevalue(caller),
        )


@pytest.mark.parametrize("caller", ["hub", "installer", "operator", "deployer", "alice"])
def test_appoint_hub_only_by_issuing_body(
    roots, request, caller, bob, hub, installer, operator, deployer, alice
):
    account = request.getfixturevalue(caller)
    with boa.reverts("roots: caller is not the issuing body of this sector"):
        roots.appoint_hub(SECTOR, bob, sender=account)
    with boa.reverts("roots: caller is not the issuing body of this sector"):
        roots.dismiss_hub(SECTOR, bob, sender=account)


def test_appoint_and_dismiss_hub_log(roots, issuing_body, bob):
    roots.appoint_hub(SECTOR, bob, sender=issuing_body)
    (appointed,) = roots.get_logs()
    assert (type(appointed).__name__, appointed.sector, appointed.hub, appointed.issuing_body) == (
        "HubAppointed",
        SECTOR,
        bob,
        issuing_body,
    )
    assert roots.is_hub(SECTOR, bob)
    roots.dismiss_hub(SECTOR, bob, sender=issuing_body)
    (dismissed,) = roots.get_logs()
    assert (type(dismissed).__name__, dismissed.hub, dismissed.issuing_body) == (
        "HubDismissed",
        bob,
        issuing_body,
    )


def test_appoint_hub_zero_address_refused(roots, issuing_body):
    with boa.reverts("roots: hub is the zero address"):
        roots.appoint_hub(SECTOR, "0x" + "00" * 20, sender=issuing_body)


def test_dismiss_hub_not_appointed_refused(roots, issuing_body, bob):
    with boa.reverts("roots: not a data hub of this sector"):
        roots.dismiss_hub(SECTOR, bob, sender=issuing_body)


@pytest.mark.parametrize("caller", ["issuing_body", "installer", "operator", "deployer", "alice"])
def test_publish_hub_root_only_by_hub(
    roots, request, caller, issuing_body, installer, operator, deployer, alice
):
    account = request.getfixturevalue(caller)
    with boa.reverts("roots: caller is not a data hub of this sector"):
        roots.publish_hub_root(SECTOR, grid_time(-1), keccak(b"root"), sender=account)


# Several leaves at once: an OpenZeppelin multiproof


def from_js(types, value):
    return tuple(
        bytes.fromhex(v[2:]) if t == "bytes32" else int(v)
        for t, v in zip(types, value, strict=True)
    )


def test_reveal_many_records_each_leaf(roots, smb, hub, installer, alice, bob, root_meter_key):
    meters = [
        register_root_meter(smb, installer, owner, root_meter_key.address, name=f"many-{i}")
        for i, owner in enumerate((alice, bob, alice))
    ]
    advance_to(grid_time(2))
    begin = grid_time(-1)
    leaves = [
        *filler_leaves(9, begin),
        *(hub_leaf(m, begin, 0, 100 + i) for i, m in enumerate(meters)),
    ]
    tree = build_tree(HUB_LEAF_TYPES, leaves, multiproof=[9, 10, 11])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    multiproof = tree.multiproof
    ordered = [from_js(HUB_LEAF_TYPES, value) for value in multiproof["leaves"]]
    proof = [bytes.fromhex(h[2:]) for h in multiproof["proof"]]
    roots.reveal_many(hub, ordered, proof, pack_flags(multiproof["proofFlags"]))
    for i, meter in enumerate(meters):
        assert smb.measurement(meter, begin) == (begin + INTERVAL, 0, 100 + i)
    assert smb.settlement_data(meters[1], begin)[0] == bob


def test_reveal_many_with_a_wrong_flag_refused(roots, hub, root_meter):
    begin = grid_time(-1)
    leaves = [*filler_leaves(5, begin), hub_leaf(root_meter, begin, 0, 100)]
    tree = build_tree(HUB_LEAF_TYPES, leaves, multiproof=[4, 5])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    multiproof = tree.multiproof
    ordered = [from_js(HUB_LEAF_TYPES, value) for value in multiproof["leaves"]]
    proof = [bytes.fromhex(h[2:]) for h in multiproof["proof"]]
    flags = list(multiproof["proofFlags"])
    # Two leaves that are siblings (the first flag set) hash to the same parent
    # in either order (pairs are sorted), so only then is their order free.
    if not flags[0]:
        with boa.reverts("roots: the proof does not lead to a root this publisher published"):
            roots.reveal_many(hub, list(reversed(ordered)), proof, pack_flags(flags))
    flipped = [not flags[0], *flags[1:]]
    with boa.reverts("roots: the multiproof does not fit its leaves"):
        roots.reveal_many(hub, ordered, proof, pack_flags(flipped))
    swapped = list(flags)
    first_set, first_clear = swapped.index(True), swapped.index(False)
    swapped[first_set], swapped[first_clear] = False, True
    with boa.reverts("roots: the proof does not lead to a root this publisher published"):
        roots.reveal_many(hub, ordered, proof, pack_flags(swapped))


def test_reveal_many_with_flags_that_take_missing_hashes_refused(roots, hub, root_meter):
    """Every flag set takes two leaves or computed hashes; more than the queue
    holds is refused, not read from stale memory."""
    begin = grid_time(-1)
    leaves = [*filler_leaves(5, begin), hub_leaf(root_meter, begin, 0, 100)]
    tree = build_tree(HUB_LEAF_TYPES, leaves, multiproof=[4, 5])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    multiproof = tree.multiproof
    ordered = [from_js(HUB_LEAF_TYPES, value) for value in multiproof["leaves"]]
    proof = [bytes.fromhex(h[2:]) for h in multiproof["proof"]]
    every_flag_set = [2**256 - 1]
    with boa.reverts("roots: the multiproof does not fit its leaves"):
        roots.reveal_many(hub, ordered, proof, every_flag_set)
    with boa.reverts("roots: the multiproof does not fit its leaves"):
        roots.reveal_many(hub, ordered, proof, [0])
    with boa.reverts("roots: the multiproof does not fit its leaves"):
        roots.reveal_many(hub, ordered, proof, [])
    with boa.reverts("roots: the multiproof does not fit its leaves"):
        roots.reveal_many(hub, ordered, proof, [*pack_flags(multiproof["proofFlags"]), 0])
    with boa.reverts("roots: the multiproof does not fit its leaves"):
        roots.reveal_many(hub, [], [], [])


def test_reveal_bound_follows_a_corrected_connection_rating(roots, smb, hub, operator, root_meter):
    """A root-published meter's reveal bounds its import by the rating the
    operator set last, as a reading is bounded."""
    begin = grid_time(-1)
    half = CONNECTION_W // 2
    bound = 2 * half * (INTERVAL + smb.future_tolerance()) // 3_600
    smb.set_connection_rating(root_meter, half, "fuse changed", sender=operator)
    tree = publish_hub(roots, hub, [hub_leaf(root_meter, begin, 0, bound + 1)], begin)
    with boa.reverts("meter: import beyond the meter's connection rating"):
        roots.reveal(hub, hub_leaf(root_meter, begin, 0, bound + 1), tree.proofs[0])
    smb.set_connection_rating(root_meter, CONNECTION_W, "fuse restored", sender=operator)
    roots.reveal(hub, hub_leaf(root_meter, begin, 0, bound + 1), tree.proofs[0])
    assert smb.measurement(root_meter, begin) == (begin + INTERVAL, 0, bound + 1)

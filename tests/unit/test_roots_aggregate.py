"""Billing without hourly reveals (issue 18): the operator settles a
root-published meter's period from the hub's aggregate leaf (Wh per meter over
the period, in an aggregate root of its own), and never counts an hour twice.

These are the attack tests, written before the code. The double counting
they pin:
- an hour revealed and settled before the aggregate is netted out of it,
  exactly, so its Wh are billed and rewarded once;
- an hour of a settled period cannot be settled on its own afterwards;
- a period is settled once;
- a period with a traded hour whose deals and settlement are not done cannot
  be settled from its aggregate (the trade's Wh would be billed as retail);
  once it is, the aggregate nets it like any hour settled on its own;
- an aggregate below the hours already settled is refused, not clamped;
- an aggregate leaf counts only against an aggregate root, an hourly leaf
  only against an hourly root.
"""

import boa
import pytest

from tests.fixtures.exchange import PRICE
from tests.fixtures.meters import CONSUMPTION, INTERVAL, SECTOR, advance_to, grid_time
from tests.fixtures.operator import FEED_IN, RETAIL
from tests.fixtures.roots import (
    HUB_LEAF_TYPES,
    SIGNED_LEAF_TYPES,
    build_tree,
    filler_leaves,
    hub_leaf,
    register_root_meter,
    signed_leaf,
)
from tests.helpers import made_deal, only_event

DAY = 24 * INTERVAL  # seconds: the tests' billing period


def settled_events(ob, roots) -> list:
    """The operator's IntervalSettled events of the last call to ``roots``."""
    logs = ob.get_logs(roots._computation, strict=False)
    return [log for log in logs if type(log).__name__ == "IntervalSettled"]


def reveal_hour(roots, hub, meter, begin, produced, consumed):
    leaf = hub_leaf(meter, begin, produced, consumed)
    tree = build_tree(HUB_LEAF_TYPES, [*filler_leaves(3, begin), leaf])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    roots.reveal(hub, leaf, tree.proofs[-1])


def publish_aggregate(roots, hub, meter, begin, end, produced, consumed):
    """The hub's aggregate root of the period, with the meter's leaf; (leaf, proof)."""
    leaf = hub_leaf(meter, begin, produced, consumed, end=end)
    tree = build_tree(HUB_LEAF_TYPES, [*filler_leaves(3, begin), leaf])
    roots.publish_aggregate_root(SECTOR, begin, end, tree.root, sender=hub)
    return leaf, tree.proofs[-1]


@pytest.fixture
def day(root_meter):
    """A past day of the meter's first owner, on the grid: (begin, end)."""
    begin = grid_time(-2)
    advance_to(begin + DAY + INTERVAL)
    return begin, begin + DAY


def test_settle_aggregate_nets_an_hour_settled_before(ob, smb, roots, hub, root_meter, alice, day):
    begin, end = day
    reveal_hour(roots, hub, root_meter, begin + INTERVAL, 2_000, 300)
    ob.settle(smb.address, root_meter, begin + INTERVAL)
    leaf, proof = publish_aggregate(roots, hub, root_meter, begin, end, 5_000, 3_000)
    roots.settle_aggregate(hub, leaf, proof)
    (event,) = settled_events(ob, roots)
    assert (event.interval_begin, event.feed_in_wh, event.retail_wh) == (begin, 3_000, 2_700)
    assert (event.account, event.reward, event.bill) == (alice, 3_000 * FEED_IN, 2_700 * RETAIL)


def test_hour_of_a_settled_period_refused(ob, smb, roots, hub, root_meter, day):
    begin, end = day
    leaf, proof = publish_aggregate(roots, hub, root_meter, begin, end, 5_000, 3_000)
    roots.settle_aggregate(hub, leaf, proof)
    reveal_hour(roots, hub, root_meter, begin + INTERVAL, 2_000, 300)
    with boa.reverts("operator: interval already settled"):
        ob.settle(smb.address, root_meter, begin + INTERVAL)


def test_settle_aggregate_twice_refused(ob, roots, hub, root_meter, day):
    begin, end = day
    leaf, proof = publish_aggregate(roots, hub, root_meter, begin, end, 5_000, 3_000)
    roots.settle_aggregate(hub, leaf, proof)
    with boa.reverts("operator: the period overlaps one already settled from its aggregate"):
        roots.settle_aggregate(hub, leaf, proof)


def test_settle_aggregate_with_an_unsettled_traded_hour_refused_then_nets_it(
    exchange, ob, smb, roots, hub, root_meter, household_meter, alice, bob
):
    """A traded hour must be settled on its own first (its deals netted); then
    the aggregate bills the rest of the period, the trade's Wh not again."""
    delivery = grid_time(3)
    offer = exchange.offer(root_meter, delivery, 1_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    advance_to(delivery + DAY + INTERVAL)
    reveal_hour(roots, hub, root_meter, delivery, 2_500, 100)
    leaf, proof = publish_aggregate(roots, hub, root_meter, delivery, delivery + DAY, 6_000, 4_000)
    with boa.reverts("operator: a traded hour of the period is not settled"):
        roots.settle_aggregate(hub, leaf, proof)
    exchange.settle(*deal)
    ob.settle(smb.address, root_meter, delivery)
    assert only_event(ob, "IntervalSettled").feed_in_wh == 1_500
    roots.settle_aggregate(hub, leaf, proof)
    (event,) = settled_events(ob, roots)
    assert (event.feed_in_wh, event.retail_wh) == (3_500, 3_900)
    assert (event.account, event.reward, event.bill) == (alice, 3_500 * FEED_IN, 3_900 * RETAIL)


def test_settle_aggregate_below_the_settled_hours_refused(ob, smb, roots, hub, root_meter, day):
    begin, end = day
    reveal_hour(roots, hub, root_meter, begin + INTERVAL, 2_000, 300)
    ob.settle(smb.address, root_meter, begin + INTERVAL)
    leaf, proof = publish_aggregate(roots, hub, root_meter, begin, end, 1_000, 3_000)
    with boa.reverts("operator: the aggregate is below the hours already settled"):
        roots.settle_aggregate(hub, leaf, proof)


def test_aggregate_and_hourly_roots_do_not_mix(roots, hub, root_meter, day):
    begin, end = day
    leaf, proof = publish_aggregate(roots, hub, root_meter, begin, end, 5_000, 3_000)
    with boa.reverts("roots: an hourly leaf is revealed only against an hourly root"):
        roots.reveal(hub, leaf, proof)
    hour = hub_leaf(root_meter, begin, 0, 100)
    tree = build_tree(HUB_LEAF_TYPES, [*filler_leaves(3, begin), hour])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    with boa.reverts("roots: an aggregate leaf is settled only against an aggregate root"):
        roots.settle_aggregate(hub, hour, tree.proofs[-1])


@pytest.mark.parametrize("caller", ["alice", "hub", "operator"])
def test_settle_aggregate_at_the_operator_by_anyone_but_roots_refused(
    ob, smb, roots, root_meter, day, request, caller
):
    begin, end = day
    with boa.reverts("operator: caller is not the backend's roots contract"):
        ob.settle_aggregate(
            smb.address, root_meter, begin, end, 0, 1, request.getfixturevalue("alice"),
            sender=request.getfixturevalue(caller),
        )  # fmt: skip


def test_publish_aggregate_root_by_anyone_but_a_hub_refused(roots, bob, day):
    begin, end = day
    with boa.reverts("roots: caller is not a data hub of this sector"):
        roots.publish_aggregate_root(SECTOR, begin, end, b"\x01" * 32, sender=bob)


def test_publish_aggregate_root_twice_or_too_long_refused(roots, hub, day):
    begin, end = day
    roots.publish_aggregate_root(SECTOR, begin, end, b"\x01" * 32, sender=hub)
    with boa.reverts("roots: the sector's aggregate root of this period is already published"):
        roots.publish_aggregate_root(SECTOR, begin, end, b"\x02" * 32, sender=hub)
    with boa.reverts("roots: the period is longer than MAX_PERIOD"):
        roots.publish_aggregate_root(SECTOR, begin - 32 * DAY, end, b"\x02" * 32, sender=hub)


def test_settle_aggregate_with_a_measurement_crossing_the_period_refused(
    ob, roots, hub, root_meter, root_meter_key, bob, day
):
    """A revealed measurement over the period's end would be counted in two settlements."""
    begin, end = day
    span = signed_leaf(
        roots, root_meter_key, root_meter, end - INTERVAL, 0, 200, end=end + INTERVAL
    )
    tree = build_tree(SIGNED_LEAF_TYPES, [span])
    roots.publish_root(SECTOR, end - INTERVAL, end + INTERVAL, tree.root, sender=bob)
    roots.reveal_signed(bob, span, tree.proofs[0])
    aggregate, proof = publish_aggregate(roots, hub, root_meter, begin, end, 0, 5_000)
    with boa.reverts("operator: a revealed measurement crosses the period's begin or end"):
        roots.settle_aggregate(hub, aggregate, proof)


def test_settle_aggregate_over_two_owners_refused(roots, smb, hub, root_meter, alice, bob, day):
    begin = day[0]
    smb.offer_meter(root_meter, bob, sender=alice)
    smb.accept_meter(root_meter, 0, sender=bob)
    advance_to(grid_time(2))
    later = (begin, grid_time(0))
    leaf, proof = publish_aggregate(roots, hub, root_meter, *later, 0, 5_000)
    with boa.reverts(
        "roots: the meter has no one owner over the period, or does not publish by root"
    ):
        roots.settle_aggregate(hub, leaf, proof)


def test_settle_aggregate_rewards_no_export_of_a_meter_not_producing(
    ob, smb, roots, hub, installer, alice, root_meter_key
):
    """As for a single hour: a consumption-only meter's export is measured,
    never rewarded."""
    meter = register_root_meter(
        smb, installer, alice, root_meter_key.address, name="balcony", kind=CONSUMPTION
    )
    begin = grid_time(1)
    advance_to(begin + DAY + INTERVAL)
    leaf, proof = publish_aggregate(roots, hub, meter, begin, begin + DAY, 900, 3_000)
    roots.settle_aggregate(hub, leaf, proof)
    (event,) = settled_events(ob, roots)
    assert (event.feed_in_wh, event.retail_wh, event.reward) == (0, 3_000, 0)

"""Revealed measurements are the measurements the operator, the registry and
the Exchange read: each works on them unchanged."""

import boa

from tests.fixtures.exchange import PRICE
from tests.fixtures.meters import INTERVAL, SECTOR, advance_to, grid_time
from tests.fixtures.operator import FEED_IN, RETAIL
from tests.fixtures.registry import certificate_id
from tests.fixtures.roots import HUB_LEAF_TYPES, build_tree, filler_leaves, hub_leaf
from tests.helpers import made_deal, only_event


def reveal_hour(roots, hub, meter, begin, produced, consumed):
    """The hub publishes ``begin``'s root with the meter's leaf among others; it is revealed."""
    leaf = hub_leaf(meter, begin, produced, consumed)
    tree = build_tree(HUB_LEAF_TYPES, [*filler_leaves(3, begin), leaf])
    roots.publish_hub_root(SECTOR, begin, tree.root, sender=hub)
    roots.reveal(hub, leaf, tree.proofs[-1])


def test_operator_settles_a_revealed_hour(ob, smb, roots, hub, root_meter, treasury, alice, bob):
    begin = grid_time(-1)
    with boa.reverts("operator: no measurement for this interval"):
        ob.settle(smb.address, root_meter, begin, sender=bob)
    reveal_hour(roots, hub, root_meter, begin, 2_000, 300)
    ob.settle(smb.address, root_meter, begin, sender=bob)
    event = only_event(ob, "IntervalSettled")
    assert (event.account, event.feed_in_wh, event.retail_wh) == (alice, 2_000, 300)
    assert ob.balance_of(alice) == 2_000 * FEED_IN - 300 * RETAIL


def test_registry_issues_revealed_production_and_retires_against_revealed_consumption(
    registry, smb, roots, hub, root_meter, alice, carol
):
    begin = grid_time(-1)
    with boa.reverts("registry: no measurement for this interval"):
        registry.issue(root_meter, begin, sender=carol)
    reveal_hour(roots, hub, root_meter, begin, 2_000, 300)
    assert registry.issue(root_meter, begin, sender=carol) == 2_000
    cert = certificate_id(root_meter, begin)
    assert registry.balanceOf(alice, cert) == 2_000
    registry.retire(cert, 300, root_meter, b"own use", sender=alice)
    with boa.reverts("registry: retiring more than was consumed"):
        registry.retire(cert, 1, root_meter, b"", sender=alice)
    assert registry.claimedBalanceOf(alice, cert) == 300


def test_exchange_settles_a_deal_from_a_revealed_hour(
    exchange, registry, ob, smb, roots, hub, root_meter, household_meter, alice, bob
):
    delivery = grid_time(3)
    offer = exchange.offer(root_meter, delivery, 1_000, PRICE, sender=alice)
    exchange.take(offer, 1_000, PRICE, 0, household_meter, sender=bob)
    deal = made_deal(exchange)
    advance_to(delivery + INTERVAL)
    reveal_hour(roots, hub, root_meter, delivery, 2_500, 0)
    exchange.settle(*deal)
    assert exchange.position(root_meter, delivery) == (1_000, 0, 0)
    assert registry.balanceOf(bob, certificate_id(root_meter, delivery)) == 1_000
    ob.settle(smb.address, root_meter, delivery)
    assert only_event(ob, "IntervalSettled").feed_in_wh == 1_500

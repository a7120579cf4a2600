"""Which plausibility bounds are in force, and where each came from (bounds.py)."""

from meter_bridge.bounds import BoundsInForce, Registration, describe
from meter_bridge.config import parse

ID = "0x" + "ab" * 32
T0 = 1_798_761_600


def in_force(**meter) -> BoundsInForce:
    config = parse({"meter": {"id": ID, **meter}})
    return BoundsInForce(config.meter, config.chain.check_every)


def test_a_producing_meter_is_bounded_by_twice_its_connection_and_by_its_capacity():
    bounds = in_force()
    said = bounds.read(Registration(connection_w=3_000, capacity_w=6_000, headroom=2), T0)
    assert (bounds.bounds.max_import_w, bounds.bounds.max_export_w) == (6_000, 6_000)
    assert said == (
        "plausibility bounds now import 6,000 W (2 x registered connection 3,000 W), "
        "export 6,000 W (registered capacity 6,000 W)"
    )


def test_a_consumption_only_meter_exports_within_its_import_bound_not_zero():
    bounds = in_force()
    bounds.read(Registration(connection_w=17_250, capacity_w=0, headroom=2), T0)
    assert (bounds.bounds.max_import_w, bounds.bounds.max_export_w) == (34_500, 34_500)
    assert describe(bounds.state()).endswith(
        "export 34,500 W (2 x registered connection 17,250 W, a consumption-only meter)"
    )


def test_the_fallback_is_in_force_until_a_read_succeeds_and_a_failure_is_said_once():
    bounds = in_force(fallback_w=20_000, max_export_w=4_000)
    assert (bounds.bounds.max_import_w, bounds.bounds.max_export_w) == (20_000, 4_000)
    assert bounds.due(T0)
    assert bounds.failed(T0, "ConnectionError: refused", "ConnectionError") == (
        "reading the registered bounds failed (ConnectionError: refused); "
        "the fallback stays in force"
    )
    assert bounds.due(T0 + 5)  # each round until one succeeds
    assert bounds.failed(T0 + 5, "ConnectionError: reset", "ConnectionError") is None
    assert bounds.state()["error"] == "ConnectionError: reset"  # the latest words
    assert bounds.read(None, T0 + 10) is not None  # not registered yet: its own words
    assert bounds.state()["import"] == {"w": 20_000, "source": "fallback"}
    assert bounds.read(Registration(3_000, 0, 2), T0 + 15) is not None
    assert bounds.state()["import"] == {"w": 6_000, "source": "registered"}
    assert bounds.state()["export"] == {"w": 4_000, "source": "configured"}
    assert (bounds.state()["read_at"], bounds.state()["error"]) == (T0 + 15, None)
    # Then every check_every seconds, and the same values again are no news.
    assert not bounds.due(T0 + 15 + 599)
    assert bounds.due(T0 + 15 + 600)
    assert bounds.read(Registration(3_000, 0, 2), T0 + 615) is None
    # A failure after a read keeps the registered values.
    bounds.failed(T0 + 1_215, "ConnectionError: refused")
    assert bounds.bounds.max_import_w == 6_000


def test_numbers_alone_read_nothing():
    bounds = in_force(max_import_w=17_250, max_export_w=6_000)
    assert not bounds.wanted
    assert not bounds.due(T0)
    assert describe(bounds.state()) == "import 17,250 W (configured), export 6,000 W (configured)"

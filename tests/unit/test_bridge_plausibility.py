"""Plausibility bounds: import and export grow no faster than the connection and the
installation allow, never go back, and a run of consistent telegrams re-bases."""

import pytest

from meter_bridge.plausibility import GRACE, Bounds, Plausibility, Point, jump

BOUNDS = Bounds(max_import_w=10_000, max_export_w=4_000, rebase_after=3)
T0 = 1_798_761_600


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        # An hour (minus the grace) at 10 kW import and 4 kW export: the most there can be.
        (Point(T0 + 3_600 - GRACE, 10_000, 4_000), None),
        (Point(T0 + 3_600 - GRACE, 10_001, 4_000), "implausible import jump"),
        (Point(T0 + 3_600 - GRACE, 10_000, 4_001), "implausible export jump"),
        (Point(T0 + 10, 0, 0), None),
        (Point(T0 + 10, -1, 0), "register went backwards"),
        (Point(T0 + 10, 0, -1), "register went backwards"),
        # Telegrams read in one burst share a second: the grace covers them.
        (Point(T0, 10_000 * GRACE // 3_600, 0), None),
        (Point(T0, 1_000_000, 0), "implausible import jump"),
    ],
)
def test_jump_is_bounded_by_rating_times_elapsed(after, reason):
    assert jump(Point(T0, 0, 0), after, BOUNDS) == reason


def test_a_single_bad_telegram_is_refused_and_the_next_good_one_accepted():
    judge = Plausibility(BOUNDS, Point(T0, 1_000, 0))
    assert judge.judge(Point(T0 + 60, 10**15, 0)) == ("implausible import jump", False)
    assert judge.judge(Point(T0 + 120, 1_100, 0)) == (None, False)
    assert judge.last == Point(T0 + 120, 1_100, 0)


def test_consistent_telegrams_after_a_jump_re_base():
    """A replaced meter: its registers start elsewhere; after three in a row, they count."""
    judge = Plausibility(BOUNDS, Point(T0, 5_000_000, 0))
    verdicts = [judge.judge(Point(T0 + 60 * i, 100 + i, 0)) for i in range(1, 5)]
    assert verdicts == [
        ("register went backwards", False),
        ("register went backwards", False),
        (None, True),
        (None, False),
    ]


def test_inconsistent_bad_telegrams_never_re_base():
    judge = Plausibility(BOUNDS, Point(T0, 1_000, 0))
    for i in range(1, 10):  # each jumps from, or falls back to, the one before
        reason, rebased = judge.judge(Point(T0 + 60 * i, 10**12 if i % 2 else 10**13, 0))
        assert reason is not None
        assert not rebased
    assert judge.last == Point(T0, 1_000, 0)


def test_the_first_telegram_is_accepted():
    assert Plausibility(BOUNDS).judge(Point(T0, 123, 4)) == (None, False)

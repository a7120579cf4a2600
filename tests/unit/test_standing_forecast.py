"""A forecast file read into standing orders (`market standing-bid --forecast`):
one order per run of consecutive hours with the same Wh, so that "up to my
forecast" is fixed at placement, as issue 19 asks."""

import pytest

from openkwh.commands.actions import forecast_runs, split_runs

H = 3_600  # seconds
T0 = 1_781_913_600  # 2026-06-20T00:00Z


def test_runs_of_equal_wh_make_one_order_each(tmp_path):
    path = tmp_path / "forecast.csv"
    path.write_text(
        "# interval, Wh\n"
        "2026-06-20T00:00Z,500\n"
        f"{T0 + H},500\n"
        "2026-06-20T02:00,800\n"  # UTC unless zoned
        "2026-06-20T03:00Z,0\n"  # nothing wanted: no order
        "\n"
        "2026-06-20T04:00Z,800\n"
        "2026-06-20T09:00Z,100\n"  # outside the period
    )
    assert forecast_runs(path, H, T0, T0 + 6 * H) == [
        (T0, T0 + H, 500),
        (T0 + 2 * H, T0 + 2 * H, 800),
        (T0 + 4 * H, T0 + 4 * H, 800),
    ]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("2026-06-20T00:00Z", "expected 'interval,wh'"),
        ("2026-06-20T00:00Z,1.5", "expected 'interval,wh'"),
        ("2026-06-20T00:30Z,100", "not an interval begin and whole Wh"),
        ("2026-06-20T00:00Z,-1", "not an interval begin and whole Wh"),
    ],
)
def test_a_bad_line_is_refused_with_its_number(tmp_path, line, says):
    path = tmp_path / "forecast.csv"
    path.write_text(f"# header\n{line}\n")
    with pytest.raises(ValueError, match=f"line 2: {says}"):
        forecast_runs(path, H, T0, T0 + H)


def test_a_run_longer_than_an_order_may_be_is_split():
    """The Auction takes at most MAX_INTERVALS (672) intervals an order; a month is two."""
    month = (T0, T0 + 743 * H, 500)
    assert split_runs([month, (T0 + 800 * H, T0 + 800 * H, 9)], H, 672) == [
        (T0, T0 + 671 * H, 500),
        (T0 + 672 * H, T0 + 743 * H, 500),
        (T0 + 800 * H, T0 + 800 * H, 9),
    ]
    assert split_runs([(T0, T0 + 671 * H, 1)], H, 672) == [(T0, T0 + 671 * H, 1)]

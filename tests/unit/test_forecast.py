"""The forecast behind "up to my forecast" (openkwh/forecast.py), on the shape of a
real rooftop-solar prosumer's hourly registers: three days (sunny, cloudy, sunny
with the meter off line for three hours, and never reporting 23:00), in whole Wh,
on the UTC grid."""

from __future__ import annotations

import calendar
import sqlite3

import pytest

from openkwh.dapp.indexer import connect
from openkwh.forecast import (
    DAY,
    ForecastError,
    NoHistory,
    forecast,
    from_index,
    median,
    runs,
    standing_orders,
)

HOUR = 3_600


def at(text: str) -> int:
    """Unix seconds of a UTC time written 'YYYY-MM-DD HH:MM'."""
    return calendar.timegm(
        (int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), 0)
    )


# Export (produced_wh) per UTC hour 6 to 18; none at night.
SUNNY = [120, 480, 1100, 1900, 2601, 3000, 3100, 2900, 2400, 1700, 900, 300, 40]
CLOUDY = [60, 240, 550, 950, 1300, 1500, 1550, 1450, 1200, 850, 450, 150, 20]
SUNNY_AGAIN = [100, 500, 1000, 2000, None, None, 3200, 2800, 2500, 1600, 950, 280, 30]
# Import (consumed_wh) at hour 0 and 19; 250 Wh the other night hours, 0 by day.
MIDNIGHT = [400, 380, 420]
EVENING = [900, 1101, None]
NOW = at("2026-06-04 00:30")


def history() -> list[tuple[int, int, int]]:
    rows = []
    for day, (export, midnight, evening) in enumerate(
        zip((SUNNY, CLOUDY, SUNNY_AGAIN), MIDNIGHT, EVENING, strict=True)
    ):
        start = at("2026-06-01 00:00") + day * DAY
        for hour in range(23):  # the meter never reports the 23:00 hour: a gap every day
            produced, consumed = 0, 250
            if 6 <= hour <= 18:
                produced, consumed = export[hour - 6], 0
                if produced is None:
                    continue  # off line
            elif hour == 0:
                consumed = midnight
            elif hour == 19:
                if evening is None:
                    continue
                consumed = evening
            rows.append((start + hour * HOUR, produced, consumed))
    # Outside the window: the day before it.
    rows.append((at("2026-05-31 12:00"), 99_999, 99_999))
    return rows


OFFER_PROFILE = (
    [0] * 6 + [100, 480, 1000, 1900, 1950, 2250, 3100, 2800, 2400, 1600, 900, 280, 30] + [0] * 5
)
BID_PROFILE = [400] + [250] * 5 + [0] * 13 + [1000, 250, 250, 250, 0]


def test_forecast_offer_is_the_median_export_per_utc_hour():
    fc = forecast(history(), "offer", NOW, days=3)
    assert list(fc.profile) == OFFER_PROFILE
    assert (fc.since, fc.until) == (at("2026-06-01 00:00"), at("2026-06-04 00:00"))


def test_forecast_bid_is_the_median_import_per_utc_hour():
    fc = forecast(history(), "bid", NOW, days=3)
    assert list(fc.profile) == BID_PROFILE


def test_forecast_leaves_gaps_out_and_counts_the_samples():
    fc = forecast(history(), "offer", NOW, days=3)
    # Hours 10 and 11 missed one day: the median of the two others (2601 and 1300:
    # 1950, floored), not of three with a zero. Hour 23 never came: 0, from nothing.
    assert fc.samples[10] == fc.samples[11] == 2
    assert fc.samples[19] == 2
    assert fc.samples[23] == 0
    assert fc.profile[23] == 0
    assert fc.samples[12] == 3


def test_forecast_vector_over_a_range_across_midnight():
    fc = forecast(history(), "offer", NOW, days=3)
    first, last = at("2026-06-04 12:00"), at("2026-06-05 13:00")
    evening = [3100, 2800, 2400, 1600, 900, 280, 30, 0, 0, 0, 0, 0]
    morning = [0, 0, 0, 0, 0, 0, 100, 480, 1000, 1900, 1950, 2250, 3100, 2800]
    assert fc.vector(first, last) == [*evening, *morning]


def test_forecast_vector_refuses_an_interval_off_the_grid():
    fc = forecast(history(), "offer", NOW, days=3)
    with pytest.raises(ForecastError, match="must be interval begins"):
        fc.vector(at("2026-06-04 12:00") + 60, at("2026-06-04 13:00"))


def test_forecast_new_meter_has_no_history():
    with pytest.raises(NoHistory, match="no history to forecast from"):
        forecast([], "offer", NOW)


def test_forecast_history_only_outside_the_window_is_none():
    old = [(at("2026-05-01 12:00"), 3_000, 0), (at("2026-05-20 23:00"), 3_000, 0)]
    with pytest.raises(NoHistory, match="no measurement in the 14 days"):
        forecast(old, "offer", NOW)


def test_standing_orders_refuses_a_forecast_of_nothing():
    fc = forecast(history(), "offer", NOW, days=3)
    with pytest.raises(ForecastError, match="nothing to place"):
        standing_orders(fc, at("2026-06-04 20:00"), at("2026-06-05 05:00"))


def test_standing_orders_one_per_run_of_equal_wh():
    fc = forecast(history(), "bid", NOW, days=3)
    first = at("2026-06-04 19:00")
    assert standing_orders(fc, first, at("2026-06-05 06:00")) == [
        (first, first, 1000),
        (first + HOUR, first + 3 * HOUR, 250),
        (first + 5 * HOUR, first + 5 * HOUR, 400),
        (first + 6 * HOUR, first + 10 * HOUR, 250),
    ]


def test_runs_skip_zero_and_split_on_change():
    assert runs(0, [5, 5, 0, 7, 7, 7, 5], HOUR) == [
        (0, HOUR, 5),
        (3 * HOUR, 5 * HOUR, 7),
        (6 * HOUR, 6 * HOUR, 5),
    ]


def test_forecast_utc_grid_has_no_daylight_saving_shift():
    # Europe's clocks went forward on 2026-03-29: UTC's 01:00 is the same slot on both days.
    rows = [(at("2026-03-28 01:00"), 700, 0), (at("2026-03-29 01:00"), 900, 0)]
    fc = forecast(rows, "offer", at("2026-03-30 00:00"), days=2)
    assert len(fc.profile) == 24
    assert fc.profile[1] == 800
    assert fc.samples[1] == 2
    assert sum(fc.profile) == 800


def test_forecast_quarter_hour_grid():
    rows = [(at("2026-06-03 12:15"), 50, 0), (at("2026-06-03 12:45"), 30, 0)]
    fc = forecast(rows, "offer", NOW, interval=900, days=1)
    assert len(fc.profile) == 96
    assert (fc.profile[49], fc.profile[51], sum(fc.profile)) == (50, 30, 80)


@pytest.mark.parametrize(
    ("side", "interval", "days", "message"),
    [
        ("sell", 3_600, 14, "side must be offer or bid"),
        ("offer", 7_000, 14, "must divide a day"),
        ("offer", 3_600, 0, "days must be between 1 and 90"),
        ("offer", 3_600, 91, "days must be between 1 and 90"),
    ],
)
def test_forecast_refuses_bad_arguments(side, interval, days, message):
    with pytest.raises(ForecastError, match=message):
        forecast(history(), side, NOW, interval, days)


def test_median_whole_wh():
    assert median([3]) == 3
    assert median([5, 1, 3]) == 3
    assert median([2601, 1300]) == 1950
    assert median([1, 2, 3, 4]) == 2


def test_from_index_reads_the_dapp_index(tmp_path):
    db: sqlite3.Connection = connect(tmp_path / "index.sqlite")
    meter = "0x" + "ab" * 32
    db.executemany(
        "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?)",
        [(meter, begin, begin + HOUR, str(p), str(c), "0x") for begin, p, c in history()],
    )
    db.execute(
        "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?)",
        ("0x" + "cd" * 32, at("2026-06-02 12:00"), at("2026-06-02 13:00"), "77777", "0", "0x"),
    )
    fc = from_index(db, meter, "offer", NOW, days=3)
    assert list(fc.profile) == OFFER_PROFILE
    with pytest.raises(NoHistory):
        from_index(db, "0x" + "ef" * 32, "bid", NOW)


def test_forecast_window_is_the_last_days_up_to_the_current_interval():
    rows = [
        (at("2026-06-03 11:00"), 500, 0),  # 25 hours before now's interval: out
        (at("2026-06-03 12:00"), 600, 0),  # first in
        (at("2026-06-04 11:00"), 700, 0),  # last in
        (at("2026-06-04 12:00"), 800, 0),  # now's interval, not over: out
    ]
    fc = forecast(rows, "offer", at("2026-06-04 12:30"), days=1)
    assert (fc.since, fc.until) == (at("2026-06-03 12:00"), at("2026-06-04 12:00"))
    assert (fc.profile[11], fc.profile[12], fc.samples[11], fc.samples[12]) == (700, 600, 1, 1)

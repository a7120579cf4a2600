"""A meter's forecast from its own history: the Wh per interval that "up to my
forecast" standing orders (issue 19) fix at placement.

The method, on the UTC interval grid (no daylight saving, every day the same
``86_400 // interval`` slots):

* the history is the meter's on-chain measurements of the last ``days`` days
  before ``now``: intervals that began in ``[until - days x 86_400, until)``,
  ``until`` being the begin of the interval ``now`` is in, so every slot of the
  day has at most ``days`` values;
* an offer's amount per interval is the measured export (``produced_wh``): the
  surplus the connection fed into the grid after the household's own use, which
  is what the Exchange's settlement measures a seller's delivery against; a
  bid's is the measured import (``consumed_wh``);
* each slot of the day (hour 0 to 23 on an hourly chain) forecasts the median of
  that slot's measured values over those days: the middle value, or for an even
  count the floor of the mean of the two middle ones. Integer Wh throughout, never
  below 0;
* a missing measurement (a gap: the meter was off line) is left out, not counted
  as 0; a slot with no measurement at all forecasts 0 Wh, and ``samples`` says so;
* a meter with no measurement in the window has no forecast (``NoHistory``): no
  order is placed on a forecast of nothing.

``forecast()`` is pure (the measurements come in as tuples); ``from_index()``
reads them from the dApp's index (``openkwh/dapp/schema.sql``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

DAY = 86_400  # seconds
DEFAULT_DAYS = 14
MAX_DAYS = 90
SIDES = ("offer", "bid")


class ForecastError(ValueError):
    """A forecast that cannot be made, in words a user can act on."""


class NoHistory(ForecastError):
    """The meter has no measurement in the window."""


@dataclass(frozen=True)
class Forecast:
    side: str  # "offer" (export) or "bid" (import)
    interval: int  # seconds
    since: int  # unix seconds, first interval begin of the window
    until: int  # unix seconds, end of the window (exclusive): the begin of now's interval
    profile: tuple[int, ...]  # Wh per slot of the UTC day, slot = (begin % DAY) // interval
    samples: tuple[int, ...]  # measurements behind each slot's value

    def wh_at(self, begin: int) -> int:
        """The forecast Wh of the interval beginning at ``begin`` (unix seconds)."""
        return self.profile[(begin % DAY) // self.interval]

    def vector(self, first: int, last: int) -> list[int]:
        """Wh per interval from ``first`` to ``last`` (interval begins, both included,
        on the grid): what "up to my forecast" fixes at placement."""
        if first % self.interval or last % self.interval:
            raise ForecastError(f"{first} and {last} must be interval begins ({self.interval} s)")
        if last < first:
            raise ForecastError(f"the range ends ({last}) before it begins ({first})")
        return [self.wh_at(begin) for begin in range(first, last + 1, self.interval)]


def median(values: list[int]) -> int:
    """The median in whole Wh: the middle value, or the floor of the two middle ones' mean."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def window(now: int, days: int, interval: int) -> tuple[int, int]:
    """The history's [since, until): the ``days`` days before the interval ``now`` is in."""
    if not 1 <= days <= MAX_DAYS:
        raise ForecastError(f"days must be between 1 and {MAX_DAYS}, got {days}")
    until = now - now % interval
    return until - days * DAY, until


def forecast(
    measurements: Iterable[tuple[int, int, int]],
    side: str,
    now: int,
    interval: int = 3_600,
    days: int = DEFAULT_DAYS,
) -> Forecast:
    """The forecast of one meter for ``side`` ("offer" or "bid").

    ``measurements`` are the meter's ``(interval_begin, produced_wh, consumed_wh)``,
    in any order and may hold more than the window (the rest is ignored); ``now`` is
    the chain's time (unix seconds); ``interval`` the meters' interval (900 or 3,600 s,
    dividing a day). Raises ``NoHistory`` when no measurement lies in the window,
    ``ForecastError`` for a bad side, interval or number of days."""
    if side not in SIDES:
        raise ForecastError(f"side must be offer or bid, got {side!r}")
    if interval <= 0 or DAY % interval:
        raise ForecastError(f"the interval ({interval} s) must divide a day")
    since, until = window(now, days, interval)
    slots: list[list[int]] = [[] for _ in range(DAY // interval)]
    for begin, produced, consumed in measurements:
        if since <= begin < until and begin % interval == 0:
            slots[(begin % DAY) // interval].append(
                max(produced if side == "offer" else consumed, 0)
            )
    if not any(slots):
        raise NoHistory(
            f"no measurement in the {days} days before {until} (unix seconds): the meter "
            "has no history to forecast from; give the Wh per interval instead"
        )
    return Forecast(
        side=side,
        interval=interval,
        since=since,
        until=until,
        profile=tuple(median(values) if values else 0 for values in slots),
        samples=tuple(len(values) for values in slots),
    )


def from_index(
    db: sqlite3.Connection,
    meter_id: str,
    side: str,
    now: int,
    interval: int = 3_600,
    days: int = DEFAULT_DAYS,
) -> Forecast:
    """``forecast()`` of a meter (0x-hex bytes32, lower case) from the dApp's index."""
    if interval <= 0 or DAY % interval:
        raise ForecastError(f"the interval ({interval} s) must divide a day")
    since, until = window(now, days, interval)
    rows = db.execute(
        "SELECT interval_begin, produced_wh, consumed_wh FROM measurements "
        "WHERE meter_id = ? AND interval_begin >= ? AND interval_begin < ?",
        (meter_id, since, until),
    )
    return forecast(
        ((begin, int(produced), int(consumed)) for begin, produced, consumed in rows),
        side,
        now,
        interval,
        days,
    )


def runs(first: int, vector: list[int], interval: int) -> list[tuple[int, int, int]]:
    """The vector as standing orders the Auction takes today (one Wh per order): each
    run of consecutive intervals with the same Wh above 0 is one ``(first, last, wh)``.
    Intervals forecast at 0 Wh get no order."""
    orders: list[tuple[int, int, int]] = []
    for i, wh in enumerate(vector):
        begin = first + i * interval
        if wh == 0:
            continue
        if orders and orders[-1][2] == wh and orders[-1][1] + interval == begin:
            orders[-1] = (orders[-1][0], begin, wh)
        else:
            orders.append((begin, begin, wh))
    return orders


def standing_orders(fc: Forecast, first: int, last: int) -> list[tuple[int, int, int]]:
    """The ``(first, last, wh)`` standing orders that place "up to my forecast" for the
    intervals ``first`` to ``last``; a forecast of 0 Wh in every one of them is refused
    (``ForecastError``), never placed as nothing."""
    orders = runs(first, fc.vector(first, last), fc.interval)
    if not orders:
        raise ForecastError(
            f"the forecast is 0 Wh in every interval from {first} to {last}: there is "
            "nothing to place; give the Wh per interval instead"
        )
    return orders

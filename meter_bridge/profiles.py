"""Realistic hourly energy profiles in whole Wh, for the demo and the meter simulator.

The shapes are integer tables, so the simulated registers are exact.
"""

from __future__ import annotations

# Share of peak power per hour of the (UTC) day, in per mille: a clear-sky bell
# curve for a south-facing roof in Denmark in late spring, sunrise ~05, sunset ~21.
SOLAR_SHAPE = (
    0,
    0,
    0,
    0,
    0,
    10,
    60,
    160,
    300,
    460,
    610,
    730,
    790,
    800,
    760,
    670,
    540,
    390,
    240,
    110,
    30,
    0,
    0,
    0,
)

# A household's consumption per hour, in Wh: night base load, a morning peak and
# the evening cooking and lighting peak (about 9.7 kWh a day).
HOUSEHOLD_WH = (
    250,
    220,
    200,
    200,
    210,
    260,
    420,
    610,
    480,
    330,
    300,
    320,
    360,
    330,
    310,
    350,
    480,
    720,
    880,
    900,
    760,
    560,
    400,
    300,
)

# Cloud cover per day, in per mille of clear-sky output: sunny, then overcast.
WEATHER = (1000, 550)

HOUR = 3_600  # seconds


def solar_wh(peak_w: int, timestamp: int) -> int:
    """Wh a ``peak_w`` array produces in the hour that begins at ``timestamp`` (unix, UTC)."""
    hour = timestamp // HOUR % 24
    day = timestamp // (24 * HOUR)
    return peak_w * SOLAR_SHAPE[hour] * WEATHER[day % len(WEATHER)] // 1_000_000


def household_wh(timestamp: int, scale_percent: int = 100) -> int:
    """Wh a household consumes in the hour that begins at ``timestamp``."""
    return HOUSEHOLD_WH[timestamp // HOUR % 24] * scale_percent // 100


def net_flows(produced_wh: int, consumed_wh: int) -> tuple[int, int]:
    """(import, export) at the grid connection of a house with panels: it uses its own
    production first, imports the shortfall and exports the surplus."""
    return max(consumed_wh - produced_wh, 0), max(produced_wh - consumed_wh, 0)

"""A meter that writes real-format telegrams (DSMR 2.2, 4, 5 or SML) to a serial line.

Its registers follow the integer solar or household profiles of
``meter_bridge.profiles``, spread evenly over each hour, so every register
value is exact; ``shade`` dims the sun in chosen hours (a passing cloud). It keeps device time with the same clock as the bridge
(optionally accelerated) and writes a telegram every ``every`` seconds of it.
"""

from __future__ import annotations

import os
import select
import threading
from dataclasses import dataclass, field

from meter_bridge import profiles
from meter_bridge.config import ClockConfig
from meter_bridge.telegrams import dsmr_telegram, sml_frame

HOUR = 3_600
# Seconds between telegrams as the meters send them.
PERIOD = {"dsmr2.2": 10, "dsmr4": 10, "dsmr5": 1, "sml": 1}
NIGHT = range(0, 7)  # UTC hours on tariff 1; the rest of the day is tariff 2


@dataclass
class SimulatedMeter:
    protocol: str
    peak_w: int = 0  # solar array; 0 for a household without panels
    load_percent: int = 100
    equipment_id: str = "E0031003000012345"
    import_wh: list[int] = field(default_factory=lambda: [4_210_000, 3_120_000])  # tariff 1, 2
    export_wh: list[int] = field(default_factory=lambda: [1_870_000, 0])
    clock_offset: int = 0  # seconds the meter's own clock is off
    shade: dict[int, int] = field(default_factory=dict)  # hour begin -> percent of the sun
    _hour: int | None = None  # begin of the hour the registers stand at

    def flows(self, begin: int) -> tuple[int, int]:
        """(import Wh, export Wh) during the hour that begins at ``begin``."""
        solar = profiles.solar_wh(self.peak_w, begin) if self.peak_w else 0
        solar = solar * self.shade.get(begin, 100) // 100
        return profiles.net_flows(solar, profiles.household_wh(begin, self.load_percent))

    def registers_at(self, t: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Registers (tariff 1, tariff 2) at device time ``t``; time only moves forward."""
        begin = t - t % HOUR
        if self._hour is None:
            self._hour = begin
        while self._hour < begin:
            imported, exported = self.flows(self._hour)
            tariff = 0 if self._hour // HOUR % 24 in NIGHT else 1
            self.import_wh[tariff] += imported
            self.export_wh[tariff] += exported
            self._hour += HOUR
        imported, exported = self.flows(begin)
        part = t - begin
        tariff = 0 if begin // HOUR % 24 in NIGHT else 1
        imports, exports = list(self.import_wh), list(self.export_wh)
        imports[tariff] += imported * part // HOUR
        exports[tariff] += exported * part // HOUR
        return (imports[0], imports[1]), (exports[0], exports[1])

    def telegram(self, t: int, sequence: int) -> bytes:
        imports, exports = self.registers_at(t)
        imported, exported = self.flows(t - t % HOUR)
        if self.protocol == "sml":
            server = bytes.fromhex("0a01") + self.equipment_id.encode()[-8:]
            return sml_frame(server, sum(imports), sum(exports), sequence, imported - exported)
        return dsmr_telegram(
            self.protocol.removeprefix("dsmr"),
            self.equipment_id,
            imports,
            exports,
            t + self.clock_offset,
            imported,
            exported,
        )


def run(
    fd: int,
    meter: SimulatedMeter,
    clock: ClockConfig,
    every: int | None = None,
    count: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Writes telegrams to ``fd`` as device time passes; returns how many."""
    stop = stop or threading.Event()
    every = every or PERIOD[meter.protocol]
    # The first telegram at the next multiple of ``every``, not before the clock's origin.
    due = max(clock.now(), int(clock.origin))
    due += -due % every
    written = 0
    while not stop.is_set() and (count is None or written < count):
        now = clock.now()
        if now < due:
            stop.wait((due - now) / clock.speed)
            continue
        if not _write(fd, meter.telegram(due, written), stop):
            break
        written += 1
        due += every
    return written


def _write(fd: int, data: bytes, stop: threading.Event) -> bool:
    """Writes all of ``data``, waiting while the line is full (nobody reads it: the
    bridge is down), but never past ``stop``; True when all was written."""
    os.set_blocking(fd, False)
    view = memoryview(data)
    while view:
        if stop.is_set():
            return False
        _, writable, _ = select.select([], [fd], [], 0.2)
        if writable:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
    return True

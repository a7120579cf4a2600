"""Plausibility of a telegram's registers against the last one stored.

Between two telegrams, import can grow by at most the connection's rating
times the time between them, and export by at most the producing installation's
capacity times that time; neither register ever goes back. A telegram outside
these bounds is refused with its reason ("implausible import jump",
"implausible export jump", "register went backwards") and kept as evidence.

One bad telegram must not stop readings for hours, and a meter that was
replaced or reset must not stop them for ever: once ``rebase_after`` telegrams
in a row are consistent with each other (but not with the last one stored),
the bridge re-bases on them, accepts the last, and says so in `status`.

Pure logic: integer Wh and seconds, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR = 3_600  # seconds
# Seconds added to the time between two telegrams: telegrams read in one burst
# (a busy reader, a serial buffer) are stamped with the same second.
GRACE = 60  # seconds


@dataclass(frozen=True)
class Bounds:
    max_import_w: int  # the connection's rating, W
    max_export_w: int  # the producing installation's capacity, W
    rebase_after: int  # consistent telegrams in a row before a re-base


@dataclass(frozen=True)
class Point:
    at: int  # unix seconds, this device's clock
    import_wh: int
    export_wh: int


def jump(before: Point, after: Point, bounds: Bounds) -> str | None:
    """Why ``after`` cannot follow ``before``, or None if it can."""
    if after.import_wh < before.import_wh or after.export_wh < before.export_wh:
        return "register went backwards"
    seconds = max(after.at - before.at, 0) + GRACE
    if (after.import_wh - before.import_wh) * HOUR > bounds.max_import_w * seconds:
        return "implausible import jump"
    if (after.export_wh - before.export_wh) * HOUR > bounds.max_export_w * seconds:
        return "implausible export jump"
    return None


class Plausibility:
    """Judges each telegram against the last accepted one."""

    def __init__(self, bounds: Bounds, last: Point | None = None):
        self.bounds = bounds
        self.last = last
        self.run: list[Point] = []  # refused telegrams consistent with each other

    def judge(self, point: Point) -> tuple[str | None, bool]:
        """(why it is refused, or None; whether accepting it re-based)."""
        if self.last is None:
            self.last = point
            return None, False
        reason = jump(self.last, point, self.bounds)
        if reason is None:
            self.last, self.run = point, []
            return None, False
        if self.run and jump(self.run[-1], point, self.bounds) is None:
            self.run.append(point)
        else:
            self.run = [point]
        if len(self.run) >= self.bounds.rebase_after:
            self.last, self.run = point, []
            return None, True
        return reason, False

"""The plausibility bounds in force, and where each came from.

Each of ``[meter] max_import_w`` and ``max_export_w`` is a number of W, or
``registered``: then it is what the SmartMeterBackend registers for the meter,
read when the bridge starts and again every ``[chain] check_every`` seconds, so
that an operator's ``set_connection_rating`` reaches the bridge without a
restart. The rule is the contract's own, so that the bridge skips what the
chain would refuse and nothing an honest meter can show:

- import: ``CONNECTION_HEADROOM`` (2) times the registered connection rating,
  as the contract bounds a reading's consumption (a fuse carries up to 1.45
  times its rating for an hour);
- export of a producing meter: its registered capacity, as the contract bounds
  its production;
- export of a consumption-only meter, registered with capacity 0: the contract
  records that export (a balcony panel nobody registered) but neither bounds
  nor certifies it, so an export bound of 0 W would skip every telegram of such
  a meter, import and all, whenever its export register moves. Its export is
  bounded as its import is: no connection carries more either way.

Until the first successful read, a ``registered`` bound is ``[meter]
fallback_w``. A read that fails (the node down, the meter not registered yet)
keeps the bounds in force, the fallback or the last values read; it is retried
at the next round until one succeeds, then every ``check_every`` seconds.

Pure logic: integer W and seconds, no I/O; ``read`` is given the registration.
"""

from __future__ import annotations

from dataclasses import dataclass

from meter_bridge.config import REGISTERED, MeterConfig
from meter_bridge.plausibility import Bounds


@dataclass(frozen=True)
class Registration:
    """What the SmartMeterBackend registers for a meter, in W."""

    connection_w: int
    capacity_w: int  # 0: a consumption-only meter
    headroom: int  # the contract's CONNECTION_HEADROOM

    @property
    def import_w(self) -> int:
        return self.headroom * self.connection_w

    @property
    def export_w(self) -> int:
        return self.capacity_w if self.capacity_w else self.import_w


def registration_of(meter_info, headroom: int) -> Registration | None:
    """A Registration from the contract's ``meter(meter_id)`` (a MeterInfo tuple),
    or None for a meter it does not know (every field empty)."""
    capacity_w, connection_w = meter_info[6], meter_info[7]
    if connection_w == 0:  # the contract refuses a registration without one
        return None
    return Registration(connection_w, capacity_w, headroom)


class BoundsInForce:
    """The bounds the reader applies, which of them are registered, and how the
    last read of the registration went."""

    def __init__(self, meter: MeterConfig, every: int):
        self.meter = meter
        self.every = every  # seconds between reads once one succeeded
        self.registered = {
            name: getattr(meter, f"max_{name}_w") == REGISTERED for name in ("import", "export")
        }
        self.registration: Registration | None = None
        self.read_at: int | None = None  # the last successful read
        self.tried_at: int | None = None
        self.error: str | None = None  # why the last read failed, if it did
        self._failure: str | None = None  # what was last logged of a failure
        self.bounds = self._bounds()

    @property
    def wanted(self) -> bool:
        """Whether any bound comes from the chain."""
        return any(self.registered.values())

    def due(self, now: int) -> bool:
        if not self.wanted:
            return False
        if self.read_at is None or self.tried_at is None:
            return True  # the fallback is in force: every round until a read succeeds
        return now - self.tried_at >= self.every

    def _bound(self, name: str) -> tuple[int, str]:
        """(W, where it came from: configured, registered or fallback)."""
        if not self.registered[name]:
            return getattr(self.meter, f"max_{name}_w"), "configured"
        if self.registration is None:
            return self.meter.fallback_w, "fallback"
        return getattr(self.registration, f"{name}_w"), "registered"

    def _bounds(self) -> Bounds:
        return Bounds(self._bound("import")[0], self._bound("export")[0], self.meter.rebase_after)

    def read(self, registration: Registration | None, now: int) -> str | None:
        """Takes a read of the registration (None: the meter is not registered);
        returns what to log when the bounds change, once."""
        self.tried_at = now
        if registration is None:
            return self.failed(now, "the meter is not registered on chain")
        self.read_at, self.error, self._failure = now, None, None
        if registration == self.registration:
            return None
        self.registration = registration
        self.bounds = self._bounds()
        return f"plausibility bounds now {describe(self.state())}"

    def failed(self, now: int, error: str, kind: str | None = None) -> str | None:
        """Notes a read that failed; returns what to log, once for the same
        ``kind`` of failure (an exception's type: a node that is down words the
        same refusal differently from one try to the next), else the same error."""
        self.tried_at = now
        news = (kind or error) != self._failure
        self.error, self._failure = error, kind or error
        if not news:
            return None
        kept = "the last registered values stay" if self.registration else "the fallback stays"
        return f"reading the registered bounds failed ({error}); {kept} in force"

    def state(self) -> dict:
        """What `status` shows (JSON)."""
        registration = self.registration
        return {
            **{
                name: dict(zip(("w", "source"), self._bound(name), strict=True))
                for name in ("import", "export")
            },
            "registration": None
            if registration is None
            else {
                "connection_w": registration.connection_w,
                "capacity_w": registration.capacity_w,
                "headroom": registration.headroom,
            },
            "read_at": self.read_at,
            "error": self.error,
        }


def describe(state: dict) -> str:
    """One line: each bound, where it came from."""
    registration = state["registration"]
    parts = []
    for name in ("import", "export"):
        bound = state[name]
        source = bound["source"]
        if source == "registered":
            if name == "export" and registration["capacity_w"]:
                why = f"registered capacity {registration['capacity_w']:,} W"
            else:
                why = (
                    f"{registration['headroom']} x registered connection "
                    f"{registration['connection_w']:,} W"
                )
                if name == "export":
                    why += ", a consumption-only meter"
        elif source == "fallback":
            why = "fallback_w: the registration not read yet"
        else:
            why = "configured"
        parts.append(f"{name} {bound['w']:,} W ({why})")
    return ", ".join(parts)

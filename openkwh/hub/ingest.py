"""What comes into the hub, checked, as leaves: meter-signed readings and DataHub files.

Every leaf is one interval of the hub's grid (``interval_length``), since a
hub root covers one interval (MeasurementRoots' ``publish_hub_root``). An
input is refused with a reason, never silently dropped:

- ``unknown meter``: the meter id (or metering point id) is not one the hub serves;
- ``bad signature``: the meter key did not sign this measurement;
- ``overlapping interval``: the meter already has a measurement of the interval
  (for a meter-signed reading: one of the same Wh, so a bridge may count it delivered);
- ``conflicting measurement``: a meter-signed reading of an interval whose
  measurement the hub holds with other Wh (from a DataHub file, say): the
  hub keeps the first, and the bridge marks its reading rejected;
- ``negative Wh`` / ``absurd Wh``: a quantity below 0, or above what the
  meter's connection can carry over the interval (``max_w`` x the interval);
- ``bad interval`` / ``bad field``: not one interval of the grid, or a field
  out of its range;
- ``published interval``: the hub has published its sector's roots of that
  interval already; a leaf added later could never be proved against them.

Each leaf gets a salt: HMAC-SHA256 under the hub's salt key of the meter id
and the interval begin (32 bytes), so it is reproducible by the hub alone and
unguessable by anyone else (without the key, an unrevealed leaf's values
cannot be tried against the root). HMAC rather than keccak256: it is a PRF
by design, and hashlib's C makes it 20 times faster in Python.

The bulk file (`openkwh hub import`) is the shape of Energinet's DataHub
time-series exports (Eloverblik, DataHub 3's measurements): one row per
metering point and interval, ``;``-separated, a header row, UTC times:

    metering_point_id;begin;end;quantity_wh;quality;type
    571313180400012349;2026-06-01T10:00:00Z;2026-06-01T11:00:00Z;512;measured;E17

``quantity_wh`` is an integer in Wh (DataHub's kWh with three decimals are
Wh: multiply by 1000); ``quality`` is ``measured``, ``estimated`` or
``calculated`` (DataHub's E01, 56, D01), a ``missing`` row is refused;
``type`` is E17 (consumption, the default when the column is absent) or E18
(production). A meter's E17 and E18 rows of one interval make one leaf.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from openkwh.hub.leaves import (
    UINT64_MAX,
    Leaf,
    SignatureError,
    measurement_digest,
    recover,
    word,
)
from openkwh.hub.store import Store

CSV_COLUMNS = ("metering_point_id", "begin", "end", "quantity_wh", "quality")
QUALITIES = {"measured": "measured", "estimated": "estimated", "calculated": "calculated",
             "e01": "measured", "56": "estimated", "d01": "calculated"}  # fmt: skip
TYPES = {"e17": "consumed_wh", "e18": "produced_wh"}
HOUR = 3_600  # seconds


@dataclass
class Outcome:
    """What an ingest did: how many leaves it stored and what it refused, why."""

    accepted: int = 0
    refused: list[dict] = field(default_factory=list)  # {"at": index or line, "reason": ...}

    def refuse(self, at, reason: str) -> None:
        self.refused.append({"at": at, "reason": reason})

    def as_json(self) -> dict:
        return {"accepted": self.accepted, "refused": self.refused}


class Refused(ValueError):
    """One input's refusal; its message is the reason."""


def span(begin: int, end: int) -> str:
    """An interval in the words a refusal shows: UTC times as the DataHub file writes them."""
    return f"{_iso(begin)} to {_iso(end)}"


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wh(leaf: Leaf) -> tuple[int, int]:
    return (leaf.produced_wh, leaf.consumed_wh)


def salt_for(salt_key: bytes, meter_id: bytes, interval_begin: int) -> bytes:
    return hmac.new(salt_key, meter_id + word(interval_begin), hashlib.sha256).digest()


class Ingestor:
    def __init__(
        self, store: Store, interval_length: int, domain_separator: bytes, salt_key: bytes
    ):
        self.store = store
        self.interval_length = interval_length
        self.domain_separator = domain_separator
        self.salt_key = salt_key
        self._meters: dict[bytes, dict | None] = {}

    def _meter(self, meter_id: bytes) -> dict | None:
        if meter_id not in self._meters:
            self._meters[meter_id] = self.store.meter(meter_id)
        return self._meters[meter_id]

    def _check_interval(self, begin: int, end: int) -> None:
        if begin % self.interval_length or end - begin != self.interval_length:
            raise Refused(
                f"bad interval: {span(begin, end)} is not one interval of the "
                f"{self.interval_length} s grid"
            )

    def _check_wh(self, max_w: int, **quantities: int) -> None:
        most = max_w * self.interval_length // HOUR
        for name, value in quantities.items():
            if value < 0:
                raise Refused(f"negative Wh: {name} is {value}")
            if value > most:
                raise Refused(
                    f"absurd Wh: {name} is {value} Wh, above the {most} Wh the meter's "
                    f"{max_w} W connection carries in {self.interval_length} s"
                )

    # METER-SIGNED READINGS

    def signed_leaf(self, reading: dict) -> Leaf:
        """The leaf of one meter-signed reading (the bridge's JSON), checked; raises Refused."""
        try:
            meter_id = bytes.fromhex(str(reading["meter_id"]).removeprefix("0x"))
            values = {name: reading[name] for name in (
                "interval_begin", "interval_end", "produced_wh", "consumed_wh",
                "import_wh", "export_wh", "v")}  # fmt: skip
            digest = bytes.fromhex(str(reading["data_digest"]).removeprefix("0x"))
            r = bytes.fromhex(str(reading["r"]).removeprefix("0x"))
            s = bytes.fromhex(str(reading["s"]).removeprefix("0x"))
        except (KeyError, TypeError, ValueError) as exc:
            raise Refused(f"bad field: {exc}") from exc
        for name, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise Refused(f"bad field: {name} must be an integer, got {value!r}")
            if value < 0 and name.endswith("_wh"):
                raise Refused(f"negative Wh: {name} is {value}")
            if not 0 <= value <= UINT64_MAX:
                raise Refused(f"bad field: {name} must be in [0, 2**64), got {value}")
        if len(meter_id) != 32 or len(digest) != 32 or len(r) != 32 or len(s) != 32:
            raise Refused("bad field: meter_id, data_digest, r and s must be 32 bytes each")
        meter = self._meter(meter_id)
        if meter is None:
            raise Refused(f"unknown meter: 0x{meter_id.hex()} is not a meter of this hub")
        begin, end = values["interval_begin"], values["interval_end"]
        self._check_interval(begin, end)
        self._check_wh(meter["max_w"], produced_wh=values["produced_wh"],
                       consumed_wh=values["consumed_wh"])  # fmt: skip
        if (
            values["import_wh"] < values["consumed_wh"]
            or values["export_wh"] < values["produced_wh"]
        ):
            raise Refused("bad field: the registers are below the measurement")
        digest_712 = measurement_digest(
            self.domain_separator, meter_id, begin, end, values["produced_wh"],
            values["consumed_wh"], values["import_wh"], values["export_wh"], digest,
        )  # fmt: skip
        try:
            signer = recover(digest_712, values["v"], r, s)
        except SignatureError as exc:
            raise Refused(f"bad signature: {exc}") from exc
        if signer.lower() != meter["signer"].lower():
            raise Refused(
                f"bad signature: signed by {signer}, the meter's key is {meter['signer']}"
            )
        return Leaf(
            meter_id, begin, end, values["produced_wh"], values["consumed_wh"], digest,
            salt_for(self.salt_key, meter_id, begin), values["import_wh"], values["export_wh"],
            values["v"], r, s,
        )  # fmt: skip

    def ingest_signed(self, readings: list) -> Outcome:
        """Checks and stores meter-signed readings; the good ones are stored even
        when others are refused."""
        outcome, leaves = Outcome(), []
        for index, reading in enumerate(readings):
            try:
                leaf = self.signed_leaf(reading if isinstance(reading, dict) else {})
                leaves.append((index, leaf, self._meter(leaf.meter_id)["sector"]))
            except Refused as exc:
                outcome.refuse(index, str(exc))
        self._store(leaves, outcome, "meter")
        return outcome

    def _store(self, leaves: list[tuple], outcome: Outcome, source: str) -> None:
        """Stores the leaves (at, leaf, sector) whose interval the meter has no
        measurement of yet and whose sector's roots of it are not published yet
        (a leaf added later could never be proved against them)."""
        stored = self.store.stored([(leaf.meter_id, leaf.interval_begin) for _, leaf, _ in leaves])
        published = {}
        for begin in {leaf.interval_begin for _, leaf, _ in leaves}:
            published[begin] = self.store.published_sectors(begin)
        fresh, seen = [], {}
        for at, leaf, sector in leaves:
            if sector in published[leaf.interval_begin]:
                outcome.refuse(at, f"published interval: the {sector} roots of "
                               f"{span(leaf.interval_begin, leaf.interval_end)} are on chain already")  # fmt: skip
                continue
            key = (leaf.meter_id, leaf.interval_begin)
            if key in stored or key in seen:
                held = seen.get(key) or self.store.leaf(*key)
                if source == "meter" and _wh(held) != _wh(leaf):
                    # Not "overlapping interval", which a bridge counts as delivered: its
                    # reading is not what the hub will publish, and its status must say so.
                    outcome.refuse(at, f"conflicting measurement: the hub holds {_wh(held)} Wh "
                                   f"(produced, consumed) of {span(leaf.interval_begin, leaf.interval_end)} "
                                   f"for meter 0x{leaf.meter_id.hex()}, this reading {_wh(leaf)}")  # fmt: skip
                    continue
                outcome.refuse(at, f"overlapping interval: meter 0x{leaf.meter_id.hex()} already "
                               f"has a measurement of {span(leaf.interval_begin, leaf.interval_end)}")  # fmt: skip
                continue
            seen[key] = leaf
            fresh.append(leaf)
        self.store.add_leaves(fresh, source)
        outcome.accepted += len(fresh)

    # DATAHUB FILES

    def ingest_csv(self, text: str | Iterable[str]) -> Outcome:
        """Checks and stores a DataHub time-series file (see the module's docstring)."""
        lines = io.StringIO(text) if isinstance(text, str) else text
        reader = csv.reader(lines, delimiter=";")
        outcome = Outcome()
        header = [column.strip().lower() for column in next(reader, [])]
        if tuple(header[:5]) != CSV_COLUMNS:
            outcome.refuse(
                1, f"bad header: expected {';'.join(CSV_COLUMNS)}[;type], got {';'.join(header)}"
            )
            return outcome
        with_type = len(header) > 5 and header[5] == "type"
        rows, times = [], {}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                rows.append((line, *self._csv_row(row, with_type, times)))
            except Refused as exc:
                outcome.refuse(line, str(exc))
        meters = self.store.meters_by_gsrn(row[1] for row in rows)
        merged: dict[tuple, list] = {}
        for line, gsrn, begin, end, column, quantity, raw in rows:
            meter = meters.get(gsrn)
            if meter is None:
                outcome.refuse(line, f"unknown meter: metering point {gsrn} is not one of this hub")
                continue
            meter_id, sector, max_w = meter
            try:
                self._check_wh(max_w, **{column: quantity})
            except Refused as exc:
                outcome.refuse(line, str(exc))
                continue
            key = (meter_id, begin)
            entry = merged.setdefault(key, [line, end, {}, [], sector])
            if column in entry[2]:
                outcome.refuse(line, f"overlapping interval: metering point {gsrn} has two "
                               f"{column} rows for {span(begin, end)}")  # fmt: skip
                continue
            entry[2][column] = quantity
            entry[3].append(raw)
        leaves = []
        for (meter_id, begin), (line, end, quantities, raws, sector) in merged.items():
            digest = hashlib.sha256("\n".join(raws).encode()).digest()
            leaves.append((line, Leaf(
                meter_id, begin, end, quantities.get("produced_wh", 0),
                quantities.get("consumed_wh", 0), digest, salt_for(self.salt_key, meter_id, begin),
            ), sector))  # fmt: skip
        self._store(leaves, outcome, "datahub")
        outcome.refused.sort(key=lambda refusal: refusal["at"])  # checked in stages: file order
        return outcome

    def _csv_row(self, row: list[str], with_type: bool, times: dict) -> tuple:
        if len(row) < (6 if with_type else 5):
            raise Refused(f"bad field: expected {6 if with_type else 5} columns, got {len(row)}")
        gsrn, begin_text, end_text, quantity_text, quality = (cell.strip() for cell in row[:5])
        kind = row[5].strip().lower() if with_type else "e17"
        if kind not in TYPES:
            raise Refused(
                f"bad field: type must be E17 (consumption) or E18 (production), got {row[5]!r}"
            )
        if quality.lower() == "missing" or quality.upper() == "QM":
            raise Refused("missing: the row has no measurement (quality missing)")
        if quality.lower() not in QUALITIES:
            raise Refused(
                f"bad field: quality must be measured, estimated or calculated, got {quality!r}"
            )
        try:
            quantity = int(quantity_text)
        except ValueError:
            raise Refused(
                f"bad field: quantity_wh must be an integer in Wh, got {quantity_text!r}"
            ) from None
        begin, end = self._time(begin_text, times), self._time(end_text, times)
        self._check_interval(begin, end)
        return gsrn, begin, end, TYPES[kind], quantity, ";".join(row)

    @staticmethod
    def _time(text: str, times: dict) -> int:
        if text not in times:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise Refused(f"bad field: {text!r} is not an ISO 8601 time") from None
            if moment.tzinfo is None or moment.utcoffset().total_seconds() != 0:
                raise Refused(f"bad field: {text!r} must be UTC (end in Z)")
            times[text] = int(moment.replace(tzinfo=UTC).timestamp())
        return times[text]

"""Green Button consumption data: the ESPI XML feed and the "Download My Data" CSV.

Pure parsing, no I/O beyond the bytes given: the result is the file's intervals
of electricity delivered to the customer, each with its exact energy in Wh as a
``Decimal`` (no floats anywhere).

ESPI XML (NAESB REQ.21, an Atom feed): every ``IntervalBlock`` belongs to a
``MeterReading`` (its Atom "up" link without "/IntervalBlock"), which names its
``ReadingType`` (a "related" link, or the ReadingType inside it). A reading's
energy is ``value x 10**powerOfTenMultiplier`` in the ReadingType's unit; only
``uom`` 72 (Wh) of ``commodity`` 1 (electricity) is energy we can use, and of its
flow directions only 1 (forward: delivered to the customer) is consumption;
reverse flow (19, fed in) is set aside. Times are unix seconds, UTC.

CSV ("Download My Data", as US utilities export it): a prologue (Name, Address,
Account Number, Service), then ``TYPE,DATE,START TIME,END TIME,USAGE,UNITS,…``
(or ``USAGE (kWh)`` without UNITS). Rows of "Electric usage" in kWh count.
Times are the utility's local wall-clock minutes, so the time zone is an
argument; END TIME is the interval's last minute (00:14 for 00:00-00:15), a
row without times is a whole local day, and of a wall-clock time that occurs
twice (the autumn's repeated hour) the first row is the first occurrence.
"""

from __future__ import annotations

import csv
import io
import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

ATOM = "{http://www.w3.org/2005/Atom}"
ESPI = "{http://naesb.org/espi}"
UOM_WH = 72  # IEC 61968-9 / ESPI unit of measure: watt-hours
COMMODITY_ELECTRICITY = (0, 1, 2)  # none, electricity secondary metered, primary metered
FLOW_FORWARD = 1  # delivered to the customer
MAX_BYTES = 64 * 1024 * 1024  # a year of 5-minute readings is a few MB

FORMAT_XML = "Green Button ESPI XML"
FORMAT_CSV = "Green Button CSV"


class GreenButtonError(ValueError):
    """The file is not Green Button consumption data we can use; the message says why."""


@dataclass(frozen=True)
class Interval:
    start: int  # unix seconds, UTC
    end: int  # unix seconds, UTC, exclusive
    wh: Decimal  # energy delivered to the customer, exact


@dataclass(frozen=True)
class UsageData:
    format: str  # FORMAT_XML or FORMAT_CSV
    intervals: tuple[Interval, ...]  # in time order, never overlapping

    @property
    def start(self) -> int:
        return self.intervals[0].start

    @property
    def end(self) -> int:
        return self.intervals[-1].end

    def total_wh(self) -> Decimal:
        return sum((i.wh for i in self.intervals), Decimal(0))


def parse(data: bytes, timezone: str | None = None) -> UsageData:
    """An ESPI XML feed or a CSV export, told apart by their first characters;
    a CSV needs the utility's ``timezone`` (IANA name, e.g. America/New_York)."""
    if len(data) > MAX_BYTES:
        raise GreenButtonError(f"the file has {len(data):,} bytes, more than {MAX_BYTES:,}")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return parse_espi_xml(data)
    if timezone is None:
        raise GreenButtonError(
            "a Green Button CSV holds local times: give the utility's time zone "
            "(--timezone, e.g. America/New_York)"
        )
    return parse_csv(data, timezone)


# ESPI XML


def _int(element: ET.Element | None, name: str, default: int | None = None) -> int:
    child = None if element is None else element.find(ESPI + name)
    if child is None or child.text is None:
        if default is not None:
            return default
        raise GreenButtonError(f"an ESPI element lacks <{name}>")
    try:
        return int(child.text.strip())
    except ValueError:
        raise GreenButtonError(f"<{name}> is not an integer: {child.text.strip()!r}") from None


def _links(entry: ET.Element) -> dict[str, list[str]]:
    links: dict[str, list[str]] = {}
    for link in entry.findall(ATOM + "link"):
        links.setdefault(link.get("rel", ""), []).append(link.get("href", "").rstrip("/"))
    return links


def _content(entry: ET.Element, name: str) -> ET.Element | None:
    return entry.find(f"{ATOM}content/{ESPI}{name}")


def parse_espi_xml(data: bytes) -> UsageData:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise GreenButtonError(f"not well-formed XML: {exc}") from None
    entries = [root] if root.tag == ATOM + "entry" else root.findall(ATOM + "entry")
    if root.tag not in (ATOM + "feed", ATOM + "entry"):
        raise GreenButtonError(f"not a Green Button (Atom) feed: the root element is {root.tag}")

    reading_types: dict[str, ET.Element] = {}
    meter_readings: dict[str, ET.Element | None] = {}  # self href -> its ReadingType
    blocks: list[tuple[str, ET.Element]] = []  # (meter reading href, IntervalBlock)
    for entry in entries:
        links = _links(entry)
        self_href = (links.get("self") or [""])[0]
        if (rt := _content(entry, "ReadingType")) is not None:
            reading_types[self_href] = rt
        elif (mr := _content(entry, "MeterReading")) is not None:
            inner = mr.find(ESPI + "ReadingType")
            related = next((h for h in links.get("related", []) if "ReadingType" in h), None)
            meter_readings[self_href] = inner if inner is not None else related
        else:
            for block in entry.findall(f"{ATOM}content/{ESPI}IntervalBlock"):
                up = (links.get("up") or [""])[0]
                blocks.append((up.removesuffix("/IntervalBlock"), block))
    if not blocks:
        raise GreenButtonError("the feed has no IntervalBlock: no interval readings to use")

    def reading_type_of(meter_reading: str) -> ET.Element:
        found = meter_readings.get(meter_reading)
        if isinstance(found, ET.Element):
            return found
        if isinstance(found, str):
            for href, rt in reading_types.items():
                if href == found or (href and href.endswith(found)) or found.endswith(href):
                    return rt
        if len(reading_types) == 1:  # a feed with one ReadingType: it is every block's
            return next(iter(reading_types.values()))
        raise GreenButtonError(
            f"cannot tell the ReadingType (unit, multiplier) of the IntervalBlocks of "
            f"{meter_reading or 'a MeterReading'}"
        )

    intervals: list[Interval] = []
    for meter_reading, block in blocks:
        rt = reading_type_of(meter_reading)
        uom, commodity = _int(rt, "uom"), _int(rt, "commodity", 1)
        if commodity not in COMMODITY_ELECTRICITY:
            continue  # gas, water: not Scope 2 electricity
        if uom != UOM_WH:
            raise GreenButtonError(
                f"the electricity readings are in unit {uom} (ESPI uom), not 72 (Wh): "
                "not energy consumed"
            )
        if _int(rt, "flowDirection", FLOW_FORWARD) != FLOW_FORWARD:
            continue  # energy fed into the grid is not consumption
        power = _int(rt, "powerOfTenMultiplier", 0)
        for reading in block.findall(ESPI + "IntervalReading"):
            period = reading.find(ESPI + "timePeriod")
            start, duration = _int(period, "start"), _int(period, "duration")
            value = _int(reading, "value")
            if duration <= 0 or value < 0:
                raise GreenButtonError(
                    f"the reading from {_iso(start)} has duration {duration} s and value "
                    f"{value}: expected a positive duration and a value of zero or more"
                )
            intervals.append(Interval(start, start + duration, Decimal(value).scaleb(power)))
    if not intervals:
        raise GreenButtonError(
            "the feed has no readings of electricity delivered to the customer "
            "(ReadingType commodity 1, flowDirection 1, uom 72)"
        )
    return UsageData(FORMAT_XML, _in_order(intervals))


# CSV


def _header_index(rows: list[list[str]]) -> int:
    for number, row in enumerate(rows):
        if row and row[0].strip().upper() == "TYPE" and "DATE" in (c.strip().upper() for c in row):
            return number
    raise GreenButtonError(
        "no header row TYPE,DATE,START TIME,END TIME,USAGE,… : not a Green Button CSV export"
    )


def parse_csv(data: bytes, timezone: str) -> UsageData:
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise GreenButtonError(f"unknown time zone {timezone!r} (e.g. America/New_York)") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GreenButtonError(f"not UTF-8 text: {exc}") from None
    rows = list(csv.reader(io.StringIO(text)))
    first = _header_index(rows)
    header = [c.strip().upper() for c in rows[first]]
    column = {name: i for i, name in enumerate(header)}
    usage = column.get("USAGE", column.get("USAGE (KWH)"))
    if usage is None or "DATE" not in column:
        raise GreenButtonError(f"the header has no USAGE or DATE column: {rows[first]}")
    unit_in_header = "USAGE (KWH)" in column

    seen: set[tuple[date, time]] = set()
    intervals: list[Interval] = []
    for number, row in enumerate(rows[first + 1 :], first + 2):
        if not row or not any(c.strip() for c in row):
            continue
        cell = {name: (row[i].strip() if i < len(row) else "") for name, i in column.items()}
        if not cell["TYPE"].lower().startswith("electric"):
            continue  # gas and other services
        unit = "KWH" if unit_in_header else cell.get("UNITS", "").upper()
        if unit != "KWH":
            raise GreenButtonError(f"line {number}: electricity in {cell.get('UNITS')!r}, not kWh")
        try:
            day = date.fromisoformat(cell["DATE"])
            kwh = Decimal(cell["USAGE (KWH)" if unit_in_header else "USAGE"].replace(",", ""))
        except (ValueError, InvalidOperation):
            raise GreenButtonError(
                f"line {number}: expected a date (YYYY-MM-DD) and an amount of kWh, got "
                f"{cell['DATE']!r} and {row[usage]!r}"
            ) from None
        if not kwh.is_finite() or kwh < 0:
            raise GreenButtonError(f"line {number}: a usage of {row[usage]!r} kWh")
        begin_text, end_text = cell.get("START TIME", ""), cell.get("END TIME", "")
        try:
            if begin_text:
                begin_local = time.fromisoformat(begin_text.zfill(5))
                last_local = time.fromisoformat(end_text.zfill(5))
            else:  # a daily read: the whole local day
                begin_local, last_local = time(0, 0), time(23, 59)
        except ValueError:
            raise GreenButtonError(
                f"line {number}: expected times HH:MM, got {begin_text!r} and {end_text!r}"
            ) from None
        fold = 1 if (day, begin_local) in seen else 0
        seen.add((day, begin_local))
        begin = datetime.combine(day, begin_local, zone).replace(fold=fold)
        last = datetime.combine(day, last_local, zone).replace(fold=fold)
        start = int(begin.timestamp())
        end = int(last.timestamp()) + 60  # END TIME is the interval's last minute
        if end <= start:
            raise GreenButtonError(f"line {number}: the interval ends before it begins")
        intervals.append(Interval(start, end, kwh.scaleb(3)))
    if not intervals:
        raise GreenButtonError("the CSV has no rows of electric usage")
    return UsageData(FORMAT_CSV, _in_order(intervals))


def _in_order(intervals: list[Interval]) -> tuple[Interval, ...]:
    ordered = sorted(intervals, key=lambda i: i.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise GreenButtonError(
                f"readings overlap: {_iso(before.start)}-{_iso(before.end)} and "
                f"{_iso(after.start)}-{_iso(after.end)}"
            )
    return tuple(ordered)


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%MZ")


# The period's consumption


def period_wh(usage: UsageData, begin: int, end: int) -> Decimal:
    """The exact Wh consumed in ``[begin, end)``: the sum of the intervals in
    it, which must cover it whole (no gap, no interval across its edges)."""
    inside = [i for i in usage.intervals if i.end > begin and i.start < end]
    if not inside:
        raise GreenButtonError(
            f"the data ({_iso(usage.start)} to {_iso(usage.end)}) has nothing in the period "
            f"{_iso(begin)} to {_iso(end)}"
        )
    for interval in (inside[0], inside[-1]):
        if interval.start < begin or interval.end > end:
            raise GreenButtonError(
                f"the reading {_iso(interval.start)}-{_iso(interval.end)} runs across the "
                f"period's edge ({_iso(begin)} to {_iso(end)})"
            )
    at = begin
    for interval in inside:
        if interval.start != at:
            raise GreenButtonError(
                f"the data has no reading from {_iso(at)} to {_iso(interval.start)}: it must "
                "cover the whole period"
            )
        at = interval.end
    if at != end:
        raise GreenButtonError(
            f"the data has no reading from {_iso(at)} to {_iso(end)}: it must cover the whole period"
        )
    return sum((i.wh for i in inside), Decimal(0))


def whole_wh(wh: Decimal) -> int:
    """Whole Wh of an exact amount, rounded half up once (a file whose multiplier
    is negative may carry fractions of a Wh; the statement is in whole Wh)."""
    return int((wh + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR"))

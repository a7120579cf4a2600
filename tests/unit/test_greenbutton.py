"""Green Button bill data: the ESPI XML feed and the CSV export, in exact Wh.

The XML is a real sample from the Green Button Alliance (tests/fixtures/greenbutton/
SOURCES.md: GreenButtonAlliance/OpenESPI-Common-java at 995c68f4, path
src/test/resources/fixtures/test_usage_data_01.xml, Apache-2.0); the CSV holds the
same day in the utilities' export layout."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from openkwh.emissions import greenbutton as gb

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "greenbutton"
XML = (FIXTURES / "espi_15min_one_day.xml").read_bytes()
CSV = (FIXTURES / "espi_15min_one_day.csv").read_bytes()
DAY_BEGIN = 1_330_578_000  # 2012-03-01T05:00Z, midnight US Eastern
DAY_END = DAY_BEGIN + 86_400
DAY_WH = 93_846


def test_the_real_espi_sample_is_read_exactly():
    usage = gb.parse(XML)
    assert usage.format == "Green Button ESPI XML"
    assert len(usage.intervals) == 96
    assert (usage.start, usage.end) == (DAY_BEGIN, DAY_END)
    assert all(i.end - i.start == 900 for i in usage.intervals)
    assert usage.intervals[0].wh == 282  # the first IntervalReading's value, Wh
    assert usage.intervals[20].wh == 853  # 10:00 local: the morning's step up
    assert usage.total_wh() == DAY_WH
    assert gb.period_wh(usage, DAY_BEGIN, DAY_END) == DAY_WH
    assert gb.period_wh(usage, DAY_BEGIN, DAY_BEGIN + 3_600) == 282 + 323 + 294 + 331


def test_the_csv_export_of_the_same_day_gives_the_same_intervals():
    csv = gb.parse(CSV, "America/New_York")
    assert csv.format == "Green Button CSV"
    assert csv.intervals == gb.parse(XML).intervals
    assert csv.total_wh() == DAY_WH


def test_a_csv_needs_its_time_zone():
    with pytest.raises(
        gb.GreenButtonError, match="holds local times: give the utility's time zone"
    ):
        gb.parse(CSV)
    with pytest.raises(gb.GreenButtonError, match="unknown time zone 'Mars/Olympus'"):
        gb.parse(CSV, "Mars/Olympus")


def _feed(multiplier: int, values: list[int], uom: int = 72, flow: int = 1) -> bytes:
    readings = "".join(
        f"<IntervalReading><timePeriod><duration>3600</duration><start>{1_700_000_000 + 3_600 * i}"
        f"</start></timePeriod><value>{v}</value></IntervalReading>"
        for i, v in enumerate(values)
    )
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        '<entry><link rel="self" href="/RT/1"/><content><ReadingType xmlns="http://naesb.org/espi">'
        f"<commodity>1</commodity><flowDirection>{flow}</flowDirection>"
        f"<powerOfTenMultiplier>{multiplier}</powerOfTenMultiplier><uom>{uom}</uom>"
        "</ReadingType></content></entry>"
        '<entry><link rel="self" href="/UP/1/MeterReading/1"/><link rel="related" href="/RT/1"/>'
        '<content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>'
        '<entry><link rel="up" href="/UP/1/MeterReading/1/IntervalBlock"/><content>'
        f'<IntervalBlock xmlns="http://naesb.org/espi">{readings}</IntervalBlock>'
        "</content></entry></feed>"
    ).encode()


@pytest.mark.parametrize(
    ("multiplier", "values", "total"),
    [(0, [1, 2], Decimal(3)), (3, [1, 2], Decimal(3_000)), (-1, [15, 10], Decimal("2.5"))],
)
def test_power_of_ten_multiplier_scales_exactly(multiplier, values, total):
    assert gb.parse(_feed(multiplier, values)).total_wh() == total


def test_whole_wh_rounds_half_up_once():
    assert gb.whole_wh(Decimal("2.5")) == 3
    assert gb.whole_wh(Decimal("2.49")) == 2
    assert gb.whole_wh(Decimal(93_846)) == 93_846


def test_energy_fed_in_is_not_consumption():
    with pytest.raises(gb.GreenButtonError, match="no readings of electricity delivered"):
        gb.parse(_feed(0, [5], flow=19))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<feed", "not well-formed XML"),
        (b"<html xmlns='x'/>", "not a Green Button (Atom) feed"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "no IntervalBlock"),
        (_feed(0, [5], uom=38), "in unit 38 (ESPI uom), not 72 (Wh)"),
        (_feed(0, [-5]), "expected a positive duration and a value of zero or more"),
    ],
)
def test_a_file_that_is_not_usable_consumption_says_why(data, message):
    with pytest.raises(gb.GreenButtonError, match=re.escape(message)):
        gb.parse(data)


def test_overlapping_readings_are_refused():
    doubled = XML.replace(
        b"</feed>", XML[XML.index(b"<entry>", XML.index(b"IntervalBlock/173") - 400) :]
    )
    with pytest.raises(gb.GreenButtonError, match="readings overlap: 2012-03-01T05:00Z"):
        gb.parse(doubled)


def test_a_period_the_data_does_not_cover_whole_is_refused():
    usage = gb.parse(XML)
    with pytest.raises(gb.GreenButtonError, match="has nothing in the period"):
        gb.period_wh(usage, DAY_END, DAY_END + 3_600)
    with pytest.raises(gb.GreenButtonError, match="has no reading from 2012-03-02T05:00Z"):
        gb.period_wh(usage, DAY_BEGIN, DAY_END + 3_600)
    with pytest.raises(gb.GreenButtonError, match="runs across the period's edge"):
        gb.period_wh(usage, DAY_BEGIN + 600, DAY_END)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Name,x\nhello,world\n", "no header row TYPE,DATE"),
        (
            "TYPE,DATE,START TIME,END TIME,USAGE,UNITS\nElectric usage,2012-03-01,00:00,00:14,1,MWh\n",
            "not kWh",
        ),
        (
            "TYPE,DATE,START TIME,END TIME,USAGE,UNITS\nElectric usage,03/01/2012,00:00,00:14,1,kWh\n",
            "expected a date",
        ),
        (
            "TYPE,DATE,START TIME,END TIME,USAGE,UNITS\nGas usage,2012-03-01,,,1,therms\n",
            "no rows of electric usage",
        ),
    ],
)
def test_a_csv_that_is_not_usable_says_why(text, message):
    with pytest.raises(gb.GreenButtonError, match=re.escape(message)):
        gb.parse(text.encode(), "America/New_York")

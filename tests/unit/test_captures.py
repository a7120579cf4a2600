"""Real telegrams from real meters (tests/fixtures/captures.py), read exactly.

The expected registers are transcribed by hand from each capture's text: a
DSMR line ``1-0:1.8.1(005017120*Wh)`` is 5,017,120 Wh; an SML entry's value
(hex), unit 0x1E (Wh) and scaler (a signed byte: 0xFF is -1) give the value
times 10**scaler, truncated to whole Wh. Import is the sum of the tariff
registers 1.8.1-1.8.4 when there are any, else 1.8.0; export likewise (2.8.x);
None when the meter has no export register.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dsmr_parser.parsers import TelegramParser

from meter_bridge.protocols import Keys, decoder
from tests.fixtures import captures, crafted

DUTCH = ZoneInfo("Europe/Amsterdam")


def dutch(stamp: str) -> int:
    """A DSMR 0-0:1.0.0 value (YYMMDDhhmmss, local time in the meter's zone) in unix seconds."""
    return int(datetime.strptime(stamp[:12], "%y%m%d%H%M%S").replace(tzinfo=DUTCH).timestamp())


# name -> (capture, protocol, import Wh, export Wh, meter time, SML CRC)
CAPTURES = {
    # 1-0:1.8.1(00001.001*kWh) 1-0:1.8.2(00001.001*kWh); 2.8.1 and 2.8.2 the same
    "dsmr 2.2": (captures.DSMR_V2_2, "dsmr2.2", 1_001 + 1_001, 1_001 + 1_001, None, "x25"),
    # 1-0:1.8.1(12345.678*kWh) 1-0:1.8.2(12345.678*kWh); 2.8.1 and 2.8.2 the same
    "dsmr 3": (captures.DSMR_V3, "dsmr3", 2 * 12_345_678, 2 * 12_345_678, None, "x25"),
    # 1-0:1.8.1(001581.123*kWh) 1-0:1.8.2(001435.706*kWh) 2.8.1, 2.8.2 (000000.000*kWh)
    "kaifa dsmr 4.2": (
        captures.KAIFA_V4_2,
        "dsmr4",
        1_581_123 + 1_435_706,
        0,
        dutch("161113205757"),
        "x25",
    ),
    # 1-0:1.8.1(000004.426*kWh) 1-0:1.8.2(000002.399*kWh) 2.8.1(000002.444) 2.8.2(000000.000)
    "iskra dsmr 5": (
        captures.ISKRA_V5,
        "dsmr5",
        4_426 + 2_399,
        2_444,
        dutch("170102192002"),
        "x25",
    ),
    # 1-0:1.8.1(002130.115*kWh) 1-0:1.8.2(000245.467*kWh), export 0; two M-Bus devices
    "iskra dsmr 5 two m-bus": (
        captures.ISKRA_V5_TWO_MBUS,
        "dsmr5",
        2_130_115 + 245_467,
        0,
        dutch("200426223325"),
        "x25",
    ),
    # 1-0:1.8.1(000000.034*kWh) 1.8.2(000015.758) 2.8.1(000000.000) 2.8.2(000000.011)
    "fluvius": (
        captures.FLUVIUS_V171,
        "fluvius",
        34 + 15_758,
        11,
        dutch("200512135409"),
        "x25",
    ),
    # 1-0:1.8.1(000301.548*kWh) 1.8.2(000270.014) 2.8.1(000000.005) 2.8.2(000000.000)
    "fluvius alt": (
        captures.FLUVIUS_V171_ALT,
        "fluvius",
        301_548 + 270_014,
        5,
        dutch("231102121548"),
        "x25",
    ),
    # 1-0:1.8.0*255(00052185.7825309*kWh) 1-0:2.8.0*255(00019949.3221493*kWh)
    "easymeter q3d b1024": (captures.EASYMETER_Q3DB1024, "q3d", 52_185_782, 19_949_322, None, ""),
    # 1-0:1.8.0*255(00032549.5061662*kWh), no export register: an import-only meter
    "easymeter q3d a1004": (captures.EASYMETER_Q3DA1004, "q3d", 32_549_506, None, None, ""),
    # registers in Wh: 1-0:1.8.1(005017120*Wh) 1.8.2(001528646*Wh) 2.8.1(0*Wh) 2.8.2(58*Wh)
    "sagemcom t210-d-r": (
        captures.SAGEMCOM_T210_D_R,
        "sagemcom-t210-d-r",
        5_017_120 + 1_528_646,
        58,
        dutch("221006155014"),
        "",
    ),
    # 1-0:1.8.1(000010.181*kWh) 1.8.2(000010.182) 2.8.1(000010.281) 2.8.2(000010.282)
    "iskra ie": (
        captures.ISKRA_IE,
        "iskra-ie",
        10_181 + 10_182,
        10_281 + 10_282,
        dutch("230202132747"),
        "",
    ),
    # tariffs 1 to 4: 1.8.1(000047.719) 1.8.2(000125.921) 1.8.3, 1.8.4 (000000.000);
    # 2.8.1(000401.829) 2.8.2(000225.348) 2.8.3, 2.8.4 (000000.000)
    "e.on hungary": (
        captures.EON_HUNGARY,
        "eon-hungary",
        47_719 + 125_921,
        401_829 + 225_348,
        dutch("230724150730"),
        "",
    ),
    # Luxembourg, totals only: 1-0:1.8.0(000273.764*kWh) 1-0:2.8.0(112743.030*kWh)
    "smarty": (
        captures.SMARTY,
        "smarty",
        273_764,
        112_743_030,
        dutch("260403175431"),
        "",
    ),
    # the same telegram read with dsmr_parser's Luxembourg MSn specification
    "smarty msn": (
        captures.SMARTY,
        "msn",
        273_764,
        112_743_030,
        dutch("260403175431"),
        "",
    ),
    # Sweden, totals only: 1-0:1.8.0(00006678.394*kWh) 1-0:2.8.0(00000000.000*kWh)
    "sweden": (captures.SWEDEN_ELL5, "sweden", 6_678_394, 0, dutch("210217184019"), ""),
    # DZG: 1.8.0 unit 1E scaler 03 value 63 344F; 2.8.0 unit 1E scaler 03 value 62 00
    "sml dzg": (captures.SML_DZG, "sml", 0x344F * 1_000, 0, None, "x25"),
    # Holley: 1.8.0 unit 1E scaler FF value 65 02AEA132; 2.8.0 scaler FF value 62 00
    "sml holley": (captures.SML_HOLLEY, "sml", 0x02AEA132 // 10, 0, None, "x25"),
    # EBZ: scaler FB (-5); 1.8.1 value 69 0000000A74B1EA77, 1.8.2 value 69 00000000060FD1A0,
    # 2.8.0 value 69 000000000D19E1C0
    "sml ebz": (
        captures.SML_EBZ,
        "sml",
        0x0A74B1EA77 // 10**5 + 0x060FD1A0 // 10**5,
        0x0D19E1C0 // 10**5,
        None,
        "x25",
    ),
    # EMH, where smllib's get_obis fails: 1.8.0 scaler FF value 65 01DDF5F4, 2.8.0 65 01D4DC0D
    "sml emh": (
        captures.SML_EMH_GET_OBIS_FAILS,
        "sml",
        0x01DDF5F4 // 10,
        0x01D4DC0D // 10,
        None,
        "x25",
    ),
    # Iskra, where get_obis fails: 1.8.1 scaler FF value 59 000000000B190A86 (signed),
    # 1.8.2 value 0; no 2.8.x register: an import-only meter
    "sml iskra": (captures.SML_ISKRA_GET_OBIS_FAILS, "sml", 0x0B190A86 // 10, None, None, "x25"),
    # Holley DTZ541, CRC Kermit: 1.8.0*255 scaler FF value 65 066F04AB, 2.8.0*255 value
    # 65 081CB454 (its 1.8.0*96..100, the history, are not the register)
    "sml holley dtz541": (
        captures.SML_HOLLEY_DTZ541_KERMIT,
        "sml",
        0x066F04AB // 10,
        0x081CB454 // 10,
        None,
        "kermit",
    ),
}
NO_CRC = ("dsmr 2.2", "dsmr 3", "easymeter q3d b1024", "easymeter q3d a1004")
DSMR_WITH_CRC = [name for name, case in CAPTURES.items() if case[1] != "sml" and name not in NO_CRC]
SML = [name for name, case in CAPTURES.items() if case[1] == "sml"]


def read(protocol: str, crc: str, data: bytes, size: int | None = None):
    stream = decoder(protocol, crc or "x25")
    chunks = [data] if size is None else [data[i : i + size] for i in range(0, len(data), size)]
    return [t for chunk in chunks for t in stream.feed(chunk)], stream


def frame_of(data: bytes) -> bytes:
    """The telegram itself, without what a gateway appends after it (Q3D)."""
    if data.startswith(b"/"):
        return data[: data.index(b"\r\n", data.index(b"!")) + 2]
    return data


@pytest.mark.parametrize("size", [None, 1, 7, 64])
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_reads_as_its_registers(name, size):
    data, protocol, imported, exported, meter_time, crc = CAPTURES[name]
    telegrams, stream = read(protocol, crc, data, size)
    assert [(t.import_wh, t.export_wh, t.meter_time) for t in telegrams] == [
        (imported, exported, meter_time)
    ]
    assert telegrams[0].raw == frame_of(data)
    assert not stream.skipped


@pytest.mark.parametrize("size", [None, 7])
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_auto_finds_the_specification_and_the_same_registers(name, size):
    data, protocol, imported, exported, _, crc = CAPTURES[name]
    telegrams, stream = read("auto", crc, data + data, size)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)] * 2
    # DSMR 3's specification is DSMR 2.2's; a Luxembourg telegram reads the same with
    # "smarty" and "msn", and auto names the first ("smarty").
    expected = {"dsmr3": "dsmr2.2", "msn": "smarty"}.get(protocol, protocol)
    assert stream.protocol == expected


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_truncated_capture_is_skipped_and_the_next_kept(name):
    data, protocol, imported, exported, _, crc = CAPTURES[name]
    frame = frame_of(data)
    telegrams, stream = read(protocol, crc, frame[: len(frame) // 2] + frame)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"truncated": 1}


@pytest.mark.parametrize("name", sorted(DSMR_WITH_CRC))
def test_corrupted_dsmr_register_fails_the_crc(name):
    data, protocol, imported, exported, _, crc = CAPTURES[name]
    line = data.index(b":1.8.1(") if b":1.8.1(" in data else data.index(b":1.8.0(")
    at = data.index(b".", line + 7) - 1  # the last integer digit of the import register
    corrupted = bytearray(data)
    corrupted[at] = ord("9") if corrupted[at] != ord("9") else ord("8")
    telegrams, stream = read(protocol, crc, bytes(corrupted) + data)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"crc": 1}
    assert list(stream.evidence) == [("crc", bytes(corrupted))]


@pytest.mark.parametrize("name", sorted(SML))
def test_corrupted_sml_frame_fails_the_crc(name):
    data, protocol, imported, exported, _, crc = CAPTURES[name]
    corrupted = bytearray(data)
    corrupted[len(data) // 2] ^= 0x10
    telegrams, stream = read(protocol, crc, bytes(corrupted) + data)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"crc": 1}


@pytest.mark.parametrize("protocol", ["eon-hungary", "auto"])
def test_tariffs_3_and_4_are_summed(protocol):
    """The E.ON capture's tariffs 3 and 4 are all zero: here they are not (the
    totals 1.8.0 and 2.8.0 raised to match, the CRC computed again)."""
    text = captures.EON_HUNGARY.decode("latin-1")
    for line, value in {
        "1-0:1.8.0(000173.640": "1-0:1.8.0(000176.643",
        "1-0:1.8.3(000000.000": "1-0:1.8.3(000001.001",
        "1-0:1.8.4(000000.000": "1-0:1.8.4(000002.002",
        "1-0:2.8.0(000627.177": "1-0:2.8.0(000634.184",
        "1-0:2.8.3(000000.000": "1-0:2.8.3(000003.003",
        "1-0:2.8.4(000000.000": "1-0:2.8.4(000004.004",
    }.items():
        text = text.replace(line, value)
    body = text[: text.index("!") + 1]
    four_tariffs = f"{body}{TelegramParser.crc16(body):04X}\r\n".encode("latin-1")
    telegrams, stream = read(protocol, "", four_tariffs)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [
        (47_719 + 125_921 + 1_001 + 2_002, 401_829 + 225_348 + 3_003 + 4_004)
    ]
    assert not stream.skipped


def test_holley_dtz541_is_corrupt_under_the_default_crc():
    data = captures.SML_HOLLEY_DTZ541_KERMIT
    telegrams, stream = read("sml", "x25", data)
    assert telegrams == []
    assert stream.skipped == {"crc": 1}


def test_a_dsmr_5_telegram_in_dsmr_2_2_mode_is_crc_checked():
    corrupted = captures.ISKRA_V5.replace(b"1.8.1(000004.426", b"1.8.1(000009.426")
    telegrams, stream = read("dsmr2.2", "", corrupted)
    assert telegrams == []
    assert stream.skipped == {"crc": 1}


def test_a_dsmr_5_telegram_stripped_of_its_crc_is_refused_in_dsmr_2_2_mode():
    stripped = captures.ISKRA_V5.replace(b"!6EEE\r\n", b"!\r\n")
    telegrams, stream = read("dsmr2.2", "", stripped)
    assert telegrams == []
    assert stream.skipped == {"crc missing": 1}


def test_auto_tells_dsmr_from_sml():
    dsmr, _ = read("auto", "", captures.SAGEMCOM_T210_D_R)
    sml, _ = read("auto", "x25", captures.SML_EMH_GET_OBIS_FAILS)
    assert (dsmr[0].protocol, dsmr[0].meter) == ("sagemcom-t210-d-r", "EST5\\253710000_A")
    assert (sml[0].protocol, sml[0].meter) == ("sml", "0a01454d4800009f3846")


@pytest.mark.parametrize("size", [1, 7, 64])
@pytest.mark.parametrize("family", sorted(crafted.FAMILIES))
def test_every_familys_bad_frames_give_no_number_in_any_chunks(family, size):
    """What the daemon's run over a pseudo-terminal (tests/integration) expects:
    the capture, then each bad frame followed by the capture, read the same whole
    and in chunks; no bad frame gives a reading, and every reading is the capture's."""
    protocol, capture, sml_crc, keys = crafted.FAMILIES[family]
    keys = Keys(*keys) if keys else None
    bad = crafted.bad_frames(family)
    stream = capture + b"".join(frame + capture for frame in bad)
    (alone,) = decoder(protocol, sml_crc, keys).feed(capture)
    runs = []
    for chunk in (len(stream), size):
        reader = decoder(protocol, sml_crc, keys)
        pieces = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
        telegrams = [t for piece in pieces for t in reader.feed(piece)]
        registers = {(t.import_wh, t.export_wh) for t in telegrams}
        assert registers == {(alone.import_wh, alone.export_wh)}
        assert len(telegrams) == len(bad) + 1  # no capture lost
        runs.append(([t.raw for t in telegrams], dict(reader.skipped), list(reader.evidence)))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("protocol", ["dsmr5", "auto"])
def test_a_heat_meters_telegram_gives_no_reading(protocol):
    # its CRC, B9F, is checked (three hex digits); a digit changed fails it
    heat = captures.WARMTELINK_UNPADDED_CRC
    telegrams, stream = read(protocol, "x25", heat + heat.replace(b"(240.860", b"(240.861"))
    assert telegrams == []
    if protocol == "dsmr5":
        assert stream.skipped == {"no energy registers": 1, "crc": 1}

"""Meter telegrams from a byte stream: DSMR 2.2, 4, 5 and SML, whole or in pieces."""

from pathlib import Path

import pytest
from smllib import SmlStreamReader

from meter_bridge.protocols import DsmrDecoder, decoder
from meter_bridge.telegrams import dsmr_telegram, sml_frame
from tests.fixtures import captures, crafted

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegrams"
# protocol -> (fixture file, import Wh, export Wh, meter time)
CASES = {
    "dsmr2.2": ("dsmr2.2.p1", 7_331_361, 1_870_211, None),
    "dsmr4": ("dsmr4.p1", 7_331_361, 1_870_211, 1_798_765_200),
    "dsmr5": ("dsmr5.p1", 7_331_361, 1_870_211, 1_798_765_200),
    "sml": ("sml.bin", 7_331_361, 1_870_211, None),
}
WITH_CRC = ["dsmr4", "dsmr5", "sml"]


def fixture(protocol: str) -> bytes:
    return (FIXTURES / CASES[protocol][0]).read_bytes()


def decode(protocol: str, *chunks: bytes):
    stream = decoder(protocol)
    telegrams = [telegram for chunk in chunks for telegram in stream.feed(chunk)]
    return telegrams, stream.skipped


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_fixture_decodes_to_its_registers(protocol):
    (telegram,), skipped = decode(protocol, fixture(protocol))
    _, imported, exported, meter_time = CASES[protocol]
    assert (telegram.raw, telegram.import_wh, telegram.export_wh, telegram.meter_time) == (
        fixture(protocol),
        imported,
        exported,
        meter_time,
    )
    assert not skipped


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_byte_by_byte_gives_the_same_telegram(protocol):
    data = fixture(protocol)
    telegrams, skipped = decode(protocol, *(data[i : i + 1] for i in range(len(data))))
    assert [t.raw for t in telegrams] == [data]
    assert not skipped


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_garbage_between_frames_is_skipped_and_counted(protocol):
    data = fixture(protocol)
    telegrams, skipped = decode(protocol, b"\x00\xffnoise", data + b"\r\nline noise\x13", data)
    assert [t.raw for t in telegrams] == [data, data]
    assert skipped["garbage"] == 2


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_truncated_frame_is_skipped_and_the_next_kept(protocol):
    data = fixture(protocol)
    telegrams, skipped = decode(protocol, data[: len(data) // 2], data)
    assert [t.raw for t in telegrams] == [data]
    assert skipped == {"truncated": 1}


@pytest.mark.parametrize("protocol", WITH_CRC)
def test_corrupted_register_fails_the_crc(protocol):
    data = bytearray(fixture(protocol))
    # Change one digit of the import register (DSMR) or one byte of its value (SML).
    at = (
        data.find(b"1.8.1(") + 8
        if protocol != "sml"
        else data.find(bytes([1, 0, 1, 8, 0, 255])) + 14
    )
    data[at] ^= 0x01
    telegrams, skipped = decode(protocol, bytes(data), fixture(protocol))
    assert [t.raw for t in telegrams] == [fixture(protocol)]
    assert skipped == {"crc": 1}


def test_dsmr_2_2_has_no_crc_so_only_malformed_lines_are_caught():
    """DSMR 2.2 carries no checksum: a changed digit passes (the contract then
    refuses registers that go backwards); a malformed register line does not."""
    data = fixture("dsmr2.2").replace(b"1-0:1.8.1(04211.304*kWh)", b"1-0:1.8.1(04211.3O4*kWh)")
    telegrams, skipped = decode("dsmr2.2", data)
    assert telegrams == []
    assert skipped == {"unparseable": 1}


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_endless_garbage_stays_bounded(protocol):
    stream = decoder(protocol)
    for _ in range(40):
        assert list(stream.feed(b"\x00" * 1_000)) == []
    assert stream.skipped["garbage"] >= 2
    assert len(getattr(stream, "buffer", b"")) <= 16 * 1024


def test_sml_fixture_is_what_smllib_reads():
    reader = SmlStreamReader()
    reader.add(fixture("sml"))
    messages = reader.get_frame().parse_frame()
    assert [type(m.message_body).__name__ for m in messages] == [
        "SmlOpenResponse",
        "SmlGetListResponse",
        "SmlCloseResponse",
    ]
    entries = {e.obis.obis_short: e for e in messages[1].message_body.val_list}
    assert entries["1.8.0"].value == 73_313_610  # tenths of Wh
    assert entries["1.8.0"].unit == 30


def test_finer_registers_are_truncated_to_whole_wh():
    (telegram,), _ = decode("sml", sml_frame(b"meter-1", 12_345, 0, 1))
    assert telegram.import_wh == 12_345
    line = dsmr_telegram("5", "x", (1_000, 0), (0, 0), 1_798_761_600)
    assert DsmrDecoder("dsmr5").feed(line).__next__().import_wh == 1_000


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown protocol 'iec62056'"):
        decoder("iec62056")


def test_a_large_chunk_of_sml_frames_loses_none():
    """smllib's reader keeps only 50 KiB; the decoder feeds it in slices."""
    frames = [sml_frame(b"meter-1", 1_000 + i, 0, i) for i in range(600)]  # about 115 KiB
    telegrams, skipped = decode("sml", b"".join(frames))
    assert [t.import_wh for t in telegrams] == [1_000 + i for i in range(600)]
    assert not skipped


@pytest.mark.parametrize(("register", "reason"), sorted(crafted.DSMR_BAD.items()))
def test_a_crafted_dsmr_register_is_refused_with_its_reason(register, reason):
    bad, good = crafted.dsmr(register), crafted.dsmr("000004.426*kWh")
    for protocol in ("dsmr5", "auto"):
        telegrams, skipped = decode(protocol, bad, good)
        assert [t.import_wh for t in telegrams] == [4_426 + 2_399]
        assert skipped == {reason: 1}


@pytest.mark.parametrize(("entry", "reason"), sorted(crafted.SML_BAD.items()))
def test_a_crafted_sml_register_is_refused_with_its_reason(entry, reason):
    stream = decoder("sml")
    telegrams = [*stream.feed(crafted.sml(*entry)), *stream.feed(crafted.sml(1_234))]
    assert [t.import_wh for t in telegrams] == [1_234]
    assert stream.skipped == {reason: 1}
    assert [why for why, _ in stream.evidence] == [reason]


@pytest.mark.parametrize(
    ("register", "wh"),
    [
        ("000004.426*kWh", 4_426),
        ("000004.4269*kWh", 4_426),  # finer than 1 Wh: truncated
        ("000004426*Wh", 4_426),
        ("0.004426*MWh", 4_426),
        ("9223372036854775807*Wh", 2**63 - 1),
        ("0E-999999*kWh", 0),
    ],
)
def test_dsmr_registers_are_converted_from_their_unit_exactly(register, wh):
    (telegram,), skipped = decode("dsmr5", crafted.dsmr(register))
    assert telegram.import_wh == wh + 2_399
    assert not skipped


@pytest.mark.parametrize(
    ("value", "scaler", "wh"),
    [(12_345, 0, 12_345), (12_345, 3, 12_345_000), (12_345, -1, 1_234), (5, -128, 0)],
)
def test_sml_registers_are_converted_with_their_scaler_exactly(value, scaler, wh):
    (telegram,) = decoder("sml").feed(crafted.sml(value, scaler=scaler))
    assert telegram.import_wh == wh


@pytest.mark.parametrize("capture", [captures.ISKRA_V5, captures.ISKRA_IE, captures.EON_HUNGARY])
def test_crc16_is_dsmr_parsers(capture):
    from dsmr_parser.parsers import TelegramParser

    from meter_bridge.protocols import crc16

    body = capture[: capture.index(b"!") + 1]
    assert crc16(body) == TelegramParser.crc16(body.decode("latin-1"))
    assert crc16(body) == int(capture[len(body) : len(body) + 4], 16)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 255, 256, 1_001])
def test_crc16_two_bytes_a_step_is_dsmr_parsers_at_any_length(size):
    """crc16 reads two bytes a step and the odd last one alone."""
    from random import Random

    from dsmr_parser.parsers import TelegramParser

    from meter_bridge.protocols import crc16

    data = Random(size).randbytes(size)
    assert crc16(data) == TelegramParser.crc16(data.decode("latin-1"))

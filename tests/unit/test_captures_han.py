"""Nordic HAN meters' lists (tests/fixtures/captures.py, from amshan's tests), read exactly.

Each capture is the information field of an HDLC frame; the tests put it in the
frame a Kamstrup meter sends (``hdlc_frame``). The expected registers are
transcribed by hand from each capture's bytes: an OBIS code ``0906 0100010800ff``
(1.0.1.8.0.255, active energy import; 2.8.0 export) is followed by its value, a
double-long-unsigned ``06`` and four bytes, and, in Aidon's lists, by its scaler
and unit ``0202 0f<scaler> 16<unit>`` (unit 0x1E: Wh; scaler 01: times 10).
Kaifa's and Kamstrup's lists send no unit: Kaifa's ``KFM_001`` counts Wh,
Kamstrup's ``Kamstrup_V0001`` 10 Wh (their makers' HAN descriptions).
"""

import pytest

from meter_bridge.protocols import decoder
from meter_bridge.telegrams import hdlc_frame
from tests.fixtures import captures

# name -> (information field, import Wh, export Wh, meter id)
HAN = {
    # Kamstrup_V0001, 1.1.1.8.0.255 06 00762ee2, 1.1.2.8.0.255 06 00000000; 10 Wh each
    "kamstrup list 2": (captures.HAN_KAMSTRUP_LIST_2, 0x00762EE2 * 10, 0, "5705705705705702"),
    # KFM_001, 18 values: the 15th (06 04be76e8) is A+, the 16th (06 00000000) A-; Wh
    "kaifa list 3": (captures.HAN_KAIFA_LIST_3, 0x04BE76E8, 0, "6970631402614476"),
    # KFM_001, 0100010800ff 06 00490b23, 0100020800ff 06 00000000; Wh
    "kaifa sweden": (captures.HAN_KAIFA_SE, 0x00490B23, 0, "7340734073407340"),
    # 0100010800ff 06 0022ab8a 0202 0f01 161e: scaler 1, Wh; 2.8.0 06 00000000 the same
    "aidon list 3": (captures.HAN_AIDON_LIST_3, 0x0022AB8A * 10, 0, "7359992892587665"),
    # 0100010800ff 06 00995986 0202 0f00 161e; 0100020800ff 06 00000008 0202 0f00 161e
    "aidon sweden": (captures.HAN_AIDON_SE, 0x00995986, 8, None),
}


def read(data: bytes, size: int | None = None, protocol: str = "han"):
    stream = decoder(protocol)
    chunks = [data] if size is None else [data[i : i + size] for i in range(0, len(data), size)]
    return [t for chunk in chunks for t in stream.feed(chunk)], stream


@pytest.mark.parametrize("size", [None, 1, 7, 64])
@pytest.mark.parametrize("name", sorted(HAN))
def test_han_capture_reads_as_its_registers(name, size):
    information, imported, exported, meter = HAN[name]
    frame = hdlc_frame(information)
    telegrams, stream = read(frame, size)
    assert [(t.import_wh, t.export_wh, t.meter, t.protocol) for t in telegrams] == [
        (imported, exported, meter, "han")
    ]
    assert telegrams[0].raw == frame
    assert telegrams[0].meter_time is None
    assert not stream.skipped


@pytest.mark.parametrize("size", [None, 1, 7, 64])
def test_kamstrup_whole_frame_without_energy_is_counted_not_read(size):
    frame = captures.HAN_KAMSTRUP_LIST_1_FRAME
    hourly = hdlc_frame(captures.HAN_KAMSTRUP_LIST_2)
    telegrams, stream = read(frame + frame + hourly + frame, size)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(0x00762EE2 * 10, 0)]
    assert stream.skipped == {"no energy registers": 3}
    assert not stream.evidence


def test_the_bridge_frames_a_list_as_the_kamstrup_meter_did():
    frame = captures.HAN_KAMSTRUP_LIST_1_FRAME
    assert hdlc_frame(frame[8:-3]) == frame


@pytest.mark.parametrize("size", [None, 7])
@pytest.mark.parametrize("name", sorted(HAN))
def test_auto_finds_han_and_the_same_registers(name, size):
    information, imported, exported, _ = HAN[name]
    frame = hdlc_frame(information)
    telegrams, stream = read(frame + frame, size, "auto")
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)] * 2
    assert stream.protocol == "han"


@pytest.mark.parametrize("name", sorted(HAN))
def test_truncated_han_frame_is_skipped_and_the_next_kept(name):
    information, imported, exported, _ = HAN[name]
    frame = hdlc_frame(information)
    telegrams, stream = read(frame[: len(frame) // 2] + frame)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"truncated": 1}


@pytest.mark.parametrize("name", sorted(HAN))
def test_corrupted_import_register_fails_the_fcs(name):
    information, imported, exported, _ = HAN[name]
    frame = hdlc_frame(information)
    if name == "kaifa list 3":  # no OBIS codes: the 15th value
        at = frame.index(bytes.fromhex("0604be76e8")) + 4
    else:  # the last byte of the value after 1.x.1.8.0.255
        at = frame.index(b"\x06", frame.index(bytes.fromhex("010800ff"))) + 4
    corrupted = bytearray(frame)
    corrupted[at] ^= 0x01
    telegrams, stream = read(bytes(corrupted) + frame)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"crc": 1}
    assert list(stream.evidence) == [("crc", bytes(corrupted))]


@pytest.mark.parametrize("name", sorted(HAN))
def test_a_list_cut_short_inside_a_good_frame_gives_no_number(name):
    """Every prefix of the information field, framed with a valid FCS: never a
    wrong number, never an exception."""
    information, imported, exported, _ = HAN[name]
    for cut in range(len(information)):
        telegrams, stream = read(hdlc_frame(information[:cut]))
        assert [(t.import_wh, t.export_wh) for t in telegrams] in ([], [(imported, exported)])
        if not telegrams:
            assert sum(stream.skipped.values()) == 1


def test_aidon_register_of_an_unknown_unit_is_refused():
    # 1.8.0's unit 0x1E (Wh) made 0x20 (varh): no reading
    information = captures.HAN_AIDON_SE.replace(
        bytes.fromhex("0100010800ff060099598602020f00161e"),
        bytes.fromhex("0100010800ff060099598602020f001620"),
    )
    telegrams, stream = read(hdlc_frame(information) + hdlc_frame(captures.HAN_AIDON_SE))
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(0x00995986, 8)]
    assert stream.skipped == {"unknown unit": 1}


def test_aidon_scaler_is_applied():
    # 1.8.0's scaler 00 made FF (-1): a tenth of the value, truncated to whole Wh
    information = captures.HAN_AIDON_SE.replace(
        bytes.fromhex("0100010800ff060099598602020f00161e"),
        bytes.fromhex("0100010800ff060099598602020fff161e"),
    )
    telegrams, _ = read(hdlc_frame(information))
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(0x00995986 // 10, 8)]


def test_list_of_an_unknown_version_without_units_is_refused():
    # Kaifa's Swedish list renamed: its registers state no unit, and the list none either
    information = captures.HAN_KAIFA_SE.replace(b"KFM_001", b"KFM_009")
    telegrams, stream = read(hdlc_frame(information))
    assert telegrams == []
    assert stream.skipped == {"unknown unit": 1}


def test_segmented_frames_are_joined():
    information = captures.HAN_AIDON_LIST_3
    frames = hdlc_frame(information[:100], segmented=True) + hdlc_frame(information[100:])
    telegrams, stream = read(frames, 1)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(0x0022AB8A * 10, 0)]
    assert telegrams[0].raw == frames
    assert not stream.skipped


def test_garbage_and_flags_between_frames():
    frame = hdlc_frame(captures.HAN_KAIFA_LIST_3)
    telegrams, stream = read(b"\x00\xff" + frame + b"\x7e\x7e" + frame, 3)
    assert [t.import_wh for t in telegrams] == [0x04BE76E8] * 2
    assert stream.skipped == {"garbage": 1}


@pytest.mark.parametrize("size", [None, 1, 7, 64])
def test_a_run_of_garbage_is_skipped_once_however_it_is_chunked(size):
    # bytes without a flag, then a 7E that opens no frame, then more: one run
    frame = hdlc_frame(captures.HAN_KAIFA_LIST_3)
    garbage = b"\x00\x11\x3f" * 5 + b"\x7e\x3f\x3f" + b"\x22" * 9
    telegrams, stream = read(frame + garbage + frame, size)
    assert [t.import_wh for t in telegrams] == [0x04BE76E8] * 2
    assert stream.skipped == {"garbage": 1}
    assert not stream.evidence

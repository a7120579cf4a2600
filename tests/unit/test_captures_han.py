"""Nordic HAN meters' lists (tests/fixtures/captures.py, from amshan's tests), read exactly.

Each capture is the information field of an HDLC frame; the tests put it in the
frame a Kamstrup meter sends (``hdlc_frame``). The expected registers are
transcribed by hand from each capture's bytes: an OBIS code ``0906 0100010800ff``
(1.0.1.8.0.255, active energy import; 2.8.0 export) is followed by its value, a
double-long-unsigned ``06`` and four bytes, and, in Aidon's lists, by its scaler
and unit ``0202 0f<scaler> 16<unit>`` (unit 0x1E: Wh; scaler 01: times 10).
Kaifa's and Kamstrup's lists send no unit: Kaifa's ``KFM_001`` counts Wh,
Kamstrup's ``Kamstrup_V0001`` 10 Wh (their makers' HAN descriptions).

The whole-frame captures (``WHOLE``) are read as the meters sent them, header
and FCS their own; their registers are transcribed the same way.
"""

import pytest

from meter_bridge.protocols import decoder
from meter_bridge.telegrams import hdlc_frame
from tests.fixtures import captures, crafted

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

KAMSTRUP_ID = "5706567274389702"  # 0a10 35373036...3032, after 1.1.0.0.5.255
KAIFA_ID = "6970631401753985"  # the list's second element, 0910 36393730...3835
AIDON_ID = "7359992899161110"  # 0a10 37333539...3130, after 0.0.96.1.0.255

# name -> (exact bytes, the readings in them: (import Wh, export Wh, meter id),
# what the decoder skips in them)
WHOLE = {
    # 05:00:07: 0906 0101010800ff 06 000684ec, 0906 0101020800ff 06 00000000 (10 Wh);
    # 06:00:07: 0906 0101010800ff 06 000685b7, 2.8.0 06 00000000
    "kamstrup hourly": (
        captures.HAN_KAMSTRUP_HOURLY,
        [(0x000684EC * 10, 0, KAMSTRUP_ID), (0x000685B7 * 10, 0, KAMSTRUP_ID)],
        {},
    ),
    # six lists 1 (0201: power only), the list 3 at 00:00:10 (0212) whose 15th
    # value is 06 0001b857 (A+, Wh) and 16th 06 00000000 (A-), a list 2 (020d)
    "kaifa midnight": (
        captures.HAN_KAIFA_MIDNIGHT,
        [(0x0001B857, 0, KAIFA_ID)],
        {"no energy registers": 7},
    ),
    # list 3: 15th value 06 0002e785 (A+), 16th 06 00000000 (A-), Wh
    "kaifa 05:00": (captures.HAN_KAIFA_HOURLY_0500, [(0x0002E785, 0, KAIFA_ID)], {}),
    # list 3: 15th value 06 0002fa15 (A+), 16th 06 00000000 (A-), Wh
    "kaifa 09:00": (captures.HAN_KAIFA_HOURLY_0900, [(0x0002FA15, 0, KAIFA_ID)], {}),
    # no list 3: four lists 1 and a list 2 read, a list 2 damaged (crc), two
    # runs of noise (garbage: 3f 3f 3f 3f 3b ... up to the next list 1; 7e a0 27 01
    # 3f 3f 02 01 90, a list 1's start cut off)
    "kaifa line noise": (
        captures.HAN_KAIFA_NOISE,
        [],
        {"no energy registers": 5, "crc": 1, "garbage": 2},
    ),
    # 0100010800ff 06 00995986 0202 0f00 161e: scaler 0, Wh; 2.8.0 06 00000008 the same
    "aidon sweden": (captures.HAN_AIDON_SE_FRAME, [(0x00995986, 8, None)], {}),
    # 18:00: 0100010800ff 06 002163ca 0202 0f01 161e (scaler 1: 10 Wh), 2.8.0 06 00000000;
    # 19:00: 0100010800ff 06 002164e5, the same scaler and unit, 2.8.0 06 00000000
    "aidon hourly": (
        captures.HAN_AIDON_HOURLY,
        [(0x002163CA * 10, 0, AIDON_ID), (0x002164E5 * 10, 0, AIDON_ID)],
        {},
    ),
    # list 3: 15th value 06 000c3b74 (A+), 16th 06 00000071 (A-), Wh
    "kaifa t4 hourly": (
        captures.HAN_KAIFA_T4_HOURLY,
        [(0x000C3B74, 0x71, "6970631400000233")],
        {},
    ),
}
# The energy-bearing frames of WHOLE, one each: (frame, import Wh, export Wh,
# the import register's four bytes as the frame has them)
HOURLY = {
    "kamstrup hourly": (captures.HAN_KAMSTRUP_HOURLY[:303], 0x000684EC * 10, 0, "000684ec"),
    "kaifa 05:00": (captures.HAN_KAIFA_HOURLY_0500, 0x0002E785, 0, "0002e785"),
    "kaifa 09:00": (captures.HAN_KAIFA_HOURLY_0900, 0x0002FA15, 0, "0002fa15"),
    "aidon sweden": (captures.HAN_AIDON_SE_FRAME, 0x00995986, 8, "00995986"),
    "aidon hourly": (captures.HAN_AIDON_HOURLY[:377], 0x002163CA * 10, 0, "002163ca"),
    "kaifa t4 hourly": (captures.HAN_KAIFA_T4_HOURLY, 0x000C3B74, 0x71, "000c3b74"),
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
@pytest.mark.parametrize("name", sorted(WHOLE))
def test_whole_frame_capture_reads_as_its_registers(name, size):
    data, readings, skipped = WHOLE[name]
    telegrams, stream = read(data, size)
    assert [(t.import_wh, t.export_wh, t.meter) for t in telegrams] == readings
    assert all(t.raw in data and t.raw[0] == t.raw[-1] == 0x7E for t in telegrams)
    assert stream.skipped == skipped


@pytest.mark.parametrize("size", [None, 7])
@pytest.mark.parametrize("name", sorted(HOURLY))
def test_auto_finds_han_in_whole_frames(name, size):
    frame, imported, exported, _ = HOURLY[name]
    telegrams, stream = read(frame + frame, size, "auto")
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)] * 2
    assert stream.protocol == "han"


def test_a_flag_byte_inside_a_frame_does_not_end_it():
    # Kaifa's active power 06 0000047e: the frame ends where its length says
    frame = captures.HAN_KAIFA_HOURLY_0900
    inner = frame.index(bytes.fromhex("0600 00047e")) + 4
    stream = decoder("han")
    assert list(stream.feed(frame[: inner + 1])) == []
    telegrams = list(stream.feed(frame[inner + 1 :]))
    assert [(t.import_wh, t.raw) for t in telegrams] == [(0x0002FA15, frame)]
    assert not stream.skipped


@pytest.mark.parametrize("size", [None, 1, 7, 64])
@pytest.mark.parametrize("name", sorted(HOURLY))
def test_truncated_whole_frame_is_skipped_and_the_next_kept(name, size):
    frame, imported, exported, _ = HOURLY[name]
    telegrams, stream = read(frame[: len(frame) // 2] + frame, size)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"truncated": 1}
    assert not stream.evidence


@pytest.mark.parametrize("name", sorted(HOURLY))
def test_corrupted_import_register_of_a_whole_frame_fails_the_fcs(name):
    frame, imported, exported, register = HOURLY[name]
    corrupted = bytearray(frame)
    corrupted[frame.index(bytes.fromhex(register)) + 3] ^= 0x01
    telegrams, stream = read(bytes(corrupted) + frame)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [(imported, exported)]
    assert stream.skipped == {"crc": 1}
    assert list(stream.evidence) == [("crc", bytes(corrupted))]


def test_real_line_noise_keeps_the_damaged_frame_as_evidence():
    _, stream = read(captures.HAN_KAIFA_NOISE)
    assert [reason for reason, _ in stream.evidence] == ["crc"]
    assert b"\x3f\x3f\x00\x09\xfc" in stream.evidence[0][1]  # the damaged list 2


@pytest.mark.parametrize("size", [None, 1, 7, 64])
def test_a_run_of_garbage_is_skipped_once_however_it_is_chunked(size):
    # bytes without a flag, then a 7E that opens no frame, then more: one run
    frame = hdlc_frame(captures.HAN_KAIFA_LIST_3)
    garbage = b"\x00\x11\x3f" * 5 + b"\x7e\x3f\x3f" + b"\x22" * 9
    telegrams, stream = read(frame + garbage + frame, size)
    assert [t.import_wh for t in telegrams] == [0x04BE76E8] * 2
    assert stream.skipped == {"garbage": 1}
    assert not stream.evidence


@pytest.mark.parametrize("size", [None, 1, 7, 64])
@pytest.mark.parametrize(("frame", "reason"), list(crafted.HAN_BAD.items()))
def test_a_bad_han_frame_is_refused_with_its_reason(frame, reason, size):
    good = crafted.han(733_000, 100)
    for protocol in ("han", "auto"):
        telegrams, stream = read(good + frame + good, size, protocol)
        assert [(t.import_wh, t.export_wh) for t in telegrams] == [(7_330_000, 1_000)] * 2
        assert stream.skipped == {reason: 1}
        kept = [] if reason in ("garbage", "truncated") else [(reason, frame)]
        assert list(stream.evidence) == kept

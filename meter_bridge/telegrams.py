"""Telegrams as meters write them, for the simulator and the test fixtures.

DSMR P1 telegrams (2.2, 4, 5) as text lines with the CRC16 of DSMR 4 and 5,
and SML 1.04 transport frames (an open response, a list response with the
energy registers, a close response) with their X.25 CRCs. Registers are whole
Wh; the meter's clock is Dutch local time with the summer/winter flag (DSMR).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dsmr_parser.parsers import TelegramParser
from smllib.crc import x25

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


def _kwh(wh: int, integer_digits: int) -> str:
    return f"{wh // 1000:0{integer_digits}d}.{wh % 1000:03d}"


def _kw(watts: int) -> str:
    return f"{watts // 1000:02d}.{watts % 1000:03d}"


def dsmr_timestamp(unix: int) -> str:
    """0-0:1.0.0's value: YYMMDDhhmmss in Dutch local time, S (summer) or W (winter)."""
    local = datetime.fromtimestamp(unix, DUTCH_TIME)
    return local.strftime("%y%m%d%H%M%S") + ("S" if local.dst() else "W")


def dsmr_telegram(
    version: str,
    equipment_id: str,
    import_wh: tuple[int, int],
    export_wh: tuple[int, int],
    at: int,
    import_w: int = 0,
    export_w: int = 0,
) -> bytes:
    """A P1 telegram; registers per tariff (tariff 1, tariff 2) in Wh."""
    if version == "2.2":
        lines = [f"/OKW5\\2SIM-{version}", "", f"0-0:96.1.1({equipment_id.encode().hex()})"]
        digits = 5
    else:
        lines = [
            "/OKW5\\2SIM-P1",
            "",
            f"1-3:0.2.8({'42' if version == '4' else '50'})",
            f"0-0:1.0.0({dsmr_timestamp(at)})",
            f"0-0:96.1.1({equipment_id.encode().hex()})",
        ]
        digits = 6
    lines += [
        f"1-0:1.8.1({_kwh(import_wh[0], digits)}*kWh)",
        f"1-0:1.8.2({_kwh(import_wh[1], digits)}*kWh)",
        f"1-0:2.8.1({_kwh(export_wh[0], digits)}*kWh)",
        f"1-0:2.8.2({_kwh(export_wh[1], digits)}*kWh)",
        f"0-0:96.14.0({'0001' if import_wh[0] >= import_wh[1] else '0002'})",
        f"1-0:1.7.0({_kw(import_w)}*kW)",
        f"1-0:2.7.0({_kw(export_w)}*kW)",
    ]
    body = "\r\n".join(lines) + "\r\n!"
    checksum = "" if version == "2.2" else f"{TelegramParser.crc16(body):04X}"
    return (body + checksum + "\r\n").encode("ascii")


# SML: each value is a type-length byte and its content.
def _octets(data: bytes) -> bytes:
    assert len(data) < 15, "short octet strings only"
    return bytes([len(data) + 1]) + data


def _unsigned(value: int, size: int) -> bytes:
    return bytes([0x60 | (size + 1)]) + value.to_bytes(size, "big")


def _signed(value: int, size: int) -> bytes:
    return bytes([0x50 | (size + 1)]) + value.to_bytes(size, "big", signed=True)


def _list(*items: bytes) -> bytes:
    return bytes([0x70 | len(items)]) + b"".join(items)


EMPTY = b"\x01"  # an optional value left out


def _message(transaction: bytes, choice: int, body: bytes) -> bytes:
    """A message: a list of six (transaction id, group, abort on error, the
    body as a choice, the CRC of what precedes it, end of message)."""
    content = (
        b"\x76"
        + _octets(transaction)
        + _unsigned(0, 1)
        + _unsigned(0, 1)
        + _list(_unsigned(choice, 2), body)
    )
    return content + _unsigned(x25.get_crc(content), 2) + b"\x00"


def _energy_entry(obis_c: int, wh: int) -> bytes:
    return sml_register_entry(obis_c, wh * 10, scaler=-1)  # the value counts 0.1 Wh


def sml_register_entry(obis_c: int, value: int, unit: int = 30, scaler: int = 0) -> bytes:
    """An entry of OBIS 1-0:<obis_c>.8.0*255 as a meter writes it: ``value``
    times 10**``scaler`` in ``unit`` (30: Wh). Any value (negative, beyond 64
    bits) and scaler (-128 to 127) is written as given: tests craft bad ones."""
    size = max(1, (value.bit_length() + 8) // 8)
    number = _signed(value, size) if value < 0 else _unsigned(value, size)
    if size >= 15:  # a long value: type-length in two bytes
        length = size + 2
        kind = 0x50 if value < 0 else 0x60
        number = bytes([0x80 | kind | (length >> 4), length & 0x0F]) + value.to_bytes(
            size, "big", signed=value < 0
        )
    return _list(
        _octets(bytes([1, 0, obis_c, 8, 0, 255])),
        EMPTY,  # status
        EMPTY,  # value time
        _unsigned(unit, 1),
        _signed(scaler, 1),
        number,
        EMPTY,  # signature
    )


def _power_entry(watts: int) -> bytes:
    return _list(
        _octets(bytes([1, 0, 16, 7, 0, 255])),
        EMPTY,
        EMPTY,
        _unsigned(27, 1),  # unit: W
        _signed(0, 1),
        _signed(watts, 4),
        EMPTY,
    )


def sml_frame(
    server_id: bytes, import_wh: int, export_wh: int, sequence: int, net_w: int = 0
) -> bytes:
    """An SML transport frame with the total import (1.8.0) and export (2.8.0) registers."""
    return sml_frame_of(
        server_id,
        [_energy_entry(1, import_wh), _energy_entry(2, export_wh), _power_entry(net_w)],
        sequence,
    )


def sml_frame_of(server_id: bytes, entries: list[bytes], sequence: int) -> bytes:
    """An SML transport frame whose list response carries ``entries``."""
    file_id = sequence.to_bytes(4, "big")
    messages = [
        _message(
            file_id + b"\x01",
            0x0101,
            _list(EMPTY, EMPTY, _octets(file_id), _octets(server_id), EMPTY, EMPTY),
        ),
        _message(
            file_id + b"\x02",
            0x0701,
            _list(
                EMPTY,
                _octets(server_id),
                _octets(bytes([1, 0, 98, 10, 255, 255])),
                _list(_unsigned(1, 1), _unsigned(sequence & 0xFFFFFFFF, 4)),  # seconds index
                _list(*entries),
                EMPTY,
                EMPTY,
            ),
        ),
        _message(file_id + b"\x03", 0x0201, _list(EMPTY)),
    ]
    body = b"".join(messages).replace(b"\x1b\x1b\x1b\x1b", b"\x1b\x1b\x1b\x1b" * 2)
    padding = -len(body) % 4
    frame = (
        b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"
        + body
        + b"\x00" * padding
        + b"\x1b\x1b\x1b\x1b\x1a"
        + bytes([padding])
    )
    return frame + x25.get_crc(frame).to_bytes(2, "big")


def hdlc_frame(information: bytes, segmented: bool = False) -> bytes:
    """An HDLC frame as a HAN meter sends it (Kamstrup's header: destination 0x2B,
    source 0x21, control 0x13): flag, format with the length, addresses, control,
    HCS, ``information``, FCS, flag."""
    from meter_bridge.protocols import hdlc_fcs

    length = 2 + 3 + 2 + len(information) + 2
    if length > 0x7FF:
        raise ValueError(
            f"expected information of at most {0x7FF - 9} bytes, got {len(information)}"
        )
    header = (0xA000 | (0x0800 if segmented else 0) | length).to_bytes(2, "big") + b"\x2b\x21\x13"
    header += hdlc_fcs(header)
    return b"\x7e" + header + information + hdlc_fcs(header + information) + b"\x7e"

"""Meter telegrams from a byte stream: DSMR P1 (2.2, 4, 5) and SML.

A decoder takes bytes in whatever chunks the serial port delivers and yields
each complete, checked telegram once, with the meter's cumulative registers in
whole Wh. Everything else (bytes between frames, a frame cut short by the next
one, a frame whose CRC does not match, a frame without the registers) is
skipped, counted by reason in ``skipped`` and logged; it is never signed.

Registers, deliberately:

- import = the sum of OBIS 1.8.1 to 1.8.4 (the tariff registers) when the
  telegram has any, else 1.8.0 (the total); export likewise from 2.8.x. A meter
  that sends both the total and the tariffs is not counted twice.
- DSMR gives kWh with three decimals: times 1,000 is exact. A finer register
  (more decimals, or an SML scaler below 0) is truncated to whole Wh. The
  registers only grow, so truncating each of them loses nothing between two
  readings but the fraction below 1 Wh that the next reading carries on.
- The meter's own clock (DSMR 4 and 5: 0-0:1.0.0, Dutch local time with its
  summer/winter flag) is kept as ``meter_time`` (unix seconds); SML and
  DSMR 2.2 send none.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from dsmr_parser import telegram_specifications
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
from dsmr_parser.parsers import TelegramParser
from smllib.errors import CrcError, SmlLibException
from smllib.reader import SmlStreamReader

logger = logging.getLogger(__name__)

MAX_FRAME = 16 * 1024  # bytes; a P1 telegram is about 1 KiB, an SML frame less
DSMR_VERSIONS = {
    "2.2": telegram_specifications.V2_2,
    "4": telegram_specifications.V4,
    "5": telegram_specifications.V5,
}
PROTOCOLS = ("dsmr2.2", "dsmr4", "dsmr5", "sml")


@dataclass(frozen=True)
class Telegram:
    """One checked telegram: its exact bytes and the registers in it."""

    raw: bytes
    import_wh: int
    export_wh: int
    meter_time: int | None = None  # unix seconds, by the meter's clock


def decoder(protocol: str) -> DsmrDecoder | SmlDecoder:
    """The decoder for a protocol name of ``PROTOCOLS``."""
    if protocol == "sml":
        return SmlDecoder()
    if protocol.startswith("dsmr") and protocol[4:] in DSMR_VERSIONS:
        return DsmrDecoder(protocol[4:])
    raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")


def whole_wh(kwh: Decimal) -> int:
    """kWh (a Decimal from the meter) in whole Wh, truncated."""
    return int(kwh.scaleb(3))


def _registers(values: dict[str, int], kind: str) -> int | None:
    """The import ("1") or export ("2") register from OBIS C.D codes to Wh."""
    tariffs = [values[f"{kind}.8.{t}"] for t in range(1, 5) if f"{kind}.8.{t}" in values]
    if tariffs:
        return sum(tariffs)
    return values.get(f"{kind}.8.0")


class _Counting:
    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.decoded = 0

    def _skip(self, reason: str, data: bytes) -> None:
        self.skipped[reason] += 1
        logger.warning("telegram skipped: %s (%d bytes)", reason, len(data))


class DsmrDecoder(_Counting):
    """P1 telegrams: ``/`` header … ``!`` CRC (4 and 5; 2.2 has no CRC) CR LF."""

    def __init__(self, version: str) -> None:
        super().__init__()
        self.version = version
        self.parser = TelegramParser(DSMR_VERSIONS[version])
        self.buffer = b""

    def feed(self, data: bytes) -> Iterator[Telegram]:
        self.buffer += data
        while True:
            start = self.buffer.find(b"/")
            if start == -1:
                if len(self.buffer) > MAX_FRAME:
                    self._skip("garbage", self.buffer)
                    self.buffer = b""
                return
            if start:
                self._skip("garbage", self.buffer[:start])
                self.buffer = self.buffer[start:]
            bang = self.buffer.find(b"!")
            restart = self.buffer.find(b"/", 1)
            if restart != -1 and (bang == -1 or restart < bang):
                self._skip("truncated", self.buffer[:restart])
                self.buffer = self.buffer[restart:]
                continue
            if bang == -1:
                if len(self.buffer) > MAX_FRAME:
                    self._skip("oversized", self.buffer)
                    self.buffer = b""
                return
            end = self.buffer.find(b"\r\n", bang)
            if end == -1:
                return
            frame, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
            telegram = self._decode(frame)
            if telegram is not None:
                self.decoded += 1
                yield telegram

    def _decode(self, frame: bytes) -> Telegram | None:
        try:
            parsed = self.parser.parse(frame.decode("ascii"), throw_ex=True)
        except InvalidChecksumError:
            self._skip("crc", frame)
            return None
        except (ParseError, UnicodeDecodeError, ValueError, ArithmeticError):
            self._skip("unparseable", frame)
            return None
        values = {}
        for name, obis in (
            ("ELECTRICITY_USED_TARIFF_1", "1.8.1"),
            ("ELECTRICITY_USED_TARIFF_2", "1.8.2"),
            ("ELECTRICITY_DELIVERED_TARIFF_1", "2.8.1"),
            ("ELECTRICITY_DELIVERED_TARIFF_2", "2.8.2"),
        ):
            register = getattr(parsed, name, None)
            if register is not None:
                values[obis] = whole_wh(register.value)
        imported, exported = _registers(values, "1"), _registers(values, "2")
        if imported is None or exported is None:
            self._skip("no energy registers", frame)
            return None
        stamp = getattr(parsed, "P1_MESSAGE_TIMESTAMP", None)
        meter_time = int(stamp.value.timestamp()) if stamp is not None and stamp.value else None
        return Telegram(frame, imported, exported, meter_time)


# OBIS A-B:C.D.E*F as SML sends it (6 bytes), for electricity (A=1, B=0), E=x, F=255.
def _sml_obis(code: bytes) -> str | None:
    if len(code) != 6 or code[0] != 1 or code[3] != 8 or code[1] != 0:
        return None
    return f"{code[2]}.8.{code[4]}"


class SmlDecoder(_Counting):
    """SML 1.04 transport frames: escape, version, messages, padding, CRC16 (X.25)."""

    START = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"

    def __init__(self) -> None:
        super().__init__()
        self.reader = SmlStreamReader()

    def feed(self, data: bytes) -> Iterator[Telegram]:
        # smllib keeps at most 50 KiB: large chunks go in slices, each drained.
        for at in range(0, len(data), 8_192):
            self.reader.add(data[at : at + 8_192])
            yield from self._drain()

    def _drain(self) -> Iterator[Telegram]:
        while True:
            buffered = self.reader.bytes
            start = buffered.find(self.START)
            if start == -1:
                if len(buffered) > MAX_FRAME:
                    self._skip("garbage", buffered)
                    self.reader.clear()
                return
            if start:
                self._skip("garbage", buffered[:start])
                self.reader.bytes = buffered = buffered[start:]
            end = buffered.find(b"\x1b\x1b\x1b\x1b\x1a")
            restart = buffered.find(self.START, len(self.START))
            if restart != -1 and (end == -1 or restart < end):
                # A frame cut short: its end never came before the next start.
                self._skip("truncated", buffered[:restart])
                self.reader.bytes = buffered[restart:]
                continue
            try:
                frame = self.reader.get_frame()
            except CrcError as error:
                self._skip("crc", error.msg)
                continue
            if frame is None:
                if len(self.reader.bytes) > MAX_FRAME:
                    self._skip("oversized", self.reader.bytes)
                    self.reader.clear()
                return
            telegram = self._decode(frame)
            if telegram is not None:
                self.decoded += 1
                yield telegram

    def _decode(self, frame) -> Telegram | None:
        raw = bytes(frame.msg_ctx)
        try:
            entries = frame.get_obis()
        except (SmlLibException, ValueError, IndexError):
            self._skip("unparseable", raw)
            return None
        values = {}
        for entry in entries:
            obis = _sml_obis(bytes.fromhex(str(entry.obis)))
            if obis is None or entry.unit != 30 or not isinstance(entry.value, int):
                continue  # not an energy register in Wh
            scaler = entry.scaler or 0
            wh = entry.value * 10**scaler if scaler >= 0 else entry.value // 10**-scaler
            values[obis] = wh
        imported, exported = _registers(values, "1"), _registers(values, "2")
        if imported is None or exported is None:
            self._skip("no energy registers", raw)
            return None
        return Telegram(raw, imported, exported, None)

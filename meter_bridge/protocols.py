"""Meter telegrams from a byte stream: DSMR P1 in every flavour dsmr_parser reads, SML,
and the Nordic HAN port's DLMS/COSEM lists in HDLC frames (Kaifa, Aidon, Kamstrup).

A decoder takes bytes in whatever chunks the serial port delivers and yields
each complete, checked telegram once, with the meter's cumulative registers in
whole Wh. Everything else (bytes between frames, a frame cut short by the next
one, a frame whose CRC does not match, a frame without the registers, a
register the bridge cannot read exactly) is skipped, counted by reason in
``skipped``, logged, and the frame kept in ``evidence``; it is never signed.

Registers, deliberately:

- import = the sum of OBIS 1.8.1 to 1.8.4 (the tariff registers) when the
  telegram has any, else 1.8.0 (the total); export likewise from 2.8.x. A meter
  that sends both the total and the tariffs is not counted twice.
- A meter without any 2.8.x register (an import-only meter) gives
  ``export_wh = None``; the store and the signed reading carry 0 for it.
- Each register is converted from the unit the meter states: DSMR's ``*kWh``
  or ``*Wh`` (``*MWh`` too), SML's unit 30 (Wh) with its power-of-ten scaler,
  a HAN list's DLMS scaler and unit 30 where the meter sends them (Aidon), or
  the unit its maker documents for the list it names (Kaifa's ``KFM_001``: Wh;
  Kamstrup's ``Kamstrup_V0001``: 10 Wh), the only two lists that send none.
  The arithmetic is on integers and Decimals; a register finer than 1 Wh is
  truncated to whole Wh. The registers only grow, so truncating each of them
  loses nothing between two readings but the fraction below 1 Wh that the next
  reading carries on. Any other unit, or none, is refused, never guessed.
- A register that is negative, not a finite number, or above ``MAX_WH`` is
  refused with its own reason.
- The meter's own clock (DSMR 4 and 5: 0-0:1.0.0) is kept as ``meter_time``
  (unix seconds); SML and DSMR 2.2 send none. A HAN frame's clock is not
  kept: the lists state no zone the bridge could trust (meter_time None).
- A HAN meter sends its energy registers only in its hourly list; the lists in
  between (every 2 to 10 s) are counted as "no energy registers", quietly:
  neither logged as a warning nor kept as evidence.
"""

from __future__ import annotations

import logging
import re
import struct
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from dlms_cosem.connection import XDlmsApduFactory
from dlms_cosem.exceptions import DecryptionError as DlmsDecryptionError
from dsmr_parser import telegram_specifications as specs
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
from dsmr_parser.parsers import TelegramParser
from smllib.errors import CrcError
from smllib.reader import SmlStreamReader
from smllib.sml import SmlGetListResponse, SmlOpenResponse

logger = logging.getLogger(__name__)

MAX_FRAME = 16 * 1024  # bytes; a P1 telegram is about 1 KiB, an SML frame less
EVIDENCE = 64  # refused frames a decoder keeps until the daemon files them
# The contract's registers are uint64, the store's SQLite integers signed 64-bit:
# the lower of the two bounds both. 2**63 Wh is a billion GWh.
MAX_WH = 2**63 - 1

# The plaintext P1 specifications of dsmr_parser, by the names the config uses.
# DSMR 3 is DSMR 2.2's specification (no CRC). An encrypted frame's plaintext
# is read with one of these (EncryptedDsmrDecoder). Luxembourg has two: "smarty"
# (dsmr_parser's LUXEMBOURG_SMARTY) and "msn" (its MSN, the whole object list of the
# Luxembourg MSn meters, here for their plaintext).
DSMR_SPECS = {
    "dsmr2.2": specs.V2_2,
    "dsmr3": specs.V3,
    "dsmr4": specs.V4,
    "dsmr5": specs.V5,
    "fluvius": specs.BELGIUM_FLUVIUS,
    "smarty": specs.LUXEMBOURG_SMARTY,
    "msn": {**specs.MSN, "general_global_cipher": False},
    "sweden": specs.SWEDEN,
    "q3d": specs.Q3D,
    # dsmr_parser's specification reads the encrypted frame; this is its plaintext.
    "sagemcom-t210-d-r": {**specs.SAGEMCOM_T210_D_R, "general_global_cipher": False},
    "iskra-ie": specs.ISKRA_IE,
    "eon-hungary": specs.EON_HUNGARY,
}
# The most bytes an EasyMeter Q3D's gateway sends after a telegram's "!" line.
Q3D_TRAILER = 64
SML_CRCS = ("x25", "kermit")  # smllib's CRC variants; Holley DTZ541 uses kermit
PROTOCOLS = (*DSMR_SPECS, "sml", "han", "auto")

# dsmr_parser's names of the energy registers, by OBIS C.D.E.
DSMR_REGISTERS = {
    "ELECTRICITY_IMPORTED_TOTAL": "1.8.0",
    "ELECTRICITY_USED_TARIFF_1": "1.8.1",
    "ELECTRICITY_USED_TARIFF_2": "1.8.2",
    "ELECTRICITY_USED_TARIFF_3": "1.8.3",
    "ELECTRICITY_USED_TARIFF_4": "1.8.4",
    "ELECTRICITY_EXPORTED_TOTAL": "2.8.0",
    "ELECTRICITY_DELIVERED_TARIFF_1": "2.8.1",
    "ELECTRICITY_DELIVERED_TARIFF_2": "2.8.2",
    "ELECTRICITY_DELIVERED_TARIFF_3": "2.8.3",
    "ELECTRICITY_DELIVERED_TARIFF_4": "2.8.4",
}


def _spec_registers(spec: dict) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The energy registers of ``DSMR_REGISTERS`` a specification names, and whether
    it names the meter's clock: what a telegram it read is asked for."""
    names = {item["value_name"] for item in spec["objects"]}
    registers = tuple((name, obis) for name, obis in DSMR_REGISTERS.items() if name in names)
    return registers, "P1_MESSAGE_TIMESTAMP" in names


SPEC_REGISTERS = {name: _spec_registers(spec) for name, spec in DSMR_SPECS.items()}
DSMR_UNITS = {"Wh": 0, "kWh": 3, "MWh": 6}  # unit -> power of ten to Wh
ASCII_DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")
SML_WH = 30  # the DLMS unit code of Wh (IEC 62056-62)
# A telegram's CRC: its "!", 1 to 4 hex digits and CR LF end it (``$`` also
# matches before a final LF: the match starts at most 8 bytes from the end).
CHECKSUM = re.compile(rb"!([0-9A-Fa-f]{1,4})\r\n$")
VERSION_4_OR_5 = re.compile(rb"^1-3:0\.2\.8\(([45])\d\)", re.MULTILINE)


class DecodeError(Exception):
    """A frame the bridge refuses; ``reason`` is its skip reason in `status`."""

    reason = "unparseable"


class UnknownUnit(DecodeError):
    reason = "unknown unit"


class EmptyRegister(DecodeError):
    reason = "empty register"


class NegativeRegister(DecodeError):
    reason = "negative register"


class NotFiniteRegister(DecodeError):
    reason = "not a finite number"


class RegisterOutOfRange(DecodeError):
    reason = "register out of range"


class MissingChecksum(DecodeError):
    reason = "crc missing"


class CrcMismatch(DecodeError):
    reason = "crc"


class NoEnergyRegisters(DecodeError):
    reason = "no energy registers"


class WrongKey(DecodeError):
    reason = "wrong key"


@dataclass(frozen=True)
class Telegram:
    """One checked telegram: its exact bytes and the registers in it."""

    raw: bytes
    import_wh: int
    export_wh: int | None  # None: the meter has no export register
    meter_time: int | None = None  # unix seconds, by the meter's clock
    meter: str | None = None  # the meter's header (DSMR) or server id (SML)
    protocol: str | None = None  # the specification that read it


@dataclass(frozen=True)
class Keys:
    """The grid operator's keys of an encrypted meter (AES-128-GCM, DLMS security
    suite 0). Never logged: the repr hides them."""

    encryption_key: bytes  # 16 bytes
    authentication_key: bytes | None = None  # 16 bytes; None: the GCM tag goes unchecked

    def __repr__(self) -> str:
        return "Keys(<hidden>)"


def decoder(
    protocol: str, sml_crc: str = "x25", keys: Keys | None = None
) -> DsmrDecoder | SmlDecoder | HanDecoder | AutoDecoder | EncryptedDsmrDecoder:
    """The decoder for a protocol name of ``PROTOCOLS``; with ``keys``, of encrypted
    DSMR frames."""
    if keys is not None:
        if protocol in ("sml", "han"):
            raise ValueError(f"{protocol} meters are read unencrypted: keys are for DSMR protocols")
        return EncryptedDsmrDecoder(protocol, keys)
    if sml_crc not in SML_CRCS:
        raise ValueError(f"unknown SML CRC {sml_crc!r}; known: {', '.join(SML_CRCS)}")
    if protocol == "sml":
        return SmlDecoder(sml_crc)
    if protocol == "han":
        return HanDecoder()
    if protocol == "auto":
        return AutoDecoder(sml_crc)
    if protocol in DSMR_SPECS:
        return DsmrDecoder(protocol)
    raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")


# REGISTERS


def _scaled(register: str, mantissa: int, exponent: int) -> int:
    """mantissa * 10**exponent in whole Wh, truncated; refused beyond ``MAX_WH``.
    Neither a huge exponent nor a huge mantissa costs more than a comparison."""
    if mantissa < 0:
        raise NegativeRegister(f"{register}: expected a register >= 0, got {mantissa}e{exponent}")
    if mantissa == 0:
        return 0
    if exponent >= 0:
        if exponent > 19 or mantissa.bit_length() > 64:
            raise RegisterOutOfRange(
                f"{register}: expected at most {MAX_WH} Wh, got {mantissa}e{exponent}"
            )
        wh = mantissa * 10**exponent
    elif -exponent > mantissa.bit_length():  # 10**k > 2**k > mantissa
        wh = 0
    else:
        wh = mantissa // 10**-exponent
    if wh > MAX_WH:
        raise RegisterOutOfRange(f"{register}: expected at most {MAX_WH} Wh, got {wh}")
    return wh


def dsmr_wh(register: str, value, unit: str | None) -> int:
    """A DSMR register (a Decimal and its unit, as written) in whole Wh."""
    if value is None:
        raise EmptyRegister(f"{register}: expected a value, got none")
    if unit not in DSMR_UNITS:
        raise UnknownUnit(f"{register}: expected a unit of {', '.join(DSMR_UNITS)}, got {unit!r}")
    if not isinstance(value, Decimal):
        raise DecodeError(f"{register}: expected a number, got {value!r}")
    if not value.is_finite():
        raise NotFiniteRegister(f"{register}: expected a finite number, got {value}")
    sign, digits, exponent = value.as_tuple()
    if len(digits) > 64:  # a longer string of digits is nothing a meter writes
        raise RegisterOutOfRange(f"{register}: expected at most {MAX_WH} Wh, got {value}")
    mantissa = int(bytes(digits).translate(ASCII_DIGITS))  # the digits 0-9 as b"0"-b"9"
    if sign and mantissa:
        raise NegativeRegister(f"{register}: expected a register >= 0, got {value}")
    return _scaled(register, mantissa, exponent + DSMR_UNITS[unit])


def sml_wh(register: str, value, unit, scaler) -> int:
    """An SML register (an integer, its DLMS unit and power-of-ten scaler) in whole Wh."""
    if unit != SML_WH:
        raise UnknownUnit(f"{register}: expected unit {SML_WH} (Wh), got {unit!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"{register}: expected an integer, got {value!r}")
    scaler = 0 if scaler is None else scaler
    if isinstance(scaler, bool) or not isinstance(scaler, int):
        raise DecodeError(f"{register}: expected an integer scaler, got {scaler!r}")
    return _scaled(register, value, scaler)


TARIFFS = {kind: tuple(f"{kind}.8.{t}" for t in range(1, 5)) for kind in "12"}


def _combine(values: dict[str, int], kind: str) -> int | None:
    """The import ("1") or export ("2") register from OBIS C.D.E codes to Wh."""
    tariffs = [values[code] for code in TARIFFS[kind] if code in values]
    if tariffs:
        return sum(tariffs)
    return values.get(f"{kind}.8.0")


class _Counting:
    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.evidence: deque[tuple[str, bytes]] = deque(maxlen=EVIDENCE)
        self.decoded = 0

    def _skip(self, reason: str, data: bytes, detail: str = "") -> None:
        self.skipped[reason] += 1
        if reason not in ("garbage", "truncated", "oversized"):
            self.evidence.append((reason, bytes(data[:MAX_FRAME])))
        logger.warning(
            "telegram skipped: %s (%d bytes)%s", reason, len(data), f": {detail}" if detail else ""
        )


# DSMR


def _reflected_crc16_table(polynomial: int) -> tuple[int, ...]:
    """The byte table of a reflected CRC-16 with ``polynomial`` (bit-reversed)."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC16_TABLE = _reflected_crc16_table(0xA001)
# Two bytes a step: the CRC after a little-endian 16-bit word w, from the CRC c
# before it, is CRC16_PAIRS[c ^ w] (the register is 16 bits wide, so both bytes
# of c are shifted out). 64 Ki entries, built from the byte table at import.
CRC16_PAIRS = tuple(
    (CRC16_TABLE[x & 0xFF] >> 8) ^ CRC16_TABLE[((x >> 8) ^ CRC16_TABLE[x & 0xFF]) & 0xFF]
    for x in range(1 << 16)
)


def crc16(data: bytes) -> int:
    """CRC-16/ARC (reflected polynomial 0xA001, initial 0), DSMR's telegram CRC: from
    ``/`` to ``!`` inclusive. The same as dsmr_parser's TelegramParser.crc16, on bytes,
    two bytes a step (several times faster: a P1 telegram's CRC was a tenth of
    its decoding)."""
    crc, pairs = 0, CRC16_PAIRS
    for word in struct.unpack_from(f"<{len(data) >> 1}H", data):
        crc = pairs[crc ^ word]
    if len(data) & 1:
        crc = (crc >> 8) ^ CRC16_TABLE[(crc ^ data[-1]) & 0xFF]
    return crc


# Latin-1 characters outside printable ASCII, as \xNN.
UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0x100))}


def _header(frame: bytes) -> str:
    """The identification line after ``/``, with unprintable bytes escaped."""
    line = frame[1 : frame.find(b"\r\n")] if b"\r\n" in frame else frame[1:64]
    text = line.decode("latin-1")
    if text.isascii() and text.isprintable():
        return text
    return text.translate(UNPRINTABLE)


def _checksum(frame: bytes) -> re.Match | None:
    """The CRC a telegram (``/`` to the CR LF after its ``!``) ends with, if any."""
    return CHECKSUM.search(frame, max(len(frame) - 8, 0))


def _version_4_or_5(frame: bytes) -> re.Match | None:
    """A telegram's DSMR 4 or 5 version line (1-3:0.2.8), if it has one: the
    line-anchored pattern runs only where the plain text is there."""
    return VERSION_4_OR_5.search(frame) if b"1-3:0.2.8(" in frame else None


def dsmr_candidates(frame: bytes) -> list[str]:
    """Specifications to try on a telegram, the most likely first (from its header
    and lines); the one that reads the most energy registers wins."""
    header = _header(frame)
    first = []
    if header.startswith("FLU") or b"0-0:96.1.4(" in frame:
        first.append("fluvius")
    if "Q3D" in header or b"*255(" in frame:
        first.append("q3d")
    if "T210-D" in header or header.startswith("EST5"):
        first.append("sagemcom-t210-d-r")
    if "MIE5" in header:
        first.append("iskra-ie")
    if re.search(rb":[12]\.8\.[34]\(", frame):
        first.append("eon-hungary")
    version = _version_4_or_5(frame)
    if version is not None:
        first.append("dsmr5" if version.group(1) == b"5" else "dsmr4")
    elif b"-0:1.8.0(" in frame:
        # A total without DSMR's version line: Sweden's P1, whose two registers
        # Luxembourg's specification reads as well (Smarty sends the version line).
        first.append("sweden")
    first += [name for name in DSMR_SPECS if name not in first and name != "dsmr3"]
    return first


class DsmrDecoder(_Counting):
    """P1 telegrams: ``/`` header … ``!`` CRC (DSMR 4 and up; none in 2.2) CR LF.

    ``protocol`` names one of ``DSMR_SPECS``, or is "auto": the first telegram
    is read with each specification, and the one that reads the most energy
    registers (the likeliest by its header first) is kept for the rest.
    """

    def __init__(self, protocol: str) -> None:
        if protocol != "auto" and protocol not in DSMR_SPECS:
            raise ValueError(
                f"unknown DSMR specification {protocol!r}; known: {', '.join(DSMR_SPECS)}"
            )
        super().__init__()
        self.protocol = None if protocol == "auto" else protocol
        # Built when first used. The CRC is checked once, by _check, whatever the
        # specification says.
        self.parsers: dict[str, TelegramParser] = {}
        self.buffer = b""
        self.at = 0  # bytes of ``buffer`` already taken
        self.trailer = False  # the last telegram was an EasyMeter Q3D's

    def feed(self, data: bytes) -> Iterator[Telegram]:
        # Frames are cut at an offset, not by copying the rest of the buffer each
        # time: a large chunk (a backlog) costs linear time, not quadratic.
        buffer, at = self.buffer[self.at :] + data, 0
        try:
            while True:
                start = buffer.find(b"/", at)
                if start == -1:
                    if len(buffer) - at > MAX_FRAME:
                        self._skip("garbage", buffer[at:])
                        at = len(buffer)
                    return
                if start > at:
                    # An EasyMeter Q3D's gateway ends each telegram with two
                    # lines of its own (a counter and a status) after the "!":
                    # part of every telegram, not garbage.
                    if not (self.trailer and start - at <= Q3D_TRAILER):
                        self._skip("garbage", buffer[at:start])
                    at = start
                self.trailer = False
                bang = buffer.find(b"!", at)
                restart = buffer.find(b"/", at + 1)
                if restart != -1 and (bang == -1 or restart < bang):
                    self._skip("truncated", buffer[at:restart])
                    at = restart
                    continue
                end = buffer.find(b"\r\n", bang) if bang != -1 else -1
                if end == -1:
                    if len(buffer) - at > MAX_FRAME:
                        self._skip("oversized", buffer[at:])
                        at = len(buffer)
                    return
                frame, at = buffer[at : end + 2], end + 2
                try:
                    telegram = self._decode(frame)
                except DecodeError as error:
                    self._skip(error.reason, frame, str(error))
                    continue
                self.decoded += 1
                self.trailer = telegram.protocol == "q3d"
                self.buffer, self.at = buffer, at  # as it stands, while the caller holds this one
                yield telegram
        finally:
            self.buffer, self.at = buffer[at:], 0

    def _check(self, frame: bytes, spec: dict) -> None:
        """The CRC whenever the telegram carries one, whatever the specification
        says (DSMR 2.2's has none, but a DSMR 4 or 5 meter's telegram does), and
        a DSMR 4 or 5 telegram without one is refused."""
        checksum = _checksum(frame)
        if checksum is None:
            if spec["checksum_support"] or _version_4_or_5(frame):
                raise MissingChecksum("expected a CRC after '!', got none")
            return
        computed = crc16(frame[: checksum.start() + 1])
        stated = int(checksum.group(1), 16)
        if computed != stated:
            raise CrcMismatch(f"CRC mismatch: telegram says {stated:04X}, computed {computed:04X}")

    def _parse(self, name: str, text: str) -> dict[str, int]:
        """The energy registers one specification reads from a telegram, in Wh."""
        parser = self.parsers.get(name)
        if parser is None:
            parser = TelegramParser(DSMR_SPECS[name], apply_checksum_validation=False)
            self.parsers[name] = parser
        try:
            parsed = parser.parse(text, throw_ex=True)
        except (ParseError, InvalidChecksumError, ValueError, ArithmeticError) as exc:
            raise DecodeError(f"{name}: {exc}") from exc
        values = {}
        registers, clock = SPEC_REGISTERS[name]
        for value_name, obis in registers:
            register = getattr(parsed, value_name, None)
            if register is not None:
                values[obis] = dsmr_wh(obis, register.value, register.unit)
        stamp = getattr(parsed, "P1_MESSAGE_TIMESTAMP", None) if clock else None
        values["time"] = int(stamp.value.timestamp()) if stamp is not None and stamp.value else None
        return values

    def _decode(self, frame: bytes) -> Telegram:
        try:
            text = frame.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"expected ASCII, got {exc.object[exc.start : exc.end]!r}") from exc
        if self.protocol is not None:
            self._check(frame, DSMR_SPECS[self.protocol])
            name, values = self.protocol, self._parse(self.protocol, text)
        else:
            name, values = self._detect(frame, text)
        imported, exported = _combine(values, "1"), _combine(values, "2")
        if imported is None:
            raise NoEnergyRegisters("expected an import register (1.8.x), got none")
        return Telegram(frame, imported, exported, values["time"], _header(frame), name)

    def _detect(self, frame: bytes, text: str) -> tuple[str, dict[str, int]]:
        """Reads a telegram with each candidate specification; keeps the best."""
        has_checksum = _checksum(frame) is not None
        self._check(frame, specs.V2_2)
        best, refusal = None, None
        for name in dsmr_candidates(frame):
            if DSMR_SPECS[name]["checksum_support"] and not has_checksum:
                refusal = refusal or MissingChecksum(f"{name}: expected a CRC after '!', got none")
                continue
            try:
                values = self._parse(name, text)
            except DecodeError as error:
                if error.reason != "unparseable":
                    raise  # a register refused for its value, whatever the specification
                refusal = refusal or error
                continue
            found = len(values) - 1  # all but the time
            if found and (best is None or found > best[0]):
                best = (found, name, values)
        if best is None:
            raise refusal or NoEnergyRegisters("expected an import register (1.8.x), got none")
        _, name, values = best
        self.protocol = name
        logger.info("meter speaks %s (header %s)", name, _header(frame))
        return name, values


# ENCRYPTED DSMR

GENERAL_GLO_CIPHERING = 0xDB  # the DLMS APDU tag of an encrypted frame
SYSTEM_TITLE = 8  # bytes


class EncryptedDsmrDecoder(_Counting):
    """DLMS general-glo-ciphering frames carrying a P1 telegram, as the Luxembourg
    Smarty and Austrian grids' Sagemcom T210-D-R send them: 0xDB, the system
    title (8 bytes), 0x82 and a 2-byte length, the security control byte, the
    frame counter, the AES-128-GCM ciphertext and its 12-byte tag.

    With the authentication key, the GCM tag is checked; without it, the frame
    is decrypted unauthenticated (AES-CTR, as dsmr-parser does) and only the
    telegram's CRC guards it. A wrong key ("wrong key") is told apart from a
    damaged frame ("crc"). A frame inside which the same meter's next frame
    starts was cut short ("truncated"), and the next one is read.
    The plaintext telegram is then read as an unencrypted one; the reading's
    evidence keeps the exact encrypted bytes.
    """

    def __init__(self, protocol: str, keys: Keys) -> None:
        super().__init__()
        self.plain = DsmrDecoder(protocol)
        self.keys = keys
        self.buffer = b""

    @property
    def protocol(self) -> str | None:
        return self.plain.protocol

    def feed(self, data: bytes) -> Iterator[Telegram]:
        self.buffer += data
        while True:
            start = self.buffer.find(bytes([GENERAL_GLO_CIPHERING]))
            if start == -1:
                if len(self.buffer) > MAX_FRAME:
                    self._skip("garbage", self.buffer)
                    self.buffer = b""
                return
            if start:
                self._skip("garbage", self.buffer[:start])
                self.buffer = self.buffer[start:]
            head = 2 + SYSTEM_TITLE + 3
            if len(self.buffer) < head:
                return
            length = int.from_bytes(self.buffer[head - 2 : head], "big")
            if (
                self.buffer[1] != SYSTEM_TITLE
                or self.buffer[head - 3] != 0x82
                or length > MAX_FRAME
            ):
                self._skip("garbage", self.buffer[:1])  # not a frame's start after all
                self.buffer = self.buffer[1:]
                continue
            # The same meter's next frame starting inside this one: this one was cut
            # short (the 11 bytes of tag, title and 0x82 do not occur by chance).
            prefix = self.buffer[: head - 2]
            inner = self.buffer.find(prefix, 1, head + length + len(prefix) - 1)
            if inner != -1:
                self._skip("truncated", self.buffer[:inner])
                self.buffer = self.buffer[inner:]
                continue
            if len(self.buffer) < head + length:
                return
            frame, self.buffer = self.buffer[: head + length], self.buffer[head + length :]
            try:
                telegram = replace(self.plain._decode(self._decrypt(frame)), raw=frame)
            except DecodeError as error:
                self._skip(error.reason, frame, str(error))
                continue
            self.decoded += 1
            yield telegram

    def _decrypt(self, frame: bytes) -> bytes:
        """The plaintext telegram. A frame whose GCM tag fails is decrypted without it
        to tell why: a telegram with a valid CRC (a wrong authentication key), one
        whose CRC fails (a damaged frame), or no telegram at all (a wrong
        encryption key)."""
        try:
            apdu = XDlmsApduFactory.apdu_from_bytes(apdu_bytes=frame)
        except Exception as exc:  # dlms-cosem on hostile bytes
            raise DecodeError(f"expected a general-glo-ciphering APDU: {exc}") from exc
        keys = self.keys
        if keys.authentication_key is not None:
            try:
                return apdu.to_plain_apdu(keys.encryption_key, keys.authentication_key)
            except DlmsDecryptionError:
                pass
        iv = apdu.system_title + apdu.invocation_counter.to_bytes(4, "big")
        counter = iv + (2).to_bytes(4, "big")  # GCM's first counter block for the text
        decryptor = Cipher(algorithms.AES(keys.encryption_key), modes.CTR(counter)).decryptor()
        plain = decryptor.update(apdu.ciphered_text[:-12]) + decryptor.finalize()
        if not plain.startswith(b"/"):
            raise WrongKey("expected a telegram once decrypted, got none: the encryption key")
        if keys.authentication_key is not None:
            self.plain._check(plain, specs.V5)  # raises CrcMismatch: a damaged frame
            raise WrongKey("the GCM tag fails on an intact telegram: the authentication key")
        return plain


# SML


def _sml_obis(code: bytes) -> str | None:
    """OBIS 1-0:C.8.E*255 as SML sends it (6 bytes) as "C.8.E", for C = 1 or 2."""
    if len(code) != 6 or code[0] != 1 or code[3] != 8 or code[5] != 255 or code[2] not in (1, 2):
        return None
    return f"{code[2]}.8.{code[4]}"


class SmlDecoder(_Counting):
    """SML 1.04 transport frames: escape, version, messages, padding, CRC16 (X.25
    by default; Kermit for the meters that use it)."""

    START = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"
    protocol = "sml"

    def __init__(self, crc: str = "x25") -> None:
        super().__init__()
        self.reader = SmlStreamReader(crc=crc)

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
                self._skip(
                    "crc",
                    error.msg,
                    f"telegram says {error.crc_msg:04X}, computed {error.crc_calc:04X}",
                )
                continue
            if frame is None:
                if len(self.reader.bytes) > MAX_FRAME:
                    self._skip("oversized", self.reader.bytes)
                    self.reader.clear()
                return
            raw = bytes(frame.msg_ctx)
            try:
                telegram = self._decode(frame, raw)
            except DecodeError as error:
                self._skip(error.reason, raw, str(error))
                continue
            self.decoded += 1
            yield telegram

    def _decode(self, frame, raw: bytes) -> Telegram:
        try:
            messages = frame.parse_frame()
        # smllib on a frame whose CRC matched but whose content is hostile: whatever
        # it raises, the frame is refused and the reader lives on.
        except Exception as exc:
            raise DecodeError(f"expected SML messages, got {type(exc).__name__}: {exc}") from exc
        values, meter = {}, None
        for message in messages:
            body = message.message_body
            if isinstance(body, SmlOpenResponse | SmlGetListResponse) and body.server_id:
                meter = meter or str(body.server_id)
            if not isinstance(body, SmlGetListResponse):
                continue
            for entry in body.val_list or ():
                try:
                    code = bytes.fromhex(str(entry.obis))
                except ValueError:
                    continue
                obis = _sml_obis(code)
                if obis is not None:
                    values[obis] = sml_wh(obis, entry.value, entry.unit, entry.scaler)
        imported, exported = _combine(values, "1"), _combine(values, "2")
        if imported is None:
            raise NoEnergyRegisters("expected an import register (1.8.x), got none")
        return Telegram(raw, imported, exported, None, meter, "sml")


# HAN: DLMS/COSEM data notifications in HDLC frames (IEC 62056-46 and -6-2)

HDLC_FLAG = 0x7E
HDLC_MAX = 0x7FF  # bytes; the frame format's 11-bit length, flags excluded
LLC = b"\xe6\xe7\x00"  # the LLC header of a meter's information field
DATA_NOTIFICATION = 0x0F
# Lists whose registers come without scaler and unit: the power of ten to Wh of
# their energy registers, as their makers document them (Kaifa MA304's and
# Kamstrup's HAN interface descriptions for the Norwegian and Swedish grids).
HAN_LIST_SCALERS = {"KFM_001": 0, "Kamstrup_V0001": 1}
# Lists that misstate their length (Kamstrup's one-phase lists state the
# three-phase count): complete when they end with their last register instead.
HAN_LAST_REGISTER = {"Kamstrup_V0001": bytes([1, 1, 4, 8, 0, 255])}  # R34, 1.1.4.8.0.255
# Kaifa's Norwegian lists send values without OBIS codes: the registers by their
# position in the list, known by its length (list 3, three-phase and one-phase).
KAIFA_POSITIONS = {18: {"1.8.0": 14, "2.8.0": 15}, 14: {"1.8.0": 10, "2.8.0": 11}}
KAIFA_CLOCK = {18: 13, 14: 9}  # the position of the list's clock (12 octets)
# OBIS codes of the meter's list version and its id (GS1 number for Kamstrup).
LIST_VERSION = (0, 2, 129, 255)  # C.D.E.F; A and B vary between makers
METER_IDS = ((0, 0, 96, 1, 0, 255), (1, 1, 0, 0, 5, 255))
# A-XDR types of fixed size (IEC 62056-6-2): tag -> (bytes, signed), integers only.
AXDR_INTEGERS = {
    0x05: (4, True),  # double-long
    0x06: (4, False),  # double-long-unsigned
    0x0F: (1, True),  # integer
    0x10: (2, True),  # long
    0x11: (1, False),  # unsigned
    0x12: (2, False),  # long-unsigned
    0x14: (8, True),  # long64
    0x15: (8, False),  # long64-unsigned
    0x16: (1, False),  # enum
}
AXDR_OTHERS = {0x03: 1, 0x0D: 1, 0x17: 4, 0x18: 8, 0x19: 12, 0x1A: 5, 0x1B: 4}  # tag -> bytes
AXDR_STRINGS = (0x09, 0x0A, 0x0C)  # octet-string, visible-string, utf8-string


X25_TABLE = _reflected_crc16_table(0x8408)


def hdlc_fcs(data: bytes) -> bytes:
    """CRC-16/X-25 (HDLC's FCS and HCS: reflected 0x1021, initial and final XOR
    0xFFFF), least significant byte first, as it follows ``data`` in a frame."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ X25_TABLE[(crc ^ byte) & 0xFF]
    return (crc ^ 0xFFFF).to_bytes(2, "little")


class Opaque(bytes):
    """An A-XDR value the bridge keeps as bytes but never reads as a number
    (a boolean, a float, a date): it fails every register's integer check."""


def _axdr_length(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0x80:
        return first, at + 1
    size = first & 0x7F
    if size not in (1, 2) or at + 1 + size > len(data):
        raise DecodeError(f"expected an A-XDR length of 1 or 2 bytes, got {first:#04x}")
    return int.from_bytes(data[at + 1 : at + 1 + size], "big"), at + 1 + size


def _axdr(data: bytes, at: int, depth: int = 0):
    """One A-XDR value at ``at``: (value, the offset after it). Arrays and
    structures are lists; integers ints; strings and dates bytes; null None.
    Raises IndexError or DecodeError on a value cut short or of a type unknown."""
    tag = data[at]
    at += 1
    if tag == 0x00:
        return None, at
    if tag in AXDR_INTEGERS:
        size, signed = AXDR_INTEGERS[tag]
        if at + size > len(data):
            raise IndexError("integer cut short")
        return int.from_bytes(data[at : at + size], "big", signed=signed), at + size
    if tag in (0x01, 0x02):  # array, structure
        if depth > 8:
            raise DecodeError("expected structures nested at most 8 deep")
        count, at = _axdr_length(data, at)
        items = []
        while len(items) < count:
            item, at = _axdr(data, at, depth + 1)
            items.append(item)
        return items, at
    if tag in AXDR_STRINGS:
        size, at = _axdr_length(data, at)
    elif tag == 0x04:  # bit-string: its length in bits
        bits, at = _axdr_length(data, at)
        size = (bits + 7) // 8
    elif tag in AXDR_OTHERS:
        size = AXDR_OTHERS[tag]
    else:
        raise DecodeError(f"expected an A-XDR type, got tag {tag:#04x} at byte {at - 1}")
    if at + size > len(data):
        raise IndexError("value cut short")
    value = data[at : at + size]
    return (value if tag in AXDR_STRINGS else Opaque(value)), at + size


def han_body(information: bytes) -> tuple[list, int]:
    """The elements of a data notification's body, from an HDLC information field:
    LLC header (optional), tag 0x0F, long-invoke-id (4 bytes), date-time (null,
    or 12 octets with or without the octet-string tag), then one structure or
    array read to the field's end. Kamstrup puts null-data between the elements
    and counts neither them nor, in its short lists, all its elements: the
    nulls are dropped and the elements read to the end. Returns the elements and
    the count the list states, which a list with energy registers must match."""
    data = information[3:] if information.startswith(LLC) else information
    try:
        if data[0] != DATA_NOTIFICATION:
            raise DecodeError(f"expected a data-notification (0x0F), got tag {data[0]:#04x}")
        at = 5
        if data[at] == 0x00:
            at += 1
        elif data[at] == 0x09:
            size, at = _axdr_length(data, at + 1)
            at += size
        elif data[at] == 0x0C:
            at += 13
        else:
            raise DecodeError(f"expected the notification's date-time, got {data[at]:#04x}")
        if data[at] not in (0x01, 0x02):
            raise DecodeError(f"expected a structure or an array, got tag {data[at]:#04x}")
        count, at = _axdr_length(data, at + 1)
        items = []
        while at < len(data):
            item, at = _axdr(data, at)
            if item is not None:
                items.append(item)
    except IndexError as exc:
        raise DecodeError(
            f"expected a complete data notification, got one cut short ({exc})"
        ) from exc
    return items, count


def _obis(code) -> tuple[int, ...] | None:
    return tuple(code) if isinstance(code, bytes) and len(code) == 6 else None


def _text(value) -> str | None:
    if not isinstance(value, bytes) or isinstance(value, Opaque):
        return None
    text = value.decode("latin-1")
    return text if text.isascii() and text.isprintable() else value.hex()


def han_registers(items: list) -> tuple[dict[str, int], str | None, str | None]:
    """A list's energy registers in Wh (OBIS C.8.E, C = 1 or 2), its meter id and
    its list version. A register's scaler and unit are the frame's where it
    sends them (Aidon), else those its list documents (``HAN_LIST_SCALERS``);
    a register of neither is refused, never guessed."""
    entries: list[tuple[tuple[int, ...], object, list | None]] = []
    version = None
    if items and all(isinstance(item, list) for item in items):  # Aidon: structures
        for item in items:
            code = _obis(item[0]) if item else None
            if code is not None and len(item) >= 2:
                unit = item[2] if len(item) >= 3 else None
                entries.append((code, item[1], unit))
    elif items and (_obis(items[0]) or (len(items) > 1 and _obis(items[1]))):  # pairs
        at = 0 if _obis(items[0]) else 1
        version = _text(items[0]) if at else None  # Kamstrup: the version comes bare
        for code, value in zip(items[at::2], items[at + 1 :: 2], strict=False):
            if _obis(code) is not None:
                entries.append((_obis(code), value, None))
    else:  # Kaifa's Norwegian lists: values by position
        version = _text(items[0]) if items else None
        positions = KAIFA_POSITIONS.get(len(items), {}) if version == "KFM_001" else {}
        clock = KAIFA_CLOCK.get(len(items))
        if positions and not (isinstance(items[clock], Opaque | bytes) and len(items[clock]) == 12):
            raise DecodeError(f"{version}: expected the list's clock at position {clock}")
        for register, position in positions.items():
            c, _, e = register.split(".")
            entries.append(((1, 0, int(c), 8, int(e), 255), items[position], None))
        meter = _text(items[1]) if len(items) > 1 and positions else None
        return _han_wh(entries, version), meter, version
    meter = None
    for code, value, _ in entries:
        if code[2:] == LIST_VERSION:
            version = _text(value)
        elif code in METER_IDS:
            meter = _text(value)
    return _han_wh(entries, version), meter, version


def _han_wh(entries, version: str | None) -> dict[str, int]:
    values = {}
    for (a, _, c, d, e, f), value, scaler_unit in entries:
        if a != 1 or c not in (1, 2) or d != 8 or e > 4 or f != 255:
            continue
        register = f"{c}.8.{e}"
        if scaler_unit is not None:
            if not (isinstance(scaler_unit, list) and len(scaler_unit) == 2):
                raise UnknownUnit(f"{register}: expected a scaler and a unit, got {scaler_unit!r}")
            scaler, unit = scaler_unit
        elif version in HAN_LIST_SCALERS:
            scaler, unit = HAN_LIST_SCALERS[version], SML_WH
        else:
            raise UnknownUnit(
                f"{register}: the frame states no unit, and list {version!r} is none whose "
                f"units are known ({', '.join(HAN_LIST_SCALERS)})"
            )
        values[register] = sml_wh(register, value, unit, scaler)
    return values


class HanDecoder(_Counting):
    """HDLC frames (type 3: flag 0x7E, format with the 11-bit length, addresses,
    control, HCS, information, FCS, flag) carrying DLMS data notifications, as
    Kaifa, Aidon and Kamstrup meters send them on the HAN port (M-Bus 2400 8E1,
    or P1 115200 8N1). No byte stuffing: a frame ends where its length says.

    A start whose header check fails is no frame's start; a frame whose FCS
    fails is "truncated" when another frame starts inside it (read next), else
    "crc". Segmented frames (the format's S bit) are joined before reading.
    """

    protocol = "han"

    def __init__(self) -> None:
        super().__init__()
        self.buffer = b""
        self.segments: list[tuple[bytes, bytes]] = []  # (frame, information) so far

    def feed(self, data: bytes) -> Iterator[Telegram]:
        buffer, at = self.buffer + data, 0
        try:
            while True:
                # Bytes before the next frame's start are one run of garbage, skipped
                # once that start is certain (or past MAX_FRAME): its count does not
                # depend on how the port chunks it.
                start, header = self._frame_start(buffer, at)
                if not header:
                    if len(buffer) - at > MAX_FRAME:
                        cut = len(buffer) if start is None else start
                        self._skip("garbage", buffer[at:cut])
                        at = cut
                    return
                if start > at:
                    if buffer[at:start].strip(b"\x7e"):  # flags between frames are no garbage
                        self._skip("garbage", buffer[at:start])
                    at = start
                length = ((buffer[at + 1] & 0x07) << 8) | buffer[at + 2]
                end = at + 1 + length  # the closing flag
                if len(buffer) <= end:
                    return
                frame = buffer[at : end + 1]
                if buffer[end] != HDLC_FLAG or hdlc_fcs(frame[1:-3]) != frame[-3:-1]:
                    inner = self._inner_start(buffer, at + 1, end)
                    if inner is not None:
                        self._skip("truncated", buffer[at:inner])
                        at = inner
                    else:
                        self._skip(
                            "crc",
                            frame,
                            f"FCS says {frame[-3:-1].hex()}, computed "
                            f"{hdlc_fcs(frame[1:-3]).hex()}",
                        )
                        at = end
                    self.segments.clear()
                    continue
                at = end  # the closing flag may open the next frame
                information = frame[1 + header : -3]
                if frame[1] & 0x08:  # segmented: more of the APDU follows
                    self.segments.append((frame, information))
                    continue
                if self.segments:
                    frame = b"".join(f for f, _ in self.segments) + frame
                    information = b"".join(i for _, i in self.segments) + information
                    self.segments.clear()
                telegram = self._read(frame, information)
                if telegram is not None:
                    self.decoded += 1
                    self.buffer = buffer[at:]
                    yield telegram
        finally:
            self.buffer = buffer[at:]

    @staticmethod
    def _header(buffer: bytes, at: int) -> int | None:
        """The header's length (format to HCS) of a frame starting at ``at``; 0 when
        no frame starts there; None when more bytes are needed to tell."""
        if len(buffer) < at + 3:
            return None
        if buffer[at + 1] >> 4 != 0xA:
            return 0
        at_address = at + 3
        for _ in range(2):  # destination, source: 1, 2 or 4 bytes, the last odd
            for size in range(1, 5):
                if len(buffer) <= at_address + size - 1:
                    return None
                if buffer[at_address + size - 1] & 1:
                    break
            else:
                return 0
            if size == 3:
                return 0
            at_address += size
        header = at_address + 1 + 2 - (at + 1)  # control and HCS
        length = ((buffer[at + 1] & 0x07) << 8) | buffer[at + 2]
        if length < header + 2:  # no information field
            return 0
        if len(buffer) < at + 1 + header:
            return None
        if hdlc_fcs(buffer[at + 1 : at + header - 1]) != buffer[at + header - 1 : at + header + 1]:
            return 0
        return header

    def _frame_start(self, buffer: bytes, at: int) -> tuple[int | None, int | None]:
        """The first flag from ``at`` that opens a frame, and the frame's header
        length; (the flag, None) when more bytes are needed to tell whether it
        does; (None, None) when no flag is left."""
        while True:
            at = buffer.find(b"\x7e", at)
            if at == -1:
                return None, None
            header = self._header(buffer, at)
            if header != 0:
                return at, header
            at += 1

    def _inner_start(self, buffer: bytes, at: int, end: int) -> int | None:
        """The first frame start with a valid header between ``at`` and ``end``."""
        while True:
            at = buffer.find(b"\x7e", at, end + 1)
            if at == -1:
                return None
            if self._header(buffer, at):
                return at
            at += 1

    def _read(self, frame: bytes, information: bytes) -> Telegram | None:
        try:
            items, count = han_body(information)
            values, meter, version = han_registers(items)
            imported, exported = _combine(values, "1"), _combine(values, "2")
            if imported is None:
                raise NoEnergyRegisters("expected an import register (1.8.x), got none")
            last = HAN_LAST_REGISTER.get(version)
            if last is not None and (len(items) < 2 or items[-2] != last):
                raise DecodeError(f"{version}: expected the list to end with {last.hex()}")
            if last is None and len(items) != count:  # a list cut short between elements
                raise DecodeError(f"expected a list of {count} elements, got {len(items)}")
        except NoEnergyRegisters:
            # The lists between the hourly ones: normal, counted, not evidence.
            self.skipped[NoEnergyRegisters.reason] += 1
            logger.debug("HAN list without energy registers (%d bytes)", len(frame))
            return None
        except DecodeError as error:
            self._skip(error.reason, frame, str(error))
            return None
        return Telegram(frame, imported, exported, None, meter, "han")


# AUTO


class AutoDecoder:
    """DSMR, SML or HAN, whichever the stream turns out to carry: all read it until
    one of them decodes a telegram, and that one reads the rest. A HAN meter is
    found at its first hourly list, the first frame with energy registers."""

    def __init__(self, sml_crc: str = "x25") -> None:
        self.candidates = [DsmrDecoder("auto"), SmlDecoder(sml_crc), HanDecoder()]
        self.chosen: DsmrDecoder | SmlDecoder | HanDecoder | None = None

    @property
    def protocol(self) -> str | None:
        return self.chosen.protocol if self.chosen is not None else None

    @property
    def skipped(self) -> Counter[str]:
        return self.chosen.skipped if self.chosen is not None else Counter()

    @property
    def evidence(self) -> deque[tuple[str, bytes]]:
        return self.chosen.evidence if self.chosen is not None else deque()

    def feed(self, data: bytes) -> Iterator[Telegram]:
        if self.chosen is not None:
            yield from self.chosen.feed(data)
            return
        for candidate in self.candidates:
            telegrams = candidate.feed(data)
            first = next(telegrams, None)
            if first is not None:
                self.chosen = candidate
                yield first
                yield from telegrams
                return

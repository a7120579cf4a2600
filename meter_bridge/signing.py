"""A meter reading as EIP-712 typed data, and its signature by the meter key.

This is the exact message SmartMeterBackend.vy verifies; every client signs it
(its type and domain are in ``openkwh.chain.typed_data``):

    domain  {name: "OpenKWh SmartMeterBackend", version: "1", chainId, verifyingContract}
    Reading(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 importWh,
            uint64 exportWh,bytes32 dataDigest)

``intervalBegin`` is the end of the meter's last reading on chain (the
contract's ``next_reading_begin``), or 0 for a baseline: a reading closes the
interval it names, so nobody can relay a later reading first and merge hours.

Pure logic: no I/O. Amounts are integer Wh, times unix seconds UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from openkwh.chain.typed_data import (  # noqa: F401  (the names clients of this module use)
    DOMAIN_VERSION,
    EIP712_DOMAIN_TYPE,
    MEASUREMENT_TYPE,
    READING_DOMAIN_NAME,
    READING_TYPE,
    ROOTS_DOMAIN_NAME,
    reading_typed_data,
)
from openkwh.chain.typed_data import measurement_typed_data as shared_measurement_typed_data

# The reading's EIP-712 type and domain are the project's, shared with every client.
DOMAIN_NAME = READING_DOMAIN_NAME
UINT64_MAX = 2**64 - 1


class ReadingError(ValueError):
    """A reading field is out of its range; the message says which and what came."""


@dataclass(frozen=True)
class Reading:
    """The cumulative registers of a meter at the end of an interval, and where the
    measurement it closes begins (0: it is a baseline)."""

    meter_id: bytes  # 32 bytes: the salted hash of the GSRN/EAN
    interval_end: int  # unix seconds, on the interval grid
    import_wh: int  # cumulative import register, Wh
    export_wh: int  # cumulative export register, Wh
    data_digest: bytes  # 32 bytes: sha256 of the raw telegrams behind the reading
    interval_begin: int = 0  # the meter's last interval end on chain; 0 for a baseline

    def __post_init__(self):
        for name in ("meter_id", "data_digest"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise ReadingError(f"{name} must be 32 bytes, got {value!r}")
        for name in ("interval_begin", "interval_end", "import_wh", "export_wh"):
            value = getattr(self, name)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= UINT64_MAX
            ):
                raise ReadingError(f"{name} must be an integer in [0, 2**64), got {value!r}")


@dataclass(frozen=True)
class SignedReading:
    reading: Reading
    v: int
    r: int
    s: int

    def contract_args(self) -> tuple:
        """Arguments of ``submit_reading``, in order (also a ``Reading`` struct for batches)."""
        reading = self.reading
        return (
            reading.meter_id,
            reading.interval_begin,
            reading.interval_end,
            reading.import_wh,
            reading.export_wh,
            reading.data_digest,
            self.v,
            self.r.to_bytes(32, "big"),
            self.s.to_bytes(32, "big"),
        )


def typed_data(reading: Reading, chain_id: int, verifying_contract: str) -> dict:
    """The full EIP-712 message, as eth_signTypedData_v4 and eth-account take it."""
    return reading_typed_data(
        reading.meter_id,
        reading.interval_begin,
        reading.interval_end,
        reading.import_wh,
        reading.export_wh,
        reading.data_digest,
        chain_id,
        verifying_contract,
    )


def sign_reading(
    account: LocalAccount, reading: Reading, chain_id: int, verifying_contract: str
) -> SignedReading:
    """Sign with the meter key; eth-account always produces low-s signatures with v in 27/28."""
    signed = account.sign_typed_data(full_message=typed_data(reading, chain_id, verifying_contract))
    return SignedReading(reading, signed.v, signed.r, signed.s)


def gs1_check_digit(digits: str) -> int:
    """The GS1 check digit of a number's data digits: weights 3, 1, 3, … from the right."""
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - weighted % 10) % 10


def gsrn_is_valid(gsrn: str) -> bool:
    """Whether ``gsrn`` is 18 digits whose last is the GS1 check digit of the first 17."""
    return len(gsrn) == 18 and gsrn.isdigit() and gs1_check_digit(gsrn[:17]) == int(gsrn[17])


def meter_id(gsrn: str, salt: bytes) -> bytes:
    """The on-chain meter id: keccak256(salt || GSRN). The raw number never goes on chain.

    The salt is kept by the operator and the meter owner; without it the id
    cannot be linked back to a metering point by trying all GSRNs.
    """
    if not gsrn_is_valid(gsrn):
        raise ReadingError(f"not a valid 18-digit GSRN: {gsrn!r}")
    if len(salt) < 16:
        raise ReadingError(f"salt must be at least 16 bytes, got {len(salt)}")
    return keccak(salt + gsrn.encode("ascii"))


def read_salt(path: Path) -> bytes:
    """The operator's salt, byte for byte: a random binary salt may end in what
    looks like whitespace (a 32-byte one does about 5 % of the time), so nothing
    is stripped. Make it with ``head -c 32 /dev/urandom > salt``."""
    salt = Path(path).read_bytes()
    if len(salt) < 16:
        raise ReadingError(f"salt must be at least 16 bytes, {path} has {len(salt)}")
    return salt


# A root-published meter (issue 18) signs each interval's measurement itself,
# for a tree of meter-signed leaves (MeasurementRoots.vy verifies it on use):
#
#     domain  {name: "OpenKWh MeasurementRoots", version: "1", chainId, verifyingContract}
#     Measurement(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 producedWh,
#                 uint64 consumedWh,uint64 importWh,uint64 exportWh,bytes32 dataDigest)
#
# The produced and consumed Wh are signed, not derived on chain: a revealed
# interval's neighbours may never be revealed. The registers at its end let an
# auditor check a run of revealed intervals against each other.
# Its type and domain are the project's, in openkwh.chain.typed_data.


@dataclass(frozen=True)
class Measurement:
    """What a root-published meter measured over ``[interval_begin, interval_end)``,
    and its registers at ``interval_end``."""

    meter_id: bytes  # 32 bytes: the salted hash of the GSRN/EAN
    interval_begin: int  # unix seconds, on the interval grid
    interval_end: int  # unix seconds, on the interval grid
    produced_wh: int  # exported Wh over the interval
    consumed_wh: int  # imported Wh over the interval
    import_wh: int  # cumulative import register at interval_end, Wh
    export_wh: int  # cumulative export register at interval_end, Wh
    data_digest: bytes  # 32 bytes: sha256 of the raw telegrams behind it

    def __post_init__(self):
        for name in ("meter_id", "data_digest"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise ReadingError(f"{name} must be 32 bytes, got {value!r}")
        for name in (
            "interval_begin",
            "interval_end",
            "produced_wh",
            "consumed_wh",
            "import_wh",
            "export_wh",
        ):
            value = getattr(self, name)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= UINT64_MAX
            ):
                raise ReadingError(f"{name} must be an integer in [0, 2**64), got {value!r}")


def measurement_typed_data(
    measurement: Measurement, chain_id: int, verifying_contract: str
) -> dict:
    """The full EIP-712 message of a meter-signed leaf, as eth_signTypedData_v4 takes it."""
    return shared_measurement_typed_data(
        measurement.meter_id,
        measurement.interval_begin,
        measurement.interval_end,
        measurement.produced_wh,
        measurement.consumed_wh,
        measurement.import_wh,
        measurement.export_wh,
        measurement.data_digest,
        chain_id,
        verifying_contract,
    )


def sign_measurement(
    account: LocalAccount, measurement: Measurement, chain_id: int, verifying_contract: str
) -> tuple[int, int, int]:
    """The meter key's signature ``(v, r, s)`` of a measurement: low s, v in 27/28."""
    signed = account.sign_typed_data(
        full_message=measurement_typed_data(measurement, chain_id, verifying_contract)
    )
    return signed.v, signed.r, signed.s

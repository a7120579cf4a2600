"""The leaves of MeasurementRoots.vy's trees, and the meter's signature of a measurement.

A leaf is OpenZeppelin StandardMerkleTree's: keccak256(keccak256(abi.encode(values))).
Every value is one static 32-byte word, so the encoding is the words side by side.

    hub leaf     bytes32 meterId, uint64 intervalBegin, uint64 intervalEnd,
                 uint64 producedWh, uint64 consumedWh, bytes32 dataDigest, bytes32 salt
    signed leaf  the hub leaf's first five, uint64 importWh, uint64 exportWh,
                 bytes32 dataDigest, bytes32 salt, uint8 v, bytes32 r, bytes32 s

The signature is the meter key's EIP-712 ``Measurement`` (openkwh.chain.typed_data),
under the MeasurementRoots domain; it is recovered with coincurve (libsecp256k1),
about 100 times faster than eth-account's pure-Python fallback.

Pure logic: no I/O. Amounts are integer Wh, times unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PublicKey
from Crypto.Hash import keccak as _keccak
from eth_utils import to_checksum_address

from openkwh.chain.typed_data import DOMAIN_VERSION, MEASUREMENT_TYPE, ROOTS_DOMAIN_NAME

UINT64_MAX = 2**64 - 1
# secp256k1's group order; a signature's s must be in its lower half (EIP-2), as snekmate's ecdsa wants.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def keccak(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _type_string(name: str, fields: list[dict]) -> str:
    return name + "(" + ",".join(field["type"] + " " + field["name"] for field in fields) + ")"


MEASUREMENT_TYPEHASH = keccak(_type_string("Measurement", MEASUREMENT_TYPE).encode())
DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


def roots_domain_separator(chain_id: int, roots_address: str) -> bytes:
    """The MeasurementRoots contract's EIP-712 domain separator on ``chain_id``."""
    return keccak(
        DOMAIN_TYPEHASH
        + keccak(ROOTS_DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + word(chain_id)
        + bytes(12)
        + bytes.fromhex(roots_address.removeprefix("0x"))
    )


@dataclass(frozen=True)
class Leaf:
    """One meter's measurement of one interval, as the hub keeps it: a hub leaf,
    and a signed leaf too when the meter signed it (``v`` not 0)."""

    meter_id: bytes  # 32 bytes, the salted hash of the GSRN
    interval_begin: int  # unix seconds
    interval_end: int  # unix seconds
    produced_wh: int
    consumed_wh: int
    data_digest: bytes  # 32 bytes
    salt: bytes  # 32 bytes, secret until revealed
    import_wh: int = 0  # register at interval_end, Wh (signed leaves)
    export_wh: int = 0
    v: int = 0  # 0: not meter-signed
    r: bytes = bytes(32)
    s: bytes = bytes(32)

    @property
    def signed(self) -> bool:
        return self.v != 0

    def hub_values(self) -> tuple:
        """The hub leaf, in HUB_LEAF_TYPES order (also the contract's HubLeaf struct)."""
        return (
            self.meter_id,
            self.interval_begin,
            self.interval_end,
            self.produced_wh,
            self.consumed_wh,
            self.data_digest,
            self.salt,
        )

    def signed_values(self) -> tuple:
        """The signed leaf, in SIGNED_LEAF_TYPES order (the contract's SignedLeaf struct)."""
        return (
            *self.hub_values()[:5],
            self.import_wh,
            self.export_wh,
            self.data_digest,
            self.salt,
            self.v,
            self.r,
            self.s,
        )

    def hub_hash(self) -> bytes:
        """The StandardMerkleTree leaf hash of the hub leaf."""
        return keccak(
            keccak(
                self.meter_id
                + word(self.interval_begin)
                + word(self.interval_end)
                + word(self.produced_wh)
                + word(self.consumed_wh)
                + self.data_digest
                + self.salt
            )
        )

    def signed_hash(self) -> bytes:
        """The StandardMerkleTree leaf hash of the signed leaf."""
        return keccak(
            keccak(
                self.meter_id
                + word(self.interval_begin)
                + word(self.interval_end)
                + word(self.produced_wh)
                + word(self.consumed_wh)
                + word(self.import_wh)
                + word(self.export_wh)
                + self.data_digest
                + self.salt
                + word(self.v)
                + self.r
                + self.s
            )
        )


def measurement_digest(
    domain_separator: bytes,
    meter_id: bytes,
    interval_begin: int,
    interval_end: int,
    produced_wh: int,
    consumed_wh: int,
    import_wh: int,
    export_wh: int,
    data_digest: bytes,
) -> bytes:
    """The EIP-712 digest the meter key signs (MeasurementRoots' ``measurement_digest``)."""
    struct_hash = keccak(
        MEASUREMENT_TYPEHASH
        + meter_id
        + word(interval_begin)
        + word(interval_end)
        + word(produced_wh)
        + word(consumed_wh)
        + word(import_wh)
        + word(export_wh)
        + data_digest
    )
    return keccak(b"\x19\x01" + domain_separator + struct_hash)


class SignatureError(ValueError):
    """A signature that recovers to no key, or is not in the contract's canonical form."""


def recover(digest: bytes, v: int, r: bytes, s: bytes) -> str:
    """The checksummed address whose key signed ``digest``; the contract's rules:
    v is 27 or 28, s in the lower half of the order."""
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {v}")
    s_value = int.from_bytes(s, "big")
    if not 0 < s_value <= SECP256K1_N // 2:
        raise SignatureError("signature s must be in the lower half of the curve order")
    try:
        key = PublicKey.from_signature_and_message(r + s + bytes([v - 27]), digest, hasher=None)
    except ValueError as exc:
        raise SignatureError(f"signature recovers to no key: {exc}") from exc
    return to_checksum_address(keccak(key.format(compressed=False)[1:])[-20:])

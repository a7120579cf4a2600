"""The EIP-712 typed data the contracts verify: a meter's reading and the token's permit.

Every client signs these exact messages: the bridge (eth-account), the dApp's
browser wallet (eth_signTypedData_v4) and the tests (and MetaMask's
eth-sig-util, in tests/unit/test_reading_interop.py).

    Reading  domain {name: "OpenKWh SmartMeterBackend", version: "1", chainId, verifyingContract}
             Reading(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 importWh,
                     uint64 exportWh,bytes32 dataDigest)
    Measurement  domain {name: "OpenKWh MeasurementRoots", version: "1", chainId, verifyingContract}
             Measurement(bytes32 meterId,uint64 intervalBegin,uint64 intervalEnd,uint64 producedWh,
                         uint64 consumedWh,uint64 importWh,uint64 exportWh,bytes32 dataDigest)
    Permit   domain {name: the token's name, version: "1", chainId, verifyingContract}
             Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)
"""

from __future__ import annotations

READING_DOMAIN_NAME = "OpenKWh SmartMeterBackend"
ROOTS_DOMAIN_NAME = "OpenKWh MeasurementRoots"
DOMAIN_VERSION = "1"

EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
READING_TYPE = [
    {"name": "meterId", "type": "bytes32"},
    {"name": "intervalBegin", "type": "uint64"},
    {"name": "intervalEnd", "type": "uint64"},
    {"name": "importWh", "type": "uint64"},
    {"name": "exportWh", "type": "uint64"},
    {"name": "dataDigest", "type": "bytes32"},
]
# A root-published meter's own signature of an interval's measurement (issue 18),
# verified by MeasurementRoots.vy when its leaf is revealed. The produced and
# consumed Wh are signed, not derived on chain: a revealed interval's neighbours
# may never be revealed; the registers at its end let an auditor check a run of
# revealed intervals against each other.
MEASUREMENT_TYPE = [
    {"name": "meterId", "type": "bytes32"},
    {"name": "intervalBegin", "type": "uint64"},
    {"name": "intervalEnd", "type": "uint64"},
    {"name": "producedWh", "type": "uint64"},
    {"name": "consumedWh", "type": "uint64"},
    {"name": "importWh", "type": "uint64"},
    {"name": "exportWh", "type": "uint64"},
    {"name": "dataDigest", "type": "bytes32"},
]
PERMIT_TYPE = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


def domain(name: str, chain_id: int, verifying_contract: str) -> dict:
    """An EIP-712 domain of ours: every contract signs under version "1"."""
    return {
        "name": name,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": verifying_contract,
    }


def reading_typed_data(
    meter_id: bytes,
    interval_begin: int,
    interval_end: int,
    import_wh: int,
    export_wh: int,
    data_digest: bytes,
    chain_id: int,
    verifying_contract: str,
) -> dict:
    """A reading's full EIP-712 message, as eth_signTypedData_v4 and eth-account take it."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Reading": READING_TYPE},
        "primaryType": "Reading",
        "domain": domain(READING_DOMAIN_NAME, chain_id, verifying_contract),
        "message": {
            "meterId": meter_id,
            "intervalBegin": interval_begin,
            "intervalEnd": interval_end,
            "importWh": import_wh,
            "exportWh": export_wh,
            "dataDigest": data_digest,
        },
    }


def measurement_typed_data(
    meter_id: bytes,
    interval_begin: int,
    interval_end: int,
    produced_wh: int,
    consumed_wh: int,
    import_wh: int,
    export_wh: int,
    data_digest: bytes,
    chain_id: int,
    verifying_contract: str,
) -> dict:
    """A meter-signed measurement's full EIP-712 message (a leaf of a root)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Measurement": MEASUREMENT_TYPE},
        "primaryType": "Measurement",
        "domain": domain(ROOTS_DOMAIN_NAME, chain_id, verifying_contract),
        "message": {
            "meterId": meter_id,
            "intervalBegin": interval_begin,
            "intervalEnd": interval_end,
            "producedWh": produced_wh,
            "consumedWh": consumed_wh,
            "importWh": import_wh,
            "exportWh": export_wh,
            "dataDigest": data_digest,
        },
    }


def permit_typed_data(
    token_name: str,
    owner: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
    chain_id: int,
    token: str,
) -> dict:
    """EIP-2612 ``Permit`` typed data for the Wallet token."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Permit": PERMIT_TYPE},
        "primaryType": "Permit",
        "domain": domain(token_name, chain_id, token),
        "message": {
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }

"""Readings signed by an independent EIP-712 implementation are accepted.

MetaMask's @metamask/eth-sig-util (signTypedData V4, run by node) signs the
typed data exactly as a browser wallet would; the contract must accept it and
it must equal what the bridge's eth-account code signs.
"""

import json
import subprocess
from pathlib import Path

import boa

from meter_bridge.signing import Reading, sign_reading, typed_data
from tests.fixtures.meters import DIGEST, grid_time

SIGNER = Path(__file__).resolve().parents[1] / "js" / "sign_typed_data.mjs"


def sign_with_metamask(private_key: bytes, data: dict) -> bytes:
    message = {
        key: "0x" + value.hex() if isinstance(value, bytes) else value
        for key, value in data["message"].items()
    }
    payload = {"privateKey": "0x" + private_key.hex(), "typedData": {**data, "message": message}}
    result = subprocess.run(
        ["node", str(SIGNER)],
        input=json.dumps(payload),
        text=True,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return bytes.fromhex(result.stdout.strip().removeprefix("0x"))


def test_metamask_signature_is_accepted_and_equals_eth_account(smb, solar_meter, meter_key):
    base = grid_time(-2)
    # A baseline names no begin; the next reading begins where it ended.
    for begin, end, imported, exported in (
        (0, base, 12_345, 6_789),
        (base, base + 3_600, 12_400, 7_000),
    ):
        reading = Reading(solar_meter, end, imported, exported, DIGEST, begin)
        data = typed_data(reading, boa.env.evm.patch.chain_id, str(smb.address))
        assert data["message"]["intervalBegin"] == begin

        signature = sign_with_metamask(bytes(meter_key.key), data)
        r, s, v = signature[:32], signature[32:64], signature[64]
        smb.submit_reading(solar_meter, begin, end, imported, exported, DIGEST, v, r, s)
        assert smb.last_reading(solar_meter) == (end, imported, exported)

        ours = sign_reading(meter_key, reading, boa.env.evm.patch.chain_id, str(smb.address))
        assert (ours.v, ours.r.to_bytes(32), ours.s.to_bytes(32)) == (v, r, s)
    assert smb.measurement(solar_meter, base) == (base + 3_600, 211, 55)

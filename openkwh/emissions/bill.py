"""A customer's utility bill data, end to end, without a meter on chain.

1. The customer asks an auditor for a statement (``request_utility_statement``
   on chain) and signs a request message (EIP-191 ``personal_sign``) naming its
   account, the chain, the EmissionsRegistry, the request id and the period.
2. The auditor checks the message against the request on chain and recovers the
   customer's public key from the signature (the address alone cannot be
   encrypted to), then encrypts the raw bill data to that key with ECIES
   (secp256k1, eciespy), keeps the ciphertext in a content-addressed blob folder
   under its CID, and publishes the statement with the sha256 of the raw data
   and the CID of the ciphertext.
3. Only the customer's key decrypts it; the decrypted bytes are checked against
   the sha256 on chain.

Statement figures (the contract computes the same, and is the record): Wh x mg
CO2e/kWh is exactly micrograms; grams are rounded once per statement, half up:
``g = (Wh * mg_per_kWh + 500_000) // 1_000_000``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_keys import keys
from web3 import Web3

UG_PER_G = 1_000_000
MAX_FACTOR_MG = 2**32 - 1  # EmissionsRegistry.MAX_FACTOR, mg CO2e/kWh
TITLE = "OpenKWh: a statement of my Scope 2 emissions from my utility data"


class BillDataError(ValueError):
    """A request, a factor or a ciphertext that cannot be used; the message says why."""


def grams(wh: int, mg_per_kwh: int) -> int:
    """Grams CO2e of ``wh`` at ``mg_per_kwh``, rounded once, half up."""
    return (wh * mg_per_kwh + UG_PER_G // 2) // UG_PER_G


def mg_per_kwh(text: str) -> int:
    """Integer mg CO2e/kWh of a factor in g/kWh as a person writes it ("98.5",
    "98,5"): exact; finer than a milligram is refused, never rounded."""
    try:
        value = Decimal(text.strip().replace("_", "").replace(",", "."))
    except InvalidOperation:
        raise BillDataError(f"not a factor in g CO2e/kWh: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise BillDataError(f"a factor is zero or more g CO2e/kWh: {text!r}")
    mg = value.scaleb(3)
    if mg != mg.to_integral_value():
        raise BillDataError(f"{text} g/kWh is finer than the milligram a factor is recorded in")
    if mg > MAX_FACTOR_MG:
        raise BillDataError(f"{text} g/kWh is above the registry's largest factor (4,294,967 g)")
    return int(mg)


def show_factor(mg: int) -> str:
    """mg/kWh as g/kWh, exactly: 98500 is "98.5"."""
    return format(Decimal(mg).scaleb(-3).normalize(), "f")


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Request:
    """What the customer signs: who, where, which request, which period."""

    account: str  # EIP-55
    chain_id: int
    registry: str  # the EmissionsRegistry, EIP-55
    request_id: int
    begin: int  # unix seconds
    end: int

    def message(self) -> str:
        return (
            f"{TITLE}\n"
            f"account: {self.account}\n"
            f"chain: {self.chain_id}\n"
            f"registry: {self.registry}\n"
            f"request: {self.request_id}\n"
            f"period: {_iso(self.begin)} to {_iso(self.end)}\n"
            "Encrypt my raw bill data to the key that signed this message."
        )


def sign_request(account, request: Request) -> dict:
    """The signed request the customer hands to its auditor (a JSON object)."""
    signed = Account.sign_message(encode_defunct(text=request.message()), account.key)
    return {**asdict(request), "signature": signed.signature.to_0x_hex()}


def recover_public_key(signed: dict, expected: Request) -> bytes:
    """The 64-byte public key that signed ``signed``, once its message is
    exactly the ``expected`` request (from the chain) and the key is the
    account's; refuses anything else."""
    try:
        given = Request(
            Web3.to_checksum_address(signed["account"]),
            int(signed["chain_id"]),
            Web3.to_checksum_address(signed["registry"]),
            int(signed["request_id"]),
            int(signed["begin"]),
            int(signed["end"]),
        )
        signature = bytes.fromhex(str(signed["signature"]).removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as exc:
        raise BillDataError(
            f"not a signed request (from `prosumer request-statement`): {exc}"
        ) from None
    for field in ("chain_id", "registry", "request_id", "account", "begin", "end"):
        if getattr(given, field) != getattr(expected, field):
            raise BillDataError(
                f"the signed request's {field.replace('_', ' ')} is {getattr(given, field)}, "
                f"the request on chain's is {getattr(expected, field)}: it is not this request"
            )
    if len(signature) != 65:
        raise BillDataError(f"the signature has {len(signature)} bytes, not 65")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    if v not in (0, 1):
        raise BillDataError("the signature's recovery id is not 27 or 28")
    digest = _hash_eip191_message(encode_defunct(text=given.message()))
    try:
        public = keys.Signature(signature[:64] + bytes([v])).recover_public_key_from_msg_hash(
            digest
        )
    except Exception as exc:  # eth_keys raises BadSignature and others for garbage
        raise BillDataError(f"the signature does not verify: {exc}") from None
    if public.to_checksum_address() != expected.account:
        raise BillDataError(
            f"the request is signed by {public.to_checksum_address()}, not by the customer "
            f"{expected.account}"
        )
    return public.to_bytes()


def encrypt(public_key: bytes, data: bytes) -> bytes:
    """ECIES (secp256k1, AES-256-GCM) to a 64-byte public key."""
    import ecies

    return ecies.encrypt(b"\x04" + public_key, data)


def decrypt(private_key: bytes, ciphertext: bytes, expected_sha256: bytes) -> bytes:
    """The raw bill data, checked against its sha256 on chain; a key it was not
    encrypted to is told apart from a damaged ciphertext as well as ECIES allows."""
    import ecies

    try:
        data = ecies.decrypt(private_key, ciphertext)
    except (ValueError, TypeError) as exc:
        raise BillDataError(
            "this key cannot decrypt the bill data: it was encrypted to another account's key "
            f"(or the ciphertext is damaged): {exc}"
        ) from None
    if hashlib.sha256(data).digest() != expected_sha256:
        raise BillDataError(
            "the decrypted data does not match the sha256 the statement records: not this "
            "statement's data"
        )
    return data


def working_papers(**figures) -> bytes:
    """An auditor's working papers for a statement: its figures and sources, as
    canonical JSON (sorted keys), content-addressed like any blob."""
    return json.dumps(figures, sort_keys=True, indent=1).encode()

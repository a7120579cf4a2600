"""A data hub's client: Sign-In with Ethereum and its proofs, over HTTP.

What ``openkwh prosumer fetch-proof``, ``openkwh keeper reveal-traded`` and the
demo ask a hub (``openkwh.hub.app``). Transport only: what comes back is
checked by the callers (``openkwh.merkle.load_proof`` and the chain). A hub
that refuses raises ``HubRefused`` with its HTTP status and the reason it
gave; one that cannot be reached, or answers anything but its JSON,
``HubUnreachable``: both say which hub and what it answered, so that a hub
that withholds a proof is detectable (issue 18).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

MAX_ANSWER = 1_024 * 1_024  # bytes of an answer read at most (a proof is about 1 kB)
SESSION = timedelta(hours=1)  # how long a sign-in asks to last


class HubError(Exception):
    """The hub did not serve what was asked."""

    def __init__(self, url: str, answer: str):
        super().__init__(f"the hub at {url} {answer}")
        self.url = url
        self.answer = answer


class HubRefused(HubError):
    """The hub answered with an HTTP error: ``status`` and its ``reason``."""

    def __init__(self, url: str, status: int, reason: str):
        super().__init__(url, f"refused: HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class HubUnreachable(HubError):
    """No answer, or not the hub's JSON."""


def _ask(url: str, request: urllib.request.Request, timeout: float) -> dict:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        try:
            reason = str(json.loads(exc.read(MAX_ANSWER))["error"])
        except (ValueError, KeyError, TypeError):
            reason = exc.reason or "no reason given"
        raise HubRefused(url, exc.code, reason) from None
    except (OSError, ValueError) as exc:  # refused connection, timeout, bad URL
        raise HubUnreachable(url, f"cannot be reached: {exc}") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise HubUnreachable(url, f"answered {body[:80]!r}, not its JSON") from None
    if not isinstance(data, dict):
        raise HubUnreachable(url, f"answered {body[:80]!r}, not its JSON object")
    return data


def sign_in(url: str, account: LocalAccount, chain_id: int, now: float,
            timeout: float = 30) -> str:  # fmt: skip
    """A session token from the hub at ``url`` for ``account``: an EIP-4361
    message with the hub's nonce and domain, issued at ``now`` (unix seconds,
    the hub's clock) and expiring ``SESSION`` later."""
    from siwe import SiweMessage  # seconds to import: only when signing in

    base = url.rstrip("/")
    issued = _ask(url, urllib.request.Request(f"{base}/api/v1/siwe/nonce"), timeout)
    moment = datetime.fromtimestamp(int(now), UTC)
    domain = str(issued.get("domain", ""))
    text = SiweMessage(
        domain=domain, address=account.address, uri=f"https://{domain}/api/v1/siwe/login",
        version="1", chain_id=chain_id, nonce=str(issued.get("nonce", "")),
        issued_at=moment.isoformat().replace("+00:00", "Z"),
        expiration_time=(moment + SESSION).isoformat().replace("+00:00", "Z"),
        statement="Fetch my meter's proofs",
    ).prepare_message()  # fmt: skip
    signature = account.sign_message(encode_defunct(text=text)).signature.hex()
    body = json.dumps({"message": text, "signature": "0x" + signature.removeprefix("0x")})
    request = urllib.request.Request(f"{base}/api/v1/siwe/login", data=body.encode(),
                                     method="POST", headers={"Content-Type": "application/json"})  # fmt: skip
    token = _ask(url, request, timeout).get("token")
    if not isinstance(token, str):
        raise HubUnreachable(url, "answered a sign-in without a token")
    return token


def fetch_proof(url: str, meter_id: bytes, begin: int, kind: str = "hub",
                token: str | None = None, timeout: float = 30) -> dict:  # fmt: skip
    """The ``openkwh-proof-v1`` document the hub serves for the meter's leaf of
    the interval beginning at ``begin``: to its owner (``token``), or to anyone
    once the hour is revealed or traded."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/v1/proofs/0x{meter_id.hex()}/{begin}?kind={kind}", headers=headers
    )
    return _ask(url, request, timeout)


def fetch_multiproof(url: str, sector: str, begin: int, meters: str, timeout: float = 30) -> dict:
    """The ``openkwh-multiproof-v1`` document of the hub leaves of ``meters``
    (comma-separated 0x ids) of the sector's interval: public leaves only."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/v1/multiproofs/{sector}/{begin}?meters={meters}"
    )
    return _ask(url, request, timeout)

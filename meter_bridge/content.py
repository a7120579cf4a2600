"""Content ids of telegram batches, a local content-addressed store, and kubo.

A batch's id is a CIDv1 with the raw codec and a sha2-256 multihash, computed
locally with multiformats: its digest is the reading's data digest, so anyone
holding the bytes can check them against the chain. Batches are kept under
their CID in a local folder (written atomically). With an IPFS node
configured, they are also stored there with the kubo RPC API's
``block/put`` (raw codec, sha2-256), which yields the very same CID. The
node's answer is read up to ``MAX_ANSWER`` bytes and checked: anything but
kubo's JSON naming that CID raises ``KuboError``, which the daemon logs and
retries like a network error.

Blobs hold the household's consumption: files are made 0600 and the folder 0700.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from multiformats import CID, multihash

logger = logging.getLogger(__name__)

MAX_ANSWER = 64 * 1_024  # bytes: kubo's block/put answer is about a hundred


class KuboError(Exception):
    """The IPFS node answered, but not what kubo answers; the message says what came."""


def cid_of(data: bytes) -> CID:
    return CID("base32", 1, "raw", multihash.digest(data, "sha2-256"))


def digest_of(cid: CID) -> bytes:
    """The sha256 digest inside a CID (what the signed reading carries)."""
    return bytes(multihash.unwrap(cid.digest))


class BlobStore:
    """Batches on disk, one file per CID."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.folder.mkdir(mode=0o700, exist_ok=True)

    def put(self, data: bytes) -> CID:
        cid = cid_of(data)
        path = self.folder / str(cid)
        if not path.exists():
            temporary = path.with_suffix(".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        return cid

    def get(self, cid: CID | str) -> bytes:
        data = (self.folder / str(cid)).read_bytes()
        if cid_of(data) != CID.decode(str(cid)):
            raise ValueError(f"{cid}: stored bytes do not match their content id")
        return data

    def __contains__(self, cid: CID | str) -> bool:
        return (self.folder / str(cid)).exists()


class Kubo:
    """The kubo RPC API over HTTP (an IPFS node's port 5001)."""

    def __init__(self, api: str, timeout: float = 30):
        self.api = api.rstrip("/")
        self.timeout = timeout

    def block_put(self, data: bytes) -> CID:
        """Stores ``data`` as one raw block; returns the CID the node reports."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="data"; filename="batch"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"{self.api}/api/v0/block/put?cid-codec=raw&mhtype=sha2-256&pin=true"
            "&allow-big-block=true",
            data=body,
            method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = response.read(MAX_ANSWER + 1)
        except http.client.HTTPException as exc:  # a broken reply; OSError stays a network error
            raise KuboError(f"block/put: broken reply from {self.api}: {exc!r}") from exc
        return self._check(answer, cid_of(data))

    def _check(self, answer: bytes, expected: CID) -> CID:
        if len(answer) > MAX_ANSWER:
            raise KuboError(f"block/put: expected kubo's JSON, got over {MAX_ANSWER:,} bytes")
        try:
            key = json.loads(answer)["Key"]
            cid = CID.decode(key)
        except (ValueError, TypeError, KeyError) as exc:
            raise KuboError(
                f"block/put: expected kubo's JSON with a Key, got {answer[:80]!r}"
            ) from exc
        if cid != expected:
            raise KuboError(f"block/put: the node stored {cid}, expected {expected}")
        return cid

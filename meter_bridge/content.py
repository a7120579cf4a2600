"""Content ids of telegram batches, a local content-addressed store, and kubo.

A batch's id is a CIDv1 with the raw codec and a sha2-256 multihash, computed
locally with multiformats: its digest is the reading's data digest, so anyone
holding the bytes can check them against the chain. Batches are kept under
their CID in a local folder (written atomically). With an IPFS node
configured, they are also stored there with the kubo RPC API's
``block/put`` (raw codec, sha2-256), which yields the very same CID.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from multiformats import CID, multihash

logger = logging.getLogger(__name__)


def cid_of(data: bytes) -> CID:
    return CID("base32", 1, "raw", multihash.digest(data, "sha2-256"))


def digest_of(cid: CID) -> bytes:
    """The sha256 digest inside a CID (what the signed reading carries)."""
    return bytes(multihash.unwrap(cid.digest))


class BlobStore:
    """Batches on disk, one file per CID."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> CID:
        cid = cid_of(data)
        path = self.folder / str(cid)
        if not path.exists():
            temporary = path.with_suffix(".tmp")
            with open(temporary, "wb") as out:
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
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            answer = json.loads(response.read())
        cid = CID.decode(answer["Key"])
        if cid != cid_of(data):
            raise ValueError(f"the node stored {cid}, expected {cid_of(data)}")
        return cid

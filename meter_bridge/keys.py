"""The meter key: made on the device, kept in an encrypted keystore (eth-keyfile).

The keystore uses PBKDF2 rather than eth-account's default scrypt, whose
256 MiB of memory a Pi Zero 2 (512 MiB) cannot spare. A passphrase or
keystore file that its group or others may read is refused: on a shared
machine that is the key.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

PASSPHRASE_ENV = "METER_BRIDGE_PASSPHRASE"
PBKDF2_ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256


class KeystoreError(Exception):
    """A keystore that cannot be made or opened; the message says why."""


def private(file: Path, what: str) -> None:
    """Refuses ``file`` if its group or others may read or write it."""
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except OSError as exc:
        raise KeystoreError(f"cannot read the {what} {file}: {exc.strerror}") from exc
    if mode & 0o077:
        raise KeystoreError(
            f"the {what} {file} has mode {mode:04o}, open to its group or others: "
            f"expected 0600 (or 0400), owned by the user the bridge runs as; "
            f"run chmod 600 {file}"
        )


def passphrase(file: Path | None) -> str:
    """The keystore passphrase: from ``file`` (first line), else the environment."""
    if file is not None:
        private(file, "passphrase file")
        try:
            lines = file.read_text().splitlines()
        except OSError as exc:
            raise KeystoreError(f"cannot read the passphrase file {file}: {exc.strerror}") from exc
        return lines[0] if lines else ""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        raise KeystoreError(f"no passphrase: give a passphrase file or set {PASSPHRASE_ENV}")
    return value


def create_keystore(path: Path, secret: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Makes a new key and writes its encrypted keystore to ``path`` (mode 0600,
    never over an existing file); returns the address."""
    if not secret:
        raise KeystoreError("refusing an empty passphrase")
    account = Account.create(os.urandom(32))
    keystore = Account.encrypt(account.key, secret, kdf="pbkdf2", iterations=iterations)
    try:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        if path.exists():
            raise KeystoreError(f"{path} exists: a meter key is never overwritten") from exc
        raise KeystoreError(
            f"cannot make the folder of {path}: {exc.filename} is a file, not a folder"
        ) from exc
    except OSError as exc:  # a folder not writable, not a folder, a full disk
        raise KeystoreError(
            f"cannot write the keystore {path}: {exc.strerror} ({exc.filename})"
        ) from exc
    with os.fdopen(descriptor, "w") as out:
        json.dump(keystore, out)
        out.flush()
        os.fsync(out.fileno())
    return account.address


def load_key(path: Path, secret: str) -> LocalAccount:
    private(path, "keystore")
    try:
        keystore = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read the keystore {path}: {exc}") from exc
    try:
        return Account.from_key(Account.decrypt(keystore, secret))
    except ValueError as exc:
        raise KeystoreError(f"cannot open the keystore {path}: wrong passphrase?") from exc

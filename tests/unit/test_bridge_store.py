"""The bridge's store (real SQLite), content ids and keystore."""

import contextlib
import hashlib
import json
import os
import sqlite3

import pytest

from meter_bridge.content import BlobStore, cid_of, digest_of
from meter_bridge.keys import KeystoreError, create_keystore, load_key, passphrase
from meter_bridge.protocols import Telegram
from meter_bridge.store import Store, batch_telegrams

HOUR = 3_600
T0 = 1_798_761_600  # on the hour


def telegram(imported: int, exported: int = 0, tag: bytes = b"") -> Telegram:
    return Telegram(b"/raw " + str(imported).encode() + tag + b"!\r\n", imported, exported)


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "bridge.sqlite", HOUR)
    yield opened
    opened.close()


def test_store_is_durable_wal_with_full_sync(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_reading_takes_the_first_telegram_at_or_after_each_boundary(store):
    made = []
    for second in range(T0 - 20, T0 + 2 * HOUR + 30, 10):
        reading = store.add_telegram(telegram(second - T0 + 10_000), second)
        if reading:
            made.append(reading)
    # T0 - 20 opens the interval before T0; then T0, T0 + 1 h and T0 + 2 h.
    assert [r.interval_end for r in made] == [T0 - HOUR, T0, T0 + HOUR, T0 + 2 * HOUR]
    assert [r.import_wh for r in made[1:]] == [10_000, 10_000 + HOUR, 10_000 + 2 * HOUR]


def test_reading_digest_is_the_sha256_of_its_canonical_batch(store):
    store.add_telegram(telegram(1), T0 - 10)
    store.add_telegram(telegram(2), T0 - 5)
    reading = store.add_telegram(telegram(3), T0)
    batch = store.batch(T0)
    assert hashlib.sha256(batch).digest() == reading.digest
    assert [raw for _, raw in batch_telegrams(batch)] == [
        telegram(2).raw,
        telegram(3).raw,
    ]  # after the previous reading's telegram, up to its own
    assert [at for at, _ in batch_telegrams(batch)] == [T0 - 5, T0]


def test_a_silent_interval_gets_no_reading(store):
    store.add_telegram(telegram(1), T0)
    store.add_telegram(telegram(2), T0 + 2 * HOUR + 7)  # nothing came during T0 .. T0 + 2 h
    assert [r.interval_end for r in store.readings()] == [T0, T0 + 2 * HOUR]


def test_a_clock_stepping_back_makes_no_reading(store):
    store.add_telegram(telegram(1), T0 + 5)
    assert store.add_telegram(telegram(2), T0 - 30) is None
    assert [r.interval_end for r in store.readings()] == [T0]
    assert store.summary()["telegrams"] == 2


def test_a_failed_transaction_keeps_neither_telegram_nor_reading(store):
    store.add_telegram(telegram(1), T0)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_telegram(Telegram(None, 1, 1), T0 + HOUR)  # raw is NOT NULL
    assert store.summary()["telegrams"] == 1
    assert len(store.readings()) == 1


def test_skips_are_totalled_by_reason(store):
    store.count_skipped({"crc": 2, "garbage": 1})
    store.count_skipped({"crc": 1})
    assert store.summary()["skipped"] == {"crc": 3, "garbage": 1}


def test_content_id_carries_the_reading_digest(tmp_path):
    data = b"a batch of telegrams"
    cid = cid_of(data)
    assert str(cid).startswith("bafkrei")  # CIDv1, raw codec, sha2-256, base32
    assert digest_of(cid) == hashlib.sha256(data).digest()
    blobs = BlobStore(tmp_path / "blobs")
    assert blobs.put(data) == cid
    assert blobs.get(cid) == data
    (tmp_path / "blobs" / str(cid)).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="do not match"):
        blobs.get(cid)


def test_keystore_is_made_once_and_opens_with_its_passphrase(tmp_path):
    path = tmp_path / "meter-key.json"
    address = create_keystore(path, "correct horse", iterations=2)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "correct horse" not in path.read_text()
    assert json.loads(path.read_text())["crypto"]["kdf"] == "pbkdf2"
    assert load_key(path, "correct horse").address == address
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        load_key(path, "wrong")
    with pytest.raises(KeystoreError, match="never overwritten"):
        create_keystore(path, "again", iterations=2)


def test_passphrase_from_file_or_environment(tmp_path, monkeypatch):
    secret = tmp_path / "passphrase"
    secret.write_text("from the file\n")
    secret.chmod(0o600)
    assert passphrase(secret) == "from the file"
    monkeypatch.setenv("METER_BRIDGE_PASSPHRASE", "from the environment")
    assert passphrase(None) == "from the environment"
    monkeypatch.delenv("METER_BRIDGE_PASSPHRASE")
    with pytest.raises(KeystoreError, match="no passphrase"):
        passphrase(None)


def test_a_repeated_event_is_kept_once_with_its_latest_time(store):
    for at in range(5):
        store.note("waiting", "reading 1: meter: meter is suspended", T0 + at)
    store.note("error", "ConnectionError", T0 + 9)
    rows = store.db.execute("SELECT at, kind FROM events ORDER BY id").fetchall()
    assert rows == [(T0 + 4, "waiting"), (T0 + 9, "error")]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_a_passphrase_file_others_may_read_is_refused(tmp_path, mode):
    secret = tmp_path / "passphrase"
    secret.write_text("open to all\n")
    secret.chmod(mode)
    with pytest.raises(KeystoreError, match=f"has mode {mode:04o}, open to its group or others"):
        passphrase(secret)


def test_a_keystore_others_may_read_is_refused(tmp_path):
    path = tmp_path / "meter-key.json"
    create_keystore(path, "correct horse", iterations=2)
    path.chmod(0o644)
    with pytest.raises(KeystoreError, match=r"keystore .* has mode 0644.*chmod 600"):
        load_key(path, "correct horse")


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_store_and_blobs_are_private_whatever_the_umask(tmp_path):
    with umask(0):
        store = Store(tmp_path / "state" / "bridge.sqlite", HOUR)
        store.add_telegram(telegram(1_000), T0)
        blobs = BlobStore(tmp_path / "state" / "blobs")
        cid = blobs.put(store.batch(T0))
        key = tmp_path / "keys" / "meter-key.json"
        create_keystore(key, "correct horse", iterations=2)
    try:
        made = [p for p in (tmp_path / "state").iterdir() if p.is_file()]
        assert {p.name for p in made} >= {"bridge.sqlite", "bridge.sqlite-wal"}
        modes = {p.name: p.stat().st_mode & 0o777 for p in made}
        modes["blob"] = (blobs.folder / str(cid)).stat().st_mode & 0o777
        assert set(modes.values()) == {0o600}, modes
        for folder in (tmp_path / "state", blobs.folder, key.parent):
            assert folder.stat().st_mode & 0o777 == 0o700, folder
    finally:
        store.close()


def test_a_reading_that_cannot_be_signed_is_set_aside_and_the_next_signed(store):
    """An older bridge stored a negative register: signing it raised, the daemon
    exited, and it stayed first in the outbox on every restart."""
    from types import SimpleNamespace

    from eth_account import Account

    from meter_bridge.relay import Relayer

    store.add_telegram(telegram(500), T0 - HOUR)
    store.add_telegram(telegram(-100), T0)
    store.add_telegram(telegram(1_000), T0 + HOUR)
    key = Account.from_key(b"\x01" * 32)
    backend = SimpleNamespace(address="0x" + "11" * 20)
    relayer = Relayer(None, backend, b"\xab" * 32, key, key, store, chain_id=31_337)
    relayer.sign_new()
    statuses = [(r.interval_end, r.status, r.signed_begin) for r in store.readings()]
    # The reading after the one set aside is signed from the last one that goes on chain.
    assert statuses == [
        (T0 - HOUR, "signed", 0),
        (T0, "set aside", None),
        (T0 + HOUR, "signed", T0 - HOUR),
    ]
    summary = store.summary()
    assert (summary["set_aside"], summary["outbox"]) == (1, 2)
    assert summary["last_event"][1] == "set aside"
    assert "import_wh must be an integer in [0, 2**64), got -100" in summary["last_event"][2]


def test_a_store_from_before_readings_named_their_begin_opens_and_signs_again(tmp_path):
    path = tmp_path / "old.sqlite"
    old = Store(path, HOUR)
    old.add_telegram(telegram(1_000), T0)
    old.set_status(T0, "signed", T0, signature=b"\x01" * 65)
    old.db.execute("ALTER TABLE readings DROP COLUMN signed_begin")  # as an older bridge made it
    old.close()
    reopened = Store(path, HOUR)
    try:
        (reading,) = reopened.readings()
        # Signed before readings named their begin: the relayer signs it again.
        assert (reading.status, reading.signed_begin) == ("signed", None)
        reopened.set_status(T0, "signed", T0, signature=b"\x02" * 65, signed_begin=0)
        assert reopened.readings()[0].signed_begin == 0
    finally:
        reopened.close()

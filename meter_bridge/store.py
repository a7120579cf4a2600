"""The bridge's durable store: every telegram and every interval reading, in SQLite.

Written before anything else happens, in WAL mode with ``synchronous=FULL``: a
row that a commit returned for is on disk and survives kill -9 and power loss.

Interval rule: for each boundary B of the contract's grid (multiples of the
interval length), the reading ending at B carries the registers of the first
telegram received at or after B, by this device's clock (NTP-disciplined on a
Pi; the meter's own clock is kept with each telegram, for audit, but does not
place readings). The energy of the few seconds between B and that telegram
counts in the interval before, and the next reading carries it on, so nothing
is lost or counted twice. When no telegram arrives during a whole interval
(the meter was silent), that boundary gets no reading: the next one spans the
gap, as the contract allows.

The raw telegrams behind a reading (those after the previous reading's
telegram, up to and including its own) are its batch, serialised canonically
as, for each in order, 8 bytes of receive time, 4 bytes of length (big-endian)
and the exact bytes. The batch's sha256 is the reading's data digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from meter_bridge.protocols import Telegram

SCHEMA = """
CREATE TABLE IF NOT EXISTS telegrams (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,      -- unix seconds, this device's clock
    meter_time INTEGER,                -- unix seconds, the meter's clock, if it sends one
    import_wh INTEGER NOT NULL,
    export_wh INTEGER NOT NULL,
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    interval_end INTEGER PRIMARY KEY,  -- unix seconds, on the contract's grid
    telegram_id INTEGER NOT NULL REFERENCES telegrams(id),
    first_telegram_id INTEGER NOT NULL,
    import_wh INTEGER NOT NULL,
    export_wh INTEGER NOT NULL,
    digest BLOB NOT NULL,              -- sha256 of the canonical batch
    signature BLOB,                    -- r || s || v, 65 bytes, once signed
    signed_begin INTEGER,              -- the interval begin the signature names (0: a baseline)
    status TEXT NOT NULL DEFAULT 'new',-- new, signed, sent, delivered, rejected, unregistered, set aside
    detail TEXT,                       -- transaction hash, or why it was rejected
    pushed INTEGER NOT NULL DEFAULT 0, -- its batch is on the IPFS node
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    nonce INTEGER PRIMARY KEY,         -- the relayer's; one transaction is mined per nonce
    hashes TEXT NOT NULL,              -- JSON list: the first and each fee-bumped replacement
    readings TEXT NOT NULL,            -- JSON list of the interval ends it carries
    max_fee INTEGER NOT NULL,
    tip INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,          -- when the last of them was sent
    status TEXT NOT NULL               -- pending, mined, failed
);
CREATE TABLE IF NOT EXISTS skipped (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,               -- unix seconds, when it was refused
    reason TEXT NOT NULL,              -- its skip reason
    raw BLOB NOT NULL                  -- the refused frame, exact bytes
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,              -- checks, relayer, heartbeat, protocol (what auto chose)
    value TEXT NOT NULL,               -- JSON
    at INTEGER NOT NULL                -- unix seconds, when it was written
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,                -- error, rejected, clock, ...
    message TEXT NOT NULL
);
"""

EVIDENCE_KEPT = 1_000  # refused frames kept, the latest; older ones are dropped
FRAME_HEAD = 12  # bytes before each telegram in a batch: receive time (8), length (4)


@dataclass(frozen=True)
class Reading:
    interval_end: int
    import_wh: int
    export_wh: int
    digest: bytes
    status: str = "new"
    signature: bytes | None = None
    detail: str | None = None
    signed_begin: int | None = None  # the interval begin the signature names


class StoreError(Exception):
    """The store cannot be opened where the configuration puts it; says why."""


def connect(path: Path | str) -> sqlite3.Connection:
    """Opens (or creates) the store; one connection per thread. It holds the
    meter's serial and the household's consumption: a new store is made 0600
    (SQLite gives its -wal and -shm files the same mode), a new folder 0700.
    A folder that cannot be made or written raises StoreError."""
    path = Path(path)
    try:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except FileExistsError as exc:
        raise StoreError(
            f"cannot make the store's folder {path.parent}: {exc.filename} is a file, not a folder"
        ) from exc
    except OSError as exc:  # not writable by the service's user, a full disk
        raise StoreError(f"cannot open the store {path}: {exc.strerror} ({exc.filename})") from exc
    # Made in one thread, used in another: each Store is used by one thread at a time.
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.executescript(SCHEMA)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(readings)")}
    if "signed_begin" not in columns:
        # A store from before readings named their begin: what it signed is signed again.
        connection.execute("ALTER TABLE readings ADD COLUMN signed_begin INTEGER")
    return connection


def canonical_batch(rows: list[tuple[int, bytes]]) -> bytes:
    """The canonical serialisation of (receive time, raw bytes) telegrams."""
    return b"".join(
        received_at.to_bytes(8, "big") + len(raw).to_bytes(4, "big") + raw
        for received_at, raw in rows
    )


class Store:
    """The telegram and reading tables, and the interval rule."""

    def __init__(self, path: Path | str, interval_length: int):
        self.db = connect(path)
        self.interval = interval_length

    def close(self) -> None:
        self.db.close()

    def add_telegram(self, telegram: Telegram, received_at: int) -> Reading | None:
        """Stores a telegram; returns the reading it completes, if it is the first
        at or after a boundary that has none yet. Both commit together. An
        import-only meter's export (None) is stored, and signed, as 0."""
        exported = telegram.export_wh if telegram.export_wh is not None else 0
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO telegrams (received_at, meter_time, import_wh, export_wh, raw) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    received_at,
                    telegram.meter_time,
                    telegram.import_wh,
                    exported,
                    telegram.raw,
                ),
            )
            telegram_id = cursor.lastrowid
            boundary = received_at - received_at % self.interval
            last = self.db.execute(
                "SELECT interval_end, telegram_id FROM readings ORDER BY interval_end DESC LIMIT 1"
            ).fetchone()
            if last is not None and last[0] >= boundary:
                return None
            first = last[1] + 1 if last else telegram_id
            batch = self.db.execute(
                "SELECT received_at, raw FROM telegrams WHERE id BETWEEN ? AND ? ORDER BY id",
                (first, telegram_id),
            ).fetchall()
            reading = Reading(
                boundary,
                telegram.import_wh,
                exported,
                hashlib.sha256(canonical_batch(batch)).digest(),
            )
            self.db.execute(
                "INSERT INTO readings (interval_end, telegram_id, first_telegram_id, import_wh, "
                "export_wh, digest, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    boundary,
                    telegram_id,
                    first,
                    telegram.import_wh,
                    exported,
                    reading.digest,
                    received_at,
                ),
            )
            return reading

    def batch(self, interval_end: int) -> bytes:
        """The canonical batch of raw telegrams behind a reading."""
        first, last = self.db.execute(
            "SELECT first_telegram_id, telegram_id FROM readings WHERE interval_end = ?",
            (interval_end,),
        ).fetchone()
        rows = self.db.execute(
            "SELECT received_at, raw FROM telegrams WHERE id BETWEEN ? AND ? ORDER BY id",
            (first, last),
        ).fetchall()
        return canonical_batch(rows)

    def set_status(
        self,
        interval_end: int,
        status: str,
        now: int,
        detail: str | None = None,
        signature: bytes | None = None,
        signed_begin: int | None = None,
    ) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE readings SET status = ?, detail = ?, updated_at = ?, "
                "signature = COALESCE(?, signature), signed_begin = COALESCE(?, signed_begin) "
                "WHERE interval_end = ?",
                (status, detail, now, signature, signed_begin, interval_end),
            )

    def previous_end(self, interval_end: int) -> int:
        """The end of the last reading before ``interval_end`` that goes to the chain
        (not one kept from before registration, set aside or rejected); 0 if none."""
        row = self.db.execute(
            "SELECT max(interval_end) FROM readings WHERE interval_end < ? "
            "AND status NOT IN ('unregistered', 'set aside', 'rejected')",
            (interval_end,),
        ).fetchone()
        return row[0] or 0

    def readings(self, *statuses: str) -> list[Reading]:
        """Readings in time order, of the given statuses (all when none given)."""
        query = (
            "SELECT interval_end, import_wh, export_wh, digest, status, signature, detail, "
            "signed_begin FROM readings"
        )
        params: tuple = ()
        if statuses:
            query += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            params = statuses
        return [Reading(*row) for row in self.db.execute(query + " ORDER BY interval_end", params)]

    def unpushed(self, limit: int = 16) -> list[int]:
        """Interval ends of readings whose batch is not on the IPFS node yet."""
        rows = self.db.execute(
            "SELECT interval_end FROM readings WHERE pushed = 0 ORDER BY interval_end LIMIT ?",
            (limit,),
        )
        return [row[0] for row in rows]

    def mark_pushed(self, interval_end: int) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE readings SET pushed = 1 WHERE interval_end = ?", (interval_end,)
            )

    def count_skipped(self, skipped: dict[str, int]) -> None:
        """Adds a decoder's skip counts (since the last call) to the totals."""
        with self.transaction():
            for reason, count in skipped.items():
                self.db.execute(
                    "INSERT INTO skipped (reason, count) VALUES (?, ?) "
                    "ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count",
                    (reason, count),
                )

    def keep_evidence(self, reason: str, raw: bytes, now: int) -> None:
        """Keeps a refused frame, for whoever must judge the meter or the line."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO evidence (at, reason, raw) VALUES (?, ?, ?)", (now, reason, raw)
            )
            self.db.execute(
                "DELETE FROM evidence WHERE id <= (SELECT MAX(id) FROM evidence) - ?",
                (EVIDENCE_KEPT,),
            )

    def evidence(self) -> list[tuple[int, str, bytes]]:
        """The refused frames kept, oldest first: (when, reason, exact bytes)."""
        return self.db.execute("SELECT at, reason, raw FROM evidence ORDER BY id").fetchall()

    def last_registers(self) -> tuple[int, int, int] | None:
        """(receive time, import Wh, export Wh) of the last telegram stored."""
        return self.db.execute(
            "SELECT received_at, import_wh, export_wh FROM telegrams ORDER BY id DESC LIMIT 1"
        ).fetchone()

    def note(self, kind: str, message: str, now: int) -> bool:
        """Records something a person should see in `status` (an error, a rejection);
        the same event again only moves the last one's time, so a long wait does
        not fill the disk. True if it is news (not that repeat): worth a log line."""
        with self.transaction():
            last = self.db.execute(
                "SELECT id, kind, message FROM events ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if last is not None and last[1:] == (kind, message):
                self.db.execute("UPDATE events SET at = ? WHERE id = ?", (now, last[0]))
                return False
            self.db.execute(
                "INSERT INTO events (at, kind, message) VALUES (?, ?, ?)", (now, kind, message)
            )
            return True

    def put_state(self, key: str, value, now: int) -> None:
        """Keeps a JSON value under ``key`` for `status` (the checks, the relayer's funds)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO state (key, value, at) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value, at = excluded.at",
                (key, json.dumps(value), now),
            )

    def state(self, key: str) -> tuple[object, int] | None:
        """The value kept under ``key`` and when, or None."""
        row = self.db.execute("SELECT value, at FROM state WHERE key = ?", (key,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def summary(self) -> dict:
        """What `status` prints: last telegram, last reading, outbox depth, last error, skips."""
        last_telegram = self.db.execute(
            "SELECT received_at, meter_time, import_wh, export_wh FROM telegrams "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        last_reading = self.db.execute(
            "SELECT interval_end, import_wh, export_wh, status, detail FROM readings "
            "ORDER BY interval_end DESC LIMIT 1"
        ).fetchone()
        outbox = self.db.execute(
            "SELECT COUNT(*) FROM readings WHERE status IN ('new', 'signed', 'sent')"
        ).fetchone()[0]
        rejected = self.db.execute(
            "SELECT COUNT(*) FROM readings WHERE status = 'rejected'"
        ).fetchone()[0]
        last_error = self.db.execute(
            "SELECT at, kind, message FROM events ORDER BY id DESC LIMIT 1"
        ).fetchone()
        delivered = self.db.execute(
            "SELECT COUNT(*) FROM readings WHERE status = 'delivered'"
        ).fetchone()[0]
        unregistered = self.db.execute(
            "SELECT COUNT(*) FROM readings WHERE status = 'unregistered'"
        ).fetchone()[0]
        protocol = self.state("protocol")
        set_aside = self.db.execute(
            "SELECT COUNT(*) FROM readings WHERE status = 'set aside'"
        ).fetchone()[0]
        last_rebase = self.db.execute(
            "SELECT at, message FROM events WHERE kind = 'rebase' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return {
            "protocol": protocol[0] if protocol else None,
            "telegrams": self.db.execute("SELECT COUNT(*) FROM telegrams").fetchone()[0],
            "delivered": delivered,
            "last_telegram": last_telegram,
            "last_reading": last_reading,
            "outbox": outbox,
            "rejected": rejected,
            "unregistered": unregistered,
            "last_event": last_error,
            "skipped": dict(self.db.execute("SELECT reason, count FROM skipped")),
            "set_aside": set_aside,
            "evidence": self.db.execute("SELECT COUNT(*) FROM evidence").fetchone()[0],
            "last_rebase": last_rebase,
        }

    def transaction(self):
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def batch_telegrams(batch: bytes) -> Iterator[tuple[int, bytes]]:
    """The (receive time, raw bytes) telegrams of a canonical batch."""
    at = 0
    while at < len(batch):
        received_at = int.from_bytes(batch[at : at + 8], "big")
        length = int.from_bytes(batch[at + 8 : at + FRAME_HEAD], "big")
        yield received_at, batch[at + FRAME_HEAD : at + FRAME_HEAD + length]
        at += FRAME_HEAD + length

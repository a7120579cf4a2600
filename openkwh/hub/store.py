"""The hub's store: SQLite by default, PostgreSQL through the same code.

A thin DB-API layer: the statements are written once with ``?`` placeholders
and sent as ``%s`` to psycopg; the schema differs only in the names of the
byte and integer types. ``open_store("hub.sqlite")`` or
``open_store("postgresql://user@/db?host=/run/postgresql")``.

Tables:
- ``meters``: the metering points the hub serves: meter id (the salted hash
  of the GSRN), the GSRN when the hub imports DataHub files for it, the meter
  key (signer of its readings), its owner (who may fetch its proofs), its
  sector and its connection rating in W;
- ``measurements``: one row per meter and interval, a leaf: the values, the
  salt, and the meter's signature when it signed it;
- ``roots``: each published tree: sector, interval, kind (``hub`` or
  ``signed``), root, the CID of its leaf hashes (public), the CID of its
  full leaf set (kept by the hub: it holds the values and salts), and the
  transaction;
- ``revealed``: the leaves revealed on chain, whose proofs are public;
- ``nonces``: Sign-In with Ethereum nonces, each used once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from openkwh.hub.leaves import Leaf

SCHEMA = """
CREATE TABLE IF NOT EXISTS meters (
    meter_id {blob} PRIMARY KEY,
    gsrn TEXT UNIQUE,
    signer TEXT NOT NULL,
    owner TEXT NOT NULL,
    sector TEXT NOT NULL,
    max_w {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    meter_id {blob} NOT NULL,
    interval_begin {int} NOT NULL,
    interval_end {int} NOT NULL,
    produced_wh {int} NOT NULL,
    consumed_wh {int} NOT NULL,
    data_digest {blob} NOT NULL,
    salt {blob} NOT NULL,
    import_wh {int} NOT NULL,
    export_wh {int} NOT NULL,
    v {int} NOT NULL,
    r {blob} NOT NULL,
    s {blob} NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (meter_id, interval_begin)
);
CREATE TABLE IF NOT EXISTS roots (
    sector TEXT NOT NULL,
    interval_begin {int} NOT NULL,
    kind TEXT NOT NULL,
    interval_end {int} NOT NULL,
    root {blob} NOT NULL,
    cid TEXT NOT NULL,
    leaves_cid TEXT NOT NULL,
    leaves {int} NOT NULL,
    tx_hash TEXT,
    PRIMARY KEY (sector, interval_begin, kind)
);
CREATE TABLE IF NOT EXISTS revealed (
    meter_id {blob} NOT NULL,
    interval_begin {int} NOT NULL,
    PRIMARY KEY (meter_id, interval_begin)
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY,
    issued_at {int} NOT NULL,
    used {int} NOT NULL
);
"""
LEAF_COLUMNS = (
    "meter_id, interval_begin, interval_end, produced_wh, consumed_wh, data_digest, salt, "
    "import_wh, export_wh, v, r, s"
)
BATCH = 5_000  # rows per statement batch


def leaf_row(leaf: Leaf) -> tuple:
    return (
        leaf.meter_id,
        leaf.interval_begin,
        leaf.interval_end,
        leaf.produced_wh,
        leaf.consumed_wh,
        leaf.data_digest,
        leaf.salt,
        leaf.import_wh,
        leaf.export_wh,
        leaf.v,
        leaf.r,
        leaf.s,
    )


def row_leaf(row: Sequence) -> Leaf:
    return Leaf(
        bytes(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        bytes(row[5]),
        bytes(row[6]),
        row[7],
        row[8],
        row[9],
        bytes(row[10]),
        bytes(row[11]),
    )


class Store:
    """The hub's tables over one DB-API connection; ``kind`` is sqlite or postgresql."""

    def __init__(self, connection, kind: str):
        self.connection = connection
        self.kind = kind
        types = {"blob": "BLOB", "int": "INTEGER"}
        if kind == "postgresql":
            types = {"blob": "BYTEA", "int": "BIGINT"}
        with self.transaction():
            cursor = self.connection.cursor()
            for statement in SCHEMA.format(**types).split(";"):
                if statement.strip():
                    cursor.execute(statement)

    def transaction(self):
        """A block that commits at its end, or rolls back on an exception
        (psycopg's own blocks; ``with`` an sqlite3 connection does the same)."""
        if self.kind == "postgresql":
            return self.connection.transaction()
        return self.connection

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.kind == "postgresql" else statement

    def execute(self, statement: str, args: Sequence = ()) -> list:
        cursor = self.connection.cursor()
        cursor.execute(self._sql(statement), tuple(args))
        rows = cursor.fetchall() if cursor.description else []
        return rows

    def close(self) -> None:
        self.connection.close()

    # METERS

    def add_meter(
        self, meter_id: bytes, signer: str, owner: str, sector: str, max_w: int, gsrn=None
    ) -> None:
        with self.transaction():
            self.execute(
                "INSERT INTO meters (meter_id, gsrn, signer, owner, sector, max_w) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (meter_id, gsrn, signer, owner, sector, max_w),
            )

    def add_meters(self, rows: Iterable[tuple]) -> None:
        """Many meters: (meter_id, gsrn, signer, owner, sector, max_w) each."""
        statement = self._sql(
            "INSERT INTO meters (meter_id, gsrn, signer, owner, sector, max_w) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        with self.transaction():
            self.connection.cursor().executemany(statement, list(rows))

    def meter(self, meter_id: bytes) -> dict | None:
        rows = self.execute(
            "SELECT gsrn, signer, owner, sector, max_w FROM meters WHERE meter_id = ?", (meter_id,)
        )
        if not rows:
            return None
        gsrn, signer, owner, sector, max_w = rows[0]
        return {"meter_id": meter_id, "gsrn": gsrn, "signer": signer, "owner": owner,
                "sector": sector, "max_w": max_w}  # fmt: skip

    def meters_by_gsrn(self, gsrns: Iterable[str]) -> dict[str, tuple]:
        """GSRN -> (meter_id, sector, max_w) for the known ones among ``gsrns``."""
        gsrns, found = list(dict.fromkeys(gsrns)), {}
        for start in range(0, len(gsrns), 500):
            chunk = gsrns[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for gsrn, meter_id, sector, max_w in self.execute(
                f"SELECT gsrn, meter_id, sector, max_w FROM meters WHERE gsrn IN ({marks})", chunk
            ):
                found[gsrn] = (bytes(meter_id), sector, max_w)
        return found

    def owned_by(self, owner: str) -> list[bytes]:
        rows = self.execute("SELECT meter_id FROM meters WHERE lower(owner) = ?", (owner.lower(),))
        return [bytes(row[0]) for row in rows]

    # MEASUREMENTS

    def stored(self, keys: Sequence[tuple[bytes, int]]) -> set[tuple[bytes, int]]:
        """Which (meter id, interval begin) of ``keys`` the store already has."""
        found: set = set()
        by_begin: dict[int, list[bytes]] = {}
        for meter_id, begin in keys:
            by_begin.setdefault(begin, []).append(meter_id)
        for begin, meter_ids in by_begin.items():
            for start in range(0, len(meter_ids), 500):
                chunk = meter_ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self.execute(
                    "SELECT meter_id FROM measurements WHERE interval_begin = ? "
                    f"AND meter_id IN ({marks})",
                    (begin, *chunk),
                )
                found.update((bytes(row[0]), begin) for row in rows)
        return found

    def add_leaves(self, leaves: Sequence[Leaf], source: str) -> None:
        """Stores leaves the caller checked (``ingest``); a batch is all or nothing."""
        statement = self._sql(
            f"INSERT INTO measurements ({LEAF_COLUMNS}, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self.transaction():
            cursor = self.connection.cursor()
            for start in range(0, len(leaves), BATCH):
                cursor.executemany(
                    statement, [(*leaf_row(leaf), source) for leaf in leaves[start : start + BATCH]]
                )

    def leaves(self, sector: str, interval_begin: int, signed: bool = False) -> list[Leaf]:
        """Every leaf of ``sector``'s meters for the interval (only meter-signed ones if ``signed``)."""
        columns = ", ".join(f"m.{c.strip()}" for c in LEAF_COLUMNS.split(","))
        rows = self.execute(
            f"SELECT {columns} FROM measurements m JOIN meters k ON k.meter_id = m.meter_id "
            "WHERE m.interval_begin = ? AND k.sector = ?" + (" AND m.v != 0" if signed else ""),
            (interval_begin, sector),
        )
        return [row_leaf(row) for row in rows]

    def has_leaves(self, sector: str, interval_begin: int) -> bool:
        """Whether any of ``sector``'s meters has a leaf of the interval."""
        return bool(self.execute(
            "SELECT 1 FROM measurements m JOIN meters k ON k.meter_id = m.meter_id "
            "WHERE m.interval_begin = ? AND k.sector = ? LIMIT 1", (interval_begin, sector),
        ))  # fmt: skip

    def leaf(self, meter_id: bytes, interval_begin: int) -> Leaf | None:
        rows = self.execute(
            f"SELECT {LEAF_COLUMNS} FROM measurements WHERE meter_id = ? AND interval_begin = ?",
            (meter_id, interval_begin),
        )
        return row_leaf(rows[0]) if rows else None

    # ROOTS

    def add_root(self, sector, interval_begin, kind, interval_end, root, cid, leaves_cid,
                 leaves, tx_hash):  # fmt: skip
        with self.transaction():
            self.execute(
                "INSERT INTO roots (sector, interval_begin, kind, interval_end, root, cid, "
                "leaves_cid, leaves, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sector,
                    interval_begin,
                    kind,
                    interval_end,
                    root,
                    cid,
                    leaves_cid,
                    leaves,
                    tx_hash,
                ),
            )

    def roots(self, sector: str, interval_begin: int) -> list[dict]:
        rows = self.execute(
            "SELECT kind, interval_end, root, cid, leaves_cid, leaves, tx_hash FROM roots "
            "WHERE sector = ? AND interval_begin = ? ORDER BY kind",
            (sector, interval_begin),
        )
        return [{"kind": k, "interval_end": e, "root": bytes(r), "cid": c, "leaves_cid": f,
                 "leaves": n, "tx_hash": t} for k, e, r, c, f, n, t in rows]  # fmt: skip

    def published_sectors(self, interval_begin: int) -> set[str]:
        """The sectors whose roots of the interval the hub has published."""
        rows = self.execute("SELECT sector FROM roots WHERE interval_begin = ?", (interval_begin,))
        return {row[0] for row in rows}

    def mark_revealed(self, meter_id: bytes, interval_begin: int) -> None:
        with self.transaction():
            if not self.is_revealed(meter_id, interval_begin):
                self.execute(
                    "INSERT INTO revealed (meter_id, interval_begin) VALUES (?, ?)",
                    (meter_id, interval_begin),
                )

    def is_revealed(self, meter_id: bytes, interval_begin: int) -> bool:
        return bool(self.execute(
            "SELECT 1 FROM revealed WHERE meter_id = ? AND interval_begin = ?",
            (meter_id, interval_begin),
        ))  # fmt: skip

    # SIGN-IN NONCES

    def add_nonce(self, nonce: str, now: int) -> None:
        with self.transaction():
            self.execute(
                "INSERT INTO nonces (nonce, issued_at, used) VALUES (?, ?, 0)", (nonce, now)
            )

    def use_nonce(self, nonce: str) -> bool:
        """Marks ``nonce`` used; False if the hub never issued it or it was used."""
        with self.transaction():
            rows = self.execute("SELECT used FROM nonces WHERE nonce = ?", (nonce,))
            if not rows or rows[0][0]:
                return False
            self.execute("UPDATE nonces SET used = 1 WHERE nonce = ?", (nonce,))
            return True


def open_store(url: str | Path) -> Store:
    """A store at ``url``: ``postgresql://…`` (psycopg), else an SQLite file path
    (``sqlite:///path`` or a bare path; ``:memory:`` for tests)."""
    url = str(url)
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg  # only a PostgreSQL hub needs it

        return Store(psycopg.connect(url, autocommit=True), "postgresql")
    path = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return Store(connection, "sqlite")

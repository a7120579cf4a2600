"""The event indexer: the chain's logs, once, into the dApp's SQLite index.

One process runs it (``python -m openkwh.dapp.indexer``). It starts at the block of
the earliest deployment, remembers the next block to read, and reads only
blocks ``confirmations`` deep, so a reorganisation shallower than that never
reaches the index. Each batch of blocks and the cursor commit together: a
killed indexer resumes where its last commit ended, and nothing is counted
twice. Pages and the API read the index only; they never scan the chain.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from eth_abi.exceptions import DecodingError
from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3._utils.events import get_event_data
from web3.exceptions import MismatchedABI, Web3Exception

from openkwh.auction import effective
from openkwh.chain import Deployment, DeploymentError

logger = logging.getLogger(__name__)

SCHEMA = Path(__file__).with_name("schema.sql")
# The Auction (issue 19) only where the deployments file has it: an older one indexes as before.
CONTRACTS = (
    "SmartMeterBackend",
    "OperatorBackend",
    "GGORegistry",
    "Exchange",
    "EmissionsRegistry",
    "Auction",
)
ZERO = "0x0000000000000000000000000000000000000000"
# 2: amounts as exact decimal TEXT (1 stored them as 64-bit INTEGER, and stopped on a bigger one).
# 3: a meter's connection rating (connection_w).
# 4: notifications, meter offers, approved signers, backends' trust and ledger consents.
# 6: the EmissionsRegistry's factor publications, statements, attestations and requests.
# 7: the Auction's standing orders, clearings and fills.
SCHEMA_VERSION = 7
KIND_HOURLY_DAY, KIND_LOCATION_YEAR, KIND_RESIDUAL_YEAR = 1, 2, 3
ORIGIN_METER, ORIGIN_MERGED, ORIGIN_UTILITY = 1, 2, 3
EVERYONE = "*"  # the account of a notification for every account


def connect(path: str | Path) -> sqlite3.Connection:
    """The index database, created if new (WAL: readers never wait for the indexer).
    An index of an older schema is dropped: it is rebuilt from the chain."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            db.execute(f'DROP TABLE "{table}"')
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    db.executescript(SCHEMA.read_text())
    return db


class Unindexable(ValueError):
    """A log the index cannot hold: a time or id past SQLite's 64-bit INTEGER, or data
    that does not decode with the contract's ABI."""


def small(value: int) -> int:
    """A unix time, id or counter for an INTEGER column: the contracts keep these far
    below 2**63; a log that says otherwise cannot be a real interval or order."""
    if not 0 <= value < 2**63:
        raise Unindexable(f"{value} does not fit a 64-bit integer column")
    return value


def amount(value: int) -> str:
    """A uint256 amount (Wh, W, token base units), exactly, as decimal TEXT."""
    return str(value)


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class Indexer:
    def __init__(
        self,
        w3: Web3,
        deployment: Deployment | dict,
        db: sqlite3.Connection,
        confirmations: int = 2,
        chunk: int = 2_000,
    ):
        self.w3 = w3
        self.db = db
        self.confirmations = confirmations
        self.chunk = chunk
        deployment = Deployment.of(deployment)
        self.contracts = {name: deployment[name] for name in CONTRACTS if name in deployment}
        self.by_address = {entry.address: name for name, entry in self.contracts.items()}
        self.events = {}  # (contract, topic) -> event ABI
        for name, entry in self.contracts.items():
            for item in entry.abi:
                if item["type"] == "event":
                    self.events[(name, event_abi_to_log_topic(item))] = item
        self.start = min(entry.block for entry in self.contracts.values())
        # The operator's constructor trusts its first backends and sets the first tariff:
        # no announcement to anybody.
        operator = self.contracts.get("OperatorBackend")
        self.operator_block = operator.block if operator else None
        self.handlers: dict[tuple[str, str], Callable] = {
            ("SmartMeterBackend", "MeterRegistered"): self._meter_registered,
            ("SmartMeterBackend", "MeterOwnerChanged"): self._meter_owner,
            ("SmartMeterBackend", "MeterOffered"): self._meter_offered,
            ("SmartMeterBackend", "SignerApproved"): self._signer_approved,
            ("SmartMeterBackend", "SignerRotated"): self._signer_rotated,
            ("SmartMeterBackend", "MeterSuspended"): self._suspended,
            ("SmartMeterBackend", "ConnectionRatingSet"): self._connection_rating,
            ("SmartMeterBackend", "MeterResumed"): self._resumed,
            ("SmartMeterBackend", "BaselineRecorded"): self._baseline,
            ("SmartMeterBackend", "MeasurementRecorded"): self._measurement,
            ("OperatorBackend", "IntervalSettled"): self._interval_settled,
            ("OperatorBackend", "TariffAnnounced"): self._tariff,
            ("OperatorBackend", "BackendTrustAnnounced"): self._backend_trust,
            ("OperatorBackend", "LedgerOpened"): self._ledger_opened,
            ("OperatorBackend", "DebtRecorded"): self._debt_recorded,
            ("OperatorBackend", "MeterDebtRecorded"): self._meter_debt_recorded,
            ("OperatorBackend", "BillUnpaid"): self._bill_unpaid,
            ("GGORegistry", "CertificateIssued"): self._issued,
            ("GGORegistry", "TransferSingle"): self._transfer_single,
            ("GGORegistry", "TransferBatch"): self._transfer_batch,
            ("GGORegistry", "CertificateRetired"): self._retired,
            ("GGORegistry", "CertificateRevoked"): self._revoked,
            ("Exchange", "OrderPlaced"): self._order_placed,
            ("Exchange", "OrderAmended"): self._order_amended,
            ("Exchange", "OrderCancelled"): self._order_cancelled,
            ("Exchange", "DealMade"): self._deal_made,
            ("Exchange", "DealSettled"): self._deal_settled,
            ("Exchange", "CertificatesHeld"): self._held,
            ("Exchange", "CertificatesClaimed"): self._claimed,
            ("EmissionsRegistry", "PublisherSet"): self._publisher_set,
            ("EmissionsRegistry", "AuditorSet"): self._auditor_set,
            ("EmissionsRegistry", "FactorsPublished"): self._factors_published,
            ("EmissionsRegistry", "PublicationSuperseded"): self._publication_superseded,
            ("EmissionsRegistry", "StatementMade"): self._statement_made,
            ("EmissionsRegistry", "StatementSuperseded"): self._statement_superseded,
            ("EmissionsRegistry", "StatementAttested"): self._statement_attested,
            ("EmissionsRegistry", "StatementRequested"): self._statement_requested,
            ("EmissionsRegistry", "UtilityStatementPublished"): self._utility_statement,
            ("Auction", "StandingOrderPlaced"): self._standing_placed,
            ("Auction", "StandingOrderCancelled"): self._standing_cancelled,
            ("Auction", "IntervalCleared"): self._interval_cleared,
            ("Auction", "Released"): self._released,
        }
        self._timestamps: dict[int, int] = {}

    # CURSOR

    def next_block(self) -> int:
        row = self.db.execute("SELECT next_block FROM cursor WHERE id = 1").fetchone()
        return row[0] if row else self.start

    def safe_head(self) -> int:
        """The newest block at least ``confirmations`` deep (the head itself counts one)."""
        return self.w3.eth.block_number - max(self.confirmations - 1, 0)

    def step(self) -> int:
        """Indexes up to ``chunk`` confirmed blocks; returns the events read (a log the
        index cannot hold is logged, counted as skipped, and does not stop it)."""
        first = self.next_block()
        head = self.safe_head()
        if first > head:
            return 0
        last = min(head, first + self.chunk - 1)
        logs = self.w3.eth.get_logs(
            {"fromBlock": first, "toBlock": last, "address": list(self.by_address)}
        )
        self.db.execute("BEGIN IMMEDIATE")
        try:
            skipped = sum(not self.apply(log) for log in logs)
            self.db.execute(
                "INSERT INTO cursor (id, next_block, head_block, events, skipped) "
                "VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block, "
                "head_block = excluded.head_block, events = events + excluded.events, "
                "skipped = skipped + excluded.skipped",
                (last + 1, head, len(logs), skipped),
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self._timestamps.clear()
        return len(logs)

    def catch_up(self) -> int:
        """Indexes every confirmed block; returns the events indexed."""
        total = 0
        while self.next_block() <= self.safe_head():
            total += self.step()
        return total

    def follow(self, poll: float, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            count = self.catch_up()
            if count:
                logger.info("indexed %d events, up to block %d", count, self.next_block() - 1)
            time.sleep(poll)

    # EVENTS

    def apply(self, log) -> bool:
        """Indexes one log; False if it had to be skipped. Each log is its own savepoint,
        so a skipped one leaves no half of itself behind."""
        if not log["topics"]:
            return True
        name = self.by_address.get(Web3.to_checksum_address(log["address"]))
        abi = self.events.get((name, bytes(log["topics"][0])))
        if abi is None:
            return True
        handler = self.handlers.get((name, abi["name"]))
        if handler is None:
            return True
        self.db.execute("SAVEPOINT log")
        try:
            try:
                event = get_event_data(self.w3.codec, abi, log)
            except (DecodingError, MismatchedABI) as error:
                raise Unindexable(f"does not decode: {error}") from error
            handler(event["args"], log)
        except Unindexable as error:
            self.db.execute("ROLLBACK TO log")
            self.db.execute("RELEASE log")
            logger.warning(
                "skipped %s.%s in block %d (log %d): %s",
                name,
                abi["name"],
                log["blockNumber"],
                log["logIndex"],
                error,
            )
            return False
        self.db.execute("RELEASE log")
        return True

    def timestamp(self, block: int) -> int:
        if block not in self._timestamps:
            self._timestamps[block] = self.w3.eth.get_block(block)["timestamp"]
        return self._timestamps[block]

    def view(self, name: str, function: str, *args, block: int):
        """A view of contract ``name`` as it was at ``block`` (the log's): what a log does
        not carry, read as of the log, so reading it again later gives the same. A view
        that does not answer makes the log unindexable, never stops the indexer."""
        entry = self.contracts[name]
        contract = self.w3.eth.contract(address=entry.address, abi=entry.abi)
        try:
            return getattr(contract.functions, function)(*args).call(block_identifier=block)
        except (Web3Exception, DecodingError, ValueError) as error:
            raise Unindexable(f"{name}.{function} did not answer: {error}") from error

    def notify(self, account: str, kind: str, log, **data) -> None:
        """Records news for ``account`` (EVERYONE for all); ``data`` holds ints below 2**63
        and decimal strings for amounts, so the JSON is exact in any reader."""
        self.db.execute(
            "INSERT OR IGNORE INTO notifications (account, kind, at, block, log_index, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                account,
                kind,
                self.timestamp(log["blockNumber"]),
                log["blockNumber"],
                log["logIndex"],
                json.dumps(data, separators=(",", ":")),
            ),
        )

    def _meter_registered(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meters (meter_id, owner, signer, installer, sector, "
            "tech_code, fuel_code, capacity_w, connection_w, kind, registered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                hex32(args["meter_id"]),
                ZERO,  # no owner until one accepts: MeterRegistered names whom it is offered to
                args["signer"],
                args["installer"],
                args["sector"],
                args["tech_code"],
                args["fuel_code"],
                amount(args["capacity_w"]),
                amount(args["connection_w"]),
                small(args["kind"]),
                self.timestamp(log["blockNumber"]),
            ),
        )
        # Registered for an owner, who takes the meter with accept_meter.
        self._offer(args["meter_id"], ZERO, args["owner"], 0, log)

    def _meter_owner(self, args, log) -> None:
        meter = hex32(args["meter_id"])
        # An approval of the previous owner's is not the new owner's (the contract drops it).
        self.db.execute(
            "UPDATE meters SET owner = ?, approved_signer = NULL WHERE meter_id = ?",
            (args["new_owner"], meter),
        )
        self.db.execute("DELETE FROM offers WHERE meter_id = ?", (meter,))
        if args["previous_owner"] != ZERO:
            self.notify(
                args["previous_owner"],
                "meter_handed_over",
                log,
                meter_id=meter,
                new_owner=args["new_owner"],
                debt=amount(args["debt"]),
            )

    def _offer(self, meter_id: bytes, owner: str, pending_owner: str, debt: int, log) -> None:
        meter = hex32(meter_id)
        if pending_owner == ZERO:  # an offer withdrawn
            self.db.execute("DELETE FROM offers WHERE meter_id = ?", (meter,))
            return
        self.db.execute(
            "INSERT OR REPLACE INTO offers VALUES (?, ?, ?, ?, ?)",
            (meter, owner, pending_owner, amount(debt), self.timestamp(log["blockNumber"])),
        )
        self.notify(
            pending_owner, "meter_offered", log, meter_id=meter, owner=owner, debt=amount(debt)
        )

    def _meter_offered(self, args, log) -> None:
        self._offer(args["meter_id"], args["owner"], args["pending_owner"], args["debt"], log)

    def _signer_approved(self, args, log) -> None:
        signer = None if args["signer"] == ZERO else args["signer"]
        self.db.execute(
            "UPDATE meters SET approved_signer = ? WHERE meter_id = ?",
            (signer, hex32(args["meter_id"])),
        )

    def _signer_rotated(self, args, log) -> None:
        meter = hex32(args["meter_id"])
        self.db.execute(
            "UPDATE meters SET signer = ?, approved_signer = NULL WHERE meter_id = ?",
            (args["new_signer"], meter),
        )
        row = self.db.execute("SELECT owner FROM meters WHERE meter_id = ?", (meter,)).fetchone()
        if row is not None:
            self.notify(
                row[0],
                "signer_rotated",
                log,
                meter_id=meter,
                new_signer=args["new_signer"],
                new_device=bool(args["new_device"]),
            )

    def _suspended(self, args, log) -> None:
        self.db.execute(
            "UPDATE meters SET suspended = 1, status_reason = ? WHERE meter_id = ?",
            (args["reason"], hex32(args["meter_id"])),
        )

    def _connection_rating(self, args, log) -> None:
        self.db.execute(
            "UPDATE meters SET connection_w = ? WHERE meter_id = ?",
            (amount(args["connection_w"]), hex32(args["meter_id"])),
        )

    def _resumed(self, args, log) -> None:
        self.db.execute(
            "UPDATE meters SET suspended = 0, status_reason = ? WHERE meter_id = ?",
            (args["reason"], hex32(args["meter_id"])),
        )

    def _baseline(self, args, log) -> None:
        self.db.execute(
            "UPDATE meters SET last_end = ?, last_digest = ? WHERE meter_id = ?",
            (small(args["interval_end"]), hex32(args["data_digest"]), hex32(args["meter_id"])),
        )

    def _measurement(self, args, log) -> None:
        meter = hex32(args["meter_id"])
        digest = hex32(args["data_digest"])
        self.db.execute(
            "INSERT OR REPLACE INTO measurements VALUES (?, ?, ?, ?, ?, ?)",
            (
                meter,
                small(args["interval_begin"]),
                small(args["interval_end"]),
                amount(args["produced_wh"]),
                amount(args["consumed_wh"]),
                digest,
            ),
        )
        self.db.execute(
            "UPDATE meters SET last_end = ?, last_digest = ? WHERE meter_id = ?",
            (small(args["interval_end"]), digest, meter),
        )

    def _interval_settled(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO settlements VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                hex32(args["meter_id"]),
                small(args["interval_begin"]),
                args["account"],
                amount(args["feed_in_wh"]),
                amount(args["retail_wh"]),
                amount(args["reward"]),
                amount(args["bill"]),
            ),
        )

    def _tariff(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO tariffs VALUES (?, ?, ?, ?)",
            (
                small(args["index"]),
                amount(args["retail_price"]),
                amount(args["feed_in_reward"]),
                small(args["effective_from"]),
            ),
        )
        if log["blockNumber"] != self.operator_block:
            self.notify(
                EVERYONE,
                "tariff_announced",
                log,
                index=args["index"],
                retail_price=amount(args["retail_price"]),
                feed_in_reward=amount(args["feed_in_reward"]),
                effective_from=args["effective_from"],
            )

    def _backend_trust(self, args, log) -> None:
        genesis = log["blockNumber"] == self.operator_block
        row = self.db.execute(
            "SELECT genesis FROM backends WHERE backend = ?", (args["backend"],)
        ).fetchone()
        self.db.execute(
            "INSERT OR REPLACE INTO backends VALUES (?, ?, ?, ?)",
            (
                args["backend"],
                int(args["trusted"]),
                small(args["effective_from"]),
                int(genesis or bool(row and row[0])),  # the contract keeps the flag
            ),
        )
        if not genesis:
            self.notify(
                EVERYONE,
                "backend_trust_announced",
                log,
                backend=args["backend"],
                trusted=bool(args["trusted"]),
                effective_from=args["effective_from"],
            )

    def _ledger_opened(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO ledger_consents VALUES (?, ?, ?, ?)",
            (args["account"], args["backend"], hex32(args["meter_id"]), int(args["open"])),
        )

    def _debt_recorded(self, args, log) -> None:
        self.notify(args["account"], "debt_recorded", log, amount=amount(args["amount"]))

    def _meter_debt_recorded(self, args, log) -> None:
        self.notify(
            args["account"],
            "meter_debt_recorded",
            log,
            meter_id=hex32(args["meter_id"]),
            amount=amount(args["amount"]),
        )

    def _bill_unpaid(self, args, log) -> None:
        self.notify(
            args["account"],
            "bill_unpaid",
            log,
            meter_id=hex32(args["meter_id"]),
            amount=amount(args["amount"]),
        )

    def _issued(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO certificates (id, meter_id, interval_begin, issued_wh, "
            "custody_wh) VALUES (?, ?, ?, ?, ?)",
            (
                str(args["id"]),
                hex32(args["meter_id"]),
                small(args["interval_begin"]),
                amount(args["issued_wh"]),
                amount(args["custody_wh"]),
            ),
        )

    def _add(self, table: str, owner: str, id: int, delta: int) -> None:
        """Adds ``delta`` Wh to (owner, id) of ``holdings`` or ``exchange_held``, exactly
        (the Wh are TEXT), and drops a row that reaches zero."""
        column = "holder" if table == "holdings" else "account"
        key = (owner, str(id))
        row = self.db.execute(
            f"SELECT wh FROM {table} WHERE {column} = ? AND id = ?", key
        ).fetchone()
        wh = (int(row[0]) if row else 0) + delta
        if wh == 0:
            self.db.execute(f"DELETE FROM {table} WHERE {column} = ? AND id = ?", key)
        else:
            self.db.execute(
                f"INSERT INTO {table} ({column}, id, wh) VALUES (?, ?, ?) "
                f"ON CONFLICT ({column}, id) DO UPDATE SET wh = excluded.wh",
                (*key, str(wh)),
            )

    def _move(self, sender: str, receiver: str, id: int, wh: int) -> None:
        for holder, delta in ((sender, -wh), (receiver, wh)):
            if holder != ZERO:
                self._add("holdings", holder, id, delta)

    def _received(self, sender: str, receiver: str, ids: list[int], values: list[int], log):
        if receiver in (ZERO, sender) or not any(values):
            return
        self.notify(
            receiver,
            "certificates_received",
            log,
            sender=sender,
            ids=[str(id) for id in ids],
            wh=amount(sum(values)),
        )

    def _transfer_single(self, args, log) -> None:
        self._move(args["_from"], args["_to"], args["_id"], args["_value"])
        self._received(args["_from"], args["_to"], [args["_id"]], [args["_value"]], log)

    def _transfer_batch(self, args, log) -> None:
        for id, wh in zip(args["_ids"], args["_values"], strict=True):
            self._move(args["_from"], args["_to"], id, wh)
        self._received(args["_from"], args["_to"], args["_ids"], args["_values"], log)

    def _retired(self, args, log) -> None:
        row = self.db.execute(
            "SELECT interval_begin FROM certificates WHERE id = ?", (str(args["id"]),)
        ).fetchone()
        self.db.execute(
            "INSERT OR REPLACE INTO retirements VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                log["blockNumber"],
                log["logIndex"],
                str(args["id"]),
                hex32(args["consumption_meter_id"]),
                args["holder"],
                row[0] if row else 0,
                amount(args["wh"]),
            ),
        )

    def _revoked(self, args, log) -> None:
        self.db.execute("UPDATE certificates SET revoked = 1 WHERE id = ?", (str(args["id"]),))

    def _order_placed(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO orders (order_id, maker, meter_id, interval_begin, wh, "
            "price, is_bid, retire) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                small(args["order_id"]),
                args["maker"],
                hex32(args["meter_id"]),
                small(args["interval_begin"]),
                amount(args["wh"]),
                amount(args["price"]),
                int(args["is_bid"]),
                int(args["retire"]),
            ),
        )

    def _order_amended(self, args, log) -> None:
        self.db.execute(
            "UPDATE orders SET wh = ?, price = ?, version = ? WHERE order_id = ?",
            (
                amount(args["wh"]),
                amount(args["price"]),
                small(args["version"]),
                small(args["order_id"]),
            ),
        )

    def _order_cancelled(self, args, log) -> None:
        self.db.execute(
            "UPDATE orders SET status = 'cancelled', wh = 0 WHERE order_id = ?",
            (small(args["order_id"]),),
        )

    def _deal_made(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO deals (deal_id, order_id, seller, buyer, seller_meter, "
            "buyer_meter, interval_begin, wh, price, retire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                small(args["deal_id"]),
                small(args["order_id"]),
                args["seller"],
                args["buyer"],
                hex32(args["seller_meter"]),
                hex32(args["buyer_meter"]),
                small(args["interval_begin"]),
                amount(args["wh"]),
                amount(args["price"]),
                int(args["retire"]),
            ),
        )
        # A take lowers the order's open Wh, and bumps its version.
        row = self.db.execute(
            "SELECT wh, status, maker, is_bid FROM orders WHERE order_id = ?", (args["order_id"],)
        ).fetchone()
        if row is not None:
            left = max(int(row[0]) - args["wh"], 0)
            self.db.execute(
                "UPDATE orders SET wh = ?, version = version + 1, status = ? WHERE order_id = ?",
                (amount(left), "filled" if left == 0 else row[1], args["order_id"]),
            )
            self.notify(
                row[2],
                "order_taken",
                log,
                order_id=args["order_id"],
                deal_id=args["deal_id"],
                side="bid" if row[3] else "offer",
                interval_begin=args["interval_begin"],
                wh=amount(args["wh"]),
                price=amount(args["price"]),
                left_wh=amount(left),
            )

    def _deal_settled(self, args, log) -> None:
        self.db.execute(
            "UPDATE deals SET settled = 1, delivered_wh = ?, payment = ?, refund = ?, "
            "retired_wh = ? WHERE deal_id = ?",
            (
                amount(args["delivered_wh"]),
                amount(args["payment"]),
                amount(args["refund"]),
                amount(args["retired_wh"]),
                small(args["deal_id"]),
            ),
        )
        row = self.db.execute(
            "SELECT interval_begin, wh FROM deals WHERE deal_id = ?", (args["deal_id"],)
        ).fetchone()
        for account, role in ((args["seller"], "seller"), (args["buyer"], "buyer")):
            self.notify(
                account,
                "deal_settled",
                log,
                deal_id=args["deal_id"],
                role=role,
                interval_begin=row[0] if row else None,
                wh=row[1] if row else None,
                delivered_wh=amount(args["delivered_wh"]),
                payment=amount(args["payment"]),
                refund=amount(args["refund"]),
            )

    def _held(self, args, log) -> None:
        self._add("exchange_held", args["account"], args["id"], args["wh"])
        self.notify(
            args["account"], "certificates_held", log, id=str(args["id"]), wh=amount(args["wh"])
        )

    def _claimed(self, args, log) -> None:
        self._add("exchange_held", args["account"], args["id"], -args["wh"])

    # AUCTION (issue 19)

    def _standing_placed(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO standing_orders (order_id, maker, meter_id, first, last, "
            "wh, price, is_bid, placed_at, tx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                small(args["order_id"]),
                args["maker"],
                hex32(args["meter_id"]),
                small(args["first"]),
                small(args["last"]),
                amount(args["wh"]),
                amount(args["price"]),
                int(args["is_bid"]),
                self.timestamp(log["blockNumber"]),
                hex32(log["transactionHash"]),
            ),
        )

    def _standing_cancelled(self, args, log) -> None:
        # The order keeps its intervals before `from_interval`; a bid's escrow for the rest
        # came back (`refund`, added up: an order can be cut short more than once).
        order_id = small(args["order_id"])
        row = self.db.execute(
            "SELECT refunded FROM standing_orders WHERE order_id = ?", (order_id,)
        ).fetchone()
        if row is None:
            return
        self.db.execute(
            "UPDATE standing_orders SET cancelled_from = min(coalesce(cancelled_from, ?1), ?1), "
            "refunded = ?2 WHERE order_id = ?3",
            (small(args["from_interval"]), amount(int(row[0]) + args["refund"]), order_id),
        )

    def _interval_cleared(self, args, log) -> None:
        """The clearing, and every live order's fill in it, derived as the Auction's
        ``_fill`` derives it: from the ratios its ``clearing`` view answers and the
        tariff bounds its clearing read (``tariff_at`` the interval's begin, as of the
        same block). An interval's orders cannot change once it is cleared."""
        begin, block = small(args["interval_begin"]), log["blockNumber"]
        clearing = self.view("Auction", "clearing", begin, block=block)
        tariff = self.view("OperatorBackend", "tariff_at", begin, block=block)
        price = args["price"]
        bid_num, bid_den, ask_num, ask_den = clearing[4], clearing[5], clearing[6], clearing[7]
        self.db.execute(
            "INSERT OR REPLACE INTO auction_clearings (interval_begin, price, bought_wh, "
            "sold_wh, orders, keeper, cleared_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                begin,
                amount(price),
                amount(args["bought_wh"]),
                amount(args["sold_wh"]),
                small(args["orders"]),
                args["keeper"],
                self.timestamp(block),
            ),
        )
        live = self.db.execute(
            "SELECT order_id, wh, price, is_bid FROM standing_orders WHERE first <= ?1 "
            "AND last >= ?1 AND (cancelled_from IS NULL OR cancelled_from > ?1)",
            (begin,),
        ).fetchall()
        for order_id, wh, limit, is_bid in live:
            wh, limit = int(wh), int(limit)
            limit = effective(bool(is_bid), limit, tariff[0], tariff[1])
            if is_bid:
                fill = wh if limit > price else wh * bid_num // bid_den if limit == price else 0
            else:
                fill = wh if limit < price else wh * ask_num // ask_den if limit == price else 0
            self.db.execute(
                "INSERT OR REPLACE INTO auction_fills VALUES (?, ?, ?)",
                (order_id, begin, amount(fill)),
            )

    def _released(self, args, log) -> None:
        self.db.execute(
            "UPDATE standing_orders SET released = released + ? WHERE order_id = ?",
            (small(args["intervals"]), small(args["order_id"])),
        )

    # EMISSIONS (EmissionsRegistry)

    def _role(self, role: str, args) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO emission_roles VALUES (?, ?, ?, ?)",
            (args["sector"], args["account"], role, int(args["appointed"])),
        )

    def _publisher_set(self, args, log) -> None:
        self._role("publisher", args)

    def _auditor_set(self, args, log) -> None:
        self._role("auditor", args)

    def _factors_published(self, args, log) -> None:
        id, kind = small(args["id"]), small(args["kind"])
        factor = hourly = None
        block = log["blockNumber"]
        # The factors are not in the log: the publication's views, as of its block.
        if kind == KIND_HOURLY_DAY:
            hourly = json.dumps(
                [
                    amount(f)
                    for f in self.view("EmissionsRegistry", "hourly_factors", id, block=block)
                ]
            )
        elif kind in (KIND_LOCATION_YEAR, KIND_RESIDUAL_YEAR):
            publication = self.view("EmissionsRegistry", "publication", id, block=block)
            factor = amount(publication[3])  # factor_mg_per_kwh
        self.db.execute(
            "INSERT OR REPLACE INTO emission_publications (id, kind, sector, period, publisher, "
            "source, cid, supersedes, factor_mg_per_kwh, hourly_mg_per_kwh, published_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                id,
                kind,
                args["sector"],
                small(args["period"]),
                args["publisher"],
                args["source"],
                args["cid"],
                small(args["supersedes"]),
                factor,
                hourly,
                self.timestamp(block),
            ),
        )

    def _publication_superseded(self, args, log) -> None:
        self.db.execute(
            "UPDATE emission_publications SET superseded_by = ? WHERE id = ?",
            (small(args["by"]), small(args["id"])),
        )

    def _statement_made(self, args, log) -> None:
        id, origin = small(args["id"]), small(args["origin"])
        meter = hex32(args["meter_id"])
        block = log["blockNumber"]
        sector = ""
        if origin == ORIGIN_MERGED:
            # Its parts were burned, in this transaction, before it was made.
            used = [
                row[0]
                for row in self.db.execute(
                    "SELECT sp.publication FROM statement_parts p "
                    "JOIN statement_publications sp ON sp.statement = p.part "
                    "WHERE p.statement = ? ORDER BY p.position, sp.position",
                    (id,),
                )
            ]
            used = list(dict.fromkeys(used))
            row = self.db.execute(
                "SELECT s.sector FROM statement_parts p JOIN emission_statements s "
                "ON s.id = p.part WHERE p.statement = ? ORDER BY p.position LIMIT 1",
                (id,),
            ).fetchone()
            sector = row[0] if row else ""
        elif origin == ORIGIN_METER:
            # A restatement burned the statement it supersedes first: not a part.
            self.db.execute("DELETE FROM statement_parts WHERE statement = ?", (id,))
            used = [
                small(p)
                for p in self.view("EmissionsRegistry", "publications_used", id, block=block)
            ]
        else:
            used = []  # utility data: its factors come with UtilityStatementPublished
        if not sector:
            row = self.db.execute(
                "SELECT sector FROM meters WHERE meter_id = ?", (meter,)
            ).fetchone()
            sector = row[0] if row else ""
        self.db.execute(
            "INSERT OR REPLACE INTO emission_statements (id, account, origin, meter_id, sector, "
            "begin, end, consumed_wh, matched_wh, location_g, market_g, made_at, block, tx) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                id,
                args["account"],
                origin,
                meter,
                sector,
                small(args["begin"]),
                small(args["end"]),
                amount(args["consumed_wh"]),
                amount(args["matched_wh"]),
                amount(args["location_g"]),
                amount(args["market_g"]),
                self.timestamp(block),
                block,
                hex32(log["transactionHash"]),
            ),
        )
        self.db.execute("DELETE FROM statement_publications WHERE statement = ?", (id,))
        self.db.executemany(
            "INSERT INTO statement_publications VALUES (?, ?, ?)",
            [(id, position, publication) for position, publication in enumerate(used)],
        )

    def _statement_superseded(self, args, log) -> None:
        id, by = small(args["id"]), small(args["by"])
        self.db.execute("UPDATE emission_statements SET superseded_by = ? WHERE id = ?", (by, id))
        (position,) = self.db.execute(
            "SELECT count(*) FROM statement_parts WHERE statement = ?", (by,)
        ).fetchone()
        self.db.execute(
            "INSERT OR REPLACE INTO statement_parts VALUES (?, ?, ?)", (by, position, id)
        )

    def _statement_attested(self, args, log) -> None:
        id = small(args["id"])
        self.db.execute(
            "INSERT OR REPLACE INTO attestations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                log["blockNumber"],
                log["logIndex"],
                id,
                args["auditor"],
                args["note"],
                args["cid"],
                self.timestamp(log["blockNumber"]),
            ),
        )
        row = self.db.execute(
            "SELECT account FROM emission_statements WHERE id = ?", (id,)
        ).fetchone()
        if row is not None:
            self.notify(row[0], "statement_attested", log, id=id, auditor=args["auditor"])

    def _statement_requested(self, args, log) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO emission_requests (id, customer, auditor, sector, utility, "
            "begin, end) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                small(args["id"]),
                args["customer"],
                args["auditor"],
                args["sector"],
                args["utility"],
                small(args["begin"]),
                small(args["end"]),
            ),
        )

    def _utility_statement(self, args, log) -> None:
        id, request = small(args["id"]), small(args["request"])
        # The factors and the data's format are not in the log: the view, as of its block.
        data = self.view("EmissionsRegistry", "utility_data", id, block=log["blockNumber"])
        row = self.db.execute(
            "SELECT sector FROM emission_requests WHERE id = ?", (request,)
        ).fetchone()
        self.db.execute("UPDATE emission_requests SET statement = ? WHERE id = ?", (id, request))
        self.db.execute(
            "UPDATE emission_statements SET request = ?, auditor = ?, utility = ?, "
            "location_mg_per_kwh = ?, market_mg_per_kwh = ?, data_format = ?, data_sha256 = ?, "
            "data_cid = ?, sector = coalesce(?, sector) WHERE id = ?",
            (
                request,
                args["auditor"],
                data[1],
                amount(data[2]),
                amount(data[3]),
                data[4],
                hex32(args["data_sha256"]),
                args["data_cid"],
                row[0] if row else None,
                id,
            ),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openkwh.dapp.indexer", description=__doc__)
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    parser.add_argument("--deployments", type=Path, required=True, help="the deployments file")
    parser.add_argument("--database", type=Path, required=True, help="the index (SQLite)")
    parser.add_argument("--confirmations", type=int, default=2)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--once", action="store_true", help="catch up, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    w3 = Web3(Web3.HTTPProvider(args.rpc_url))
    try:
        deployment = Deployment.load(args.deployments)
    except DeploymentError as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    indexer = Indexer(w3, deployment, connect(args.database), args.confirmations)
    if args.once:
        print(f"{indexer.catch_up()} events indexed")
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        indexer.follow(args.poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The outbox: signs stored readings and relays them to the SmartMeterBackend, in order.

One transaction is in flight at a time, carrying up to ``max_batch`` readings
(all of them after an outage, a batch at a time). Its nonce is the relayer's
next one; if it is not mined within ``bump_after`` seconds, it is sent again
with the same nonce and fees raised by ``bump_percent`` (nodes want at least
10 %), so exactly one transaction per nonce is mined. A transaction counts
once it is ``confirmations`` blocks deep.

Before sending, the batch is simulated. A reading the chain already has (its
interval end is not after the meter's last reading on chain) counts as
delivered. A reading the contract refuses for a passing reason (dated in the
future: the chain's clock is behind; the meter is suspended) waits and is
tried again. Any other refusal is final: the reading is marked rejected with
the contract's reason, reported by `status`, and the rest flow on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from meter_bridge.signing import Reading, ReadingError, SignedReading, sign_reading
from meter_bridge.store import Reading as StoredReading
from meter_bridge.store import Store

logger = logging.getLogger(__name__)

PASSING = ("meter: reading dated in the future", "meter: meter is suspended")


@dataclass(frozen=True)
class RelayConfig:
    confirmations: int = 1
    bump_after: int = 60  # seconds a transaction may wait before its fees are raised
    bump_percent: int = 25
    max_batch: int = 24


class Relayer:
    def __init__(
        self,
        w3: Web3,
        backend,  # the SmartMeterBackend, a web3 contract
        meter_id: bytes,
        signer: LocalAccount,
        relayer: LocalAccount,
        store: Store,
        config: RelayConfig = RelayConfig(),
        clock: Callable[[], float] = time.time,
        chain_id: int | None = None,
    ):
        self.w3 = w3
        self.backend = backend
        self.meter_id = meter_id
        self.signer = signer
        self.relayer = relayer
        self.store = store
        self.config = config
        self.clock = clock
        # Known from the deployments file, so that signing needs no node.
        self._chain_id = chain_id

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    def now(self) -> int:
        return int(self.clock())

    # SIGNING

    def sign_new(self) -> int:
        """Signs every stored reading not signed yet; returns how many it handled.
        One that cannot be signed is set aside, never left blocking the outbox."""
        readings = self.store.readings("new")
        for stored in readings:
            try:
                reading = self._reading(stored)
            except ReadingError as exc:
                self._set_aside(stored, exc)
                continue
            signed = sign_reading(self.signer, reading, self.chain_id, self.backend.address)
            signature = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big")
            self.store.set_status(
                stored.interval_end, "signed", self.now(), signature=signature + bytes([signed.v])
            )
        return len(readings)

    def _set_aside(self, stored: StoredReading, error: ReadingError) -> None:
        """A reading the contract could not take (a register out of its range,
        stored by an older bridge): reported in `status`, the rest flow on."""
        now = self.now()
        self.store.set_status(stored.interval_end, "set aside", now, str(error))
        self.store.note("set aside", f"reading {stored.interval_end}: {error}", now)
        logger.error("reading %d set aside: %s", stored.interval_end, error)

    def _reading(self, stored: StoredReading) -> Reading:
        return Reading(
            self.meter_id, stored.interval_end, stored.import_wh, stored.export_wh, stored.digest
        )

    def _args(self, stored: StoredReading) -> tuple:
        signature = stored.signature
        return SignedReading(
            self._reading(stored),
            signature[64],
            int.from_bytes(signature[:32], "big"),
            int.from_bytes(signature[32:64], "big"),
        ).contract_args()

    # RELAYING

    def step(self) -> None:
        """One round: follow the transaction in flight, or send the next batch."""
        self.sign_new()
        if self._follow_pending():
            return
        self._send_next()

    def _pending(self):
        return self.store.db.execute(
            "SELECT nonce, hashes, readings, max_fee, tip, sent_at FROM transactions "
            "WHERE status = 'pending' ORDER BY nonce LIMIT 1"
        ).fetchone()

    def _follow_pending(self) -> bool:
        """True while a transaction is still in flight."""
        row = self._pending()
        if row is None:
            return False
        nonce, hashes, ends, max_fee, tip, sent_at = row
        hashes, ends = json.loads(hashes), json.loads(ends)
        # Read before the receipts: a transaction of ours mined by then has one.
        nonce_used = self.w3.eth.get_transaction_count(self.relayer.address, "latest") > nonce
        for tx_hash in hashes:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                continue
            depth = self.w3.eth.block_number - receipt["blockNumber"] + 1
            if depth < self.config.confirmations:
                return True
            self._settle_transaction(nonce, ends, tx_hash, receipt["status"] == 1)
            return False
        if nonce_used:
            # The nonce went to a transaction this store does not know (the key
            # relays elsewhere too): what this one carried goes out again.
            self._settle_transaction(nonce, ends, None, False)
            return False
        if self.now() - sent_at >= self.config.bump_after:
            self._bump(nonce, hashes, ends, max_fee, tip)
        return True

    def _settle_transaction(self, nonce: int, ends: list[int], tx_hash, success: bool) -> None:
        now = self.now()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE transactions SET status = ? WHERE nonce = ?",
                ("mined" if success else "failed", nonce),
            )
            for end in ends:
                db.execute(
                    "UPDATE readings SET status = ?, detail = ?, updated_at = ? "
                    "WHERE interval_end = ? AND status = 'sent'",
                    ("delivered" if success else "signed", tx_hash, now, end),
                )
        if success:
            logger.info("readings %s delivered in %s", ends, tx_hash)
        else:
            logger.warning("transaction with nonce %d failed; its readings go again", nonce)

    def _send_next(self) -> None:
        signed = self.store.readings("signed")
        if not signed:
            return
        last_end = self.backend.functions.last_reading(self.meter_id).call()[0]
        for stored in signed:
            if stored.interval_end <= last_end:
                self.store.set_status(
                    stored.interval_end, "delivered", self.now(), "already recorded on chain"
                )
        batch = [r for r in signed if r.interval_end > last_end][: self.config.max_batch]
        if not batch:
            return
        call = self.backend.functions.submit_readings([self._args(r) for r in batch])
        try:
            gas = call.estimate_gas({"from": self.relayer.address})
        except ContractLogicError:
            batch = self._triage(batch[0])
            if not batch:
                return
            call = self.backend.functions.submit_readings([self._args(r) for r in batch])
            gas = call.estimate_gas({"from": self.relayer.address})
        tip = self.w3.eth.max_priority_fee
        max_fee = 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + tip
        nonce = self.w3.eth.get_transaction_count(self.relayer.address, "pending")
        raw, tx_hash = self._sign(call, gas, nonce, max_fee, tip)
        ends = [r.interval_end for r in batch]
        now = self.now()
        # Recorded before it is sent: after a crash, the store knows the nonce is taken.
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO transactions "
                "(nonce, hashes, readings, max_fee, tip, sent_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                (nonce, json.dumps([tx_hash]), json.dumps(ends), max_fee, tip, now),
            )
            for end in ends:
                db.execute(
                    "UPDATE readings SET status = 'sent', detail = ?, updated_at = ? "
                    "WHERE interval_end = ?",
                    (tx_hash, now, end),
                )
        self.w3.eth.send_raw_transaction(raw)
        logger.info("sent %d readings (nonce %d): %s", len(batch), nonce, tx_hash)

    def _sign(self, call, gas: int, nonce: int, max_fee: int, tip: int) -> tuple[bytes, str]:
        """The signed transaction of ``call`` (gas with a fifth to spare) and its hash."""
        tx = call.build_transaction(
            {
                "from": self.relayer.address,
                "nonce": nonce,
                "gas": gas * 6 // 5,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
                "chainId": self.chain_id,
            }
        )
        raw = self.relayer.sign_transaction(tx).raw_transaction
        return raw, Web3.to_hex(Web3.keccak(raw))

    def _triage(self, first: StoredReading) -> list[StoredReading]:
        """The batch failed its simulation: judge its first reading alone. Returns
        [first] when it would pass (the next round sends the rest)."""
        try:
            self.backend.functions.submit_reading(*self._args(first)).call(
                {"from": self.relayer.address}
            )
        except ContractLogicError as exc:
            reason = str(exc.message).removeprefix("execution reverted: ")
            now = self.now()
            if reason in PASSING:
                self.store.note("waiting", f"reading {first.interval_end}: {reason}", now)
            else:
                self.store.set_status(first.interval_end, "rejected", now, reason)
                self.store.note("rejected", f"reading {first.interval_end}: {reason}", now)
                logger.error("reading %d rejected: %s", first.interval_end, reason)
            return []
        return [first]

    def _bump(self, nonce: int, hashes: list[str], ends: list[int], max_fee: int, tip: int):
        factor = 100 + self.config.bump_percent
        tip, max_fee = tip * factor // 100 + 1, max_fee * factor // 100 + 1
        stored = {r.interval_end: r for r in self.store.readings("sent")}
        call = self.backend.functions.submit_readings([self._args(stored[end]) for end in ends])
        gas = call.estimate_gas({"from": self.relayer.address})
        raw, tx_hash = self._sign(call, gas, nonce, max_fee, tip)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE transactions SET hashes = ?, max_fee = ?, tip = ?, sent_at = ? "
                "WHERE nonce = ?",
                (json.dumps([*hashes, tx_hash]), max_fee, tip, self.now(), nonce),
            )
        self.w3.eth.send_raw_transaction(raw)
        logger.warning(
            "nonce %d not mined: fees raised to %d (tip %d), %s", nonce, max_fee, tip, tx_hash
        )

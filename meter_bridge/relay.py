"""The outbox: signs stored readings and relays them to the SmartMeterBackend, in order.

One transaction is in flight at a time, carrying up to ``max_batch`` readings
(all of them after an outage, a batch at a time). Its nonce is the relayer's
next one; if it is not mined within ``bump_after`` seconds, it is sent again
with the same nonce and fees raised by ``bump_percent`` (nodes want at least
10 %), never above ``max_fee`` per gas, so exactly one transaction per nonce
is mined. A transaction counts once it is ``confirmations`` blocks deep.

Only what the node accepted is kept: a send it refuses (no ether for gas, a
fee it finds too low) leaves the store as it was, so the next round starts
afresh at the fees of the day, and delivery resumes by itself once the cause
is gone. Fees are raised only for a transaction the node holds; one the node
lost (it restarted, or never got it) is sent again at the same fees.

Before signing, and every ``check_every`` seconds (each round while one
fails), the relayer checks what would make the chain refuse everything: the
node's chain id is the deployment's, the meter is registered, this device's
key is its signer, and the relayer can pay for the next transaction (a
warning below a day of readings). Each failure is logged once, kept in the
store for `status`, and readings wait rather than go to be rejected. Readings
taken while the meter is not registered are kept, marked ``unregistered``
and never sent: the first after registration is the baseline. A reading
signed by a key that is not (or no longer) the signer is signed again with
this device's key once it is the signer.

A reading names the interval it closes: it begins where the meter's last
reading on chain ended (0 for a baseline), so nobody can relay a later one
first and merge hours. Each is signed with the end of the reading before it in
the store; when the chain ends elsewhere (a reading it refused, a new device's
baseline), the next batch is signed again from the chain's last end. After
a new device was put in place (``rotate_signer`` with ``new_device``), the
newest reading becomes its baseline; older ones waiting (perhaps the old
meter's registers) are set aside, so none of them blocks the new meter's.

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
from dataclasses import dataclass, replace

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception, Web3RPCError

from meter_bridge.signing import Reading, ReadingError, SignedReading, sign_reading, typed_data
from meter_bridge.store import Reading as StoredReading
from meter_bridge.store import Store
from openkwh.chain.transactions import fees, revert_reason

logger = logging.getLogger(__name__)

PASSING = ("meter: reading dated in the future", "meter: meter is suspended")
# Refusals caused by the bridge's own state, which the checks catch and wait out.
OWN_STATE = (
    "meter: unknown meter",
    "meter: no owner has accepted the meter yet",
    "meter: signer does not match meter",
)
GWEI = 10**9
ETHER = 10**18
DAY = 86_400  # seconds
# Gas of one reading sent alone (README, Gas: 64,154 measured, 75,000 the bound).
GAS_PER_READING = 75_000
ZERO_ADDRESS = "0x" + "00" * 20
BLOCKING = ("chain", "registered", "signer")  # checks that stop signing and sending


@dataclass(frozen=True)
class RelayConfig:
    confirmations: int = 1
    bump_after: int = 60  # seconds a transaction may wait before its fees are raised
    bump_percent: int = 25
    max_batch: int = 24
    max_fee: int = 100 * GWEI  # wei per gas: no transaction offers more
    check_every: int = 600  # seconds between checks of registration, signer and funds


def ether(wei: int) -> str:
    return f"{wei / ETHER:.6f} ETH"


def gwei(wei: int) -> str:
    return f"{wei / GWEI:g} gwei"


class NodeAnswerError(Web3Exception):
    """The node answered something that is not JSON: a web page where rpc_url points."""


class NodeProvider(HTTPProvider):
    """web3's HTTP provider, but an answer that is not JSON raises NodeAnswerError, a
    web3 error that the daemon logs and retries like a node down (web3 raises a
    bare ValueError, which would stop it)."""

    def decode_rpc_response(self, raw_response: bytes):
        try:
            return super().decode_rpc_response(raw_response)
        except ValueError as exc:  # not JSON, or not text
            raise NodeAnswerError(
                f"the node at {self.endpoint_uri} answered {raw_response[:80]!r}, "
                "not JSON-RPC: check rpc_url"
            ) from exc


def refusal(exc: Web3RPCError) -> str:
    """The node's words for a refused call, without the JSON-RPC wrapping."""
    error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message or exc)


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
        self.problems: dict[str, str] = {}  # failed checks: name -> what is wrong
        self.warnings: dict[str, str] = {}
        self._checked_at: int | None = None

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
            self._sign_reading(stored, reading, self.store.previous_end(stored.interval_end))
        return len(readings)

    def _sign_reading(self, stored: StoredReading, reading: Reading, begin: int) -> StoredReading:
        """Signs ``reading`` as beginning at ``begin``; keeps and returns the signed reading."""
        reading = replace(reading, interval_begin=begin)
        signed = sign_reading(self.signer, reading, self.chain_id, self.backend.address)
        signature = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])
        self.store.set_status(
            stored.interval_end, "signed", self.now(), signature=signature, signed_begin=begin
        )
        return replace(stored, status="signed", signature=signature, signed_begin=begin)

    def _begin_at(self, batch: list[StoredReading], begin: int) -> list[StoredReading]:
        """The batch signed as a chain of intervals from ``begin`` (the chain's next
        reading begin): readings signed from elsewhere are signed again."""
        chained = []
        for stored in batch:
            if stored.signed_begin != begin:
                logger.info(
                    "reading %d signed again to begin at %d, where the chain's readings end",
                    stored.interval_end,
                    begin,
                )
                stored = self._sign_reading(stored, self._reading(stored), begin)
            chained.append(stored)
            begin = stored.interval_end
        return chained

    def _set_aside(self, stored: StoredReading, error: ReadingError) -> None:
        """A reading the contract could not take (a register out of its range,
        stored by an older bridge): reported in `status`, the rest flow on."""
        now = self.now()
        self.store.set_status(stored.interval_end, "set aside", now, str(error))
        self.store.note("set aside", f"reading {stored.interval_end}: {error}", now)
        logger.error("reading %d set aside: %s", stored.interval_end, error)

    def _reading(self, stored: StoredReading) -> Reading:
        return Reading(
            self.meter_id,
            stored.interval_end,
            stored.import_wh,
            stored.export_wh,
            stored.digest,
            stored.signed_begin or 0,
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
        """One round: check when due, follow the transaction in flight, or send the next batch."""
        due = (
            self._checked_at is None
            or bool(self.problems)
            or self.now() - self._checked_at >= self.config.check_every
        )
        if due:
            self.check()
        if "registered" in self.problems:
            self._keep_unregistered()
            return
        if "chain" in self.problems:
            return
        if "signer" in self.problems:
            self._follow_pending()  # sent while the key was the signer: it may still land
            return
        if due:
            self._sign_again_if_not_by(self.signer.address)
        self.sign_new()
        if self._follow_pending():
            return
        self._send_next()

    # CHECKS

    def check(self) -> dict[str, str]:
        """Checks the chain id, registration, signer and funds; logs each change,
        keeps the result for `status`, and returns the failures."""
        now = self.now()
        problems, warnings = {}, {}
        node_chain = self.w3.eth.chain_id
        if self._chain_id is not None and node_chain != self._chain_id:
            problems["chain"] = (
                f"the node is on chain {node_chain}, the deployment on chain {self._chain_id}: "
                "check rpc_url and deployments; readings wait"
            )
        elif not self.w3.eth.get_code(self.backend.address):
            # Checked first: with no contract there, every meter reads as unregistered,
            # and readings would be marked as taken before registration.
            problems["chain"] = (
                f"no contract at {self.backend.address} on chain {node_chain}, where the "
                "deployments file puts the SmartMeterBackend: check deployments and "
                "rpc_url; readings wait"
            )
        else:
            info = self.backend.functions.meter(self.meter_id).call()
            owner, signer = info[0], info[1]
            if owner == ZERO_ADDRESS:
                problems["registered"] = (
                    f"meter 0x{self.meter_id.hex()} is not registered with the "
                    f"SmartMeterBackend at {self.backend.address}, or its owner has not "
                    f"accepted it yet: have the installer register it with signer "
                    f"{self.signer.address}, and its owner accept it; readings taken meanwhile "
                    "are kept here, marked unregistered, and never sent"
                )
            elif signer != self.signer.address:
                problems["signer"] = (
                    f"this device's key {self.signer.address} is not the meter's signer "
                    f"(the chain names {signer}): have the owner approve it and the installer "
                    "rotate the signer to it; "
                    "readings wait and are signed once it is"
                )
        funds = self._funds()
        if funds["balance"] < funds["next_transaction"]:
            problems["funds"] = self._out_of_funds_message(
                funds["balance"], funds["next_transaction"]
            )
        elif funds["balance"] < funds["per_day"]:
            warnings["funds"] = (
                f"the relayer {self.relayer.address} holds {ether(funds['balance'])}, "
                f"less than a day of readings ({ether(funds['per_day'])} a day at today's "
                "fees): send it ether"
            )
        for name, message in {**problems, **warnings}.items():
            if self.problems.get(name, self.warnings.get(name)) != message:
                logger.log(logging.ERROR if name in problems else logging.WARNING, "%s", message)
                self.store.note("check", message, now)
        for name in (self.problems.keys() | self.warnings.keys()) - (
            problems.keys() | warnings.keys()
        ):
            logger.info("check passed again: %s", name)
        self.problems, self.warnings, self._checked_at = problems, warnings, now
        self.store.put_state("checks", {"problems": problems, "warnings": warnings}, now)
        self.store.put_state("relayer", funds, now)
        return problems

    def _funds(self) -> dict:
        """The relayer's balance, what the next transaction may cost, and a day of readings."""
        balance = self.w3.eth.get_balance(self.relayer.address)
        base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        max_fee, tip = fees(self.w3, self.config.max_fee, base_fee)
        paid = min(base_fee + tip, self.config.max_fee)  # per gas, what a block takes
        per_day = GAS_PER_READING * (DAY // self.store.interval) * paid
        return {
            "address": self.relayer.address,
            "signer": self.signer.address,  # the meter key; the same unless a relayer is set
            "balance": balance,
            "next_transaction": self.gas_limit(GAS_PER_READING) * max_fee,
            "per_day": per_day,
            "days_left": round(balance / per_day, 1) if per_day else None,
        }

    def _keep_unregistered(self) -> None:
        """Readings of a meter the chain does not know are kept, never sent."""
        with self.store.transaction() as db:
            count = db.execute(
                "UPDATE readings SET status = 'unregistered', signature = NULL, "
                "detail = 'taken before the meter was registered: kept, never sent', "
                "updated_at = ? WHERE status IN ('new', 'signed')",
                (self.now(),),
            ).rowcount
        if count:
            logger.warning("%d reading(s) taken before registration kept, never sent", count)

    def _sign_again_if_not_by(self, signer: str) -> None:
        """Readings signed by another key (the one before a rotation) wait to be
        signed again: the chain would refuse them."""
        stale = [
            r.interval_end for r in self.store.readings("signed") if self._signed_by(r) != signer
        ]
        if not stale:
            return
        with self.store.transaction() as db:
            for end in stale:
                db.execute(
                    "UPDATE readings SET status = 'new', signature = NULL WHERE interval_end = ?",
                    (end,),
                )
        logger.info("%d reading(s) signed by another key: signing them again", len(stale))

    def _signed_by(self, stored: StoredReading) -> str:
        message = encode_typed_data(
            full_message=typed_data(self._reading(stored), self.chain_id, self.backend.address)
        )
        signature = stored.signature
        return Account.recover_message(
            message,
            vrs=(signature[64], signature[:32], signature[32:64]),
        )

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
        if not self._node_holds(hashes):
            # Lost by the node, or never received (a crash or an outage between
            # recording and sending): the same offer again, not a raised one.
            self._replace(nonce, hashes, ends, max_fee, tip)
        elif self.now() - sent_at >= self.config.bump_after:
            self._bump(nonce, hashes, ends, max_fee, tip)
        return True

    def _node_holds(self, hashes: list[str]) -> bool:
        for tx_hash in hashes:
            try:
                self.w3.eth.get_transaction(tx_hash)
            except TransactionNotFound:
                continue
            return True
        return False

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
        fresh = [r for r in signed if r.interval_end > last_end]
        if not fresh:
            return
        begin = self.backend.functions.next_reading_begin(self.meter_id).call()
        if begin == 0 and last_end != 0 and len(fresh) > 1:
            # The installer put a new device in place: the chain wants its baseline.
            # What the store holds from before may be the old meter's registers,
            # so the newest reading is the baseline and the older ones stay here.
            for stored in fresh[:-1]:
                self._set_aside(
                    stored,
                    ReadingError(
                        "taken before the newest reading, which became the new device's "
                        "baseline: not sent"
                    ),
                )
            fresh = fresh[-1:]
        batch = self._begin_at(fresh[: self.config.max_batch], begin)
        call = self.backend.functions.submit_readings([self._args(r) for r in batch])
        try:
            gas = call.estimate_gas({"from": self.relayer.address})
        except ContractLogicError:
            batch = self._triage(batch[0])
            if not batch:
                return
            call = self.backend.functions.submit_readings([self._args(r) for r in batch])
            gas = call.estimate_gas({"from": self.relayer.address})
        cap = self.config.max_fee
        base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        if base_fee >= cap:
            self._wait(
                f"the base fee is {gwei(base_fee)}, at or above the cap of {gwei(cap)} "
                "(max_fee_gwei): readings wait for cheaper blocks"
            )
            return
        max_fee, tip = fees(self.w3, cap, base_fee)
        if not self._can_pay(gas, max_fee):
            return
        nonce = self.w3.eth.get_transaction_count(self.relayer.address, "pending")
        raw, tx_hash = self._sign(call, gas, nonce, max_fee, tip)
        ends = [r.interval_end for r in batch]
        now = self.now()
        # Recorded before it is sent: after a crash, the store knows the nonce is
        # taken. A refusal undoes it (below).
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
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            self._unsend(nonce, ends)
            self._refused(exc, gas, max_fee)
            return
        logger.info("sent %d readings (nonce %d): %s", len(batch), nonce, tx_hash)

    def gas_limit(self, gas: int) -> int:
        return gas * 6 // 5

    def _can_pay(self, gas: int, max_fee: int) -> bool:
        """Whether the relayer holds what the transaction may cost; if not, says so."""
        balance = self.w3.eth.get_balance(self.relayer.address)
        cost = self.gas_limit(gas) * max_fee
        if balance >= cost:
            return True
        self._out_of_funds(balance, cost)
        return False

    def _out_of_funds(self, balance: int, cost: int) -> None:
        self._wait(self._out_of_funds_message(balance, cost), kind="funds")

    def _out_of_funds_message(self, balance: int, cost: int) -> str:
        return (
            f"out of gas money: the relayer {self.relayer.address} holds {ether(balance)}; "
            f"the next transaction may cost up to {ether(cost)}. Send it ether; "
            "readings wait and go once it can pay"
        )

    def _refused(self, exc: Web3RPCError, gas: int, max_fee: int) -> None:
        reason = refusal(exc)
        if "insufficient funds" in reason.lower():
            balance = self.w3.eth.get_balance(self.relayer.address)
            self._out_of_funds(balance, self.gas_limit(gas) * max_fee)
        else:
            self._wait(f"the node refused the transaction: {reason}", kind="refused")

    def _wait(self, message: str, kind: str = "waiting") -> None:
        """A reason to wait, noted for `status` (a repeat only moves its time) and
        logged once: not again each round it lasts, nor when a check said it."""
        if self.store.note(kind, message, self.now()) and kind not in self.problems:
            logger.warning("%s", message)

    def _sign(self, call, gas: int, nonce: int, max_fee: int, tip: int) -> tuple[bytes, str]:
        """The signed transaction of ``call`` (gas with a fifth to spare) and its hash."""
        tx = call.build_transaction(
            {
                "from": self.relayer.address,
                "nonce": nonce,
                "gas": self.gas_limit(gas),
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
            reason = revert_reason(exc)
            now = self.now()
            if reason in PASSING or reason in OWN_STATE:
                if reason in OWN_STATE:
                    self._checked_at = None  # the next round checks again first
                self.store.note("waiting", f"reading {first.interval_end}: {reason}", now)
            else:
                self.store.set_status(first.interval_end, "rejected", now, reason)
                self.store.note("rejected", f"reading {first.interval_end}: {reason}", now)
                logger.error("reading %d rejected: %s", first.interval_end, reason)
            return []
        return [first]

    def _bump(self, nonce: int, hashes: list[str], ends: list[int], max_fee: int, tip: int):
        """Offers more for a transaction the node holds but has not mined, up to the cap."""
        cap = self.config.max_fee
        factor = 100 + self.config.bump_percent
        raised = min(max_fee * factor // 100 + 1, cap)
        if raised <= max_fee:
            self._wait(
                f"nonce {nonce} not mined and its fees are at the cap of {gwei(cap)} "
                "(max_fee_gwei): it waits for the base fee to fall"
            )
            with self.store.transaction() as db:  # the next notice after bump_after again
                db.execute(
                    "UPDATE transactions SET sent_at = ? WHERE nonce = ?", (self.now(), nonce)
                )
            return
        tip = min(tip * factor // 100 + 1, raised)
        if self._replace(nonce, hashes, ends, raised, tip):
            logger.warning(
                "nonce %d not mined: fees raised to %s (tip %s)", nonce, gwei(raised), gwei(tip)
            )

    def _unsend(self, nonce: int, ends: list[int]) -> None:
        """Forgets the transaction of ``nonce`` and puts its readings back in the
        outbox, signed: for a send the node refused, or one that would now fail."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM transactions WHERE nonce = ?", (nonce,))
            for end in ends:
                db.execute(
                    "UPDATE readings SET status = 'signed', detail = NULL, updated_at = ? "
                    "WHERE interval_end = ? AND status = 'sent'",
                    (self.now(), end),
                )

    def _requeue(self, nonce: int, ends: list[int], reason: str) -> None:
        self._unsend(nonce, ends)
        logger.warning(
            "the transaction with nonce %d would fail now (%s): its readings go again",
            nonce,
            reason,
        )

    def _replace(
        self, nonce: int, hashes: list[str], ends: list[int], max_fee: int, tip: int
    ) -> bool:
        """Sends the transaction of ``nonce`` at these fees; records it only if the
        node accepts it. True if it did."""
        stored = {r.interval_end: r for r in self.store.readings("sent")}
        call = self.backend.functions.submit_readings([self._args(stored[end]) for end in ends])
        try:
            gas = call.estimate_gas({"from": self.relayer.address})
        except ContractLogicError as exc:
            # The chain moved on meanwhile (someone relayed a copy of a reading):
            # the readings go back to the outbox, to be chosen and signed afresh.
            self._requeue(nonce, ends, str(exc.message))
            return False
        if not self._can_pay(gas, max_fee):
            return False
        raw, tx_hash = self._sign(call, gas, nonce, max_fee, tip)
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            self._refused(exc, gas, max_fee)
            return False
        known = hashes if tx_hash in hashes else [*hashes, tx_hash]
        with self.store.transaction() as db:
            db.execute(
                "UPDATE transactions SET hashes = ?, max_fee = ?, tip = ?, sent_at = ? "
                "WHERE nonce = ?",
                (json.dumps(known), max_fee, tip, self.now(), nonce),
            )
        logger.info("nonce %d sent at %s: %s", nonce, gwei(max_fee), tx_hash)
        return True

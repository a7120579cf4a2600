"""The bridge daemon: serial port → telegrams → store → signed readings → chain.

Two threads. The reader takes bytes from the serial port, decodes telegrams
and stores each before anything else (a completed interval's reading in the
same commit) and files the interval's batch under its CID. The relayer signs
new readings, relays them in order, and pushes batches to IPFS when a node is
configured; a network error is noted and retried on the next round, so a node
that is down for hours only delays delivery.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import requests
import serial
from web3 import Web3
from web3.exceptions import Web3Exception, Web3RPCError

from meter_bridge.bounds import BoundsInForce, Registration, registration_of
from meter_bridge.config import Config, ConfigError, load_meter_keys
from meter_bridge.content import BlobStore, Kubo, KuboError
from meter_bridge.hub_relay import HubRelayer
from meter_bridge.keys import load_key, passphrase
from meter_bridge.plausibility import Plausibility, Point
from meter_bridge.protocols import decoder
from meter_bridge.relay import GWEI, NodeProvider, RelayConfig, Relayer, refusal
from meter_bridge.store import Reading, Store
from openkwh.chain import Deployment, DeploymentError

logger = logging.getLogger(__name__)

NETWORK_ERRORS = (OSError, requests.RequestException, Web3Exception)
PORT_RETRY_MAX = 60  # seconds between attempts to open a missing port, at most
HEARTBEAT_EVERY = 60  # seconds of the system clock between heartbeats in the store


class PortBusy(Exception):
    """The meter's serial port is locked by another process."""


class Bridge:
    def __init__(self, config: Config):
        self.config = config
        self.kubo = Kubo(config.ipfs.api) if config.ipfs.api else None
        keys = load_meter_keys(Path(config.meter.keys_file)) if config.meter.keys_file else None
        self.decoder = decoder(config.meter.protocol, config.meter.sml_crc, keys)
        self.stop = threading.Event()
        self.failed = False  # the reader stopped on an error: the process exits non-zero
        self._skips_saved: Counter[str] = Counter()
        self._protocol_saved: str | None = None
        # The plausibility bounds: set by the relayer's thread (bounds_round),
        # taken by the reader's before each telegram.
        self.bounds = BoundsInForce(config.meter, config.chain.check_every)
        # Reads the meter's registration (None: no bound is "registered", or hub
        # relay mode); run() makes it, see registration_reader().
        self.registration: Callable[[], Registration | None] | None = None
        self._bounds_saved: dict | None = None

    # Opened on first use: a bridge that exits at start (its port taken) touches nothing.
    @cached_property
    def store(self) -> Store:
        return Store(self.config.store.path, self.config.clock.interval_length)

    @cached_property
    def plausibility(self) -> Plausibility:
        """The bounds on the registers, from the last registers stored."""
        last = self.store.last_registers()
        return Plausibility(self.bounds.bounds, Point(*last) if last is not None else None)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.config.store.blobs)

    def now(self) -> int:
        return self.config.clock.now()

    # READING

    def open_port(self) -> serial.Serial:
        """The meter's port, locked: a second bridge on the same port (a manual run
        beside the service) is refused, rather than each silently reading part of
        the byte stream."""
        port = self.config.serial
        try:
            return serial.Serial(
                port.port,
                baudrate=port.baudrate,
                bytesize=port.bytesize,
                parity=port.parity,
                stopbits=port.stopbits,
                timeout=0.5,
                exclusive=True,
            )
        except serial.SerialException as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise PortBusy(
                    f"serial port {port.port} is locked by another process (is a "
                    "meter-bridge already running, e.g. the service?): stop it first"
                ) from exc
            raise

    def ingest(self, data: bytes) -> list[Reading]:
        """Decodes and stores what came from the meter; returns the readings it completed."""
        made = []
        for telegram in self.decoder.feed(data):
            received_at = self.now()
            if not self._plausible(telegram, received_at):
                continue
            reading = self.store.add_telegram(telegram, received_at)
            if telegram.meter_time is not None:
                skew = telegram.meter_time - received_at
                if abs(skew) > self.config.clock.max_skew and reading is not None:
                    # Once per interval: readings keep following this device's clock.
                    self.store.note("clock", f"meter clock off by {skew:+d} s", received_at)
                    logger.warning("meter clock off by %+d s", skew)
            if reading is not None:
                cid = self.blobs.put(self.store.batch(reading.interval_end))
                logger.info(
                    "reading %d: import %d Wh, export %d Wh, batch %s",
                    reading.interval_end,
                    reading.import_wh,
                    reading.export_wh,
                    cid,
                )
                made.append(reading)
        self._file_skips()
        return made

    def _plausible(self, telegram, received_at: int) -> bool:
        """Judges a telegram against the last one stored (see plausibility.py)."""
        exported = telegram.export_wh if telegram.export_wh is not None else 0
        point = Point(received_at, telegram.import_wh, exported)
        self.plausibility.bounds = self.bounds.bounds  # as the relayer's thread last read them
        reason, rebased = self.plausibility.judge(point)
        if reason is not None:
            self.store.count_skipped({reason: 1})
            self.store.keep_evidence(reason, telegram.raw, received_at)
            logger.warning(
                "telegram skipped: %s (import %d Wh, export %d Wh)",
                reason,
                point.import_wh,
                point.export_wh,
            )
            return False
        if rebased:
            message = (
                f"re-based after {self.config.meter.rebase_after} consistent telegrams: "
                f"import {point.import_wh} Wh, export {point.export_wh} Wh"
            )
            self.store.note("rebase", message, received_at)
            logger.warning("registers %s", message)
        return True

    def _file_skips(self) -> None:
        """The decoder's skip counts, refused frames and detected protocol, to the store."""
        fresh = self.decoder.skipped - self._skips_saved
        if fresh:
            self.store.count_skipped(dict(fresh))
            self._skips_saved = Counter(self.decoder.skipped)
        evidence = self.decoder.evidence
        while evidence:
            reason, raw = evidence.popleft()
            self.store.keep_evidence(reason, raw, self.now())
        protocol = self.decoder.protocol
        if protocol is not None and protocol != self._protocol_saved:
            self.store.put_state("protocol", protocol, self.now())
            self._protocol_saved = protocol

    def read_forever(self, port: serial.Serial | None = None) -> None:
        """Reads the serial port until stopped; a port that fails (a cable pulled,
        a USB adapter reset) is closed and opened again, a missing one tried again
        after 1, 2, 4 ... up to PORT_RETRY_MAX seconds."""
        delay = 1
        while not self.stop.is_set():
            try:
                if port is None:
                    port = self.open_port()
                    logger.info("serial port %s open", self.config.serial.port)
                # Whatever has arrived, else wait for one byte: a telegram is
                # stamped when it arrives, not when a buffer fills.
                data = port.read(port.in_waiting or 1)
                delay = 1
            except (serial.SerialException, PortBusy) as exc:
                self.store.note("error", f"serial port: {exc}", self.now())
                logger.error("serial port: %s; trying again in %d s", exc, delay)
                if port is not None:
                    port.close()
                    port = None
                self.stop.wait(delay)
                delay = min(delay * 2, PORT_RETRY_MAX)
                continue
            if data:
                try:
                    self.ingest(data)
                except Exception as exc:
                    # Not a meter's value (the decoder refuses those): a full disk, a
                    # bug. The process exits non-zero so that systemd restarts it,
                    # rather than living on without a reader.
                    self.failed = True
                    self.stop.set()
                    logger.exception("reader stopped")
                    self.store.note(
                        "error", f"reader stopped: {type(exc).__name__}: {exc}", self.now()
                    )
        if port is not None:
            port.close()

    # RELAYING

    def relayer(self) -> Relayer | HubRelayer:
        """The outbox, with its own connection to the store (SQLite's are per thread):
        to the chain, or to the data hub when ``[hub] url`` is set."""
        chain = self.config.chain
        meter_key = load_key(
            Path(self.config.meter.keystore),
            passphrase(
                Path(self.config.meter.passphrase_file)
                if self.config.meter.passphrase_file
                else None
            ),
        )
        if self.config.hub.url:
            return self.hub_relayer(meter_key)
        relayer_key = meter_key
        if chain.relayer_keystore:
            relayer_key = load_key(
                Path(chain.relayer_keystore),
                passphrase(
                    Path(chain.relayer_passphrase_file) if chain.relayer_passphrase_file else None
                ),
            )
        try:
            deployment = Deployment.load(chain.deployments)
            backend_entry = deployment["SmartMeterBackend"]
        except DeploymentError as exc:
            raise ConfigError(f"[chain] deployments: {exc}") from exc
        w3 = Web3(NodeProvider(chain.rpc_url, request_kwargs={"timeout": 30}))
        backend = w3.eth.contract(address=backend_entry.address, abi=backend_entry.abi)
        return Relayer(
            w3,
            backend,
            self.config.meter_id,
            meter_key,
            relayer_key,
            Store(self.config.store.path, self.config.clock.interval_length),
            RelayConfig(
                chain.confirmations,
                chain.bump_after,
                chain.bump_percent,
                chain.max_batch,
                max_fee=int(chain.max_fee_gwei * GWEI),
                check_every=chain.check_every,
            ),
            clock=self.now,
            chain_id=deployment.chain_id,
        )

    def registration_reader(self) -> Callable[[], Registration | None] | None:
        """What reads the meter's registration from the SmartMeterBackend, for the
        bounds that are ``registered``; None in hub relay mode or when every bound
        is a number. Nothing is read here: the node may be down at start."""
        if self.config.hub.url or not self.bounds.wanted:
            return None
        chain = self.config.chain
        try:
            entry = Deployment.load(chain.deployments)["SmartMeterBackend"]
        except DeploymentError as exc:
            raise ConfigError(f"[chain] deployments: {exc}") from exc
        w3 = Web3(NodeProvider(chain.rpc_url, request_kwargs={"timeout": 30}))
        backend = w3.eth.contract(address=entry.address, abi=entry.abi)
        meter_id = self.config.meter_id

        def read() -> Registration | None:
            headroom = backend.functions.CONNECTION_HEADROOM().call()
            return registration_of(backend.functions.meter(meter_id).call(), headroom)

        return read

    def bounds_round(self, store: Store) -> None:
        """Reads the registered bounds when due (at start, then every
        ``check_every`` seconds; each round until a read succeeds) and keeps them
        for `status`. A chain error is logged once and leaves the bounds in force."""
        now = self.now()
        if self.registration is None or not self.bounds.due(now):
            return
        try:
            said = self.bounds.read(self.registration(), now)
        except (*NETWORK_ERRORS, ValueError) as exc:
            detail = refusal(exc) if isinstance(exc, Web3RPCError) else str(exc)
            kind = type(exc).__name__
            said = self.bounds.failed(now, f"{kind}: {detail}", kind)
            if said:
                logger.warning("%s", said)
        else:
            if said:  # the bounds changed, or the meter is not registered yet
                logger.log(logging.WARNING if self.bounds.error else logging.INFO, "%s", said)
        state = self.bounds.state()
        if state != self._bounds_saved:  # a write when something changed, not each round
            store.put_state("bounds", state, now)
            self._bounds_saved = state

    def hub_relayer(self, meter_key) -> HubRelayer:
        """The hub relay mode: measurements signed under the deployment's
        MeasurementRoots domain, posted to ``[hub] url``."""
        try:
            deployment = Deployment.load(self.config.chain.deployments)
            roots = deployment["MeasurementRoots"]
        except DeploymentError as exc:
            raise ConfigError(f"[chain] deployments: {exc}") from exc
        hub = self.config.hub
        return HubRelayer(
            hub.url,
            self.config.meter_id,
            meter_key,
            Store(self.config.store.path, self.config.clock.interval_length),
            deployment.chain_id,
            roots.address,
            self.config.clock.interval_length,
            clock=self.now,
            max_batch=hub.max_batch,
            timeout=hub.timeout,
        )

    def relay_round(self, relayer: Relayer | HubRelayer) -> None:
        try:
            relayer.step()
        except NETWORK_ERRORS as exc:
            # The node's own words, not its JSON-RPC error dict.
            said = refusal(exc) if isinstance(exc, Web3RPCError) else str(exc)
            if relayer.store.note("error", f"{type(exc).__name__}: {said}", self.now()):
                logger.warning("relaying waits: %s", said)  # once, not each round
        if self.kubo is not None:
            self.push_round(relayer.store)

    def push_round(self, store: Store) -> None:
        """Pushes batches to the IPFS node; a node down or answering nonsense is
        noted and tried again next round, never fatal."""
        try:
            self.push_batches(store)
        except (*NETWORK_ERRORS, KuboError) as exc:
            if store.note("error", f"IPFS node: {exc}", self.now()):
                logger.warning("pushing batches waits: IPFS node: %s", exc)  # once

    def push_batches(self, store: Store) -> None:
        """Puts on the IPFS node the batches not there yet, oldest first."""
        for interval_end in store.unpushed():
            self.kubo.block_put(store.batch(interval_end))
            store.mark_pushed(interval_end)

    def heartbeat(self) -> dict:
        """What `status` needs to tell whether this daemon still runs."""
        return {
            "pid": os.getpid(),
            "every": max(HEARTBEAT_EVERY, self.config.chain.poll_seconds),
        }

    def run(self) -> None:
        """Runs until stopped. Raises PortBusy, before touching anything, when
        another process holds the port."""
        try:
            port = self.open_port()
            logger.info("serial port %s open", self.config.serial.port)
        except serial.SerialException as exc:
            port = None  # absent for now (a USB adapter not plugged in): the reader retries
            logger.error("serial port: %s", exc)
        try:
            relayer = self.relayer()
            self.registration = self.registration_reader()
            relayer.store.put_state("bounds", self.bounds.state(), self.now())
        except BaseException:
            if port is not None:
                port.close()
            raise
        reader = threading.Thread(
            target=self.read_forever, args=(port,), name="reader", daemon=True
        )
        reader.start()
        logger.info("bridge running: %s on %s", self.config.meter.protocol, self.config.serial.port)
        beaten = 0.0
        try:
            while not self.stop.is_set():
                self.bounds_round(relayer.store)
                self.relay_round(relayer)
                if time.time() - beaten >= HEARTBEAT_EVERY:  # a write a minute, not a round
                    beaten = time.time()
                    relayer.store.put_state("heartbeat", self.heartbeat(), int(beaten))
                self.stop.wait(self.config.chain.poll_seconds)
        finally:
            self.stop.set()
            reader.join(timeout=5)
            relayer.store.close()

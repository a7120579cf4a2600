"""The hub relay mode: the bridge posts its meter-signed measurements to a data
hub (issue 18) instead of sending transactions.

A root-published meter's readings do not go on chain one by one: the sector's
data hub gathers every meter's interval and publishes one Merkle root. In this
mode (``[hub] url`` set) the outbox turns each pair of consecutive stored
readings one interval apart into a ``Measurement`` (produced and consumed Wh
over the interval, the registers at its end, the batch digest), signs it with
the meter key under the MeasurementRoots EIP-712 domain (chain id and address
from the deployments file), and posts batches of them as JSON to
``<url>/api/v1/readings``. The hub answers which it refused and why:

- accepted, or refused as ``overlapping interval`` (the hub has it already,
  from an earlier post whose answer was lost): ``delivered``;
- any other refusal (bad signature: the meter key is not the one the hub
  knows; absurd Wh; an interval longer than one, after a silent meter): the
  reading is ``rejected`` with the hub's reason, shown by `status`, and the
  rest flow on.

A hub that cannot be reached, or answers anything but its JSON, raises an
OSError the daemon logs and retries next round: the readings wait in the
store. The first stored reading is a baseline (no interval ends at it) and is
marked delivered at once. The readings stay in the store: if the hub refuses to
serve a proof later (``openkwh prosumer fetch-proof`` says so), the owner
falls back on them. ``meter-bridge export-leaves`` (``export_leaves`` here)
signs the same measurements again with the meter key (the same signature: it
is deterministic) and writes them as an OpenZeppelin tree dump of meter-signed
leaves, each with a fresh salt; ``openkwh data-hub publish-root`` publishes its
root as anyone's (MeasurementRoots' ``publish_root``), ``data-hub make-proof``
writes a leaf's proof and ``prosumer reveal`` reveals it with ``reveal_signed``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from eth_account.signers.local import LocalAccount

from meter_bridge.signing import Measurement, ReadingError, sign_measurement
from meter_bridge.store import Reading as StoredReading
from meter_bridge.store import Store

logger = logging.getLogger(__name__)

MAX_ANSWER = 4 * 1_024 * 1_024  # bytes of the hub's answer read at most
ALREADY_THERE = "overlapping interval"


NOT_SENT = ("set aside", "unregistered")  # readings never turned into measurements


def measurement_between(
    meter_id: bytes, previous: StoredReading, reading: StoredReading
) -> Measurement:
    """The meter's measurement from ``previous`` to ``reading`` (consecutive stored
    readings); ReadingError if the registers went back."""
    consumed = reading.import_wh - previous.import_wh
    produced = reading.export_wh - previous.export_wh
    if consumed < 0 or produced < 0:
        raise ReadingError(
            f"registers went back between {previous.interval_end} and {reading.interval_end}"
        )
    return Measurement(
        meter_id, previous.interval_end, reading.interval_end, produced, consumed,
        reading.import_wh, reading.export_wh, reading.digest,
    )  # fmt: skip


def _utc(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix))


class ExportError(ValueError):
    """Nothing to export, or not as asked: says what the store holds."""


def export_leaves(
    store: Store,
    meter_id: bytes,
    signer: LocalAccount,
    chain_id: int,
    roots_address: str,
    begin: int,
    end: int,
    salt: Callable[[], bytes] = lambda: os.urandom(32),
) -> list[tuple]:
    """The meter-signed leaves (``SIGNED_LEAF_TYPES`` order) of the stored
    measurements that lie in ``[begin, end)`` (unix seconds), signed as the hub
    relay signs them. Each gets a fresh ``salt()``: the signature covers the
    values, not the salt, so the hub's leaf and this one differ only in it."""
    readings = [r for r in store.readings() if r.status not in NOT_SENT]
    if len(readings) < 2:
        raise ExportError(
            f"the store holds {len(readings)} reading(s): a measurement needs two, "
            "one interval apart; has the bridge run?"
        )
    leaves = []
    for previous, reading in itertools.pairwise(readings):
        if previous.interval_end < begin or reading.interval_end > end:
            continue
        try:
            measurement = measurement_between(meter_id, previous, reading)
        except ReadingError:
            continue  # set aside by the relay too: never signed
        v, r, s = sign_measurement(signer, measurement, chain_id, roots_address)
        leaves.append((
            meter_id, measurement.interval_begin, measurement.interval_end,
            measurement.produced_wh, measurement.consumed_wh, measurement.import_wh,
            measurement.export_wh, measurement.data_digest, salt(), v,
            r.to_bytes(32, "big"), s.to_bytes(32, "big"),
        ))  # fmt: skip
    if not leaves:
        raise ExportError(
            f"no measurement of the store lies between {_utc(begin)} and {_utc(end)}: its "
            f"readings end from {_utc(readings[0].interval_end)} to "
            f"{_utc(readings[-1].interval_end)}"
        )
    return leaves


class HubAnswerError(OSError):
    """The hub answered, but not its JSON: retried like a hub down."""


class HubRelayer:
    def __init__(
        self,
        url: str,
        meter_id: bytes,
        signer: LocalAccount,
        store: Store,
        chain_id: int,
        roots_address: str,
        interval_length: int,
        clock: Callable[[], int],
        max_batch: int = 24,
        timeout: float = 30,
    ):
        self.url = url.rstrip("/") + "/api/v1/readings"
        self.meter_id = meter_id
        self.signer = signer
        self.store = store
        self.chain_id = chain_id
        self.roots_address = roots_address
        self.interval_length = interval_length
        self.clock = clock
        self.max_batch = max_batch
        self.timeout = timeout

    def now(self) -> int:
        return int(self.clock())

    def measurement(self, previous: StoredReading, reading: StoredReading) -> Measurement:
        """The interval from ``previous`` to ``reading``; ReadingError if the registers went back."""
        return measurement_between(self.meter_id, previous, reading)

    def pending(self) -> list[tuple[StoredReading, dict]]:
        """The readings to post, each with its signed measurement as the hub takes it."""
        out, previous = [], None
        for reading in self.store.readings():
            if reading.status in NOT_SENT:
                continue
            if reading.status == "new":
                if previous is None:
                    self.store.set_status(reading.interval_end, "delivered", self.now(),
                                          "baseline: no interval ends at it")  # fmt: skip
                else:
                    try:
                        out.append((reading, self._signed(self.measurement(previous, reading))))
                    except ReadingError as exc:
                        self.store.set_status(
                            reading.interval_end, "set aside", self.now(), str(exc)
                        )
                        self.store.note("set aside", f"reading {reading.interval_end}: {exc}",
                                        self.now())  # fmt: skip
                        continue
            previous = reading
            if len(out) == self.max_batch:
                break
        return out

    def _signed(self, measurement: Measurement) -> dict:
        v, r, s = sign_measurement(self.signer, measurement, self.chain_id, self.roots_address)
        return {
            "meter_id": "0x" + measurement.meter_id.hex(),
            "interval_begin": measurement.interval_begin,
            "interval_end": measurement.interval_end,
            "produced_wh": measurement.produced_wh,
            "consumed_wh": measurement.consumed_wh,
            "import_wh": measurement.import_wh,
            "export_wh": measurement.export_wh,
            "data_digest": "0x" + measurement.data_digest.hex(),
            "v": v,
            "r": "0x" + r.to_bytes(32, "big").hex(),
            "s": "0x" + s.to_bytes(32, "big").hex(),
        }

    def post(self, readings: list[dict]) -> dict:
        request = urllib.request.Request(
            self.url, data=json.dumps(readings).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = response.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            raise HubAnswerError(f"the hub at {self.url} answered HTTP {exc.code}") from exc
        try:
            body = json.loads(answer)
            accepted, refused = int(body["accepted"]), list(body["refused"])
        except (ValueError, TypeError, KeyError) as exc:
            raise HubAnswerError(
                f"the hub at {self.url} answered {answer[:80]!r}, not its JSON"
            ) from exc
        return {"accepted": accepted, "refused": refused}

    def step(self) -> int:
        """Posts the next batch; returns how many readings it posted."""
        batch = self.pending()
        if not batch:
            return 0
        answer = self.post([signed for _, signed in batch])
        reasons = {item.get("at"): str(item.get("reason")) for item in answer["refused"]}
        now = self.now()
        for index, (reading, _) in enumerate(batch):
            reason = reasons.get(index)
            if reason is None or reason.startswith(ALREADY_THERE):
                self.store.set_status(reading.interval_end, "delivered", now, "to the hub")
            else:
                self.store.set_status(reading.interval_end, "rejected", now, reason)
                self.store.note(
                    "rejected", f"reading {reading.interval_end}: the hub: {reason}", now
                )
                logger.error("reading %d refused by the hub: %s", reading.interval_end, reason)
        return len(batch)

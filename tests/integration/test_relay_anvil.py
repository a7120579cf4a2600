"""The bridge's outbox against a real anvil node: outages, duplicates, stuck
transactions and rejected readings."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from eth_account import Account
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import TransactionNotFound

from meter_bridge.config import parse
from meter_bridge.daemon import Bridge
from meter_bridge.protocols import Telegram
from meter_bridge.relay import GWEI, NodeProvider, RelayConfig, Relayer, gwei
from meter_bridge.store import Store
from openkwh.bench.bridge import register_meter
from openkwh.chain import send_ether, transact
from openkwh.commands import actions
from tests.bridge_chain import Forwarder, chain_time_to

pytestmark = pytest.mark.anvil

HOUR = 3_600


@pytest.fixture
def meter(anvil_connection, anvil_accounts, tmp_path):
    return register_meter(anvil_connection, anvil_accounts, tmp_path / "deploy")


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "bridge.sqlite", HOUR)
    yield opened
    opened.close()


class Clock:
    """The device's clock, moved by the test."""

    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


def first_hour(w3) -> int:
    now = w3.eth.get_block("latest")["timestamp"]
    return now - now % HOUR + HOUR


def two_hours_reported(w3, store) -> tuple[int, Clock]:
    """The meter's telegrams of two hours from the next full hour, the chain's
    time and the bridge's clock at their end: (their start, the clock)."""
    start = first_hour(w3)
    meter_reports(store, start, 2)
    chain_time_to(w3, start + 2 * HOUR)
    return start, Clock(start + 2 * HOUR)


def meter_reports(store, start: int, hours: int, imported: int = 1_000_000, step: int = 700):
    """Telegrams every 15 minutes from ``start`` for ``hours`` hours, and one at
    the end; returns the import register that comes next."""
    for quarter in range(hours * 4 + 1):
        at = start + quarter * 900
        store.add_telegram(Telegram(f"/t {at}!\r\n".encode(), imported, 0), at)
        imported += step // 4
    return imported


def relayer_for(
    meter, anvil_accounts, store, url, clock, relayer=None, signer=None, meter_id=None, **config
):
    w3 = Web3(NodeProvider(url))  # as the daemon talks to its node
    backend = w3.eth.contract(address=meter.backend.address, abi=meter.backend.abi)
    return Relayer(
        w3,
        backend,
        meter_id or meter.meter_id,
        signer or meter.key,
        relayer or anvil_accounts[7],
        store,
        RelayConfig(**config),
        clock=clock,
    )


def drain(relayer, rounds: int = 20) -> None:
    for _ in range(rounds):
        relayer.step()
        if not relayer.store.readings("new", "signed", "sent"):
            return
    raise AssertionError(f"outbox not empty: {relayer.store.summary()}")


def recorded(meter, meter_id: bytes | None = None) -> list[int]:
    """Interval ends on chain of one meter: the baseline, then each measurement's end."""
    events = meter.backend.events
    wanted = {"meter_id": meter_id or meter.meter_id}
    baseline = events.BaselineRecorded().get_logs(from_block=0, argument_filters=wanted)
    measured = events.MeasurementRecorded().get_logs(from_block=0, argument_filters=wanted)
    return [e["args"]["interval_end"] for e in baseline + measured]


def installer(meter, anvil_connection, anvil_accounts) -> actions.Actor:
    """The installer register_meter certified."""
    return actions.Actor(anvil_connection.w3, anvil_accounts[5], meter.deployments)


def test_node_down_for_six_hours_then_every_interval_once_in_order(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    forwarder = Forwarder(anvil.port)
    clock = Clock(start)
    relayer = relayer_for(meter, anvil_accounts, store, forwarder.url, clock, max_batch=4)
    try:
        imported = meter_reports(store, start, 1)
        chain_time_to(w3, start + HOUR)
        drain(relayer)
        forwarder.cut()
        # Six hours with the node unreachable.
        meter_reports(store, start + HOUR + 900, 6, imported)
        for hour in range(6):
            clock.now = start + (hour + 2) * HOUR
            with pytest.raises(requests.exceptions.ConnectionError):
                relayer.step()
        forwarder.restore()
        chain_time_to(w3, start + 8 * HOUR)
        drain(relayer)
    finally:
        forwarder.close()
    ends = [start + h * HOUR for h in range(8)]
    assert recorded(meter) == ends  # each once, in order
    assert [r.status for r in store.readings()] == ["delivered"] * 8


def test_a_reading_already_on_chain_counts_as_delivered(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 3)
    chain_time_to(w3, start + 3 * HOUR)
    clock = Clock(start + 3 * HOUR)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock)
    relayer.sign_new()
    # Someone else relays the first two of the same signed readings first.
    other = relayer_for(meter, anvil_accounts[1:], store, anvil.url, clock)
    copies = [other._args(r) for r in store.readings("signed")[:2]]
    transact(w3, anvil_accounts[2], meter.backend.functions.submit_readings(copies))
    drain(relayer)
    assert recorded(meter) == [start + h * HOUR for h in range(4)]
    details = [r.detail for r in store.readings()]
    assert details[:2] == ["already recorded on chain"] * 2


def test_a_rejected_reading_is_reported_and_the_rest_flow(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 1, imported=1_000_000)
    # A garbled register (DSMR 2.2 has no CRC) that goes backwards, then normal ones.
    store.add_telegram(Telegram(b"/garbled!\r\n", 10, 0), start + 2 * HOUR)
    meter_reports(store, start + 3 * HOUR, 1, imported=1_002_000)
    chain_time_to(w3, start + 4 * HOUR)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, Clock(start + 4 * HOUR))
    drain(relayer)
    statuses = {r.interval_end: (r.status, r.detail) for r in store.readings()}
    assert statuses[start + 2 * HOUR] == ("rejected", "meter: import register decreased")
    assert recorded(meter) == [start, start + HOUR, start + 3 * HOUR, start + 4 * HOUR]
    # The reading after the rejected one was signed to begin at it, then signed
    # again from where the chain's readings end: one measurement spans the gap.
    begins = {r.interval_end: r.signed_begin for r in store.readings()}
    assert begins[start + 3 * HOUR] == start + HOUR
    assert meter.backend.functions.measurement(meter.meter_id, start + HOUR).call()[0] == (
        start + 3 * HOUR
    )
    summary = store.summary()
    assert summary["rejected"] == 1
    assert "import register decreased" in summary["last_event"][2]


def test_mining_stopped_bumps_the_fee_and_one_transaction_per_nonce_is_mined(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start, clock = two_hours_reported(w3, store)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock, bump_after=60)
    nonce_before = w3.eth.get_transaction_count(anvil_accounts[7].address)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        relayer.step()  # sent, not mined
        relayer.step()  # still waiting, within the minute
        assert len(store.readings("sent")) == 3
        clock.now += 61
        relayer.step()  # raised fees, same nonce
        nonce, hashes = store.db.execute("SELECT nonce, hashes FROM transactions").fetchone()
        hashes = json.loads(hashes)
        assert len(hashes) == 2
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    drain(relayer)
    mined = []
    for tx_hash in hashes:
        with contextlib.suppress(TransactionNotFound):  # the one replaced has none
            mined.append(w3.eth.get_transaction_receipt(tx_hash))
    assert len(mined) == 1
    assert nonce == nonce_before
    assert w3.eth.get_transaction_count(anvil_accounts[7].address) == nonce_before + 1
    assert recorded(meter) == [start, start + HOUR, start + 2 * HOUR]


def offered_fees(w3, store) -> list[int]:
    """Every fee per gas the store offered, and what each mined transaction paid."""
    offered, paid = [], []
    for max_fee, hashes in store.db.execute("SELECT max_fee, hashes FROM transactions"):
        offered.append(max_fee)
        for tx_hash in json.loads(hashes):
            with contextlib.suppress(TransactionNotFound):
                paid.append(w3.eth.get_transaction_receipt(tx_hash)["effectiveGasPrice"])
    return offered + paid


def test_an_unfunded_relayer_waits_then_delivers_once_funded_under_the_fee_cap(
    anvil, anvil_connection, meter, anvil_accounts, store, caplog
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 3)
    chain_time_to(w3, start + 3 * HOUR)
    clock = Clock(start + 3 * HOUR)
    poor = Account.from_key(keccak(text="openkwh-test-unfunded-relayer"))
    cap = 5 * GWEI
    relayer = relayer_for(
        meter, anvil_accounts, store, anvil.url, clock, relayer=poor, max_fee=cap, bump_after=60
    )
    for _ in range(6):  # six rounds, each past the time a fee bump would be due
        relayer.step()
        clock.now += 61
    # Nothing was recorded as sent, and no fee was raised.
    assert store.db.execute("SELECT COUNT(*) FROM transactions").fetchone() == (0,)
    assert {r.status for r in store.readings()} == {"signed"}
    _, kind, message = store.summary()["last_event"]
    assert kind == "funds"
    assert message.startswith(f"out of gas money: the relayer {poor.address} holds 0.000000 ETH")
    assert "{" not in message  # a sentence, not an RPC error dict
    said = [r.getMessage() for r in caplog.records if "out of gas money" in r.getMessage()]
    assert len(said) == 1  # one line, not one a round
    send_ether(w3, anvil_accounts[0], poor.address, 10**17)
    drain(relayer)
    assert recorded(meter) == [start + h * HOUR for h in range(4)]  # each once, in order
    assert {r.status for r in store.readings()} == {"delivered"}  # none rejected
    fees = offered_fees(w3, store)
    assert fees
    assert max(fees) <= cap


def test_fee_bumps_stop_at_the_cap_and_the_wait_is_logged(
    anvil, anvil_connection, meter, anvil_accounts, store, caplog
):
    w3 = anvil_connection.w3
    start, clock = two_hours_reported(w3, store)
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    cap = 3 * base_fee + 2 * GWEI  # room for a bump or two, not for eight
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock, max_fee=cap)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        relayer.step()
        for _ in range(8):
            clock.now += 61
            relayer.step()
        (hashes,) = store.db.execute("SELECT hashes FROM transactions").fetchone()
        assert 1 < len(json.loads(hashes)) < 9
        assert "at the cap" in store.summary()["last_event"][2]
        assert any("at the cap" in r.getMessage() for r in caplog.records)
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    drain(relayer)
    assert recorded(meter) == [start, start + HOUR, start + 2 * HOUR]
    fees = offered_fees(w3, store)
    assert max(fees) <= cap


def test_a_send_the_node_refuses_records_nothing_and_a_base_fee_above_the_cap_waits(
    anvil, anvil_connection, meter, anvil_accounts, store, caplog
):
    w3 = anvil_connection.w3
    start, clock = two_hours_reported(w3, store)
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    cap = 4 * base_fee + GWEI
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock, max_fee=cap)
    # The next block's base fee jumps above the cap, which the relayer cannot see
    # yet: the node refuses every offer, which must leave nothing behind.
    w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(2 * cap)])
    for _ in range(4):  # each round past the time a fee bump would be due
        relayer.step()
        clock.now += 61
    assert store.db.execute("SELECT COUNT(*) FROM transactions").fetchone() == (0,)
    assert {r.status for r in store.readings()} == {"signed"}
    _, kind, message = store.summary()["last_event"]
    assert kind == "refused"
    assert message.startswith("the node refused the transaction: ")
    # Now the chain's base fee is above the cap: readings wait, and say why.
    w3.provider.make_request("evm_mine", [])
    relayer.step()
    _, kind, message = store.summary()["last_event"]
    assert (kind, message) == (
        "waiting",
        f"the base fee is {gwei(2 * cap)}, at or above the cap of {gwei(cap)} "
        "(max_fee_gwei): readings wait for cheaper blocks",
    )
    assert any(r.getMessage() == message for r in caplog.records)
    assert store.db.execute("SELECT COUNT(*) FROM transactions").fetchone() == (0,)
    # The base fee falls back: the readings go by themselves, under the cap.
    w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
    w3.provider.make_request("evm_mine", [])
    drain(relayer)
    assert recorded(meter) == [start, start + HOUR, start + 2 * HOUR]  # each once, in order
    assert {r.status for r in store.readings()} == {"delivered"}
    assert max(offered_fees(w3, store)) <= cap


def test_a_transaction_the_node_lost_is_sent_again_at_the_same_fee(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start, clock = two_hours_reported(w3, store)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        relayer.step()
        ((max_fee, hashes),) = store.db.execute("SELECT max_fee, hashes FROM transactions")
        # The node forgets it (a restart of its mempool).
        w3.provider.make_request("anvil_dropTransaction", [json.loads(hashes)[0]])
        clock.now += 61
        relayer.step()
        ((again, _),) = store.db.execute("SELECT max_fee, hashes FROM transactions")
        assert again == max_fee
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    drain(relayer)
    assert recorded(meter) == [start, start + HOUR, start + 2 * HOUR]


def test_a_lost_transaction_the_chain_has_moved_past_is_chosen_afresh(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    """From the review: the node lost the relayer's batch while someone relayed a
    copy of its first reading; sending the same batch again failed every round."""
    w3 = anvil_connection.w3
    start, clock = two_hours_reported(w3, store)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        relayer.step()
        ((hashes,),) = store.db.execute("SELECT hashes FROM transactions")
        w3.provider.make_request("anvil_dropTransaction", [json.loads(hashes)[0]])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    first = relayer._args(store.readings("sent")[0])
    transact(w3, anvil_accounts[2], meter.backend.functions.submit_reading(*first))
    clock.now += 61
    drain(relayer)
    assert recorded(meter) == [start, start + HOUR, start + 2 * HOUR]
    assert {r.status for r in store.readings()} == {"delivered"}


def test_readings_before_registration_are_kept_and_the_first_after_it_is_the_baseline(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    late_id = keccak(text="late-meter")
    late_key = Account.from_key(keccak(text="openkwh-test-late-meter"))
    start = first_hour(w3)
    imported = meter_reports(store, start, 2)
    chain_time_to(w3, start + 2 * HOUR)
    clock = Clock(start + 2 * HOUR)
    relayer = relayer_for(
        meter, anvil_accounts, store, anvil.url, clock, signer=late_key, meter_id=late_id
    )
    for _ in range(3):
        relayer.step()
        clock.now += 60
    assert [r.status for r in store.readings()] == ["unregistered"] * 3
    assert store.db.execute("SELECT COUNT(*) FROM transactions").fetchone() == (0,)
    (checks, _) = store.state("checks")
    assert list(checks["problems"]) == ["registered"]
    assert checks["problems"]["registered"].startswith(f"meter 0x{late_id.hex()} is not registered")
    assert store.summary()["unregistered"] == 3
    actions.register_meter(
        installer(meter, anvil_connection, anvil_accounts),
        late_id,
        late_key.address,
        anvil_accounts[6].address,
        "DK1",
        "consumption",
    )
    actions.accept_meter(actions.Actor(w3, anvil_accounts[6], meter.deployments), late_id)
    meter_reports(store, start + 2 * HOUR + 900, 2, imported)
    chain_time_to(w3, start + 4 * HOUR)
    clock.now = start + 4 * HOUR
    drain(relayer)
    assert recorded(meter, late_id) == [start + 3 * HOUR, start + 4 * HOUR]  # baseline, then one
    assert [r.status for r in store.readings()] == ["unregistered"] * 3 + ["delivered"] * 2
    assert store.state("checks")[0]["problems"] == {}


def test_a_rotated_signer_makes_readings_wait_then_they_go_signed_by_the_new_key(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    imported = meter_reports(store, start, 1)
    chain_time_to(w3, start + 3 * HOUR)
    clock = Clock(start + 3 * HOUR)
    drain(relayer_for(meter, anvil_accounts, store, anvil.url, clock))
    meter_reports(store, start + HOUR + 900, 2, imported)
    old = relayer_for(meter, anvil_accounts, store, anvil.url, clock)
    old.sign_new()  # signed by the old key, not sent yet
    # The device gets a new key, and the bridge restarts with it before the
    # installer has rotated the meter's signer to it.
    new_key = Account.from_key(keccak(text="openkwh-test-rotated-key"))
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock, signer=new_key)
    for _ in range(3):
        relayer.step()
        clock.now += 60
    problems = store.state("checks")[0]["problems"]
    assert list(problems) == ["signer"]
    assert problems["signer"].startswith(f"this device's key {new_key.address} is not the meter")
    assert recorded(meter) == [start, start + HOUR]
    assert store.summary()["rejected"] == 0
    owner = actions.Actor(w3, anvil_accounts[6], meter.deployments)
    actions.approve_signer(owner, meter.meter_id, new_key.address)
    actions.rotate_signer(
        installer(meter, anvil_connection, anvil_accounts), meter.meter_id, new_key.address
    )
    drain(relayer)
    assert recorded(meter) == [start + h * HOUR for h in range(4)]  # each once, in order
    assert {r.status for r in store.readings()} == {"delivered"}
    resigned = store.readings()[2:]
    assert {relayer._signed_by(r) for r in resigned} == {new_key.address}


def test_the_checks_run_again_every_check_every_and_a_failure_is_logged_once(
    anvil, anvil_connection, meter, anvil_accounts, store, caplog
):
    """The meter's signer is rotated away from this device while the bridge runs:
    the next check, check_every seconds after the last, finds it; one error line
    however many rounds it lasts; rotated back, readings go on."""
    w3 = anvil_connection.w3
    start = first_hour(w3)
    imported = meter_reports(store, start, 1)
    chain_time_to(w3, start + 4 * HOUR)
    clock = Clock(start + HOUR)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock, check_every=600)
    drain(relayer)
    owner = actions.Actor(w3, anvil_accounts[6], meter.deployments)
    fitter = installer(meter, anvil_connection, anvil_accounts)
    elsewhere = Account.from_key(keccak(text="openkwh-test-another-device")).address
    actions.approve_signer(owner, meter.meter_id, elsewhere)
    actions.rotate_signer(fitter, meter.meter_id, elsewhere)
    clock.now += 599
    relayer.step()
    assert store.state("checks")[0]["problems"] == {}  # not due yet
    caplog.clear()
    for _ in range(5):
        clock.now += 1
        relayer.step()
    problems = store.state("checks")[0]["problems"]
    assert list(problems) == ["signer"]
    assert problems["signer"].startswith(
        f"this device's key {meter.key.address} is not the meter's signer (the chain names "
        f"{elsewhere})"
    )
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [problems["signer"]]  # one line, not one a round
    meter_reports(store, start + HOUR + 900, 2, imported)
    actions.approve_signer(owner, meter.meter_id, meter.key.address)
    actions.rotate_signer(fitter, meter.meter_id, meter.key.address)
    clock.now = start + 4 * HOUR
    drain(relayer)
    assert store.state("checks")[0]["problems"] == {}
    assert recorded(meter) == [start + h * HOUR for h in range(4)]  # each once, in order
    assert {r.status for r in store.readings()} == {"delivered"}


def test_after_a_new_device_its_newest_reading_is_the_baseline_and_older_ones_wait_aside(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    """From the review: the meter was swapped while the bridge (and its key) stayed
    and was behind; the old meter's queued reading became the new baseline, and
    every reading of the new meter, with lower registers, was rejected for good."""
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 1)
    chain_time_to(w3, start + 5 * HOUR)
    clock = Clock(start + 5 * HOUR)
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock)
    drain(relayer)
    # Behind: an hour of the old meter, then the new one's (registers from 0).
    meter_reports(store, start + HOUR + 900, 1, imported=2_000_000)
    meter_reports(store, start + 3 * HOUR, 2, imported=10)
    owner = actions.Actor(w3, anvil_accounts[6], meter.deployments)
    actions.approve_signer(owner, meter.meter_id, meter.key.address)
    actions.rotate_signer(
        installer(meter, anvil_connection, anvil_accounts), meter.meter_id, meter.key.address, True
    )
    drain(relayer)
    statuses = {r.interval_end: r.status for r in store.readings()}
    assert statuses[start + 5 * HOUR] == "delivered"
    assert "rejected" not in statuses.values()
    assert meter.backend.functions.baseline(meter.meter_id).call()[0] == start + 5 * HOUR
    assert meter.backend.functions.last_reading(meter.meter_id).call()[0] == start + 5 * HOUR


def test_a_node_on_another_chain_is_reported_and_nothing_is_sent(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 1)
    chain_time_to(w3, start + HOUR)
    url = anvil.url
    backend = Web3(Web3.HTTPProvider(url)).eth.contract(
        address=meter.backend.address, abi=meter.backend.abi
    )
    # The deployments file says mainnet; the node is anvil's chain 31337.
    relayer = Relayer(
        backend.w3,
        backend,
        meter.meter_id,
        meter.key,
        anvil_accounts[7],
        store,
        clock=Clock(start + HOUR),
        chain_id=1,
    )
    for _ in range(3):
        relayer.step()
    problems = store.state("checks")[0]["problems"]
    assert list(problems) == ["chain"]
    assert problems["chain"].startswith("the node is on chain 31337, the deployment on chain 1")
    assert {r.status for r in store.readings()} == {"new"}  # waiting, not signed for chain 1
    assert recorded(meter) == []


class WebPage(ThreadingHTTPServer):
    """A web server on loopback where the node should be (rpc_url names the wrong
    port): it answers every request with a page, not JSON-RPC."""

    PAGE = b"<html><body>Router login</body></html>"

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _PageHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PageHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(WebPage.PAGE)))
        self.end_headers()
        self.wfile.write(WebPage.PAGE)

    def log_message(self, *args):
        pass


def test_a_web_page_where_the_node_should_be_is_a_logged_wait_then_readings_go(
    anvil, anvil_connection, meter, anvil_accounts, store, tmp_path, caplog
):
    """The daemon's round with rpc_url naming a web server: said plainly and
    retried, never an exit; with rpc_url put right, every reading goes once, in order."""
    w3 = anvil_connection.w3
    start, clock = two_hours_reported(w3, store)
    bridge = Bridge(
        parse(
            {
                "meter": {"id": "0x" + meter.meter_id.hex()},
                "store": {"path": str(tmp_path / "bridge.sqlite")},
            }
        )
    )
    page = WebPage()
    try:
        wrong = relayer_for(meter, anvil_accounts, store, page.url, clock)
        for _ in range(3):
            bridge.relay_round(wrong)  # no exception escapes
            clock.now += 5
    finally:
        page.shutdown()
    _, kind, message = store.summary()["last_event"]
    assert kind == "error"
    assert message == (
        f"NodeAnswerError: the node at {page.url} answered "
        f"{WebPage.PAGE!r}, not JSON-RPC: check rpc_url"
    )
    said = [r.getMessage() for r in caplog.records if r.name == "meter_bridge.daemon"]
    assert said == [f"relaying waits: {message.removeprefix('NodeAnswerError: ')}"]  # once
    assert {r.status for r in store.readings()} == {"new"}
    drain(relayer_for(meter, anvil_accounts, store, anvil.url, clock))
    assert recorded(meter) == [start, start + HOUR, start + 2 * HOUR]  # each once, in order


def test_less_than_a_day_of_gas_is_a_warning_and_readings_still_go(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 1)
    chain_time_to(w3, start + HOUR)
    clock = Clock(start + HOUR)
    thin = Account.from_key(keccak(text="openkwh-test-thin-relayer"))
    relayer = relayer_for(meter, anvil_accounts, store, anvil.url, clock, relayer=thin)
    relayer.check()
    funds = store.state("relayer")[0]
    send_ether(
        w3, anvil_accounts[0], thin.address, (funds["next_transaction"] + funds["per_day"]) // 2
    )
    drain(relayer)
    assert recorded(meter) == [start, start + HOUR]
    checks = store.state("checks")[0]
    assert checks["problems"] == {}
    assert checks["warnings"]["funds"].startswith(f"the relayer {thin.address} holds")
    assert "less than a day of readings" in checks["warnings"]["funds"]
    assert store.state("relayer")[0]["days_left"] < 1


def test_a_deployments_file_naming_no_contract_makes_readings_wait_unmarked(
    anvil, anvil_connection, meter, anvil_accounts, store
):
    w3 = anvil_connection.w3
    start = first_hour(w3)
    meter_reports(store, start, 1)
    chain_time_to(w3, start + HOUR)
    nowhere = Web3(Web3.HTTPProvider(anvil.url)).eth.contract(
        address=Account.from_key(keccak(text="no contract here")).address,
        abi=meter.backend.abi,
    )
    relayer = Relayer(
        nowhere.w3, nowhere, meter.meter_id, meter.key, anvil_accounts[7], store, clock=Clock(start)
    )
    for _ in range(3):
        relayer.step()
    problems = store.state("checks")[0]["problems"]
    assert list(problems) == ["chain"]
    assert problems["chain"].startswith(f"no contract at {nowhere.address} on chain 31337")
    # Not marked as taken before registration: they go once the file is right.
    assert {r.status for r in store.readings()} == {"new"}
    drain(relayer_for(meter, anvil_accounts, store, anvil.url, Clock(start + HOUR)))
    assert recorded(meter) == [start, start + HOUR]

"""Nothing on chain can stop the index or break a page: every uint256 a log carries
is held exactly, summed without overflow, and a log the index cannot hold is
skipped and counted, never a reason to stop.

Two sources, on a real anvil node: the real contracts at the largest values they
accept (a bid of 2**64 - 1 Wh, two bids of 2**62 Wh for one hour, a meter of
10 GW, a deal of its 10**10 Wh in an hour), and tests/contracts/EventMirror.vy, which
emits the same event signatures with 2**63, 2**255 and 2**256 - 1 in every
field, read by an indexer whose deployments file names it as each contract.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from eth_utils import event_abi_to_log_topic, keccak
from vyper import compile_code
from web3 import Web3
from web3.logs import DISCARD

from openkwh.chain import transact
from openkwh.commands import actions
from openkwh.dapp import create_app
from openkwh.dapp.indexer import Indexer, connect
from openkwh.devtools.anvil import dev_accounts
from tests.dapp.conftest import ETHER, HOUR

pytestmark = pytest.mark.anvil

MIRROR = Path(__file__).resolve().parents[1] / "contracts" / "EventMirror.vy"
MIRRORED = ("SmartMeterBackend", "OperatorBackend", "GGORegistry", "Exchange", "EmissionsRegistry")
BIG = (2**63, 2**255, 2**256 - 1)
# Fields the index keeps as INTEGER (times, ids, counters, the meter kind): the real
# contracts keep them far below 2**63, so a log with a bigger one is skipped.
SMALL = {"kind", "interval_end", "interval_begin", "index", "effective_from"}
SMALL |= {"order_id", "version", "deal_id"}
NO_ORDER = 10**9  # amended, cancelled and taken by the mirror's events: not in its book


def pages_and_routes(account: str, meter: str, begin: int) -> list[str]:
    return [
        "/",
        "/meters",
        "/market",
        "/certificates",
        "/operator",
        "/emissions",
        "/api/v1/status",
        "/api/v1/site",
        "/api/v1/openapi.json",
        "/api/v1/tariffs",
        "/api/v1/orderbook",
        f"/api/v1/orderbook?begin={begin}",
        *(
            f"/api/v1/accounts/{account}/dashboard?period={period}"
            for period in ("hour", "day", "week", "month", "year")
        ),
        f"/api/v1/accounts/{account}/meters",
        f"/api/v1/meters/{meter}",
        f"/api/v1/accounts/{account}/orders",
        f"/api/v1/accounts/{account}/deals",
        f"/api/v1/accounts/{account}/certificates",
        f"/api/v1/accounts/{account}/emissions",
        f"/api/v1/accounts/{account}/emissions.csv",
        f"/api/v1/accounts/{account}/statements",
        "/api/v1/sectors/DK1/factors",
        f"/api/v1/accounts/{account}/scope2-report.csv",
        f"/api/v1/accounts/{account}/scope2-report.pdf",
        "/notifications",
        f"/api/v1/accounts/{account}/notifications",
        f"/api/v1/accounts/{account}/notifications?limit=200",
    ]


def answers_everything(client, account: str, meter: str, begin: int) -> dict:
    """Every page and API route: each answers, none with a server error."""
    answers = {}
    for path in pages_and_routes(account, meter, begin):
        response = client.get(path)
        assert response.status_code in (200, 400, 404), (path, response.get_data(as_text=True))
        answers[path] = response
    return answers


# THE REAL CONTRACTS, AT THEIR LARGEST


@pytest.fixture(scope="module")
def largest(world):
    """The largest values the real contracts accept, placed on anvil and indexed."""
    w3 = world.w3
    accounts = dev_accounts(10)
    admin, installer = accounts[0], accounts[5]
    as_installer = actions.Actor(w3, installer, world.deployments)
    token = world.contract("Wallet")
    exchange = world.contract("Exchange")
    transact(w3, admin, token.functions.transfer(world.ben.address, 100 * ETHER))

    widest, giant = keccak(text="widest meter"), keccak(text="giant meter")
    # The widest capacity the SmartMeterBackend accepts: 10 GW, so 10**10 Wh an hour.
    widest_w = 10**10
    for meter, owner in ((widest, world.ben), (giant, world.anna)):
        actions.register_meter(
            as_installer,
            meter,
            installer.address,
            owner.address,
            "DK1",
            "both",
            widest_w,
            "T020002",
            "F01050100",
        )
        actions.accept_meter(as_installer.with_account(owner), meter)
    far = world.begin + 48 * HOUR
    home = world.home

    def place(account, call) -> int:
        receipt = transact(w3, account, call)
        (placed,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
        return placed["args"]["order_id"]

    for _ in range(2):  # SQLite's SUM overflows on these two
        place(world.ben, exchange.functions.bid(home, far, 2**62, 1, False))
    cancelled = place(world.ben, exchange.functions.bid(home, far + HOUR, 2**64 - 1, 1, False))
    transact(w3, world.ben, exchange.functions.cancel(cancelled))
    amended = place(world.ben, exchange.functions.bid(home, far + 2 * HOUR, 2**63, 1, False))
    transact(w3, world.ben, exchange.functions.amend(amended, 2**64 - 1, 1))
    offered = place(world.anna, exchange.functions.offer(giant, far + 3 * HOUR, widest_w, 1))
    transact(w3, world.ben, exchange.functions.take(offered, widest_w, 1, 0, home))
    world.index()
    return far, widest


def test_the_largest_bids_are_summed_exactly(client, world, largest):
    far, _ = largest
    hours = {h["interval_begin"]: h for h in client.get("/api/v1/orderbook").get_json()["hours"]}
    assert hours[far]["bids"] == 2
    assert hours[far]["bid_wh"] == 2**63  # two bids of 2**62: past SQLite's INTEGER
    assert far + HOUR not in hours  # cancelled
    assert hours[far + 2 * HOUR]["bid_wh"] == 2**64 - 1  # as amended
    assert far + 3 * HOUR not in hours  # taken whole
    book = client.get(f"/api/v1/orderbook?begin={far}").get_json()
    assert [bid["wh"] for bid in book["bids"]] == [2**62, 2**62]


def test_the_largest_deal_and_meter_are_held_exactly(client, world, largest):
    far, widest = largest
    deals = client.get(f"/api/v1/accounts/{world.ben.address}/deals").get_json()["deals"]
    assert deals[0]["wh"] == 10**10
    assert deals[0]["interval_begin"] == far + 3 * HOUR
    meter = client.get(f"/api/v1/meters/0x{widest.hex()}").get_json()["meter"]
    assert meter["capacity_w"] == 10**10
    dashboard = client.get(f"/api/v1/accounts/{world.ben.address}/dashboard").get_json()
    assert dashboard["traded"]["bought_wh"] == 10**10 + 1_500


def test_every_page_answers_after_the_largest_values(client, world, largest):
    far, widest = largest
    for account in (world.ben.address, world.anna.address):
        answers = answers_everything(client, account, "0x" + widest.hex(), far)
        assert all(response.status_code == 200 for response in answers.values())


# A CONTRACT THAT EMITS ANYTHING


def deploy_mirror(w3: Web3, account) -> tuple[str, int]:
    compiled = compile_code(MIRROR.read_text(), output_formats=["abi", "bytecode"])
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    receipt = transact(w3, account, factory.constructor())
    return receipt["contractAddress"], receipt["blockNumber"]


class Mirrors:
    """One EventMirror per mirrored contract name; counts what it emits."""

    def __init__(self, w3: Web3, sender, abi: list, addresses: dict):
        self.w3 = w3
        self.sender = sender
        self.by_name = {name: w3.eth.contract(address=a, abi=abi) for name, a in addresses.items()}
        self.emitted = 0
        self.oversized = 0  # emitted with a time, id or counter past 2**63

    def emit(self, name: str, function: str, **args) -> None:
        call = getattr(self.by_name[name].functions, function)(**args)
        transact(self.w3, self.sender, call)
        self.emitted += 1

    def each_big(
        self, name: str, function: str, amounts: tuple[str, ...], small=(), **args
    ) -> None:
        """Emits ``args`` as given, then once for each big value in each uint field
        (``small``: fields of this event the index keeps as INTEGER, besides SMALL)."""
        self.emit(name, function, **args)
        for field in amounts:
            for value in BIG:
                self.emit(name, function, **(args | {field: value}))
                self.oversized += field in SMALL or field in small


@pytest.fixture(scope="module")
def mirrored(world, tmp_path_factory):
    """Every event the indexer reads, with every uint256 field at 2**63, 2**255 and
    2**256 - 1, from mirrors that a deployments file names as the contracts."""
    w3, ben, anna = world.w3, world.ben.address, world.anna.address
    folder = tmp_path_factory.mktemp("mirror")
    sender = dev_accounts(10)[9]
    deployments = json.loads(json.dumps(world.deployments))
    addresses = {}
    abi = compile_code(MIRROR.read_text(), output_formats=["abi"])["abi"]
    for name in MIRRORED:
        address, block = deploy_mirror(w3, sender)
        addresses[name] = address
        deployments["contracts"][name] |= {"address": address, "block": block}
    mirrors = Mirrors(w3, sender, abi, addresses)

    meter = keccak(text="mirror meter")
    hour = world.begin + 24 * HOUR
    certificate = int.from_bytes(keccak(text="mirror certificate"))
    smb, ob, registry, exchange, _ = MIRRORED
    mirrors.each_big(
        smb,
        "meter_registered",
        ("capacity_w", "connection_w", "kind"),
        meter_id=meter,
        owner=ben,
        installer=anna,
        signer=anna,
        sector="DK1",
        capacity_w=6_000,
        connection_w=17_250,
        kind=3,
    )
    mirrors.emit(smb, "signer_rotated", meter_id=meter, new_signer=ben)
    mirrors.emit(smb, "meter_suspended", meter_id=meter, reason="x" * 64)
    mirrors.each_big(
        smb, "connection_rating_set", ("connection_w",), meter_id=meter, connection_w=1
    )
    mirrors.emit(smb, "meter_resumed", meter_id=meter, reason="")
    # The index keeps only the new owner (and tells the previous one, with the debt):
    # its epoch and time may be anything.
    mirrors.each_big(
        smb,
        "meter_owner_changed",
        ("debt",),
        meter_id=meter,
        new_owner=ben,
        epoch=2**256 - 1,
        effective_from=2**255,
        debt=0,
    )
    mirrors.each_big(smb, "meter_offered", ("debt",), meter_id=meter, pending_owner=ben, debt=1)
    mirrors.emit(smb, "signer_approved", meter_id=meter, signer=anna)
    mirrors.each_big(
        smb,
        "baseline_recorded",
        ("interval_end", "import_wh", "export_wh"),
        meter_id=meter,
        interval_end=world.begin,
        import_wh=0,
        export_wh=0,
    )
    measured = []  # each its own hour: a later reading of the same hour replaces the first
    variants = [(None, 0)] + [
        (field, value)
        for field in ("interval_begin", "interval_end", "produced_wh", "consumed_wh")
        for value in BIG
    ]
    for n, (field, value) in enumerate(variants):
        args = {"meter_id": meter, "interval_begin": world.begin + n * HOUR}
        args |= {"interval_end": world.begin + (n + 1) * HOUR, "produced_wh": 100}
        args |= {"consumed_wh": 200} | ({field: value} if field else {})
        mirrors.emit(smb, "measurement_recorded", **args)
        mirrors.oversized += field in SMALL
        if field not in SMALL:
            measured.append(args)
    mirrors.each_big(
        ob,
        "backend_trust_announced",
        ("effective_from",),
        backend=anna,
        trusted=True,
        effective_from=world.begin,
    )
    mirrors.emit(ob, "ledger_opened", account=ben, meter_id=meter, open=True)
    for event in ("debt_recorded", "meter_debt_recorded", "bill_unpaid"):
        meter_of = {} if event == "debt_recorded" else {"meter_id": meter}
        mirrors.each_big(ob, event, ("amount",), account=ben, amount=1, **meter_of)
    mirrors.each_big(
        ob,
        "tariff_announced",
        ("index", "retail_price", "feed_in_reward", "effective_from"),
        index=7,
        retail_price=1,
        feed_in_reward=1,
        effective_from=world.begin,
    )
    mirrors.each_big(
        ob,
        "interval_settled",
        ("interval_begin", "feed_in_wh", "retail_wh", "reward", "bill"),
        meter_id=meter,
        interval_begin=world.begin,
        account=ben,
        feed_in_wh=1,
        retail_wh=1,
        reward=1,
        bill=1,
    )
    mirrors.each_big(
        registry,
        "certificate_issued",
        ("id", "interval_begin", "issued_wh", "custody_wh"),
        id=certificate,
        meter_id=meter,
        interval_begin=world.begin,
        issued_wh=100,
        custody_wh=0,
    )
    zero = "0x" + "00" * 20
    mirrors.each_big(
        registry,
        "transfer_single",
        ("_id", "_value"),
        _from=zero,
        _to=ben,
        _id=certificate,
        _value=5,
    )
    mirrors.emit(
        registry,
        "transfer_batch",
        _from=zero,
        _to=ben,
        _ids=[certificate, 2**255, 2**256 - 1],
        _values=[2**256 - 1, 2**63, 2**255],
    )
    mirrors.emit(
        registry, "transfer_single", _from=ben, _to=anna, _id=certificate, _value=2**256 - 1
    )
    mirrors.each_big(
        registry,
        "certificate_retired",
        ("id", "wh"),
        id=certificate,
        consumption_meter_id=meter,
        holder=ben,
        wh=50,
    )
    mirrors.each_big(registry, "certificate_revoked", ("id",), id=certificate + 1, reason="r")
    bids = []
    for n, field in enumerate(("order_id", "interval_begin", "wh", "price", None)):
        for value in BIG if field else (1,):
            args = {"order_id": 100 + len(bids), "maker": ben, "interval_begin": hour}
            args |= {"meter_id": meter, "wh": 10, "price": 1, "is_bid": n % 2 == 0}
            if field:
                args[field] = value
            mirrors.emit(exchange, "order_placed", **args)
            mirrors.oversized += field in SMALL
            if field not in SMALL:
                bids.append(args)
    mirrors.each_big(
        exchange,
        "order_amended",
        ("order_id", "wh", "price", "version"),
        order_id=NO_ORDER,
        wh=1,
        price=1,
        version=1,
    )
    mirrors.each_big(
        exchange, "order_cancelled", ("order_id", "refund"), order_id=NO_ORDER, refund=1
    )
    mirrors.each_big(
        exchange,
        "deal_made",
        ("deal_id", "order_id", "interval_begin", "wh", "price"),
        deal_id=5,
        seller=anna,
        buyer=ben,
        order_id=NO_ORDER,
        seller_meter=meter,
        buyer_meter=meter,
        interval_begin=world.begin,
        wh=10,
        price=1,
    )
    mirrors.each_big(
        exchange,
        "deal_settled",
        ("deal_id", "delivered_wh", "payment", "refund", "retired_wh"),
        deal_id=5,
        seller=world.anna.address,
        buyer=ben,
        delivered_wh=1,
        payment=1,
        refund=1,
        retired_wh=1,
    )
    mirrors.each_big(exchange, "certificates_held", ("id", "wh"), account=ben, id=certificate, wh=3)
    mirrors.each_big(
        exchange,
        "certificates_claimed",
        ("id", "wh"),
        account=ben,
        id=certificate,
        recipient=ben,
        wh=1,
    )
    emitted = emissions_events(mirrors, ben, anna, meter, world.begin)
    database = folder / "mirror.sqlite"
    db = connect(database)
    try:
        indexer = Indexer(w3, deployments, db, confirmations=1)
        indexed = indexer.catch_up()
        cursor = db.execute("SELECT next_block, skipped FROM cursor").fetchone()
    finally:
        db.close()
    app = create_app(
        {
            "TESTING": True,
            "RPC_URL": world.url,
            "DEPLOYMENTS": world.deployments_file,  # the views: the real contracts
            "DATABASE": str(database),
        }
    )
    return {
        "mirrors": mirrors,
        "indexed": indexed,
        "cursor": cursor,
        "head": w3.eth.block_number,
        "client": app.test_client(),
        "meter": "0x" + meter.hex(),
        "hour": hour,
        "bids": bids,
        "certificate": certificate,
        "measured": measured,
        "abi": abi,
        "emissions": emitted,
    }


STATEMENT_FIGURES = ("consumed_wh", "matched_wh", "location_g", "market_g")


def emissions_events(mirrors: Mirrors, ben: str, anna: str, meter: bytes, begin: int) -> dict:
    """The EmissionsRegistry's events: ids, kinds, periods and times at every big value
    (skipped), and every figure of a statement at every big value, each its own statement;
    the views the indexer reads answer 2**256 - 1 and near it."""
    name = "EmissionsRegistry"
    mirrors.emit(name, "publisher_set", sector="DK1", account=ben, appointed=True)
    mirrors.emit(name, "auditor_set", sector="DK1", account=anna, appointed=True)
    day = begin - begin % 86_400
    for id, kind, period in ((1, 1, day), (2, 2, 2026), (3, 4, 2026)):
        mirrors.each_big(
            name,
            "factors_published",
            ("id", "kind", "period", "supersedes") if id == 1 else (),
            small=("id", "kind", "period", "supersedes"),
            id=id,
            kind=kind,
            sector="DK1",
            period=period,
            source="s" * 64,
            cid="c" * 64,
            supersedes=0,
        )
    mirrors.each_big(name, "publication_superseded", ("id", "by"), small=("id", "by"), id=2, by=3)
    statement = {"account": ben, "meter_id": meter, "origin": 1, "begin": begin}
    statement |= {"end": begin + HOUR} | dict.fromkeys(STATEMENT_FIGURES, 1)
    figures = {}
    mirrors.each_big(
        name,
        "statement_made",
        ("id", "origin", "begin", "end"),
        small=("id", "origin", "begin", "end"),
        id=10,
        **statement,
    )
    id = 10
    for field in STATEMENT_FIGURES:
        for value in BIG:
            id += 1
            mirrors.emit(name, "statement_made", id=id, **(statement | {field: value}))
            figures[id] = (field, value)
    mirrors.each_big(name, "statement_superseded", ("id", "by"), small=("id", "by"), id=10, by=90)
    mirrors.emit(name, "statement_made", id=90, **(statement | {"origin": 2}))
    mirrors.each_big(
        name,
        "statement_attested",
        ("id",),
        small=("id",),
        id=90,
        auditor=anna,
        note="n" * 128,
        cid="c" * 64,
    )
    mirrors.each_big(
        name,
        "statement_requested",
        ("id", "begin", "end"),
        small=("id", "begin", "end"),
        id=7,
        customer=ben,
        auditor=anna,
        utility="u" * 64,
        begin=begin,
        end=begin + HOUR,
    )
    utility = statement | {"origin": 3, "meter_id": b"\0" * 32, "consumed_wh": 2**256 - 1}
    mirrors.emit(name, "statement_made", id=95, **utility)
    mirrors.each_big(
        name,
        "utility_statement_published",
        ("id", "request"),
        small=("id", "request"),
        id=95,
        request=7,
        auditor=anna,
        data_cid="c" * 64,
    )
    return {"figures": figures, "merged": 90, "utility": 95}


def test_every_emission_figure_is_held_exactly(mirrored, world):
    client, ben = mirrored["client"], world.ben.address
    emitted = mirrored["emissions"]
    answer = client.get(f"/api/v1/accounts/{ben}/statements").get_json()
    statements = {s["id"]: s for s in answer["statements"]}
    api_field = {"location_g": "location_based_g", "market_g": "market_based_g"}
    for id, (field, value) in emitted["figures"].items():
        assert statements[id][api_field.get(field, field)] == str(value), (id, field)
    merged = statements[emitted["merged"]]
    assert merged["parts"] == [10]
    assert [p["id"] for p in merged["publications"]] == [1, 2]  # the part's, from the view
    assert statements[10]["superseded_by"] == emitted["merged"]
    assert [a["note"] for a in merged["attestations"]] == ["n" * 128]
    utility = statements[emitted["utility"]]["utility"]
    assert (utility["location_mg_per_kwh"], utility["market_mg_per_kwh"]) == (
        str(2**256 - 1),
        str(2**256 - 2),
    )
    factors = client.get("/api/v1/sectors/DK1/factors").get_json()["publications"]
    by_id = {p["id"]: p for p in factors}
    assert by_id[1]["hourly_mg_per_kwh"] == [str(2**256 - 1 - h) for h in range(24)]
    assert by_id[2]["factor_mg_per_kwh"] == str(2**256 - 1)
    assert by_id[2]["superseded_by"] == 3
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/api/v1/accounts/{ben}/scope2-report.csv").get_data(as_text=True)
            )
        )
    )
    live = [s for s in statements.values() if s["live"]]
    assert int(rows[-1]["location_based_g_co2e"]) == sum(int(s["location_based_g"]) for s in live)
    assert int(rows[-1]["market_based_g_co2e"]) > 2**256


def test_the_mirror_emits_the_real_contracts_events(mirrored, world):
    def topics(abi: list) -> set[bytes]:
        return {event_abi_to_log_topic(item) for item in abi if item["type"] == "event"}

    real = set().union(*(topics(world.deployments["contracts"][n]["abi"]) for n in MIRRORED))
    assert topics(mirrored["abi"]) <= real


def test_the_indexer_reads_every_log_and_skips_only_what_cannot_be_a_real_one(mirrored):
    mirrors = mirrored["mirrors"]
    assert mirrored["indexed"] == mirrors.emitted  # every log read: none stopped it
    next_block, skipped = mirrored["cursor"]
    assert next_block == mirrored["head"] + 1
    assert mirrors.oversized > 0
    assert skipped == mirrors.oversized


def test_every_amount_is_held_and_summed_exactly(mirrored, world):
    client, ben, meter = mirrored["client"], world.ben.address, mirrored["meter"]
    (hour,) = client.get("/api/v1/orderbook").get_json()["hours"]
    bids = [
        b for b in mirrored["bids"] if b["is_bid"] and b["interval_begin"] == hour["interval_begin"]
    ]
    offers = [
        b
        for b in mirrored["bids"]
        if not b["is_bid"] and b["interval_begin"] == hour["interval_begin"]
    ]
    assert hour["bid_wh"] == sum(b["wh"] for b in bids) > 2**256
    assert hour["offered_wh"] == sum(b["wh"] for b in offers)
    book = client.get(f"/api/v1/orderbook?begin={mirrored['hour']}").get_json()
    assert {(b["wh"], b["price"]) for b in book["bids"]} == {
        (b["wh"], str(b["price"])) for b in bids
    }
    detail = client.get(f"/api/v1/meters/{meter}").get_json()
    # the largest connection rating, corrected last
    assert (detail["meter"]["capacity_w"], detail["meter"]["connection_w"]) == (6_000, 2**256 - 1)
    measured = mirrored["measured"]
    assert {m["produced_wh"] for m in detail["measurements"]} == {
        m["produced_wh"] for m in measured
    }
    energy = client.get(f"/api/v1/accounts/{ben}/dashboard?period=year").get_json()["energy"]
    assert sum(e["produced_wh"] for e in energy) == sum(m["produced_wh"] for m in measured)
    assert sum(m["produced_wh"] for m in measured) > 2**256
    emissions = client.get(f"/api/v1/accounts/{ben}/emissions").get_json()
    assert emissions["consumed_wh"] == sum(m["consumed_wh"] for m in measured)
    certificates = client.get(f"/api/v1/accounts/{ben}/certificates").get_json()
    certificate = str(mirrored["certificate"])
    # Held 3, then 3 of each big id, and 3 + each big Wh; claimed 1 of each, then each big Wh.
    assert {c["id"]: c["wh"] for c in certificates["claimable"]} == {
        certificate: 2,
        **{str(id): 2 for id in BIG},
    }
    # Received 5, then each big Wh, then 2**256 - 1 in a batch; sent 2**256 - 1 on.
    held = {c["id"]: c["wh"] for c in certificates["held"]}
    assert held[certificate] == 5 + sum(BIG)


def test_every_page_answers_after_any_value(mirrored, world):
    for account in (world.ben.address, world.anna.address):
        answers = answers_everything(
            mirrored["client"], account, mirrored["meter"], mirrored["hour"]
        )
        assert all(response.status_code == 200 for response in answers.values())


def test_every_notification_holds_its_amount_exactly(mirrored, world):
    client, ben = mirrored["client"], world.ben.address
    answer = client.get(f"/api/v1/accounts/{ben}/notifications?limit=200").get_json()
    amounts = {}
    for news in answer["notifications"]:
        amounts.setdefault(news["kind"], set()).add(news.get("amount", news.get("debt")))
    every = {str(value) for value in (1, *BIG)}
    for kind in ("debt_recorded", "meter_debt_recorded", "bill_unpaid", "meter_offered"):
        assert amounts[kind] >= every, kind
    settled = [n for n in answer["notifications"] if n["kind"] == "deal_settled"]
    assert {n["payment"] for n in settled} >= {str(value) for value in BIG}

"""The acceptances only a meter's new owner or its owner can give, in Chromium with an
injected wallet against the real contracts on anvil: accept a meter registered for
you, accept one handed on by its owner together with the debt it carries (the debt
shown before the wallet is asked, and named as the acceptance's most), approve a new
signing key (the address checked first), and let the operator's ledger pay a meter's
bills."""

from __future__ import annotations

import json

import boa
import pytest
from eth_account import Account
from eth_utils import keccak

from meter_bridge.signing import Reading, sign_reading
from openkwh.bench.gas import certified_installer
from openkwh.chain import advance_time, transact
from openkwh.commands import actions
from openkwh.commands.deploy import contract_partial
from openkwh.commands.network import PRIVATE_KEY_ENV
from openkwh.dapp import create_app
from openkwh.dapp.indexer import connect
from openkwh.devtools.anvil import dev_accounts
from tests.dapp.conftest import HOUR, SIZES
from tests.dapp.test_browser import (  # noqa: F401
    browser,
    confirmed,
    connect_wallet,
    indexed,
    served,
    serving,
)
from tests.dapp.test_layout import axe_violations, open_page

pytestmark = pytest.mark.anvil

ACCOUNTS = dev_accounts(10)
INSTALLER, FLAT_KEY, SHED_KEY = ACCOUNTS[5], ACCOUNTS[3], ACCOUNTS[9]
# For each size of the browser tests: a flat of Anna's, handed on to Ben with a debt,
# and a shed registered for Ben, not accepted yet.
FLATS = {"phone": keccak(text="dapp-flat"), "desktop": keccak(text="dapp-flat-2")}
SHEDS = {"phone": keccak(text="dapp-shed"), "desktop": keccak(text="dapp-shed-2")}
FLAT_KEYS = {"phone": FLAT_KEY, "desktop": Account.from_key(keccak(text="dapp-flat-2 key"))}
SHED_KEYS = {"phone": SHED_KEY, "desktop": Account.from_key(keccak(text="dapp-shed-2 key"))}
FLAT, SHED = FLATS["phone"], SHEDS["phone"]
FLAT_USED_WH = 2_000


def short(meter: bytes) -> str:
    return "0x" + meter.hex()[:6]


def token_text(units: int, decimals: int = 18) -> str:
    """An amount as the page writes it: whole tokens with separators, four decimals."""
    whole, part = divmod(units, 10**decimals)
    return f"{whole:,}.{str(part).zfill(decimals)[:4]}"


def read_flats(world, end: int, imported: int) -> None:
    """Both flats' readings at ``end``, their import register at ``imported``."""
    smb = world.contract("SmartMeterBackend")
    advance_time(world.w3, end)
    batch = []
    for size, flat in FLATS.items():
        reading = Reading(
            flat,
            end,
            imported,
            0,
            keccak(text=f"flat {size} {end}"),
            smb.functions.next_reading_begin(flat).call(),
        )
        signed = sign_reading(FLAT_KEYS[size], reading, world.w3.eth.chain_id, smb.address)
        batch.append(signed.contract_args())
    transact(world.w3, world.keeper, smb.functions.submit_readings(batch))


@pytest.fixture(scope="module")
def offers(world):
    """Anna's flat billed with her ledger empty (the bill is the meter's debt), then
    offered to Ben; the shed registered for Ben."""
    w3, anna, ben = world.w3, world.anna, world.ben
    installer = actions.Actor(w3, INSTALLER, world.deployments)
    for size, flat in FLATS.items():
        actions.register_meter(
            installer, flat, FLAT_KEYS[size].address, anna.address, "DK1", "consumption"
        )
        actions.accept_meter(installer.with_account(anna), flat)
    ob = world.contract("OperatorBackend")
    balance = ob.functions.balance_of(anna.address).call()
    if balance:
        transact(w3, anna, ob.functions.withdraw(balance))
    begin = world.last_end + HOUR
    read_flats(world, begin, 0)  # the baselines
    read_flats(world, begin + HOUR, FLAT_USED_WH)
    smb = world.contract("SmartMeterBackend")
    transact(
        w3,
        world.keeper,
        ob.functions.settle_many(smb.address, [(flat, begin) for flat in FLATS.values()]),
    )
    debts = {size: smb.functions.meter_debt(flat).call() for size, flat in FLATS.items()}
    assert all(debts.values())
    for size, flat in FLATS.items():
        actions.offer_meter(installer.with_account(anna), flat, ben.address)
        actions.register_meter(
            installer, SHEDS[size], SHED_KEYS[size].address, ben.address, "DK1", "consumption"
        )
    world.index()
    return {"debt": debts["phone"], "debts": debts}


def test_the_api_names_the_offers_and_their_debt(client, world, offers):
    data = client.get(f"/api/v1/accounts/{world.ben.address}/meters").get_json()
    offered = {o["meter_id"]: o for o in data["offered"]}
    flat, shed = offered["0x" + FLAT.hex()], offered["0x" + SHED.hex()]
    assert flat["owner"] == world.anna.address
    assert flat["debt"] == flat["offered_debt"] == str(offers["debt"])
    assert shed["owner"] == "0x" + "00" * 20  # a registration
    assert shed["debt"] == "0"
    # Not his until he accepts: the shed is offered, not among his meters.
    assert "0x" + SHED.hex() not in {m["meter_id"] for m in data["meters"]}
    # Nor anywhere else in the index: a registration names whom it is offered
    # to, not an owner, so no page counts the shed as Ben's yet.
    detail = client.get(f"/api/v1/meters/0x{SHED.hex()}").get_json()
    assert detail["meter"]["owner"] == "0x" + "00" * 20
    anna = client.get(f"/api/v1/accounts/{world.anna.address}/notifications").get_json()
    (debt,) = [
        n
        for n in anna["notifications"]
        if n["kind"] == "meter_debt_recorded" and n["meter_id"] == "0x" + FLAT.hex()
    ]
    assert (debt["meter_id"], debt["amount"]) == ("0x" + FLAT.hex(), str(offers["debt"]))
    ben = client.get(f"/api/v1/accounts/{world.ben.address}/notifications").get_json()
    offered_news = [n for n in ben["notifications"] if n["kind"] == "meter_offered"]
    news = {n["meter_id"]: n["debt"] for n in offered_news}
    assert news["0x" + FLAT.hex()] == str(offers["debt"])
    assert news["0x" + SHED.hex()] == "0"


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_meter_handed_on_is_accepted_with_the_debt_shown(world, served, browser, offers, size):  # noqa: F811
    smb = world.contract("SmartMeterBackend").functions
    flat, debt = FLATS[size], offers["debts"][size]
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/meters", world.ben)
    row = page.locator("#offered tr", has_text=short(flat))
    assert token_text(debt) in row.inner_text()  # before the wallet is asked
    assert page.evaluate("() => document.documentElement.scrollWidth") == SIZES[size][0]
    assert axe_violations(page) == []  # the offers, the keys and the ledger's column
    row.get_by_role("button", name=f"Accept meter {short(flat)}").click()
    confirmed(page, f"Accept meter {short(flat)}")
    assert smb.owner_of(flat).call() == world.ben.address
    assert smb.meter_debt(flat).call() == debt  # now Ben's to pay
    page.locator("#offered tr", has_text=short(flat)).wait_for(state="detached")
    page.locator("#meters", has_text=short(flat)).wait_for()
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_meter_registered_for_you_is_accepted(world, served, browser, offers, size):  # noqa: F811
    smb = world.contract("SmartMeterBackend").functions
    shed = SHEDS[size]
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/meters", world.ben)
    row = page.locator("#offered tr", has_text=short(shed))
    assert "a new registration" in row.inner_text()
    row.get_by_role("button", name=f"Accept meter {short(shed)}").click()
    confirmed(page, f"Accept meter {short(shed)}")
    assert smb.owner_of(shed).call() == world.ben.address
    page.locator("#offered tr", has_text=short(shed)).wait_for(state="detached")
    page.locator("#meters", has_text=short(shed)).wait_for()
    offered = [
        m for m in (*FLATS.values(), *SHEDS.values()) if smb.owner_of(m).call() != world.ben.address
    ]
    if not offered:  # the last one accepted: the section goes
        page.locator("#offers").wait_for(state="hidden")
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_new_signing_key_is_approved_after_its_address_is_checked(
    world,
    served,  # noqa: F811
    browser,  # noqa: F811
    offers,
    size,
):
    smb = world.contract("SmartMeterBackend").functions
    key = ACCOUNTS[4 if size == "phone" else 6].address
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/meters", world.ben)
    form = page.locator(f"form[data-signer='0x{world.home.hex()}']")
    mistyped = key[:-1] + (key[-1].lower() if key[-1].isupper() else key[-1].upper())
    if mistyped[-1].isdigit():  # a digit has no case: flip the last letter instead
        i = max(i for i, c in enumerate(key) if c.isalpha() and i > 1)
        mistyped = key[:i] + key[i].swapcase() + key[i + 1 :]
    form.locator("input[name=signer]").fill(mistyped)
    form.locator("button").click()
    form.locator(".toast.error", has_text="fails its checksum").wait_for()
    form.locator("input[name=signer]").fill("0x" + "00" * 20)
    form.locator("button").click()
    form.locator(".toast.error", has_text="zero address").wait_for()
    assert page.locator(".transactions li").count() == 0  # the wallet was never asked
    form.locator("input[name=signer]").fill(key)
    form.locator("button").click()
    confirmed(page, f"Approve key {key[:8]}")
    assert smb.approved_signer(world.home).call() == key
    page.locator("#meter-jobs", has_text=f"you approved {key[:8]}").wait_for()
    page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_backend_trusted_from_the_start_needs_no_consent(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "ben")
    connect_wallet(page, "/meters", world.ben)
    assert "trusted from the start" in page.locator("#meter-jobs").inner_text()
    assert page.locator("form[data-ledger]").count() == 0
    page.context.close()


# A second SmartMeterBackend, deployed after the operator; a meter of Ben's there for
# each size of the browser test.
LATE = {"desktop": keccak(text="dapp-late-desktop"), "phone": keccak(text="dapp-late-phone")}
LATE_KEYS = {"desktop": ACCOUNTS[3], "phone": ACCOUNTS[9]}


@pytest.fixture(scope="module")
def late(world, tmp_path_factory):
    """The operator's second backend: deployed now (so after the operator), a meter of
    Ben's registered there for each size, and a dApp whose deployments name it, served
    with its own indexer following the chain."""
    w3, admin = world.w3, ACCOUNTS[0]
    contracts = world.deployments["contracts"]
    first = world.contract("SmartMeterBackend").functions
    bytecode = contract_partial("SmartMeterBackend").compiler_data.bytecode
    factory = w3.eth.contract(abi=contracts["SmartMeterBackend"]["abi"], bytecode=bytecode)
    receipt = transact(
        w3,
        admin,
        # No roots blueprint: Ben's meters there are read on chain.
        factory.constructor(
            first.interval_length().call(), first.future_tolerance().call(), "0x" + "00" * 20
        ),
    )
    backend = receipt["contractAddress"]
    deployments = json.loads(json.dumps(world.deployments))
    deployments["contracts"]["SmartMeterBackend"] |= {
        "address": backend,
        "block": receipt["blockNumber"],
    }
    folder = tmp_path_factory.mktemp("late-backend")
    (folder / "anvil.json").write_text(json.dumps(deployments))
    installer = certified_installer(actions.Actor(w3, admin, deployments), ACCOUNTS[4], INSTALLER)
    for size, meter in LATE.items():
        actions.register_meter(
            installer, meter, LATE_KEYS[size].address, world.ben.address, "DK1", "consumption"
        )
        actions.accept_meter(installer.with_account(world.ben), meter)
    database = str(folder / "index.sqlite")
    app = create_app(
        {
            "TESTING": True,
            "RPC_URL": world.url,
            "DEPLOYMENTS": str(folder / "anvil.json"),
            "DATABASE": database,
        }
    )
    with serving(app, w3, deployments, database) as url:
        yield {
            "url": url,
            "backend": backend,
            "deployments": str(folder / "anvil.json"),
            "database": database,
        }


def trust_announced(late) -> bool:
    db = connect(late["database"])
    try:
        return bool(
            db.execute(
                "SELECT COUNT(*) FROM backends WHERE backend = ? AND trusted AND NOT genesis",
                (late["backend"],),
            ).fetchone()[0]
        )
    finally:
        db.close()


def announce_trust(world, late, monkeypatch, capsys) -> None:
    """The operator's own command: `openkwh operator trust-backend`, run in-process."""
    previous = boa.env
    monkeypatch.setenv(PRIVATE_KEY_ENV, ACCOUNTS[0].key.hex())
    try:
        code = actions.main(
            "operator",
            [
                "--rpc-url",
                world.url,
                "--deployments",
                late["deployments"],
                "trust-backend",
                "--backend",
                late["backend"],
            ],
        )
    except SystemExit as exit_:
        code = exit_.code
    finally:
        boa.set_env(previous)
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_backend_trusted_later_asks_the_ledgers_consent(
    world,
    browser,  # noqa: F811
    late,
    monkeypatch,
    capsys,
    size,
):
    """Bills of a backend the operator trusted after its deployment reach a ledger only
    with the owner's consent: the page offers none while the backend is untrusted, the
    operator trusts it with its real command, the indexer sees the real event, and the
    page's button sends the real open_ledger transaction."""
    ob = world.contract("OperatorBackend").functions
    meter, backend = LATE[size], late["backend"]
    page = open_page(browser, world, late["url"], size, "ben")
    connect_wallet(page, "/meters", world.ben)
    page.locator("#meter-jobs", has_text=short(meter)).wait_for()
    if not trust_announced(late):  # the first size: before the operator trusts it
        assert "does not trust this meter's backend" in page.locator("#meter-jobs").inner_text()
        assert page.locator("form[data-ledger]").count() == 0
        announce_trust(world, late, monkeypatch, capsys)
        indexed(
            world,
            "SELECT COUNT(*) FROM backends WHERE backend = ? AND trusted AND NOT genesis",
            (backend,),
            database=late["database"],
        )
        page.reload()
        page.wait_for_selector("body[data-ready='true']")
    form = page.locator(f"form[data-ledger='0x{meter.hex()}'][data-open='true']")
    assert "trusted from the start" not in page.locator("#meter-jobs").inner_text()
    assert axe_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") == SIZES[size][0]
    assert not ob.ledger_pays(world.ben.address, backend, meter).call()
    form.get_by_role("button", name=f"Let my ledger pay the bills of meter {short(meter)}").click()
    confirmed(page, f"Let my ledger pay the bills of meter {short(meter)}")
    assert ob.ledger_pays(world.ben.address, backend, meter).call()
    indexed(
        world,
        "SELECT COUNT(*) FROM ledger_consents WHERE account = ? AND backend = ? AND meter_id = ?"
        " AND open",
        (world.ben.address, backend, "0x" + meter.hex()),
        database=late["database"],
    )
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    page.locator(f"form[data-ledger='0x{meter.hex()}'][data-open='false']").wait_for()
    page.context.close()

"""The acceptances only a meter's new owner or its owner can give, in Chromium with an
injected wallet against the real contracts on anvil: accept a meter registered for
you, accept one handed on by its owner together with the debt it carries (the debt
shown before the wallet is asked, and named as the acceptance's most), approve a new
signing key (the address checked first), and let the operator's ledger pay a meter's
bills."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from meter_bridge.signing import Reading, sign_reading
from openkwh.chain import advance_time, transact
from openkwh.commands import actions
from openkwh.dapp.indexer import connect
from openkwh.devtools.anvil import dev_accounts
from tests.dapp.conftest import HOUR
from tests.dapp.test_browser import browser, confirmed, connect_wallet, served  # noqa: F401
from tests.dapp.test_layout import axe_violations, open_page

pytestmark = pytest.mark.anvil

ACCOUNTS = dev_accounts(10)
INSTALLER, FLAT_KEY, SHED_KEY = ACCOUNTS[5], ACCOUNTS[3], ACCOUNTS[9]
FLAT = keccak(text="dapp-flat")  # Anna's flat, handed on to Ben with a debt
SHED = keccak(text="dapp-shed")  # registered for Ben, not accepted yet
FLAT_USED_WH = 2_000


def short(meter: bytes) -> str:
    return "0x" + meter.hex()[:6]


def token_text(units: int, decimals: int = 18) -> str:
    """An amount as the page writes it: whole tokens with separators, four decimals."""
    whole, part = divmod(units, 10**decimals)
    return f"{whole:,}.{str(part).zfill(decimals)[:4]}"


def read_flat(world, end: int, imported: int) -> None:
    smb = world.contract("SmartMeterBackend")
    advance_time(world.w3, end)
    reading = Reading(
        FLAT,
        end,
        imported,
        0,
        keccak(text=f"flat {end}"),
        smb.functions.next_reading_begin(FLAT).call(),
    )
    signed = sign_reading(FLAT_KEY, reading, world.w3.eth.chain_id, smb.address)
    transact(world.w3, world.keeper, smb.functions.submit_readings([signed.contract_args()]))


@pytest.fixture(scope="module")
def offers(world):
    """Anna's flat billed with her ledger empty (the bill is the meter's debt), then
    offered to Ben; the shed registered for Ben."""
    w3, anna, ben = world.w3, world.anna, world.ben
    installer = actions.Actor(w3, INSTALLER, world.deployments)
    actions.register_meter(installer, FLAT, FLAT_KEY.address, anna.address, "DK1", "consumption")
    actions.accept_meter(installer.with_account(anna), FLAT)
    ob = world.contract("OperatorBackend")
    balance = ob.functions.balance_of(anna.address).call()
    if balance:
        transact(w3, anna, ob.functions.withdraw(balance))
    begin = world.last_end + HOUR
    read_flat(world, begin, 0)  # the baseline
    read_flat(world, begin + HOUR, FLAT_USED_WH)
    smb = world.contract("SmartMeterBackend")
    transact(w3, world.keeper, ob.functions.settle_many(smb.address, [(FLAT, begin)]))
    debt = smb.functions.meter_debt(FLAT).call()
    assert debt > 0
    actions.offer_meter(installer.with_account(anna), FLAT, ben.address)
    actions.register_meter(installer, SHED, SHED_KEY.address, ben.address, "DK1", "consumption")
    world.index()
    return {"debt": debt}


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
    (debt,) = [n for n in anna["notifications"] if n["kind"] == "meter_debt_recorded"]
    assert (debt["meter_id"], debt["amount"]) == ("0x" + FLAT.hex(), str(offers["debt"]))
    ben = client.get(f"/api/v1/accounts/{world.ben.address}/notifications").get_json()
    offered_news = [n for n in ben["notifications"] if n["kind"] == "meter_offered"]
    news = {n["meter_id"]: n["debt"] for n in offered_news}
    assert news["0x" + FLAT.hex()] == str(offers["debt"])
    assert news["0x" + SHED.hex()] == "0"


def test_a_meter_handed_on_is_accepted_with_the_debt_shown(world, served, browser, offers):  # noqa: F811
    smb = world.contract("SmartMeterBackend").functions
    page = open_page(browser, world, served, "phone", "ben")
    connect_wallet(page, "/meters", world.ben)
    row = page.locator("#offered tr", has_text=short(FLAT))
    assert token_text(offers["debt"]) in row.inner_text()  # before the wallet is asked
    assert page.evaluate("() => document.documentElement.scrollWidth") == 390
    assert axe_violations(page) == []  # the offers, the keys and the ledger's column
    row.get_by_role("button", name=f"Accept meter {short(FLAT)}").click()
    confirmed(page, f"Accept meter {short(FLAT)}")
    assert smb.owner_of(FLAT).call() == world.ben.address
    assert smb.meter_debt(FLAT).call() == offers["debt"]  # now Ben's to pay
    page.locator("#offered tr", has_text=short(FLAT)).wait_for(state="detached")
    page.locator("#meters", has_text=short(FLAT)).wait_for()
    page.context.close()


def test_a_meter_registered_for_you_is_accepted(world, served, browser, offers):  # noqa: F811
    smb = world.contract("SmartMeterBackend").functions
    page = open_page(browser, world, served, "desktop", "ben")
    connect_wallet(page, "/meters", world.ben)
    row = page.locator("#offered tr", has_text=short(SHED))
    assert "a new registration" in row.inner_text()
    row.get_by_role("button", name=f"Accept meter {short(SHED)}").click()
    confirmed(page, f"Accept meter {short(SHED)}")
    assert smb.owner_of(SHED).call() == world.ben.address
    page.locator("#offers").wait_for(state="hidden")  # nothing more offered
    page.locator("#meters", has_text=short(SHED)).wait_for()
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


def test_the_ledger_is_let_pay_a_meters_bills(world, served, browser, offers):  # noqa: F811
    """Our backend was trusted from the start, so its bills reach a ledger without a
    consent and the page offers none; the index is told otherwise here, to show the
    consent a backend trusted later needs, sent to the real contract."""
    ob = world.contract("OperatorBackend").functions
    backend = world.contract("SmartMeterBackend").address
    page = open_page(browser, world, served, "desktop", "ben")
    connect_wallet(page, "/meters", world.ben)
    assert "trusted from the start" in page.locator("#meter-jobs").inner_text()
    assert page.locator("form[data-ledger]").count() == 0
    db = connect(world.database)
    try:
        db.execute("UPDATE backends SET genesis = 0 WHERE backend = ?", (backend,))
    finally:
        db.close()
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    form = page.locator(f"form[data-ledger='0x{world.home.hex()}']")
    assert axe_violations(page) == []
    form.get_by_role("button").click()
    confirmed(page, "Let my ledger pay the bills of meter")
    assert ob.ledger_pays(world.ben.address, backend, world.home).call()
    page.locator(f"form[data-ledger='0x{world.home.hex()}'][data-open='false']").wait_for()
    page.context.close()

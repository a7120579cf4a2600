"""The Emissions page's statements on chain, in Chromium at a phone's and a laptop's
size: Ben makes the statement of his household meter's newly metered hour with his
wallet, sees it (from meters, not attested yet), an auditor attests it and the page
says so; the report he downloads holds the on-chain figures exactly; Anna, with no
meter that consumes, asks an auditor for a statement from her utility's data and sees
it marked "from utility data, attested by ...". No page scrolls sideways and every
button has its own name."""

# ruff: noqa: F811 (pytest fixtures imported by name)

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from playwright.sync_api import expect

from openkwh.chain import transact
from tests.dapp.conftest import HOUR
from tests.dapp.emissions_world import CID, SECTOR, publish
from tests.dapp.test_browser import (  # noqa: F401
    SCREENSHOTS,
    browser,
    confirmed,
    connect_wallet,
    indexed,
    served,
    wallet_page,
)

pytestmark = pytest.mark.anvil

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}


@pytest.fixture(scope="module")
def scope2(world):
    world.consumed = {world.begin: 2_400}  # Wh of Ben's household per metered hour
    return publish(world)


def sized_page(browser, world, served, account, size):
    page = wallet_page(browser, world.w3, account, served)
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    return page


def no_sideways_scroll_and_named_buttons(page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") == width
    names = page.evaluate(
        "() => [...document.querySelectorAll('main button')].filter((b) => b.offsetParent)"
        ".map((b) => (b.getAttribute('aria-label') || b.textContent).trim())"
    )
    assert all(names), names
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_ben_makes_a_statement_sees_it_attested_and_downloads_the_report(
    world,
    served,
    browser,
    scope2,
    size,
):
    # A new hour of Ben's household, metered: the month's first hour without a statement.
    hour = world.last_end
    consumed = {"desktop": 1_300, "phone": 1_700}[size]
    world.meter_readings(hour + HOUR, {"solar": (0, 0), "home": (consumed, 0)})
    world.consumed[hour] = consumed
    indexed(world, "SELECT count(*) FROM measurements WHERE interval_begin = ?", (hour,))

    page = sized_page(browser, world, served, world.ben, size)
    connect_wallet(page, "/emissions", world.ben)
    form = page.locator("#statement-form")
    option = form.locator("select[name=period] option").first
    expect(option).to_contain_text(f"meter {'0x' + world.home.hex()[:6]}")
    page.get_by_role("button", name="Make the statement").click()
    confirmed(page, "Scope 2 statement")

    f = world.contract("EmissionsRegistry").functions
    id = f.statement_count().call()
    on_chain = f.statement(id).call()
    # From the first measured hour of the month no statement covers, to the new one.
    assert on_chain[5] == hour + HOUR
    assert on_chain[6] == sum(world.consumed[h] for h in range(on_chain[4], hour + HOUR, HOUR))
    card = page.locator(f".statement[data-id='{id}']")
    card.wait_for()
    expect(card.locator(".basis")).to_contain_text("from meters, not attested yet")
    expect(card.locator("dd.location")).to_have_text(f"{on_chain[10]:,} g CO₂e")
    expect(card.locator("dd.market")).to_have_text(f"{on_chain[11]:,} g CO₂e")
    no_sideways_scroll_and_named_buttons(page)

    transact(world.w3, scope2.auditor, f.attest(id, "read against the telegrams", CID))
    indexed(world, "SELECT count(*) FROM attestations WHERE statement = ?", (id,))
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(card.locator(".basis")).to_contain_text("from meters, attested by")
    expect(card.locator(".attestations")).to_contain_text("read against the telegrams")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"emissions-statements-{size}.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    (line,) = [r for r in rows if r["statement"] == str(id)]
    assert int(line["consumed_wh"]) == on_chain[6]
    assert int(line["location_based_g_co2e"]) == on_chain[10]
    assert int(line["market_based_g_co2e"]) == on_chain[11]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (PDF)").click()
    assert download.value.path().read_bytes().startswith(b"%PDF-")
    page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_anna_asks_an_auditor_for_a_statement_from_her_utility_data(
    world,
    served,
    browser,
    scope2,
    size,
):
    page = sized_page(browser, world, served, world.anna, size)
    connect_wallet(page, "/emissions", world.anna)
    utility = page.locator("#utility-form")
    expect(utility.locator("select[name=auditor] option").first).to_contain_text(SECTOR)
    month = {"desktop": "2025-01", "phone": "2025-02"}[size]
    utility.locator("input[name=utility]").fill(f"Utility of {size}")
    utility.locator("input[name=month]").fill(month)
    page.get_by_role("button", name="Ask the auditor").click()
    confirmed(page, f"Statement request for {month}")

    f = world.contract("EmissionsRegistry").functions
    request = f.request_count().call()
    indexed(world, "SELECT count(*) FROM emission_requests WHERE id = ?", (request,))
    sha = hashlib.sha256(f"bill of {size}".encode()).digest()
    transact(
        world.w3,
        scope2.auditor,
        # each size's own bill: one bill's sha256 makes one statement
        f.publish_utility_statement(request, 345_678, 98_500, 289_001, "CSV", sha, CID),
    )
    id = f.statement_count().call()
    indexed(
        world,
        "SELECT count(*) FROM emission_statements WHERE id = ? AND request IS NOT NULL",
        (id,),
    )
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    card = page.locator(f".statement[data-id='{id}']")
    expect(card.locator(".basis")).to_contain_text("from utility data, attested by")
    on_chain = f.statement(id).call()
    expect(card.locator("dd.location")).to_have_text(f"{on_chain[10]:,} g CO₂e")
    expect(page.locator("#requests")).to_contain_text(f"answered, statement {id}")
    no_sideways_scroll_and_named_buttons(page)
    page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_ben_merges_consecutive_statements_into_one(world, served, browser, scope2, size):
    """Two new hours, a statement each: the page offers to merge the run they end, the
    wallet sends `merge`, and the page shows the merged statement with the chain's
    figures and its parts as merged into it."""
    f = world.contract("EmissionsRegistry").functions
    ids = []
    for consumed in (500, 611):
        hour = world.last_end
        world.meter_readings(hour + HOUR, {"solar": (0, 0), "home": (consumed, 0)})
        world.consumed[hour] = consumed
        transact(world.w3, world.ben, f.make_statement(world.home, hour, hour + HOUR))
        ids.append(f.statement_count().call())
    indexed(world, "SELECT count(*) FROM emission_statements WHERE id = ?", (ids[-1],))

    page = sized_page(browser, world, served, world.ben, size)
    connect_wallet(page, "/emissions", world.ben)
    merge = page.locator("#merge-form")
    expect(merge.locator("select[name=run] option").first).to_contain_text(f"{ids[0]}, {ids[1]}")
    page.get_by_role("button", name="Merge into one statement").click()
    confirmed(page, "Merge of statements")
    merged = f.statement_count().call()
    on_chain = f.statement(merged).call()
    assert on_chain[1] == 2  # ORIGIN_MERGED
    assert on_chain[5] == world.last_end
    card = page.locator(f".statement[data-id='{merged}']")
    card.wait_for()
    expect(card.locator("dd.market")).to_have_text(f"{on_chain[11]:,} g CO₂e")
    expect(card.locator("dd.location")).to_have_text(f"{on_chain[10]:,} g CO₂e")
    for id in ids:
        expect(page.locator(f".statement[data-id='{id}']")).to_contain_text(
            f"merged into statement {merged}"
        )
    no_sideways_scroll_and_named_buttons(page)
    page.context.close()

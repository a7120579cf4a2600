"""Notifications: the indexer derives, for each account, what happened to it (its
order taken, its deal settled with payment or refund, certificates received, a
debt recorded, a meter offered) and what the operator announced to everyone; the
dApp shows them as an unread list, read state kept per browser, at desktop and
phone sizes."""

from __future__ import annotations

import pytest

from openkwh.commands import actions
from openkwh.devtools.anvil import dev_accounts
from tests.dapp.conftest import HOUR, PRICE, SOLD_WH
from tests.dapp.test_browser import browser, connect_wallet, served  # noqa: F401
from tests.dapp.test_layout import open_page

pytestmark = pytest.mark.anvil


def notifications(client, account: str, query: str = "") -> dict:
    response = client.get(f"/api/v1/accounts/{account}/notifications{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"  # an account's own
    return response.get_json()


def test_a_seller_is_told_its_order_was_taken_and_its_deal_paid(client, world):
    anna = notifications(client, world.anna.address)
    kinds = {n["kind"]: n for n in anna["notifications"]}
    taken = kinds["order_taken"]
    assert (taken["side"], taken["wh"], taken["price"]) == ("offer", str(SOLD_WH), str(PRICE))
    assert taken["left_wh"] == str(2_000 - SOLD_WH)
    assert taken["interval_begin"] == world.begin
    settled = kinds["deal_settled"]
    assert settled["role"] == "seller"
    assert settled["payment"] == str(SOLD_WH * PRICE)
    assert kinds["certificates_received"]["sender"] == "0x" + "00" * 20  # issued to her
    assert anna["unread"] == len(anna["notifications"])
    assert anna["latest"] == anna["notifications"][0]["id"]  # newest first
    assert kinds["meter_offered"]["owner"] == "0x" + "00" * 20  # registered for her
    # Nothing for the first tariff and backends: the operator's constructor set them.
    assert not any(n["everyone"] for n in anna["notifications"])


def test_a_buyer_is_told_its_deal_settled_and_its_certificates_arrived(client, world):
    ben = notifications(client, world.ben.address)
    kinds = [n["kind"] for n in ben["notifications"]]
    assert "order_taken" not in kinds  # he took it: no news to him
    (settled,) = [n for n in ben["notifications"] if n["kind"] == "deal_settled"]
    assert settled["role"] == "buyer"
    assert settled["delivered_wh"] == str(SOLD_WH)
    assert settled["refund"] == "0"
    (received,) = [n for n in ben["notifications"] if n["kind"] == "certificates_received"]
    assert received["sender"] == world.deployments["contracts"]["Exchange"]["address"]
    assert received["wh"] == str(SOLD_WH)


def test_read_ones_are_left_out_and_the_bounds_are_checked(client, world):
    everything = notifications(client, world.anna.address)
    newest = everything["latest"]
    after = notifications(client, world.anna.address, f"?after={newest}")
    assert (after["notifications"], after["unread"], after["latest"]) == ([], 0, newest)
    one = notifications(client, world.anna.address, "?limit=1")
    assert [n["id"] for n in one["notifications"]] == [newest]
    assert one["unread"] == everything["unread"]
    for query in ("?after=-1", "?after=x", f"?after={2**63}", "?limit=0", "?limit=201", "?limit="):
        response = client.get(f"/api/v1/accounts/{world.anna.address}/notifications{query}")
        assert response.status_code == 400, query
    parameters = client.get("/api/v1/openapi.json").get_json()["paths"][
        "/api/v1/accounts/{account}/notifications"
    ]["get"]["parameters"]
    bounds = {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}
    assert bounds["limit"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert bounds["after"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


def test_a_tariff_announced_is_news_for_everyone(client, world):
    as_operator = actions.Actor(world.w3, dev_accounts(1)[0], world.deployments)
    ob = world.contract("OperatorBackend").functions
    now = world.w3.eth.get_block("latest")["timestamp"]
    start = now + ob.notice_period().call() + 2 * HOUR
    start -= start % HOUR
    actions.announce_tariff(as_operator, 2 * PRICE, PRICE // 2, start)
    world.index()
    for account in (world.anna.address, world.ben.address, "0x" + "12" * 20):
        (news,) = [n for n in notifications(client, account)["notifications"] if n["everyone"]]
        assert news["kind"] == "tariff_announced"
        assert (news["index"], news["effective_from"]) == (1, start)
        assert news["retail_price"] == str(2 * PRICE)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_unread_list_and_its_count_are_kept_per_browser(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "anna")
    connect_wallet(page, "/", world.anna)
    badge = page.locator("#unread")
    assert badge.is_visible()
    count = int(badge.inner_text().split()[0])
    assert count >= 4  # taken, settled, certificates, the tariff
    page.locator("nav a[href='/notifications']").click()
    page.wait_for_selector("body[data-ready='true']")
    unread = page.locator("#notifications li.unread")
    assert unread.count() == count
    text = page.locator("#notifications").inner_text()
    assert "was taken: 1.5 kWh" in text
    assert "you were paid" in text
    assert "certificates received" in text
    assert "The operator announced tariff 1" in text
    assert (
        page.evaluate("() => document.documentElement.scrollWidth") == page.viewport_size["width"]
    )
    page.locator("#mark-read").click()
    badge.wait_for(state="hidden")
    page.locator("#notifications li.unread").first.wait_for(state="detached")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert page.locator("#notifications li.unread").count() == 0
    assert page.locator("#notifications li.read").count() == count
    assert not badge.is_visible()
    page.context.close()

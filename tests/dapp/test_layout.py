"""Every page on a phone (390 px) and a laptop, in Chromium, with a wallet and as a
visitor, in the community with the Auction's standing orders (conftest.add_auction),
so the market page carries its standing orders and clearing-price chart: nothing
scrolls sideways, the header stays compact, the chart is tall
enough to read, tables become labelled cards; axe-core (npm axe-core) finds no
serious or critical violation. Screenshots of every page at both sizes go to
out/screens/ for review."""

from __future__ import annotations

from pathlib import Path

import pytest

from openkwh.devtools.anvil import run_anvil
from tests.dapp.conftest import HANG_GUARD_MS, SIZES, add_auction, build_world
from tests.dapp.test_browser import browser, served, wallet_page  # noqa: F401

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / "out" / "screens"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "dashboard": "/",
    "meters": "/meters",
    "market": "/market",
    "certificates": "/certificates",
    "tariffs": "/operator",
    "emissions": "/emissions",
    "notifications": "/notifications",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with run_anvil() as node:
        world = build_world(node.url, tmp_path_factory.mktemp("world"))
        add_auction(world)
        world.index()
        yield world


def open_page(browser, world, served, size: str, who: str):  # noqa: F811
    width, height = SIZES[size]
    if who == "visitor":
        context = browser.new_context(base_url=served, viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(HANG_GUARD_MS)
        return page
    return wallet_page(browser, world.w3, getattr(world, who), served, size)


def visit(page, path: str, who: str) -> None:
    page.goto(path)
    if who == "visitor":
        page.wait_for_selector("body[data-ready]")
    else:
        page.click("#connect")
        page.wait_for_selector("body[data-ready='true']")


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("who", ["ben", "anna", "visitor"])
def test_no_page_scrolls_sideways(world, served, browser, who, size):  # noqa: F811
    page = open_page(browser, world, served, size, who)
    widths = {}
    for name, path in PAGES.items():
        visit(page, path, who)
        widths[name] = page.evaluate("() => document.documentElement.scrollWidth")
        header = page.evaluate("() => document.querySelector('header').offsetHeight")
        assert header <= 110, f"{name}: the header is {header} px tall"
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{name}-{size}-{who}.png"), full_page=True)
    assert widths == dict.fromkeys(PAGES, SIZES[size][0])
    if who == "visitor":  # no empty chart or money forms for someone without an account
        visit(page, "/", who)
        assert page.locator("section.mine:visible").count() == 0
    else:
        visit(page, "/", who)
        assert page.locator("#energy-chart").is_visible()
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_chart_is_readable_and_a_table_a_labelled_card_on_a_phone(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "ben")
    visit(page, "/", "ben")
    page.wait_for_selector(".chart[data-drawn]")  # Chart.js drew it, after the figures
    canvas = page.locator("#energy-chart").bounding_box()
    assert canvas["height"] >= 240
    assert canvas["width"] <= SIZES[size][0]
    visit(page, "/meters", "ben")
    cell = "document.querySelector('#meters td')"
    label = page.evaluate(f"() => getComputedStyle({cell}, '::before').content")
    display = page.evaluate(f"() => getComputedStyle({cell}.closest('tr')).display")
    if size == "phone":  # a card: each cell labelled by its column
        assert (label, display) == ('"meter"', "block")
    else:  # a table row, no labels
        assert (label, display) == ("none", "table-row")
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_market_with_standing_orders_and_the_clearing_chart_fits(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "ben")
    visit(page, "/market", "ben")
    page.wait_for_selector("#clearing .chart[data-drawn]")
    assert page.locator("#standing-form").is_visible()
    page.locator("#standing-orders details.fills").first.wait_for()
    canvas = page.locator("#clearing-chart").bounding_box()
    assert canvas["height"] >= 240
    assert canvas["width"] <= SIZES[size][0]
    # Every part of the standing orders within the screen, the radios and their labels on one line.
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('#standing *, #clearing *')]
             .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
             .map((e) => e.tagName + (e.id ? '#' + e.id : ''))"""
    )
    assert overflow == []
    radio = page.locator("#standing-form input[value='forecast']").bounding_box()
    assert radio["width"] <= 24
    assert page.evaluate("() => document.documentElement.scrollWidth") == SIZES[size][0]
    page.context.close()


def axe_violations(page) -> list[dict]:
    page.evaluate(AXE.read_text())  # through the DevTools protocol: not the page's scripts
    return page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
        }"""
    )


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_axe_finds_no_serious_violation_on_any_page(world, served, browser, size):  # noqa: F811
    if not AXE.exists():
        pytest.fail("no node_modules/axe-core: `npm ci` installs it (package.json)")
    page = open_page(browser, world, served, size, "ben")
    found = {}
    for name, path in PAGES.items():
        visit(page, path, "ben")
        page.screenshot(path=str(SCREENS / f"{name}-{size}.png"), full_page=True)
        found[name] = axe_violations(page)
    assert found == {name: [] for name in PAGES}
    page.context.close()


def contrast(colour: str, background: str = "#ffffff") -> float:
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_skip_link_chart_numbers_and_bar_contrast(world, served, browser, size):  # noqa: F811
    page = open_page(browser, world, served, size, "ben")
    visit(page, "/", "ben")
    page.goto("/")  # connected before: no click, so the focus starts at the top
    page.wait_for_selector("body[data-ready='true']")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.locator("#periods button[data-period='hour']").click()
    page.locator("#energy-table td", has_text="2.4").wait_for()  # Ben's 2,400 Wh, as text
    for name in ("--produced", "--consumed"):
        colour = page.evaluate(
            "name => getComputedStyle(document.documentElement).getPropertyValue(name).trim()",
            name,
        )
        assert contrast(colour) >= 3, (name, colour)
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("who", ["ben", "anna"])
def test_every_button_has_its_own_accessible_name(world, served, browser, who, size):  # noqa: F811
    page = open_page(browser, world, served, size, who)
    for path in ("/market", "/certificates", "/meters", "/notifications", "/"):
        visit(page, path, who)
        names = page.evaluate(
            """() => [...document.querySelectorAll('button')]
                 .filter((b) => b.offsetParent !== null)
                 .map((b) => b.getAttribute('aria-label') || b.textContent.trim())"""
        )
        assert len(names) == len(set(names)), (path, sorted(names))
    page.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_notice_is_cleared_once_the_page_answers(world, served, browser, size):  # noqa: F811
    """A message at the top does not outlive what it said: the visitor's "connect your
    wallet" goes once the wallet is connected and the page has answered."""
    page = open_page(browser, world, served, size, "ben")
    page.goto("/market")
    page.wait_for_selector("body[data-ready='visitor']")
    notice = page.locator("#notice")
    assert "Connect your wallet" in notice.inner_text()
    page.click("#connect")
    page.wait_for_selector("body[data-ready='true']")
    assert not notice.is_visible()
    page.context.close()

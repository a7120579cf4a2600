"""End to end in headless Chromium: the dApp served by waitress, the indexer
following a real anvil node, and a wallet injected into the page (EIP-1193,
announced through EIP-6963) that signs with a test key.

Anna offers an hour, Ben takes it; the hour is metered; Ben settles the deal,
sees the certificate arrive, retires it and sees his emissions fall. Every
page is photographed into out/screens/, where the layout tests put theirs.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3

from openkwh.dapp.indexer import Indexer, connect
from openkwh.devtools import chromium
from tests.dapp.conftest import HANG_GUARD_MS, HOUR, SIZES

pytestmark = pytest.mark.anvil

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screens"
OFFER_WH = 800

WALLET_SCRIPT = """
(() => {
  const listeners = {};
  const provider = {
    async request({ method, params }) {
      const answer = await window.__testWallet(method, params || []);
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        error.data = answer.error.data;
        throw error;
      }
      return answer.result;
    },
    on(event, listener) {
      (listeners[event] ||= []).push(listener);
    },
    removeListener(event, listener) {
      listeners[event] = (listeners[event] || []).filter((l) => l !== listener);
    },
  };
  // what a wallet does when its user picks another account: the test calls it
  window.__testWalletEmit = (event, value) => (listeners[event] || []).forEach((l) => l(value));
  const info = {
    uuid: "0b7c1f0e-5a43-4c1e-9d55-0c0e2e6f7a11",
    name: "Test wallet",
    icon: "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>",
    rdns: "org.openkwh.testwallet",
  };
  const announce = () =>
    window.dispatchEvent(
      new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) })
    );
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


class InjectedWallet:
    """What a browser wallet does for the page: it holds the key, signs and sends
    transactions, and passes every other call to the node."""

    def __init__(self, w3: Web3, account: LocalAccount):
        self.w3 = w3
        self.account = account

    def __call__(self, method: str, params: list):
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.account.address]}
        if method == "wallet_switchEthereumChain":
            if int(params[0]["chainId"], 16) != self.w3.eth.chain_id:
                return {"error": {"code": 4902, "message": "unknown chain"}}
            return {"result": None}
        if method == "eth_sendTransaction":
            return self.send(params[0])
        if method == "eth_signTypedData_v4":  # EIP-712, e.g. an EIP-2612 permit
            assert Web3.to_checksum_address(params[0]) == self.account.address
            signed = self.account.sign_message(
                encode_typed_data(full_message=json.loads(params[1]))
            )
            return {"result": "0x" + bytes(signed.signature).hex()}
        answer = self.w3.provider.make_request(method, params)
        return {key: answer[key] for key in ("result", "error") if key in answer}

    def send(self, request: dict):
        tx = {
            "from": self.account.address,
            "to": Web3.to_checksum_address(request["to"]),
            "data": request.get("data", "0x"),
            "value": int(request.get("value", "0x0"), 16),
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            "chainId": self.w3.eth.chain_id,
            "maxFeePerGas": 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        tx["gas"] = int(request["gas"], 16) if "gas" in request else self.w3.eth.estimate_gas(tx)
        signed = self.account.sign_transaction(tx)
        return {"result": self.w3.to_hex(self.w3.eth.send_raw_transaction(signed.raw_transaction))}


@contextmanager
def serving(app, w3: Web3, deployments: dict, database: str):
    """waitress serving ``app`` on a free loopback port, and its indexer following."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    stop = threading.Event()

    def follow():
        db = connect(database)
        indexer = Indexer(w3, deployments, db, confirmations=1)
        indexer.follow(0.1, stop.is_set)
        db.close()

    indexing = threading.Thread(target=follow, daemon=True)
    indexing.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        indexing.join(timeout=5)
        server.close()


@pytest.fixture(scope="module")
def served(world, app):
    """The community's dApp served, and the indexer following."""
    with serving(app, world.w3, world.deployments, world.database) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not chromium.CHROMIUM.exists():
        pytest.fail("no Chromium at /usr/bin/chromium: `make test` installs it (apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        yield browser
        browser.close()


def wallet_page(browser, w3, account, base_url, size: str = "desktop"):
    width, height = SIZES[size]
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    context.expose_function("__testWallet", InjectedWallet(w3, account))
    context.add_init_script(WALLET_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(HANG_GUARD_MS)
    return page


def connect_wallet(page, path: str, account: LocalAccount) -> None:
    page.goto(path)
    page.click("#connect")
    page.wait_for_function(
        "address => document.querySelector('#account').textContent.startsWith(address)",
        arg=account.address[:8],
    )
    page.wait_for_selector("body[data-ready='true']")


def confirmed(page, label: str) -> None:
    """Waits for the transaction's confirmed state; a failure shows what the page said."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(".transactions li.confirmed", has_text=label).wait_for()
    except PlaywrightTimeout:
        raise AssertionError(
            f"{label!r} not confirmed; the page lists: {page.locator('.transactions').inner_text()!r}; "
            f"notice: {page.locator('#notice').inner_text()!r}"
        ) from None


def indexed(
    world, sql: str, args: tuple, timeout: float = HANG_GUARD_MS / 1_000, database: str = ""
) -> None:
    """Waits until the indexer has seen what ``sql`` asks for, in the world's index or
    ``database`` (``timeout`` guards against a hang; it is no pace)."""
    deadline = time.monotonic() + timeout
    db = connect(database or world.database)
    try:
        while not db.execute(sql, args).fetchone()[0]:
            assert time.monotonic() < deadline, f"the index never answered {sql}"
            time.sleep(0.05)  # a poll of the index the indexer thread writes
    finally:
        db.close()


def shoot(page, name: str) -> None:
    """A photograph of the whole page, named by the page and its width; and nothing of
    it may scroll sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_selector("body[data-ready='true']")
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") == width, name


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_offer_take_settle_certificate_retire_emissions(world, served, browser, size):
    w3 = world.w3
    now = w3.eth.get_block("latest")["timestamp"]
    hour = now - now % HOUR + 3 * HOUR  # its gate closes an hour before: still open
    anna = wallet_page(browser, w3, world.anna, served, size)
    ben = wallet_page(browser, w3, world.ben, served, size)

    # 1. connect; 2. place an offer as the producer
    connect_wallet(anna, "/market", world.anna)
    form = anna.locator("#order-form")
    form.locator("select[name=side]").select_option("offer")
    form.locator("input[name=begin]").fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(hour)))
    form.locator("input[name=wh]").fill(str(OFFER_WH))
    form.locator("input[name=price]").fill("0.15")
    form.locator("button[type=submit]").click()
    confirmed(anna, f"Offer {OFFER_WH} Wh")
    indexed(world, "SELECT COUNT(*) FROM orders WHERE interval_begin = ?", (hour,))

    # 3. take it as the consumer; an over-large take fails with the contract's reason
    connect_wallet(ben, "/market", world.ben)
    ben.click(f"a[data-hour='{hour}']")
    take = ben.locator("form[data-take]").first
    take.locator("input[name=wh]").fill(str(OFFER_WH + 1))
    take.locator("button").click()
    failure = ben.locator(".transactions li.failed").first
    failure.wait_for()
    assert "Taking more than is open." in failure.text_content()
    take.locator("input[name=wh]").fill(str(OFFER_WH))
    take.locator("button").click()
    confirmed(ben, f"Take {OFFER_WH} Wh")
    shoot(ben, "market")
    indexed(world, "SELECT COUNT(*) FROM deals WHERE interval_begin = ?", (hour,))

    # 4. time passes and the meters report the hour
    world.meter_readings(hour, {"solar": (400, 1_000), "home": (3_000, 0)})
    world.meter_readings(hour + HOUR, {"solar": (100, 2_500), "home": (1_200, 0)})

    # 5. the deal settles, and its certificate arrives
    ben.goto("/market")
    ben.wait_for_selector("body[data-ready='true']")
    ben.locator("button[data-settle]").first.click()
    confirmed(ben, "Settle deal")
    indexed(world, "SELECT COUNT(*) FROM deals WHERE interval_begin = ? AND settled", (hour,))
    ben.goto("/emissions")
    ben.wait_for_selector("#market-based")
    before = ben.locator("#market-based .value").text_content()
    shoot(ben, "emissions-before")
    ben.goto("/certificates")
    ben.wait_for_selector("body[data-ready='true']")
    certificate = ben.locator("form[data-cert]").first
    assert certificate.locator("input[name=wh]").input_value() == str(OFFER_WH)

    # 6. retire it against Ben's consumption of the same hour
    certificate.locator("button[name=retire]").click()
    confirmed(ben, f"Retire {OFFER_WH} Wh")
    indexed(world, "SELECT COUNT(*) FROM retirements WHERE interval_begin = ?", (hour,))
    ben.goto("/certificates")
    shoot(ben, "certificates")

    # 7. the emissions page changes: fewer market-based emissions, a higher matched share
    ben.goto("/emissions")
    ben.wait_for_selector("#market-based")
    after = ben.locator("#market-based .value").text_content()
    assert before != after
    assert float(after.split()[0].replace(",", "")) < float(before.split()[0].replace(",", ""))
    shoot(ben, "emissions")

    for path, name in (("/", "dashboard"), ("/meters", "meters"), ("/operator", "operator")):
        ben.goto(path)
        shoot(ben, name)
    anna.goto("/meters")
    shoot(anna, "meters-producer")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_page_framed_by_another_site_is_refused(served, browser, size):
    """Clickjacking: a decoy site frames the market invisibly over its own button. The
    browser must refuse to render the dApp inside it (frame-ancestors 'none')."""
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(HANG_GUARD_MS)
    refused = []
    page.on("console", lambda message: refused.append(message.text))
    page.set_content(
        f'<iframe id="decoy" src="{served}/market" style="opacity:0.01"></iframe>'
        "<button>Win a prize</button>"
    )
    (frame,) = page.main_frame.child_frames
    frame.wait_for_load_state("load")
    assert frame.locator("body[data-page]").count() == 0  # the dApp did not render
    assert any("frame-ancestors" in text for text in refused)
    # The same page, opened as itself, renders, and the policy blocks nothing of its own.
    direct = context.new_page()
    blocked = []
    direct.on("console", lambda message: blocked.append(message.text))
    direct.goto(f"{served}/market")
    direct.locator("#connect:not([disabled])").wait_for()
    assert direct.locator("body[data-page='market']").count() == 1
    assert not [text for text in blocked if "Content Security Policy" in text]
    context.close()

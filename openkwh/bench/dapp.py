"""The dApp's figures for `make bench` (bench/dapp.json, not committed).

- api_dashboard_p95_ms, api_orderbook_p95_ms: the 95th percentile over
  ``REQUESTS`` requests each, through waitress on loopback, with a year of
  hourly measurements for 100 meters in the index (876,000 rows), a week of
  order book, and the balances read live from anvil;
- indexer_events_per_s: a fresh index catching up on real events on anvil
  (readings of four meters in batches of 24, and their measurements);
- page_load_ms: the dashboard in headless Chromium, from navigation until the
  page has drawn its data (balances, money jobs, traded energy, the energy table),
  as a first visit: the median of ``LOADS`` loads, each in a fresh browser context
  (empty cache, nothing stored); the first of them is also the server's first page
  since it started;
- page_load_chart_ms: the same loads until the chart of that energy is drawn too
  (Chart.js is loaded and run only once the figures are on screen);
- page_weight_kb_gzip: what such a first visit downloads of the page's own code,
  gzipped: the script chunks it loaded and the stylesheet (the chunk with the
  wallet's classes loads only when the wallet is used, so it is not counted);
- market_page_weight_kb_gzip: the same for a first visit of the market page,
  once drawn; where the deployment has an Auction, that includes the standing
  orders' chunk and Chart.js for the clearing-price chart (issue 19).
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from eth_utils import keccak
from web3 import Web3

from openkwh.bench.bridge import format_figures
from openkwh.bench.gas import certified_installer, interval_readings
from openkwh.chain import transact
from openkwh.commands import actions
from openkwh.commands.deploy import deploy_all
from openkwh.commands.network import connected
from openkwh.dapp import create_app
from openkwh.dapp.indexer import Indexer, connect
from openkwh.devtools import chromium
from openkwh.devtools.anvil import PROJECT_ROOT, dev_accounts, run_anvil

DAPP_FILE = PROJECT_ROOT / "bench" / "dapp.json"
METERS = 100
HOURS = 8_760  # a year
REQUESTS = 300
LOADS = 9


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fill_index(path: Path, now: int, count: int, hours: int) -> tuple[str, int]:
    """``hours`` hourly measurements for each of ``count`` meters, one owner each,
    and a week of order book ahead; returns an owner and a delivery hour with orders."""
    db = connect(path)
    start = now - now % 3_600 - hours * 3_600
    owners = [Web3.to_checksum_address(keccak(text=f"owner {i}")[-20:]) for i in range(count)]
    meters = ["0x" + keccak(text=f"meter {i}").hex() for i in range(count)]
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO meters (meter_id, owner, signer, installer, sector, tech_code, fuel_code, "
        "capacity_w, connection_w, kind, registered_at) "
        "VALUES (?, ?, ?, ?, 'DK1', 'T020002', 'F01050100', 6000, 17250, 3, ?)",
        [(m, o, o, o, start) for m, o in zip(meters, owners, strict=True)],
    )
    for i, meter in enumerate(meters):
        db.executemany(
            "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?)",
            (
                (meter, t, t + 3_600, (h * 7 + i) % 900, (h * 3 + i) % 700, "0x" + "ab" * 32)
                for h, t in enumerate(range(start, start + hours * 3_600, 3_600))
            ),
        )
        if i % 20 == 19:
            log(f"   index: {i + 1} of {count} meters, {hours:,} hours each")
    first = now - now % 3_600 + 3 * 3_600
    db.executemany(
        "INSERT INTO orders (order_id, maker, meter_id, interval_begin, wh, price, is_bid, "
        "retire) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        [
            (
                n,
                owners[n % count],
                meters[n % count],
                first + (n // 10) * 3_600,
                500 + n % 7 * 100,
                str(14 * 10**13 + n % 5 * 10**12),
                n % 3 == 0,
            )
            for n in range(24 * 7 * 10)
        ],
    )
    db.execute("COMMIT")
    db.close()
    return owners[0], first


STATIC = PROJECT_ROOT / "openkwh" / "dapp" / "static"


def page_weight_kb_gzip(loaded: set[str] | None = None) -> float:
    """What a first visit downloads of the page's own code, gzipped (as a server or CDN
    sends them): the script files and stylesheet under /static/ that the page loaded,
    or, without a browser to tell, every built script and the stylesheet."""
    if loaded is None:
        files = [*sorted((STATIC / "build").rglob("*.js")), STATIC / "style.css"]
    else:
        files = [STATIC / path for path in sorted(loaded) if path.endswith((".js", ".css"))]
    return sum(len(gzip.compress(path.read_bytes(), 9)) for path in files) / 1024


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def latency(url: str) -> list[float]:
    session = requests.Session()
    session.get(url, timeout=30).raise_for_status()  # warm: connections, caches
    samples = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = session.get(url, timeout=30)
        samples.append((time.perf_counter() - began) * 1_000)
        response.raise_for_status()
    return samples


def indexer_rate(w3: Web3, deployments: dict, folder: Path) -> float:
    """Real events on anvil (four meters, 24 readings a transaction), then a fresh
    index catching up on them."""
    accounts = dev_accounts(10)
    as_admin = actions.Actor(w3, accounts[0], deployments)
    installer = certified_installer(as_admin, accounts[4], accounts[5])
    smb = as_admin.contract("SmartMeterBackend")
    chain_id = w3.eth.chain_id
    now = w3.eth.get_block("latest")["timestamp"]
    start = now - now % 3_600 - 24 * 3_600 * 5
    for n in range(4):
        meter, key = keccak(text=f"bench meter {n}"), accounts[6 + n]
        actions.register_meter(
            installer, meter, key.address, accounts[1].address, "DK1", "consumption"
        )
        actions.accept_meter(installer.with_account(accounts[1]), meter)
        readings = interval_readings(
            key, meter, start, 3_600, 24 * 5, 800, 0, f"bench {n}", chain_id, smb.address
        )
        for batch in range(0, len(readings), 24):
            transact(w3, accounts[8], smb.functions.submit_readings(readings[batch : batch + 24]))
    db = connect(folder / "rate.sqlite")
    indexer = Indexer(w3, deployments, db, confirmations=1)
    began = time.perf_counter()
    events = indexer.catch_up()
    elapsed = time.perf_counter() - began
    db.close()
    log(f"   indexer: {events} events in {elapsed:.2f} s")
    return events / elapsed


def page_load(url: str, loads: int = LOADS) -> tuple[list[float], list[float], set[str]]:
    """``loads`` first visits of ``url``, each in a fresh context (nothing cached): the
    ms until its data is drawn, until its chart is drawn too, and the paths under
    /static/ the page loaded."""
    from playwright.sync_api import sync_playwright

    samples, charted, loaded = [], [], set()

    def note(request) -> None:
        path = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if path.startswith("static/"):
            loaded.add(path.removeprefix("static/"))

    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        for _ in range(loads):
            context = browser.new_context()
            page = context.new_page()
            page.on("request", note)
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='true']", timeout=30_000)
            samples.append((time.perf_counter() - began) * 1_000)
            page.wait_for_selector(".chart[data-drawn]", timeout=30_000)
            charted.append((time.perf_counter() - began) * 1_000)
            context.close()
        browser.close()
    log(f"   first loads: {', '.join(f'{ms:.0f}' for ms in samples)} ms")
    log(f"   with the chart: {', '.join(f'{ms:.0f}' for ms in charted)} ms")
    return samples, charted, loaded


def market_weight(url: str, auction: bool) -> set[str]:
    """The paths under /static/ a first visit of the market page loads, once its data
    (and, with an Auction, its clearing-price chart) is drawn."""
    from playwright.sync_api import sync_playwright

    loaded: set[str] = set()

    def note(request) -> None:
        path = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if path.startswith("static/"):
            loaded.add(path.removeprefix("static/"))

    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        page = browser.new_context().new_page()
        page.on("request", note)
        page.goto(url)
        page.wait_for_selector("body[data-ready='true']", timeout=30_000)
        if auction:
            page.wait_for_selector("#clearing .chart[data-drawn]", timeout=30_000)
        browser.close()
    return loaded


def measure(out: Path = DAPP_FILE, meters: int = METERS, hours: int = HOURS) -> dict:
    from waitress import create_server

    with (
        run_anvil() as node,
        tempfile.TemporaryDirectory() as folder,
        connected("anvil", url=node.url) as conn,
    ):
        folder = Path(folder)
        deployments = deploy_all(conn, folder)
        (folder / "deployments.json").write_text(json.dumps(deployments))
        w3 = Web3(Web3.HTTPProvider(node.url))
        rate = indexer_rate(w3, deployments, folder)
        log(f"   index: {meters} meters x {hours:,} hours")
        now = w3.eth.get_block("latest")["timestamp"]
        owner, hour = fill_index(folder / "index.sqlite", now, meters, hours)
        app = create_app(
            {
                "RPC_URL": node.url,
                "DEPLOYMENTS": str(folder / "deployments.json"),
                "DATABASE": str(folder / "index.sqlite"),
            }
        )
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            dashboard = latency(f"{base}/api/v1/accounts/{owner}/dashboard?period=day")
            orderbook = latency(f"{base}/api/v1/orderbook?begin={hour}")
            loads, charted, loaded = (
                page_load(f"{base}/?account={owner}")
                if chromium.CHROMIUM.exists()
                else ([0.0], [0.0], None)
            )
            market = (
                market_weight(
                    f"{base}/market?account={owner}", "Auction" in deployments["contracts"]
                )
                if chromium.CHROMIUM.exists()
                else None
            )
        finally:
            server.close()
    figures = {
        "api_dashboard_p95_ms": round(p95(dashboard), 1),
        "api_orderbook_p95_ms": round(p95(orderbook), 1),
        "indexer_events_per_s": round(rate),
        "page_load_ms": round(statistics.median(loads)),
        "page_load_chart_ms": round(statistics.median(charted)),
        "page_weight_kb_gzip": round(page_weight_kb_gzip(loaded), 1),
        "market_page_weight_kb_gzip": round(page_weight_kb_gzip(market), 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


TARGETS = {
    "api_dashboard_p95_ms": ("<=", 50),
    "api_orderbook_p95_ms": ("<=", 50),
    "page_load_ms": ("<=", 700),
}


if __name__ == "__main__":
    result = measure()
    print(format_figures(result, TARGETS))

"""make demo: a trading day of a small energy community on a local chain.

Starts anvil on loopback and deploys with the same code as `make deploy`. The
admin appoints an issuing body for DK1, which certifies an installer, who
registers two rooftop-solar households and one household without panels, each
meter with its own key. Anna and Carl offer tomorrow's forecast surplus on the
Exchange, hour by hour; Ben buys what he expects to use, taking the cheapest
offers, and around noon bids instead, asking for the certificates to be
retired on delivery.

Then 48 hours pass on a stepped clock: a minute of device time at a time, as
fast as the bridges take the telegrams, so the figures are the same on a busy
machine as on an idle one. Each house has a simulated meter writing
real-format telegrams into a pseudo-terminal:
DSMR 5 at Anna's, SML at Ben's, DSMR 4 at Carl's. A `meter-bridge run` process
per house reads them, stores them, signs each hour's reading with the meter's
key (made on the "device", kept in its encrypted keystore) and relays it to
anvil. As each hour's readings land, a keeper settles the hour's deals from
the measurements and then every meter's interval with the operator, which
rewards and bills only what was not traded. A cloud over Carl's roof makes
him deliver less than he sold in one hour: that deal is paid pro rata. Tables
show, per meter, the energy, the money and the certificates.

Last, Ben's Scope 2 statement for June 2026, the demo's month: the issuing
body appoints a factor publisher and an auditor; the publisher publishes
illustrative factors for DK1 (hourly for the demo's days, a yearly residual
mix: made up for the demo, not any source's figures); Ben has the
EmissionsRegistry compute his statement from his meter's 48 measured hours and
the certificates retired against them, and the auditor attests it.

With --hub (``make demo HUB=1``) the demo runs instead one household through
the data hub (``openkwh.demo.hub``): its bridge posts to the hub, the hub
publishes the root, the household reveals its traded hour, and the deal and
the operator settle it unchanged.

Then the dApp is served on the demo's chain (an indexer process, waitress on
127.0.0.1:5000) until Ctrl-C; with --headless or DEMO_HEADLESS=1 the demo
exits after the scenario instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from eth_utils import keccak
from web3.logs import DISCARD

from meter_bridge import profiles
from meter_bridge.content import BlobStore
from meter_bridge.signing import gs1_check_digit, meter_id
from meter_bridge.simulator import SimulatedMeter
from openkwh.chain import advance_time, send_ether
from openkwh.commands import actions, emissions
from openkwh.commands.deploy import deploy_all
from openkwh.commands.network import connected
from openkwh.demo import bridges
from openkwh.devtools.anvil import dev_accounts, run_anvil
from openkwh.emissions import bill

ETHER = 10**18  # wei
HOURS = 48
SECTOR = "DK1"
SALT = keccak(text="openkwh demo salt")  # the operator's salt for meter ids (demo only)
OFFER_PERCENT = 80  # share of the forecast surplus a producer offers
MIN_OFFER_WH = 200  # smaller surpluses are not worth a transaction
BID_PRICE = 16 * 10**13  # token base units per Wh (0.16 tokens per kWh)
BID_HOURS = (11, 12, 13)  # UTC hours when Ben bids instead of taking offers
# The demo's chain starts at a fixed time, midsummer 2026, 06:00 UTC: every run
# trades and measures the same hours and prints the same figures.
GENESIS = 1_781_935_200
TELEGRAM_EVERY = 60  # device seconds between the simulated meters' telegrams
READING_TIMEOUT = 60  # seconds to wait for an hour's readings before giving up
DAPP_PORT = 5000
# Illustrative emission factors for DK1, g CO2e/kWh: a plausible shape, made up for
# the demo (real ones: Energinet's declarations, the AIB's residual mix).
DEMO_HOURLY_G = [
    "182.4",
    "178.9",
    "175.1",
    "171.6",
    "168.0",
    "160.2",
    "148.7",
    "131.5",
    "112.3",
    "96.8",
    "84.1",
    "75.6",
    "70.2",
    "71.9",
    "79.4",
    "93.0",
    "111.8",
    "134.6",
    "158.3",
    "174.9",
    "183.2",
    "186.7",
    "185.1",
    "183.9",
]
DEMO_LOCATION_G = "141.5"  # the year's, for hours no day's factors cover
DEMO_RESIDUAL_G = "452.25"


@dataclass
class DemoMeter:
    label: str
    owner_index: int  # anvil dev account
    gsrn_body: str  # 17 digits; the check digit is computed
    kind: str
    protocol: str  # what the meter speaks on its serial port
    peak_w: int = 0  # solar array
    load_percent: int = 100  # household consumption, percent of the reference profile
    price: int = 0  # offer price, token base units per Wh
    shade: dict = field(default_factory=dict)  # interval begin -> percent of forecast sun
    site: bridges.Site | None = None  # the meter and its bridge, once installed
    produced: int = 0  # Wh measured on chain during the demo
    consumed: int = 0
    hourly: dict = field(default_factory=dict)  # interval begin -> (produced Wh, consumed Wh)
    sold: int = 0  # Wh in deals
    bought: int = 0
    delivered_sold: int = 0
    delivered_bought: int = 0
    received: int = 0  # token base units paid by buyers
    paid: int = 0  # token base units paid to sellers
    feed_in_wh: int = 0  # Wh the operator rewarded
    retail_wh: int = 0  # Wh the operator billed
    reward: int = 0  # token base units
    bill: int = 0
    issued: int = 0  # certificate Wh
    held: int = 0
    retired: int = 0

    @property
    def gsrn(self) -> str:
        return self.gsrn_body + str(gs1_check_digit(self.gsrn_body))

    @property
    def id(self) -> bytes:
        return meter_id(self.gsrn, SALT)

    def forecast(self, begin: int) -> tuple[int, int]:
        """(solar Wh, load Wh) expected in the hour that begins at ``begin``."""
        solar = profiles.solar_wh(self.peak_w, begin) if self.peak_w else 0
        return solar, profiles.household_wh(begin, self.load_percent)

    def install(self, folder: Path) -> str:
        """The simulated meter and its bridge's folder, with the meter key made in
        it; returns the key's address."""
        meter = SimulatedMeter(
            self.protocol,
            peak_w=self.peak_w,
            load_percent=self.load_percent,
            equipment_id="E00310030000" + self.gsrn[-5:],
            shade=self.shade,
        )
        self.site = bridges.Site(folder / self.label.split(",")[0].lower(), meter, self.id)
        return self.site.make_key()


def community() -> list[DemoMeter]:
    """The demo's meters, fresh: new device keys, registers at their starting values."""
    return [
        DemoMeter(
            "Anna, 6 kWp solar",
            1,
            "57131310000000001",
            "both",
            "dsmr5",
            peak_w=6_000,
            price=15 * 10**13,
        ),
        DemoMeter("Ben, household", 2, "57131310000000002", "consumption", "sml", load_percent=120),
        DemoMeter(
            "Carl, 4 kWp solar",
            3,
            "57131310000000003",
            "both",
            "dsmr4",
            peak_w=4_000,
            load_percent=80,
            price=14 * 10**13,
        ),
    ]


def units(amount: int, decimals: int, places: int = 4) -> str:
    """A base-unit amount in whole units, exactly (display only)."""
    return f"{Decimal(amount).scaleb(-decimals):,.{places}f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, ["-" * width for width in widths], *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def trade_tomorrow(say, w3, deployments, accounts, meters, tomorrow, interval) -> dict:
    """Anna and Carl offer tomorrow's forecast surplus; Ben buys his forecast load:
    the cheapest offers first, and around noon a bid that Anna takes, whose
    certificates are retired on delivery. Returns the deals per interval begin, as
    ``settle_many`` takes them: (deal id, terms)."""
    anna, ben, carl = meters
    actor = {m.label: actions.Actor(w3, accounts[m.owner_index], deployments) for m in meters}
    exchange = actor[ben.label].contract("Exchange")
    registry = actor[ben.label].contract("GGORegistry")
    actor[ben.label].send(
        actor[ben.label].contract("Wallet").functions.approve(exchange.address, 2**256 - 1)
    )
    actor[ben.label].send(registry.functions.setApprovalForAll(exchange.address, True))

    def placed(receipt) -> int:
        (event,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
        return event["args"]["order_id"]

    def dealt(receipt, begin: int, seller: DemoMeter, wh: int) -> None:
        (event,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)
        deals[begin].append(actions.settlement(event, exchange.abi))
        seller.sold += wh
        ben.bought += wh

    deals: dict[int, list[tuple]] = defaultdict(list)
    offered = {anna.label: 0, carl.label: 0}
    bid_wh = 0
    for hour in range(24):
        begin = tomorrow + hour * interval
        book = []  # (price, order id, seller, open Wh)
        for seller in (anna, carl):
            solar, load = seller.forecast(begin)
            wh = max(solar - load, 0) * OFFER_PERCENT // 100
            if wh < MIN_OFFER_WH:
                continue
            order_id = placed(
                actor[seller.label].send(
                    exchange.functions.offer(seller.id, begin, wh, seller.price)
                )
            )
            book.append((seller.price, order_id, seller, wh))
            offered[seller.label] += wh
        if not book:
            continue
        need = ben.forecast(begin)[1]
        if begin // interval % 24 in BID_HOURS:
            order_id = placed(
                actor[ben.label].send(exchange.functions.bid(ben.id, begin, need, BID_PRICE, True))
            )
            receipt = actor[anna.label].send(
                exchange.functions.take(order_id, need, BID_PRICE, 0, anna.id)
            )
            dealt(receipt, begin, anna, need)
            bid_wh += need
            continue
        for price, order_id, seller, wh in sorted(book, key=lambda offer: offer[:2]):
            amount = min(wh, need)
            receipt = actor[ben.label].send(
                exchange.functions.take(order_id, amount, price, 0, ben.id)
            )
            dealt(receipt, begin, seller, amount)
            need -= amount
            if need == 0:
                break
    for seller in (anna, carl):
        say(
            f"   {seller.label:<20} offers {units(offered[seller.label], 3, 3)} kWh "
            f"at {units(seller.price * 1000, 18, 2)} per kWh; sells {units(seller.sold, 3, 3)}"
        )
    say(
        f"   {ben.label:<20} buys {units(ben.bought, 3, 3)} kWh in "
        f"{sum(map(len, deals.values()))} deals, {units(bid_wh, 3, 3)} of them by bidding "
        f"{units(BID_PRICE * 1000, 18, 2)} per kWh at {', '.join(f'{h}:00' for h in BID_HOURS)} "
        "UTC, certificates to be retired on delivery"
    )
    return deals


def wait_for_readings(smb, meters: list[DemoMeter], end: int) -> None:
    """Waits until every meter's bridge has put its reading for ``end`` on chain."""
    deadline = time.monotonic() + READING_TIMEOUT
    while True:
        late = [m for m in meters if smb.functions.last_reading(m.id).call()[0] < end]
        if not late:
            return
        for meter in late:
            meter.site.check_alive()
        if time.monotonic() > deadline:
            meter = late[0]
            raise RuntimeError(
                f"no reading for {end} from {meter.label}'s bridge in {READING_TIMEOUT} s; "
                f"its log ends:\n{meter.site.log_tail()}"
            )
        time.sleep(0.02)  # a poll: the bridges relay on their own


def hourly_settlements(say, w3, deployments, keeper, meters, deals, start, stepper) -> int:
    """Moves anvil's clock and the meters' to each hour's end, waits for the
    bridges' readings, then settles the hour's deals and every meter's interval;
    returns the deals settled."""
    as_keeper = actions.Actor(w3, keeper, deployments)
    smb = as_keeper.contract("SmartMeterBackend")
    ob = as_keeper.contract("OperatorBackend")
    exchange = as_keeper.contract("Exchange")
    interval = smb.functions.interval_length().call()
    by_id = {meter.id: meter for meter in meters}
    settled_deals = 0
    for hour in range(HOURS + 1):
        end = start + hour * interval
        begin = end - interval
        if w3.eth.get_block("latest")["timestamp"] < end:
            advance_time(w3, end)
        since = w3.eth.block_number
        stepper.advance(end)
        wait_for_readings(smb, meters, end)
        if hour == 0:
            say("   hour  0: every bridge relayed its meter's baseline reading")
            continue
        measured = smb.events.MeasurementRecorded().get_logs(
            from_block=since, argument_filters={"interval_begin": begin}
        )
        for event in measured:
            meter = by_id[event["args"]["meter_id"]]
            meter.produced += event["args"]["produced_wh"]
            meter.consumed += event["args"]["consumed_wh"]
            meter.hourly[begin] = (event["args"]["produced_wh"], event["args"]["consumed_wh"])
        if deals.get(begin):
            receipt = as_keeper.send(exchange.functions.settle_many(deals[begin]))
            for event in exchange.events.DealSettled().process_receipt(receipt, errors=DISCARD):
                terms = dict(deals[begin])[event["args"]["deal_id"]]
                seller, buyer, sold = by_id[terms[3]], by_id[terms[4]], terms[6]
                seller.delivered_sold += event["args"]["delivered_wh"]
                buyer.delivered_bought += event["args"]["delivered_wh"]
                seller.received += event["args"]["payment"]
                buyer.paid += event["args"]["payment"]
                settled_deals += 1
                if event["args"]["delivered_wh"] < sold:
                    # A cloud only where the profile has one; else the forecast was high.
                    why = (
                        f"a cloud over {seller.label.split(',')[0]}'s roof"
                        if begin in seller.shade
                        else f"{seller.label.split(',')[0]} produced less than forecast"
                    )
                    say(
                        f"   hour {hour:>2}: {why}: {event['args']['delivered_wh']} of {sold} Wh "
                        "sold delivered, paid pro rata, the rest refunded"
                    )
        receipt = as_keeper.send(
            ob.functions.settle_many(smb.address, [(meter.id, begin) for meter in meters])
        )
        settled = ob.events.IntervalSettled().process_receipt(receipt, errors=DISCARD)
        for meter, event in zip(meters, settled, strict=True):
            meter.reward += event["args"]["reward"]
            meter.bill += event["args"]["bill"]
            meter.feed_in_wh += event["args"]["feed_in_wh"]
            meter.retail_wh += event["args"]["retail_wh"]
        if hour % 12 == 0:
            say(
                f"   hour {hour:>2}: {hour * len(meters)} readings relayed by the bridges, "
                f"{settled_deals} deals and {hour * len(meters)} intervals settled so far"
            )
    return settled_deals


def bridge_summary(meter: DemoMeter) -> str:
    """One line of what the meter's bridge did, as ``meter-bridge status`` tells it."""
    summary = meter.site.summary()
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(summary["skipped"].items()))
    readings = summary["delivered"] + summary["outbox"] + summary["rejected"]
    return (
        f"bridge: {summary['telegrams']:,} {meter.protocol} telegrams stored, {readings} hourly "
        f"readings, {summary['rejected']} rejected, skipped {skipped or 'none'}; "
        f"last batch {summary['last_cid']}"
    )


@contextmanager
def stopping_on_sigterm():
    """SIGTERM (systemd, docker, ``kill``) stops the demo as Ctrl-C does: the dApp,
    the indexer, the bridges and the chain are stopped on the way out. Python's
    default SIGTERM ends the process at once, leaving the demo's anvil running on
    its port. Only the main thread may set a handler: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(say=print, serve: bool = False, port: int = DAPP_PORT) -> dict:
    """Runs the scenario; returns the final figures per meter label, for tests. With
    ``serve``, then serves the dApp on the demo's chain until Ctrl-C or SIGTERM."""
    with stopping_on_sigterm():
        return _run(say, serve, port)


def _run(say, serve: bool, port: int) -> dict:
    began = time.monotonic()
    accounts = dev_accounts(10)
    operator, body, installer, relayer, keeper = (accounts[i] for i in (0, 4, 5, 6, 7))
    meters = community()
    anna, ben, carl = meters
    producers = [anna, carl]
    with (
        run_anvil(extra_args=["--timestamp", str(GENESIS)]) as node,
        tempfile.TemporaryDirectory() as folder,
        connected("anvil", url=node.url) as conn,
    ):
        say(f"anvil listening on {node.url} (chain id {node.chain_id})")
        deployments = deploy_all(conn, Path(folder))
        w3 = conn.w3
        as_operator = actions.Actor(w3, operator, deployments)
        token = as_operator.contract("Wallet")
        smb = as_operator.contract("SmartMeterBackend")
        ob = as_operator.contract("OperatorBackend")
        exchange = as_operator.contract("Exchange")
        registry = as_operator.contract("GGORegistry")
        symbol = token.functions.symbol().call()
        decimals = token.functions.decimals().call()

        say("\n1. Token sale")
        for meter in meters:
            owner = accounts[meter.owner_index]
            receipt = actions.Actor(w3, owner, deployments).send(
                token.functions.buyTokens(), value=ETHER // 10
            )
            (bought,) = token.events.TokensPurchased().process_receipt(receipt, errors=DISCARD)
            say(
                f"   {meter.label:<20} bought {units(bought['args']['tokens'], decimals, 2)} "
                f"{symbol} for 0.1 ETH"
            )

        say("\n2. Roles and meters")
        actions.set_issuing_body(as_operator, SECTOR, body.address)
        actions.certify_installer(actions.Actor(w3, body, deployments), SECTOR, installer.address)
        say(
            f"   issuing body {body.address} appointed for {SECTOR}; "
            f"installer {installer.address} certified"
        )
        as_installer = actions.Actor(w3, installer, deployments)
        for meter in meters:
            producing = meter.kind != "consumption"
            signer = meter.install(Path(folder))
            # The meter key relays its own readings: the community's relayer pays its gas.
            send_ether(w3, relayer, signer, ETHER // 10)
            actions.register_meter(
                as_installer,
                meter.id,
                signer,
                accounts[meter.owner_index].address,
                SECTOR,
                meter.kind,
                meter.peak_w,
                "T020002" if producing else "",
                "F01050100" if producing else "",
            )
            actions.accept_meter(as_installer.with_account(accounts[meter.owner_index]), meter.id)
            say(
                f"   {meter.label:<20} {meter.protocol} meter, GSRN {meter.gsrn} -> meter id "
                f"0x{meter.id.hex()[:12]}…, key {signer} (made on the device, 0.1 ETH for gas)"
            )

        tariff = ob.functions.tariff_at(0).call()
        say(
            f"\n3. Operator: retail {units(tariff[0] * 1000, decimals)} {symbol}/kWh, feed-in "
            f"{units(tariff[1] * 1000, decimals)} {symbol}/kWh; treasury funded with 500 {symbol}"
        )
        actions.fund_treasury(as_operator, 500 * 10**decimals)
        as_ben = actions.Actor(w3, accounts[ben.owner_index], deployments)
        as_ben.send(token.functions.approve(ob.address, 20 * 10**decimals))
        as_ben.send(ob.functions.deposit(20 * 10**decimals))
        say(f"   Ben prepays 20 {symbol} into his ledger")

        interval = smb.functions.interval_length().call()
        now = w3.eth.get_block("latest")["timestamp"]
        start = now - now % interval + interval
        tomorrow = start + 24 * interval
        cloudy = tomorrow + 14 * interval - tomorrow % (24 * interval)
        if cloudy < tomorrow:
            cloudy += 24 * interval
        carl.shade[cloudy] = 15  # not in any forecast
        say(
            f"\n4. The market for tomorrow, {time.strftime('%Y-%m-%d', time.gmtime(tomorrow))} "
            f"from {time.strftime('%H:%M UTC', time.gmtime(tomorrow))}, gate closure "
            f"{exchange.functions.lead_time().call() // 60} min before each hour"
        )
        deals = trade_tomorrow(say, w3, deployments, accounts, meters, tomorrow, interval)

        say(
            f"\n5. {HOURS} hours of meter readings through the bridges, and settlements, from "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}, a telegram a minute "
            "per meter, as fast as the bridges take them"
        )
        deployments_file = Path(folder) / "deployments.json"
        deployments_file.write_text(json.dumps(deployments))
        sites = [meter.site for meter in meters]
        clock = bridges.SteppedClock(Path(folder) / "clock", start - TELEGRAM_EVERY, interval)
        with bridges.running(sites, clock, node.url, deployments_file, TELEGRAM_EVERY) as stepper:
            settled_deals = hourly_settlements(
                say, w3, deployments, keeper, meters, deals, start, stepper
            )
        for meter in meters:
            say(f"   {meter.label:<20} {bridge_summary(meter)}")

        say("\n6. Certificates of origin")
        as_keeper = actions.Actor(w3, keeper, deployments)
        for meter in producers:
            begins = sorted(begin for begin, (p, _) in meter.hourly.items() if p)
            as_keeper.send(registry.functions.issue_many([meter.id] * len(begins), begins))
            ids = [registry.functions.certificate_id(meter.id, b).call() for b in begins]
            meter.issued = sum(registry.functions.certificate(i).call()[6] for i in ids)
            say(
                f"   {meter.label:<20} {len(ids)} hourly certificates, "
                f"{units(meter.issued, 3, 3)} kWh; the Wh sold went through the Exchange's custody"
            )
        hours = [(m, b) for m in producers for b in sorted(m.hourly) if m.hourly[b][0]]
        issued = [registry.functions.certificate_id(m.id, b).call() for m, b in hours]
        owner = accounts[ben.owner_index].address
        holdings = registry.functions.balanceOfBatch([owner] * len(issued), issued).call()
        # He bought about his forecast load; the registry lets him retire no more
        # than each hour's measured consumption, less what is retired against it.
        room = {
            b: ben.hourly[b][1] - registry.functions.retired_against(ben.id, b).call()
            for _, b in hours
        }
        claims = []
        for (_, begin), cert, wh in zip(hours, issued, holdings, strict=True):
            wh = min(wh, room[begin])
            if wh:
                claims.append((cert, wh, ben.id))
                room[begin] -= wh
        # The Exchange retired the certificates of Ben's bids on delivery, with Ben
        # as the claimant.
        on_delivery = sum(registry.functions.claimedBalanceOf(owner, i).call() for i in issued)
        as_ben.send(registry.functions.retire_many(claims, b"Ben's household, hourly matched"))
        say(
            f"   Ben's bids: {units(on_delivery, 3, 3)} kWh retired on delivery; of the "
            f"{units(sum(holdings), 3, 3)} kWh of certificates he received, he retires "
            f"{units(sum(wh for _, wh, _ in claims), 3, 3)} against his consumption of the "
            "same hours"
        )

        for meter in meters:
            actor = actions.Actor(w3, accounts[meter.owner_index], deployments)
            if exchange.functions.credit_of(actor.account.address).call():
                actor.send(exchange.functions.withdraw_credit())
        say("   Anna, Carl and Ben withdraw their payments and refunds from the Exchange")

        for meter in meters:
            holder = accounts[meter.owner_index].address
            meter.held = sum(
                registry.functions.balanceOfBatch([holder] * len(issued), issued).call()
            )
            meter.retired = sum(
                registry.functions.claimedBalanceOf(holder, i).call() for i in issued
            )

        figures = report(say, meters, ob, accounts, symbol, decimals)
        say(
            f"\noperator treasury: {units(ob.functions.treasury().call(), decimals)} {symbol}; "
            f"{HOURS * len(meters)} measurements and {settled_deals} deals settled"
        )
        figures[ben.label]["scope2"] = scope2_statement(
            say, w3, deployments, accounts, ben, start, start + HOURS * interval, Path(folder)
        )
        say(f"\ndone in {time.monotonic() - began:.1f} s")
        if serve:
            serve_dapp(say, node.url, deployments_file, Path(folder), accounts, meters, port)
    return figures


def scope2_statement(say, w3, deployments, accounts, ben, begin, end, folder) -> dict:
    """Ben's attested Scope 2 statement over his meter's measured hours
    [begin, end), from illustrative factors; printed; returns its figures."""
    body, publisher, auditor = accounts[4], accounts[8], accounts[9]
    as_body = actions.Actor(w3, body, deployments)
    emissions.appoint(as_body, "publisher", SECTOR, publisher.address)
    emissions.appoint(as_body, "auditor", SECTOR, auditor.address)
    as_publisher = as_body.with_account(publisher)
    hourly = [bill.mg_per_kwh(g) for g in DEMO_HOURLY_G]
    year = time.gmtime(begin).tm_year
    source = (
        "sector,hour,g_co2e_per_kwh\n"
        + "".join(f"{SECTOR},{h:02d},{g}\n" for h, g in enumerate(DEMO_HOURLY_G))
        + f"{SECTOR},year,{DEMO_LOCATION_G}\n{SECTOR},residual mix,{DEMO_RESIDUAL_G}\n"
        + "illustrative figures made up for the OpenKWh demo, not any source's data\n"
    ).encode()
    cid = str(BlobStore(folder / "blobs").put(source))
    name = "illustrative factors (OpenKWh demo)"
    for day in range(begin - begin % 86_400, end, 86_400):
        emissions.publish_day(as_publisher, SECTOR, day, hourly, name, cid)
    location, residual = bill.mg_per_kwh(DEMO_LOCATION_G), bill.mg_per_kwh(DEMO_RESIDUAL_G)
    emissions.publish_year(
        as_publisher, SECTOR, emissions.KIND_LOCATION_YEAR, year, location, name, cid
    )
    emissions.publish_year(
        as_publisher, SECTOR, emissions.KIND_RESIDUAL_YEAR, year, residual, name, cid
    )
    as_ben = as_body.with_account(accounts[ben.owner_index])
    made = emissions.make_statement(as_ben, ben.id, begin, end)["statement"]
    as_auditor = as_body.with_account(auditor)
    note = "measurements, retirements and factors checked"
    emissions.attest(as_auditor, made["id"], note, None, None, folder / "blobs")
    statement = emissions.statement(as_ben, made["id"])
    say(
        f"\n7. Ben's Scope 2 statement for {time.strftime('%B %Y', time.gmtime(begin))}: his "
        f"meter's {(end - begin) // 3_600} hours on chain, from factors that are illustrative "
        "(made up for the demo), attested"
    )
    for line in emissions.describe(statement):
        say(f"   {line}")
    return {
        key: statement[key]
        for key in (
            "id",
            "begin",
            "end",
            "consumed_wh",
            "matched_wh",
            "location_ug",
            "market_ug",
            "location_g",
            "market_g",
            "attestations",
        )
    }


def serve_dapp(say, rpc_url, deployments_file, folder, accounts, meters, port) -> None:
    """The dApp on the demo's chain: the indexer as its own process, catching up
    first, then following; the app under waitress on loopback, until Ctrl-C."""
    from waitress import create_server

    from openkwh.dapp import create_app

    database = folder / "dapp-index.sqlite"
    indexer = [sys.executable, "-m", "openkwh.dapp.indexer", "--rpc-url", rpc_url]
    indexer += ["--deployments", str(deployments_file), "--database", str(database)]
    indexer += ["--confirmations", "1"]
    subprocess.run([*indexer, "--once"], check=True, stdout=subprocess.DEVNULL)
    with (folder / "indexer.log").open("ab") as log:
        follower = subprocess.Popen(indexer, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        app = create_app(
            {"RPC_URL": rpc_url, "DEPLOYMENTS": str(deployments_file), "DATABASE": str(database)}
        )
        server = create_server(app, host="127.0.0.1", port=port)
        chain_id = json.loads(deployments_file.read_text())["chain_id"]
        say(f"\nThe dApp is at http://127.0.0.1:{server.effective_port} with the demo's data.")
        say(
            f"Connect a browser wallet: add the network with chain id {chain_id} and RPC URL "
            f"{rpc_url} (the page offers to add it), then import a demo account's key:"
        )
        for meter in meters:
            account = accounts[meter.owner_index]
            say(
                f"   {meter.label:<20} {account.address}  key 0x{account.key.hex().removeprefix('0x')}"
            )
        say("These are anvil's public development keys: never use them elsewhere. Ctrl-C stops.")
        try:
            server.run()  # returns on Ctrl-C: waitress handles the KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        finally:
            say("\nstopping: the dApp, the indexer, the chain")
            server.close()
            follower.terminate()
            follower.wait(timeout=10)


def report(say, meters, ob, accounts, symbol, decimals) -> dict:
    """Prints the energy, money and certificate tables; returns the figures per meter."""
    figures = {}
    for meter in meters:
        owner = accounts[meter.owner_index].address
        figures[meter.label] = {
            "produced_wh": meter.produced,
            "consumed_wh": meter.consumed,
            "sold_wh": meter.sold,
            "bought_wh": meter.bought,
            "delivered_sold_wh": meter.delivered_sold,
            "delivered_bought_wh": meter.delivered_bought,
            "feed_in_wh": meter.feed_in_wh,
            "retail_wh": meter.retail_wh,
            "received": meter.received,
            "paid": meter.paid,
            "reward": meter.reward,
            "bill": meter.bill,
            "balance": ob.functions.balance_of(owner).call(),
            "debt": ob.functions.debt_of(owner).call(),
            "issued_wh": meter.issued,
            "held_wh": meter.held,
            "retired_wh": meter.retired,
        }

    def kwh(wh: int) -> str:
        return units(wh, 3, 3)

    def tokens(amount: int) -> str:
        return units(amount, decimals)

    say("\nEnergy, kWh: traded on the Exchange, then the operator's residuals")
    say(
        table(
            [
                [
                    m.label,
                    kwh(m.produced),
                    kwh(m.consumed),
                    kwh(m.sold),
                    kwh(m.delivered_sold),
                    kwh(m.bought),
                    kwh(m.delivered_bought),
                    kwh(m.feed_in_wh),
                    kwh(m.retail_wh),
                ]
                for m in meters
            ],
            [
                "meter",
                "produced",
                "consumed",
                "sold",
                "delivered",
                "bought",
                "received",
                "feed-in residual",
                "retail residual",
            ],
        )
    )
    say(f"\nMoney, {symbol}")
    say(
        table(
            [
                [
                    m.label,
                    tokens(m.received),
                    tokens(m.paid),
                    tokens(m.reward),
                    tokens(m.bill),
                    tokens(figures[m.label]["balance"]),
                    tokens(figures[m.label]["debt"]),
                ]
                for m in meters
            ],
            [
                "meter",
                "market received",
                "market paid",
                "feed-in reward",
                "retail bill",
                "operator ledger",
                "debt",
            ],
        )
    )
    say("\nCertificates of origin, kWh")
    say(
        table(
            [
                [
                    m.label,
                    kwh(m.issued),
                    kwh(m.held),
                    kwh(m.retired),
                    f"{Decimal(m.retired * 100) / m.consumed:.1f} %" if m.consumed else "-",
                ]
                for m in meters
            ],
            ["meter", "issued", "held", "retired", "hourly-matched share"],
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m openkwh.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        default=os.environ.get("DEMO_HEADLESS") == "1",
        help="run the scenario and exit, without serving the dApp (also DEMO_HEADLESS=1)",
    )
    parser.add_argument("--port", type=int, default=DAPP_PORT, help="the dApp's port on loopback")
    parser.add_argument(
        "--hub",
        action="store_true",
        default=os.environ.get("DEMO_HUB") == "1",
        help="instead: one household through the data hub (openkwh.demo.hub; also DEMO_HUB=1)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # The demo tells its story in its own words: the role commands' lines stay out.
    logging.getLogger("openkwh.commands.actions").setLevel(logging.WARNING)
    logging.getLogger("openkwh.commands.emissions").setLevel(logging.WARNING)
    if args.hub:
        from openkwh.demo import hub

        with stopping_on_sigterm():
            hub.run()
        return 0
    run(serve=not args.headless, port=args.port)
    return 0

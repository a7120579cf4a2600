"""make demo: two days of a small energy community on a local chain.

Starts anvil on loopback and deploys with the same code as `make deploy`. The
admin appoints an issuing body for DK1, which certifies an installer, who
registers two rooftop-solar households and one household without panels, each
meter with its own key. Then anvil's clock moves hour by hour through 48 hours:
every meter signs its registers from a realistic profile, a relayer submits the
readings, a keeper settles every interval with the operator, and a table shows
what each meter produced and consumed and what it earned and paid.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.logs import DISCARD

from meter_bridge import profiles
from meter_bridge.signing import Reading, gs1_check_digit, meter_id, sign_reading
from scripts import actions
from scripts.anvil import dev_accounts, run_anvil
from scripts.chain import advance_time
from scripts.deploy import deploy_all
from scripts.network import connected

ETHER = 10**18  # wei
HOURS = 48
SECTOR = "DK1"
SALT = keccak(text="openkwh demo salt")  # the operator's salt for meter ids (demo only)


@dataclass
class DemoMeter:
    label: str
    owner_index: int  # anvil dev account
    gsrn_body: str  # 17 digits; the check digit is computed
    kind: str
    peak_w: int = 0  # solar array
    load_percent: int = 100  # household consumption, percent of the reference profile
    key: LocalAccount = field(default_factory=Account.create)  # made "on the device"
    imported: int = 4_210_000  # register, Wh
    exported: int = 1_870_000  # register, Wh
    produced: int = 0  # Wh measured on chain during the demo
    consumed: int = 0
    hourly: dict = field(default_factory=dict)  # interval begin -> (produced Wh, consumed Wh)
    issued: int = 0  # certificate Wh
    held: int = 0
    retired: int = 0
    reward: int = 0  # token base units
    bill: int = 0

    @property
    def gsrn(self) -> str:
        return self.gsrn_body + str(gs1_check_digit(self.gsrn_body))

    @property
    def id(self) -> bytes:
        return meter_id(self.gsrn, SALT)

    def step(self, begin: int) -> None:
        """Moves the registers through the hour that begins at ``begin``."""
        solar = profiles.solar_wh(self.peak_w, begin) if self.peak_w else 0
        load = profiles.household_wh(begin, self.load_percent)
        imported, exported = profiles.net_flows(solar, load)
        self.imported += imported
        self.exported += exported


def community() -> list[DemoMeter]:
    """The demo's meters, fresh: new device keys, registers at their starting values."""
    return [
        DemoMeter("Anna, 6 kWp solar", 1, "57131310000000001", "both", peak_w=6_000),
        DemoMeter("Ben, household", 2, "57131310000000002", "consumption", load_percent=120),
        DemoMeter(
            "Carl, 4 kWp solar", 3, "57131310000000003", "both", peak_w=4_000, load_percent=80
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


def run(say=print) -> dict:
    """Runs the scenario; returns the final figures per meter label, for tests."""
    began = time.monotonic()
    accounts = dev_accounts(8)
    operator, body, installer, relayer, keeper = (accounts[i] for i in (0, 4, 5, 6, 7))
    meters = community()
    with (
        run_anvil() as node,
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
            actions.register_meter(
                as_installer,
                meter.id,
                meter.key.address,
                accounts[meter.owner_index].address,
                SECTOR,
                meter.kind,
                meter.peak_w,
                "T020002" if producing else "",
                "F01050100" if producing else "",
            )
            say(
                f"   {meter.label:<20} GSRN {meter.gsrn} -> meter id 0x{meter.id.hex()[:12]}…, "
                f"key {meter.key.address}"
            )

        tariff = ob.functions.tariff_at(0).call()
        say(
            f"\n3. Operator: retail {units(tariff[0] * 1000, decimals)} {symbol}/kWh, feed-in "
            f"{units(tariff[1] * 1000, decimals)} {symbol}/kWh; treasury funded with 500 {symbol}"
        )
        actions.fund_treasury(as_operator, 500 * 10**decimals)
        ben = actions.Actor(w3, accounts[2], deployments)
        ben.send(token.functions.approve(ob.address, 20 * 10**decimals))
        ben.send(ob.functions.deposit(20 * 10**decimals))
        say(f"   Ben prepays 20 {symbol} into his ledger")

        interval = smb.functions.interval_length().call()
        now = w3.eth.get_block("latest")["timestamp"]
        start = now - now % interval + interval
        say(
            f"\n4. {HOURS} hours of readings and settlements, from {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))}"
        )
        as_relayer = actions.Actor(w3, relayer, deployments)
        as_keeper = actions.Actor(w3, keeper, deployments)
        for hour in range(HOURS + 1):
            end = start + hour * interval
            if hour:
                for meter in meters:
                    meter.step(end - interval)
            advance_time(w3, end)
            batch = [
                sign_reading(
                    meter.key,
                    Reading(
                        meter.id,
                        end,
                        meter.imported,
                        meter.exported,
                        keccak(text=f"telegrams {meter.gsrn} {end}"),
                    ),
                    conn.chain_id,
                    smb.address,
                ).contract_args()
                for meter in meters
            ]
            receipt = as_relayer.send(smb.functions.submit_readings(batch))
            if hour == 0:
                continue
            measured = smb.events.MeasurementRecorded().process_receipt(receipt, errors=DISCARD)
            for meter, event in zip(meters, measured, strict=True):
                meter.produced += event["args"]["produced_wh"]
                meter.consumed += event["args"]["consumed_wh"]
                meter.hourly[event["args"]["interval_begin"]] = (
                    event["args"]["produced_wh"],
                    event["args"]["consumed_wh"],
                )
            receipt = as_keeper.send(
                ob.functions.settle_many(
                    smb.address, [(meter.id, end - interval) for meter in meters]
                )
            )
            settled = ob.events.IntervalSettled().process_receipt(receipt, errors=DISCARD)
            for meter, event in zip(meters, settled, strict=True):
                meter.reward += event["args"]["reward"]
                meter.bill += event["args"]["bill"]
            if hour % 12 == 0:
                say(
                    f"   hour {hour:>2}: {len(meters)} readings relayed, {len(settled)} intervals settled"
                )

        registry = as_operator.contract("GGORegistry")
        producers = [meter for meter in meters if meter.kind != "consumption"]
        say("\n5. Certificates of origin")
        for meter in producers:
            begins = sorted(begin for begin, (p, _) in meter.hourly.items() if p)
            receipt = as_keeper.send(
                registry.functions.issue_many([meter.id] * len(begins), begins)
            )
            issued = registry.events.CertificateIssued().process_receipt(receipt, errors=DISCARD)
            meter.issued = sum(event["args"]["issued_wh"] for event in issued)
            say(
                f"   {meter.label:<20} {len(issued)} hourly certificates, "
                f"{units(meter.issued, 3, 3)} kWh"
            )

        anna, ben = meters[0], meters[1]
        matched = sorted(
            (begin, min(anna.hourly[begin][0], ben.hourly[begin][1]))
            for begin in anna.hourly
            if anna.hourly[begin][0] and ben.hourly[begin][1]
        )
        ids = [registry.functions.certificate_id(anna.id, begin).call() for begin, _ in matched]
        amounts = [wh for _, wh in matched]
        as_anna = actions.Actor(w3, accounts[anna.owner_index], deployments)
        as_ben = actions.Actor(w3, accounts[ben.owner_index], deployments)
        as_anna.send(
            registry.functions.safeBatchTransferFrom(
                as_anna.account.address, as_ben.account.address, ids, amounts, b""
            )
        )
        say(
            f"   Anna splits {len(ids)} certificates and passes {units(sum(amounts), 3, 3)} kWh "
            "to Ben, hour by hour"
        )
        as_ben.send(
            registry.functions.retire_many(
                [(i, wh, ben.id) for i, wh in zip(ids, amounts, strict=True)],
                b"Ben's household, hourly matched",
            )
        )
        say("   Ben retires them against his consumption of the same hours")
        issued = [
            registry.functions.certificate_id(m.id, b).call()
            for m in producers
            for b in m.hourly
            if m.hourly[b][0]
        ]
        for meter in meters:
            owner = accounts[meter.owner_index].address
            meter.held = sum(
                registry.functions.balanceOfBatch([owner] * len(issued), issued).call()
            )
            meter.retired = sum(
                registry.functions.claimedBalanceOf(owner, i).call() for i in issued
            )

        rows = []
        figures = {}
        for meter in meters:
            owner = accounts[meter.owner_index].address
            balance = ob.functions.balance_of(owner).call()
            debt = ob.functions.debt_of(owner).call()
            figures[meter.label] = {
                "produced_wh": meter.produced,
                "consumed_wh": meter.consumed,
                "reward": meter.reward,
                "bill": meter.bill,
                "balance": balance,
                "debt": debt,
                "issued_wh": meter.issued,
                "held_wh": meter.held,
                "retired_wh": meter.retired,
            }
            rows.append(
                [
                    meter.label,
                    units(meter.produced, 3, 3),
                    units(meter.consumed, 3, 3),
                    units(meter.reward, decimals),
                    units(meter.bill, decimals),
                    units(balance, decimals),
                    units(debt, decimals),
                ]
            )
        say("")
        say(
            table(
                rows,
                [
                    "meter",
                    "produced kWh",
                    "consumed kWh",
                    f"feed-in {symbol}",
                    f"bill {symbol}",
                    f"ledger {symbol}",
                    f"debt {symbol}",
                ],
            )
        )
        say(
            f"\noperator treasury: {units(ob.functions.treasury().call(), decimals)} {symbol}; "
            f"{HOURS * len(meters)} measurements settled"
        )
        say("")
        say(
            table(
                [
                    [
                        m.label,
                        units(m.issued, 3, 3),
                        units(m.held, 3, 3),
                        units(m.retired, 3, 3),
                        f"{Decimal(m.retired * 100) / m.consumed:.1f} %" if m.consumed else "-",
                    ]
                    for m in meters
                ],
                [
                    "meter",
                    "certificates issued kWh",
                    "held kWh",
                    "retired kWh",
                    "hourly-matched share",
                ],
            )
        )
        say(f"\ndone in {time.monotonic() - began:.1f} s")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""make demo: a local chain, the OpenKWh contracts, and a token sale, end to end.

Starts anvil on loopback, deploys with the same code as `make deploy`, lets two
of anvil's dev accounts buy settlement tokens over JSON-RPC, prints everyone's
balances, and stops the chain.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from web3.logs import DISCARD

from scripts.anvil import dev_accounts, run_anvil
from scripts.chain import contract, transact
from scripts.deploy import deploy_all
from scripts.network import connected

ETHER = 10**18  # wei
PURCHASES = [("prosumer", 1, 3 * ETHER // 2), ("household", 2, ETHER // 4)]  # wei paid


def units(amount: int, decimals: int) -> str:
    """A base-unit amount shown in whole units, exactly (display only)."""
    return f"{Decimal(amount).scaleb(-decimals):,.4f}"


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
    """Run the scenario; returns the final balances by label for callers and tests."""
    accounts = dev_accounts(3)
    with (
        run_anvil() as node,
        tempfile.TemporaryDirectory() as folder,
        connected("anvil", url=node.url) as conn,
    ):
        say(f"anvil listening on {node.url} (chain id {node.chain_id})")
        deployments = deploy_all(conn, Path(folder))
        w3 = conn.w3
        wallet = contract(w3, deployments, "Wallet")
        symbol = wallet.functions.symbol().call()
        decimals = wallet.functions.decimals().call()
        say(
            f"Wallet ({symbol}) at {wallet.address}, "
            f"{units(wallet.functions.sale_rate().call() * ETHER, decimals)} {symbol} per ether"
        )

        for label, index, paid in PURCHASES:
            buyer = accounts[index]
            receipt = transact(w3, buyer, wallet.functions.buyTokens(), value=paid)
            (bought,) = wallet.events.TokensPurchased().process_receipt(receipt, errors=DISCARD)
            say(
                f"{label} {buyer.address} bought {units(bought['args']['tokens'], decimals)} "
                f"{symbol} for {units(paid, 18)} ETH"
            )

        holders = [("operator (deployer)", accounts[0].address)]
        holders += [(label, accounts[index].address) for label, index, _ in PURCHASES]
        holders += [("Wallet (unsold)", wallet.address)]
        balances = {}
        rows = []
        for label, address in holders:
            tokens = wallet.functions.balanceOf(address).call()
            ether = w3.eth.get_balance(address)
            balances[label] = tokens
            rows.append([label, address, units(ether, 18), units(tokens, decimals)])
        say("")
        say(table(rows, ["holder", "address", "ETH", symbol]))
        say("")
        say(
            f"sold {units(wallet.functions.tokens_sold().call(), decimals)} {symbol} "
            f"for {units(wallet.functions.wei_raised().call(), 18)} ETH; "
            f"total supply {units(wallet.functions.totalSupply().call(), decimals)} {symbol}"
        )
    return balances


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

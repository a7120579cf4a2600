"""make bench: exact gas per operation, measured from transaction receipts on anvil.

Every figure is a whole transaction's ``gasUsed`` (21,000 intrinsic gas and
calldata included), on anvil with the cancun rules, so that it compares with
published figures such as Solady's. The table is printed and written to
``bench/gas.json``, which is committed like a gas snapshot: a diff shows every
regression. Gas is deterministic, so each operation is measured once, in a
state described next to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from scripts.anvil import PROJECT_ROOT, dev_accounts, run_anvil
from scripts.chain import contract, permit_typed_data, transact
from scripts.deploy import deploy_all
from scripts.network import connected

GAS_FILE = PROJECT_ROOT / "bench" / "gas.json"
HARDFORK = "cancun"
ETHER = 10**18  # wei

# Solady's ERC-20 on the same rules (anvil, cancun): the bar Wallet.vy keeps within 1 %.
SOLADY = {
    "Wallet.transfer_fresh": 51_160,
    "Wallet.transfer_existing": 34_060,
    "Wallet.approve": 46_106,
}


def fresh_account(label: str) -> LocalAccount:
    """A deterministic account that has never been used on the chain."""
    return Account.from_key(keccak(text=f"openkwh-bench-{label}"))


def measure_wallet(w3: Web3, deployments: dict, accounts: list[LocalAccount]) -> dict:
    """Gas of each Wallet operation, keyed as in bench/gas.json, with the state measured in."""
    wallet = contract(w3, deployments, "Wallet")
    owner, holder, spender, buyer = accounts[0], accounts[1], accounts[2], accounts[3]
    fn = wallet.functions
    gas: dict[str, dict] = {}

    def record(key: str, receipt, note: str) -> None:
        gas[key] = {"gas": receipt["gasUsed"], "state": note}  # "state" is printed, not saved

    deploy_block = w3.eth.get_block(deployments["contracts"]["Wallet"]["block"], True)
    (deploy_tx,) = [tx for tx in deploy_block["transactions"] if tx["to"] is None]
    record(
        "Wallet.deploy",
        w3.eth.get_transaction_receipt(deploy_tx["hash"]),
        "constructor: mints the supply to the owner and the sale cap to the contract",
    )

    transact(w3, owner, fn.transfer(holder.address, 10**24))
    record(
        "Wallet.transfer_fresh",
        transact(w3, owner, fn.transfer(fresh_account("receiver").address, 10**18)),
        "sender keeps a balance; receiver had none",
    )
    record(
        "Wallet.transfer_existing",
        transact(w3, owner, fn.transfer(holder.address, 10**18)),
        "sender keeps a balance; receiver already holds tokens",
    )
    record(
        "Wallet.approve",
        transact(w3, owner, fn.approve(spender.address, 10**21)),
        "allowance from zero to non-zero",
    )
    record(
        "Wallet.transferFrom",
        transact(w3, spender, fn.transferFrom(owner.address, holder.address, 10**18)),
        "finite allowance left non-zero; receiver already holds tokens",
    )

    signer = fresh_account("permit-signer")
    deadline = w3.eth.get_block("latest")["timestamp"] + 3_600
    permit = permit_typed_data(
        fn.name().call(),
        signer.address,
        spender.address,
        10**18,
        0,
        deadline,
        w3.eth.chain_id,
        wallet.address,
    )
    signed = signer.sign_typed_data(full_message=permit)
    record(
        "Wallet.permit",
        transact(
            w3,
            spender,
            fn.permit(
                signer.address,
                spender.address,
                10**18,
                deadline,
                signed.v,
                signed.r.to_bytes(32),
                signed.s.to_bytes(32),
            ),
        ),
        "owner's first permit (nonce 0 to 1), relayed by the spender",
    )

    transact(w3, holder, fn.buyTokens(), value=ETHER)
    record(
        "Wallet.buyTokens",
        transact(w3, buyer, fn.buyTokens(), value=ETHER),
        "buyer's first purchase; the sale has sold before",
    )
    return gas


SECTIONS: list[Callable[[Web3, dict, list[LocalAccount]], dict]] = [measure_wallet]


def format_table(gas: dict) -> str:
    lines = [f"{'operation':<32} {'gas':>10} {'reference':>10} {'delta':>8}  state"]
    for key, entry in gas.items():
        reference = SOLADY.get(key)
        ref = f"{reference:,}" if reference else ""
        delta = f"{(entry['gas'] - reference) / reference:+.2%}" if reference else ""
        lines.append(f"{key:<32} {entry['gas']:>10,} {ref:>10} {delta:>8}  {entry['state']}")
    return "\n".join(lines)


def run(out: Path = GAS_FILE) -> dict:
    with (
        run_anvil(hardfork=HARDFORK) as node,
        tempfile.TemporaryDirectory() as folder,
        connected("anvil", url=node.url) as conn,
    ):
        deployments = deploy_all(conn, Path(folder))
        accounts = dev_accounts(4)
        gas: dict[str, dict] = {}
        for section in SECTIONS:
            gas.update(section(conn.w3, deployments, accounts))
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = {key: {k: v for k, v in entry.items() if k != "state"} for key, entry in gas.items()}
    out.write_text(json.dumps(saved, indent=2) + "\n")
    return gas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=GAS_FILE, help="where to write the gas table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    gas = run(args.out)
    print(f"\nGas per operation (anvil, {HARDFORK}; reference: Solady ERC-20):\n")
    print(format_table(gas))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make demo` and `make bench` end to end, each on its own anvil node."""

import json

import pytest

from scripts import bench, demo

pytestmark = pytest.mark.anvil

ETHER = 10**18  # wei
RATE = 1_000  # token base units per wei, moccasin.toml's sale_rate

WALLET_KEYS = {
    "Wallet.deploy",
    "Wallet.transfer_fresh",
    "Wallet.transfer_existing",
    "Wallet.approve",
    "Wallet.transferFrom",
    "Wallet.permit",
    "Wallet.buyTokens",
}


def test_demo_sells_tokens_and_prints_the_table():
    lines = []
    balances = demo.run(say=lines.append)
    assert balances["prosumer"] == 3 * ETHER // 2 * RATE
    assert balances["household"] == ETHER // 4 * RATE
    output = "\n".join(lines)
    assert "holder" in output
    assert "1,500.0000" in output
    assert "sold 1,750.0000 OKWH for 1.7500 ETH" in output


def test_bench_writes_every_wallet_key(tmp_path):
    out = tmp_path / "gas.json"
    gas = bench.run(out)
    saved = json.loads(out.read_text())
    assert set(saved) >= WALLET_KEYS
    assert all(set(entry) <= {"gas", "floor"} for entry in saved.values())
    assert saved["Wallet.transfer_fresh"]["gas"] == gas["Wallet.transfer_fresh"]["gas"] > 21_000

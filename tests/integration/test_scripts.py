"""`make demo` and `make bench` end to end, each on its own anvil node."""

import json

import pytest

from scripts import bench, demo

pytestmark = pytest.mark.anvil

KEYS = {
    "Wallet.deploy",
    "Wallet.transfer_fresh",
    "Wallet.transfer_existing",
    "Wallet.approve",
    "Wallet.transferFrom",
    "Wallet.permit",
    "Wallet.buyTokens",
    "SmartMeterBackend.register_meter",
    "SmartMeterBackend.submit_reading_baseline",
    "SmartMeterBackend.submit_reading",
    "SmartMeterBackend.submit_readings_24_per_reading",
    "OperatorBackend.settle",
    "OperatorBackend.settle_many_24_per_interval",
    "GGORegistry.issue",
    "GGORegistry.issue_many_24_per_cert",
    "GGORegistry.transfer_fresh",
    "GGORegistry.retire",
    "GGORegistry.retire_many_24_per_cert",
    "EnergyWebRegistry.issue",
    "EnergyWebRegistry.batchIssueMultiple_24_per_cert",
    "EnergyWebRegistry.transfer_fresh",
    "EnergyWebRegistry.claim",
}


def test_demo_runs_two_days_of_readings_and_settlements():
    lines = []
    figures = demo.run(say=lines.append)
    anna, ben = figures["Anna, 6 kWp solar"], figures["Ben, household"]
    assert anna["produced_wh"] > 0
    assert ben["produced_wh"] == 0
    assert ben["consumed_wh"] > 0
    retail, feed_in = 3 * 10**14, 8 * 10**13  # moccasin.toml's tariff
    for meter in figures.values():
        assert meter["reward"] == meter["produced_wh"] * feed_in
        assert meter["bill"] == meter["consumed_wh"] * retail
    assert ben["balance"] == 20 * 10**18 - ben["bill"]
    assert anna["issued_wh"] == anna["produced_wh"]
    assert 0 < ben["retired_wh"] <= ben["consumed_wh"]
    assert anna["held_wh"] + ben["retired_wh"] == anna["issued_wh"]
    output = "\n".join(lines)
    assert "produced kWh" in output
    assert "144 measurements settled" in output
    assert "hourly-matched share" in output


def test_bench_writes_every_key_the_issues_name(tmp_path):
    out = tmp_path / "gas.json"
    gas = bench.run(out)
    saved = json.loads(out.read_text())
    assert set(saved) >= KEYS
    assert all(set(entry) <= {"gas", "floor"} for entry in saved.values())
    assert saved["Wallet.transfer_fresh"]["gas"] == gas["Wallet.transfer_fresh"]["gas"] > 21_000

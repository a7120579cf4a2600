"""The deploy code of `make deploy` against a real anvil node, then clients over JSON-RPC."""

import json
import subprocess
import sys

import pytest
from web3 import Web3
from web3.logs import DISCARD

from openkwh.chain import contract, transact
from openkwh.commands.deploy import deploy_all, deployments_path
from openkwh.devtools.anvil import PROJECT_ROOT

pytestmark = pytest.mark.anvil

ETHER = 10**18  # wei


def test_deploy_writes_the_deployments_file(anvil_connection, tmp_path):
    record = deploy_all(anvil_connection, tmp_path)
    on_disk = json.loads(deployments_path("anvil", tmp_path).read_text())
    assert on_disk == record
    assert on_disk["chain_id"] == 31_337
    assert on_disk["network"] == "anvil"
    contracts = on_disk["contracts"]
    assert list(contracts) == [
        "Wallet",
        "SmartMeterBackend",
        "MeasurementRoots",
        "OperatorBackend",
        "GGORegistry",
        "Exchange",
        "Auction",
        "EmissionsRegistry",
    ]
    # Block 2 is the roots' blueprint; the backend creates its roots in its own block.
    assert [entry["block"] for entry in contracts.values()] == [1, 3, 3, 4, 5, 6, 7, 8]
    for entry in contracts.values():
        assert Web3.is_checksum_address(entry["address"])
    wallet_functions = {entry.get("name") for entry in contracts["Wallet"]["abi"]}
    assert wallet_functions >= {"buyTokens", "permit", "transfer"}


def test_deploy_wires_the_contracts(anvil_connection, tmp_path):
    record = deploy_all(anvil_connection, tmp_path)
    w3 = anvil_connection.w3
    operator = contract(w3, record, "OperatorBackend")
    backend = record["contracts"]["SmartMeterBackend"]["address"]
    assert operator.functions.token().call() == record["contracts"]["Wallet"]["address"]
    assert operator.functions.is_trusted(backend).call()
    assert contract(w3, record, "SmartMeterBackend").functions.interval_length().call() == 3_600
    assert contract(w3, record, "GGORegistry").functions.backend().call() == backend
    exchange = contract(w3, record, "Exchange")
    assert exchange.functions.token().call() == record["contracts"]["Wallet"]["address"]
    assert exchange.functions.operator().call() == operator.address
    assert exchange.functions.lead_time().call() == 3_600
    assert contract(w3, record, "GGORegistry").functions.exchange().call() == exchange.address
    assert operator.functions.exchange().call() == exchange.address
    assert operator.functions.exchange_backend().call() == backend
    meters = contract(w3, record, "SmartMeterBackend")
    assert meters.functions.operator().call() == operator.address
    emissions = contract(w3, record, "EmissionsRegistry")
    assert emissions.functions.registry().call() == record["contracts"]["GGORegistry"]["address"]
    assert emissions.functions.backend().call() == backend
    roots = record["contracts"]["MeasurementRoots"]["address"]
    assert meters.functions.roots().call() == roots
    assert contract(w3, record, "MeasurementRoots").functions.backend().call() == backend
    auction = contract(w3, record, "Auction")
    assert exchange.functions.auction().call() == auction.address
    assert auction.functions.exchange().call() == exchange.address
    assert auction.functions.token().call() == record["contracts"]["Wallet"]["address"]
    assert auction.functions.operator().call() == operator.address
    assert auction.functions.lead_time().call() == 3_600


def test_deploy_again_redeploys_the_market_together(anvil_connection, tmp_path):
    """The meter backend, operator, registry, Exchange and roots are wired once:
    one gone means six new."""
    first = deploy_all(anvil_connection, tmp_path)
    record = json.loads(deployments_path("anvil", tmp_path).read_text())
    record["contracts"]["Exchange"]["address"] = "0x" + "22" * 20  # nothing there
    deployments_path("anvil", tmp_path).write_text(json.dumps(record))
    second = deploy_all(anvil_connection, tmp_path)
    assert second["contracts"]["Wallet"] == first["contracts"]["Wallet"]
    for name in (
        "SmartMeterBackend",
        "OperatorBackend",
        "GGORegistry",
        "Exchange",
        "MeasurementRoots",
        "Auction",
    ):
        assert second["contracts"][name]["address"] != first["contracts"][name]["address"]
    registry = contract(anvil_connection.w3, second, "GGORegistry")
    assert registry.functions.exchange().call() == second["contracts"]["Exchange"]["address"]
    exchange = contract(anvil_connection.w3, second, "Exchange")
    assert exchange.functions.auction().call() == second["contracts"]["Auction"]["address"]
    backend = contract(anvil_connection.w3, second, "SmartMeterBackend")
    operator = second["contracts"]["OperatorBackend"]["address"]
    assert backend.functions.operator().call() == operator


def test_deploy_again_reuses_what_is_on_chain(anvil_connection, tmp_path, caplog):
    first = deploy_all(anvil_connection, tmp_path)
    block = anvil_connection.w3.eth.block_number
    caplog.set_level("INFO")
    second = deploy_all(anvil_connection, tmp_path)
    assert second == first
    assert anvil_connection.w3.eth.block_number == block  # nothing was sent
    assert "Wallet: already deployed at" in caplog.text


def test_deploy_again_after_chain_reset_deploys_anew(anvil_connection, tmp_path):
    first = deploy_all(anvil_connection, tmp_path)
    record = json.loads(deployments_path("anvil", tmp_path).read_text())
    record["contracts"]["Wallet"]["address"] = "0x" + "11" * 20  # nothing there
    deployments_path("anvil", tmp_path).write_text(json.dumps(record))
    second = deploy_all(anvil_connection, tmp_path)
    assert second["contracts"]["Wallet"]["address"] != record["contracts"]["Wallet"]["address"]
    assert second["contracts"]["Wallet"]["block"] > first["contracts"]["Wallet"]["block"]
    # The operator backend names the token: it is deployed anew with it, and
    # the meter backend, wired to it once, too.
    assert second["contracts"]["OperatorBackend"] != first["contracts"]["OperatorBackend"]
    assert second["contracts"]["SmartMeterBackend"] != first["contracts"]["SmartMeterBackend"]


def test_buy_tokens_over_json_rpc(anvil_connection, anvil_accounts, tmp_path):
    w3 = anvil_connection.w3
    wallet = contract(w3, deploy_all(anvil_connection, tmp_path), "Wallet")
    rate = wallet.functions.sale_rate().call()
    first, second = anvil_accounts[1], anvil_accounts[2]

    receipt = transact(w3, first, wallet.functions.buyTokens(), value=2 * ETHER)
    transact(w3, second, wallet.functions.buyTokens(), value=ETHER // 2)

    (purchase,) = wallet.events.TokensPurchased().process_receipt(receipt, errors=DISCARD)
    assert purchase["args"]["buyer"] == first.address
    assert purchase["args"]["tokens"] == 2 * ETHER * rate
    assert wallet.functions.balanceOf(first.address).call() == 2 * ETHER * rate
    assert wallet.functions.balanceOf(second.address).call() == ETHER // 2 * rate
    assert wallet.functions.tokens_sold().call() == 5 * ETHER // 2 * rate
    assert w3.eth.get_balance(wallet.address) == 5 * ETHER // 2


def run_deploy_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "openkwh.commands.deploy", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_cli_is_what_make_deploy_runs(anvil, tmp_path):
    result = run_deploy_cli("--network", "anvil", "--rpc-url", anvil.url, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Wallet: deployed at" in result.stderr
    assert json.loads(deployments_path("anvil", tmp_path).read_text())["chain_id"] == 31_337


def test_deploy_cli_rejects_an_unknown_network(tmp_path):
    result = run_deploy_cli("--network", "atlantis", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "unknown network 'atlantis'" in result.stderr
    assert "anvil" in result.stderr


def test_deploy_cli_help_explains_the_options():
    result = run_deploy_cli("--help")
    assert result.returncode == 0
    for option in ("--network", "--rpc-url", "--account", "--password-file", "--out"):
        assert option in result.stdout

"""The deploy code of `make deploy` against a real anvil node, then clients over JSON-RPC."""

import json
import subprocess
import sys

import pytest
from vyper.compiler.output import build_abi_output
from web3 import Web3
from web3.logs import DISCARD

from openkwh.chain import contract, transact
from openkwh.commands import actions
from openkwh.commands.deploy import (
    backend_problem,
    contract_partial,
    deploy_all,
    deployments_path,
)
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
    """The meter backend, operator, registry and Exchange are wired once, and the
    backend creates its roots: one gone means six new."""
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


ZERO_ADDRESS = "0x" + "00" * 20


def returning(code: bytes) -> bytes:
    """Init code that returns ``code``, which follows it: PUSH2 size, PUSH1 14,
    PUSH1 0, CODECOPY, PUSH2 size, PUSH1 0, RETURN."""
    size = len(code).to_bytes(2, "big")
    return b"\x61" + size + b"\x60\x0e\x60\x00\x39\x61" + size + b"\x60\x00\xf3" + code


def deployed(conn, name: str, *args) -> str:
    """The address of ``contracts/<name>.vy``, deployed with ``args``."""
    data = contract_partial(name).compiler_data
    factory = conn.w3.eth.contract(abi=build_abi_output(data), bytecode=data.bytecode)
    return transact(conn.w3, conn.account, factory.constructor(*args))["contractAddress"]


def backend_with(conn, roots_code: bytes | None) -> str:
    """A SmartMeterBackend of today's code whose roots run ``roots_code``
    (created from a blueprint that returns it), or with no roots (None)."""
    blueprint = ZERO_ADDRESS
    if roots_code is not None:
        # ERC-5202: the preamble 0xFE7100, then the init code.
        preamble = b"\xfe\x71\x00" + returning(roots_code)
        factory = conn.w3.eth.contract(abi=[], bytecode=returning(preamble))
        blueprint = transact(conn.w3, conn.account, factory.constructor())["contractAddress"]
    return deployed(conn, "SmartMeterBackend", 3_600, 300, blueprint)


def rogue_roots_code(conn, rogue: str) -> bytes:
    """Other code than the backend's own roots: a single STOP, or today's
    MeasurementRoots code copied from one an account deployed on its own (its
    immutables name that account as the backend)."""
    if rogue == "stop":
        return b"\x00"
    made = deployed(conn, "MeasurementRoots", 3_600)
    return bytes(conn.w3.eth.get_code(made))


@pytest.mark.parametrize(
    ("rogue", "problem"),
    [
        ("stop", "does not run today's MeasurementRoots code"),
        ("copied", "was made for another backend"),
    ],
)
def test_trust_backend_with_rogue_roots_refused(anvil_connection, tmp_path, rogue, problem):
    """A backend records whatever its roots contract sends as measurements, and
    the blueprint is its deployer's choice: the operator's command refuses to
    trust one whose roots are not today's MeasurementRoots, made for it."""
    record = deploy_all(anvil_connection, tmp_path)
    w3 = anvil_connection.w3
    operator = actions.Actor(w3, anvil_connection.account, record)
    backend = backend_with(anvil_connection, rogue_roots_code(anvil_connection, rogue))
    nonce = w3.eth.get_transaction_count(anvil_connection.account.address)
    with pytest.raises(
        ValueError,
        match=f"not trusted: the roots contract of {backend}, 0x[0-9a-fA-F]{{40}}, {problem}",
    ):
        actions.announce_backend_trust(operator, backend, True)
    assert w3.eth.get_transaction_count(anvil_connection.account.address) == nonce
    # Its own roots, or none at all, are fine.
    for fine in (
        record["contracts"]["SmartMeterBackend"]["address"],
        backend_with(anvil_connection, None),
    ):
        assert backend_problem(w3, fine) is None
    actions.announce_backend_trust(operator, backend_with(anvil_connection, None), True)


def test_trust_backend_of_other_code_refused(anvil_connection, tmp_path):
    record = deploy_all(anvil_connection, tmp_path)
    operator = actions.Actor(anvil_connection.w3, anvil_connection.account, record)
    wallet = record["contracts"]["Wallet"]["address"]
    with pytest.raises(
        ValueError, match=f"not trusted: {wallet} does not run today's SmartMeterBackend code"
    ):
        actions.announce_backend_trust(operator, wallet, True)


def test_deploy_again_refuses_a_recorded_backend_with_copied_roots(anvil_connection, tmp_path):
    """A recorded backend of today's code whose roots run today's MeasurementRoots
    code with another backend's immutables is not taken for the market's."""
    deploy_all(anvil_connection, tmp_path)
    record = json.loads(deployments_path("anvil", tmp_path).read_text())
    backend = backend_with(anvil_connection, rogue_roots_code(anvil_connection, "copied"))
    record["contracts"]["SmartMeterBackend"]["address"] = backend
    deployments_path("anvil", tmp_path).write_text(json.dumps(record))
    with pytest.raises(
        RuntimeError,
        match=f"the roots contract of {backend}, 0x[0-9a-fA-F]{{40}}, was made for another backend",
    ):
        deploy_all(anvil_connection, tmp_path)


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

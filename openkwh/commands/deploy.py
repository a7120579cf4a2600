"""Deploy the OpenKWh contracts, wired together, to a network named in moccasin.toml.

Writes ``deployments/<network>.json``::

    {"chain_id": 31337, "network": "anvil",
     "contracts": {"Wallet": {"address": "0x…", "block": 1, "abi": [...]}, ...}}

The meter bridge and the dApp read only this file. Deploying is idempotent:
a contract whose code is already on chain at the recorded address (and whose
dependencies were reused too) is reused and said so; anything else is deployed.
The SmartMeterBackend, the OperatorBackend, the GGORegistry and the Exchange
are wired to each other once, and the backend creates its MeasurementRoots in
its constructor (from a blueprint deployed just before it; recorded at the
backend's block), so they are reused together or deployed together; the
Auction (issue 19) comes after the Exchange, which its admin wires to it once.

    python -m openkwh.commands.deploy --network anvil      # what `make deploy` runs
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import boa
from vyper.compiler.output import build_abi_output, build_blueprint_bytecode_output

from openkwh.chain import Deployment, transact
from openkwh.commands.network import (
    Connection,
    ConnectionSetupError,
    add_network_arguments,
    connect_from_args,
)
from openkwh.devtools.anvil import PROJECT_ROOT

logger = logging.getLogger(__name__)

CONTRACTS_DIR = PROJECT_ROOT / "contracts"
DEPLOYMENTS_DIR = PROJECT_ROOT / "deployments"


@functools.cache
def contract_partial(name: str):
    """The compiled contract ``contracts/<name>.vy``, compiled once per process."""
    return boa.load_partial(CONTRACTS_DIR / f"{name}.vy")


def runs_today_code(w3, address: str, name: str) -> bool:
    """Whether the code at ``address`` is today's ``contracts/<name>.vy``.

    Vyper appends immutables after the runtime code, so a prefix match means
    "this very source was deployed here"."""
    runtime = contract_partial(name).compiler_data.bytecode_runtime
    return bytes(w3.eth.get_code(address)).startswith(runtime)


def backend_problem(w3, backend: str) -> str | None:
    """What is wrong with ``backend`` as a SmartMeterBackend whose measurements
    may be trusted, or None: it must run today's code, and its roots contract
    (if it has one) today's MeasurementRoots, created for it. Whatever its
    roots contract is, the backend records as revealed measurements what that
    contract sends it, so a roots contract of other code (from another
    blueprint) could record any Wh for any of its meters."""
    if not runs_today_code(w3, backend, "SmartMeterBackend"):
        return f"{backend} does not run today's SmartMeterBackend code"
    abi = build_abi_output(contract_partial("SmartMeterBackend").compiler_data)
    meters = w3.eth.contract(address=backend, abi=abi).functions
    roots = meters.roots().call()
    if int(roots, 16) == 0:
        return None
    if not runs_today_code(w3, roots, "MeasurementRoots"):
        return (
            f"the roots contract of {backend}, {roots}, does not run today's MeasurementRoots code"
        )
    abi = build_abi_output(contract_partial("MeasurementRoots").compiler_data)
    named = w3.eth.contract(address=roots, abi=abi).functions
    if (named.backend().call().lower(), named.interval_length().call()) != (
        backend.lower(),
        meters.interval_length().call(),
    ):
        return f"the roots contract of {backend}, {roots}, was made for another backend"
    return None


def deployments_path(network: str, directory: Path = DEPLOYMENTS_DIR) -> Path:
    return directory / f"{network}.json"


def load_deployments(path: Path) -> dict | None:
    """The deployments file's content at ``path`` (checked), or None when there is none;
    a file that is there but unusable raises DeploymentError, saying why."""
    if not Path(path).exists():
        return None
    return Deployment.load(path).record()


def deploy_all(conn: Connection, directory: Path = DEPLOYMENTS_DIR) -> dict:
    """Deploy (or reuse) every contract on ``conn`` and write the deployments file."""
    path = deployments_path(conn.network, directory)
    previous = load_deployments(path) or {}
    if previous.get("chain_id") != conn.chain_id:
        previous = {}
    record = {"chain_id": conn.chain_id, "network": conn.network, "contracts": {}}
    deployer = _Deployer(conn, previous.get("contracts", {}), record["contracts"])

    wallet = conn.extra_data["wallet"]
    now = conn.w3.eth.get_block("latest")["timestamp"]
    wallet_address = deployer.deploy(
        "Wallet",
        lambda: (
            wallet["name"],
            wallet["symbol"],
            wallet["decimals"],
            wallet["supply"],
            wallet["sale_cap"],
            wallet["sale_rate"],
            now + wallet["sale_duration"],
        ),
    )

    # Wired once to each other, or created by the backend (its roots): all six
    # are reused, or all six deployed.
    together = {
        "SmartMeterBackend": [],
        "OperatorBackend": ["Wallet", "SmartMeterBackend"],
        "GGORegistry": ["SmartMeterBackend"],
        "Exchange": ["Wallet", "SmartMeterBackend"],
        "MeasurementRoots": ["SmartMeterBackend"],
        "Auction": ["Wallet", "SmartMeterBackend", "OperatorBackend", "Exchange"],
    }
    fresh = not all(deployer.reusable(name, needs) for name, needs in together.items())

    meters = conn.extra_data["meters"]
    # The backend creates its MeasurementRoots from a blueprint, in its constructor.
    backend = deployer.deploy(
        "SmartMeterBackend",
        lambda: (
            meters["interval_length"],
            meters["future_tolerance"],
            deployer.blueprint("MeasurementRoots"),
        ),
        fresh=fresh,
    )
    deployer.created("MeasurementRoots", by="SmartMeterBackend", getter="roots")

    operator = conn.extra_data["operator"]
    operator_address = deployer.deploy(
        "OperatorBackend",
        lambda: (
            wallet_address,
            operator["notice_period"],
            operator["retail_price"],
            operator["feed_in_reward"],
            [backend],
        ),
        depends_on=together["OperatorBackend"],
        fresh=fresh,
    )

    registry = conn.extra_data["registry"]
    registry_address = deployer.deploy(
        "GGORegistry",
        lambda: (backend, registry["validity"]),
        depends_on=together["GGORegistry"],
        fresh=fresh,
    )

    exchange = conn.extra_data["exchange"]
    exchange_address = deployer.deploy(
        "Exchange",
        lambda: (
            exchange.get("token") or wallet_address,
            backend,
            registry_address,
            operator_address,
            exchange["lead_time"],
            exchange["settlement_timeout"],
        ),
        depends_on=together["Exchange"],
        fresh=fresh,
    )
    # Delivers its cleared fills as the Exchange's deals: a new Exchange, a new Auction.
    auction_address = deployer.deploy(
        "Auction",
        lambda: (
            exchange.get("token") or wallet_address,
            backend,
            operator_address,
            exchange_address,
            exchange["lead_time"],
        ),
        depends_on=together["Auction"],
        fresh=fresh,
    )
    # Reads the registry and the backend: nothing to wire.
    deployer.deploy(
        "EmissionsRegistry", lambda: (registry_address, backend), depends_on=["GGORegistry"]
    )
    for name, address in (("GGORegistry", registry_address), ("OperatorBackend", operator_address)):
        deployer.wire(name, address, "exchange", exchange_address)
    deployer.wire("SmartMeterBackend", backend, "operator", operator_address)
    deployer.wire("Exchange", exchange_address, "auction", auction_address)

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, path)
    logger.info(
        "wrote %s", path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    )
    return record


class _Deployer:
    """Deploys contracts in order, reusing what is on chain when nothing it depends on changed."""

    def __init__(self, conn: Connection, previous: dict, out: dict):
        self.conn = conn
        self.previous = previous
        self.out = out
        self.fresh: set[str] = set()

    def reusable(self, name: str, depends_on: Sequence[str] = ()) -> bool:
        """Whether ``name`` is on chain with today's code and nothing it depends on changed."""
        known = self.previous.get(name)
        runtime = contract_partial(name).compiler_data.bytecode_runtime
        return (
            bool(known)
            and not self.fresh.intersection(depends_on)
            and self._on_chain(known, runtime)
        )

    def deploy(
        self,
        name: str,
        args: Callable[[], Sequence],
        depends_on: Sequence[str] = (),
        fresh: bool = False,
    ) -> str:
        partial = contract_partial(name)
        abi = build_abi_output(partial.compiler_data)
        known = self.previous.get(name)
        if not fresh and self.reusable(name, depends_on):
            logger.info(
                "%s: already deployed at %s (block %d), reused",
                name,
                known["address"],
                known["block"],
            )
            self.out[name] = {**known, "abi": abi}
            return known["address"]

        # Sent through web3, as `wire` is: boa's local simulation of a
        # constructor that creates a contract from a blueprint deployed a
        # block before sees other code there, and fails.
        w3 = self.conn.w3
        constructor = w3.eth.contract(abi=abi, bytecode=partial.compiler_data.bytecode).constructor
        receipt = transact(w3, self.conn.account, constructor(*args()))
        address, block = receipt["contractAddress"], receipt["blockNumber"]
        logger.info(
            "%s: deployed at %s (block %d, %d gas)", name, address, block, receipt["gasUsed"]
        )
        self.fresh.add(name)
        self.out[name] = {"address": address, "block": block, "abi": abi}
        return address

    def blueprint(self, name: str) -> str:
        """Deploys an ERC-5202 blueprint of ``name`` (code another contract
        creates copies from, never called itself) and returns its address."""
        code = build_blueprint_bytecode_output(contract_partial(name).compiler_data)
        receipt = transact(
            self.conn.w3,
            self.conn.account,
            self.conn.w3.eth.contract(abi=[], bytecode=code).constructor(),
        )
        logger.info("%s: blueprint deployed at %s", name, receipt["contractAddress"])
        return receipt["contractAddress"]

    def created(self, name: str, by: str, getter: str) -> str:
        """Records ``name``, the contract that ``by`` created and names with
        ``getter``, at ``by``'s block."""
        creator = self.out[by]
        w3 = self.conn.w3
        address = getattr(
            w3.eth.contract(address=creator["address"], abi=creator["abi"]).functions, getter
        )().call()
        if int(address, 16) == 0:
            raise RuntimeError(f"{by} at {creator['address']} names no {name} as its {getter}")
        # Today's code there, made for this creator (not only a prefix of it:
        # a reused backend made from a foreign blueprint would pass that).
        problem = backend_problem(w3, creator["address"])
        if problem:
            raise RuntimeError(problem)
        partial = contract_partial(name)
        if by in self.fresh:
            self.fresh.add(name)
            logger.info("%s: created by the %s at %s", name, by, address)
        self.out[name] = {
            "address": address,
            "block": creator["block"],
            "abi": build_abi_output(partial.compiler_data),
        }
        return address

    def wire(self, name: str, address: str, peer: str, peer_address: str) -> None:
        """Wires ``name`` at ``address`` to its ``peer`` (its "exchange", "operator"
        or "auction") at ``peer_address`` with ``wire_<peer>``, unless it already is.

        Sent through web3, not boa: boa's local replay of a call into a contract
        deployed a few blocks before reads that contract's storage stale."""
        w3 = self.conn.w3
        contract = w3.eth.contract(address=address, abi=self.out[name]["abi"])
        wired = getattr(contract.functions, peer)().call()
        if wired == peer_address:
            return
        if int(wired, 16) != 0:
            raise RuntimeError(f"{name} at {address} is wired to another {peer}, {wired}")
        transact(w3, self.conn.account, getattr(contract.functions, f"wire_{peer}")(peer_address))
        logger.info("%s: wired to the %s", name, peer)

    def _on_chain(self, known: dict, runtime: bytes) -> bool:
        # Vyper appends immutables after the runtime code, so a prefix match
        # means "this very source was deployed here".
        return bytes(self.conn.w3.eth.get_code(known["address"])).startswith(runtime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m openkwh.commands.deploy",
        description="Deploy the OpenKWh contracts to a network named in moccasin.toml and "
        "write deployments/<network>.json. Run again, it reuses what is already deployed.",
    )
    add_network_arguments(parser)
    parser.add_argument(
        "--out", type=Path, default=DEPLOYMENTS_DIR, help="folder of the deployments file"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        conn = connect_from_args(args)
    except ConnectionSetupError as exc:
        parser.exit(2, f"deploy: {exc}\n")
    logger.info(
        "deploying to %s (chain %d) from %s", conn.network, conn.chain_id, conn.account.address
    )
    deploy_all(conn, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

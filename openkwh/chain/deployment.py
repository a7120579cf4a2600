"""The deployment: which contracts are where on which chain, as ``make deploy`` writes it.

    {"chain_id": 31337, "network": "anvil",
     "contracts": {"Wallet": {"address": "0x…", "block": 1, "abi": [...]}, ...}}

Loaded once per file (and again only when the file changes), checked, typed, and
read by contract name. The bridge, the dApp, the commands and the tests all take
their contracts from here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3
from web3.contract import Contract


class DeploymentError(ValueError):
    """The deployments file is missing, unreadable or not a deployments file; the
    message says which and what to do."""


@dataclass(frozen=True)
class DeployedContract:
    name: str
    address: str  # EIP-55 checksummed
    abi: list
    block: int  # the block it was deployed in (0 when the file does not say)


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    network: str
    contracts: Mapping[str, DeployedContract]
    path: Path | None = None

    @classmethod
    def from_record(cls, record: dict, path: Path | None = None) -> Deployment:
        """A deployments file's content, checked."""
        where = path or "the deployments record"
        if not isinstance(record, dict) or "chain_id" not in record or "contracts" not in record:
            raise DeploymentError(
                f"{where} is not a deployments file (no chain id or contracts): "
                "delete it and run `make deploy` again"
            )
        contracts = {}
        try:
            for name, entry in record["contracts"].items():
                contracts[name] = DeployedContract(
                    name,
                    Web3.to_checksum_address(entry["address"]),
                    list(entry["abi"]),
                    int(entry.get("block", 0)),
                )
            chain_id = int(record["chain_id"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeploymentError(
                f"{where} is not a deployments file (a contract without its address or ABI): "
                "delete it and run `make deploy` again"
            ) from exc
        return cls(chain_id, str(record.get("network", "")), contracts, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Deployment:
        """The deployments file at ``path``, read once while it stays the same."""
        path = Path(path)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise DeploymentError(
                f"no deployments file at {path}: run `make deploy` first (or give its path)"
            ) from exc
        except OSError as exc:
            raise DeploymentError(
                f"cannot read the deployments file {path}: {exc.strerror}"
            ) from exc
        return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    @classmethod
    def of(cls, deployment: Deployment | dict) -> Deployment:
        """``deployment`` itself, or a deployments file's content as a Deployment."""
        return deployment if isinstance(deployment, Deployment) else cls.from_record(deployment)

    def __getitem__(self, name: str) -> DeployedContract:
        try:
            return self.contracts[name]
        except KeyError:
            where = self.path or "the deployment"
            raise DeploymentError(f"{where} has no {name}: deploy it with `make deploy`") from None

    def __contains__(self, name: str) -> bool:
        return name in self.contracts

    def contract(self, w3: Web3, name: str) -> Contract:
        """The deployed contract ``name``, bound to ``w3``."""
        entry = self[name]
        return w3.eth.contract(address=entry.address, abi=entry.abi)

    def at(self, w3: Web3, address: str, abi_of: str) -> Contract:
        """The contract at ``address`` with the ABI of deployed contract ``abi_of`` (a
        second token, a backend deployed later)."""
        return w3.eth.contract(address=Web3.to_checksum_address(address), abi=self[abi_of].abi)

    def record(self) -> dict:
        """The deployments file's content."""
        return {
            "chain_id": self.chain_id,
            "network": self.network,
            "contracts": {
                name: {"address": c.address, "block": c.block, "abi": c.abi}
                for name, c in self.contracts.items()
            },
        }


_cache: dict[tuple[str, int, int], Deployment] = {}


def _load(path: str, mtime_ns: int, size: int) -> Deployment:
    key = (path, mtime_ns, size)
    if key not in _cache:
        try:
            record = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise DeploymentError(f"cannot read the deployments file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise DeploymentError(
                f"{path} is not a deployments file ({exc.msg} at line {exc.lineno}): "
                "delete it and run `make deploy` again"
            ) from exc
        _cache[key] = Deployment.from_record(record, Path(path))
    return _cache[key]

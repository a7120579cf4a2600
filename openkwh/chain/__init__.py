"""The one client of the deployed contracts, shared by the meter bridge, the dApp,
the commands and the tests:

- ``deployment``: the deployments file, typed, loaded once, contracts by name;
- ``transactions``: the fee rule, the nonce, dry runs (of every step together)
  and revert reasons;
- ``typed_data``: the EIP-712 domains, the reading and the permit;
- ``types``: the contracts' types by name (``MeterKind``, the ``Deal`` and
  ``Order`` structs' fields from the ABI).

It needs web3.py and eth-account only: the bridge's own install carries it.
"""

from openkwh.chain.deployment import DeployedContract, Deployment, DeploymentError
from openkwh.chain.transactions import (
    TransactionFailed,
    advance_time,
    contract,
    deploy_contract,
    fees,
    revert_reason,
    send_ether,
    transact,
    transact_all,
)
from openkwh.chain.typed_data import permit_typed_data, reading_typed_data
from openkwh.chain.types import MeterKind, deal_fields, order_fields

__all__ = [
    "DeployedContract",
    "Deployment",
    "DeploymentError",
    "MeterKind",
    "TransactionFailed",
    "advance_time",
    "contract",
    "deal_fields",
    "deploy_contract",
    "fees",
    "order_fields",
    "permit_typed_data",
    "reading_typed_data",
    "revert_reason",
    "send_ether",
    "transact",
    "transact_all",
]

"""Talk to deployed contracts over JSON-RPC with web3.py, as the bridge and the dApp do."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt


class TransactionFailed(RuntimeError):
    """A transaction would revert (caught by gas estimation) or was mined and reverted."""


def contract(w3: Web3, deployments: dict, name: str) -> Contract:
    """The contract ``name`` from a deployments file's content."""
    entry = deployments["contracts"][name]
    return w3.eth.contract(address=entry["address"], abi=entry["abi"])


def transact(w3: Web3, account: LocalAccount, call: ContractFunction, value: int = 0) -> TxReceipt:
    """Sign ``call`` with ``account``, send it and wait for its receipt.

    The gas limit comes from ``eth_estimateGas``, which also surfaces a revert
    reason before anything is sent.
    """
    try:
        tx = call.build_transaction(
            {
                "from": account.address,
                "value": value,
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "chainId": w3.eth.chain_id,
            }
        )
    except ContractLogicError as exc:
        reason = str(exc.message).removeprefix("execution reverted: ")
        name = getattr(call, "fn_name", "constructor")
        raise TransactionFailed(f"{name} would revert: {reason}") from exc
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    if receipt["status"] != 1:
        name = getattr(call, "fn_name", "constructor")
        raise TransactionFailed(f"{name} reverted in block {receipt['blockNumber']}")
    return receipt


def send_ether(w3: Web3, account: LocalAccount, to: str, value: int) -> TxReceipt:
    """Send ``value`` wei from ``account`` to ``to`` and wait for the receipt."""
    tip = w3.eth.max_priority_fee
    tx = {
        "from": account.address,
        "to": to,
        "value": value,
        "gas": 21_000,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        "maxFeePerGas": 2 * w3.eth.get_block("latest")["baseFeePerGas"] + tip,
        "maxPriorityFeePerGas": tip,
    }
    return w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )


def deploy_contract(w3: Web3, account: LocalAccount, abi: list, bytecode: str | bytes, *args):
    """Deploy a contract from its ABI and creation code; returns (contract, receipt)."""
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = transact(w3, account, factory.constructor(*args))
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi), receipt


def advance_time(w3: Web3, timestamp: int) -> None:
    """anvil: mine an empty block at ``timestamp`` (unix seconds), so that calls and
    gas estimates see that time too."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])


def permit_typed_data(
    token_name: str,
    owner: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
    chain_id: int,
    token: str,
) -> dict:
    """EIP-2612 ``Permit`` typed data for the Wallet token (EIP-712 domain version "1")."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": token_name,
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": token,
        },
        "message": {
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }

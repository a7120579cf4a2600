"""Transactions to the deployed contracts over JSON-RPC with web3.py: the fee rule,
the nonce, a dry run before every write (of every step of a multi-transaction
action together), and the revert reasons in words."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxReceipt

from openkwh.chain.deployment import Deployment


class TransactionFailed(RuntimeError):
    """A transaction would revert (caught by gas estimation) or was mined and reverted."""


def contract(w3: Web3, deployment: Deployment | dict, name: str) -> Contract:
    """The deployed contract ``name`` (from a Deployment or a deployments file's content)."""
    return Deployment.of(deployment).contract(w3, name)


def revert_reason(exc: ContractLogicError) -> str:
    """A revert's reason string, without the node's "execution reverted: " prefix."""
    return str(exc.message or "no reason given").removeprefix("execution reverted: ")


def fees(w3: Web3, cap: int | None = None, base_fee: int | None = None) -> tuple[int, int]:
    """(max fee, tip) per gas for a transaction now (EIP-1559): twice the base fee plus
    the node's suggested tip, so that it stays includable while the base fee doubles,
    never above ``cap`` wei per gas when one is given. ``base_fee``: the latest
    block's, when the caller has read it already."""
    if base_fee is None:
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = w3.eth.max_priority_fee
    if cap is None:
        return 2 * base_fee + tip, tip
    tip = min(tip, max(cap - base_fee, 0))
    return min(2 * base_fee + tip, cap), tip


def transact(w3: Web3, account: LocalAccount, call: ContractFunction, value: int = 0) -> TxReceipt:
    """Sign ``call`` with ``account``, send it and wait for its receipt.

    The gas limit comes from ``eth_estimateGas``, which also surfaces a revert
    reason before anything is sent.
    """
    max_fee, tip = fees(w3)
    try:
        tx = call.build_transaction(
            {
                "from": account.address,
                "value": value,
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "chainId": w3.eth.chain_id,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
            }
        )
    except ContractLogicError as exc:
        name = getattr(call, "fn_name", "constructor")
        raise TransactionFailed(f"{name} would revert: {revert_reason(exc)}") from exc
    except Web3RPCError as exc:  # the node's refusal, e.g. no ether for the gas
        raise TransactionFailed(_refused(w3, account, call, exc)) from exc
    signed = account.sign_transaction(tx)
    try:
        sent = w3.eth.send_raw_transaction(signed.raw_transaction)
    except Web3RPCError as exc:
        raise TransactionFailed(_refused(w3, account, call, exc)) from exc
    receipt = w3.eth.wait_for_transaction_receipt(sent)
    if receipt["status"] != 1:
        name = getattr(call, "fn_name", "constructor")
        raise TransactionFailed(f"{name} reverted in block {receipt['blockNumber']}")
    return receipt


def _refused(w3: Web3, account: LocalAccount, call: ContractFunction, exc: Web3RPCError) -> str:
    """What the node said when it refused a transaction, in words, and nothing sent."""
    name = getattr(call, "fn_name", "constructor")
    said = exc.rpc_response.get("error", {}).get("message") if exc.rpc_response else None
    message = f"{name} was refused by the node: {said or exc}; nothing sent"
    if w3.eth.get_balance(account.address) == 0:
        message += f" ({account.address} has no ether to pay for gas: send it some)"
    return message


def _revert_reason(failure: dict) -> str:
    """The reason of a failed call in an ``eth_simulateV1`` result."""
    error = failure.get("error") or {}
    data = failure.get("returnData") or ""
    if isinstance(data, str) and data.startswith("0x08c379a0"):  # Error(string)
        raw = bytes.fromhex(data[10:])
        length = int.from_bytes(raw[32:64])
        return raw[64 : 64 + length].decode(errors="replace")
    return str(error.get("message") or "no reason given").removeprefix("execution reverted: ")


def transact_all(w3: Web3, account: LocalAccount, steps: list) -> list[TxReceipt]:
    """Send ``steps`` (each a contract call, or a (call, value) pair) in order,
    after simulating them together on the node (``eth_simulateV1``, each step
    seeing the state the ones before left): if any would revert, nothing is
    sent, so an approval is never left behind for a payment that fails. A node
    without ``eth_simulateV1`` has each step dry-run as it is sent."""
    steps = [step if isinstance(step, tuple) else (step, 0) for step in steps]
    if len(steps) > 1:
        calls = []
        for call, value in steps:
            # A gas limit given, so that building the data estimates nothing.
            tx = call.build_transaction({"from": account.address, "value": value, "gas": 1})
            calls.append(
                {"from": account.address, "to": tx["to"], "data": tx["data"], "value": hex(value)}
            )
        answer = w3.provider.make_request(
            "eth_simulateV1",
            [{"blockStateCalls": [{"calls": calls}], "validation": False}, "latest"],
        )
        # A node without the method answers an error: each step is then dry-run
        # as it is sent.
        results = answer["result"][0]["calls"] if answer.get("result") else []
        for (call, _), result in zip(steps, results, strict=False):
            if int(result.get("status", "0x1"), 16) != 1:
                raise TransactionFailed(
                    f"{call.fn_name} would revert: {_revert_reason(result)} (nothing sent)"
                )
    return [transact(w3, account, call, value) for call, value in steps]


def send_ether(w3: Web3, account: LocalAccount, to: str, value: int) -> TxReceipt:
    """Send ``value`` wei from ``account`` to ``to`` and wait for the receipt."""
    max_fee, tip = fees(w3)
    tx = {
        "from": account.address,
        "to": to,
        "value": value,
        "gas": 21_000,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        "maxFeePerGas": max_fee,
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

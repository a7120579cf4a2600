"""The dApp's read-only view of the chain: the deployments file, the index and a
few contract views. No key is ever loaded here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask import Flask, current_app, g
from web3 import Web3
from web3.contract import Contract

from openkwh.chain import Deployment
from openkwh.dapp.indexer import connect


def init_app(app: Flask) -> None:
    # The schema exists before the first request, even before the indexer's first round.
    connect(app.config["DATABASE"]).close()
    app.teardown_appcontext(close_db)


def db() -> sqlite3.Connection:
    """The index, one read-only connection per request (the indexer writes it, in WAL
    mode, so reading never waits for it)."""
    if "db" not in g:
        path = Path(current_app.config["DATABASE"]).resolve()
        g.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        g.db.row_factory = sqlite3.Row  # columns by name; a row still unpacks as a tuple
    return g.db


def close_db(exception=None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def deployments() -> Deployment:
    """The deployment the dApp serves (read once while the file stays the same)."""
    return Deployment.load(current_app.config["DEPLOYMENTS"])


_web3s: dict[str, Web3] = {}


def _web3(url: str) -> Web3:
    """One connection per node for the whole process. The threaded server's first
    requests can arrive together and each build one; ``setdefault`` keeps the first stored
    and hands that one to every thread. (``functools.cache`` handed each racing thread its
    own: a contract built on one connection then made its calls outside a batch opened on
    the other, and that dashboard answered 500 until the dApp restarted.)"""
    if url not in _web3s:
        _web3s.setdefault(url, Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10})))
    return _web3s[url]


def w3() -> Web3:
    return _web3(current_app.config["RPC_URL"])


_contracts: dict[tuple[str, str, str], Contract] = {}


def contract_at(address: str, abi_of: str) -> Contract:
    """The contract at ``address`` with the ABI of deployment entry ``abi_of``, built once
    per node: building one parses its whole ABI, a good part of a request's time."""
    key = (current_app.config["RPC_URL"], address, abi_of)
    if key not in _contracts:
        _contracts[key] = deployments().at(w3(), address, abi_of)
    return _contracts[key]


def forget_connections() -> None:
    """Drop the connections and contracts built so far (tests start the dApp cold)."""
    _web3s.clear()
    _contracts.clear()


def contract(name: str) -> Contract:
    return contract_at(deployments()[name].address, name)


def site_info() -> dict:
    """What the page needs to talk to the wallet: the chain, and each contract's
    address and ABI."""
    deployment = deployments()
    contracts = {
        name: {"address": entry.address, "abi": entry.abi}
        for name, entry in deployment.contracts.items()
    }
    settlement = token_info()
    # The Exchange's token, whichever it is: an ERC-20 like the Wallet, so its ABI serves.
    contracts["SettlementToken"] = {
        "address": settlement["address"],
        "abi": deployment["Wallet"].abi,
    }
    return {
        "chain_id": deployment.chain_id,
        "rpc_url": current_app.config["PUBLIC_RPC_URL"],
        "token": settlement,
        "ledger_token": ledger_token_info(),
        "interval_length": interval_length(),
        "contracts": contracts,
    }


def index_head() -> dict:
    row = db().execute("SELECT next_block, events FROM cursor WHERE id = 1").fetchone()
    return {
        "indexed_block": row["next_block"] - 1 if row else None,
        "events": row["events"] if row else 0,
    }


_interval: dict[str, int] = {}


def interval_length() -> int:
    """The SmartMeterBackend's interval (900 or 3600 s), read once."""
    address = deployments()["SmartMeterBackend"].address
    if address not in _interval:
        _interval[address] = contract("SmartMeterBackend").functions.interval_length().call()
    return _interval[address]


# Keyed by node and address: a development chain restarted on another port may deploy
# other contracts at the same addresses.
_token: dict[tuple[str, str], dict] = {}
_exchange_token: dict[tuple[str, str], str] = {}


def _erc20_info(address: str) -> dict:
    """An ERC-20's address, symbol and decimals, read once (both are immutable)."""
    key = (current_app.config["RPC_URL"], address)
    if key not in _token:
        token = contract_at(address, "Wallet").functions
        _token[key] = {
            "address": address,
            "symbol": token.symbol().call(),
            "decimals": token.decimals().call(),
        }
    return _token[key]


def token_address() -> str:
    """The token the Exchange settles in, as the Exchange itself says (a deployment may
    configure another than the Wallet)."""
    exchange = deployments()["Exchange"].address
    key = (current_app.config["RPC_URL"], exchange)
    if key not in _exchange_token:
        _exchange_token[key] = contract("Exchange").functions.token().call()
    return _exchange_token[key]


def token_info() -> dict:
    """The Exchange's settlement token: prices, escrow, payments and credit are in it."""
    return _erc20_info(token_address())


def ledger_token_info() -> dict:
    """The Wallet token: the operator's ledger, debts and the token sale are in it."""
    return _erc20_info(deployments()["Wallet"].address)

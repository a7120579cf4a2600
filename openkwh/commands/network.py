"""Connect the scripts to a network named in moccasin.toml, with an account.

The account comes, in this order, from:

1. ``--account NAME`` (or the network's ``default_account_name``): an encrypted
   keystore made with ``mox wallet import NAME``, or the path of any keystore
   file; the password comes from ``--password-file`` or ``OPENKWH_PASSWORD``,
   else it is asked for;
2. ``OPENKWH_PRIVATE_KEY`` in the environment;
3. on the local chain only (chain id 31337): anvil's first dev account.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from openkwh.devtools.anvil import DEV_CHAIN_ID, PROJECT_ROOT, dev_accounts

PRIVATE_KEY_ENV = "OPENKWH_PRIVATE_KEY"
PASSWORD_ENV = "OPENKWH_PASSWORD"


class ConnectionSetupError(RuntimeError):
    """The network or the account could not be set up; the message says why."""


@dataclass
class Connection:
    """An active network: boa sends transactions, web3 reads."""

    network: str
    url: str
    chain_id: int
    account: LocalAccount
    extra_data: dict
    w3: Web3


def add_network_arguments(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """The options every script shares. Without ``defaults`` (for options that
    may be given at several levels of sub-commands) an option not given is
    left out, and ``connect_from_args`` fills it in."""
    group = parser.add_argument_group("network and account")
    group.add_argument(
        "--network",
        default=os.environ.get("NETWORK", "anvil") if defaults else argparse.SUPPRESS,
        help="network name from moccasin.toml (default: $NETWORK or anvil)",
    )
    group.add_argument("--rpc-url", help="override the network's RPC URL")
    group.add_argument(
        "--account",
        help="keystore name (from `mox wallet import`) or keystore file path",
    )
    group.add_argument(
        "--password-file",
        type=Path,
        help=f"file holding the keystore password (or ${PASSWORD_ENV})",
    )


def connect_from_args(args: argparse.Namespace) -> Connection:
    return connect(
        getattr(args, "network", None) or os.environ.get("NETWORK", "anvil"),
        url=getattr(args, "rpc_url", None),
        account=getattr(args, "account", None),
        password_file=getattr(args, "password_file", None),
    )


def connect(
    network: str,
    *,
    url: str | None = None,
    account: str | None = None,
    password_file: Path | None = None,
) -> Connection:
    """Make ``network`` boa's active environment and add the account to it."""
    # moccasin is imported here: importing it creates its home folders.
    from moccasin.config import get_or_initialize_config

    config = get_or_initialize_config(PROJECT_ROOT)
    if network not in config.get_networks():
        known = ", ".join(sorted(config.get_networks()))
        raise ConnectionSetupError(f"unknown network {network!r}; moccasin.toml has: {known}")
    overrides = {"url": url} if url else {}
    try:
        active = config.set_active_network(network, **overrides)
    except Exception as exc:  # moccasin raises plain exceptions for unreachable nodes
        raise ConnectionSetupError(f"cannot reach network {network!r}: {exc}") from exc

    w3 = Web3(Web3.HTTPProvider(active.url))
    chain_id = w3.eth.chain_id
    signer = load_account(account or active.default_account_name, password_file, chain_id)
    boa.env.add_account(signer, force_eoa=True)
    extra = dict(config.extra_data)
    for key, value in (active.extra_data or {}).items():
        extra[key] = {**extra.get(key, {}), **value} if isinstance(value, dict) else value
    return Connection(network, active.url, chain_id, signer, extra, w3)


@contextmanager
def connected(network: str, **options) -> Iterator[Connection]:
    """``connect``, and give boa back its previous environment on exit."""
    previous = boa.env
    try:
        yield connect(network, **options)
    finally:
        boa.set_env(previous)


def load_account(name: str | None, password_file: Path | None, chain_id: int) -> LocalAccount:
    if name:
        return unlock_keystore(name, password_file)
    if key := os.environ.get(PRIVATE_KEY_ENV):
        try:
            return Account.from_key(key)
        except (ValueError, TypeError) as exc:  # the key itself is never echoed
            raise ConnectionSetupError(
                f"{PRIVATE_KEY_ENV} is not a private key (32 bytes, hex): {exc.__class__.__name__}"
            ) from None
    if chain_id == DEV_CHAIN_ID:
        return dev_accounts(1)[0]
    raise ConnectionSetupError(
        f"no account for chain {chain_id}: pass --account, set {PRIVATE_KEY_ENV}, "
        "or set default_account_name for the network in moccasin.toml"
    )


def unlock_keystore(name: str, password_file: Path | None) -> LocalAccount:
    from moccasin.constants.vars import MOCCASIN_KEYSTORE_PATH

    path = Path(name)
    if not path.exists():
        path = MOCCASIN_KEYSTORE_PATH / name
    if not path.exists():
        raise ConnectionSetupError(
            f"no keystore {name!r}: import one with `mox wallet import {name}` or give a file path"
        )
    try:
        keystore = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConnectionSetupError(
            f"{path} is not a keystore (an encrypted JSON key file): {exc}"
        ) from None
    if not isinstance(keystore, dict) or not ({"crypto", "Crypto"} & set(keystore)):
        raise ConnectionSetupError(f"{path} is not a keystore (an encrypted JSON key file)")
    if password_file:
        try:
            password = password_file.read_text().rstrip("\n")
        except OSError as exc:
            raise ConnectionSetupError(f"cannot read the password file: {exc}") from None
    elif PASSWORD_ENV in os.environ:
        password = os.environ[PASSWORD_ENV]
    elif not sys.stdin.isatty():
        raise ConnectionSetupError(
            f"keystore {name!r} needs its password and there is no terminal to ask it on: "
            f"give --password-file or set {PASSWORD_ENV}"
        )
    else:
        try:
            password = getpass.getpass(f"password for keystore {name}: ")
        except EOFError:
            raise ConnectionSetupError(f"no password given for keystore {name!r}") from None
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        raise ConnectionSetupError(f"cannot unlock keystore {name!r}: {exc}") from exc
    return Account.from_key(key)

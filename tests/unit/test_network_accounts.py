"""Where the scripts take their account from: keystore, environment, or anvil's dev key."""

import json

import pytest
from eth_account import Account

from scripts.anvil import DEV_CHAIN_ID, dev_accounts
from scripts.network import (
    PASSWORD_ENV,
    PRIVATE_KEY_ENV,
    ConnectionSetupError,
    load_account,
)

SEPOLIA = 11_155_111


@pytest.fixture
def keystore(tmp_path):
    account = Account.create()
    path = tmp_path / "operator.json"
    path.write_text(json.dumps(Account.encrypt(account.key, "correct horse", iterations=2)))
    return account, path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def test_keystore_unlocks_with_password_file(keystore, tmp_path):
    account, path = keystore
    password_file = tmp_path / "password"
    password_file.write_text("correct horse\n")
    assert load_account(str(path), password_file, SEPOLIA).address == account.address


def test_keystore_unlocks_with_password_from_environment(keystore, monkeypatch):
    account, path = keystore
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    assert load_account(str(path), None, SEPOLIA).address == account.address


def test_keystore_with_wrong_password_is_refused(keystore, monkeypatch):
    _, path = keystore
    monkeypatch.setenv(PASSWORD_ENV, "battery staple")
    with pytest.raises(ConnectionSetupError, match="cannot unlock keystore"):
        load_account(str(path), None, SEPOLIA)


def test_missing_keystore_says_how_to_make_one(tmp_path):
    with pytest.raises(ConnectionSetupError, match="mox wallet import"):
        load_account(str(tmp_path / "nobody"), None, SEPOLIA)


def test_private_key_from_environment(monkeypatch):
    account = Account.create()
    monkeypatch.setenv(PRIVATE_KEY_ENV, account.key.hex())
    assert load_account(None, None, SEPOLIA).address == account.address


def test_dev_key_only_on_the_local_chain():
    assert load_account(None, None, DEV_CHAIN_ID).address == dev_accounts(1)[0].address
    with pytest.raises(ConnectionSetupError, match="no account for chain 11155111"):
        load_account(None, None, SEPOLIA)

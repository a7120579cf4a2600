"""Where the scripts take their account from: keystore, environment, or anvil's dev key."""

import json

import pytest
from eth_account import Account

from openkwh.chain import DeploymentError
from openkwh.commands.deploy import load_deployments
from openkwh.commands.network import (
    PASSWORD_ENV,
    PRIVATE_KEY_ENV,
    ConnectionSetupError,
    load_account,
)
from openkwh.devtools.anvil import DEV_CHAIN_ID, dev_accounts

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


# Issue 13: each of these was a traceback.


def test_a_short_private_key_is_a_message_that_does_not_echo_it(monkeypatch):
    monkeypatch.setenv(PRIVATE_KEY_ENV, "0x1234")
    with pytest.raises(ConnectionSetupError, match="is not a private key") as refused:
        load_account(None, None, SEPOLIA)
    assert "1234" not in str(refused.value)


@pytest.mark.parametrize("content", ["", "{not json", '{"address": "00"}', "[]"])
def test_a_file_that_is_no_keystore_is_refused_before_asking_a_password(tmp_path, content):
    path = tmp_path / "empty.json"
    path.write_text(content)
    with pytest.raises(ConnectionSetupError, match="is not a keystore"):
        load_account(str(path), None, SEPOLIA)


def test_no_terminal_for_the_password_says_how_to_give_it(keystore, monkeypatch):
    _, path = keystore
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConnectionSetupError, match="give --password-file or set"):
        load_account(str(path), None, SEPOLIA)


def test_an_unreadable_password_file_is_a_message(keystore, tmp_path):
    _, path = keystore
    with pytest.raises(ConnectionSetupError, match="cannot read the password file"):
        load_account(str(path), tmp_path / "no-such-password", SEPOLIA)


@pytest.mark.parametrize(
    ("content", "reason"),
    [('{"chain_id": 31', "at line 1"), ("[]", "no chain id or contracts"), ("{}", "no chain id")],
)
def test_a_broken_deployments_file_says_what_to_do(tmp_path, content, reason):
    path = tmp_path / "anvil.json"
    path.write_text(content)
    with pytest.raises(DeploymentError, match=reason) as refused:
        load_deployments(path)
    assert "run `make deploy` again" in str(refused.value)

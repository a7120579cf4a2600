"""The role command lines (admin, issuing body, installer, operator, prosumer, keeper)
against a real anvil."""

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import boa
import pytest
from eth_account import Account
from eth_utils import keccak

from meter_bridge.signing import Reading, gs1_check_digit, meter_id, sign_reading
from openkwh.chain import Deployment, advance_time, contract, transact
from openkwh.commands import actions
from openkwh.commands.network import PRIVATE_KEY_ENV

pytestmark = pytest.mark.anvil

GSRN_BODY = "57131310000000042"


def test_roles_register_and_suspend_a_meter(
    cli, anvil_connection, anvil_accounts, deployment, tmp_path
):
    admin, body, installer, owner, signer = (anvil_accounts[i] for i in (0, 4, 5, 6, 7))
    salt = tmp_path / "salt"
    salt.write_bytes(b"0123456789abcdef-demo-salt")
    gsrn = GSRN_BODY + str(gs1_check_digit(GSRN_BODY))

    code, out = cli("admin", admin, "set-issuing-body", "--sector", "DK1", "--body", body.address)
    assert code == 0, out.err
    assert json.loads(out.out)["gas"] > 21_000
    assert (
        cli(
            "issuing_body",
            body,
            "certify-installer",
            "--sector",
            "DK1",
            "--installer",
            installer.address,
        )[0]
        == 0
    )
    code, out = cli(
        "installer",
        installer,
        "register-meter",
        "--gsrn",
        gsrn,
        "--salt-file",
        str(salt),
        "--signer",
        signer.address,
        "--owner",
        owner.address,
        "--sector",
        "DK1",
        "--kind",
        "both",
        "--capacity-w",
        "5000",
        "--connection-w",
        "17250",
        "--tech-code",
        "T020002",
        "--fuel-code",
        "F01050100",
    )
    assert code == 0, out.err
    code, out = cli("prosumer", owner, "accept-meter", "--gsrn", gsrn, "--salt-file", str(salt))
    assert code == 0, out.err
    assert (
        cli(
            "operator",
            admin,
            "suspend-meter",
            "--gsrn",
            gsrn,
            "--salt-file",
            str(salt),
            "--reason",
            "seal broken",
        )[0]
        == 0
    )

    smb = Deployment.load(deployment).contract(anvil_connection.w3, "SmartMeterBackend")
    meter = meter_id(gsrn, salt.read_bytes())
    info = smb.functions.meter(meter).call()
    assert info[0] == owner.address
    assert info[1] == signer.address
    assert smb.functions.is_suspended(meter).call()


def test_revert_reason_reaches_the_user(cli, anvil_accounts):
    code, out = cli(
        "issuing_body",
        anvil_accounts[3],
        "certify-installer",
        "--sector",
        "DK1",
        "--installer",
        anvil_accounts[5].address,
    )
    assert code == 1
    assert "meter: caller is not the issuing body of this sector" in out.err


def test_bad_gsrn_is_refused_before_anything_is_sent(cli, anvil_accounts, tmp_path):
    salt = tmp_path / "salt"
    salt.write_bytes(b"0123456789abcdef")
    code, out = cli(
        "operator",
        anvil_accounts[0],
        "suspend-meter",
        "--gsrn",
        "123",
        "--salt-file",
        str(salt),
        "--reason",
        "x",
    )
    assert code == 1
    assert "not a valid 18-digit GSRN" in out.err


def test_missing_deployments_file_says_what_to_do(anvil, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        actions.main(
            "operator",
            [
                "--rpc-url",
                anvil.url,
                "--deployments",
                str(tmp_path / "none.json"),
                "fund-treasury",
                "--amount",
                "1",
            ],
        )
    assert exit_.value.code == 2
    assert "run `make deploy` first" in capsys.readouterr().err


def test_fund_treasury_beyond_the_balance_sends_nothing(
    cli, anvil_connection, anvil_accounts, deployment
):
    """Issue 13: the approval went out before the funding was found to revert,
    leaving stray approvals on chain (one of 10**30)."""
    w3 = anvil_connection.w3
    poor = anvil_accounts[9]
    nonce = w3.eth.get_transaction_count(poor.address)
    code, out = cli("operator", poor, "fund-treasury", "--amount", str(10**12))
    assert code == 1
    assert "less than the 1000000000000 OKWH to fund: nothing sent" in out.err
    assert w3.eth.get_transaction_count(poor.address) == nonce
    token = contract(w3, Deployment.load(deployment), "Wallet")
    ob = contract(w3, Deployment.load(deployment), "OperatorBackend")
    assert token.functions.allowance(poor.address, ob.address).call() == 0


def test_a_prosumers_money_jobs_in_tokens_as_a_person_writes_them(
    cli, anvil_connection, anvil_accounts, deployment, caplog
):
    """Issue 13: buy tokens, deposit, withdraw and collect Exchange credit had no
    command; amounts are tokens with decimals, ',' or '.', and a plain summary."""
    w3 = anvil_connection.w3
    record = Deployment.load(deployment)
    token, ob = contract(w3, record, "Wallet"), contract(w3, record, "OperatorBackend")
    prosumer = anvil_accounts[8]
    rate = token.functions.sale_rate().call()
    caplog.set_level("INFO", logger="openkwh.commands.actions")

    code, out = cli("prosumer", prosumer, "buy-tokens", "--ether", "0,5")
    assert code == 0, out.err
    bought = 10**18 // 2 * rate
    assert token.functions.balanceOf(prosumer.address).call() == bought
    assert "bought tokens for 0,5 ether" in caplog.text

    code, out = cli("prosumer", prosumer, "deposit", "--amount", "12,5")
    assert code == 0, out.err
    assert ob.functions.balance_of(prosumer.address).call() == 12_500_000_000_000_000_000
    assert "deposited 12.5 OKWH; the ledger holds 12.5 OKWH" in caplog.text

    code, out = cli("prosumer", prosumer, "withdraw", "--amount", "2.25")
    assert code == 0, out.err
    assert ob.functions.balance_of(prosumer.address).call() == 10_250_000_000_000_000_000
    assert "withdrew 2.25 OKWH; the ledger holds 10.25 OKWH" in caplog.text

    nonce = w3.eth.get_transaction_count(prosumer.address)
    for argv, message in (
        (("withdraw", "--amount", "11"), "less than 11 OKWH: nothing sent"),
        (("withdraw", "--amount", "0.0000000000000000001"), "finer than the 18 decimals"),
        (("deposit", "--amount", "-3"), "must be positive"),
        (("deposit", "--amount", "1e30"), "OKWH to deposit: nothing sent"),
        (("market", "withdraw-credit"), "no credit on the Exchange to withdraw: nothing sent"),
        (("pay-meter-debt", "--meter-id", "11" * 32), "the meter has no debt: nothing sent"),
    ):
        role, argv = ("market", argv[1:]) if argv[0] == "market" else ("prosumer", argv)
        code, out = cli(role, prosumer, *argv)
        assert code == 1, argv
        assert message in out.err
        assert "Traceback" not in out.err
    assert w3.eth.get_transaction_count(prosumer.address) == nonce


def test_a_keeper_settles_and_certifies_a_period_and_the_operator_takes_revenue(
    cli, anvil_connection, anvil_accounts, deployment, caplog
):
    """Issue 13: settling operator intervals, issuing certificates and taking
    revenue had no command. A period is given as dates; a second run finds
    nothing left and sends nothing."""
    w3, record = anvil_connection.w3, Deployment.load(deployment)
    admin, owner, keeper = (anvil_accounts[i] for i in (0, 6, 7))
    as_admin = actions.Actor(w3, admin, record)
    # a baseline and three hours of 2 kWh out, 0.5 kWh in
    meter, start = _measured(as_admin, anvil_accounts, "keeper-test", 3, 500, 2_000)
    actions.fund_treasury(as_admin, 10**21)
    caplog.set_level("INFO", logger="openkwh.commands.actions")
    period = ("--meter-id", meter.hex(), "--from", _iso(start), "--to", _iso(start + 3 * 3_600))

    code, out = cli("keeper", keeper, "settle", *period)
    assert code == 0, out.err
    ob, smb = contract(w3, record, "OperatorBackend"), contract(w3, record, "SmartMeterBackend")
    assert all(
        ob.functions.is_settled(smb.address, meter, start + h * 3_600).call() for h in range(3)
    )
    assert f"settled 3 measurements, {_iso(start, ' ')} UTC to" in caplog.text
    code, out = cli("keeper", keeper, "settle", *period)
    assert (code, "nothing sent" in out.err) == (1, True)

    code, out = cli("keeper", keeper, "issue", *period)
    assert code == 0, out.err
    registry = contract(w3, record, "GGORegistry")
    for h in range(3):
        cert = registry.functions.certificate_id(meter, start + h * 3_600).call()
        assert registry.functions.balanceOf(owner.address, cert).call() == 2_000
        # The ids `retire` and `transfer-certificate` take are printed, hour by hour.
        assert f"{_iso(start + h * 3_600, ' ')} UTC: certificate {cert}, 2,000 Wh" in caplog.text
    code, out = cli("keeper", keeper, "issue", *period)
    assert (code, "waits for its certificate: nothing sent" in out.err) == (1, True)

    code, out = cli(
        "keeper",
        keeper,
        "settle",
        "--meter-id",
        meter.hex(),
        "--from",
        "2026-06-21",
        "--to",
        "2026-06-20",
    )
    assert (code, "--to must come after --from" in out.err) == (1, True)

    body = anvil_accounts[4]
    nonce = w3.eth.get_transaction_count(body.address)
    revoke = ("revoke-certificate", "--meter-id", meter.hex(), "--interval", _iso(start))
    code, out = cli("issuing_body", body, *revoke, "--reason", "x" * 129)
    assert (code, "at most 128 bytes, this is 129" in out.err) == (2, True)
    assert w3.eth.get_transaction_count(body.address) == nonce
    code, out = cli("issuing_body", body, *revoke, "--reason", "tampered seal")
    assert code == 0, out.err
    cert = registry.functions.certificate_id(meter, start).call()
    assert not registry.functions.is_active(cert).call()

    treasury = ob.functions.treasury().call()
    code, out = cli("operator", admin, "withdraw-revenue", "--amount", str(10**6))
    assert (code, "nothing sent" in out.err) == (1, True)
    code, out = cli(
        "operator", admin, "withdraw-revenue", "--amount", "1.5", "--recipient", keeper.address
    )
    assert code == 0, out.err
    assert ob.functions.treasury().call() == treasury - 15 * 10**17


def _iso(unix: int, sep: str = "T") -> str:
    return datetime.fromtimestamp(unix, UTC).strftime(f"%Y-%m-%d{sep}%H:%M")


def _measured(as_admin, anvil_accounts, label, hours, imported, exported):
    """A meter of both kinds owned by dev account 6, relayed by account 7: its
    baseline at the next hour and ``hours`` hours of ``imported`` and
    ``exported`` Wh each after it; (meter id, the baseline's time)."""
    owner, relayer = anvil_accounts[6], anvil_accounts[7]
    meter, key = _registered(as_admin, anvil_accounts, owner, label, "both")
    now = as_admin.w3.eth.get_block("latest")["timestamp"]
    start = now - now % 3_600 + 3_600
    for hour in range(hours + 1):
        end = start + hour * 3_600
        _read(as_admin, relayer, key, meter, end, imported * hour, exported * hour)
    return meter, start


def _registered(as_admin, anvil_accounts, owner, label, kind):
    """A meter registered by a certified installer and accepted by ``owner``:
    (meter id, its key)."""
    body, installer = anvil_accounts[4], anvil_accounts[5]
    actions.set_issuing_body(as_admin, "DK1", body.address)
    actions.certify_installer(as_admin.with_account(body), "DK1", installer.address)
    key = Account.from_key(keccak(text=f"{label}-key"))
    meter = keccak(text=f"{label}-meter")
    codes = (6_000, "T020002", "F01050100") if kind != "consumption" else (0, "", "")
    register = actions.register_meter
    register(
        as_admin.with_account(installer), meter, key.address, owner.address, "DK1", kind, *codes
    )
    actions.accept_meter(as_admin.with_account(owner), meter)
    return meter, key


def _read(as_admin, relayer, key, meter, end, imported, exported):
    """The meter's reading at ``end`` (the chain's clock moved just past it), relayed."""
    w3 = as_admin.w3
    smb = as_admin.contract("SmartMeterBackend")
    advance_time(w3, max(end + 10, w3.eth.get_block("latest")["timestamp"] + 1))
    begin = smb.functions.next_reading_begin(meter).call()
    reading = Reading(meter, end, imported, exported, keccak(text=f"{end}"), begin)
    signed = sign_reading(key, reading, w3.eth.chain_id, smb.address)
    transact(w3, relayer, smb.functions.submit_reading(*signed.contract_args()))


def test_prosumers_trade_on_the_exchange_and_a_keeper_settles_the_deals(
    cli, anvil_connection, anvil_accounts, deployment, caplog
):
    """Issue 13: offer, bid, take, cancel and settling deals had no command."""
    w3 = anvil_connection.w3
    record = Deployment.load(deployment)
    admin, seller, buyer, keeper = (anvil_accounts[i] for i in (0, 1, 2, 7))
    as_admin = actions.Actor(w3, admin, record)
    solar, solar_key = _registered(as_admin, anvil_accounts, seller, "trade-solar", "production")
    home, _ = _registered(as_admin, anvil_accounts, buyer, "trade-home", "consumption")
    token, exchange = contract(w3, record, "Wallet"), contract(w3, record, "Exchange")
    token_admin = actions.Actor(w3, admin, record)
    token_admin.send(token.functions.transfer(buyer.address, 10 * 10**18))
    now = w3.eth.get_block("latest")["timestamp"]
    hour = now - now % 3_600 + 3 * 3_600
    _read(as_admin, keeper, solar_key, solar, now - now % 3_600, 0, 0)  # its baseline
    caplog.set_level("INFO", logger="openkwh.commands.actions")
    block = w3.eth.block_number

    interval = ("--interval", _iso(hour))
    code, out = cli(
        "market",
        seller,
        "offer",
        "--meter-id",
        solar.hex(),
        *interval,
        "--kwh",
        "1,5",
        "--price",
        "0.25",
    )
    assert code == 0, out.err
    offer = exchange.functions.order_count().call() - 1
    assert "offered 1,5 kWh for the interval from" in caplog.text
    code, out = cli(
        "market",
        buyer,
        "bid",
        "--meter-id",
        home.hex(),
        *interval,
        "--kwh",
        "2",
        "--price",
        "0.3",
    )
    assert code == 0, out.err
    bid = exchange.functions.order_count().call() - 1
    assert exchange.functions.orders(bid).call()[3:5] == (2_000, 3 * 10**14)
    assert f"bid for 2 kWh for the interval from {_iso(hour, ' ')} UTC at 0.3 OKWH/kWh" in (
        caplog.text
    )
    assert f"(0.6 OKWH in escrow): order {bid}" in caplog.text
    code, out = cli("market", buyer, "cancel", "--order", str(bid))
    assert code == 0, out.err
    code, out = cli(
        "market", buyer, "take", "--order", str(offer), "--meter-id", home.hex(), "--kwh", "1.2"
    )
    assert code == 0, out.err
    assert "bought 1.2 kWh for the interval from" in caplog.text
    assert token.functions.balanceOf(exchange.address).call() == 1_200 * 25 * 10**13

    code, out = cli("keeper", keeper, "settle-deals", "--from-block", str(block))
    assert (code, "1 wait for their measurement): nothing sent" in out.err) == (1, True)
    for h in range(1, 5):  # the meter reads on to the end of the traded hour: 1 kWh each hour
        _read(as_admin, keeper, solar_key, solar, now - now % 3_600 + h * 3_600, 0, 1_000 * h)
    code, out = cli("keeper", keeper, "settle-deals", "--from-block", str(block))
    assert code == 0, out.err
    assert exchange.functions.credit_of(seller.address).call() == 1_000 * 25 * 10**13
    assert exchange.functions.credit_of(buyer.address).call() == 200 * 25 * 10**13

    for argv, message in (
        (("cancel", "--order", str(bid)), f"order {bid} is not open: nothing sent"),
        (
            (
                "bid",
                "--meter-id",
                home.hex(),
                *interval,
                "--kwh",
                "1",
                "--price",
                "0.0000000000000000001",
            ),
            "finer than the 18 decimals",
        ),
        (
            (
                "bid",
                "--meter-id",
                home.hex(),
                *interval,
                "--kwh",
                "1",
                "--price",
                "0.0000000000000001",
            ),
            "not a whole number of base units per Wh",
        ),
        (
            ("bid", "--meter-id", home.hex(), *interval, "--kwh", "1000", "--price", "1000"),
            "this needs in escrow: nothing sent",
        ),
    ):
        code, out = cli("market", buyer, *argv)
        assert (code, message in out.err) == (1, True), out.err


def test_a_missing_salt_file_is_a_message_not_a_traceback(cli, anvil_accounts, tmp_path):
    gsrn = GSRN_BODY + str(gs1_check_digit(GSRN_BODY))
    missing = tmp_path / "no-salt"
    code, out = cli(
        "prosumer", anvil_accounts[6], "accept-meter", "--gsrn", gsrn, "--salt-file", str(missing)
    )
    assert code == 1
    assert f"No such file or directory: {missing}" in out.err
    assert "Traceback" not in out.err


def test_a_broken_deployments_file_is_a_message(cli, anvil_accounts, deployment):
    deployment.write_text('{"chain_id": 31')
    code, out = cli(
        "admin", anvil_accounts[0], "grant-operator", "--account-address", anvil_accounts[1].address
    )
    assert code == 2
    assert "is not a deployments file" in out.err
    assert "Traceback" not in out.err


def test_openkwh_takes_its_options_anywhere_and_says_what_it_sent(
    anvil, anvil_connection, anvil_accounts, deployment, monkeypatch, capsys
):
    """Issue 13: one command for every role; options before the role, between
    role and command, or after it; a line in words, or JSON with --json."""
    from openkwh.commands import cli as openkwh

    w3 = anvil_connection.w3
    record = Deployment.load(deployment)
    token, ob = contract(w3, record, "Wallet"), contract(w3, record, "OperatorBackend")
    prosumer = anvil_accounts[8]
    monkeypatch.setenv(PRIVATE_KEY_ENV, prosumer.key.hex())
    previous = boa.env

    def run(*argv):
        try:
            code = openkwh.main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
        finally:
            boa.set_env(previous)
        return code, capsys.readouterr()

    where = ("--rpc-url", anvil.url, "--deployments", str(deployment))
    code, out = run(*where, "prosumer", "buy-tokens", "--ether", "1")
    assert code == 0, out.err
    assert out.out.startswith("sent 0x")
    assert " gas" in out.out
    code, out = run("prosumer", "--rpc-url", anvil.url, "deposit", "--amount", "2", *where[2:])
    assert code == 0, out.err
    # A line for each transaction: the approval, then the deposit.
    assert [line.split(":")[0][:7] for line in out.out.splitlines()] == ["sent 0x"] * 2
    code, out = run("prosumer", "deposit", "--json", "--amount", "3", *where)
    assert code == 0, out.err
    approval, payment = (json.loads(line) for line in out.out.splitlines())
    assert approval["block"] < payment["block"]
    assert payment["gas"] > 21_000
    assert ob.functions.balance_of(prosumer.address).call() == 5 * 10**18
    assert token.functions.balanceOf(prosumer.address).call() > 0

    # A bad input is a message, never a traceback, and nothing is sent.
    nonce = w3.eth.get_transaction_count(prosumer.address)
    lower = prosumer.address.lower()
    code, out = run(
        "prosumer", "offer-meter", "--meter-id", "11" * 32, "--new-owner", lower, *where
    )
    assert code == 2
    assert f"write it as {prosumer.address}" in out.err
    code, out = run("prosumer", "withdraw", "--amount", "1,2,3", *where)
    assert code == 1
    assert "Traceback" not in out.err
    assert out.err.strip()
    code, out = run("operator", "trust-backend", "--backend", "0x1234", *where)
    assert code == 2
    assert "not a checksummed address: '0x1234'" in out.err
    assert w3.eth.get_transaction_count(prosumer.address) == nonce


def test_every_openkwh_command_has_a_description_and_an_example(capsys):
    from openkwh.commands import cli as openkwh

    for role, key in openkwh.ROLES.items():
        for name in actions.COMMANDS[key]:
            with pytest.raises(SystemExit) as exit_:
                openkwh.main([role, name, "--help"])
            assert exit_.value.code == 0
            text = capsys.readouterr().out
            assert f"example: openkwh {role} {name}" in text, (role, name)
            described = " ".join(actions.COMMANDS[key][name][0].split())[1:]
            assert described in " ".join(text.split()), (role, name)


def test_a_prosumer_moves_retires_and_lends_its_certificates_and_sends_tokens(
    cli, anvil_connection, anvil_accounts, deployment
):
    """Issue 13: moving, retiring and approving a claimer of certificates, and
    sending tokens, had no command."""
    w3, record = anvil_connection.w3, Deployment.load(deployment)
    admin, owner, keeper = (anvil_accounts[i] for i in (0, 6, 7))
    as_admin = actions.Actor(w3, admin, record)
    # a baseline and two hours of 2 kWh out, 0.5 kWh in
    meter, start = _measured(as_admin, anvil_accounts, "certificates-test", 2, 500, 2_000)
    actions.issue_certificates(as_admin.with_account(keeper), meter, start, start + 2 * 3_600)
    registry = contract(w3, record, "GGORegistry")
    first, second = (
        registry.functions.certificate_id(meter, start + h * 3_600).call() for h in range(2)
    )

    code, out = cli(
        "prosumer", owner, "retire", "--certificate", str(first), "--kwh", "0.4",
        "--meter-id", meter.hex(), "--note", "2026 report",
    )  # fmt: skip
    assert code == 0, out.err
    assert registry.functions.claimedBalanceOf(owner.address, first).call() == 400
    code, out = cli(
        "prosumer", owner, "retire", "--certificate", str(first), "--kwh", "0.2",
        "--meter-id", meter.hex(),
    )  # fmt: skip
    assert code == 1
    assert "registry: retiring more than was consumed" in out.err

    code, out = cli(
        "prosumer", owner, "transfer-certificate", "--certificate", str(second),
        "--to", keeper.address, "--kwh", "1,5",
    )  # fmt: skip
    assert code == 0, out.err
    assert registry.functions.balanceOf(keeper.address, second).call() == 1_500
    code, out = cli(
        "prosumer", owner, "transfer-certificate", "--certificate", str(second),
        "--to", keeper.address, "--kwh", "0.6",
    )  # fmt: skip
    assert code == 1
    assert "you hold 500 Wh of certificate" in out.err

    code, out = cli("prosumer", owner, "approve-claimer", "--claimer", keeper.address)
    assert code == 0, out.err
    assert registry.functions.isApprovedForAll(owner.address, keeper.address).call()

    token = contract(w3, record, "Wallet")
    actions.buy_tokens(as_admin.with_account(owner), "0.01")
    held = token.functions.balanceOf(owner.address).call()
    code, out = cli("prosumer", owner, "transfer", "--to", keeper.address, "--amount", "0,5")
    assert code == 0, out.err
    assert token.functions.balanceOf(owner.address).call() == held - 5 * 10**17
    code, out = cli("prosumer", owner, "claim-arrears")
    assert code == 1
    assert "the operator owes you no arrears: nothing sent" in out.err

    # A bid amended to more energy at a higher price: its escrow follows.
    hour = _iso(start + 48 * 3_600)
    code, out = cli(
        "market", owner, "bid", "--meter-id", meter.hex(), "--interval", hour,
        "--kwh", "1", "--price", "0.25",
    )  # fmt: skip
    assert code == 0, out.err
    exchange = contract(w3, record, "Exchange")
    order = exchange.functions.order_count().call() - 1
    before = token.functions.balanceOf(owner.address).call()
    code, out = cli(
        "market", owner, "amend", "--order", str(order), "--kwh", "2", "--price", "0,3"
    )  # fmt: skip
    assert code == 0, out.err
    assert exchange.functions.orders(order).call()[3:5] == (2_000, 3 * 10**14)
    assert token.functions.balanceOf(owner.address).call() == before - 35 * 10**16

    # A payment that would fail sends no approval either: the approval and the
    # bid are simulated together first (eth_simulateV1).
    nonce = w3.eth.get_transaction_count(owner.address)
    code, out = cli(
        "market", owner, "bid", "--meter-id", meter.hex(), "--interval", _iso(start),
        "--kwh", "100", "--price", "0.001",
    )  # fmt: skip
    assert code == 1
    assert "bid would revert: exchange: gate closed for this interval" in out.err
    assert "nothing sent" in out.err
    assert w3.eth.get_transaction_count(owner.address) == nonce


def test_a_keeper_run_does_every_meters_work_once(
    cli, anvil_connection, anvil_accounts, deployment, caplog
):
    """Issue 13: `openkwh keeper run` issues, settles deals and settles intervals
    for every meter of the deployment; run again, it finds nothing to do."""
    w3, record = anvil_connection.w3, Deployment.load(deployment)
    admin, owner, keeper = (anvil_accounts[i] for i in (0, 6, 7))
    as_admin = actions.Actor(w3, admin, record)
    meter, start = _measured(as_admin, anvil_accounts, "keeper-run", 2, 300, 1_000)
    actions.fund_treasury(as_admin, 10**21)
    caplog.set_level("INFO", logger="openkwh.commands.actions")
    period = ("--from", _iso(start), "--to", _iso(start + 2 * 3_600))

    code, out = cli("keeper", keeper, "run", *period)
    assert code == 0, out.err
    registry, ob = contract(w3, record, "GGORegistry"), contract(w3, record, "OperatorBackend")
    smb = contract(w3, record, "SmartMeterBackend")
    for h in range(2):
        begin = start + h * 3_600
        cert = registry.functions.certificate_id(meter, begin).call()
        assert registry.functions.balanceOf(owner.address, cert).call() == 1_000
        assert ob.functions.is_settled(smb.address, meter, begin).call()
    assert "meter 1 of 1" in caplog.text
    code, out = cli("keeper", keeper, "run", *period)
    assert code == 1
    assert "nothing to do in that period (1 meter): nothing sent" in out.err


def test_the_operator_announces_a_tariff_in_tokens_per_kwh_and_funds_in_tokens(
    cli, anvil_connection, anvil_accounts, deployment
):
    """Issue 13: prices only in base units per Wh, the treasury only in base units."""
    w3 = anvil_connection.w3
    record = Deployment.load(deployment)
    ob = contract(w3, record, "OperatorBackend")
    admin = anvil_accounts[0]
    now = w3.eth.get_block("latest")["timestamp"]
    when = _iso(now - now % 3_600 + ob.functions.notice_period().call() + 2 * 3_600)
    code, out = cli(
        "operator", admin, "announce-tariff", "--retail", "0,30", "--feed-in", "0",
        "--effective-from", when,
    )  # fmt: skip
    assert code == 0, out.err
    count = ob.functions.tariff_count().call()
    assert ob.functions.tariff(count - 1).call()[:2] == (3 * 10**14, 0)
    nonce = w3.eth.get_transaction_count(admin.address)
    code, out = cli(
        "operator", admin, "announce-tariff", "--retail", "0.0000000000000001",
        "--feed-in", "0", "--effective-from", when,
    )  # fmt: skip
    assert code == 1
    assert "not a whole number of base units per Wh: the nearest valid prices are 0 and " in out.err
    assert "0.000000000000001 OKWH/kWh" in out.err
    assert w3.eth.get_transaction_count(admin.address) == nonce
    treasury = ob.functions.treasury().call()
    code, out = cli("operator", admin, "fund-treasury", "--amount", "2,5")
    assert code == 0, out.err
    assert ob.functions.treasury().call() == treasury + 25 * 10**17


def test_the_readme_walk_through_every_role_on_a_custom_port(
    anvil, anvil_connection, anvil_accounts, deployment, tmp_path, monkeypatch, capsys, caplog
):
    """The README's "A walk through every role", command by command, in order:
    `openkwh` for every role, and `meter-bridge keygen` and `meter-id` for the
    Pi (keygen before the meter id exists). The bridge's readings are signed with
    the keystore keygen made and relayed as `meter-bridge run` relays them; the
    chain's clock is never moved, as in the walk."""
    from meter_bridge import cli as bridge_cli
    from meter_bridge.keys import load_key
    from openkwh.commands import cli as openkwh

    w3 = anvil_connection.w3
    record = Deployment.load(deployment)
    admin, anna, ben, installer, body = (anvil_accounts[i] for i in (0, 1, 2, 3, 4))
    previous = boa.env
    caplog.set_level("INFO", logger="openkwh.commands.actions")

    def run(account, *argv):
        """`OPENKWH_PRIVATE_KEY=… openkwh ROLE COMMAND … --rpc-url … --deployments …`."""
        monkeypatch.setenv(PRIVATE_KEY_ENV, account.key.hex())
        caplog.clear()
        try:
            code = openkwh.main([*argv, "--rpc-url", anvil.url, "--deployments", str(deployment)])
        except SystemExit as exit_:
            code = exit_.code
        finally:
            boa.set_env(previous)
        out = capsys.readouterr()
        assert code == 0, (argv, out.err)
        return caplog.text

    def bridge(*argv):
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:  # its logging setup replaces the root's handlers, caplog's among them
            assert bridge_cli.main(list(argv)) == 0
        finally:
            root.handlers[:], root.level = handlers, level
        return capsys.readouterr().out.strip()

    # 2. The admin appoints the issuing body of DK1; it certifies the installer.
    text = run(admin, "admin", "set-issuing-body", "--sector", "DK1", "--body", body.address)
    assert f"appointed {body.address} the issuing body of DK1" in text
    text = run(body, "issuing-body", "certify-installer", "--sector", "DK1",
               "--installer", installer.address)  # fmt: skip
    assert f"certified {installer.address} as an installer of DK1" in text

    # 3-4. Each Pi makes its key; the operator's salt gives each meter its id.
    salt = tmp_path / "salt"
    salt.write_bytes(bytes(range(32)))
    gsrn = {"anna": "571313100000000010", "ben": "571313100000000027"}
    signer, meter = {}, {}
    monkeypatch.setenv("METER_BRIDGE_PASSPHRASE", "pi passphrase")
    for who in gsrn:
        pi = tmp_path / who
        pi.mkdir()
        (pi / "bridge.toml").write_text(f'[meter]\nkeystore = "{pi / "meter-key.json"}"\n')
        signer[who] = bridge("keygen", "--config", str(pi / "bridge.toml"))
        meter[who] = bridge("meter-id", "--gsrn", gsrn[who], "--salt-file", str(salt))
        assert meter[who] == "0x" + meter_id(gsrn[who], salt.read_bytes()).hex()
    where = {who: ("--gsrn", gsrn[who], "--salt-file", str(salt)) for who in gsrn}

    # 5. The installer registers both meters; 6. each owner accepts its own.
    text = run(installer, "installer", "register-meter", *where["anna"], "--signer", signer["anna"],
        "--owner", anna.address, "--sector", "DK1", "--kind", "both", "--capacity-w", "6000",
        "--connection-w", "17250", "--tech-code", "T020002", "--fuel-code", "F01050100")  # fmt: skip
    assert f"registered meter {meter['anna']} (both, DK1) with signer {signer['anna']}" in text
    run(installer, "installer", "register-meter", *where["ben"], "--signer", signer["ben"],
        "--owner", ben.address, "--sector", "DK1", "--kind", "consumption",
        "--connection-w", "17250")  # fmt: skip
    assert f"accepted meter {meter['anna']}" in run(
        anna, "prosumer", "accept-meter", *where["anna"]
    )
    run(ben, "prosumer", "accept-meter", *where["ben"])

    # 6. The operator announces a tariff (a week's notice, on the hour) and funds the treasury.
    now = w3.eth.get_block("latest")["timestamp"]
    effective = now - now % 86_400 + 8 * 86_400
    text = run(admin, "operator", "announce-tariff", "--retail", "0.32",
               "--feed-in", "0.08", "--effective-from", _iso(effective))  # fmt: skip
    assert "a retail price of 0.32 OKWH/kWh and a feed-in reward of 0.08 OKWH/kWh" in text
    text = run(admin, "operator", "fund-treasury", "--amount", "1000")
    assert "funded the treasury with 1000 OKWH" in text

    # Ben buys tokens and prepays his ledger.
    assert "you hold 100 OKWH" in run(ben, "prosumer", "buy-tokens", "--ether", "0.1")
    assert "the ledger holds 20 OKWH" in run(ben, "prosumer", "deposit", "--amount", "20")

    # 7-8. The Pis' readings of the last hours, signed with the keys keygen made.
    smb = contract(w3, record, "SmartMeterBackend")
    hour = now - now % 3_600
    for who, flows in (("anna", (100, 2_000)), ("ben", (500, 0))):
        key = load_key(tmp_path / who / "meter-key.json", "pi passphrase")
        for h in range(3):  # a baseline and two hours
            end = hour - (2 - h) * 3_600
            begin = smb.functions.next_reading_begin(bytes.fromhex(meter[who][2:])).call()
            reading = Reading(bytes.fromhex(meter[who][2:]), end, 7_000_000 + flows[0] * h,
                              1_000_000 + flows[1] * h, keccak(text=f"{who}{end}"), begin)  # fmt: skip
            signed = sign_reading(key, reading, w3.eth.chain_id, smb.address)
            transact(w3, admin, smb.functions.submit_reading(*signed.contract_args()))

    # 9. A keeper settles both meters and issues Anna's certificates; the ids are printed.
    period = ("--from", _iso(hour - 2 * 3_600), "--to", _iso(hour))
    assert "settled 2 measurements" in run(admin, "keeper", "settle", *where["anna"], *period)
    assert "settled 2 measurements" in run(admin, "keeper", "settle", *where["ben"], *period)
    text = run(admin, "keeper", "issue", *where["anna"], *period)
    registry = contract(w3, record, "GGORegistry")
    first = hour - 2 * 3_600
    certificate = registry.functions.certificate_id(bytes.fromhex(meter["anna"][2:]), first).call()
    assert f"{_iso(first, ' ')} UTC: certificate {certificate}, 2,000 Wh" in text

    # 10. Trading a coming hour: Anna offers, Ben bids, each takes the other's order.
    traded = ("--interval", _iso(hour + 3 * 3_600))
    text = run(anna, "market", "offer", *where["anna"], *traded, "--kwh", "1,5", "--price", "0.25")
    offer = int(text.rsplit("order ", 1)[1].split()[0])
    text = run(ben, "market", "bid", *where["ben"], *traded, "--kwh", "1", "--price", "0.30")
    bid = int(text.rsplit("order ", 1)[1].split()[0])
    assert "bought 1 kWh" in run(ben, "market", "take", "--order", str(offer),
                                 *where["ben"], "--kwh", "1")  # fmt: skip
    assert "sold 0.5 kWh" in run(anna, "market", "take", "--order", str(bid),
                                 *where["anna"], "--kwh", "0,5")  # fmt: skip

    # 11. Anna passes 0,3 kWh of her certificate to Ben, who retires it against his hour.
    run(anna, "prosumer", "transfer-certificate", "--certificate", str(certificate),
        "--to", ben.address, "--kwh", "0,3")  # fmt: skip
    assert "retired 300 Wh" in run(ben, "prosumer", "retire", "--certificate", str(certificate),
                                   "--kwh", "0,3", *where["ben"], "--note", "walk")  # fmt: skip
    assert registry.functions.claimedBalanceOf(ben.address, certificate).call() == 300

    # 11-12. Ben takes 5 OKWH back out of his ledger; the deals wait for their hour's reading.
    assert "withdrew 5 OKWH" in run(ben, "prosumer", "withdraw", "--amount", "5")
    monkeypatch.setenv(PRIVATE_KEY_ENV, admin.key.hex())
    with pytest.raises(SystemExit) as exit_:
        openkwh.main(["keeper", "settle-deals", "--from-block", "1",
                      "--rpc-url", anvil.url, "--deployments", str(deployment)])  # fmt: skip
    boa.set_env(previous)
    assert exit_.value.code == 1
    assert "2 wait for their measurement): nothing sent" in capsys.readouterr().err

    # 13. Scope 2: the issuing body appoints a factor publisher and an auditor; the
    # publisher's (illustrative) factors; Ben's statement of his two hours, attested.
    caplog.set_level("INFO", logger="openkwh.commands.emissions")
    publisher, auditor, dana = anvil_accounts[8], anvil_accounts[9], anvil_accounts[7]
    run(body, "issuing-body", "appoint-publisher", "--sector", "DK1",
        "--publisher", publisher.address)  # fmt: skip
    run(body, "issuing-body", "appoint-auditor", "--sector", "DK1", "--auditor", auditor.address)
    factors_file = tmp_path / "factors.csv"
    factors_file.write_text("DK1 illustrative factors\n")
    blobs = ("--blobs", str(tmp_path / "blobs"))
    year = str(datetime.fromtimestamp(first, UTC).year)
    for kind, factor in (("location", "141.5"), ("residual", "452.25")):
        text = run(publisher, "publisher", "publish-year", "--sector", "DK1", "--kind", kind,
                   "--year", year, "--factor", factor, "--source", "illustrative (walk)",
                   "--source-file", str(factors_file), *blobs)  # fmt: skip
        assert f"{factor} g CO2e/kWh, as publication" in text
    text = run(ben, "prosumer", "make-statement", *where["ben"], *period)
    # 1,000 Wh at 141.5 g/kWh; the 700 Wh not matched by Anna's solar certificate at
    # the residual mix: grams rounded once, half up.
    assert "consumed    1 kWh (1,000 Wh), hourly matched 0.3 kWh (30.0 %)" in text
    assert "location-based  142 g CO2e (exactly 141,500,000 ug)" in text
    assert "market-based    317 g CO2e (exactly 316,575,000 ug)" in text
    text = run(auditor, "auditor", "attest", "--statement", "1", "--note",
               "readings and factors checked", *blobs)  # fmt: skip
    assert 'attested statement 1: "readings and factors checked"' in text
    assert f"from meters, attested by {auditor.address}" in run(
        admin, "prosumer", "statement", "--id", "1"
    )

    # 14. Dana, with no meter on chain: her signed request, her Green Button data
    # encrypted to her key and published by the auditor, decrypted by her.
    request = tmp_path / "request.json"
    bill = Path(__file__).parents[1] / "fixtures" / "greenbutton" / "espi_15min_one_day.xml"
    run(dana, "prosumer", "request-statement", "--auditor", auditor.address, "--sector", "DK1",
        "--utility", "Coastal utility", "--from", "2012-03-01T05:00Z", "--to", "2012-03-02T05:00Z",
        "--out", str(request))  # fmt: skip
    assert f"request 1: {dana.address} asks for a statement" in run(auditor, "auditor", "requests")
    text = run(auditor, "auditor", "publish-bill-statement", "--request", "1", "--signed-request",
               str(request), "--bill", str(bill), "--location-factor", "385.6",
               "--market-factor", "210", *blobs)  # fmt: skip
    assert "published statement 2 for" in text
    assert "93.846 kWh, location-based 36,187 g, market-based 19,708 g CO2e" in text
    run(dana, "prosumer", "decrypt-bill", "--statement", "2", *blobs,
        "--out", str(tmp_path / "bill.xml"))  # fmt: skip
    assert (tmp_path / "bill.xml").read_bytes() == bill.read_bytes()


def test_an_account_with_no_ether_gets_a_message_not_a_traceback(cli):
    """From issue 17's review: a new customer's first command, from a wallet with no
    ether, printed web3's RPC error with a traceback."""
    claimer = Account.create().address
    code, out = cli("prosumer", Account.create(), "approve-claimer", "--claimer", claimer)
    assert code == 1, out.err
    assert "setApprovalForAll was refused by the node: " in out.err
    assert "has no ether to pay for gas: send it some" in out.err
    assert "Traceback" not in out.err

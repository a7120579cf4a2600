"""Issue 17 through the command line on a real anvil: factor publishers and
auditors appointed, factors published and corrected, a prosumer's statement of
its meter attested, and a customer without a meter on chain: its signed request,
its Green Button bill data encrypted to its key, published, decrypted by it
alone. Every bad input is a message, never a traceback, and sends nothing."""

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import boa
import pytest

from openkwh.chain import Deployment, contract
from openkwh.commands import actions
from openkwh.commands import cli as openkwh
from openkwh.commands.network import PRIVATE_KEY_ENV
from openkwh.emissions import bill
from tests.integration.test_actions_cli import _read, _registered

pytestmark = pytest.mark.anvil

BILL = Path(__file__).resolve().parents[1] / "fixtures" / "greenbutton" / "espi_15min_one_day.xml"
BILL_BEGIN, BILL_END = "2012-03-01T05:00Z", "2012-03-02T05:00Z"  # the sample's day, UTC
BILL_WH = 93_846


@pytest.fixture
def run(anvil, deployment, monkeypatch, capsys):
    """``openkwh ROLE COMMAND …`` in-process as a dev account: (exit code, out, err)."""
    previous = boa.env

    def run(account, *argv):
        monkeypatch.setenv(PRIVATE_KEY_ENV, account.key.hex())
        try:
            code = openkwh.main(["--rpc-url", anvil.url, "--deployments", str(deployment), *argv])
        except SystemExit as exit_:
            code = exit_.code
        finally:
            boa.set_env(previous)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_factors_statements_attestation_and_encrypted_bill_data(
    run, anvil_connection, anvil_accounts, deployment, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    w3 = anvil_connection.w3
    emissions = contract(w3, Deployment.load(deployment), "EmissionsRegistry")
    admin, customer, owner, relayer = (anvil_accounts[i] for i in (0, 2, 6, 7))
    body, publisher, auditor = anvil_accounts[4], anvil_accounts[8], anvil_accounts[9]
    as_admin = actions.Actor(w3, admin, Deployment.load(deployment))
    meter, key = _registered(as_admin, anvil_accounts, owner, "emissions-cli", "consumption")
    blobs = tmp_path / "blobs"

    # Appointments: the admin a publisher, the sector's issuing body an auditor.
    code, out, err = run(
        admin, "admin", "appoint-publisher", "--sector", "DK1", "--publisher", publisher.address
    )
    assert code == 0, err
    assert out.startswith("sent 0x")
    code, _, err = run(
        body, "issuing-body", "appoint-auditor", "--sector", "DK1", "--auditor", auditor.address
    )
    assert code == 0, err
    assert emissions.functions.is_publisher("DK1", publisher.address).call()
    assert emissions.functions.is_auditor("DK1", auditor.address).call()

    # Three hours of the meter: 500, 700 and 900 Wh.
    now = w3.eth.get_block("latest")["timestamp"]
    start = now - now % 3_600 + 3_600
    for hour, total in enumerate((0, 500, 1_200, 2_100)):
        _read(as_admin, relayer, key, meter, start + hour * 3_600, total, 0)
    year = datetime.fromtimestamp(start, UTC).year
    day = start - start % 86_400

    # Factors in g/kWh with decimals, recorded exactly in mg/kWh.
    source = tmp_path / "declaration.csv"
    source.write_text("hour,g/kWh\n")
    common = ["--sector", "DK1", "--source-file", str(source), "--blobs", str(blobs)]
    code, out, err = run(
        publisher,
        "publisher",
        "publish-year",
        "--kind",
        "location",
        "--year",
        str(year),
        "--factor",
        "150.5",
        "--source",
        "eGRID-like (illustrative)",
        "--json",
        *common,
    )
    assert code == 0, err
    first = json.loads(out)
    assert first["factor_mg_per_kwh"] == 150_500
    assert (blobs / first["cid"]).read_bytes() == b"hour,g/kWh\n"
    # A second publication of the same period is a correction, asked for explicitly.
    nonce = w3.eth.get_transaction_count(publisher.address)
    again = [
        "publisher",
        "publish-year",
        "--kind",
        "location",
        "--year",
        str(year),
        "--factor",
        "151.25",
        "--source",
        "corrected",
        *common,
    ]
    code, _, err = run(publisher, *again)
    assert code == 1
    assert (
        f"publication {first['publication']} already gives the yearly location-based factor of DK1"
        in err
    )
    assert "pass --correct to supersede it; nothing sent" in err
    assert w3.eth.get_transaction_count(publisher.address) == nonce
    code, out, err = run(publisher, *again, "--correct", "--json")
    assert code == 0, err
    corrected = json.loads(out)
    assert corrected["supersedes"] == first["publication"]
    assert (
        emissions.functions.publication(first["publication"]).call()[-1] == corrected["publication"]
    )
    code, _, err = run(
        publisher,
        "publisher",
        "publish-year",
        "--kind",
        "residual",
        "--year",
        str(year),
        "--factor",
        "512,3",
        "--source",
        "AIB-like residual mix (illustrative)",
        *common,
    )
    assert code == 0, err
    hourly = [f"{100 + h}.5" for h in range(24)]
    code, _, err = run(
        publisher,
        "publisher",
        "publish-day",
        "--day",
        _iso(day)[:10],
        "--factors",
        ",".join(hourly),
        "--source",
        "Energinet-like hourly (illustrative)",
        *common,
    )
    assert code == 0, err

    # The owner's statement of its meter: exact figures, rounded once.
    code, out, err = run(
        owner,
        "prosumer",
        "make-statement",
        "--meter-id",
        meter.hex(),
        "--from",
        _iso(start),
        "--to",
        _iso(start + 3 * 3_600),
        "--json",
    )
    assert code == 0, err
    made = json.loads(out)["statement"]
    factors = []
    for hour in range(3):
        t = start + hour * 3_600
        factors.append(
            (100_500 + 1_000 * ((t % 86_400) // 3_600)) if t - t % 86_400 == day else 151_250
        )
    location_ug = sum(wh * f for wh, f in zip((500, 700, 900), factors, strict=True))
    assert made["consumed_wh"] == 2_100
    assert made["location_ug"] == location_ug
    assert made["location_g"] == (location_ug + 500_000) // 1_000_000
    assert made["market_ug"] == 2_100 * 512_300
    assert made["market_g"] == 1_076  # 1_075_830_000 ug, half up
    assert made["origin"] == 1

    # Restated (nothing changed since): the same figures in a new statement, which
    # supersedes the first.
    code, out, err = run(owner, "prosumer", "restate-statement", "--id", str(made["id"]), "--json")
    assert code == 0, err
    restated = json.loads(out)["statement"]
    assert restated["id"] == made["id"] + 1
    assert (restated["location_ug"], restated["market_ug"]) == (location_ug, 2_100 * 512_300)
    assert emissions.functions.statement(made["id"]).call()[13] == restated["id"]
    statement_id = restated["id"]

    # The auditor attests; its working papers are the statement's figures by default.
    code, out, err = run(
        auditor,
        "auditor",
        "attest",
        "--statement",
        str(statement_id),
        "--note",
        "readings and factors checked",
        "--blobs",
        str(blobs),
        "--json",
    )
    assert code == 0, err
    papers = json.loads(out)["cid"]
    assert json.loads((blobs / papers).read_bytes())["consumed_wh"] == 2_100
    caplog.clear()
    code, _, err = run(owner, "prosumer", "statement", "--id", str(statement_id))
    assert code == 0, err
    shown = caplog.text
    assert (
        f"statement {statement_id} of {owner.address}, DK1: from meters, attested by {auditor.address}"
        in shown
    )
    assert "location-based" in shown
    assert '"readings and factors checked"' in shown

    # A customer with no meter on chain: the request, signed.
    request_file = tmp_path / "request.json"
    code, out, err = run(
        customer,
        "prosumer",
        "request-statement",
        "--auditor",
        auditor.address,
        "--sector",
        "DK1",
        "--utility",
        "Coastal utility (sample)",
        "--from",
        BILL_BEGIN,
        "--to",
        BILL_END,
        "--out",
        str(request_file),
        "--json",
    )
    assert code == 0, err
    request_id = json.loads(out)["request"]
    signed = json.loads(request_file.read_text())
    assert signed["account"] == customer.address
    assert signed["chain_id"] == w3.eth.chain_id
    caplog.clear()
    code, _, err = run(auditor, "auditor", "requests")
    assert code == 0, err
    assert f"request {request_id}: {customer.address} asks for a statement" in caplog.text

    # The auditor computes, encrypts to the customer's key and publishes.
    factors = ["--location-factor", "385.6", "--market-factor", "210"]
    bill_args = ["--bill", str(BILL), *factors]
    code, out, err = run(
        auditor,
        "auditor",
        "import-bill",
        *bill_args,
        "--from",
        BILL_BEGIN,
        "--to",
        BILL_END,
        "--json",
    )
    assert code == 0, err
    preview = json.loads(out)
    assert (preview["consumed_wh"], preview["location_g"], preview["market_g"]) == (
        BILL_WH,
        36_187,
        19_708,
    )
    assert preview["transactions"] == []
    # The utility's CSV export of the same day, in its local time, gives the same.
    code, out, err = run(
        auditor,
        "auditor",
        "import-bill",
        *factors,
        "--bill",
        str(BILL.with_suffix(".csv")),
        "--timezone",
        "America/New_York",
        "--from",
        BILL_BEGIN,
        "--to",
        BILL_END,
        "--json",
    )
    assert code == 0, err
    from_csv = json.loads(out)
    assert from_csv["format"] == "Green Button CSV"
    assert (from_csv["consumed_wh"], from_csv["location_g"], from_csv["market_g"]) == (
        BILL_WH,
        36_187,
        19_708,
    )
    code, out, err = run(
        auditor,
        "auditor",
        "publish-bill-statement",
        "--request",
        str(request_id),
        "--signed-request",
        str(request_file),
        *bill_args,
        "--blobs",
        str(blobs),
        "--json",
    )
    assert code == 0, err
    published = json.loads(out)
    utility_statement = emissions.functions.statement(published["statement"]).call()
    assert utility_statement[0] == customer.address
    assert utility_statement[1] == 3  # ORIGIN_UTILITY
    assert utility_statement[6] == BILL_WH
    assert utility_statement[10:12] == (36_187, 19_708)
    ciphertext = (blobs / published["data_cid"]).read_bytes()
    assert BILL.read_bytes()[:200] not in ciphertext

    # Only the customer's key decrypts it.
    out_file = tmp_path / "bill.xml"
    decrypt = [
        "prosumer",
        "decrypt-bill",
        "--statement",
        str(published["statement"]),
        "--blobs",
        str(blobs),
    ]
    code, _, err = run(customer, *decrypt, "--out", str(out_file))
    assert code == 0, err
    assert out_file.read_bytes() == BILL.read_bytes()
    code, _, err = run(owner, *decrypt, "--out", str(tmp_path / "stolen.xml"))
    assert code == 1
    assert "this key cannot decrypt the bill data: it was encrypted to another account's key" in err
    assert not (tmp_path / "stolen.xml").exists()


def test_bad_inputs_are_messages_and_send_nothing(
    run, anvil_connection, anvil_accounts, deployment, tmp_path
):
    w3 = anvil_connection.w3
    admin, customer, stranger, auditor = (anvil_accounts[i] for i in (0, 2, 3, 9))
    code, _, err = run(
        admin, "admin", "appoint-auditor", "--sector", "DK1", "--auditor", auditor.address
    )
    assert code == 0, err
    request_file = tmp_path / "request.json"
    code, out, err = run(
        customer,
        "prosumer",
        "request-statement",
        "--auditor",
        auditor.address,
        "--sector",
        "DK1",
        "--utility",
        "Coastal utility (sample)",
        "--from",
        BILL_BEGIN,
        "--to",
        BILL_END,
        "--out",
        str(request_file),
        "--json",
    )
    assert code == 0, err
    request_id = str(json.loads(out)["request"])
    not_bill = tmp_path / "not-a-bill.txt"
    not_bill.write_text("hello")
    signed = json.loads(request_file.read_text())
    forged = tmp_path / "forged.json"
    forged.write_text(
        json.dumps(
            bill.sign_request(
                stranger,
                bill.Request(
                    customer.address,
                    signed["chain_id"],
                    signed["registry"],
                    signed["request_id"],
                    signed["begin"],
                    signed["end"],
                ),
            )
        )
    )
    other_chain = tmp_path / "other-chain.json"
    other_chain.write_text(
        json.dumps(
            bill.sign_request(
                customer,
                bill.Request(
                    customer.address,
                    1,
                    signed["registry"],
                    signed["request_id"],
                    signed["begin"],
                    signed["end"],
                ),
            )
        )
    )
    publish = [
        "auditor",
        "publish-bill-statement",
        "--location-factor",
        "385.6",
        "--market-factor",
        "210",
        "--blobs",
        str(tmp_path / "b"),
    ]
    meter = ["--meter-id", "11" * 32]

    cases = [
        # (account, argv, exit code, what the message says)
        (
            auditor,
            [
                "publisher",
                "publish-year",
                "--sector",
                "DK1",
                "--kind",
                "location",
                "--year",
                "2026",
                "--factor",
                "98.5001",
                "--source",
                "x",
                "--cid",
                "bafkqaaa",
            ],
            2,
            "finer than the milligram",
        ),
        (
            auditor,
            [
                "publisher",
                "publish-year",
                "--sector",
                "DK1",
                "--kind",
                "location",
                "--year",
                "2026",
                "--factor",
                "98.5",
                "--source",
                "x",
                "--cid",
                "bafkqaaa",
            ],
            1,
            "emissions: caller is not a factor publisher of this sector",
        ),
        (
            auditor,
            [
                "publisher",
                "publish-day",
                "--sector",
                "DK1",
                "--day",
                "2026-06-20T01:00Z",
                "--factors",
                "1",
                "--source",
                "x",
                "--cid",
                "bafkqaaa",
            ],
            2,
            "not a UTC day",
        ),
        (
            auditor,
            [
                "publisher",
                "publish-day",
                "--sector",
                "DK1",
                "--day",
                "2026-06-20",
                "--factors",
                "1 2",
                "--source",
                "x",
                "--cid",
                "bafkqaaa",
            ],
            1,
            "a day has 24 hourly factors, 2 given",
        ),
        (
            auditor,
            [
                "publisher",
                "publish-year",
                "--sector",
                "DK1",
                "--kind",
                "location",
                "--year",
                "2026",
                "--factor",
                "1",
                "--source",
                "x",
                "--cid",
                "not-a-cid",
            ],
            2,
            "not a content id",
        ),
        (customer, ["prosumer", "make-statement", *meter, "--month", "2026-13"], 2, "not a month"),
        (
            customer,
            ["prosumer", "make-statement", *meter, "--from", "2026-01-01", "--to", "2027-01-03"],
            1,
            "366 days at most, and 744 measurements (31 days of 3600 s without a gap)",
        ),
        (
            customer,
            ["prosumer", "make-statement", *meter, "--from", "2026-01-02", "--to", "2026-01-01"],
            1,
            "--to must come after --from",
        ),
        (
            customer,
            ["prosumer", "make-statement", *meter, "--month", "2026-01"],
            1,
            "emissions: unknown meter",
        ),
        (
            customer,
            ["prosumer", "make-statement", *meter, "--year", "2025"],
            1,
            "the year's statement: make_statement would revert: emissions: unknown meter "
            "(nothing sent)",
        ),
        (
            customer,
            ["prosumer", "merge-statements", "--statements", "1"],
            1,
            "a merge joins two statements or more",
        ),
        (customer, ["prosumer", "statement", "--id", "99"], 1, "there is no statement 99"),
        (
            customer,
            [
                "prosumer",
                "request-statement",
                "--auditor",
                stranger.address,
                "--sector",
                "DK1",
                "--utility",
                "u",
                "--month",
                "2026-01",
                "--out",
                str(tmp_path / "r2.json"),
            ],
            1,
            "emissions: not an auditor of this sector",
        ),
        (
            customer,
            [
                "prosumer",
                "request-statement",
                "--auditor",
                auditor.address,
                "--sector",
                "DK1",
                "--utility",
                "u",
                "--from",
                "2026-01-01T00:30Z",
                "--to",
                "2026-01-02",
                "--out",
                str(tmp_path / "r3.json"),
            ],
            1,
            "begins and ends on the hour",
        ),
        (
            customer,
            ["prosumer", "decrypt-bill", "--statement", "99", "--out", str(tmp_path / "x")],
            1,
            "there is no statement 99",
        ),
        (
            stranger,
            ["auditor", "attest", "--statement", "99", "--note", "n"],
            1,
            "there is no statement 99",
        ),
        (
            auditor,
            [
                "auditor",
                "import-bill",
                "--bill",
                str(not_bill),
                "--location-factor",
                "1",
                "--market-factor",
                "1",
                "--month",
                "2012-03",
            ],
            1,
            "a Green Button CSV holds local times",
        ),
        (
            auditor,
            [
                "auditor",
                "import-bill",
                "--bill",
                str(tmp_path / "missing.xml"),
                "--location-factor",
                "1",
                "--market-factor",
                "1",
                "--month",
                "2012-03",
            ],
            1,
            "cannot read the bill data file",
        ),
        (
            auditor,
            [
                "auditor",
                "import-bill",
                "--bill",
                str(BILL),
                "--location-factor",
                "1",
                "--market-factor",
                "1",
                "--month",
                "2012-03",
            ],
            1,
            "has no reading from 2012-03-01T00:00Z to 2012-03-01T05:00Z",
        ),
        (
            auditor,
            [
                *publish,
                "--request",
                "99",
                "--signed-request",
                str(request_file),
                "--bill",
                str(BILL),
            ],
            1,
            "there is no request 99",
        ),
        (
            stranger,
            [
                *publish,
                "--request",
                request_id,
                "--signed-request",
                str(request_file),
                "--bill",
                str(BILL),
            ],
            1,
            f"addressed to {auditor.address}, not you",
        ),
        (
            auditor,
            [
                *publish,
                "--request",
                request_id,
                "--signed-request",
                str(forged),
                "--bill",
                str(BILL),
            ],
            1,
            f"signed by {stranger.address}, not by the customer",
        ),
        (
            auditor,
            [
                *publish,
                "--request",
                request_id,
                "--signed-request",
                str(other_chain),
                "--bill",
                str(BILL),
            ],
            1,
            "the signed request's chain id is 1",
        ),
        (
            auditor,
            [
                *publish,
                "--request",
                request_id,
                "--signed-request",
                str(not_bill),
                "--bill",
                str(BILL),
            ],
            1,
            "is not a signed request",
        ),
        (
            auditor,
            [
                *publish,
                "--request",
                request_id,
                "--signed-request",
                str(request_file),
                "--bill",
                str(not_bill),
            ],
            1,
            "a Green Button CSV holds local times",
        ),
    ]
    for account, argv, expected, message in cases:
        nonce = w3.eth.get_transaction_count(account.address)
        code, _, err = run(account, *argv)
        assert (code, message in err) == (expected, True), (argv, err)
        assert "Traceback" not in err
        assert w3.eth.get_transaction_count(account.address) == nonce, argv
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())

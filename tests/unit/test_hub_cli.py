"""`openkwh hub`: a metering point added by its GSRN, a DataHub file imported."""

import json
import time

import pytest

from meter_bridge.signing import meter_id
from openkwh.commands.cli import main
from openkwh.hub.cli import parser
from openkwh.hub.store import open_store
from tests.fixtures.hub import BEGIN, ROOTS_ADDRESS

GSRN = "571313180400012349"


def test_hub_add_meter_and_import(tmp_path, capsys):
    common = hub_files(tmp_path)
    added = json.loads(capsys.readouterr().out)
    assert added["meter_id"] == "0x" + meter_id(GSRN, b"s" * 32).hex()
    csv = tmp_path / "hour.csv"
    csv.write_text(
        "metering_point_id;begin;end;quantity_wh;quality\n"
        f"{GSRN};2026-05-28T20:00:00Z;2026-05-28T21:00:00Z;512;measured\n"
        "571313180400099999;2026-05-28T20:00:00Z;2026-05-28T21:00:00Z;1;measured\n"
    )
    assert main(["hub", "import", str(csv), *common]) == 3  # some refused
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["accepted"] == 1
    assert outcome["refused"][0]["at"] == 3
    assert outcome["refused"][0]["reason"].startswith("unknown meter: metering point 5713131804000")
    store = open_store(tmp_path / "hub.sqlite")
    assert store.leaf(meter_id(GSRN, b"s" * 32), BEGIN).consumed_wh == 512
    store.close()


def hub_files(tmp_path) -> list[str]:
    """A store with one metering point, and the options naming it, its deployment and salt key."""
    deployments = tmp_path / "deployments.json"
    deployments.write_text(json.dumps({"chain_id": 31_337, "network": "anvil", "contracts": {
        "MeasurementRoots": {"address": ROOTS_ADDRESS, "abi": []}}}))  # fmt: skip
    (tmp_path / "salt").write_bytes(b"s" * 32)
    (tmp_path / "hub-salt").write_bytes(b"h" * 32)
    common = ["--store", str(tmp_path / "hub.sqlite"), "--deployments", str(deployments),
              "--salt-key-file", str(tmp_path / "hub-salt")]  # fmt: skip
    assert main(["hub", "add-meter", "--gsrn", GSRN, "--salt-file", str(tmp_path / "salt"),
                 "--signer", "0x" + "01" * 20, "--owner", "0x" + "02" * 20, "--sector", "DK1",
                 *common]) == 0  # fmt: skip
    return common


@pytest.mark.parametrize("command", ["add-meter", "import", "publish", "serve"])
def test_hub_command_help_describes_it_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["hub", command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert f"\nexample: openkwh hub {command} " in text
    assert "--json" not in text  # the role commands' option: the hub's print JSON anyway
    assert text.count("\n\n") >= 3  # usage, a description of its own, options, example


def test_hub_import_help_shows_the_file_format_and_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["hub", "import", "--help"])
    text = capsys.readouterr().out
    assert "  metering_point_id;begin;end;quantity_wh;quality;type\n" in text
    words = " ".join(text.split())
    assert "quantity_wh is an integer in Wh" in words
    assert "Exits 0 when every row was accepted, 3 when some were refused, 1 on an error" in words


def test_openkwh_help_leads_to_the_hub(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "openkwh hub --help" in capsys.readouterr().out


def test_hub_import_of_a_missing_file_says_so(tmp_path, capsys):
    common = hub_files(tmp_path)
    capsys.readouterr()
    assert main(["hub", "import", str(tmp_path / "absent.csv"), *common]) == 1
    assert capsys.readouterr().err == (
        f"openkwh hub import: No such file or directory: {tmp_path / 'absent.csv'}\n"
    )


def test_hub_import_without_the_salt_key_file_says_so(tmp_path, capsys):
    common = hub_files(tmp_path)
    (tmp_path / "hour.csv").write_text("metering_point_id;begin;end;quantity_wh;quality\n")
    (tmp_path / "hub-salt").unlink()
    capsys.readouterr()
    assert main(["hub", "import", str(tmp_path / "hour.csv"), *common]) == 1
    assert capsys.readouterr().err == (
        f"openkwh hub import: No such file or directory: {tmp_path / 'hub-salt'}\n"
    )


@pytest.fixture
def copenhagen(monkeypatch):
    """The machine's local time is Copenhagen's, two hours ahead of UTC in summer."""
    monkeypatch.setenv("TZ", "Europe/Copenhagen")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "given", ["2026-05-28T20:00", "2026-05-28T20:00Z", "2026-05-28T22:00+02:00", str(BEGIN)]
)
def test_hub_publish_interval_is_utc_unless_it_names_a_zone(copenhagen, given):
    args = parser().parse_args(["publish", "--sector", "DK1", "--interval", given])
    assert args.interval == BEGIN


@pytest.mark.parametrize(
    ("interval", "reason"),
    [
        ("2026-05-28T20:30Z", "--interval: 2026-05-28 20:30 UTC is not the begin of an "
         "interval of the 3600 s grid"),
        ("2026-05-28T21:00Z", "no measurement of a DK1 meter for 2026-05-28 21:00 UTC to "
         "2026-05-28 22:00 UTC in {store}: nothing published"),
        ("2026-05-28T22:00Z", "the DK1 roots of 2026-05-28 22:00 UTC to 2026-05-28 23:00 UTC are "
         "published already (see {store}): nothing sent"),
    ],
)  # fmt: skip
def test_hub_publish_of_nothing_says_so_before_sending(tmp_path, capsys, interval, reason):
    common = hub_files(tmp_path)
    csv = tmp_path / "hour.csv"
    csv.write_text("metering_point_id;begin;end;quantity_wh;quality\n"
                   f"{GSRN};2026-05-28T20:00:00Z;2026-05-28T21:00:00Z;512;measured\n"
                   f"{GSRN};2026-05-28T22:00:00Z;2026-05-28T23:00:00Z;512;measured\n")  # fmt: skip
    assert main(["hub", "import", str(csv), *common]) == 0
    store = open_store(tmp_path / "hub.sqlite")  # 22:00 is published: a hub root, no signed leaf
    store.add_root("DK1", BEGIN + 7_200, "hub", BEGIN + 10_800, b"r" * 32, "c", "f", 1, "0x01")
    store.close()
    capsys.readouterr()
    no_node = ["--rpc-url", "http://127.0.0.1:9"]  # the discard port: nothing is sent
    assert main(["hub", "publish", "--sector", "DK1", "--interval", interval,
                 *no_node, *common]) == 1  # fmt: skip
    answer = capsys.readouterr()
    assert answer.out == ""
    assert answer.err == f"openkwh hub publish: {reason.format(store=tmp_path / 'hub.sqlite')}\n"


def test_hub_add_meter_twice_says_it_is_served_already(tmp_path, capsys):
    common = hub_files(tmp_path)
    served = json.loads(capsys.readouterr().out)["meter_id"]
    assert main(["hub", "add-meter", "--gsrn", GSRN, "--salt-file", str(tmp_path / "salt"),
                 "--signer", "0x" + "03" * 20, "--owner", "0x" + "04" * 20, "--sector", "DK1",
                 *common]) == 1  # fmt: skip
    assert capsys.readouterr().err == (
        f"openkwh hub add-meter: meter {served} (metering point {GSRN}) is served already: "
        "nothing changed\n"
    )
    (tmp_path / "salt-2").write_bytes(b"t" * 32)  # another salt: another meter id, same point
    assert main(["hub", "add-meter", "--gsrn", GSRN, "--salt-file", str(tmp_path / "salt-2"),
                 "--signer", "0x" + "03" * 20, "--owner", "0x" + "04" * 20, "--sector", "DK1",
                 *common]) == 1  # fmt: skip
    assert capsys.readouterr().err == (
        f"openkwh hub add-meter: metering point {GSRN} is served already as meter {served}, "
        f"not 0x{meter_id(GSRN, b't' * 32).hex()}: nothing changed\n"
    )
    store = open_store(tmp_path / "hub.sqlite")
    assert store.meter(bytes.fromhex(served[2:]))["owner"] == "0x" + "02" * 20
    store.close()


SIGNER, OWNER, METER = "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "ab" * 32


@pytest.mark.parametrize(
    ("who", "signer", "owner", "reason"),
    [
        (["--gsrn", GSRN], SIGNER, OWNER, "openkwh hub add-meter: --gsrn needs --salt-file"),
        (["--meter-id", "0x" + "ab" * 20], SIGNER, OWNER,
         "openkwh hub add-meter: --meter-id: expected 32 bytes"),
        (["--meter-id", METER], SIGNER, "nobody",
         "argument --owner: not a checksummed address: 'nobody'"),
        (["--meter-id", METER], "0x13f8", OWNER,
         "argument --signer: not a checksummed address: '0x13f8'"),
        (["--meter-id", METER], SIGNER, "0x14dc79964da2c08b23698b3d3cc7ca32193d9955",
         "argument --owner: 0x14dc79964da2c08b23698b3d3cc7ca32193d9955 has no checksum"),
    ],
)  # fmt: skip
def test_hub_add_meter_refuses_what_it_could_never_serve(tmp_path, capsys, who, signer, owner,
                                                         reason):  # fmt: skip
    try:
        code = main(["hub", "add-meter", *who, "--signer", signer, "--owner", owner,
                     "--sector", "DK1", "--store", str(tmp_path / "hub.sqlite")])  # fmt: skip
    except SystemExit as exited:  # argparse's refusal of an argument
        code = exited.code
    assert code in (1, 2)
    assert reason in capsys.readouterr().err
    store = open_store(tmp_path / "hub.sqlite")
    assert store.execute("SELECT COUNT(*) FROM meters") == [(0,)]
    store.close()


def test_hub_import_takes_a_file_with_a_byte_order_mark(tmp_path, capsys):
    common = hub_files(tmp_path)
    csv = tmp_path / "hour.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + (  # as a spreadsheet saves UTF-8
        "metering_point_id;begin;end;quantity_wh;quality\n"
        f"{GSRN};2026-05-28T20:00:00Z;2026-05-28T21:00:00Z;512;measured\n").encode())  # fmt: skip
    capsys.readouterr()
    assert main(["hub", "import", str(csv), *common]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": 1, "refused": []}

"""The meter-bridge command line: help, logs, status, replay and meter-id, on a real store."""

import json
import logging
import os
import re
import subprocess
import sys
import time

import pytest
from eth_utils import keccak

from meter_bridge import cli
from meter_bridge.protocols import Telegram
from meter_bridge.store import Store

HOUR = 3_600
T0 = 1_798_761_600  # 2027-01-01T00:00:00Z
GSRN = "571313115100000006"  # a valid GS1 check digit


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "bridge.toml"
    path.write_text(
        f'[meter]\nid = "0x{"ab" * 32}"\n[store]\npath = "{tmp_path / "bridge.sqlite"}"\n'
        f'blobs = "{tmp_path / "blobs"}"\n'
    )
    return path


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "bridge.sqlite", HOUR)
    for hour in range(4):
        opened.add_telegram(Telegram(b"/t %d!\r\n" % hour, 1_000 + hour, 0), T0 + hour * HOUR)
    yield opened
    opened.close()


# Every sub-command, as the module's docstring lists them.
COMMANDS = [line.split()[1] for line in cli.__doc__.splitlines() if line.startswith("    meter-")]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_sub_command_help_has_a_description(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    usage, _, rest = capsys.readouterr().out.partition("\n\n")
    description = rest.split("\n\n")[0]
    assert usage.startswith("usage: meter-bridge")
    assert not description.startswith("options:")
    assert len(description) > 60


@pytest.fixture(autouse=True)
def root_logging():
    """Puts the root logger back as it was: cli.main's setup_logging replaces its handlers."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_logs_carry_a_utc_timestamp(capsys):
    cli.setup_logging("text", "info")
    logging.getLogger("meter_bridge.relay").warning("out of gas money")
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ WARNING meter_bridge.relay: out of gas money", line
    )


@pytest.mark.parametrize(
    "since", ["2027-01-01T02:00:00Z", "2027-01-01T03:00+01:00", "2027-01-01T02:00", "1798768800"]
)
def test_replay_since_takes_an_iso_date_or_unix_seconds(config, store, since, capsys):
    for reading in store.readings():
        store.set_status(reading.interval_end, "delivered", T0, signature=b"\x01" * 65)
    cli.main(["replay", "--config", str(config), "--since", since])
    assert capsys.readouterr().out.startswith("2 reading(s) queued again")
    statuses = [(r.status, r.signature) for r in store.readings()]
    # From 02:00 UTC on: queued to be signed again by the current key.
    assert statuses == [("delivered", b"\x01" * 65)] * 2 + [("new", None)] * 2


def test_replay_refuses_a_date_it_cannot_read(config, store, capsys):
    with pytest.raises(SystemExit):
        cli.main(["replay", "--config", str(config), "--since", "yesterday"])
    assert "expected unix seconds or an ISO date" in capsys.readouterr().err


def test_replay_never_queues_a_reading_of_before_registration(config, store, capsys):
    store.set_status(T0, "unregistered", T0)
    cli.main(["replay", "--config", str(config)])
    assert store.readings()[0].status == "unregistered"


def test_status_json_is_labelled_and_tells_whether_the_daemon_runs(config, store, capsys):
    store.put_state("checks", {"problems": {"signer": "not the signer"}, "warnings": {}}, T0)
    store.put_state(
        "relayer",
        {
            "address": "0x" + "12" * 20,
            "signer": "0x" + "34" * 20,
            "balance": 3 * 10**16,
            "next_transaction": 10**14,
            "per_day": 10**16,
            "days_left": 3.0,
        },
        T0,
    )
    cli.main(["status", "--config", str(config), "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["daemon"] == {"running": False, "pid": None, "last_seen": None}
    assert status["checks"]["problems"] == {"signer": "not the signer"}
    assert status["relayer"]["address"] == "0x" + "12" * 20
    assert status["relayer"]["meter_key"] == "0x" + "34" * 20
    assert status["relayer"]["balance_eth"] == 0.03
    assert status["relayer"]["days_left"] == 3.0
    assert status["last_reading"]["interval_end"] == T0 + 3 * HOUR
    assert status["last_reading"]["status"] == "new"
    assert status["last_telegram"]["import_wh"] == 1_003
    assert status["readings"]["outbox"] == 4
    # A heartbeat of a live process, written just now: running.
    store.put_state("heartbeat", {"pid": os.getpid(), "every": 60}, int(time.time()))
    cli.main(["status", "--config", str(config), "--json"])
    assert json.loads(capsys.readouterr().out)["daemon"]["running"] is True
    # The process is gone: not running, whatever the heartbeat's age.
    gone = subprocess.Popen(["true"])
    gone.wait()
    store.put_state("heartbeat", {"pid": gone.pid, "every": 60}, int(time.time()))
    cli.main(["status", "--config", str(config)])
    text = capsys.readouterr().out
    assert "daemon         NOT running" in text
    assert "problem        not the signer" in text
    assert "3.0 days of gas left" in text
    assert f"meter key      0x{'34' * 20}" in text


def test_meter_id_reads_a_binary_salt_byte_for_byte(tmp_path, capsys):
    salt = bytes(range(30)) + b"\n\x20"  # ends in what .strip() would remove
    (tmp_path / "salt").write_bytes(salt)
    cli.main(["meter-id", "--gsrn", GSRN, "--salt-file", str(tmp_path / "salt")])
    assert capsys.readouterr().out.strip() == "0x" + keccak(salt + GSRN.encode()).hex()


def test_the_installer_tool_computes_the_same_meter_id(tmp_path):
    from openkwh.commands.actions import _meter_id

    salt = b"\t" + bytes(range(31))
    (tmp_path / "salt").write_bytes(salt)

    class Args:
        meter_id = None
        gsrn = GSRN
        salt_file = tmp_path / "salt"

    assert _meter_id(Args) == keccak(salt + GSRN.encode())


def test_the_bridge_imports_nothing_of_the_contracts_toolchain_or_the_dapp():
    """The bridge alone (`pip install ./meter_bridge`, as on a Pi) has no vyper, boa or flask."""
    modules = ["cli", "config", "content", "daemon", "keys", "protocols", "relay", "signing"]
    modules += ["simulator", "store", "telegrams", "profiles"]
    probe = (
        "import sys; "
        + "; ".join(f"import meter_bridge.{m}" for m in modules)
        + "; print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    assert loaded.isdisjoint({"vyper", "boa", "moccasin", "flask", "waitress"})
    done = subprocess.run(
        [sys.executable, "-c", probe.replace("m.split('.')[0]", "m")],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    assert {m for m in loaded if m.startswith("openkwh")} == {
        "openkwh",
        "openkwh.chain",
        *(f"openkwh.chain.{m}" for m in ("deployment", "transactions", "typed_data", "types")),
    }

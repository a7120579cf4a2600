"""`meter-bridge export-leaves`: the owner's fallback when the data hub refuses a
proof (issue 18). The bridge's own signed measurements, from its store, as an
OpenZeppelin tree dump of meter-signed leaves that the rest of the tools read;
bad input is refused with a message that says what is wrong."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meter_bridge import cli
from meter_bridge import config as config_module
from meter_bridge.daemon import Bridge
from meter_bridge.hub_relay import HubRelayer
from meter_bridge.keys import create_keystore, load_key
from meter_bridge.simulator import SimulatedMeter
from openkwh import merkle
from openkwh.hub.leaves import measurement_digest, recover, roots_domain_separator

HOUR = 3_600
T0 = 1_798_761_600  # 2027-01-01T00:00:00Z
METER = bytes.fromhex("ab" * 32)
CHAIN_ID = 31_337
ROOTS = "0x" + "5a" * 20
SECRET = "export-test-passphrase"


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A bridge's configuration, meter key, deployments file and store of three hours."""
    monkeypatch.setenv("METER_BRIDGE_PASSPHRASE", SECRET)
    keystore = tmp_path / "meter-key.json"
    address = create_keystore(keystore, SECRET, iterations=2)
    deployments = tmp_path / "deployments.json"
    deployments.write_text(json.dumps({"chain_id": CHAIN_ID, "network": "test", "contracts": {
        "MeasurementRoots": {"address": ROOTS, "abi": []}}}))  # fmt: skip
    settings = {
        "meter": {"id": "0x" + METER.hex(), "keystore": str(keystore)},
        "chain": {"deployments": str(deployments)},
        "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
    }
    path = tmp_path / "bridge.toml"
    path.write_text("".join(
        f"[{section}]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
        for section, values in settings.items()))  # fmt: skip
    return path, address, config_module.parse(settings)


def fill(config, hours=3) -> Bridge:
    bridge = Bridge(config)
    meter = SimulatedMeter("dsmr5", peak_w=6_000)
    for t in range(T0, T0 + hours * HOUR + 1, 60):
        bridge.now = lambda t=t: t
        bridge.ingest(meter.telegram(t, t))
    return bridge


def export(path, *argv):
    return cli.main(["export-leaves", "--config", str(path), *argv])


def test_export_leaves_writes_the_meters_signed_tree(setup, tmp_path, capsys):
    path, address, config = setup
    bridge = fill(config)
    ends = [reading.interval_end for reading in bridge.store.readings()]
    bridge.store.close()
    out = tmp_path / "tree.json"
    assert export(path, "--from", str(T0), "--to", str(T0 + 3 * HOUR), "--out", str(out)) == 0
    types, values, nodes = merkle.load_dump(out.read_text())
    assert types == merkle.SIGNED_LEAF_TYPES
    assert [(v[1], v[2]) for v in values] == list(itertools.pairwise(ends))
    assert f"root 0x{nodes[0].hex()}" in capsys.readouterr().out
    assert len({v[8] for v in values}) == 3  # a fresh salt each
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    separator = roots_domain_separator(CHAIN_ID, ROOTS)
    for value in values:
        assert value[0] == METER
        assert value[2] - value[1] == HOUR
        digest = measurement_digest(separator, *value[:8])
        assert recover(digest, value[9], value[10], value[11]) == address


def test_export_leaves_signs_as_the_hub_relay_does(setup, tmp_path):
    path, _, config = setup
    bridge = fill(config, hours=1)
    key = load_key(Path(config.meter.keystore), SECRET)
    relayer = HubRelayer("http://127.0.0.1:9", METER, key, bridge.store, CHAIN_ID, ROOTS, HOUR,
                         clock=lambda: T0)  # fmt: skip
    ((_, signed),) = relayer.pending()
    bridge.store.close()
    out = tmp_path / "tree.json"
    assert export(path, "--from", str(T0), "--to", str(T0 + HOUR), "--out", str(out)) == 0
    (value,) = merkle.load_dump(out.read_text())[1]
    assert merkle.json_value(value)[:8] == [
        signed["meter_id"], *(str(signed[k]) for k in ("interval_begin", "interval_end",
        "produced_wh", "consumed_wh", "import_wh", "export_wh")), signed["data_digest"]]  # fmt: skip
    assert (value[9], "0x" + value[10].hex(), "0x" + value[11].hex()) == (
        signed["v"], signed["r"], signed["s"])  # fmt: skip


def test_export_leaves_refuses_an_interval_the_store_does_not_hold(setup, tmp_path):
    path, _, config = setup
    fill(config).store.close()
    out = tmp_path / "tree.json"
    with pytest.raises(SystemExit) as refused:
        export(path, "--from", str(T0 + 10 * HOUR), "--to", str(T0 + 12 * HOUR), "--out", str(out))
    assert str(refused.value) == (
        "meter-bridge: no measurement of the store lies between 2027-01-01 10:00 UTC and "
        "2027-01-01 12:00 UTC: its readings end from 2027-01-01 00:00 UTC to 2027-01-01 03:00 UTC"
    )
    assert not out.exists()


def test_export_leaves_refuses_an_empty_store(setup, tmp_path):
    path, _, config = setup
    Bridge(config).store.close()
    with pytest.raises(SystemExit) as refused:
        export(path, "--from", str(T0), "--to", str(T0 + HOUR), "--out", str(tmp_path / "t.json"))
    assert str(refused.value) == (
        "meter-bridge: the store holds 0 reading(s): a measurement needs two, one interval "
        "apart; has the bridge run?"
    )


def test_export_leaves_refuses_a_missing_store(setup, tmp_path):
    path, _, config = setup
    with pytest.raises(SystemExit) as refused:
        export(path, "--from", str(T0), "--to", str(T0 + HOUR), "--out", str(tmp_path / "t.json"))
    assert (
        str(refused.value) == f"meter-bridge: no store at {config.store.path}: has the bridge run?"
    )


def test_export_leaves_never_overwrites_a_tree_file(setup, tmp_path):
    path, _, config = setup
    fill(config).store.close()
    out = tmp_path / "tree.json"
    out.write_text("the salts of a published root")
    with pytest.raises(SystemExit) as refused:
        export(path, "--from", str(T0), "--to", str(T0 + HOUR), "--out", str(out))
    assert str(refused.value) == (
        f"meter-bridge: {out} exists: not overwritten (a published root's salts are only in "
        "its tree file); choose another --out"
    )
    assert out.read_text() == "the salts of a published root"


def test_export_leaves_refuses_an_out_in_no_folder(setup, tmp_path):
    path, _, config = setup
    fill(config).store.close()
    out = tmp_path / "nowhere" / "tree.json"
    with pytest.raises(SystemExit) as refused:
        export(path, "--from", str(T0), "--to", str(T0 + HOUR), "--out", str(out))
    assert str(refused.value) == f"meter-bridge: no folder {out.parent} for --out"


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (T0 + 60, T0 + HOUR, "--from and --to must lie on the 3600 s interval grid"),
        (T0 + HOUR, T0, "--to must come after --from"),
    ],
)
def test_export_leaves_refuses_a_period_off_the_grid_or_backwards(
    setup, tmp_path, start, end, reason
):
    path = setup[0]
    with pytest.raises(SystemExit) as refused:
        export(path, "--from", str(start), "--to", str(end), "--out", str(tmp_path / "t.json"))
    assert str(refused.value) == f"meter-bridge: {reason}"
    assert not os.path.exists(tmp_path / "t.json")


def test_export_leaves_needs_nothing_of_openkwh_but_its_chain_client(setup, tmp_path):
    """A Pi installs `openkwh.chain` alone (test_bridge_install): the export runs on it."""
    path, _, config = setup
    fill(config).store.close()
    argv = ["export-leaves", "--config", str(path), "--from", str(T0), "--to", str(T0 + HOUR),
            "--out", str(tmp_path / "t.json")]  # fmt: skip
    probe = (
        f"import sys; from meter_bridge import cli; code = cli.main({argv!r}); "
        "print(code, sorted(m for m in sys.modules if m.startswith(('openkwh', 'flask', 'boa'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    code, _, loaded = done.stdout.splitlines()[-1].partition(" ")
    assert code == "0"
    assert set(json.loads(loaded.replace("'", '"'))) == {
        "openkwh", "openkwh.chain", "openkwh.chain.merkle",
        *(f"openkwh.chain.{m}" for m in ("deployment", "transactions", "typed_data", "types")),
    }  # fmt: skip

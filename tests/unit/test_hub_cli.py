"""`openkwh hub`: a metering point added by its GSRN, a DataHub file imported."""

import json

from meter_bridge.signing import meter_id
from openkwh.commands.cli import main
from openkwh.hub.store import open_store
from tests.fixtures.hub import BEGIN, ROOTS_ADDRESS

GSRN = "571313180400012349"


def test_hub_add_meter_and_import(tmp_path, capsys):
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

"""The indexer on a real anvil node: it starts at the deployment, resumes where
it stopped without counting anything twice, and never sees a block that a
reorganisation shallower than its confirmation depth takes back."""

import pytest
from eth_utils import keccak

from openkwh.bench.gas import certified_installer
from openkwh.commands import actions
from openkwh.commands.deploy import deploy_all
from openkwh.dapp.indexer import Indexer, connect

pytestmark = pytest.mark.anvil


@pytest.fixture
def deployed(anvil_connection, anvil_accounts, tmp_path):
    deployments = deploy_all(anvil_connection, tmp_path)
    as_admin = actions.Actor(anvil_connection.w3, anvil_accounts[0], deployments)
    installer = certified_installer(as_admin, anvil_accounts[4], anvil_accounts[5])
    return anvil_connection.w3, deployments, installer, tmp_path / "index.sqlite"


def register(installer, label: str) -> bytes:
    meter = keccak(text=label)
    actions.register_meter(
        installer, meter, installer.account.address, installer.account.address, "DK1", "consumption"
    )
    return meter


def meters(db) -> set[str]:
    return {row[0] for row in db.execute("SELECT meter_id FROM meters")}


def test_it_starts_at_the_deployment_and_resumes_without_duplicates(deployed):
    w3, deployments, installer, path = deployed
    first = register(installer, "first")
    db = connect(path)
    indexer = Indexer(w3, deployments, db, confirmations=1)
    assert indexer.next_block() == min(
        deployments["contracts"][name]["block"] for name in indexer.contracts
    )
    events = indexer.catch_up()
    assert events >= 2  # the tariff at deployment, the meter
    assert indexer.catch_up() == 0  # nothing new
    db.close()
    second = register(installer, "second")
    db = connect(path)  # a new process: resumes from the stored cursor
    resumed = Indexer(w3, deployments, db, confirmations=1)
    assert resumed.catch_up() == 1
    assert meters(db) == {"0x" + first.hex(), "0x" + second.hex()}
    total = db.execute("SELECT events FROM cursor").fetchone()[0]
    assert total == events + 1
    db.close()


def test_a_block_is_indexed_only_once_it_is_deep_enough(deployed):
    w3, deployments, installer, path = deployed
    db = connect(path)
    indexer = Indexer(w3, deployments, db, confirmations=3)
    indexer.catch_up()
    meter = register(installer, "deep")
    indexer.catch_up()
    assert "0x" + meter.hex() not in meters(db)  # one block deep
    w3.provider.make_request("evm_mine", [])
    w3.provider.make_request("evm_mine", [])
    indexer.catch_up()
    assert "0x" + meter.hex() in meters(db)  # three deep


def test_a_reorganisation_shallower_than_the_depth_never_reaches_the_index(deployed):
    w3, deployments, installer, path = deployed
    db = connect(path)
    indexer = Indexer(w3, deployments, db, confirmations=3)
    indexer.catch_up()
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    orphan = register(installer, "orphaned")
    w3.provider.make_request("evm_mine", [])
    indexer.catch_up()  # the meter's block is two deep: not yet
    w3.provider.make_request("evm_revert", [snapshot])  # the chain takes it back
    kept = register(installer, "canonical")
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])
    indexer.catch_up()
    assert meters(db) == {"0x" + kept.hex()}
    assert "0x" + orphan.hex() not in meters(db)

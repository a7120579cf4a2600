"""The local anvil node the demo, the bench and the tests run: it leaves nothing behind."""

from pathlib import Path

from web3 import Web3

from openkwh.devtools.anvil import run_anvil

ANVIL_HOME_STATES = Path.home() / ".foundry" / "anvil" / "tmp"


def test_old_states_persisted_by_anvil_are_removed_when_it_stops():
    """Past a few hundred blocks anvil writes old states to disk and never removes
    them; by default under the home directory, where a long run left 2.3 GB."""
    before = set(ANVIL_HOME_STATES.iterdir()) if ANVIL_HOME_STATES.exists() else set()
    with run_anvil() as node:
        Web3(Web3.HTTPProvider(node.url)).provider.make_request("anvil_mine", [hex(2_000)])
        assert Web3(Web3.HTTPProvider(node.url)).eth.block_number == 2_000
        persisted = list(node.cache_path.rglob("*"))
        assert persisted, "2,000 blocks: anvil persisted no state (the test shows nothing)"
    assert not node.cache_path.exists()
    after = set(ANVIL_HOME_STATES.iterdir()) if ANVIL_HOME_STATES.exists() else set()
    assert after <= before

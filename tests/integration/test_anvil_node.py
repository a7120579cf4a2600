"""The local anvil node the demo, the bench and the tests run: it leaves nothing behind."""

import json
import urllib.request
from pathlib import Path

from openkwh.devtools.anvil import run_anvil

ANVIL_HOME_STATES = Path.home() / ".foundry" / "anvil" / "tmp"


def _rpc(url: str, method: str, params: list):
    request = urllib.request.Request(
        url,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def test_old_states_persisted_by_anvil_are_removed_when_it_stops():
    """Past a few hundred blocks anvil writes old states to disk and never removes
    them; by default under the home directory, where a long run left 2.3 GB."""
    before = set(ANVIL_HOME_STATES.iterdir()) if ANVIL_HOME_STATES.exists() else set()
    with run_anvil() as node:
        assert _rpc(node.url, "anvil_mine", [hex(2_000)])["result"] is None
        persisted = list(node.cache_path.rglob("*"))
        assert persisted, "2,000 blocks: anvil persisted no state (the test shows nothing)"
    assert not node.cache_path.exists()
    after = set(ANVIL_HOME_STATES.iterdir()) if ANVIL_HOME_STATES.exists() else set()
    assert after <= before

"""Issue 13: every state-changing function of the contracts is reachable from the
command line (`openkwh`) or named below with the reason it is not; issue 17 adds
the EmissionsRegistry, whose commands are in openkwh/commands/emissions.py; issue 19
the Auction."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from openkwh.commands import actions
from openkwh.commands.cli import ROLES

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = (
    "Wallet",
    "SmartMeterBackend",
    "OperatorBackend",
    "GGORegistry",
    "Exchange",
    "Auction",
    "EmissionsRegistry",
    "MeasurementRoots",
)
SOURCES = ("actions.py", "emissions.py", "roots.py")

# Not a person's command, each for its reason.
NOT_COMMANDS = {
    "Wallet.transferFrom": "spent by the operator and the Exchange from allowances",
    "Wallet.permit": "signed in a wallet and sent by the spender: the dApp's deposit",
    "SmartMeterBackend.submit_reading": "relayed by the meter bridge (meter-bridge)",
    "SmartMeterBackend.submit_readings": "relayed by the meter bridge (meter-bridge)",
    "SmartMeterBackend.record_revealed": "called by the backend's own MeasurementRoots at each reveal",
    "OperatorBackend.mark_traded": "called by the wired Exchange at each deal",
    "OperatorBackend.settle_aggregate": "called by MeasurementRoots.settle_aggregate (keeper settle-aggregate)",
    "OperatorBackend.settle": "the keeper's settle sends settle_many, which settles each the same",
    "OperatorBackend.deposit_with_permit": "the dApp's deposit with a permit; deposit approves",
    "GGORegistry.issue": "the keeper's issue sends issue_many, which issues each the same",
    "GGORegistry.retire_many": "retire sends one; the dApp retires a day at once",
    "GGORegistry.retire_delivered": "called by the Exchange when a deal asks to retire",
    "GGORegistry.safeBatchTransferFrom": "transfer-certificate moves one certificate",
    "Exchange.settle": "the keeper's settle-deals sends settle_many",
    "Exchange.bid_with_permit": "the dApp's bid with a permit; bid approves",
    "Exchange.make_auction_deals": "called by the wired Auction at each delivery",
    "Exchange.wire_auction": "make deploy wires it, once",
    "Auction.place_with_permit": "the dApp's standing bid with a permit; standing-bid approves",
    "Exchange.onERC1155Received": "an ERC-1155 receiver hook",
    "Exchange.onERC1155BatchReceived": "an ERC-1155 receiver hook",
    "EmissionsRegistry.transferFrom": "statements are not transferable: it always reverts",
    "EmissionsRegistry.safeTransferFrom": "statements are not transferable: it always reverts",
    "EmissionsRegistry.approve": "statements are not transferable: it always reverts",
    "EmissionsRegistry.setApprovalForAll": "statements are not transferable: it always reverts",
}


@pytest.fixture(scope="module")
def abis():
    found = {}
    for name in CONTRACTS:
        out = subprocess.run(
            [sys.executable, "-m", "vyper", "-f", "abi", str(ROOT / "contracts" / f"{name}.vy")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        found[name] = json.loads(out)
    return found


def test_every_state_changing_function_has_a_command(abis):
    source = "".join((ROOT / "openkwh" / "commands" / name).read_text() for name in SOURCES)
    missing = []
    for name, abi in abis.items():
        for item in abi:
            if item["type"] != "function" or item["stateMutability"] in ("view", "pure"):
                continue
            qualified = f"{name}.{item['name']}"
            if qualified in NOT_COMMANDS:
                continue
            if not re.search(rf"functions\.{item['name']}\(|\"{item['name']}\"\)", source):
                missing.append(qualified)
    assert missing == []
    # and no exception names a function that no longer exists
    names = {f"{n}.{i['name']}" for n, abi in abis.items() for i in abi if i["type"] == "function"}
    assert set(NOT_COMMANDS) <= names


def test_every_role_of_the_command_line_has_its_commands():
    assert set(ROLES.values()) == set(actions.COMMANDS)
    assert all(actions.COMMANDS[key] for key in ROLES.values())

"""Certificates move into OpenZeppelin's ERC1155Holder, compiled from the npm package
@openzeppelin/contracts by solc-js and deployed on a real anvil; a contract without
the receiver hook is refused."""

import json
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from meter_bridge.signing import Reading, sign_reading
from openkwh.chain import TransactionFailed, advance_time, contract, deploy_contract
from openkwh.commands import actions
from openkwh.commands.deploy import deploy_all

pytestmark = pytest.mark.anvil

COMPILE_HOLDER = Path(__file__).resolve().parents[1] / "js" / "compile_holder.mjs"
READ_VIEWS = Path(__file__).resolve().parents[1] / "js" / "read_views.mjs"


@pytest.fixture
def certificate(anvil_connection, anvil_accounts, tmp_path):
    """One hour of a solar meter on anvil, certified; returns (actor of its owner, deployments, id)."""
    w3 = anvil_connection.w3
    deployments = deploy_all(anvil_connection, tmp_path)
    admin, body, installer, owner, relayer = (anvil_accounts[i] for i in (0, 4, 5, 6, 7))
    as_admin = actions.Actor(w3, admin, deployments)
    actions.set_issuing_body(as_admin, "DK1", body.address)
    actions.certify_installer(actions.Actor(w3, body, deployments), "DK1", installer.address)
    key = Account.create()
    meter = keccak(text="interop-solar")
    actions.register_meter(
        actions.Actor(w3, installer, deployments),
        meter,
        key.address,
        owner.address,
        "DK1",
        "both",
        5_000,
        "T020002",
        "F01050100",
    )
    actions.accept_meter(actions.Actor(w3, owner, deployments), meter)
    smb = contract(w3, deployments, "SmartMeterBackend")
    now = w3.eth.get_block("latest")["timestamp"]
    begin = now - now % 3_600 + 3_600
    advance_time(w3, begin + 3_600)
    relay = actions.Actor(w3, relayer, deployments)
    for end, exported in ((begin, 0), (begin + 3_600, 2_500)):
        signed = sign_reading(
            key,
            Reading(
                meter,
                end,
                0,
                exported,
                b"\x07" * 32,
                smb.functions.next_reading_begin(meter).call(),
            ),
            w3.eth.chain_id,
            smb.address,
        )
        relay.send(smb.functions.submit_reading(*signed.contract_args()))
    registry = contract(w3, deployments, "GGORegistry")
    relay.send(registry.functions.issue(meter, begin))
    return (
        actions.Actor(w3, owner, deployments),
        registry,
        registry.functions.certificate_id(meter, begin).call(),
    )


def test_transfer_to_openzeppelin_erc1155_holder(certificate, anvil_accounts):
    owner, registry, cert = certificate
    compiled = json.loads(
        subprocess.run(
            ["node", str(COMPILE_HOLDER)], capture_output=True, text=True, check=True, timeout=120
        ).stdout
    )
    holder, _ = deploy_contract(owner.w3, anvil_accounts[0], compiled["abi"], compiled["bytecode"])
    owner.send(
        registry.functions.safeTransferFrom(owner.account.address, holder.address, cert, 1_000, b"")
    )
    assert registry.functions.balanceOf(holder.address, cert).call() == 1_000
    assert registry.functions.balanceOf(owner.account.address, cert).call() == 1_500


def test_transfer_to_contract_without_hook_is_refused(certificate):
    owner, registry, cert = certificate
    no_hook = owner.deployment["OperatorBackend"].address
    with pytest.raises(TransactionFailed, match="registry: receiver rejected the certificate"):
        owner.send(
            registry.functions.safeTransferFrom(owner.account.address, no_hook, cert, 1, b"")
        )
    assert registry.functions.balanceOf(owner.account.address, cert).call() == 2_500


def test_ethers_reads_every_multi_value_view_by_its_field_names(certificate, anvil):
    """Issue 12, for clients: ethers' toObject() failed on every view with several
    return values; each now returns a struct whose ABI names the fields."""
    owner, registry, cert = certificate
    deployment = owner.deployment
    meter = keccak(text="interop-solar")
    begin = registry.functions.certificate(cert).call()[1]
    smb, ob, exchange = (
        deployment[n] for n in ("SmartMeterBackend", "OperatorBackend", "Exchange")
    )

    def call(entry, function, *args):
        return {
            "address": entry.address,
            "abi": entry.abi,
            "function": function,
            "args": list(args),
        }

    hex_meter = "0x" + meter.hex()
    calls = [
        call(smb, "last_reading", hex_meter),
        call(smb, "baseline", hex_meter),
        call(smb, "measurement", hex_meter, begin),
        call(smb, "settlement_data", hex_meter, begin),
        call(smb, "trading_data", hex_meter),
        call(smb, "consumption_data", hex_meter, begin),
        call(ob, "tariff", 0),
        call(ob, "tariff_at", begin),
        call(ob, "trust_window", smb.address),
        call(ob, "billable_wh", 2_500, 100, 1_000, 0),
        call(exchange, "position", hex_meter, begin),
        call(exchange, "order_book", begin, 0),
        call(exchange, "orders_of", owner.account.address, 0),
    ]
    request = json.dumps({"url": anvil.url, "calls": calls})
    out = subprocess.run(
        ["node", str(READ_VIEWS)],
        input=request,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    (
        last,
        baseline,
        measured,
        settlement,
        trading,
        consumption,
        tariff,
        tariff_at,
        window,
        billable,
        position,
        book,
        mine,
    ) = json.loads(out)
    assert last == {"interval_end": str(begin + 3_600), "import_wh": "0", "export_wh": "2500"}
    assert baseline["interval_end"] == str(begin)
    assert measured == {
        "interval_end": str(begin + 3_600),
        "produced_wh": "2500",
        "consumed_wh": "0",
    }
    assert settlement["owner"] == owner.account.address
    assert settlement["produced_wh"] == "2500"
    assert (trading["owner"], trading["kind"], trading["capacity_w"]) == (
        owner.account.address,
        "3",
        "5000",
    )
    assert consumption["consumed_wh"] == "0"
    assert consumption["sector_hash"] == "0x" + keccak(text="DK1").hex()
    assert set(tariff) == set(tariff_at) == {"retail_price", "feed_in_reward", "effective_from"}
    assert set(window) == {"trusted_from", "untrusted_from"}
    assert window["untrusted_from"] == "0"
    assert billable == {"feed_in_wh": "1500", "retail_wh": "100"}
    assert position == {"sold_wh": "0", "bought_wh": "0", "unsettled_deals": "0"}
    for page in (book, mine):  # no orders: an empty list of ids, no next page
        assert set(page) == {"ids", "next_cursor"}
        assert (len(page["ids"]), page["next_cursor"]) == (0, "0")

"""Issue 18's data availability on a real anvil, with the data hub served on
loopback: a hub that refuses the owner's proof (or serves the wrong one) is
detected by `prosumer fetch-proof`, which writes nothing and names the
fallback; the owner falls back on its bridge's own signed readings
(`meter-bridge export-leaves`, `data-hub publish-root`, `make-proof`,
`reveal`), after which the hub's leaf of the same hour is refused by the
bitmap; and `keeper reveal-traded` reveals a traded hour of a root-published
seller and buyer from the hub's public proofs, so that the deal settles."""

import json
import logging
import socket
import threading
from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from werkzeug.serving import make_server

from meter_bridge import cli as bridge_cli
from meter_bridge import config as bridge_config
from meter_bridge.daemon import Bridge
from meter_bridge.hub_relay import HubRelayer
from meter_bridge.keys import create_keystore, load_key
from meter_bridge.simulator import SimulatedMeter
from openkwh import merkle
from openkwh.chain import Deployment, advance_time
from openkwh.commands import actions
from openkwh.hub.app import Hub, create_app
from openkwh.hub.ingest import Ingestor
from openkwh.hub.leaves import roots_domain_separator
from openkwh.hub.publish import publish_interval
from openkwh.hub.store import open_store

pytestmark = pytest.mark.anvil

ETHER = 10**18
SECTOR = "DK1"
OFFER_WH = 500
PRICE = 10**14  # token base units per Wh
SECRET = "fallback-test-passphrase"


@pytest.fixture
def world(anvil_connection, anvil_accounts, deployment, tmp_path, monkeypatch):
    """Three root-published households (Dana sells an hour to Erik; Fay does not
    trade), their bridges relaying to a data hub served on loopback, and the
    hub's root of the hour on chain. The hub has Fay's meter under the wrong
    owner: it refuses her the proof of her own leaf."""
    operator, body, installer, keeper, hub_account = (anvil_accounts[i] for i in (0, 4, 5, 7, 9))
    dana, erik, fay, stranger = (anvil_accounts[i] for i in (2, 3, 6, 8))
    w3 = anvil_connection.w3
    deployed = Deployment.load(deployment)
    monkeypatch.setenv("METER_BRIDGE_PASSPHRASE", SECRET)
    fay_keystore = tmp_path / "fay-key.json"
    fay_signer = create_keystore(fay_keystore, SECRET, iterations=2)
    keys = {"dana": Account.from_key(keccak(text="avail-dana-meter")),
            "erik": Account.from_key(keccak(text="avail-erik-meter")),
            "fay": load_key(fay_keystore, SECRET)}  # fmt: skip
    assert keys["fay"].address == fay_signer
    ids = {name: keccak(text=f"avail-{name}") for name in keys}
    owners = {"dana": dana, "erik": erik, "fay": fay}

    as_operator = actions.Actor(w3, operator, deployed)
    smb, exchange = as_operator.contract("SmartMeterBackend"), as_operator.contract("Exchange")
    ob, roots = as_operator.contract("OperatorBackend"), as_operator.contract("MeasurementRoots")
    actions.set_issuing_body(as_operator, SECTOR, body.address)
    as_body = as_operator.with_account(body)
    actions.certify_installer(as_body, SECTOR, installer.address)
    as_body.send(roots.functions.appoint_hub(SECTOR, hub_account.address))
    as_installer = as_operator.with_account(installer)
    for name, kind in (("dana", "both"), ("erik", "consumption"), ("fay", "consumption")):
        extra = (6_000, "T020002", "F01050100") if kind == "both" else ()
        actions.register_meter(as_installer, ids[name], keys[name].address,
                               owners[name].address, SECTOR, kind, *extra, by_root=True)  # fmt: skip
        actions.accept_meter(as_installer.with_account(owners[name]), ids[name])
    actions.fund_treasury(as_operator, 100 * ETHER)

    length = smb.functions.interval_length().call()
    now = w3.eth.get_block("latest")["timestamp"]
    noon = now - now % 86_400 + 12 * length  # Dana's panels produce more than she sells
    hour = noon if noon > now + 2 * length else noon + 86_400
    as_dana, as_erik = as_operator.with_account(dana), as_operator.with_account(erik)
    token = as_operator.contract("Wallet")
    as_erik.send(token.functions.buyTokens(), value=ETHER // 10)
    as_erik.send(token.functions.approve(exchange.address, 2**256 - 1))
    receipt = as_dana.send(exchange.functions.offer(ids["dana"], hour, OFFER_WH, PRICE))
    (placed,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
    receipt = as_erik.send(exchange.functions.take(placed["args"]["order_id"], OFFER_WH, PRICE,
                                                   0, ids["erik"]))  # fmt: skip
    (made,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)

    store = open_store(":memory:")
    ingestor = Ingestor(store, length, roots_domain_separator(w3.eth.chain_id, roots.address),
                        keccak(text="avail-salt-key"))  # fmt: skip
    for name in ("dana", "erik"):
        store.add_meter(ids[name], keys[name].address, owners[name].address, SECTOR, 17_250)
    store.add_meter(ids["fay"], keys["fay"].address, stranger.address, SECTOR, 17_250)
    the_hub = Hub(store, ingestor, hub_account.address, "hub.test",
                  clock=lambda: w3.eth.get_block("latest")["timestamp"],
                  revealed_on_chain=lambda m, b: smb.functions.is_revealed(m, b).call(),
                  traded_on_chain=lambda m, b: ob.functions.is_traded(smb.address, m, b).call())  # fmt: skip
    server = make_server("127.0.0.1", 0, create_app(the_hub), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"

    configs = {}
    for name in keys:
        meter = SimulatedMeter("dsmr5", peak_w=6_000) if name == "dana" else SimulatedMeter("sml")
        settings = {
            "meter": {"id": "0x" + ids[name].hex(), "protocol": meter.protocol,
                      "keystore": str(fay_keystore)},
            "chain": {"deployments": str(deployment)},
            "store": {"path": str(tmp_path / f"{name}.sqlite"),
                      "blobs": str(tmp_path / f"{name}-blobs")},
        }  # fmt: skip
        configs[name] = tmp_path / f"{name}.toml"
        configs[name].write_text("".join(
            f"[{section}]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
            for section, values in settings.items()))  # fmt: skip
        bridge = Bridge(bridge_config.parse(settings))
        for t in range(hour - length, hour + length + 1, 60):
            bridge.now = lambda t=t: t
            bridge.ingest(meter.telegram(t, t))
        relayer = HubRelayer(url, ids[name], keys[name], bridge.store, w3.eth.chain_id,
                             roots.address, length, clock=lambda: hour + length)  # fmt: skip
        while relayer.step():
            pass
        bridge.store.close()
    advance_time(w3, hour + 2 * length)
    as_hub = as_operator.with_account(hub_account)

    def send(function, args):
        return as_hub.send(getattr(roots.functions, function)(*args))["transactionHash"].to_0x_hex()

    (published, *_) = publish_interval(store, SECTOR, hour, length, send)
    the_hub.keep_tree(SECTOR, hour, "hub", published.tree)
    try:
        yield {"hub": the_hub, "url": url, "hour": hour, "length": length, "ids": ids,
               "owners": owners, "keeper": keeper, "hub_account": hub_account,
               "configs": configs, "tree": published.tree, "deal": made, "w3": w3,
               "smb": smb, "roots": roots, "exchange": exchange, "operator": as_operator}  # fmt: skip
    finally:
        server.shutdown()
        thread.join()
        store.close()


def when(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fetch(cli, world, name, out, *extra):
    return cli("prosumer", world["owners"][name], "fetch-proof", "--hub", world["url"],
               "--meter-id", world["ids"][name].hex(), "--interval", str(world["hour"]),
               "--out", str(out), *extra)  # fmt: skip


def test_fetch_proof_writes_the_owners_proof_checked_against_the_chain(cli, world, tmp_path):
    out = tmp_path / "dana.json"
    code, said = fetch(cli, world, "dana", out)
    assert code == 0, said.err
    document = json.loads(out.read_text())
    assert document["format"] == "openkwh-proof-v1"
    assert document["root"] == "0x" + world["tree"].root.hex()
    assert document["value"][0] == "0x" + world["ids"]["dana"].hex()
    signed = tmp_path / "dana-signed.json"
    code, said = fetch(cli, world, "dana", signed, "--kind", "signed")
    assert code == 0, said.err
    assert json.loads(signed.read_text())["leafEncoding"] == merkle.SIGNED_LEAF_TYPES


def test_fetch_proof_reports_a_hub_that_refuses_and_writes_nothing(cli, world, tmp_path):
    out = tmp_path / "fay.json"
    code, said = fetch(cli, world, "fay", out)
    assert code == 1
    assert (
        f"the proof of meter 0x{world['ids']['fay'].hex()}'s hub leaf of {when(world['hour'])}: "
        f"the hub at {world['url']} refused: HTTP 403: only the meter's owner gets an "
        "unrevealed leaf's proof; "
    ) in said.err
    since, until = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")
                    for t in (world["hour"], world["hour"] + world["length"]))  # fmt: skip
    assert said.err.rstrip().endswith(
        f"fall back on your bridge's own signed readings: `meter-bridge export-leaves --from "
        f"{since} --to {until} --out tree.json` on the bridge, then `openkwh data-hub publish-root "
        f"--tree tree.json --sector DK1 --from {since} --to {until}`, `openkwh data-hub "
        f"make-proof --tree tree.json --meter-id 0x{world['ids']['fay'].hex()} --interval "
        f"{since} --publisher {world['owners']['fay'].address} --out proof.json` and "
        "`openkwh prosumer reveal --proof proof.json`; nothing written"
    )
    assert not out.exists()


def test_fetch_proof_reports_a_proof_of_another_leaf(cli, world, tmp_path, monkeypatch):
    """A hub that answers with the proof of another meter's leaf (valid against its
    root) is caught: the leaf is not the meter's."""
    store, ids = world["hub"].store, world["ids"]
    real = store.leaf
    monkeypatch.setattr(store, "leaf", lambda m, b: real(ids["erik"] if m == ids["dana"] else m, b))
    out = tmp_path / "dana.json"
    code, said = fetch(cli, world, "dana", out)
    assert code == 1, said.err
    assert (
        f"the proof of meter 0x{ids['dana'].hex()}'s hub leaf of {when(world['hour'])}: the "
        f"hub at {world['url']} served a bad proof: a proof of meter 0x{ids['erik'].hex()}'s "
        "leaf"
    ) in said.err
    assert not out.exists()


def test_fetch_proof_reports_a_hub_that_cannot_be_reached(cli, world, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    out = tmp_path / "dana.json"
    code, said = cli("prosumer", world["owners"]["dana"], "fetch-proof", "--hub",
                     f"http://127.0.0.1:{port}", "--meter-id", world["ids"]["dana"].hex(),
                     "--interval", str(world["hour"]), "--out", str(out))  # fmt: skip
    assert code == 1
    assert f"the hub at http://127.0.0.1:{port} cannot be reached" in said.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("interval_offset", "out_name", "reason"),
    [
        (60, "proof.json", "--interval must lie on the 3600 s interval grid: nothing fetched"),
        (0, "missing/proof.json", "/missing for --out: nothing fetched"),
    ],
)
def test_fetch_proof_refuses_bad_input(cli, world, tmp_path, interval_offset, out_name, reason):
    out = tmp_path / out_name
    code, said = cli("prosumer", world["owners"]["dana"], "fetch-proof", "--hub", world["url"],
                     "--meter-id", world["ids"]["dana"].hex(), "--interval",
                     str(world["hour"] + interval_offset), "--out", str(out))  # fmt: skip
    assert code == 1
    assert reason in said.err
    assert not out.exists()


def test_owner_falls_back_on_its_bridges_signed_readings(cli, world, tmp_path, capsys):
    hour, length, fay = world["hour"], world["length"], world["ids"]["fay"]
    owner, smb, roots = world["owners"]["fay"], world["smb"], world["roots"]
    assert fetch(cli, world, "fay", tmp_path / "refused.json")[0] == 1

    tree_file = tmp_path / "fay-tree.json"
    assert bridge_cli.main(["export-leaves", "--config", str(world["configs"]["fay"]),
                            "--from", str(hour), "--to", str(hour + length),
                            "--out", str(tree_file)]) == 0  # fmt: skip
    capsys.readouterr()
    code, said = cli("data_hub", owner, "publish-root", "--tree", str(tree_file), "--sector",
                     SECTOR, "--from", str(hour), "--to", str(hour + length))  # fmt: skip
    assert code == 0, said.err
    proof_file = tmp_path / "fay-proof.json"
    code, said = cli("data_hub", owner, "make-proof", "--tree", str(tree_file), "--meter-id",
                     fay.hex(), "--interval", str(hour), "--publisher", owner.address,
                     "--out", str(proof_file))  # fmt: skip
    assert code == 0, said.err
    code, said = cli("prosumer", owner, "reveal", "--proof", str(proof_file))
    assert code == 0, said.err
    hub_leaf = world["hub"].store.leaf(fay, hour)
    assert smb.functions.measurement(fay, hour).call() == (
        hour + length, hub_leaf.produced_wh, hub_leaf.consumed_wh)  # fmt: skip

    # The hub's own leaf of that hour now counts no more: the bitmap refuses it.
    proof = world["tree"].proof(hub_leaf.hub_hash())
    with pytest.raises(
        ContractLogicError, match="meter: an interval of this measurement is already revealed"
    ):
        roots.functions.reveal(world["hub_account"].address, hub_leaf.hub_values(), proof).call(
            {"from": world["keeper"].address}
        )


def test_keeper_reveals_traded_hours_from_the_hub_and_the_deal_settles(cli, world):
    hour, ids, smb = world["hour"], world["ids"], world["smb"]
    keeper = world["keeper"]
    for name in ("dana", "erik"):
        assert not smb.functions.is_revealed(ids[name], hour).call()
    code, said = cli("keeper", keeper, "reveal-traded", "--hub", world["url"], "--from",
                     str(hour), "--to", str(hour + world["length"]))  # fmt: skip
    assert code == 0, said.err
    assert len(said.out.splitlines()) == 1  # the seller's and buyer's leaves in one reveal_many
    for name in ("dana", "erik"):
        assert smb.functions.is_revealed(ids[name], hour).call()
    assert not smb.functions.is_revealed(ids["fay"], hour).call()  # not traded: stays private

    deal_id, terms = actions.settlement(world["deal"], world["exchange"].abi)
    as_keeper = world["operator"].with_account(keeper)
    receipt = as_keeper.send(world["exchange"].functions.settle_many([(deal_id, terms)]))
    (settled,) = world["exchange"].events.DealSettled().process_receipt(receipt, errors=DISCARD)
    assert settled["args"]["delivered_wh"] == OFFER_WH

    code, said = cli("keeper", keeper, "reveal-traded", "--hub", world["url"], "--from",
                     str(hour), "--to", str(hour + world["length"]))  # fmt: skip
    assert code == 1
    assert "no traded hour of a root-published meter waits for its reveal" in said.err


def test_keeper_lists_the_hours_the_hub_refuses_and_reveals_the_rest(
    cli, world, monkeypatch, caplog
):
    hour, ids, smb = world["hour"], world["ids"], world["smb"]
    store = world["hub"].store
    real = store.leaf
    monkeypatch.setattr(store, "leaf", lambda m, b: None if m == ids["erik"] else real(m, b))
    caplog.set_level(logging.INFO, logger="openkwh.commands.roots")
    code, said = cli("keeper", world["keeper"], "reveal-traded", "--hub", world["url"], "--from",
                     str(hour), "--to", str(hour + world["length"]))  # fmt: skip
    assert code == 0, said.err
    assert smb.functions.is_revealed(ids["dana"], hour).call()
    assert not smb.functions.is_revealed(ids["erik"], hour).call()
    assert "revealed 1 traded hour(s) of 2; 1 refused (by the hub, or the chain)" in caplog.messages
    assert (
        f"  refused: meter 0x{ids['erik'].hex()}, {when(hour)}: the hub at {world['url']} "
        "refused: HTTP 404: no published hub leaf of this meter for this interval"
    ) in caplog.messages


def test_keeper_run_with_a_hub_reveals_traded_hours_then_settles_the_deal(cli, world):
    hour, ids, exchange = world["hour"], world["ids"], world["exchange"]
    code, said = cli("keeper", world["keeper"], "run", "--from", str(hour), "--to",
                     str(hour + world["length"]), "--hub", world["url"])  # fmt: skip
    assert code == 0, said.err
    for name in ("dana", "erik"):
        assert world["smb"].functions.is_revealed(ids[name], hour).call()
    assert exchange.functions.is_settled(world["deal"]["args"]["deal_id"]).call()

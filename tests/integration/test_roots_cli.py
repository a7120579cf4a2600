"""The MeasurementRoots commands against a real anvil: an issuing body appoints
a data hub, an installer registers a meter that publishes by root, the hub
publishes an hour's root from OpenZeppelin's own tree dump, and the owner
reveals the hour from a proof file; bad files are refused before anything is
sent."""

import json

import pytest
from eth_utils import keccak

from meter_bridge.signing import gs1_check_digit, meter_id
from openkwh import merkle
from openkwh.chain import Deployment, advance_time
from openkwh.commands import actions
from tests.fixtures.roots import build_tree

pytestmark = pytest.mark.anvil

GSRN_BODY = "57131310000000077"
DIGEST = bytes.fromhex("cd" * 32)


def leaf(meter: bytes, begin: int, produced: int, consumed: int, length: int) -> tuple:
    return (
        meter,
        begin,
        begin + length,
        produced,
        consumed,
        DIGEST,
        keccak(meter + begin.to_bytes(8, "big")),
    )


def fillers(begin: int, length: int, count: int) -> list:
    return [leaf(keccak(text=f"other-{i}"), begin, 0, 100 + i, length) for i in range(count)]


def test_hub_publishes_and_owner_reveals_by_command(
    cli, anvil_connection, anvil_accounts, deployment, tmp_path
):
    admin, body, installer, owner, signer, hub = (anvil_accounts[i] for i in (0, 4, 5, 6, 7, 9))
    w3 = anvil_connection.w3
    deployed = Deployment.load(deployment)
    roots = deployed.contract(w3, "MeasurementRoots")
    smb = deployed.contract(w3, "SmartMeterBackend")
    salt = tmp_path / "salt"
    salt.write_bytes(b"0123456789abcdef-roots-salt")
    gsrn = GSRN_BODY + str(gs1_check_digit(GSRN_BODY))
    meter = meter_id(gsrn, salt.read_bytes())
    meter_args = ("--gsrn", gsrn, "--salt-file", str(salt))

    assert (
        cli("admin", admin, "set-issuing-body", "--sector", "DK1", "--body", body.address)[0] == 0
    )
    code, out = cli(
        "issuing_body", body, "certify-installer", "--sector", "DK1", "--installer",
        installer.address,
    )  # fmt: skip
    assert code == 0, out.err
    code, out = cli("issuing_body", body, "appoint-hub", "--sector", "DK1", "--hub", hub.address)
    assert code == 0, out.err
    assert roots.functions.is_hub("DK1", hub.address).call()
    code, out = cli(
        "installer", installer, "register-meter", *meter_args, "--signer", signer.address,
        "--owner", owner.address, "--sector", "DK1", "--kind", "consumption",
        "--connection-w", "17250", "--by-root",
    )  # fmt: skip
    assert code == 0, out.err
    assert smb.functions.publishes_by_root(meter).call()
    assert cli("prosumer", owner, "accept-meter", *meter_args)[0] == 0

    length = smb.functions.interval_length().call()
    now = w3.eth.get_block("latest")["timestamp"]
    begin = now - now % length + length  # the first interval the owner owns
    advance_time(w3, begin + 2 * length)
    tree = build_tree(
        merkle.HUB_LEAF_TYPES, [leaf(meter, begin, 0, 740, length), *fillers(begin, length, 5)]
    )
    tree_file = tmp_path / "tree.json"
    tree_file.write_text(json.dumps(tree.dump))

    code, out = cli("data_hub", hub, "publish-root", "--tree", str(tree_file), "--sector", "DK1",
                    "--from", str(begin))  # fmt: skip
    assert code == 1
    assert "counts only when the sector's data hub publishes it (--as-hub)" in out.err
    code, out = cli("data_hub", admin, "publish-root", "--tree", str(tree_file), "--sector",
                    "DK1", "--from", str(begin), "--as-hub")  # fmt: skip
    assert code == 1
    assert f"{admin.address} is not a data hub of DK1: nothing sent" in out.err
    code, out = cli("data_hub", hub, "publish-root", "--tree", str(tree_file), "--sector", "DK1",
                    "--from", str(begin), "--as-hub")  # fmt: skip
    assert code == 0, out.err
    assert roots.functions.hub_root(keccak(text="DK1"), begin).call() == tree.root

    proof_file = tmp_path / "proof.json"
    code, out = cli(
        "data_hub", hub, "make-proof", "--tree", str(tree_file), *meter_args,
        "--interval", str(begin), "--publisher", hub.address, "--out", str(proof_file),
    )  # fmt: skip
    assert code == 0, out.err
    document = json.loads(proof_file.read_text())
    assert document["format"] == "openkwh-proof-v1"
    assert [bytes.fromhex(h[2:]) for h in document["proof"]] == tree.proofs[0]

    forged = dict(document, value=[*document["value"][:4], "7400", *document["value"][5:]])
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))
    code, out = cli("prosumer", owner, "reveal", "--proof", str(forged_file))
    assert code == 1
    assert "the proof does not lead from the leaf to the file's root" in out.err

    code, out = cli("prosumer", owner, "reveal", "--proof", str(proof_file))
    assert code == 0, out.err
    assert smb.functions.measurement(meter, begin).call() == (begin + length, 0, 740)
    code, out = cli("prosumer", owner, "reveal", "--proof", str(proof_file))
    assert code == 1
    assert "is already revealed: nothing sent" in out.err

    code, out = cli("issuing_body", body, "dismiss-hub", "--sector", "DK1", "--hub", hub.address)
    assert code == 0, out.err
    assert not roots.functions.is_hub("DK1", hub.address).call()
    code, out = cli("issuing_body", body, "dismiss-hub", "--sector", "DK1", "--hub", hub.address)
    assert code == 1
    assert "is not a data hub of DK1: nothing sent" in out.err


def test_reveal_many_by_command(cli, anvil_connection, anvil_accounts, deployment, tmp_path):
    admin, body, installer, owner, signer, hub = (anvil_accounts[i] for i in (0, 4, 5, 6, 7, 9))
    w3 = anvil_connection.w3
    deployed = Deployment.load(deployment)
    smb = deployed.contract(w3, "SmartMeterBackend")
    as_admin = actions.Actor(w3, admin, deployed)
    actions.set_issuing_body(as_admin, "DK1", body.address)
    as_body = as_admin.with_account(body)
    actions.certify_installer(as_body, "DK1", installer.address)
    assert cli("issuing_body", body, "appoint-hub", "--sector", "DK1", "--hub", hub.address)[0] == 0
    as_installer = as_admin.with_account(installer)
    meters = [keccak(text=f"street-{i}") for i in range(3)]
    for meter in meters:
        actions.register_meter(
            as_installer, meter, signer.address, owner.address, "DK1", "consumption", by_root=True
        )
        actions.accept_meter(as_installer.with_account(owner), meter)
    length = smb.functions.interval_length().call()
    now = w3.eth.get_block("latest")["timestamp"]
    begin = now - now % length + length
    advance_time(w3, begin + 2 * length)
    values = [*fillers(begin, length, 6), *(leaf(m, begin, 0, 500 + i, length) for i, m in
                                           enumerate(meters))]  # fmt: skip
    tree = build_tree(merkle.HUB_LEAF_TYPES, values, multiproof=[6, 7, 8])
    tree_file = tmp_path / "tree.json"
    tree_file.write_text(json.dumps(tree.dump))
    code, out = cli("data_hub", hub, "publish-root", "--tree", str(tree_file), "--sector", "DK1",
                    "--from", str(begin), "--as-hub")  # fmt: skip
    assert code == 0, out.err
    multiproof = {
        "format": "openkwh-multiproof-v1",
        "publisher": hub.address,
        "root": "0x" + tree.root.hex(),
        "leafEncoding": merkle.HUB_LEAF_TYPES,
        **tree.multiproof,
    }
    proof_file = tmp_path / "multiproof.json"
    proof_file.write_text(json.dumps({**multiproof, "proofFlags": [True] * 3}))
    code, out = cli("prosumer", owner, "reveal-many", "--proof", str(proof_file))
    assert code == 1
    assert "a multiproof of 3 leaves and" in out.err
    proof_file.write_text(json.dumps(multiproof))
    code, out = cli("prosumer", owner, "reveal-many", "--proof", str(proof_file))
    assert code == 0, out.err
    for i, meter in enumerate(meters):
        assert smb.functions.measurement(meter, begin).call() == (begin + length, 0, 500 + i)


def test_billing_period_settled_from_its_aggregate_by_command(
    cli, anvil_connection, anvil_accounts, deployment, tmp_path
):
    admin, body, installer, owner, signer, hub = (anvil_accounts[i] for i in (0, 4, 5, 6, 7, 9))
    w3 = anvil_connection.w3
    deployed = Deployment.load(deployment)
    smb = deployed.contract(w3, "SmartMeterBackend")
    ob = deployed.contract(w3, "OperatorBackend")
    as_admin = actions.Actor(w3, admin, deployed)
    actions.set_issuing_body(as_admin, "DK1", body.address)
    actions.certify_installer(as_admin.with_account(body), "DK1", installer.address)
    assert cli("issuing_body", body, "appoint-hub", "--sector", "DK1", "--hub", hub.address)[0] == 0
    meter = keccak(text="aggregate-household")
    as_installer = as_admin.with_account(installer)
    actions.register_meter(
        as_installer, meter, signer.address, owner.address, "DK1", "consumption", by_root=True
    )
    actions.accept_meter(as_installer.with_account(owner), meter)
    length = smb.functions.interval_length().call()
    now = w3.eth.get_block("latest")["timestamp"]
    begin = now - now % length + length
    end = begin + 24 * length
    advance_time(w3, end + length)
    tree = build_tree(
        merkle.HUB_LEAF_TYPES,
        [leaf(meter, begin, 0, 9_870, 24 * length), *fillers(begin, 24 * length, 3)],
    )
    tree_file = tmp_path / "day.json"
    tree_file.write_text(json.dumps(tree.dump))
    code, out = cli("data_hub", hub, "publish-aggregate-root", "--tree", str(tree_file),
                    "--sector", "DK1", "--from", str(begin), "--to", str(end))  # fmt: skip
    assert code == 0, out.err
    proof_file = tmp_path / "proof.json"
    code, out = cli("data_hub", hub, "make-proof", "--tree", str(tree_file), "--meter-id",
                    meter.hex(), "--interval", str(begin), "--publisher", hub.address,
                    "--out", str(proof_file))  # fmt: skip
    assert code == 0, out.err
    code, out = cli("keeper", admin, "settle-aggregate", "--proof", str(proof_file))
    assert code == 0, out.err
    assert ob.functions.aggregated_until(smb.address, meter).call() == end
    assert ob.functions.is_settled(smb.address, meter, begin + length).call()


def test_hub_publish_refused_on_chain_says_why_in_one_line(
    anvil, deployment, anvil_accounts, tmp_path, monkeypatch, capsys
):
    """`openkwh hub publish` from an account the sector's issuing body never
    appointed: the contract's reason on one line, exit 1, no traceback."""
    from openkwh.commands.cli import main
    from openkwh.commands.network import PRIVATE_KEY_ENV

    gsrn = GSRN_BODY + str(gs1_check_digit(GSRN_BODY))
    (tmp_path / "salt").write_bytes(b"s" * 32)
    (tmp_path / "hub-salt").write_bytes(b"h" * 32)
    common = ["--store", str(tmp_path / "hub.sqlite"), "--deployments", str(deployment),
              "--salt-key-file", str(tmp_path / "hub-salt"), "--blobs", str(tmp_path / "blobs"),
              "--rpc-url", anvil.url]  # fmt: skip
    assert main(["hub", "add-meter", "--gsrn", gsrn, "--salt-file", str(tmp_path / "salt"),
                 "--signer", "0x" + "01" * 20, "--owner", "0x" + "02" * 20, "--sector", "DK1",
                 *common]) == 0  # fmt: skip
    csv = tmp_path / "hour.csv"
    csv.write_text("metering_point_id;begin;end;quantity_wh;quality\n"
                   f"{gsrn};2026-05-28T20:00:00Z;2026-05-28T21:00:00Z;512;measured\n")  # fmt: skip
    assert main(["hub", "import", str(csv), *common]) == 0
    capsys.readouterr()
    monkeypatch.setenv(PRIVATE_KEY_ENV, anvil_accounts[8].key.hex())
    code = main(["hub", "publish", "--sector", "DK1", "--interval", "2026-05-28T20:00Z", *common])
    assert (code, capsys.readouterr().err) == (1, (
        "openkwh hub publish: publish_hub_root would revert: "
        "roots: caller is not a data hub of this sector\n"
    ))  # fmt: skip


def test_hub_serve_as_an_account_that_is_not_the_sectors_hub_is_refused(
    anvil, deployment, anvil_accounts, tmp_path, monkeypatch, capsys
):
    """Served as another account than the publishing one (the README's example
    once left --account off `serve`), every proof would name a publisher whose
    roots are not on chain, and every owner's fetch-proof would call the hub
    a forger. The hub refuses to start instead."""
    import waitress

    from openkwh.commands.cli import main
    from openkwh.commands.network import PRIVATE_KEY_ENV

    served = []
    monkeypatch.setattr(waitress, "serve", lambda *args, **kwargs: served.append(kwargs))
    common = ["--store", str(tmp_path / "hub.sqlite"), "--deployments", str(deployment),
              "--rpc-url", anvil.url]  # fmt: skip
    assert main(["hub", "add-meter", "--meter-id", "0x" + "ab" * 32, "--signer", "0x" + "01" * 20,
                 "--owner", "0x" + "02" * 20, "--sector", "DK1", *common]) == 0  # fmt: skip
    capsys.readouterr()
    stranger = anvil_accounts[8]
    monkeypatch.setenv(PRIVATE_KEY_ENV, stranger.key.hex())
    assert main(["hub", "serve", "--port", "0", *common]) == 1
    assert capsys.readouterr().err.startswith(
        f"openkwh hub serve: {stranger.address} is not a data hub of DK1: "
    )
    assert served == []

"""`make demo HUB=1` (`python -m openkwh.demo --hub`): one household through the data hub.

Dana's rooftop-solar meter is registered to publish by Merkle root: its bridge
runs in hub relay mode. She offers an hour's surplus on the Exchange and Erik
(a root-published household too) takes it. Through that hour the bridges post
each interval's signed measurement to the hub (`openkwh hub`, served on
loopback); after it the hub publishes the sector's root on MeasurementRoots.
Dana signs in to the hub (Sign-In with Ethereum), fetches her leaf's proof and
reveals it (`openkwh prosumer fetch-proof`, `prosumer reveal`); Erik's hour is
public since he traded it (issue 18: traded hours are revealed, always), so the
keeper reveals it from the hub without signing in (`keeper reveal-traded`). The keeper then settles the deal and the operator both intervals
exactly as for meters that send readings.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD
from werkzeug.serving import make_server

from meter_bridge import config as bridge_config
from meter_bridge.daemon import Bridge
from meter_bridge.hub_relay import HubRelayer
from meter_bridge.simulator import SimulatedMeter
from openkwh.chain import advance_time
from openkwh.commands import actions
from openkwh.commands import roots as roots_commands
from openkwh.commands.deploy import deploy_all
from openkwh.commands.network import connected
from openkwh.devtools.anvil import dev_accounts, run_anvil
from openkwh.hub.app import Hub, create_app
from openkwh.hub.ingest import Ingestor
from openkwh.hub.leaves import roots_domain_separator
from openkwh.hub.publish import publish_interval
from openkwh.hub.store import open_store

ETHER = 10**18
SECTOR = "DK1"
GENESIS = 1_781_935_200  # the main demo's start
DOMAIN = "hub.demo"
OFFER_WH = 500
PRICE = 10**14  # token base units per Wh (0.10 a kWh at 18 decimals)


def run(say=print) -> dict:
    """The scenario; returns what a test checks."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    logging.getLogger("meter_bridge").setLevel(logging.WARNING)  # nor per reading
    accounts = dev_accounts(10)
    operator, body, installer, keeper, hub_account = (accounts[i] for i in (0, 4, 5, 7, 9))
    dana, erik = accounts[2], accounts[3]
    keys = {"dana": Account.from_key(keccak(text="demo-hub-dana-meter")),
            "erik": Account.from_key(keccak(text="demo-hub-erik-meter"))}  # fmt: skip
    ids = {name: keccak(text=f"demo-hub-{name}") for name in keys}
    with (
        run_anvil(extra_args=["--timestamp", str(GENESIS)]) as node,
        tempfile.TemporaryDirectory() as folder,
        connected("anvil", url=node.url) as conn,
    ):
        w3 = conn.w3
        deployments = deploy_all(conn, Path(folder))
        as_operator = actions.Actor(w3, operator, deployments)
        smb, exchange = as_operator.contract("SmartMeterBackend"), as_operator.contract("Exchange")
        ob, roots = (
            as_operator.contract("OperatorBackend"),
            as_operator.contract("MeasurementRoots"),
        )
        token = as_operator.contract("Wallet")
        say("1. A data hub for DK1, two households that publish by root")
        actions.set_issuing_body(as_operator, SECTOR, body.address)
        as_body = actions.Actor(w3, body, deployments)
        actions.certify_installer(as_body, SECTOR, installer.address)
        as_body.send(roots.functions.appoint_hub(SECTOR, hub_account.address))
        as_installer = actions.Actor(w3, installer, deployments)
        actions.register_meter(as_installer, ids["dana"], keys["dana"].address, dana.address,
                               SECTOR, "both", 6_000, "T020002", "F01050100", by_root=True)  # fmt: skip
        actions.register_meter(as_installer, ids["erik"], keys["erik"].address, erik.address,
                               SECTOR, "consumption", by_root=True)  # fmt: skip
        for owner, name in ((dana, "dana"), (erik, "erik")):
            actions.accept_meter(as_installer.with_account(owner), ids[name])
        actions.fund_treasury(as_operator, 100 * ETHER)

        interval = smb.functions.interval_length().call()
        now = w3.eth.get_block("latest")["timestamp"]
        day = now - now % 86_400
        hour = (
            day + 12 * interval if day + 12 * interval > now + 2 * interval else day + 36 * interval
        )
        say(
            f"2. Dana offers {roots_commands.kwh(OFFER_WH)} of the hour {datetime.fromtimestamp(hour, UTC):%Y-%m-%d %H:%M} UTC; Erik takes it"
        )
        as_dana, as_erik = (actions.Actor(w3, a, deployments) for a in (dana, erik))
        as_erik.send(token.functions.buyTokens(), value=ETHER // 10)
        as_erik.send(token.functions.approve(exchange.address, 2**256 - 1))
        receipt = as_dana.send(exchange.functions.offer(ids["dana"], hour, OFFER_WH, PRICE))
        (placed,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
        receipt = as_erik.send(exchange.functions.take(placed["args"]["order_id"], OFFER_WH, PRICE,
                                                       0, ids["erik"]))  # fmt: skip
        (made,) = exchange.events.DealMade().process_receipt(receipt, errors=DISCARD)
        deal = actions.settlement(made, exchange.abi)

        say("3. Their bridges post each interval's signed measurement to the hub")
        store = open_store(":memory:")
        ingestor = Ingestor(store, interval, roots_domain_separator(w3.eth.chain_id, roots.address),
                            keccak(text="demo-hub-salt-key"))  # fmt: skip
        for name, owner in (("dana", dana), ("erik", erik)):
            store.add_meter(ids[name], keys[name].address, owner.address, SECTOR, 17_250)
        the_hub = Hub(store, ingestor, hub_account.address, DOMAIN,
                      clock=lambda: w3.eth.get_block("latest")["timestamp"],
                      revealed_on_chain=lambda m, b: smb.functions.is_revealed(m, b).call(),
                      traded_on_chain=lambda m, b: ob.functions.is_traded(smb.address, m, b).call())  # fmt: skip
        server = make_server("127.0.0.1", 0, create_app(the_hub), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        try:
            meters = {"dana": SimulatedMeter("dsmr5", peak_w=6_000), "erik": SimulatedMeter("sml")}
            for name, meter in meters.items():
                bridge = Bridge(bridge_config.parse({
                    "meter": {"id": "0x" + ids[name].hex(), "protocol": meter.protocol},
                    "store": {"path": f"{folder}/{name}.sqlite", "blobs": f"{folder}/{name}-blobs"},
                }))  # fmt: skip
                for t in range(hour - interval, hour + interval + 1, 60):
                    bridge.now = lambda t=t: t
                    bridge.ingest(meter.telegram(t, t))
                relayer = HubRelayer(url, ids[name], keys[name], bridge.store, w3.eth.chain_id,
                                     roots.address, interval, clock=lambda: hour + interval)  # fmt: skip
                while relayer.step():
                    pass
                bridge.store.close()
            advance_time(w3, hour + 2 * interval)

            say("4. The hub publishes DK1's root of the hour")
            as_hub = actions.Actor(w3, hub_account, deployments)

            def send(function, args):
                receipt = as_hub.send(getattr(roots.functions, function)(*args))
                return receipt["transactionHash"].to_0x_hex()

            published = publish_interval(store, SECTOR, hour, interval, send)
            say(f"   root 0x{published[0].tree.root.hex()[:16]}… of {published[0].tree.count} "
                f"leaves; leaf hashes {published[0].cid}")  # fmt: skip
            the_hub.keep_tree(SECTOR, hour, "hub", published[0].tree)

            say("5. Dana signs in, fetches her proof and reveals her traded hour (prosumer")
            say("   fetch-proof, reveal); Erik's traded hour is public: the keeper reveals it")
            say("   from the hub without signing in (keeper reveal-traded)")
            proof_file = Path(folder) / "dana-proof.json"
            roots_commands.fetch_proof(as_dana, url, ids["dana"], hour, "hub", proof_file)
            roots_commands.reveal(as_dana, proof_file)
            roots_commands.reveal_traded(actions.Actor(w3, keeper, deployments), url, hour,
                                         hour + interval)  # fmt: skip
        finally:
            server.shutdown()
            store.close()
        measured = {name: smb.functions.measurement(ids[name], hour).call() for name in ids}
        kwh = roots_commands.kwh
        say(
            f"   Dana produced {kwh(measured['dana'][1])}, Erik consumed {kwh(measured['erik'][2])}"
        )

        say("6. Settlement, unchanged: the deal, then both intervals with the operator")
        as_keeper = actions.Actor(w3, keeper, deployments)
        receipt = as_keeper.send(exchange.functions.settle_many([deal]))
        (settled,) = exchange.events.DealSettled().process_receipt(receipt, errors=DISCARD)
        receipt = as_keeper.send(ob.functions.settle_many(smb.address, [(ids["dana"], hour),
                                                                        (ids["erik"], hour)]))  # fmt: skip
        intervals = ob.events.IntervalSettled().process_receipt(receipt, errors=DISCARD)
        paid = Decimal(settled["args"]["payment"]).scaleb(-token.functions.decimals().call())
        say(f"   deal: {kwh(settled['args']['delivered_wh'])} of {kwh(OFFER_WH)} delivered, "
            f"{paid:,.4f} tokens paid; {len(intervals)} intervals settled")  # fmt: skip
        return {"delivered_wh": settled["args"]["delivered_wh"],
                "payment": settled["args"]["payment"], "intervals_settled": len(intervals),
                "measured": measured}  # fmt: skip

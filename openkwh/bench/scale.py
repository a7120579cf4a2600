"""`make bench` (and `make bench-scale` alone): a national replay through the data hub.

3.3 M metering points (Denmark's) x one hourly interval, synthetic and
deterministic (seeded): a DataHub CSV file of the hour goes through the hub
path (parse, checks, SQLite store), the hub tree is built, its root published
on the real contracts in titanoboa, and leaves of that very tree (a proof of
22 hashes) revealed: one hub leaf, 24 with one multiproof. A meter-signed
leaf is revealed from a root of the 10,000 signed readings the ingest rate is
measured on, its proof lengthened to 22 hashes with stand-ins above that
tree's root (only the path matters to the contract, as in openkwh.bench.gas).

Gas figures are whole transactions: 21,000, the calldata (EIP-2028) and the
execution as titanoboa counts it. Timings are this machine's, and vary from
run to run; progress goes to stderr. Writes bench/scale.json:

    meters                      metering points replayed
    ingest_per_s                meter-signed readings ingested per second over the
                                hub's HTTP API (Flask test client), signature checks included
    tree_build_s                seconds to build the hub tree (leaf hashes and nodes)
    publish_gas_per_measurement publish_hub_root's gas / meters
    reveal_gas_hub              reveal: one hub leaf of the national tree
    reveal_gas_meter_signed     reveal_signed: one meter-signed leaf, 22-hash proof
    reveal_gas_per_leaf_24      reveal_many: 24 leaves of the national tree, per leaf
    reveal_gas_hub_floor, reveal_gas_meter_signed_floor, reveal_gas_per_leaf_24_floor
                                the same reveals (the meter-signed leaf signed
                                under its domain) in RevealFloor, their floor
                                peer of openkwh.bench.gas: one contract, no call
    proof_bytes                 a proof's hashes, in bytes
    proof_p95_ms                p95 of serving a proof (GET, signed in), ms
    sqlite_ingest_per_s         DataHub rows ingested per second, SQLite store
    postgres_ingest_per_s       the same on PostgreSQL (a sample of SAMPLE_POSTGRES rows);
                                null when Debian's postgresql package is absent
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import random
import sys
import time
from pathlib import Path

from coincurve import PrivateKey

from meter_bridge.signing import gs1_check_digit
from openkwh.devtools.anvil import PROJECT_ROOT
from openkwh.hub.leaves import keccak, measurement_digest, roots_domain_separator
from openkwh.hub.tree import stderr_progress
from openkwh.merkle import pack_flags, root_from_proof

SCALE_FILE = PROJECT_ROOT / "bench" / "scale.json"
CONTRACTS = PROJECT_ROOT / "contracts"
REVEAL_FLOOR = PROJECT_ROOT / "bench" / "contracts" / "RevealFloor.vy"
METERS = 3_300_000
SIGNED = 10_000
SAMPLE_POSTGRES = 200_000
PROOF_SAMPLES = 1_000
SEED = "openkwh-national-replay-1"
HOUR = 3_600  # seconds
T_START = 1_782_864_000  # 2026-07-01T00:00Z: the chain's clock at the start, for determinism
BEGIN = T_START + 2 * HOUR  # the replayed hour
SECTOR = "DK1"
MAX_W = 17_250  # a household connection, W
TX_BASE = 21_000
NATIONAL_PROOF = 22  # hashes


def log(message: str) -> None:
    stderr_progress(f"scale: {message}")


def gsrn(index: int) -> str:
    """The index-th synthetic GSRN: 5713131 (a Danish prefix), 10 digits, the GS1 check digit."""
    body = f"5713131{index:010d}"
    return body + str(gs1_check_digit(body))


def meter_id_of(index: int) -> bytes:
    """A synthetic meter id (real ones are keccak256(salt || GSRN)); sha256 keeps the setup short."""
    return hashlib.sha256(f"{SEED}:meter:{index}".encode()).digest()


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def datahub_lines(count: int, rng: random.Random):
    """The replayed hour as DataHub CSV lines (header first)."""
    yield "metering_point_id;begin;end;quantity_wh;quality;type\n"
    begin, end = iso(BEGIN), iso(BEGIN + HOUR)
    for index in range(count):
        yield f"{gsrn(index)};{begin};{end};{rng.randrange(0, 3_000)};measured;E17\n"


def calldata_gas(data: bytes) -> int:
    return sum(4 if byte == 0 else 16 for byte in data)


def tx_gas(function, *args, **kwargs) -> int:
    """The whole transaction's gas of calling ``function`` (a boa contract function).

    titanoboa keeps the EIP-2929 warm sets from one call to the next (it resets
    them only with ``reset_gas_used``): every account and slot an earlier call
    touched would be warm, as in no real transaction. They are reset first."""
    import boa

    data = function.prepare_calldata(*args)
    boa.env.evm.reset_access_counters()
    function(*args, **kwargs)
    return TX_BASE + calldata_gas(data) + function.contract._computation.get_gas_used()


def replay_store(store_url: str, count: int, owner: str):
    """A hub store serving ``count`` synthetic metering points, and the replay ingested into
    it; returns (store, ingestor, rows per second)."""
    from openkwh.hub.ingest import Ingestor
    from openkwh.hub.store import open_store

    store = open_store(store_url)
    log(f"the hub's {count:,} metering points")
    store.add_meters((meter_id_of(i), gsrn(i), "0x" + "00" * 20, owner, SECTOR, MAX_W)
                     for i in range(count))  # fmt: skip
    ingestor = Ingestor(store, HOUR, roots_domain_separator(1, "0x" + "00" * 20),
                        keccak(f"{SEED}:salt-key".encode()))  # fmt: skip
    started = time.perf_counter()
    outcome = ingestor.ingest_csv(datahub_lines(count, random.Random(SEED)))
    elapsed = time.perf_counter() - started
    if outcome.refused or outcome.accepted != count:
        raise RuntimeError(f"the replay was refused in part: {outcome.refused[:3]}")
    return store, ingestor, count / elapsed


def deploy(registered: list[bytes], meter_keys: dict[bytes, str]):
    """SmartMeterBackend and MeasurementRoots in titanoboa, ``registered`` as root-published
    meters of one owner, a data hub appointed; the chain at the end of the replayed hour."""
    import boa

    boa.env.evm.patch.timestamp = T_START
    admin, body, installer = (boa.env.generate_address(n) for n in ("admin", "body", "installer"))
    owner, hub = boa.env.generate_address("owner"), boa.env.generate_address("hub")
    with boa.env.prank(admin):
        roots_partial = boa.load_partial(CONTRACTS / "MeasurementRoots.vy")
        smb = boa.load_partial(CONTRACTS / "SmartMeterBackend.vy").deploy(
            HOUR, 300, roots_partial.deploy_as_blueprint()
        )
        smb.set_issuing_body(SECTOR, body, True)
        roots = roots_partial.at(smb.roots())
    smb.certify_installer(SECTOR, installer, sender=body)
    roots.appoint_hub(SECTOR, hub, sender=body)
    for meter in registered:
        smb.register_meter(meter, meter_keys.get(meter, owner), owner, SECTOR, "", "", 0, MAX_W, 2,
                           True, sender=installer)  # fmt: skip
        smb.accept_meter(meter, 0, sender=owner)
    boa.env.time_travel(seconds=BEGIN + 2 * HOUR - T_START)
    return boa, smb, roots, hub


def signed_readings(count: int, chain_id: int, roots_address: str) -> tuple[list, list]:
    """``count`` meter-signed readings of the replayed hour (each meter its own key,
    signed with coincurve), and (meter id, address) of each meter."""
    separator = roots_domain_separator(chain_id, roots_address)
    readings, meters = [], []
    digest = hashlib.sha256(SEED.encode()).digest()
    for index in range(count):
        key = PrivateKey(keccak(f"{SEED}:meter-key:{index}".encode()))
        address = "0x" + keccak(key.public_key.format(compressed=False)[1:])[-20:].hex()
        meter = keccak(f"{SEED}:signed-meter:{index}".encode())
        consumed = 100 + index % 2_000
        message = measurement_digest(separator, meter, BEGIN, BEGIN + HOUR, 0, consumed,
                                     1_000_000 + consumed, 0, digest)  # fmt: skip
        signature = key.sign_recoverable(message, hasher=None)
        readings.append({
            "meter_id": "0x" + meter.hex(), "interval_begin": BEGIN, "interval_end": BEGIN + HOUR,
            "produced_wh": 0, "consumed_wh": consumed, "import_wh": 1_000_000 + consumed,
            "export_wh": 0, "data_digest": "0x" + digest.hex(), "v": 27 + signature[64],
            "r": "0x" + signature[:32].hex(), "s": "0x" + signature[32:64].hex(),
        })  # fmt: skip
        meters.append((meter, address))
    return readings, meters


def run(meters: int = METERS, out: Path = SCALE_FILE, postgres: bool = True) -> dict:
    from eth_account import Account

    from openkwh.hub.app import Hub, create_app
    from openkwh.hub.ingest import Ingestor
    from openkwh.hub.publish import build
    from openkwh.hub.store import open_store
    from openkwh.hub.tree import MerkleTree

    owner_key = Account.from_key(keccak(f"{SEED}:owner".encode()))
    figures: dict = {"meters": meters}

    log(f"replaying {meters:,} metering points through the hub (DataHub CSV, SQLite)")
    store, _, rate = replay_store(":memory:", meters, owner_key.address)
    figures["sqlite_ingest_per_s"] = round(rate)
    log(f"SQLite: {rate:,.0f} rows/s")

    log("building the hub tree")
    leaves = store.leaves(SECTOR, BEGIN)
    started = time.perf_counter()
    tree, _, _ = build(leaves, signed=False, progress=lambda m: log(m))
    figures["tree_build_s"] = round(time.perf_counter() - started, 1)
    log(f"tree of {tree.count:,} leaves, depth {tree.depth}, in {figures['tree_build_s']} s")

    # the chain: 24 of the replay's meters registered, plus one meter-signed meter
    rng = random.Random(f"{SEED}:street")
    street = sorted(rng.sample(range(meters), 25))  # one revealed alone, 24 with a multiproof
    by_id = {leaf.meter_id: leaf for leaf in leaves}
    signed, signed_meters = None, None
    log("deploying the contracts in titanoboa")
    chain_id = 1
    # the signed readings name the roots contract: its address is known once deployed, so the
    # meter-signed meter's key is derived first and registered with it
    first_key = PrivateKey(keccak(f"{SEED}:meter-key:0".encode()))
    first_address = "0x" + keccak(first_key.public_key.format(compressed=False)[1:])[-20:].hex()
    first_meter = keccak(f"{SEED}:signed-meter:0".encode())
    import boa

    # a chain of its own: the replay's calls reset the warm sets (tx_gas), which would
    # break the checkpoints of an outer environment's anchors (a test's)
    chain = contextlib.ExitStack()
    chain.enter_context(boa.swap_env(boa.Env()))
    boa, smb, roots, hub = deploy([meter_id_of(i) for i in street] + [first_meter],
                                  {first_meter: first_address})  # fmt: skip
    chain_id = boa.env.evm.patch.chain_id

    publish_gas = tx_gas(roots.publish_hub_root, SECTOR, BEGIN, tree.root, sender=hub)
    figures["publish_gas_per_measurement"] = round(publish_gas / meters, 6)
    one = by_id[meter_id_of(street[0])]
    proof = tree.proof(one.hub_hash())
    figures["reveal_gas_hub"] = tx_gas(roots.reveal, hub, one.hub_values(), proof, sender=hub)
    assert smb.is_revealed(one.meter_id, BEGIN)
    figures["proof_bytes"] = 32 * len(proof)
    by_hash = {by_id[meter_id_of(i)].hub_hash(): by_id[meter_id_of(i)] for i in street[1:]}
    ordered, multiproof, flags = tree.multiproof(list(by_hash))
    gas_24 = tx_gas(roots.reveal_many, hub, [by_hash[h].hub_values() for h in ordered],
                    multiproof, pack_flags(flags), sender=hub)  # fmt: skip
    figures["reveal_gas_per_leaf_24"] = gas_24 // len(ordered)
    log(f"publish {publish_gas:,} gas; reveal {figures['reveal_gas_hub']:,}; "
        f"reveal_many {gas_24:,} for {len(ordered)}")  # fmt: skip

    log(f"signing {SIGNED:,} meter-signed readings (coincurve)")
    signed, signed_meters = signed_readings(SIGNED, chain_id, str(roots.address))
    signed_store = open_store(":memory:")
    signed_store.add_meters(
        (m, None, a, owner_key.address, SECTOR, MAX_W) for m, a in signed_meters
    )
    ingestor = Ingestor(signed_store, HOUR, roots_domain_separator(chain_id, str(roots.address)),
                        keccak(f"{SEED}:salt-key".encode()))  # fmt: skip
    client = create_app(Hub(signed_store, ingestor, str(hub), "hub.bench")).test_client()
    started = time.perf_counter()
    accepted = 0
    for start in range(0, SIGNED, 1_000):
        answer = client.post("/api/v1/readings", json=signed[start : start + 1_000]).get_json()
        accepted += answer["accepted"]
    figures["ingest_per_s"] = round(SIGNED / (time.perf_counter() - started))
    if accepted != SIGNED:
        raise RuntimeError(f"only {accepted} of {SIGNED} signed readings accepted")
    log(f"meter-signed ingest: {figures['ingest_per_s']:,}/s")

    signed_leaves = signed_store.leaves(SECTOR, BEGIN, signed=True)
    signed_tree = MerkleTree([leaf.signed_hash() for leaf in signed_leaves])
    stand_ins = [keccak(f"{SEED}:stand-in:{i}".encode())
                 for i in range(NATIONAL_PROOF - signed_tree.depth)]  # fmt: skip
    first = next(leaf for leaf in signed_leaves if leaf.meter_id == first_meter)
    signed_proof = signed_tree.proof(first.signed_hash()) + stand_ins
    signed_root = root_from_proof(first.signed_hash(), signed_proof)
    publisher = boa.env.generate_address("anyone")
    roots.publish_root(SECTOR, BEGIN, BEGIN + HOUR, signed_root, sender=publisher)
    figures["reveal_gas_meter_signed"] = tx_gas(roots.reveal_signed, publisher,
                                                first.signed_values(), signed_proof)  # fmt: skip
    assert smb.is_revealed(first_meter, BEGIN)

    # The same reveals in RevealFloor, set up with the same meters and roots; the
    # meter-signed leaf signed again under the floor's domain, on the same path.
    floor = boa.load_partial(REVEAL_FLOOR).deploy(HOUR)
    tag = int.from_bytes(keccak(SECTOR.encode()), "big") >> (256 - 120)
    floor_meters = [(meter_id_of(i), tag, True, False, str(owner_key.address)) for i in street]
    floor_meters.append((first_meter, tag, True, False, first_address))
    floor_message = measurement_digest(
        floor.DOMAIN_SEPARATOR(), first.meter_id, first.interval_begin, first.interval_end,
        first.produced_wh, first.consumed_wh, first.import_wh, first.export_wh, first.data_digest,
    )  # fmt: skip
    signature = first_key.sign_recoverable(floor_message, hasher=None)
    floor_first = dataclasses.replace(
        first, v=27 + signature[64], r=signature[:32], s=signature[32:64]
    )
    floor.setup(floor_meters, [
        (tree.root, tag, BEGIN, BEGIN + HOUR, True),
        (root_from_proof(floor_first.signed_hash(), signed_proof), tag, BEGIN, BEGIN + HOUR, False),
    ])  # fmt: skip
    figures["reveal_gas_hub_floor"] = tx_gas(floor.reveal, one.hub_values(), proof)
    figures["reveal_gas_per_leaf_24_floor"] = tx_gas(
        floor.reveal_many, [by_hash[h].hub_values() for h in ordered], multiproof,
        pack_flags(flags),
    ) // len(ordered)  # fmt: skip
    figures["reveal_gas_meter_signed_floor"] = tx_gas(
        floor.reveal_signed, floor_first.signed_values(), signed_proof
    )
    log(f"RevealFloor: reveal {figures['reveal_gas_hub_floor']:,}; signed "
        f"{figures['reveal_gas_meter_signed_floor']:,}; per leaf of 24 "
        f"{figures['reveal_gas_per_leaf_24_floor']:,}")  # fmt: skip
    chain.close()

    log(f"serving {PROOF_SAMPLES:,} proofs of the national tree")
    the_hub = Hub(store, None, str(hub), "hub.bench", clock=lambda: BEGIN + 2 * HOUR)
    store.add_root(SECTOR, BEGIN, "hub", BEGIN + HOUR, tree.root, "bench", "bench", meters, None)
    the_hub.keep_tree(SECTOR, BEGIN, "hub", tree)
    client = create_app(the_hub).test_client()
    token = _sign_in(client, owner_key, BEGIN + 2 * HOUR)
    times = []
    for index in random.Random(f"{SEED}:proofs").sample(range(meters), PROOF_SAMPLES):
        started = time.perf_counter()
        answer = client.get(f"/api/v1/proofs/0x{meter_id_of(index).hex()}/{BEGIN}",
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"proof refused: {answer.get_json()}")
    times.sort()
    figures["proof_p95_ms"] = round(1_000 * times[int(0.95 * len(times))], 2)
    store.close()
    del tree, leaves, by_id

    figures["postgres_ingest_per_s"] = None
    if postgres:
        from openkwh.devtools.postgres import PostgresMissing, temporary_postgres

        try:
            with temporary_postgres() as url:
                sample = min(meters, SAMPLE_POSTGRES)
                log(f"PostgreSQL: replaying {sample:,} rows")
                pg_store, _, rate = replay_store(url, sample, owner_key.address)
                pg_store.close()
                figures["postgres_ingest_per_s"] = round(rate)
                log(f"PostgreSQL: {rate:,.0f} rows/s")
        except PostgresMissing as exc:
            log(f"PostgreSQL skipped: {exc}")

    keys = ["meters", "ingest_per_s", "tree_build_s", "publish_gas_per_measurement",
            "reveal_gas_hub", "reveal_gas_meter_signed", "reveal_gas_per_leaf_24",
            "reveal_gas_hub_floor", "reveal_gas_meter_signed_floor",
            "reveal_gas_per_leaf_24_floor", "proof_bytes", "proof_p95_ms",
            "sqlite_ingest_per_s", "postgres_ingest_per_s"]  # fmt: skip
    result = {key: figures[key] for key in keys}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _sign_in(client, key, now: int) -> str:
    from datetime import UTC, datetime, timedelta

    from eth_account.messages import encode_defunct
    from siwe import SiweMessage

    nonce = client.get("/api/v1/siwe/nonce").get_json()["nonce"]
    moment = datetime.fromtimestamp(now, UTC)
    message = SiweMessage(
        domain="hub.bench", address=key.address, uri="https://hub.bench/api/v1/siwe/login",
        version="1", chain_id=1, nonce=nonce, issued_at=moment.isoformat().replace("+00:00", "Z"),
        expiration_time=(moment + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    )  # fmt: skip
    text = message.prepare_message()
    signature = "0x" + key.sign_message(encode_defunct(text=text)).signature.hex().removeprefix(
        "0x"
    )
    answer = client.post("/api/v1/siwe/login", json={"message": text, "signature": signature})
    return answer.get_json()["token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openkwh.bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--meters", type=int, default=METERS, help="metering points replayed")
    parser.add_argument("--out", type=Path, default=SCALE_FILE)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rate")
    args = parser.parse_args(argv)
    result = run(args.meters, args.out, postgres=not args.no_postgres)
    print(json.dumps(result, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Scope 2 statements on chain, through the index and the API: Ben's statement of his
household meter's metered hour (attested), Anna's statement from utility data; the
factors per sector with a correction; and the dual-reporting report, whose CSV and
PDF figures are the on-chain statements' integers exactly."""

from __future__ import annotations

import csv
import io
import re
import zlib

import pytest

from openkwh.chain import transact
from tests.dapp.conftest import HOUR, RETIRED_WH
from tests.dapp.emissions_world import (
    CID,
    HOURLY_SOURCE,
    RESIDUAL_MG,
    RESIDUAL_WRONG_MG,
    SECTOR,
    hourly_factors,
    publish,
)

pytestmark = pytest.mark.anvil

BEN_CONSUMED_WH = 2_400  # the world's metered hour
UTILITY = "Ørsted (illustrative utility)"
BILL_WH = 1_234_567
BILL_LOCATION_MG, BILL_MARKET_MG = 98_501, 312_345
SHA = bytes(range(32))


@pytest.fixture(scope="module")
def scope2(world, app):
    """Factors published; Ben's statement made from the period the API offers, and
    attested; Anna's statement from utility data requested, published and attested."""
    s2 = publish(world)
    world.index()
    client = app.test_client()
    before = client.get(f"/api/v1/accounts/{world.ben.address}/statements").get_json()
    (offer,) = [c for c in before["candidates"] if c["meter_id"] == "0x" + world.home.hex()]
    f = world.contract("EmissionsRegistry").functions
    transact(world.w3, world.ben, f.make_statement(world.home, offer["begin"], offer["end"]))
    ben_statement = f.statement_count().call()
    transact(
        world.w3, s2.auditor, f.attest(ben_statement, "checked against the meter's telegrams", CID)
    )
    anna = world.anna
    begin = world.begin - world.begin % HOUR - 30 * 24 * HOUR
    transact(
        world.w3,
        anna,
        f.request_utility_statement(s2.auditor.address, SECTOR, UTILITY, begin, begin + 720 * HOUR),
    )
    transact(
        world.w3,
        s2.auditor,
        f.publish_utility_statement(
            f.request_count().call(),
            BILL_WH,
            BILL_LOCATION_MG,
            BILL_MARKET_MG,
            "Green Button ESPI XML",
            SHA,
            CID,
        ),
    )
    anna_statement = f.statement_count().call()
    world.index()
    return {
        "s2": s2,
        "before": before,
        "offer": offer,
        "ben": ben_statement,
        "anna": anna_statement,
        "chain": {i: f.statement(i).call() for i in (ben_statement, anna_statement)},
    }


def test_the_api_offers_the_metered_hour_and_then_no_more(world, client, scope2):
    offer = scope2["offer"]
    assert (offer["begin"], offer["end"], offer["sector"]) == (
        world.begin,
        world.begin + HOUR,
        SECTOR,
    )
    after = client.get(f"/api/v1/accounts/{world.ben.address}/statements").get_json()
    assert [c for c in after["candidates"] if c["meter_id"] == offer["meter_id"]] == []


def test_a_statement_from_meters_is_the_chains_with_its_attestation_and_factors(
    world, client, scope2
):
    s2 = scope2["s2"]
    answer = client.get(f"/api/v1/accounts/{world.ben.address}/statements").get_json()
    (statement,) = answer["statements"]
    on_chain = scope2["chain"][scope2["ben"]]
    # (account, origin, meter_id, sector, begin, end, consumed, matched, location ug,
    #  market ug, location g, market g, ...)
    assert statement["id"] == scope2["ben"]
    assert statement["consumed_wh"] == str(on_chain[6]) == str(BEN_CONSUMED_WH)
    assert statement["matched_wh"] == str(on_chain[7]) == str(RETIRED_WH)
    assert statement["location_based_g"] == str(on_chain[10])
    assert statement["market_based_g"] == str(on_chain[11])
    # and the plain GHG Protocol arithmetic: the hour's factor; the unmatched Wh at the
    # corrected residual mix (Anna's solar certificate counts as zero)
    location, market = s2.expected(BEN_CONSUMED_WH, RETIRED_WH, world.begin)
    assert (int(statement["location_based_g"]), int(statement["market_based_g"])) == (
        location,
        market,
    )
    assert statement["hourly_matched_percent"] == "41.7"  # 1,000 of 2,400 Wh
    assert statement["basis"] == f"from meters, attested by {s2.auditor.address}"
    (attestation,) = statement["attestations"]
    assert (attestation["auditor"], attestation["cid"]) == (s2.auditor.address, CID)
    used = [(p["id"], p["source"]) for p in statement["publications"]]
    assert used == [
        (s2.day_publication, HOURLY_SOURCE),
        (s2.residual_publication, f"{statement['publications'][1]['source']}"),
    ]
    assert statement["publications"][1]["factor_mg_per_kwh"] == str(RESIDUAL_MG)
    assert statement["publications"][0]["hourly_mg_per_kwh"] == [
        str(f) for f in hourly_factors(world.begin - world.begin % 86_400)
    ]


def test_a_statement_from_utility_data_says_so_and_who_attested_it(world, client, scope2):
    s2 = scope2["s2"]
    answer = client.get(f"/api/v1/accounts/{world.anna.address}/statements").get_json()
    (statement,) = answer["statements"]
    on_chain = scope2["chain"][scope2["anna"]]
    assert statement["basis"] == f"from utility data, attested by {s2.auditor.address}"
    assert statement["meter_id"] is None
    assert (
        statement["location_based_g"]
        == str(on_chain[10])
        == str((BILL_WH * BILL_LOCATION_MG + 500_000) // 1_000_000)
    )
    assert statement["market_based_g"] == str(on_chain[11])
    assert statement["utility"] | {"request": None} == {
        "request": None,
        "auditor": s2.auditor.address,
        "utility": UTILITY,
        "location_mg_per_kwh": str(BILL_LOCATION_MG),
        "market_mg_per_kwh": str(BILL_MARKET_MG),
        "data_format": "Green Button ESPI XML",
        "data_sha256": "0x" + SHA.hex(),
        "data_cid": CID,
    }
    (request,) = answer["requests"]
    assert request["statement"] == scope2["anna"]
    assert {"sector": SECTOR, "account": s2.auditor.address} in answer["auditors"]


def test_the_factors_of_a_sector_list_the_correction_and_what_it_superseded(client, scope2):
    s2 = scope2["s2"]
    answer = client.get(f"/api/v1/sectors/{SECTOR}/factors").get_json()
    by_id = {p["id"]: p for p in answer["publications"]}
    assert [p["id"] for p in answer["publications"]] == sorted(by_id, reverse=True)
    wrong, right = by_id[s2.residual_wrong], by_id[s2.residual_publication]
    assert (wrong["factor_mg_per_kwh"], wrong["superseded_by"]) == (
        str(RESIDUAL_WRONG_MG),
        s2.residual_publication,
    )
    assert (right["supersedes"], right["superseded_by"]) == (s2.residual_wrong, None)
    assert answer["publishers"] == [s2.publisher.address]
    assert client.get("/api/v1/sectors/nowhere/factors").get_json()["publications"] == []
    assert client.get("/api/v1/sectors/a%20b/factors").status_code == 400


def pdf_text(body: bytes) -> str:
    """The text a PDF shows, from its (zlib) content streams."""
    assert body.startswith(b"%PDF-")
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            content = stream
        shown += re.findall(rb"\((.*?)\)\s*Tj", content, re.S)
    return " ".join(s.decode("latin-1").replace("\\(", "(").replace("\\)", ")") for s in shown)


@pytest.mark.parametrize("who", ["ben", "anna"])
def test_the_reports_figures_are_the_on_chain_statements_exactly(world, client, scope2, who):
    account = getattr(world, who).address
    on_chain = scope2["chain"][scope2[who]]
    consumed, location_g, market_g = on_chain[6], on_chain[10], on_chain[11]

    answer = client.get(f"/api/v1/accounts/{account}/scope2-report.csv")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].endswith(f'scope2-{account}.csv"')
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    line, total = rows
    assert int(line["statement"]) == scope2[who]
    assert int(line["consumed_wh"]) == consumed
    assert int(line["location_based_g_co2e"]) == location_g
    assert int(line["market_based_g_co2e"]) == market_g
    assert (total["statement"], int(total["location_based_g_co2e"])) == ("total", location_g)
    assert int(total["market_based_g_co2e"]) == market_g
    assert line["basis"].startswith("from meters" if who == "ben" else "from utility data")

    answer = client.get(f"/api/v1/accounts/{account}/scope2-report.pdf")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    text = pdf_text(answer.get_data())
    assert f"Location-based: {location_g:,} g CO2e" in text
    assert f"Market-based: {market_g:,} g CO2e" in text
    assert f"{consumed:,}" in text
    assert "from meters" in text if who == "ben" else "from utility data" in text

    year = 1999
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/api/v1/accounts/{account}/scope2-report.csv?year={year}").get_data(
                    as_text=True
                )
            )
        )
    )
    assert [r["statement"] for r in rows] == ["total"]


def test_a_merge_burns_its_parts_and_the_report_counts_the_merged_statement_once(
    world, client, scope2
):
    """Two statements of one meter's consecutive hours merged: the index marks both
    superseded, lists them as the merged one's parts, gives it their publications, and
    the report holds the merged one only, its figures the chain's."""
    ben, f = world.ben, world.contract("EmissionsRegistry").functions
    first = world.last_end
    world.meter_readings(first + HOUR, {"solar": (0, 0), "home": (700, 0)})
    world.meter_readings(first + 2 * HOUR, {"solar": (0, 0), "home": (900, 0)})
    for hour in (0, 1):
        # the hour before first (the traded one) has its own statement already
        transact(
            world.w3,
            ben,
            f.make_statement(world.home, first + hour * HOUR, first + (hour + 1) * HOUR),
        )
    parts = [f.statement_count().call() - 1, f.statement_count().call()]
    world.index()
    answer = client.get(f"/api/v1/accounts/{ben.address}/statements").get_json()
    # the metered hour's statement ends where the first of them begins: one run of three
    assert answer["mergeable"] == [
        {
            "meter_id": "0x" + world.home.hex(),
            "ids": [scope2["ben"], *parts],
            "begin": world.begin,
            "end": first + 2 * HOUR,
        }
    ]
    transact(world.w3, ben, f.merge(parts))
    merged = f.statement_count().call()
    world.index()
    statements = {
        s["id"]: s
        for s in client.get(f"/api/v1/accounts/{ben.address}/statements").get_json()["statements"]
    }
    assert [statements[p]["superseded_by"] for p in parts] == [merged, merged]
    assert statements[merged]["parts"] == parts
    assert statements[merged]["origin_name"] == "meters, merged"
    union = [p for part in parts for p in statements[part]["publications"]]
    assert statements[merged]["publications"] == list({p["id"]: p for p in union}.values())
    on_chain = f.statement(merged).call()
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/api/v1/accounts/{ben.address}/scope2-report.csv").get_data(
                    as_text=True
                )
            )
        )
    )
    assert [r["statement"] for r in rows] == [str(scope2["ben"]), str(merged), "total"]
    assert int(rows[1]["market_based_g_co2e"]) == on_chain[11]
    assert int(rows[1]["consumed_wh"]) == 1_600


def test_a_restatement_supersedes_its_statement_and_has_no_parts(world, client, scope2):
    """Ben restates the statement of a new hour (review 17: a retirement made after a
    statement was lost to it): the index marks the old one superseded by the new one,
    which is live, from meters, with its own publications and no parts, and the report
    counts the new one only."""
    ben, f = world.ben, world.contract("EmissionsRegistry").functions
    hour = world.last_end
    world.meter_readings(hour + HOUR, {"solar": (0, 0), "home": (400, 0)})
    transact(world.w3, ben, f.make_statement(world.home, hour, hour + HOUR))
    old = f.statement_count().call()
    transact(world.w3, ben, f.restate(old))
    new = f.statement_count().call()
    world.index()
    statements = {
        s["id"]: s
        for s in client.get(f"/api/v1/accounts/{ben.address}/statements").get_json()["statements"]
    }
    assert (statements[old]["live"], statements[old]["superseded_by"]) == (False, new)
    assert (statements[new]["live"], statements[new]["origin_name"]) == (True, "meters")
    assert statements[new]["parts"] == []
    assert statements[new]["publications"] == statements[old]["publications"]
    report = client.get(f"/api/v1/accounts/{ben.address}/scope2-report.csv").get_data(as_text=True)
    ids = [r["statement"] for r in csv.DictReader(io.StringIO(report))]
    assert str(new) in ids
    assert str(old) not in ids


def test_an_index_of_the_previous_schema_is_rebuilt(tmp_path):
    import sqlite3

    from openkwh.dapp.indexer import SCHEMA_VERSION, connect

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE meters (meter_id TEXT)")
    old.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    old.commit()
    old.close()
    db = connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"emission_statements", "attestations", "emission_publications"} <= tables
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()

"""Scope 2 statements on chain (EmissionsRegistry), as the index holds them.

- an account's statements, live and superseded, each with its attestations, the
  factor publications it used (a merged one: its parts'), and what a statement from
  utility data says about that data;
- the periods the account can have a statement of now: per consuming meter and UTC
  month, the measured hours that no live statement covers yet (the contract refuses
  an unmeasured interval and an overlap: these are what it accepts);
- the factors published per sector;
- the report of the GHG Protocol's Scope 2 dual reporting (location-based and
  market-based side by side), as CSV and PDF.

Every figure is the contract's integer, as its log said: grams as the contract
rounded them (once per statement), Wh and mg CO2e/kWh exactly; sums are of
integers, and the one share shown (hourly matched) is rounded with integers.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import re
import time

from flask import Blueprint, Response, abort, jsonify, request

from openkwh.dapp import chain
from openkwh.dapp.api import address, natural

bp = Blueprint("statements", __name__)

ORIGINS = {1: "meters", 2: "meters, merged", 3: "utility data"}
KINDS = {
    1: "hourly location-based",
    2: "yearly location-based",
    3: "residual mix",
    4: "fuel factors",
}
SECTOR = re.compile(r"[A-Za-z0-9_.-]{1,16}")
ZERO32 = "0x" + "00" * 32
MIN_YEAR, MAX_YEAR = 1970, 9999


def utc(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(unix)) + " UTC"


def year_start(year: int) -> int:
    """Unix seconds of 1 January of ``year``, 00:00 UTC (proleptic Gregorian, any year;
    the contract's formula)."""
    y = year - 1
    return (365 * y + y // 4 - y // 100 + y // 400 - 719_162) * 86_400


def share(matched: int, consumed: int) -> str:
    """matched / consumed in percent, to 0.1, half up, with integers only."""
    if not consumed:
        return "0.0"
    per_mille = (matched * 2_000 + consumed) // (2 * consumed)
    return f"{per_mille // 10}.{per_mille % 10}"


def publication(row) -> dict:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "kind_name": KINDS.get(row["kind"], str(row["kind"])),
        "sector": row["sector"],
        "period": row["period"],
        "publisher": row["publisher"],
        "source": row["source"],
        "cid": row["cid"],
        "supersedes": row["supersedes"],
        "superseded_by": row["superseded_by"],
        "factor_mg_per_kwh": row["factor_mg_per_kwh"],
        "hourly_mg_per_kwh": json.loads(row["hourly_mg_per_kwh"])
        if row["hourly_mg_per_kwh"]
        else None,
        "published_at": row["published_at"],
    }


def account_statements(account: str, year: int | None = None) -> list[dict]:
    """The account's statements, oldest first; with ``year``, those that begin in it."""
    db = chain.db()
    query = "SELECT * FROM emission_statements WHERE account = ?"
    args: tuple = (account,)
    if year is not None:
        first, last = year_start(year), year_start(year + 1)
        query += " AND begin >= ? AND begin < ?"
        args += (first, last)
    statements = []
    for row in db.execute(query + " ORDER BY begin, id", args):
        id = row["id"]
        attestations = [
            {
                "auditor": a["auditor"],
                "note": a["note"],
                "cid": a["cid"],
                "attested_at": a["attested_at"],
            }
            for a in db.execute(
                "SELECT * FROM attestations WHERE statement = ? ORDER BY block, log_index", (id,)
            )
        ]
        used = [
            publication(p)
            for p in db.execute(
                "SELECT p.* FROM statement_publications s JOIN emission_publications p "
                "ON p.id = s.publication WHERE s.statement = ? ORDER BY s.position",
                (id,),
            )
        ]
        parts = [
            r[0]
            for r in db.execute(
                "SELECT part FROM statement_parts WHERE statement = ? ORDER BY position", (id,)
            )
        ]
        consumed, matched = int(row["consumed_wh"]), int(row["matched_wh"])
        utility = None
        if row["origin"] == 3:
            utility = {
                "request": row["request"],
                "auditor": row["auditor"],
                "utility": row["utility"],
                "location_mg_per_kwh": row["location_mg_per_kwh"],
                "market_mg_per_kwh": row["market_mg_per_kwh"],
                "data_format": row["data_format"],
                "data_sha256": row["data_sha256"],
                "data_cid": row["data_cid"],
            }
        attested_by = [a["auditor"] for a in attestations]
        if utility:
            vouching = attested_by or ([utility["auditor"]] if utility["auditor"] else [])
            basis = "from utility data, attested by " + (", ".join(vouching) or "nobody yet")
        else:
            basis = "from meters" + (
                ", attested by " + ", ".join(attested_by) if attested_by else ", not attested yet"
            )
        statements.append(
            {
                "id": id,
                "account": row["account"],
                "origin": row["origin"],
                "origin_name": ORIGINS.get(row["origin"], str(row["origin"])),
                "basis": basis,
                "meter_id": None if row["meter_id"] == ZERO32 else row["meter_id"],
                "sector": row["sector"],
                "begin": row["begin"],
                "end": row["end"],
                "consumed_wh": str(consumed),
                "matched_wh": str(matched),
                "location_based_g": row["location_g"],
                "market_based_g": row["market_g"],
                "hourly_matched_percent": share(matched, consumed),
                "made_at": row["made_at"],
                "tx": row["tx"],
                "live": row["superseded_by"] is None,
                "superseded_by": row["superseded_by"],
                "parts": parts,
                "attestations": attestations,
                "publications": used,
                "utility": utility,
            }
        )
    return statements


def month_bounds(unix: int) -> tuple[int, int]:
    year, month = time.gmtime(unix)[:2]
    first = calendar.timegm((year, month, 1, 0, 0, 0))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return first, calendar.timegm((year, month, 1, 0, 0, 0))


def candidates(account: str) -> list[dict]:
    """Per consuming meter of the account and UTC month, the first run of measured
    intervals inside the month that no live statement of the meter covers, of at most
    MAX_INTERVALS intervals: the period `make_statement` accepts (a month of hours; of
    quarter hours, its first 7.75 days, and the next once they have a statement)."""
    db = chain.db()
    longest = MAX_INTERVALS * chain.interval_length()
    found = []
    for meter, sector in db.execute(
        "SELECT meter_id, sector FROM meters WHERE owner = ? AND kind & 2 ORDER BY registered_at, meter_id",
        (account,),
    ).fetchall():
        covered = db.execute(
            "SELECT begin, end FROM emission_statements WHERE meter_id = ? AND superseded_by IS NULL",
            (meter,),
        ).fetchall()
        runs: dict[int, list[int]] = {}  # month's begin -> [begin, end] of its first open run
        closed: set[int] = set()
        for begin, end in db.execute(
            "SELECT interval_begin, interval_end FROM measurements WHERE meter_id = ? "
            "ORDER BY interval_begin",
            (meter,),
        ):
            month, month_end = month_bounds(begin)
            free = end <= month_end and not any(b < end and begin < e for b, e in covered)
            run = runs.get(month)
            if month in closed:
                continue
            if not free:
                if run:
                    closed.add(month)
                continue
            if run is None:
                runs[month] = [begin, end]
            elif run[1] == begin and end - run[0] <= longest:
                run[1] = end
            else:
                closed.add(month)
        for month, (begin, end) in sorted(runs.items(), reverse=True):
            found.append(
                {
                    "meter_id": meter,
                    "sector": sector,
                    "month": time.strftime("%Y-%m", time.gmtime(month)),
                    "begin": begin,
                    "end": end,
                }
            )
    return found


MAX_INTERVALS = 744  # EmissionsRegistry.MAX_INTERVALS
MAX_PARTS = 48  # EmissionsRegistry.MAX_PARTS
MAX_PERIOD = 366 * 86_400  # EmissionsRegistry.MAX_PERIOD


def mergeable(statements: list[dict]) -> list[dict]:
    """Runs of two or more live statements computed from one meter, each beginning where
    the one before ends: what `merge` joins into one (a year's months), at most
    MAX_PARTS and MAX_PERIOD each."""
    runs = []
    by_meter: dict[str, list[dict]] = {}
    for s in statements:
        if s["live"] and s["origin"] == 1:
            by_meter.setdefault(s["meter_id"], []).append(s)
    for meter, own in by_meter.items():
        run: list[dict] = []
        for s in [*sorted(own, key=lambda s: s["begin"]), None]:
            fits = (
                s is not None
                and run
                and run[-1]["end"] == s["begin"]
                and len(run) < MAX_PARTS
                and s["end"] - run[0]["begin"] <= MAX_PERIOD
            )
            if fits:
                run.append(s)
                continue
            if len(run) >= 2:
                runs.append(
                    {
                        "meter_id": meter,
                        "ids": [p["id"] for p in run],
                        "begin": run[0]["begin"],
                        "end": run[-1]["end"],
                    }
                )
            run = [s] if s is not None else []
    return runs


@bp.get("/api/v1/accounts/<account>/statements")
def api_statements(account: str):
    """The account's Scope 2 statements, with attestations and the factor publications
    used; the periods it can have a statement of; the statements it can merge; its
    requests; the auditors."""
    account = address(account)
    db = chain.db()
    requests = [
        dict(row)
        for row in db.execute(
            "SELECT * FROM emission_requests WHERE customer = ? ORDER BY id", (account,)
        )
    ]
    auditors = [
        {"sector": s, "account": a}
        for s, a in db.execute(
            "SELECT sector, account FROM emission_roles WHERE role = 'auditor' AND appointed = 1 "
            "ORDER BY sector, account"
        )
    ]
    statements = account_statements(account)
    return jsonify(
        account=account,
        statements=statements,
        candidates=candidates(account),
        mergeable=mergeable(statements),
        requests=requests,
        auditors=auditors,
    )


@bp.get("/api/v1/sectors/<sector>/factors")
def api_factors(sector: str):
    """The factor publications of a sector, newest first; superseded ones too."""
    if not SECTOR.fullmatch(sector):
        abort(400, f"{sector!r} is not a sector (1 to 16 letters, digits, '.', '_' or '-')")
    rows = chain.db().execute(
        "SELECT * FROM emission_publications WHERE sector = ? ORDER BY id DESC", (sector,)
    )
    publications = [publication(row) for row in rows]
    publishers = [
        r[0]
        for r in chain.db().execute(
            "SELECT account FROM emission_roles WHERE sector = ? AND role = 'publisher' "
            "AND appointed = 1 ORDER BY account",
            (sector,),
        )
    ]
    return jsonify(sector=sector, publishers=publishers, publications=publications)


# THE REPORT (GHG Protocol Scope 2 dual reporting)

COLUMNS = [
    "statement",
    "basis",
    "meter_or_utility",
    "sector",
    "period_begin_utc",
    "period_end_utc",
    "consumed_wh",
    "location_based_g_co2e",
    "market_based_g_co2e",
    "hourly_matched_wh",
    "hourly_matched_percent",
    "attested_by",
    "factor_sources",
]


def report(account: str) -> dict:
    """The live statements of the account (``year``: those that begin in it), one line
    each, and the totals: location-based and market-based side by side."""
    year = request.args.get("year")
    year = None if year is None else natural("year", year, minimum=MIN_YEAR, maximum=MAX_YEAR)
    lines = []
    totals = {"consumed_wh": 0, "location_based_g": 0, "market_based_g": 0, "matched_wh": 0}
    for s in account_statements(account, year):
        if not s["live"]:
            continue  # burned by a merge: its figures are in the merged statement
        sources = list(dict.fromkeys(f"{p['source']} (#{p['id']})" for p in s["publications"]))
        if s["utility"]:
            u = s["utility"]
            what = u["utility"]
            sources = [
                f"{u['utility']}: location {u['location_mg_per_kwh']} mg/kWh, "
                f"market {u['market_mg_per_kwh']} mg/kWh ({u['data_format']}, {u['data_cid']})"
            ]
        else:
            what = s["meter_id"]
        lines.append(
            {
                "statement": s["id"],
                "basis": s["basis"],
                "meter_or_utility": what,
                "sector": s["sector"],
                "period_begin_utc": utc(s["begin"]),
                "period_end_utc": utc(s["end"]),
                "consumed_wh": int(s["consumed_wh"]),
                "location_based_g_co2e": int(s["location_based_g"]),
                "market_based_g_co2e": int(s["market_based_g"]),
                "hourly_matched_wh": int(s["matched_wh"]),
                "hourly_matched_percent": s["hourly_matched_percent"],
                "attested_by": " ".join(a["auditor"] for a in s["attestations"]),
                "factor_sources": "; ".join(sources),
            }
        )
        totals["consumed_wh"] += int(s["consumed_wh"])
        totals["location_based_g"] += int(s["location_based_g"])
        totals["market_based_g"] += int(s["market_based_g"])
        totals["matched_wh"] += int(s["matched_wh"])
    return {"account": account, "year": year, "lines": lines, "totals": totals}


def filename(account: str, year: int | None, suffix: str) -> str:
    return f"scope2-{account}{'-' + str(year) if year else ''}.{suffix}"


@bp.get("/api/v1/accounts/<account>/scope2-report.csv")
def api_report_csv(account: str):
    """The Scope 2 report, dual reporting, as CSV: a line per live statement, then the totals."""
    account = address(account)
    data = report(account)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in data["lines"]:
        writer.writerow([line[c] for c in COLUMNS])
    t = data["totals"]
    writer.writerow(
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            t["consumed_wh"],
            t["location_based_g"],
            t["market_based_g"],
            t["matched_wh"],
            share(t["matched_wh"], t["consumed_wh"]),
            "",
            "",
        ]
    )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename(account, data["year"], "csv")}"'
        },
    )


def grams(value: int) -> str:
    """Integer grams, grouped by thousands: exact, as the statement says."""
    return f"{value:,} g"


def latin(text: str) -> str:
    """PDF core fonts are Latin-1: anything else becomes '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf_report(data: dict) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title("Scope 2 emissions report")
    pdf.set_creator("OpenKWh")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(width, 7, "Scope 2 emissions report (GHG Protocol, dual reporting)")
    pdf.set_font("Helvetica", "", 9)
    year = f", statements beginning in {data['year']}" if data["year"] else ""
    pdf.multi_cell(
        width,
        5,
        latin(
            f"Account {data['account']}{year}. From the statements on chain (EmissionsRegistry), "
            "as the dApp's index read them: location-based = consumption x the grid's factor; "
            "market-based = consumption not matched hour by hour by retired certificates x the "
            "residual mix (retired non-renewable certificates at their fuel's factor). Grams as "
            "the contract rounded them, once per statement."
        ),
    )
    pdf.ln(2)
    t = data["totals"]
    pdf.set_font("Helvetica", "B", 11)
    half = width / 2
    pdf.cell(half, 7, latin(f"Location-based: {grams(t['location_based_g'])} CO2e"), border=1)
    pdf.cell(half, 7, latin(f"Market-based: {grams(t['market_based_g'])} CO2e"), border=1)
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        width,
        5,
        f"Consumed {t['consumed_wh']:,} Wh; matched hour by hour {t['matched_wh']:,} Wh "
        f"({share(t['matched_wh'], t['consumed_wh'])} %).",
    )
    pdf.ln(2)
    headings = [
        "#",
        "Period (UTC)",
        "Consumed, Wh",
        "Location-based",
        "Market-based",
        "Matched",
        "Basis",
    ]
    widths = [10, 62, 28, 32, 32, 18, width - 182]
    pdf.set_font("Helvetica", "B", 8)
    for heading, w in zip(headings, widths, strict=True):
        pdf.cell(w, 6, heading, border=1)
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 8)
    for line in data["lines"]:
        cells = [
            str(line["statement"]),
            f"{line['period_begin_utc']} - {line['period_end_utc']}",
            f"{line['consumed_wh']:,}",
            grams(line["location_based_g_co2e"]),
            grams(line["market_based_g_co2e"]),
            f"{line['hourly_matched_percent']} %",
            line["basis"],
        ]
        y = pdf.get_y()
        x = pdf.l_margin
        heights = []
        for cell, w in zip(cells, widths, strict=True):
            pdf.set_xy(x, y)
            pdf.multi_cell(w, 5, latin(cell), border=1)
            heights.append(pdf.get_y() - y)
            x += w
        pdf.set_xy(pdf.l_margin, y + max(heights))
        pdf.set_font("Helvetica", "", 7)
        pdf.multi_cell(
            width,
            4,
            latin(
                f"{line['meter_or_utility']} ({line['sector']}). Factors: {line['factor_sources'] or '-'}"
            ),
        )
        pdf.set_font("Helvetica", "", 8)
    if not data["lines"]:
        pdf.multi_cell(width, 6, "No statement on chain yet.")
    return bytes(pdf.output())


@bp.get("/api/v1/accounts/<account>/scope2-report.pdf")
def api_report_pdf(account: str):
    """The Scope 2 report, dual reporting, as PDF."""
    account = address(account)
    data = report(account)
    return Response(
        pdf_report(data),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename(account, data["year"], "pdf")}"'
        },
    )

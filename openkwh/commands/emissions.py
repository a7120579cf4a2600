"""Scope 2 emissions on the EmissionsRegistry: the commands of the admin and the
issuing bodies (appointing factor publishers and auditors), of a factor
publisher (``openkwh publisher``), of a prosumer (statements of its meters,
requests from its utility data, decrypting its bill) and of an auditor
(``openkwh auditor``: Green Button bill data, utility statements, attestations).

Factors are written in g CO2e/kWh with decimals ("98.5") and recorded exactly in
integer mg/kWh; energy in kWh, periods as ISO dates or months (UTC). Content ids
are CIDv1 (raw, sha2-256) of the bytes, as the meter bridge computes them; with
no IPFS node here, the bytes go to a local content-addressed blob folder
(``--blobs``), one file per CID, which an IPFS node would hold.

Each command logs its plain summary; with ``--json`` it prints one JSON object
(its figures and the transactions sent). Its module registers the commands in
``actions.COMMANDS`` (imported at the end of actions.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from multiformats import CID
from web3.logs import DISCARD

from meter_bridge.content import BlobStore, cid_of
from openkwh.chain.types import as_dict, struct_fields
from openkwh.commands import actions
from openkwh.commands.actions import (
    SECTOR,
    Actor,
    Report,
    _add_meter_arguments,
    _address,
    _meter_id,
    _natural,
    _text,
    _time,
    _when,
)
from openkwh.emissions import bill, greenbutton

logger = logging.getLogger(__name__)

CONTRACT = "EmissionsRegistry"
KIND_HOURLY_DAY, KIND_LOCATION_YEAR, KIND_RESIDUAL_YEAR, KIND_FUEL_YEAR = 1, 2, 3, 4
KIND_WORDS = {
    KIND_HOURLY_DAY: "hourly location-based factors of a day",
    KIND_LOCATION_YEAR: "yearly location-based factor",
    KIND_RESIDUAL_YEAR: "residual mix",
    KIND_FUEL_YEAR: "fuel factors",
}
ORIGIN_WORDS = {1: "from meters", 2: "from meters (merged)", 3: "from utility data"}
DAY = 86_400  # seconds
MAX_INTERVALS = 744  # EmissionsRegistry.MAX_INTERVALS, measurements: 31 days of hours
MAX_PERIOD = 366 * DAY  # EmissionsRegistry.MAX_PERIOD
SOURCE, NOTE = _text(64), _text(128)  # the contract's MAX_SOURCE and MAX_NOTE, bytes
DEFAULT_BLOBS = Path("blobs")


def registry(actor: Actor):
    return actor.contract(CONTRACT)


# Units and periods


def _factor(text: str) -> int:
    try:
        return bill.mg_per_kwh(text)
    except bill.BillDataError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _month(text: str) -> tuple[int, int]:
    """[first day, first day of the next month) of "2026-06", UTC."""
    try:
        first = datetime.strptime(text.strip(), "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month: {text!r} (e.g. 2026-06)") from None
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return int(first.timestamp()), int(following.timestamp())


def _day(text: str) -> int:
    when = _time(text)
    if when % DAY:
        raise argparse.ArgumentTypeError(f"not a UTC day: {text!r} (e.g. 2026-06-20)")
    return when


def _cid(text: str) -> str:
    try:
        CID.decode(text)
    except Exception:  # multiformats raises several kinds for garbage
        raise argparse.ArgumentTypeError(f"not a content id (CID): {text!r}") from None
    return text


def _add_period(parser: argparse.ArgumentParser, what: str, year: bool = False) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--month", type=_month, help=f"{what}: a calendar month (UTC), e.g. 2026-06")
    if year:
        which.add_argument(
            "--year",
            type=_year,
            help="a calendar year (UTC): twelve monthly statements and their merge, sent only "
            "if all would go through",
        )
    which.add_argument(
        "--from",
        dest="start",
        type=_time,
        help=f"{what}'s begin: an ISO 8601 date or time (UTC unless zoned); with --to",
    )
    parser.add_argument("--to", dest="end", type=_time, help="the period's end (excluded)")


def _period(args: argparse.Namespace) -> tuple[int, int]:
    if args.month:
        if args.end is not None:
            raise ValueError("give --month or --from and --to, not both: nothing sent")
        return args.month
    if args.end is None:
        raise ValueError("--from needs --to: nothing sent")
    if args.end <= args.start:
        raise ValueError("--to must come after --from: nothing sent")
    return args.start, args.end


def _add_blobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--blobs",
        type=Path,
        default=DEFAULT_BLOBS,
        help="the local content-addressed blob folder (a file per CID, what an IPFS node "
        "would hold; default: ./blobs)",
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} {path}: {exc.strerror}") from None


def _store(folder: Path, data: bytes) -> str:
    return str(BlobStore(folder).put(data))


def _source_cid(args: argparse.Namespace) -> str:
    if args.cid:
        return args.cid
    return _store(args.blobs, _read(args.source_file, "source file"))


def _add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        type=SOURCE,
        required=True,
        help='the source\'s name, e.g. "Energinet environmental declaration 2025"',
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--source-file", type=Path, help="the source's data file (its CID is taken)")
    which.add_argument("--cid", type=_cid, help="the content id of the source's data file")
    parser.add_argument(
        "--correct",
        action="store_true",
        help="supersede the current publication of that sector and period (a correction)",
    )
    _add_blobs(parser)


# ADMIN, ISSUING BODY


def appoint(actor: Actor, what: str, sector: str, account: str, appointed: bool = True):
    """Appoints (or removes) a factor publisher or an auditor of ``sector``."""
    contract = registry(actor)
    if what == "publisher":
        call = contract.functions.set_publisher(sector, account, appointed)
    else:
        call = contract.functions.set_auditor(sector, account, appointed)
    receipt = actor.send(call)
    logger.info(
        "%s %s as %s of %s",
        "appointed" if appointed else "removed",
        account,
        "a factor publisher" if what == "publisher" else "an auditor",
        sector,
    )
    return receipt


# FACTOR PUBLISHER


def _supersedes(actor: Actor, sector: str, kind: int, period: int, correct: bool) -> int:
    current = registry(actor).functions.current_publication(sector, kind, period).call()
    if current and not correct:
        raise ValueError(
            f"publication {current} already gives the {KIND_WORDS[kind]} of {sector} for that "
            "period: pass --correct to supersede it; nothing sent"
        )
    if correct and not current:
        raise ValueError(f"there is no {KIND_WORDS[kind]} of {sector} for that period to correct")
    return current


def _published(actor: Actor, receipt) -> int:
    (event,) = registry(actor).events.FactorsPublished().process_receipt(receipt, errors=DISCARD)
    return event["args"]["id"]


def publish_day(actor, sector, day, factors, source, cid, correct=False) -> Report:
    """A day's 24 hourly location-based factors (mg/kWh, 00:00-01:00 UTC first)."""
    if len(factors) != 24:
        raise ValueError(f"a day has 24 hourly factors, {len(factors)} given: nothing sent")
    supersedes = _supersedes(actor, sector, KIND_HOURLY_DAY, day, correct)
    receipt = actor.send(
        registry(actor).functions.publish_day(sector, day, factors, source, cid, supersedes)
    )
    id_ = _published(actor, receipt)
    logger.info(
        "published the hourly factors of %s for %s as publication %d (%s to %s g CO2e/kWh)%s",
        sector,
        _when(day)[:10],
        id_,
        bill.show_factor(min(factors)),
        bill.show_factor(max(factors)),
        f", superseding {supersedes}" if supersedes else "",
    )
    return Report(publication=id_, supersedes=supersedes, cid=cid, factors_mg_per_kwh=factors)


def publish_year(actor, sector, kind, year, factor, source, cid, correct=False) -> Report:
    """A year's location-based factor or residual mix, mg/kWh."""
    supersedes = _supersedes(actor, sector, kind, year, correct)
    receipt = actor.send(
        registry(actor).functions.publish_year(sector, kind, year, factor, source, cid, supersedes)
    )
    id_ = _published(actor, receipt)
    logger.info(
        "published the %s of %s for %d, %s g CO2e/kWh, as publication %d%s",
        KIND_WORDS[kind],
        sector,
        year,
        bill.show_factor(factor),
        id_,
        f", superseding {supersedes}" if supersedes else "",
    )
    return Report(publication=id_, supersedes=supersedes, cid=cid, factor_mg_per_kwh=factor)


def publish_fuel_factors(actor, sector, year, fuels: dict, source, cid, correct=False) -> Report:
    """A year's factors of non-renewable fuels (AIB EECS codes), mg/kWh."""
    supersedes = _supersedes(actor, sector, KIND_FUEL_YEAR, year, correct)
    receipt = actor.send(
        registry(actor).functions.publish_fuel_factors(
            sector, year, list(fuels), list(fuels.values()), source, cid, supersedes
        )
    )
    id_ = _published(actor, receipt)
    logger.info(
        "published the fuel factors of %s for %d as publication %d: %s%s",
        sector,
        year,
        id_,
        ", ".join(f"{code} {bill.show_factor(mg)} g/kWh" for code, mg in fuels.items()),
        f", superseding {supersedes}" if supersedes else "",
    )
    return Report(publication=id_, supersedes=supersedes, cid=cid, fuels_mg_per_kwh=fuels)


def _fuel(text: str) -> tuple[str, int]:
    """A non-renewable fuel's factor, ``CODE=g/kWh``. The code is an AIB EECS fuel
    code as a producing meter registers it (F and 8 digits, checked by the
    SmartMeterBackend), not a renewable one (F01…, which counts as zero whatever is
    published): a code no certificate can carry would leave the fuels that certificates
    do carry without a factor, and every statement of their hours would revert."""
    code, _, factor = text.partition("=")
    code = code.strip()
    if not code or not factor:
        raise argparse.ArgumentTypeError(f"expected CODE=g/kWh, e.g. F02010100=820.5: {text!r}")
    if not (len(code) == 9 and code[0] == "F" and code[1:].isascii() and code[1:].isdigit()):
        raise argparse.ArgumentTypeError(
            f"{code!r} is not an AIB EECS fuel code (F and 8 digits, e.g. F02010100)"
        )
    if code.startswith("F01"):
        raise argparse.ArgumentTypeError(
            f"{code} is a renewable fuel (F01…): its certificates count as zero; "
            "publish factors of non-renewable fuels only"
        )
    return code, _factor(factor)


def _factors(text: str) -> list[int]:
    """Factors in g CO2e/kWh, separated by spaces or ";". Where the text has neither,
    commas separate them ("98,101,97"); where it has either, a comma is a decimal comma
    ("98,5 101 97,25"), so "98,5" is never read as two factors in a list that also has
    spaces. A list of decimal commas without spaces ("98,5,101,0") reads as twice the
    factors, and ``publish_day`` refuses any count but 24."""
    if ";" in text or text.strip().count(" ") or "\t" in text:
        parts = text.replace(";", " ").split()
    else:
        parts = text.split(",")
    return [_factor(part) for part in parts]


# STATEMENTS


def statement(actor: Actor, id_: int) -> dict:
    """A statement as a mapping, with its attestations, its utility data and the
    publications it used."""
    contract = registry(actor)
    s = as_dict(struct_fields(contract.abi, "statement"), contract.functions.statement(id_).call())
    if s["account"] == "0x" + "0" * 40:
        raise ValueError(f"there is no statement {id_}")
    s["id"] = id_
    s["meter_id"] = "0x" + s["meter_id"].hex()
    s["attestation_list"] = [
        as_dict(
            struct_fields(contract.abi, "attestation"),
            contract.functions.attestation(id_, i).call(),
        )
        for i in range(s["attestations"])
    ]
    s["publications"] = [
        as_dict(
            struct_fields(contract.abi, "publication"), contract.functions.publication(p).call()
        )
        | {"id": p}
        for p in contract.functions.publications_used(id_).call()
    ]
    s["parts"] = list(contract.functions.parts(id_).call())
    if s["origin"] == 3:
        utility = as_dict(
            struct_fields(contract.abi, "utility_data"), contract.functions.utility_data(id_).call()
        )
        utility["data_sha256"] = "0x" + utility["data_sha256"].hex()
        s["utility_data"] = utility
    return s


def describe(s: dict) -> list[str]:
    """A statement in words, one line each."""
    origin = ORIGIN_WORDS[s["origin"]]
    if s["origin"] == 3:
        origin += f", published by auditor {s['utility_data']['auditor']}"
    attested = [a["auditor"] for a in s["attestation_list"]]
    origin += f", attested by {', '.join(attested)}" if attested else ", not attested yet"
    share = Decimal(s["matched_wh"] * 100) / s["consumed_wh"] if s["consumed_wh"] else None
    matched = f"{share:.1f} %" if share is not None else "-"
    lines = [
        f"statement {s['id']} of {s['account']}, {s['sector']}: {origin}",
        f"  period      {_when(s['begin'])} to {_when(s['end'])}",
        f"  consumed    {actions.format_units(s['consumed_wh'], 3) or '0'} kWh "
        f"({s['consumed_wh']:,} Wh), hourly matched {actions.format_units(s['matched_wh'], 3)}"
        f" kWh ({matched})",
        f"  location-based  {s['location_g']:,} g CO2e (exactly {s['location_ug']:,} ug)",
        f"  market-based    {s['market_g']:,} g CO2e (exactly {s['market_ug']:,} ug)",
    ]
    if s["origin"] != 3:
        lines.append(f"  meter       {s['meter_id']}")
    for p in s["publications"]:
        factor = (
            f", {bill.show_factor(p['factor_mg_per_kwh'])} g/kWh" if p["kind"] in (2, 3) else ""
        )
        lines.append(
            f"  factors     publication {p['id']}: {KIND_WORDS[p['kind']]}{factor}, "
            f"{p['source']} ({p['cid']})"
        )
    if s["parts"]:
        lines.append(f"  merges      statements {', '.join(map(str, s['parts']))}")
    if "utility_data" in s:
        u = s["utility_data"]
        lines += [
            f"  utility     {u['utility']}: location {bill.show_factor(u['location_mg_per_kwh'])}"
            f" g/kWh, market {bill.show_factor(u['market_mg_per_kwh'])} g/kWh",
            f"  bill data   {u['data_format']}, sha256 {u['data_sha256']}, encrypted to the "
            f"customer as {u['data_cid']}",
        ]
    for a in s["attestation_list"]:
        lines.append(
            f"  attested    by {a['auditor']} at {_when(a['attested_at'])}: "
            f'"{a["note"]}" (working papers {a["cid"]})'
        )
    if s["superseded_by"]:
        lines.append(f"  superseded by statement {s['superseded_by']}")
    return lines


def _json_safe(s: dict) -> dict:
    return json.loads(
        json.dumps(s, default=lambda v: "0x" + v.hex() if isinstance(v, bytes) else str(v))
    )


def show_statement(actor: Actor, id_: int) -> Report:
    s = statement(actor, id_)
    for line in describe(s):
        logger.info("%s", line)
    return Report(statement=_json_safe(s))


def _made(actor: Actor, receipt) -> int:
    (event,) = registry(actor).events.StatementMade().process_receipt(receipt, errors=DISCARD)
    return event["args"]["id"]


def make_statement(actor: Actor, meter_id: bytes, begin: int, end: int) -> Report:
    """Computes and mints the actor's statement of a meter over [begin, end)."""
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    if begin % length or end % length:
        raise ValueError(
            f"the period must begin and end on the {length} s interval grid: nothing sent"
        )
    # The chain bounds the measurements a statement reads (MAX_INTERVALS: a gap in
    # the readings is one) and refuses more with its reason; the period is checked here.
    if end - begin > MAX_PERIOD:
        raise ValueError(
            f"a statement covers 366 days at most, and {MAX_INTERVALS:,} measurements "
            f"({MAX_INTERVALS * length // DAY} days of {length} s without a gap): make "
            "shorter ones, then `prosumer merge-statements`; nothing sent"
        )
    receipt = actor.send(registry(actor).functions.make_statement(meter_id, begin, end))
    id_ = _made(actor, receipt)
    s = statement(actor, id_)
    for line in describe(s):
        logger.info("%s", line)
    return Report(statement=_json_safe(s))


def year_parts(year: int, length: int) -> list[tuple[int, int]]:
    """The periods a year's statement is made of: its months, each cut into
    consecutive pieces of at most MAX_INTERVALS intervals of ``length`` seconds
    (a month of hours is one piece, of quarter hours four)."""
    parts = []
    for month in range(1, 13):
        begin, end = _month(f"{year}-{month:02d}")
        step = MAX_INTERVALS * length
        parts.extend((b, min(b + step, end)) for b in range(begin, end, step))
    return parts


def make_year_statement(actor: Actor, meter_id: bytes, year: int) -> Report:
    """A year's statement of a meter: its months (cut in pieces of at most
    MAX_INTERVALS intervals), then their merge, simulated together first
    (nothing is sent unless every one would go through)."""
    contract = registry(actor)
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    parts = year_parts(year, length)
    first = contract.functions.statement_count().call() + 1
    steps = [contract.functions.make_statement(meter_id, b, e) for b, e in parts]
    steps.append(contract.functions.merge(list(range(first, first + len(parts)))))
    try:
        receipt = actor.send_all(steps)
    except actions.TransactionFailed as exc:
        raise ValueError(f"the year's statement: {exc}") from None
    s = statement(actor, _made(actor, receipt))
    for line in describe(s):
        logger.info("%s", line)
    return Report(statement=_json_safe(s))


def restate_statement(actor: Actor, id_: int) -> Report:
    """Computes the actor's statement from meters anew (retirements made since, the
    current factors) as a new statement that supersedes it."""
    receipt = actor.send(registry(actor).functions.restate(id_))
    s = statement(actor, _made(actor, receipt))
    for line in describe(s):
        logger.info("%s", line)
    return Report(statement=_json_safe(s))


def merge_statements(actor: Actor, parts: list[int]) -> Report:
    if len(parts) < 2:
        raise ValueError("a merge joins two statements or more: nothing sent")
    receipt = actor.send(registry(actor).functions.merge(parts))
    id_ = _made(actor, receipt)
    s = statement(actor, id_)
    for line in describe(s):
        logger.info("%s", line)
    return Report(statement=_json_safe(s))


# UTILITY DATA


def request_statement(actor, auditor, sector, utility, begin, end, out: Path) -> Report:
    """Asks ``auditor`` for a statement from the actor's utility data over
    [begin, end), and writes the signed request for the auditor to ``out``."""
    if begin % 3_600 or end % 3_600:
        raise ValueError("a utility statement's period begins and ends on the hour: nothing sent")
    if end - begin > MAX_PERIOD:
        raise ValueError("a utility statement covers 366 days at most: nothing sent")
    # The file for the signed request is made before the request is sent: a request
    # sent with nowhere to write its signed half would stay open, and the auditor could
    # not encrypt the bill data to the customer's key.
    try:
        out.open("x").close()
    except FileExistsError:
        raise ValueError(f"{out} exists: give another --out; nothing sent") from None
    except OSError as error:
        raise ValueError(f"cannot write {out}: {error.strerror}; nothing sent") from None
    try:
        contract = registry(actor)
        receipt = actor.send(
            contract.functions.request_utility_statement(auditor, sector, utility, begin, end)
        )
    except BaseException:
        out.unlink()
        raise
    (event,) = contract.events.StatementRequested().process_receipt(receipt, errors=DISCARD)
    request = bill.Request(
        actor.account.address,
        actor.w3.eth.chain_id,
        contract.address,
        event["args"]["id"],
        begin,
        end,
    )
    signed = bill.sign_request(actor.account, request)
    out.write_text(json.dumps(signed, indent=1) + "\n")
    logger.info(
        "requested statement %d from %s's data (%s to %s) of auditor %s; give the auditor "
        "the signed request %s (it names this chain, the registry, the request and the period, "
        "and lets the auditor encrypt your bill data to your key)",
        request.request_id,
        utility,
        _when(begin),
        _when(end),
        auditor,
        out,
    )
    return Report(request=request.request_id, signed_request=str(out))


def _request(actor: Actor, request_id: int) -> dict:
    contract = registry(actor)
    r = as_dict(
        struct_fields(contract.abi, "request"), contract.functions.request(request_id).call()
    )
    if r["customer"] == "0x" + "0" * 40:
        raise ValueError(f"there is no request {request_id}: nothing sent")
    return r


def open_requests(actor: Actor) -> Report:
    """The requests addressed to the actor that wait for a statement: read from the
    StatementRequested logs naming it (indexed), so that requests anyone addresses to
    other auditors cost this nothing."""
    contract = registry(actor)
    found = []
    addressed = contract.events.StatementRequested().get_logs(
        from_block=actor.deployment[CONTRACT].block,
        argument_filters={"auditor": actor.account.address},
    )
    for id_ in sorted({event["args"]["id"] for event in addressed}):
        r = _request(actor, id_)
        if r["auditor"] == actor.account.address and r["statement"] == 0:
            found.append({"id": id_, **r})
            logger.info(
                "request %d: %s asks for a statement from %s's data, %s, %s to %s",
                id_,
                r["customer"],
                r["utility"],
                r["sector"],
                _when(r["begin"]),
                _when(r["end"]),
            )
    if not found:
        logger.info("no open request is addressed to %s", actor.account.address)
    return Report(requests=found)


def bill_figures(usage, begin, end, location_mg, market_mg) -> dict:
    """The statement from bill data over [begin, end): exact Wh, rounded to whole Wh
    once (only a file with a negative multiplier has fractions), and grams rounded
    once, half up, as the contract does."""
    exact = greenbutton.period_wh(usage, begin, end)
    wh = greenbutton.whole_wh(exact)
    return {
        "format": usage.format,
        "begin": begin,
        "end": end,
        "consumed_wh": wh,
        "consumed_wh_exact": str(exact),
        "location_mg_per_kwh": location_mg,
        "market_mg_per_kwh": market_mg,
        "location_g": bill.grams(wh, location_mg),
        "market_g": bill.grams(wh, market_mg),
    }


def _usage(path: Path, timezone: str | None):
    try:
        return greenbutton.parse(_read(path, "bill data file"), timezone)
    except greenbutton.GreenButtonError as exc:
        raise ValueError(f"{path}: {exc}") from None


def import_bill(actor, path, timezone, utility, begin, end, location_mg, market_mg) -> Report:
    """Reads a Green Button file and computes the statement it gives (nothing sent)."""
    usage = _usage(path, timezone)
    try:
        figures = bill_figures(usage, begin, end, location_mg, market_mg)
    except greenbutton.GreenButtonError as exc:
        raise ValueError(f"{path}: {exc}") from None
    logger.info(
        "%s: %s, %d intervals from %s to %s, %s Wh in all",
        path,
        usage.format,
        len(usage.intervals),
        _when(usage.start),
        _when(usage.end),
        usage.total_wh(),
    )
    logger.info(
        "%s, %s to %s: %s kWh; location-based %s g CO2e at %s g/kWh, market-based %s g CO2e "
        "at %s g/kWh (grams rounded once, half up)",
        utility,
        _when(begin),
        _when(end),
        actions.format_units(figures["consumed_wh"], 3) or "0",
        f"{figures['location_g']:,}",
        bill.show_factor(location_mg),
        f"{figures['market_g']:,}",
        bill.show_factor(market_mg),
    )
    return Report(utility=utility, **figures)


def publish_bill_statement(
    actor, request_id, signed_path, path, timezone, location_mg, market_mg, blobs
) -> Report:
    """Checks the customer's signed request, computes the statement from the bill
    data, encrypts the raw data to the customer's key into the blob folder and
    publishes the statement."""
    contract = registry(actor)
    r = _request(actor, request_id)
    if r["auditor"] != actor.account.address:
        raise ValueError(
            f"request {request_id} is addressed to {r['auditor']}, not you: nothing sent"
        )
    if r["statement"]:
        raise ValueError(
            f"request {request_id} is answered by statement {r['statement']}: nothing sent"
        )
    try:
        signed = json.loads(_read(signed_path, "signed request"))
    except json.JSONDecodeError:
        raise ValueError(f"{signed_path} is not a signed request (JSON): nothing sent") from None
    expected = bill.Request(
        r["customer"], actor.w3.eth.chain_id, contract.address, request_id, r["begin"], r["end"]
    )
    try:
        public_key = bill.recover_public_key(signed, expected)
    except bill.BillDataError as exc:
        raise ValueError(f"{signed_path}: {exc}; nothing sent") from None
    raw = _read(path, "bill data file")
    usage = _usage(path, timezone)
    try:
        figures = bill_figures(usage, r["begin"], r["end"], location_mg, market_mg)
    except greenbutton.GreenButtonError as exc:
        raise ValueError(f"{path}: {exc}; nothing sent") from None
    ciphertext = bill.encrypt(public_key, raw)
    data_cid = str(cid_of(ciphertext))
    digest = hashlib.sha256(raw).digest()
    call = contract.functions.publish_utility_statement(
        request_id, figures["consumed_wh"], location_mg, market_mg, usage.format, digest, data_cid
    )
    receipt = actor.send(call)  # dry-run first: nothing is sent when it would revert
    _store(blobs, ciphertext)
    id_ = _made(actor, receipt)
    logger.info(
        "published statement %d for %s from %s's data: %s kWh, location-based %s g, "
        "market-based %s g CO2e; the raw data (sha256 0x%s) is encrypted to the customer's key "
        "as %s in %s",
        id_,
        r["customer"],
        r["utility"],
        actions.format_units(figures["consumed_wh"], 3),
        f"{figures['location_g']:,}",
        f"{figures['market_g']:,}",
        digest.hex(),
        data_cid,
        blobs,
    )
    return Report(statement=id_, data_cid=data_cid, data_sha256="0x" + digest.hex(), **figures)


def decrypt_bill(actor: Actor, id_: int, blobs: Path, out: Path) -> Report:
    """Decrypts the raw bill data of the actor's utility statement with its key."""
    s = statement(actor, id_)
    if s["origin"] != 3:
        raise ValueError(f"statement {id_} is {ORIGIN_WORDS[s['origin']]}: it has no bill data")
    u = s["utility_data"]
    try:
        ciphertext = BlobStore(blobs).get(u["data_cid"])
    except FileNotFoundError:
        raise ValueError(
            f"the blob folder {blobs} has no {u['data_cid']}: fetch it first"
        ) from None
    try:
        data = bill.decrypt(actor.account.key, ciphertext, bytes.fromhex(u["data_sha256"][2:]))
    except bill.BillDataError as exc:
        raise ValueError(f"statement {id_}: {exc}") from None
    if out.exists():
        raise ValueError(f"{out} exists: give another --out")
    out.write_bytes(data)
    logger.info(
        "decrypted the bill data of statement %d (%s, %s bytes, sha256 as on chain) to %s",
        id_,
        u["data_format"],
        f"{len(data):,}",
        out,
    )
    return Report(statement=id_, out=str(out), bytes=len(data), data_sha256=u["data_sha256"])


def attest(
    actor: Actor, id_: int, note: str, papers: Path | None, papers_cid: str | None, blobs: Path
) -> Report:
    """Attests a statement with a note and the CID of the working papers: a file
    given, a CID given, or (neither) the statement's own figures as JSON."""
    s = statement(actor, id_)
    if papers_cid:
        cid = papers_cid
    else:
        data = _read(papers, "working papers") if papers else bill.working_papers(**_json_safe(s))
        cid = _store(blobs, data)
    actor.send(registry(actor).functions.attest(id_, note, cid))
    logger.info('attested statement %d: "%s", working papers %s', id_, note, cid)
    return Report(statement=id_, note=note, cid=cid)


# COMMANDS


def _appoint_command(what: str):
    return (
        f"appoint (or with --remove, remove) {'a factor publisher' if what == 'publisher' else 'an auditor'}"
        " of a sector on the EmissionsRegistry",
        lambda p: (
            p.add_argument("--sector", type=SECTOR, required=True, help='bidding zone, e.g. "DK1"'),
            p.add_argument(f"--{what}", type=_address, required=True, help="its address"),
            p.add_argument("--remove", action="store_true", help="remove instead of appoint"),
        ),
        lambda a, args: appoint(a, what, args.sector, getattr(args, what), not args.remove),
    )


def _year(text: str) -> int:
    year = _natural(text)
    if not 1970 <= year <= 9999:
        raise argparse.ArgumentTypeError(f"not a year: {text}")
    return year


def _add_bill(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bill", type=Path, required=True, help="the Green Button file (ESPI XML or CSV)"
    )
    parser.add_argument(
        "--timezone",
        help="the utility's IANA time zone, for a CSV's local times (America/New_York)",
    )
    parser.add_argument(
        "--location-factor",
        type=_factor,
        required=True,
        help='grid factor, g CO2e/kWh, e.g. "385.6"',
    )
    parser.add_argument(
        "--market-factor",
        type=_factor,
        required=True,
        help='the utility\'s supplier-specific factor, g CO2e/kWh, e.g. "210"',
    )


COMMANDS = {
    "admin": {
        "appoint-publisher": _appoint_command("publisher"),
        "appoint-auditor": _appoint_command("auditor"),
    },
    "issuing_body": {
        "appoint-publisher": _appoint_command("publisher"),
        "appoint-auditor": _appoint_command("auditor"),
    },
    "publisher": {
        "publish-day": (
            "publish a day's 24 hourly location-based factors of your sector (g CO2e/kWh)",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument(
                    "--day", type=_day, required=True, help="a UTC day, e.g. 2026-06-20"
                ),
                p.add_argument(
                    "--factors",
                    type=_factors,
                    required=True,
                    help="24 factors in g CO2e/kWh, 00:00-01:00 UTC first, separated by spaces "
                    'or ";" (then a comma is a decimal comma: "98,5 101 ...") or by commas '
                    'alone ("98,101,...")',
                ),
                _add_source(p),
            ),
            lambda a, args: publish_day(
                a, args.sector, args.day, args.factors, args.source, _source_cid(args), args.correct
            ),
        ),
        "publish-year": (
            "publish a year's location-based factor or residual mix of your sector (g CO2e/kWh)",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument("--kind", choices=("location", "residual"), required=True),
                p.add_argument("--year", type=_year, required=True),
                p.add_argument(
                    "--factor", type=_factor, required=True, help='g CO2e/kWh, e.g. "98.5"'
                ),
                _add_source(p),
            ),
            lambda a, args: publish_year(
                a,
                args.sector,
                KIND_LOCATION_YEAR if args.kind == "location" else KIND_RESIDUAL_YEAR,
                args.year,
                args.factor,
                args.source,
                _source_cid(args),
                args.correct,
            ),
        ),
        "publish-fuel-factors": (
            "publish a year's factors of non-renewable fuels (AIB EECS codes) in your sector, at "
            "which retired certificates of them count",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument("--year", type=_year, required=True),
                p.add_argument(
                    "--fuel",
                    type=_fuel,
                    action="append",
                    required=True,
                    help="CODE=g/kWh, e.g. F02010100=820.5; repeat for each fuel",
                ),
                _add_source(p),
            ),
            lambda a, args: publish_fuel_factors(
                a,
                args.sector,
                args.year,
                dict(args.fuel),
                args.source,
                _source_cid(args),
                args.correct,
            ),
        ),
    },
    "prosumer": {
        "make-statement": (
            "compute and record your Scope 2 statement of a consumption meter over a period "
            "(744 measurements at most: a month of hours), or over a calendar year (--year: "
            "its months, merged)",
            lambda p: (_add_meter_arguments(p), _add_period(p, "the period", year=True)),
            lambda a, args: (
                make_year_statement(a, _meter_id(args), args.year)
                if args.year
                else make_statement(a, _meter_id(args), *_period(args))
            ),
        ),
        "restate-statement": (
            "compute your statement from meters anew, with the certificates retired since "
            "and the current factors; the new statement supersedes it (unattested)",
            lambda p: p.add_argument(
                "--id", type=_natural, required=True, help="the statement's id"
            ),
            lambda a, args: restate_statement(a, args.id),
        ),
        "merge-statements": (
            "join your consecutive statements of one meter (a year's months) into one",
            lambda p: p.add_argument(
                "--statements",
                type=_natural,
                nargs="+",
                required=True,
                help="their ids, in time order",
            ),
            lambda a, args: merge_statements(a, args.statements),
        ),
        "statement": (
            "show a statement: its figures, factors, utility data and attestations",
            lambda p: p.add_argument(
                "--id", type=_natural, required=True, help="the statement's id"
            ),
            lambda a, args: show_statement(a, args.id),
        ),
        "request-statement": (
            "ask an auditor for a statement from your utility's data over a period, and sign "
            "the request the auditor encrypts your bill data with",
            lambda p: (
                p.add_argument("--auditor", type=_address, required=True),
                p.add_argument("--sector", type=SECTOR, required=True, help='e.g. "DK1"'),
                p.add_argument("--utility", type=SOURCE, required=True, help='e.g. "Con Edison"'),
                _add_period(p, "the period"),
                p.add_argument(
                    "--out",
                    type=Path,
                    required=True,
                    help="where to write the signed request (JSON)",
                ),
            ),
            lambda a, args: request_statement(
                a, args.auditor, args.sector, args.utility, *_period(args), args.out
            ),
        ),
        "decrypt-bill": (
            "decrypt the raw bill data of your utility statement with your account's key",
            lambda p: (
                p.add_argument("--statement", type=_natural, required=True),
                _add_blobs(p),
                p.add_argument("--out", type=Path, required=True, help="where to write the data"),
            ),
            lambda a, args: decrypt_bill(a, args.statement, args.blobs, args.out),
        ),
    },
    "auditor": {
        "requests": (
            "list the statement requests addressed to you that wait for a statement",
            lambda p: None,
            lambda a, args: open_requests(a),
        ),
        "import-bill": (
            "read a Green Button file (ESPI XML or CSV) and compute the statement it gives "
            "for a period; nothing is sent",
            lambda p: (
                _add_bill(p),
                p.add_argument("--utility", type=SOURCE, default="the utility", help="its name"),
                _add_period(p, "the period"),
            ),
            lambda a, args: import_bill(
                a,
                args.bill,
                args.timezone,
                args.utility,
                *_period(args),
                args.location_factor,
                args.market_factor,
            ),
        ),
        "publish-bill-statement": (
            "answer a customer's request: check its signed request, compute the statement from "
            "its Green Button data, encrypt the data to its key and publish",
            lambda p: (
                p.add_argument("--request", type=_natural, required=True, help="the request's id"),
                p.add_argument(
                    "--signed-request",
                    type=Path,
                    required=True,
                    help="the customer's signed request (from `prosumer request-statement`)",
                ),
                _add_bill(p),
                _add_blobs(p),
            ),
            lambda a, args: publish_bill_statement(
                a,
                args.request,
                args.signed_request,
                args.bill,
                args.timezone,
                args.location_factor,
                args.market_factor,
                args.blobs,
            ),
        ),
        "attest": (
            "attest a statement of your sector, with a note and your working papers' content id",
            lambda p: (
                p.add_argument("--statement", type=_natural, required=True),
                p.add_argument("--note", type=NOTE, required=True, help="what you checked"),
                p.add_argument(
                    "--papers",
                    type=Path,
                    help="your working papers (default: the statement's figures)",
                ),
                p.add_argument("--papers-cid", type=_cid, help="their CID, if stored already"),
                _add_blobs(p),
            ),
            lambda a, args: attest(
                a, args.statement, args.note, args.papers, args.papers_cid, args.blobs
            ),
        ),
        "statement": (
            "show a statement: its figures, factors, utility data and attestations",
            lambda p: p.add_argument(
                "--id", type=_natural, required=True, help="the statement's id"
            ),
            lambda a, args: show_statement(a, args.id),
        ),
    },
}

EXAMPLES = {
    ("admin", "appoint-publisher"): "--sector DK1 --publisher 0x…",
    ("admin", "appoint-auditor"): "--sector DK1 --auditor 0x…",
    ("issuing-body", "appoint-publisher"): "--sector DK1 --publisher 0x…",
    ("issuing-body", "appoint-auditor"): "--sector DK1 --auditor 0x…",
    ("publisher", "publish-day"): "--sector DK1 --day 2026-06-20 --factors "
    '"150 148 145 140 130 120 110 100 90 80 70 65 60 62 70 85 100 120 140 155 160 158 155 152" '
    '--source "Energinet environmental declaration 2026" --source-file declaration.csv',
    ("publisher", "publish-year"): "--sector DK1 --kind residual --year 2026 --factor 512.3 "
    '--source "AIB European Residual Mix 2026" --source-file residual-mix.pdf',
    ("publisher", "publish-fuel-factors"): "--sector DK1 --year 2026 --fuel F02010100=820.5 "
    '--source "AIB fuel table 2026" --cid bafkrei…',
    ("prosumer", "make-statement"): "--gsrn 571313115100000006 --salt-file salt --month 2026-06",
    ("prosumer", "restate-statement"): "--id 4",
    ("prosumer", "merge-statements"): "--statements 4 7 9",
    ("prosumer", "statement"): "--id 4",
    ("prosumer", "request-statement"): '--auditor 0x… --sector DK1 --utility "Con Edison" '
    "--month 2026-06 --out request.json",
    ("prosumer", "decrypt-bill"): "--statement 5 --blobs blobs --out bill.xml",
    ("auditor", "requests"): "",
    ("auditor", "import-bill"): "--bill bill.xml --month 2026-06 --location-factor 385.6 "
    "--market-factor 210",
    ("auditor", "publish-bill-statement"): "--request 3 --signed-request request.json "
    "--bill bill.xml --location-factor 385.6 --market-factor 210 --blobs blobs",
    ("auditor", "attest"): '--statement 4 --note "meter data and factors checked"',
    ("auditor", "statement"): "--id 4",
}

ROLE_TITLES = {
    "publisher": "a factor publisher: publishes its sector's emission factors (hourly, yearly, "
    "residual mix, fuels)",
    "auditor": "an auditor: attests Scope 2 statements, and publishes statements from customers' "
    "utility (Green Button) data, encrypted to them",
}

for _role, _commands in COMMANDS.items():
    actions.COMMANDS.setdefault(_role, {}).update(_commands)
actions.ROLE_TITLES.update(ROLE_TITLES)

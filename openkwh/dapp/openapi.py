"""The OpenAPI 3.0 document of /api/v1 (served at /api/v1/openapi.json). Every bound
here is the one the code checks (openkwh/dapp/api.py, openkwh/dapp/market.py)."""

from __future__ import annotations

# The bounds of what the Exchange accepts; the code (openkwh/dapp/api.py) checks the same.
MAX_BEGIN = 2**40 - 1  # an hour's start, unix seconds (the Exchange packs it in 40 bits)
MAX_WH = 2**64 - 1  # an order's Wh
MAX_PRICE = 2**96 - 1  # token base units per Wh
MAX_NOTIFICATION_ID = 2**63 - 1  # the index's row ids
MAX_NOTIFICATIONS = 200  # notifications in one answer
MAX_STANDING_INTERVALS = 24 * 7 * 4  # intervals of one standing order (Auction.MAX_INTERVALS)
MAX_CLEARINGS = 24 * 31  # clearings in one answer: a month of hours

ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$", "example": "0x" + "ab" * 20}
METER = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
OBJECT = {"type": "object"}
ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    "required": ["error"],
}


def _path_param(name: str, schema: dict, text: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": text}


def _query(name: str, schema: dict, text: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": text,
    }


def _get(
    summary: str,
    parameters: list[dict],
    media: str = "application/json",
    conflict: str | None = None,
) -> dict:
    answer = {
        "get": {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        media: {
                            "schema": OBJECT if media == "application/json" else {"type": "string"}
                        }
                    },
                },
                "400": {
                    "description": "bad input",
                    "content": {"application/json": {"schema": ERROR}},
                },
                "404": {
                    "description": "not found",
                    "content": {"application/json": {"schema": ERROR}},
                },
            },
        }
    }
    if conflict:
        answer["get"]["responses"]["409"] = {
            "description": conflict,
            "content": {"application/json": {"schema": ERROR}},
        }
    return answer


def _whole(minimum: int, maximum: int, multiple_of: int | None = None) -> dict:
    schema = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if multiple_of:
        schema["multipleOf"] = multiple_of
    return schema


ACCOUNT = _path_param("account", ADDRESS, "an Ethereum address")
PERIOD = _query(
    "period",
    {"type": "string", "enum": ["hour", "day", "week", "month", "year"]},
    "the chart's bucket",
)
SECTOR = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,16}$", "example": "DK1"}
YEAR = _query(
    "year", _whole(1970, 9999), "only the statements that begin in this UTC year; default all"
)
FACTOR = {"type": "string", "pattern": r"^[0-9]{1,6}(\.[0-9]{1,6})?$"}
FACTORS = [
    _query("location", FACTOR, "override: grid factor, g CO2e/kWh"),
    _query("residual", FACTOR, "override: residual-mix factor, g CO2e/kWh"),
]


def document(server: str, interval: int) -> dict:
    """The document; ``server`` is the configured public URL (never the request's Host),
    ``interval`` the meters' interval in seconds (an hour's start is a multiple of it)."""
    begin = _whole(0, MAX_BEGIN, interval)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "OpenKWh dApp API",
            "version": "1",
            "description": "Read-only: the chain as indexed, and a few live views. Amounts of "
            "energy are integer Wh; token amounts are decimal strings of base units.",
        },
        "servers": [{"url": server}],
        "paths": {
            "/api/v1/status": _get("chain id, indexed block, chain time", []),
            "/api/v1/site": _get("the chain and the contracts' addresses and ABIs", []),
            "/api/v1/accounts/{account}/dashboard": _get(
                "balances, energy per period, trading totals", [ACCOUNT, PERIOD]
            ),
            "/api/v1/accounts/{account}/meters": _get("the account's meters", [ACCOUNT]),
            "/api/v1/meters/{meter}": _get(
                "a meter: registration, last reading, digest and CID",
                [_path_param("meter", METER, "a meter id")],
            ),
            "/api/v1/orderbook": _get(
                "open orders of one delivery hour, or a summary of the open hours",
                [_query("begin", begin, "the hour's start, unix seconds")],
            ),
            "/api/v1/orders/check": _get(
                "checks an offer or bid before the wallet signs it",
                [
                    _query("side", {"type": "string", "enum": ["offer", "bid"]}, "offer or bid"),
                    _query("account", ADDRESS, "the maker", required=True),
                    _query("meter", METER, "the maker's meter", required=True),
                    _query("begin", begin, "the hour's start, unix seconds", required=True),
                    _query("wh", _whole(1, MAX_WH), "energy, Wh", required=True),
                    _query("price", _whole(1, MAX_PRICE), "token base units per Wh", required=True),
                ],
                conflict="valid input the chain refuses now: the hour is past or its market "
                "closed, the meter is another account's, suspended, or cannot take that side",
            ),
            "/api/v1/accounts/{account}/orders": _get("the account's orders", [ACCOUNT]),
            "/api/v1/accounts/{account}/deals": _get("the account's deals", [ACCOUNT]),
            "/api/v1/accounts/{account}/certificates": _get(
                "held, claimable and retired certificates", [ACCOUNT]
            ),
            "/api/v1/accounts/{account}/notifications": _get(
                "what happened to the account (and announcements for everyone), newest first",
                [
                    ACCOUNT,
                    _query(
                        "after",
                        _whole(0, MAX_NOTIFICATION_ID),
                        "only those with a greater id (the last one read); default 0",
                    ),
                    _query(
                        "limit",
                        _whole(1, MAX_NOTIFICATIONS),
                        f"at most this many; default 50, at most {MAX_NOTIFICATIONS}",
                    ),
                ],
            ),
            "/api/v1/tariffs": _get("current and announced tariffs", []),
            "/api/v1/accounts/{account}/standing-orders": _get(
                "the account's standing orders on the Auction, newest first, each with the "
                "intervals it still holds, the first it can still be cancelled from, and its "
                "fill (Wh) and the uniform price in every cleared interval; auction null "
                "where none is deployed",
                [ACCOUNT],
            ),
            "/api/v1/meters/{meter}/forecast": _get(
                "the meter's forecast: Wh per interval of the UTC day, the median of the "
                "same interval over the last days' measurements (export for an offer, import "
                "for a bid); with first, the vector of Wh per interval an 'up to my "
                "forecast' order fixes, and the standing orders that place it",
                [
                    _path_param("meter", METER, "a meter id"),
                    _query("side", {"type": "string", "enum": ["offer", "bid"]}, "offer or bid"),
                    _query("days", _whole(1, 90), "days of history; default 14"),
                    _query("first", begin, "the first interval's start, unix seconds"),
                    _query(
                        "intervals",
                        _whole(1, MAX_STANDING_INTERVALS),
                        "intervals of the vector from first; default 24",
                    ),
                ],
                conflict="the meter has no measurement in the window: no forecast",
            ),
            "/api/v1/auction/clearings": _get(
                "the Auction's uniform clearing price (token base units per Wh) and volumes "
                "of each cleared interval, oldest first: the latest ones, or those from "
                "'from' on",
                [
                    _query("from", begin, "the first interval's start, unix seconds"),
                    _query(
                        "intervals",
                        _whole(1, MAX_CLEARINGS),
                        f"at most this many; default 48, at most {MAX_CLEARINGS}",
                    ),
                ],
            ),
            "/api/v1/accounts/{account}/emissions": _get(
                "Scope 2, location- and market-based, hourly-matched share",
                [ACCOUNT, *FACTORS],
            ),
            "/api/v1/accounts/{account}/emissions.csv": _get(
                "the same, hour by hour, as CSV", [ACCOUNT, *FACTORS], media="text/csv"
            ),
            "/api/v1/accounts/{account}/statements": _get(
                "the account's Scope 2 statements on chain (EmissionsRegistry), each with its "
                "attestations and the factor publications it used; the periods it can have a "
                "statement of now; the runs of statements it can merge; its requests to "
                "auditors; the auditors. Wh and g are "
                "decimal strings, exact",
                [ACCOUNT],
            ),
            "/api/v1/sectors/{sector}/factors": _get(
                "a sector's factor publications, newest first, superseded ones too "
                "(mg CO2e/kWh as decimal strings)",
                [_path_param("sector", SECTOR, "a sector, e.g. DK1")],
            ),
            "/api/v1/accounts/{account}/scope2-report.csv": _get(
                "GHG Protocol Scope 2 dual reporting of the live statements: location- and "
                "market-based side by side, integer g CO2e, as CSV",
                [ACCOUNT, YEAR],
                media="text/csv",
            ),
            "/api/v1/accounts/{account}/scope2-report.pdf": _get(
                "the same report as PDF", [ACCOUNT, YEAR], media="application/pdf"
            ),
        },
    }

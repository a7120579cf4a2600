"""The OpenAPI 3.0 document of /api/v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$", "example": "0x" + "ab" * 20}
METER = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
WHOLE = {"type": "string", "pattern": "^[0-9]{1,78}$", "description": "a whole number"}
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


def _get(summary: str, parameters: list[dict], media: str = "application/json") -> dict:
    return {
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


ACCOUNT = _path_param("account", ADDRESS, "an Ethereum address")
PERIOD = _query(
    "period",
    {"type": "string", "enum": ["hour", "day", "week", "month", "year"]},
    "the chart's bucket",
)
FACTORS = [
    _query("location", {"type": "string"}, "override: grid factor, g CO2e/kWh"),
    _query("residual", {"type": "string"}, "override: residual-mix factor, g CO2e/kWh"),
]


def document(server: str) -> dict:
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
                [_query("begin", WHOLE, "the hour's start, unix seconds")],
            ),
            "/api/v1/orders/check": _get(
                "checks an offer or bid before the wallet signs it",
                [
                    _query("side", {"type": "string", "enum": ["offer", "bid"]}, "offer or bid"),
                    _query("account", ADDRESS, "the maker", required=True),
                    _query("meter", METER, "the maker's meter", required=True),
                    _query("begin", WHOLE, "the hour's start, unix seconds", required=True),
                    _query("wh", WHOLE, "energy, Wh", required=True),
                    _query("price", WHOLE, "token base units per Wh", required=True),
                ],
            ),
            "/api/v1/accounts/{account}/orders": _get("the account's orders", [ACCOUNT]),
            "/api/v1/accounts/{account}/deals": _get("the account's deals", [ACCOUNT]),
            "/api/v1/accounts/{account}/certificates": _get(
                "held, claimable and retired certificates", [ACCOUNT]
            ),
            "/api/v1/tariffs": _get("current and announced tariffs", []),
            "/api/v1/accounts/{account}/emissions": _get(
                "Scope 2, location- and market-based, hourly-matched share",
                [ACCOUNT, *FACTORS],
            ),
            "/api/v1/accounts/{account}/emissions.csv": _get(
                "the same, hour by hour, as CSV", [ACCOUNT, *FACTORS], media="text/csv"
            ),
        },
    }

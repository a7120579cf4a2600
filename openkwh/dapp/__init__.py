"""The OpenKWh dApp: prosumers see their meters, trade future hours, hold and
retire certificates, and read their emissions. The server only reads (the
index and a few views); every write is signed in the user's browser wallet."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

PACKAGE = Path(__file__).resolve().parent

# Scripts only from the app's own bundle, nothing inline; never inside another site's
# frame (a page that asks the wallet to sign must not be clickjacked). The wallet is a
# browser extension: its calls to the node are not the page's connections.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    # An account's answers are its own: no shared cache, and no copy left on the device.
    # The rest is live chain data: a cache must ask again every time.
    per_account = request.path.startswith("/api/v1/accounts/") or request.path.startswith(
        "/api/v1/orders/"
    )
    if per_account:
        headers["Cache-Control"] = "no-store"
    elif request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-cache")
    return response


def create_app(test_config: dict | None = None) -> Flask:
    """The app factory. Configuration comes from the environment:

    OPENKWH_RPC_URL          the node to read views from (default http://127.0.0.1:8545)
    OPENKWH_DEPLOYMENTS      the deployments file written by `make deploy`
    OPENKWH_DATABASE         the index the indexer writes (SQLite)
    OPENKWH_FACTORS          the emission factors CSV (default openkwh/dapp/data/emission_factors.csv)
    OPENKWH_PUBLIC_RPC_URL   the RPC URL a browser wallet should add (default: the RPC URL)
    OPENKWH_PUBLIC_URL       the dApp's own URL, the API document's server (default "/":
                             relative to wherever the document was fetched from)
    """
    app = Flask(__name__)
    app.config.from_mapping(
        RPC_URL=os.environ.get("OPENKWH_RPC_URL", "http://127.0.0.1:8545"),
        DEPLOYMENTS=os.environ.get("OPENKWH_DEPLOYMENTS", "deployments/anvil.json"),
        DATABASE=os.environ.get("OPENKWH_DATABASE", "out/dapp-index.sqlite"),
        FACTORS=os.environ.get("OPENKWH_FACTORS", str(PACKAGE / "data" / "emission_factors.csv")),
        PUBLIC_RPC_URL=os.environ.get("OPENKWH_PUBLIC_RPC_URL", ""),
        PUBLIC_URL=os.environ.get("OPENKWH_PUBLIC_URL", "/"),
        JSON_SORT_KEYS=False,
    )
    if test_config is not None:
        app.config.update(test_config)
    app.config["PUBLIC_RPC_URL"] = app.config["PUBLIC_RPC_URL"] or app.config["RPC_URL"]

    from openkwh.dapp import (
        api,
        certificates,
        chain,
        dashboard,
        emissions,
        market,
        meters,
        notifications,
        operator,
        standing,
        statements,
    )

    chain.init_app(app)
    for module in (
        api,
        dashboard,
        meters,
        market,
        standing,
        certificates,
        operator,
        emissions,
        statements,
        notifications,
    ):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            response = jsonify(error=error.description, status=error.code)
            response.status_code = error.code
            for name, value in error.get_headers():  # e.g. Allow on a 405
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        return error

    @app.get("/favicon.ico")
    def favicon():
        return send_from_directory(PACKAGE / "static", "favicon.svg", mimetype="image/svg+xml")

    app.after_request(security_headers)

    return app

"""The OpenKWh dApp: prosumers see their meters, trade future hours, hold and
retire certificates, and read their emissions. The server only reads (the
index and a few views); every write is signed in the user's browser wallet."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

PACKAGE = Path(__file__).resolve().parent


def create_app(test_config: dict | None = None) -> Flask:
    """The app factory. Configuration comes from the environment:

    OPENKWH_RPC_URL          the node to read views from (default http://127.0.0.1:8545)
    OPENKWH_DEPLOYMENTS      the deployments file written by `make deploy`
    OPENKWH_DATABASE         the index the indexer writes (SQLite)
    OPENKWH_FACTORS          the emission factors CSV (default dapp/data/emission_factors.csv)
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

    from dapp import api, certificates, chain, dashboard, emissions, market, meters, operator

    chain.init_app(app)
    for module in (api, dashboard, meters, market, certificates, operator, emissions):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(error=error.description, status=error.code), error.code
        return error

    return app

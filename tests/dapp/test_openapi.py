"""schemathesis against the OpenAPI document: generated requests, valid and
invalid, to every route, with every check schemathesis has (not only "no server
error": valid input accepted, invalid input refused, answers as documented, 405s
with Allow, ...); none may fail.

schemathesis's own pytest plugin does not load under pytest 9, so each
operation's hypothesis strategy is driven here directly.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks

from openkwh.dapp.openapi import document
from openkwh.devtools.anvil import run_anvil
from tests.dapp.conftest import add_auction, build_world

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The community with the Auction's standing orders, so the auction's routes answer
    from an index that has them (without an Auction they answer auction: null)."""
    with run_anvil() as node:
        world = build_world(node.url, tmp_path_factory.mktemp("world"))
        add_auction(world)
        world.index()
        yield world


load_all_checks()
EVERY_CHECK = CHECKS.get_all()
PATHS = list(document("", 3_600)["paths"])
# Invalid input only exists where there is input.
CASES = [(path, schemathesis.GenerationMode.POSITIVE) for path in PATHS] + [
    (path, schemathesis.GenerationMode.NEGATIVE)
    for path, item in document("", 3_600)["paths"].items()
    if item["get"]["parameters"]
]


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def test_every_check_is_run():
    names = {check.__name__ for check in EVERY_CHECK}
    assert {"not_a_server_error", "positive_data_acceptance", "negative_data_rejection"} <= names
    assert {"response_schema_conformance", "status_code_conformance"} <= names
    assert len(names) >= 14


def test_the_document_is_valid_openapi_and_lists_every_api_route(api_schema, app):
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
    }
    assert routes == set(PATHS)
    assert len(list(api_schema.get_all_operations())) == len(PATHS)


@pytest.mark.parametrize(("path", "mode"), CASES)
def test_every_check_passes_on_generated_requests(api_schema, path, mode):
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def run(case):
        case.call_and_validate(checks=EVERY_CHECK)

    run()


def test_the_document_names_the_configured_server_never_the_request_host(app, client):
    document = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert document["servers"] == [{"url": app.config["PUBLIC_URL"]}]
    assert "evil" not in str(document)


def test_every_bound_the_code_checks_is_in_the_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    check = {p["name"]: p["schema"] for p in paths["/api/v1/orders/check"]["get"]["parameters"]}
    assert check["begin"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**40 - 1,
        "multipleOf": 3_600,
    }
    assert check["wh"]["minimum"] == 1
    assert check["wh"]["maximum"] == 2**64 - 1
    assert check["price"]["maximum"] == 2**96 - 1
    emissions = paths["/api/v1/accounts/{account}/emissions"]["get"]["parameters"]
    assert all("pattern" in p["schema"] for p in emissions if p["in"] == "query")

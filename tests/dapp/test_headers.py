"""The headers every answer carries: a strict Content-Security-Policy (scripts only
from the app's own bundle, never framed), nosniff, a referrer policy, no-store on
an account's own answers; a favicon; 405s that say what is allowed."""

import re

import pytest

pytestmark = pytest.mark.anvil

PAGES = ["/", "/meters", "/market", "/certificates", "/operator", "/emissions"]
PUBLIC_API = ["/api/v1/status", "/api/v1/site", "/api/v1/openapi.json", "/api/v1/orderbook"]


def account_routes(world) -> list[str]:
    ben = world.ben.address
    return [
        f"/api/v1/accounts/{ben}/{name}"
        for name in ("dashboard", "meters", "orders", "deals", "certificates", "emissions")
    ] + [f"/api/v1/accounts/{ben}/emissions.csv", f"/api/v1/accounts/{ben}/nothing"]


def policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.parametrize("path", [*PAGES, *PUBLIC_API, "/nowhere", "/api/v1/nowhere"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = policy(response)
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no host
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_scripts_only_from_the_bundle(client, path):
    html = client.get(path).get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    for attributes, body in scripts:
        assert body.strip() == ""  # nothing inline
        (source,) = re.findall(r'src="([^"]+)"', attributes)
        assert source == "/static/build/app.js"
    assert not re.search(r"<[^>]*\son[a-z]+=", html, flags=re.I)  # no onclick= handlers either
    assert "style=" not in html


def test_an_accounts_answers_are_never_stored(client, world):
    for path in account_routes(world):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
    query = f"side=offer&account={world.anna.address}&meter=0x{world.solar.hex()}"
    check = client.get(f"/api/v1/orders/check?{query}&begin=0&wh=1&price=1")
    assert check.headers["Cache-Control"] == "no-store"
    for path in PUBLIC_API:
        assert client.get(path).headers["Cache-Control"] == "no-cache", path


def test_a_favicon_answers_on_every_page(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).startswith("<svg")
    for path in PAGES:
        html = client.get(path).get_data(as_text=True)
        (link,) = re.findall(r'<link rel="icon" href="([^"]+)"', html)
        assert client.get(link).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/status", "/api/v1/orderbook", "/market", "/"])
@pytest.mark.parametrize("method", ["TRACE", "POST", "DELETE"])
def test_a_method_not_allowed_says_which_are(client, path, method):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    if path.startswith("/api/"):
        assert response.get_json()["status"] == 405

"""CORS for the API (only the configured origins and the service's own get a grant) and the per-client rate limit
on asking, through Flask's test client.

Rate-limit tests send empty questions: they are refused with a 400 after being counted, so the limit is exercised
without running the pipeline for every request.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.app import create_app
from service.web.security import LIMITER_KEY, RateLimiter, normalize_origin

ALLOWED = "https://news.example.org"
EVIL = "https://evil.example.net"


@pytest.fixture(scope="module")
def app(config, qa):
    return create_app(replace(config, allowed_origins=(ALLOWED + ":443",), rate_limit=0), qa=qa)


@pytest.fixture()
def client(app):
    return app.test_client()


def preflight(client, origin, method="POST", headers="content-type", path="/api/v1/ask/stream"):
    return client.options(
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


# --- CORS -----------------------------------------------------------------------------------------------------


def test_a_disallowed_origin_gets_no_grant(client):
    response = client.get("/api/v1/suggestions", headers={"Origin": EVIL})
    assert response.status_code == 200  # answered, but the browser will not let the page read it
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


def test_a_disallowed_origin_fails_its_preflight(client):
    response = preflight(client, EVIL)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "origin_not_allowed"
    assert not any(h.startswith("Access-Control-Allow") for h in response.headers.keys())


def test_an_allowed_origin_passes_its_preflight(client):
    response = preflight(client, ALLOWED)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED  # the default port in the config is ignored
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("method, headers", [("DELETE", "content-type"), ("POST", "content-type, authorization")])
def test_a_preflight_asking_for_more_than_the_widget_needs_is_refused(client, method, headers):
    response = preflight(client, ALLOWED, method=method, headers=headers)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_allowed_origin_can_read_answers_and_errors(client):
    answered = client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}, headers={"Origin": ALLOWED})
    assert answered.status_code == 200 and "India" in answered.get_json()["answer"]
    refused = client.post("/api/v1/ask", json={"question": " "}, headers={"Origin": ALLOWED})
    assert refused.status_code == 400
    for response in (answered, refused):
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]


def test_the_service_own_origin_is_allowed_as_published_never_as_requested(config, qa):
    client = create_app(replace(config, public_url="https://bqa.example.org/"), qa=qa).test_client()
    response = preflight(client, "https://bqa.example.org")
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "https://bqa.example.org"
    # The request's own Host (the test client's "localhost") is whatever the client says: no grant from it.
    assert preflight(client, "http://localhost").status_code == 403
    assert preflight(client, EVIL).status_code == 403


def test_pages_and_widget_files_carry_no_cors_grant(client):
    for path in ("/healthz", "/widget.js", "/bulletins/unoct-highlights-2021-03"):
        response = client.get(path, headers={"Origin": ALLOWED})
        assert "Access-Control-Allow-Origin" not in response.headers, path


@pytest.mark.parametrize(
    "value, normalized",
    [
        ("https://Example.org:443/", "https://example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("ftp://example.org", None),
        ("http://example.org:99999", None),
    ],
)
def test_origins_are_compared_as_browsers_send_them(value, normalized):
    assert normalize_origin(value) == normalized


# --- rate limit -----------------------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def limited(config, qa):
    """An app allowing 2 questions a minute, on a clock the test moves."""
    app = create_app(replace(config, allowed_origins=(ALLOWED,), rate_limit=2), qa=qa)
    clock = Clock()
    app.extensions[LIMITER_KEY] = RateLimiter(2, clock=clock)
    return app, clock


def empty_question(client, path="/api/v1/ask", address="127.0.0.1", origin=None):
    headers = {"Origin": origin} if origin else {}
    return client.post(path, json={"question": ""}, headers=headers, environ_base={"REMOTE_ADDR": address})


def test_the_limit_answers_429_with_retry_after(limited):
    app, clock = limited
    client = app.test_client()
    assert empty_question(client).status_code == 400
    clock.now += 10
    assert empty_question(client, "/api/v1/ask/stream").status_code == 400  # both ask endpoints share the budget
    clock.now += 5
    response = empty_question(client, origin=ALLOWED)
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "45"  # the first question leaves the window 60 s after it was asked
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED  # so the widget can read why
    assert empty_question(client, "/api/v1/ask/stream").status_code == 429


def test_the_window_slides(limited):
    app, clock = limited
    client = app.test_client()
    empty_question(client)
    clock.now += 30
    empty_question(client)
    clock.now += 30  # the first question is now a minute old: one more is allowed, then the limit is back
    assert empty_question(client).status_code == 400
    assert empty_question(client).status_code == 429
    clock.now += 30
    assert empty_question(client).status_code == 400


def test_clients_have_separate_budgets_and_other_endpoints_are_not_limited(limited):
    app, _ = limited
    client = app.test_client()
    for _ in range(2):
        empty_question(client, address="10.0.0.1")
    assert empty_question(client, address="10.0.0.1").status_code == 429
    assert empty_question(client, address="10.0.0.2").status_code == 400
    assert client.get("/api/v1/bulletins", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    assert preflight(client, ALLOWED).status_code == 204  # preflights are never counted or limited


def test_rate_limit_zero_turns_it_off(client):
    assert all(empty_question(client).status_code == 400 for _ in range(70))


def test_the_limiter_forgets_idle_clients():
    clock = Clock()
    limiter = RateLimiter(1, window=60, clock=clock)
    for address in ("a", "b", "c"):
        assert limiter.hit(address) == 0
    assert limiter.hit("a") == 60
    clock.now += 61
    assert limiter.hit("d") == 0  # the sweep after a window drops a, b and c
    assert set(limiter._hits) == {"d"}

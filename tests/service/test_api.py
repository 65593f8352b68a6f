"""The JSON API over the indexed seed corpus: the ask contract, its validation, browsing, and the error shape.

Everything runs against the real pipeline (the session `qa` fixture: real Chroma, real embeddings) through Flask's
test client; nothing is mocked. Timings are never asserted on.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from flask import Request
from flask.testing import EnvironBuilder
from markupsafe import escape

from tests.conftest import DEPLOYMENTS, on_each_store
from service import admin, api
from service.app import create_app
from service.db.base import RATINGS, SQL_MAX_INT
from service.db.sqlite import SQLiteDatabase
from service.web.errors import APIError
from service.pipeline import BulletinQA

qa = pytest.fixture(scope="module", params=DEPLOYMENTS, name="qa")(on_each_store)

CT_TRAVEL = "Who funded CT Travel in March?"
UNANSWERABLE = "What is the boiling point of water at sea level?"
BULLETIN = "unoct-highlights-2021-03"


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/v1/openapi.json").get_json()


def conforms(spec: dict, schema_name: str, instance) -> None:
    """Validate `instance` against a schema of the served OpenAPI document (OpenAPI 3.1 = JSON Schema 2020-12)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(instance), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def ask(client, **body):
    return client.post("/api/v1/ask", json=body)


# --- the ask contract -----------------------------------------------------------------------------------------


def test_ask_answers_with_a_citation_whose_url_opens_the_paragraph(client, spec):
    response = ask(client, question=CT_TRAVEL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    conforms(spec, "AskResponse", data)
    assert data["answerable"] is True
    assert "India" in data["answer"]
    assert data["resolved_question"] == CT_TRAVEL
    assert data["answerer"] == "extractive"
    assert set(data["timing_ms"]) == {"retrieve", "answer", "total"}

    cited = [c for c in data["citations"] if "India ($500,000)" in c["quote"] and "India ($500,000)" in c["text"]]
    assert cited, data["citations"]
    citation = cited[0]
    assert citation["bulletin_id"] == BULLETIN
    assert citation["url"].endswith("#" + citation["paragraph_id"])
    url = urlsplit(citation["url"])
    assert (url.scheme, url.netloc) == ("http", "localhost")  # absolute, on the request's host
    assert url.path == f"/bulletins/{BULLETIN}"
    assert url.fragment == citation["paragraph_id"]
    assert url.query == f"hl={span(citation)}"  # the quoted span, which the source view highlights

    page = client.get(url.path)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert f'id="{citation["paragraph_id"]}"' in html
    assert str(escape(citation["text"])) in html


def test_unanswerable_question_is_not_answered(client, spec):
    response = ask(client, question=UNANSWERABLE)
    assert response.status_code == 200
    data = response.get_json()
    conforms(spec, "AskResponse", data)
    assert data["answerable"] is False


def test_question_is_stripped_and_accepted_up_to_the_limit(client, config):
    response = ask(client, question=f"  \n{CT_TRAVEL}\t ")
    assert response.status_code == 200
    assert response.get_json()["resolved_question"] == CT_TRAVEL

    longest = ("funding of travel " * 200)[: config.max_question_chars]
    assert len(longest) == config.max_question_chars and longest == longest.strip()
    assert ask(client, question=longest).status_code == 200


@pytest.mark.parametrize("top_k", [1, 20, None])
def test_top_k_bounds_and_null_are_accepted(client, top_k):
    response = ask(client, question=CT_TRAVEL, top_k=top_k)
    assert response.status_code == 200
    assert len(response.get_json()["citations"]) <= (top_k or 20)


def test_conversation_continues_and_can_be_read_back(client, spec):
    first = ask(client, question=CT_TRAVEL).get_json()
    conversation_id = first["conversation_id"]
    assert isinstance(conversation_id, str) and conversation_id

    second = ask(client, question=UNANSWERABLE, conversation_id=conversation_id)
    assert second.status_code == 200
    assert second.get_json()["conversation_id"] == conversation_id

    response = client.get(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200
    data = response.get_json()
    conforms(spec, "Conversation", data)
    assert data["conversation_id"] == conversation_id
    assert [t["question"] for t in data["turns"]] == [CT_TRAVEL, UNANSWERABLE]
    assert [t["n"] for t in data["turns"]] == [1, 2]
    assert [t["answerable"] for t in data["turns"]] == [True, False]


def test_follow_up_is_answered_in_its_conversation(client):
    conversation_id = ask(client, question=CT_TRAVEL).get_json()["conversation_id"]
    follow_up = ask(client, question="How much did they give?", conversation_id=conversation_id).get_json()
    assert follow_up["conversation_id"] == conversation_id
    assert follow_up["answerable"] is True
    assert "500,000" in follow_up["answer"]


def test_null_conversation_id_starts_a_new_conversation(client):
    first = ask(client, question=CT_TRAVEL).get_json()
    second = ask(client, question=CT_TRAVEL, conversation_id=None)
    assert second.status_code == 200
    assert second.get_json()["conversation_id"] != first["conversation_id"]


def test_unknown_conversation_is_404(client):
    assert_error(ask(client, question=CT_TRAVEL, conversation_id="no-such-conversation"), 404, "conversation_not_found")
    assert_error(client.get("/api/v1/conversations/no-such-conversation"), 404, "conversation_not_found")


def test_expired_conversation_is_404(config, qa, tmp_path):
    """A conversation idle for longer than the TTL is gone, for asking and for reading back."""
    expiring = BulletinQA(config, qa.store, SQLiteDatabase(tmp_path / "history.sqlite3", ttl_seconds=-1))
    client = create_app(config, qa=expiring).test_client()
    conversation_id = expiring.db.start_conversation()
    assert_error(ask(client, question=CT_TRAVEL, conversation_id=conversation_id), 404, "conversation_not_found")
    assert_error(client.get(f"/api/v1/conversations/{conversation_id}"), 404, "conversation_not_found")


# --- filters --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "answerable"),
    [
        ({"bulletin_ids": ["no-such-bulletin"]}, False),
        ({"bulletin_ids": [BULLETIN]}, True),
        ({"bulletin_ids": ["no-such-bulletin", BULLETIN]}, True),
        ({"period_from": "2021-03", "period_to": "2021-03"}, True),
        ({"period_from": "2021-01", "period_to": "2021-06"}, True),
        ({"period_from": "2021-04"}, False),
        ({"period_to": "2021-02"}, False),
        ({"period_from": "2020-01", "period_to": "2020-12"}, False),
        ({}, True),
        (None, True),
    ],
)
def test_filters_restrict_what_can_answer(client, filters, answerable):
    response = ask(client, question=CT_TRAVEL, filters=filters)
    assert response.status_code == 200
    data = response.get_json()
    assert data["answerable"] is answerable
    if not answerable:
        assert not any("India ($500,000)" in c["quote"] for c in data["citations"])


# --- validation: every refusal is a JSON error with its own code ----------------------------------------------

JSON = "application/json"
TOO_BIG = 64 * 1024 + 1

ERROR_CASES = [
    # (id, keyword arguments of client.post, status, code)
    ("text-plain", {"data": '{"question": "Who?"}', "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ("no-content-type", {"data": '{"question": "Who?"}'}, 415, "unsupported_media_type"),
    ("form", {"data": {"question": "Who?"}}, 415, "unsupported_media_type"),
    ("json-suffix", {"data": '{"question": "Who?"}', "content_type": "application/problem+json"}, 415, "unsupported_media_type"),
    ("truncated-json", {"data": '{"question": ', "content_type": JSON}, 400, "invalid_json"),
    ("empty-body", {"data": b"", "content_type": JSON}, 400, "invalid_json"),
    ("not-utf8", {"data": b'{"question": "\xff\xfe"}', "content_type": JSON}, 400, "invalid_json"),
    ("single-quotes", {"data": "{'question': 'Who?'}", "content_type": JSON}, 400, "invalid_json"),
    ("deeply-nested", {"data": "[" * 50_000, "content_type": JSON}, 400, "invalid_json"),
    ("array", {"json": ["Who funded CT Travel in March?"]}, 400, "invalid_body"),
    ("string", {"json": "Who funded CT Travel in March?"}, 400, "invalid_body"),
    ("null", {"data": "null", "content_type": JSON}, 400, "invalid_body"),
    ("unknown-key", {"json": {"question": CT_TRAVEL, "colour": "red"}}, 400, "unknown_field"),
    ("misspelt-key", {"json": {"questions": CT_TRAVEL}}, 400, "unknown_field"),
    ("missing-question", {"json": {}}, 400, "missing_question"),
    ("empty-question", {"json": {"question": ""}}, 400, "missing_question"),
    ("blank-question", {"json": {"question": " \n\t "}}, 400, "missing_question"),
    ("numeric-question", {"json": {"question": 42}}, 400, "invalid_question"),
    ("null-question", {"json": {"question": None}}, 400, "invalid_question"),
    ("list-question", {"json": {"question": [CT_TRAVEL]}}, 400, "invalid_question"),
    ("long-question", {"json": {"question": "a" * 2001}}, 400, "question_too_long"),
    ("body-too-large", {"json": {"question": "a" * TOO_BIG}}, 413, "payload_too_large"),
    ("body-too-large-not-json", {"data": "a" * TOO_BIG, "content_type": JSON}, 413, "payload_too_large"),
    ("top-k-zero", {"json": {"question": CT_TRAVEL, "top_k": 0}}, 400, "invalid_top_k"),
    ("top-k-21", {"json": {"question": CT_TRAVEL, "top_k": 21}}, 400, "invalid_top_k"),
    ("top-k-negative", {"json": {"question": CT_TRAVEL, "top_k": -1}}, 400, "invalid_top_k"),
    ("top-k-string", {"json": {"question": CT_TRAVEL, "top_k": "5"}}, 400, "invalid_top_k"),
    ("top-k-float", {"json": {"question": CT_TRAVEL, "top_k": 5.0}}, 400, "invalid_top_k"),
    ("top-k-true", {"json": {"question": CT_TRAVEL, "top_k": True}}, 400, "invalid_top_k"),
    ("top-k-false", {"json": {"question": CT_TRAVEL, "top_k": False}}, 400, "invalid_top_k"),
    ("filters-not-object", {"json": {"question": CT_TRAVEL, "filters": "2021"}}, 400, "invalid_filters"),
    ("filters-unknown-key", {"json": {"question": CT_TRAVEL, "filters": {"year": 2021}}}, 400, "invalid_filters"),
    ("filters-ids-string", {"json": {"question": CT_TRAVEL, "filters": {"bulletin_ids": BULLETIN}}}, 400, "invalid_filters"),
    ("filters-ids-empty-id", {"json": {"question": CT_TRAVEL, "filters": {"bulletin_ids": [""]}}}, 400, "invalid_filters"),
    ("filters-bad-month", {"json": {"question": CT_TRAVEL, "filters": {"period_from": "2021-13"}}}, 400, "invalid_filters"),
    ("filters-month-name", {"json": {"question": CT_TRAVEL, "filters": {"period_to": "March 2021"}}}, 400, "invalid_filters"),
    ("conversation-number", {"json": {"question": CT_TRAVEL, "conversation_id": 123}}, 400, "invalid_conversation_id"),
    ("conversation-list", {"json": {"question": CT_TRAVEL, "conversation_id": ["x"]}}, 400, "invalid_conversation_id"),
    ("conversation-bool", {"json": {"question": CT_TRAVEL, "conversation_id": True}}, 400, "invalid_conversation_id"),
    ("conversation-unknown", {"json": {"question": CT_TRAVEL, "conversation_id": "nope"}}, 404, "conversation_not_found"),
]


@pytest.mark.parametrize(("post", "status", "code"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_ask_rejects_bad_requests_with_json_errors(client, spec, post, status, code):
    response = client.post("/api/v1/ask", **post)
    assert_error(response, status, code)
    conforms(spec, "Error", response.get_json())


def post_chunked(app, client, body: bytes):
    """POST `body` as a chunked request would arrive: no Content-Length, the server terminating the stream.

    Werkzeug's test client always computes a Content-Length, so the environ is built and the header taken out."""
    environ = EnvironBuilder(
        app,
        "/api/v1/ask",
        method="POST",
        input_stream=io.BytesIO(body),
        content_type=JSON,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    return client.open(Request(environ))


def test_body_too_large_without_content_length_is_413(app, client):
    """Werkzeug enforces MAX_CONTENT_LENGTH while reading a body of unknown length."""
    response = post_chunked(app, client, json.dumps({"question": "a" * TOO_BIG}).encode())
    assert "CONTENT_LENGTH" not in response.request.environ
    assert_error(response, 413, "payload_too_large")


def test_chunked_body_within_the_limit_is_read(app, client):
    response = post_chunked(app, client, json.dumps({"question": CT_TRAVEL}).encode())
    assert "CONTENT_LENGTH" not in response.request.environ
    assert response.status_code == 200
    assert response.get_json()["answerable"] is True


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/ask", 405, "method_not_allowed"),
        ("PUT", "/api/v1/ask", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/bulletins", 405, "method_not_allowed"),
        ("POST", "/api/v1/conversations/abc", 405, "method_not_allowed"),
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("GET", "/api/v2/ask", 404, "not_found"),
        ("GET", "/api", 404, "not_found"),
        ("GET", "/api/", 404, "not_found"),
        ("GET", "/api/v1/bulletins/no-such-bulletin", 404, "bulletin_not_found"),
        ("GET", "/api/v1/conversations/no-such-conversation", 404, "conversation_not_found"),
    ],
)
def test_routing_errors_under_api_are_json(client, method, path, status, code):
    assert_error(client.open(path, method=method), status, code)


def test_405_says_which_methods_are_allowed(client):
    response = client.get("/api/v1/ask")
    assert "POST" in response.headers["Allow"]


def test_unexpected_exception_is_a_logged_json_500_without_a_trace(config, qa, caplog):
    app = create_app(config, qa=qa)

    @app.get("/api/v1/explode")
    def explode():
        raise RuntimeError("secret internals /etc/passwd")

    @app.get("/api/v1/refuse")
    def refuse():
        raise APIError(409, "conflict_for_test", "Refused on purpose.")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/v1/explode")
    assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)

    assert_error(app.test_client().get("/api/v1/refuse"), 409, "conflict_for_test")


# --- citation URLs --------------------------------------------------------------------------------------------


def span(citation: dict) -> str:
    """The `hl` a citation URL carries: its paragraph and where the quote is in the paragraph's text."""
    start = citation["text"].index(citation["quote"])
    return f"{citation['paragraph_id']}:{start}-{start + len(citation['quote'])}"


def test_citation_urls_use_public_url_when_configured(config, qa):
    client = create_app(replace(config, public_url="https://bqa.example.org/qa"), qa=qa).test_client()
    citation = client.post("/api/v1/ask", json={"question": CT_TRAVEL}).get_json()["citations"][0]
    assert citation["url"] == f"https://bqa.example.org/qa/bulletins/{BULLETIN}?hl={span(citation)}#{citation['paragraph_id']}"
    # Mounted under a script root that the public URL already names, the root is not repeated.
    citation = client.post("/api/v1/ask", json={"question": CT_TRAVEL}, base_url="http://internal:8000/qa").get_json()[
        "citations"
    ][0]
    assert citation["url"] == f"https://bqa.example.org/qa/bulletins/{BULLETIN}?hl={span(citation)}#{citation['paragraph_id']}"
    listed = client.get("/api/v1/bulletins").get_json()["bulletins"][0]
    assert listed["url"] == f"https://bqa.example.org/qa/bulletins/{BULLETIN}"


def test_citation_urls_follow_the_request_host_and_script_root(client):
    data = client.post("/api/v1/ask", json={"question": CT_TRAVEL}, base_url="https://host.example:8443/bqa").get_json()
    citation = data["citations"][0]
    assert citation["url"] == f"https://host.example:8443/bqa/bulletins/{BULLETIN}?hl={span(citation)}#{citation['paragraph_id']}"


# --- browsing -------------------------------------------------------------------------------------------------


def test_bulletin_list(client, spec, qa):
    response = client.get("/api/v1/bulletins")
    assert response.status_code == 200
    data = response.get_json()
    conforms(spec, "BulletinList", data)
    corpus = qa.corpus()
    assert [b["id"] for b in data["bulletins"]] == list(corpus.bulletins)
    entry = data["bulletins"][0]
    assert entry["id"] == BULLETIN
    assert entry["title"] == corpus.bulletins[BULLETIN]["title"]
    assert entry["period"] == "March 2021"
    assert entry["sections"] == len(corpus.bulletins[BULLETIN]["sections"])
    assert entry["paragraphs"] == len(corpus.paragraphs)
    assert entry["url"] == f"http://localhost/bulletins/{BULLETIN}"


def test_bulletin_detail(client, spec, qa):
    response = client.get(f"/api/v1/bulletins/{BULLETIN}")
    assert response.status_code == 200
    data = response.get_json()
    conforms(spec, "Bulletin", data)
    corpus = qa.corpus()
    assert (data["id"], data["period"]) == (BULLETIN, "March 2021")
    assert data["url"] == f"http://localhost/bulletins/{BULLETIN}"
    assert [s["title"] for s in data["sections"]] == [title for title, _ in corpus.bulletins[BULLETIN]["sections"]]
    paragraphs = [p for s in data["sections"] for p in s["paragraphs"]]
    assert [p["id"] for p in paragraphs] == corpus.order
    india = next(p for p in paragraphs if "India ($500,000)" in p["text"])
    assert india["url"] == f"http://localhost/bulletins/{BULLETIN}#{india['id']}"
    assert all(s["paragraphs"][0]["n"] == 1 for s in data["sections"])


# --- the OpenAPI document -------------------------------------------------------------------------------------


def test_openapi_document_describes_every_json_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path, method in [
        ("/api/v1/ask", "post"),
        ("/api/v1/bulletins", "get"),
        ("/api/v1/bulletins/{bulletin_id}", "get"),
        ("/api/v1/conversations/{conversation_id}", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/healthz", "get"),
    ]:
        assert method in paths[path], path
    routed = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") or rule.rule == "/healthz"
    }
    assert routed <= set(paths)

    schemas = document["components"]["schemas"]
    citation = schemas["Citation"]["properties"]
    for field in ["n", "bulletin_id", "bulletin_title", "period", "section", "paragraph_id", "quote", "text", "url", "score"]:
        assert field in citation
    assert set(schemas["Timing"]["properties"]) == {"retrieve", "answer", "total"}
    assert set(schemas["Error"]["properties"]["error"]["properties"]) == {"code", "message"}
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)

    # Every $ref resolves.
    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_openapi_names_the_public_url_and_the_question_limit(config, qa):
    client = create_app(replace(config, public_url="https://bqa.example.org", max_question_chars=500), qa=qa).test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["servers"] == [{"url": "https://bqa.example.org"}]
    assert document["components"]["schemas"]["AskRequest"]["properties"]["question"]["maxLength"] == 500
    assert_error(client.post("/api/v1/ask", json={"question": "a" * 501}), 400, "question_too_long")


def test_ask_request_schema_agrees_with_validation(spec):
    validator = Draft202012Validator({"$ref": "#/components/schemas/AskRequest", "components": spec["components"]})
    assert validator.is_valid({"question": CT_TRAVEL, "top_k": 3, "filters": {"bulletin_ids": [BULLETIN]}})
    assert validator.is_valid({"question": CT_TRAVEL, "conversation_id": None, "top_k": None, "filters": None})
    for _, post, status, _ in ERROR_CASES:
        if status == 400 and "json" in post and isinstance(post["json"], dict):
            body = post["json"]
            if isinstance(body.get("question"), str) and not body["question"].strip():
                continue  # blank questions are a server-side rule (surrounding whitespace is ignored)
            if isinstance(body.get("top_k"), float):
                continue  # JSON Schema calls 5.0 an integer; the server wants it written as one (see the schema)
            assert not validator.is_valid(body), body


def test_openapi_states_the_choices_and_limits_the_server_enforces(spec):
    """The document's enums, bounds and defaults are the constants the validation uses, so a client that follows
    the document is never refused and a change of a limit changes the document too."""
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    top_k = schemas["AskRequest"]["properties"]["top_k"]
    assert (top_k["minimum"], top_k["maximum"]) == api.TOP_K_RANGE
    rated = schemas["FeedbackRequest"]["properties"]
    assert rated["rating"]["enum"] == list(RATINGS)
    assert rated["turn"]["maximum"] == SQL_MAX_INT
    assert rated["comment"]["maxLength"] == api.MAX_COMMENT_CHARS
    assert rated["source"]["enum"] == list(api.FEEDBACK_SOURCES)
    listed = schemas["FeedbackList"]["properties"]["feedback"]["items"]["properties"]
    assert listed["rating"]["enum"] == list(RATINGS)
    assert set(listed["source"]["examples"]) == set(admin.FEEDBACK_SOURCES)
    query = {p["name"]: p["schema"] for p in paths["/api/v1/feedback"]["get"]["parameters"]}
    assert query["rating"]["enum"] == list(RATINGS)
    assert query["source"]["enum"] == list(admin.FEEDBACK_SOURCES)
    assert query["limit"]["maximum"] == admin.MAX_PAGE
    assert query["offset"]["maximum"] == SQL_MAX_INT
    for path in ("/api/v1/gaps", "/api/v1/gaps.csv"):
        window = {p["name"]: p["schema"] for p in paths[path]["get"]["parameters"]}
        assert (window["days"]["maximum"], window["days"]["default"]) == (admin.MAX_GAP_DAYS, admin.GAP_DAYS)
        assert window["limit"]["maximum"] == window["limit"]["default"] == admin.MAX_GAP_QUESTIONS


# --- a service with nothing indexed ---------------------------------------------------------------------------


def test_api_without_an_index(config, tmp_path):
    empty = BulletinQA.from_config(replace(config, data_dir=tmp_path / "data"))
    client = create_app(qa=empty).test_client()
    assert client.get("/api/v1/bulletins").get_json() == {"bulletins": []}
    assert_error(client.get(f"/api/v1/bulletins/{BULLETIN}"), 404, "bulletin_not_found")
    response = client.post("/api/v1/ask", json={"question": CT_TRAVEL})
    assert response.status_code == 200
    assert response.get_json()["answerable"] is False
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] == "no_index"

"""Operations can see the service: a request id on every response and log line, and Prometheus metrics."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture()
def request_log():
    handler = Records()
    logger = logging.getLogger("bqa.requests")
    level = logger.level
    logger.setLevel(logging.INFO)  # `bqa eval` quiets it in its own process; tests share one
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_every_response_carries_a_request_id_that_its_log_line_shares(client, request_log):
    given = client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}, headers={"X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    made = client.get("/healthz", headers={"X-Request-ID": "not a valid id; <script>"})
    assert made.headers["X-Request-ID"] and made.headers["X-Request-ID"] != "not a valid id; <script>"
    fields = [record.fields for record in request_log]
    assert fields[0]["request_id"] == "trace-42" and fields[0]["path"] == "/api/v1/ask" and fields[0]["status"] == 200
    assert fields[0]["duration_ms"] > 0
    assert fields[1]["request_id"] == made.headers["X-Request-ID"]


def test_log_lines_are_json(client):
    import json

    from service.web.observability import JsonFormatter

    record = logging.LogRecord("bqa.requests", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"request_id": "r1", "status": 200}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["request_id"] == "r1" and line["status"] == 200


def metrics(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}


def sample(families, name, suffix="", **labels):
    family = families[name]
    return sum(
        s.value for s in family.samples
        if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_requests_latency_answers_and_index_size(client):
    before = metrics(client)
    client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"})
    client.post("/api/v1/ask", json={"question": "What is the boiling point of water at sea level?"})
    client.post("/api/v1/ask", json={"question": ""})
    after = metrics(client)
    ok = {"endpoint": "/api/v1/ask", "method": "POST", "status": "200"}
    assert sample(after, "bqa_requests", "_total", **ok) - sample(before, "bqa_requests", "_total", **ok) == 2
    bad = {"endpoint": "/api/v1/ask", "status": "400"}
    assert sample(after, "bqa_requests", "_total", **bad) - sample(before, "bqa_requests", "_total", **bad) == 1
    assert sample(after, "bqa_request_duration_seconds", "_count", endpoint="/api/v1/ask") >= 3
    assert sample(after, "bqa_answers", "_total", answerable="true") > sample(before, "bqa_answers", "_total", answerable="true")
    assert sample(after, "bqa_answers", "_total", answerable="false") > sample(before, "bqa_answers", "_total", answerable="false")
    assert sample(after, "bqa_index_paragraphs") == 25 and sample(after, "bqa_index_bulletins") == 1


def test_behind_a_trusted_proxy_clients_are_told_apart_by_their_own_address(config, qa):
    from dataclasses import replace

    app = create_app(replace(config, trusted_proxies=1, rate_limit=1), qa=qa)
    client = app.test_client()
    first = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "bulletins.example.org"}
    answer = client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}, headers=first)
    assert answer.status_code == 200
    assert answer.get_json()["citations"][0]["url"].startswith("https://bulletins.example.org/bulletins/")
    assert client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}, headers=first).status_code == 429
    other = {"X-Forwarded-For": "198.51.100.9"}
    assert client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}, headers=other).status_code == 200

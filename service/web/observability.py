"""Request logs as JSON lines and Prometheus metrics at GET /metrics.

Every request gets an id (the client's `X-Request-ID` when it sends a sane one, else a new one), returned in the
response header and written in its log line with the status and duration, so one slow or failed answer can be
traced from a user's report to the log. Metrics follow prometheus_client's multi-process mode when
PROMETHEUS_MULTIPROC_DIR is set (`bqa serve --workers N` sets it), so several workers add up to one picture.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from service.web import context

log = logging.getLogger("bqa.requests")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Labels take only values the service defines: every invented method or path a client sends would otherwise be
# a new time series, kept in memory (and in every worker's metrics file) for the life of the process.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"

REQUESTS = Counter("bqa_requests_total", "HTTP requests answered", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "bqa_request_duration_seconds",
    "Time to answer an HTTP request",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ANSWERS = Counter("bqa_answers_total", "Questions answered, by whether the bulletins held the answer", ["answerable"])


class JsonFormatter(logging.Formatter):
    """One JSON object a line: what log shippers parse without a grammar."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for bqa's own loggers (idempotent: safe for every app a process creates)."""
    root = logging.getLogger("bqa")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


class _IndexCollector:
    """Index size, read when Prometheus scrapes rather than kept up to date on every change."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        corpus = self.app.extensions[context.EXTENSION].corpus()
        bulletins = GaugeMetricFamily("bqa_index_bulletins", "Bulletins in the served index")
        paragraphs = GaugeMetricFamily("bqa_index_paragraphs", "Paragraphs in the served index")
        bulletins.add_metric([], len(corpus.bulletins) if corpus else 0)
        paragraphs.add_metric([], len(corpus.paragraphs) if corpus else 0)
        yield bulletins
        yield paragraphs


def _registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, LATENCY, ANSWERS):
            registry.register(metric)
    registry.register(_IndexCollector(app))
    return registry


def register(app: Flask) -> None:
    configure_logging(os.environ.get("BQA_LOG_LEVEL", "INFO"))
    registry = _registry(app)

    @app.before_request
    def start_clock():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def record(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else OTHER
        method = request.method if request.method in KNOWN_METHODS else OTHER
        REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(elapsed)
        if response.is_json and request.endpoint == "api.ask" and response.status_code == 200:
            ANSWERS.labels(str(response.get_json().get("answerable")).lower()).inc()
        response.headers["X-Request-ID"] = g.get("request_id", "")
        log.info(
            "request",
            extra={"fields": {
                "request_id": g.get("request_id"), "method": request.method, "path": request.path,
                "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                "remote": request.remote_addr,
            }},
        )
        return response

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

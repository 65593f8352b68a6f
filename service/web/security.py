"""Who may call the JSON API from a browser (CORS), and how often anyone may ask (a per-client rate limit).

CORS. The widget runs on other people's sites, so its requests to /api/ are cross-origin. Only the origins in
`Config.allowed_origins` (BQA_ALLOWED_ORIGINS) and the service's published one (BQA_PUBLIC_URL) get a grant: the response names the
caller's origin in Access-Control-Allow-Origin. Any other origin gets no grant at all (its preflight is refused
with a JSON 403), so its page can neither read an answer nor send the JSON POST that asking takes. Credentials are
never allowed (the API uses no cookies), and there is no wildcard: an operator lists the sites that embed the widget.

Rate limit. Asking costs an embedding and a search, so each client (its IP address) may ask `Config.rate_limit`
questions per sliding minute; the next gets a JSON 429 with Retry-After. The counts live in this process's memory:
with several worker processes each keeps its own, so the effective limit is the configured one times the number
of workers, and a restart forgets them. That is enough to stop one browser tab or script from hogging a small
deployment; a shared store (Redis) would be the next step. Behind a reverse proxy, wrap the app in Werkzeug's
ProxyFix so that `request.remote_addr` is the client rather than the proxy, or every user shares one budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from service.web import context
from service.web.errors import error_response

API_PREFIX = "/api/"
RATE_LIMITED_ENDPOINTS = frozenset({"api.ask", "api.ask_stream"})
LIMITER_KEY = "bqa.rate_limiter"

# What a cross-origin page may do: read and post JSON. Content-Type is the only header the widget needs to set
# (application/json makes its POSTs "non-simple", hence the preflight); anything else, such as Authorization for
# the admin endpoints, stays same-origin or server-to-server.
ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = frozenset({"content-type", "accept", "accept-language", "content-language"})
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer
EXPOSED_HEADERS = "Retry-After"  # so the widget can say how long to wait after a 429

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str | None:
    """`scheme://host[:port]` as browsers send it in the Origin header (lower case, no default port), or None."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"  # IPv6 keeps its brackets
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def allowed_origins() -> set[str]:
    """The configured embedding origins plus the service's own published one (`BQA_PUBLIC_URL`).

    Never the origin the request names in Host or X-Forwarded-Host: any client sets those, so a page on
    evil.example that sent them would be granted. A page served by bqa itself needs no grant: it is same-origin."""
    config = context.config()
    return {o for o in map(normalize_origin, [*config.allowed_origins, config.public_url or ""]) if o}


def _granted_origin() -> str | None:
    origin = request.headers.get("Origin")
    if not origin or not request.path.startswith(API_PREFIX):
        return None
    normalized = normalize_origin(origin)
    return origin if normalized is not None and normalized in allowed_origins() else None


def _is_preflight() -> bool:
    return (
        request.method == "OPTIONS"
        and request.path.startswith(API_PREFIX)
        and "Access-Control-Request-Method" in request.headers
    )


def _preflight():
    """Answer a preflight: a grant for an allowed origin asking for something the API allows, else a 403."""
    origin = _granted_origin()
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    asked = request.headers.get("Access-Control-Request-Headers", "")
    headers = {h.strip().lower() for h in asked.split(",") if h.strip()}
    if origin is None:
        return error_response(
            403, "origin_not_allowed",
            "This origin may not call the API from a browser; the service operator can add it to "
            "BQA_ALLOWED_ORIGINS.",
        )
    if method not in ALLOWED_METHODS or not headers <= ALLOWED_HEADERS:
        return error_response(
            403, "cors_not_allowed",
            "Cross-origin requests may only GET or POST, with no header but Content-Type.",
        )
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(ALLOWED_METHODS)
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response  # the grant itself (Allow-Origin) is added by `_grant`, as for every API response


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds (a sliding log of hit times), thread-safe.

    A sliding log rather than fixed minutes, so a client cannot spend two budgets across a minute boundary. Keys
    idle for a whole window are dropped on the next sweep, so memory follows the number of recent clients.
    """

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + window

    def hit(self, key: str) -> float:
        """Record a hit for `key`: 0 when it is allowed, else the seconds until it would be (nothing recorded)."""
        now = self.clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            return 0.0

    def waiting(self, key: str) -> float:
        """The seconds until `key` may hit again (0 when it may now), recording nothing."""
        now = self.clock()
        with self._lock:
            hits = [t for t in self._hits.get(key, ()) if t > now - self.window]
            return max(hits[0] + self.window - now, 0.001) if len(hits) >= self.limit else 0.0

    def _sweep(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]
        self._next_sweep = now + self.window


def _limit_questions():
    limiter: RateLimiter | None = current_app.extensions.get(LIMITER_KEY)
    if limiter is None or request.endpoint not in RATE_LIMITED_ENDPOINTS or request.method != "POST":
        return None
    wait = limiter.hit(request.remote_addr or "unknown")
    if not wait:
        return None
    seconds = math.ceil(wait)
    return error_response(
        429, "rate_limited",
        f"Too many questions: at most {limiter.limit} a minute. Try again in {seconds} s.",
        {"Retry-After": str(seconds)},
    )


def _before_request():
    if _is_preflight():
        return _preflight()
    return _limit_questions()


def _grant(response):
    """Name the caller's origin on every API response (errors and 429s included) when it is allowed."""
    if not request.path.startswith(API_PREFIX) or (_is_preflight() and response.status_code != 204):
        return response  # a refused preflight grants nothing
    response.vary.add("Origin")  # the answer differs by Origin: shared caches must not mix them up
    origin = _granted_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def register(app: Flask) -> None:
    """Install CORS and the rate limit on `app` (created by `create_app`), with the limit its configuration sets.

    The limiter is the app's own, in `app.extensions`, so two apps in one process (tests) never share counts.
    """
    limit = app.config[context.CONFIG_KEY].rate_limit
    if limit > 0:
        app.extensions[LIMITER_KEY] = RateLimiter(limit)
    app.before_request(_before_request)
    app.after_request(_grant)

"""The chat widget's files and the two endpoints only the widget needs: starter questions, and whether the page
embedding it may use the API at all.

Site owners paste `<script src="https://HOST/widget.js" ...>` once and never touch it again, so /widget.js keeps
that address and is cached only briefly (a fix reaches every site within minutes, and revalidation is a cheap
304 thanks to the ETag). What it loads itself is pinned: the script asks for `widget.css?v=<version>`, and a
request carrying the current version may be cached for a year, since any change to either file changes the
version (a hash of both). The version is written into the script as it is served: no build step.

A site whose origin is not in BQA_ALLOWED_ORIGINS gets no CORS grant, and the browser then reports the failed
request to the widget as a bare network error, the same as a dropped connection. `/api/v1/origin` is readable by
any page (`Access-Control-Allow-Origin: *`, a simple GET without credentials) and says whether the caller's origin
is allowed, so the widget can tell the site's owner what to change instead of "check your connection". It gives
away nothing a caller does not know already: its own origin, and whether that one is allowed.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from service.suggestions import StarterQuestions
from service.web import context
from service.web.security import allowed_origins, normalize_origin

bp = Blueprint("widget", __name__)

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"widget.js": "text/javascript", "widget.css": "text/css"}
VERSION_PLACEHOLDER = b"__BQA_WIDGET_VERSION__"
EMBED_MAX_AGE = 300  # seconds: the unversioned address embedded in third-party pages
PINNED_MAX_AGE = 365 * 24 * 3600  # seconds: an address carrying the current version never changes content
SUGGESTIONS_KEY = "bqa.suggestions"


@functools.cache
def bundle() -> tuple[str, dict[str, bytes]]:
    """(version, file name -> content served), read once per process."""
    contents = {name: (STATIC / name).read_bytes() for name in ASSETS}
    version = hashlib.sha256(b"\0".join(contents[name] for name in sorted(contents))).hexdigest()[:12]
    contents["widget.js"] = contents["widget.js"].replace(VERSION_PLACEHOLDER, version.encode())
    return version, contents


def _asset(name: str):
    if current_app.debug:  # `flask run --debug`: pick up edits without a restart
        bundle.cache_clear()
    version, contents = bundle()
    response = current_app.response_class(contents[name], mimetype=ASSETS[name])
    pinned = request.args.get("v") == version
    response.cache_control.public = True
    response.cache_control.max_age = PINNED_MAX_AGE if pinned else EMBED_MAX_AGE
    if pinned:
        response.cache_control.immutable = True
    response.set_etag(version)
    # Loaded by other sites' pages: let those that isolate themselves (COEP require-corp) load it too.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


@bp.get("/widget.js")
def script():
    return _asset("widget.js")


@bp.get("/widget.css")
def stylesheet():
    return _asset("widget.css")


@bp.record_once
def _setup(state) -> None:
    state.app.extensions[SUGGESTIONS_KEY] = StarterQuestions(state.app.config[context.CONFIG_KEY].suggestions)


@bp.get("/api/v1/suggestions")
def suggestions():
    """Starter questions: BQA_SUGGESTIONS when set, else a few derived from the indexed bulletins."""
    questions, source = current_app.extensions[SUGGESTIONS_KEY].get(context.qa().corpus())
    return jsonify({"suggestions": questions, "source": source})


@bp.get("/api/v1/origin")
def origin():
    """{"origin": the Origin header or null, "allowed": whether it may call the API from a browser}."""
    sent = request.headers.get("Origin")
    allowed = sent is None or normalize_origin(sent) in allowed_origins()  # no Origin: not a cross-origin call
    response = jsonify({"origin": sent, "allowed": allowed})
    response.headers["Access-Control-Allow-Origin"] = "*"  # the one answer every page may read
    response.cache_control.no_store = True
    return response

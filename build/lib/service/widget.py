"""The chat widget's files and the one endpoint only the widget needs: starter questions.

Site owners paste `<script src="https://HOST/widget.js" ...>` once and never touch it again, so /widget.js keeps
that address and is cached only briefly (a fix reaches every site within minutes, and revalidation is a cheap
304 thanks to the ETag). What it loads itself is pinned: the script asks for `widget.css?v=<version>`, and a
request carrying the current version may be cached for a year, since any change to either file changes the
version (a hash of both). The version is written into the script as it is served: no build step.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from service.web import context
from service.suggestions import derive

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


def suggested_questions() -> tuple[list[str], str]:
    """(questions, "config" or "corpus"); derived ones are cached per index generation."""
    configured = context.config().suggestions
    if configured:
        return list(configured), "config"
    corpus = context.qa().searcher.corpus()
    generation = corpus.generation if corpus is not None else None
    cached = current_app.extensions.get(SUGGESTIONS_KEY)
    if cached is None or cached[0] != generation:
        cached = (generation, derive(corpus))
        current_app.extensions[SUGGESTIONS_KEY] = cached
    return list(cached[1]), "corpus"


@bp.get("/api/v1/suggestions")
def suggestions():
    """Starter questions: BQA_SUGGESTIONS when set, else a few derived from the indexed bulletins."""
    questions, source = suggested_questions()
    return jsonify({"suggestions": questions, "source": source})

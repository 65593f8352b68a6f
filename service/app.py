"""The Flask application factory: the one place where configuration, the pipeline and the web layer meet.

`create_app` wires a `BulletinQA` into a Flask app and nothing more. It does not index: building or refreshing
the index is `bqa index` (or `bqa serve`, which indexes before it calls this), because doing it here would make
every worker process of a production server re-index on start-up. Tests pass their own, already indexed `qa`.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service import api, slack, views, widget
from service.admin import api as admin_api, pages as admin_pages
from service.config import Config
from service.pipeline import BulletinQA
from service.web import context, errors, observability, security

# Pages may load scripts, styles and data only from this origin: nothing inline, nothing from a CDN. Citation
# text is escaped anyway; this is the second line of defence should an escape ever be missed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: Config | None = None, qa: BulletinQA | None = None) -> Flask:
    """An app serving `qa`, or a `BulletinQA` built from `config` (the environment when not given).

    When only `qa` is given, its own configuration also governs the HTTP layer (body limit, public URL).
    """
    if config is None:
        config = qa.config if qa is not None else Config.from_env()
    if qa is None:
        qa = BulletinQA.from_config(config)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes  # Werkzeug raises 413 rather than read more
    app.config[context.CONFIG_KEY] = config
    app.extensions[context.EXTENSION] = qa
    app.url_map.strict_slashes = False  # "/api/v1/bulletins/x/" is "…/x", not a redirect an API client won't follow
    app.url_map.merge_slashes = False  # likewise "…/bulletins//" (an id of "/"): a JSON 404, not a redirect
    app.json.sort_keys = False  # keep the documented field order: answer first, timings last
    app.json.ensure_ascii = False

    app.register_blueprint(api.bp)
    app.register_blueprint(admin_api.bp)  # /api/v1: publishing, feedback, content gaps (Bearer token)
    app.register_blueprint(admin_pages.bp)  # /admin: the same, as pages (signed-in session, CSRF tokens)
    app.register_blueprint(views.bp)
    app.register_blueprint(widget.bp)  # /widget.js, /widget.css, /api/v1/suggestions
    security.register(app)  # CORS for /api/ (BQA_ALLOWED_ORIGINS) and the ask rate limit (BQA_RATE_LIMIT)
    app.register_blueprint(slack.bp)  # /slack/*: 503 slack_not_configured unless SLACK_* are set
    errors.register(app, qa.db)
    observability.register(app)  # JSON request logs with request ids, GET /metrics
    if config.trusted_proxies:  # client address, scheme and host as the proxy saw them (rate limit, URLs)
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app

"""The admin page at /admin: the bulletins (upload, replace, delete), the feedback, and the content-gap report.

Plain server-rendered HTML under the same strict CSP as every page (no inline script or style): every action is an
ordinary form that works without JavaScript and with the keyboard alone, and `static/admin.js` only adds
drag-and-drop and per-file upload progress (an XHR per file, answered in JSON). The work is done by the calls the
admin JSON API makes (`service.publish`, `service.gaps`, the database's feedback); this module adds the forms, the
signed-in session and its CSRF token (`session`). Everything but the sign-in page needs a session; every POST needs
the session's CSRF token.
"""

from __future__ import annotations

import time

import math

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from service import gaps, publish
from service.admin import GAP_DAYS, FEEDBACK_SOURCES, BadQuery, described, feedback_query, gap_window, session, status_of
from service.gaps import LINKAGE, SIMILARITY
from service.web import context
from service.web.errors import error_response
from service.web.security import RateLimiter

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")

FEEDBACK_PAGE = 50  # ratings per page
MAX_FILES = 20  # files in one upload form sent without JavaScript
GAP_WINDOWS = (7, 30, 90, 365)  # days the report's window offers
PREFIX = "/admin/"
SIGNIN_ATTEMPTS = 10  # failed sign-ins per client (IP address) per minute: guessing a token takes forever
SIGNIN_LIMITER = "bqa.admin.signin"


@bp.record_once
def _setup(state) -> None:
    state.app.extensions[SIGNIN_LIMITER] = RateLimiter(SIGNIN_ATTEMPTS)


def _wants_json() -> bool:
    """The upload script asks for JSON; a form sent by the browser itself gets a page."""
    return request.accept_mimetypes.best == "application/json"


def _refuse(status: int, code: str, message: str):
    if _wants_json():
        return error_response(status, code, message)
    return render_template("admin/refused.html", message=message), status


@bp.before_request
def gate():
    if not context.config().admin_token:
        return _refuse(503, "admin_disabled", "The admin page is off: set BQA_ADMIN_TOKEN to enable it.")
    g.admin = session.current()
    if request.endpoint == "admin_pages.signin":
        return None
    if not g.admin.signed_in:
        if _wants_json() or request.method != "GET":
            return _refuse(401, "signed_out", "Your session has ended; sign in again.")
        return redirect(url_for(".signin", next=request.path))
    # uploads are larger than the API's 64 kB questions; reading the CSRF field reads the whole form
    request.max_content_length = context.config().max_upload_bytes * MAX_FILES
    if request.method == "POST" and not session.csrf_ok(g.admin):
        return _refuse(403, "csrf_failed", "The form was not sent from this admin page (its security token is "
                       "missing or out of date). Reload the page and try again.")
    return None


@bp.after_request
def keep_session(response: Response) -> Response:
    """Write the session back as the view left it in `g.admin` (None: signed out, the cookie deleted)."""
    if "admin" in g:
        session.save(response, g.admin)
    response.headers["Cache-Control"] = "no-store"  # pages show what users asked: never kept by a shared cache
    return response


def _page(template: str, status: int = 200, **values):
    """Render `template` with the session's notice, then forget the notice."""
    notice = g.admin.notice
    g.admin = session.Session(g.admin.signed_in, g.admin.csrf)
    return render_template(template, notice=notice, csrf=g.admin.csrf, **values), status


@bp.app_template_filter("when")
def when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds)) if seconds else "—"


# --- signing in and out ---


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    target = request.values.get("next", "")
    if not target.startswith(PREFIX) or target.startswith("//"):
        target = url_for(".bulletins")
    if request.method == "GET":
        if g.admin.signed_in:
            return redirect(target)
        return _page("admin/signin.html", next=target, failed=False)
    limiter, client = current_app.extensions[SIGNIN_LIMITER], request.remote_addr or "unknown"
    if wait := limiter.waiting(client):
        return _refuse(429, "rate_limited", f"Too many failed sign-ins; try again in {math.ceil(wait)} s.")
    if not session.csrf_ok(g.admin):
        return _page("admin/signin.html", 403, next=target, failed=False, expired=True)
    if not session.token_matches(request.form.get("token", "")):
        limiter.hit(client)
        return _page("admin/signin.html", 401, next=target, failed=True)
    g.admin = session.signed_in_fresh()
    return redirect(target, 303)


@bp.post("/signout")
def signout():
    g.admin = None
    return redirect(url_for(".signin"), 303)


@bp.get("/")
def home():
    return redirect(url_for(".bulletins"))


# --- bulletins ---


@bp.get("/bulletins")
def bulletins():
    return _bulletins_page([])


def _bulletins_page(results: list[dict], status: int = 200):
    qa = context.qa()
    return _page("admin/bulletins.html", status, bulletins=publish.listing(qa), results=results,
                 max_upload_bytes=context.config().max_upload_bytes)


def _carry_out(run, name: str) -> dict:
    """`run()` as one row of the upload results: {"name", "ok", "message", "status", "body"}."""
    try:
        done = run()
    except publish.Refused as exc:
        return {"name": name, "ok": False, "message": exc.message, "status": status_of(exc),
                "body": {"error": {"code": exc.code, "message": exc.message}}}
    message = (f"{done.title}{', ' + done.period if done.period else ''}: {done.sections} sections, "
               f"{done.paragraphs} paragraphs (id {done.id})")
    return {"name": name, "ok": True, "message": message, "status": 200, "body": described(done)}


def _files() -> list:
    return [f for f in request.files.getlist("file") if f.filename or f.content_length]


def _too_large(upload) -> dict | None:
    data = upload.read()
    limit = context.config().max_upload_bytes
    if len(data) > limit:
        message = f"The file is larger than the {limit:,} bytes allowed (BQA_MAX_UPLOAD_BYTES)."
        return {"name": upload.filename, "ok": False, "message": message, "status": 413,
                "body": {"error": {"code": "payload_too_large", "message": message}}}
    upload.data = data
    return None


def _respond(results: list[dict], created: bool):
    if _wants_json():
        result = results[0] if results else {"status": 400, "ok": False, "body": {"error": {
            "code": "missing_file", "message": "Choose a file to upload."}}}
        status = (201 if created else 200) if result["ok"] else result["status"]
        return jsonify(result["body"]), status
    if not results:
        results = [{"name": "", "ok": False, "message": "Choose a file to upload.", "status": 400}]
    failed = [r for r in results if not r["ok"]]
    return _bulletins_page(results, 200 if not failed else max(r["status"] for r in failed))


@bp.post("/bulletins")
def upload():
    """Publish each uploaded file as a new bulletin."""
    qa = context.qa()
    results = []
    for upload_ in _files():
        refused = _too_large(upload_)
        results.append(refused or _carry_out(
            lambda: publish.publish(qa, upload_.filename, upload_.data), upload_.filename))
    return _respond(results, created=True)


@bp.post("/bulletins/<bulletin_id>/replace")
def replace(bulletin_id: str):
    qa = context.qa()
    files = _files()[:1]
    results = []
    for upload_ in files:
        refused = _too_large(upload_)
        results.append(refused or _carry_out(
            lambda: publish.replace(qa, bulletin_id, upload_.filename, upload_.data), upload_.filename))
    return _respond(results, created=False)


@bp.get("/bulletins/<bulletin_id>/delete")
def confirm_delete(bulletin_id: str):
    found = next((b for b in publish.listing(context.qa()) if b.id == bulletin_id), None)
    if found is None:
        return _refuse(404, "bulletin_not_found", f"No bulletin “{bulletin_id}” is indexed.")
    return _page("admin/delete.html", bulletin=found)


@bp.post("/bulletins/<bulletin_id>/delete")
def delete(bulletin_id: str):
    try:
        publish.delete(context.qa(), bulletin_id)
    except publish.Refused as exc:
        return _refuse(status_of(exc), exc.code, exc.message)
    g.admin = session.Session(True, g.admin.csrf, f"Deleted {bulletin_id}: it is no longer answered from or cited.")
    return redirect(url_for(".bulletins"), 303)


@bp.get("/bulletins/<bulletin_id>/original")
def original(bulletin_id: str):
    try:
        name, data = publish.original(context.qa(), bulletin_id)
    except publish.Refused as exc:
        return _refuse(status_of(exc), exc.code, exc.message)
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename=\"{name}\""})


# --- feedback and gaps ---


@bp.get("/feedback")
def feedback():
    try:
        query = feedback_query(request.args, FEEDBACK_PAGE)
    except BadQuery as exc:
        return _refuse(400, exc.code, exc.message)
    entries = context.qa().db.feedback(query)
    return _page("admin/feedback.html", entries=entries, query=query, sources=FEEDBACK_SOURCES,
                 older=query.offset + query.limit if len(entries) == query.limit else None,
                 newer=max(query.offset - query.limit, 0) if query.offset else None)


def _report():
    try:
        window = gap_window(request.args)
    except BadQuery as exc:
        return None, _refuse(400, exc.code, exc.message)
    return gaps.report(context.qa().db, **window), None


@bp.get("/gaps")
def gap_report():
    report, refused = _report()
    if refused is not None:
        return refused
    days = request.args.get("days", type=int) or GAP_DAYS
    return _page("admin/gaps.html", report=report, days=days, windows=GAP_WINDOWS, similarity=SIMILARITY,
                 linkage=LINKAGE)


@bp.get("/gaps.csv")
def gap_csv():
    report, refused = _report()
    if refused is not None:
        return refused
    return Response(report.csv(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=\"bqa-content-gaps.csv\""})

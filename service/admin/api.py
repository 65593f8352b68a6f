"""The admin JSON API under /api/v1: publish, replace and delete bulletins, read feedback and the content-gap report.

Every call needs `Authorization: Bearer <BQA_ADMIN_TOKEN>` (503 while no token is configured). The work is done by
`service.publish` and `service.gaps`, the same calls the admin page makes; this module only reads requests and
writes JSON, and turns their refusals into status codes.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from service import gaps, publish
from service.admin import BadQuery, described, feedback_query, gap_window, status_of
from service.web import context
from service.web.errors import APIError, error_response
from service.web.requests import load_json_object, read_body

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")

@bp.before_request
def admin_only() -> None:
    context.require_admin()


@bp.errorhandler(publish.Refused)
def refused(e: publish.Refused):
    return error_response(status_of(e), e.code, e.message)


@bp.errorhandler(BadQuery)
def bad_query(e: BadQuery):
    return error_response(400, e.code, e.message)


def _upload() -> tuple[str | None, bytes]:
    """(file name the client gave, content) from a multipart upload or a JSON body with text."""
    request.max_content_length = context.config().max_upload_bytes  # larger than the API's 64 kB questions
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise APIError(400, "missing_file", "Send the bulletin as the multipart field \"file\".")
        return upload.filename or None, upload.read()
    if request.mimetype == "application/json":
        body = load_json_object(read_body())
        if not isinstance(body.get("text"), str):
            raise APIError(400, "missing_text", "Send {\"name\": \"bulletin-2021-04.md\", \"text\": \"…\"}.")
        unknown = sorted(set(body) - {"name", "text"})
        if unknown:
            raise APIError(400, "unknown_field", f"Unknown field(s): {', '.join(unknown)}.")
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise APIError(400, "invalid_name", "\"name\" must be a file name.")
        return name, body["text"].encode("utf-8")
    raise APIError(415, "unsupported_media_type", "Upload multipart/form-data (field \"file\") or JSON with text.")


@bp.post("/bulletins")
def create():
    """Publish a new bulletin; its id comes from the file name. An existing id is a conflict: use PUT."""
    name, data = _upload()
    return jsonify(described(publish.publish(context.qa(), name, data))), 201


@bp.put("/bulletins/<bulletin_id>")
def replace(bulletin_id: str):
    """Replace a bulletin's file (its format may change); the old text stops being cited at once."""
    name, data = _upload()
    return jsonify(described(publish.replace(context.qa(), bulletin_id, name, data)))


@bp.delete("/bulletins/<bulletin_id>")
def delete(bulletin_id: str):
    summary = publish.delete(context.qa(), bulletin_id)
    return jsonify({"id": bulletin_id, "deleted": True, "index": summary})


@bp.get("/bulletins/<bulletin_id>/original")
def original(bulletin_id: str):
    """The bulletin's original file, as it was published or found in its folder."""
    name, data = publish.original(context.qa(), bulletin_id)
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename=\"{name}\""})


@bp.get("/feedback")
def feedback():
    """Ratings, newest first, with the question, answer and citations rated; filters `rating`, `source`, `q`."""
    query = feedback_query(request.args)
    entries = context.qa().db.feedback(query)
    return jsonify({"feedback": [entry.__dict__ for entry in entries]})


@bp.get("/gaps")
def gap_report():
    """Questions the bulletins did not answer or whose answer was rated 👎, grouped by meaning, largest first."""
    report = gaps.report(context.qa().db, **gap_window(request.args))
    return jsonify(report.as_json())


@bp.get("/gaps.csv")
def gap_csv():
    report = gaps.report(context.qa().db, **gap_window(request.args))
    return Response(report.csv(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=\"bqa-content-gaps.csv\""})

"""One error shape for the JSON API, and HTML error pages for people.

Every failure under /api/ (and of /healthz, which monitors parse) answers `{"error": {"code", "message"}}` with a
4xx or 5xx status, whether a view raised `APIError`, Werkzeug raised an HTTP error (404 for an unknown route, 405,
413 for a body over MAX_CONTENT_LENGTH) or something broke. Clients can then branch on a stable `code` instead of
parsing prose or HTML. A crash is logged with its traceback (Flask does that before calling the 500 handler) and
answered without one: stack traces help attackers more than users.

A full disk is not a crash: whichever write meets it (a publish, a conversation's turn) answers 507 with nothing
half-written, so a client and a monitor can tell "no space" from "bug".

A database that cannot be reached (PostgreSQL down or restarting, with BQA_DATABASE_URL) is no crash either: 503
`database_unavailable` with Retry-After, so a load balancer or client retries instead of reporting a bug.
"""

from __future__ import annotations

import errno
import logging
import sys
from functools import partial

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import (
    ClientDisconnected, HTTPException, InternalServerError, RequestTimeout, ServiceUnavailable,
)

from index.store import InsufficientStorage, StorageError
from service.db.base import Database, DatabaseUnavailable

log = logging.getLogger("bqa.storage")
FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DATABASE_RETRY_AFTER_S = 5  # what a 503 for an unreachable database tells the client to wait

# Stable codes for the HTTP errors Werkzeug raises; any other takes the snake_case of its name.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


class APIError(Exception):
    """A request the API refuses, with the status and the machine-readable code to answer with."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def wants_json() -> bool:
    """Whether the current request is one of the JSON endpoints, so its errors must be JSON too."""
    path = request.path
    return path == "/api" or path.startswith("/api/") or path == "/healthz"


def error_response(status: int, code: str, message: str, headers=None):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def _http_message(e: HTTPException) -> str:
    if e.code == 404:
        return f"Nothing is served at {request.path}."
    if e.code == 405:
        allowed = ", ".join(sorted(set(getattr(e, "valid_methods", None) or ()) - {"OPTIONS", "HEAD"}))
        return f"{request.method} is not allowed here" + (f"; use {allowed}." if allowed else ".")
    if e.code == 413:
        limit = request.max_content_length  # this request's own: an upload's is larger than a question's
        return "The request body is too large" + (f"; the limit is {limit} bytes." if limit else ".")
    return e.description or e.name


def handle_api_error(e: APIError):
    return error_response(e.status, e.code, e.message)


def handle_http_error(e: HTTPException):
    """JSON for the API; for pages, our own 404 page or Werkzeug's plain one."""
    if isinstance(e, ClientDisconnected) and isinstance(e.__context__, RequestTimeout):
        e = e.__context__  # the server stopped waiting for the body (service.worker); Werkzeug calls it a disconnect
    if wants_json():
        # Keep headers such as Allow (405) that tell the client what to do, but not Werkzeug's HTML content type.
        headers = [(k, v) for k, v in e.get_headers() if k.lower() not in ("content-type", "content-length")]
        code = HTTP_CODES.get(e.code) or e.name.lower().replace(" ", "_").replace("'", "")
        return error_response(e.code, code, _http_message(e), headers)
    if e.code == 404:
        return render_template("not_found.html", message=None), 404
    return e


def handle_internal_error(e: InternalServerError):
    """Flask has already logged the original exception (`log_exception`) by the time this runs."""
    if wants_json():
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
    return e


def handle_storage_error(e: Exception, db: Database):
    """507 for a write the disk has no room for; any other OSError or database error is the crash it looks like."""
    if isinstance(e, InsufficientStorage):
        return error_response(
            507, "insufficient_storage",
            f"Not enough disk space: {e}. Nothing was changed; free some space (or lower BQA_DISK_RESERVE_BYTES).",
        )
    full = (isinstance(e, OSError) and e.errno in FULL_DISK_ERRNOS) or db.disk_full(e)
    if not (full or isinstance(e, StorageError)):
        current_app.log_exception(sys.exc_info())
        return handle_internal_error(InternalServerError(original_exception=e))
    log.error("storage failed on %s %s: %s", request.method, request.path, e, exc_info=True)
    return error_response(
        507, "storage_error", "The data could not be written (is the disk full?); nothing was changed."
    )


def handle_database_unavailable(e: DatabaseUnavailable):
    log.error("database unavailable on %s %s: %s", request.method, request.path, e)
    if not wants_json():
        return ServiceUnavailable("The service is briefly unavailable; try again in a few seconds.",
                                  retry_after=DATABASE_RETRY_AFTER_S)
    return error_response(503, "database_unavailable", "The database cannot be reached; try again in a few seconds.",
                          {"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def register(app: Flask, db: Database) -> None:
    """The handlers; `db`, the app's database, says what its failed writes raise."""
    app.register_error_handler(DatabaseUnavailable, handle_database_unavailable)
    for storage_failure in (StorageError, OSError, *db.WRITE_FAILURES):
        app.register_error_handler(storage_failure, partial(handle_storage_error, db=db))
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_internal_error)

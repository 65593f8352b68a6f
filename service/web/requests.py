"""Reading request bodies: whole, within the limit that applies, and as strict JSON objects.

The API and the admin endpoints read bodies here, so both refuse an oversized body with a 413 however it is sent.
A chunked body has no Content-Length for Werkzeug to check up front, and `request.get_data()` then stops at the
limit and returns a truncated body without a word: a chunked JSON upload over the limit came back as a 400
"invalid JSON" instead of a 413.
"""

from __future__ import annotations

import json
import re

from flask import request

from service.web.errors import APIError

BODY_READ_SIZE = 16 * 1024  # bytes per read of the body stream
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_body() -> bytes:
    """The whole request body, or RequestEntityTooLarge (413) when it is over the request's max_content_length.

    With a Content-Length, Werkzeug refuses an oversized body before reading it. Without one, Werkzeug's
    `LimitedStream.readall` ends at the maximum instead of raising; only a read *past* the limit raises, so the
    stream is read in pieces until it ends. (A chunked body of exactly the limit is therefore refused too.)
    """
    stream = request.stream
    chunks = []
    while chunk := stream.read(BODY_READ_SIZE):
        chunks.append(chunk)
    return b"".join(chunks)


def json_object() -> dict:
    """The request body as a JSON object, or the APIError that says what is wrong with it."""
    if request.mimetype != "application/json":
        raise APIError(
            415, "unsupported_media_type", "Send the request body as JSON, with Content-Type: application/json."
        )
    return load_json_object(read_body())


def load_json_object(raw: bytes) -> dict:
    """A JSON object from strictly UTF-8 bytes, holding only real text: a lone surrogate ("\\ud800") is no
    character, and would fail later, in the tokenizer or SQLite, as a 500 instead of a 400 now."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise APIError(400, "invalid_json", "The request body is not valid JSON in UTF-8.") from None
    if not isinstance(body, dict):
        raise APIError(400, "invalid_body", "The request body must be a JSON object.")
    pending: list = [body]
    while pending:  # iterative: a body nested as deep as the JSON parser allows must not exhaust the stack
        value = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise APIError(400, "invalid_text", "The request holds a lone surrogate (\\ud800-\\udfff), which is not text.")
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return body

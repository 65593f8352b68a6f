"""Publishing bulletins over HTTP: upload, replace and delete, so a new bulletin is answerable minutes after it is
out, without a shell on the server.

Every call is token-protected, validates the file completely before anything is written (its type from the name's
suffix, sniffed from its bytes only when the name has none that bqa reads: the decision `bqa index` makes; a file
that does not parse, holds no text or expands past the bulletin limits is refused with the reason), and returns
only once the index serves the change. The disk must have room for the file and the new index generation with
the reserve left free (507 otherwise). The file is written under a hidden temporary name and put in place only after
the new index generation is live, all under the store's writer lock, so a failed call changes nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Blueprint, jsonify, request

from index.parse import FORMATS, LimitExceeded, ParseError, UnsupportedType, bulletin_id, file_suffix, parse
from index.retrieve import POINTER_MAX_AGE
from index.store import KEEP, discover
from service.cleanup import temporary_path
from service.web import context
from service.web.errors import APIError
from service.web.requests import load_json_object, read_body

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

LIMIT_SETTINGS = {"pages": "BQA_MAX_BULLETIN_PAGES", "paragraphs": "BQA_MAX_BULLETIN_PARAGRAPHS",
                  "chars": "BQA_MAX_BULLETIN_CHARS"}


@bp.before_request
def admin_only() -> None:
    context.require_admin()


def _upload() -> tuple[str | None, bytes]:
    """(file name or id the client gave, content) from a multipart upload or a JSON body with text."""
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


def _parse(data: bytes, name: str | None, bid: str, folder: Path):
    """(the bulletin, the file it is kept in): its format from `name` (or sniffed), within the store's limits."""
    if not data.strip():
        raise APIError(422, "empty_file", "The file is empty.")
    try:
        target = folder / f"{bid}{file_suffix(name, data)}"
        return parse(data, target.name, source=str(target), limits=context.qa().store.limits), target
    except UnsupportedType as exc:
        raise APIError(422, "unsupported_type", f"The file is not a bulletin bqa reads ({exc}): send PDF, HTML, "
                       "Markdown or UTF-8 text.") from None
    except LimitExceeded as exc:
        raise APIError(422, "bulletin_too_large", f"The bulletin is too large to index: {exc} "
                       f"({LIMIT_SETTINGS[exc.what]}).") from None
    except ParseError as exc:
        raise APIError(422, "unparseable", f"The bulletin cannot be read: {exc}") from None


def _publish(bid: str, name: str | None, data: bytes, replacing: dict | None):
    """Parse, write under a temporary name, index, then put the file in place; undo everything on failure."""
    qa = context.qa()
    old = Path(replacing["source"]) if replacing else None
    folder = old.parent if old is not None else context.config().uploads_dir
    bulletin, target = _parse(data, name, bid, folder)
    qa.store.ensure_space(extra_bytes=len(data))
    folder.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(target)
    try:
        temporary.write_bytes(data)
        report = _settled(qa.store.apply(lambda indexed: {**{b: KEEP for b in indexed if b != bid}, bid: bulletin}))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, target)
    if old is not None and old != target:
        old.unlink(missing_ok=True)
    return bulletin, report


def _unindexed_file(bid: str) -> Path | None:
    """A bulletin file with this id that is not indexed yet (dropped into a corpus folder since the last start):
    publishing the id as well would leave the next start two files for it."""
    for path in discover(folder for folder in context.config().bulletin_dirs if folder.is_dir()):
        try:
            if bulletin_id(path.name) == bid:
                return path
        except ParseError:  # a file whose name gives no id is no conflict
            continue
    return None


def _settled(report):
    """Return only once every worker serves the new generation: each re-reads the pointer at least this often."""
    time.sleep(POINTER_MAX_AGE)
    return report


def _described(bulletin, report) -> dict:
    return {
        "id": bulletin.id,
        "title": bulletin.title,
        "period": bulletin.period,
        "sections": len(bulletin.sections),
        "paragraphs": sum(len(s.paragraphs) for s in bulletin.sections),
        "url": context.source_url(bulletin.id),
        "index": report.summary(),
    }


@bp.post("/bulletins")
def create():
    """Publish a new bulletin; its id comes from the file name. An existing id is a conflict: use PUT."""
    name, data = _upload()
    if not name:
        raise APIError(400, "missing_name", "Name the file (multipart filename or \"name\"): it gives the id.")
    try:
        bid = bulletin_id(name)
    except ParseError as exc:
        raise APIError(400, "invalid_name", str(exc)) from None
    qa = context.qa()
    with qa.store.writer():
        if bid in qa.store.indexed():
            raise APIError(409, "bulletin_exists", f"Bulletin {bid!r} exists; replace it with PUT /api/v1/bulletins/{bid}.")
        if (waiting := _unindexed_file(bid)) is not None:
            raise APIError(409, "bulletin_exists", f"The file {waiting.name} in a bulletin folder already gives the id "
                           f"{bid!r} (it is indexed at the next start); rename the upload or remove that file.")
        bulletin, report = _publish(bid, name, data, None)
    return jsonify(_described(bulletin, report)), 201


@bp.put("/bulletins/<bulletin_id>")
def replace(bulletin_id: str):
    """Replace a bulletin's file (its format may change); the old text stops being cited at once."""
    name, data = _upload()
    qa = context.qa()
    with qa.store.writer():
        existing = qa.store.indexed().get(bulletin_id)
        if existing is None:
            raise APIError(404, "bulletin_not_found", "No bulletin with that id is indexed; publish it with POST.")
        bulletin, report = _publish(bulletin_id, name, data, existing)
    return jsonify(_described(bulletin, report))


@bp.delete("/bulletins/<bulletin_id>")
def delete(bulletin_id: str):
    """Remove a bulletin from the index, then its file."""
    qa = context.qa()
    with qa.store.writer():
        existing = qa.store.indexed().get(bulletin_id)
        if existing is None:
            raise APIError(404, "bulletin_not_found", "No bulletin with that id is indexed.")
        report = _settled(qa.store.apply(lambda indexed: {b: KEEP for b in indexed if b != bulletin_id}))
        source = Path(existing["source"])
        if source.suffix.lower() in FORMATS:
            source.unlink(missing_ok=True)
    return jsonify({"id": bulletin_id, "deleted": True, "index": report.summary()})

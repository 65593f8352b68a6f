"""Publishing bulletins: publish, replace and delete one, and list them, for the admin API and page alike.

One function per action, so the JSON API and the page cannot drift apart (datasette's HTML and .json views): they
add only how a request is read and how the result is shown. Every call validates the file completely before
anything is written (its type from the name's suffix, sniffed from its bytes only when the name has none that bqa
reads: the decision `bqa index` makes; a file that does not parse, holds no text or expands past the bulletin
limits is refused with the reason), checks that the disk keeps its reserve free with the file and the new index
generation written (else NoRoom, a 507), then indexes and registers it together under the writer lock
(`Registry.put`): a failed call changes nothing. A call returns only once every worker serves the change. The
original file is kept in the registry, not in a folder, so any process sharing the database can rebuild the index.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

from index.parse import LimitExceeded, ParseError, UnsupportedType, bulletin_id, file_suffix, parse
from index.retrieve import POINTER_MAX_AGE
from index.store import InsufficientStorage, StorageError
from service.db.base import Registered
from service.pipeline import BulletinQA

LIMIT_SETTINGS = {"pages": "BQA_MAX_BULLETIN_PAGES", "paragraphs": "BQA_MAX_BULLETIN_PARAGRAPHS",
                  "chars": "BQA_MAX_BULLETIN_CHARS"}


class Refused(Exception):
    """A publishing request that cannot be carried out; `code` is the stable machine-readable reason."""

    code = "refused"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code


class Unreadable(Refused):
    """The file is not a bulletin bqa can read (type, encoding, no text)."""

    code = "unparseable"


class Conflict(Refused):
    """The id is taken by another bulletin."""

    code = "bulletin_exists"


class NotFound(Refused):
    """No bulletin with that id."""

    code = "bulletin_not_found"


class NoRoom(Refused):
    """The disk lacks room for the change with the reserve left free, or a write failed on it; nothing changed."""

    code = "insufficient_storage"


@dataclass(frozen=True)
class Published:
    id: str
    title: str
    period: str | None
    sections: int
    paragraphs: int
    index: str  # the index run's summary


@dataclass(frozen=True)
class Listed:
    """A bulletin as the admin page lists it: what the index serves, and where it comes from."""

    id: str
    title: str
    period: str | None
    period_start: int  # 202103, for sorting; 0 when undated
    sections: int
    paragraphs: int
    origin: str | None  # see `service.db.base.Registered.origin`; None for a bulletin in no source
    name: str | None  # the original file name
    updated: float | None  # when the registry last took a new version


def id_for(name: str | None) -> str:
    """The bulletin id a file name gives; Refused when there is no name or it gives none."""
    if not name:
        raise Refused("Name the file: its name gives the bulletin's id.", "missing_name")
    try:
        return bulletin_id(name)
    except ParseError as exc:
        raise Refused(str(exc), "invalid_name") from None


def _parsed(qa: BulletinQA, bid: str, name: str | None, data: bytes):
    """(bulletin, file name kept): the whole file parsed, within the store's limits, before anything is written."""
    if not data.strip():
        raise Unreadable("The file is empty.", "empty_file")
    try:
        kept_as = f"{bid}{file_suffix(name, data)}"
        return parse(data, kept_as, source=f"published/{kept_as}", limits=qa.store.limits), kept_as
    except UnsupportedType as exc:
        raise Unreadable(f"The file is not a bulletin bqa reads ({exc}): send PDF, HTML, Markdown or UTF-8 text.",
                         "unsupported_type") from None
    except LimitExceeded as exc:
        raise Unreadable(f"The bulletin is too large to index: {exc} ({LIMIT_SETTINGS[exc.what]}).",
                         "bulletin_too_large") from None
    except ParseError as exc:
        raise Unreadable(f"The bulletin cannot be read: {exc}") from None


@contextmanager
def _storage(qa: BulletinQA, extra_bytes: int = 0):
    """Around a change to the index and the registry: refused before it starts when the disk would keep less than
    the reserve free with `extra_bytes` of file written; a write that fails on the disk is NoRoom too."""
    try:
        qa.store.ensure_space(extra_bytes=extra_bytes)
        yield
    except InsufficientStorage as exc:
        raise NoRoom(f"Not enough disk space: {exc}. Nothing was changed; free some space (or lower "
                     "BQA_DISK_RESERVE_BYTES).") from exc
    except StorageError as exc:
        raise NoRoom(f"The index could not be written (is the disk full?): {exc}. Nothing was changed.",
                     "storage_error") from exc


def _done(bulletin, report) -> Published:
    time.sleep(POINTER_MAX_AGE)  # every worker re-reads the served generation at least this often
    return Published(
        id=bulletin.id, title=bulletin.title, period=bulletin.period, sections=len(bulletin.sections),
        paragraphs=sum(len(s.paragraphs) for s in bulletin.sections), index=report.summary(),
    )


def _entry(qa: BulletinQA, bid: str) -> Registered | None:
    return qa.registry.entries().get(bid)


def publish(qa: BulletinQA, name: str | None, data: bytes) -> Published:
    """Publish a new bulletin; its id comes from the file name. A taken id is a Conflict: replace it instead."""
    bid = id_for(name)
    with qa.store.writer():
        entry = _entry(qa, bid)
        if entry is not None or bid in qa.store.indexed():
            where = f" (from {entry.path})" if entry is not None and entry.path else ""
            raise Conflict(f"Bulletin {bid!r} exists{where}; replace it instead.")
        waiting = None if any(e.id == bid for e in qa.db.registered()) else qa.registry.source_file(bid)
        if waiting is not None:
            raise Conflict(f"The file {waiting} in a bulletin folder already gives the id {bid!r} (it is indexed at "
                           "the next refresh); rename the upload or remove that file.")
        bulletin, kept_as = _parsed(qa, bid, name, data)
        with _storage(qa, len(data)):
            report = qa.registry.put(bulletin, kept_as, data)
        return _done(bulletin, report)


def replace(qa: BulletinQA, bid: str, name: str | None, data: bytes) -> Published:
    """Replace a bulletin's file (its format may change); the old text stops being cited at once. A bulletin from a
    folder becomes a published one: the file in the folder is then reported as a conflict until it is removed."""
    with qa.store.writer():
        if _entry(qa, bid) is None and bid not in qa.store.indexed():
            raise NotFound("No bulletin with that id is indexed; publish it instead.")
        bulletin, kept_as = _parsed(qa, bid, name, data)
        with _storage(qa, len(data)):
            report = qa.registry.put(bulletin, kept_as, data)
        return _done(bulletin, report)


def delete(qa: BulletinQA, bid: str) -> str:
    """Remove a bulletin from the index and the registry (one from a folder is remembered as removed, so its file
    is not indexed again); returns the index run's summary."""
    with qa.store.writer():
        if _entry(qa, bid) is None and bid not in qa.store.indexed():
            raise NotFound("No bulletin with that id is indexed.")
        with _storage(qa):
            change = qa.registry.remove([bid])
    time.sleep(POINTER_MAX_AGE)
    return change.index.summary()


def original(qa: BulletinQA, bid: str) -> tuple[str, bytes]:
    """(file name, bytes) of a registered bulletin's original file."""
    entry = _entry(qa, bid)
    if entry is None:
        raise NotFound("No bulletin with that id is registered.")
    return entry.name, qa.db.content(bid)


def listing(qa: BulletinQA) -> list[Listed]:
    """Every indexed bulletin, newest period first, with where it comes from."""
    corpus = qa.corpus()
    entries = qa.registry.entries()
    out = []
    for bulletin in (corpus.bulletins.values() if corpus is not None else ()):
        entry = entries.get(bulletin["id"])
        out.append(Listed(
            id=bulletin["id"], title=bulletin["title"], period=bulletin["period"],
            period_start=bulletin["period_start"] or 0, sections=len(bulletin["sections"]),
            paragraphs=sum(len(ids) for _, ids in bulletin["sections"]),
            origin=entry.origin if entry else None, name=entry.name if entry else None,
            updated=entry.updated if entry else None,
        ))
    return sorted(out, key=lambda b: (-b.period_start, b.id))


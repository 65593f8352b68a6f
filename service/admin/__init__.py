"""For the people who run bqa: the admin JSON API (`api`, Bearer token) and the admin page (`pages`, a signed-in
session with CSRF tokens, `session`), both around the same calls (`service.publish`, `service.gaps`, the database's
feedback), so the page and the API cannot drift apart. Here: how both read the query of a listing.

Import rule: `api` and `pages` import this package and the service's middle layer, never each other.
"""

from __future__ import annotations

from typing import Mapping

from service import publish
from service.db.base import RATINGS, SQL_MAX_INT, FeedbackQuery
from service.web import context

FEEDBACK_SOURCES = ("widget", "slack", "api")
MAX_PAGE = 1000  # rows per listing request
GAP_DAYS = 90  # default window of the content-gap report: about one quarter of monthly bulletins
MAX_GAP_DAYS = 3650  # the longest window a report may ask for: ten years
MAX_GAP_QUESTIONS = 2000  # questions clustered per report: the O(n²) similarity matrix stays under 16 MB


STATUS = {publish.Unreadable: 422, publish.Conflict: 409, publish.NotFound: 404, publish.NoRoom: 507,
          publish.Refused: 400}


def status_of(refused: publish.Refused) -> int:
    """The HTTP status of a refused publishing request: 422 unreadable, 409 conflict, 404 unknown id, 507 no room
    on the disk, else 400."""
    return next(status for kind, status in STATUS.items() if isinstance(refused, kind))


def described(done: publish.Published) -> dict:
    """The JSON of a published bulletin, as the API and the page's upload script receive it."""
    return {
        "id": done.id, "title": done.title, "period": done.period, "sections": done.sections,
        "paragraphs": done.paragraphs, "url": context.source_url(done.id), "index": done.index,
    }


class BadQuery(ValueError):
    """A listing's query string holds a value it cannot take; `code` names which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _whole(args: Mapping[str, str], name: str, default: int, low: int, high: int, code: str) -> int:
    raw = args.get(name) or ""
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadQuery(code, f"\"{name}\" must be a whole number from {low} to {high}.")
    return value


def feedback_query(args: Mapping[str, str], limit: int = 100) -> FeedbackQuery:
    """The feedback listing's filters: `rating` (up, down), `source` (widget, slack, api), `q` (words), paging."""
    rating = args.get("rating") or None
    if rating is not None and rating not in RATINGS:
        raise BadQuery("invalid_rating", f"\"rating\" must be one of {', '.join(RATINGS)}.")
    source = args.get("source") or None
    if source is not None and source not in FEEDBACK_SOURCES:
        raise BadQuery("invalid_source", f"\"source\" must be one of {', '.join(FEEDBACK_SOURCES)}.")
    text = (args.get("q") or "").strip() or None
    return FeedbackQuery(
        rating=rating, source=source, text=text,
        limit=_whole(args, "limit", limit, 1, MAX_PAGE, "invalid_page"),
        offset=_whole(args, "offset", 0, 0, SQL_MAX_INT, "invalid_page"),
    )


def gap_window(args: Mapping[str, str]) -> dict:
    """`days` (how far back, default GAP_DAYS) and `limit` (questions clustered, newest first)."""
    return {
        "days": _whole(args, "days", GAP_DAYS, 1, MAX_GAP_DAYS, "invalid_days"),
        "limit": _whole(args, "limit", MAX_GAP_QUESTIONS, 1, MAX_GAP_QUESTIONS, "invalid_limit"),
    }

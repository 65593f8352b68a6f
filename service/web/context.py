"""How request handlers reach what the app factory built, and how they spell links back to the service.

`create_app` is the only place that decides which `BulletinQA` and which `Config` an app serves; views read them
from the application here instead of importing module-level globals, so tests (and several apps in one process)
never share state by accident.
"""

from __future__ import annotations

import hmac

from flask import current_app, request, url_for

from service.config import Config
from service.web.errors import APIError
from service.pipeline import BulletinQA

EXTENSION = "bqa"
CONFIG_KEY = "BQA_CONFIG"
# Paragraphs on one page of a bulletin's source view (and of GET /api/v1/bulletins/<id>). Both are public: a bulletin
# of 90,000 paragraphs once made a 17.9 MB page costing a second of CPU per GET. Ordinary bulletins fit on one page.
PARAGRAPHS_PER_PAGE = 500

Sections = list[tuple[str, list[str]]]  # [(section title, [paragraph ids])], as `Corpus.bulletins` holds them


def qa() -> BulletinQA:
    return current_app.extensions[EXTENSION]


def config() -> Config:
    return current_app.config[CONFIG_KEY]


def absolute(path: str) -> str:
    """`path` (as `url_for` returns it, below the app's root) as the absolute URL a user can follow.

    The base is `Config.public_url` when it is set, because behind a proxy the request's own host is an internal
    address; otherwise it is the address the request came in on. `public_url` names the app's root, so the
    script root a WSGI server may have mounted the app under is not repeated after it.
    """
    base = (config().public_url or "").rstrip("/")
    if not base:
        return request.host_url.rstrip("/") + path
    root = request.script_root
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):] or "/"
    return base + path


def source_url(bulletin_id: str, paragraph_id: str | None = None) -> str:
    """Absolute URL of the source view of a bulletin, pointing at one paragraph (on its page) when given."""
    number = 1
    if paragraph_id is not None:
        corpus = qa().searcher.corpus()
        found = corpus.bulletins.get(bulletin_id) if corpus is not None else None
        number = page_of(found["sections"], paragraph_id) if found else 1
    arguments = {"page": number} if number > 1 else {}
    return absolute(url_for("views.bulletin", bulletin_id=bulletin_id, _anchor=paragraph_id, **arguments))


def page_count(sections: Sections) -> int:
    return max(1, -(-sum(len(ids) for _, ids in sections) // PARAGRAPHS_PER_PAGE))


def page_number(raw: str | None, pages: int) -> int | None:
    """The page a `?page=` argument asks for (absent: the first), or None when it names no page there is."""
    raw = raw or "1"
    number = int(raw) if raw.isascii() and raw.isdigit() else 0
    return number if 1 <= number <= pages else None


def page_of(sections: Sections, paragraph_id: str) -> int:
    """The page of the source view that shows `paragraph_id` (1 when it is not in the bulletin)."""
    if page_count(sections) == 1:
        return 1
    position = 0
    for _, ids in sections:
        if paragraph_id in ids:
            return (position + ids.index(paragraph_id)) // PARAGRAPHS_PER_PAGE + 1
        position += len(ids)
    return 1


def on_page(sections: Sections, number: int) -> Sections:
    """The sections on page `number` (from 1), each with only its paragraphs on that page; a section cut by a
    page break appears on both pages."""
    start, end = (number - 1) * PARAGRAPHS_PER_PAGE, number * PARAGRAPHS_PER_PAGE
    shown, position = [], 0
    for title, ids in sections:
        part = ids[max(start - position, 0):max(end - position, 0)]
        if part:
            shown.append((title, part))
        position += len(ids)
    return shown


def require_admin() -> None:
    """Refuse the request unless it carries `Authorization: Bearer <BQA_ADMIN_TOKEN>` (compared in constant time)."""
    token = config().admin_token
    if not token:
        raise APIError(503, "admin_disabled", "Admin endpoints are off: set BQA_ADMIN_TOKEN to enable them.")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise APIError(401, "unauthorized", "Send the admin token as Authorization: Bearer <token>.")

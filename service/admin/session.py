"""The admin page's sign-in session and CSRF tokens.

Signing in with BQA_ADMIN_TOKEN sets one cookie, `bqa_admin`: HttpOnly (no script reads it), SameSite=Strict (no
other site's page sends it), Secure when the page is served over https (the request's scheme, as a trusted proxy
reports it, or BQA_PUBLIC_URL's), scoped to /admin and signed with a key derived from the token (itsdangerous), so
changing the token signs everybody out. It expires after SESSION_MAX_AGE_S. It carries a random CSRF token that every
form of the page repeats in a hidden field (and the upload script in the X-CSRF-Token header): the synchronizer
token pattern of OWASP's CSRF cheat sheet, on top of SameSite. The sign-in form has a token too, from a cookie the
sign-in page sets before anyone signs in (login CSRF), and signing in issues a fresh one (session fixation).
Sessions are stateless: signing out deletes the cookie in that browser; a copy taken before is refused only once it
expires or the token changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import Response, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.web import context

COOKIE = "bqa_admin"
PATH = "/admin"
SESSION_MAX_AGE_S = 8 * 3600  # a working day; then sign in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    signed_in: bool
    csrf: str
    notice: str | None = None  # one message for the next page shown ("Deleted …")


def _serializer() -> URLSafeTimedSerializer:
    token = context.config().admin_token or ""
    key = hmac.new(token.encode(), b"bqa admin session", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt="bqa-admin-session")


def current() -> Session:
    """The request's session; a new signed-out one (with a fresh CSRF token) when it has none or it is invalid."""
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer().loads(raw, max_age=SESSION_MAX_AGE_S)
            return Session(bool(data.get("in")), str(data["csrf"]), data.get("notice"))
        except (BadSignature, KeyError, TypeError, AttributeError):
            pass
    return Session(False, secrets.token_urlsafe(32))


def signed_in_fresh() -> Session:
    return Session(True, secrets.token_urlsafe(32))


def token_matches(given: str) -> bool:
    """Whether `given` is BQA_ADMIN_TOKEN, compared in constant time."""
    token = context.config().admin_token or ""
    return bool(token) and hmac.compare_digest(given.strip().encode(), token.encode())


def csrf_ok(session: Session) -> bool:
    """Whether the request repeats the session's CSRF token (form field or header)."""
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return hmac.compare_digest(given.encode(), session.csrf.encode())


def _secure() -> bool:
    public = context.config().public_url or ""
    return request.is_secure or public.startswith("https://")


def save(response: Response, session: Session | None) -> Response:
    """Write `session` into the response's cookie, or delete the cookie when it is None."""
    if session is None:
        response.delete_cookie(COOKIE, path=PATH, secure=_secure(), httponly=True, samesite="Strict")
        return response
    value = _serializer().dumps({"in": session.signed_in, "csrf": session.csrf, "notice": session.notice})
    response.set_cookie(COOKIE, value, max_age=SESSION_MAX_AGE_S, path=PATH, secure=_secure(), httponly=True,
                        samesite="Strict")
    return response

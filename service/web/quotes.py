"""Citation links that name the quoted span (`?hl=<paragraph id>:<start>-<end>`), so the source view highlights
the sentence itself.

Plain URL arithmetic, without Flask: `bqa ask` and `bqa chat` print these links too, and a cold `bqa ask` should not
import a web framework it does not use.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

QUOTE_PARAM = "hl"  # ?hl=<paragraph id>:<start>-<end>, the quoted span in characters of the paragraph's text
_SPAN = re.compile(r"(.+):([0-9]{1,7})-([0-9]{1,7})")


def quote_url(citation: dict) -> str:
    """The citation's source URL, naming the quoted span so that the source view highlights the sentence itself.

    Paragraph ids are hashes of the paragraph's text, so the offsets stay right for as long as the id resolves.
    A quote that is not found in its paragraph (or a URL that already names a span) leaves the URL as it is.
    """
    url, quote, text = citation.get("url") or "", citation.get("quote") or "", citation.get("text") or ""
    start = text.find(quote) if quote else -1
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if start < 0 or any(name == QUOTE_PARAM for name, _ in query):
        return url
    span = f"{citation['paragraph_id']}:{start}-{start + len(quote)}"
    return urlunsplit(parts._replace(query=urlencode([*query, (QUOTE_PARAM, span)], safe=":")))


def with_quote_urls(citations: list[dict]) -> list[dict]:
    """`citations` (as the pipeline returns or history stores them) with `quote_url` as their URLs."""
    return [{**citation, "url": quote_url(citation)} for citation in citations]


def quoted_span(value: str | None) -> tuple[str, int, int] | None:
    """(paragraph id, start, end) from the value of a `QUOTE_PARAM`, or None when it does not name a span."""
    match = _SPAN.fullmatch(value or "")
    if match is None:
        return None
    start, end = int(match.group(2)), int(match.group(3))
    return (match.group(1), start, end) if start < end else None

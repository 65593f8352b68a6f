"""Pages for people, and the health check for machines.

The source view `/bulletins/<id>` is where every citation URL points: each paragraph carries its id as the HTML
id, so the URL fragment of a citation lands on the paragraph quoted, and the URL's `hl` (paragraph:start-end,
see `quotes.quote_url`) names the quoted span, which is marked up on the server (`<mark>`), so the reader's eye
goes to the sentence rather than the whole paragraph, with no script (the CSP allows none inline). The
bulletin's title and the current section stay in view (CSS sticky), and a link leads back to where the reader
came from: the page that embeds the widget (`?from=`, which the widget adds) or the referring page, but only
when it is on a site this service works with (BQA_ALLOWED_ORIGINS or its own), never one anyone can put in a link.
Text from bulletins and from URLs only ever reaches the page through Jinja's autoescaping, and the chat widget
on `/` writes answers with `textContent`, so a bulletin cannot inject markup into the page that shows it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, render_template, request, url_for

from service.web import context, quotes
from service.web.security import allowed_origins, normalize_origin

log = logging.getLogger(__name__)

bp = Blueprint("views", __name__)


@bp.get("/healthz")
def healthz():
    """200 while an index is served; 503 otherwise, so a load balancer keeps traffic away until `bqa index` ran."""
    qa = context.qa()
    index = {"generation": None, "bulletins": 0, "paragraphs": 0}
    try:
        corpus = qa.corpus()
    except Exception:  # the store is unreachable: report it, the monitor decides what to do
        log.exception("health check could not read the index")
        return jsonify({"status": "unavailable", "index": index, "answerer": qa.active_answerer}), 503
    if corpus is not None:
        index = {
            "generation": corpus.generation, "bulletins": len(corpus.bulletins), "paragraphs": len(corpus.paragraphs),
        }
    status = "ok" if index["paragraphs"] else "no_index"
    return jsonify({"status": status, "index": index, "answerer": qa.active_answerer}), 200 if status == "ok" else 503


@bp.get("/")
def index():
    """The demo page: the bulletins, and the chat widget embedded with the very tag a site owner pastes.

    The tag uses absolute URLs, as on a third-party site, so what the page shows under "Embed it" is exactly what
    it runs; here the widget is same-origin, which also proves it works under this app's strict CSP.
    """
    corpus = context.qa().corpus()
    bulletins = list(corpus.bulletins.values()) if corpus is not None else []
    return render_template(
        "index.html",
        bulletins=bulletins,
        widget_src=context.absolute(url_for("widget.script")),
        api_base=context.absolute(url_for("views.index")).rstrip("/"),
    )


@bp.get("/bulletins/<bulletin_id>")
def bulletin(bulletin_id: str):
    corpus = context.qa().corpus()
    found = corpus.bulletins.get(bulletin_id) if corpus is not None else None
    if found is None:
        return render_template("not_found.html", message=f"No bulletin “{bulletin_id}” is indexed."), 404
    pages = context.page_count(found["sections"])
    number = context.page_number(request.args.get("page"), pages)
    if number is None:
        return render_template("not_found.html", message=f"“{found['title']}” has {pages} page(s)."), 404
    span = quotes.quoted_span(request.args.get(quotes.QUOTE_PARAM))
    sections = []
    for title, ids in context.on_page(found["sections"], number):
        paragraphs = []
        for pid in ids:
            text = corpus.paragraphs[pid].text
            paragraph = {"id": pid, "n": corpus.paragraphs[pid].metadata["ordinal"], "text": text}
            if span is not None and span[0] == pid and span[2] <= len(text):
                start, end = span[1:]
                paragraph.update(before=text[:start], quote=text[start:end], after=text[end:])
            paragraphs.append(paragraph)
        sections.append({"title": title, "paragraphs": paragraphs})
    return render_template("bulletin.html", bulletin=found, sections=sections, back=back_link(), page=number,
                           pages=pages)


def back_link() -> dict | None:
    """{"href", "label"} of the page the reader came from, when it is on a site this service works with: an
    embedding site, or this service as the reader reached it (a link, not a CORS grant, so the Host may say)."""
    here = request.base_url
    sites = allowed_origins() | {normalize_origin(request.host_url)}
    for candidate in (request.args.get("from"), request.referrer):
        if not candidate:
            continue
        parts = urlsplit(candidate)
        page = parts._replace(fragment="").geturl()
        if normalize_origin(candidate) in sites and page.split("?")[0] != here:
            return {"href": page, "label": parts.netloc}
    return None

"""The pages for people (home, source view, 404) and the health check, over the indexed seed corpus."""

from __future__ import annotations

import re
from html import unescape as html_unescape
from dataclasses import replace
from urllib.parse import quote

import pytest
from flask import render_template
from markupsafe import escape

from service.app import create_app
from service.pipeline import BulletinQA

BULLETIN = "unoct-highlights-2021-03"


# --- health ---------------------------------------------------------------------------------------------------


def test_healthz_reports_the_served_index(client, qa):
    response = client.get("/healthz")
    assert response.status_code == 200
    corpus = qa.corpus()
    assert response.get_json() == {
        "status": "ok",
        "index": {"generation": qa.store.active_name(), "bulletins": 1, "paragraphs": len(corpus.paragraphs)},
        "answerer": "extractive",
    }


def test_healthz_is_503_without_an_index(config, tmp_path):
    client = create_app(qa=BulletinQA.from_config(replace(config, data_dir=tmp_path / "data"))).test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "no_index",
        "index": {"generation": None, "bulletins": 0, "paragraphs": 0},
        "answerer": "extractive",
    }
    page = client.get("/")
    assert page.status_code == 200
    assert "No bulletins are indexed yet" in page.get_data(as_text=True)
    assert client.get(f"/bulletins/{BULLETIN}").status_code == 404


# --- the source view ------------------------------------------------------------------------------------------


def test_source_view_shows_every_section_and_paragraph(client, qa):
    response = client.get(f"/bulletins/{BULLETIN}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    corpus = qa.corpus()
    bulletin = corpus.bulletins[BULLETIN]
    assert f"<h1>{escape(bulletin['title'])}</h1>" in html
    assert "March 2021" in html
    assert re.findall(r"<h2>(.*?)</h2>", html) == [str(escape(title)) for title, _ in bulletin["sections"]]
    ids = re.findall(r'<p id="([^"]+)" class="paragraph">', html)
    assert ids == corpus.order
    for pid in corpus.order:
        node = corpus.paragraphs[pid]
        marker = f'<a class="pilcrow" href="#{pid}" title="Link to this paragraph">¶{node.metadata["ordinal"]}</a>'
        assert marker in html
        assert str(escape(node.text)) in html


def test_cited_paragraph_is_highlighted_by_css_target(client):
    html = client.get(f"/bulletins/{BULLETIN}").get_data(as_text=True)
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)">', html).group(1)
    css = client.get(stylesheet)
    assert css.status_code == 200
    assert re.search(r"\.paragraph:target\s*\{[^}]*background", css.get_data(as_text=True))


def test_unknown_bulletin_is_an_html_404(client):
    response = client.get("/bulletins/no-such-bulletin")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "No bulletin “no-such-bulletin” is indexed." in response.get_data(as_text=True)


def test_404_page_escapes_the_id_from_the_url(client):
    hostile = '<img src=x onerror=alert(1)>"<script>alert(2)<'
    response = client.get("/bulletins/" + quote(hostile, safe=""))
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<img src=x" not in html
    assert "<script>alert" not in html
    assert str(escape(hostile)) in html


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


def test_bulletin_template_escapes_bulletin_text(app):
    """Text parsed from a bulletin reaches the page escaped, wherever it appears."""
    evil = '<script>alert("x")</script>'
    with app.test_request_context("/"):
        html = render_template(
            "bulletin.html",
            bulletin={"id": "b", "title": evil, "period": evil},
            sections=[{"title": evil, "paragraphs": [{"id": 'p"><script>', "n": 1, "text": evil}]}],
        )
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 4
    assert 'id="p&#34;&gt;&lt;script&gt;"' in html


# --- the home page --------------------------------------------------------------------------------------------


def test_home_lists_bulletins_and_embeds_the_widget_as_a_site_would(client, qa):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    title = qa.corpus().bulletins[BULLETIN]["title"]
    assert f'<a href="/bulletins/{BULLETIN}">{escape(title)}</a>' in html
    tag = '<script src="http://localhost/widget.js" data-bqa-api="http://localhost" data-title="Ask the bulletins" defer></script>'
    assert tag in html  # run, with the absolute URLs another site uses
    assert str(escape(tag)) in html  # and shown, to copy
    js = client.get("/widget.js")
    assert js.status_code == 200
    source = js.get_data(as_text=True)
    assert "textContent" in source
    assert "innerHTML" not in source and "outerHTML" not in source and "insertAdjacentHTML" not in source


@pytest.mark.parametrize("path", ["/", f"/bulletins/{BULLETIN}", "/bulletins/no-such-bulletin"])
def test_pages_load_nothing_from_elsewhere_and_forbid_inline_scripts(client, path):
    response = client.get(path)
    html = response.get_data(as_text=True)
    for attribute in re.findall(r'(?:src|href)="([^"]*)"', html):
        # The home page embeds the widget by absolute URL, as other sites do; it is still this origin.
        assert not re.match(r"(?:[a-z]+:)?//", attribute) or attribute.startswith("http://localhost/"), attribute
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- the quoted span, and the way back ------------------------------------------------------------------------


def cited(client) -> dict:
    answer = client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}).get_json()
    return next(c for c in answer["citations"] if "India ($500,000)" in c["quote"])


def test_the_quoted_span_is_marked_inside_its_paragraph(client):
    citation = cited(client)
    html = client.get(citation["url"]).get_data(as_text=True)
    assert html.count("<mark") == 1
    paragraph = re.search(rf'<p id="{citation["paragraph_id"]}" class="paragraph cited">(.*?)</p>', html, re.S)
    assert paragraph, "the cited paragraph is marked as such"
    marked = re.search(r'<mark class="quote">(.*?)</mark>', paragraph.group(1), re.S).group(1)
    assert marked == str(escape(citation["quote"]))
    shown = html_unescape(re.sub(r"<[^>]+>", "", paragraph.group(1)))
    assert " ".join(shown.split()).endswith(" ".join(citation["text"].split()))  # the whole paragraph, mark inside
    assert citation["quote"] != citation["text"]  # so marking the quote is not marking the paragraph


@pytest.mark.parametrize(
    "hl", ["nonsense", "p-x:0-10", "{pid}:10-5", "{pid}:0-999999", "{pid}:-1-4", "{pid}:5-5", ""],
)
def test_a_span_that_names_nothing_marks_nothing(client, hl):
    citation = cited(client)
    response = client.get(f"/bulletins/{BULLETIN}", query_string={"hl": hl.format(pid=citation["paragraph_id"])})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<mark" not in html and str(escape(citation["text"])) in html


def test_the_source_view_links_back_to_the_embedding_page_of_an_allowed_site(config, qa):
    client = create_app(replace(config, allowed_origins=("https://www.example.org",)), qa=qa).test_client()
    page = "https://www.example.org/news/2021/march"
    html = client.get(f"/bulletins/{BULLETIN}", query_string={"from": page}).get_data(as_text=True)
    assert f'<a class="back" href="{page}">← Back to www.example.org</a>' in html
    for elsewhere in ("https://evil.example/phish", "javascript:alert(1)", "//www.example.org.evil.example/"):
        html = client.get(f"/bulletins/{BULLETIN}", query_string={"from": elsewhere}).get_data(as_text=True)
        assert 'class="back"' not in html, elsewhere
    from_home = client.get(f"/bulletins/{BULLETIN}", headers={"Referer": "http://localhost/"}).get_data(as_text=True)
    assert '<a class="back" href="http://localhost/">← Back to localhost</a>' in from_home
    itself = client.get(f"/bulletins/{BULLETIN}", headers={"Referer": f"http://localhost/bulletins/{BULLETIN}"})
    assert 'class="back"' not in itself.get_data(as_text=True)  # a reload is not somewhere to go back to

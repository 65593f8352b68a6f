"""The chat widget: its files and endpoints over HTTP, then the widget itself in a real browser (Debian's Chromium,
driven by Playwright) against the real app on a loopback port, embedded by a separate "third-party" site on
another port exactly as the README tells site owners to; and the source view its citations open.

The widget is checked at 1280×800 and 390×844, in the light and the dark theme: the citation popover inside the
viewport (and flipped above its chip near the bottom edge), chip labels whole, copy, stop, the message a site
that is not allowed gets, the quote highlighted on the source view, and axe-core (shipped in the PyPI package
axe-playwright-python) finding no WCAG 2.1 A/AA violation. Every wait is on a state of the page (Playwright's
`expect`), never a sleep. Screenshots are saved under the test's tmp dir.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.conftest import PANEL_QUESTION, assert_accessible, free_port
from service.app import create_app
from service.db.base import FeedbackQuery
from service.widget import bundle


ANSWER_TIMEOUT = 90_000  # ms: the first question of a session also warms the embedding model up
HIGHLIGHT = {"light": "rgb(255, 244, 194)", "dark": "rgb(90, 71, 0)"}  # --highlight in style.css: the quote
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LOOKS = [pytest.param(size, theme, id=f"{size}-{theme}") for size in VIEWPORTS for theme in ("light", "dark")]

# The third-party page: its own hostile-ish styles (which must not reach the widget), a link before the widget
# (so Tab has somewhere to start), and the embed tag from the README.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example News</title>
<style>
  body {{ font: 22px/3 Georgia, serif; color: #900; margin: 2rem; }}
  button {{ display: none !important; }}
  div, p {{ border: 3px solid lime; }}
</style></head>
<body>
  <h1>Example News</h1>
  <p><a href="#top">Top stories</a></p>
  <p>Read the bulletins, or ask them.</p>
  <script src="{script}/widget.js" data-bqa-api="{api}" data-title="Ask the bulletins"{theme} defer></script>
</body></html>
"""


def serve_page(api_holder: dict) -> ThreadingHTTPServer:
    """A tiny site on its own port whose one page embeds the widget of `api_holder["api"]` (its script from
    `api_holder["script"]` when given), with the data-theme of its `?theme=`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            theme = parse_qs(urlsplit(self.path).query).get("theme", [""])[0]
            attribute = f' data-theme="{theme}"' if theme in ("dark", "light") else ""
            script = api_holder.get("script", api_holder["api"])
            body = PAGE.format(api=api_holder["api"], script=script, theme=attribute).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output quiet
            pass

    return start(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


def start(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_port}"


@contextmanager
def site_and_app(config, qa, **settings):
    """(app URL, URL of a site allowed to embed it, URL of a site that is not), all on loopback ports."""
    holder: dict = {}
    site, other_site = serve_page(holder), serve_page(holder)
    app = create_app(replace(config, allowed_origins=(url(site),), **settings), qa=qa)
    server = start(make_server("127.0.0.1", 0, app, threaded=True))
    holder["api"] = url(server)
    try:
        yield url(server), url(site), url(other_site)
    finally:
        for running in (server, site, other_site):
            running.shutdown()


@pytest.fixture(scope="module")
def servers(config, qa):
    with site_and_app(config, qa) as urls:
        yield urls


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- the files and the endpoint, over HTTP ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(config, qa):
    return create_app(config, qa=qa).test_client()


def test_the_embed_address_is_cached_briefly_and_revalidated(client):
    version = bundle()[0]
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    source = response.get_data(as_text=True)
    assert f'var VERSION = "{version}";' in source and "__BQA_WIDGET_VERSION__" not in source
    assert client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/widget.js", "/widget.css"])
def test_versioned_addresses_are_cached_for_good(client, path):
    version = bundle()[0]
    pinned = client.get(f"{path}?v={version}")
    assert pinned.status_code == 200
    assert set(pinned.headers["Cache-Control"].split(", ")) == {"public", "max-age=31536000", "immutable"}
    assert pinned.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    stale = client.get(f"{path}?v=0ld")  # an old version's address now serves new content: not for a year
    assert stale.headers["Cache-Control"] == "public, max-age=300"


def test_suggestions_are_derived_from_the_corpus(client):
    body = client.get("/api/v1/suggestions").get_json()
    assert body["source"] == "corpus"
    assert body["suggestions"][0] == "What happened in March 2021?"
    assert "What did the UN Counter-Terrorism Centre do?" in body["suggestions"]  # UNCCT: the most mentioned
    assert not any("FTFs" in q or "countering the financing" in q for q in body["suggestions"])
    assert 1 < len(body["suggestions"]) <= 4


def test_suggestions_can_be_configured(config, qa):
    questions = ("Who funded CT Travel in March?", "What did Canada fund in March?")
    client = create_app(replace(config, suggestions=questions), qa=qa).test_client()
    assert client.get("/api/v1/suggestions").get_json() == {"suggestions": list(questions), "source": "config"}


def test_the_stream_names_the_turn_feedback_rates(client):
    body = client.post("/api/v1/ask/stream", json={"question": "Who funded CT Travel in March?"}).get_data(as_text=True)
    citations = next(block for block in body.split("\n\n") if "\nevent: citations\n" in block)
    assert json.loads(citations.split("data: ", 1)[1])["turn"] == 1




def test_origin_says_whether_the_calling_site_may_use_the_api(config, qa):
    client = create_app(replace(config, allowed_origins=("https://www.example.org",)), qa=qa).test_client()
    allowed = client.get("/api/v1/origin", headers={"Origin": "https://www.example.org"})
    assert allowed.get_json() == {"origin": "https://www.example.org", "allowed": True}
    refused = client.get("/api/v1/origin", headers={"Origin": "https://elsewhere.example"})
    assert refused.status_code == 200 and refused.get_json() == {"origin": "https://elsewhere.example", "allowed": False}
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # readable by the refused page, and only this
    assert "no-store" in refused.headers["Cache-Control"]
    assert client.get("/api/v1/origin").get_json() == {"origin": None, "allowed": True}  # not a cross-origin call
    ask = client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"},
                      headers={"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in ask.headers  # the API itself still grants that site nothing

# --- helpers --------------------------------------------------------------------------------------------------


class Widget:
    """The widget as a user meets it, located inside its shadow root (Playwright's CSS pierces open ones)."""

    def __init__(self, page):
        self.page = page
        self.root = page.locator("bqa-widget")
        self.launcher = self.root.locator(".launcher")
        self.panel = self.root.get_by_role("dialog")
        self.input = self.root.get_by_label("Your question")
        self.messages = self.root.locator('[role="log"] .msg')
        self.answers = self.root.locator('[role="log"] .msg.bot[data-answerable]')  # finished ones only

    def open(self):
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def ask(self, question: str):
        """Ask and wait until the answer has finished streaming; the answer's message."""
        done = self.answers.count()
        self.input.fill(question)
        self.input.press("Enter")
        expect(self.answers).to_have_count(done + 1, timeout=ANSWER_TIMEOUT)
        return self.answers.nth(done)

    def shadow_focus(self) -> str | None:
        """The class of the element focused inside the widget, or None when the focus is elsewhere."""
        return self.page.evaluate(
            """() => { const host = document.querySelector('bqa-widget');
                       const active = host && host.shadowRoot.activeElement;
                       return document.activeElement === host && active ? (active.id || active.className) : null; }"""
        )


def open_site(page, url: str) -> Widget:
    page.goto(url)
    widget = Widget(page)
    expect(widget.launcher).to_be_visible()
    return widget


@contextmanager
def looking(browser, site: str, size: str, theme: str):
    """A page at one of the two sizes, its system in `theme`, allowed to use the clipboard on `site`."""
    context = browser.new_context(viewport=VIEWPORTS[size], color_scheme=theme, is_mobile=size == "phone",
                                  has_touch=size == "phone")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def box_inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def open_popover(page, widget: Widget, answer) -> str:
    """Open the answer's first source and check where its popover is: inside the viewport and the panel, beside
    its chip (never over it). Returns the side it opened on, "below" or "above"."""
    chip = answer.locator(".chip").first
    chip.click()
    popover = answer.locator(".popover")
    expect(popover).to_be_visible()
    expect(chip).to_have_attribute("aria-expanded", "true")
    size = page.viewport_size
    box, chip_box = popover.bounding_box(), chip.bounding_box()
    assert box_inside(box, {"x": 0, "y": 0, **size}), (box, size)
    assert box_inside(box, widget.panel.bounding_box())
    side = popover.get_attribute("data-side")
    if side == "below":
        assert box["y"] >= chip_box["y"] + chip_box["height"]
    else:
        assert side == "above" and box["y"] + box["height"] <= chip_box["y"]
    return side


def assert_chip_labels_whole(widget: Widget, answer) -> None:
    """Chip labels wrap inside the panel rather than being cut, in type no smaller than 12 px."""
    panel = widget.panel.bounding_box()
    for chip in answer.locator(".chip").all():
        label = chip.locator(".src")
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1")
        assert label.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 12
        assert label.inner_text() == "UNOCT Highlights, March 2021"
        assert box_inside(chip.bounding_box(), panel)


# --- tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "theme"), LOOKS)
def test_sources_copy_and_the_source_view_at_every_size_in_both_themes(servers, browser, size, theme, tmp_path):
    api, site, _ = servers
    with looking(browser, site, size, theme) as page:
        widget = open_site(page, site)
        expect(widget.root.locator(".root")).to_have_attribute("data-theme", theme)  # the system's choice
        widget.open()
        expect(widget.root.locator(".suggestion").first).to_be_visible()
        assert_accessible(page)

        first = widget.ask("Who funded CT Travel in March?")
        assert_chip_labels_whole(widget, first)
        assert open_popover(page, widget, first) == "below"  # room enough under the first answer
        assert_accessible(page)  # with the popover open
        page.keyboard.press("Escape")
        expect(first.locator(".popover")).to_be_hidden()

        first.get_by_role("button", name="Copy answer and sources").click()
        expect(first.locator(".thanks")).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        answer_text, _, sources = copied.partition("\n\nSources:\n")
        assert answer_text == first.locator(".bubble").inner_text().strip() and "India" in answer_text
        assert re.match(
            rf"\[1\] UNOCT Highlights, March 2021 · Highlights: {api}/bulletins/unoct-highlights-2021-03\?hl=p-\w+:\d+-\d+#p-\w+$",
            sources.splitlines()[0],
        ), sources

        # The latest answer sits at the bottom edge: its popover opens above the chip.
        questions = iter(["How much did they give?", "Who funded the Gender and Identities Platform?",
                          "What did Canada fund in March?", "Who funded CT Travel in March?"])
        scroller = widget.root.locator(".scroll")
        last = first
        while scroller.evaluate("s => s.scrollHeight <= s.clientHeight"):
            last = widget.ask(next(questions))
        assert open_popover(page, widget, last) == "above"
        page.screenshot(path=tmp_path / f"widget-{size}-{theme}.png")
        quote = last.locator(".popover blockquote").inner_text()

        with page.context.expect_page() as opened:
            last.locator(".popover").get_by_role("link").click()
        source = opened.value
        source.wait_for_load_state()
        assert source.url.startswith(f"{api}/bulletins/unoct-highlights-2021-03?")
        check_source_view(source, quote, site, theme, tmp_path / f"source-{size}-{theme}.png")


def check_source_view(source, quote: str, site: str, theme: str, screenshot: Path) -> None:
    """The quoted sentence, not its whole paragraph, highlighted and in view; the title and section kept in view
    while scrolling; a link back to the page the reader came from; contrast clean."""
    mark = source.locator("mark.quote")
    expect(mark).to_have_count(1)
    expect(mark).to_have_text(quote)
    expect(mark).to_be_in_viewport()
    assert mark.evaluate("m => getComputedStyle(m).backgroundColor") == HIGHLIGHT[theme]
    paragraph = source.locator(":target")
    expect(paragraph).to_contain_text(quote)
    assert paragraph.evaluate("p => getComputedStyle(p).backgroundColor") == "rgba(0, 0, 0, 0)"
    head = source.locator(".bulletin-head")
    assert mark.bounding_box()["y"] >= head.bounding_box()["y"] + head.bounding_box()["height"]  # not under it
    back = source.locator("a.back")
    expect(back).to_have_attribute("href", site + "/")
    expect(back).to_have_text(f"← Back to {urlsplit(site).netloc}")
    assert_accessible(source, within=None)
    source.screenshot(path=screenshot)

    source.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    expect(head).to_be_in_viewport()
    assert head.bounding_box()["y"] == 0  # the title stays at the top
    headings = source.locator(".bulletin h2").all()
    stuck = [h for h in headings if abs(h.bounding_box()["y"] - head.bounding_box()["height"]) < 1]
    assert len(stuck) >= 1  # the current section's heading, right under the title
    expect(source.locator(".bulletin-head h1")).to_be_in_viewport()


@pytest.mark.parametrize(("system", "tag"), [("light", "dark"), ("dark", "light")])
def test_the_script_tags_theme_overrides_the_system(servers, browser, system, tag):
    site = servers[1]
    with looking(browser, site, "desktop", system) as page:
        widget = open_site(page, f"{site}/?theme={tag}")
        expect(widget.root.locator(".root")).to_have_attribute("data-theme", tag)
        widget.open()
        expect(widget.root.locator(".suggestion").first).to_be_visible()
        surface = widget.panel.evaluate("p => getComputedStyle(p).backgroundColor")
        assert surface == {"light": "rgb(255, 255, 255)", "dark": "rgb(31, 34, 39)"}[tag]
        assert_accessible(page)


@pytest.mark.parametrize(("size", "theme"), LOOKS)
def test_stop_aborts_an_answer_still_being_worked_out(config, qa, held_model, browser, size, theme):
    with site_and_app(config, held_model.service(config)) as (api, site, _), \
            looking(browser, site, size, theme) as page:
        widget = open_site(page, site)
        widget.open()
        widget.input.fill("Who funded CT Travel in March?")
        widget.input.press("Enter")
        pending = widget.root.locator(".msg.bot.pending")
        expect(pending.locator(".typing")).to_be_visible(timeout=ANSWER_TIMEOUT)  # until the first words
        stop = widget.root.get_by_role("button", name="Stop")
        expect(stop).to_be_visible()
        expect(widget.root.get_by_role("button", name="Send")).to_be_hidden()
        expect(pending.locator(".bubble")).to_have_text("")  # the model holds the answer: no words yet
        assert_accessible(page)
        # The request itself is aborted, not just its display (the event may follow the widget's note).
        with page.expect_event("requestfailed", lambda request: request.url == f"{api}/api/v1/ask/stream") as failed:
            stop.click()
            expect(widget.root.locator(".msg.note")).to_have_text("Stopped. Ask again whenever you like.")
        assert "ABORTED" in failed.value.failure.upper()
        expect(pending).to_have_count(0)
        expect(widget.root.get_by_role("button", name="Send")).to_be_visible()

        held_model.release.set()  # the service finishes the stopped answer; the widget shows none of it
        answer = widget.ask("How many experts took part in the CT Travel introductory webinar?")
        expect(answer.locator(".typing")).to_have_count(0)
        expect(answer.locator(".bubble")).to_contain_text("25")
        expect(widget.answers).to_have_count(1)
        expect(widget.root.locator(".msg.note")).to_have_count(1)


def test_an_llm_answer_appears_a_checked_sentence_at_a_time(config, qa, streaming_model, page):
    """With an LLM, each sentence shows as soon as it has passed the citation check, while the model is still
    writing (it holds its last words until the test has seen the first sentence); the sentence that fails never
    shows, and the finished answer keeps what was shown, with its citation."""
    with site_and_app(config, streaming_model.service(config)) as (_, site, _):
        widget = open_site(page, site)
        widget.open()
        widget.input.fill(PANEL_QUESTION)
        widget.input.press("Enter")
        pending = widget.root.locator(".msg.bot.pending")
        first = "The panel on contactless biometrics brought together 45 participants"
        expect(pending.locator(".bubble")).to_contain_text(first, timeout=ANSWER_TIMEOUT)
        expect(pending.locator(".typing")).to_be_visible()  # more may come
        expect(widget.root.get_by_role("button", name="Stop")).to_be_visible()
        assert not streaming_model.finished.is_set()
        streaming_model.release.set()

        expect(widget.answers).to_have_count(1, timeout=ANSWER_TIMEOUT)
        answer = widget.answers.first
        expect(answer.locator(".bubble")).to_have_text(re.compile(rf"^{first} \[\d\]\.$"))
        expect(answer.locator(".chip")).to_have_count(1)
        expect(answer.locator(".typing")).to_have_count(0)
        assert "World Bank" not in widget.root.inner_text()


@pytest.mark.parametrize(("size", "theme"), LOOKS)
def test_a_site_not_allowed_is_told_what_its_owner_can_do(servers, browser, size, theme, tmp_path):
    api, _, other_site = servers  # the same page, from an origin not in BQA_ALLOWED_ORIGINS
    with looking(browser, other_site, size, theme) as page:
        warnings = []
        page.on("console", lambda message: message.type == "warning" and warnings.append(message.text))
        widget = open_site(page, other_site)
        widget.open()
        notice = widget.root.locator(".intro .notice")
        expect(notice).to_contain_text(f"This site ({other_site}) is not allowed to use the bulletin service at {api}")
        expect(notice).to_contain_text(f"add {other_site} to BQA_ALLOWED_ORIGINS")
        expect(widget.root.locator(".suggestion")).to_have_count(0)  # the suggestions were refused too
        widget.input.fill("Who funded CT Travel in March?")
        widget.input.press("Enter")
        error = widget.root.locator(".msg.bot.error")
        expect(error).to_contain_text("BQA_ALLOWED_ORIGINS", timeout=ANSWER_TIMEOUT)
        expect(error).not_to_contain_text("connection")
        assert any("BQA_ALLOWED_ORIGINS" in text for text in warnings)  # for the developer's console too
        assert_accessible(page)
        page.screenshot(path=tmp_path / f"refused-{size}-{theme}.png")


def test_a_service_out_of_reach_is_a_network_failure(servers, page):
    """The widget's script loads, but its API is down: that is a connection problem, not a refused origin."""
    api = servers[0]
    down = f"http://127.0.0.1:{free_port()}"  # a loopback port nothing listens on
    site = serve_page({"api": down, "script": api})
    try:
        widget = open_site(page, url(site))
        widget.open()
        widget.input.fill("Who funded CT Travel in March?")
        widget.input.press("Enter")
        error = widget.root.locator(".msg.bot.error")
        expect(error).to_have_text("Could not reach the service. Check your connection and try again.")
        expect(widget.root.locator(".notice")).to_have_count(0)
    finally:
        site.shutdown()


def test_answer_streams_in_with_citations_follow_ups_and_a_kept_conversation(servers, page, qa, tmp_path):
    api, site, _ = servers
    requests_made = []
    page.on("request", lambda request: requests_made.append(request.url))
    widget = open_site(page, site)
    widget.open()
    expect(widget.root.locator(".suggestion").first).to_be_visible()  # starter questions from the server
    page.screenshot(path=tmp_path / "widget-start.png")
    page.evaluate(
        """() => { const live = document.querySelector('bqa-widget').shadowRoot.querySelector('[role=status]');
                   window.__announced = [];
                   new MutationObserver(() => window.__announced.push(live.textContent))
                     .observe(live, {childList: true, characterData: true, subtree: true}); }"""
    )

    answer = widget.ask("Who funded CT Travel in March?")
    assert f"{api}/api/v1/ask/stream" in requests_made
    expect(answer).to_have_attribute("data-answerable", "true")
    expect(answer.locator(".bubble")).to_contain_text("India")
    # That it is searching, then the answer once, complete: not token by token.
    announced = page.evaluate("window.__announced")
    assert announced[0] == "Searching the bulletins…"
    assert len(announced) == 2 and "India" in announced[1] and announced[1].startswith("Answer:")

    chip = answer.locator(".chip").first
    expect(chip).to_contain_text("[1]")
    chip.click()
    popover = answer.locator(".popover")
    expect(popover).to_be_visible()
    expect(chip).to_have_attribute("aria-expanded", "true")
    expect(popover.locator("blockquote")).to_contain_text("from India ($500,000)")
    expect(popover.locator(".where")).to_contain_text("UNOCT Highlights · March 2021 · Highlights")
    page.screenshot(path=tmp_path / "widget-desktop.png")

    link = popover.get_by_role("link")
    with page.context.expect_page() as opened:
        link.click()
    source = opened.value
    source.wait_for_load_state()
    assert source.url.startswith(f"{api}/bulletins/unoct-highlights-2021-03?hl=p-")
    expect(source.locator(":target")).to_contain_text("India ($500,000)")
    expect(source.locator(":target mark.quote")).to_contain_text("from India ($500,000)")
    source.close()

    answer.get_by_role("button", name="Helpful", exact=True).click()
    expect(answer.locator(".thanks")).to_have_text("Thanks for the feedback")
    expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    conversation_id = page.evaluate(
        "() => JSON.parse(Object.values(sessionStorage).find(v => v.includes('conversationId'))).conversationId"
    )
    newest = qa.db.feedback(FeedbackQuery(limit=1))[0]
    assert (newest.conversation_id, newest.turn, newest.rating, newest.source) == (conversation_id, 1, "up", "widget")

    follow_up = widget.ask("How much did they give?")
    expect(follow_up.locator(".bubble")).to_contain_text("$500,000")

    page.reload()
    expect(widget.panel).to_be_visible()  # the panel stays open across the reload, with the conversation
    expect(widget.messages).to_have_count(4)
    expect(widget.messages.nth(0)).to_have_text("Who funded CT Travel in March?")
    expect(widget.answers.nth(1).locator(".bubble")).to_contain_text("$500,000")
    expect(widget.answers.nth(0).get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    third = widget.ask("Who funded the Gender and Identities Platform?")  # the same conversation continues
    expect(third.locator(".bubble")).to_contain_text("Canada")
    assert [t["question"] for t in qa.db.turns(conversation_id)][-1].startswith("Who funded the Gender")

    widget.root.get_by_role("button", name="New conversation").click()
    expect(widget.messages).to_have_count(0)
    expect(widget.root.locator(".suggestion").first).to_be_visible()
    expect(widget.input).to_be_focused()
    assert "null" in page.evaluate("() => Object.values(sessionStorage).join()")


def test_a_question_the_bulletins_cannot_answer_looks_different(servers, page, tmp_path):
    widget = open_site(page, servers[1])
    widget.open()
    answer = widget.ask("What is the boiling point of water?")
    expect(answer).to_have_attribute("data-answerable", "false")
    expect(answer).to_have_class(re.compile(r"\bunanswerable\b"))
    expect(answer.locator(".verdict")).to_have_text("Not in the bulletins")
    expect(answer.locator(".chip")).to_have_count(0)
    expect(answer.locator(".bubble")).to_have_css("border-style", "dashed")
    page.screenshot(path=tmp_path / "widget-unanswerable.png")


def test_keyboard_alone(servers, page):
    widget = open_site(page, servers[1])
    for _ in range(5):  # past the page's own link, to the launcher
        page.keyboard.press("Tab")
        if widget.shadow_focus() == "launcher":
            break
    assert widget.shadow_focus() == "launcher"
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    assert widget.panel.get_attribute("aria-labelledby") == "bqa-title"
    expect(widget.panel).to_have_accessible_name("Ask the bulletins")
    assert widget.shadow_focus() == "bqa-input"  # focus lands in the (labelled) question box
    expect(widget.root.get_by_role("log")).to_be_attached()

    answer = widget.ask("Who funded CT Travel in March?")  # typed and sent with Enter
    for _ in range(4):  # back from the input into the answer: copy, 👎, 👍, then the chip
        page.keyboard.press("Shift+Tab")
    assert widget.shadow_focus() == "chip"
    page.keyboard.press("Enter")
    expect(answer.locator(".popover")).to_be_visible()
    page.keyboard.press("Escape")  # first Escape closes the popover, focus back on its chip
    expect(answer.locator(".popover")).to_be_hidden()
    assert widget.shadow_focus() == "chip"
    page.keyboard.press("Escape")  # the next closes the panel, focus back on the launcher
    expect(widget.panel).to_be_hidden()
    assert widget.shadow_focus() == "launcher"
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


def test_markup_in_a_question_is_shown_as_text(servers, page):
    widget = open_site(page, servers[1])
    widget.open()
    hostile = "<img src=x onerror=window.__pwned=1> Who funded CT Travel in March?"
    widget.ask(hostile)
    expect(widget.messages.first).to_have_text(hostile)
    assert widget.root.locator("img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_phone_size(servers, browser, tmp_path):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        widget = open_site(page, servers[1])
        box = widget.launcher.bounding_box()
        assert box["x"] + box["width"] <= 360
        widget.open()
        answer = widget.ask("Who funded CT Travel in March?")
        assert_chip_labels_whole(widget, answer)  # readable at 360 px
        open_popover(page, widget, answer)
        panel = widget.panel.bounding_box()
        assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 360, 740)  # the whole screen
        overflow = widget.root.locator(".scroll").evaluate("s => s.scrollWidth - s.clientWidth")
        assert overflow == 0  # nothing wider than the phone
        page.screenshot(path=tmp_path / "widget-phone.png")
        widget.root.get_by_role("button", name="Close", exact=True).click()
        expect(widget.launcher).to_be_visible()
    finally:
        context.close()


def test_demo_page_embeds_the_widget_under_the_app_csp(servers, page, tmp_path):
    api = servers[0]
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    response = page.goto(api + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    widget = Widget(page)
    widget.open()
    answer = widget.ask("Who funded CT Travel in March?")
    expect(answer.locator(".bubble")).to_contain_text("India")
    expect(widget.root.locator(".launcher")).to_have_css("position", "fixed")  # the stylesheet applied
    answer.locator(".chip").first.click()
    expect(answer.locator(".popover")).to_be_visible()
    assert problems == []  # no CSP violation, no script error
    page.screenshot(path=tmp_path / "widget-demo.png")


def test_the_rate_limit_is_explained(config, qa, page):
    with site_and_app(config, qa, rate_limit=1) as (_, site, _):
        widget = open_site(page, site)
        widget.open()
        expect(widget.ask("Who funded CT Travel in March?")).to_have_attribute("data-answerable", "true")
        widget.input.fill("How much did they give?")
        widget.input.press("Enter")
        refused = widget.root.locator(".msg.bot.error")
        expect(refused).to_have_text(re.compile(r"Too many questions at once\. Try again in \d+ s\."))


def test_one_period_indexed_offers_no_period_filter(servers, page):
    widget = open_site(page, servers[1])
    widget.open()
    expect(widget.root.locator(".suggestions button").first).to_be_visible()  # the intro has loaded
    expect(widget.root.get_by_label("Bulletins of")).to_be_hidden()


def test_several_periods_offer_a_period_filter_that_narrows_the_answers(config, monthly_qa, browser, tmp_path):
    with site_and_app(config, monthly_qa) as (_, site, _other), looking(browser, site, "phone", "light") as page:
        widget = open_site(page, site)
        widget.open()
        periods = widget.root.get_by_label("Bulletins of")
        expect(periods).to_be_visible()
        expect(periods.locator("option")).to_have_text(
            ["All periods", "April 2021", "March 2021", "February 2021", "January 2021", "December 2020"])
        periods.select_option(label="January 2021")
        answer = widget.ask("Who funded CT Travel?")  # which sentence it quotes is the answerer's (test_periods.py)
        expect(answer.locator(".chip").first).to_contain_text("January 2021")  # citations show their period
        assert all("January 2021" in chip.inner_text() for chip in answer.locator(".chip").all())
        assert_accessible(page)
        page.screenshot(path=tmp_path / "widget-period-filter.png")

        page.reload()  # the choice is kept with the conversation
        widget = Widget(page)
        expect(widget.panel).to_be_visible()
        expect(widget.root.get_by_label("Bulletins of")).to_have_value("2021-01")
        periods = widget.root.get_by_label("Bulletins of")
        periods.select_option(label="All periods")
        answer = widget.ask("Who funded CT Travel in the latest bulletin?")
        expect(answer.locator(".chip").first).to_contain_text("April 2021")
        assert all("April 2021" in chip.inner_text() for chip in answer.locator(".chip").all())

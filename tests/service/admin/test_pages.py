"""The admin page: sign-in session and CSRF over HTTP, then the whole round in a real browser (Debian's Chromium,
driven by Playwright) against the real app on a loopback port: sign in, upload a PDF (and drop a Markdown file),
see them listed and answerable, replace, delete after confirming; a wrong token and a request without the CSRF
token refused; the page readable at phone size and free of WCAG 2.1 A/AA violations.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import requests
from playwright.sync_api import expect
from werkzeug.serving import make_server

from service.admin.session import COOKIE
from service.app import CONTENT_SECURITY_POLICY, create_app
from tests.conftest import assert_accessible, private_app
from tests.service.admin.test_api import pdf_bytes

TOKEN = "admin-token-for-tests"
SEED_ID = "unoct-highlights-2021-03"
MALDIVES = "In April, UNOCT trained 120 border officials in Maldives on advance passenger information."
MALDIVES_REVISED = MALDIVES.replace("120 border officials", "175 border officials")


@pytest.fixture(scope="module")
def app(config, tmp_path_factory):
    return private_app(config, tmp_path_factory.mktemp("admin-pages"), admin_token=TOKEN, max_upload_bytes=200_000)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app):
    """A test client with an admin session, and the session's CSRF token."""
    client = app.test_client()
    token = csrf_of(client.get("/admin/signin").get_data(as_text=True))
    response = client.post("/admin/signin", data={"token": TOKEN, "csrf_token": token})
    assert response.status_code == 303
    return client, csrf_of(client.get("/admin/bulletins").get_data(as_text=True))


def cookie_header(response) -> str:
    return next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith(f"{COOKIE}="))


# --- over HTTP ------------------------------------------------------------------------------------------------


def test_pages_need_a_session(app):
    client = app.test_client()
    response = client.get("/admin/feedback")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/signin?next=/admin/feedback")
    assert client.post("/admin/bulletins", data={}).status_code == 401
    json_refusal = client.post("/admin/bulletins", headers={"Accept": "application/json"})
    assert json_refusal.status_code == 401 and json_refusal.get_json()["error"]["code"] == "signed_out"


def test_signing_in_sets_a_strict_http_only_cookie_for_the_admin_pages_only(app):
    client = app.test_client()
    form = client.get("/admin/signin?next=/admin/gaps")
    assert form.status_code == 200 and form.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    token = csrf_of(form.get_data(as_text=True))

    wrong = client.post("/admin/signin", data={"token": "nope", "csrf_token": token, "next": "/admin/gaps"})
    assert wrong.status_code == 401 and "That is not the admin token." in wrong.get_data(as_text=True)
    forged = client.post("/admin/signin", data={"token": TOKEN, "next": "/admin/gaps"})  # no CSRF token
    assert forged.status_code == 403
    assert client.get("/admin/gaps").status_code == 302

    right = client.post("/admin/signin", data={"token": TOKEN, "csrf_token": token, "next": "/admin/gaps"})
    assert right.status_code == 303 and right.headers["Location"] == "/admin/gaps"
    cookie = cookie_header(right)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here; over https it is Secure (below)
    assert csrf_of(client.get("/admin/bulletins").get_data(as_text=True)) != token  # a fresh token once signed in

    elsewhere = client.post("/admin/signin", data={"token": TOKEN, "csrf_token": token, "next": "//evil.example/"})
    assert elsewhere.status_code == 303 or elsewhere.status_code == 403
    assert "evil.example" not in elsewhere.headers.get("Location", "")


def test_over_https_the_cookie_is_secure(app):
    client = app.test_client()
    form = client.get("/admin/signin", base_url="https://bqa.example.org")
    token = csrf_of(form.get_data(as_text=True))
    right = client.post("/admin/signin", data={"token": TOKEN, "csrf_token": token},
                        base_url="https://bqa.example.org")
    assert "; Secure" in cookie_header(right)


def test_every_form_needs_the_session_csrf_token(app):
    client, token = signed_in(app)
    def upload():
        return {"file": (pdf_bytes_io(MALDIVES), "csrf-check-2021-04.pdf")}

    assert client.post("/admin/bulletins", data=upload()).status_code == 403
    other_client, other_token = signed_in(app)
    assert client.post("/admin/bulletins", data={**upload(), "csrf_token": other_token}).status_code == 403
    assert client.post(f"/admin/bulletins/{SEED_ID}/delete").status_code == 403
    assert client.post("/admin/signout").status_code == 403
    listed = [b["id"] for b in client.get("/api/v1/bulletins").get_json()["bulletins"]]
    assert listed == [SEED_ID]


def test_the_cookie_opens_no_json_api_and_the_bearer_header_still_does(app):
    client, _ = signed_in(app)
    assert client.get("/api/v1/feedback").status_code == 401
    response = client.get("/api/v1/feedback", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_signing_out_ends_the_session(app):
    client, token = signed_in(app)
    response = client.post("/admin/signout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/signin")
    assert f"{COOKIE}=;" in cookie_header(response)
    assert client.get("/admin/bulletins").status_code == 302


def test_a_page_upload_without_javascript_lists_each_files_result(app):
    client, token = signed_in(app)
    response = client.post("/admin/bulletins", data={
        "csrf_token": token,
        "file": [(pdf_bytes_io(MALDIVES), "form-upload-2021-04.pdf"), (io_bytes(b"%PDF-1.7 cut"), "cut.pdf")],
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 422  # one of the two was refused
    assert "form-upload-2021-04.pdf</span>\n          Published" in page
    assert "cut.pdf</span>\n          Refused: The bulletin cannot be read" in page
    assert 'id="bulletin-form-upload-2021-04"' in page
    deleted = client.post("/admin/bulletins/form-upload-2021-04/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert "Deleted form-upload-2021-04" in client.get("/admin/bulletins").get_data(as_text=True)
    assert "Deleted form-upload-2021-04" not in client.get("/admin/bulletins").get_data(as_text=True)  # once


def test_a_file_larger_than_a_question_body_is_published_from_the_page(app):
    client, token = signed_in(app)
    sentence = "the keepers inspected the beacons along the coast and reported on their upkeep " * 7
    paragraphs = "\n\n".join(f"Item {i}: {sentence}." for i in range(120))
    data = f"# Large Bulletin, June 2021\n\n{paragraphs}\n".encode()
    assert 64 * 1024 < len(data) < 200_000
    response = client.post("/admin/bulletins", headers={"Accept": "application/json"},
                           data={"csrf_token": token, "file": (io_bytes(data), "large-2021-06.md")})
    assert response.status_code == 201, response.get_json()
    assert client.post("/admin/bulletins/large-2021-06/delete", data={"csrf_token": token}).status_code == 303
    too_large = client.post("/admin/bulletins", headers={"Accept": "application/json"},
                            data={"csrf_token": token, "file": (io_bytes(data * 3), "larger-2021-06.md")})
    assert too_large.status_code == 413 and too_large.get_json()["error"]["code"] == "payload_too_large"


def test_feedback_is_listed_with_its_answer_and_filtered(app):
    client, _ = signed_in(app)
    answered = client.post("/api/v1/ask", json={"question": "Who funded CT Travel?"}).get_json()
    client.post("/api/v1/feedback", json={"conversation_id": answered["conversation_id"], "turn": 1,
                                          "rating": "down", "comment": "Which year?", "source": "widget"})
    page = client.get("/admin/feedback?rating=down&source=widget").get_data(as_text=True)
    assert "Who funded CT Travel?" in page and "Which year?" in page and "👎 not helpful" in page
    assert "UNOCT Highlights, March 2021 — Highlights" in page  # the citation, with its period
    assert "Which year?" not in client.get("/admin/feedback?rating=up").get_data(as_text=True)
    assert client.get("/admin/feedback?rating=sideways").status_code == 400


def test_the_gap_report_page_and_its_csv(app):
    client, _ = signed_in(app)
    for question in ("How do I subscribe to the bulletin by email?", "how can I sign up for the bulletin by e-mail?"):
        client.post("/api/v1/ask", json={"question": question})
    page = client.get("/admin/gaps?days=7").get_data(as_text=True)
    assert "Asked 2 times" in page and "how can I sign up for the bulletin by e-mail?" in page
    exported = client.get("/admin/gaps.csv?days=7")
    assert exported.mimetype == "text/csv" and "subscribe to the bulletin" in exported.get_data(as_text=True)


def test_the_page_is_off_without_a_token(config, qa):
    client = create_app(replace(config, admin_token=None), qa=qa).test_client()
    response = client.get("/admin/bulletins")
    assert response.status_code == 503 and "BQA_ADMIN_TOKEN" in response.get_data(as_text=True)


def test_pages_carry_no_inline_script_or_style(app):
    client, _ = signed_in(app)
    for path in ("/admin/bulletins", "/admin/feedback", "/admin/gaps", f"/admin/bulletins/{SEED_ID}/delete"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["Cache-Control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html


def pdf_bytes_io(text: str):
    return io_bytes(pdf_bytes(text))


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)


# --- in a browser ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(app):
    running = make_server("127.0.0.1", 0, app, threaded=True)
    import threading

    threading.Thread(target=running.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{running.server_port}"
    running.shutdown()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)  # an upload parses and indexes before it answers
    yield page
    context.close()


def ask(server: str, question: str) -> dict:
    return requests.post(f"{server}/api/v1/ask", json={"question": question}, timeout=60).json()


def test_sign_in_upload_answer_replace_delete_in_a_browser(server, page, tmp_path):
    page.goto(f"{server}/admin")
    expect(page).to_have_url(re.compile(r"/admin/signin"))
    page.fill("#token", "not-the-token")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")
    page.fill("#token", TOKEN)  # with the keyboard alone
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server}/admin/bulletins")
    expect(page.locator(f"#bulletin-{SEED_ID}")).to_contain_text("UNOCT Highlights")

    page.set_input_files("#files", files=[
        {"name": "maldives-2021-04.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(MALDIVES)},
        {"name": "scan-2021-04.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 not really"},
    ])
    page.get_by_role("button", name="Publish").click()
    results = page.locator("[aria-labelledby=upload-heading] [data-results] li")
    expect(results.nth(0)).to_contain_text("Published: Maldives, April 2021")
    expect(results.nth(1)).to_contain_text("Refused: The bulletin cannot be read")
    row = page.locator("#bulletin-maldives-2021-04")
    expect(row).to_contain_text("April 2021")
    expect(row).to_contain_text("published")
    assert "120 border officials" in ask(server, "How many border officials were trained in Maldives?")["answer"]

    page.set_input_files("#replace-maldives-2021-04", files=[
        {"name": "maldives-revised.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(MALDIVES_REVISED)},
    ])
    row.get_by_role("button", name="Replace").click()
    expect(page.locator("#bulletin-maldives-2021-04")).to_be_visible()
    expect(page.locator("form.replace [data-results] li").first).to_contain_text("Published: Maldives")
    assert "175 border officials" in ask(server, "How many border officials were trained in Maldives?")["answer"]

    # a Markdown file dropped on the drop zone
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File(["# Dropped, May 2021\\n\\nUNOCT opened a liaison office in Vienna.\\n"],
                                "dropped-2021-05.md", {type: "text/markdown"}));
        document.querySelector(".drop").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    }""")
    expect(page.locator("#bulletin-dropped-2021-05")).to_contain_text("May 2021")

    # a request without the page's CSRF token is refused, though the browser sends the session cookie
    status = page.evaluate("""async () => (await fetch("/admin/bulletins/maldives-2021-04/delete",
                                                      {method: "POST", headers: {Accept: "application/json"}})).status""")
    assert status == 403

    delete = page.locator("#bulletin-maldives-2021-04").get_by_role("link", name=re.compile("Delete"))
    delete.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Delete this bulletin?")).to_be_visible()
    page.get_by_role("button", name="Delete maldives-2021-04").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted maldives-2021-04")
    expect(page.locator("#bulletin-maldives-2021-04")).to_have_count(0)
    after = ask(server, "How many border officials were trained in Maldives?")
    assert all(c["bulletin_id"] != "maldives-2021-04" for c in after["citations"])
    assert "175" not in after["answer"]

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/admin/signin"))
    page.goto(f"{server}/admin/bulletins")
    expect(page).to_have_url(re.compile(r"/admin/signin"))


def test_the_admin_pages_are_accessible_and_fit_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{server}/admin/signin")
        assert_accessible(page, within=None)
        page.fill("#token", TOKEN)
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{server}/admin/bulletins")
        for path in ("/admin/bulletins", "/admin/feedback", "/admin/gaps"):
            page.goto(f"{server}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
            assert_accessible(page, within=None)
    finally:
        context.close()


def test_guessing_the_token_is_slowed_down(config, qa):
    client = create_app(replace(config, admin_token=TOKEN), qa=qa).test_client()
    token = csrf_of(client.get("/admin/signin").get_data(as_text=True))
    statuses = [client.post("/admin/signin", data={"token": f"guess-{i}", "csrf_token": token}).status_code
                for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    right = client.post("/admin/signin", data={"token": TOKEN, "csrf_token": token})
    assert right.status_code == 429  # even the right token waits: a guess that hits is no exception

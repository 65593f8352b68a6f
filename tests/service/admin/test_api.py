"""Publishing bulletins over the admin API: upload → ask → cite → replace → delete, and bad uploads that change
nothing. Each test gets its own data folder and corpus copy, because these tests change the index; each runs with
the registry in SQLite and again in PostgreSQL (a database of its own on the suite's server)."""

from __future__ import annotations

import io

import pytest
from fpdf import FPDF

from tests.conftest import private_app

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
APRIL = """# UNOCT Highlights April 2021

## Highlights

In April, UNOCT received a contribution from Japan (US$250,000) in support of the Cybersecurity Programme.
"""
APRIL_REVISED = APRIL.replace("Japan (US$250,000)", "Norway (US$310,000)")


@pytest.fixture(params=["sqlite", "postgres"])
def app(request, config, qa, tmp_path):
    database = {"database_url": request.getfixturevalue("postgres_server").create_database()} if (
        request.param == "postgres") else {}
    return private_app(config, tmp_path, admin_token=TOKEN, max_upload_bytes=200_000, **database)


def ask(client, question):
    return client.post("/api/v1/ask", json={"question": question}).get_json()


def pdf_bytes(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def test_upload_ask_replace_delete(app):
    client = app.test_client()
    created = client.post("/api/v1/bulletins", json={"name": "unoct-highlights-2021-04.md", "text": APRIL}, headers=AUTH)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["id"] == "unoct-highlights-2021-04"
    assert created.get_json()["period"] == "April 2021"

    answer = ask(client, "Who contributed to the Cybersecurity Programme?")
    assert answer["answerable"] is True and "Japan" in answer["answer"]
    assert answer["citations"][0]["bulletin_id"] == "unoct-highlights-2021-04"
    assert ask(client, "Who funded CT Travel in March?")["answerable"] is True  # the bundled bulletin is still served

    replaced = client.put(
        "/api/v1/bulletins/unoct-highlights-2021-04",
        data={"file": (io.BytesIO(APRIL_REVISED.encode()), "whatever.txt")},
        headers=AUTH,
    )
    assert replaced.status_code == 200, replaced.get_json()
    answer = ask(client, "Who contributed to the Cybersecurity Programme?")
    assert "Norway" in answer["answer"] and "Japan" not in answer["answer"]
    paragraphs = client.get("/api/v1/bulletins/unoct-highlights-2021-04").get_json()["sections"]
    assert "Japan" not in str(paragraphs)

    deleted = client.delete("/api/v1/bulletins/unoct-highlights-2021-04", headers=AUTH)
    assert deleted.status_code == 200
    answer = ask(client, "Who contributed to the Cybersecurity Programme?")
    assert "Norway" not in answer["answer"]
    assert all(c["bulletin_id"] != "unoct-highlights-2021-04" for c in answer["citations"])
    assert [b["id"] for b in client.get("/api/v1/bulletins").get_json()["bulletins"]] == ["unoct-highlights-2021-03"]


def test_published_bulletins_survive_a_restart_sync(app):
    client = app.test_client()
    client.post("/api/v1/bulletins", json={"name": "april-2021.md", "text": APRIL}, headers=AUTH)
    qa = app.extensions["bqa"]
    change = qa.index()  # what `bqa serve` does on start: corpus folders and published bulletins
    assert change.index.removed == [] and "april-2021" in change.index.unchanged


def test_a_pdf_upload_is_sniffed_and_indexed(app):
    client = app.test_client()
    data = pdf_bytes("In April, UNOCT trained 120 border officials in Maldives on passenger data.")
    response = client.post("/api/v1/bulletins", data={"file": (io.BytesIO(data), "maldives-2021-04.bin")}, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    assert "Maldives" in ask(client, "How many border officials were trained in Maldives?")["answer"]


@pytest.mark.parametrize(
    "kwargs, status, code",
    [
        ({"json": {"name": "x.md", "text": APRIL}, "headers": {}}, 401, "unauthorized"),
        ({"json": {"name": "x.md", "text": APRIL}, "headers": {"Authorization": "Bearer nope"}}, 401, "unauthorized"),
        ({"data": {"file": (b"%PDF-1.7\n1 0 obj <<", "cut.pdf")}}, 422, "unparseable"),
        ({"data": {"file": (bytes(range(256)) * 4, "noise.pdf")}}, 422, "unsupported_type"),
        ({"data": {"file": (b"", "empty.md")}}, 422, "empty_file"),
        ({"data": {"file": (b"x" * 300_000, "big.txt")}}, 413, "payload_too_large"),
        ({"json": {"name": "x.md"}}, 400, "missing_text"),
        ({"json": {"text": APRIL}}, 400, "missing_name"),
        ({"json": {"name": "unoct-highlights-2021-03.md", "text": APRIL}}, 409, "bulletin_exists"),
        ({"data": "plain", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_a_failed_upload_changes_nothing(app, kwargs, status, code):
    client = app.test_client()
    qa = app.extensions["bqa"]
    generation, registry = qa.store.active_name(), qa.db.registered()
    kwargs = {"headers": AUTH, **kwargs}  # a copy: the parameters serve both databases
    if isinstance(kwargs.get("data"), dict):  # a fresh file object each time (a posted one is closed)
        kwargs["data"] = {field: (io.BytesIO(content), name) for field, (content, name) in kwargs["data"].items()}
    response = client.post("/api/v1/bulletins", **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert qa.store.active_name() == generation
    assert qa.db.registered() == registry


def test_a_pdf_without_text_is_refused_with_the_reason(app):
    pdf = FPDF()
    pdf.add_page()
    response = app.test_client().post(
        "/api/v1/bulletins", data={"file": (io.BytesIO(bytes(pdf.output())), "scan.pdf")}, headers=AUTH
    )
    assert response.status_code == 422
    assert "no extractable text" in response.get_json()["error"]["message"]


def test_replace_and_delete_unknown_bulletins_are_404(app):
    client = app.test_client()
    assert client.put("/api/v1/bulletins/nope", json={"text": APRIL}, headers=AUTH).status_code == 404
    assert client.delete("/api/v1/bulletins/nope", headers=AUTH).status_code == 404


def test_publishing_an_id_a_corpus_file_waits_with_is_a_conflict(app):
    corpus = app.config["BQA_CONFIG"].corpus_dirs[0]
    (corpus / "unoct-highlights-2021-04.md").write_text(APRIL, encoding="utf-8")  # not indexed yet
    response = app.test_client().post(
        "/api/v1/bulletins", json={"name": "unoct-highlights-2021-04.md", "text": APRIL}, headers=AUTH
    )
    assert response.status_code == 409 and "unoct-highlights-2021-04.md" in response.get_json()["error"]["message"]


def test_a_corpus_bulletin_replaced_or_deleted_over_the_api_stays_so_after_a_refresh(app):
    client = app.test_client()
    qa = app.extensions["bqa"]
    seed = "unoct-highlights-2021-03"
    replaced = client.put(f"/api/v1/bulletins/{seed}", json={"text": APRIL}, headers=AUTH)
    assert replaced.status_code == 200
    change = qa.index()  # the corpus file is still there: reported, not served again
    assert any(seed in conflict for conflict in change.conflicts)
    assert "Japan (US$250,000)" in str(client.get(f"/api/v1/bulletins/{seed}").get_json()["sections"])
    assert client.get(f"/api/v1/bulletins/{seed}/original", headers=AUTH).data == APRIL.encode()

    assert client.delete(f"/api/v1/bulletins/{seed}", headers=AUTH).status_code == 200
    assert qa.index().index.added == []  # deleted on purpose: its file does not bring it back
    assert client.get("/api/v1/bulletins").get_json()["bulletins"] == []

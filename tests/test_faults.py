"""Fault injection (issue 13): each attack that once lost data, wedged the service or answered 500, run again.

One test (or a few) per fault, by the issue's numbers; each failed before its fix:

1. a data dir or corpus below a dot-folder: published bulletins vanished after a restart, the corpus was not found;
2. a full disk (a real size-limited tmpfs): a 500, then the next write hung holding the GIL, /healthz too;
3. a corpus file and a published bulletin with one id: the next start exited;
5. a 1.3 KB PDF whose page tree names one page 90,000 times: 90,000 paragraphs indexed, a 17.9 MB source page;
6. Markdown holding a raw HTML block: published as HTML;
7. huge integers in feedback, a 250-character upload name: 500s;
8. slow clients trickling requests into `bqa serve --workers 2`: every thread held, /healthz timed out;
9. invented HTTP methods: a new metrics series each;
10. Host and X-Forwarded-Host: granted CORS to any origin that named itself there;
11. leftovers of a kill -9 mid-upload: a half-built generation, expired conversations (and the `.uploading` files
    a bqa from before the registry of bulletins left);
12. a 413 naming the wrong limit, a chunked JSON upload over the limit as 400, periods with a newline or
    full-width digits.

Item 4 (new questions during a large publish) and item 8 at scale are timings, so they are benchmarks:
`bench/publish_load.py` and `bench/slow_clients.py`. The Slack part of item 7 is issue 15's.

Scenarios that must survive a wedge or a kill run a real `bqa serve` in a subprocess, so a hang fails the test
(an HTTP timeout) instead of hanging the suite.
"""

from __future__ import annotations

import errno
import io
import json
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from flask import Request
from flask.testing import EnvironBuilder

from index.parse import parse
from index.store import sentence_collection
from service.app import create_app
from service.config import PROJECT_ROOT
from service.db.sqlite import SQLiteDatabase
from service.pipeline import BulletinQA
from tests.conftest import SERVE_START_TIMEOUT_S, Served, page_tree_bomb

TOKEN = "faults-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = "unoct-highlights-2021-03"
APRIL = """# UNOCT Highlights April 2021

## Highlights

In April, UNOCT received a contribution from Japan (US$250,000) in support of the Cybersecurity Programme.
"""
SERVED_COLLECTIONS = 3  # of an index served and not being rebuilt: bqa-state, a generation's chunks and sentences
PATIENCE = 60  # seconds an HTTP call may take before it counts as hung; generous for a loaded 2-core machine


def lighthouse(paragraphs: int, tag: str = "") -> str:
    """A bulletin of `paragraphs` distinct paragraphs (a large publish)."""
    body = "\n\n".join(
        f"Item {i}{tag}: the lighthouse keepers of district {i % 97} inspected {10 + i} beacons along the northern "
        f"coast and reported on the state of each lamp, lens and battery to the maritime authority. ({i % 28 + 1} April)"
        for i in range(paragraphs)
    )
    return f"# Lighthouse Bulletin April 2021\n\n## Inspections\n\n{body}\n"


def private(tmp_path: Path, config, **overrides):
    """An app over its own copy of the corpus and its own data folder, with the admin API on."""
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    settings = {"data_dir": tmp_path / "data", "corpus_dirs": (corpus,), "admin_token": TOKEN,
                "max_upload_bytes": 200_000, **overrides}
    qa = BulletinQA.from_config(replace(config, **settings))
    qa.index()
    return create_app(qa.config, qa=qa)


def check_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def files_under(*folders: Path) -> list[str]:
    return sorted(str(p) for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file())


def registered(data_dir: Path) -> dict[str, str]:
    """Bulletin id -> original file name in the registry (read from SQLite: safe beside a live server)."""
    with sqlite3.connect(f"file:{data_dir / 'bqa.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        return dict(db.execute("SELECT id, name FROM bulletins WHERE NOT removed"))


# --- a real server in a subprocess ------------------------------------------------------------------------------

@pytest.fixture
def serve(tmp_path):
    """Starts `bqa serve` (`Served`) with the admin API on and no rate limit; stops every one started at the end."""
    started: list[Served] = []

    def start(env: dict[str, object], *args: str, wait: bool = True, host: str = "127.0.0.1") -> Served:
        server = Served(tmp_path / f"serve-{len(started)}.log", {"BQA_RATE_LIMIT": 0, "BQA_ADMIN_TOKEN": TOKEN, **env},
                        *args, host=host)
        started.append(server)
        server.start(wait)
        return server

    yield start
    for server in started:
        server.stop()


def publish_in_background(url: str, name: str, text: str) -> dict:
    """POST a bulletin from a thread; the result dict gets "response" or "error" when the call ends."""
    result: dict = {}

    def post():
        try:
            result["response"] = requests.post(
                url + "/api/v1/bulletins", json={"name": name, "text": text}, headers=AUTH, timeout=PATIENCE * 5
            )
        except requests.RequestException as exc:
            result["error"] = exc

    result["thread"] = threading.Thread(target=post, daemon=True)
    result["thread"].start()
    return result


def wait_for(condition, what: str, patience: float = PATIENCE) -> None:
    deadline = time.monotonic() + patience
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def chroma_collections(data_dir: Path) -> list[str]:
    """The collection names in an embedded Chroma store, read from its SQLite file (safe beside a live server)."""
    with sqlite3.connect(f"file:{data_dir / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=30) as db:
        return sorted(row[0] for row in db.execute("SELECT name FROM collections"))


# --- 1. dot-folders above the data dir or corpus -----------------------------------------------------------------

def test_published_bulletins_survive_a_restart_when_the_data_dir_is_below_a_dot_folder(config, tmp_path):
    hidden = tmp_path / ".bqa"
    app = private(hidden, config)
    created = app.test_client().post("/api/v1/bulletins", json={"name": "april-2021.md", "text": APRIL}, headers=AUTH)
    assert created.status_code == 201, created.get_json()

    restarted = BulletinQA.from_config(app.extensions["bqa"].config)
    report = restarted.index()
    assert report.removed == [] and "april-2021" in restarted.store.indexed(), report.summary()


def test_a_corpus_below_a_dot_folder_is_indexed(config, tmp_path):
    corpus = tmp_path / ".srv" / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    (corpus / ".drafts").mkdir()
    (corpus / ".drafts" / "draft-2021-05.md").write_text("# Draft May 2021\n\nNot ready.\n", encoding="utf-8")
    app = private(tmp_path, config, corpus_dirs=(corpus,))
    assert app.test_client().get("/healthz").status_code == 200
    assert set(app.extensions["bqa"].store.indexed()) == {SEED}  # a dot-folder below the root is still skipped


# --- 2. a full disk --------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs: a real filesystem that fills up. Mounting needs root, as in CI; skipped where refused."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {mounted.stderr.strip()}")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """Fill `disk` with one file until only about `leave_bytes` are free (tmpfs allocates on write), or until it is
    full if the server writes at the same time."""
    filler = disk / "filler"
    remaining = shutil.disk_usage(disk).free - leave_bytes
    block = b"\xff" * (1 << 20)
    with open(filler, "ab", buffering=0) as handle:
        while remaining > 0:
            try:
                handle.write(block[:remaining])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
            remaining -= len(block)
    return filler


def test_a_full_disk_gives_507_changes_nothing_and_never_wedges_the_service(small_disk, serve):
    data_dir = small_disk / "data"
    reserve = 4 << 20
    server = serve({"BQA_DATA_DIR": data_dir, "BQA_CORPUS": PROJECT_ROOT / "corpus",
                    "BQA_DISK_RESERVE_BYTES": reserve, "BQA_MAX_UPLOAD_BYTES": 10 << 20})
    served = requests.get(server.url + "/healthz", timeout=PATIENCE).json()["index"]["generation"]

    # Not enough room for the generation a publish builds: refused before anything is written.
    filler = fill(small_disk, reserve + (1 << 20))
    refused = requests.post(server.url + "/api/v1/bulletins", json={"name": "big-2021-04.md", "text": lighthouse(600)},
                            headers=AUTH, timeout=PATIENCE)
    assert refused.status_code == 507 and refused.json()["error"]["code"] == "insufficient_storage", refused.text
    assert registered(data_dir) == {SEED: f"{SEED}.md"}
    filler.unlink()

    # The disk fills while a publish is being embedded: Chroma fails mid-write.
    publishing = publish_in_background(server.url, "big-2021-04.md", lighthouse(1200))
    wait_for(lambda: len(chroma_collections(data_dir)) > SERVED_COLLECTIONS or not publishing["thread"].is_alive(),
             "the publish to create its generation")
    filler = fill(small_disk, 64 << 10)
    publishing["thread"].join(PATIENCE * 5)
    failed = publishing.get("response")
    assert failed is not None, publishing.get("error")
    assert failed.status_code == 507 and failed.json()["error"]["code"] == "storage_error", failed.text

    # The service still answers (healthz says "unavailable" while the store cannot even be reopened), nothing was
    # half-written, and the next write is refused at once instead of hanging.
    def still_answering() -> None:
        health = requests.get(server.url + "/healthz", timeout=PATIENCE)
        assert health.status_code in (200, 503), health.text
        if health.status_code == 200:
            assert health.json()["index"]["generation"] == served

    still_answering()
    again = requests.post(server.url + "/api/v1/bulletins", json={"name": "april-2021.md", "text": APRIL},
                          headers=AUTH, timeout=PATIENCE)
    assert again.status_code == 507 and again.json()["error"]["code"] in ("insufficient_storage", "storage_error")
    assert registered(data_dir) == {SEED: f"{SEED}.md"}
    asked = requests.post(server.url + "/api/v1/ask", json={"question": "Who funded CT Travel?"}, timeout=PATIENCE)
    assert asked.status_code in (200, 507) and asked.headers["Content-Type"].startswith("application/json"), asked.text
    still_answering()

    # Space back: publishing works again, on a store reopened after its failure.
    filler.unlink()
    listed = requests.get(server.url + "/api/v1/bulletins", timeout=PATIENCE).json()["bulletins"]
    assert [b["id"] for b in listed] == [SEED]
    published = requests.post(server.url + "/api/v1/bulletins", json={"name": "april-2021.md", "text": APRIL},
                              headers=AUTH, timeout=PATIENCE * 3)
    assert published.status_code == 201, published.text
    answer = requests.post(server.url + "/api/v1/ask", json={"question": "Who contributed to the Cybersecurity Programme?"},
                           timeout=PATIENCE).json()
    assert answer["answerable"] and "Japan" in answer["answer"], answer


def test_a_conversation_that_cannot_be_stored_on_a_full_disk_is_a_507(small_disk, config, qa):
    db = SQLiteDatabase(small_disk / "bqa.sqlite3", config.conversation_ttl)
    client = create_app(config, qa=BulletinQA(config, qa.store, db)).test_client()
    assert client.post("/api/v1/ask", json={"question": "Who funded CT Travel?"}).status_code == 200
    fill(small_disk, 0)
    for question in ("Who funded CT Travel?", "When was UNOCT established?"):  # the first may still fit a page
        response = client.post("/api/v1/ask", json={"question": question})
        if response.status_code != 200:
            break
    body = response.get_json()
    assert response.status_code == 507 and body["error"]["code"] == "storage_error", body
    assert client.get("/healthz").status_code == 200


# --- 3. one id, two files --------------------------------------------------------------------------------------

def test_publishing_an_id_a_corpus_file_already_has_is_a_conflict(config, tmp_path):
    app = private(tmp_path, config)
    corpus = app.extensions["bqa"].config.corpus_dirs[0]
    (corpus / "april-2021.md").write_text(APRIL, encoding="utf-8")  # added to the folder, not indexed yet
    response = app.test_client().post("/api/v1/bulletins", json={"name": "april-2021.txt", "text": APRIL}, headers=AUTH)
    assert "april-2021.md" in check_error(response, 409, "bulletin_exists")["message"]
    assert "april-2021" not in registered(app.extensions["bqa"].config.data_dir)


def test_a_start_with_two_files_of_one_id_reports_the_conflict_and_serves_the_rest(config, tmp_path):
    app = private(tmp_path, config)
    qa = app.extensions["bqa"]
    created = app.test_client().post("/api/v1/bulletins", json={"name": "april-2021.md", "text": APRIL}, headers=AUTH)
    assert created.status_code == 201
    (qa.config.corpus_dirs[0] / "april-2021.md").write_text(APRIL.replace("Japan", "Norway"), encoding="utf-8")

    restarted = BulletinQA.from_config(qa.config)
    change = restarted.index()
    assert change.conflicts and "april-2021" in change.conflicts[0]
    assert any(line.startswith("Conflict") and "april-2021" in line for line in change.lines())
    assert set(restarted.store.indexed()) == {SEED, "april-2021"}
    answer = create_app(restarted.config, qa=restarted).test_client().post(
        "/api/v1/ask", json={"question": "Who contributed to the Cybersecurity Programme?"}).get_json()
    assert "Japan" in answer["answer"]  # the version already served stays served


# --- 5. a small file that expands without bound ------------------------------------------------------------------

def test_a_pdf_whose_page_tree_repeats_one_page_90000_times_is_refused_with_the_reason(config, tmp_path):
    bomb = page_tree_bomb((30, 30, 10, 10))
    assert len(bomb) < 1500
    app = private(tmp_path, config)
    before = app.extensions["bqa"].store.active_name()
    response = app.test_client().post("/api/v1/bulletins", data={"file": (io.BytesIO(bomb), "bomb.pdf")}, headers=AUTH)
    message = check_error(response, 422, "bulletin_too_large")["message"]
    assert "pages" in message and "BQA_MAX_BULLETIN_PAGES" in message
    assert app.extensions["bqa"].store.active_name() == before


@pytest.mark.parametrize("limit, value, text", [
    ("max_bulletin_paragraphs", 50, lighthouse(51)),
    ("max_bulletin_chars", 20_000, lighthouse(200)),
])
def test_bulletins_past_the_paragraph_or_character_limit_are_refused(config, tmp_path, limit, value, text):
    app = private(tmp_path, config, **{limit: value})
    response = app.test_client().post("/api/v1/bulletins", json={"name": "big-2021-04.md", "text": text}, headers=AUTH)
    assert f"BQA_{limit.upper()}" in check_error(response, 422, "bulletin_too_large")["message"]


def test_the_source_view_of_a_long_bulletin_comes_in_pages_that_citations_point_into(config, tmp_path):
    app = private(tmp_path, config, max_upload_bytes=2_000_000)
    client = app.test_client()
    text = lighthouse(1200) + "\n\n## Lamps\n\nThe lamp of the Cape Guardafui lighthouse was replaced by the Somali coast guard in April.\n"
    assert client.post("/api/v1/bulletins", json={"name": "lighthouses-2021-04.md", "text": text}, headers=AUTH).status_code == 201

    first = client.get("/bulletins/lighthouses-2021-04")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert html.count('class="paragraph"') < 1201 and "?page=2" in html
    answer = client.post("/api/v1/ask", json={"question": "Who replaced the lamp of the Cape Guardafui lighthouse?"}).get_json()
    url = answer["citations"][0]["url"]
    assert "page=" in url, url
    path, _, anchor = url.partition("#")
    target = client.get(path.removeprefix("http://localhost"))
    assert f'id="{anchor}"' in target.get_data(as_text=True)
    assert client.get("/bulletins/lighthouses-2021-04?page=999").status_code == 404
    assert client.get("/bulletins/lighthouses-2021-04?page=x").status_code == 404
    detail = client.get("/api/v1/bulletins/lighthouses-2021-04").get_json()
    assert detail["pages"] > 1 and sum(len(s["paragraphs"]) for s in detail["sections"]) < 1201
    second = client.get("/api/v1/bulletins/lighthouses-2021-04?page=2").get_json()
    assert second["page"] == 2 and second["sections"]


# --- 6. one type decision for uploads and `bqa index` ------------------------------------------------------------

MARKDOWN_WITH_HTML = """# Lighthouse Bulletin April 2021

## Inspections

<div class="note">Figures are provisional.</div>

The keepers inspected 42 beacons along the northern coast in April.

## Funding

Norway funded the new lenses with NOK 2 million.
"""


def test_markdown_with_a_raw_html_block_is_published_as_markdown_like_bqa_index_reads_it(config, tmp_path):
    app = private(tmp_path, config)
    client = app.test_client()
    created = client.post("/api/v1/bulletins", json={"name": "lighthouses-2021-04.md", "text": MARKDOWN_WITH_HTML},
                          headers=AUTH)
    assert created.status_code == 201, created.get_json()
    assert registered(app.extensions["bqa"].config.data_dir)["lighthouses-2021-04"] == "lighthouses-2021-04.md"
    expected = parse(MARKDOWN_WITH_HTML.encode(), "lighthouses-2021-04.md")
    shown = client.get("/api/v1/bulletins/lighthouses-2021-04").get_json()
    assert [s["title"] for s in shown["sections"]] == [s.title for s in expected.sections] == ["Inspections", "Funding"]


def test_an_upload_without_a_known_suffix_is_still_sniffed(config, tmp_path):
    app = private(tmp_path, config)
    created = app.test_client().post(
        "/api/v1/bulletins", data={"file": (io.BytesIO(b"<html><body><h1>April 2021</h1><p>Keepers met.</p></body></html>"),
                                            "april-2021.bin")}, headers=AUTH)
    assert created.status_code == 201, created.get_json()
    assert registered(app.extensions["bqa"].config.data_dir)["april-2021"] == "april-2021.html"


# --- 7. bad input that gave a 500 --------------------------------------------------------------------------------

def test_integers_beyond_sqlite_in_feedback_are_refused(config, tmp_path):
    client = private(tmp_path, config).test_client()
    asked = client.post("/api/v1/ask", json={"question": "Who funded CT Travel?"}).get_json()
    rated = client.post("/api/v1/feedback", json={"conversation_id": asked["conversation_id"],
                                                 "turn": 9223372036854775808, "rating": "up"})
    check_error(rated, 400, "invalid_turn")
    listed = client.get("/api/v1/feedback?offset=9223372036854775808", headers=AUTH)
    check_error(listed, 400, "invalid_page")
    assert client.get("/api/v1/feedback?offset=9223372036854775807", headers=AUTH).status_code == 200


def test_an_upload_name_too_long_for_the_filesystem_is_refused(config, tmp_path):
    app = private(tmp_path, config)
    client = app.test_client()
    for name in ("a" * 250 + ".md", "b" * 300 + ".md"):
        response = client.post("/api/v1/bulletins", data={"file": (io.BytesIO(APRIL.encode()), name)}, headers=AUTH)
        check_error(response, 400, "invalid_name")
        response = client.post("/api/v1/bulletins", json={"name": name, "text": APRIL}, headers=AUTH)
        check_error(response, 400, "invalid_name")
    assert list(registered(app.extensions["bqa"].config.data_dir)) == [SEED]


# --- 8. slow clients under gunicorn --------------------------------------------------------------------------------

def trickle(port: int, stop: threading.Event, body: bool) -> threading.Thread:
    """A client that sends its request one byte every 0.2 s, for a minute at most: the body (after whole headers)
    or the request line itself."""
    start = (b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
             if body else b"")
    rest = b'{"question": "' + b"a" * 3900 + b'"}' if body else b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 500

    def run():
        with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as connection:
            try:
                connection.sendall(start)
                deadline = time.monotonic() + PATIENCE
                for byte in rest:
                    if stop.is_set() or time.monotonic() > deadline:
                        return
                    connection.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                return  # the server gave up on us: what it should do

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_slow_clients_cannot_block_healthz_under_gunicorn(tmp_path, serve):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    server = serve({"BQA_DATA_DIR": tmp_path / "data", "BQA_CORPUS": corpus, "BQA_REQUEST_READ_TIMEOUT_S": 2},
                   "--workers", "2", "--threads", "2")
    stop = threading.Event()
    # Six per thread of the two workers: however the workers share them out, each gets more than it has threads.
    slow = [trickle(server.port, stop, body=i % 2 == 0) for i in range(24)]
    try:
        time.sleep(1.5)  # every thread is now reading a slow request
        for _ in range(3):  # the trickles go on for PATIENCE: a blocked /healthz times out
            assert requests.get(server.url + "/healthz", timeout=PATIENCE / 2).status_code == 200
    finally:
        stop.set()
        for thread in slow:
            thread.join(PATIENCE)


def test_a_slow_body_is_answered_408(tmp_path, serve):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    server = serve({"BQA_DATA_DIR": tmp_path / "data", "BQA_CORPUS": corpus, "BQA_REQUEST_READ_TIMEOUT_S": 1},
                   "--workers", "2", "--threads", "1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as connection:
        connection.sendall(b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{")
        status = connection.makefile("rb").readline()
    assert status.startswith(b"HTTP/1.1 408"), status


# --- 9. metrics label only what the service knows --------------------------------------------------------------

def test_invented_methods_and_paths_do_not_grow_the_metrics(client):
    for method in ("FOO", "BAR", "XYZZY", "A" * 40):
        assert client.open("/healthz", method=method).status_code == 405
        assert client.open(f"/nothing-{method}", method=method).status_code in (404, 405)
    text = client.get("/metrics").get_data(as_text=True)
    methods = {line.split('method="')[1].split('"')[0] for line in text.splitlines() if 'method="' in line}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other"}, methods
    assert "other" in methods
    endpoints = {line.split('endpoint="')[1].split('"')[0] for line in text.splitlines() if 'endpoint="' in line}
    assert not any("nothing-" in endpoint for endpoint in endpoints)


# --- 10. Host headers never grant CORS -------------------------------------------------------------------------

EVIL = "http://evil.example"


@pytest.mark.parametrize("proxies", [0, 1])
def test_an_origin_named_in_host_or_x_forwarded_host_gets_no_cors_grant(config, qa, proxies):
    client = create_app(replace(config, trusted_proxies=proxies, public_url=None), qa=qa).test_client()
    headers = {"Origin": EVIL, "Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    answer = client.post("/api/v1/ask", json={"question": "Who funded CT Travel?"}, headers=headers)
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers
    preflight = client.options("/api/v1/ask", headers={**headers, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})
    check_error(preflight, 403, "origin_not_allowed")


def test_serving_on_a_public_address_without_a_public_url_warns(tmp_path, serve):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    server = serve({"BQA_DATA_DIR": tmp_path / "data", "BQA_CORPUS": corpus}, wait=False, host="0.0.0.0")
    wait_for(lambda: "BQA_PUBLIC_URL" in server.output() or server.process.poll() is not None,
             "the warning", patience=SERVE_START_TIMEOUT_S)
    assert "BQA_PUBLIC_URL" in server.output()


# --- 11. leftovers after a kill -9 -----------------------------------------------------------------------------

def test_leftovers_of_a_kill_9_mid_upload_are_cleaned_at_the_next_start_and_periodically(tmp_path, serve):
    data_dir, corpus = tmp_path / "data", tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    env = {"BQA_DATA_DIR": data_dir, "BQA_CORPUS": corpus, "BQA_CONVERSATION_TTL": 2,
           "BQA_MAX_UPLOAD_BYTES": 10 << 20}
    server = serve(env)
    served = requests.get(server.url + "/healthz", timeout=PATIENCE).json()["index"]["generation"]
    asked = requests.post(server.url + "/api/v1/ask", json={"question": "Who funded CT Travel?"}, timeout=PATIENCE)
    rated = requests.post(server.url + "/api/v1/ask", json={"question": "When was UNOCT established?"}, timeout=PATIENCE)
    requests.post(server.url + "/api/v1/feedback", timeout=PATIENCE,
                  json={"conversation_id": rated.json()["conversation_id"], "turn": 1, "rating": "up"})

    publish_in_background(server.url, "lighthouses-2021-04.md", lighthouse(1500))
    wait_for(lambda: len(chroma_collections(data_dir)) > SERVED_COLLECTIONS, "the upload's generation to be created",
             PATIENCE * 2)
    server.kill()

    half_built = set(chroma_collections(data_dir)) - {served, sentence_collection(served), "bqa-state"}
    assert half_built, chroma_collections(data_dir)
    assert registered(data_dir) == {SEED: f"{SEED}.md"}  # the killed publish left no half of itself in the registry
    # as a bqa from before the registry left its upload (it wrote files there first) and a replaced corpus file
    uploads = data_dir / "bulletins"
    uploads.mkdir()
    leftovers = [uploads / ".lighthouses-2021-04.md.uploading", corpus / f".{SEED}.md.uploading"]
    for leftover in leftovers:
        leftover.write_text("half a bulletin", encoding="utf-8")
    time.sleep(2.5)  # both conversations expire

    server = serve({**env, "BQA_CLEANUP_INTERVAL_S": 1})
    assert not any(leftover.exists() for leftover in leftovers)
    assert not half_built & set(chroma_collections(data_dir))
    with sqlite3.connect(data_dir / "bqa.sqlite3") as db:
        kept = {row[0] for row in db.execute("SELECT id FROM conversations")}
    assert asked.json()["conversation_id"] not in kept
    assert rated.json()["conversation_id"] in kept  # rated: the feedback keeps its question and answer
    feedback = requests.get(server.url + "/api/v1/feedback", headers=AUTH, timeout=PATIENCE).json()["feedback"]
    assert feedback and feedback[0]["question"] == "When was UNOCT established?"

    stale = uploads / ".forgotten-2021-05.md.uploading"  # as left by a worker killed while it was serving
    stale.write_text("half a bulletin", encoding="utf-8")
    wait_for(lambda: not stale.exists(), "the periodic cleanup", PATIENCE)
    assert requests.get(server.url + "/healthz", timeout=PATIENCE).status_code == 200


# --- 12. small things --------------------------------------------------------------------------------------------

def test_a_413_states_the_limit_that_applied(config, tmp_path):
    client = private(tmp_path, config, max_upload_bytes=100_000).test_client()
    upload = client.post("/api/v1/bulletins", data={"file": (io.BytesIO(b"x" * 150_000), "big.md")}, headers=AUTH)
    assert "100000 bytes" in check_error(upload, 413, "payload_too_large")["message"]
    question = client.post("/api/v1/ask", data=b'{"question": "' + b"x" * 70_000 + b'"}',
                           content_type="application/json")
    assert "65536 bytes" in check_error(question, 413, "payload_too_large")["message"]


def test_a_chunked_json_upload_over_the_limit_is_413(config, tmp_path):
    app = private(tmp_path, config, max_upload_bytes=100_000)
    body = json.dumps({"name": "big-2021-04.md", "text": lighthouse(600)}).encode()
    assert len(body) > 100_000

    environ = EnvironBuilder(
        app, "/api/v1/bulletins", method="POST", input_stream=io.BytesIO(body), content_type="application/json",
        headers={**AUTH, "Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
    ).get_environ()
    del environ["CONTENT_LENGTH"]  # chunked: the limit can only be enforced while reading
    response = app.test_client().open(Request(environ))
    assert "100000 bytes" in check_error(response, 413, "payload_too_large")["message"]
    assert list(registered(app.extensions["bqa"].config.data_dir)) == [SEED]


@pytest.mark.parametrize("period", ["2021-03\n", "２０２１-03", "2021-０3", " 2021-03", "2021-3"])
def test_period_filters_take_only_ascii_year_and_month(client, period):
    response = client.post("/api/v1/ask", json={"question": "Who funded CT Travel?", "filters": {"period_from": period}})
    check_error(response, 400, "invalid_filters")

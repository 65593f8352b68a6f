"""Re-indexing while answering (issue 7, "Concurrency"): while one thread replaces a bulletin over and over through
the admin API, other threads keep asking questions and reading bulletins. No request may fail, and none may see a
duplicate or a missing paragraph: each read sees the old generation or the new one, whole.

Runs against the embedded store and against a real Chroma server. Each run gets a private app (its own data folder,
corpus copy and admin token), because the test changes the index. On the Chroma server the private app shares the
server's default database with the session's `server_qa`, so the test leaves that index as it found it: the extra
bulletin is deleted again at the end (and in the fixture's teardown, should the test fail half-way).
"""

from __future__ import annotations

import shutil
import threading
import time
import traceback
from collections import Counter
from dataclasses import replace

import pytest

from tests.conftest import STORES
from index.parse import parse
from service.app import create_app
from service.config import PROJECT_ROOT
from service.pipeline import BulletinQA

TOKEN = "concurrency-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = "unoct-highlights-2021-03"
EXTRA = "unoct-highlights-2021-04"
WRITES = 6  # replacements of the extra bulletin, alternating its two versions
READERS = 3
READER_PAUSE = 0.01  # seconds between two requests of one reader
JOIN_TIMEOUT = 240  # seconds; generous for a loaded 2-core machine, but a deadlock must not hang the suite

CT_TRAVEL = "Who funded CT Travel in March?"
CYBERSECURITY = "Who contributed to the Cybersecurity Programme?"
TEMPLATE = """# UNOCT Highlights April 2021

## Highlights

In April, UNOCT received a contribution from {donor} in support of the Cybersecurity Programme.

The Office launched a training course on the protection of soft targets for 35 officials from 12 Member States.

## Events

UNOCT and UNODC held a workshop on the rights of victims of terrorism in Nairobi, with 40 participants. (12 April)
"""
VERSIONS = {"A": TEMPLATE.format(donor="Japan (US$250,000)"), "B": TEMPLATE.format(donor="Norway (US$310,000)")}
DONORS = {"A": "Japan", "B": "Norway"}


def layout(version: str) -> list:
    """[(section title, [(paragraph id, text), ...]), ...] that a version of the extra bulletin parses to."""
    bulletin = parse(VERSIONS[version].encode(), f"{EXTRA}.md")
    return [(s.title, [(p.id, p.text) for p in s.paragraphs]) for s in bulletin.sections]


def shown(response_json: dict) -> list:
    """The same layout, as GET /api/v1/bulletins/<id> shows it."""
    return [(s["title"], [(p["id"], p["text"]) for p in s["paragraphs"]]) for s in response_json["sections"]]


@pytest.fixture(params=STORES)
def app(request, config, qa, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    overrides = {"data_dir": tmp_path / "data", "corpus_dirs": (corpus,), "admin_token": TOKEN, "rate_limit": 0}
    if request.param == "chroma-server":
        overrides["chroma_url"] = request.getfixturevalue("chroma_server")
    private = replace(config, **overrides)
    service = BulletinQA.from_config(private)
    service.index()
    app = create_app(private, qa=service)
    yield app
    if EXTRA in service.store.indexed():  # the test failed half-way: leave a shared Chroma server as it was
        app.test_client().delete(f"/api/v1/bulletins/{EXTRA}", headers=AUTH)


def test_reindexing_a_bulletin_while_answering(app):
    client = app.test_client()
    expected = {version: layout(version) for version in VERSIONS}
    assert expected["A"] != expected["B"] and len(expected["A"]) == 2

    created = client.post("/api/v1/bulletins", json={"name": f"{EXTRA}.md", "text": VERSIONS["A"]}, headers=AUTH)
    assert created.status_code == 201, created.get_json()
    seed = client.get(f"/api/v1/bulletins/{SEED}")
    assert seed.status_code == 200
    seed_layout = shown(seed.get_json())
    count = lambda sections: sum(len(paragraphs) for _, paragraphs in sections)  # noqa: E731
    listing = sorted([(SEED, count(seed_layout)), (EXTRA, count(expected["A"]))])  # both versions: 3 paragraphs
    assert count(expected["A"]) == count(expected["B"])
    before = client.post("/api/v1/ask", json={"question": CYBERSECURITY}).get_json()
    assert before["answerable"] is True and "Japan" in before["answer"], before

    writing = threading.Event()
    writing.set()
    problems: list[str] = []  # every failed request or broken invariant, from any thread
    seen: Counter = Counter()  # (reader, version or outcome) -> how often, to show the test really interleaved
    lock = threading.Lock()

    def problem(message: str) -> None:
        with lock:
            problems.append(message)

    def saw(key) -> None:
        with lock:
            seen[key] += 1

    def guarded(name: str, body):
        def run():
            try:
                body()
            except BaseException:  # collected and asserted on in the main thread
                problem(f"{name} raised:\n{traceback.format_exc()}")
            finally:
                if name == "writer":
                    writing.clear()
        return threading.Thread(target=run, name=name, daemon=True)

    def writer():
        own = app.test_client()
        for i in range(WRITES):
            version = "B" if i % 2 == 0 else "A"
            response = own.put(f"/api/v1/bulletins/{EXTRA}", json={"text": VERSIONS[version]}, headers=AUTH)
            if response.status_code != 200:
                problem(f"PUT #{i} ({version}): {response.status_code} {response.data[:300]!r}")
            saw(("writer", version))
            time.sleep(0.05)  # let the readers in between two generations too

    def until_written(minimum: int):
        """Iterations of a reader: as long as the writer writes, and at least `minimum` times. A reader pauses
        between requests as a user does: three threads answering remembered questions back to back are pure Python
        and would hold the GIL nearly all the time, so the writer's parsing, chunking and Chroma calls (each waiting
        for the GIL again) would crawl and the test would measure the GIL instead of consistency."""
        n = 0
        while writing.is_set() or n < minimum:
            yield n
            n += 1
            time.sleep(READER_PAUSE)

    def ask_ct_travel():
        own = app.test_client()
        for n in until_written(2):
            response = own.post("/api/v1/ask", json={"question": CT_TRAVEL})
            if response.status_code != 200:
                problem(f"ask CT Travel #{n}: {response.status_code} {response.data[:300]!r}")
                continue
            body = response.get_json()
            pids = [c["paragraph_id"] for c in body["citations"]]
            if not body["answerable"] or "India" not in body["answer"] or len(pids) != len(set(pids)):
                problem(f"ask CT Travel #{n}: {body['answer']!r} citing {pids}")
            saw(("ct-travel", "ok"))

    def ask_cybersecurity():
        own = app.test_client()
        for n in until_written(2):
            response = own.post("/api/v1/ask", json={"question": CYBERSECURITY})
            if response.status_code != 200:
                problem(f"ask Cybersecurity #{n}: {response.status_code} {response.data[:300]!r}")
                continue
            body = response.get_json()
            named = [v for v, donor in DONORS.items() if donor in body["answer"]]
            pids = [c["paragraph_id"] for c in body["citations"]]
            quotes = " ".join(c["text"] for c in body["citations"])
            if not body["answerable"] or len(named) != 1 or len(pids) != len(set(pids)):
                problem(f"ask Cybersecurity #{n}: {body['answer']!r} names {named}, citing {pids}")
                continue
            if DONORS[named[0]] not in quotes or DONORS[{"A": "B", "B": "A"}[named[0]]] in quotes:
                problem(f"ask Cybersecurity #{n}: the answer names {DONORS[named[0]]}, its citations say {quotes!r}")
            saw(("cybersecurity", named[0]))

    def browse():
        own = app.test_client()
        for n in until_written(5):
            response = own.get(f"/api/v1/bulletins/{EXTRA}")
            if response.status_code != 200:
                problem(f"GET {EXTRA} #{n}: {response.status_code} {response.data[:300]!r}")
                continue
            got = shown(response.get_json())
            version = next((v for v, want in expected.items() if got == want), None)
            if version is None:
                problem(f"GET {EXTRA} #{n}: neither version, duplicates or missing paragraphs: {got!r}")
            else:
                saw(("browse", version))
            response = own.get(f"/api/v1/bulletins/{SEED}")
            if response.status_code != 200 or shown(response.get_json()) != seed_layout:
                problem(f"GET {SEED} #{n}: {response.status_code}, paragraphs changed while another bulletin was replaced")
            response = own.get("/api/v1/bulletins")
            listed = response.get_json()["bulletins"] if response.status_code == 200 else None
            if listed is None or sorted((b["id"], b["paragraphs"]) for b in listed) != listing:
                problem(f"GET /api/v1/bulletins #{n}: {response.status_code} {listed!r}")

    threads = [guarded("writer", writer), guarded("ask-ct-travel", ask_ct_travel),
               guarded("ask-cybersecurity", ask_cybersecurity), guarded("browse", browse)]
    assert len(threads) == 1 + READERS
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not [t.name for t in threads if t.is_alive()], f"threads still running after {JOIN_TIMEOUT}s: {problems}"
    assert not problems, f"{len(problems)} problem(s) while re-indexing:\n" + "\n".join(problems[:20])

    print(f"reads per version while re-indexing: {dict(seen)}")  # shown with -s, or with a failure
    assert seen[("writer", "A")] + seen[("writer", "B")] == WRITES
    assert seen[("browse", "A")] and seen[("browse", "B")], f"the readers never saw both versions: {dict(seen)}"
    assert seen[("ct-travel", "ok")] >= 2 and seen[("cybersecurity", "A")] + seen[("cybersecurity", "B")] >= 2

    # The last write (version A) is what is served now; deleting the bulletin leaves the seed corpus as it was.
    final = "A" if WRITES % 2 == 0 else "B"
    assert shown(client.get(f"/api/v1/bulletins/{EXTRA}").get_json()) == expected[final]
    assert DONORS[final] in client.post("/api/v1/ask", json={"question": CYBERSECURITY}).get_json()["answer"]
    assert client.delete(f"/api/v1/bulletins/{EXTRA}", headers=AUTH).status_code == 200
    assert [b["id"] for b in client.get("/api/v1/bulletins").get_json()["bulletins"]] == [SEED]
    assert shown(client.get(f"/api/v1/bulletins/{SEED}").get_json()) == seed_layout
    after = client.post("/api/v1/ask", json={"question": CYBERSECURITY}).get_json()
    assert DONORS[final] not in after["answer"] and all(c["bulletin_id"] == SEED for c in after["citations"])

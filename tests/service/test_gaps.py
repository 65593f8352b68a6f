"""The content-gap report: questions not answered or rated 👎, grouped by meaning with the shipped model, most asked
first; as JSON and CSV over the admin API. Questions go through the real API, so what is grouped is what the
service stored."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace

import numpy as np
import pytest

from service import gaps
from service.app import create_app
from service.db.base import GapQuestion
from service.pipeline import BulletinQA

TOKEN = "admin-token-for-tests"
ESTABLISHED = "Which country's contribution established the UN Counter-Terrorism Centre?"  # answered
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def asked(question: str, seconds_ago: float = 0, unanswered: bool = True, disliked: bool = False) -> GapQuestion:
    return GapQuestion("c", 1, question, question, time.time() - seconds_ago, unanswered, disliked)


def test_rewordings_of_one_question_are_one_gap_and_an_unrelated_question_is_not():
    groups = gaps.group([
        asked("who funded the Doha Hub?", 30),
        asked("Who paid for the Doha Hub?", 20),
        asked("How do I subscribe to the bulletin by email?", 10),
    ])
    assert [sorted(g.examples) for g in groups] == [
        ["Who paid for the Doha Hub?", "who funded the Doha Hub?"], ["How do I subscribe to the bulletin by email?"],
    ]


def test_groups_come_most_asked_first_with_their_latest_questions_and_counts():
    questions = [  # newest first, as the database gives them
        asked("where is the office in nairobi?", 5),
        asked("who funded the Doha Hub?", 10, unanswered=False, disliked=True),
        asked("who funded the Doha Hub?", 20),
        asked("who paid for the doha hub", 30),
        asked("Where is the Nairobi office?", 40),
        asked("who funded the Doha Hub?", 50),
    ]
    doha, nairobi = gaps.group(questions)
    assert doha.asked == 4 and doha.unanswered == 3 and doha.disliked == 1
    assert doha.examples == ("who funded the Doha Hub?", "who paid for the doha hub")  # distinct, newest first
    assert doha.last_asked == pytest.approx(questions[1].asked)
    assert nairobi.asked == 2 and nairobi.last_asked == pytest.approx(questions[0].asked)
    assert gaps.group([]) == []
    assert gaps.group(questions[:1])[0].asked == 1


def test_clustering_is_deterministic():
    texts = ["who funded the Doha Hub?", "who paid for the Doha Hub?", "when did the Doha Hub open?",
             "how many people work at UNOCT?", "number of staff at the office"]
    first = [g.examples for g in gaps.group([asked(t, i) for i, t in enumerate(texts)])]
    again = [g.examples for g in gaps.group([asked(t, i) for i, t in enumerate(texts)])]
    assert first == again


def test_the_cut_keeps_every_two_members_of_a_complete_linkage_group_that_alike():
    """Three questions in a chain: each is alike its neighbour (cosine 0.82 and 0.71), the two ends are not (0.17)."""
    at = lambda degrees: [np.cos(np.radians(degrees)), np.sin(np.radians(degrees))]  # noqa: E731
    chain = np.array([at(80), at(0), at(35)])
    assert gaps.cluster(chain, similarity=0.7, linkage="complete") == [0, 1, 1]  # numbered by first row
    assert gaps.cluster(chain, similarity=0.1, linkage="complete") == [0, 0, 0]
    assert gaps.cluster(chain, similarity=0.7, linkage="single") == [0, 0, 0]  # linked through the middle one
    assert gaps.cluster(chain, similarity=0.7, linkage="average") == [0, 1, 1]
    assert gaps.cluster(chain, similarity=0.9, linkage="complete") == [0, 1, 2]


@pytest.fixture(scope="module")
def app(config, qa, tmp_path_factory):
    """The service over the seed corpus with its own (empty) database."""
    root = tmp_path_factory.mktemp("gaps")
    private = replace(config, data_dir=root / "data", admin_token=TOKEN)
    service = BulletinQA(private, qa.store, BulletinQA.from_config(private).db)
    return create_app(private, qa=service)


def test_the_report_groups_what_users_asked_and_exports_csv(app):
    client = app.test_client()
    for question in ("How do I subscribe to the bulletin by email?", "How can I sign up for the bulletin by e-mail?",
                     "how do i subscribe to the bulletin by email", "What is the weather in Vienna today?"):
        answer = client.post("/api/v1/ask", json={"question": question}).get_json()
        assert answer["answerable"] is False, answer["answer"]
    answered = client.post("/api/v1/ask", json={"question": ESTABLISHED}).get_json()
    assert answered["answerable"] is True
    client.post("/api/v1/feedback", json={"conversation_id": answered["conversation_id"], "turn": 1,
                                          "rating": "down", "comment": "wanted the amount"})

    assert client.get("/api/v1/gaps").status_code == 401
    report = client.get("/api/v1/gaps", headers=AUTH).get_json()
    assert report["questions"] == 5
    groups = [(g["asked"], sorted(set(e.lower().rstrip("?") for e in g["examples"]))) for g in report["groups"]]
    assert groups[0] == (3, ["how can i sign up for the bulletin by e-mail", "how do i subscribe to the bulletin by email"])
    assert sorted(groups[1:]) == [(1, ["what is the weather in vienna today"]), (1, [ESTABLISHED.lower().rstrip("?")])]
    disliked = next(g for g in report["groups"] if g["examples"] == [ESTABLISHED])
    assert (disliked["disliked"], disliked["unanswered"]) == (1, 0)
    assert report["groups"][0]["last_asked"].endswith("Z")

    exported = client.get("/api/v1/gaps.csv", headers=AUTH)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["rank", "asked", "unanswered", "disliked", "last_asked_utc", "examples"]
    assert rows[1][:4] == ["1", "3", "3", "0"] and "subscribe to the bulletin" in rows[1][5]
    assert client.get("/api/v1/gaps?days=0", headers=AUTH).get_json()["error"]["code"] == "invalid_days"
    stored = app.extensions["bqa"].db.gap_questions(0, 10)
    assert all(q.vector is not None for q in stored)  # embedded once, kept for the next report


def test_a_vector_kept_by_another_embedding_model_is_computed_again():
    """After a model change (an upgrade), kept vectors of the old model are not compared with the new model's."""
    from index.embed import MODEL_ID, embed_texts

    question = "who funded the Doha Hub?"
    other = (np.ones(384) / np.sqrt(384)).astype(np.float32)
    old = replace(asked(question), vector=other.tobytes(), vector_model="an-older-model")
    current = replace(asked(question), turn=2, vector=other.tobytes(), vector_model=MODEL_ID)
    known, fresh = gaps.vectors([old])
    assert np.abs(known[question.lower()] - np.array(embed_texts([question])[0])).max() < 1e-6
    assert [(c, t) for c, t, _ in fresh] == [("c", 1)]
    known, fresh = gaps.vectors([current])
    assert np.array_equal(known[question.lower()], other) and fresh == []  # this model's: reused as kept


def test_a_question_written_as_a_formula_is_exported_as_text():
    report = gaps.Report(tuple(gaps.group([asked("=HYPERLINK(\"http://x\")")])), 1, time.time())
    row = list(csv.reader(io.StringIO(report.csv())))[1]
    assert row[5] == "'=HYPERLINK(\"http://x\")"

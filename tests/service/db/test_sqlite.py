"""The SQLite backend: the `Database` contract, and upgrades of data folders made by earlier versions of bqa."""

from __future__ import annotations

import json
import sqlite3

import pytest

from service.db.base import FeedbackQuery, SchemaTooNew
from service.db.migrations import steps
from service.db.sqlite import SQLiteDatabase
from tests.service.db.contract import TTL_S, DatabaseContract, at_once

# The schema as bqa created it before schemas were versioned (service/history.py on main before issue 14): the first
# schema step is that schema statement for statement, and a step's SQL never changes once released (data folders
# record the steps they took), so it is what such a data folder holds.
UNVERSIONED_SCHEMA = steps("sqlite")[0].sql


class TestSQLite(DatabaseContract):
    @pytest.fixture()
    def db(self, tmp_path):
        return SQLiteDatabase(tmp_path / "bqa.sqlite3", TTL_S)


def unversioned_data(path, now: float) -> None:
    """A data folder's database as the code before versioned schemas wrote it: two conversations, turns (one
    not answered), feedback, a Slack thread."""
    db = sqlite3.connect(path)
    db.executescript(UNVERSIONED_SCHEMA)
    citations = json.dumps([{"n": 1, "bulletin_id": "unoct-highlights-2021-03", "paragraph_id": "p-1"}])
    timing = json.dumps({"retrieve": 1.0, "answer": 1.0, "total": 2.0})
    db.execute("INSERT INTO conversations VALUES ('c1', ?, ?)", (now - 60, now - 30))
    db.execute("INSERT INTO conversations VALUES ('c2', ?, ?)", (now - 50, now - 50))
    db.execute("INSERT INTO turns VALUES ('c1', 1, 'Who funded CT Travel?', 'Who funded CT Travel?', 'India.', 1, ?, ?, ?)",
               (citations, timing, now - 60))
    db.execute("INSERT INTO turns VALUES ('c1', 2, 'how much?', 'how much did India give?', '$500,000.', 1, ?, ?, ?)",
               (citations, timing, now - 30))
    db.execute("INSERT INTO turns VALUES ('c2', 1, 'Who funded the Doha Hub?', 'Who funded the Doha Hub?', "
               "'The bulletins don''t say.', 0, '[]', ?, ?)", (timing, now - 50))
    db.execute("INSERT INTO feedback (conversation_id, turn, rating, comment, source, created) "
               "VALUES ('c1', 2, 'down', 'It was more', 'widget', ?)", (now - 20,))
    db.execute("INSERT INTO feedback (conversation_id, turn, rating, comment, source, created) "
               "VALUES ('c1', 1, 'up', NULL, 'slack', ?)", (now - 10,))
    db.execute("INSERT INTO slack_threads VALUES ('T', 'C', '1.0', 'c1', ?)", (now - 30,))
    db.commit()
    db.close()


def test_a_data_folder_from_before_schema_versions_is_upgraded_with_its_data(tmp_path):
    import time

    now = time.time()
    path = tmp_path / "bqa.sqlite3"
    unversioned_data(path, now)

    db = SQLiteDatabase(path, TTL_S)
    assert db.schema_version() == len(steps("sqlite"))
    assert [(t["question"], t["answer"]) for t in db.turns("c1")] == [
        ("Who funded CT Travel?", "India."), ("how much?", "$500,000."),
    ]
    assert db.turns("c1")[0]["citations"][0]["paragraph_id"] == "p-1"
    assert db.turns("c2")[0]["answerable"] is False
    feedback = db.feedback()
    assert [(f.rating, f.source, f.comment, f.question) for f in feedback] == [
        ("up", "slack", None, "Who funded CT Travel?"), ("down", "widget", "It was more", "how much?"),
    ]
    assert db.feedback(FeedbackQuery(rating="down"))[0].citations[0]["bulletin_id"] == "unoct-highlights-2021-03"
    assert db.slack_conversation("T", "C", "1.0") == "c1"
    # what was stored before becomes the content-gap report's data: the unanswered turn and the 👎 one
    assert {(g.resolved_question, g.unanswered, g.disliked) for g in db.gap_questions(0, 10)} == {
        ("Who funded the Doha Hub?", True, False), ("how much did India give?", False, True),
    }
    # and the upgraded database goes on working
    assert db.add_turn("c1", {"question": "and Japan?", "resolved_question": "how much did Japan give?",
                              "answer": "…", "answerable": True, "citations": [], "timing_ms": {}}) == 3
    assert db.add_feedback("c2", 1, "down", None, "api") > 2

    reopened = SQLiteDatabase(path, TTL_S)  # opening again applies nothing twice
    applied = sqlite3.connect(path).execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert applied == [(m.number, m.name) for m in steps("sqlite")]
    assert len(reopened.turns("c1")) == 3


def test_a_database_from_a_newer_bqa_is_refused(tmp_path):
    path = tmp_path / "bqa.sqlite3"
    SQLiteDatabase(path, TTL_S)
    newer = len(steps("sqlite")) + 1
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (?, 'from_the_future', 0)", (newer,))
    with pytest.raises(SchemaTooNew, match=f"schema version {newer}, newer than this bqa knows"):
        SQLiteDatabase(path, TTL_S)


def test_workers_opening_a_new_data_folder_together_migrate_it_once(tmp_path):
    path = tmp_path / "bqa.sqlite3"
    assert at_once(lambda: SQLiteDatabase(path, TTL_S)) == []
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchall()
    assert [v for (v,) in versions] == list(range(1, len(steps("sqlite")) + 1))

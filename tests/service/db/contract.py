"""The behaviour every `Database` backend owes the service, written once (haystack's document-store contract
tests): a backend's test module subclasses `DatabaseContract` and supplies a `db` fixture (a fresh, empty database
with a conversation TTL of one hour)."""

from __future__ import annotations

import threading
import time

import pytest

from service.db.base import (
    BulletinNotRegistered, ConversationNotFound, FeedbackQuery, Registered, TurnNotFound,
)
from service.db.migrations import steps

TTL_S = 3600


def turn(question: str = "Who funded CT Travel?", answerable: bool = True, **extra) -> dict:
    """A turn as the pipeline hands it to `add_turn`."""
    return {
        "question": question, "resolved_question": extra.pop("resolved", question), "answer": "India.",
        "answerable": answerable, "citations": [{"n": 1, "bulletin_id": "b", "url": "/bulletins/b#p"}],
        "timing_ms": {"retrieve": 1.0, "answer": 2.0, "total": 3.0}, **extra,
    }


def entry(bid: str = "april-2021", **changes) -> Registered:
    values = dict(id=bid, origin="published", name=f"{bid}.md", path=None, folder=None, sha256="0" * 64, size=5,
                  removed=False, registered=1.0, updated=1.0)
    values.update(changes)
    return Registered(**values)


def at_once(action, times: int = 4) -> list[Exception]:
    """Run `action` in `times` threads started together (workers or machines opening one database) and return the
    exceptions they raised."""
    errors = []

    def run():
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - any failure is the test failing
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class DatabaseContract:
    engine = "sqlite"

    def test_is_at_the_newest_schema_version(self, db):
        assert db.schema_version() == len(steps(self.engine))

    def test_a_conversation_keeps_its_turns_in_order(self, db):
        conversation = db.start_conversation()
        assert db.turns(conversation) == []
        assert db.add_turn(conversation, turn("first?")) == 1
        assert db.add_turn(conversation, turn("second?")) == 2
        turns = db.turns(conversation)
        assert [t["question"] for t in turns] == ["first?", "second?"] and [t["n"] for t in turns] == [1, 2]
        assert turns[0]["citations"] == turn()["citations"] and turns[0]["answerable"] is True

    def test_expired_conversations_are_purged_unless_rated(self, db):
        forgotten, rated = db.start_conversation(), db.start_conversation()
        for conversation in (forgotten, rated):
            db.add_turn(conversation, turn("who funded the hub?", answerable=False))
        db.add_feedback(rated, 1, "down", None, "api")
        assert db.purge_expired() == 0  # both are live
        db.ttl = -1  # now both have been idle past the TTL
        assert db.purge_expired() == 1
        db.ttl = TTL_S
        assert [e.conversation_id for e in db.feedback()] == [rated]
        with pytest.raises(ConversationNotFound):
            db.turns(forgotten)
        assert {g.conversation_id for g in db.gap_questions(0, 10)} == {forgotten, rated}  # the report keeps both

    def test_unknown_conversations_are_not_found(self, db):
        with pytest.raises(ConversationNotFound):
            db.turns("nope")
        with pytest.raises(ConversationNotFound):
            db.add_turn("nope", turn())

    def test_feedback_is_listed_newest_first_with_what_it_rates_and_filtered(self, db):
        conversation = db.start_conversation()
        db.add_turn(conversation, turn("who funded the hub?"))
        db.add_turn(conversation, turn("how much was it?"))
        first = db.add_feedback(conversation, 1, "up", None, "widget")
        second = db.add_feedback(conversation, 2, "down", "Wrong amount", "slack")
        assert second > first
        entries = db.feedback()
        assert [e.id for e in entries] == [second, first]
        assert (entries[0].question, entries[0].comment, entries[0].source) == ("how much was it?", "Wrong amount", "slack")
        assert entries[0].citations == turn()["citations"]
        assert [e.id for e in db.feedback(FeedbackQuery(rating="up"))] == [first]
        assert [e.id for e in db.feedback(FeedbackQuery(source="slack"))] == [second]
        assert [e.id for e in db.feedback(FeedbackQuery(text="WRONG"))] == [second]
        assert [e.id for e in db.feedback(FeedbackQuery(text="hub"))] == [first]
        assert [e.id for e in db.feedback(FeedbackQuery(limit=1, offset=1))] == [first]
        with pytest.raises(TurnNotFound):
            db.add_feedback(conversation, 3, "up", None, "api")

    def test_unanswered_and_disliked_questions_are_the_gap_questions(self, db):
        conversation = db.start_conversation()
        db.add_turn(conversation, turn("who funded the hub?", answerable=False))
        db.add_turn(conversation, turn("and the other one?", resolved="who funded the other hub?"))
        db.add_turn(conversation, turn("who funded CT Travel?"))
        db.add_feedback(conversation, 2, "down", None, "widget")
        db.add_feedback(conversation, 3, "up", None, "widget")
        db.add_feedback(conversation, 1, "down", None, "widget")
        gaps = db.gap_questions(0, 10)
        assert [(g.question, g.resolved_question, g.unanswered, g.disliked) for g in gaps] == [
            ("and the other one?", "who funded the other hub?", False, True),
            ("who funded the hub?", "who funded the hub?", True, True),
        ]  # newest first
        assert db.gap_questions(time.time() + 60, 10) == []
        assert len(db.gap_questions(0, 1)) == 1
        assert all(g.vector is None for g in gaps)
        db.save_gap_vectors([(conversation, 2, b"\x00\x00\x80?" * 3)], "model-a")
        assert {g.turn: (g.vector, g.vector_model) for g in db.gap_questions(0, 10)} == {
            2: (b"\x00\x00\x80?" * 3, "model-a"), 1: (None, None)}

    def test_a_slack_thread_is_a_conversation_and_a_delivery_is_claimed_once(self, db):
        conversation = db.start_conversation()
        assert db.slack_conversation("T", "C", "1.0") is None
        db.link_slack_thread("T", "C", "1.0", conversation, asker="U1")
        assert db.slack_conversation("T", "C", "1.0") == conversation
        assert db.is_slack_asker("T", "C", "1.0", "U1") and not db.is_slack_asker("T", "C", "1.0", "U2")
        claims = []
        threads = [threading.Thread(target=lambda: claims.append(db.first_delivery("event:1", 60))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(claims) == [False, False, False, True]

    def test_the_registry_keeps_each_bulletin_with_its_file(self, db):
        db.register(entry("april-2021"), b"# April")
        db.register(entry("march-2021", origin="corpus", path="/c/march-2021.md", folder="/c"), b"# March")
        assert [e.id for e in db.registered()] == ["april-2021", "march-2021"]
        assert db.content("april-2021") == b"# April"
        db.register(entry("april-2021", sha256="1" * 64, updated=2.0), b"# April, revised")
        assert db.content("april-2021") == b"# April, revised"
        assert db.registered()[0].sha256 == "1" * 64 and db.registered()[0].registered == 1.0
        db.register(entry("march-2021", origin="corpus", path="/c/march-2021.md", folder="/c", removed=True), b"# March")
        assert db.registered()[1].removed is True
        db.unregister("april-2021")
        assert [e.id for e in db.registered()] == ["march-2021"]
        with pytest.raises(BulletinNotRegistered):
            db.content("april-2021")

    def test_added_folders_are_remembered_in_order(self, db):
        db.add_folder("/b")
        db.add_folder("/a")
        db.add_folder("/b")
        assert db.added_folders() == ["/b", "/a"]
        db.remove_folder("/b")
        assert db.added_folders() == ["/a"]

    def test_one_writer_at_a_time(self, db):
        inside, overlaps = [], []

        def write():
            with db.writer_lock():
                inside.append(1)
                overlaps.append(len(inside) > 1)
                time.sleep(0.05)
                inside.pop()

        threads = [threading.Thread(target=write) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert overlaps == [False] * 4

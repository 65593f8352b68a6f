"""Conversations over the API: follow-ups that keep (or change) their topic, stored history, expiry, isolation,
and the streamed answer read by a real HTTP client from a real port."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import replace

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import sse_events
from service.app import create_app
from service.db.sqlite import SQLiteDatabase
from service.pipeline import BulletinQA


def ask(client, question, conversation_id=None, path="/api/v1/ask"):
    body = {"question": question}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = client.post(path, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def chain(client, *questions):
    responses, conversation_id = [], None
    for question in questions:
        responses.append(ask(client, question, conversation_id))
        conversation_id = responses[-1]["conversation_id"]
    return responses


def test_dev_follow_up_how_much_was_it(client):
    first, second = chain(client, "What did Canada fund in March?", "How much was it?")
    assert "Gender and Identities Platform" in first["answer"]
    assert "1,139,987" in second["answer"]
    assert second["citations"][0]["paragraph_id"] == first["citations"][0]["paragraph_id"]
    assert second["conversation_id"] == first["conversation_id"]
    assert "Canada" in second["resolved_question"]


def test_pronoun_they_is_the_previous_answer(client):
    _, second = chain(client, "Who funded CT Travel in March?", "How much did they give?")
    assert "India" in second["resolved_question"]
    assert "$500,000" in second["answer"] and "1,139,987" not in second["answer"]


@pytest.mark.xfail(strict=True, reason="the learned answerer quotes a what-question's whole two-donor sentence "
                   "(it narrows to one clause only for typed questions: who, when, how much …)")
def test_ellipsis_asks_the_same_question_of_a_new_subject(client):
    _, second = chain(client, "What did Canada fund in March?", "and India?")
    assert second["resolved_question"] == "What did India fund in March?"
    assert "India ($500,000)" in second["answer"] and "Canada" not in second["answer"]


def test_topic_change_is_not_dragged_back(client):
    first, second, third = chain(
        client,
        "How many participants did the ESAAMLG workshop have?",
        "What about the Boko Haram consultation?",
        "Which countries were involved?",
    )
    assert "291" in first["answer"]
    assert "ESAAMLG" not in second["resolved_question"] and "Boko Haram" in second["resolved_question"]
    assert "291" not in second["answer"]  # the consultation's participants are not counted in the bulletin
    assert third["answerable"] is True
    for country in ("Cameroon", "Chad", "Niger", "Nigeria"):
        assert country in third["answer"]


def test_three_turn_chain_keeps_its_topic(client):
    _, countries, when, who = chain(
        client,
        "Tell me about the small arms workshop",
        "Which countries were involved?",
        "When was it held?",
        "Who organised it?",
    )
    assert "Kyrgyzstan" in countries["answer"]
    assert "16-18 March" in when["answer"]
    assert "UNODC" in who["answer"]
    assert len({r["citations"][0]["paragraph_id"] for r in (countries, when, who)}) == 1


def test_a_standalone_question_is_left_alone(client):
    _, second = chain(client, "Who funded CT Travel in March?", "How many participants attended the ESAAMLG workshop?")
    assert second["resolved_question"] == "How many participants attended the ESAAMLG workshop?"
    assert "291" in second["answer"]


def test_history_is_stored_and_survives_a_restart(config, client):
    first, second = chain(client, "What did Canada fund in March?", "How much was it?")
    conversation_id = first["conversation_id"]
    restarted = create_app(config, qa=BulletinQA.from_config(config)).test_client()
    turns = restarted.get(f"/api/v1/conversations/{conversation_id}").get_json()["turns"]
    assert [t["question"] for t in turns] == ["What did Canada fund in March?", "How much was it?"]
    assert turns[1]["resolved_question"] == second["resolved_question"]
    assert turns[1]["citations"] == second["citations"]
    assert set(turns[1]["timing_ms"]) == {"retrieve", "answer", "total"}
    third = ask(restarted, "and India?", conversation_id)
    assert "India ($500,000)" in third["answer"]


def test_conversations_expire(config, qa):
    short = replace(config, conversation_ttl=1)
    expiring = BulletinQA(short, qa.store, SQLiteDatabase(short.data_dir / "expiry.sqlite3", short.conversation_ttl))
    client = create_app(short, qa=expiring).test_client()
    conversation_id = ask(client, "Who funded CT Travel in March?")["conversation_id"]
    time.sleep(1.2)
    response = client.post("/api/v1/ask", json={"question": "How much?", "conversation_id": conversation_id})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "conversation_not_found"
    assert client.get(f"/api/v1/conversations/{conversation_id}").status_code == 404


def test_expired_conversations_are_purged_unless_rated_and_their_gap_questions_kept(config, qa):
    db = SQLiteDatabase(config.data_dir / "purge.sqlite3", ttl_seconds=3600)
    client = create_app(config, qa=BulletinQA(config, qa.store, db)).test_client()
    forgotten = ask(client, "Who funded CT Travel?")["conversation_id"]
    unanswered = ask(client, "What is the boiling point of mercury?")
    assert not unanswered["answerable"]
    rated = ask(client, "When was UNOCT established?")["conversation_id"]
    assert client.post("/api/v1/feedback", json={"conversation_id": rated, "turn": 1, "rating": "down"}).status_code == 201
    live = ask(client, "Who funded CT Travel?")["conversation_id"]
    expired = (forgotten, unanswered["conversation_id"], rated)
    gaps = db.gap_questions(0, 100)
    assert {"What is the boiling point of mercury?", "When was UNOCT established?"} <= {g.question for g in gaps}
    with sqlite3.connect(db.path) as raw:  # three of them were last used two hours ago
        raw.execute("UPDATE conversations SET updated = updated - 7200 WHERE id IN (?, ?, ?)", expired)
    assert db.purge_expired() == 2
    assert client.get(f"/api/v1/conversations/{live}").status_code == 200
    with sqlite3.connect(db.path) as raw:
        kept = {row[0] for row in raw.execute("SELECT id FROM conversations")}
        assert raw.execute("SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (forgotten,)).fetchone()[0] == 0
    assert kept == {rated, live}
    assert db.feedback()[0].question == "When was UNOCT established?"
    assert db.gap_questions(0, 100) == gaps  # the content-gap report outlives the conversations


def test_concurrent_conversations_never_see_each_others_turns(client):
    scripts = {
        "canada": ["What did Canada fund in March?", "How much was it?", "and India?"],
        "arms": ["Tell me about the small arms workshop", "Which countries were involved?", "When was it held?"],
        "ct": ["Who funded CT Travel in March?", "How much did they give?", "How many experts took part in the CT Travel introductory webinar?"],
        "biometrics": ["How many participants did the panel on contactless biometrics bring together?", "Who contributed to it?"],
    }
    results, errors = {}, []
    start = threading.Barrier(len(scripts))

    def converse(name):
        try:
            start.wait()
            results[name] = chain(client, *scripts[name])
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=converse, args=(name,)) for name in scripts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for name, responses in results.items():
        conversation_id = responses[0]["conversation_id"]
        assert all(r["conversation_id"] == conversation_id for r in responses)
        turns = client.get(f"/api/v1/conversations/{conversation_id}").get_json()["turns"]
        assert [t["question"] for t in turns] == scripts[name]
    assert "1,139,987" in results["canada"][1]["answer"]
    assert "Kyrgyzstan" in results["arms"][1]["answer"]
    assert "$500,000" in results["ct"][1]["answer"]


@pytest.fixture(scope="module")
def live_server(config, qa):
    server = make_server("127.0.0.1", 0, create_app(config, qa=qa), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_streamed_answer_over_a_real_port(live_server):
    question = {"question": "Who funded CT Travel in March?"}
    with requests.post(f"{live_server}/api/v1/ask/stream", json=question, stream=True, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = list(sse_events(response))
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"delta"} and len(names[1:-2]) >= 2
    meta = events[0][1]
    streamed_text = "".join(data["text"] for name, data in events if name == "delta")
    plain = requests.post(
        f"{live_server}/api/v1/ask",
        json={"question": "How much did they give?", "conversation_id": meta["conversation_id"]},
        timeout=60,
    ).json()
    assert "$500,000" in plain["answer"]  # the streamed turn was stored: the follow-up sees it
    non_streamed = requests.post(f"{live_server}/api/v1/ask", json=question, timeout=60).json()
    assert streamed_text == non_streamed["answer"]
    assert events[-2][1]["citations"] == non_streamed["citations"]
    assert events[-2][1]["answerable"] is True and events[-2][1]["answer"] == streamed_text


def test_stream_refuses_bad_requests_before_streaming(live_server):
    unknown = requests.post(
        f"{live_server}/api/v1/ask/stream", json={"question": "Hi?", "conversation_id": "nope"}, timeout=30
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "conversation_not_found"
    empty = requests.post(f"{live_server}/api/v1/ask/stream", json={"question": " "}, timeout=30)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "missing_question"


def test_a_failure_after_the_stream_started_is_an_error_event(config, qa):
    broken = SQLiteDatabase(config.data_dir / "broken.sqlite3", config.conversation_ttl)
    with broken._connect() as db:  # the database loses its table: writing the turn fails mid-answer
        db.execute("DROP TABLE turns")
    app = create_app(config, qa=BulletinQA(config, qa.store, broken))
    response = app.test_client().post("/api/v1/ask/stream", json={"question": "Who funded CT Travel in March?"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith("retry: ") and "\n\nid: 1\nevent: meta\n" in body and "\n\nid: 2\nevent: error\n" in body
    assert body.count("event: ") == 2  # nothing of the extractive answer: it is sent once its turn is stored
    assert json.loads(body.split("event: error\ndata: ", 1)[1].split("\n", 1)[0])["code"] == "internal_error"
    assert "Traceback" not in body

"""The Slack bot, end to end: real Slack requests, signed as Slack signs them, posted to the Flask app (or sent as
Socket Mode envelopes over a real WebSocket); the bot's Web API calls (and response-URL posts) go to a loopback
HTTP server that records them and answers like Slack.

Listeners run after the ack on bolt's threads, so a test waits for the call it expects with a bounded poll; a test
that expects *no* (further) call drains the bot's thread pool first, so "nothing was posted" is a fact, not a race.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import itertools
import json
import queue
import re
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest
from slack_sdk import WebClient
from websockets.sync.server import serve as serve_websocket

from tests.conftest import PANEL_QUESTION, StreamingModel, panel_reply
from service import cli, slack
from service.app import create_app
from service.db.base import FeedbackQuery

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PUBLIC = "https://bqa.example.org"
TEAM, CHANNEL, GROUP, DM, USER, OTHER = "T0001", "C0001", "G0001", "D0001", "U0USER", "U0OTHER"
BOT_USER, BOT_ID = "U0BOT", "B0BOT"
WAIT = 30.0
SLACK_DIR = Path(__file__).resolve().parents[2] / "slack"
MANIFEST = SLACK_DIR / "manifest.yml"
SOCKET_MANIFEST = SLACK_DIR / "manifest-socket-mode.yml"

_ts = itertools.count(1)
_events = itertools.count(1)


# --- a loopback stand-in for Slack's Web API and response URLs ----------------------------------------------------


class FakeSlack:
    """Records every request as {"path", "body"}; Web API methods answer `{"ok": true, ...}`."""

    def __init__(self):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.fail_channels: set[str] = set()  # chat.postMessage answers not_in_channel for these
        self.socket_url = "ws://127.0.0.1:9/"  # what apps.connections.open hands out (a FakeSocketMode sets it)
        self.ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw) if raw else {}
                else:
                    body = dict(parse_qsl(raw, keep_blank_values=True))
                path = self.path.split("?")[0]
                if path.startswith("/api/"):
                    reply = fake.web_api(path[len("/api/"):], body)
                    payload, content_type = json.dumps(reply).encode(), "application/json"
                else:  # a response URL: Slack answers plain "ok"
                    reply, payload, content_type = None, b"ok", "text/plain"
                with fake.lock:
                    fake.calls.append({"path": path, "body": body, "reply": reply,
                                       "auth": self.headers.get("Authorization")})
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def web_api(self, method: str, body: dict) -> dict:
        reply = {"ok": True}
        if method == "auth.test":
            reply.update(user_id=BOT_USER, bot_id=BOT_ID, team_id=TEAM, user="bqa", team="Test")
        elif method == "apps.connections.open":
            reply.update(url=self.socket_url)
        elif method in ("chat.postMessage", "chat.update"):
            channel = body.get("channel", "")
            if channel in self.fail_channels:
                return {"ok": False, "error": "not_in_channel"}
            if channel.startswith("U"):  # a user id: the app's DM with that user
                channel = "D" + channel[1:]
            ts = body.get("ts") or f"1700000000.{next(self.ts):06d}"
            reply.update(channel=channel, ts=ts)
        return reply

    def reset(self):
        with self.lock:
            self.calls.clear()
            self.fail_channels.clear()

    def posted(self, path: str) -> list[dict]:
        with self.lock:
            return [call["body"] for call in self.calls if call["path"] == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = WAIT) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posted(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} request(s) to {path} within {timeout}s; got {self.calls}")

    def answers(self, count: int = 1) -> list[dict]:
        """The first `count` answers: each a placeholder posted, then updated in place (checked here)."""
        updates = self.wait_for("/api/chat.update", count)[:count]
        with self.lock:
            placeholders = {call["reply"]["ts"]: call["body"] for call in self.calls
                            if call["path"] == "/api/chat.postMessage" and call["body"]["text"] == slack.SEARCHING}
        for update in updates:
            assert update["ts"] in placeholders, "chat.update of a message that was not the placeholder"
            update["thread_ts"] = placeholders[update["ts"]].get("thread_ts")
        return updates


@pytest.fixture(scope="module")
def fake_slack():
    fake = FakeSlack()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def slack_config(config, fake_slack, **overrides):
    values = dict(slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=f"{fake_slack.url}/api/",
                  public_url=PUBLIC)
    return replace(config, **{**values, **overrides})


@pytest.fixture()
def app(config, qa, fake_slack):
    """A fresh app (and bot) per test, so that draining its thread pool does not affect the next test."""
    fake_slack.reset()
    app = create_app(slack_config(config, fake_slack), qa=qa)
    yield app
    app.extensions[slack.EXTENSION].executor.shutdown(wait=True)


@pytest.fixture()
def client(app):
    return app.test_client()


def drain(app) -> None:
    """Wait until every listener started so far has finished."""
    app.extensions[slack.EXTENSION].executor.shutdown(wait=True)


# --- building Slack's requests ------------------------------------------------------------------------------------


def signed_headers(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def post_json(client, path: str, payload: dict, headers: dict | None = None, **sign):
    body = json.dumps(payload).encode()
    all_headers = {**signed_headers(body, **sign), **(headers or {})}
    return client.post(path, data=body, headers=all_headers, content_type="application/json")


def post_form(client, path: str, fields: dict, **sign):
    body = urlencode(fields).encode()
    return client.post(
        path, data=body, headers=signed_headers(body, **sign), content_type="application/x-www-form-urlencoded"
    )


def new_ts() -> str:
    return f"1690000000.{next(_ts):06d}"


def event_callback(event: dict, event_id: str | None = None) -> dict:
    return {
        "token": "legacy", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
        "event_id": event_id or f"Ev{next(_events):08d}", "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}],
    }


def mention(text: str, ts: str | None = None, thread_ts: str | None = None, channel: str = CHANNEL, **extra) -> dict:
    event = {"type": "app_mention", "user": USER, "text": f"<@{BOT_USER}> {text}", "ts": ts or new_ts(),
             "channel": channel, "event_ts": ts or new_ts(), "team": TEAM, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(text: str, ts: str | None = None, **extra) -> dict:
    ts = ts or new_ts()
    return {"type": "message", "channel_type": "im", "channel": DM, "user": USER, "text": text, "ts": ts,
            "event_ts": ts, "team": TEAM, **extra}


def channel_message(text: str, thread_ts: str | None = None, user: str = USER, channel: str = CHANNEL,
                    channel_type: str = "channel") -> dict:
    """A message in a channel, as `message.channels` (or `message.groups`) delivers it."""
    ts = new_ts()
    event = {"type": "message", "channel_type": channel_type, "channel": channel, "user": user, "team": TEAM,
             "text": text, "ts": ts, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_actions(action_id: str, value: str, response_url: str, channel: str = CHANNEL, ephemeral=False) -> dict:
    return {
        "type": "block_actions", "team": {"id": TEAM, "domain": "test"}, "user": {"id": USER, "team_id": TEAM},
        "api_app_id": "A0APP", "token": "legacy", "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": "1690000000.000001", "channel_id": channel,
                      "is_ephemeral": ephemeral},
        "channel": {"id": channel, "name": "general"}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": "bqa_answer", "value": value,
                     "action_ts": str(time.time())}],
    }


def home_click(action_id: str, value: str) -> dict:
    """A button clicked on the App Home tab: no channel, no response URL."""
    return {
        "type": "block_actions", "team": {"id": TEAM, "domain": "test"}, "user": {"id": USER, "team_id": TEAM},
        "api_app_id": "A0APP", "token": "legacy", "trigger_id": "1.2.3",
        "container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home", "team_id": TEAM},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "bqa_starters", "value": value,
                     "action_ts": str(time.time())}],
    }


def slash(text: str, response_url: str) -> dict:
    return {
        "token": "legacy", "team_id": TEAM, "team_domain": "test", "channel_id": CHANNEL, "channel_name": "general",
        "user_id": USER, "user_name": "someone", "command": "/bqa", "text": text, "api_app_id": "A0APP",
        "response_url": response_url, "trigger_id": "1.2.3",
    }


# --- reading what the bot posted ----------------------------------------------------------------------------------


def blocks_of(body: dict) -> list[dict]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def answer_text(body: dict) -> str:
    return "\n".join(b["text"]["text"] for b in blocks_of(body) if b["type"] == "section")


def links(body: dict) -> list[str]:
    return [e["text"] for b in blocks_of(body) if b["type"] == "context" for e in b["elements"]]


def button(body: dict, action_id: str) -> dict:
    for block in blocks_of(body):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button in {blocks_of(body)}")


def paragraph_id(qa, needle: str) -> str:
    corpus = qa.corpus()
    return next(pid for pid, node in corpus.paragraphs.items() if needle in node.text)


def check_limits(body: dict) -> None:
    blocks = blocks_of(body)
    assert 0 < len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
    assert body["text"]  # the notification / accessibility fallback


# --- answering --------------------------------------------------------------------------------------------------


def test_url_verification_answers_the_challenge(client):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    response = post_json(client, "/slack/events", {"token": "x", "challenge": challenge, "type": "url_verification"})
    assert response.status_code == 200
    assert response.get_json() == {"challenge": challenge}


def test_a_mention_gets_a_placeholder_at_once_then_the_answer_in_its_place(app, client, fake_slack, qa):
    event = mention("who funded CT Travel in March?")
    response = post_json(client, "/slack/events", event_callback(event))
    assert response.status_code == 200

    placeholder = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert placeholder["text"] == "Searching the bulletins…"
    assert placeholder["channel"] == CHANNEL and placeholder["thread_ts"] == event["ts"]
    (reply,) = fake_slack.answers()
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1 and len(fake_slack.posted("/api/chat.update")) == 1
    assert reply["channel"] == CHANNEL
    assert "India" in answer_text(reply) and "$500,000" in answer_text(reply)
    assert "India" in reply["text"]
    check_limits(reply)

    pid = paragraph_id(qa, "India ($500,000)")
    ordinal = qa.corpus().paragraphs[pid].metadata["ordinal"]
    cited = links(reply)
    assert cited[0].startswith("[1] <") and " · " in cited[0] and f"¶{ordinal}>" in cited[0]
    url = urlsplit(cited[0][len("[1] <"):].split("|")[0].replace("&amp;", "&"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{PUBLIC}/bulletins/unoct-highlights-2021-03"
    assert url.fragment == pid
    start, end = map(int, parse_qs(url.query)["hl"][0].removeprefix(f"{pid}:").split("-"))
    assert qa.corpus().paragraphs[pid].text[start:end].startswith("from India ($500,000)")  # the span
    assert button(reply, "bqa_feedback_up")["value"] == button(reply, "bqa_feedback_down")["value"]


def test_direct_message_is_answered_in_a_thread(client, fake_slack):
    event = direct_message("Who funded CT Travel in March?")
    assert post_json(client, "/slack/events", event_callback(event)).status_code == 200
    (reply,) = fake_slack.answers()
    assert reply["channel"] == DM and reply["thread_ts"] == event["ts"]
    assert "India" in answer_text(reply)


def test_follow_up_mention_in_the_thread_continues_the_conversation(client, fake_slack, qa):
    first = mention("who funded CT Travel in March?")
    post_json(client, "/slack/events", event_callback(first))
    (opening,) = fake_slack.answers()

    follow_up = mention("how much did they give?", thread_ts=first["ts"])
    post_json(client, "/slack/events", event_callback(follow_up))
    reply = fake_slack.answers(2)[1]
    assert reply["thread_ts"] == first["ts"]
    assert "$500,000" in answer_text(reply) and "1,139,987" not in answer_text(reply)

    conversation_id, _, turn = button(reply, "bqa_feedback_up")["value"].rpartition(":")
    assert button(opening, "bqa_feedback_up")["value"] == f"{conversation_id}:1" and turn == "2"
    turns = qa.db.turns(conversation_id)
    assert [t["question"] for t in turns] == ["who funded CT Travel in March?", "how much did they give?"]  # mention stripped
    assert "India" in turns[1]["resolved_question"]


def test_a_new_thread_is_a_new_conversation(client, fake_slack):
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel in March?")))
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel in March?")))
    first, second = fake_slack.answers(2)
    assert button(first, "bqa_feedback_up")["value"].endswith(":1")
    assert button(second, "bqa_feedback_up")["value"].endswith(":1")
    assert button(first, "bqa_feedback_up")["value"] != button(second, "bqa_feedback_up")["value"]


def test_a_failure_replaces_the_placeholder_with_an_apology(app, client, fake_slack, monkeypatch):
    bot = app.extensions[slack.EXTENSION]

    def broken(*args, **kwargs):
        raise RuntimeError("the index is on fire")

    monkeypatch.setattr(bot, "ask", broken)
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel in March?")))
    (reply,) = fake_slack.answers()
    assert reply["text"] == slack.FAILED and not blocks_of(reply)


# --- threads continue without a mention -------------------------------------------------------------------------


def test_the_asker_continues_a_thread_without_mentioning_the_bot(app, client, fake_slack, qa):
    first = mention("who funded CT Travel in March?")
    post_json(client, "/slack/events", event_callback(first))
    fake_slack.answers()
    post_json(client, "/slack/events", event_callback(channel_message("how much did they give?", first["ts"])))
    reply = fake_slack.answers(2)[1]
    assert reply["thread_ts"] == first["ts"] and "$500,000" in answer_text(reply)
    conversation_id = button(reply, "bqa_feedback_up")["value"].rpartition(":")[0]
    assert [t["question"] for t in qa.db.turns(conversation_id)][-1] == "how much did they give?"


def test_other_peoples_chatter_in_the_thread_is_left_alone_unless_they_mention_the_bot(app, client, fake_slack):
    first = mention("who funded CT Travel in March?")
    post_json(client, "/slack/events", event_callback(first))
    fake_slack.answers()
    post_json(client, "/slack/events", event_callback(channel_message("nice, thanks!", first["ts"], user=OTHER)))
    post_json(client, "/slack/events", event_callback(channel_message("who funded CT Travel in March?")))  # not in a thread
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1

    app = create_app(slack_config(app.config["BQA_CONFIG"], fake_slack), qa=app.extensions["bqa"])
    client = app.test_client()
    asked = mention("how much did they give?", thread_ts=first["ts"], user=OTHER)
    post_json(client, "/slack/events", event_callback(asked))
    # The same message also arrives as message.channels: one message, one answer.
    as_message = dict(asked, type="message", channel_type="channel")
    post_json(client, "/slack/events", event_callback(as_message))
    assert "$500,000" in answer_text(fake_slack.answers(2)[1])
    post_json(client, "/slack/events", event_callback(channel_message("and Canada?", first["ts"], user=OTHER)))
    fake_slack.answers(3)  # now OTHER has asked in this thread: no mention needed either
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 3


def test_threads_in_private_channels_continue_too(client, fake_slack):
    first = mention("who funded CT Travel in March?", channel=GROUP)
    post_json(client, "/slack/events", event_callback(first))
    fake_slack.answers()
    reply_event = channel_message("how much did they give?", first["ts"], channel=GROUP, channel_type="group")
    post_json(client, "/slack/events", event_callback(reply_event))
    reply = fake_slack.answers(2)[1]
    assert reply["channel"] == GROUP and "$500,000" in answer_text(reply)


# --- signatures and bad payloads --------------------------------------------------------------------------------


def test_forged_signature_is_refused_and_nothing_is_answered(app, client, fake_slack):
    payload = event_callback(mention("who funded CT Travel in March?"))
    forged = post_json(client, "/slack/events", payload, secret="not-the-signing-secret")
    assert forged.status_code == 401
    body = json.dumps(payload).encode()
    tampered_headers = signed_headers(body)
    tampered = client.post("/slack/events", data=body.replace(b"CT Travel", b"CT Trevel"),
                           headers=tampered_headers, content_type="application/json")
    assert tampered.status_code == 401
    unsigned = client.post("/slack/events", data=body, content_type="application/json")
    assert unsigned.status_code == 401
    garbage = client.post("/slack/events", data=b"{not json", content_type="application/json",
                          headers={"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"})
    assert garbage.status_code == 401 and garbage.get_json()["error"]["code"] == "invalid_signature"
    odd = client.post("/slack/events", data=body, content_type="application/json",
                      headers={**signed_headers(body), "X-Slack-Signature": "v0=é"})
    assert odd.status_code == 401
    drain(app)
    assert fake_slack.calls == []


def test_stale_timestamp_is_refused(app, client, fake_slack):
    payload = event_callback(mention("who funded CT Travel in March?"))
    stale = post_json(client, "/slack/events", payload, timestamp=int(time.time()) - 6 * 60)
    assert stale.status_code == 401
    future = post_json(client, "/slack/events", payload, timestamp=int(time.time()) + 6 * 60)
    assert future.status_code == 401
    drain(app)
    assert fake_slack.posted("/api/chat.postMessage") == []


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/slack/events", b"{not json", "application/json"),
        ("/slack/events", b'{"type": "event_callback", "event_id": "Ev1", "event": [1]}', "application/json"),
        ("/slack/events", b"[1]", "application/json"),
        ("/slack/events", b'{"type": "event_callback", "team": 5, "event": {"type": "app_mention"}}',
         "application/json"),
        ("/slack/events", b'{"type": "event_callback", "authorizations": 5}', "application/json"),
        ("/slack/events", b'{"type": "event_callback", "event": {"text": "no type"}}', "application/json"),
        ("/slack/interactions", b"payload=notjson", "application/x-www-form-urlencoded"),
        ("/slack/interactions", b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
        ("/slack/interactions", b'payload={"type": "block_actions", "actions": [{"action_id": 5}]}',
         "application/x-www-form-urlencoded"),
    ],
    ids=["invalid-json", "event-not-an-object", "not-an-object", "team-a-number", "authorizations-a-number",
         "event-without-type", "payload-notjson", "payload-a-list", "action-id-a-number"],
)
def test_a_signed_body_that_is_no_slack_payload_is_a_400_slack_does_not_retry(app, client, fake_slack, path, body,
                                                                               content_type):
    response = client.post(path, data=body, headers=signed_headers(body), content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_payload"
    assert response.headers["X-Slack-No-Retry"] == "1"
    drain(app)
    assert fake_slack.posted("/api/chat.postMessage") == []


_SLACK_WORDS = st.sampled_from(
    ["type", "event", "event_id", "team", "user", "channel", "authorizations", "actions", "action_id", "view",
     "container", "message", "command", "text", "ts", "thread_ts", "subtype", "channel_type", "tab", "bot_id",
     "app_mention", "message", "event_callback", "block_actions", "app_home_opened", "value", "enterprise"]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _SLACK_WORDS | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_SLACK_WORDS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.dictionaries(_SLACK_WORDS, _JSON, max_size=6), as_form=st.booleans())
def test_no_signed_payload_of_any_shape_gives_a_500(client, payload, as_form):
    """Fuzz: signed JSON (or form `payload=`) bodies built from Slack's own field names, any shape."""
    if as_form:
        response = post_form(client, "/slack/interactions", {"payload": json.dumps(payload)})
    else:
        response = post_json(client, "/slack/events", payload)
    assert response.status_code < 500, response.get_data()
    assert response.status_code in (200, 400, 404)  # 404: bolt found no listener (and answers JSON-less)


# --- one reply per event ----------------------------------------------------------------------------------------


def test_the_same_event_delivered_three_times_gets_one_reply(app, client, fake_slack):
    payload = event_callback(mention("who funded CT Travel in March?"))
    assert post_json(client, "/slack/events", payload).status_code == 200
    for retry in (1, 2):
        retried = post_json(
            client, "/slack/events", payload,
            headers={"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retried.status_code == 200  # acknowledged, so Slack stops retrying
    fake_slack.answers()
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1 and len(fake_slack.posted("/api/chat.update")) == 1


def test_the_same_message_as_two_events_gets_one_reply(app, client, fake_slack):
    """A mention in a DM can arrive both as app_mention and as message.im: one message, one answer."""
    ts = new_ts()
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel in March?", ts=ts, channel=DM)))
    post_json(client, "/slack/events", event_callback(direct_message(f"<@{BOT_USER}> who funded CT Travel in March?", ts=ts)))
    fake_slack.answers()
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1


def test_dedup_holds_across_apps_sharing_the_data_folder(config, qa, fake_slack):
    """Two worker processes are two apps over the same SQLite file: a retry reaching the other one is still a repeat."""
    fake_slack.reset()
    cfg = slack_config(config, fake_slack)
    apps = [create_app(cfg, qa=qa), create_app(cfg, qa=qa)]
    payload = event_callback(mention("who funded CT Travel in March?"))
    post_json(apps[0].test_client(), "/slack/events", payload)
    post_json(apps[1].test_client(), "/slack/events", payload, headers={"X-Slack-Retry-Num": "1"})
    fake_slack.answers()
    for app in apps:
        drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1


@pytest.mark.parametrize(
    "event",
    [
        direct_message("Who funded CT Travel in March?", user=BOT_USER, bot_id=BOT_ID),  # the bot's own message
        direct_message("Who funded CT Travel in March?", bot_id="B0OTHER", subtype="bot_message"),  # another bot
        direct_message("Who funded CT Travel in March?", bot_id="B0OTHER", app_id="A0OTHER"),  # another app, as a user
        mention("who funded CT Travel in March?", bot_id="B0OTHER"),  # another bot mentioning us
        direct_message("Who funded CT Travel in March?", subtype="message_changed"),  # an edit, not a new question
        {"type": "message", "channel_type": "channel", "channel": CHANNEL, "user": USER, "team": TEAM,
         "text": "Who funded CT Travel in March?", "ts": "1690000001.000001"},  # chatter outside the bot's threads
        {"type": "message", "channel_type": "channel", "channel": CHANNEL, "user": USER, "team": TEAM,
         "text": "and Canada?", "ts": "1690000001.000002", "thread_ts": "1690000001.000001"},  # a thread it is not in
    ],
    ids=["own-message", "bot-message", "app-message", "bot-mention", "edit", "channel-chatter", "other-thread"],
)
def test_bots_and_other_messages_are_ignored(app, client, fake_slack, event):
    response = post_json(client, "/slack/events", event_callback(event))
    assert response.status_code == 200
    drain(app)
    assert fake_slack.posted("/api/chat.postMessage") == []


# --- buttons, the slash command, the App Home -------------------------------------------------------------------


def test_feedback_button_is_stored(client, fake_slack, qa):
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel in March?")))
    (reply,) = fake_slack.answers()
    value = button(reply, "bqa_feedback_down")["value"]
    response_url = f"{fake_slack.url}/actions/feedback-1"

    clicked = post_form(client, "/slack/interactions",
                        {"payload": json.dumps(block_actions("bqa_feedback_down", value, response_url))})
    assert clicked.status_code == 200
    newest = qa.db.feedback(FeedbackQuery(limit=1))[0]  # stored before the click is acknowledged
    assert f"{newest.conversation_id}:{newest.turn}" == value
    assert (newest.rating, newest.source) == ("down", "slack")
    assert newest.question == "who funded CT Travel in March?"
    thanks = fake_slack.wait_for("/actions/feedback-1")[0]
    assert thanks["response_type"] == "ephemeral" and thanks["replace_original"] is False


def test_feedback_on_an_unknown_answer_stores_nothing(client, fake_slack, qa):
    before = qa.db.feedback(FeedbackQuery(limit=1))
    response_url = f"{fake_slack.url}/actions/feedback-2"
    clicked = post_form(client, "/slack/interactions",
                        {"payload": json.dumps(block_actions("bqa_feedback_up", "nope:1", response_url))})
    assert clicked.status_code == 200
    assert "too old" in fake_slack.wait_for("/actions/feedback-2")[0]["text"]
    assert qa.db.feedback(FeedbackQuery(limit=1)) == before


def test_slash_command_answers_privately_and_shares_on_request(app, client, fake_slack, qa):
    response_url = f"{fake_slack.url}/commands/1"
    acked = post_form(client, "/slack/commands", slash("Who funded CT Travel in March?", response_url))
    assert acked.status_code == 200
    assert acked.get_json() == {"text": slack.SEARCHING, "response_type": "ephemeral"}  # shown at once

    private = fake_slack.wait_for("/commands/1")[0]
    assert private["response_type"] == "ephemeral" and private["replace_original"] is True  # the placeholder's place
    assert "India" in answer_text(private)
    pid = paragraph_id(qa, "India ($500,000)")
    assert any(f"#{pid}|" in link for link in links(private))
    check_limits(private)
    share = button(private, "bqa_share")
    assert fake_slack.posted("/api/chat.postMessage") == []  # nothing in the channel yet

    click = block_actions("bqa_share", share["value"], response_url, ephemeral=True)
    clicked = post_form(client, "/slack/interactions", {"payload": json.dumps(click)})
    assert clicked.status_code == 200
    shared = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert shared["channel"] == CHANNEL and "thread_ts" not in shared
    assert "India" in answer_text(shared) and f"<@{USER}> asked" in links(shared)[0]
    assert any(f"#{pid}|" in link for link in links(shared))
    with pytest.raises(AssertionError):
        button(shared, "bqa_share")  # the shared copy has no share button, only feedback
    assert button(shared, "bqa_feedback_up")["value"] == share["value"]
    deleted = fake_slack.wait_for("/commands/1", 2)[1]
    assert deleted.get("delete_original") is True

    # The sharer's replies in the shared answer's thread are follow-ups in the same conversation.
    shared_ts = next(c["reply"]["ts"] for c in fake_slack.calls if c["path"] == "/api/chat.postMessage")
    post_json(client, "/slack/events", event_callback(channel_message("how much did they give?", shared_ts)))
    (follow_up,) = fake_slack.answers()
    assert follow_up["thread_ts"] == shared_ts and "$500,000" in answer_text(follow_up)
    assert button(follow_up, "bqa_feedback_up")["value"].rpartition(":")[0] == share["value"].rpartition(":")[0]


def test_llm_answers_replace_the_placeholder_with_the_checked_answer(config, qa, fake_slack):
    """With an LLM (a loopback server streaming its reply), a mention's placeholder and a /bqa placeholder are both
    replaced by the answer that passed the citation check: the model's true sentence, never its invented one."""
    fake_slack.reset()
    model = StreamingModel(panel_reply)
    service = model.service(config)
    app = create_app(slack_config(service.config, fake_slack), qa=service)
    try:
        client = app.test_client()
        post_json(client, "/slack/events", event_callback(mention(PANEL_QUESTION)))
        (reply,) = fake_slack.answers()
        response_url = f"{fake_slack.url}/commands/llm"
        acked = post_form(client, "/slack/commands", slash(PANEL_QUESTION, response_url))
        assert acked.get_json()["text"] == slack.SEARCHING
        (private,) = fake_slack.wait_for("/commands/llm")
        drain(app)
    finally:
        model.close()
    assert len(model.prompts) == 2
    for answer in (reply, private):
        assert re.fullmatch(r"The panel on contactless biometrics brought together 45 participants \[\d\]\.",
                            answer_text(answer))
        assert "World Bank" not in json.dumps(answer)
    assert private["replace_original"] is True


def test_share_falls_back_to_the_response_url_outside_the_bots_channels(client, fake_slack):
    fake_slack.fail_channels.add(CHANNEL)
    response_url = f"{fake_slack.url}/commands/2"
    post_form(client, "/slack/commands", slash("Who funded CT Travel in March?", response_url))
    share = button(fake_slack.wait_for("/commands/2")[0], "bqa_share")
    post_form(client, "/slack/interactions",
              {"payload": json.dumps(block_actions("bqa_share", share["value"], response_url, ephemeral=True))})
    public, deleted = fake_slack.wait_for("/commands/2", 3)[1:3]
    assert public["response_type"] == "in_channel" and "India" in answer_text(public)
    assert deleted.get("delete_original") is True


def test_empty_slash_command_gets_a_usage_hint(client, fake_slack):
    response = post_form(client, "/slack/commands", slash("  ", f"{fake_slack.url}/commands/3"))
    assert response.status_code == 200
    assert response.get_json()["response_type"] == "ephemeral" and "/bqa" in response.get_json()["text"]


def test_unanswerable_question_gets_a_short_reply(client, fake_slack):
    post_json(client, "/slack/events", event_callback(mention("What is the boiling point of tungsten on Mars?")))
    (reply,) = fake_slack.answers()
    assert answer_text(reply).startswith("The bulletins don't say")
    assert button(reply, "bqa_feedback_up")  # a missed answer can be reported too


def test_bare_mention_gets_a_usage_hint(client, fake_slack):
    post_json(client, "/slack/events", event_callback(mention("")))
    reply = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert "Ask me" in reply["text"] and "@bqa" in reply["text"]


def test_the_home_tab_says_how_to_ask_and_its_starter_questions_answer_in_the_dm(app, client, fake_slack, qa):
    opened = {"type": "app_home_opened", "user": USER, "channel": DM, "tab": "home", "event_ts": new_ts()}
    assert post_json(client, "/slack/events", event_callback(opened)).status_code == 200
    published = fake_slack.wait_for("/api/views.publish")[0]
    assert published["user_id"] == USER
    view = published["view"] if isinstance(published["view"], dict) else json.loads(published["view"])
    assert view["type"] == "home"
    how_to = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert "mention me" in how_to and "/bqa" in how_to and "no need to mention me again" in how_to
    starters = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [e["value"] for e in starters][0] == "What happened in March 2021?"  # the service's starter questions
    assert len({e["action_id"] for e in starters}) == len(starters)  # unique in the view, as Slack requires
    messages_tab = post_json(client, "/slack/events", event_callback(dict(opened, tab="messages")))
    assert messages_tab.status_code == 200

    question = "Who funded CT Travel in March?"
    clicked = post_form(client, "/slack/interactions", {"payload": json.dumps(home_click(starters[0]["action_id"], question))})
    assert clicked.status_code == 200
    (reply,) = fake_slack.answers()
    placeholder = fake_slack.posted("/api/chat.postMessage")[0]
    assert placeholder["channel"] == USER and reply["channel"] == "D" + USER[1:]  # the app's DM with the user
    assert links(reply)[0] == f"You asked: {question}" and "India" in answer_text(reply)

    # A reply in that answer's thread carries on its conversation.
    follow_up = direct_message("how much did they give?", thread_ts=reply["ts"], channel=reply["channel"])
    post_json(client, "/slack/events", event_callback(follow_up))
    second = fake_slack.answers(2)[1]
    assert "$500,000" in answer_text(second)
    assert button(second, "bqa_feedback_up")["value"].endswith(":2")
    drain(app)
    assert len(fake_slack.posted("/api/views.publish")) == 1  # the Messages tab publishes nothing


# --- configuration ----------------------------------------------------------------------------------------------


def test_without_a_public_url_links_use_the_address_slack_called(config, qa, fake_slack):
    fake_slack.reset()
    app = create_app(slack_config(config, fake_slack, public_url=None), qa=qa)
    body = json.dumps(event_callback(mention("who funded CT Travel in March?"))).encode()
    response = app.test_client().post(
        "/slack/events", data=body, headers=signed_headers(body), content_type="application/json",
        base_url="https://bqa.internal.example/mounted/",
    )
    assert response.status_code == 200
    (reply,) = fake_slack.answers()
    assert any("<https://bqa.internal.example/mounted/bulletins/unoct-highlights-2021-03?hl=p-" in link
               for link in links(reply)), links(reply)
    drain(app)


def test_long_answers_stay_within_slacks_limits(app):
    bot = app.extensions[slack.EXTENSION]
    citation = {"n": 1, "bulletin_id": "b", "bulletin_title": "T <&>", "section": "S", "paragraph_id": "p-x",
                "url": "https://bqa.example.org/bulletins/b#p-x", "quote": "", "text": ""}
    message = bot.message(
        {"answer": "word " * 20000, "answerable": True, "citations": [dict(citation, n=n) for n in range(1, 25)]},
        "conv", 1, preface="x" * 5000, share=True,
    )
    check_limits(message)
    assert len(message["text"]) <= 4000
    sections = [b for b in blocks_of(message) if b["type"] == "section"]
    assert len(sections) == 10 and sections[-1]["text"]["text"].endswith("…")
    assert links(message)[0].endswith("…")  # the preface, cut
    assert links(message)[1] == "[1] <https://bqa.example.org/bulletins/b#p-x|T &lt;&amp;&gt; · S>"
    assert blocks_of(message)[-1]["type"] == "actions"


def test_question_text_drops_the_bot_mention_and_slack_markup():
    text = f"<@{BOT_USER}>  what did <@U0OTHER|ann> say about <#C0001|general> &amp; <https://x.org|this>?"
    assert slack.question_text(text, BOT_USER) == "what did @ann say about #general & this?"


def test_not_configured_is_503_and_the_rest_runs(config, qa):
    client = create_app(replace(config, slack_bot_token=None, slack_signing_secret=None), qa=qa).test_client()
    for path in ("/slack/events", "/slack/interactions", "/slack/commands"):
        response = client.post(path, data=b"{}", content_type="application/json")
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "slack_not_configured"
    assert client.post("/api/v1/ask", json={"question": "Who funded CT Travel in March?"}).status_code == 200
    half = create_app(replace(config, slack_bot_token="xoxb-test", slack_signing_secret=None), qa=qa).test_client()
    assert half.post("/slack/events", data=b"{}", content_type="application/json").status_code == 503
    # Socket Mode only: the bot exists, its HTTP endpoints stay off (there is no secret to check requests with).
    socket_only = create_app(replace(config, slack_bot_token="xoxb-test", slack_signing_secret=None,
                                     slack_app_token="xapp-test"), qa=qa)
    assert slack.EXTENSION in socket_only.extensions
    refused = socket_only.test_client().post("/slack/events", data=b"{}", content_type="application/json")
    assert refused.status_code == 503 and "bqa slack" in refused.get_json()["error"]["message"]


def test_creating_the_app_does_not_call_slack(config, qa, fake_slack):
    fake_slack.reset()
    app = create_app(slack_config(config, fake_slack, public_url=None), qa=qa)
    assert fake_slack.calls == []
    drain(app)


def test_bolt_verifies_signatures_itself_too(app):
    """The route's check comes first, but bolt's own RequestVerification stays on behind it."""
    bot = app.extensions[slack.EXTENSION]
    body = json.dumps(event_callback(mention("who funded CT Travel in March?")))
    forged = BoltRequest(body=body, headers=signed_headers(body.encode(), secret="not-the-signing-secret"))
    assert bot.bolt.dispatch(forged).status == 401
    stale = BoltRequest(body=body, headers=signed_headers(body.encode(), timestamp=int(time.time()) - 600))
    assert bot.bolt.dispatch(stale).status == 401


def test_no_hand_written_signature_check_is_left():
    """Signatures are slack_sdk's business: no hmac in the bot's own code."""
    source = Path(slack.__file__).read_text()
    imported = {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
                for alias in node.names}
    assert "hmac" not in imported and "hashlib" not in imported
    assert "SignatureVerifier" in source


# --- the manifests ----------------------------------------------------------------------------------------------

# What each Web API method and event needs (Slack's reference pages for the methods and events).
METHOD_SCOPES = {
    "chat_postMessage": "chat:write", "chat_update": "chat:write", "views_publish": None, "auth_test": None,
}
EVENT_SCOPES = {
    "app_mention": "app_mentions:read", "message.channels": "channels:history", "message.groups": "groups:history",
    "message.im": "im:history", "app_home_opened": None,
}


def web_api_methods_called() -> set[str]:
    """The Web API methods service/slack.py calls, read from its source (any attribute that is a WebClient method)."""
    methods = {name for name in dir(WebClient) if not name.startswith("_") and "_" in name}
    tree = ast.parse(Path(slack.__file__).read_text())
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in methods}


def test_manifest_scopes_and_events_are_exactly_those_used(app):
    manifest = yaml.safe_load(MANIFEST.read_text())
    called = web_api_methods_called() | {"auth_test"}  # auth.test: bolt's, at the first request
    assert called == set(METHOD_SCOPES), "a Web API method without a known scope: add it here and to the manifest"
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == set(EVENT_SCOPES)
    needed = {METHOD_SCOPES[m] for m in called} | {EVENT_SCOPES[e] for e in events} | {"commands"}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed - {None}
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_manifest_matches_the_routes(app):
    manifest = yaml.safe_load(MANIFEST.read_text())
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True and settings["socket_mode_enabled"] is False
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/bqa"
    routes = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    urls = (settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"], command["url"])
    for url in urls:
        assert url.startswith(PUBLIC + "/") and url[len(PUBLIC):] in routes


def test_the_socket_mode_manifest_is_the_same_app_without_request_urls():
    http, socket = yaml.safe_load(MANIFEST.read_text()), yaml.safe_load(SOCKET_MANIFEST.read_text())
    del http["settings"]["event_subscriptions"]["request_url"], http["settings"]["interactivity"]["request_url"]
    del http["features"]["slash_commands"][0]["url"]
    http["settings"]["socket_mode_enabled"] = True
    assert socket == http


# --- Socket Mode --------------------------------------------------------------------------------------------------


class FakeSocketMode:
    """A loopback WebSocket server speaking Slack's Socket Mode: `hello` on connect, envelopes sent by the test,
    and every message the client sends back (its acks) recorded."""

    def __init__(self):
        self.received: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.paths: list[str] = []

        def handler(websocket):
            self.paths.append(websocket.request.path)
            websocket.send(json.dumps({"type": "hello", "num_connections": 1,
                                       "connection_info": {"app_id": "A0APP"}, "debug_info": {"host": "loopback"}}))
            self.connected.put(websocket)
            for message in websocket:
                self.received.put(json.loads(message))

        self.server = serve_websocket(handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=t0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def send(self, websocket, payload: dict, retry_attempt: int = 0, kind: str = "events_api") -> str:
        envelope_id = f"env-{next(_events)}"
        websocket.send(json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                   "accepts_response_payload": False, "retry_attempt": retry_attempt,
                                   "retry_reason": "timeout" if retry_attempt else ""}))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self.received.get(timeout=max(deadline - time.monotonic(), 0.01))
            if message.get("envelope_id") == envelope_id:
                return message


@pytest.fixture()
def socket_bot(config, qa, fake_slack):
    """The bot over Socket Mode only (no signing secret), connected to a FakeSocketMode through the fake Web API."""
    fake_slack.reset()
    socket_server = FakeSocketMode()
    fake_slack.socket_url = socket_server.url
    app = create_app(slack_config(config, fake_slack, slack_signing_secret=None, slack_app_token="xapp-1-test"), qa=qa)
    handler = slack.socket_mode(app)
    handler.connect()
    websocket = socket_server.connected.get(timeout=WAIT)
    yield socket_server, websocket, app
    handler.close()
    socket_server.server.shutdown()
    drain(app)


def test_socket_mode_acks_each_envelope_and_answers_with_a_placeholder_then_an_update(socket_bot, fake_slack, qa):
    server, websocket, app = socket_bot
    opened = fake_slack.posted("/api/apps.connections.open")
    assert len(opened) == 1
    assert next(c for c in fake_slack.calls if c["path"] == "/api/apps.connections.open")["auth"] == "Bearer xapp-1-test"
    assert server.paths == ["/link/?ticket=t0"]  # the URL apps.connections.open handed out

    first = mention("who funded CT Travel in March?")
    envelope_id = server.send(websocket, event_callback(first))
    assert server.ack(envelope_id) == {"envelope_id": envelope_id}
    (reply,) = fake_slack.answers()
    assert reply["thread_ts"] == first["ts"] and "India" in answer_text(reply)
    assert any(link.startswith(f"[1] <{PUBLIC}/bulletins/") for link in links(reply))

    # The asker goes on in the thread without a mention; a redelivered envelope is acked but not answered again.
    follow_up = event_callback(channel_message("how much did they give?", first["ts"]))
    server.ack(server.send(websocket, follow_up))
    server.ack(server.send(websocket, follow_up, retry_attempt=1))
    second = fake_slack.answers(2)[1]
    assert "$500,000" in answer_text(second) and button(second, "bqa_feedback_up")["value"].endswith(":2")
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 2 and len(fake_slack.posted("/api/chat.update")) == 2


def test_socket_mode_slash_command_acks_with_the_placeholder_then_replaces_it(socket_bot, fake_slack):
    server, websocket, app = socket_bot
    response_url = f"{fake_slack.url}/commands/socket"
    envelope_id = server.send(websocket, slash("Who funded CT Travel in March?", response_url), kind="slash_commands")
    acked = server.ack(envelope_id)
    assert acked["payload"] == {"text": slack.SEARCHING, "response_type": "ephemeral"}
    (private,) = fake_slack.wait_for("/commands/socket")
    assert private["replace_original"] is True and "India" in answer_text(private)


def test_bqa_slack_needs_both_tokens(monkeypatch, capsys):
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    assert cli.main(["slack"]) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err

"""The Slack bot, end to end: real Slack requests, signed as Slack signs them, posted to the Flask app; the bot's
Web API calls (and response-URL posts) go to a loopback HTTP server that records them and answers like Slack.

Listeners run after the ack on bolt's threads, so a test waits for the call it expects with a bounded poll; a test
that expects *no* (further) call drains the bot's thread pool first, so "nothing was posted" is a fact, not a race.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import yaml
from slack_bolt import BoltRequest

from service import slack
from service.app import create_app

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PUBLIC = "https://bqa.example.org"
TEAM, CHANNEL, DM, USER = "T0001", "C0001", "D0001", "U0USER"
BOT_USER, BOT_ID = "U0BOT", "B0BOT"
WAIT = 30.0
MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"

_ts = itertools.count(1)
_events = itertools.count(1)


# --- a loopback stand-in for Slack's Web API and response URLs ----------------------------------------------------


class FakeSlack:
    """Records every request as {"path", "body"}; Web API methods answer `{"ok": true, ...}`."""

    def __init__(self):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.fail_channels: set[str] = set()  # chat.postMessage answers not_in_channel for these
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
                with fake.lock:
                    fake.calls.append({"path": path, "body": body})
                self._answer(path, body)

            def _answer(self, path, body):
                if path.startswith("/api/"):
                    method = path[len("/api/"):]
                    reply = {"ok": True}
                    if method == "auth.test":
                        reply.update(user_id=BOT_USER, bot_id=BOT_ID, team_id=TEAM, user="bqa", team="Test")
                    elif method == "chat.postMessage":
                        if body.get("channel") in fake.fail_channels:
                            reply = {"ok": False, "error": "not_in_channel"}
                        else:
                            reply.update(channel=body.get("channel"), ts=f"1700000000.{next(fake.ts):06d}")
                    payload, content_type = json.dumps(reply).encode(), "application/json"
                else:  # a response URL: Slack answers plain "ok"
                    payload, content_type = b"ok", "text/plain"
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


@pytest.fixture(scope="module")
def fake_slack():
    fake = FakeSlack()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture()
def app(config, qa, fake_slack):
    """A fresh app (and bot) per test, so that draining its thread pool does not affect the next test."""
    fake_slack.reset()
    cfg = replace(
        config, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
        slack_api_url=f"{fake_slack.url}/api/", public_url=PUBLIC,
    )
    app = create_app(cfg, qa=qa)
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
    corpus = qa.searcher.corpus()
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


# --- the tests ----------------------------------------------------------------------------------------------------


def test_url_verification_answers_the_challenge(client):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    response = post_json(client, "/slack/events", {"token": "x", "challenge": challenge, "type": "url_verification"})
    assert response.status_code == 200
    assert response.get_json() == {"challenge": challenge}


def test_mention_gets_one_threaded_answer_citing_the_paragraph(app, client, fake_slack, qa):
    event = mention("who funded CT Travel?")
    response = post_json(client, "/slack/events", event_callback(event))
    assert response.status_code == 200

    posted = fake_slack.wait_for("/api/chat.postMessage")
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1
    reply = posted[0]
    assert reply["channel"] == CHANNEL and reply["thread_ts"] == event["ts"]
    assert "India" in answer_text(reply) and "$500,000" in answer_text(reply)
    assert "India" in reply["text"]
    check_limits(reply)

    pid = paragraph_id(qa, "India ($500,000)")
    ordinal = qa.searcher.corpus().paragraphs[pid].metadata["ordinal"]
    url = f"{PUBLIC}/bulletins/unoct-highlights-2021-03#{pid}"
    cited = links(reply)
    assert any(f"<{url}|" in link and f"¶{ordinal}>" in link for link in cited), cited
    assert cited[0].startswith("[1] <") and " · " in cited[0]
    assert button(reply, "bqa_feedback_up")["value"] == button(reply, "bqa_feedback_down")["value"]


def test_direct_message_is_answered_in_a_thread(client, fake_slack):
    event = direct_message("Who funded CT Travel?")
    assert post_json(client, "/slack/events", event_callback(event)).status_code == 200
    reply = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert reply["channel"] == DM and reply["thread_ts"] == event["ts"]
    assert "India" in answer_text(reply)


def test_follow_up_in_the_thread_continues_the_conversation(client, fake_slack, qa):
    first = mention("who funded CT Travel?")
    post_json(client, "/slack/events", event_callback(first))
    opening = fake_slack.wait_for("/api/chat.postMessage")[0]

    follow_up = mention("how much did they give?", thread_ts=first["ts"])
    post_json(client, "/slack/events", event_callback(follow_up))
    reply = fake_slack.wait_for("/api/chat.postMessage", 2)[1]
    assert reply["thread_ts"] == first["ts"]
    assert "$500,000" in answer_text(reply) and "1,139,987" not in answer_text(reply)

    conversation_id, _, turn = button(reply, "bqa_feedback_up")["value"].rpartition(":")
    assert button(opening, "bqa_feedback_up")["value"] == f"{conversation_id}:1" and turn == "2"
    turns = qa.history.turns(conversation_id)
    assert [t["question"] for t in turns] == ["who funded CT Travel?", "how much did they give?"]  # mention stripped
    assert "India" in turns[1]["resolved_question"]


def test_a_new_thread_is_a_new_conversation(client, fake_slack):
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel?")))
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel?")))
    first, second = fake_slack.wait_for("/api/chat.postMessage", 2)[:2]
    assert button(first, "bqa_feedback_up")["value"].endswith(":1")
    assert button(second, "bqa_feedback_up")["value"].endswith(":1")
    assert button(first, "bqa_feedback_up")["value"] != button(second, "bqa_feedback_up")["value"]


def test_forged_signature_is_refused_and_nothing_is_answered(app, client, fake_slack):
    payload = event_callback(mention("who funded CT Travel?"))
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
    drain(app)
    assert fake_slack.calls == []


def test_stale_timestamp_is_refused(app, client, fake_slack):
    payload = event_callback(mention("who funded CT Travel?"))
    stale = post_json(client, "/slack/events", payload, timestamp=int(time.time()) - 6 * 60)
    assert stale.status_code == 401
    future = post_json(client, "/slack/events", payload, timestamp=int(time.time()) + 6 * 60)
    assert future.status_code == 401
    drain(app)
    assert fake_slack.posted("/api/chat.postMessage") == []


def test_the_same_event_delivered_three_times_gets_one_reply(app, client, fake_slack):
    payload = event_callback(mention("who funded CT Travel?"))
    assert post_json(client, "/slack/events", payload).status_code == 200
    for retry in (1, 2):
        retried = post_json(
            client, "/slack/events", payload,
            headers={"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retried.status_code == 200  # acknowledged, so Slack stops retrying
    fake_slack.wait_for("/api/chat.postMessage")
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1


def test_the_same_message_as_two_events_gets_one_reply(app, client, fake_slack):
    """A mention in a DM can arrive both as app_mention and as message.im: one message, one answer."""
    ts = new_ts()
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel?", ts=ts, channel=DM)))
    post_json(client, "/slack/events", event_callback(direct_message(f"<@{BOT_USER}> who funded CT Travel?", ts=ts)))
    fake_slack.wait_for("/api/chat.postMessage")
    drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1


def test_dedup_holds_across_apps_sharing_the_data_folder(config, qa, fake_slack):
    """Two worker processes are two apps over the same SQLite file: a retry reaching the other one is still a repeat."""
    fake_slack.reset()
    cfg = replace(config, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                  slack_api_url=f"{fake_slack.url}/api/", public_url=PUBLIC)
    apps = [create_app(cfg, qa=qa), create_app(cfg, qa=qa)]
    payload = event_callback(mention("who funded CT Travel?"))
    post_json(apps[0].test_client(), "/slack/events", payload)
    post_json(apps[1].test_client(), "/slack/events", payload, headers={"X-Slack-Retry-Num": "1"})
    fake_slack.wait_for("/api/chat.postMessage")
    for app in apps:
        drain(app)
    assert len(fake_slack.posted("/api/chat.postMessage")) == 1


@pytest.mark.parametrize(
    "event",
    [
        direct_message("Who funded CT Travel?", user=BOT_USER, bot_id=BOT_ID),  # the bot's own message
        direct_message("Who funded CT Travel?", bot_id="B0OTHER", subtype="bot_message"),  # another bot
        direct_message("Who funded CT Travel?", bot_id="B0OTHER", app_id="A0OTHER"),  # another app, as a user
        mention("who funded CT Travel?", bot_id="B0OTHER"),  # another bot mentioning us
        direct_message("Who funded CT Travel?", subtype="message_changed"),  # an edit, not a new question
        {"type": "message", "channel_type": "channel", "channel": CHANNEL, "user": USER, "team": TEAM,
         "text": "Who funded CT Travel?", "ts": "1690000001.000001"},  # chatter outside the bot's threads
    ],
    ids=["own-message", "bot-message", "app-message", "bot-mention", "edit", "channel-chatter"],
)
def test_bots_and_other_messages_are_ignored(app, client, fake_slack, event):
    response = post_json(client, "/slack/events", event_callback(event))
    assert response.status_code == 200
    drain(app)
    assert fake_slack.posted("/api/chat.postMessage") == []


def test_reply_in_an_answered_thread_is_a_follow_up_when_channel_messages_are_subscribed(client, fake_slack):
    first = mention("who funded CT Travel?")
    post_json(client, "/slack/events", event_callback(first))
    fake_slack.wait_for("/api/chat.postMessage")
    reply_ts = new_ts()
    plain = {"type": "message", "channel_type": "channel", "channel": CHANNEL, "user": USER, "team": TEAM,
             "text": "how much did they give?", "ts": reply_ts, "thread_ts": first["ts"]}
    post_json(client, "/slack/events", event_callback(plain))
    reply = fake_slack.wait_for("/api/chat.postMessage", 2)[1]
    assert reply["thread_ts"] == first["ts"] and "$500,000" in answer_text(reply)


def test_feedback_button_is_stored(client, fake_slack, qa):
    post_json(client, "/slack/events", event_callback(mention("who funded CT Travel?")))
    reply = fake_slack.wait_for("/api/chat.postMessage")[0]
    value = button(reply, "bqa_feedback_down")["value"]
    response_url = f"{fake_slack.url}/actions/feedback-1"

    clicked = post_form(client, "/slack/interactions",
                        {"payload": json.dumps(block_actions("bqa_feedback_down", value, response_url))})
    assert clicked.status_code == 200
    newest = qa.history.feedback(limit=1)[0]  # stored before the click is acknowledged
    assert f"{newest['conversation_id']}:{newest['turn']}" == value
    assert (newest["rating"], newest["source"]) == ("down", "slack")
    assert newest["question"] == "who funded CT Travel?"
    thanks = fake_slack.wait_for("/actions/feedback-1")[0]
    assert thanks["response_type"] == "ephemeral" and thanks["replace_original"] is False


def test_feedback_on_an_unknown_answer_stores_nothing(client, fake_slack, qa):
    before = qa.history.feedback(limit=1)
    response_url = f"{fake_slack.url}/actions/feedback-2"
    clicked = post_form(client, "/slack/interactions",
                        {"payload": json.dumps(block_actions("bqa_feedback_up", "nope:1", response_url))})
    assert clicked.status_code == 200
    assert "too old" in fake_slack.wait_for("/actions/feedback-2")[0]["text"]
    assert qa.history.feedback(limit=1) == before


def test_slash_command_answers_privately_and_shares_on_request(app, client, fake_slack, qa):
    response_url = f"{fake_slack.url}/commands/1"
    acked = post_form(client, "/slack/commands", slash("Who funded CT Travel?", response_url))
    assert acked.status_code == 200

    private = fake_slack.wait_for("/commands/1")[0]
    assert private["response_type"] == "ephemeral"
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


def test_share_falls_back_to_the_response_url_outside_the_bots_channels(client, fake_slack):
    fake_slack.fail_channels.add(CHANNEL)
    response_url = f"{fake_slack.url}/commands/2"
    post_form(client, "/slack/commands", slash("Who funded CT Travel?", response_url))
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
    reply = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert answer_text(reply).startswith("The bulletins don't say")
    assert button(reply, "bqa_feedback_up")  # a missed answer can be reported too


def test_bare_mention_gets_a_usage_hint(client, fake_slack):
    post_json(client, "/slack/events", event_callback(mention("")))
    reply = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert "Ask me" in reply["text"] and "@bqa" in reply["text"]


def test_without_a_public_url_links_use_the_address_slack_called(config, qa, fake_slack):
    fake_slack.reset()
    cfg = replace(config, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                  slack_api_url=f"{fake_slack.url}/api/", public_url=None)
    app = create_app(cfg, qa=qa)
    body = json.dumps(event_callback(mention("who funded CT Travel?"))).encode()
    response = app.test_client().post(
        "/slack/events", data=body, headers=signed_headers(body), content_type="application/json",
        base_url="https://bqa.internal.example/mounted/",
    )
    assert response.status_code == 200
    reply = fake_slack.wait_for("/api/chat.postMessage")[0]
    assert any("<https://bqa.internal.example/mounted/bulletins/unoct-highlights-2021-03#p-" in link
               for link in links(reply)), links(reply)
    drain(app)


def test_long_answers_stay_within_slacks_limits(app):
    bot = app.extensions[slack.EXTENSION]
    citation = {"n": 1, "bulletin_id": "b", "bulletin_title": "T <&>", "section": "S", "paragraph_id": "p-x",
                "url": "https://bqa.example.org/bulletins/b#p-x"}
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
    assert client.post("/api/v1/ask", json={"question": "Who funded CT Travel?"}).status_code == 200
    half = create_app(replace(config, slack_bot_token="xoxb-test", slack_signing_secret=None), qa=qa).test_client()
    assert half.post("/slack/events", data=b"{}", content_type="application/json").status_code == 503


def test_creating_the_app_does_not_call_slack(config, qa, fake_slack):
    fake_slack.reset()
    cfg = replace(config, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                  slack_api_url=f"{fake_slack.url}/api/")
    app = create_app(cfg, qa=qa)
    assert fake_slack.calls == []
    drain(app)


def test_manifest_matches_the_routes_and_the_bot(app):
    manifest = yaml.safe_load(MANIFEST.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "im:history", "im:read", "im:write", "commands"} <= scopes
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert settings["interactivity"]["is_enabled"] is True
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/bqa"
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    routes = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    urls = (settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"], command["url"])
    for url in urls:
        assert url.startswith(PUBLIC + "/") and url[len(PUBLIC):] in routes


def test_bolt_verifies_signatures_itself_too(app):
    """The route's check comes first, but bolt's own RequestVerification stays on behind it."""
    bot = app.extensions[slack.EXTENSION]
    body = json.dumps(event_callback(mention("who funded CT Travel?")))
    forged = BoltRequest(body=body, headers=signed_headers(body.encode(), secret="not-the-signing-secret"))
    assert bot.bolt.dispatch(forged).status == 401
    stale = BoltRequest(body=body, headers=signed_headers(body.encode(), timestamp=int(time.time()) - 600))
    assert bot.bolt.dispatch(stale).status == 401

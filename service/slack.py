"""The Slack bot: mention it in a channel or write to it in a DM and it answers in a thread, quoting the bulletins
and linking every cited paragraph; `/bqa <question>` answers privately, with a button to share the answer; its
App Home tab says how to use it and offers starter questions.

One bot, two ways to reach Slack (the README's Slack section, and a manifest for each):

* **HTTP** (`slack/manifest.yml`): slack-bolt's Flask adapter mounts the bot in this app, at three URLs Slack
  must reach over HTTPS: `POST /slack/events` (Events API), `/slack/interactions` (button clicks) and
  `/slack/commands` (the slash command). They all take any kind of Slack request; the split only keeps logs
  readable. Without `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET` they answer 503 `slack_not_configured`.
* **Socket Mode** (`slack/manifest-socket-mode.yml`): `bqa slack` opens a WebSocket to Slack with the app-level
  token `SLACK_APP_TOKEN` (bolt's `SocketModeHandler`), for organisations that cannot expose a public endpoint.
  Nothing reaches bqa from outside, so no signing secret is needed; events arrive as envelopes that bolt
  acknowledges over the same socket.

Being a good Slack citizen, step by step:

* Over HTTP every request must carry Slack's signature and a timestamp at most five minutes old, or it is refused
  with 401 before its body is parsed: slack_sdk's `SignatureVerifier` checks the route (bolt parses a body as it
  reads it, and a forgery must not reach a parser), and bolt's own `RequestVerification` middleware, built on the
  same verifier, stays on behind it. A signed body that is not a Slack payload (not JSON, `"event": [1]`,
  `payload=notjson`) is a 400 JSON with `X-Slack-No-Retry: 1`, so Slack does not redeliver it.
* Slack wants an answer within 3 seconds. Bolt acknowledges at once and runs the listener afterwards on a thread
  pool (`process_before_response=False`). The reply starts as a placeholder ("Searching the bulletins…", posted
  straight away) that `chat.update` turns into the answer, so people see at once that the bot is on it. With an
  LLM, which may take seconds, the placeholder is replaced once, by the whole checked answer: Slack rate-limits
  `chat.update` across the workspace, and a response URL takes at most five messages. `/bqa` acknowledges with
  the placeholder itself, an ephemeral message, which its response URL then replaces (`replace_original`:
  `chat.update` cannot edit ephemeral messages). Clicks are acknowledged by the listener itself as soon as what
  must happen first (storing a rating) is done.
* Slack redelivers an event it thinks was lost (`X-Slack-Retry-Num`, or a new envelope), and one message can
  arrive as two events (a mention in a DM, or in a channel whose messages the bot also reads). A delivery is
  answered only if its `event_id` is new, and a message only if its (team, channel, ts) is: both are claimed with
  one atomic insert in the database (`Database.first_delivery`), so this holds
  across threads, worker processes and both modes. Claims are forgotten after `DEDUP_TTL` seconds. A claim is
  taken before answering: a worker that dies mid-answer leaves that one question unanswered rather than risk
  answering twice.
* The bot's own messages are dropped by bolt (`IgnoringSelfEvents`, which learns the bot's ids from one
  `auth.test` call at the first request: the app is built with `token_verification_enabled=False`, so creating it
  never calls Slack); other bots' messages (`bot_id`, subtype `bot_message`) and edits are ignored here.
* A thread is a conversation: `thread_ts = event.thread_ts or event.ts`, and (team, channel, thread_ts) maps to a
  bqa conversation id (`Database.slack_conversation`), so "how much did they give?" in the thread is read with the
  question before it. Whoever asked the bot in a thread may go on there without mentioning it again: the bot reads
  the channel messages it is subscribed to (`message.channels`, `message.groups`) and answers a thread reply only
  from someone it has answered in that thread (`Database.is_slack_asker`); other people's chatter is left alone
  unless it mentions the bot. An expired conversation starts afresh in the same thread.

Answers are Block Kit messages with a plain-text fallback: the answer (plain text, so a quote is never read as
Slack markup), the citations as links `<url|Bulletin title, Period · Section ¶n>` in a context block, each link naming the
quoted span so the source view highlights it, and 👍 / 👎 buttons whose clicks are stored as feedback with source
"slack". Links are absolute: `BQA_PUBLIC_URL`, or when it is unset the address Slack's request came in on (the host
of the request URLs in the manifest).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import quote as percent_encode

from flask import Blueprint, Flask, Request, current_app, request
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.flask.handler import to_bolt_request, to_flask_response
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from werkzeug.routing import Map

from service.config import Config
from service.db.base import ConversationNotFound, TurnNotFound
from service.pipeline import BulletinQA
from service.suggestions import StarterQuestions
from service.web import context, quotes
from service.web.errors import error_response

log = logging.getLogger(__name__)

bp = Blueprint("slack", __name__, url_prefix="/slack")

EXTENSION = "bqa.slack"
BASE_URL = "bqa_base_url"  # bolt context key: the service's root URL as users reach it

DEDUP_TTL = 60 * 60  # seconds a delivery is remembered; Slack's last retry comes about 5 minutes after the first
LISTENER_THREADS = 4
NO_RETRY = {"X-Slack-No-Retry": "1"}  # Slack's header for "do not redeliver this one"

# Slack's limits (https://api.slack.com/reference/block-kit/blocks)
SECTION_CHARS = 3000
CONTEXT_ELEMENTS = 10
MAX_BLOCKS = 50
MAX_ANSWER_SECTIONS = 10  # an answer longer than 30,000 characters is cut; bqa's quotes are far shorter
FALLBACK_CHARS = 3900
BUTTON_CHARS = 75
ACTIONS_ELEMENTS = 25

ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"  # as Flask's url_for(_anchor=...) quotes a fragment
FEEDBACK_UP, FEEDBACK_DOWN, SHARE = "bqa_feedback_up", "bqa_feedback_down", "bqa_share"
STARTER = "bqa_starter"  # App Home buttons: bqa_starter_0, bqa_starter_1, … (action ids are unique in a view)
ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share"}  # messages written by a person

SEARCHING = "Searching the bulletins…"
USAGE = (
    "Ask me about the bulletins, e.g. `/bqa Who funded CT Travel?`. Mention me in a channel or write to me "
    "directly to get the answer in a thread, where follow-up questions work too."
)
MENTION_USAGE = (
    "Ask me about the bulletins, e.g. “@bqa Who funded CT Travel?”. I answer in a thread, where you can ask "
    "follow-up questions without mentioning me again; `/bqa <question>` asks privately."
)
HOW_TO = (
    "I answer questions from the bulletins: I quote the sentence that answers and link the paragraph it comes "
    "from, and when the bulletins don't say, I say so.\n"
    "• *In a channel:* mention me (“@bqa Who funded CT Travel?”) and I answer in a thread. Reply in that thread "
    "to ask a follow-up; no need to mention me again.\n"
    "• *Privately:* write to me in the *Messages* tab, or type `/bqa <question>` anywhere.\n"
    "• Rate answers with 👍 / 👎: it tells the people who write the bulletins what is missing."
)
FAILED = "Sorry, something went wrong on our side and I couldn't answer. Please try again in a moment."


# --- the HTTP routes ----------------------------------------------------------------------------------------------


@bp.post("/events")
@bp.post("/interactions")
@bp.post("/commands")
def receive():
    bot: SlackBot | None = current_app.extensions.get(EXTENSION)
    if bot is None or bot.verifier is None:
        return error_response(
            503, "slack_not_configured",
            "The Slack bot's HTTP endpoints are off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and restart the "
            "service (or run it over Socket Mode: `bqa slack`).",
        )
    body = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    if not is_signed(bot.verifier, body, request.headers):
        return error_response(
            401, "invalid_signature", "The request is not signed with this app's signing secret, or is too old."
        )
    try:
        bolt_request = read_bolt_request(request)
    except PayloadError as e:
        return error_response(400, "invalid_payload", str(e), NO_RETRY)
    bolt_request.context[BASE_URL] = service_root()
    return to_flask_response(bot.bolt.dispatch(bolt_request))


@bp.record_once
def _setup(state) -> None:
    """Build the bot for an app whose configuration names a bot token and a way to hear from Slack."""
    app: Flask = state.app
    config: Config = app.config[context.CONFIG_KEY]
    if config.slack_bot_token and (config.slack_signing_secret or config.slack_app_token):
        app.extensions[EXTENSION] = SlackBot(config, app.extensions[context.EXTENSION], app.url_map)


def socket_mode(app: Flask) -> SocketModeHandler:
    """The Socket Mode connection of `app`'s bot (`bqa slack`): `start()` it, `close()` it."""
    bot: SlackBot | None = app.extensions.get(EXTENSION)
    config: Config = app.config[context.CONFIG_KEY]
    if bot is None or not config.slack_app_token:
        raise ValueError("Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (an app-level token, xapp-…)")
    return SocketModeHandler(bot.bolt, app_token=config.slack_app_token, logger=log)


def is_signed(verifier: SignatureVerifier, body: bytes, headers) -> bool:
    """slack_sdk's check of Slack's signature and timestamp. Headers it cannot read (a timestamp that is not a
    number, a signature that is not ASCII) or a body that is not UTF-8 make a failed check, not a crash."""
    try:
        return verifier.is_valid_request(body, dict(headers))
    except (ValueError, TypeError):
        return False


class PayloadError(ValueError):
    """A signed request whose body is not a Slack payload."""


# Where Slack's payloads hold objects, ids (a string, or an object with an "id") and lists of objects. Bolt reads
# these fields before any listener runs, and fails on any other shape.
_OBJECT_FIELDS = ("event", "view", "container", "message", "previous_message", "item", "function_data")
_ID_FIELDS = ("team", "user", "channel", "enterprise")
_LIST_FIELDS = ("authorizations", "actions")
_TEXT_FIELDS = ("type", "command", "callback_id", "action_id", "block_id", "subtype", "channel_type", "tab")


def read_bolt_request(req: Request) -> BoltRequest:
    """The request as bolt reads it, or PayloadError when its body is not the JSON (or form) of a Slack payload."""
    try:
        bolt_request = to_bolt_request(req)  # parses the body and extracts ids: fails on many a wrong shape
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        raise PayloadError("The body is not a Slack payload: not JSON, or not a JSON object.") from None
    check_payload(bolt_request.body)
    return bolt_request


def check_payload(body) -> None:
    """Refuse (PayloadError) a payload whose fields bolt reads do not have the shapes Slack sends."""
    if not isinstance(body, dict):
        raise PayloadError("The body is not a Slack payload: not a JSON object.")
    pending = [("payload", body)]
    while pending:
        where, item = pending.pop()
        for name in _TEXT_FIELDS:
            if item.get(name) is not None and not isinstance(item[name], str):
                raise PayloadError(f"\"{name}\" in the {where} must be a string.")
        for name in _ID_FIELDS:
            if item.get(name) is not None and not isinstance(item[name], (str, dict)):
                raise PayloadError(f"\"{name}\" in the {where} must be an id or an object.")
        for name in _OBJECT_FIELDS:  # bolt reads some as `body.get("event", {})`: null is no object either
            if name in item:
                if not isinstance(item[name], dict):
                    raise PayloadError(f"\"{name}\" in the {where} must be an object.")
                pending.append((name, item[name]))
        for name in _LIST_FIELDS:
            if item.get(name) is not None:
                if not isinstance(item[name], list) or not all(isinstance(x, dict) for x in item[name]):
                    raise PayloadError(f"\"{name}\" in the {where} must be a list of objects.")
                pending.extend((name, x) for x in item[name])
    event = body.get("event")
    if event is not None and not isinstance(event.get("type"), str):
        raise PayloadError("The event has no type.")


def service_root() -> str:
    """The service's root URL as users reach it: `BQA_PUBLIC_URL`, or else the address this request came in on."""
    return context.absolute(request.script_root + "/").rstrip("/")


# --- the bot ------------------------------------------------------------------------------------------------------


class SlackBot:
    """A bolt `App` answering from `qa`, with its listeners; served over HTTP (the routes above), Socket Mode
    (`socket_mode`), or both."""

    def __init__(self, config: Config, qa: BulletinQA, url_map: Map):
        self.config = config
        self.qa = qa
        secret = config.slack_signing_secret
        self.verifier = SignatureVerifier(secret) if secret else None
        self.starters = StarterQuestions(config.suggestions)
        self._url_map = url_map
        self.executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bqa-slack")
        api_url = config.slack_api_url if config.slack_api_url.endswith("/") else config.slack_api_url + "/"
        self.bolt = App(
            name="bqa",
            logger=log,
            client=WebClient(token=config.slack_bot_token, base_url=api_url),
            signing_secret=secret or "",
            request_verification_enabled=bool(secret),  # Socket Mode has no signatures to check
            token_verification_enabled=False,  # no auth.test at start-up: it runs at the first request instead
            process_before_response=False,
            listener_executor=self.executor,
        )

        self.bolt.middleware(self.once_per_event)
        self.bolt.event("app_mention")(self.on_mention)
        self.bolt.event("message")(self.on_message)
        self.bolt.event("app_home_opened")(self.on_home_opened)
        self.bolt.command("/bqa")(self.on_command)
        self.bolt.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(self.on_feedback)
        self.bolt.action(SHARE)(self.on_share)
        self.bolt.action(re.compile(f"^{STARTER}_[0-9]+$"))(self.on_starter)

    # --- listeners ---

    def once_per_event(self, body, next):
        """Global middleware: acknowledge a redelivered event (same `event_id`) without handling it again."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.qa.db.first_delivery(f"event:{event_id}", DEDUP_TTL):
            log.info("Slack event %s delivered again; already handled", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def on_mention(self, event, context, client):
        if not _from_a_bot(event):
            self.answer_in_thread(event, context, client)

    def on_message(self, event, context, client):
        """A DM to the bot; or, in a channel, a reply in a thread from someone the bot has answered there."""
        user = event.get("user")
        if event.get("subtype") not in ANSWERED_SUBTYPES or _from_a_bot(event) or not isinstance(user, str):
            return
        if event.get("channel_type") != "im":
            if context.bot_user_id and f"<@{context.bot_user_id}" in str(event.get("text", "")):
                return  # a mention: app_mention answers it
            thread_ts = event.get("thread_ts")
            team = context.team_id or event.get("team") or ""
            if not thread_ts or not self.qa.db.is_slack_asker(team, event.get("channel", ""), thread_ts, user):
                return  # chatter, or someone else's thread
        self.answer_in_thread(event, context, client)

    def on_home_opened(self, event, client):
        """The App Home tab: how to ask, and starter questions that answer in the Messages tab when clicked."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        questions, _ = self.starters.get(self.qa.corpus())
        client.views_publish(user_id=event["user"], view=home_view(questions))

    def on_starter(self, ack, action, body, context, client):
        """A starter question clicked on the App Home tab: answered in the app's DM (its Messages tab), where the
        answer's thread carries on the conversation."""
        ack()
        question = str(action.get("value") or "").strip()[: self.config.max_question_chars]
        user = (body.get("user") or {}).get("id")
        if not question or not user:
            return
        team = context.team_id or ""

        def answer(channel: str, ts: str) -> dict:
            result = self.ask(question, self.base_url(context))
            self.qa.db.link_slack_thread(team, channel, ts, result["conversation_id"], asker=user)
            preface = f"You asked: {_escape(question)}"
            return self.message(result, result["conversation_id"], result["turn"], preface=preface)

        self.reply(client, user, None, answer)  # a user id as the channel: the app's DM with them

    def on_command(self, ack, command, respond, context):
        question = question_text(command.get("text", ""), context.bot_user_id)
        if not question or question.lower() == "help":
            ack(text=USAGE, response_type="ephemeral")
            return
        if len(question) > self.config.max_question_chars:
            ack(text=self.too_long(), response_type="ephemeral")
            return
        ack(text=SEARCHING, response_type="ephemeral")  # shown at once, only to the asker
        try:
            result = self.ask(question, self.base_url(context))
            message = self.message(
                result, result["conversation_id"], result["turn"], preface=f"You asked: {_escape(question)}",
                share=True,
            )
        except Exception:
            log.exception("Slack: /bqa failed")
            message = {"text": FAILED}
        # An ephemeral message cannot be chat.update'd: the command's response URL replaces it.
        _check(respond(response_type="ephemeral", replace_original=True, unfurl_links=False, unfurl_media=False,
                       **message))

    def on_feedback(self, ack, action, respond):
        rating = "up" if action["action_id"] == FEEDBACK_UP else "down"
        parsed = _parse_value(action.get("value"))
        reply = "This answer is too old to rate."
        if parsed is not None:
            try:
                self.qa.db.add_feedback(*parsed, rating, None, source="slack")
                reply = "Thanks for the feedback!" if rating == "up" else "Thanks, noted: we'll look into this answer."
            except (ConversationNotFound, TurnNotFound):
                pass
        ack()
        _check(respond(text=reply, response_type="ephemeral", replace_original=False))

    def on_share(self, ack, action, body, respond, context, client):
        """Post a private /bqa answer in the channel for everyone, then remove the private copy."""
        ack()
        parsed = _parse_value(action.get("value"))
        stored = None
        if parsed is not None:
            conversation_id, n = parsed
            try:
                stored = next((t for t in self.qa.db.turns(conversation_id) if t["n"] == n), None)
            except ConversationNotFound:
                pass
        if stored is None:
            expired = "This answer has expired; ask again."
            _check(respond(text=expired, response_type="ephemeral", replace_original=False))
            return
        user = (body.get("user") or {}).get("id")
        asked = f"<@{user}> asked" if user else "Asked"
        message = self.message(stored, conversation_id, n, preface=f"{asked}: {_escape(stored['question'])}")
        channel = context.channel_id or (body.get("channel") or {}).get("id")
        try:
            posted = client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **message)
            # Replies in the shared answer's thread carry on its conversation.
            self.qa.db.link_slack_thread(context.team_id or "", channel, posted["ts"], conversation_id, user)
        except SlackApiError as e:
            # Not a member of the channel (or a DM between people): the response URL may post where the bot can't.
            log.info("Slack: chat.postMessage failed (%s); sharing via the response URL", e.response.get("error"))
            _check(respond(response_type="in_channel", replace_original=False, unfurl_links=False, **message))
        _check(respond(delete_original=True))

    # --- answering ---

    def answer_in_thread(self, event, context, client) -> None:
        team = context.team_id or event.get("team") or ""
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if not channel or not ts:
            return
        if not self.qa.db.first_delivery(f"message:{team}:{channel}:{ts}", DEDUP_TTL):
            return  # the same message, as another event
        thread_ts = event.get("thread_ts") or ts
        question = question_text(event.get("text", ""), context.bot_user_id)
        if not question or len(question) > self.config.max_question_chars:
            hint = self.too_long() if question else MENTION_USAGE
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=hint)
            return

        def answer(_channel: str, _ts: str) -> dict:
            earlier = self.qa.db.slack_conversation(team, channel, thread_ts)
            result = self.ask(question, self.base_url(context), earlier)
            self.qa.db.link_slack_thread(team, channel, thread_ts, result["conversation_id"], asker=user)
            return self.message(result, result["conversation_id"], result["turn"])

        self.reply(client, channel, thread_ts, answer)

    def reply(
        self, client: WebClient, channel: str, thread_ts: str | None, answer: Callable[[str, str], dict]
    ) -> None:
        """Post "Searching the bulletins…" at once, then update it in place with `answer(channel, ts)` (the
        message's own channel and ts), or with an apology when answering fails."""
        try:
            placeholder = client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=SEARCHING, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as e:
            log.warning("Slack: cannot post in %s (%s)", channel, e.response.get("error"))
            return
        channel, ts = placeholder["channel"], placeholder["ts"]
        try:
            message = answer(channel, ts)
        except Exception:
            log.exception("Slack: answering in %s failed", channel)
            message = {"text": FAILED}
        client.chat_update(channel=channel, ts=ts, **message)

    def ask(self, question: str, base_url: str, conversation_id: str | None = None) -> dict:
        """`BulletinQA.ask` with absolute source URLs; an expired conversation starts a new one."""

        def url_for(bulletin_id: str, paragraph_id: str) -> str:
            paths = self._url_map.bind("localhost", script_name="/")  # paths only: the base is added here
            path = paths.build("views.bulletin", {"bulletin_id": bulletin_id})
            return f"{base_url}{path}#{percent_encode(paragraph_id, safe=ANCHOR_SAFE)}"

        try:
            return self.qa.ask(question, url_for, conversation_id=conversation_id)
        except ConversationNotFound:
            return self.qa.ask(question, url_for)

    def base_url(self, context) -> str:
        """The root of source URLs: as the HTTP route found it, else `BQA_PUBLIC_URL` (or relative, at worst)."""
        return context.get(BASE_URL) or (self.config.public_url or "").rstrip("/")

    def too_long(self) -> str:
        return f"That question is too long: the limit is {self.config.max_question_chars} characters."

    def message(
        self, answer: dict, conversation_id: str, turn: int, preface: str | None = None, share: bool = False
    ) -> dict:
        """The Slack message (`text` fallback and `blocks`) for an answer: the API's JSON or a stored turn."""
        blocks: list[dict] = []
        if preface:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(preface, SECTION_CHARS)}]})

        text = answer["answer"]  # an abstention says so itself, quoting the closest sentence
        for piece in _pieces(text, SECTION_CHARS, MAX_ANSWER_SECTIONS):
            blocks.append({"type": "section", "text": {"type": "plain_text", "text": piece, "emoji": False}})

        links, plain = [], []
        for citation in answer["citations"]:
            label, url = self.label(citation), quotes.quote_url(citation)
            links.append(f"[{citation['n']}] <{_escape(url)}|{_escape(label)}>")
            plain.append(f"[{citation['n']}] {label}: {url}")
        if links and not answer["answerable"]:
            links.insert(0, "Closest:")
        for start in range(0, len(links), CONTEXT_ELEMENTS):
            chunk = links[start : start + CONTEXT_ELEMENTS]
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link} for link in chunk]})

        value = f"{conversation_id}:{turn}"
        buttons = [
            {"type": "button", "action_id": FEEDBACK_UP, "value": value,
             "text": {"type": "plain_text", "text": "👍", "emoji": True}, "accessibility_label": "Good answer"},
            {"type": "button", "action_id": FEEDBACK_DOWN, "value": value,
             "text": {"type": "plain_text", "text": "👎", "emoji": True}, "accessibility_label": "Bad answer"},
        ]
        if share:
            buttons.append({"type": "button", "action_id": SHARE, "value": value, "style": "primary",
                            "text": {"type": "plain_text", "text": "Share in channel"}})
        blocks = blocks[: MAX_BLOCKS - 1] + [{"type": "actions", "block_id": "bqa_answer", "elements": buttons}]

        fallback = "\n".join([text, *plain])
        return {"text": _cut(fallback, FALLBACK_CHARS), "blocks": blocks}

    def label(self, citation: dict) -> str:
        """"Bulletin title, Period · Section ¶n", n being the paragraph's place in its bulletin (as the source view
        shows); the period always, since the same paragraph may stand in several months' bulletins."""
        title = citation.get("bulletin_title") or citation.get("bulletin_id") or "Bulletin"
        parts = [f"{title}, {citation['period']}" if citation.get("period") else title]
        if citation.get("section"):
            parts.append(citation["section"])
        label = " · ".join(parts)
        corpus = self.qa.corpus()
        node = corpus.paragraphs.get(citation.get("paragraph_id")) if corpus is not None else None
        ordinal = node.metadata.get("ordinal") if node is not None else None
        return f"{label} ¶{ordinal}" if ordinal is not None else label


def home_view(questions: list[str]) -> dict:
    """The App Home tab: what the bot does and how to ask it, then a button per starter question."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Ask the bulletins"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": HOW_TO}},
    ]
    if questions:
        buttons = [
            {"type": "button", "action_id": f"{STARTER}_{i}", "value": question,
             "text": {"type": "plain_text", "text": _cut(question, BUTTON_CHARS)}}
            for i, question in enumerate(questions[:ACTIONS_ELEMENTS])
        ]
        blocks += [
            {"type": "divider"},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Try one of these* (the answer appears in the "
                                                                    "*Messages* tab):"}},
            {"type": "actions", "block_id": "bqa_starters", "elements": buttons},
        ]
    return {"type": "home", "blocks": blocks}


# --- text ---------------------------------------------------------------------------------------------------------

_ANGLED = re.compile(r"<([^<>]*)>")


def question_text(text: str, bot_user_id: str | None) -> str:
    """The question in a Slack message: the bot's mentions dropped, Slack's markup turned back into plain text."""

    def plain(match: re.Match) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if bot_user_id is None or target[1:] == bot_user_id:
                return ""
            return f"@{label}" if label else ""
        if target.startswith("#"):
            return f"#{label}" if label else ""
        if target.startswith("!"):
            return label  # <!here>, <!date^…|fallback>
        return label or target  # a link

    text = _ANGLED.sub(plain, text or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def _escape(text: str) -> str:
    """Text for Slack mrkdwn: the three characters Slack's markup reserves, as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pieces(text: str, size: int, most: int) -> list[str]:
    """`text` in at most `most` pieces of at most `size` characters, split at whitespace where possible."""
    text = text.strip() or "…"
    pieces = []
    while text and len(pieces) < most:
        if len(text) <= size:
            pieces.append(text)
            return pieces
        cut = text.rfind(" ", 0, size)
        cut = cut if cut > size // 2 else size
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:  # more than `most` pieces' worth: the last one ends with an ellipsis
        pieces[-1] = pieces[-1][: size - 2].rstrip() + " …"
    return pieces


def _from_a_bot(event: dict) -> bool:
    return bool(event.get("bot_id") or event.get("bot_profile")) or event.get("subtype") == "bot_message"


def _parse_value(value) -> tuple[str, int] | None:
    """The (conversation id, turn) a button's value names, or None for anything else."""
    conversation_id, _, turn = (value or "").rpartition(":")
    if not conversation_id or not turn.isdigit():
        return None
    return conversation_id, int(turn)


def _check(webhook_response) -> None:
    status = getattr(webhook_response, "status_code", 200)
    if status != 200:
        log.warning("Slack: response URL answered %s: %s", status, getattr(webhook_response, "body", ""))

"""The Slack bot: mention it in a channel or write to it in a DM and it answers in a thread, quoting the bulletins
and linking every cited paragraph; `/bqa <question>` answers privately, with a button to share the answer.

slack-bolt speaks the protocol and its Flask adapter mounts it in this app, at three URLs the manifest
(`slack/manifest.yml`) points Slack at: `POST /slack/events` (Events API), `/slack/interactions` (button clicks)
and `/slack/commands` (the slash command). They all take any kind of Slack request; the split only keeps logs
readable. Without `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET` they answer 503 `slack_not_configured` and
nothing else changes.

Being a good Slack citizen, step by step:

* Every request must carry Slack's signature (HMAC-SHA256 over `v0:{timestamp}:{body}` with the signing secret)
  and a timestamp at most five minutes old, or it is refused with 401 before anything reads it. The route checks
  this itself, so that an unsigned body never reaches bolt's parser, and bolt checks it again (its
  `RequestVerification` middleware stays on).
* Slack wants an answer within 3 seconds. Bolt acknowledges an event at once and runs the listener afterwards on
  a thread pool (`process_before_response=False`); the answer goes out with `chat.postMessage`. Clicks and slash
  commands are acknowledged by the listener itself as soon as what must happen first (storing a rating) is done.
* Slack redelivers an event it thinks was lost (`X-Slack-Retry-Num`), and one message can arrive as two events (a
  mention in a DM). A delivery is answered only if its `event_id` is new, and a message only if its
  (team, channel, ts) is: both are claimed with one atomic insert in the SQLite file of the conversation history
  (`History.first_delivery`), so this holds across threads and worker processes. Claims are forgotten after
  `DEDUP_TTL` seconds. A claim is taken before answering: a worker that dies mid-answer leaves that one question
  unanswered rather than risk answering twice.
* The bot's own messages are dropped by bolt (`IgnoringSelfEvents`, which learns the bot's ids from one
  `auth.test` call at the first request: the app is built with `token_verification_enabled=False`, so creating it
  never calls Slack); other bots' messages (`bot_id`, subtype `bot_message`) are ignored here.
* A thread is a conversation: `thread_ts = event.thread_ts or event.ts`, and (team, channel, thread_ts) maps to a
  bqa conversation id (`History.slack_conversation`), so "how much did they give?" in the thread is read with the
  question before it. An expired conversation starts afresh in the same thread.

Answers are Block Kit messages with a plain-text fallback: the answer (plain text, so a quote is never read as
Slack markup), the citations as links `<url|Bulletin title · Section ¶n>` in a context block, and 👍 / 👎 buttons
whose clicks are stored as feedback with source "slack". Links are absolute: `BQA_PUBLIC_URL`, or when it is unset
the address Slack's request came in on (the host of the request URLs in the manifest).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote as percent_encode

from flask import Blueprint, Flask, Request, Response, current_app, request
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.adapter.flask.handler import to_bolt_request, to_flask_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from werkzeug.routing import Map

from service.web import context
from service.config import Config
from service.web.errors import error_response
from service.history import ConversationNotFound, TurnNotFound
from service.pipeline import BulletinQA

log = logging.getLogger(__name__)

bp = Blueprint("slack", __name__, url_prefix="/slack")

EXTENSION = "bqa.slack"
BASE_URL = "bqa_base_url"  # bolt context key: the service's root URL as users reach it

MAX_REQUEST_AGE = 5 * 60  # seconds; Slack's own rule for the signature timestamp
DEDUP_TTL = 60 * 60  # seconds a delivery is remembered; Slack's last retry comes about 5 minutes after the first
LISTENER_THREADS = 4

# Slack's limits (https://api.slack.com/reference/block-kit/blocks)
SECTION_CHARS = 3000
CONTEXT_ELEMENTS = 10
MAX_BLOCKS = 50
MAX_ANSWER_SECTIONS = 10  # an answer longer than 30,000 characters is cut; bqa's quotes are far shorter
FALLBACK_CHARS = 3900

ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"  # as Flask's url_for(_anchor=...) quotes a fragment
FEEDBACK_UP, FEEDBACK_DOWN, SHARE = "bqa_feedback_up", "bqa_feedback_down", "bqa_share"
ANSWERED_SUBTYPES = {None, "thread_broadcast", "file_share"}  # messages written by a person

USAGE = (
    "Ask me about the bulletins, e.g. `/bqa Who funded CT Travel?`. Mention me in a channel or write to me "
    "directly to get the answer in a thread, where follow-up questions work too."
)
MENTION_USAGE = (
    "Ask me about the bulletins, e.g. “@bqa Who funded CT Travel?”. I answer in a thread, where follow-up "
    "questions work too; `/bqa <question>` asks privately."
)
FAILED = "Sorry, something went wrong on our side and I couldn't answer. Please try again in a moment."


# --- the routes ---------------------------------------------------------------------------------------------------


@bp.post("/events")
@bp.post("/interactions")
@bp.post("/commands")
def receive():
    bot: SlackBot | None = current_app.extensions.get(EXTENSION)
    if bot is None:
        return error_response(
            503, "slack_not_configured",
            "The Slack bot is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and restart the service.",
        )
    body = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    if not signed_by_slack(bot.signing_secret, request.headers, body):
        return error_response(
            401, "invalid_signature", "The request is not signed with this app's signing secret, or is too old."
        )
    return bot.handler.handle(request)


@bp.record_once
def _setup(state) -> None:
    """Build the bot for an app whose configuration names a bot token and a signing secret."""
    app: Flask = state.app
    config: Config = app.config[context.CONFIG_KEY]
    if config.slack_bot_token and config.slack_signing_secret:
        app.extensions[EXTENSION] = SlackBot(config, app.extensions[context.EXTENSION], app.url_map)


def signed_by_slack(secret: str, headers, body: bytes, now: float | None = None) -> bool:
    """Whether `body` carries Slack's v0 signature made with `secret`, dated within five minutes of `now`."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_REQUEST_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("latin-1", "replace"))


class RequestHandler(SlackRequestHandler):
    """Bolt's Flask adapter, which also tells the listeners the service's root URL for this request.

    Listeners run on bolt's threads, outside Flask's request context, so what they need from the request is put
    into bolt's context here; the rest is `SlackRequestHandler.handle` for a POST.
    """

    def handle(self, req: Request) -> Response:
        bolt_request = to_bolt_request(req)
        bolt_request.context[BASE_URL] = service_root()
        return to_flask_response(self.app.dispatch(bolt_request))


def service_root() -> str:
    """The service's root URL as users reach it: `BQA_PUBLIC_URL`, or else the address this request came in on."""
    return context.absolute(request.script_root + "/").rstrip("/")


# --- the bot ------------------------------------------------------------------------------------------------------


class SlackBot:
    """A bolt `App` answering from `qa`, with its listeners."""

    def __init__(self, config: Config, qa: BulletinQA, url_map: Map):
        self.config = config
        self.qa = qa
        self.signing_secret = config.slack_signing_secret
        self._url_map = url_map
        self.executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bqa-slack")
        api_url = config.slack_api_url if config.slack_api_url.endswith("/") else config.slack_api_url + "/"
        self.bolt = App(
            name="bqa",
            logger=log,
            client=WebClient(token=config.slack_bot_token, base_url=api_url),
            signing_secret=config.slack_signing_secret,
            token_verification_enabled=False,  # no auth.test at start-up: it runs at the first request instead
            process_before_response=False,
            listener_executor=self.executor,
        )
        self.handler = RequestHandler(self.bolt)

        self.bolt.middleware(self.once_per_event)
        self.bolt.event("app_mention")(self.on_mention)
        self.bolt.event("message")(self.on_message)
        self.bolt.command("/bqa")(self.on_command)
        self.bolt.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(self.on_feedback)
        self.bolt.action(SHARE)(self.on_share)

    # --- listeners ---

    def once_per_event(self, body, next):
        """Global middleware: acknowledge a redelivered event (same `event_id`) without handling it again."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self.qa.history.first_delivery(f"event:{event_id}", DEDUP_TTL):
            log.info("Slack event %s delivered again; already handled", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def on_mention(self, event, context, client):
        if not _from_a_bot(event):
            self.answer_in_thread(event, context, client)

    def on_message(self, event, context, client):
        """A DM to the bot; or a reply, in a channel thread the bot answers, when message events of channels are
        subscribed too (the manifest does not: there, follow-ups mention the bot)."""
        if event.get("subtype") not in ANSWERED_SUBTYPES or _from_a_bot(event) or not event.get("user"):
            return
        if event.get("channel_type") != "im":
            thread_ts = event.get("thread_ts")
            team = context.team_id or event.get("team") or ""
            if not thread_ts or self.qa.history.slack_conversation(team, event.get("channel", ""), thread_ts) is None:
                return
            if context.bot_user_id and f"<@{context.bot_user_id}" in event.get("text", ""):
                return  # a mention: app_mention answers it
        self.answer_in_thread(event, context, client)

    def on_command(self, ack, command, respond, context):
        question = question_text(command.get("text", ""), context.bot_user_id)
        if not question or question.lower() == "help":
            ack(text=USAGE, response_type="ephemeral")
            return
        if len(question) > self.config.max_question_chars:
            ack(text=self.too_long(), response_type="ephemeral")
            return
        ack()
        try:
            result = self.ask(question, self.base_url(context))
            message = self.message(
                result, result["conversation_id"], result["turn"], preface=f"You asked: {_escape(question)}",
                share=True,
            )
        except Exception:
            log.exception("Slack: /bqa failed")
            message = {"text": FAILED}
        _check(respond(response_type="ephemeral", unfurl_links=False, unfurl_media=False, **message))

    def on_feedback(self, ack, action, respond):
        rating = "up" if action["action_id"] == FEEDBACK_UP else "down"
        parsed = _parse_value(action.get("value"))
        reply = "This answer is too old to rate."
        if parsed is not None:
            try:
                self.qa.history.add_feedback(*parsed, rating, None, source="slack")
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
                stored = next((t for t in self.qa.history.turns(conversation_id) if t["n"] == n), None)
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
            # Mentions in the shared answer's thread carry on its conversation.
            self.qa.history.link_slack_thread(context.team_id or "", channel, posted["ts"], conversation_id)
        except SlackApiError as e:
            # Not a member of the channel (or a DM between people): the response URL may post where the bot can't.
            log.info("Slack: chat.postMessage failed (%s); sharing via the response URL", e.response.get("error"))
            _check(respond(response_type="in_channel", replace_original=False, unfurl_links=False, **message))
        _check(respond(delete_original=True))

    # --- answering ---

    def answer_in_thread(self, event, context, client) -> None:
        team = context.team_id or event.get("team") or ""
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts:
            return
        if not self.qa.history.first_delivery(f"message:{team}:{channel}:{ts}", DEDUP_TTL):
            return  # the same message, as another event
        thread_ts = event.get("thread_ts") or ts
        question = question_text(event.get("text", ""), context.bot_user_id)
        try:
            if not question:
                message = {"text": MENTION_USAGE}
            elif len(question) > self.config.max_question_chars:
                message = {"text": self.too_long()}
            else:
                earlier = self.qa.history.slack_conversation(team, channel, thread_ts)
                result = self.ask(question, self.base_url(context), earlier)
                if result["conversation_id"] != earlier:
                    self.qa.history.link_slack_thread(team, channel, thread_ts, result["conversation_id"])
                message = self.message(result, result["conversation_id"], result["turn"])
        except Exception:
            log.exception("Slack: answering %s in %s failed", ts, channel)
            message = {"text": FAILED}
        client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **message
        )

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
        """The root of source URLs: as `RequestHandler` found it, else `BQA_PUBLIC_URL` (or relative, at worst)."""
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
            label = self.label(citation)
            links.append(f"[{citation['n']}] <{_escape(citation['url'])}|{_escape(label)}>")
            plain.append(f"[{citation['n']}] {label}: {citation['url']}")
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
        """"Bulletin title · Section ¶n", n being the paragraph's place in its bulletin (as the source view shows)."""
        parts = [citation.get("bulletin_title") or citation.get("bulletin_id") or "Bulletin"]
        if citation.get("section"):
            parts.append(citation["section"])
        label = " · ".join(parts)
        corpus = self.qa.searcher.corpus()
        node = corpus.paragraphs.get(citation.get("paragraph_id")) if corpus is not None else None
        ordinal = node.metadata.get("ordinal") if node is not None else None
        return f"{label} ¶{ordinal}" if ordinal is not None else label


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

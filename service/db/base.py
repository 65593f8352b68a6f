"""The `Database` protocol: everything bqa remembers besides vectors, in operations named for the domain.

Conversations and their turns, feedback, the questions the bulletins did not answer (the content-gap report), Slack
de-duplication, the registry of bulletins (the set the index must hold, with each one's original file) and the
writer lock. Callers never see SQL, rows or the engine: a backend (`sqlite.py`, the zero-setup default; a PostgreSQL
one for several machines) implements this protocol and returns the frozen dataclasses below. A stored turn is the
one exception: it is the API's own JSON of the turn (`service.pipeline` builds it), so it comes back as that dict.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

RATINGS = ("up", "down")
SQL_MAX_INT = 2**63 - 1  # the largest integer SQLite (and PostgreSQL's bigint) stores; past it a query raises
ORIGINS = ("corpus", "added", "file", "published")  # how a bulletin entered the registry (see Registered.origin)


class ConversationNotFound(LookupError):
    """No conversation with that id, or it has expired."""


class TurnNotFound(LookupError):
    """The conversation has no turn with that number."""


class BulletinNotRegistered(LookupError):
    """The registry holds no bulletin with that id."""


class DatabaseUnavailable(RuntimeError):
    """The database server cannot be reached (down, restarting, out of connections): the request may be retried."""


class SchemaTooNew(RuntimeError):
    """The data was written by a newer bqa, whose schema steps this one does not know."""


@dataclass(frozen=True)
class FeedbackQuery:
    """Which feedback to list: every filter is optional, newest first, one page at a time."""

    rating: str | None = None  # "up" or "down"
    source: str | None = None  # "widget", "slack", "api"
    text: str | None = None  # words found in the question, the answer or the comment
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class FeedbackEntry:
    id: int
    conversation_id: str
    turn: int
    rating: str
    comment: str | None
    source: str
    created: float  # seconds since the epoch
    question: str
    answer: str
    citations: list[dict]  # as the turn stored them (the API's citation JSON)


@dataclass(frozen=True)
class GapQuestion:
    """A question the bulletins did not answer (`unanswered`) or whose answer someone rated 👎 (`disliked`)."""

    conversation_id: str
    turn: int
    question: str  # as typed
    resolved_question: str  # standalone, as retrieval searched it
    asked: float  # seconds since the epoch
    unanswered: bool
    disliked: bool
    vector: bytes | None = None  # the resolved question's embedding (float32), once the gap report computed it
    vector_model: str | None = None  # the embedding model that computed `vector` (index.embed.MODEL_ID)


@dataclass(frozen=True)
class Registered:
    """One bulletin of the registry. `origin` says how it came: found in a corpus folder ("corpus") or in a folder
    added with `bqa index --add` ("added"), named by `bqa index PATH` ("file"), or published over the admin API or
    page ("published"). The original file's bytes are kept too (`Database.content`), so the index can be rebuilt
    from the registry alone."""

    id: str
    origin: str
    name: str  # the original file name; its suffix gives the format
    path: str | None  # the file it is read from; None for a published bulletin
    folder: str | None  # the corpus or added folder it was found in
    sha256: str
    size: int  # bytes
    removed: bool  # removed on purpose: a refresh leaves its file alone until it is named again
    registered: float
    updated: float


class Database(Protocol):
    """What the service stores. Implementations are safe to share between threads and worker processes."""

    WRITE_FAILURES: tuple[type[BaseException], ...]  # what a failed write raises, a full disk among them

    def disk_full(self, exc: BaseException) -> bool:
        """Whether a failed write says the database's disk is full (the app answers 507, not 500)."""

    def schema_version(self) -> int:
        """The number of the last schema step applied."""

    # --- conversations ---

    def start_conversation(self) -> str:
        """A new conversation's id."""

    def turns(self, conversation_id: str) -> list[dict]:
        """The turns of a live conversation, oldest first; ConversationNotFound when it is unknown or expired."""

    def add_turn(self, conversation_id: str, turn: dict) -> int:
        """Store an answered turn (the API JSON plus "question") and return its number, from 1."""

    def purge_expired(self) -> int:
        """Delete the conversations idle past the TTL, with their turns, and return how many; rated ones are kept
        (their turns are what the feedback rates), and so are the content-gap report's questions."""

    def add_feedback(self, conversation_id: str, turn: int, rating: str, comment: str | None, source: str) -> int:
        """Store a 👍 ("up") or 👎 ("down") on one turn; TurnNotFound when the conversation has no such turn."""

    def feedback(self, query: FeedbackQuery = FeedbackQuery()) -> list[FeedbackEntry]:
        """Feedback matching `query`, newest first, each with the question, answer and citations it rates."""

    def gap_questions(self, since: float, limit: int) -> list[GapQuestion]:
        """Unanswered or 👎-rated questions asked at or after `since` (epoch seconds), newest first."""

    def save_gap_vectors(self, vectors: list[tuple[str, int, bytes]], model: str) -> None:
        """Keep the embeddings of gap questions, by (conversation id, turn), with the model that computed them, so
        each is computed once per model."""

    # --- Slack ---

    def slack_conversation(self, team: str, channel: str, thread_ts: str) -> str | None:
        """The conversation a Slack thread carries on, if the bot has answered in it."""

    def link_slack_thread(self, team: str, channel: str, thread_ts: str, conversation_id: str,
                          asker: str | None = None) -> None:
        """Make the thread carry on `conversation_id`, and remember `asker` as someone who asks the bot there."""

    def is_slack_asker(self, team: str, channel: str, thread_ts: str, user: str) -> bool:
        """Whether `user` has asked the bot in the thread."""

    def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """True the first time `key` is seen within `ttl_seconds`; one atomic claim across processes."""

    # --- the registry of bulletins ---

    def registered(self) -> list[Registered]:
        """Every bulletin of the registry, removed ones included, by id."""

    def content(self, bulletin_id: str) -> bytes:
        """The original file of a registered bulletin; BulletinNotRegistered when there is none."""

    def register(self, entry: Registered, content: bytes) -> None:
        """Add or replace the registry's entry for `entry.id`, with its file."""

    def unregister(self, bulletin_id: str) -> None:
        """Forget a bulletin entirely (a published one that is deleted)."""

    def added_folders(self) -> list[str]:
        """The folders added with `bqa index --add`, in the order they were added."""

    def add_folder(self, path: str) -> None:
        """Remember a folder for every refresh to index."""

    def remove_folder(self, path: str) -> None:
        """Forget an added folder."""

    # --- one writer at a time ---

    def writer_lock(self) -> AbstractContextManager:
        """Held while the registry and the index change together: one writer across threads and processes."""

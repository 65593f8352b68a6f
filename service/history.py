"""Conversations and their turns, in SQLite under the data folder.

A turn is written before its answer is returned, so a restart loses nothing; WAL mode lets several threads and
worker processes share the file.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL,
    answer TEXT NOT NULL,
    answerable INTEGER NOT NULL,
    citations TEXT NOT NULL,
    timing_ms TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    source TEXT NOT NULL,
    created REAL NOT NULL
);
-- The Slack bot: which conversation a Slack thread is, and which deliveries it has already taken (see
-- service/slack.py). Kept here, in the same file, so that every worker process sees the same answers.
CREATE TABLE IF NOT EXISTS slack_threads (
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (team, channel, thread_ts)
);
-- Who has asked the bot in a Slack thread: their plain replies there are follow-ups, without a new mention.
CREATE TABLE IF NOT EXISTS slack_thread_askers (
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    user TEXT NOT NULL,
    PRIMARY KEY (team, channel, thread_ts, user)
);
CREATE TABLE IF NOT EXISTS slack_deliveries (
    key TEXT PRIMARY KEY,
    seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_deliveries_seen ON slack_deliveries (seen);
"""


class ConversationNotFound(LookupError):
    pass


class TurnNotFound(LookupError):
    pass


class History:
    def __init__(self, path: str | Path, ttl_seconds: int):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl_seconds
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes, one fsync less a turn
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def start(self) -> str:
        conversation_id = secrets.token_urlsafe(16)
        now = time.time()
        self._connect().execute("INSERT INTO conversations VALUES (?, ?, ?)", (conversation_id, now, now))
        return conversation_id

    def _live(self, db: sqlite3.Connection, conversation_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None or time.time() - row["updated"] > self.ttl:
            raise ConversationNotFound(conversation_id)
        return row

    def turns(self, conversation_id: str) -> list[dict]:
        db = self._connect()
        self._live(db, conversation_id)
        rows = db.execute("SELECT * FROM turns WHERE conversation_id = ? ORDER BY n", (conversation_id,)).fetchall()
        return [
            {
                "n": row["n"], "question": row["question"], "resolved_question": row["resolved_question"],
                "answer": row["answer"], "answerable": bool(row["answerable"]),
                "citations": json.loads(row["citations"]), "timing_ms": json.loads(row["timing_ms"]),
                "created": row["created"],
            }
            for row in rows
        ]

    def add_turn(self, conversation_id: str, turn: dict) -> int:
        db = self._connect()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._live(db, conversation_id)
            n = db.execute(
                "SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id, n, turn["question"], turn["resolved_question"], turn["answer"],
                    int(turn["answerable"]), json.dumps(turn["citations"]), json.dumps(turn["timing_ms"]), now,
                ),
            )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return n

    def add_feedback(self, conversation_id: str, turn: int, rating: str, comment: str | None, source: str) -> int:
        """Store a 👍 ("up") or 👎 ("down") on one turn; from the widget, Slack or the API (`source`)."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            self._live(db, conversation_id)
            found = db.execute(
                "SELECT 1 FROM turns WHERE conversation_id = ? AND n = ?", (conversation_id, turn)
            ).fetchone()
            if found is None:
                raise TurnNotFound(f"{conversation_id} has no turn {turn}")
            cursor = db.execute(
                "INSERT INTO feedback (conversation_id, turn, rating, comment, source, created) VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, turn, rating, comment, source, time.time()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return cursor.lastrowid

    def purge_expired(self) -> int:
        """Delete the conversations idle for longer than the TTL, with their turns; return how many. Those that
        were rated are kept: their turns are the question and answer the feedback refers to."""
        cursor = self._connect().execute(
            "DELETE FROM conversations WHERE updated < ? AND id NOT IN (SELECT conversation_id FROM feedback)",
            (time.time() - self.ttl,),
        )
        return cursor.rowcount

    def feedback(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Newest first, each with the question and answer it rates."""
        rows = self._connect().execute(
            """SELECT f.*, t.question, t.answer FROM feedback f
               JOIN turns t ON t.conversation_id = f.conversation_id AND t.n = f.turn
               ORDER BY f.id DESC LIMIT ? OFFSET ?""",
            (limit, offset),
        ).fetchall()
        return [
            {
                "id": row["id"], "conversation_id": row["conversation_id"], "turn": row["turn"],
                "rating": row["rating"], "comment": row["comment"], "source": row["source"],
                "created": row["created"], "question": row["question"], "answer": row["answer"],
            }
            for row in rows
        ]

    # --- Slack ----------------------------------------------------------------------------------------------------

    def slack_conversation(self, team: str, channel: str, thread_ts: str) -> str | None:
        """The conversation a Slack thread carries on, if the bot has answered in it (expired or not)."""
        row = self._connect().execute(
            "SELECT conversation_id FROM slack_threads WHERE team = ? AND channel = ? AND thread_ts = ?",
            (team, channel, thread_ts),
        ).fetchone()
        return row["conversation_id"] if row is not None else None

    def link_slack_thread(
        self, team: str, channel: str, thread_ts: str, conversation_id: str, asker: str | None = None
    ) -> None:
        """Make the Slack thread (team, channel, thread_ts) carry on `conversation_id` from now on, and remember
        `asker` (a Slack user id) as someone who asks the bot there."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                """INSERT INTO slack_threads VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (team, channel, thread_ts) DO UPDATE SET
                       conversation_id = excluded.conversation_id, updated = excluded.updated""",
                (team, channel, thread_ts, conversation_id, time.time()),
            )
            if asker:
                db.execute(
                    "INSERT OR IGNORE INTO slack_thread_askers VALUES (?, ?, ?, ?)", (team, channel, thread_ts, asker)
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def is_slack_asker(self, team: str, channel: str, thread_ts: str, user: str) -> bool:
        """Whether `user` has asked the bot in the Slack thread (team, channel, thread_ts)."""
        row = self._connect().execute(
            "SELECT 1 FROM slack_thread_askers WHERE team = ? AND channel = ? AND thread_ts = ? AND user = ?",
            (team, channel, thread_ts, user),
        ).fetchone()
        return row is not None

    def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """True the first time `key` (a Slack event id, say) is seen within `ttl_seconds`, False for a repeat.

        One atomic insert decides, so of several deliveries racing in threads or worker processes exactly one
        wins. Keys older than the TTL are forgotten on the way.
        """
        db = self._connect()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM slack_deliveries WHERE seen < ?", (now - ttl_seconds,))
            cursor = db.execute("INSERT OR IGNORE INTO slack_deliveries VALUES (?, ?)", (key, now))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return cursor.rowcount == 1

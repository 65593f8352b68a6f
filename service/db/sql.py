"""The queries of the `Database` protocol, written once for every SQL backend.

The SQL here is the subset SQLite and PostgreSQL read alike, with `?` placeholders (a backend translates them to its
driver's style in `_sql`), flags passed as parameters rather than written as literals (SQLite stores Python's
booleans as 1/0, PostgreSQL as booleans), and rows read by column name. A backend (`sqlite.py`, `postgres.py`)
supplies how it lends connections and opens transactions, how its schema steps are applied, and the few statements
that differ: the row lock a write takes on a conversation, the function that finds a word in a text, how an insert
reports the id it made and how one statement runs over many rows. No database driver is imported here.
"""

from __future__ import annotations

import secrets
import time
from contextlib import AbstractContextManager

from service.db import rows as convert
from service.db.base import (
    BulletinNotRegistered, ConversationNotFound, FeedbackEntry, FeedbackQuery, GapQuestion, Registered, SchemaTooNew,
    TurnNotFound,
)
from service.db.migrations import Migration, steps


class SQLDatabase:
    """`Database` over a DB-API-like connection whose `execute` returns a cursor and whose rows read by name."""

    ENGINE: str  # the folder of its schema steps under migrations/
    REAL: str  # the column type of a float
    POSITION: str  # the function (text, word) → 1-based position of word in text, 0 when absent
    ROW_LOCK: str  # appended to a SELECT in a transaction to hold its rows until the end ("" where writes serialise)
    ttl: int

    # --- what a backend supplies ---

    def _connection(self) -> AbstractContextManager:
        """A connection for one operation, in autocommit."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager:
        """A connection inside a write transaction, committed when the block ends, rolled back if it raises."""
        raise NotImplementedError

    def _migration(self) -> AbstractContextManager:
        """A connection inside the transaction that applies the schema steps, held by one process at a time."""
        raise NotImplementedError

    def _apply(self, db, step: Migration) -> None:
        """Run a schema step's SQL (several statements, no parameters)."""
        raise NotImplementedError

    def _too_new(self, current: int, known: int) -> str:
        """What SchemaTooNew says: the data's schema version is `current`, this bqa knows `known` steps."""
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        """The statement in the driver's placeholder style."""
        return sql

    def _insert_id(self, db, sql: str, values: tuple) -> int:
        """Run an INSERT (already in the driver's style) into a table whose `id` the database numbers, and return
        the id it made."""
        raise NotImplementedError

    def _execute_many(self, db, sql: str, rows: list[tuple]) -> None:
        """Run one statement (already in the driver's style) once for each row of values."""
        raise NotImplementedError

    # --- running statements ---

    def _execute(self, db, sql: str, values: tuple = ()):
        return db.execute(self._sql(sql), values)

    def _one(self, sql: str, values: tuple = ()):
        with self._connection() as db:
            return self._execute(db, sql, values).fetchone()

    def _all(self, sql: str, values: tuple = ()) -> list:
        with self._connection() as db:
            return self._execute(db, sql, values).fetchall()

    def _run(self, sql: str, values: tuple = ()) -> int:
        """Run one statement on its own and return how many rows it changed."""
        with self._connection() as db:
            return self._execute(db, sql, values).rowcount

    # --- schema ---

    def _migrate(self) -> None:
        """Apply the schema steps the database has not taken yet, in one transaction; refuse a newer schema."""
        known = steps(self.ENGINE)
        with self._migration() as db:
            self._execute(
                db,
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                f"applied {self.REAL} NOT NULL)",
            )
            current = self._execute(db, "SELECT COALESCE(MAX(version), 0) AS v FROM schema_version").fetchone()["v"]
            if current > len(known):
                raise SchemaTooNew(self._too_new(current, len(known)))
            for step in known[current:]:
                self._apply(db, step)
                self._execute(db, "INSERT INTO schema_version VALUES (?, ?, ?)", (step.number, step.name, time.time()))

    def schema_version(self) -> int:
        return self._one("SELECT MAX(version) AS v FROM schema_version")["v"]

    # --- conversations ---

    def start_conversation(self) -> str:
        conversation_id = secrets.token_urlsafe(16)
        now = time.time()
        self._run("INSERT INTO conversations VALUES (?, ?, ?)", (conversation_id, now, now))
        return conversation_id

    def _live(self, db, conversation_id: str, lock: bool = False):
        """The conversation's row; `lock` holds it until the transaction ends, so two machines adding a turn to
        one conversation number their turns one after the other."""
        row = self._execute(
            db, f"SELECT * FROM conversations WHERE id = ?{self.ROW_LOCK if lock else ''}", (conversation_id,)
        ).fetchone()
        if row is None or time.time() - row["updated"] > self.ttl:
            raise ConversationNotFound(conversation_id)
        return row

    def turns(self, conversation_id: str) -> list[dict]:
        with self._connection() as db:
            self._live(db, conversation_id)
            rows = self._execute(
                db, "SELECT * FROM turns WHERE conversation_id = ? ORDER BY n", (conversation_id,)
            ).fetchall()
        return [convert.turn(row) for row in rows]

    def add_turn(self, conversation_id: str, turn: dict) -> int:
        now = time.time()
        with self._transaction() as db:
            self._live(db, conversation_id, lock=True)
            n = self._execute(
                db, "SELECT COALESCE(MAX(n), 0) + 1 AS n FROM turns WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()["n"]
            self._execute(db, "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (conversation_id, n, *convert.turn_values(turn), now))
            if not turn["answerable"]:
                self._execute(
                    db, "INSERT INTO gap_questions VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (conversation_id, n, turn["question"], turn["resolved_question"], now, True, False),
                )
            self._execute(db, "UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        return n

    def purge_expired(self) -> int:
        return self._run(
            "DELETE FROM conversations WHERE updated < ? AND id NOT IN (SELECT conversation_id FROM feedback)",
            (time.time() - self.ttl,),
        )

    def add_feedback(self, conversation_id: str, turn: int, rating: str, comment: str | None, source: str) -> int:
        with self._transaction() as db:
            self._live(db, conversation_id)
            found = self._execute(
                db, "SELECT * FROM turns WHERE conversation_id = ? AND n = ?", (conversation_id, turn)
            ).fetchone()
            if found is None:
                raise TurnNotFound(f"{conversation_id} has no turn {turn}")
            feedback_id = self._insert_id(
                db,
                self._sql("INSERT INTO feedback (conversation_id, turn, rating, comment, source, created) "
                          "VALUES (?, ?, ?, ?, ?, ?)"),
                (conversation_id, turn, rating, comment, source, time.time()),
            )
            if rating == "down":
                self._execute(
                    db,
                    """INSERT INTO gap_questions VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)
                       ON CONFLICT (conversation_id, turn) DO UPDATE SET disliked = excluded.disliked""",
                    (conversation_id, turn, found["question"], found["resolved_question"], found["created"],
                     not found["answerable"], True),
                )
        return feedback_id

    def feedback(self, query: FeedbackQuery = FeedbackQuery()) -> list[FeedbackEntry]:
        conditions, values = [], []
        if query.rating:
            conditions.append("f.rating = ?")
            values.append(query.rating)
        if query.source:
            conditions.append("f.source = ?")
            values.append(query.source)
        searched = ("t.question", "t.answer", "COALESCE(f.comment, '')")
        for word in (query.text or "").split():
            conditions.append("(" + " OR ".join(f"{self.POSITION}(lower({text}), ?) > 0" for text in searched) + ")")
            values.extend([word.lower()] * len(searched))
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._all(
            f"""SELECT f.*, t.question, t.answer, t.citations FROM feedback f
                JOIN turns t ON t.conversation_id = f.conversation_id AND t.n = f.turn
                {where} ORDER BY f.id DESC LIMIT ? OFFSET ?""",
            (*values, query.limit, query.offset),
        )
        return [convert.feedback_entry(row) for row in rows]

    def gap_questions(self, since: float, limit: int) -> list[GapQuestion]:
        rows = self._all("SELECT * FROM gap_questions WHERE asked >= ? ORDER BY asked DESC LIMIT ?", (since, limit))
        return [convert.gap_question(row) for row in rows]

    def save_gap_vectors(self, vectors: list[tuple[str, int, bytes]], model: str) -> None:
        with self._transaction() as db:
            self._execute_many(
                db, self._sql(
                    "UPDATE gap_questions SET vector = ?, vector_model = ? WHERE conversation_id = ? AND turn = ?"),
                [(vector, model, c, t) for c, t, vector in vectors],
            )

    # --- Slack ---

    def slack_conversation(self, team: str, channel: str, thread_ts: str) -> str | None:
        row = self._one(
            "SELECT conversation_id FROM slack_threads WHERE team = ? AND channel = ? AND thread_ts = ?",
            (team, channel, thread_ts),
        )
        return row["conversation_id"] if row is not None else None

    def link_slack_thread(
        self, team: str, channel: str, thread_ts: str, conversation_id: str, asker: str | None = None
    ) -> None:
        with self._transaction() as db:
            self._execute(
                db,
                """INSERT INTO slack_threads VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (team, channel, thread_ts) DO UPDATE SET
                       conversation_id = excluded.conversation_id, updated = excluded.updated""",
                (team, channel, thread_ts, conversation_id, time.time()),
            )
            if asker:
                self._execute(db, "INSERT INTO slack_thread_askers VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                              (team, channel, thread_ts, asker))

    def is_slack_asker(self, team: str, channel: str, thread_ts: str, user: str) -> bool:
        row = self._one(
            'SELECT 1 FROM slack_thread_askers WHERE team = ? AND channel = ? AND thread_ts = ? AND "user" = ?',
            (team, channel, thread_ts, user),
        )
        return row is not None

    def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """Keys older than the TTL are forgotten on the way. Of racing deliveries (in any process, on any machine),
        one insert wins: the others wait for the winner's transaction, then insert nothing."""
        now = time.time()
        with self._transaction() as db:
            self._execute(db, "DELETE FROM slack_deliveries WHERE seen < ?", (now - ttl_seconds,))
            cursor = self._execute(db, "INSERT INTO slack_deliveries VALUES (?, ?) ON CONFLICT DO NOTHING", (key, now))
        return cursor.rowcount == 1

    # --- the registry of bulletins ---

    def registered(self) -> list[Registered]:
        rows = self._all(f"SELECT {convert.REGISTERED_COLUMNS} FROM bulletins ORDER BY id")
        return [convert.registered(row) for row in rows]

    def content(self, bulletin_id: str) -> bytes:
        row = self._one("SELECT content FROM bulletins WHERE id = ?", (bulletin_id,))
        if row is None:
            raise BulletinNotRegistered(bulletin_id)
        return bytes(row["content"])

    def register(self, entry: Registered, content: bytes) -> None:
        self._run(
            """INSERT INTO bulletins VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET origin = excluded.origin, name = excluded.name,
                   path = excluded.path, folder = excluded.folder, sha256 = excluded.sha256,
                   size = excluded.size, content = excluded.content, removed = excluded.removed,
                   updated = excluded.updated""",
            (entry.id, entry.origin, entry.name, entry.path, entry.folder, entry.sha256, entry.size, content,
             entry.removed, entry.registered, entry.updated),
        )

    def unregister(self, bulletin_id: str) -> None:
        self._run("DELETE FROM bulletins WHERE id = ?", (bulletin_id,))

    def added_folders(self) -> list[str]:
        rows = self._all("SELECT path FROM added_folders ORDER BY added, path")
        return [row["path"] for row in rows]

    def add_folder(self, path: str) -> None:
        self._run("INSERT INTO added_folders VALUES (?, ?) ON CONFLICT DO NOTHING", (path, time.time()))

    def remove_folder(self, path: str) -> None:
        self._run("DELETE FROM added_folders WHERE path = ?", (path,))

"""The SQLite backend of `Database`: one file under the data folder, shared by threads and worker processes.

WAL mode lets readers go on while one writer writes; every write that reads before it writes takes the lock at once
(`BEGIN IMMEDIATE`), so two processes never interleave. The schema is versioned: opening the file applies the steps
of `migrations/sqlite/` it has not taken yet, in one transaction under that lock, so two workers starting together
upgrade it once. The writer lock of the index is a file lock beside the database (`fcntl.flock`): every process
sharing the data folder shares it, and the kernel releases it when a holder dies.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from service.db.base import (
    BulletinNotRegistered, ConversationNotFound, FeedbackEntry, FeedbackQuery, GapQuestion, Registered, SchemaTooNew,
    TurnNotFound,
)
from service.db.migrations import steps

BUSY_TIMEOUT_S = 30  # how long a write waits for another process's transaction before failing
WRITE_FAILURES = (sqlite3.OperationalError,)  # what a write that fails raises: a full disk among them


def disk_full(exc: BaseException) -> bool:
    """Whether a failed write says the disk is full (SQLite's own code for it)."""
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def statements(sql: str) -> list[str]:
    """The statements of a schema step, one by one, so a step runs inside one transaction (Python's
    `executescript` commits before it starts)."""
    out, current = [], []
    for line in sql.splitlines():
        current.append(line)
        joined = "\n".join(current)
        if sqlite3.complete_statement(joined):
            out.append(joined.strip())
            current = []
    rest = "\n".join(line for line in current if line.strip() and not line.strip().startswith("--"))
    if rest:
        raise ValueError(f"a schema step ends in an unfinished statement: {rest[:80]}")
    return out


class SQLiteDatabase:
    def __init__(self, path: str | Path, ttl_seconds: int, lock_path: str | Path | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl_seconds
        self._lock_path = Path(lock_path) if lock_path is not None else self.path.with_suffix(".lock")
        self._local = threading.local()
        self._migrate()

    # --- connections and schema ---

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes, one fsync less a turn
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self):
        """A write transaction that holds SQLite's write lock from its first statement."""
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        known = steps("sqlite")
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied REAL NOT NULL)"
            )
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > len(known):
                raise SchemaTooNew(
                    f"{self.path} has schema version {current}, newer than this bqa knows ({len(known)}): "
                    "upgrade bqa, or point BQA_DATA_DIR at another folder"
                )
            for step in known[current:]:
                for statement in statements(step.sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (step.number, step.name, time.time()))

    def schema_version(self) -> int:
        return self._connect().execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    # --- conversations ---

    def start_conversation(self) -> str:
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
        now = time.time()
        with self._transaction() as db:
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
            if not turn["answerable"]:
                db.execute(
                    "INSERT INTO gap_questions VALUES (?, ?, ?, ?, ?, 1, 0, NULL)",
                    (conversation_id, n, turn["question"], turn["resolved_question"], now),
                )
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        return n

    def purge_expired(self) -> int:
        cursor = self._connect().execute(
            "DELETE FROM conversations WHERE updated < ? AND id NOT IN (SELECT conversation_id FROM feedback)",
            (time.time() - self.ttl,),
        )
        return cursor.rowcount

    def add_feedback(self, conversation_id: str, turn: int, rating: str, comment: str | None, source: str) -> int:
        with self._transaction() as db:
            self._live(db, conversation_id)
            found = db.execute(
                "SELECT * FROM turns WHERE conversation_id = ? AND n = ?", (conversation_id, turn)
            ).fetchone()
            if found is None:
                raise TurnNotFound(f"{conversation_id} has no turn {turn}")
            cursor = db.execute(
                "INSERT INTO feedback (conversation_id, turn, rating, comment, source, created) VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, turn, rating, comment, source, time.time()),
            )
            if rating == "down":
                db.execute(
                    """INSERT INTO gap_questions VALUES (?, ?, ?, ?, ?, ?, 1, NULL)
                       ON CONFLICT (conversation_id, turn) DO UPDATE SET disliked = 1""",
                    (conversation_id, turn, found["question"], found["resolved_question"], found["created"],
                     int(not found["answerable"])),
                )
        return cursor.lastrowid

    def feedback(self, query: FeedbackQuery = FeedbackQuery()) -> list[FeedbackEntry]:
        conditions, values = [], []
        if query.rating:
            conditions.append("f.rating = ?")
            values.append(query.rating)
        if query.source:
            conditions.append("f.source = ?")
            values.append(query.source)
        for word in (query.text or "").split():
            conditions.append("(instr(lower(t.question), ?) OR instr(lower(t.answer), ?) "
                              "OR instr(lower(COALESCE(f.comment, '')), ?))")
            values.extend([word.lower()] * 3)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._connect().execute(
            f"""SELECT f.*, t.question, t.answer, t.citations FROM feedback f
                JOIN turns t ON t.conversation_id = f.conversation_id AND t.n = f.turn
                {where} ORDER BY f.id DESC LIMIT ? OFFSET ?""",
            (*values, query.limit, query.offset),
        ).fetchall()
        return [
            FeedbackEntry(
                id=row["id"], conversation_id=row["conversation_id"], turn=row["turn"], rating=row["rating"],
                comment=row["comment"], source=row["source"], created=row["created"], question=row["question"],
                answer=row["answer"], citations=json.loads(row["citations"]),
            )
            for row in rows
        ]

    def gap_questions(self, since: float, limit: int) -> list[GapQuestion]:
        rows = self._connect().execute(
            "SELECT * FROM gap_questions WHERE asked >= ? ORDER BY asked DESC LIMIT ?", (since, limit)
        ).fetchall()
        return [
            GapQuestion(row["conversation_id"], row["turn"], row["question"], row["resolved_question"], row["asked"],
                        bool(row["unanswered"]), bool(row["disliked"]),
                        bytes(row["vector"]) if row["vector"] is not None else None)
            for row in rows
        ]

    def save_gap_vectors(self, vectors: list[tuple[str, int, bytes]]) -> None:
        with self._transaction() as db:
            db.executemany("UPDATE gap_questions SET vector = ? WHERE conversation_id = ? AND turn = ?",
                           [(sqlite3.Binary(v), c, t) for c, t, v in vectors])

    # --- Slack ---

    def slack_conversation(self, team: str, channel: str, thread_ts: str) -> str | None:
        row = self._connect().execute(
            "SELECT conversation_id FROM slack_threads WHERE team = ? AND channel = ? AND thread_ts = ?",
            (team, channel, thread_ts),
        ).fetchone()
        return row["conversation_id"] if row is not None else None

    def link_slack_thread(
        self, team: str, channel: str, thread_ts: str, conversation_id: str, asker: str | None = None
    ) -> None:
        with self._transaction() as db:
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

    def is_slack_asker(self, team: str, channel: str, thread_ts: str, user: str) -> bool:
        row = self._connect().execute(
            "SELECT 1 FROM slack_thread_askers WHERE team = ? AND channel = ? AND thread_ts = ? AND user = ?",
            (team, channel, thread_ts, user),
        ).fetchone()
        return row is not None

    def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """Keys older than the TTL are forgotten on the way; of racing deliveries, one insert wins."""
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM slack_deliveries WHERE seen < ?", (now - ttl_seconds,))
            cursor = db.execute("INSERT OR IGNORE INTO slack_deliveries VALUES (?, ?)", (key, now))
        return cursor.rowcount == 1

    # --- the registry of bulletins ---

    def registered(self) -> list[Registered]:
        rows = self._connect().execute(
            "SELECT id, origin, name, path, folder, sha256, size, removed, registered, updated FROM bulletins "
            "ORDER BY id"
        ).fetchall()
        return [Registered(**{**dict(row), "removed": bool(row["removed"])}) for row in rows]

    def content(self, bulletin_id: str) -> bytes:
        row = self._connect().execute("SELECT content FROM bulletins WHERE id = ?", (bulletin_id,)).fetchone()
        if row is None:
            raise BulletinNotRegistered(bulletin_id)
        return bytes(row["content"])

    def register(self, entry: Registered, content: bytes) -> None:
        with self._transaction() as db:
            db.execute(
                """INSERT INTO bulletins VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET origin = excluded.origin, name = excluded.name,
                       path = excluded.path, folder = excluded.folder, sha256 = excluded.sha256,
                       size = excluded.size, content = excluded.content, removed = excluded.removed,
                       updated = excluded.updated""",
                (entry.id, entry.origin, entry.name, entry.path, entry.folder, entry.sha256, entry.size,
                 sqlite3.Binary(content), int(entry.removed), entry.registered, entry.updated),
            )

    def unregister(self, bulletin_id: str) -> None:
        self._connect().execute("DELETE FROM bulletins WHERE id = ?", (bulletin_id,))

    def added_folders(self) -> list[str]:
        rows = self._connect().execute("SELECT path FROM added_folders ORDER BY added, path").fetchall()
        return [row["path"] for row in rows]

    def add_folder(self, path: str) -> None:
        self._connect().execute("INSERT OR IGNORE INTO added_folders VALUES (?, ?)", (path, time.time()))

    def remove_folder(self, path: str) -> None:
        self._connect().execute("DELETE FROM added_folders WHERE path = ?", (path,))

    # --- one writer at a time ---

    @contextmanager
    def writer_lock(self):
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

"""The PostgreSQL backend of `Database` (BQA_DATABASE_URL): what several machines running bqa share.

psycopg 3 with its connection pool (psycopg_pool): a few connections per process, in autocommit, lent to one
operation at a time, with an explicit transaction around every write that reads before it writes. The pool is
made in the process that uses it (a process forked after opening gets its own), so no two processes ever share a
socket. The schema is versioned like SQLite's (the same step numbers, `migrations/postgres/`), applied on a
connection of its own (a wrong URL fails at once, not after the pool's wait) under a transaction-scoped advisory
lock, so that machines starting together upgrade it once.

The writer lock is a session-level advisory lock held on a connection of its own for as long as the writer works:
every machine sharing the database shares it, and PostgreSQL releases it when the holder's connection ends. A
process killed with SIGKILL closes its socket, so the lock is free at once; a machine that vanishes from the network
(power cut) is noticed by the server's TCP keepalives on that session, which the lock's connection sets for itself,
within `LOCK_KEEPALIVE_IDLE_S + LOCK_KEEPALIVE_INTERVAL_S * LOCK_KEEPALIVE_COUNT` seconds.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from contextlib import contextmanager

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from service.db import rows as convert
from service.db.base import (
    BulletinNotRegistered, ConversationNotFound, DatabaseUnavailable, FeedbackEntry, FeedbackQuery, GapQuestion,
    Registered, SchemaTooNew, TurnNotFound,
)
from service.db.migrations import steps

# Advisory lock keys (any 64-bit numbers unique within the database): "bqa" in ASCII, then which lock.
MIGRATION_LOCK = 0x627161_01
WRITER_LOCK = 0x627161_02
CONNECT_TIMEOUT_S = 10  # how long opening a connection may take before the request fails
POOL_MIN = 1  # connections each process keeps open
POOL_MAX = 16  # at most, per process: a gunicorn worker's threads (4) plus the Slack bot's, with room to spare
POOL_WAIT_S = 10  # how long an operation waits for a connection before it is DatabaseUnavailable
LOCK_KEEPALIVE_IDLE_S = 10  # TCP keepalives of the writer lock's connection: a vanished holder frees the lock
LOCK_KEEPALIVE_INTERVAL_S = 5  # within idle + interval * count = 25 s
LOCK_KEEPALIVE_COUNT = 3


WRITE_FAILURES = (psycopg.errors.DiskFull,)  # what a write the database server has no room for raises


def disk_full(exc: BaseException) -> bool:
    """Whether a failed write says the database server's disk is full."""
    return isinstance(exc, psycopg.errors.DiskFull)


class PostgresDatabase:
    def __init__(self, url: str, ttl_seconds: int):
        self.url = url
        self.ttl = ttl_seconds
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()
        self._migrate()

    # --- connections and schema ---

    def _open(self, **options) -> psycopg.Connection:
        return psycopg.connect(self.url, **self._connection_options(), **options)

    @staticmethod
    def _connection_options() -> dict:
        return {"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S,
                "application_name": "bqa"}

    @contextmanager
    def _connection(self):
        """A connection of this process's pool, for one operation. Each is checked as it is lent (one round trip),
        so connections a database restart broke are replaced rather than failing a request; a database that cannot
        be reached is `DatabaseUnavailable`."""
        if self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool_pid != os.getpid():  # first use here, or a forked child: a pool of its own
                    self._pool = ConnectionPool(
                        self.url, kwargs=self._connection_options(), min_size=POOL_MIN, max_size=POOL_MAX,
                        timeout=POOL_WAIT_S, check=ConnectionPool.check_connection, open=True, name="bqa",
                    )
                    self._pool_pid = os.getpid()
        try:
            with self._pool.connection() as db:
                yield db
        except WRITE_FAILURES:
            raise  # reachable, but full: the app's 507, not a 503
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailable(f"PostgreSQL cannot be reached: {exc}") from exc

    def close(self) -> None:
        """Close this process's connections (a server keeps them for its life; tests open many databases)."""
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.close()
            self._pool, self._pool_pid = None, 0

    def _one(self, sql: str, values: tuple = ()) -> dict | None:
        with self._connection() as db:
            return db.execute(sql, values).fetchone()

    def _all(self, sql: str, values: tuple = ()) -> list[dict]:
        with self._connection() as db:
            return db.execute(sql, values).fetchall()

    def _run(self, sql: str, values: tuple = ()) -> None:
        with self._connection() as db:
            db.execute(sql, values)

    @contextmanager
    def _transaction(self):
        with self._connection() as db, db.transaction():
            yield db

    def _migrate(self) -> None:
        known = steps("postgres")
        with self._open() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied DOUBLE PRECISION NOT NULL)"
            )
            current = db.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version").fetchone()["v"]
            if current > len(known):
                raise SchemaTooNew(
                    f"the database of BQA_DATABASE_URL has schema version {current}, newer than this bqa knows "
                    f"({len(known)}): upgrade bqa on every machine"
                )
            for step in known[current:]:
                db.execute(step.sql)  # several statements, no parameters: one simple query
                db.execute("INSERT INTO schema_version VALUES (%s, %s, %s)", (step.number, step.name, time.time()))

    def schema_version(self) -> int:
        return self._one("SELECT MAX(version) AS v FROM schema_version")["v"]

    # --- conversations ---

    def start_conversation(self) -> str:
        conversation_id = secrets.token_urlsafe(16)
        now = time.time()
        self._run("INSERT INTO conversations VALUES (%s, %s, %s)", (conversation_id, now, now))
        return conversation_id

    def _live(self, db: psycopg.Connection, conversation_id: str, lock: bool = False) -> dict:
        """The conversation's row; `lock` holds it until the transaction ends, so two machines adding a turn to
        one conversation number their turns one after the other."""
        row = db.execute(
            f"SELECT * FROM conversations WHERE id = %s{' FOR UPDATE' if lock else ''}", (conversation_id,)
        ).fetchone()
        if row is None or time.time() - row["updated"] > self.ttl:
            raise ConversationNotFound(conversation_id)
        return row

    def turns(self, conversation_id: str) -> list[dict]:
        with self._connection() as db:
            self._live(db, conversation_id)
            rows = db.execute("SELECT * FROM turns WHERE conversation_id = %s ORDER BY n", (conversation_id,)).fetchall()
        return [convert.turn(row) for row in rows]

    def add_turn(self, conversation_id: str, turn: dict) -> int:
        now = time.time()
        with self._transaction() as db:
            self._live(db, conversation_id, lock=True)
            n = db.execute(
                "SELECT COALESCE(MAX(n), 0) + 1 AS n FROM turns WHERE conversation_id = %s", (conversation_id,)
            ).fetchone()["n"]
            db.execute("INSERT INTO turns VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (conversation_id, n, *convert.turn_values(turn), now))
            if not turn["answerable"]:
                db.execute(
                    "INSERT INTO gap_questions VALUES (%s, %s, %s, %s, %s, TRUE, FALSE, NULL)",
                    (conversation_id, n, turn["question"], turn["resolved_question"], now),
                )
            db.execute("UPDATE conversations SET updated = %s WHERE id = %s", (now, conversation_id))
        return n

    def purge_expired(self) -> int:
        with self._connection() as db:
            cursor = db.execute(
                "DELETE FROM conversations WHERE updated < %s AND id NOT IN (SELECT conversation_id FROM feedback)",
                (time.time() - self.ttl,),
            )
            return cursor.rowcount

    def add_feedback(self, conversation_id: str, turn: int, rating: str, comment: str | None, source: str) -> int:
        with self._transaction() as db:
            self._live(db, conversation_id)
            found = db.execute(
                "SELECT * FROM turns WHERE conversation_id = %s AND n = %s", (conversation_id, turn)
            ).fetchone()
            if found is None:
                raise TurnNotFound(f"{conversation_id} has no turn {turn}")
            feedback_id = db.execute(
                "INSERT INTO feedback (conversation_id, turn, rating, comment, source, created) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (conversation_id, turn, rating, comment, source, time.time()),
            ).fetchone()["id"]
            if rating == "down":
                db.execute(
                    """INSERT INTO gap_questions VALUES (%s, %s, %s, %s, %s, %s, TRUE, NULL)
                       ON CONFLICT (conversation_id, turn) DO UPDATE SET disliked = TRUE""",
                    (conversation_id, turn, found["question"], found["resolved_question"], found["created"],
                     not found["answerable"]),
                )
        return feedback_id

    def feedback(self, query: FeedbackQuery = FeedbackQuery()) -> list[FeedbackEntry]:
        conditions, values = [], []
        if query.rating:
            conditions.append("f.rating = %s")
            values.append(query.rating)
        if query.source:
            conditions.append("f.source = %s")
            values.append(query.source)
        for word in (query.text or "").split():
            conditions.append("(strpos(lower(t.question), %s) > 0 OR strpos(lower(t.answer), %s) > 0 "
                              "OR strpos(lower(COALESCE(f.comment, '')), %s) > 0)")
            values.extend([word.lower()] * 3)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._all(
            f"""SELECT f.*, t.question, t.answer, t.citations FROM feedback f
                JOIN turns t ON t.conversation_id = f.conversation_id AND t.n = f.turn
                {where} ORDER BY f.id DESC LIMIT %s OFFSET %s""",
            (*values, query.limit, query.offset),
        )
        return [convert.feedback_entry(row) for row in rows]

    def gap_questions(self, since: float, limit: int) -> list[GapQuestion]:
        rows = self._all("SELECT * FROM gap_questions WHERE asked >= %s ORDER BY asked DESC LIMIT %s", (since, limit))
        return [convert.gap_question(row) for row in rows]

    def save_gap_vectors(self, vectors: list[tuple[str, int, bytes]]) -> None:
        with self._transaction() as db, db.cursor() as cursor:
            cursor.executemany("UPDATE gap_questions SET vector = %s WHERE conversation_id = %s AND turn = %s",
                               [(v, c, t) for c, t, v in vectors])

    # --- Slack ---

    def slack_conversation(self, team: str, channel: str, thread_ts: str) -> str | None:
        row = self._one(
            "SELECT conversation_id FROM slack_threads WHERE team = %s AND channel = %s AND thread_ts = %s",
            (team, channel, thread_ts),
        )
        return row["conversation_id"] if row is not None else None

    def link_slack_thread(
        self, team: str, channel: str, thread_ts: str, conversation_id: str, asker: str | None = None
    ) -> None:
        with self._transaction() as db:
            db.execute(
                """INSERT INTO slack_threads VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (team, channel, thread_ts) DO UPDATE SET
                       conversation_id = excluded.conversation_id, updated = excluded.updated""",
                (team, channel, thread_ts, conversation_id, time.time()),
            )
            if asker:
                db.execute("INSERT INTO slack_thread_askers VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                           (team, channel, thread_ts, asker))

    def is_slack_asker(self, team: str, channel: str, thread_ts: str, user: str) -> bool:
        row = self._one(
            'SELECT 1 FROM slack_thread_askers WHERE team = %s AND channel = %s AND thread_ts = %s AND "user" = %s',
            (team, channel, thread_ts, user),
        )
        return row is not None

    def first_delivery(self, key: str, ttl_seconds: float) -> bool:
        """Of racing deliveries (on any machine), one insert wins: the others wait on the key's unique index
        until the winner commits, then insert nothing."""
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM slack_deliveries WHERE seen < %s", (now - ttl_seconds,))
            cursor = db.execute("INSERT INTO slack_deliveries VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, now))
        return cursor.rowcount == 1

    # --- the registry of bulletins ---

    def registered(self) -> list[Registered]:
        rows = self._all(f"SELECT {convert.REGISTERED_COLUMNS} FROM bulletins ORDER BY id")
        return [convert.registered(row) for row in rows]

    def content(self, bulletin_id: str) -> bytes:
        row = self._one("SELECT content FROM bulletins WHERE id = %s", (bulletin_id,))
        if row is None:
            raise BulletinNotRegistered(bulletin_id)
        return bytes(row["content"])

    def register(self, entry: Registered, content: bytes) -> None:
        self._run(
            """INSERT INTO bulletins VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (id) DO UPDATE SET origin = excluded.origin, name = excluded.name,
                   path = excluded.path, folder = excluded.folder, sha256 = excluded.sha256,
                   size = excluded.size, content = excluded.content, removed = excluded.removed,
                   updated = excluded.updated""",
            (entry.id, entry.origin, entry.name, entry.path, entry.folder, entry.sha256, entry.size, content,
             entry.removed, entry.registered, entry.updated),
        )

    def unregister(self, bulletin_id: str) -> None:
        self._run("DELETE FROM bulletins WHERE id = %s", (bulletin_id,))

    def added_folders(self) -> list[str]:
        rows = self._all("SELECT path FROM added_folders ORDER BY added, path")
        return [row["path"] for row in rows]

    def add_folder(self, path: str) -> None:
        self._run("INSERT INTO added_folders VALUES (%s, %s) ON CONFLICT DO NOTHING", (path, time.time()))

    def remove_folder(self, path: str) -> None:
        self._run("DELETE FROM added_folders WHERE path = %s", (path,))

    # --- one writer at a time, across machines ---

    @contextmanager
    def writer_lock(self):
        """A connection of its own, outside the pool, holds the advisory lock for as long as the writer works: the
        writer's own queries go through the pool meanwhile, and each holder (a thread) is one session."""
        keepalives = {"idle": LOCK_KEEPALIVE_IDLE_S, "interval": LOCK_KEEPALIVE_INTERVAL_S,
                      "count": LOCK_KEEPALIVE_COUNT}
        server_side = " ".join(f"-c tcp_keepalives_{name}={value}" for name, value in keepalives.items())
        with self._open(options=server_side, keepalives=1,
                        **{f"keepalives_{name}": value for name, value in keepalives.items()}) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
            try:
                yield
            finally:
                if not holder.broken:
                    holder.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))

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
within `LOCK_KEEPALIVE_IDLE_S + LOCK_KEEPALIVE_INTERVAL_S * LOCK_KEEPALIVE_COUNT` seconds. The queries themselves
are `sql.SQLDatabase`'s, shared with SQLite, their `?` placeholders turned into psycopg's `%s`.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from service.db.base import DatabaseUnavailable
from service.db.migrations import Migration
from service.db.sql import SQLDatabase

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


class PostgresDatabase(SQLDatabase):
    """The queries are `SQLDatabase`'s; this class lends the pool's connections (in autocommit), opens explicit
    transactions, and locks a conversation's row while a turn is added to it (machines write concurrently)."""

    ENGINE = "postgres"
    REAL = "DOUBLE PRECISION"
    POSITION = "strpos"
    ROW_LOCK = " FOR UPDATE"
    WRITE_FAILURES = (psycopg.errors.DiskFull,)  # what a write the database server has no room for raises

    @staticmethod
    def disk_full(exc: BaseException) -> bool:
        """Whether a failed write says the database server's disk is full."""
        return isinstance(exc, psycopg.errors.DiskFull)

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
        except self.WRITE_FAILURES:
            raise  # reachable, but full: the app's 507, not a 503
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailable(f"PostgreSQL cannot be reached: {exc}") from exc

    def close(self) -> None:
        """Close this process's connections (a server keeps them for its life; tests open many databases)."""
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.close()
            self._pool, self._pool_pid = None, 0

    @contextmanager
    def _transaction(self):
        with self._connection() as db, db.transaction():
            yield db

    @contextmanager
    def _migration(self):
        """A connection of its own (a wrong URL fails at once, not after the pool's wait), under a transaction-scoped
        advisory lock, so that machines starting together upgrade the schema once."""
        with self._open() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            yield db

    def _apply(self, db: psycopg.Connection, step: Migration) -> None:
        db.execute(step.sql)  # several statements, no parameters: one simple query

    def _too_new(self, current: int, known: int) -> str:
        return (f"the database of BQA_DATABASE_URL has schema version {current}, newer than this bqa knows "
                f"({known}): upgrade bqa on every machine")

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")  # the shared SQL has no literal "?" or "%"

    def _insert_id(self, db: psycopg.Connection, sql: str, values: tuple) -> int:
        return db.execute(sql + " RETURNING id", values).fetchone()["id"]

    def _execute_many(self, db: psycopg.Connection, sql: str, rows: list[tuple]) -> None:
        with db.cursor() as cursor:
            cursor.executemany(sql, rows)

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

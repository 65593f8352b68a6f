"""The SQLite backend of `Database`: one file under the data folder, shared by threads and worker processes.

WAL mode lets readers go on while one writer writes; every write that reads before it writes takes the lock at once
(`BEGIN IMMEDIATE`), so two processes never interleave. The schema is versioned: opening the file applies the steps
of `migrations/sqlite/` it has not taken yet, in one transaction under that lock, so two workers starting together
upgrade it once. The writer lock of the index is a file lock beside the database (`fcntl.flock`): every process
sharing the data folder shares it, and the kernel releases it when a holder dies. The queries themselves are
`sql.SQLDatabase`'s, shared with PostgreSQL.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from service.db.migrations import Migration
from service.db.sql import SQLDatabase

BUSY_TIMEOUT_S = 30  # how long a write waits for another process's transaction before failing
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


def _write_ahead(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a no-op once it is). Turning a new file to WAL needs it to itself, and SQLite
    reports "database is locked" at once, without its busy timeout, while another worker holds a transaction, as
    when workers start together on a new data folder and one is already migrating it: so wait here instead."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteDatabase(SQLDatabase):
    """The queries are `SQLDatabase`'s; this class lends connections (one per thread, in autocommit) and opens
    transactions that take SQLite's write lock at once, which serialises writers, so no row lock is needed."""

    ENGINE = "sqlite"
    REAL = "REAL"
    POSITION = "instr"
    ROW_LOCK = ""
    WRITE_FAILURES = (sqlite3.OperationalError,)  # what a write that fails raises: a full disk among them

    @staticmethod
    def disk_full(exc: BaseException) -> bool:
        """Whether a failed write says the disk is full (SQLite's own code for it)."""
        return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL

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
            _write_ahead(db)
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes, one fsync less a turn
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _connection(self):
        yield self._connect()

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

    def _migration(self):
        """The steps run under the write lock, so two workers opening a new data folder together upgrade it once."""
        return self._transaction()

    def _apply(self, db: sqlite3.Connection, step: Migration) -> None:
        for statement in statements(step.sql):
            db.execute(statement)

    def _too_new(self, current: int, known: int) -> str:
        return (f"{self.path} has schema version {current}, newer than this bqa knows ({known}): "
                "upgrade bqa, or point BQA_DATA_DIR at another folder")

    def _insert_id(self, db: sqlite3.Connection, sql: str, values: tuple) -> int:
        return db.execute(sql, values).lastrowid

    def _execute_many(self, db: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
        db.executemany(sql, rows)

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

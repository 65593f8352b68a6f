"""Storage of everything but vectors: `open_db(config)` picks the backend, callers see only `db.base.Database`.

Import rule: outside this package, code imports `open_db` (and, for the app's 507 handler, `WRITE_FAILURES` and
`disk_full`, which cover every backend) from here and the dataclasses and exceptions from `service.db.base`; only
the backend modules import a database driver, only they and the queries they share (`service.db.sql`) hold SQL, and
nothing else branches on the engine. SQLite under
`BQA_DATA_DIR` is the default and needs no setup; `BQA_DATABASE_URL` (postgresql://…) puts everything in PostgreSQL
instead, for several machines serving one deployment.
"""

from __future__ import annotations

from service.config import Config
from service.db import postgres, sqlite
from service.db.base import Database

__all__ = ["WRITE_FAILURES", "disk_full", "open_db"]

WRITE_FAILURES = sqlite.WRITE_FAILURES + postgres.WRITE_FAILURES  # what a failed write raises, a full disk among them
DATABASE_FILE = "bqa.sqlite3"  # under BQA_DATA_DIR; the name the data folder has always used
LOCK_FILE = "index.lock"  # beside it: the writer lock every process sharing the data folder takes


def disk_full(exc: BaseException) -> bool:
    """Whether a failed write says the database's disk is full."""
    return sqlite.disk_full(exc) or postgres.disk_full(exc)


def open_db(config: Config) -> Database:
    """The database the configuration names, opened and brought to the current schema."""
    if config.database_url:
        return postgres.PostgresDatabase(config.database_url, config.conversation_ttl)
    return sqlite.SQLiteDatabase(config.data_dir / DATABASE_FILE, config.conversation_ttl, config.data_dir / LOCK_FILE)

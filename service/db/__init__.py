"""Storage of everything but vectors: `open_db(config)` picks the backend, callers see only `db.base.Database`.

Import rule: outside this package, code imports `open_db` from here and the dataclasses and exceptions from
`service.db.base` (what a failed write raises is the opened database's `WRITE_FAILURES` and `disk_full`); only
the backend modules import a database driver, only they and the queries they share (`service.db.sql`) hold SQL, and
nothing else branches on the engine. SQLite under
`BQA_DATA_DIR` is the default and needs no setup; `BQA_DATABASE_URL` (postgresql://…) puts everything in PostgreSQL
instead, for several machines serving one deployment: its driver, psycopg, is the optional extra `bqa[postgres]`,
imported only when BQA_DATABASE_URL is set (a quarter of a second at every start otherwise; `Config.from_env`
says which extra to install when it is missing).
"""

from __future__ import annotations

from service.config import Config
from service.db import sqlite
from service.db.base import Database

__all__ = ["open_db"]

DATABASE_FILE = "bqa.sqlite3"  # under BQA_DATA_DIR; the name the data folder has always used
LOCK_FILE = "index.lock"  # beside it: the writer lock every process sharing the data folder takes


def open_db(config: Config) -> Database:
    """The database the configuration names, opened and brought to the current schema."""
    if config.database_url:
        from service.db import postgres
        return postgres.PostgresDatabase(config.database_url, config.conversation_ttl)
    return sqlite.SQLiteDatabase(config.data_dir / DATABASE_FILE, config.conversation_ttl, config.data_dir / LOCK_FILE)

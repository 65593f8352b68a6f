"""Storage of everything but vectors: `open_db(config)` picks the backend, callers see only `db.base.Database`.

Import rule: outside this package, code imports `open_db` (and, for the app's 507 handler, the backend's
`WRITE_FAILURES` and `disk_full`) from here and the dataclasses and exceptions from `service.db.base`; only the backend modules import a database driver or hold SQL, and nothing else branches on the
engine. SQLite under `BQA_DATA_DIR` is the default and needs no setup.
"""

from __future__ import annotations

from service.config import Config
from service.db.base import Database
from service.db.sqlite import WRITE_FAILURES, SQLiteDatabase, disk_full

__all__ = ["WRITE_FAILURES", "disk_full", "open_db"]

DATABASE_FILE = "bqa.sqlite3"  # under BQA_DATA_DIR; the name the data folder has always used
LOCK_FILE = "index.lock"  # beside it: the writer lock every process sharing the data folder takes


def open_db(config: Config) -> Database:
    """The database the configuration names, opened and brought to the current schema."""
    return SQLiteDatabase(config.data_dir / DATABASE_FILE, config.conversation_ttl, config.data_dir / LOCK_FILE)

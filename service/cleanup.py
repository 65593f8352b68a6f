"""Leftovers of interrupted work, removed when bqa starts and then periodically while it serves.

A process killed mid-publish (kill -9, the OOM killer, a power cut) leaves the index generation it was building;
conversations nobody continues expire but stay in the database; and bqa before the registry of bulletins wrote
each upload under a temporary name in a bulletin folder first, so a data folder it crashed in may still hold one.
None of them is ever read again, and all of them grow. Files and generations are only removed under the writer
lock, which every publish holds from its first write to its last in whichever process it runs, so what is removed
is never something a live publish is still writing. (Publishing now keeps the original file in the database, in
the same call that indexes it: a crash leaves no file behind, and a half-written row is rolled back by SQLite.)
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from service.pipeline import BulletinQA

log = logging.getLogger("bqa.cleanup")

TEMPORARY_SUFFIX = ".uploading"  # `.<name>.uploading`: an upload of bqa before the registry, not yet in place


@dataclass
class Cleaned:
    files: list[str] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)
    conversations: int = 0

    def __bool__(self) -> bool:
        return bool(self.files or self.generations or self.conversations)

    def summary(self) -> str:
        return (f"{len(self.files)} temporary files, {len(self.generations)} unfinished index generations, "
                f"{self.conversations} expired conversations removed")


def _bulletin_folders(qa: BulletinQA) -> list[Path]:
    """Every folder bqa has written bulletin files to: the corpus and added folders, and the old uploads folder."""
    return [*qa.config.corpus_dirs, *(Path(p) for p in qa.db.added_folders()), qa.config.uploads_dir]


def clean(qa: BulletinQA) -> Cleaned:
    """Remove every leftover now."""
    cleaned = Cleaned()
    with qa.store.writer():
        for folder in _bulletin_folders(qa):
            for leftover in folder.rglob(f".*{TEMPORARY_SUFFIX}") if folder.is_dir() else ():
                leftover.unlink(missing_ok=True)
                cleaned.files.append(str(leftover))
        cleaned.generations = qa.store.drop_unused()
    cleaned.conversations = qa.db.purge_expired()
    if cleaned:
        log.info("cleanup: %s", cleaned.summary())
    return cleaned


class Cleaner:
    """`clean(qa)` every `interval_s` seconds on a daemon thread, for as long as the process serves."""

    def __init__(self, qa: BulletinQA, interval_s: float):
        if not interval_s > 0:
            raise ValueError(f"interval_s must be a positive number of seconds, not {interval_s!r}")
        self.qa = qa
        self.interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bqa-cleanup", daemon=True)

    def start(self) -> "Cleaner":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            try:
                clean(self.qa)
            except Exception:  # a failed round (a full disk, say) must not end the next ones
                log.exception("cleanup failed; it is tried again in %s s", self.interval_s)

"""Leftovers of interrupted work, removed when bqa starts and then periodically while it serves.

A process killed mid-publish (kill -9, the OOM killer, a power cut) leaves the bulletin file it was writing under
its temporary name and the index generation it was building; conversations nobody continues expire but stay in
SQLite. None of them is ever read again, and all of them grow. Files and generations are only removed under the
store's writer lock, which every publish holds from its first write to its last in whichever process it runs, so
what is removed is never something a live publish is still writing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from service.pipeline import BulletinQA

log = logging.getLogger("bqa.cleanup")

TEMPORARY_SUFFIX = ".uploading"


def temporary_path(target: Path) -> Path:
    """Where a bulletin file is written before it is put in place: a hidden name that discovery skips."""
    return target.with_name(f".{target.name}{TEMPORARY_SUFFIX}")


@dataclass
class Cleaned:
    files: list[str] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)
    conversations: int = 0

    def summary(self) -> str:
        return (f"{len(self.files)} temporary files, {len(self.generations)} unfinished index generations, "
                f"{self.conversations} expired conversations removed")


def clean(qa: BulletinQA) -> Cleaned:
    """Remove every leftover now."""
    cleaned = Cleaned()
    with qa.store.writer():
        for folder in qa.config.bulletin_dirs:
            for leftover in folder.rglob(f".*{TEMPORARY_SUFFIX}") if folder.is_dir() else ():
                leftover.unlink(missing_ok=True)
                cleaned.files.append(str(leftover))
        cleaned.generations = qa.store.drop_unused()
    cleaned.conversations = qa.history.purge_expired()
    if cleaned.files or cleaned.generations or cleaned.conversations:
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

"""The set of bulletins bqa answers from, kept in the database's registry, and the plans that make the index hold it.

The set is explicit: the files of the corpus folders (BQA_CORPUS), of the folders added with `bqa index --add`, the
files named by `bqa index PATH`, and the bulletins published over the admin API or page. Each is registered with
its original file, so the index can be rebuilt from the registry alone (on any machine sharing the database), and
the index never loses a bulletin because a folder listing changed: a refresh (`bqa index`, `bqa ask`, `bqa serve`)
registers new and changed files and removes nothing. Removing is explicit (`remove`, `prune`); a removed bulletin
whose file is still in a folder stays removed (a tombstone) until its file is named again. The store is handed a
plan (bulletin id -> parsed bulletin, or KEEP) under the writer lock; the index knows nothing of this.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from index.parse import Bulletin, ParseError, bulletin_id, parse
from index.store import KEEP, Store, SyncReport, survey
from service.db.base import Database, Registered

log = logging.getLogger(__name__)

Progress = Callable[[int], Callable[[int], None]]  # the store's progress callback: total -> tick(n)


@dataclass
class Change:
    """What a registry operation did, for the person who ran it."""

    index: SyncReport | None = None
    registered: list[str] = field(default_factory=list)  # new bulletins
    changed: list[str] = field(default_factory=list)  # registered bulletins whose file changed
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files of a type bqa does not read
    failed: list[str] = field(default_factory=list)  # "file: why": reported and left out, the rest indexed
    conflicts: list[str] = field(default_factory=list)  # files whose id another file already has
    kept_removed: list[str] = field(default_factory=list)  # removed on purpose; their file is still there
    missing: list[str] = field(default_factory=list)  # registered, but their file is gone: `prune` removes them
    unregistered: list[str] = field(default_factory=list)  # indexed, but in no source: `prune` removes them
    missing_folders: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What to tell the operator, one line per kind of news; the index summary first."""
        out = [f"Index: {self.index.summary()}"] if self.index is not None else []
        for label, items in (
            ("Registered", self.registered), ("Changed", self.changed), ("Removed", self.removed),
            ("Skipped (not a bulletin format bqa reads)", self.skipped), ("Failed, not indexed", self.failed),
            ("Conflict, not indexed", self.conflicts), ("No such folder", self.missing_folders),
            ("Removed earlier, left out (name the file to bring it back)", self.kept_removed),
            ("File gone, still indexed (bqa index --prune removes)", self.missing),
            ("Indexed but in no source (bqa index --prune removes)", self.unregistered),
        ):
            out.extend(f"{label}: {item}" for item in items)
        return out


@dataclass(frozen=True)
class Source:
    """Where a refresh looks for files."""

    path: Path
    explicit: bool  # named on this command line: brings back a removed bulletin whose file it names


class Registry:
    def __init__(self, db: Database, store: Store, corpus_dirs: tuple[Path, ...], legacy_uploads: Path | None = None):
        """`legacy_uploads`: the folder where bqa before the registry kept published bulletins; its files are
        registered as published the first time the registry is used."""
        self.db = db
        self.store = store
        self.corpus_dirs = tuple(Path(p) for p in corpus_dirs)
        self.legacy_uploads = legacy_uploads

    # --- reading ---

    def entries(self) -> dict[str, Registered]:
        """The registered bulletins the index must hold (removed ones left out), by id."""
        return {entry.id: entry for entry in self.db.registered() if not entry.removed}

    def bulletin(self, entry: Registered) -> Bulletin:
        """A registered bulletin parsed from the file the registry holds."""
        return parse(self.db.content(entry.id), entry.name, source=entry.path or f"published/{entry.name}",
                     limits=self.store.limits)

    # --- changing the set ---

    def refresh(self, paths: tuple[Path, ...] = (), add: bool = False, progress: Progress | None = None) -> Change:
        """Register what the sources hold now (new files, changed files), then make the index hold the registry.
        `paths` are indexed too: remembered as folders to index on every refresh with `add`, else file by file.
        Nothing is removed."""
        change = Change()
        with self.store.writer():
            self._adopt_legacy()
            for path in paths:
                if not path.exists():
                    raise FileNotFoundError(f"no such file or folder: {path}")
                if add and path.is_dir():
                    self.db.add_folder(str(path.resolve()))
            sources = [Source(p.resolve(), True) for p in paths]  # first: they win an id over an unnamed file
            sources += [Source(p, False) for p in self.corpus_dirs]
            sources += [Source(Path(p), False) for p in self.db.added_folders()]
            sources += [  # files named by an earlier `bqa index PATH`: kept up to date too
                Source(Path(e.path), False) for e in self.db.registered()
                if e.origin == "file" and e.path and not e.removed and Path(e.path).is_file()
            ]
            parsed = self._register_sources(sources, change)
            change.index = self._apply(parsed, set(), change, progress)
        return change

    def remove(self, targets: list[str], progress: Progress | None = None) -> Change:
        """Remove bulletins by id, or an added folder (by its path) with its bulletins, from registry and index."""
        ids, folders = self.removal(targets)
        change = Change(removed=sorted(ids))
        with self.store.writer():
            change.index = self._apply({}, ids, change, progress)
            for folder in folders:
                self.db.remove_folder(folder)
            entries = {entry.id: entry for entry in self.db.registered()}
            for bid in ids:
                entry = entries.get(bid)
                if entry is None:
                    continue
                found = Path(entry.path) if entry.path and Path(entry.path).exists() else self.source_file(bid)
                if found is not None and found.exists():  # it would come back at the next refresh: a tombstone
                    origin, folder = self._home(found.resolve())
                    self.db.register(replace(entry, origin=origin, path=str(found.resolve()), folder=folder,
                                             removed=True, updated=time.time()), self.db.content(bid))
                else:
                    self.db.unregister(bid)
        return change

    def removal(self, targets: list[str]) -> tuple[set[str], set[str]]:
        """(bulletin ids, added folders) that `remove(targets)` would remove; ValueError names an unknown target."""
        entries = {entry.id: entry for entry in self.db.registered()}
        indexed = self.store.indexed()
        added = set(self.db.added_folders())
        ids: set[str] = set()
        folders: set[str] = set()
        for target in targets:
            folder = str(Path(target).resolve()) if Path(target).exists() else None
            if folder in added:
                folders.add(folder)
                ids.update(bid for bid, entry in entries.items() if entry.folder == folder)
            elif (target in entries and not entries[target].removed) or target in indexed:
                ids.add(target)
            else:
                raise ValueError(f"{target!r} is neither an indexed bulletin id nor a folder added with --add")
        return ids, folders

    def source_file(self, wanted: str) -> Path | None:
        """A file of a corpus or added folder that gives the bulletin id `wanted`, registered or not."""
        folders = [*self.corpus_dirs, *(Path(p) for p in self.db.added_folders())]
        for path in survey(folder for folder in folders if folder.is_dir()).files:
            try:
                if bulletin_id(path.name) == wanted:
                    return path
            except ParseError:  # a file whose name gives no id is none of these
                continue
        return None

    def prunable(self) -> list[str]:
        """Ids `prune` would remove: registered files that are gone, bulletins of folders that are no longer a
        source, and indexed bulletins no source registered."""
        corpus = {str(p.resolve()) for p in self.corpus_dirs}
        added = set(self.db.added_folders())
        out = []
        for bid, entry in self.entries().items():
            if entry.origin == "published":
                continue
            gone = entry.path is None or not Path(entry.path).exists()
            orphaned = (entry.origin == "corpus" and entry.folder not in corpus) or (
                entry.origin == "added" and entry.folder not in added
            )
            if gone or orphaned:
                out.append(bid)
        registered = {entry.id for entry in self.db.registered()}
        out += [bid for bid in self.store.indexed() if bid not in registered]
        return sorted(out)

    def prune(self, progress: Progress | None = None) -> Change:
        with self.store.writer():
            return self.remove(self.prunable(), progress)

    # --- published bulletins (service.publish validates and calls these under the writer lock) ---

    def put(self, bulletin: Bulletin, name: str, data: bytes, progress: Progress | None = None) -> SyncReport:
        """Index `bulletin` and register it as published with its original file `data`, together: if either
        fails, both are as they were. The index goes first: a process killed while it builds (on any machine)
        leaves only collections the next switch or cleanup deletes, and nothing in the registry."""
        with self.store.writer():
            report = self._apply({bulletin.id: bulletin}, set(), Change(), progress)
            now = time.time()
            previous = {entry.id: entry for entry in self.db.registered()}.get(bulletin.id)
            entry = Registered(
                id=bulletin.id, origin="published", name=name, path=None, folder=None, sha256=bulletin.sha256,
                size=len(data), removed=False, registered=previous.registered if previous else now, updated=now,
            )
            try:
                self.db.register(entry, data)
            except BaseException:
                self._apply({}, set(), Change(), progress)  # the registry is unchanged: index it back
                raise
            return report

    # --- the work ---

    def _register_sources(self, sources: list[Source], change: Change) -> dict[str, Bulletin]:
        """Register the files of `sources` that are new or changed; return those parsed on the way."""
        entries = {entry.id: entry for entry in self.db.registered()}
        parsed: dict[str, Bulletin] = {}
        claimed: dict[str, Path] = {}  # id -> the file that gave it in this run
        for source in sources:
            if not source.path.exists():
                change.missing_folders.append(str(source.path))
                continue
            found = survey([source.path])
            change.skipped.extend(str(p) for p in found.skipped)
            for path in found.files:
                path = path.resolve()
                try:
                    bid = bulletin_id(path.name)
                except ParseError as exc:
                    change.failed.append(f"{path}: {exc}")
                    continue
                if bid in claimed:
                    if claimed[bid] != path:
                        change.conflicts.append(f"{path}: the id {bid!r} is already given by {claimed[bid]}")
                    continue
                entry = entries.get(bid)
                named = source.explicit and path == source.path
                if entry is not None and entry.path != str(path) and not _moved(entry):
                    where = entry.path or "a bulletin published over the admin API"
                    change.conflicts.append(f"{path}: the id {bid!r} is already registered from {where}")
                    continue
                claimed[bid] = path
                if entry is not None and entry.removed and not named:
                    change.kept_removed.append(bid)
                    continue
                self._register_file(path, bid, entry, parsed, change)
        registered = {entry.id for entry in self.db.registered()}
        change.missing = sorted(
            bid for bid, entry in self.entries().items()
            if entry.path is not None and not Path(entry.path).exists()
        )
        change.unregistered = sorted(bid for bid in self.store.indexed() if bid not in registered)
        return parsed

    def _home(self, path: Path) -> tuple[str, str | None]:
        """(origin, folder) of a file: the corpus or added folder it lies in, else ("file", None)."""
        for origin, folders in (("corpus", [p.resolve() for p in self.corpus_dirs]),
                                ("added", [Path(p) for p in self.db.added_folders()])):
            for folder in folders:
                if path.is_relative_to(folder):
                    return origin, str(folder)
        return "file", None

    def _register_file(self, path: Path, bid: str, entry: Registered | None, parsed: dict[str, Bulletin],
                       change: Change) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            change.failed.append(f"{path}: {exc}")
            return
        digest = hashlib.sha256(data).hexdigest()
        if entry is not None and entry.sha256 == digest and entry.path == str(path) and not entry.removed:
            return
        try:
            bulletin = parse(data, path.name, source=str(path), limits=self.store.limits)
        except ParseError as exc:
            change.failed.append(f"{path}: {exc}")
            return
        now = time.time()
        origin, folder = self._home(path)
        self.db.register(
            Registered(
                id=bid, origin=origin, name=path.name, path=str(path), folder=folder,
                sha256=digest, size=len(data), removed=False, registered=entry.registered if entry else now,
                updated=now,
            ),
            data,
        )
        parsed[bid] = bulletin
        (change.changed if entry is not None and not entry.removed else change.registered).append(bid)

    def _apply(self, parsed: dict[str, Bulletin], drop: set[str], change: Change,
               progress: Progress | None) -> SyncReport:
        """Make the index hold the registry, with `parsed` (bulletins not registered yet, or just parsed) and
        without `drop`. Indexed bulletins the registry does not know are kept: only `prune` removes them."""
        entries = self.entries()

        def plan(indexed: dict[str, dict]) -> dict[str, Bulletin | None]:
            wanted: dict[str, Bulletin | None] = {bid: KEEP for bid in indexed if bid not in entries}
            for bid, entry in entries.items():
                if bid in parsed:
                    continue
                if indexed.get(bid, {}).get("sha256") == entry.sha256:
                    wanted[bid] = KEEP
                    continue
                try:  # indexed by an older bqa or another store, or not indexed yet: from the registry's file
                    wanted[bid] = self.bulletin(entry)
                except ParseError as exc:
                    change.failed.append(f"{entry.path or entry.name}: {exc}")
                    if bid in indexed:
                        wanted[bid] = KEEP
            wanted.update(parsed)
            for bid in drop:
                wanted.pop(bid, None)
            return wanted

        report = self.store.apply(plan, progress=progress)
        change.failed.extend(report.failed)
        return report

    def _adopt_legacy(self) -> None:
        """The first time the registry is used on a data folder made before it existed: register the bulletins
        published then (files in the legacy uploads folder) and those indexed from files given by path."""
        if self.db.registered():
            return
        adopted = []
        if self.legacy_uploads is not None and self.legacy_uploads.is_dir():
            for path in survey([self.legacy_uploads]).files:
                data = path.read_bytes()
                now = time.time()
                self.db.register(Registered(
                    id=bulletin_id(path.name), origin="published", name=path.name, path=None, folder=None,
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data), removed=False, registered=now,
                    updated=now,
                ), data)
                adopted.append(path.name)
        known = {entry.id for entry in self.db.registered()}
        for bid, indexed in self.store.indexed().items():
            path = Path(indexed["source"])
            if bid not in known and path.is_file():
                self._register_file(path.resolve(), bid, None, {}, Change())
                adopted.append(str(path))
        if adopted:
            log.info("registry: adopted %d bulletins indexed before it existed: %s", len(adopted), ", ".join(adopted))


def _moved(entry: Registered) -> bool:
    """Whether a registered file is gone from where it was (so the same id found elsewhere takes its place)."""
    return entry.path is not None and not Path(entry.path).exists()

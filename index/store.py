"""The Chroma store: one collection per index generation, and a pointer to the one being served.

Each generation is a pair of collections: its chunks (what retrieval searches) and, in a sibling named
`<generation>-sentences`, one vector per sentence of every paragraph (what the answerer compares a question with,
so answering a question costs no model pass beyond the question's own). The two are built, copied, switched and
deleted together.

A sentence's vector comes from its chunk's model run: the mean of the states of its tokens there, so it is read
in its paragraph's context and costs no run of its own. The model's runs are nearly all of a build's time, and
running every sentence alone as well cost about as much again as the chunks: a build now takes about 60 % of the
CPU time, with the answerer's held-out figures as before (README, "Sentence vectors from the chunks' runs"). A
sentence that no chunk holds whole within the model's window (a run-on sentence cut into several chunks) is run
alone.

Re-indexing never edits the served collection. It builds the next generation beside it (copying the vectors of
unchanged bulletins, embedding only new or changed ones), checks it, then moves the pointer in one write. A query
therefore sees the old index or the new one, never half of either, and a failed run leaves the served index as
it was. The previous generation is kept until the next run so queries already under way can finish on it.

Each generation records the embedding model that built it. Vectors of two models must never meet in one
collection (a question embedded by one would miss paragraphs embedded by the other), so a generation built by
another model counts as wholly changed: the next run embeds every bulletin again, with its progress bar.

The store indexes what it is handed (a plan: bulletin id -> file, parsed bulletin or KEEP); which bulletins belong
in the index is decided by its caller (bqa's registry). A file of the plan that cannot be read is reported and left
out (an older version stays served, when its vectors are of this model), so one broken file never keeps the others
from being indexed. Processes sharing a store hand in the lock that keeps their writers apart.

A write that fails half-way (a full disk, a Chroma error) deletes what it built and reopens the client before
anything else calls into the store: the embedded Chroma that failed mid-write hung, holding the GIL, on the next
write it was asked for, and took every request of the process with it. Writes are also refused before they start
when they would leave less than the configured reserve free on the data folder's disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterable

import chromadb
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings
from chromadb.errors import ChromaError, NotFoundError
from llama_index.core.schema import TextNode
from llama_index.vector_stores.chroma import ChromaVectorStore

from index.chunk import INDEX_FORMAT, chunk, embedding_text
from index.embed import MODEL_ID, embed_texts, embed_with_parts
from index.parse import FORMATS, Bulletin, Limits, ParseError, bulletin_id, load
from index.sentences import split

log = logging.getLogger(__name__)

KEEP = None  # in a plan: leave this indexed bulletin as it is
STATE = "bqa-state"  # holds the pointer in its metadata
PREFIX = "bqa-gen-"
MODEL_KEY = "embedding_model"  # generation metadata: the MODEL_ID of the vectors it holds
# Cosine space. The graph search is approximate: with Chroma's defaults the last of the 20 chunks a query asks for
# differed between two processes for 6 of 2,231 SQuAD questions (the graph built with a thread per core, or rebuilt
# so on opening, is not the same twice), and so did the answerer's training table. One thread builds the same graph
# from the same chunks, and a search list of 256 makes the search exhaustive up to that many chunks and rarely
# wrong past it.
HNSW = {"hnsw": {"space": "cosine", "num_threads": 1, "ef_search": 256}}
SENTENCES = "-sentences"  # suffix of a generation's sentence collection
# Disk one record (a chunk, or a sentence) takes in a new generation of the embedded store (SQLite rows and
# full-text index, HNSW files); measured on a tmpfs: 8.2 MB for a 393-chunk generation, 15.6 MB for a 768-chunk
# one. Sentences, without text, take less: counting them at this rate errs on the side of room.
GENERATION_BYTES_PER_RECORD = 24_000
STORAGE_FAILURES = (ChromaError, OSError, sqlite3.Error)  # what a failed write raises, embedded or over HTTP
# Records per Chroma add. The embedded store holds the GIL for a whole add (about 1 ms a record, measured: 2.5 s
# for 3,000), so every question of the process waits for it; at 256 none waits much more than 0.4 s, for about a
# third more time adding than in batches of a thousand.
ADD_BATCH = 256


class StorageError(RuntimeError):
    """The index could not be written (the disk is full, or Chroma failed mid-write); nothing was changed."""


class InsufficientStorage(StorageError):
    """A write refused before it started: it would leave less than the reserve free on the data folder's disk."""

    def __init__(self, free: int, needed: int, reserve: int):
        super().__init__(f"{free / 1e6:.1f} MB are free on the data folder's disk; this write needs about "
                         f"{needed / 1e6:.1f} MB and {reserve / 1e6:.1f} MB are kept in reserve")
        self.free, self.needed, self.reserve = free, needed, reserve


def sentence_collection(generation: str) -> str:
    return f"{generation}{SENTENCES}"


def open_client(data_dir: str | Path, chroma_url: str | None = None):
    """An embedded PersistentClient under `data_dir`, or an HttpClient when a Chroma server URL is given."""
    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        from urllib.parse import urlparse

        url = urlparse(chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1", port=url.port or 8000, ssl=url.scheme == "https", settings=settings
        )
    path = Path(data_dir) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


@dataclass(frozen=True)
class Survey:
    files: list[Path]  # bulletin files, in a stable order
    skipped: list[Path]  # files of a type bqa does not read (.docx, images …), to be reported, not indexed


def survey(paths: Iterable[str | Path]) -> Survey:
    """The files named by `paths` (files, or folders searched recursively), split into bulletins and the rest.
    Names starting with a dot below a folder (drafts, editors' temporary files) are neither; the folders above it
    are the operator's choice (`/srv/.bqa/data`), and skipping them lost every bulletin there."""
    found: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            (found if path.suffix.lower() in FORMATS else skipped).append(path)
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts):
                    (found if p.suffix.lower() in FORMATS else skipped).append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return Survey(found, skipped)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Bulletin files named by `paths` (files, or folders searched recursively), in a stable order."""
    return survey(paths).files


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "file: why", each left out of this run
    chunks: int = 0
    embedded: int = 0
    generation: str | None = None
    seconds: float = 0.0
    conflicts: list[str] = field(default_factory=list)  # ids two files give, and which file is served

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        failed = f", {len(self.failed)} failed" if self.failed else ""
        conflicts = "".join(f"; conflict: {conflict}" for conflict in self.conflicts)
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged{failed}; {self.chunks} chunks ({self.embedded} embedded) "
            f"in {self.seconds:.1f}s{conflicts}"
        )


class Store:
    def __init__(self, client, lock: Callable[[], ContextManager] | None = None, embedding_model: str = MODEL_ID, *,
                 data_dir: str | Path | None = None, chroma_url: str | None = None, limits: Limits = Limits(),
                 reserve_bytes: int = 0):
        """`lock()` is held around every write, for the processes sharing this store (this process's own threads
        are kept apart by the store itself). `data_dir` and `chroma_url` say how to reopen `client` after a failed
        write, and `data_dir` whose disk keeps `reserve_bytes` free; `limits` bound each bulletin the store loads."""
        if reserve_bytes < 0:
            raise ValueError(f"reserve_bytes must be 0 or more, not {reserve_bytes!r}")
        self._client = client
        self.embedding_model = embedding_model
        self._client_lock = threading.Lock()
        self.limits = limits
        self.reserve_bytes = reserve_bytes
        self.epoch = 0  # times the client was reopened; a generation loaded from an earlier client is stale
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._chroma_url = chroma_url
        self._lock = lock
        self._active: tuple[str | None, float] = (None, float("-inf"))
        self._thread_lock = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, data_dir: str | Path, chroma_url: str | None = None, *,
             lock: Callable[[], ContextManager] | None = None, limits: Limits = Limits(),
             reserve_bytes: int = 0) -> "Store":
        return cls(open_client(data_dir, chroma_url), lock, data_dir=data_dir, chroma_url=chroma_url, limits=limits,
                   reserve_bytes=reserve_bytes)

    @property
    def client(self):
        """The Chroma client, reopened first if a write failed since it was last used."""
        client = self._client
        if client is not None:
            return client
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = open_client(self._data_dir, self._chroma_url)
                except STORAGE_FAILURES as exc:  # the embedded store cannot even start on a full disk
                    if self._chroma_url is None:  # chromadb caches the System before starting it: forget it
                        SharedSystemClient.clear_system_cache()
                    raise StorageError(f"the index store cannot be opened ({type(exc).__name__}: {exc})") from exc
                self._active = (None, float("-inf"))
                self.epoch += 1
            return self._client

    def _close_client(self) -> None:
        """Close the client after a failed write; the next use opens a new one (`client`).

        Closing stops the embedded System, and with it the SQLite connections a failed write left holding their
        locks: while it lived, its next write hung, holding the GIL, and so did a second System's on the same
        files. chromadb hands every client of one path the System it already runs, hence the cache emptied too
        (another Store of this process on the same folder would otherwise keep it alive). Queries still holding a
        collection of the closed client fail once; the generation is then reloaded (`epoch`)."""
        if self._data_dir is None:  # built around a client it cannot reopen: keep it
            return
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            finally:
                if self._chroma_url is None:
                    SharedSystemClient.clear_system_cache()

    @contextmanager
    def _writing(self):
        """Around every write to Chroma: one that fails closes the client, so that nothing calls into the failed
        System again (reads on it hung too, once a write had failed)."""
        try:
            yield
        except (StorageError, *STORAGE_FAILURES):
            self._close_client()
            raise

    def ensure_space(self, extra_bytes: int = 0, records: int = 0) -> None:
        """Raise InsufficientStorage unless writing `extra_bytes` of files and (in the embedded store) a generation
        of `records` chunks and sentences leaves the reserve free on the data folder's disk."""
        if self._data_dir is None:
            return
        self._data_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self._data_dir).free
        needed = extra_bytes + (0 if self._chroma_url else records * GENERATION_BYTES_PER_RECORD)
        if free - needed < self.reserve_bytes:
            raise InsufficientStorage(free, needed, self.reserve_bytes)

    # --- the pointer ------------------------------------------------------------------------------------------

    def _state(self) -> dict:
        """The pointer's metadata; reading it never creates anything (a create is a write, and writes can fail)."""
        try:
            return self.client.get_collection(STATE, embedding_function=None).metadata or {}
        except NotFoundError:
            return {}

    def active_name(self, max_age: float = 0.0) -> str | None:
        """The served generation. Queries pass a `max_age`: a switch made by another process may then take that
        long to be seen, and each query saves a round trip to Chroma; this process's own switches show at once."""
        name, read_at = self._active
        if max_age and time.monotonic() - read_at <= max_age:
            return name
        name = self._state().get("active")
        self._active = (name, time.monotonic())
        return name

    def active(self):
        name = self.active_name()
        return self.client.get_collection(name, embedding_function=None) if name else None

    def _point_to(self, name: str, previous: str | None) -> None:
        metadata = {"active": name, "updated_at": time.time()}
        if previous:
            metadata["previous"] = previous
        self.client.get_or_create_collection(STATE, embedding_function=None).modify(metadata=metadata)
        self._active = (name, time.monotonic())

    def drop_unused(self) -> list[str]:
        """Delete every generation (chunks and sentences) but the served one and the previous one (kept for queries
        under way): what an interrupted build left behind. Under the writer lock, so no build in any process loses
        its collections."""
        with self.writer(), self._writing():
            state = self._state()
            kept = [state.get("active"), state.get("previous")]
            keep = {*kept, *(sentence_collection(name) for name in kept if name)}
            dropped = []
            for collection in self.client.list_collections():
                collection_name = getattr(collection, "name", collection)
                if collection_name.startswith(PREFIX) and collection_name not in keep:
                    self.client.delete_collection(collection_name)
                    dropped.append(collection_name)
            return dropped

    # --- reading ---------------------------------------------------------------------------------------------

    def indexed(self) -> dict[str, dict]:
        """bulletin id -> {"sha256", "source"} of what the served generation holds."""
        collection = self.active()
        if collection is None:
            return {}
        same_model = (collection.metadata or {}).get(MODEL_KEY) == self.embedding_model
        out: dict[str, dict] = {}
        for metadata in collection.get(include=["metadatas"])["metadatas"]:
            current = same_model and metadata.get("index_format") == INDEX_FORMAT
            out.setdefault(
                metadata["bulletin_id"],
                # indexed by another model or an older parser: counts as changed, its fingerprint matches no file
                {"sha256": metadata["sha256"] if current else None, "source": metadata["source"]},
            )
        return out

    def records(self, name: str) -> dict:
        """Every chunk of generation `name`: ids, documents and metadatas, as Chroma returns them."""
        return self.client.get_collection(name, embedding_function=None).get(include=["documents", "metadatas"])

    def sentence_records(self, name: str) -> dict:
        """Every sentence of generation `name`: ids, embeddings and metadatas (paragraph_id, start, end)."""
        collection = self.client.get_collection(sentence_collection(name), embedding_function=None)
        return collection.get(include=["embeddings", "metadatas"])

    # --- writing ---------------------------------------------------------------------------------------------

    @contextmanager
    def writer(self):
        """One writer at a time: threads of this process, and (with the lock handed in) processes sharing the
        store. Re-entrant, so a caller can hold it across its own writes and the `apply` that indexes them."""
        with self._thread_lock:
            self._depth += 1
            try:
                if self._depth > 1 or self._lock is None:
                    yield
                    return
                with self._lock():
                    yield
            finally:
                self._depth -= 1

    def sync(self, paths: Iterable[str | Path], progress: Callable[[int], Callable[[int], None]] | None = None):
        """Make the index hold exactly the bulletins under `paths`: new and changed files are (re)indexed,
        unchanged ones skipped, bulletins whose file is gone removed. (bqa itself plans from its registry and calls
        `apply`; this is the store's own front door, for tools and tests.)"""
        files: dict[str, list[Path]] = {}
        for path in discover(paths):
            files.setdefault(bulletin_id(path.name), []).append(path)
        conflicts: list[str] = []

        def plan(indexed: dict[str, dict]) -> dict[str, Path]:
            """One file per id. Two files with one id (a corpus file and a published one, say) must not stop a
            start: the file already served stays served, else the first found, and the conflict is reported."""
            chosen = {}
            for bid, paths_of_id in files.items():
                served = indexed.get(bid, {}).get("source")
                chosen[bid] = next((p for p in paths_of_id if str(p) == served), paths_of_id[0])
                if len(paths_of_id) > 1:
                    others = ", ".join(str(p) for p in paths_of_id if p != chosen[bid])
                    conflicts.append(f"{bid!r} is also given by {others}; serving {chosen[bid]}")
                    log.warning("two files give the bulletin id %r: serving %s, not %s", bid, chosen[bid], others)
            return chosen

        report = self.apply(plan, progress=progress)
        report.conflicts = conflicts
        return report

    def apply(
        self,
        plan: Callable[[dict[str, dict]], dict[str, Path | Bulletin]],
        progress: Callable[[int], Callable[[int], None]] | None = None,
    ) -> SyncReport:
        """Build and switch to the generation that holds `plan(indexed)`: bulletin id -> file, parsed bulletin,
        or KEEP for an indexed bulletin left as it is. Ids missing from the plan are removed. A file that cannot be
        read is reported in `failed` and its bulletin kept as indexed (or left out, when it is new or its vectors
        are of another model)."""
        started = time.perf_counter()
        with self.writer():
            indexed = self.indexed()
            wanted = plan(indexed)
            report = SyncReport()
            fresh: list[Bulletin] = []
            dropped: set[str] = set()  # could not be read, and its stored vectors cannot be kept
            for bid, item in wanted.items():
                if item is KEEP and bid in indexed:
                    if indexed[bid]["sha256"] is not None:
                        report.unchanged.append(bid)
                        continue
                    item = Path(indexed[bid]["source"])  # its stored vectors cannot be kept: read it again
                try:
                    bulletin = item if isinstance(item, Bulletin) else None
                    if bulletin is None:
                        digest = _sha256(item)
                        if indexed.get(bid, {}).get("sha256") == digest:
                            report.unchanged.append(bid)
                            continue
                        bulletin = load(item, self.limits)
                    elif indexed.get(bid, {}).get("sha256") == bulletin.sha256:
                        report.unchanged.append(bid)
                        continue
                except (ParseError, OSError) as exc:
                    report.failed.append(f"{item}: {exc}")
                    if indexed.get(bid, {}).get("sha256") is not None:  # vectors of this model: keep serving them
                        report.unchanged.append(bid)
                    else:
                        dropped.add(bid)
                    continue
                (report.updated if bid in indexed else report.added).append(bid)
                fresh.append(bulletin)
            report.removed = sorted(set(indexed) - (set(wanted) - dropped))
            if report.changed or self.active_name() is None:
                report.generation, report.chunks, report.embedded = self._build(fresh, report.unchanged, progress)
            else:
                report.generation = self.active_name()
                report.chunks = self.active().count()
        report.seconds = time.perf_counter() - started
        log.info("index sync: %s", report.summary())
        return report

    def _build(self, fresh: list[Bulletin], keep: list[str], progress) -> tuple[str, int, int]:
        """Write a new generation beside the served one and switch to it once it is whole. Its collections exist
        from before the embedding, so a build that dies while embedding leaves a generation that start-up and the
        periodic cleanup recognise as unfinished and delete."""
        previous = self.active_name()
        nodes = [node for bulletin in fresh for node in chunk(bulletin)]
        bar = _LateBar(progress)
        name = f"{PREFIX}{int(time.time() * 1000)}-{secrets.token_hex(3)}"
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-chunks") as background:
            # the chunks' model runs (ONNX Runtime, without the GIL), which give their sentences' vectors too, go on
            # while this thread lists the sentences
            chunk_runs = background.submit(embed_with_parts, nodes, _chunk_sentences, bar.tick)
            try:
                rows = _sentence_rows(fresh)
                kept_records = 0
                if previous and keep:
                    kept_records = self.active().count() + self.client.get_collection(
                        sentence_collection(previous), embedding_function=None).count()
                self.ensure_space(records=kept_records + len(nodes) + len(rows))
                bar.start(len(nodes) + len(rows))
                expected = self._write(name, previous, keep, nodes, chunk_runs, rows, bar.tick)
            finally:
                bar.stop()  # a build that failed before the chunks' vectors were needed ends their embedding
        try:
            self.drop_unused()
        except (StorageError, *STORAGE_FAILURES):  # the switch is done; cleanup retries what is left
            log.exception("index generations older than %s could not be deleted", previous)
        return name, expected, len(nodes)

    def _write(self, name: str, previous: str | None, keep: list[str], nodes: list, chunk_runs: Future,
               rows: list[tuple[str, dict, dict, str]], tick: Callable[[int], None]) -> int:
        """Generation `name`: its collections first, then the records of `keep` copied from the previous one, the
        chunks' and sentences' vectors (`chunk_runs`, still running), all added and counted, and the index
        switched to it; its chunk count. A failure deletes what was written."""
        try:
            with self._writing():
                target = self.client.create_collection(
                    name, embedding_function=None, configuration=HNSW, metadata={MODEL_KEY: self.embedding_model},
                )
                sentences = self.client.create_collection(
                    sentence_collection(name), embedding_function=None, configuration=HNSW
                )
                copied = self._copy(previous, target, keep) if previous and keep else 0
                copied_sentences = (
                    self._copy(sentence_collection(previous), sentences, keep) if previous and keep else 0
                )
                chunk_vectors, pooled = chunk_runs.result()
                for node, vector in zip(nodes, chunk_vectors):
                    node.embedding = vector
                sentence_vectors = _sentence_vectors(rows, pooled, tick)
                vectors = ChromaVectorStore(chroma_collection=target)
                batch = self._add_batch()
                for start in range(0, len(nodes), batch):
                    vectors.add(nodes[start : start + batch])
                for start in range(0, len(rows), batch):
                    part = rows[start : start + batch]
                    sentences.add(
                        ids=[row[0] for row in part],
                        embeddings=sentence_vectors[start : start + batch],
                        metadatas=[row[1] | row[2] for row in part],
                    )
                expected = copied + len(nodes)
                if target.count() != expected:
                    raise StorageError(f"index generation {name} holds {target.count()} chunks, expected {expected}")
                if sentences.count() != copied_sentences + len(rows):
                    raise StorageError(f"index generation {name} lost sentences: {sentences.count()} stored")
                self._point_to(name, previous)
        except BaseException as exc:
            self._abandon(name)
            if isinstance(exc, STORAGE_FAILURES):
                raise StorageError(f"the index could not be written ({type(exc).__name__}: {exc})") from exc
            raise
        return expected

    def _abandon(self, name: str) -> None:
        """After a failed build: delete the half-built generation if the store lets us (the cleanup at start and
        the periodic one delete it otherwise)."""
        for collection in (name, sentence_collection(name)):
            try:
                with self._writing():
                    self.client.delete_collection(collection)
            except Exception:  # never created, or the store still refuses: the failure being raised says enough
                log.warning("could not delete the unfinished index collection %s", collection, exc_info=True)

    def _add_batch(self) -> int:
        """Records per Chroma add: ADD_BATCH, or fewer if the server takes fewer (llama-index's own batches can
        exceed what it takes)."""
        return min(ADD_BATCH, self.client.get_max_batch_size())

    def _copy(self, source_name: str, target, bulletin_ids: list[str]) -> int:
        """Copy the records (chunks or sentences) of `bulletin_ids`, vectors included, so unchanged bulletins are
        not embedded again."""
        source = self.client.get_collection(source_name, embedding_function=None)
        batch = self._add_batch()
        got = source.get(
            where={"bulletin_id": {"$in": bulletin_ids}}, include=["embeddings", "documents", "metadatas"]
        )
        documents = got["documents"] if any(d is not None for d in got["documents"] or []) else None
        for start in range(0, len(got["ids"]), batch):
            end = start + batch
            target.add(
                ids=got["ids"][start:end],
                embeddings=got["embeddings"][start:end],
                documents=documents[start:end] if documents else None,
                metadatas=got["metadatas"][start:end],
            )
        return len(got["ids"])


class _Stopped(Exception):
    """Raised in the thread embedding the chunks to end it: the build it was for has failed."""


class _LateBar:
    """The build's progress bar, whose total (chunks and sentences) is known only once the sentences are split,
    while the chunks are already embedding: ticks before `start` are held and given to the bar when it starts.
    `stop` ends the chunks' embedding at its next batch (the build failed before they were needed)."""

    def __init__(self, progress: Callable[[int], Callable[[int], None]] | None):
        self._progress = progress
        self._bar: Callable[[int], None] | None = None
        self._held = 0
        self._stopped = False
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        with self._lock:
            if self._progress and total:
                self._bar = self._progress(total)
                if self._held:
                    self._bar(self._held)

    def tick(self, n: int) -> None:
        with self._lock:
            if self._stopped:
                raise _Stopped
            if self._bar:
                self._bar(n)
            else:
                self._held += n

    def stop(self) -> None:
        with self._lock:
            self._stopped = True


def sentence_id(paragraph_id: str, position: int) -> str:
    """A sentence's record id: its paragraph's id and its place there."""
    return f"{paragraph_id}:{position}"


def _sentence_rows(bulletins: list[Bulletin]) -> list[tuple[str, dict, dict, str]]:
    """(id, where, span, text) of every sentence of the bulletins' paragraphs, in reading order."""
    rows = []
    for bulletin in bulletins:
        for _, paragraph in bulletin.paragraphs():
            for i, span in enumerate(split(paragraph.text)):
                rows.append((
                    sentence_id(paragraph.id, i),
                    {"bulletin_id": bulletin.id, "paragraph_id": paragraph.id},
                    {"start": span.start, "end": span.end},
                    span.text,
                ))
    return rows


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _chunk_sentences(node: TextNode) -> tuple[str, dict[str, tuple[int, int]]]:
    """What the model reads for a chunk, and where in it each sentence of the chunk's paragraphs is: {sentence id:
    (start, end)}, for the sentences it holds whole (a long paragraph's chunks each hold some of its sentences)."""
    text = embedding_text(node)
    at = len(text) - len(node.text)  # after the section title
    spans = {}
    for paragraph_id, _, paragraph in json.loads(node.metadata["paragraphs"]):
        for i, sentence in enumerate(split(paragraph)):
            found = text.find(sentence.text, at)
            if found >= 0:
                at = found + len(sentence.text)
                spans[sentence_id(paragraph_id, i)] = (found, at)
    return text, spans


def _sentence_vectors(rows: list[tuple[str, dict, dict, str]], pooled: dict[str, list[float]],
                      tick: Callable[[int], None]) -> list[list[float]]:
    """Every sentence's vector, in the order of `rows`: the one its chunk's run gave (`pooled`), or for the few
    sentences no chunk holds whole within the model's window, a run of its own."""
    alone = [row for row in rows if row[0] not in pooled]
    own = dict(zip([row[0] for row in alone], embed_texts([row[3] for row in alone], tick)))
    return [pooled[row[0]] if row[0] in pooled else own[row[0]] for row in rows]

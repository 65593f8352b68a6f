"""Hybrid retrieval of paragraphs: dense (Chroma) and keyword (BM25) rankings fused by reciprocal rank.

The question is first expanded with the other name of every acronym it uses, so "CT Travel" also searches for
"Countering Terrorist Travel Programme" and the reverse. A paragraph repeated word for word in several bulletins
(the boilerplate every monthly issue carries) is one result, the newest copy the filters admit, so an answer cites
it once rather than once per month. Results are paragraphs (the unit answers cite), as
llama-index `NodeWithScore`s whose metadata also carries each side's own score for the answerer to weigh.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

from index.aliases import Aliases, acronyms, mine
from index.chunk import month_number, month_string
from index.embed import embed_query
from index.keyword import KeywordIndex
from index.sentences import Span
from index.store import Store
from index.text import PROPER_MIN, proper_words, terms

POINTER_MAX_AGE = 0.25  # seconds a query may serve a generation another process has already replaced
RECENT_RESULTS = 1024  # retrievals remembered per generation
RRF_K = 60  # the constant of Cormack et al. (2009); it damps the weight of the very first ranks
_PERIOD = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")  # fullmatch: no trailing newline, ASCII digits only


class FilterError(ValueError):
    """A filter the caller gave is unknown or malformed."""


@dataclass(frozen=True)
class Filters:
    bulletin_ids: tuple[str, ...] = ()
    period_from: str | None = None  # "YYYY-MM", inclusive
    period_to: str | None = None

    @classmethod
    def parse(cls, raw: dict | None) -> "Filters":
        """From the API's `filters` object: {"bulletin_ids": [...], "period_from": "2021-01", "period_to": …}."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise FilterError("filters must be an object")
        unknown = set(raw) - {"bulletin_ids", "period_from", "period_to"}
        if unknown:
            raise FilterError(f"unknown filter(s): {', '.join(sorted(unknown))}")
        ids = raw.get("bulletin_ids", [])
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise FilterError("bulletin_ids must be a list of bulletin ids")
        for key in ("period_from", "period_to"):
            value = raw.get(key)
            if value is not None and (not isinstance(value, str) or not _PERIOD.fullmatch(value)):
                raise FilterError(f"{key} must be a month written YYYY-MM")
        return cls(tuple(ids), raw.get("period_from"), raw.get("period_to"))

    def where(self) -> dict | None:
        """The same filters as a Chroma `where` clause, for the dense query."""
        conditions = []
        if self.bulletin_ids:
            conditions.append({"bulletin_id": {"$in": list(self.bulletin_ids)}})
        if self.period_from:  # the bulletin's period ends on or after the start of the range
            conditions.append({"period_end": {"$gte": month_number(self.period_from)}})
        if self.period_to:
            conditions.append({"period_start": {"$lte": month_number(self.period_to)}})
        if len(conditions) > 1:
            return {"$and": conditions}
        return conditions[0] if conditions else None

    def admits(self, metadata: dict) -> bool:
        if self.bulletin_ids and metadata["bulletin_id"] not in self.bulletin_ids:
            return False
        if self.period_from and metadata["period_end"] < month_number(self.period_from):
            return False
        return not (self.period_to and metadata["period_start"] > month_number(self.period_to))


@dataclass
class Corpus:
    """One index generation, loaded for querying: its paragraphs, keyword index, aliases and term statistics."""

    generation: str
    collection: Collection  # the generation's Chroma collection
    chunk_paragraphs: dict[str, list[str]]  # chunk id -> the ids of the paragraphs it holds
    paragraphs: dict[str, TextNode]  # paragraph id -> node; text is the paragraph, metadata says where it stands
    order: list[str]  # paragraph ids in reading order
    position: dict[str, int] = field(default_factory=dict)  # paragraph id -> its index in `order`
    bulletins: dict[str, dict] = field(default_factory=dict)  # id -> title, period, sections [(title, [ids])]
    # the distinct (start, end) "YYYY-MM" periods of the bulletins, oldest first, undated ones left out: read for
    # every question, built once with the generation (which never changes)
    periods: tuple[tuple[str, str], ...] = ()
    aliases: Aliases = field(default_factory=lambda: Aliases({}))
    keyword: KeywordIndex | None = None
    document_frequency: Counter = field(default_factory=Counter)  # term -> paragraphs holding it
    # paragraph id -> its sentences, each with its row in `sentence_vectors` (unit vectors, float32)
    sentences: dict[str, list[tuple[Span, int]]] = field(default_factory=dict)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    proper: frozenset[str] = frozenset()  # lower-cased words the bulletins write as names (see proper_words)
    capitalised: frozenset[str] = frozenset()  # … and those they write as a name even once (a question's names)
    copies: dict[str, str] = field(default_factory=dict)  # paragraph id -> its text, for paragraphs repeated verbatim
    epoch: int = 0  # the store's epoch when loaded: its collection belongs to a client reopened since if lower
    _results: OrderedDict = field(default_factory=OrderedDict, repr=False)  # recent retrievals, newest last
    _results_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remembered(self, key: tuple, search: Callable[[], list[NodeWithScore]]) -> list[NodeWithScore]:
        """`search()`, or its result for the same `key` if it was among the last `RECENT_RESULTS`.

        A generation never changes, so neither does what a query retrieves from it; and the same questions come
        again and again (the widget's starter questions). Callers get their own list to extend."""
        with self._results_lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
                return list(found)
        found = search()
        with self._results_lock:
            self._results[key] = found
            while len(self._results) > RECENT_RESULTS:
                self._results.popitem(last=False)
        return list(found)

    def recency(self, paragraph_id: str) -> tuple:
        """Sorts the copies of a repeated paragraph: the newest bulletin's last."""
        metadata = self.paragraphs[paragraph_id].metadata
        return metadata["period_end"], metadata["bulletin_id"]

    def forget(self) -> None:
        """Drop the remembered retrievals (benchmarks time questions as if nobody had asked them before)."""
        with self._results_lock:
            self._results.clear()

    @classmethod
    def load(cls, store: Store, generation: str) -> "Corpus":
        epoch = store.epoch
        records = store.records(generation)
        rows = sorted(
            zip(records["ids"], records["metadatas"]),
            key=lambda row: (row[1]["bulletin_id"], row[1]["section_index"]),
        )
        paragraphs: dict[str, TextNode] = {}
        bulletins: dict[str, dict] = {}
        for _, meta in rows:
            bulletin = bulletins.setdefault(
                meta["bulletin_id"],
                {"id": meta["bulletin_id"], "title": meta["bulletin_title"], "period": meta["period"] or None,
                 "period_start": meta["period_start"], "period_end": meta["period_end"], "source": meta["source"],
                 "sections": {}},
            )
            section = bulletin["sections"].setdefault(meta["section_index"], (meta["section"], []))
            for pid, ordinal, text in json.loads(meta["paragraphs"]):
                if pid in paragraphs:  # a long paragraph split over several chunks
                    continue
                section[1].append(pid)
                paragraphs[pid] = TextNode(
                    id_=pid,
                    text=text,
                    metadata={
                        "bulletin_id": meta["bulletin_id"], "bulletin_title": meta["bulletin_title"],
                        "period": meta["period"] or None, "period_start": meta["period_start"],
                        "period_end": meta["period_end"], "section": meta["section"], "ordinal": ordinal,
                    },
                )
        for bulletin in bulletins.values():
            bulletin["sections"] = [bulletin["sections"][i] for i in sorted(bulletin["sections"])]
        order = [pid for b in sorted(bulletins) for _, ids in bulletins[b]["sections"] for pid in ids]
        searchable = [f"{paragraphs[p].metadata['section']}\n{paragraphs[p].text}" for p in order]
        frequency: Counter = Counter()
        for text in searchable:
            frequency.update(set(terms(text)))
        titles = [title for b in bulletins.values() for title, _ in b["sections"]]
        named = titles + [paragraphs[p].text for p in order]  # where aliases are mined from
        names = proper_words(paragraphs[p].text for p in order)
        sentences, vectors = _sentences(store, generation, paragraphs)
        normalised = {pid: " ".join(node.text.split()) for pid, node in paragraphs.items()}
        texts = Counter(normalised.values())
        copies = {pid: text for pid, text in normalised.items() if texts[text] > 1}
        return cls(
            generation=generation,
            collection=store.client.get_collection(generation, embedding_function=None),
            chunk_paragraphs={cid: json.loads(meta["paragraph_ids"]) for cid, meta in zip(records["ids"], records["metadatas"])},
            paragraphs=paragraphs,
            order=order,
            position={pid: i for i, pid in enumerate(order)},
            bulletins=bulletins,
            periods=_periods(bulletins),
            aliases=Aliases(mine(named), acronyms(named)),
            keyword=KeywordIndex(searchable) if order else None,
            document_frequency=frequency,
            sentences=sentences,
            sentence_vectors=vectors,
            proper=frozenset(w for w, n in names.items() if n >= PROPER_MIN),
            capitalised=frozenset(names),
            copies=copies,
            epoch=epoch,
        )


def _periods(bulletins: dict[str, dict]) -> tuple[tuple[str, str], ...]:
    """The distinct (start, end) "YYYY-MM" periods of `bulletins`, oldest first; undated ones left out."""
    spans = {(b["period_start"], b["period_end"]) for b in bulletins.values() if b["period_start"]}
    return tuple((month_string(start), month_string(end)) for start, end in sorted(spans))


def newest_copies(corpus: Corpus, fused: Counter) -> list[tuple[str, float]]:
    """(paragraph id, score), best first, with the copies of a repeated paragraph merged into its newest copy,
    which takes the best score any copy had."""
    best: dict[str, tuple[str, float]] = {}
    for pid, score in fused.most_common():
        key = corpus.copies.get(pid, pid)
        held = best.get(key)
        if held is None:
            best[key] = (pid, score)
        else:
            best[key] = (max(held[0], pid, key=corpus.recency), max(held[1], score))
    return sorted(best.values(), key=lambda item: -item[1])


def _sentences(store: Store, generation: str, paragraphs: dict[str, TextNode]):
    """The generation's sentences by paragraph, and their vectors as one matrix (a row per sentence)."""
    records = store.sentence_records(generation)
    rows: dict[str, list[tuple[Span, int]]] = {}
    for row, meta in enumerate(records["metadatas"]):
        node = paragraphs.get(meta["paragraph_id"])
        if node is not None:
            start, end = meta["start"], meta["end"]
            rows.setdefault(meta["paragraph_id"], []).append((Span(start, end, node.text[start:end]), row))
    for spans in rows.values():
        spans.sort(key=lambda pair: pair[0].start)
    embeddings = records["embeddings"]
    vectors = np.asarray(embeddings, dtype=np.float32) if len(embeddings) else np.zeros((0, 384), dtype=np.float32)
    return rows, vectors


class Searcher:
    """Keeps the served generation loaded and notices when `bqa index` or an upload switches it."""

    def __init__(self, store: Store):
        self.store = store
        self._corpus: Corpus | None = None
        self._lock = threading.Lock()

    def corpus(self) -> Corpus | None:
        name = self.store.active_name(max_age=POINTER_MAX_AGE)
        if name is None:
            return None
        current = self._corpus
        if current is not None and (current.generation, current.epoch) == (name, self.store.epoch):
            return current
        with self._lock:
            if self._corpus is None or (self._corpus.generation, self._corpus.epoch) != (name, self.store.epoch):
                try:
                    self._corpus = Corpus.load(self.store, name)
                except NotFoundError:
                    # The pointer read up to POINTER_MAX_AGE ago names a generation that writers (on other
                    # machines sharing the Chroma server) have since replaced twice: load the one served now.
                    self._corpus = Corpus.load(self.store, self.store.active_name())
            return self._corpus

    def retriever(self, top_k: int = 5, filters: Filters | None = None,
                  corpus: Corpus | None = None) -> "HybridRetriever":
        """A retriever over the served generation, or over `corpus`: a caller that reads the answer's sentences
        from a generation it loaded must retrieve from that one too, or a switch in between would hand it
        paragraphs its generation does not hold."""
        return HybridRetriever(self, top_k=top_k, filters=filters or Filters(), corpus=corpus)


class HybridRetriever(BaseRetriever):
    def __init__(self, searcher: Searcher, top_k: int = 5, filters: Filters | None = None,
                 corpus: Corpus | None = None):
        super().__init__()
        self.searcher = searcher
        self.top_k = top_k
        self.filters = filters or Filters()
        self.pinned = corpus

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        corpus = self.pinned if self.pinned is not None else self.searcher.corpus()
        if corpus is None or corpus.keyword is None:
            return []
        query = query_bundle.query_str
        return corpus.remembered((query, self.top_k, self.filters), lambda: self._search(corpus, query))

    def _search(self, corpus: Corpus, query: str) -> list[NodeWithScore]:
        expanded = corpus.aliases.expand(query)
        depth = max(20, 4 * self.top_k)
        dense = self._dense(corpus, expanded, depth)
        keyword = corpus.keyword.scores(terms(expanded))
        ranked_keyword = [
            corpus.order[i] for i in keyword.argsort()[::-1][:depth]
            if keyword[i] > 0 and self.filters.admits(corpus.paragraphs[corpus.order[i]].metadata)
        ]
        fused: Counter = Counter()
        for ranking in (list(dense), ranked_keyword):
            for rank, pid in enumerate(ranking):
                fused[pid] += 1.0 / (RRF_K + rank + 1)
        keyword_by_id = dict(zip(corpus.order, keyword.tolist()))
        results = []
        for pid, score in newest_copies(corpus, fused)[: self.top_k]:
            node = corpus.paragraphs[pid]
            metadata = {**node.metadata, "dense_score": dense.get(pid, 0.0), "keyword_score": keyword_by_id[pid]}
            results.append(NodeWithScore(node=node.model_copy(update={"metadata": metadata}), score=score * RRF_K / 2))
        return results

    def _dense(self, corpus: Corpus, query: str, depth: int) -> dict[str, float]:
        """paragraph id -> cosine similarity of its best chunk, best first.

        Chroma is asked for chunk ids and distances only: the paragraphs are already in memory, and reading each
        chunk's text and metadata back (what llama-index's `ChromaVectorStore.query` always does) took two thirds
        of the time of a whole answer."""
        result = corpus.collection.query(
            query_embeddings=[embed_query(query)],
            n_results=min(depth, len(corpus.chunk_paragraphs)) or 1,
            where=self.filters.where(),
            include=["distances"],
        )
        scores: dict[str, float] = {}
        for chunk_id, distance in zip(result["ids"][0], result["distances"][0]):
            for pid in corpus.chunk_paragraphs[chunk_id]:
                scores.setdefault(pid, 1.0 - distance)  # cosine space: distance = 1 - cosine
        return scores

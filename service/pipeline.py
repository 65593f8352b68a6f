"""The composition of bqa: index store, retrieval, answerer, the database and the registry of bulletins behind one
`ask`.

The Flask app and the CLI both build exactly one of these (see `BulletinQA.from_config`), so a question asked over
HTTP, in Slack or on the command line goes through the same steps and returns the same JSON. This module is the
only builder of that JSON (described in `service.openapi`). A question that names a period ("in March 2021", "last
month") is searched in the bulletins of that period (`index.periods`), unless the caller's filters name one, and in
every bulletin when those do not answer it.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Callable, Iterator

from llama_index.core.schema import NodeWithScore

from index import embed, sentences
from index.chunk import month_string
from index.parse import Limits
from index.periods import find_period
from index.retrieve import Corpus, Filters, Searcher
from index.store import Store
from answer import Answer, Answerer, Citation, Question
from service.config import Config
from service.db import open_db
from service.db.base import Database
from service.registry import Change, Registry

UrlBuilder = Callable[[str, str], str]  # (bulletin id, paragraph id) -> URL of the source view


class BulletinQA:
    def __init__(self, config: Config, store: Store, db: Database):
        self.config = config
        self.store = store
        self.searcher = Searcher(store)
        self.answerer = Answerer(
            config.answer_threshold, llm_base_url=config.llm_base_url, llm_model=config.llm_model,
            llm_api_key=config.llm_api_key, llm_timeout_s=config.llm_timeout,
        )
        self.db = db
        self.registry = Registry(db, store, config.corpus_dirs, config.uploads_dir)

    @classmethod
    def from_config(cls, config: Config) -> "BulletinQA":
        db = open_db(config)
        limits = Limits(config.max_bulletin_pages, config.max_bulletin_paragraphs, config.max_bulletin_chars)
        store = Store.open(config.data_dir, config.chroma_url, lock=db.writer_lock, limits=limits,
                           reserve_bytes=config.disk_reserve_bytes)
        return cls(config, store, db)

    @property
    def active_answerer(self) -> str:
        """The answerer configured: "llm" when a model is (its answers may still fall back), else "extractive"."""
        return self.answerer.name

    def without_llm(self) -> "BulletinQA":
        """The same service (index, database, weights) answering extractively only: `bqa eval` compares the two."""
        twin = copy.copy(self)
        twin.config, twin.answerer = replace(self.config, llm_base_url=None), self.answerer.without_llm()
        return twin

    def index(self, paths=(), add: bool = False, progress=None) -> Change:
        """Register what the corpus folders, the added folders and `paths` hold now, and index it; removes nothing
        (see `service.registry`)."""
        return self.registry.refresh(tuple(paths or ()), add=add, progress=progress)

    def corpus(self) -> Corpus | None:
        """The served index generation, loaded for querying (None before anything is indexed)."""
        return self.searcher.corpus()

    def periods(self) -> list[dict]:
        """The API JSON of the periods the bulletins cover, newest first: {"period", "from", "to", "bulletins"}."""
        corpus = self.searcher.corpus()
        found: dict[tuple, dict] = {}
        for bulletin in (corpus.bulletins.values() if corpus is not None else ()):
            if not bulletin["period_start"]:
                continue
            span = (bulletin["period_start"], bulletin["period_end"])
            entry = found.setdefault(span, {"period": bulletin["period"], "from": None, "to": None, "bulletins": 0})
            entry["bulletins"] += 1
        for (start, end), entry in found.items():
            entry["from"], entry["to"] = month_string(start), month_string(end)
        return [found[span] for span in sorted(found, reverse=True)]

    def narrowed(self, question: str, filters: Filters | None, corpus: Corpus | None) -> tuple[Filters, bool]:
        """(filters, whether they now hold the period `question` names): the caller's own period wins."""
        filters = filters or Filters()
        if filters.period_from or filters.period_to or corpus is None:
            return filters, False
        period = find_period(question, corpus.periods)
        if period is None:
            return filters, False
        return replace(filters, period_from=period.start, period_to=period.end), True

    def warm_up(self) -> None:
        """Load the embedding model, the sentence splitter, the served generation and the answerer's weights and
        patterns now, so the first question does not wait for them."""
        embed.warm_up()
        sentences.warm_up()
        self.searcher.corpus()
        self.answerer.warm_up()

    def retrieve(self, question: Question, corpus: Corpus | None, top_k: int | None = None,
                 filters: Filters | None = None) -> list[NodeWithScore]:
        """The paragraphs a resolved question is answered from: what retrieval finds for its standalone text, then
        the paragraphs a follow-up carries from the previous answer."""
        hits = self.searcher.retriever(top_k or self.config.top_k, filters, corpus).retrieve(question.standalone)
        if question.carried and corpus is not None:
            hits += _carried(corpus, question, hits, filters or Filters())
        return hits

    def ask(self, question: str, url_for: UrlBuilder, **options) -> dict:
        """The answer's JSON, once its turn is stored; `options` are `ask_stream`'s (conversation_id, top_k,
        filters)."""
        *_, (_, response) = self.ask_stream(question, url_for, **options)
        return response

    def ask_stream(
        self,
        question: str,
        url_for: UrlBuilder,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> Iterator[tuple[str, dict | str]]:
        """`ask` as it happens: ("meta", {conversation_id, resolved_question, confidence}) once the answer's
        confidence is known, ("sentence", text) for each sentence of a model's answer as soon as it passes the
        checks (none for an extractive answer), then ("answer", the JSON `ask` returns) once the turn is stored.
        An unknown conversation raises ConversationNotFound before anything is yielded."""
        started = time.perf_counter()
        if conversation_id is None:
            conversation_id, turns = self.db.start_conversation(), []
        else:
            turns = self.db.turns(conversation_id)  # raises ConversationNotFound before any work is done
        corpus = self.searcher.corpus()
        resolved = self.answerer.resolve(question, [_stored(turn) for turn in turns], corpus)
        asked_filters = filters
        filters, by_period = self.narrowed(resolved.standalone, filters, corpus)
        # once the period is a filter, its words ("January") would only favour the sentences that name the month
        searched = without_period(resolved, corpus) if by_period else resolved
        hits = self.retrieve(searched, corpus, top_k, filters)
        retrieved = time.perf_counter()
        written = self.answerer.stream(searched, hits, corpus)
        answer = next(written)  # the extractive answer: its confidence is final
        if by_period and not answer.answerable:
            # the period is where to look first, not a wall: a bulletin may report an earlier month (August's
            # reports July's figures), and "this month" is the newest bulletin of any publisher. Every bulletin is
            # searched with the period's words kept, so the scorer sees a sentence whose own period is another.
            wider = self.answerer.stream(resolved, self.retrieve(resolved, corpus, top_k, asked_filters), corpus)
            widened = next(wider)
            if widened.answerable:  # else the closest sentence quoted is the period's
                written, answer, filters = wider, widened, asked_filters or Filters()
        yield "meta", {"conversation_id": conversation_id, "resolved_question": resolved.standalone,
                       "confidence": round(answer.confidence, 4)}
        for part in written:
            if isinstance(part, str):
                yield "sentence", part
            else:
                answer = part
        answered = time.perf_counter()
        response = {
            "conversation_id": conversation_id,
            "turn": None,  # set once the turn is stored: feedback names it
            "answer": answer.text,
            "answerable": answer.answerable,
            "confidence": round(answer.confidence, 4),
            "resolved_question": resolved.standalone,
            "answerer": answer.answerer,  # "llm" only for an answer the model wrote and the check passed
            "removed_sentences": answer.removed_sentences,
            "period": ({"from": filters.period_from, "to": filters.period_to}
                       if filters.period_from or filters.period_to else None),  # what the search was narrowed to
            "citations": [_citation_json(c, url_for(c.bulletin_id, c.paragraph_id)) for c in answer.citations],
            "timing_ms": {
                "retrieve": round((retrieved - started) * 1000, 2),
                "answer": round((answered - retrieved) * 1000, 2),
                "total": round((answered - started) * 1000, 2),
            },
        }
        response["turn"] = self.db.add_turn(conversation_id, {"question": question, **response})
        yield "answer", response


def _citation_json(citation: Citation, url: str) -> dict:
    return {
        "n": citation.n, "bulletin_id": citation.bulletin_id, "bulletin_title": citation.bulletin_title,
        "period": citation.period, "section": citation.section, "paragraph_id": citation.paragraph_id,
        "quote": citation.quote, "text": citation.text, "url": url, "score": round(citation.score, 4),
    }


def _stored(turn: dict) -> tuple[Question, Answer]:
    """A stored turn as the (question, answer) pair follow-up resolution reads."""
    fields = ("n", "bulletin_id", "bulletin_title", "period", "section", "paragraph_id", "quote", "text", "score")
    citations = tuple(Citation(**{k: c[k] for k in fields}) for c in turn.get("citations", []))
    answer = Answer(turn["answer"], bool(turn["answerable"]), float(turn.get("confidence", 0.0)), citations)
    return Question.parse(turn["question"], turn["resolved_question"]), answer


def _carried(corpus: Corpus, question: Question, hits: list[NodeWithScore], filters: Filters) -> list[NodeWithScore]:
    """The previous answer's paragraphs, as extra candidates ranked after what retrieval found."""
    present = {hit.node.node_id for hit in hits}
    floor = min((hit.score or 0.0 for hit in hits), default=0.0)
    carried = []
    for pid in question.carried:
        node = corpus.paragraphs.get(pid)
        if node is not None and pid not in present and filters.admits(node.metadata):
            carried.append(NodeWithScore(node=node, score=floor))
    return carried


def without_period(question: Question, corpus: Corpus) -> Question:
    """`question` without the words that name a period (`index.periods.Period.strip`), in what it asks and in the
    earlier question it leans on."""
    def strip(text: str) -> str:
        period = find_period(text, corpus.periods)
        return period.strip(text) if period is not None else text

    return replace(question, asked=strip(question.asked), topic=strip(question.topic) if question.topic else None)

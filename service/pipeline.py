"""The composition of bqa: index store, retrieval, answerer and conversation history behind one `ask`.

The Flask app and the CLI both build exactly one of these (see `BulletinQA.from_config`), so a question asked over
HTTP, in Slack or on the command line goes through the same steps and returns the same JSON. This module is the
only builder of that JSON (described in `service.openapi`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Callable

from llama_index.core.schema import NodeWithScore

from index import embed
from index.parse import Limits
from index.retrieve import Corpus, Filters, Searcher
from index.store import Store
from answer import Answer, Answerer, Citation, Question
from service.config import Config
from service.history import History

UrlBuilder = Callable[[str, str], str]  # (bulletin id, paragraph id) -> URL of the source view


class BulletinQA:
    def __init__(self, config: Config, store: Store, history: History):
        self.config = config
        self.store = store
        self.searcher = Searcher(store)
        self.answerer = Answerer(
            config.answer_threshold, llm_base_url=config.llm_base_url, llm_model=config.llm_model,
            llm_api_key=config.llm_api_key, llm_timeout_s=config.llm_timeout,
        )
        self.history = history

    @classmethod
    def from_config(cls, config: Config) -> "BulletinQA":
        limits = Limits(config.max_bulletin_pages, config.max_bulletin_paragraphs, config.max_bulletin_chars)
        store = Store.open(config.data_dir, config.chroma_url, limits, config.disk_reserve_bytes)
        return cls(config, store, History(config.data_dir / "bqa.sqlite3", config.conversation_ttl))

    @property
    def active_answerer(self) -> str:
        """The answerer configured: "llm" when a model is (its answers may still fall back), else "extractive"."""
        return self.answerer.name

    def without_llm(self) -> "BulletinQA":
        """The same service (index, history, weights) answering extractively only: `bqa eval` compares the two."""
        twin = copy.copy(self)
        twin.config, twin.answerer = replace(self.config, llm_base_url=None), self.answerer.without_llm()
        return twin

    def index(self, paths=None, progress=None):
        """Bring the index in line with the corpus folders and published bulletins (or `paths`)."""
        if not paths:
            self.config.uploads_dir.mkdir(parents=True, exist_ok=True)
        return self.store.sync(paths or self.config.bulletin_dirs, progress=progress)

    def warm_up(self) -> None:
        """Load the embedding model, the served generation and the scorer's weights now, so the first question
        does not wait seconds."""
        embed.warm_up()
        self.searcher.corpus()
        self.answerer.warm_up()

    def retrieve(self, question: Question, corpus: Corpus | None, top_k: int | None = None,
                 filters: Filters | None = None) -> list[NodeWithScore]:
        """The paragraphs a resolved question is answered from: what retrieval finds for its standalone text, then
        the paragraphs a follow-up carries from the previous answer."""
        hits = self.searcher.retriever(top_k or self.config.top_k, filters).retrieve(question.standalone)
        if question.carried and corpus is not None:
            hits += _carried(corpus, question, hits, filters or Filters())
        return hits

    def ask(
        self,
        question: str,
        url_for: UrlBuilder,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> dict:
        started = time.perf_counter()
        if conversation_id is None:
            conversation_id, turns = self.history.start(), []
        else:
            turns = self.history.turns(conversation_id)  # raises ConversationNotFound before any work is done
        corpus = self.searcher.corpus()
        resolved = self.answerer.resolve(question, [_stored(turn) for turn in turns], corpus)
        hits = self.retrieve(resolved, corpus, top_k, filters)
        retrieved = time.perf_counter()
        answer = self.answerer.answer(resolved, hits, corpus)
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
            "citations": [_citation_json(c, url_for(c.bulletin_id, c.paragraph_id)) for c in answer.citations],
            "timing_ms": {
                "retrieve": round((retrieved - started) * 1000, 2),
                "answer": round((answered - retrieved) * 1000, 2),
                "total": round((answered - started) * 1000, 2),
            },
        }
        response["turn"] = self.history.add_turn(conversation_id, {"question": question, **response})
        return response


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

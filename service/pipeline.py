"""The composition of bqa: index store, retrieval, answerer and conversation history behind one `ask`.

The Flask app and the CLI both build exactly one of these (see `BulletinQA.from_config`), so a question asked over
HTTP, in Slack or on the command line goes through the same steps and returns the same JSON.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Callable

from llama_index.core.schema import NodeWithScore

from index import embed
from index.parse import Limits
from index.retrieve import Filters, Searcher
from index.store import Store
from answer.extractive import ExtractiveAnswerer
from service.config import Config
from answer.followup import carried_paragraphs, is_follow_up, resolve
from service.history import History
from answer.llm import CheckedAnswer, LLMAnswerer

UrlBuilder = Callable[[str, str], str]  # (bulletin id, paragraph id) -> URL of the source view


class BulletinQA:
    def __init__(self, config: Config, store: Store, history: History):
        self.config = config
        self.store = store
        self.searcher = Searcher(store)
        self.answerer = ExtractiveAnswerer()
        self.llm = (  # optional, checked
            LLMAnswerer(config.llm_base_url, config.llm_model, config.llm_api_key, config.llm_timeout, self.answerer)
            if config.llm_base_url else None
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
        return self.llm.name if self.llm is not None else self.answerer.name

    def without_llm(self) -> "BulletinQA":
        """The same service (index, history) answering extractively only: `bqa eval` compares the two."""
        twin = copy.copy(self)
        twin.config, twin.llm = replace(self.config, llm_base_url=None), None
        return twin

    def index(self, paths=None, progress=None):
        """Bring the index in line with the corpus folders and published bulletins (or `paths`)."""
        if not paths:
            self.config.uploads_dir.mkdir(parents=True, exist_ok=True)
        return self.store.sync(paths or self.config.bulletin_dirs, progress=progress)

    def warm_up(self) -> None:
        """Load the embedding model and the served generation now, so the first question does not wait seconds."""
        embed.warm_up()
        self.searcher.corpus()

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
            conversation_id, earlier = self.history.start(), []
        else:
            earlier = self.history.turns(conversation_id)  # raises ConversationNotFound before any work is done
        resolved = without_llm = resolve(question, earlier)
        if self.llm is not None and earlier and is_follow_up(question):
            resolved = self.llm.condense(question, earlier, without_llm) or without_llm
        hits = self.searcher.retriever(top_k or self.config.top_k, filters).retrieve(resolved.text)
        corpus = self.searcher.corpus()
        if without_llm.context and corpus is not None:  # a follow-up leaning on the previous answer
            hits += self._carried(corpus, earlier, hits, filters or Filters())
        retrieved = time.perf_counter()
        if self.llm is not None:
            answer = self.llm.answer(resolved.question, hits, corpus, context=resolved.context)
        else:
            answer = CheckedAnswer.extractive(self.answerer.answer(resolved.question, hits, corpus, context=resolved.context))
        answered = time.perf_counter()
        response = {
            "conversation_id": conversation_id,
            "turn": None,  # set once the turn is stored: feedback names it
            "answer": answer.text,
            "answerable": answer.answerable,
            "resolved_question": resolved.text,
            "answerer": answer.answerer,  # "llm" only for an answer the model wrote and the check passed
            "removed_sentences": answer.removed_sentences,
            "citations": [c.as_json(url_for(c.bulletin_id, c.paragraph_id)) for c in answer.citations],
            "timing_ms": {
                "retrieve": round((retrieved - started) * 1000, 2),
                "answer": round((answered - retrieved) * 1000, 2),
                "total": round((answered - started) * 1000, 2),
            },
        }
        response["turn"] = self.history.add_turn(conversation_id, {"question": question, **response})
        return response

    @staticmethod
    def _carried(corpus, earlier: list[dict], hits: list[NodeWithScore], filters: Filters) -> list[NodeWithScore]:
        """The previous answer's paragraphs, as extra candidates ranked after what retrieval found."""
        present = {hit.node.node_id for hit in hits}
        floor = min((hit.score or 0.0 for hit in hits), default=0.0)
        carried = []
        for pid in carried_paragraphs(earlier):
            node = corpus.paragraphs.get(pid)
            if node is not None and pid not in present and filters.admits(node.metadata):
                carried.append(NodeWithScore(node=node, score=floor))
        return carried

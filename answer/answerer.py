"""The answering step behind one object: resolve a follow-up, score the candidate sentences, decide, and let an
optional LLM rephrase what the checks allow.

Built once per process from plain values (never from the service's Config), cheap to construct; `warm_up()`
loads the weights before the first question. The question's vector is the one retrieval already computed
(`index.embed.embed_query` remembers it), and the sentences' vectors were stored at index time, so answering costs
one short model pass: what the question asks without its names (`index.text.relation`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import numpy as np
from llama_index.core.schema import NodeWithScore

from index.embed import embed_query
from index.text import relation
from index.retrieve import Corpus
from answer import facts
from answer.decide import NOTHING_INDEXED, decide
from answer.features import Candidate, candidates
from answer.followup import is_follow_up, resolve
from answer.scorer import WEIGHTS, Scorer
from answer.types import Answer, Question


class Answerer:
    def __init__(
        self,
        threshold: float | None = None,
        *,
        llm_base_url: str | None = None,
        llm_model: str | None = None,
        llm_api_key: str | None = None,
        llm_timeout_s: float = 20.0,
        weights: str | Path = WEIGHTS,
    ):
        """`threshold`: the confidence an answer needs (None: the one chosen on held-out folds, shipped with the
        weights). With `llm_base_url` and `llm_model`, an OpenAI-compatible model writes answers (see answer.llm)."""
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}")
        if llm_base_url and not llm_model:
            raise ValueError("llm_model must name the model to use with llm_base_url")
        if not llm_timeout_s > 0:
            raise ValueError(f"llm_timeout_s must be positive, not {llm_timeout_s!r}")
        self._threshold = threshold
        self._weights = Path(weights)
        self._scorer: Scorer | None = None
        self._lock = threading.Lock()
        self.llm = None
        if llm_base_url:
            from answer.llm import LLMAnswerer

            self.llm = LLMAnswerer(llm_base_url, llm_model, llm_api_key, llm_timeout_s)

    @property
    def name(self) -> str:
        """The answerer configured: "llm" when a model is (its answers may still fall back), else "extractive"."""
        return "llm" if self.llm is not None else "extractive"

    @property
    def threshold(self) -> float:
        return self._threshold if self._threshold is not None else self.scorer.threshold

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            with self._lock:
                if self._scorer is None:
                    self._scorer = Scorer.load(self._weights)
        return self._scorer

    def warm_up(self) -> None:
        """Load the weights now, not when the first user waits (and fail at start-up if they do not fit), and build
        the country-name pattern (every country pycountry names: 130 ms, once, measured on the first question)."""
        _ = self.scorer
        facts.countries_in("")

    def without_llm(self) -> "Answerer":
        """The same answerer (weights, threshold) answering extractively only: `bqa eval` compares the two."""
        twin = Answerer(self._threshold, weights=self._weights)
        twin._scorer = self._scorer
        return twin

    def resolve(self, text: str, earlier: list[tuple[Question, Answer]], corpus: Corpus | None = None) -> Question:
        """The standalone question a turn asks, given the earlier (question, answer) turns, oldest first."""
        question = resolve(text, earlier, corpus)
        if self.llm is not None and earlier and is_follow_up(text, corpus):
            question = self.llm.condense(text, earlier, question) or question
        return question

    def answer(self, question: Question, hits: list[NodeWithScore], corpus: Corpus | None) -> Answer:
        """Score, decide, and (when configured) let the LLM rephrase; "the bulletins don't say" is an Answer."""
        *_, answer = self.stream(question, hits, corpus)
        return answer

    def stream(self, question: Question, hits: list[NodeWithScore], corpus: Corpus | None) -> Iterator[Answer | str]:
        """The answer as it is written: first the extractive Answer (its confidence is the answer's, whoever writes
        it); with an LLM, then each sentence of the model's as soon as it may be shown (answer.llm), and last the
        Answer given, the model's or the extractive one again. Without an LLM the first Answer is also the last."""
        if corpus is None or not hits:
            yield Answer(NOTHING_INDEXED, False, 0.0)
            return
        found = self.candidates(question, hits, corpus)
        extractive = decide(question, found, self.scorer, self.threshold, corpus)
        yield extractive
        if self.llm is not None:
            yield from self.llm.stream(question, hits, corpus, extractive, self.on_topic(found))

    def candidates(self, question: Question, hits: list[NodeWithScore], corpus: Corpus) -> list[Candidate]:
        """The candidate sentences with their features; the question's vector is the one retrieval computed, and
        what it asks without its names is embedded once more (`index.text.relation`)."""
        vector = np.asarray(embed_query(corpus.aliases.expand(question.standalone)), dtype=np.float32)
        asks = relation(question.asked, corpus.proper)
        relation_vector = np.asarray(embed_query(asks), dtype=np.float32) if asks else None
        return candidates(question, hits, corpus, vector, relation_vector)

    def on_topic(self, found: list[Candidate]) -> set[str]:
        """Paragraphs holding a sentence the scorer would quote as an answer on its own."""
        if not found:
            return set()
        logits = self.scorer.rank(found)
        return {
            c.unit.node.node_id for i, c in enumerate(found)
            if self.scorer.confidence(found, logits, i) >= self.threshold
        }


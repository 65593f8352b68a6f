"""The keyword side of hybrid search: BM25 (bm25s) over paragraphs, each with its section title.

Built in memory from the served generation's paragraphs when that generation is loaded, so it is always exactly
as fresh as the vectors and needs no store of its own. A question's word the bulletins never use is read as the
one word of theirs it is a single typo away from ("tunsia" → "tunisia", "workshps" → "workshop"): the
vocabulary is the corpus's own, so nothing is listed by hand.
"""

from __future__ import annotations

from collections import defaultdict

import bm25s
import numpy as np

from index.text import terms


class KeywordIndex:
    def __init__(self, documents: list[str]):
        self._bm25 = bm25s.BM25(csc_backend="numpy")  # not scipy's, whether or not some other package installed it
        tokenised = [terms(document) or ["\x00"] for document in documents]
        self._bm25.index(tokenised, show_progress=False)
        self._vocabulary = set(self._bm25.vocab_dict) - {"\x00"}
        self._deletions: dict[str, set[str]] = defaultdict(set)  # a term with one letter deleted -> terms
        for term in self._vocabulary:
            if len(term) >= TYPO_MIN_LENGTH - 1 and term.isalpha():
                for variant in _one_deleted(term) | {term}:
                    self._deletions[variant].add(term)

    def correct(self, term: str) -> str:
        """`term`, or the corpus's term it is one edit away from (deletion, insertion, substitution or swap of
        neighbours) when `term` is unknown, long enough, and the corpus has exactly one such term."""
        if term in self._vocabulary or len(term) < TYPO_MIN_LENGTH or not term.isalpha():
            return term
        found = set().union(*(self._deletions.get(v, ()) for v in _one_deleted(term) | {term}))
        return found.pop() if len(found) == 1 else term

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every document, in the order they were given (typos corrected, see `correct`)."""
        known = [term for term in map(self.correct, query_terms) if term in self._vocabulary]
        if not known:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        return self._bm25.get_scores(known)


TYPO_MIN_LENGTH = 5  # shorter words have too many neighbours one edit away to guess which was meant


def _one_deleted(term: str) -> set[str]:
    return {term[:i] + term[i + 1 :] for i in range(len(term))}

"""The keyword side of hybrid search: BM25 (bm25s) over paragraphs, each with its section title.

Built in memory from the served generation's paragraphs when that generation is loaded, so it is always exactly
as fresh as the vectors and needs no store of its own.
"""

from __future__ import annotations

import bm25s
import numpy as np

from index.text import terms


class KeywordIndex:
    def __init__(self, documents: list[str]):
        self._bm25 = bm25s.BM25()
        tokenised = [terms(document) or ["\x00"] for document in documents]
        self._bm25.index(tokenised, show_progress=False)
        self._vocabulary = set(self._bm25.vocab_dict)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every document, in the order they were given."""
        known = [term for term in query_terms if term in self._vocabulary]
        if not known:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        return self._bm25.get_scores(known)

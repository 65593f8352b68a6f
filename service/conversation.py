"""Follow-up questions read in the context of the conversation's earlier turns, without an LLM.

"How much was it?" after "What did Canada fund in March?" names nothing by itself: its pronoun points back. Such
a question is answered as itself plus the previous standalone question, so the terms that found the previous
answer find it again, while the new question still decides what kind of fact is wanted. A question that names
its own subject is a new topic and is left alone.
"""

from __future__ import annotations

import re

from index.text import terms

_ANAPHORA = re.compile(
    r"\b(?:it|its|they|them|their|theirs|that|this|those|these|he|she|his|her|there|same|such|former|latter)\b",
    re.I,
)


def is_follow_up(question: str) -> bool:
    """Whether the question leans on what came before: no subject of its own, or a pronoun standing in for it."""
    own = len(terms(question))
    return own < 2 or (own <= 2 and bool(_ANAPHORA.search(question)))


def resolve(question: str, history: list[dict]) -> str:
    """The standalone question to answer, given the earlier turns (oldest first)."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1]["resolved_question"]
    return f"{question.rstrip()} [{previous.strip()}]"

"""The values that cross the answering package's boundary: a question, an answer, a citation (all frozen).

"The bulletins don't say" is an `Answer` with `answerable=False` (and the closest sentence as its citation),
never an exception: callers render every outcome the same way. A `Citation` has no URL: where a paragraph is
shown is the service's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOPIC = re.compile(r"^(.*?) \[(.*)\]$", re.S)


@dataclass(frozen=True)
class Question:
    """A question as typed, and the standalone question it is read as.

    `asked` is what this turn asks (its interrogative decides the kind of fact wanted); `topic` the earlier
    question a follow-up leans on ("How much? [Who put money into the Gender and Identities Platform?]"), or None
    for a question that stands alone; `carried` the paragraphs that grounded the previous answer, which stay
    candidates."""

    text: str
    asked: str
    topic: str | None = None
    carried: tuple[str, ...] = ()

    @property
    def standalone(self) -> str:
        """What retrieval searches and the scorer reads; the API's `resolved_question`."""
        return f"{self.asked} [{self.topic}]" if self.topic else self.asked

    @property
    def kind(self) -> str:
        """The kind of fact asked for (`answer.facts.KINDS`), from what this turn asks, else from its topic."""
        from answer.facts import question_kind

        kind = question_kind(self.asked)
        return question_kind(self.topic) if kind == "other" and self.topic else kind

    @classmethod
    def parse(cls, text: str, standalone: str, carried: tuple[str, ...] = ()) -> "Question":
        """A stored turn's question again, from its text and its `standalone` reading."""
        m = _TOPIC.match(standalone)
        return cls(text, m.group(1), m.group(2), carried) if m else cls(text, standalone, None, carried)


@dataclass(frozen=True)
class Citation:
    n: int
    bulletin_id: str
    bulletin_title: str
    period: str | None
    section: str
    paragraph_id: str
    quote: str  # the exact span of `text` the answer rests on
    text: str  # the whole paragraph
    score: float  # retrieval's score of the paragraph


@dataclass(frozen=True)
class Answer:
    text: str
    answerable: bool
    confidence: float  # calibrated P(the quoted sentence answers the question), 0-1
    citations: tuple[Citation, ...] = ()
    answerer: str = "extractive"  # "llm" only for an answer a model wrote and the checks passed
    removed_sentences: int = 0  # sentences of a model's draft the citation check took out

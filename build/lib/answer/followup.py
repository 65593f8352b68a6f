"""Follow-up questions read in the context of the conversation's earlier turns, without an LLM.

Three kinds of follow-up, each turned into the standalone question bqa then answers (`resolved_question`):

- a new subject in the old frame: "and India?" / "What about the Boko Haram consultation?" after "How many
  participants did the ESAAMLG workshop have?" asks the same question of the new subject, so the old topic is
  replaced, not dragged along;
- a question with no subject of its own, or only a pronoun for it: "How much was it?", "Which countries were
  involved?", "Who organised that workshop?" is asked together with the previous standalone question and, when
  that one asked who, the names its answer gave ("they" are India);
- anything else names its own subject and is left alone.

The paragraphs that grounded the previous answer stay candidates for the next one (see `carried_paragraphs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import MONTH_NAMES, entity_spans, terms

_ANAPHORA = re.compile(
    r"\b(?:it|its|they|them|their|theirs|that|this|those|these|he|she|his|her|there|same|such|former|latter)\b",
    re.I,
)
_PERSONAL = re.compile(r"\b(?:they|them|their|theirs|he|she|his|her)\b", re.I)
_NEW_SUBJECT = re.compile(r"^\s*(?:(?:and|but|also)\s+)?(?:(?:what|how)\s+about\s+|and\s+)(?P<subject>.+?)\s*\??\s*$", re.I)
_WH_FRAME = re.compile(r"^\s*(how (?:many|much)(?: \w+)?|who|whom|when|where|which \w+|what \w+)\b", re.I)
_MONTHS = {m for m in MONTH_NAMES} | {m[:3] for m in MONTH_NAMES}


def is_follow_up(question: str) -> bool:
    """Whether the question leans on what came before: no subject of its own, or a pronoun standing in for it."""
    if _NEW_SUBJECT.match(question):
        return True
    own = len(terms(question))
    return own < 2 or (own <= 2 and bool(_ANAPHORA.search(question)))


def _with_new_subject(previous: str, subject: str) -> str:
    """The previous question asked of `subject`: its last name replaced, or its wh-frame reused."""
    is_date = any(word.lower() in _MONTHS for word in re.findall(r"\w+", subject)) or re.search(r"\b\d{4}\b", subject)
    if is_date:
        date = re.search(r"\b(?:in |during |on )?(?:\d{1,2} )?(?:%s)[a-z]*\.?(?: \d{4})?" % "|".join(_MONTHS), previous, re.I)
        if date:
            return previous[: date.start()] + subject + previous[date.end() :]
    spans = entity_spans(previous)
    if spans:
        start, end = spans[-1]
        if previous[max(0, start - 4) : start].lower() == "the " and subject.lower().startswith("the "):
            start -= 4
        return previous[:start] + subject + previous[end:]
    frame = _WH_FRAME.match(previous)
    return f"{frame.group(1)} {subject}?" if frame else f"{subject}?"


def _answer_names(turn: dict) -> list[str]:
    """The first name a "who"/"which" answer gave that its question did not use: what "they" points at."""
    question_words = {w.lower() for w in re.findall(r"\w+", turn["resolved_question"])}
    quotes = "x " + " ".join(c["quote"] for c in turn.get("citations", [])) if turn.get("answerable") else ""
    for start, end in entity_spans(quotes):
        name = quotes[start:end]
        if not {w.lower() for w in re.findall(r"\w+", name)} <= question_words:
            return [name]
    return []


@dataclass(frozen=True)
class Resolved:
    """The question as asked, and the earlier question it leans on (None for a standalone question)."""

    question: str
    context: str | None = None

    @property
    def text(self) -> str:
        """The `resolved_question` users see: "How much was it? [What did Canada fund in March?]"."""
        return f"{self.question} [{self.context}]" if self.context else self.question

    @classmethod
    def parse(cls, text: str) -> "Resolved":
        m = re.match(r"^(.*?) \[(.*)\]$", text, re.S)
        return cls(m.group(1), m.group(2)) if m else cls(text)

    @property
    def topic(self) -> str:
        """The standalone question at the root of a chain of follow-ups, without the names an answer gave."""
        return (self.context or self.question).split(" ; ")[0]


def resolve(question: str, history: list[dict]) -> Resolved:
    """The standalone question to answer, given the earlier turns (oldest first)."""
    if not history or not is_follow_up(question):
        return Resolved(question)
    previous = history[-1]
    topic = Resolved.parse(previous["resolved_question"]).topic
    if m := _NEW_SUBJECT.match(question):
        return Resolved(_with_new_subject(topic, m.group("subject")))
    if _PERSONAL.search(question) and re.match(r"\s*(?:who|which|whom)\b", topic, re.I):
        names = _answer_names(previous)
        if names:
            return Resolved(question.rstrip(), f"{topic} ; {names[0]}")
    return Resolved(question.rstrip(), topic)


def carried_paragraphs(history: list[dict]) -> list[str]:
    """Paragraph ids that grounded the previous answer: they stay candidates for a follow-up."""
    if not history or not history[-1].get("answerable"):
        return []
    return [c["paragraph_id"] for c in history[-1].get("citations", [])]

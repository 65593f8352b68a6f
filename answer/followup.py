"""Follow-up questions read in the context of the conversation's earlier turns, without an LLM.

Resolution only decides what the turn is asking about; the same scorer then answers the standalone `Question`
it produces, so a follow-up is answered by the mechanism every question goes through:

- a new subject in the old frame ("what about india?" after "how much did canada give?", "and the Boko Haram
  consultation?"): the earlier question is asked again with the name of the same kind replaced — a country for a
  country, a date for a date, otherwise its last name (names are capitalised words, or words the bulletins write
  capitalised, so a question typed in lower case has them too);
- a question without a subject of its own, or with a pronoun for it ("How much?", "How much was it?", "Who
  organised that workshop?"): asked as it is, with the earlier question as its topic (and, after a who/which
  question, the name its answer gave, which "they" points at);
- anything else names its own subject and stands alone.

The paragraphs that grounded the previous answer stay candidates (`Question.carried`).
"""

from __future__ import annotations

import re

from index.retrieve import Corpus
from index.text import name_spans, terms, words
from answer import facts
from answer.types import Answer, Question

_ANAPHORA = re.compile(
    r"\b(?:it|its|they|them|their|theirs|that|this|those|these|he|she|his|her|there|same|such|former|latter)\b",
    re.I,
)
_PERSONAL = re.compile(r"\b(?:they|them|their|theirs|he|she|his|her)\b", re.I)
_NEW_SUBJECT = re.compile(
    r"^\s*(?:(?:and|but|also)\s+)?(?:(?:what|how)\s+about\s+|and\s+)(?P<subject>.+?)\s*\??\s*$", re.I
)
_WH_FRAME = re.compile(r"^\s*(how (?:many|much)(?: \w+)?|who|whom|when|where|which \w+|what \w+)\b", re.I)


FOLLOW_UP_TERMS = 3  # a question naming nothing (no name, no figure) in this many content words or fewer leans on the conversation


def is_follow_up(text: str, corpus: Corpus | None = None) -> bool:
    """Whether the question leans on what came before: no subject of its own ("how many people attended", "when
    was that?": a few words, no name or figure), or a pronoun standing in for it."""
    if _NEW_SUBJECT.match(text):
        return True
    own = len(terms(text))
    if own < 2 or (own <= 2 and bool(_ANAPHORA.search(text))):
        return True
    return own <= FOLLOW_UP_TERMS and not name_spans(text, _proper(corpus)) and not re.search(r"\d", text)


def resolve(text: str, earlier: list[tuple[Question, Answer]], corpus: Corpus | None = None) -> Question:
    """The standalone question to answer, given the earlier (question, answer) turns, oldest first."""
    text = text.strip()
    if not earlier or not is_follow_up(text, corpus):
        return Question(text, text)
    previous, answer = earlier[-1]
    carried = tuple(c.paragraph_id for c in answer.citations) if answer.answerable else ()
    topic = (previous.topic or previous.asked).split(" ; ")[0]
    if m := _NEW_SUBJECT.match(text):
        subject = m.group("subject")
        if previous.topic:  # "How much was it? [What did Canada fund?]" then "and India?": same ask, new topic
            return Question(text, previous.asked, with_new_subject(topic, subject, corpus), carried)
        return Question(text, with_new_subject(previous.asked, subject, corpus), None, carried)
    if _PERSONAL.search(text) and re.match(r"\s*(?:who|which|whom)\b", topic, re.I):
        name = _answer_name(previous, answer, corpus)
        if name:
            return Question(text, text, f"{topic} ; {name}", carried)
    return Question(text, text, topic, carried)


def with_new_subject(previous: str, subject: str, corpus: Corpus | None = None) -> str:
    """`previous` asked of `subject`: the name of the same kind replaced, or its wh-frame reused."""
    subject = subject.strip()
    date = facts.DATE.search(previous)
    if date and facts.DATE.search(subject):
        start, end = date.span()
        lead = re.search(r"\b(?:in|on|during)\s+$", previous[:start], re.I)
        if lead and re.match(r"(?:in|on|during)\s", subject, re.I):
            start = lead.start()
        return previous[:start] + subject + previous[end:]
    countries = list(facts.country_spans(previous))
    if facts.country_spans(subject) and countries:
        start, end = countries[-1]
        return previous[:start] + subject + previous[end:]
    spans = name_spans(previous, _proper(corpus))
    if spans:
        start, end = spans[-1]
        if previous[max(0, start - 4) : start].lower() == "the " and subject.lower().startswith("the "):
            start -= 4
        return previous[:start] + subject + previous[end:]
    frame = _WH_FRAME.match(previous)
    return f"{frame.group(1)} {subject}?" if frame else f"{subject}?"


def _proper(corpus: Corpus | None) -> frozenset[str]:
    """The words the bulletins write as names (`Corpus.proper`), which a question typed in lower case still names."""
    return corpus.proper if corpus is not None else frozenset()


def _answer_name(question: Question, answer: Answer, corpus: Corpus | None) -> str | None:
    """The first name a who/which answer gave that its question did not use: what "they" points at."""
    if not answer.answerable:
        return None
    asked = {w.lower() for w in words(question.standalone)}
    quotes = "x " + " ".join(c.quote for c in answer.citations)
    for start, end in name_spans(quotes, _proper(corpus)):
        name = quotes[start:end]
        if not {w.lower() for w in words(name)} <= asked:
            return name
    return None

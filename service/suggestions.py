"""Starter questions the widget and Slack's App Home offer before the first question: configured, or derived.

An operator who knows what visitors ask sets BQA_SUGGESTIONS. Without it, a blank box would leave a visitor
guessing what the bulletins cover, so a few questions are made from what the index itself knows: the period of
the latest bulletin, and the organisations and programmes that the bulletins name with an acronym ("UN
Counter-Terrorism Centre (UNCCT)"), the most mentioned first. Generic templates filled with names taken from the
text keep the questions on what the bulletins do cover, without running the pipeline for each candidate.
"""

from __future__ import annotations

import re
import threading

from index.retrieve import Corpus

MAX_SUGGESTIONS = 4


def _is_name(short: str, long: str) -> bool:
    """Whether an acronym names something (capitalised long form, "Joint Plan of Action"), rather than a plural
    ("FTFs") or a common-noun phrase ("countering the financing of terrorism"), which make awkward questions."""
    if re.search(r"[A-Z]s$", short):
        return False
    words = [w for w in long.split() if w[:1].isalpha() and len(w) > 3]
    return bool(words) and all(w[0].isupper() for w in words)


def _with_article(name: str) -> str:
    """Long forms of names read naturally after "the" ("What did the European Union do?"); acronyms may not
    ("What did EU do?"), so questions use the long form."""
    return name if name.lower().startswith("the ") else f"the {name}"


def _mentions(text: str, short: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(short)}(?!\w)", text) is not None


def derive(corpus: Corpus | None, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Up to `limit` questions about `corpus`: one about its latest period, then one per name, most mentioned
    first (a name's mentions are counted by its acronym, the form bulletins repeat)."""
    if corpus is None or not corpus.bulletins:
        return []
    questions = []
    dated = [b for b in corpus.bulletins.values() if b.get("period")]
    if dated:
        latest = max(dated, key=lambda b: str(b.get("period_end") or ""))
        questions.append(f"What happened in {latest['period']}?")

    texts = [f"{corpus.paragraphs[p].metadata['section']}\n{corpus.paragraphs[p].text}" for p in corpus.order]
    ranked = []
    for position, alias in enumerate(corpus.aliases.entries):  # entries are in reading order: ties keep it
        if _is_name(alias.short, alias.long):
            mentions = sum(_mentions(text, alias.short) for text in texts)
            ranked.append((-mentions, position, alias.long))
    questions += [f"What did {_with_article(long)} do?" for _, _, long in sorted(ranked)]
    return questions[:limit]


class StarterQuestions:
    """The configured questions, or those derived from the served corpus, worked out once per index generation
    (deriving scans every paragraph for every acronym). Each client (an app, a Slack bot) holds its own."""

    def __init__(self, configured: tuple[str, ...] = ()):
        self.configured = tuple(configured)
        self._derived: tuple[str | None, list[str]] | None = None  # (generation, questions)
        self._lock = threading.Lock()

    def get(self, corpus: Corpus | None) -> tuple[list[str], str]:
        """(questions, "config" or "corpus")."""
        if self.configured:
            return list(self.configured), "config"
        generation = corpus.generation if corpus is not None else None
        with self._lock:
            if self._derived is None or self._derived[0] != generation:
                self._derived = (generation, derive(corpus))
            return list(self._derived[1]), "corpus"

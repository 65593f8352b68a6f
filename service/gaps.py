"""The content-gap report: the questions the bulletins did not answer, or whose answer was rated 👎, grouped by what
they ask, the most asked first, each group with example questions and when it was last asked.

Questions are grouped by meaning, not wording: "who funded the Doha Hub?" and "who paid for the Doha Hub?" are one
gap. Each question's standalone form (a follow-up read with its conversation) is embedded with the model the index
uses (`index.embed`), and the questions are clustered by complete-linkage agglomeration on cosine similarity (scipy;
deterministic: the same questions always give the same groups), cut so that every two questions of a group are
at least SIMILARITY alike. The cut was chosen on labelled questions by `bench/gap_threshold.py` (its docstring and the
README give the data and the held-out figures).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from index.embed import embed_texts
from service.db.base import Database, GapQuestion

# Average cosine similarity (all-MiniLM-L6-v2) above which two groups of questions are one gap; chosen by
# bench/gap_threshold.py on bench/data/gap-questions.jsonl (pairwise F1 on held-out folds of information needs).
SIMILARITY = 0.55
LINKAGE = "complete"  # chosen there too, against single and average linkage: every two questions of a group are that close
EXAMPLES = 5  # distinct example questions shown per group, most recent first
REMEMBERED_VECTORS = 20_000  # question vectors kept between reports (384 floats each: about 30 MB)


@dataclass(frozen=True)
class Group:
    """One gap: questions that ask for the same thing."""

    asked: int  # times any of its questions was asked
    examples: tuple[str, ...]  # distinct questions, most recent first
    last_asked: float  # seconds since the epoch
    unanswered: int  # times answered "not in the bulletins"
    disliked: int  # times rated 👎


@dataclass(frozen=True)
class Report:
    groups: tuple[Group, ...]
    questions: int  # questions considered
    since: float  # seconds since the epoch

    def as_json(self) -> dict:
        return {
            "since": _iso(self.since), "questions": self.questions,
            "groups": [
                {"asked": g.asked, "unanswered": g.unanswered, "disliked": g.disliked,
                 "last_asked": _iso(g.last_asked), "examples": list(g.examples)}
                for g in self.groups
            ],
        }

    def csv(self) -> str:
        """One row per group, for a spreadsheet: rank, counts, last asked (UTC), examples joined by " | "."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["rank", "asked", "unanswered", "disliked", "last_asked_utc", "examples"])
        for rank, g in enumerate(self.groups, start=1):
            writer.writerow([rank, g.asked, g.unanswered, g.disliked, _iso(g.last_asked),
                             " | ".join(_spreadsheet_safe(e) for e in g.examples)])
        return out.getvalue()


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _spreadsheet_safe(text: str) -> str:
    """A question as a spreadsheet shows it, never as a formula it runs (CSV injection: "=HYPERLINK(…)")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass
class _Vectors:
    """Question vectors remembered between reports, so opening the report again costs no model passes."""

    known: OrderedDict = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        fresh = dict(zip(missing, embed_texts(missing))) if missing else {}
        with self.lock:
            self.known.update(fresh)
            rows = [self.known[t] if t in self.known else fresh[t] for t in texts]
            for text in texts:
                if text in self.known:
                    self.known.move_to_end(text)
            while len(self.known) > REMEMBERED_VECTORS:
                self.known.popitem(last=False)
        return np.asarray(rows, dtype=np.float32)


_VECTORS = _Vectors()


def cluster(vectors: np.ndarray, similarity: float = SIMILARITY, linkage: str = LINKAGE) -> list[int]:
    """A group number for each row of `vectors`: agglomerative clustering on cosine similarity, cut at
    `similarity`. Numbers follow the first row of each group, so the result does not depend on scipy's labels."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    from scipy.cluster.hierarchy import fcluster
    from scipy.cluster.hierarchy import linkage as agglomerate

    tree = agglomerate(vectors.astype(np.float64), method=linkage, metric="cosine")
    labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    first: dict[int, int] = {}
    return [first.setdefault(label, len(first)) for label in labels]


def group(questions: list[GapQuestion]) -> list[Group]:
    """`questions` (newest first) grouped by meaning, the most asked first (then the most recently asked)."""
    if not questions:
        return []
    key = [" ".join(q.resolved_question.lower().split()) for q in questions]
    distinct = list(dict.fromkeys(key))  # identical questions are one point, counted as often as they were asked
    labels = cluster(_VECTORS.of(distinct))
    label_of = dict(zip(distinct, labels))
    members: dict[int, list[GapQuestion]] = {}
    for k, question in zip(key, questions):
        members.setdefault(label_of[k], []).append(question)
    groups = []
    for asked in members.values():
        examples = list(dict.fromkeys(q.question.strip() for q in asked))[:EXAMPLES]
        groups.append(Group(
            asked=len(asked), examples=tuple(examples), last_asked=max(q.asked for q in asked),
            unanswered=sum(q.unanswered for q in asked), disliked=sum(q.disliked for q in asked),
        ))
    return sorted(groups, key=lambda g: (-g.asked, -g.last_asked))


def report(db: Database, days: int, limit: int) -> Report:
    """The gaps of the last `days` days, over at most `limit` questions (the newest)."""
    since = time.time() - days * 86400
    questions = db.gap_questions(since, limit)
    return Report(tuple(group(questions)), len(questions), since)

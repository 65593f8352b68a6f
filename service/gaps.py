"""The content-gap report: the questions the bulletins did not answer, or whose answer was rated 👎, grouped by what
they ask, the most asked first, each group with example questions and when it was last asked.

Questions are grouped by meaning, not wording: "who funded the Doha Hub?" and "who paid for the Doha Hub?" are one
gap. Each question's standalone form (a follow-up read with its conversation) is embedded with the model the index
uses (`index.embed`), and the questions are clustered by complete-linkage agglomeration on cosine similarity
(`fastcluster`, whose merges are scipy's `linkage`'s without scipy's 140 MB; deterministic: the same questions
always give the same groups), cut so that every two questions of a group are at least SIMILARITY alike. The cut was chosen on labelled questions by `bench/gap_threshold.py` (its docstring and the
README give the data and the held-out figures).
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass

import numpy as np

from index.embed import MODEL_ID, embed_texts
from service.db.base import Database, GapQuestion

# Cosine similarity (all-MiniLM-L6-v2, the shipped 7-bit-weight ONNX file) every two questions of a gap reach; chosen by
# bench/gap_threshold.py on bench/data/gap-questions.jsonl (pairwise F1 on held-out folds of information needs).
SIMILARITY = 0.54
LINKAGE = "complete"  # chosen there too, against single and average linkage: every two questions of a group are that close
EXAMPLES = 5  # distinct example questions shown per group, most recent first


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


def cluster(vectors: np.ndarray, similarity: float = SIMILARITY, linkage: str = LINKAGE) -> list[int]:
    """A group number for each row of `vectors`: agglomerative clustering on cosine similarity, cut at
    `similarity` (the groups of scipy's `fcluster(…, criterion="distance")`). Numbers follow the first row of each
    group, so the result does not depend on the order of the merges."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    import fastcluster

    n = len(vectors)
    unit = vectors.astype(np.float64) / np.linalg.norm(vectors, axis=1, keepdims=True)
    distances = 1.0 - (unit @ unit.T)[np.triu_indices(n, 1)]  # cosine, condensed as scipy's pdist gives it
    tree = fastcluster.linkage(distances, method=linkage)
    members = {row: [row] for row in range(n)}  # cluster id (a row, or n + the merge's step) -> its rows
    for step, (a, b, distance, _) in enumerate(tree):  # merges by increasing distance (no inversions in
        if distance > 1.0 - similarity:  # single, complete or average linkage): the rest are farther apart
            break
        members[n + step] = members.pop(int(a)) + members.pop(int(b))
    label = {row: number for number, rows in enumerate(members.values()) for row in rows}
    first: dict[int, int] = {}
    return [first.setdefault(label[row], len(first)) for row in range(n)]


def _key(question: GapQuestion) -> str:
    return " ".join(question.resolved_question.lower().split())


def vectors(questions: list[GapQuestion]) -> tuple[dict[str, np.ndarray], list[tuple[str, int, bytes]]]:
    """(distinct question -> its vector, the vectors computed now by (conversation, turn)). Vectors already kept
    in the database are reused, so a question is embedded once, however often the report is opened; one kept by
    another embedding model is computed again rather than compared with this model's."""
    known = {_key(q): np.frombuffer(q.vector, dtype=np.float32) for q in questions if _current(q)}
    missing = list(dict.fromkeys(_key(q) for q in questions if _key(q) not in known))
    for text, vector in zip(missing, embed_texts(missing) if missing else []):
        known[text] = np.asarray(vector, dtype=np.float32)
    fresh = [(q.conversation_id, q.turn, known[_key(q)].tobytes()) for q in questions if not _current(q)]
    return known, fresh


def _current(question: GapQuestion) -> bool:
    """Whether the question's kept vector was computed by the model embedding now."""
    return question.vector is not None and question.vector_model == MODEL_ID


def group(questions: list[GapQuestion], vectors_of: dict[str, np.ndarray] | None = None) -> list[Group]:
    """`questions` (newest first) grouped by meaning, the most asked first (then the most recently asked)."""
    if not questions:
        return []
    if vectors_of is None:
        vectors_of = vectors(questions)[0]
    key = [_key(q) for q in questions]
    distinct = list(dict.fromkeys(key))  # identical questions are one point, counted as often as they were asked
    labels = cluster(np.stack([vectors_of[k] for k in distinct]))
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
    known, fresh = vectors(questions)
    if fresh:
        db.save_gap_vectors(fresh, MODEL_ID)
    return Report(tuple(group(questions, known)), len(questions), since)

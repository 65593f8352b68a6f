"""`bqa eval`: score the service on a question set in the format of shared/eval/dev.jsonl.

Each line is a conversation: its turns are asked in order in one conversation. Scores: accuracy (answerable turns
whose answer holds every `must_include`), citation (answerable turns whose `evidence` occurs in a cited paragraph),
abstention (unanswerable turns answered with `answerable: false`) and latency p50/p95 of whole asks, overall and
per kind of question (the turn's `kind` when the set gives one, else the kind of fact it asks for), with the mean
`confidence` of right answers, wrong answers and unanswerable turns. Expected answers are matched as whole words
after SQuAD's normalisation (lower case, punctuation and the articles a/an/the removed), so "10" does not match
"100" and "P" does not match every answer. With an
LLM configured, `bqa eval` runs the set twice, extractive only and with the LLM, and prints both side by side: the
LLM path is worth having only where it scores at least as well, and its latency is the price.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from answer import Question
from index.text import clean_markdown, fold

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PUNCTUATION = re.compile(r"(?!(?<=\d)[.\-–](?=\d))[^\w\s]|_")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalise(text: str) -> str:
    """SQuAD's answer normalisation (lower case; punctuation and a/an/the removed; white space folded), with
    punctuation made a space rather than deleted, so "(US$1,139,987)" keeps "1139987" as a word of its own. A
    thousands separator, a decimal point and a range's dash between digits stay part of their number ("1,061" is
    "1061", "16-18 March" does not hold "18 March")."""
    text = _THOUSANDS.sub("", fold(clean_markdown(text)))
    return " ".join(_ARTICLES.sub(" ", _PUNCTUATION.sub(" ", text)).split())


def includes(answer: str, expected: str) -> bool:
    """Whether `answer` holds `expected` as whole words; `expected` may offer alternatives: "1,061|1061"."""
    said = f" {normalise(answer)} "
    return any(f" {normalise(option)} " in said for option in expected.split("|") if normalise(option))


@dataclass
class Report:
    answerable: int = 0
    accurate: int = 0
    cited: int = 0
    unanswerable: int = 0
    abstained: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    answerers: Counter = field(default_factory=Counter)  # which path produced each answer
    removed_sentences: int = 0  # LLM sentences the citation check took out
    by_kind: dict = field(default_factory=lambda: defaultdict(Counter))  # kind -> outcome counts
    confidences: dict = field(default_factory=lambda: defaultdict(list))  # outcome -> confidences

    def as_json(self) -> dict:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        ordered = sorted(self.latencies_ms)
        return {
            "accuracy": share(self.accurate, self.answerable),
            "citation": share(self.cited, self.answerable),
            "abstention": share(self.abstained, self.unanswerable),
            "answerable_turns": self.answerable,
            "unanswerable_turns": self.unanswerable,
            "latency_ms": {
                "p50": round(statistics.median(ordered), 1) if ordered else None,
                "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1) if ordered else None,
            },
            "answerers": dict(self.answerers),
            "removed_sentences": self.removed_sentences,
            "by_kind": {
                kind: {
                    "accuracy": share(c["accurate"], c["answerable"]), "answerable_turns": c["answerable"],
                    "abstention": share(c["abstained"], c["unanswerable"]), "unanswerable_turns": c["unanswerable"],
                }
                for kind, c in sorted(self.by_kind.items())
            },
            "confidence": {
                outcome: round(statistics.mean(values), 3) for outcome, values in sorted(self.confidences.items())
            },
            "failures": self.failures,
        }

    def table(self) -> str:
        data = self.as_json()

        def pct(value):
            return "n/a" if value is None else f"{value:.0%}"

        lines = [
            f"accuracy    {pct(data['accuracy'])}  ({self.accurate}/{self.answerable} answerable turns)",
            f"citation    {pct(data['citation'])}  ({self.cited}/{self.answerable})",
            f"abstention  {pct(data['abstention'])}  ({self.abstained}/{self.unanswerable} unanswerable turns)",
            f"latency     p50 {data['latency_ms']['p50']} ms, p95 {data['latency_ms']['p95']} ms",
        ]
        if data["confidence"]:
            lines.append("confidence  " + ", ".join(f"{k} {v:.2f}" for k, v in data["confidence"].items()))
        lines.append("by kind     accuracy        abstention")
        for kind, row in data["by_kind"].items():
            lines.append(
                f"  {kind:<10}{_ratio(row['accuracy'], row['answerable_turns']):<16}"
                f"{_ratio(row['abstention'], row['unanswerable_turns'])}"
            )
        return "\n".join(lines + self._failure_lines())

    def _failure_lines(self, label: str = "") -> list[str]:
        return [
            f"  FAIL{label} {f['id']} turn {f['turn']}: {f['question']!r} -> {f['why']}" for f in self.failures
        ]

    def rows(self) -> dict[str, str]:
        data = self.as_json()

        def pct(value, part, whole):
            return "n/a" if value is None else f"{value:.0%} ({part}/{whole})"

        answered = sum(self.answerers.values())
        return {
            "accuracy": pct(data["accuracy"], self.accurate, self.answerable),
            "citation": pct(data["citation"], self.cited, self.answerable),
            "abstention": pct(data["abstention"], self.abstained, self.unanswerable),
            "latency p50": f"{data['latency_ms']['p50']} ms",
            "latency p95": f"{data['latency_ms']['p95']} ms",
            "answered by llm": f"{self.answerers['llm']}/{answered} turns",
            "removed sentences": str(self.removed_sentences),
        }


def _ratio(value, whole) -> str:
    return "—" if value is None else f"{value:.0%} of {whole}"


def side_by_side(reports: dict[str, Report]) -> str:
    """One column per path ("extractive", "llm"), then each path's failures."""
    names = list(reports)
    rows = {name: report.rows() for name, report in reports.items()}
    width = max(len(value) for r in rows.values() for value in r.values()) + 2
    lines = [" " * 20 + "".join(name.ljust(width) for name in names)]
    for key in rows[names[0]]:
        lines.append(key.ljust(20) + "".join(rows[name][key].ljust(width) for name in names))
    for name, report in reports.items():
        lines += report._failure_lines(f" [{name}]")
    return "\n".join(line.rstrip() for line in lines)


def load_items(path: str | Path) -> list[dict]:
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("turns"), list) or not item["turns"]:
            raise ValueError(f"{path}:{number}: expected an object with a non-empty list of turns")
        items.append(item)
    return items


def evaluate(items: list[dict], ask: Callable[[str, str | None], dict]) -> Report:
    """Run every conversation through `ask(question, conversation_id) -> response JSON` and score it."""
    report = Report()
    for item in items:
        conversation_id = None
        for turn_number, turn in enumerate(item["turns"], start=1):
            started = time.perf_counter()
            response = ask(turn["question"], conversation_id)
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            conversation_id = response["conversation_id"]
            report.answerers[response.get("answerer", "extractive")] += 1
            report.removed_sentences += response.get("removed_sentences", 0)
            why = _judge(turn, response, report)
            _tally(turn, response, report, why)
            if why:
                report.failures.append(
                    {"id": item.get("id", "?"), "turn": turn_number, "question": turn["question"], "why": why,
                     "answer": response["answer"]}
                )
    return report


def _tally(turn: dict, response: dict, report: Report, why: str | None) -> None:
    """Count the turn under its kind, and its confidence under its outcome."""
    counts = report.by_kind[turn.get("kind") or Question(turn["question"], turn["question"]).kind]
    if turn.get("answerable", True) is False:
        counts["unanswerable"] += 1
        counts["abstained"] += response["answerable"] is False
        outcome = "unanswerable"
    else:
        counts["answerable"] += 1
        right = response["answerable"] and not (why or "").startswith(("answer lacks", "abstained"))
        counts["accurate"] += bool(right)
        outcome = "right" if right else "wrong"
    if "confidence" in response:
        report.confidences[outcome].append(float(response["confidence"]))


def _judge(turn: dict, response: dict, report: Report) -> str | None:
    """Count the turn in `report`; the reason it failed, or None."""
    if turn.get("answerable", True) is False:
        report.unanswerable += 1
        if response["answerable"] is False:
            report.abstained += 1
            return None
        return f"should abstain, answered {response['answer'][:120]!r}"
    report.answerable += 1
    reasons = []
    missing = [m for m in turn.get("must_include", []) if not includes(response["answer"], m)]
    if missing or not response["answerable"]:
        reasons.append(f"answer lacks {missing}: {response['answer'][:160]!r}" if missing else "abstained")
    else:
        report.accurate += 1
    evidence = turn.get("evidence")
    cited = evidence is None or any(
        includes(c["quote"], evidence) or includes(c["text"], evidence) for c in response["citations"]
    )
    if cited:
        report.cited += 1
    else:
        reasons.append(f"no citation holds {evidence!r}")
    return "; ".join(reasons) or None

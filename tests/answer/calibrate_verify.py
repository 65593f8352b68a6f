"""Calibrate the citation check's thresholds (`answer.verify.LEXICAL_MIN`, `COSINE_MIN`) on the dev set.

    BQA_DATA_DIR=/tmp/bqa-calibrate .venv/bin/python tests/answer/calibrate_verify.py [/path/to/dev.jsonl]

For every answerable dev question, each sentence of the extractive answer (a verbatim quote, so certainly true) is
scored against the paragraph it cites (a true citation) and against every other retrieved paragraph (what a wrong
[n] looks like). The recorded model outputs in tests/answer/cassettes/ add real paraphrases, scored against every passage
of their prompt. Thresholds must keep every true citation and reject as many wrong ones as they can; the fact
check (numbers, dates, names) rejects most wrong ones before the scores are even read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent)]

from tests.conftest import DEV_SET  # noqa: E402
from service.config import Config  # noqa: E402
from service.pipeline import BulletinQA  # noqa: E402
from answer import Question  # noqa: E402
from answer.verify import COSINE_MIN, LEXICAL_MIN, Checker, Passage  # noqa: E402


def quantiles(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "—"
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return f"min {values[0]:.2f}  p10 {pick(0.1):.2f}  median {pick(0.5):.2f}  p90 {pick(0.9):.2f}  max {values[-1]:.2f}"


def recorded_drafts() -> list[tuple[str, str]]:
    """(question, model draft) pairs from the cassettes' answer prompts."""
    pairs = []
    for cassette in sorted((HERE / "cassettes").rglob("*.yaml")):
        for interaction in yaml.safe_load(cassette.read_text())["interactions"]:
            prompt = json.loads(interaction["request"]["body"])["messages"][-1]["content"]
            if not prompt.startswith("Passages:"):  # a condensation, not an answer
                continue
            body = json.loads(interaction["response"]["body"]["string"])
            question = prompt.rsplit("Question:", 1)[1].strip()
            pairs.append((question, body["choices"][0]["message"]["content"]))
    return pairs


def main(dev_set: Path) -> None:
    qa = BulletinQA.from_config(Config.from_env())
    qa.index()
    corpus = qa.searcher.corpus()
    true, wrong = [], []
    for line in dev_set.read_text().splitlines():
        turn = json.loads(line)["turns"][0]
        if turn.get("answerable", True) is False:
            continue
        question = Question(turn["question"], turn["question"])
        hits = qa.retrieve(question, corpus)
        answer = qa.answerer.answer(question, hits, corpus)
        passages = [Passage(i, hit) for i, hit in enumerate(hits, start=1)]
        checker = Checker(passages, corpus.aliases)
        cited = {c.paragraph_id for c in answer.citations}
        for citation in answer.citations if answer.answerable else []:
            for p in passages:
                support = checker.support(citation.quote, (p.n,))
                (true if p.paragraph_id in cited else wrong).append((citation.quote, p.n, support))
    print(f"true citations ({len(true)}):")
    print("  overlap", quantiles([s.overlap for _, _, s in true]))
    print("  cosine ", quantiles([s.cosine for _, _, s in true]))
    facts_pass = [(q, n, s) for q, n, s in wrong if not s.missing]
    print(f"wrong citations ({len(wrong)}; {len(facts_pass)} pass the fact check):")
    print("  overlap", quantiles([s.overlap for _, _, s in facts_pass]))
    print("  cosine ", quantiles([s.cosine for _, _, s in facts_pass]))
    print(f"with LEXICAL_MIN={LEXICAL_MIN}, COSINE_MIN={COSINE_MIN}:")
    print(f"  true citations kept:     {sum(s.failure() is None for _, _, s in true)}/{len(true)}")
    print(f"  wrong citations kept:    {sum(s.failure() is None for _, _, s in wrong)}/{len(wrong)}")
    for quote, n, s in true:
        if s.failure():
            print(f"  LOST {quote[:70]!r} [{n}]: {s.failure()}")
    for quote, n, s in wrong:
        if s.failure() is None:
            print(f"  PASSED WRONG {quote[:70]!r} [{n}]: overlap {s.overlap:.2f} cosine {s.cosine:.2f}")
    print("\nrecorded model drafts, sentence by sentence (best passage):")
    for question, draft in recorded_drafts():
        asked = Question(question, question)
        hits = qa.retrieve(asked, corpus)
        passages = [Passage(i, hit) for i, hit in enumerate(hits, start=1)]
        topical = qa.answerer.on_topic(qa.answerer.candidates(asked, hits, corpus))  # as answer.llm checks
        on_topic = {p.n for p in passages if p.paragraph_id in topical}
        checker = Checker(passages, corpus.aliases, question, on_topic)
        for verdict in checker.check(draft).verdicts:
            best = max(checker.passages, key=lambda n: checker.support(verdict.sentence.text, (n,)).cosine)
            s = checker.support(verdict.sentence.text, (best,))
            print(f"  {verdict.sentence.text[:80]!r} [{best}] overlap {s.overlap:.2f} cosine {s.cosine:.2f}"
                  f" -> {'kept' if verdict.kept else 'removed'} {verdict.why}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEV_SET)

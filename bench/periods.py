"""Questions that name a month, over a corpus of several months: is the answer taken from that month's bulletin,
and does taking the period's words out of the question (once they are the search's filter) help or hurt?

Corpus: the seed bulletin and its copies under four other months (tests.conftest.MONTHLY). Questions: the answerable
first turns of bench/data/bulletin-questions.jsonl whose facts are the same in every copy (none about March or
India), each with " in <Month> <Year>" of a random month appended. Scored: answered, answered with every
`must_include`, and every citation from the month named.

    .venv/bin/python bench/periods.py
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import service.pipeline as pipeline  # noqa: E402
from service.config import Config  # noqa: E402
from service.pipeline import BulletinQA  # noqa: E402
from tests.conftest import MONTHLY, write_monthly_corpus  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "bulletin-questions.jsonl"


def questions(rng: random.Random) -> list[tuple[str, list[str], str]]:
    out = []
    for line in DATA.read_text().splitlines():
        turn = json.loads(line)["turns"][0]
        if not turn.get("answerable", True) or "follow_up" in turn.get("tags", []):
            continue
        if "march" in turn["question"].lower() or any(w in m.lower() for m in turn["must_include"]
                                                      for w in ("march", "india")):
            continue
        period = rng.choice(sorted(MONTHLY))
        out.append((f"{turn['question'].rstrip('? ')} in {MONTHLY[period][0]} {period[:4]}?", turn["must_include"],
                    period))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        qa = BulletinQA.from_config(Config.from_env(data_dir=root / "data", rate_limit=0,
                                                    corpus_dirs=(write_monthly_corpus(root / "corpus"),)))
        qa.index()
        asked = questions(random.Random(3))
        shipped = pipeline.without_period
        for label, strip in (("period words taken out (shipped)", shipped), ("period words left in", None)):
            pipeline.without_period = strip or (lambda question, corpus: question)
            answered = correct = in_period = 0
            for question, must, period in asked:
                response = qa.ask(question, lambda bulletin, paragraph: "")
                text = response["answer"].lower()
                right = all(any(alt.lower() in text for alt in item.split("|")) for item in must)
                answered += response["answerable"]
                correct += response["answerable"] and right
                in_period += bool(response["citations"]) and all(
                    c["bulletin_id"].endswith(period) for c in response["citations"])
            print(f"{label}: {len(asked)} questions, {answered} answered, {correct} correctly, "
                  f"{in_period} cited only from the month named")
        pipeline.without_period = shipped


if __name__ == "__main__":
    main()

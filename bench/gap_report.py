"""Time the content-gap report (`service.gaps.report`) over N stored questions: the first report embeds every
question (then keeps the vectors in the database), the next ones only cluster.

Questions are the labelled ones of bench/data (gap and bulletin questions), drawn at random with small variations
so that about half are distinct, as repeated questions are in real traffic.

    .venv/bin/python bench/gap_report.py [--questions 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.embed import warm_up  # noqa: E402
from service import gaps  # noqa: E402
from service.db.sqlite import SQLiteDatabase  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def questions() -> list[str]:
    found = [q for line in (DATA / "gap-questions.jsonl").read_text().splitlines() for q in json.loads(line)["questions"]]
    for name in ("bulletin-questions.jsonl", "synthetic-questions.jsonl"):
        found += [t["question"] for line in (DATA / name).read_text().splitlines()
                  for t in json.loads(line)["turns"]]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(1)
    pool = questions()
    warm_up()
    with tempfile.TemporaryDirectory() as scratch:
        db = SQLiteDatabase(Path(scratch) / "bqa.sqlite3", 3600)
        conversation = db.start_conversation()
        asked = [rng.choice(pool) + rng.choice(["", "", " please", " in 2021", "?"]) for _ in range(args.questions)]
        for question in asked:
            db.add_turn(conversation, {"question": question, "resolved_question": question, "answer": "",
                                       "answerable": False, "citations": [], "timing_ms": {}})
        distinct = len({" ".join(q.lower().split()) for q in asked})
        for label in ("first report (embeds)", "next report"):
            started = time.perf_counter()
            report = gaps.report(db, days=1, limit=args.questions)
            print(f"{label}: {time.perf_counter() - started:.2f} s for {report.questions} questions "
                  f"({distinct} distinct), {len(report.groups)} groups")


if __name__ == "__main__":
    main()

"""Would more training data, or a model per kind of document, help the answerer? Two held-out measurements.

`bench/train_scorer.py`'s variants have moved its fold objective by about a point each (README, Measurements).
Before writing more labelled bulletin questions, this measures what data buys, on the same training table, folds
and objective (C = 1, the shipped setting; each threshold the objective's best):

* **Learning curve**: every model trained on a share of the bulletin conversations (the same share of every
  training bulletin, drawn by a hash of the conversation id, so each smaller set is part of the larger) with all
  of SQuAD, and scored on every held-out question as usual. A curve still rising at 100 % says more questions of
  the kinds already written would help.
* **One model per kind of document**: SQuAD's Wikipedia articles and the bulletins trained and scored apart, each
  against the joint model on its own data set (each at its own best threshold). A gain says the two kinds pull
  one model apart.

    .venv/bin/python bench/data_needs.py [--cache bench/results/cache] > data_needs.json

Deterministic; about five minutes on two cores once the cache holds the indexes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_scorer as trainer  # noqa: E402  (first: it sets one BLAS thread and pins the model offline)

C = 1.0
SHARES = (0.25, 0.5, 0.75, 1.0)


def kept(row: trainer.Row, share: float) -> bool:
    """Whether a training row is in the first `share` of the bulletin conversations (SQuAD rows always are)."""
    if row.turn.dataset != "bulletins":
        return True
    digest = int(hashlib.sha1(row.turn.conversation.encode()).hexdigest(), 16)
    return digest % 1000 < share * 1000


def summary(outcomes: list[trainer.Outcome]) -> dict:
    """The objective at its best threshold, and per data set its two rates there and the confidence's AUC."""
    threshold = max(trainer.THRESHOLDS, key=lambda t: trainer.objective(outcomes, t))
    out = {"objective": round(trainer.objective(outcomes, threshold), 4), "threshold": float(threshold)}
    for name, group in trainer.by_dataset(outcomes).items():
        right, abstained = trainer.rates(group, threshold)
        out[name] = {"right": round(right, 3), "abstained": round(abstained, 3), "auc": round(trainer.auc(group), 3)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=trainer.PROJECT_ROOT / "bench" / "results" / "cache")
    args = parser.parse_args()
    rows, _, _ = trainer.table(args.cache)
    report = {"learning_curve": {}, "per_kind_of_document": {}}
    for share in SHARES:
        outcomes = trainer.held_out(rows, C, lambda row: kept(row, share))
        report["learning_curve"][str(share)] = summary(outcomes)
        trainer.log(f"bulletin share {share}: {report['learning_curve'][str(share)]}")
    joint = trainer.by_dataset(outcomes)  # the last share is all the data
    for name, group in joint.items():
        # each scored at its own best threshold, the joint model's outcomes on that data set included
        report["per_kind_of_document"][name] = {
            "joint": summary(group), "alone": summary(trainer.held_out([r for r in rows if r.turn.dataset == name], C))}
        trainer.log(f"{name}: {report['per_kind_of_document'][name]}")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

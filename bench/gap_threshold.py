"""Choose the content-gap report's clustering (linkage and similarity cut, `service.gaps`) on labelled questions.

Data: `bench/data/gap-questions.jsonl`, 50 information needs with four wordings each, written blind before any
similarity was computed: the questions a bulletin service is asked and cannot answer (subscriptions, contacts,
budgets, donors of offices, programmes), with deliberately close neighbours that are different needs ("who funds
the Rabat office" / "…the Madrid office" / "…CT Travel"; the Doha office's opening date / its staff).

Score: pairwise F1 — of the pairs of questions put in one group, the share that ask the same thing (precision), and
of the pairs that ask the same thing, the share put in one group (recall). Folds: the needs are split in 5 folds;
for each, linkage and cut are chosen on the other four folds' questions alone, then all 200 questions are clustered
together and scored on the pairs that involve a held-out question. The shipped values are chosen on all the data.

    .venv/bin/python bench/gap_threshold.py
"""

from __future__ import annotations

import json
import sys
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.embed import embed_texts  # noqa: E402
from service.gaps import cluster  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "gap-questions.jsonl"
FOLDS = 5
LINKAGES = ("single", "complete", "average")
CUTS = [round(0.30 + 0.01 * i, 2) for i in range(61)]  # 0.30 … 0.90


def pair_scores(needs: list[str], labels: list[int], counted) -> tuple[float, float, float]:
    """(precision, recall, F1) over the pairs (i, j) for which `counted(i, j)` holds."""
    together = same = both = 0
    for i, j in combinations(range(len(needs)), 2):
        if not counted(i, j):
            continue
        grouped, asked = labels[i] == labels[j], needs[i] == needs[j]
        together += grouped
        same += asked
        both += grouped and asked
    precision = both / together if together else 1.0
    recall = both / same if same else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best(needs, vectors, rows) -> tuple[str, float, float]:
    """(linkage, cut, F1) with the best F1 on `rows` clustered alone."""
    sub_needs = [needs[r] for r in rows]
    scored = []
    for linkage in LINKAGES:
        for cut in CUTS:
            labels = cluster(vectors[rows], cut, linkage)
            scored.append((pair_scores(sub_needs, labels, lambda i, j: True)[2], linkage, cut))
    f1, linkage, cut = max(scored, key=lambda s: (s[0], -abs(s[2] - 0.6)))
    return linkage, cut, f1


def main() -> None:
    groups = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    needs = [g["need"] for g in groups for _ in g["questions"]]
    texts = [q for g in groups for q in g["questions"]]
    vectors = np.asarray(embed_texts(texts), dtype=np.float32)
    order = sorted({g["need"] for g in groups})
    fold_of = {need: i % FOLDS for i, need in enumerate(order)}
    held_out = []
    for fold in range(FOLDS):
        train = [i for i, n in enumerate(needs) if fold_of[n] != fold]
        linkage, cut, train_f1 = best(needs, vectors, train)
        labels = cluster(vectors, cut, linkage)
        scores = pair_scores(needs, labels, lambda i, j: fold_of[needs[i]] == fold or fold_of[needs[j]] == fold)
        held_out.append(scores)
        print(f"fold {fold}: chose {linkage} at {cut:.2f} (train F1 {train_f1:.3f}); held-out "
              f"P {scores[0]:.3f} R {scores[1]:.3f} F1 {scores[2]:.3f}")
    mean = np.mean(held_out, axis=0)
    print(f"held-out mean: P {mean[0]:.3f} R {mean[1]:.3f} F1 {mean[2]:.3f}")
    linkage, cut, f1 = best(needs, vectors, list(range(len(needs))))
    print(f"on all data: {linkage} at {cut:.2f}, F1 {f1:.3f}  (ship these in service/gaps.py)")
    for name in LINKAGES:
        line = " ".join(f"{c:.2f}:{pair_scores(needs, cluster(vectors, c, name), lambda i, j: True)[2]:.2f}"
                        for c in CUTS[::5])
        print(f"  {name:8s} {line}")


if __name__ == "__main__":
    main()

"""How far apart two held-out fold objectives must be to mean anything: a bootstrap over conversations.

Every answerer variant is judged by `bench/train_scorer.py`'s fold objective, and most variants tried moved it by
about a point. This measures the noise that such a point has to beat: the same held-out outcomes (every C of the
trainer's grid, each at the threshold the trainer chose for it), resampled by conversation within each data set
(SQuAD: by question, which is its own conversation), the objective recomputed on each resample. It reports each
C's objective with its standard error and, paired on the same resamples, the difference between every two Cs:
whether the grid's winner beats the others by more than the resampling spread.

    .venv/bin/python bench/fold_noise.py [--cache bench/results/cache] [--resamples 1000]

Deterministic (a fixed seed). The threshold is chosen on the same outcomes, so each objective is a little
optimistic; the difference between two settings is what this is for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_scorer as trainer  # noqa: E402  (first: it sets one BLAS thread and pins the model offline)


def indicators(outcomes: list[trainer.Outcome], threshold: float) -> dict[str, dict[str, np.ndarray]]:
    """Per data set: each outcome's conversation, and whether it counts for each of the objective's two rates."""
    out = {}
    for name, group in trainer.by_dataset(outcomes).items():
        conversations = {c: i for i, c in enumerate(sorted({o.turn.conversation for o in group}))}
        out[name] = {
            "conversation": np.array([conversations[o.turn.conversation] for o in group]),
            "answerable": np.array([o.turn.answerable for o in group], dtype=float),
            "right": np.array([o.turn.answerable and o.correct and o.confidence >= threshold for o in group],
                              dtype=float),
            "abstained": np.array([not o.turn.answerable and o.confidence < threshold for o in group], dtype=float),
        }
    return out


def resampled_objectives(outcomes: list[trainer.Outcome], threshold: float,
                         draws: dict[str, np.ndarray]) -> np.ndarray:
    """The objective (`train_scorer.objective`) on each resample: `draws[name]` holds, per resample, how many
    times each conversation of that data set was drawn."""
    per_dataset = []
    for name, cells in indicators(outcomes, threshold).items():
        weight = draws[name][:, cells["conversation"]]  # resamples x outcomes
        answerable = weight @ cells["answerable"]
        unanswerable = weight.sum(axis=1) - answerable
        right = (weight @ cells["right"]) / np.maximum(answerable, 1)
        abstained = (weight @ cells["abstained"]) / np.maximum(unanswerable, 1)
        targets = trainer.TARGETS[name]
        per_dataset.append(np.minimum(right / targets[0], abstained / targets[1]))
    return np.mean(per_dataset, axis=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=trainer.PROJECT_ROOT / "bench" / "results" / "cache")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    rows, _, _ = trainer.table(args.cache)
    held, thresholds = {}, {}
    for C in trainer.C_GRID:
        held[C] = trainer.held_out(rows, C)
        thresholds[C] = float(max(trainer.THRESHOLDS, key=lambda t: trainer.objective(held[C], t)))
        trainer.log(f"C={C}: objective {trainer.objective(held[C], thresholds[C]):.4f} at {thresholds[C]:.2f}")

    rng = np.random.default_rng(0)
    draws = {}
    for name, group in trainer.by_dataset(held[trainer.C_GRID[0]]).items():
        n = len({o.turn.conversation for o in group})
        draws[name] = rng.multinomial(n, np.full(n, 1.0 / n), size=args.resamples).astype(float)
    samples = {C: resampled_objectives(held[C], thresholds[C], draws) for C in trainer.C_GRID}

    report = {"resamples": args.resamples, "settings": {}, "differences": {}}
    for C in trainer.C_GRID:
        report["settings"][str(C)] = {"threshold": thresholds[C],
                                      "objective": round(trainer.objective(held[C], thresholds[C]), 4),
                                      "standard_error": round(float(samples[C].std()), 4)}
    for i, a in enumerate(trainer.C_GRID):
        for b in trainer.C_GRID[i + 1:]:
            difference = samples[b] - samples[a]
            report["differences"][f"C={b} minus C={a}"] = {
                "mean": round(float(difference.mean()), 4), "standard_error": round(float(difference.std()), 4),
                "share_of_resamples_above_zero": round(float((difference > 0).mean()), 3)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

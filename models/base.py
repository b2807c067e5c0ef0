"""The model protocol, artifact metadata and safe (pickle-free) artifact I/O.

Every model follows scikit-learn's estimator contract: ``__init__`` stores hyperparameters only,
fitted state ends in ``_``, ``fit`` returns ``self``, ``predict`` never changes its input. An
artifact is a directory with ``weights.npz`` (numpy arrays, loaded with ``allow_pickle=False``)
and ``meta.json`` (name, version, backend registry name, format version, training-data hash,
metrics, and the sha256 of the weights, checked on load).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

FORMAT_VERSION = 1


class ModelError(Exception):
    """A model artifact is missing, tampered with or from an incompatible version."""


class NotInstalled(ModelError):
    """An optional backend's dependency is missing; the message names the extra to install."""


@dataclass
class ModelMeta:
    task: str
    name: str
    version: str
    backend: str  # registry name, e.g. "touchpoint.EmbeddingLogReg.v1"
    encoder: str | None = None
    labels: list[str] = field(default_factory=list)
    training_data_hash: str | None = None
    training_rows: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    weights_sha256: str | None = None

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


@runtime_checkable
class Model(Protocol):
    """What every model offers (sentiment, topics, and later emotion and intent)."""

    meta_: ModelMeta

    def fit(self, texts: list[str], y: Any = None) -> "Model": ...

    def predict(self, texts: list[str]) -> list[dict[str, Any]]: ...

    def save(self, path: str | os.PathLike) -> Path: ...


@runtime_checkable
class Encoder(Protocol):
    """Texts to L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def data_hash(texts: list[str], labels: list[Any] | None = None) -> str:
    h = hashlib.sha256()
    for i, t in enumerate(texts):
        h.update(t.encode())
        h.update(b"\x1f")
        if labels is not None:
            h.update(str(labels[i]).encode())
        h.update(b"\x1e")
    return h.hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_artifact(path: str | os.PathLike, meta: ModelMeta, arrays: dict[str, np.ndarray]) -> Path:
    """Write weights then metadata into ``path`` atomically (temp names, then rename)."""
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "weights.npz.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, d / "weights.npz")
    meta.weights_sha256 = _sha256(d / "weights.npz")
    tmpm = d / "meta.json.tmp"
    tmpm.write_text(json.dumps(asdict(meta), indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    os.replace(tmpm, d / "meta.json")
    return d


def read_artifact(path: str | os.PathLike, backend: str) -> tuple[ModelMeta, dict[str, np.ndarray]]:
    """Read and verify an artifact; refuses tampered weights and other format versions or backends."""
    d = Path(path)
    mp, wp = d / "meta.json", d / "weights.npz"
    if not mp.is_file() or not wp.is_file():
        raise ModelError(f"{d}: not a model artifact (needs meta.json and weights.npz); "
                         f"run `touchpoint models build`")
    try:
        raw = json.loads(mp.read_text(encoding="utf-8"))
        meta = ModelMeta(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ModelError(f"{mp}: unreadable metadata: {exc}") from None
    if meta.format_version != FORMAT_VERSION:
        raise ModelError(f"{d}: artifact format {meta.format_version}, this Touchpoint reads "
                         f"format {FORMAT_VERSION}; retrain with `touchpoint models build`")
    if meta.backend != backend:
        raise ModelError(f"{d}: artifact backend {meta.backend!r} cannot be loaded as {backend!r}")
    if meta.weights_sha256 != _sha256(wp):
        raise ModelError(f"{wp}: checksum mismatch with meta.json (tampered or partially written); "
                         f"rebuild the model")
    with np.load(wp, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return meta, arrays

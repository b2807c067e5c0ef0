"""The model protocol, artifact metadata and safe (pickle-free) artifact I/O.

Every model follows scikit-learn's estimator contract: ``__init__`` stores hyperparameters only,
fitted state ends in ``_``, ``fit`` returns ``self``, ``predict`` never changes its input. An
artifact is a directory with ``weights.npz`` (numpy arrays, loaded with ``allow_pickle=False``)
and ``meta.json`` (name, version, backend registry name, format version, training-data hash,
metrics, and the sha256 of the weights, checked on load).

Writing and reading weights with their pins (encoder fingerprint, library versions) lives in
``models/artifacts.py``: it needs the encoders, and this module imports nothing from ``models``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from importlib import metadata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

FORMAT_VERSION = 1
CX_TASKS = ("emotion", "effort", "intent")  # the per-turn CX models (models/heads/cx.py builds them)


class ModelError(Exception):
    """A model artifact is missing, tampered with or from an incompatible version."""


class NotInstalled(ModelError):
    """An optional backend's dependency is missing; the message names the extra to install."""


class DataError(ModelError):
    """A labelled training or evaluation file is malformed; the message names file, line and field."""


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
    pins: dict[str, Any] = field(default_factory=dict)

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


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file, read in chunks (weights can be hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def swap_dir(tmp: Path, out: Path) -> None:
    """Move a freshly written directory into place, replacing ``out`` without a moment where it is missing
    half-written (the old one is renamed aside first, then removed)."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_dir(out: Path, write: Callable[[Path], Any]) -> Any:
    """Write a directory atomically: ``write(tmp)`` fills a fresh folder beside ``out`` (readable by
    all: mkdtemp makes 0700 folders), which then replaces ``out`` (``swap_dir``). Returns what
    ``write`` returns; on failure nothing half-written is left behind."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        result = write(tmp)
        os.chmod(tmp, 0o755)
        for p in tmp.iterdir():
            os.chmod(p, 0o644)
        swap_dir(tmp, out)
        return result
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- pins ---------------------------------------------------------------------------------------
PINNED_LIBRARIES = ("numpy", "scikit-learn", "torch", "transformers")
CHECKPOINT_PREFIX = "hf-checkpoint:"  # encoder field of backends that fine-tune a checkpoint directory


def library_versions() -> dict[str, str | None]:
    """Installed versions from package metadata (no import, so torch is not loaded for a numpy model)."""
    out: dict[str, str | None] = {}
    for lib in PINNED_LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def _fingerprinted(p: Path) -> bool:
    """Weights, config and tokenizer files: what changes predictions (not notes such as touchpoint.json)."""
    return p.is_file() and (p.suffix in {".safetensors", ".bin", ".pt"} or p.name in {
        "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"})


@lru_cache(maxsize=8)
def _checkpoint_fingerprint(path: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(path).iterdir()):
        if _fingerprinted(p):
            h.update(p.name.encode() + b"\x1f")
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def checkpoint_fingerprint(path: str | os.PathLike) -> str:
    """Content hash of a checkpoint directory's files (cached by name, size and mtime)."""
    d = Path(path)
    if not d.is_dir():
        raise ModelError(f"{d}: checkpoint directory not found")
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(d.iterdir()) if _fingerprinted(p))
    return _checkpoint_fingerprint(str(d.resolve()), stamp)


def write_meta(path: str | os.PathLike, meta: ModelMeta) -> None:
    d = Path(path)
    tmpm = d / "meta.json.tmp"
    tmpm.write_text(json.dumps(asdict(meta), indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    os.replace(tmpm, d / "meta.json")


def read_meta(path: str | os.PathLike) -> ModelMeta:
    mp = Path(path) / "meta.json"
    try:
        return ModelMeta(**json.loads(mp.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ModelError(f"{mp}: unreadable metadata: {exc}") from None

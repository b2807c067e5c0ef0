"""Artifact I/O with pins: weights + metadata written atomically, verified on load.

Artifacts pin what they depend on (``meta.pins``): the encoder's name and fingerprint and the versions
of numpy, scikit-learn, torch and transformers at training time. Loading refuses an artifact whose
encoder fingerprint differs from this machine's, or whose runtime libraries changed major version,
because both silently change predictions. Separate from ``models.base`` because the fingerprint needs
the encoders (``models.encoders.core`` imports ``models.base``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from models.base import (CHECKPOINT_PREFIX, FORMAT_VERSION, ModelError, ModelMeta, _sha256, checkpoint_fingerprint,
                         library_versions, read_meta, write_meta)
from models.encoders.core import get_encoder


def encoder_fingerprint(name: str) -> tuple[str, str]:
    """(fingerprint, source) of an encoder; source is "encoder", "checkpoint" or "fallback".

    Encoders that expose no ``fingerprint`` attribute yet are pinned by name only ("fallback"): a
    changed model behind the same name then goes unnoticed, which the model card says.
    """
    if name.startswith(CHECKPOINT_PREFIX):
        return checkpoint_fingerprint(name[len(CHECKPOINT_PREFIX):]), "checkpoint"
    enc = get_encoder(name)
    fp = getattr(enc, "fingerprint", None) or getattr(getattr(enc, "backend", None), "fingerprint", None)
    if callable(fp):
        fp = fp()
    return (str(fp), "encoder") if fp else (f"name:{name}", "fallback")


def make_pins(encoder: str | None) -> dict[str, Any]:
    pins: dict[str, Any] = {"libraries": library_versions()}
    if encoder:
        fp, source = encoder_fingerprint(encoder)
        pins.update(encoder=encoder, encoder_fingerprint=fp, fingerprint_source=source)
    return pins


def _major(v: str | None) -> str | None:
    return v.split(".")[0] if v else None


def check_pins(path: Path, meta: ModelMeta, runtime_libraries: tuple[str, ...]) -> None:
    """Refuse an artifact whose encoder fingerprint or runtime library major versions changed."""
    pins = meta.pins or {}
    if not pins:
        return  # artifacts from before pinning: nothing recorded to compare
    now = library_versions()
    for lib in runtime_libraries:
        then = (pins.get("libraries") or {}).get(lib)
        if then and now.get(lib) and _major(then) != _major(now[lib]):
            raise ModelError(f"{path}: trained with {lib} {then}, this environment has {lib} {now[lib]} "
                             f"(major version changed, predictions may differ); install {lib}=={then} "
                             f"or retrain with `touchpoint models train`")
    if meta.encoder and pins.get("fingerprint_source") in ("encoder", "checkpoint"):
        fp, source = encoder_fingerprint(meta.encoder)
        if source == pins["fingerprint_source"] and fp != pins.get("encoder_fingerprint"):
            raise ModelError(f"{path}: trained on encoder {meta.encoder} with fingerprint "
                             f"{pins.get('encoder_fingerprint')}, but this machine's has fingerprint {fp}; "
                             f"its embeddings differ, so retrain with `touchpoint models train` "
                             f"(or restore the encoder it was trained with)")


def write_artifact(path: str | os.PathLike, meta: ModelMeta, arrays: dict[str, np.ndarray]) -> Path:
    """Write weights then metadata into ``path`` atomically (temp names, then rename); stamps pins."""
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "weights.npz.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, d / "weights.npz")
    meta.weights_sha256 = _sha256(d / "weights.npz")
    if not meta.pins:
        meta.pins = make_pins(meta.encoder)
    write_meta(d, meta)
    return d


def read_artifact(path: str | os.PathLike, backend: str,
                  runtime_libraries: tuple[str, ...] = ("numpy",)) -> tuple[ModelMeta, dict[str, np.ndarray]]:
    """Read and verify an artifact; refuses tampered weights, other format versions or backends, and
    pinned dependencies that changed (see ``check_pins``)."""
    d = Path(path)
    mp, wp = d / "meta.json", d / "weights.npz"
    if not mp.is_file() or not wp.is_file():
        raise ModelError(f"{d}: not a model artifact (needs meta.json and weights.npz); "
                         f"run `touchpoint models build`")
    meta = read_meta(d)
    if meta.format_version != FORMAT_VERSION:
        raise ModelError(f"{d}: artifact format {meta.format_version}, this Touchpoint reads "
                         f"format {FORMAT_VERSION}; retrain with `touchpoint models build`")
    if meta.backend != backend:
        raise ModelError(f"{d}: artifact backend {meta.backend!r} cannot be loaded as {backend!r}")
    if meta.weights_sha256 != _sha256(wp):
        raise ModelError(f"{wp}: checksum mismatch with meta.json (tampered or partially written); "
                         f"rebuild the model")
    check_pins(d, meta, runtime_libraries)
    with np.load(wp, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return meta, arrays

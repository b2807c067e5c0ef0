"""Topic assignment: a curated hierarchical multilingual taxonomy, plus discovery of what it misses.

``touchpoint.TaxonomyTopics.v1``: each sentence gets the taxonomy node (a parent such as ``delivery``
or a leaf such as ``delivery.late``) whose seed sentences it is most similar to (cosine on the shared
encoder, max over a node's seeds), plus a small bonus when one of the node's or its parent's
keywords occurs; below the threshold, or less than ``min_margin`` above the median of its scores
over all topics, it is "other". The margin adapts to each sentence: the encoder's similarities run
higher in some languages (Chinese) than others and short fragments sit close to every topic, so one
cosine cut-off is too loose for one and too strict for another. The threshold can also be set per
language (``language_thresholds``, read from the script by ``script_language``, since ``predict``
gets texts only). ``predict`` returns the parent as ``topic`` and the node as ``subtopic``, so every consumer of ``topic`` keeps the stable top-level ids. A flat
taxonomy (no dotted ids) behaves exactly as before: the artifact format did not change, so old
artifacts load and predict the same, which is why the registry name stays ``.v1``.

Discovery of what the taxonomy misses: ``discover_topics`` (one-off KMeans, kept for ad hoc use) and
``run_discovery`` (nightly, stateful): sentences join an existing discovered topic by nearest
centroid in language-centred space (no refit), leftovers are clustered into proposed new topics
whose ids never change afterwards, and the rest are outliers, reported per language.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from configs import Taxonomy
from models.artifacts import read_artifact, write_artifact
from models.base import ModelError, ModelMeta
from models.encoders.core import DEFAULT_ENCODER, get_encoder

BACKEND = "touchpoint.TaxonomyTopics.v1"
OTHER = "other"


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_ARABIC = re.compile(r"[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
_PERSIAN = re.compile(r"[\u067e\u0686\u0698\u06af\u06a9\u06cc]")  # پ چ ژ گ ک ی
_ARABIC_ONLY = re.compile(r"[\u0629\u0623\u0625]")  # ة أ إ
_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc"})  # Arabic ي ك ى -> Persian


def script_language(text: str) -> str | None:
    """The language a text's script implies, for per-language thresholds: Han -> zh (with kana: ja),
    Hangul -> ko, Arabic script -> fa (ar when it has an Arabic-only letter, ة أ إ, and no Persian
    one, پ چ ژ گ ک ی: Persian reviews are often typed with Arabic yeh and kaf); None otherwise
    (Latin script: en, it, de... share the default threshold, they cannot be told apart by script)."""
    if _HAN.search(text):
        return "ja" if _KANA.search(text) else "zh"
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _ARABIC.search(text):
        return "ar" if _ARABIC_ONLY.search(text) and not _PERSIAN.search(text) else "fa"
    return None


def _fold(text: str) -> str:
    """Lower case, and Persian text written with Arabic yeh/kaf (common in reviews) in Persian letters."""
    return text.lower().translate(_FOLD)


def parent_of(topic_id: str) -> str:
    """``delivery.late`` -> ``delivery``; a parent (or "other") is its own parent."""
    return topic_id.split(".", 1)[0]


class TaxonomyTopics:
    def __init__(self, encoder: str = DEFAULT_ENCODER, threshold: float = 0.86,
                 keyword_bonus: float = 0.04, name: str = "topics-taxonomy",
                 min_margin: float | None = None, language_thresholds: dict[str, float] | None = None):
        self.encoder = encoder
        self.threshold = threshold
        self.keyword_bonus = keyword_bonus
        self.name = name
        # None: the taxonomy's values at fit() when this model uses the taxonomy's own threshold; they
        # were calibrated with it on the default encoder, so a model fitted at another threshold (the
        # fast tier's, calibrated for static vectors) gets no margin and no per-language thresholds
        self.min_margin = min_margin
        self.language_thresholds = language_thresholds

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
        own = {t.id: {w.lower() for ws in t.keywords.values() for w in ws} for t in taxonomy.topics}
        # a parent's keywords count for its leaves too: the bonus then ranks families, seeds rank leaves
        self.keywords_ = [sorted(own[t.id] | own.get(parent_of(t.id), set())) for t in taxonomy.topics]
        own_calibration = self.threshold == getattr(taxonomy, "threshold", None)
        if self.min_margin is None:
            self.min_margin = float(getattr(taxonomy, "min_margin", 0.0) or 0.0) if own_calibration else 0.0
        if self.language_thresholds is None:
            lt = getattr(taxonomy, "language_thresholds", None) or {}
            self.language_thresholds = dict(sorted(lt.items())) if own_calibration else {}
        self.seed_vecs_ = get_encoder(self.encoder).encode(seeds)
        self.seed_owner_ = np.asarray(owner, dtype=np.int32)
        hyper = {"threshold": self.threshold, "keyword_bonus": self.keyword_bonus}
        if self.min_margin:  # only when set, so a model without them hashes (and loads) as before
            hyper["min_margin"] = self.min_margin
        if self.language_thresholds:
            hyper["language_thresholds"] = dict(self.language_thresholds)
        extra = {k: v for k, v in hyper.items() if k not in ("threshold", "keyword_bonus")}
        payload = json.dumps([taxonomy.model_dump(exclude={"discovery"}), self.encoder, self.threshold,
                              self.keyword_bonus] + ([extra] if extra else []), sort_keys=True, ensure_ascii=False)
        dh = hashlib.sha256(payload.encode()).hexdigest()[:16]
        self.meta_ = ModelMeta(
            task="topics", name=self.name, version=f"{taxonomy.version}.{dh[:8]}", backend=BACKEND,
            encoder=self.encoder, labels=self.topic_ids_ + [OTHER], training_data_hash=dh,
            training_rows=len(seeds), hyperparameters=hyper,
        )
        return self

    def scores_from_embeddings(self, X: np.ndarray, texts: list[str], chunk: int = 20_000) -> np.ndarray:
        """(n, topics) similarity matrix including keyword bonuses (rows in chunks: memory stays flat)."""
        self._check_fitted()
        n_topics = len(self.topic_ids_)
        if X.shape[0] == 0:
            return np.zeros((0, n_topics), dtype=np.float32)
        order = np.argsort(self.seed_owner_, kind="stable")
        owner = self.seed_owner_[order]
        V = np.ascontiguousarray(self.seed_vecs_[order], dtype=np.float32)
        has = np.unique(owner)  # topics with seeds (a parent may have none)
        starts = np.searchsorted(owner, has)
        S = np.full((X.shape[0], n_topics), -1.0, dtype=np.float32)
        for a in range(0, X.shape[0], chunk):
            sims = np.asarray(X[a:a + chunk], dtype=np.float32) @ V.T
            S[a:a + chunk, has] = np.maximum.reduceat(sims, starts, axis=1)
        if self.keyword_bonus:
            for i, ks in enumerate(self._keyword_hits(texts)):
                if ks:
                    S[i, ks] += self.keyword_bonus
        return S

    def _keyword_hits(self, texts: list[str]) -> list[list[int]]:
        """Per text, the topics one of whose keywords occurs in it (case-insensitive substring).

        One Aho-Corasick pass (pyahocorasick) over the folded text finds every keyword occurrence,
        overlapping ones included: linear in the text, whatever the number of keywords."""
        if not hasattr(self, "_kw_index"):
            import ahocorasick

            owners: dict[str, set[int]] = {}
            for k, kws in enumerate(self.keywords_):
                for w in kws:
                    w = _fold(w)
                    if w:
                        owners.setdefault(w, set()).add(k)
            automaton = None
            if owners:
                automaton = ahocorasick.Automaton()
                for w, ks in owners.items():
                    automaton.add_word(w, frozenset(ks))
                automaton.make_automaton()
            self._kw_index = automaton
        automaton = self._kw_index
        if automaton is None:
            return [[] for _ in texts]
        out = []
        for t in texts:
            found = {ks for _end, ks in automaton.iter(_fold(t))}
            out.append(sorted(set().union(*found)) if found else [])
        return out

    def thresholds_for(self, texts: list[str]) -> np.ndarray:
        """The threshold each text is judged by: its script's language threshold, else ``threshold``."""
        lt = self.language_thresholds or {}
        if not lt:
            return np.full(len(texts), self.threshold, dtype=np.float32)
        return np.asarray([lt.get(script_language(t) or "", self.threshold) for t in texts], dtype=np.float32)

    def decide(self, S: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(best node index, its score, assigned?) per row of a ``scores_from_embeddings`` matrix.

        Assigned when the best score reaches the text's threshold and stands ``min_margin`` above the
        median of the text's scores over all topics. The margin is what separates a sentence about
        something from one about nothing (short fragments, "thanks", links sit close to every topic,
        more so in some languages than others); see the README for how it was calibrated."""
        k = S.argmax(axis=1)
        best = S[np.arange(len(S)), k]
        ok = best >= self.thresholds_for(texts)
        if self.min_margin:
            seeded = np.unique(self.seed_owner_)  # topics without seeds score -1: not part of the median
            ok &= best - np.median(S[:, seeded], axis=1) >= self.min_margin
        return k, best, ok

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: ``topic`` (parent id or "other"), ``subtopic`` (node id or "other"), ``topic_score``."""
        S = self.scores_from_embeddings(X, texts)
        if S.shape[1] == 0 or S.shape[0] == 0:
            return [{"topic": OTHER, "subtopic": OTHER, "topic_score": 0.0} for _ in texts]
        k, best, ok = self.decide(S, texts)
        out = []
        for kk, b, o in zip(k.tolist(), best.tolist(), ok.tolist()):
            node = self.topic_ids_[kk] if o else OTHER
            out.append({"topic": parent_of(node), "subtopic": node, "topic_score": round(b, 4)})
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
        m.min_margin = float(m.min_margin or 0.0)  # artifacts from before the margin and language thresholds
        m.language_thresholds = dict(m.language_thresholds or {})
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

        jieba.setLogLevel(logging.WARNING)  # not "Building prefix dict..." on every process's first use
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


# --------------------------------------------------------------------------------------------- nightly
def centre(X: np.ndarray, languages: list[str], means: dict[str, np.ndarray]) -> np.ndarray:
    """Subtract each language's mean vector and re-normalise (multilingual encoders cluster by language).

    A language without a mean (see ``estimate_language_means``) gets the average of the known means."""
    Z = X.astype(np.float64).copy()
    langs = np.asarray(languages)
    fallback = np.mean(list(means.values()), axis=0) if means else None
    for lang in np.unique(langs):
        mu = means.get(str(lang), fallback)
        if mu is not None:
            Z[langs == lang] -= mu
    Z /= np.linalg.norm(Z, axis=1, keepdims=True).clip(min=1e-9)
    return Z


def estimate_language_means(means: dict[str, np.ndarray], X: np.ndarray, languages: list[str],
                            min_rows: int = 5) -> dict[str, np.ndarray]:
    """Stored means plus an estimate for each other language with ``min_rows`` rows in the batch.

    A raw batch mean would also hold the batch's topic mix (a night of mostly lift complaints
    would centre the lift theme away). So a new language's mean is its batch mean minus the topic
    mix of the known languages' rows in the same batch (their centred mean): the estimate assumes
    the languages of one night talk about the same things. With no known language it is the raw mean.
    """
    out = {k: np.asarray(v, np.float64) for k, v in means.items()}
    langs = np.asarray(languages)
    known = np.isin(langs, list(out)) if out else np.zeros(len(langs), bool)
    mix = (np.mean([X[i] - out[langs[i]] for i in np.flatnonzero(known)], axis=0) if known.any()
           else np.zeros(X.shape[1]))
    for lang in sorted(set(languages) - set(out)):
        rows = langs == lang
        if rows.sum() >= min_rows:
            out[lang] = X[rows].astype(np.float64).mean(axis=0) - mix
    return out


def freeze_language_means(means: dict[str, np.ndarray], X: np.ndarray, languages: list[str],
                          min_rows: int) -> dict[str, np.ndarray]:
    """Stored means plus the estimate of each language seen ``min_rows`` times in this batch; a
    stored mean never changes, so yesterday's centroids stay valid."""
    est = estimate_language_means(means, X, languages, min_rows)
    return {**est, **{k: np.asarray(v, np.float64) for k, v in means.items()}}


def nearest(Z: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the most similar centroid, its cosine) per row; -1 and -1.0 when there are none."""
    if len(centroids) == 0 or len(Z) == 0:
        return np.full(len(Z), -1), np.full(len(Z), -1.0)
    sims = Z @ centroids.T
    k = sims.argmax(axis=1)
    return k, sims[np.arange(len(Z)), k]


def _top_terms(groups: list[list[int]], texts: list[str], languages: list[str], n_terms: int) -> list[list[str]]:
    docs = [Counter(w for i in g for w in _terms(texts[i], languages[i])) for g in groups]
    df = Counter(term for d in docs for term in d)
    out = []
    for d in docs:
        total = sum(d.values()) or 1
        scored = sorted(((cnt / total) * np.log(1 + len(docs) / df[w]), w) for w, cnt in d.items())
        out.append([w for _, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:n_terms]])
    return out


def kmeans_labels(Z: np.ndarray, k: int, seed: int = 13, n_init: int = 4, iters: int = 50) -> np.ndarray:
    """KMeans cluster of each row: k-means++ starts from ``seed``, the lowest within-cluster sum of squares
    of ``n_init`` runs. SciPy's, not scikit-learn's: importing scikit-learn adds ~75 MB to a run's peak
    memory, and a nightly run clusters only here (bench/RESULTS.md, "Peak memory").

    ``kmeans2`` runs all ``iters`` Lloyd steps; here each run stops at the first step that leaves every
    label as it was, since from then on every step repeats it, and the k-means++ starts come from
    ``_kmeans_pp``: the labels and centres are those of ``kmeans2(X, k, iter=iters, minit="++")``, in
    less time (tests/models/test_topics_hierarchy.py)."""
    import warnings

    from scipy.cluster.vq import kmeans2

    X = np.asarray(Z, dtype=np.float64)
    rng = np.random.default_rng(seed)
    best, best_sse = None, np.inf
    for _ in range(n_init):
        with warnings.catch_warnings():  # an emptied cluster keeps its centre; the caller drops empty labels
            warnings.simplefilter("ignore")
            centres, labels = kmeans2(X, _kmeans_pp(X, k, rng), iter=1, minit="matrix")
            for _step in range(iters - 1):
                centres, new = kmeans2(X, centres, iter=1, minit="matrix")
                if np.array_equal(new, labels):
                    labels = new
                    break
                labels = new
        sse = float(((X - centres[labels]) ** 2).sum())
        if sse < best_sse:
            best, best_sse = labels, sse
    return best


def _kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The k-means++ starts SciPy's ``kmeans2(minit="++")`` draws from ``rng``, with the same draws and
    distances, but each point's distance to the nearest start kept from step to step instead of
    recomputed against every start (k times fewer distances: 0.3 s per run at 9,000 x 384, k = 16)."""
    from scipy.spatial.distance import cdist

    init = np.empty((k, X.shape[1]))
    init[0] = X[int(rng.integers(X.shape[0], dtype="int64"))]
    d2 = None
    for i in range(1, k):
        d = cdist(init[i - 1:i], X, metric="sqeuclidean")[0]
        d2 = d if d2 is None else np.minimum(d2, d)
        cum = (d2 / d2.sum()).cumsum()
        init[i] = X[int(np.searchsorted(cum, rng.uniform()))]
    return init


def propose_topics(texts: list[str], languages: list[str], Z: np.ndarray, threshold: float, min_size: int,
                   max_new: int, run_date: str, seed: int = 13, taken: set[str] | None = None,
                   n_terms: int = 5) -> list[dict[str, Any]]:
    """Cluster rows no topic took into at most ``max_new`` cohesive new topics.

    KMeans over-segments, parts whose centroids are closer than (1 + threshold) / 2 are merged, and
    a merged cluster becomes a topic when at least ``min_size`` rows lie within ``threshold`` of its
    centroid; only those rows join it (the rest stay outliers). Ids hash the run date and the top
    terms, so the same input gives the same ids, and once stored an id never changes.
    Returns [{"topic_id", "terms", "centroid", "members"}], largest first.
    """
    n = len(texts)
    if n < min_size or max_new <= 0:
        return []
    # Repetitive text gives fewer distinct points than clusters: KMeans would leave clusters empty.
    distinct = len(np.unique(Z.round(6), axis=0))
    k = max(1, min(2 * max_new, n // min_size, distinct))
    labels = kmeans_labels(Z, k, seed) if k > 1 else np.zeros(n, int)
    present = sorted(set(labels.tolist()))
    C = np.stack([Z[labels == c].mean(axis=0) for c in present])
    C /= np.linalg.norm(C, axis=1, keepdims=True).clip(min=1e-9)
    if len(C) > 1:  # KMeans over-splits on purpose; merge parts of one theme (centroids far above threshold)
        from scipy.cluster.hierarchy import fcluster, linkage

        merged = fcluster(linkage(C.astype(np.float64), method="average", metric="cosine"),
                          t=1 - (1 + threshold) / 2, criterion="distance")
        C = np.stack([C[merged == m].mean(axis=0) for m in sorted(set(merged.tolist()))])
        C /= np.linalg.norm(C, axis=1, keepdims=True).clip(min=1e-9)
    near, sim = nearest(Z, C)
    groups = []
    for c in range(len(C)):
        keep = np.flatnonzero((near == c) & (sim >= threshold))
        if len(keep) >= min_size:
            mu = Z[keep].mean(axis=0)
            groups.append((keep, mu / max(np.linalg.norm(mu), 1e-9)))
    groups.sort(key=lambda g: (-len(g[0]), int(g[0][0])))
    groups = groups[:max_new]
    if groups:  # second pass: every row within threshold of a kept topic joins its nearest one
        near, sim = nearest(Z, np.stack([g[1] for g in groups]))
        groups = [(np.flatnonzero((near == c) & (sim >= threshold)), g[1]) for c, g in enumerate(groups)]
    terms = _top_terms([g[0].tolist() for g in groups], texts, languages, n_terms)
    taken = set(taken or ())
    out = []
    for (members, mu), top in zip(groups, terms):
        tid = "dt-" + hashlib.sha1(f"{run_date}|{'|'.join(sorted(top))}".encode()).hexdigest()[:8]
        while tid in taken:  # two clusters with the same top terms stay distinct
            tid += "b"
        taken.add(tid)
        out.append({"topic_id": tid, "terms": ", ".join(top), "centroid": mu.astype(np.float32),
                    "members": members.tolist()})
    return out


def run_discovery(texts: list[str], languages: list[str], X: np.ndarray, centroids: dict[str, np.ndarray],
                  means: dict[str, np.ndarray], run_date: str, threshold: float = 0.45, min_size: int = 8,
                  max_new: int = 8, min_language_rows: int = 20, seed: int = 13) -> dict[str, Any]:
    """One night of discovery over sentences the taxonomy left as "other".

    Args:
        centroids: discovered topic id -> unit centroid in the centred space (not refitted here).
        means: frozen per-language means (new languages are added when they have enough rows).
    Returns:
        {"topic": [id or None per row], "similarity": [...], "new": [proposals], "means": {...}}
    """
    n = len(texts)
    if n == 0:
        return {"topic": [], "similarity": [], "new": [], "means": dict(means)}
    Z = centre(X, languages, estimate_language_means(means, X, languages))
    means = freeze_language_means(means, X, languages, min_language_rows)
    ids = sorted(centroids)
    C = np.stack([centroids[i] for i in ids]) if ids else np.zeros((0, Z.shape[1]))
    k, sim = nearest(Z, C)
    topic: list[str | None] = [ids[j] if s >= threshold else None for j, s in zip(k, sim)]
    similarity = [round(float(s), 4) if s >= threshold else None for s in sim]
    left = [i for i in range(n) if topic[i] is None]
    new = propose_topics([texts[i] for i in left], [languages[i] for i in left], Z[left], threshold, min_size,
                         max_new, run_date, seed, taken=set(ids))
    for p in new:
        p["members"] = [left[m] for m in p["members"]]
        for i in p["members"]:
            topic[i] = p["topic_id"]
            similarity[i] = round(float(Z[i] @ p["centroid"]), 4)
    return {"topic": topic, "similarity": similarity, "new": new, "means": means}


def representative_quotes(texts: list[str], languages: list[str], similarity: list[float | None],
                          topic: list[str | None], per_language: int = 2) -> dict[str, dict[str, list[str]]]:
    """topic id -> language -> up to ``per_language`` distinct texts closest to the centroid."""
    best: dict[str, dict[str, list[tuple[float, str]]]] = {}
    for t, lang, s, tid in zip(texts, languages, similarity, topic):
        if tid is not None:
            best.setdefault(tid, {}).setdefault(lang, []).append((-(s or 0.0), t))
    out: dict[str, dict[str, list[str]]] = {}
    for tid, by_lang in best.items():
        out[tid] = {}
        for lang, items in sorted(by_lang.items()):
            quotes = list(dict.fromkeys(t for _, t in sorted(items)))
            out[tid][lang] = quotes[:per_language]
    return out

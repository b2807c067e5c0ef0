"""Topic bench: discovery vs gold labels, taxonomy-from-gold accuracy, "other" share, scaling.

    nice -n 10 python bench/topics_bench.py --n 1000 --emb-cache /tmp/$USER/topics_emb.npz
    python bench/topics_bench.py --skip-scaling --files en_airline_tweets.csv

On ../shared/devdata (outside the repository; see its README):
- en_airline_tweets.csv (complaint reason in ``topic``, negatives only) and en_support_bitext_intents.csv
  (category in ``topic``): purity, NMI and ARI of discovered topics (``run_discovery`` over all
  sampled texts, outliers counted as one extra cluster) against the gold labels, with coverage;
  KMeans with the gold number of clusters on the same embeddings as a reference; BERTopic on the
  same embeddings when it is installed (``pip install bertopic``), else a note.
- Accuracy of taxonomy assignment when the taxonomy is written from the gold label names plus at
  most five seed texts per label (drawn from rows outside the evaluation sample).
- Share of "other" sentences under the default taxonomy on the customer-feedback files.
- Time and peak memory to assign (nearest centroid) and discover on synthetic 10k/100k vectors.
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import DEFAULT_TAXONOMY  # noqa: E402
from configs.taxonomy_schema import CxTaxonomy, DiscoveryConfig  # noqa: E402
from models.encoders import DEFAULT_ENCODER, get_encoder  # noqa: E402
from models.topics import TaxonomyTopics, nearest, run_discovery  # noqa: E402

DEVDATA = ROOT.parent / "shared" / "devdata"
GOLD_FILES = ["en_airline_tweets.csv", "en_support_bitext_intents.csv"]
FEEDBACK_FILES = {"en_airline_tweets.csv": "en", "zh_chnsenticorp_htl.csv": "zh", "fa_sentipers_original.csv": "fa",
                  "en_support_bitext_intents.csv": "en"}


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DEVDATA / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


class Embedder:
    """Encoder with an optional .npz cache keyed by text (experiments only)."""

    def __init__(self, cache: str | None):
        self.enc = get_encoder(DEFAULT_ENCODER)
        self.path = Path(cache) if cache else None
        self.store: dict[str, np.ndarray] = {}
        if self.path and self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                self.store = dict(zip(z["texts"].tolist(), z["vecs"]))

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.store})
        if missing:
            self.store.update(zip(missing, self.enc.encode(missing)))
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                keys = list(self.store)
                np.savez(self.path, texts=np.asarray(keys, dtype=str), vecs=np.stack([self.store[k] for k in keys]))
        return np.stack([self.store[t] for t in texts]).astype(np.float32)


def purity(gold: list[str], pred: list[str]) -> float:
    by = {}
    for g, p in zip(gold, pred):
        by.setdefault(p, Counter())[g] += 1
    return sum(c.most_common(1)[0][1] for c in by.values()) / len(gold)


def cluster_scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"purity": round(purity(gold, pred), 3), "nmi": round(normalized_mutual_info_score(gold, pred), 3),
            "ari": round(adjusted_rand_score(gold, pred), 3)}


def gold_sample(name: str, n: int, seed: int) -> tuple[list[dict], list[dict]]:
    rows = [r for r in read_csv(name) if r.get("topic") and r["topic"] not in ("Can't Tell",)]
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(rows))
    return [rows[i] for i in idx[:n]], [rows[i] for i in idx[n:]]


def bench_discovery(name: str, emb: Embedder, n: int, seed: int, cfg: DiscoveryConfig) -> None:
    ev, rest = gold_sample(name, n, seed)
    texts, gold = [r["text"] for r in ev], [r["topic"] for r in ev]
    X = emb(texts)
    k_gold = len(set(gold))
    t0 = time.perf_counter()
    res = run_discovery(texts, ["en"] * len(texts), X, {}, {}, "bench", cfg.assign_threshold, cfg.min_topic_size,
                        max(2 * k_gold, 8), cfg.min_language_rows, seed)
    secs = time.perf_counter() - t0
    pred = [t or "outlier" for t in res["topic"]]
    covered = [i for i, t in enumerate(res["topic"]) if t]
    print(f"\n## {name}: {len(texts)} texts, {k_gold} gold classes")
    print(f"  discovery (threshold {cfg.assign_threshold}, min size {cfg.min_topic_size}): "
          f"{len(res['new'])} topics, outliers {1 - len(covered) / len(texts):.1%}, {secs:.1f}s; "
          f"all rows {cluster_scores(gold, pred)}; covered rows "
          f"{cluster_scores([gold[i] for i in covered], [pred[i] for i in covered]) if covered else '-'}")
    from sklearn.cluster import KMeans

    Z = X - X.mean(axis=0)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k_gold, n_init=4, random_state=seed).fit_predict(Z)
    print(f"  KMeans k={k_gold} (reference, every row assigned): {cluster_scores(gold, [str(x) for x in km])}, "
          f"{time.perf_counter() - t0:.1f}s")
    bench_bertopic(texts, X, gold, seed)
    bench_taxonomy_from_gold(texts, gold, rest, emb, seed)


def bench_bertopic(texts: list[str], X: np.ndarray, gold: list[str], seed: int) -> None:
    try:
        from bertopic import BERTopic
        from umap import UMAP
    except ImportError:
        print("  BERTopic: not installed in this environment (pip install bertopic); skipped")
        return
    tracemalloc.start()
    t0 = time.perf_counter()
    model = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                     random_state=seed), min_topic_size=8)
    topics, _ = model.fit_transform(texts, X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pred = [str(t) for t in topics]
    print(f"  BERTopic (same embeddings, min_topic_size 8): {len(set(topics) - {-1})} topics, outliers "
          f"{sum(t == -1 for t in topics) / len(topics):.1%}, {cluster_scores(gold, pred)}, "
          f"{time.perf_counter() - t0:.1f}s, peak {peak / 2**20:.0f} MiB (Python heap)")


def bench_taxonomy_from_gold(texts: list[str], gold: list[str], rest: list[dict], emb: Embedder, seed: int) -> None:
    """The taxonomy an analyst would write from the label names: name + up to four example texts."""
    labels = sorted(set(gold))
    rng = np.random.default_rng(seed + 1)
    topics = []
    for lab in labels:
        pool = [r["text"] for r in rest if r["topic"] == lab]
        picks = [pool[i] for i in rng.permutation(len(pool))[:4]]
        tid = re.sub(r"[^a-z0-9]+", "_", lab.lower()).strip("_")
        tid = tid if tid[:1].isalpha() else "t_" + tid
        topics.append({"id": tid, "label": lab, "seeds": {"en": [lab.replace("_", " ").lower()] + picks}})
    tax = CxTaxonomy.model_validate({"version": "gold", "threshold": -1.0, "topics": topics})
    model = TaxonomyTopics(threshold=-1.0, keyword_bonus=0.0).fit(tax)
    pred = [p["topic"] for p in model.predict_from_embeddings(emb(texts), texts)]
    ids = {t["id"]: t["label"] for t in topics}
    acc = float(np.mean([ids[p] == g for p, g in zip(pred, gold)]))
    from sklearn.metrics import f1_score

    f1 = f1_score(gold, [ids[p] for p in pred], average="macro")
    print(f"  taxonomy from gold names + 4 examples each ({len(labels)} topics, 5 seeds max): "
          f"accuracy {acc:.3f}, macro-F1 {f1:.3f}")


def bench_other_share(emb: Embedder, n: int, seed: int) -> None:
    from pipeline.segment import split_sentences

    tax = CxTaxonomy.model_validate(__import__("yaml").safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8")))
    model = TaxonomyTopics(threshold=tax.threshold, keyword_bonus=tax.keyword_bonus).fit(tax)
    print(f"\n## 'other' share, default taxonomy ({len(tax.leaves())} leaves, threshold {tax.threshold}), "
          f"sentences of {n} sampled texts per file")
    total, other = 0, 0
    for name, lang in FEEDBACK_FILES.items():
        rows = read_csv(name)
        rng = np.random.default_rng(seed)
        texts = [rows[i]["text"] for i in rng.permutation(len(rows))[:n]]
        sents = [s for ss in split_sentences(texts, [lang] * len(texts)) for s in ss if len(s.strip()) >= 3]
        pred = model.predict_from_embeddings(emb(sents), sents)
        o = sum(p["topic"] == "other" for p in pred)
        total, other = total + len(sents), other + o
        top = Counter(p["subtopic"] for p in pred if p["topic"] != "other").most_common(4)
        print(f"  {name:32} {len(sents):>5} sentences, other {o / len(sents):6.1%}; top: "
              + ", ".join(f"{t} {c}" for t, c in top))
    print(f"  {'all four files':32} {total:>5} sentences, other {other / total:6.1%}")


def bench_scaling(seed: int) -> None:
    print("\n## scaling on synthetic 384-d vectors (30 themes x 4 languages), this machine")
    rng = np.random.default_rng(seed)
    themes, langs = rng.normal(size=(30, 384)), 3 * rng.normal(size=(4, 384))
    for n in (10_000, 100_000):
        t = rng.integers(0, 30, n)
        lg = rng.integers(0, 4, n)
        X = (themes[t] + langs[lg] + 0.6 * rng.normal(size=(n, 384))).astype(np.float32)
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        L = [f"l{i}" for i in lg]
        tracemalloc.start()
        t0 = time.perf_counter()
        res = run_discovery([f"text {i}" for i in range(n)], L, X, {}, {}, "bench", 0.45, 8, 30, 20, seed)
        t_disc = time.perf_counter() - t0
        _, peak_d = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        C = np.stack([p["centroid"] for p in res["new"]]).astype(np.float64)
        t0 = time.perf_counter()
        from models.topics import centre

        nearest(centre(X, L, res["means"]), C)
        t_assign = time.perf_counter() - t0
        _, peak_a = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  n={n:>7}: discover {t_disc:6.1f}s (peak {peak_d / 2**20:5.0f} MiB, {len(res['new'])} topics); "
              f"assign {t_assign:5.2f}s (peak {peak_a / 2**20:5.0f} MiB)")
    print(f"  max RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="texts sampled per gold file")
    ap.add_argument("--n-other", type=int, default=300, help="texts sampled per file for the 'other' share")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--emb-cache", help=".npz cache of encoder vectors (experiments only)")
    ap.add_argument("--files", nargs="*", default=GOLD_FILES)
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-other", action="store_true")
    args = ap.parse_args(argv)
    if not DEVDATA.is_dir():
        print(f"skipped: {DEVDATA} is absent (development data lives outside the repository)")
        return 0
    emb = Embedder(args.emb_cache)
    cfg = DiscoveryConfig()
    for name in args.files:
        bench_discovery(name, emb, args.n, args.seed, cfg)
    if not args.skip_other:
        bench_other_share(emb, args.n_other, args.seed)
    if not args.skip_scaling:
        bench_scaling(args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

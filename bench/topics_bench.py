"""Topic bench: "other" share and precision on held-out rows, calibration on training rows, discovery
and BERTopic against gold labels, taxonomy-from-gold accuracy, and scaling.

    nice -n 10 python bench/topics_bench.py --emb-cache /tmp/$USER/topics_emb.npz          # everything
    python bench/topics_bench.py --calibrate --skip-gold --skip-scaling                   # margin table
    python bench/topics_bench.py --taxonomy old.yaml --skip-gold --skip-scaling           # other taxonomy

On ../shared/devdata (outside the repository; see its README). Each customer-feedback file is split
once into halves by a seeded permutation of its rows: TRAINING rows (calibration only) and HELD-OUT
rows (every reported "other" share and precision).

- Calibration (``--calibrate``, training rows): sentences judged by hand as topical (some taxonomy
  topic applies) or not, keyed by row id and a hash of the sentence (bench/data/topical_train.csv;
  no devdata text is stored): precision / recall of "has a topic" for threshold-only rules and for
  the margin rule (best score minus the median of the sentence's scores over all topics).
- "Other" share, held-out rows, default taxonomy: per file, sentences of the first held-out texts up
  to ``--other-sentences``; with a 95% interval, the top subtopics, agreement with the gold label
  where there is one (airline complaint reason, Bitext category: the feedback's top topic against the
  gold label's taxonomy parent), and the hand spot check of assigned sentences
  (bench/data/spotcheck_heldout.csv: judged leaf right / parent right / wrong; a judgement counts only
  while the model still assigns the judged subtopic). ``--spot-check N`` prints N random assigned
  held-out sentences per file to judge.
- Discovery vs gold (en_airline_tweets.csv: complaint reason, en_support_bitext_intents.csv:
  category): purity, NMI and ARI of ``run_discovery`` (outliers counted as one cluster), KMeans with
  the gold number of clusters, and BERTopic on the same embeddings (``pip install -e .[bench]``;
  skipped with a note where absent; it gets precomputed embeddings and ``embedding_model=None``, so
  it downloads nothing), each with time and peak memory in a child process.
- Accuracy of the taxonomy written from the gold label names with at most five seeds each.
- Scaling: time and memory to assign (taxonomy, and nearest discovered topic) and to discover on
  10k / 100k / 1M sentences (real sentence vectors and texts, repeated with noise).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import re
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import DEFAULT_TAXONOMY  # noqa: E402
from configs.taxonomy_schema import CxTaxonomy, DiscoveryConfig  # noqa: E402
from models.encoders.core import DEFAULT_ENCODER, get_encoder  # noqa: E402
from models.heads.topics import TaxonomyTopics, centre, nearest, run_discovery  # noqa: E402
from pipeline.analytics.intervals import wilson  # noqa: E402

DEVDATA = ROOT.parent / "shared" / "devdata"
JUDGED_TRAIN = ROOT / "bench" / "data" / "topical_train.csv"
SPOT_CHECK = ROOT / "bench" / "data" / "spotcheck_heldout.csv"
GOLD_FILES = ["en_airline_tweets.csv", "en_support_bitext_intents.csv"]
FEEDBACK_FILES = {"en_airline_tweets.csv": "en", "zh_chnsenticorp_htl.csv": "zh", "fa_sentipers_original.csv": "fa",
                  "en_support_bitext_intents.csv": "en"}
# gold label -> taxonomy parent it should land in (airline reasons "Can't Tell" and absent are not scored)
GOLD_PARENT = {
    "en_airline_tweets.csv": {"Late Flight": "travel", "Cancelled Flight": "travel", "Lost Luggage": "travel",
                              "Damaged Luggage": "travel", "Flight Booking Problems": "travel",
                              "Flight Attendant Complaints": "travel", "Bad Flight": "travel", "longlines": "travel",
                              "Customer Service Issue": "customer_service"},
    "en_support_bitext_intents.csv": {"ACCOUNT": "account", "ORDER": "order", "REFUND": "refund_returns",
                                      "DELIVERY": "delivery", "SHIPPING_ADDRESS": "delivery",
                                      "INVOICE": "billing_payment", "PAYMENT": "billing_payment",
                                      "CONTACT": "customer_service", "CANCELLATION_FEE": "billing_payment",
                                      "FEEDBACK": "customer_service", "NEWSLETTER": "account"},
}


def read_csv(name: str) -> list[dict[str, str]]:
    with open(DEVDATA / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def halves(name: str, seed: int) -> tuple[list[dict], list[dict]]:
    """(training rows, held-out rows): one seeded permutation of the file, cut in the middle."""
    rows = read_csv(name)
    perm = np.random.default_rng(seed).permutation(len(rows))
    h = len(rows) // 2
    return [rows[i] for i in perm[:h]], [rows[i] for i in perm[h:]]


def sentences(rows: list[dict], lang: str, limit: int) -> list[tuple[str, dict]]:
    """(sentence, its row) for the rows in order, until ``limit`` sentences: the text normalised and
    split as the pipeline does (NFKC, spaces; Persian written with Arabic yeh/kaf mapped to Persian)."""
    from pipeline.normalize import normalize_persian, normalize_text
    from pipeline.segment import split_sentences

    def norm(text: str) -> str:
        t = normalize_text(text)
        return normalize_persian(t) if lang == "fa" else t

    out: list[tuple[str, dict]] = []
    for start in range(0, len(rows), 200):
        chunk = rows[start:start + 200]
        for r, ss in zip(chunk, split_sentences([norm(r["text"]) for r in chunk], [lang] * len(chunk))):
            out += [(s, r) for s in ss if len(s.strip()) >= 3]
            if len(out) >= limit:
                return out[:limit]
    return out


class Embedder:
    """Encoder with an optional .npz cache keyed by text (experiments only)."""

    def __init__(self, cache: str | None):
        self.enc = get_encoder(DEFAULT_ENCODER)
        self.path = Path(cache) if cache else None
        self.store: dict[str, np.ndarray] = {}
        self.encoded = 0
        self.seconds = 0.0
        if self.path and self.path.is_file():
            with np.load(self.path, allow_pickle=False) as z:
                self.store = dict(zip(z["texts"].tolist(), z["vecs"]))

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.store})
        if missing:
            t0 = time.perf_counter()
            self.store.update(zip(missing, self.enc.encode(missing)))
            self.seconds += time.perf_counter() - t0
            self.encoded += len(missing)
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                keys = list(self.store)
                np.savez(self.path, texts=np.asarray(keys, dtype=str), vecs=np.stack([self.store[k] for k in keys]))
        if not texts:
            return np.zeros((0, self.enc.dim), dtype=np.float32)
        return np.stack([self.store[t] for t in texts]).astype(np.float32)


def load_taxonomy(path: Path) -> CxTaxonomy:
    import yaml

    return CxTaxonomy.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def taxonomy_model(tax: CxTaxonomy, emb: Embedder) -> TaxonomyTopics:
    """The model ``touchpoint models build`` fits (seed vectors through the bench cache)."""
    seeds = sorted({s for t in tax.topics for ss in t.seeds.values() for s in ss})
    get_encoder(DEFAULT_ENCODER)._cache.update(zip(seeds, emb(seeds)))  # noqa: SLF001 - bench shortcut
    return TaxonomyTopics(threshold=tax.threshold, keyword_bonus=tax.keyword_bonus).fit(tax)


def measured(fn: Callable[[], Any], warmup: Callable[[], Any] | None = None) -> tuple[Any, float, float]:
    """Run ``fn`` in a forked child: (its result, seconds, peak RSS growth in MiB over the child's start).

    RSS growth counts what numpy, BLAS, numba and C extensions allocate (tracemalloc would miss
    some of it and slow Python loops down). ``warmup`` runs first in the child, untimed (the parent
    must not start OpenMP threads: a fork after that aborts)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def child() -> None:
        if warmup is not None:
            warmup()
        rss0 = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        t0 = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            out = exc
        secs = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        send.send((out, secs, max(0.0, peak - rss0)))

    p = ctx.Process(target=child)
    p.start()
    res = recv.recv()
    p.join()
    if isinstance(res[0], Exception):
        raise res[0]
    return res


# --------------------------------------------------------------------------------------------- calibration
def bench_calibration(model: TaxonomyTopics, emb: Embedder, seed: int) -> None:
    judged: dict[str, dict[tuple[str, str], int]] = {}
    with open(JUDGED_TRAIN, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            judged.setdefault(r["file"], {})[(r["row_id"], r["sentence_sha1"])] = int(r["topical"])
    print("\n## calibration on TRAINING rows: sentences judged topical (some taxonomy topic applies) or not")
    print("  rule: assigned when best >= threshold [and best - median over topics >= margin]; "
          "P = share of assigned that are topical, R = share of topical assigned")
    print(f"  shipped: threshold {model.threshold}, margin {model.min_margin}, "
          f"language thresholds {model.language_thresholds or 'none'}")
    rules = [(t, 0.0) for t in (0.84, 0.86, 0.88, 0.90)] + [(model.threshold, m) for m in (0.03, 0.035, 0.04, 0.045, 0.05)]
    header = "  " + f"{'file':28} {'n':>4} {'topical':>7}  " + "  ".join(
        f"{'t' + format(t, '.2f') + ('' if not m else ' m' + format(m, '.3f')):>17}" for t, m in rules)
    print(header)
    for name, keys in judged.items():
        train, _ = halves(name, seed)
        sents = [(s, r) for s, r in sentences(train, FEEDBACK_FILES[name], 10**9)
                 if (r["id"], sha(s)) in keys] if keys else []
        if not sents:
            continue
        texts = [s for s, _ in sents]
        y = np.asarray([keys[(r["id"], sha(s))] for s, r in sents])
        S = model.scores_from_embeddings(emb(texts), texts)
        best = S.max(axis=1)
        margin = best - np.median(S[:, np.unique(model.seed_owner_)], axis=1)
        cells = []
        for t, m in rules:
            a = (best >= t) & (margin >= m)
            p = y[a].mean() if a.any() else float("nan")
            cells.append(f"P {p:.2f} R {(a & (y == 1)).sum() / max(1, y.sum()):.2f}")
        print(f"  {name:28} {len(y):>4} {y.mean():>7.0%}  " + "  ".join(f"{c:>17}" for c in cells))


# --------------------------------------------------------------------------------------------- other share
def load_spot_check() -> dict[tuple[str, str, str, str], str]:
    """(file, row id, sentence hash, assigned subtopic) -> verdict: leaf, parent (only the parent right), wrong."""
    out = {}
    if SPOT_CHECK.is_file():
        with open(SPOT_CHECK, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                out[(r["file"], r["row_id"], r["sentence_sha1"], r["subtopic"])] = r["verdict"]
    return out


def bench_other_share(model: TaxonomyTopics, tax: CxTaxonomy, emb: Embedder, limit: int, seed: int,
                      spot: int) -> None:
    judged = load_spot_check()
    print(f"\n## 'other' share on HELD-OUT rows ({len(tax.parents())} parents / {len(tax.leaves())} leaves, "
          f"threshold {model.threshold}, margin {model.min_margin}), up to {limit} sentences per file")
    total = other = 0
    for name, lang in FEEDBACK_FILES.items():
        _, held = halves(name, seed)
        sents = sentences(held, lang, limit)
        texts = [s for s, _ in sents]
        pred = model.predict_from_embeddings(emb(texts), texts)
        o = sum(p["topic"] == "other" for p in pred)
        total, other = total + len(sents), other + o
        lo, hi = wilson(o, len(sents))
        top = Counter(p["subtopic"] for p in pred if p["topic"] != "other").most_common(4)
        topical_texts = {r["id"] for (_, r), p in zip(sents, pred) if p["topic"] != "other"}
        n_texts = len({r["id"] for _, r in sents})
        print(f"  {name:32} {len(sents):>4} sentences ({n_texts} texts), other "
              f"{o / len(sents):6.1%} [{lo:.1%}, {hi:.1%}]; top: " + ", ".join(f"{t} {c}" for t, c in top))
        print(f"  {'':32} texts with no topic in any sentence: {n_texts - len(topical_texts)}/{n_texts} "
              f"({1 - len(topical_texts) / n_texts:.1%})")
        if name in GOLD_PARENT:
            by: dict[str, tuple[dict, list[str]]] = {}
            for (s, r), p in zip(sents, pred):
                by.setdefault(r["id"], (r, []))[1].append(p["topic"])
            ok = n = 0
            for r, tops in by.values():
                gold = GOLD_PARENT[name].get(r.get("topic") or "")
                if gold:
                    c = Counter(t for t in tops if t != "other")
                    n += 1
                    ok += (c.most_common(1)[0][0] if c else "other") == gold
            print(f"  {'':32} gold agreement: top topic of the text = the gold label's parent for {ok}/{n} "
                  f"texts ({ok / max(1, n):.0%})")
        verdicts = Counter(judged[key] for (s, r), p in zip(sents, pred)
                           for key in [(name, r["id"], sha(s), p["subtopic"])] if key in judged)
        if verdicts:
            k = sum(verdicts.values())
            print(f"  {'':32} spot check of {k} assigned sentences judged by hand: leaf right "
                  f"{verdicts['leaf']}, only parent right {verdicts['parent']}, wrong {verdicts['wrong']} -> "
                  f"parent precision {(verdicts['leaf'] + verdicts['parent']) / k:.0%}, "
                  f"leaf precision {verdicts['leaf'] / k:.0%}")
        if spot:
            assigned = [i for i, p in enumerate(pred) if p["topic"] != "other"]
            pick = sorted(np.random.default_rng(seed).permutation(assigned)[:spot].tolist())
            for i in pick:
                s, r = sents[i]
                print(f"    SPOT {name},{r['id']},{sha(s)},{pred[i]['subtopic']},{pred[i]['topic_score']:.3f} | {s[:140]!r}")
    print(f"  {'all four files':32} {total:>4} sentences, other {other / total:6.1%}")


# --------------------------------------------------------------------------------------------- discovery
def purity(gold: list[str], pred: list[str]) -> float:
    by: dict[str, Counter] = {}
    for g, p in zip(gold, pred):
        by.setdefault(p, Counter())[g] += 1
    return sum(c.most_common(1)[0][1] for c in by.values()) / len(gold)


def cluster_scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"purity": round(purity(gold, pred), 3), "nmi": round(normalized_mutual_info_score(gold, pred), 3),
            "ari": round(adjusted_rand_score(gold, pred), 3)}


def gold_sample(name: str, n: int, seed: int) -> tuple[list[dict], list[dict]]:
    rows = [r for r in read_csv(name) if r.get("topic") and r["topic"] not in ("Can't Tell",)]
    idx = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in idx[:n]], [rows[i] for i in idx[n:]]


def bench_discovery(name: str, emb: Embedder, n: int, seed: int, cfg: DiscoveryConfig) -> None:
    ev, rest = gold_sample(name, n, seed)
    texts, gold = [r["text"] for r in ev], [r["topic"] for r in ev]
    X = emb(texts)
    k_gold = len(set(gold))
    print(f"\n## discovery vs gold: {name}, {len(texts)} texts, {k_gold} gold classes (same embeddings for all)")
    print(f"  {'method':44} {'topics':>6} {'outliers':>8} {'purity':>6} {'NMI':>5} {'ARI':>5} {'time s':>6} "
          f"{'peak MiB':>8}")

    def row(method: str, labels: list[str], outlier: str | None, secs: float, mib: float) -> None:
        sc = cluster_scores(gold, labels)
        topics = len(set(labels) - {outlier})
        out = sum(x == outlier for x in labels) / len(labels)
        print(f"  {method:44} {topics:>6} {out:>8.1%} {sc['purity']:>6.3f} {sc['nmi']:>5.3f} {sc['ari']:>5.3f} "
              f"{secs:>6.1f} {mib:>8.0f}")

    def ours() -> list[str]:
        res = run_discovery(texts, ["en"] * len(texts), X, {}, {}, "bench", cfg.assign_threshold,
                            cfg.min_topic_size, max(2 * k_gold, 8), cfg.min_language_rows, seed)
        return [t or "outlier" for t in res["topic"]]

    labels, secs, mib = measured(ours)
    row(f"ours: run_discovery (thr {cfg.assign_threshold}, min size {cfg.min_topic_size})", labels, "outlier", secs, mib)
    covered = [i for i, t in enumerate(labels) if t != "outlier"]
    if covered:
        sc = cluster_scores([gold[i] for i in covered], [labels[i] for i in covered])
        print(f"  {'  ours, rows not left as outliers':44} {'':>6} {'':>8} {sc['purity']:>6.3f} {sc['nmi']:>5.3f} "
              f"{sc['ari']:>5.3f}")

    def kmeans() -> list[str]:
        from sklearn.cluster import KMeans

        Z = X - X.mean(axis=0)
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        return [str(x) for x in KMeans(n_clusters=k_gold, n_init=4, random_state=seed).fit_predict(Z)]

    labels, secs, mib = measured(kmeans)
    row(f"KMeans, k = {k_gold} gold classes (reference)", labels, None, secs, mib)
    bench_bertopic(texts, X, row, seed, cfg.min_topic_size)
    bench_taxonomy_from_gold(texts, gold, rest, emb, seed)


def bench_bertopic(texts: list[str], X: np.ndarray, row: Callable, seed: int, min_size: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing below should download
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
        from umap import UMAP
    except ImportError as exc:
        print(f"  BERTopic: skipped, not installed ({exc.name}); `pip install -e .[bench]` adds it")
        return

    def make() -> "BERTopic":
        return BERTopic(embedding_model=None, min_topic_size=min_size, calculate_probabilities=False,
                        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                        random_state=seed),
                        hdbscan_model=HDBSCAN(min_cluster_size=min_size, metric="euclidean",
                                              cluster_selection_method="eom", prediction_data=True))

    def fit() -> list[str]:
        topics, _ = make().fit_transform(texts, X)
        return [str(t) for t in topics]

    # numba compiles UMAP and HDBSCAN on first use (tens of seconds): warmed up, untimed, on a small sample
    labels, secs, mib = measured(fit, warmup=lambda: make().fit_transform(texts[:200], X[:200]))
    row(f"BERTopic (UMAP 5-d + HDBSCAN, min size {min_size})", labels, "-1", secs, mib)


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


# --------------------------------------------------------------------------------------------- scaling
def bench_scaling(model: TaxonomyTopics, emb: Embedder, sizes: list[int], discover_max: int, seed: int) -> None:
    base_texts = sorted(emb.store)
    base = np.stack([emb.store[t] for t in base_texts]).astype(np.float32)
    langs_base = ["zh" if re.search(r"[\u4e00-\u9fff]", t) else "fa" if re.search(r"[\u0600-\u06ff]", t) else "en"
                  for t in base_texts]
    print(f"\n## scaling, this machine ({os.cpu_count()} cores, shared): {len(base)} real sentence vectors and "
          f"texts repeated with noise (cos ~0.95 to the original); encoder time not included")
    if emb.encoded:
        print(f"  (encoder measured in this run: {emb.encoded} texts in {emb.seconds:.0f}s = "
              f"{emb.encoded / emb.seconds:.1f} texts/s)")
    print(f"  {'sentences':>9}  {'step':46} {'time s':>7} {'per 1k s':>8} {'peak MiB':>8}")
    rng = np.random.default_rng(seed)
    centroids: np.ndarray | None = None
    means: dict[str, np.ndarray] = {}
    for n in sizes:
        idx = rng.integers(0, len(base), n)
        X = base[idx] + (0.33 / math.sqrt(base.shape[1])) * rng.standard_normal((n, base.shape[1]), dtype=np.float32)
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        texts = [base_texts[i] for i in idx]
        langs = [langs_base[i] for i in idx]

        def line(step: str, secs: float, mib: float) -> None:
            print(f"  {n:>9,}  {step:46} {secs:>7.1f} {1000 * secs / n:>8.3f} {mib:>8.0f}", flush=True)

        _, secs, mib = measured(lambda: len(model.predict_from_embeddings(X, texts)))
        line(f"assign taxonomy topics ({len(model.topic_ids_)} nodes, keywords, margin)", secs, mib)
        if n <= discover_max:
            res, secs, mib = measured(lambda: {k: v for k, v in run_discovery(
                texts, langs, X, {}, {}, "bench", 0.45, 8, 8, 20, seed).items() if k in ("new", "means")})
            line(f"discover (first night: {len(res['new'])} new topics)", secs, mib)
            if res["new"]:
                centroids = np.stack([p["centroid"] for p in res["new"]]).astype(np.float64)
                means = res["means"]
        if centroids is not None:
            def assign_discovered() -> int:  # in chunks of 100k rows (centring works in float64)
                return sum(len(nearest(centre(X[a:a + 100_000], langs[a:a + 100_000], means), centroids)[0])
                           for a in range(0, n, 100_000))

            _, secs, mib = measured(assign_discovered)
            line(f"assign to {len(centroids)} discovered topics (nearest centroid)", secs, mib)
        del X, texts, langs
    print("  discovery above the largest measured size is not run: the nightly flow clusters at most "
          "discovery.max_sentences (5,000) new 'other' sentences per run")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=800, help="texts sampled per gold file for discovery")
    ap.add_argument("--other-sentences", type=int, default=400, help="held-out sentences per file for the other share")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--emb-cache", help=".npz cache of encoder vectors (experiments only; keep it outside the repo)")
    ap.add_argument("--taxonomy", type=Path, default=DEFAULT_TAXONOMY)
    ap.add_argument("--files", nargs="*", default=GOLD_FILES, help="gold files for discovery")
    ap.add_argument("--calibrate", action="store_true", help="print the calibration table (training rows)")
    ap.add_argument("--spot-check", type=int, default=0, metavar="N", help="print N assigned held-out sentences per file")
    ap.add_argument("--scaling", default="10000,100000,1000000", help="sentence counts, comma-separated")
    ap.add_argument("--discover-max", type=int, default=100_000, help="largest size to run discovery on")
    ap.add_argument("--skip-gold", action="store_true")
    ap.add_argument("--skip-other", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    args = ap.parse_args(argv)
    if not DEVDATA.is_dir():
        print(f"skipped: {DEVDATA} is absent (development data lives outside the repository)")
        return 0
    emb = Embedder(args.emb_cache)
    tax = load_taxonomy(args.taxonomy)
    model = taxonomy_model(tax, emb)
    if args.calibrate:
        bench_calibration(model, emb, args.seed)
    if not args.skip_other:
        bench_other_share(model, tax, emb, args.other_sentences, args.seed, args.spot_check)
    if not args.skip_gold:
        cfg = tax.discovery
        for name in args.files:
            bench_discovery(name, emb, args.n, args.seed, cfg)
    if not args.skip_scaling:
        bench_scaling(model, emb, [int(x) for x in args.scaling.split(",") if x], args.discover_max, args.seed)
    print(f"\nmax RSS of the bench process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

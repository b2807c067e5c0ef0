"""Experiment (issue 7): map the fast tier's static vectors into the transformer's space, then score
with the transformer path's own sentiment head.

    nice -n 10 python bench/fast_alignment.py --data-dir DATA_DIR [--tune 400 --held 300]

The fast tier's own head, trained on static vectors of the package corpora (English and Chinese),
does not carry to Italian and Persian (README, Benchmark). Here a ridge map W (static -> e5, with a
bias) is fitted on unlabelled texts, and the e5-trained head reads ``normalise(static(x) @ W)``:

- ``map/corpora``: W fitted on the package-corpus texts only (what a build can do offline);
- ``map/+store``: W fitted also on unlabelled texts in every language: the devdata TRAIN side
  (hash < 0.5) stands in for the store's own text, which a nightly run has and escalates anyway;
- ``+centre``: the mapped vectors of each language shifted so their mean is the e5 mean of that
  language (estimated on the same unlabelled TRAIN texts, pooled per language);
- ``mlp/+store``: a one-hidden-layer MLP instead of the linear map, on the same texts.

Labels are read only on the held-out side (hash >= 0.5); nothing is tuned on them. Rows, splits and
scoring are bench/tier_quality.py's. Transformer vectors are cached in ``--cache``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tier_quality import devdata_rows, f1, prefill  # noqa: E402


def fit_map(Xf: np.ndarray, Xs: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression static -> e5 with an intercept: returns (W, b)."""
    mf, ms = Xf.mean(0), Xs.mean(0)
    A, B = Xf - mf, Xs - ms
    W = np.linalg.solve(A.T @ A + alpha * np.eye(A.shape[1]), A.T @ B)
    return W, ms - mf @ W


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)


def main() -> None:
    from configs import load_settings
    from models.data.corpora import load_training_set
    from models.encoders.core import DEFAULT_ENCODER, STATIC_E5_ENCODER, get_encoder
    from models.heads.sentiment import EmbeddingSentiment

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="holds models/encoders/static-e5-small and corpora/")
    p.add_argument("--slow", default=DEFAULT_ENCODER)
    p.add_argument("--tune", type=int, default=400, help="unlabelled TRAIN-side texts per file for the map")
    p.add_argument("--held", type=int, default=300)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--cache", default="/tmp/tp-tier-quality")
    args = p.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    fast = get_encoder(STATIC_E5_ENCODER, data_dir=args.data_dir)
    slow = get_encoder(args.slow)
    texts, labels, _ = load_training_set(Path(args.data_dir) / "corpora", settings.models.training_per_corpus,
                                         settings.models.seed)
    dev = devdata_rows(args.tune, args.held)
    tune = {f: [t for t, _ in parts["tune"]] for f, parts in dev.items()}
    every = texts + [t for f in dev.values() for k in ("tune", "held") for t, _ in f[k]]
    prefill(slow, every, Path(args.cache + "-" + args.slow.replace("/", "_")))

    t0 = time.perf_counter()
    head = EmbeddingSentiment(encoder=args.slow, seed=settings.models.seed).fit(texts, labels)
    fast_head = EmbeddingSentiment(encoder=STATIC_E5_ENCODER, seed=settings.models.seed).fit(texts, labels)
    print(f"heads trained in {time.perf_counter() - t0:.0f}s on {len(texts)} package-corpus rows", flush=True)

    Xf_c, Xs_c = fast.encode(texts), slow.encode(texts)
    tune_all = [t for ts in tune.values() for t in ts]
    Xf_t, Xs_t = fast.encode(tune_all), slow.encode(tune_all)
    maps = {"map/corpora": fit_map(Xf_c, Xs_c, args.alpha),
            "map/+store": fit_map(np.vstack([Xf_c, Xf_t]), np.vstack([Xs_c, Xs_t]), args.alpha)}
    W, b = maps["map/+store"]
    by_lang: dict[str, list[str]] = {}
    for f, ts in tune.items():  # each devdata file is one language, named by its prefix
        by_lang.setdefault(f.split("_")[0], []).extend(ts)
    shift = {lang: slow.encode(ts).mean(0) - unit(fast.encode(ts) @ W + b).mean(0) for lang, ts in by_lang.items()}

    from sklearn.neural_network import MLPRegressor

    t0 = time.perf_counter()
    mlp = MLPRegressor(hidden_layer_sizes=(768,), alpha=1e-3, max_iter=300, early_stopping=True,
                       random_state=settings.models.seed).fit(np.vstack([Xf_c, Xf_t]), np.vstack([Xs_c, Xs_t]))
    print(f"mlp map trained in {time.perf_counter() - t0:.0f}s", flush=True)
    cols = ["fast head", "e5 head", "map/corpora", "map/+store", "+centre", "mlp/+store"]
    print(f"\n{'file (held-out rows)':<34}" + "".join(f"{c:>13}" for c in cols))
    for f, parts in dev.items():
        ht = [t for t, _ in parts["held"]]
        hy = [y for _, y in parts["held"]]
        Xf = fast.encode(ht)
        row = [f1(hy, fast_head.proba_from_embeddings(Xf)), f1(hy, head.proba_from_embeddings(slow.encode(ht)))]
        for name in ("map/corpora", "map/+store"):
            Wm, bm = maps[name]
            row.append(f1(hy, head.proba_from_embeddings(unit(Xf @ Wm + bm))))
        row.append(f1(hy, head.proba_from_embeddings(unit(unit(Xf @ W + b) + shift[f.split('_')[0]]))))
        row.append(f1(hy, head.proba_from_embeddings(unit(mlp.predict(Xf)))))
        print(f"{f + f' ({len(ht)})':<34}" + "".join(f"{v:>13.3f}" for v in row), flush=True)


if __name__ == "__main__":
    main()

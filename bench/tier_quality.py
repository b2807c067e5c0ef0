"""Sentiment quality of each tier alone and of the cascade, per devdata file, on held-out rows.

    python bench/tier_quality.py --data-dir DATA_DIR [--held 300 --tune 150]

Both heads are trained as ``build_fast_models`` trains them (package corpora, ``training_per_corpus``
rows each). Devdata rows are split once by content hash: hash < 0.5 is the TRAIN side, from which
``--tune`` rows per file may be used to choose the margin; hash >= 0.5 is held out and only reported.
Two margins are compared: the product's (chosen on a content-hash dev fifth of the package-corpus
rows) and one chosen on the pooled devdata TRAIN rows. Scoring follows models/training/evaluate.py (binary
files: the larger of P(negative) and P(positive); five-point labels collapse to three).
Transformer embeddings are cached in ``--cache`` so a rerun does not pay for them again.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEVDATA = ROOT.parent / "shared" / "devdata"
FILES = ["en_airline_tweets.csv", "en_umsab_tweets_trainval.csv", "it_umsab_tweets_trainval.csv",
         "zh_chnsenticorp_htl.csv", "fa_sentipers_original.csv"]


def _h(t: str) -> float:
    return int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def devdata_rows(n_tune: int, n_held: int) -> dict[str, dict[str, list[tuple[str, str]]]]:
    from models.training.evaluate import LABEL_MAP

    out = {}
    for f in FILES:
        with open(DEVDATA / f, encoding="utf-8", newline="") as fh:
            rows = [(r["text"], r["label"].strip().lower()) for r in csv.DictReader(fh)
                    if (r.get("text") or "").strip() and (r.get("label") or "").strip().lower() in LABEL_MAP]
        uniq = sorted({t: (t, lab) for t, lab in rows}.values(), key=lambda r: _h(r[0]))
        out[f] = {"tune": [(t, LABEL_MAP[lab]) for t, lab in uniq if _h(t) < 0.5][:n_tune],
                  "held": [(t, LABEL_MAP[lab]) for t, lab in uniq if _h(t) >= 0.5][:n_held]}
    return out


def prefill(enc, texts: list[str], cache: Path) -> None:
    """Put cached transformer vectors into the encoder's cache; encode (and store) the missing ones."""
    known: dict[str, np.ndarray] = {}
    names_p, vecs_p = Path(f"{cache}.json"), Path(f"{cache}.npy")
    if names_p.is_file():
        names = json.loads(names_p.read_text(encoding="utf-8"))
        X = np.load(vecs_p)
        known = dict(zip(names, X))
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        t0 = time.perf_counter()
        for t, v in zip(missing, enc.backend.encode(missing)):
            known[t] = v
        print(f"encoded {len(missing)} texts with {enc.name} in {time.perf_counter() - t0:.0f}s", flush=True)
        names = list(known)
        np.save(vecs_p, np.vstack([known[t] for t in names]))
        names_p.write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
    enc.max_items = max(enc.max_items, len(known) + 1000)
    for t in dict.fromkeys(texts):
        enc._cache[t] = known[t]


def f1(gold: list[str], P: np.ndarray) -> float:
    from models.training.evaluate import macro_f1
    from models.heads.sentiment import LABELS

    classes = sorted(set(gold))
    if "neutral" not in classes:
        pred = np.where(P[:, 0] >= P[:, 2], "negative", "positive").tolist()
    else:
        pred = [LABELS[k] for k in P.argmax(1)]
    return macro_f1(gold, pred, classes)


def main() -> None:
    from configs import load_settings
    from models.heads.cascade import CascadeSentiment, choose_margin, margins
    from models.data.corpora import load_training_set
    from models.encoders.core import DEFAULT_ENCODER, STATIC_E5_ENCODER, get_encoder

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True, help="holds models/encoders/static-e5-small and corpora/")
    p.add_argument("--slow", default=DEFAULT_ENCODER)
    p.add_argument("--tune", type=int, default=150)
    p.add_argument("--held", type=int, default=300)
    p.add_argument("--max-escalation", type=float, default=0.3)
    p.add_argument("--cache", default="/tmp/tp-tier-quality")
    args = p.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    get_encoder(STATIC_E5_ENCODER, data_dir=args.data_dir)
    texts, labels, _ = load_training_set(Path(args.data_dir) / "corpora", settings.models.training_per_corpus,
                                         settings.models.seed)
    dev = devdata_rows(args.tune, args.held)
    every = texts + [t for f in dev.values() for k in ("tune", "held") for t, _ in f[k]]
    prefill(get_encoder(args.slow), every, Path(args.cache + "-" + args.slow.replace("/", "_")))
    m = CascadeSentiment(fast_encoder=STATIC_E5_ENCODER, slow_encoder=args.slow, seed=settings.models.seed,
                         max_escalation=args.max_escalation).fit(texts, labels)
    print(f"product margin (package-corpus dev rows): {m.margin_:.4f} {m.meta_.metrics.get('margin_selection')}")
    tune_t = [t for f in dev.values() for t, _ in f["tune"]]
    tune_y = [y for f in dev.values() for _, y in f["tune"]]
    thr_dev, info = choose_margin(m.fast_.proba_fine(tune_t), m.slow_.proba_fine(tune_t), tune_y, m.labels_,
                                  m.tolerance, args.max_escalation)
    print(f"devdata-TRAIN margin ({len(tune_t)} rows): {thr_dev:.4f} {info}")
    print(f"\n{'file (held-out rows)':<34}{'fast':>7}{'slow':>7}{'casc/prod':>11}{'esc':>7}{'casc/dev':>10}{'esc':>7}")
    for f, parts in dev.items():
        ht = [t for t, _ in parts["held"]]
        hy = [y for _, y in parts["held"]]
        Pf, Ps = m.fast_.predict_proba(ht), m.slow_.predict_proba(ht)
        row = [f1(hy, Pf), f1(hy, Ps)]
        for thr in (m.margin_, thr_dev):
            esc = margins(Pf) < thr
            row += [f1(hy, np.where(esc[:, None], Ps, Pf)), float(esc.mean())]
        print(f"{f + f' ({len(ht)})':<34}{row[0]:>7.3f}{row[1]:>7.3f}{row[2]:>11.3f}{row[3]:>7.1%}"
              f"{row[4]:>10.3f}{row[5]:>7.1%}")


if __name__ == "__main__":
    main()

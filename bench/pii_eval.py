"""PII redaction: recall per kind and precision on the planted corpus, and throughput.

    .venv/bin/python bench/pii_eval.py            # tables (tune and held-out) and texts/s
    .venv/bin/python bench/pii_eval.py --show 20  # also print misses and false positives

Throughput is measured on one core over real customer text from ../shared/devdata when it is
there (tweets, hotel and product reviews, support requests in en/it/zh/fa), else on the corpus.
It also reports how many of those real texts were changed, with examples to eyeball.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.pii import find_pii, redact_text  # noqa: E402
from pipeline.pii.evaluate import load_corpus, score, table  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "pii" / "corpus.jsonl"
DEVDATA = ROOT.parent / "shared" / "devdata"
DEV_FILES = ["en_airline_tweets.csv", "en_support_bitext_intents.csv", "it_umsab_tweets_trainval.csv",
             "zh_chnsenticorp_htl.csv", "fa_sentipers_original.csv"]


def real_texts(per_file: int) -> dict[str, list[str]]:
    out = {}
    csv.field_size_limit(1 << 24)
    for name in DEV_FILES:
        path = DEVDATA / name
        if path.exists():
            with path.open(encoding="utf-8", errors="replace", newline="") as f:
                out[name] = [row["text"] for _, row in zip(range(per_file), csv.DictReader(f)) if row.get("text")]
    return out


def throughput(texts: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for t in texts:
            redact_text(t)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", type=int, default=0, help="print up to N misses and false positives per split")
    ap.add_argument("--per-file", type=int, default=2000, help="real texts per devdata file for throughput")
    args = ap.parse_args()

    rows = load_corpus(CORPUS)
    for split in ("tune", "heldout"):
        sc = score([r for r in rows if r["split"] == split])
        print(table(sc, f"== planted corpus, split={split}"))
        for m in sc.misses[:args.show]:
            print("   miss", m)
        for m in sc.false_positives[:args.show]:
            print("   false positive", m)
        print()

    real = real_texts(args.per_file)
    texts = [t for ts in real.values() for t in ts] or [r["text"] for r in rows]
    random.Random(0).shuffle(texts)
    avg = sum(map(len, texts)) / len(texts)
    source = "devdata" if real else "corpus"
    redact_text(texts[0])  # imports and first-call caches out of the timing
    print(f"== throughput: {throughput(texts):,.0f} texts/s on one core ({len(texts)} {source} texts, "
          f"mean {avg:.0f} chars)")
    for name, ts in real.items():
        changed = [(t, find_pii(t)) for t in ts]
        changed = [(t, s) for t, s in changed if s]
        print(f"   {name:<32} {len(ts):>5} texts, {len(changed):>4} changed ({len(changed) / len(ts):.1%})")
        for t, spans in changed[:args.show]:
            print("      ", [(s.kind, t[s.start:s.end]) for s in spans], "|", t[:100].replace("\n", " "))


if __name__ == "__main__":
    main()

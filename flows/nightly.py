"""The nightly flow (new files in the landing folder) and the ad hoc rerun flow (one dump).

Both: discover inputs -> process each file into staged parts -> publish everything in one
transaction -> refresh emerging topics -> write the report. Nothing is published if any file
breaks its contract. They run with no Prefect server (ephemeral mode) or against PREFECT_API_URL.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow

from configs import load_settings
from flows import tasks
from models.train import models_ready
from pipeline import store
from pipeline.errors import TouchpointError


@flow(name="touchpoint-nightly")
def nightly(landing: str | None = None, config: str | None = None, data_dir: str | None = None) -> dict[str, Any]:
    """Process every file under the landing folder that no earlier run has ingested (by content hash)."""
    settings = load_settings(config, data_dir)
    root = landing or str(Path(settings.data_dir) / "landing")
    return run_inputs("nightly", root, config, settings.data_dir, incremental=True)


@flow(name="touchpoint-rerun")
def rerun(path: str, config: str | None = None, data_dir: str | None = None,
          source: str | None = None) -> dict[str, Any]:
    """Process one dump (a file or a folder) whether or not it was seen before; upserts keep it idempotent."""
    settings = load_settings(config, data_dir)
    return run_inputs("rerun", path, config, settings.data_dir, incremental=False, source=source)


def run_inputs(flow_name: str, root: str, config: str | None, data_dir: str, incremental: bool,
               source: str | None = None) -> dict[str, Any]:
    settings = load_settings(config, data_dir)
    if not models_ready(settings):
        raise TouchpointError(f"no models in {Path(data_dir) / 'models'}; run `touchpoint models build` first")
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    stage_dir = str(Path(data_dir) / "work" / run_id)
    with store.run_lock(data_dir):
        files = tasks.discover_inputs(root, config, data_dir, incremental, source)
        if not files:
            return {"run_id": None, "files": 0, "message": f"nothing new under {root}"}
        process = tasks.process_input.with_options(timeout_seconds=settings.run.task_timeout_s)
        try:
            results = [process(f, config, data_dir, stage_dir, run_id) for f in files]
            run = {"run_id": run_id, "flow": flow_name, "started_at": started,
                   "finished_at": datetime.now(timezone.utc).replace(tzinfo=None),
                   "config_hash": settings.hash(), "models": {k: m.meta_.tag for k, m in tasks.load_models(settings).items()},
                   "counts": reconcile(results)}
            t0 = time.perf_counter()
            published = tasks.publish_run(data_dir, results, run, settings.join.customer_window_days)
            t1 = time.perf_counter()
        finally:
            tasks.cleanup_stage(stage_dir, run_id)
        emerging = tasks.emerging_topics(config, data_dir)
        t2 = time.perf_counter()
        report_path = tasks.report(data_dir, run_id)
        t3 = time.perf_counter()
    seconds: dict[str, float] = {"publish": t1 - t0, "emerging_topics": t2 - t1, "report": t3 - t2}
    for r in results:
        for k, v in r["seconds"].items():
            seconds[k] = seconds.get(k, 0.0) + v
    return {"run_id": run_id, "files": len(files), "counts": run["counts"], "report": report_path,
            "unmatched_feedback": published["unmatched_feedback"], "emerging_topics": emerging,
            "seconds": seconds, "records_in": sum(r["rows_in"] for r in results)}


def reconcile(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per-channel counts; raises if in != out + quarantined + duplicates anywhere (a bug, not bad data)."""
    counts: dict[str, dict[str, int]] = {}
    for r in results:
        c = counts.setdefault(r["channel"], {"in": 0, "out": 0, "quarantined": 0, "duplicates": 0, "files": 0})
        c["in"] += r["rows_in"]
        c["out"] += r["rows_out"]
        c["quarantined"] += r["quarantined"]
        c["duplicates"] += r["duplicates"]
        c["files"] += 1
    for ch, c in counts.items():
        if c["in"] != c["out"] + c["quarantined"] + c["duplicates"]:
            raise AssertionError(f"counts do not reconcile for {ch}: {c}")
    return counts

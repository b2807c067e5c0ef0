"""The nightly flow (new files in the landing folder) and the ad hoc rerun flow (one dump).

Both: discover inputs -> process each file into staged parts -> publish everything in one
transaction -> refresh emerging topics -> write the report. With a shared store (``store.url``,
PostgreSQL) the run holds its lock, pulls it first and pushes it back before the report. Nothing is
published if any file breaks its contract. They run with no Prefect server (ephemeral mode) or
against PREFECT_API_URL.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow

from configs import load_settings
from flows import progress, tasks
from flows.ops import require_models
from pipeline.storage import pgstore, store

log = logging.getLogger("touchpoint")


def with_runner(flow_fn, runner: str = "local", address: str | None = None, workers: int = 2):
    """The flow with its per-file tasks on the chosen runner (see flows/runners.py)."""
    from flows.runners import task_runner

    return flow_fn.with_options(task_runner=task_runner(runner, address, workers))


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


@flow(name="touchpoint-rescore")
def rescore(since: str | None = None, all_files: bool = False, config: str | None = None,
            data_dir: str | None = None) -> dict[str, Any]:
    """Reprocess ingested files whose rows came from another config or model version (after a promotion).

    ``since`` (a date) limits it to files ingested by runs started then or later; ``all_files``
    rescores them even when their versions are current.
    """
    settings = load_settings(config, data_dir)
    return run_inputs("rescore", None, config, settings.data_dir, incremental=False,
                      stale=(since, all_files))


def run_inputs(flow_name: str, root: str | None, config: str | None, data_dir: str, incremental: bool,
               source: str | None = None, stale: tuple | None = None) -> dict[str, Any]:
    settings = load_settings(config, data_dir)
    require_models(settings)
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    stage_dir = str(Path(data_dir) / "work" / run_id)
    store.check_writable(data_dir)  # a read-only or locked store fails now, not after the processing
    # With store.url (PostgreSQL): the shared store's lock, then its tables pulled into the local copy.
    with store.run_lock(data_dir), pgstore.shared_store(settings) as shared:
        if shared is not None:
            tasks.pull_shared(shared, data_dir)
        tasks.clean_stale_staging(data_dir)
        if stale is not None:
            found = tasks.discover_stale(config, data_dir, stale[0], stale[1], current_models(settings))
            root = "the store's ingested files"
        else:
            found = tasks.discover_inputs(root, config, data_dir, incremental, source)
        files, warnings = found["files"], list(found["refused"])
        if not files:
            return {"run_id": None, "files": 0, "warnings": warnings,
                    "message": f"nothing new under {root}" + (f" ({len(warnings)} refused)" if warnings else "")}
        process = tasks.process_input.with_options(timeout_seconds=settings.run.task_timeout_s)
        total = sum(Path(f["path"]).stat().st_size for f in files)
        try:
            with progress.files_progress(total, flow_name):
                if _distributed():  # Dask: files in parallel on the cluster's workers
                    futures = [process.submit(f, config, data_dir, stage_dir) for f in files]
                    results = [fu.result() for fu in futures]
                else:  # in this process, one file at a time (the task timeout can interrupt it here)
                    results = [process(f, config, data_dir, stage_dir) for f in files]
            run = {"run_id": run_id, "flow": flow_name, "started_at": started,
                   "finished_at": datetime.now(timezone.utc).replace(tzinfo=None), "warnings": warnings,
                   "config_hash": settings.hash(), "models": current_models(settings)}
            t0 = time.perf_counter()
            published = tasks.publish_run(data_dir, results, run, settings.join.customer_window_days, config)
            t1 = time.perf_counter()
        finally:
            tasks.cleanup_stage(stage_dir)
        n_stale = len(store.stale_files(data_dir, settings.hash(), current_models(settings)))
        if n_stale:
            published["warnings"].append(f"{n_stale} ingested files were scored with another config or model "
                                         f"version; `touchpoint rescore` brings them up to date")
        # Analysis after publish may fail without undoing the publish or breaking later runs.
        emerging, report_path = None, None
        try:
            emerging = tasks.emerging_topics(config, data_dir)
        except Exception as exc:  # noqa: BLE001 - recorded on the run and shown to the user
            _analysis_failed(data_dir, run_id, "emerging topics", exc, published)
        t_emerging = time.perf_counter()
        cx = None
        try:
            cx = tasks.cx_analysis(config, data_dir)
        except Exception as exc:  # noqa: BLE001
            _analysis_failed(data_dir, run_id, "drivers, follow-up, alerts and review signals", exc, published)
        t2 = time.perf_counter()
        if shared is not None:  # every table in one Postgres transaction; a failure leaves Postgres as it was
            pushed = tasks.push_shared(shared, data_dir, run_id)
            published["warnings"].extend(pushed["warnings"])
        t_push = time.perf_counter()
        try:
            report_path = tasks.report(data_dir, run_id)
        except Exception as exc:  # noqa: BLE001
            _analysis_failed(data_dir, run_id, "report", exc, published)
        t3 = time.perf_counter()
        try:
            tasks.publish_artifacts(data_dir, run_id, {"report": report_path}, cx)
        except Exception as exc:  # noqa: BLE001
            _analysis_failed(data_dir, run_id, "Prefect artifacts", exc, published)
    seconds: dict[str, float] = {"publish": t1 - t0, "emerging_topics": t_emerging - t1,
                                 "cx_analysis": t2 - t_emerging, "report": t3 - t_push}
    if shared is not None:
        seconds["shared_store_push"] = t_push - t2
    for r in results:
        for k, v in r["seconds"].items():
            seconds[k] = seconds.get(k, 0.0) + v
    return {"run_id": run_id, "files": len(files), "counts": published["counts"], "report": report_path,
            "unmatched_feedback": published["unmatched_feedback"], "conflicts": published["conflicts"],
            "warnings": published["warnings"], "emerging_topics": emerging,
            "alerts": cx["n_alerts"] if cx else None,
            "seconds": seconds, "records_in": sum(r["rows_in"] for r in results)}


def _distributed() -> bool:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx is not None and type(ctx.task_runner).__name__ == "DaskTaskRunner"


def current_models(settings) -> dict[str, str]:
    return {k: m.meta_.tag for k, m in tasks.load_models(settings).items()}


def _analysis_failed(data_dir: str, run_id: str, step: str, exc: Exception, published: dict[str, Any]) -> None:
    msg = f"{step} failed after the data was published ({type(exc).__name__}: {str(exc)[:200]}); " \
          f"the stored data is complete, rerun `touchpoint report` once fixed"
    log.warning(msg)
    published["warnings"].append(msg)
    try:
        store.add_run_warning(data_dir, run_id, msg)
    except Exception:  # noqa: BLE001 - the warning still reaches the caller
        pass

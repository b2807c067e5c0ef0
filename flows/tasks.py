"""Thin Prefect tasks: each loads what it needs from paths and calls pipeline/ or models/.

Tasks exchange paths and small manifests (counts, part paths), never DataFrames or text.
Retries happen only on transient I/O errors, never on bad data, full disks or model errors.
"""

from __future__ import annotations

import errno
import logging
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import progress

from configs import Settings, load_settings
from models.encoders.core import attach_vector_caches, remember_data_dir
from models.registry import Registry
from pipeline.storage import store
from pipeline.errors import InputError
from pipeline.identity import id_pseudonym, pseudonym_key, speaker_pseudonym
from pipeline.ingest import file_sha256, list_inputs
from pipeline.ingest.paths import allowed_roots, refusal
from pipeline.process import FileResult, process_file

log = logging.getLogger("touchpoint")
# OS errors that retrying cannot fix: a full or read-only disk, permissions, a missing file.
_PERMANENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT,
                     errno.EISDIR, errno.ENOTDIR, errno.ELOOP, errno.EFBIG}


def transient_only(task, task_run, state) -> bool:
    """Prefect retry condition: retry I/O hiccups, never contract, input, disk-full or model errors."""
    try:
        state.result()
    except OSError as exc:
        return exc.errno not in _PERMANENT_ERRNOS and not isinstance(exc, InputError)
    except (TimeoutError, ConnectionError):
        return True
    except BaseException:  # noqa: BLE001 - everything else is not transient
        return False
    return False


@lru_cache(maxsize=4)
def _models(models_dir: str, tasks: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    reg = Registry(models_dir)
    return {role: reg.load(task, version) for role, task, version in tasks}


def load_models(settings: Settings) -> dict[str, Any]:
    """The current sentiment and topic models, plus emotion, effort and intent when they are built."""
    from models.base import CX_TASKS

    reg = Registry(Path(settings.data_dir) / "models")
    wanted = [("sentiment", settings.models.sentiment), ("topics", settings.models.topics),
              *((t, t) for t in CX_TASKS)]
    tasks = tuple((role, task, v) for role, task in wanted if (v := reg.current_version(task)))
    remember_data_dir(settings.data_dir)  # heads find the static and ONNX encoders under the data dir
    models = _models(str(reg.root), tasks)
    # the encoders these models use keep their vectors across runs in <data_dir>/cache
    attach_vector_caches(settings.data_dir if settings.cache.vectors else None, settings.cache.max_rows)
    return models


@task(name="discover-inputs")
def discover_inputs(root: str, config: str | None, data_dir: str | None, incremental: bool,
                    source: str | None = None) -> dict[str, Any]:
    """New input files under root, in a fixed order, plus the ones refused (links leaving the roots)."""
    settings = load_settings(config, data_dir)
    base = Path(root)
    if not base.exists():
        raise InputError(f"{base}: no such file or folder")
    roots = [*allowed_roots(settings), base.resolve()]  # the folder the operator named is a root too
    done = store.ingested_hashes(settings.data_dir) if incremental else set()
    found = list_inputs(base, settings, source)
    if base.is_file() and not found:
        names = ", ".join(f"{s.name} ({s.pattern})" for s in settings.sources)
        raise InputError(f"{base}: no configured source matches this file; pass --source with one of: {names}")
    out, refused = [], []
    for path, src in found:
        why = refusal(path, roots)
        if why:
            refused.append(why)
            continue
        sha = file_sha256(path)
        if sha in done:
            continue
        rel = path.name if base.is_file() else path.relative_to(base).as_posix()
        out.append({"path": str(path), "rel": rel, "sha256": sha, "source": src.name, "seq": len(out)})
    return {"files": out, "refused": refused}


@task(name="discover-stale-inputs")
def discover_stale(config: str | None, data_dir: str | None, since: str | None, include_current: bool,
                   models: dict[str, str]) -> dict[str, Any]:
    """Ingested files to rescore (another config or model version produced their rows), still on disk
    with the same content; the rest are reported as missing or changed."""
    settings = load_settings(config, data_dir)
    roots = allowed_roots(settings)
    out, warnings = [], []
    for f in store.stale_files(settings.data_dir, settings.hash(), models, since, include_current):
        path = Path(f["path"] or "")
        why = refusal(path, [*roots, path.parent.resolve()]) if f["path"] else "no recorded path"
        if why is None and file_sha256(path) != f["sha256"]:
            why = f"{path}: content changed since it was ingested; use `touchpoint rerun` for the new content"
        if why:
            warnings.append(f"cannot rescore {f['input_file']}: {why}")
            continue
        out.append({"path": str(path), "rel": f["input_file"], "sha256": f["sha256"], "source": f["source"],
                    "seq": len(out)})
    return {"files": out, "refused": warnings}


@task(name="process-input", retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only)
def process_input(item: dict[str, Any], config: str | None, data_dir: str | None, stage_dir: str) -> dict[str, Any]:
    settings = load_settings(config, data_dir)
    bar = progress.current()
    bar.file_started(item["rel"])
    res: FileResult = process_file(Path(item["path"]), item["rel"], item["sha256"], settings.source(item["source"]),
                                   settings, load_models(settings), Path(stage_dir), seq=item["seq"],
                                   pseudonym_key=pseudonym_key(settings.data_dir), on_batch=bar.batch_done)
    bar.file_done(Path(item["path"]).stat().st_size)
    log.info("%s: %d in, %d staged, %d quarantined, %d duplicate", item["rel"], res.rows_in, res.rows_out,
             res.quarantined, res.duplicates)
    return res.to_dict()


@task(name="publish")
def publish_run(data_dir: str, results: list[dict[str, Any]], run: dict[str, Any], window_days: int,
                config: str | None = None) -> dict[str, Any]:
    parts: dict[str, list[str]] = {}
    for r in results:
        for table, ps in r["parts"].items():
            parts.setdefault(table, []).extend(ps)
    settings = load_settings(config, data_dir)
    key = pseudonym_key(data_dir)
    # ids and speakers an older version stored raw are pseudonymised in the same transaction
    pseudonyms = {"customer_id": lambda v: id_pseudonym(v, key, settings.redaction),
                  "speaker": lambda v: speaker_pseudonym(v, key)}
    return store.publish(data_dir, parts, run, results, window_days, pseudonyms=pseudonyms)


@task(name="pull-shared-store", cache_policy=NO_CACHE)  # the session holds a live connection
def pull_shared(shared, data_dir: str) -> dict[str, Any]:
    """The shared store's tables into the local DuckDB working copy (pipeline/storage/pgstore.py)."""
    return shared.pull(data_dir, pseudonym_key(data_dir))


@task(name="push-shared-store", cache_policy=NO_CACHE)
def push_shared(shared, data_dir: str, run_id: str) -> dict[str, Any]:
    """Every table of the local copy to the shared store in one Postgres transaction, and the views."""
    return shared.push(data_dir, run_id, pseudonym_key(data_dir))


@task(name="discover-emerging-topics")
def emerging_topics(config: str | None, data_dir: str | None) -> int:
    from pipeline.analytics.emerging import refresh_emerging_topics

    settings = load_settings(config, data_dir)
    return refresh_emerging_topics(settings, load_models(settings)["topics"])


@task(name="cx-analysis")
def cx_analysis(config: str | None, data_dir: str) -> dict[str, Any]:
    """Key drivers, follow-up queue, alerts and review signals, recomputed from the published store."""
    from pipeline.analytics import alerts, call_analytics, drivers, followup, manipulation

    settings = load_settings(config, data_dir)
    con = store.connect(data_dir)
    try:
        day = alerts.latest_day(con)  # the data's own last day: reruns give the same result
        emerging = con.execute("SELECT * FROM emerging_topics").df().to_dict("records")
        drivers.refresh_drivers(con, min_n=30)
        queue = followup.refresh_queue(con, day, due_hours=settings.followup.due_hours,
                                       lookback_days=settings.followup.lookback_days,
                                       daily_capacity=settings.followup.daily_capacity) if day else None
        found = alerts.run_alerts(con, day, baseline_days=settings.alerts.baseline_days, emerging=emerging,
                                  webhook_url=settings.alerts.webhook_url, timeout_s=settings.alerts.timeout_s) \
            if day else []
        signals = manipulation.refresh_signals(con)
        call_analytics.refresh_call_metrics(con)
        calls_md = call_analytics.summary_markdown(call_analytics.summary(con))
    finally:
        con.close()
    return {"run_date": str(day), "n_alerts": len(found), "alerts_md": alerts.render_markdown(found),
            "followup_md": followup.summary_markdown(queue) if queue is not None else "",
            "review_signals": manipulation.counts(signals).to_dict("records"), "calls_md": calls_md}


@task(name="report")
def report(data_dir: str, run_id: str) -> str:
    from pipeline.reporting.report import write_report

    return str(write_report(data_dir, run_id=run_id))


@task(name="publish-artifacts")
def publish_artifacts(data_dir: str, run_id: str, result: dict[str, Any], cx: dict[str, Any] | None = None) -> None:
    """The run's summary (markdown) and scorecard (table) as Prefect artifacts, shown in the Prefect UI."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from pipeline.reporting.report import SUMMARY_PARTS, collect, run_markdown

    data = collect(data_dir, run_id, SUMMARY_PARTS)
    create_markdown_artifact(key="touchpoint-run-summary", markdown=run_markdown(data, result.get("report")),
                             description=f"Touchpoint run {run_id}")
    create_table_artifact(key="touchpoint-scorecard", table=[{k: (v if isinstance(v, (int, float, str)) or v is None
                                                                   else str(v)) for k, v in r.items()}
                                                              for r in data["scorecard"]],
                          description="NPS, CSAT, CES, time to resolution and sentiment per touchpoint")
    if cx:
        create_markdown_artifact(key="touchpoint-alerts", markdown=cx["alerts_md"] or "No alerts.",
                                 description=f"{cx['n_alerts']} alerts for {cx['run_date']}")
        if cx.get("calls_md"):
            create_markdown_artifact(key="touchpoint-calls", markdown=cx["calls_md"],
                                     description="Call analytics per touchpoint")
        if cx.get("followup_md"):
            create_markdown_artifact(key="touchpoint-followup", markdown=cx["followup_md"],
                                     description="Follow-up queue: detractors and critical incidents")


def clean_stale_staging(data_dir: str) -> int:
    """Remove staging folders left by runs that were killed (call only while holding the run lock)."""
    work = Path(data_dir) / "work"
    n = 0
    if work.is_dir():
        for d in work.iterdir():
            shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
            n += 1
    return n


def cleanup_stage(stage_dir: str) -> None:
    shutil.rmtree(stage_dir, ignore_errors=True)

"""Thin Prefect tasks: each loads what it needs from paths and calls pipeline/ or models/.

Tasks exchange paths and small manifests (counts, part paths), never DataFrames or text.
Retries happen only on transient I/O errors, never on bad data or model errors.
"""

from __future__ import annotations

import logging
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect import task

from configs import Settings, load_settings
from models.registry import Registry
from pipeline import store
from pipeline.errors import InputError
from pipeline.ingest import file_sha256, list_inputs
from pipeline.process import FileResult, RunState, process_file

log = logging.getLogger("touchpoint")
_RUN_STATE: dict[str, RunState] = {}  # per-process duplicate keys of the current run


def transient_only(task, task_run, state) -> bool:
    """Prefect retry condition: retry I/O hiccups, never contract, input or model errors."""
    try:
        state.result()
    except (InputError, FileNotFoundError, PermissionError, IsADirectoryError):
        return False
    except (OSError, TimeoutError, ConnectionError):
        return True
    except BaseException:  # noqa: BLE001 - everything else is not transient
        return False
    return False


@lru_cache(maxsize=4)
def _models(models_dir: str, sentiment_task: str, topics_task: str, versions: tuple) -> dict[str, Any]:
    reg = Registry(models_dir)
    return {"sentiment": reg.load(sentiment_task, versions[0]), "topics": reg.load(topics_task, versions[1])}


def load_models(settings: Settings) -> dict[str, Any]:
    reg = Registry(Path(settings.data_dir) / "models")
    versions = (reg.current_version(settings.models.sentiment), reg.current_version(settings.models.topics))
    return _models(str(reg.root), settings.models.sentiment, settings.models.topics, versions)


@task(name="discover-inputs")
def discover_inputs(root: str, config: str | None, data_dir: str | None, incremental: bool,
                    source: str | None = None) -> list[dict[str, Any]]:
    settings = load_settings(config, data_dir)
    base = Path(root)
    if not base.exists():
        raise InputError(f"{base}: no such file or folder")
    done = store.ingested_hashes(settings.data_dir) if incremental else set()
    found = list_inputs(base, settings, source)
    if base.is_file() and not found:
        names = ", ".join(f"{s.name} ({s.pattern})" for s in settings.sources)
        raise InputError(f"{base}: no configured source matches this file; pass --source with one of: {names}")
    out = []
    for path, src in found:
        sha = file_sha256(path)
        if sha in done:
            continue
        rel = path.name if base.is_file() else path.relative_to(base).as_posix()
        out.append({"path": str(path), "rel": rel, "sha256": sha, "source": src.name})
    return out


@task(name="process-input", retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only)
def process_input(item: dict[str, Any], config: str | None, data_dir: str | None, stage_dir: str,
                  run_id: str) -> dict[str, Any]:
    settings = load_settings(config, data_dir)
    state = _RUN_STATE.setdefault(run_id, RunState())
    res: FileResult = process_file(Path(item["path"]), item["rel"], item["sha256"], settings.source(item["source"]),
                                   settings, load_models(settings), Path(stage_dir), state)
    log.info("%s: %d in, %d out, %d quarantined, %d duplicate", item["rel"], res.rows_in, res.rows_out,
             res.quarantined, res.duplicates)
    return res.to_dict()


@task(name="publish")
def publish_run(data_dir: str, results: list[dict[str, Any]], run: dict[str, Any], window_days: int) -> dict[str, Any]:
    parts: dict[str, list[str]] = {}
    for r in results:
        for table, ps in r["parts"].items():
            parts.setdefault(table, []).extend(ps)
    return store.publish(data_dir, parts, run, results, window_days)


@task(name="discover-emerging-topics")
def emerging_topics(config: str | None, data_dir: str | None) -> int:
    from pipeline.emerging import refresh_emerging_topics

    settings = load_settings(config, data_dir)
    return refresh_emerging_topics(settings, load_models(settings)["topics"])


@task(name="report")
def report(data_dir: str, run_id: str) -> str:
    from pipeline.report import write_report

    return str(write_report(data_dir, run_id=run_id))


def cleanup_stage(stage_dir: str, run_id: str) -> None:
    _RUN_STATE.pop(run_id, None)
    shutil.rmtree(stage_dir, ignore_errors=True)

"""Helpers shared by the flow tests."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.storage import store


def q(data_dir: Path, sql: str, params=None):
    con = duckdb.connect(str(store.db_path(data_dir)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def snapshot(data_dir: Path) -> dict[str, list[tuple]]:
    return store.tables_rows(data_dir, store.DATA_TABLES)


def stage_file(config: Path, path: Path, source: str, stage_dir: Path, rel: str = "x.jsonl"):
    """Process one file into staged parts (no publish) with the session's real models."""
    from configs import load_settings
    from flows.tasks import load_models
    from pipeline.ingest import file_sha256
    from pipeline.process import process_file

    settings = load_settings(config)
    return process_file(path, rel, file_sha256(path), settings.source(source), settings, load_models(settings),
                        stage_dir)


TEST_RUN = {"run_id": "r", "flow": "test", "started_at": None, "finished_at": None, "config_hash": "h", "models": {}}

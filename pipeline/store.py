"""The DuckDB store: schema, one-transaction publish of staged Parquet parts, run lock.

Publishing is all-or-nothing: one transaction deletes the rows whose keys are being republished
(child rows of republished feedback too), inserts the staged rows, recomputes the score join and
the daily aggregates, and records the run manifest. A crash before COMMIT leaves the previous
state untouched. All SQL is parameterised; paths and values never go into SQL text.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb

from pipeline.errors import StoreError
from pipeline.metrics import AGGREGATES_SQL, FEEDBACK_SCORES_SQL

SCHEMA = {
    "feedback": """feedback_id VARCHAR, channel VARCHAR, source VARCHAR, source_id VARCHAR, customer_id VARCHAR,
        interaction_id VARCHAR, touchpoint VARCHAR, journey_stage VARCHAR, occurred_at TIMESTAMP,
        event_date DATE, language VARCHAR, language_confidence DOUBLE, text VARCHAR, rating DOUBLE,
        rating_scale INTEGER, n_utterances INTEGER, pii_redacted INTEGER, input_file VARCHAR,
        input_line INTEGER, sentiment_label VARCHAR, sentiment_score DOUBLE, top_topic VARCHAR,
        topics VARCHAR, n_sentences INTEGER, sentiment_model VARCHAR, topic_model VARCHAR,
        config_hash VARCHAR""",
    "utterances": """feedback_id VARCHAR, turn INTEGER, role VARCHAR, speaker VARCHAR, said_at TIMESTAMP,
        start_s DOUBLE, end_s DOUBLE, text VARCHAR""",
    "sentences": """feedback_id VARCHAR, idx INTEGER, language VARCHAR, text VARCHAR, sentiment_label VARCHAR,
        sentiment_score DOUBLE, p_negative DOUBLE, p_positive DOUBLE, topic VARCHAR, topic_score DOUBLE,
        sentiment_model VARCHAR, topic_model VARCHAR""",
    "scores": """score_id VARCHAR, kind VARCHAR, value DOUBLE, scale INTEGER, customer_id VARCHAR,
        interaction_id VARCHAR, occurred_at TIMESTAMP, source VARCHAR, touchpoint VARCHAR,
        input_file VARCHAR, input_line INTEGER""",
    "tickets": """ticket_id VARCHAR, customer_id VARCHAR, interaction_id VARCHAR, opened_at TIMESTAMP,
        resolved_at TIMESTAMP, resolution_hours DOUBLE, status VARCHAR, source VARCHAR, touchpoint VARCHAR,
        input_file VARCHAR, input_line INTEGER""",
    "quarantine": """input_file VARCHAR, input_line INTEGER, channel VARCHAR, source VARCHAR, field VARCHAR,
        reason VARCHAR, raw VARCHAR""",
    "feedback_scores": """feedback_id VARCHAR, nps DOUBLE, nps_match VARCHAR, csat DOUBLE, csat_scale INTEGER,
        csat_match VARCHAR, ces DOUBLE, ces_match VARCHAR, ticket_id VARCHAR, resolution_hours DOUBLE,
        ticket_match VARCHAR""",
    "aggregates": """event_date DATE, touchpoint VARCHAR, channel VARCHAR, language VARCHAR, volume BIGINT,
        n_nps BIGINT, nps DOUBLE, n_csat BIGINT, csat_top2 DOUBLE, n_ces BIGINT, ces_mean DOUBLE,
        n_tickets BIGINT, ttr_median_hours DOUBLE, sentiment_mean DOUBLE, share_negative DOUBLE,
        top_topics VARCHAR""",
    "emerging_topics": """cluster_id VARCHAR, terms VARCHAR, size INTEGER, example VARCHAR, languages VARCHAR""",
    "runs": """run_id VARCHAR, flow VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
        config_hash VARCHAR, models VARCHAR, counts VARCHAR, files INTEGER, unmatched_feedback INTEGER""",
    "ingested_files": """sha256 VARCHAR, input_file VARCHAR, source VARCHAR, run_id VARCHAR, rows_in INTEGER""",
}
# Natural keys used for upserts (no PRIMARY KEY constraints: delete-then-insert in one transaction).
KEYS = {
    "feedback": ["feedback_id"], "utterances": ["feedback_id", "turn"], "sentences": ["feedback_id", "idx"],
    "scores": ["score_id"], "tickets": ["ticket_id"], "quarantine": ["input_file", "input_line"],
}
# Data tables compared by the determinism tests (run bookkeeping excluded).
DATA_TABLES = ["feedback", "utterances", "sentences", "scores", "tickets", "quarantine", "feedback_scores",
               "aggregates"]
PUBLISH_ORDER = ["feedback", "utterances", "sentences", "scores", "tickets", "quarantine"]


def db_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "touchpoint.duckdb"


def connect(data_dir: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = db_path(data_dir)
    if read_only and not path.exists():
        raise StoreError(f"no store at {path}; run `touchpoint run nightly` or `touchpoint demo` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise StoreError(f"cannot open {path}: {exc}. Is another Touchpoint run writing to it?") from None
    if not read_only:
        ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table, cols in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")


@contextmanager
def run_lock(data_dir: str | os.PathLike) -> Iterator[None]:
    """Exclusive lock so two runs on one store never publish at once; the second fails fast."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    fh = open(Path(data_dir) / ".touchpoint.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise StoreError(f"another Touchpoint run holds {Path(data_dir) / '.touchpoint.lock'}; "
                         f"wait for it to finish") from None
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def ingested_hashes(data_dir: str | os.PathLike) -> set[str]:
    if not db_path(data_dir).exists():
        return set()
    con = connect(data_dir)
    try:
        return {r[0] for r in con.execute("SELECT sha256 FROM ingested_files").fetchall()}
    finally:
        con.close()


def _upsert(con: duckdb.DuckDBPyConnection, table: str, parts: list[str]) -> int:
    keys = KEYS[table]
    con.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM read_parquet(?, union_by_name=true)", [parts])
    key_list = ", ".join(keys)
    con.execute(f"DELETE FROM {table} WHERE ({key_list}) IN (SELECT ({key_list}) FROM _stage)")
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _stage")
    n = con.execute("SELECT count(*) FROM _stage").fetchone()[0]
    con.execute("DROP TABLE _stage")
    return n


def publish(data_dir: str | os.PathLike, parts: dict[str, list[str]], run: dict[str, Any],
            files: list[dict[str, Any]], window_days: int,
            on_staged: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Publish staged parts and recompute derived tables in one transaction.

    ``on_staged(table)`` is called after each table is written inside the open transaction (tests use
    it to fail or kill a publish halfway and show that nothing becomes visible).
    """
    con = connect(data_dir)
    try:
        con.execute("BEGIN TRANSACTION")
        written = {}
        fb_parts = parts.get("feedback", [])
        if fb_parts:  # republished feedback replaces all its child rows (a chat may now have fewer turns)
            for child in ("utterances", "sentences"):
                con.execute(f"DELETE FROM {child} WHERE feedback_id IN "
                            "(SELECT feedback_id FROM read_parquet(?, union_by_name=true))", [fb_parts])
        for table in PUBLISH_ORDER:
            if parts.get(table):
                written[table] = _upsert(con, table, parts[table])
            if on_staged is not None:
                on_staged(table)
        con.execute("DELETE FROM feedback_scores")
        con.execute(FEEDBACK_SCORES_SQL, {"window_s": window_days * 86400})
        con.execute("DELETE FROM aggregates")
        con.execute(AGGREGATES_SQL)
        unmatched = con.execute(
            "SELECT count(*) FROM feedback_scores WHERE nps IS NULL AND csat IS NULL AND ces IS NULL "
            "AND ticket_id IS NULL").fetchone()[0]
        for f in files:
            con.execute("DELETE FROM ingested_files WHERE sha256 = ?", [f["sha256"]])
            con.execute("INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?)",
                        [f["sha256"], f["input_file"], f["source"], run["run_id"], f["rows_in"]])
        con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            run["run_id"], run["flow"], run["started_at"], run["finished_at"], "published", run["config_hash"],
            json.dumps(run["models"], sort_keys=True), json.dumps(run["counts"], sort_keys=True), len(files),
            unmatched])
        con.execute("COMMIT")
        return {"written": written, "unmatched_feedback": int(unmatched)}
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    finally:
        con.close()


def replace_table(data_dir: str | os.PathLike, table: str, rows: list[dict[str, Any]]) -> None:
    """Replace a small derived table (emerging topics) in one transaction."""
    con = connect(data_dir)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {table}")
        cols = [c.strip().split()[0] for c in SCHEMA[table].split(",")]
        marks = ", ".join("?" for _ in cols)
        for r in rows:
            con.execute(f"INSERT INTO {table} VALUES ({marks})", [r.get(c) for c in cols])
        con.execute("COMMIT")
    finally:
        con.close()


def table_rows(data_dir: str | os.PathLike, table: str) -> list[tuple]:
    """Every row of a table in a canonical order (for determinism checks and exports)."""
    if table not in SCHEMA:
        raise StoreError(f"unknown table {table!r}")
    con = connect(data_dir, read_only=True)
    try:
        n = len(SCHEMA[table].split(","))
        order = ", ".join(str(i) for i in range(1, n + 1))
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    finally:
        con.close()

"""Export store tables to CSV or Parquet for analysts and BI tools (formula cells neutralised in CSV).

Tables with a day (feedback, its sentences, utterances and scores, surveys, tickets, aggregates, the
daily views) are written as a Hive-partitioned folder, ``<table>/date=YYYY-MM-DD/part-0.<fmt>``, which
DuckDB, pandas/pyarrow, Spark and most BI tools read as one table with a ``date`` column. Every stored
column stays in the files; ``date`` is added (rows without a day go to
``date=unknown``). Other tables are one file each. ``partition=False`` writes one
file per table. Each table is written beside its destination and swapped in when complete, so a failed
export never leaves a half-written table where the last good one was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from pipeline.storage import store
from pipeline.errors import StoreError
from pipeline.storage.safety import neutralize_cell

EXPORT_TABLES = ["feedback", "feedback_scores", "sentences", "utterances", "scores", "tickets", "aggregates",
                 "quarantine", "conflicts", "emerging_topics", "key_drivers", "followup_queue", "alerts",
                 "manipulation_signals", "call_metrics", *store.VIEWS]

# The day each row belongs to, as SQL over the table (alias t; f is its feedback row where joined).
_BY_FEEDBACK = "LEFT JOIN feedback f USING (feedback_id)"
PARTITION_DATE: dict[str, tuple[str, str]] = {
    "feedback": ("t.event_date", ""),
    "aggregates": ("t.event_date", ""),
    "scores": ("CAST(t.occurred_at AS DATE)", ""),
    "tickets": ("CAST(t.opened_at AS DATE)", ""),
    "sentences": ("f.event_date", _BY_FEEDBACK),
    "utterances": ("f.event_date", _BY_FEEDBACK),
    "feedback_scores": ("f.event_date", _BY_FEEDBACK),
    "v_nps_by_touchpoint_day": ("t.event_date", ""),
    "v_detractor_reasons": ("t.event_date", ""),
    "v_topic_sentiment_daily": ("t.event_date", ""),
    "v_subtopic_sentiment_daily": ("t.event_date", ""),
    "v_discovered_sentiment_daily": ("t.event_date", ""),
}
PARTITION_COLUMN = "date"
NO_DATE = "unknown"  # a row without a day (a null partition value trips some readers)
_BATCH = 50_000


def _neutralize(batch: pa.RecordBatch) -> pa.RecordBatch:
    cols = []
    for col in batch.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pa.array([neutralize_cell(v) for v in col.to_pylist()], type=col.type)
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _query(table: str, partition: bool) -> str:
    if partition and table in PARTITION_DATE:
        day, join = PARTITION_DATE[table]
        # a text day keeps partition folder names stable across readers (date=2024-05-01)
        return (f"SELECT t.*, coalesce(strftime({day}, '%Y-%m-%d'), '{NO_DATE}') AS {PARTITION_COLUMN} "
                f"FROM {table} t {join}")
    return f"SELECT * FROM {table}"


def _swap_in(tmp: Path, dest: Path) -> None:
    """Replace ``dest`` (a file or a folder from an earlier export) by ``tmp``."""
    old = dest.with_name(f".{dest.name}.old")
    if old.exists() or old.is_symlink():
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    if dest.exists() or dest.is_symlink():
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old.exists() or old.is_symlink():
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()


def _clear(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def export_tables(data_dir: str | os.PathLike, out_dir: str | os.PathLike, fmt: str = "csv",
                  tables: list[str] | None = None, partition: bool = True) -> dict[str, Path]:
    """Write each table to ``out_dir``, streaming in batches; returns each table's file or folder."""
    if fmt not in ("csv", "parquet"):
        raise StoreError(f"unknown export format {fmt!r}; use csv or parquet")
    tables = tables or EXPORT_TABLES
    unknown = [t for t in tables if t not in store.SCHEMA and t not in store.VIEWS]
    if unknown:
        raise StoreError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(EXPORT_TABLES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = store.connect(data_dir, read_only=True)
    written = {}
    try:
        for t in tables:
            reader = con.sql(_query(t, partition)).to_arrow_reader(_BATCH)
            batches: Iterator[pa.RecordBatch] = (_neutralize(b) if fmt == "csv" else b for b in reader)
            if partition and t in PARTITION_DATE:
                dest = out / t
                tmp = out / f".{t}.tmp"
                _clear(tmp)
                pads.write_dataset(batches, tmp, schema=reader.schema, format=fmt,
                                   partitioning=[PARTITION_COLUMN], partitioning_flavor="hive",
                                   basename_template="part-{i}." + fmt, max_rows_per_group=_BATCH,
                                   existing_data_behavior="error")
                if not tmp.exists():  # no rows: an empty file keeps the columns readable
                    tmp.mkdir()
                    empty = pa.Table.from_batches([], schema=reader.schema).drop_columns([PARTITION_COLUMN])
                    (pacsv.write_csv if fmt == "csv" else pq.write_table)(empty, tmp / f"part-0.{fmt}")
            else:
                dest = out / f"{t}.{fmt}"
                tmp = dest.with_name(f".{dest.name}.tmp")
                _clear(tmp)
                writer = pacsv.CSVWriter(tmp, reader.schema) if fmt == "csv" else pq.ParquetWriter(tmp, reader.schema)
                try:
                    for batch in batches:
                        writer.write_batch(batch)
                finally:
                    writer.close()
            _swap_in(tmp, dest)
            written[t] = dest
    finally:
        con.close()
    return written

"""Export store tables to CSV or Parquet for analysts and BI tools (formula cells neutralised in CSV)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline import store
from pipeline.errors import StoreError
from pipeline.safety import neutralize_cell

EXPORT_TABLES = ["feedback", "feedback_scores", "sentences", "utterances", "scores", "tickets", "aggregates",
                 "quarantine", "conflicts", "emerging_topics", "key_drivers", "followup_queue", "alerts",
                 "manipulation_signals", "call_metrics", *store.VIEWS]


def _neutralize(batch: pa.RecordBatch) -> pa.RecordBatch:
    cols = []
    for col in batch.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pa.array([neutralize_cell(v) for v in col.to_pylist()], type=col.type)
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def export_tables(data_dir: str | os.PathLike, out_dir: str | os.PathLike, fmt: str = "csv",
                  tables: list[str] | None = None) -> dict[str, Path]:
    """Write each table to ``out_dir/<table>.<fmt>``, streaming in batches; returns the paths."""
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
            reader = con.sql(f"SELECT * FROM {t}").to_arrow_reader(50_000)
            path = out / f"{t}.{fmt}"
            tmp = path.with_name(path.name + ".tmp")
            writer = (pacsv.CSVWriter(tmp, reader.schema) if fmt == "csv" else pq.ParquetWriter(tmp, reader.schema))
            try:
                for batch in reader:
                    writer.write_batch(_neutralize(batch) if fmt == "csv" else batch)
            finally:
                writer.close()
            os.replace(tmp, path)
            written[t] = path
    finally:
        con.close()
    return written

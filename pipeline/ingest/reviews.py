"""Product and app-store reviews from CSV, JSON Lines or Parquet, with a configurable column mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from configs import SourceConfig
from pipeline.errors import RecordError
from pipeline.ingest.base import (
    Item, bad, derived_id, guard, interaction_kind, optional_id, parse_number, parse_ts, pick, require_text, text_or_none,
)
from pipeline.ingest.lines import Rec, iter_csv, iter_jsonl

ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("id", "review_id", "reviewId"),
    "customer_id": ("user_id", "userName", "author", "customer"),
    "interaction_id": ("order_id", "orderId"),
    "occurred_at": ("date", "created_at", "at", "timestamp", "time"),
    "text": ("content", "body", "review", "comment"),
    "title": ("headline", "summary"),
    "rating": ("score", "stars", "star_rating"),
    "touchpoint": (),
    "language": ("lang",),
}


def review_from_row(row: dict[str, Any], source: SourceConfig, max_chars: int) -> dict[str, Any]:
    """Map one raw review row to canonical feedback fields; raises RecordError on contract breaks.

    A review with no id (column absent or empty) gets ``derived_id(customer, time, text)`` and
    ``id_derived: True``, so duplicates are still decided by a key: the same review re-exported
    keeps its key, two customers who wrote the same words get two.
    """
    get = lambda f: pick(row, f, source.columns, ALIASES[f])  # noqa: E731
    text = require_text(get("text"), source.columns.get("text", "text"), max_chars)
    title = text_or_none(get("title"))
    if title and not text.startswith(title):
        text = f"{title}. {text}"
    scale = source.rating_scale or 5
    data = {
        "source_id": optional_id(get("source_id")),
        "customer_id": text_or_none(get("customer_id")),
        "interaction_id": text_or_none(get("interaction_id")),
        "interaction_kind": interaction_kind(row, source.columns, ALIASES["interaction_id"]),
        "occurred_at": parse_ts(get("occurred_at"), source.columns.get("occurred_at", "occurred_at")),
        "text": text,
        "rating": parse_number(get("rating"), source.columns.get("rating", "rating"), 0, scale),
        "rating_scale": scale,
        "touchpoint": text_or_none(get("touchpoint")),
        "language_hint": text_or_none(get("language")) or source.language,
    }
    if data["source_id"] is None:
        data["source_id"] = derived_id(data["customer_id"], data["occurred_at"], text)
        data["id_derived"] = True
    return data


def _parquet(path: Path) -> Iterator[Rec]:
    """Rows of a Parquet file, numbered from 1; an unreadable file or row group is one error."""
    import pyarrow.parquet as pq

    n = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                n += 1
                yield Rec(n, row, "")
    except Exception as exc:  # noqa: BLE001 - a corrupt file or row group is one bad record
        yield Rec(n + 1, None, "", RecordError(
            f"unreadable Parquet data after row {n}: {type(exc).__name__}: {str(exc)[:60]}", None))


def _records(path: Path, fmt: str) -> Iterator[Rec]:
    if fmt == "csv":
        return iter_csv(path)
    if fmt == "jsonl":
        return iter_jsonl(path)
    if fmt == "parquet":
        return _parquet(path)
    raise ValueError(f"reviews: unsupported format {fmt}")


def read_reviews(path: Path, source: SourceConfig, fmt: str, max_chars: int) -> Iterator[Item]:
    for rec in _records(path, fmt):
        if rec.error is None and not isinstance(rec.value, dict):
            rec.error = RecordError("expected an object per record", None)
        if rec.error is not None:
            yield bad(rec.line, rec.error, rec.raw, rec.span)
            continue
        row = rec.value
        yield guard(rec.line, rec.raw or row,
                    lambda: Item(line=0, kind="feedback", data=review_from_row(row, source, max_chars)),
                    rec.span)

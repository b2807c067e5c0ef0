"""Product and app-store reviews from CSV, JSON Lines or Parquet, with a configurable column mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from configs import SourceConfig
from pipeline.errors import RecordError
from pipeline.ingest.base import (
    Item, bad, iter_csv, iter_jsonl, parse_number, parse_ts, pick, require_id, require_text, text_or_none,
)

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
    """Map one raw review row to canonical feedback fields; raises RecordError on contract breaks."""
    get = lambda f: pick(row, f, source.columns, ALIASES[f])  # noqa: E731
    text = require_text(get("text"), source.columns.get("text", "text"), max_chars)
    title = text_or_none(get("title"))
    if title and not text.startswith(title):
        text = f"{title}. {text}"
    scale = source.rating_scale or 5
    return {
        "source_id": require_id(get("source_id"), source.columns.get("source_id", "source_id")),
        "customer_id": text_or_none(get("customer_id")),
        "interaction_id": text_or_none(get("interaction_id")),
        "occurred_at": parse_ts(get("occurred_at"), source.columns.get("occurred_at", "occurred_at")),
        "text": text,
        "rating": parse_number(get("rating"), source.columns.get("rating", "rating"), 0, scale),
        "rating_scale": scale,
        "touchpoint": text_or_none(get("touchpoint")),
        "language_hint": text_or_none(get("language")) or source.language,
    }


def _records(path: Path, fmt: str) -> Iterator[tuple[int, Any, str, RecordError | None]]:
    if fmt == "csv":
        yield from iter_csv(path)
    elif fmt == "jsonl":
        yield from iter_jsonl(path)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        n = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                n += 1
                yield n, row, "", None
    else:
        raise ValueError(f"reviews: unsupported format {fmt}")


def read_reviews(path: Path, source: SourceConfig, fmt: str, max_chars: int) -> Iterator[Item]:
    for line, row, raw, err in _records(path, fmt):
        if err is None and not isinstance(row, dict):
            err = RecordError("expected an object per record", None)
        if err is not None:
            yield bad(line, err, raw)
            continue
        try:
            yield Item(line=line, kind="feedback", data=review_from_row(row, source, max_chars))
        except RecordError as exc:
            yield bad(line, exc, raw or row)

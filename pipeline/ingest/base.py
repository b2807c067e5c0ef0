"""Shared reader machinery: located items, tolerant line/CSV/JSON iteration, field coercion."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.errors import RecordError

csv.field_size_limit(10_000_000)

_SURROGATE = re.compile("[\udc80-\udcff]")


@dataclass
class Item:
    """One parsed input record, or one bad record with its location and reason."""

    line: int
    kind: str  # "feedback" | "score" | "ticket" | "bad"
    data: dict[str, Any] = field(default_factory=dict)
    utterances: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    error: RecordError | None = None
    raw: str = ""


def bad(line: int, error: RecordError, raw: Any) -> Item:
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    return Item(line=line, kind="bad", error=error, raw=text[:2000])


def iter_csv(path: Path) -> Iterator[tuple[int, dict[str, str] | None, str, RecordError | None]]:
    """Yield (line, row, raw, error) for each CSV record, streaming.

    Invalid UTF-8 and ragged rows come back as errors with the record's first line number,
    so one bad row never stops the file.
    """
    with open(path, "rb") as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        start = reader.line_num + 1
        for row in reader:
            line = start
            start = reader.line_num + 1
            raw = ",".join(row)
            if not row or all(not c.strip() for c in row):
                continue
            if any(_SURROGATE.search(c) for c in row):
                yield line, None, raw.encode("utf-8", "replace").decode(), RecordError(
                    "invalid UTF-8 bytes in the row", None
                )
                continue
            if len(row) != len(header):
                yield line, None, raw, RecordError(
                    f"ragged row: expected {len(header)} fields, found {len(row)}", None
                )
                continue
            yield line, dict(zip(header, row)), raw, None


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any, str, RecordError | None]]:
    """Yield (line, object, raw, error) for each JSON Lines record, streaming."""
    with open(path, "rb") as fh:
        for n, braw in enumerate(fh, start=1):
            if not braw.strip():
                continue
            try:
                raw = braw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, braw.decode("utf-8", "replace"), RecordError(
                    f"invalid UTF-8 at byte {exc.start}", None
                )
                continue
            try:
                yield n, json.loads(raw), raw, None
            except json.JSONDecodeError as exc:
                yield n, None, raw, RecordError(f"broken JSON: {exc.msg} (column {exc.colno})", None)


def iter_json_array(path: Path) -> Iterator[tuple[int, Any, str, RecordError | None]]:
    """Yield records of a JSON document: a list (record n = element n) or a single object."""
    try:
        doc = json.loads(Path(path).read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        yield 1, None, "", RecordError(f"invalid UTF-8 at byte {exc.start}", None)
        return
    except json.JSONDecodeError as exc:
        yield exc.lineno, None, "", RecordError(f"broken JSON: {exc.msg} (column {exc.colno})", None)
        return
    items = doc if isinstance(doc, list) else [doc]
    for n, obj in enumerate(items, start=1):
        yield n, obj, "", None


def pick(row: dict[str, Any], field_name: str, mapping: dict[str, str], aliases: tuple[str, ...]) -> Any:
    """Value of a canonical field: the configured column first, then known aliases."""
    if field_name in mapping:
        return row.get(mapping[field_name])
    for name in (field_name, *aliases):
        if name in row:
            return row[name]
    return None


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    s = str(value).strip()
    return s or None


def parse_number(value: Any, field_name: str, lo: float | None = None, hi: float | None = None) -> float | None:
    """Parse an optional number; out-of-range or non-numeric values are record errors."""
    s = text_or_none(value)
    if s is None:
        return None
    try:
        x = float(s.replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise RecordError(f"not a number: {s!r}", field_name) from None
    if math.isnan(x):
        return None
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise RecordError(f"{x:g} outside the allowed range {lo:g}-{hi:g}", field_name)
    return x


_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y")


def parse_ts(value: Any, field_name: str) -> datetime | None:
    """Parse an optional timestamp to naive UTC; unparseable values are record errors."""
    if isinstance(value, datetime):
        dt = value
    else:
        s = text_or_none(value)
        if s is None:
            return None
        dt = None
        if re.fullmatch(r"\d{9,10}(\.\d+)?", s):
            dt = datetime.fromtimestamp(float(s), tz=timezone.utc)
        else:
            try:
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError:
                for fmt in _FORMATS:
                    try:
                        dt = datetime.strptime(s, fmt)
                        break
                    except ValueError:
                        continue
        if dt is None:
            raise RecordError(f"unparseable timestamp {s!r} (use ISO 8601)", field_name)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    if not (1990 <= dt.year <= 2100):
        raise RecordError(f"timestamp {dt.isoformat()} outside 1990-2100", field_name)
    return dt


def require_text(value: Any, field_name: str, max_chars: int) -> str:
    s = text_or_none(value)
    if s is None:
        raise RecordError("empty text", field_name)
    if len(s) > max_chars:
        raise RecordError(f"text longer than {max_chars} characters", field_name)
    return s


def require_id(value: Any, field_name: str) -> str:
    s = text_or_none(value)
    if s is None:
        raise RecordError("missing id", field_name)
    if s.endswith(".0") and s[:-2].isdigit():  # ids read back from float columns
        s = s[:-2]
    return s

"""Shared reader machinery: located items, the one-record guard, field coercion, derived ids.

Streaming iteration over CSV, JSON Lines and JSON documents lives in ``pipeline.ingest.lines``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipeline.errors import RecordError


@dataclass
class Item:
    """One parsed input record, or one bad record with its location and reason.

    ``line`` is the record's first physical line (for JSON documents: the element's ordinal).
    ``span`` is how many physical lines the record consumed (CSV records with multi-line quoted
    fields, chat conversations built from several rows). ``runs`` lists (first line, count) pairs
    when those lines are not contiguous, else it is empty. ``parent_line`` is set on a bad item
    that is one broken part (a WebVTT cue) of a record that was still produced at that line.
    """

    line: int
    kind: str  # "feedback" | "score" | "ticket" | "bad"
    data: dict[str, Any] = field(default_factory=dict)
    utterances: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    error: RecordError | None = None
    raw: str = ""
    span: int = 1
    runs: tuple[tuple[int, int], ...] = ()
    parent_line: int | None = None


def _as_raw(raw: Any) -> str:
    if isinstance(raw, str):
        return raw[:2000]
    try:
        return json.dumps(raw, ensure_ascii=False, default=str)[:2000]
    except Exception:  # noqa: BLE001 - deeply nested or odd values must not stop the quarantine
        return f"<{type(raw).__name__} that cannot be printed>"


def bad(line: int, error: RecordError, raw: Any, span: int = 1) -> Item:
    return Item(line=line, kind="bad", error=error, raw=_as_raw(raw), span=span)


def excerpt(value: Any, n: int = 40) -> str:
    """A short quoted excerpt of a value for an error reason (reasons must not carry whole values)."""
    s = str(value)
    if len(s) > n:
        s = s[: n - 3] + "..."
    return repr(s)


def unexpected(exc: BaseException) -> RecordError:
    """A record error for an exception no parser anticipated (it names the type, briefly)."""
    msg = str(exc).replace("\n", " ")
    if isinstance(exc, RecursionError):
        msg = "nested too deeply"
    return RecordError(f"unexpected {type(exc).__name__}: {msg[:60]}", None)


def guard(line: int, raw: Any, build: Callable[[], Item], span: int = 1) -> Item:
    """Build one record; any failure inside it becomes a bad item at its line, never an exception.

    This is the rule for every reader: one record's contract break (RecordError) or a parser
    crash (TypeError, RecursionError, ...) quarantines that record and the file goes on.
    """
    try:
        item = build()
    except RecordError as exc:
        return bad(line, exc, raw, span)
    except Exception as exc:  # noqa: BLE001 - see docstring
        return bad(line, unexpected(exc), raw, span)
    item.line, item.span = line, span
    return item


def pick(row: dict[str, Any], field_name: str, mapping: dict[str, str], aliases: tuple[str, ...]) -> Any:
    """Value of a canonical field: the configured column first, then known aliases."""
    if field_name in mapping:
        return row.get(mapping[field_name])
    for name in (field_name, *aliases):
        if name in row:
            return row[name]
    return None


# The kind of id a column holds: order, ticket and conversation ids live in separate spaces, so "1001"
# as an order and "1001" as a ticket never join. A generic ``interaction_id`` column has no kind.
ID_KINDS = {"order_id": "order", "orderid": "order", "ticket_id": "ticket", "conversation_id": "conversation",
            "conversationid": "conversation"}


def interaction_kind(row: dict[str, Any], mapping: dict[str, str], aliases: tuple[str, ...]) -> str | None:
    """The id kind of the column that ``pick(row, "interaction_id", ...)`` read (None when generic)."""
    if "interaction_id" in mapping:
        return ID_KINDS.get(mapping["interaction_id"].lower())
    for name in ("interaction_id", *aliases):
        if name in row:
            return None if row[name] in (None, "") else ID_KINDS.get(name.lower())
    return None


def first_of(obj: dict[str, Any], *keys: str) -> Any:
    """The first of ``keys`` whose value is present (0 and False count as present; None and "" do not)."""
    for k in keys:
        v = obj.get(k)
        if v is not None and v != "":
            return v
    return None


def text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    s = str(value).strip()
    return s or None


def as_text(value: Any, field_name: str) -> str | None:
    """Text of a transcript/turn field: strings and numbers are text; objects and lists are errors."""
    if isinstance(value, (dict, list, tuple, set, bool)):
        raise RecordError(f"expected text, found {type(value).__name__}", field_name)
    return text_or_none(value)


def parse_number(value: Any, field_name: str, lo: float | None = None, hi: float | None = None) -> float | None:
    """Parse an optional number; out-of-range or non-numeric values are record errors."""
    s = text_or_none(value)
    if s is None:
        return None
    try:
        x = float(s.replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise RecordError(f"not a number: {excerpt(s)}", field_name) from None
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
        try:
            if re.fullmatch(r"\d{9,10}(\.\d+)?", s):
                dt = datetime.fromtimestamp(float(s), tz=timezone.utc)
            else:
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except (ValueError, OverflowError, OSError):
            for fmt in _FORMATS:
                try:
                    dt = datetime.strptime(s, fmt)
                    break
                except ValueError:
                    continue
        if dt is None:
            raise RecordError(f"unparseable timestamp {excerpt(s)} (use ISO 8601)", field_name)
    try:
        if dt.tzinfo is not None:
            dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise RecordError("timestamp outside 1990-2100", field_name) from None
    if not (1990 <= dt.year <= 2100):
        raise RecordError(f"timestamp {dt.isoformat()} outside 1990-2100", field_name)
    return dt


def require_text(value: Any, field_name: str, max_chars: int) -> str:
    s = as_text(value, field_name)
    if s is None:
        raise RecordError("empty text", field_name)
    if len(s) > max_chars:
        raise RecordError(f"text longer than {max_chars} characters", field_name)
    return s


def optional_id(value: Any) -> str | None:
    s = text_or_none(value)
    if s is not None and s.endswith(".0") and s[:-2].isdigit():  # ids read back from float columns
        s = s[:-2]
    return s


def require_id(value: Any, field_name: str) -> str:
    s = optional_id(value)
    if s is None:
        raise RecordError("missing id", field_name)
    return s


def derived_id(*parts: Any) -> str:
    """A content key for a record that has no id: ``h-`` + 16 hex digits of a hash of ``parts``.

    Callers pass the author, the time and the text, so two customers who both wrote "Great app"
    get two keys while an identical re-export gets the same key. Whitespace is collapsed so a
    re-export that changes line endings inside the text keeps its key.
    """
    norm = []
    for p in parts:
        if p is None:
            norm.append("")
        elif isinstance(p, datetime):
            norm.append(p.isoformat())
        else:
            norm.append(" ".join(str(p).split()))
    digest = hashlib.sha256("\x1f".join(norm).encode("utf-8", "surrogatepass")).hexdigest()
    return "h-" + digest[:16]

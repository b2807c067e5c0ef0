"""Support chat logs: conversations as JSON/JSONL with a list of turns, or one message per CSV row.

Accepted turn shapes: ``{"role"|"speaker"|"sender": ..., "text"|"message"|"content": ...,
"time"|"timestamp"|"at": ...}`` or a ``[role, text]`` pair (the ABCD export shape, whose
``action`` turns are system actions and map to ``bot``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from configs import SourceConfig
from pipeline.errors import RecordError
from pipeline.ingest.base import (
    Item, bad, iter_csv, iter_json_array, iter_jsonl, parse_ts, pick, require_id, text_or_none,
)

ROLE_WORDS = {
    "customer": "customer", "user": "customer", "client": "customer", "visitor": "customer",
    "agent": "agent", "operator": "agent", "staff": "agent", "support": "agent", "assistant": "agent",
    "bot": "bot", "system": "bot", "action": "bot", "automated": "bot",
}

CONV_ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("conversation_id", "convo_id", "chat_id", "id"),
    "customer_id": ("customer", "user_id"),
    "interaction_id": ("order_id", "ticket_id"),
    "occurred_at": ("started_at", "start_time", "created_at", "timestamp"),
    "touchpoint": (),
    "language": ("lang",),
}
TURN_KEYS = ("turns", "messages", "original", "transcript")


def map_role(label: Any, source: SourceConfig) -> str:
    """Role for a speaker label: the source's configured mapping, then known words, else customer."""
    s = str(label or "").strip()
    if s in source.speakers:
        return source.speakers[s]
    return ROLE_WORDS.get(s.lower(), "customer")


def _turn(t: Any, idx: int) -> tuple[str, str | None, Any]:
    if isinstance(t, (list, tuple)) and len(t) >= 2:
        return str(t[0]), text_or_none(t[1]), t[2] if len(t) > 2 else None
    if isinstance(t, dict):
        role = t.get("role") or t.get("speaker") or t.get("sender") or t.get("author")
        text = t.get("text") or t.get("message") or t.get("content") or t.get("body")
        at = t.get("time") or t.get("timestamp") or t.get("at") or t.get("created_at")
        return str(role or ""), text_or_none(text), at
    raise RecordError(f"turn {idx} is neither an object nor a [role, text] pair", f"turns[{idx}]")


def conversation(conv_id: str, turns: list[tuple[str, str | None, Any]], meta: dict[str, Any],
                 source: SourceConfig, max_chars: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Canonical feedback (customer side) plus utterances for one conversation."""
    utterances = []
    for i, (label, text, at) in enumerate(turns):
        if text is None:
            continue
        utterances.append({
            "turn": i, "role": map_role(label, source), "speaker": label or None,
            "said_at": parse_ts(at, f"turns[{i}].time"), "start_s": None, "end_s": None, "text": text,
        })
    customer = [u["text"] for u in utterances if u["role"] == "customer"]
    if not customer:
        raise RecordError("conversation has no customer turns with text", "turns")
    text = "\n".join(customer)
    if len(text) > max_chars:
        raise RecordError(f"customer text longer than {max_chars} characters", "turns")
    first_at = next((u["said_at"] for u in utterances if u["said_at"] is not None), None)
    data = {
        "source_id": conv_id, "text": text, "rating": None, "rating_scale": None,
        "customer_id": meta.get("customer_id"), "interaction_id": meta.get("interaction_id"),
        "occurred_at": meta.get("occurred_at") or first_at, "touchpoint": meta.get("touchpoint"),
        "language_hint": meta.get("language") or source.language,
    }
    return data, utterances


def _from_object(obj: dict[str, Any], source: SourceConfig, max_chars: int) -> Item:
    get = lambda f: pick(obj, f, source.columns, CONV_ALIASES[f])  # noqa: E731
    key = next((k for k in TURN_KEYS if isinstance(obj.get(k), list)), None)
    if key is None:
        raise RecordError(f"no list of turns (looked for {', '.join(TURN_KEYS)})", "turns")
    turns = [_turn(t, i) for i, t in enumerate(obj[key])]
    meta = {
        "customer_id": text_or_none(get("customer_id")),
        "interaction_id": text_or_none(get("interaction_id")),
        "occurred_at": parse_ts(get("occurred_at"), "occurred_at"),
        "touchpoint": text_or_none(get("touchpoint")),
        "language": text_or_none(get("language")),
    }
    data, utts = conversation(require_id(get("source_id"), "conversation_id"), turns, meta, source, max_chars)
    return Item(line=0, kind="feedback", data=data, utterances=utts)


def read_conversations(path: Path, source: SourceConfig, fmt: str, max_chars: int) -> Iterator[Item]:
    records = iter_jsonl(path) if fmt == "jsonl" else iter_json_array(path)
    for line, obj, raw, err in records:
        if err is None and not isinstance(obj, dict):
            err = RecordError("expected a conversation object", None)
        if err is not None:
            yield bad(line, err, raw)
            continue
        try:
            item = _from_object(obj, source, max_chars)
            item.line = line
            yield item
        except RecordError as exc:
            yield bad(line, exc, raw or obj)


ROW_ALIASES: dict[str, tuple[str, ...]] = {
    **CONV_ALIASES,
    "role": ("speaker", "sender", "author"),
    "text": ("message", "content", "body"),
    "at": ("time", "timestamp", "sent_at"),
}


def read_chat_rows(path: Path, source: SourceConfig, max_chars: int) -> Iterator[Item]:
    """One message per row; rows of one conversation must be contiguous (documented)."""
    get = lambda row, f: pick(row, f, source.columns, ROW_ALIASES[f])  # noqa: E731
    seen: set[str] = set()
    cur_id, cur_line, turns, meta = None, 0, [], {}

    def flush() -> Iterator[Item]:
        if cur_id is None:
            return
        try:
            data, utts = conversation(cur_id, turns, meta, source, max_chars)
            yield Item(line=cur_line, kind="feedback", data=data, utterances=utts)
        except RecordError as exc:
            yield bad(cur_line, exc, f"conversation {cur_id}")

    for line, row, raw, err in iter_csv(path):
        if err is not None:
            yield bad(line, err, raw)
            continue
        try:
            conv_id = require_id(get(row, "source_id"), source.columns.get("source_id", "conversation_id"))
            if conv_id != cur_id and conv_id in seen:
                raise RecordError(f"conversation {conv_id} is not contiguous in the file", "conversation_id")
            parse_ts(get(row, "at"), "at")
        except RecordError as exc:
            yield bad(line, exc, raw)
            continue
        if conv_id != cur_id:
            yield from flush()
            seen.add(conv_id)
            cur_id, cur_line, turns = conv_id, line, []
            meta = {
                "customer_id": text_or_none(get(row, "customer_id")),
                "interaction_id": text_or_none(get(row, "interaction_id")),
                "occurred_at": None,
                "touchpoint": text_or_none(get(row, "touchpoint")),
                "language": text_or_none(get(row, "language")),
            }
        turns.append((str(get(row, "role") or ""), text_or_none(get(row, "text")), get(row, "at")))
    yield from flush()

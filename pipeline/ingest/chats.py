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
    Item, as_text, bad, derived_id, excerpt, first_of, guard, interaction_kind, optional_id, parse_ts, pick, require_id,
    text_or_none, unexpected,
)
from pipeline.ingest.lines import iter_csv, iter_json_doc, iter_jsonl

ROLE_WORDS = {
    "customer": "customer", "user": "customer", "client": "customer", "visitor": "customer",
    "agent": "agent", "operator": "agent", "staff": "agent", "support": "agent", "assistant": "agent",
    "bot": "bot", "system": "bot", "action": "bot", "automated": "bot",
    # vendor role names (Google CCAI / Dialogflow)
    "end_user": "customer", "human_agent": "agent", "automated_agent": "bot", "virtual_agent": "bot",
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
        return str(t[0]), as_text(t[1], f"turns[{idx}]"), t[2] if len(t) > 2 else None
    if isinstance(t, dict):
        role = first_of(t, "role", "speaker", "sender", "author")
        text = first_of(t, "text", "message", "content", "body")
        at = first_of(t, "time", "timestamp", "at", "created_at")
        return str("" if role is None else role), as_text(text, f"turns[{idx}].text"), at
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
        "interaction_kind": meta.get("interaction_kind"),
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
        "interaction_kind": interaction_kind(obj, source.columns, CONV_ALIASES["interaction_id"]),
        "occurred_at": parse_ts(get("occurred_at"), "occurred_at"),
        "touchpoint": text_or_none(get("touchpoint")),
        "language": text_or_none(get("language")),
    }
    conv_id = optional_id(get("source_id"))
    data, utts = conversation(conv_id or "", turns, meta, source, max_chars)
    if conv_id is None:  # a content key: customer, time and every turn's text
        data["source_id"] = derived_id(data["customer_id"], data["occurred_at"], *(u["text"] for u in utts))
        data["id_derived"] = True
    return Item(line=0, kind="feedback", data=data, utterances=utts)


def read_conversations(path: Path, source: SourceConfig, fmt: str, max_chars: int) -> Iterator[Item]:
    """Conversations from JSON Lines (one per line) or a JSON document (a list, or one object).

    A conversation with no id gets ``derived_id(customer, time, turn texts)`` and ``id_derived``.
    """
    records = iter_jsonl(path) if fmt == "jsonl" else iter_json_doc(path)
    for rec in records:
        if rec.error is None and not isinstance(rec.value, dict):
            rec.error = RecordError("expected a conversation object", None)
        if rec.error is not None:
            yield bad(rec.line, rec.error, rec.raw, rec.span)
            continue
        obj = rec.value
        yield guard(rec.line, rec.raw or obj, lambda: _from_object(obj, source, max_chars), rec.span)


ROW_ALIASES: dict[str, tuple[str, ...]] = {
    **CONV_ALIASES,
    "role": ("speaker", "sender", "author"),
    "text": ("message", "content", "body"),
    "at": ("time", "timestamp", "sent_at"),
}


def read_chat_rows(path: Path, source: SourceConfig, max_chars: int) -> Iterator[Item]:
    """One message per row; rows of one conversation must be contiguous (documented).

    Rows need a conversation id (it is what groups them), so a row without one is quarantined.
    A conversation's item spans the physical lines of all its rows (``runs`` when bad rows sit
    between them).
    """
    get = lambda row, f: pick(row, f, source.columns, ROW_ALIASES[f])  # noqa: E731
    seen: set[str] = set()
    cur_id, turns, meta, runs = None, [], {}, []

    def build() -> Item:
        data, utts = conversation(cur_id, turns, meta, source, max_chars)
        return Item(line=0, kind="feedback", data=data, utterances=utts)

    def flush() -> Iterator[Item]:
        if cur_id is None:
            return
        item = guard(runs[0][0], f"conversation {cur_id}", build, sum(c for _, c in runs))
        item.runs = tuple(runs) if len(runs) > 1 else ()
        yield item

    for rec in iter_csv(path):
        if rec.error is not None:
            yield bad(rec.line, rec.error, rec.raw, rec.span)
            continue
        row = rec.value
        try:
            conv_id = require_id(get(row, "source_id"), source.columns.get("source_id", "conversation_id"))
            if conv_id != cur_id and conv_id in seen:
                raise RecordError(f"conversation {excerpt(conv_id)} is not contiguous in the file", "conversation_id")
            parse_ts(get(row, "at"), "at")
            turn = (str(get(row, "role") or ""), as_text(get(row, "text"), "text"), get(row, "at"))
        except RecordError as exc:
            yield bad(rec.line, exc, rec.raw, rec.span)
            continue
        except Exception as exc:  # noqa: BLE001 - one row never stops the file
            yield bad(rec.line, unexpected(exc), rec.raw, rec.span)
            continue
        if conv_id != cur_id:
            yield from flush()
            seen.add(conv_id)
            cur_id, turns, runs = conv_id, [], []
            meta = {
                "customer_id": text_or_none(get(row, "customer_id")),
                "interaction_id": text_or_none(get(row, "interaction_id")),
                "interaction_kind": interaction_kind(row, source.columns, ROW_ALIASES["interaction_id"]),
                "occurred_at": None,
                "touchpoint": text_or_none(get(row, "touchpoint")),
                "language": text_or_none(get(row, "language")),
            }
        turns.append(turn)
        if runs and runs[-1][0] + runs[-1][1] == rec.line:
            runs[-1] = (runs[-1][0], runs[-1][1] + rec.span)
        else:
            runs.append((rec.line, rec.span))
    yield from flush()

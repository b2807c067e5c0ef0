"""Survey responses (NPS, CSAT, CES, optional comment) and support tickets, from CSV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from configs import SourceConfig
from pipeline.errors import RecordError
from pipeline.ingest.base import (
    Item, bad, guard, interaction_kind, parse_number, parse_ts, pick, require_id, text_or_none,
)
from pipeline.ingest.lines import iter_csv
from pipeline.records import CSAT_SCALES

SURVEY_ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("response_id", "id"),
    "customer_id": ("customer",),
    "interaction_id": ("order_id", "ticket_id"),
    "occurred_at": ("submitted_at", "date", "created_at"),
    "nps": ("nps_score", "likelihood_to_recommend"),
    "csat": ("csat_score", "satisfaction"),
    "csat_scale": ("csat_max",),
    "ces": ("ces_score", "effort"),
    "text": ("comment", "verbatim", "feedback"),
    "touchpoint": (),
    "language": ("lang",),
}
TICKET_ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("ticket_id", "id"),
    "customer_id": ("customer",),
    "interaction_id": ("order_id", "conversation_id"),
    "opened_at": ("created_at", "opened"),
    "resolved_at": ("closed_at", "resolved", "solved_at"),
    "status": ("state",),
    "touchpoint": ("category",),
}


def survey_from_row(row: dict[str, Any], source: SourceConfig, max_chars: int) -> Item:
    get = lambda f: pick(row, f, source.columns, SURVEY_ALIASES[f])  # noqa: E731
    col = lambda f: source.columns.get(f, f)  # noqa: E731
    rid = require_id(get("source_id"), col("source_id"))
    at = parse_ts(get("occurred_at"), col("occurred_at"))
    nps = parse_number(get("nps"), col("nps"), 0, 10)
    scale = parse_number(get("csat_scale"), col("csat_scale")) or 5
    if int(scale) not in CSAT_SCALES:
        raise RecordError(f"CSAT scale must be one of {CSAT_SCALES}, got {scale:g}", col("csat_scale"))
    csat = parse_number(get("csat"), col("csat"), 1, scale)
    ces = parse_number(get("ces"), col("ces"), 1, 7)
    if nps is not None and nps != int(nps):
        raise RecordError(f"NPS must be a whole number, got {nps:g}", col("nps"))
    if nps is None and csat is None and ces is None:
        raise RecordError("response has no NPS, CSAT or CES value", col("nps"))
    common = {
        "customer_id": text_or_none(get("customer_id")),
        "interaction_id": text_or_none(get("interaction_id")),
        "interaction_kind": interaction_kind(row, source.columns, SURVEY_ALIASES["interaction_id"]),
        "occurred_at": at, "touchpoint": text_or_none(get("touchpoint")),
    }
    scores = [
        {"score_id": f"{source.name}:{rid}:{kind}", "kind": kind, "value": value,
         "scale": {"nps": 10, "csat": int(scale), "ces": 7}[kind], **common}
        for kind, value in (("nps", nps), ("csat", csat), ("ces", ces)) if value is not None
    ]
    comment = text_or_none(get("text"))
    if comment is not None and len(comment) > max_chars:
        raise RecordError(f"comment longer than {max_chars} characters", col("text"))
    data = {}
    if comment:
        data = {"source_id": rid, "text": comment, "rating": nps, "rating_scale": 10 if nps is not None else None,
                "language_hint": text_or_none(get("language")) or source.language, **common}
    return Item(line=0, kind="feedback" if comment else "score", data=data, scores=scores)


def ticket_from_row(row: dict[str, Any], source: SourceConfig) -> Item:
    get = lambda f: pick(row, f, source.columns, TICKET_ALIASES[f])  # noqa: E731
    col = lambda f: source.columns.get(f, f)  # noqa: E731
    opened = parse_ts(get("opened_at"), col("opened_at"))
    resolved = parse_ts(get("resolved_at"), col("resolved_at"))
    if opened is None:
        raise RecordError("missing opened time", col("opened_at"))
    hours = None
    if resolved is not None:
        hours = (resolved - opened).total_seconds() / 3600
        if hours < 0:
            raise RecordError("resolved before it was opened", col("resolved_at"))
    data = {
        "ticket_id": f"{source.name}:{require_id(get('source_id'), col('source_id'))}",
        "customer_id": text_or_none(get("customer_id")),
        "interaction_id": text_or_none(get("interaction_id")),
        "interaction_kind": interaction_kind(row, source.columns, TICKET_ALIASES["interaction_id"]),
        "opened_at": opened, "resolved_at": resolved, "resolution_hours": hours,
        "status": text_or_none(get("status")), "touchpoint": text_or_none(get("touchpoint")),
    }
    return Item(line=0, kind="ticket", data=data)


def read_surveys(path: Path, source: SourceConfig, max_chars: int) -> Iterator[Item]:
    for rec in iter_csv(path):
        if rec.error is not None:
            yield bad(rec.line, rec.error, rec.raw, rec.span)
            continue
        row = rec.value
        yield guard(rec.line, rec.raw, lambda: survey_from_row(row, source, max_chars), rec.span)


def read_tickets(path: Path, source: SourceConfig) -> Iterator[Item]:
    for rec in iter_csv(path):
        if rec.error is not None:
            yield bad(rec.line, rec.error, rec.raw, rec.span)
            continue
        row = rec.value
        yield guard(rec.line, rec.raw, lambda: ticket_from_row(row, source), rec.span)

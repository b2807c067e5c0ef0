"""Canonical record shapes shared by every stage.

Datasets are nouns in layers: raw files -> ``feedback`` + ``utterances`` + ``scores`` + ``tickets``
-> ``sentences`` (enriched) -> ``feedback_scores`` (join) -> ``aggregates`` (daily touchpoints).
"""

from __future__ import annotations

import hashlib


CSAT_SCALES = (5, 7)


def feedback_id(channel: str, source: str, source_id: str) -> str:
    """Stable id from the natural key: the same record always gets the same id."""
    raw = f"{channel}\x1f{source}\x1f{source_id}".encode()
    return hashlib.sha1(raw).hexdigest()[:20]


# Column order of each staged table; the store creates tables with these columns.
FEEDBACK_COLUMNS = [
    "feedback_id", "channel", "source", "source_id", "customer_id", "interaction_id",
    "touchpoint", "journey_stage", "occurred_at", "event_date", "language", "language_confidence",
    "text", "rating", "rating_scale", "n_utterances", "pii_redacted", "input_file", "input_line",
    "interaction_kind",
]
UTTERANCE_COLUMNS = [
    "feedback_id", "turn", "role", "speaker", "said_at", "start_s", "end_s", "text",
]
SCORE_COLUMNS = [
    "score_id", "kind", "value", "scale", "customer_id", "interaction_id", "occurred_at",
    "source", "touchpoint", "input_file", "input_line", "interaction_kind",
]
TICKET_COLUMNS = [
    "ticket_id", "customer_id", "interaction_id", "opened_at", "resolved_at", "resolution_hours",
    "status", "source", "touchpoint", "input_file", "input_line", "interaction_kind",
]
QUARANTINE_COLUMNS = ["input_file", "input_line", "channel", "source", "field", "reason", "raw", "record_hash",
                      "file_sha256"]

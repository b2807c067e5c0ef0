"""Typed redaction policy (which PII kinds are replaced before text is stored, logged or cached)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RedactionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    emails: bool = True
    phones: bool = True
    cards: bool = True
    ibans: bool = True

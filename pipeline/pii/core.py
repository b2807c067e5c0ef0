"""Find PII spans in a text and replace them with typed placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from configs import RedactionConfig
from pipeline.pii.addresses import find_addresses
from pipeline.pii.contact import find_emails, find_phones
from pipeline.pii.names import find_names
from pipeline.pii.numbers import find_cards, find_ibans, find_national_ids
from pipeline.pii.spans import Span, fold

PLACEHOLDERS = {k: f"[{k}]" for k in ("EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID", "NAME", "ADDRESS")}
_DIGIT = re.compile(r"[0-9]")
_DEFAULT = RedactionConfig()


@dataclass(frozen=True)
class Redacted:
    text: str
    count: int
    kinds: dict[str, int] = field(default_factory=dict)  # placeholder kind -> how many were replaced


def find_pii(text: str, policy: RedactionConfig = _DEFAULT) -> list[Span]:
    """Non-overlapping PII spans in `text`, sorted by start; offsets index the original text.

    Stages run strictest first (e-mail, IBAN, national id, card, phone, address, name); what an
    earlier stage found is masked before the next one looks, so a card is never also a phone.
    """
    work = fold(text)
    found: list[Span] = []

    def take(spans) -> None:
        nonlocal work
        new = merge(list(spans))
        for s in new:
            work = work[:s.start] + "\x00" * (s.end - s.start) + work[s.end:]
        found.extend(new)

    if policy.emails:
        take(find_emails(work))
    if _DIGIT.search(work):
        if policy.ibans:
            take(find_ibans(work))
        if policy.national_id_numbers and policy.national_ids:
            take(find_national_ids(work, policy.national_ids))
        if policy.cards:
            take(find_cards(work))
        if policy.phones:
            take(find_phones(work, policy.phone_regions))
        if policy.addresses:
            take(find_addresses(work))
    if policy.names:
        take(find_names(work))
    return sorted(found)


def merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans merged into their union (no character of either may leak); the kind of
    the longest one names the union."""
    out: list[Span] = []
    for s in sorted(spans):
        if out and s.start < out[-1].end:
            last = out[-1]
            kind = last.kind if last.end - last.start >= s.end - s.start else s.kind
            out[-1] = Span(last.start, max(last.end, s.end), kind)
        else:
            out.append(s)
    return out


def redact_text(text: str, policy: RedactionConfig = _DEFAULT) -> Redacted:
    """Replace PII in one text with [EMAIL], [PHONE], [CARD], [IBAN], [NATIONAL_ID], [NAME], [ADDRESS]."""
    spans = find_pii(text, policy)
    if not spans:
        return Redacted(text, 0, {})
    parts, pos, kinds = [], 0, {}
    for s in spans:
        parts.append(text[pos:s.start])
        parts.append(PLACEHOLDERS[s.kind])
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
        pos = s.end
    parts.append(text[pos:])
    return Redacted("".join(parts), len(spans), kinds)


def redact_all(texts: list[str | None], policy: RedactionConfig = _DEFAULT) -> tuple[list[str | None], list[int]]:
    """Redact a list of texts; None stays None (with a count of 0)."""
    out: list[str | None] = []
    counts: list[int] = []
    for t in texts:
        if t is None:
            out.append(None)
            counts.append(0)
        else:
            r = redact_text(t, policy)
            out.append(r.text)
            counts.append(r.count)
    return out, counts


def looks_like_pii(value: str, policy: RedactionConfig = _DEFAULT) -> bool:
    """True when the value, or part of it, is PII that `policy` would redact (an identifier column
    that holds e-mails or phone numbers should be pseudonymised, not stored)."""
    return bool(value) and bool(find_pii(value, policy))

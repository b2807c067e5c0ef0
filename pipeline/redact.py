"""PII redaction with typed placeholders: emails, phone numbers, Luhn-valid card numbers, IBANs.

Applied before text is stored, logged or cached. A 16-digit number that fails the Luhn check (an
order number, say) is kept; so is an IBAN-shaped string that fails the mod-97 check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from configs import RedactionConfig

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}"  # +39 333 123 4567
    r"|\(\d{2,4}\)[\s.-]?\d{3,4}[\s.-]?\d{3,4}"  # (977) 625-2661
    r"|\d{2,4}[\s.-]\d{3,4}[\s.-]\d{3,4}"  # 555-123-4567, 138 1234 5678
    r"|1[3-9]\d{9}|09\d{9}|۰۹[۰-۹]{9}"  # bare Chinese and Iranian mobiles
    r")(?!\w)"
)


@dataclass(frozen=True)
class Redacted:
    text: str
    count: int


def luhn_ok(digits: str) -> bool:
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(nums)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def redact_text(text: str, policy: RedactionConfig = RedactionConfig()) -> Redacted:
    """Replace PII in one text with [EMAIL], [IBAN], [CARD], [PHONE]; return the text and a count."""
    n = 0

    def sub(pattern: re.Pattern, label: str, check=None):
        nonlocal text, n

        def repl(m: re.Match) -> str:
            nonlocal n
            if check is not None and not check(m.group(0)):
                return m.group(0)
            n += 1
            return label

        text = pattern.sub(repl, text)

    if policy.emails:
        sub(EMAIL, "[EMAIL]")
    if policy.ibans:
        sub(IBAN, "[IBAN]", iban_ok)
    if policy.cards:
        sub(CARD, "[CARD]", luhn_ok)
    if policy.phones:
        sub(PHONE, "[PHONE]", lambda s: 7 <= sum(c.isdigit() for c in s) <= 15)
    return Redacted(text, n)


def redact_all(texts: list[str | None], policy: RedactionConfig = RedactionConfig()) -> tuple[list[str | None], list[int]]:
    """Redact a list of texts; None stays None."""
    out, counts = [], []
    for t in texts:
        if t is None:
            out.append(None)
            counts.append(0)
        else:
            r = redact_text(t, policy)
            out.append(r.text)
            counts.append(r.count)
    return out, counts

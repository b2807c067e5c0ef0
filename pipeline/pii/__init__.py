"""PII detection, redaction with typed placeholders, and pseudonyms for identifier columns.

Modules: spans (shared types, digit folding), contact (e-mail, phone), numbers (card, IBAN,
national ids), addresses, names, core (orchestration), pseudonym, evaluate (planted-corpus scoring).
May import ``configs`` only.
"""

from pipeline.pii.core import PLACEHOLDERS, Redacted, find_pii, looks_like_pii, redact_all, redact_text
from pipeline.pii.numbers import NATIONAL_IDS, iban_ok, luhn_ok
from pipeline.pii.pseudonym import pseudonym_key, pseudonymize
from pipeline.pii.spans import KINDS, Span

__all__ = ["KINDS", "NATIONAL_IDS", "PLACEHOLDERS", "Redacted", "Span", "find_pii", "iban_ok", "looks_like_pii",
           "luhn_ok", "pseudonym_key", "pseudonymize", "redact_all", "redact_text"]

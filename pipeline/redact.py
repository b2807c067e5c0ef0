"""PII redaction with typed placeholders (the stage other modules import).

The implementation lives in the pipeline.pii package; this module keeps the public API:
`redact_text(text, policy) -> Redacted(text, count, kinds)` and `redact_all(texts, policy)`.
"""

from pipeline.pii import (  # noqa: F401
    PLACEHOLDERS,
    Redacted,
    find_pii,
    iban_ok,
    looks_like_pii,
    luhn_ok,
    pseudonym_key,
    pseudonymize,
    redact_all,
    redact_text,
)

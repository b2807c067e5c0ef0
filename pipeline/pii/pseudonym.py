"""Pseudonyms for identifier columns (customer ids, ticket requesters): keyed, stable, short."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

ENV_KEY = "TOUCHPOINT_PSEUDONYM_KEY"


def pseudonymize(value: str | None, key: bytes) -> str | None:
    """`pid_` and 20 hex characters of HMAC-SHA256(key, value); None stays None.

    The same value and key always give the same pseudonym, so joins on the column still work;
    without the key the value cannot be recovered or confirmed by hashing guesses.
    """
    if value is None:
        return None
    if not key:
        raise ValueError(f"pseudonymize needs a non-empty key (set {ENV_KEY})")
    return "pid_" + hmac.new(key, value.strip().encode("utf-8"), hashlib.sha256).hexdigest()[:20]


def pseudonym_key(env: Mapping[str, str] = os.environ) -> bytes | None:
    """The pseudonym key from TOUCHPOINT_PSEUDONYM_KEY, or None when it is unset or empty."""
    raw = env.get(ENV_KEY, "")
    return raw.encode("utf-8") if raw.strip() else None

"""Pseudonyms for identifier columns (customer ids, ticket requesters) and speaker labels: keyed, stable, short."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

ENV_KEY = "TOUCHPOINT_PSEUDONYM_KEY"


def pseudonymize(value: str | None, key: bytes, prefix: str = "pid_", scope: str = "", length: int = 20) -> str | None:
    """``prefix`` and ``length`` hex characters of HMAC-SHA256(key, value); None stays None.

    The same value and key always give the same pseudonym, so joins on the column still work;
    without the key the value cannot be recovered or confirmed by hashing guesses. ``scope``
    separates kinds of values (a speaker label and a customer id that are equal get unrelated
    pseudonyms); the default (no scope) is the id pseudonym every store already holds.
    """
    if value is None:
        return None
    if not key:
        raise ValueError(f"pseudonymize needs a non-empty key (set {ENV_KEY})")
    msg = value.strip().encode("utf-8")
    if scope:
        msg = scope.encode("utf-8") + b"\0" + msg
    return prefix + hmac.new(key, msg, hashlib.sha256).hexdigest()[:length]


def pseudonym_key(env: Mapping[str, str] = os.environ) -> bytes | None:
    """The pseudonym key from TOUCHPOINT_PSEUDONYM_KEY, or None when it is unset or empty."""
    raw = env.get(ENV_KEY, "")
    return raw.encode("utf-8") if raw.strip() else None

"""Pseudonymise identifier columns that hold personal data (an email or phone used as a customer id).

The same value always maps to the same pseudonym under one key, so joins between feedback, scores
and tickets still work. The key comes from ``TOUCHPOINT_PSEUDONYM_KEY``; without it, a random key is
created once in ``<data_dir>/.pseudonym_key`` (mode 0600) and a warning says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from configs.redaction import RedactionConfig
from pipeline.redact import redact_text

log = logging.getLogger("touchpoint")
ENV_KEY = "TOUCHPOINT_PSEUDONYM_KEY"
ID_FIELDS = ("customer_id", "interaction_id")


def pseudonym_key(data_dir: str | os.PathLike) -> bytes:
    """The keyed-hash secret: from the environment, else the data dir's key file (created once)."""
    env = os.environ.get(ENV_KEY)
    if env:
        return env.encode()
    path = Path(data_dir) / ".pseudonym_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    log.warning("%s is not set: created a pseudonymisation key in %s; keep it (or set %s) so ids stay "
                "joinable across runs", ENV_KEY, path, ENV_KEY)
    return path.read_bytes().strip()


def pseudonym(value: str, key: bytes) -> str:
    return "pid_" + hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()[:20]


def pseudonymize_ids(row: dict[str, Any], key: bytes | None, policy: RedactionConfig) -> dict[str, Any]:
    """A copy of ``row`` whose identifier fields are pseudonymised when they contain personal data."""
    out = dict(row)
    if key is None:
        return out
    for f in ID_FIELDS:
        v = out.get(f)
        if isinstance(v, str) and v and redact_text(v, policy).count:
            out[f] = pseudonym(v, key)
    return out

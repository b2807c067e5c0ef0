"""Pseudonymise identifier columns that hold personal data (an email or phone used as a customer id).

The same value always maps to the same pseudonym under one key (``pipeline.pii.pseudonymize``), so
joins between feedback, scores and tickets still work. The key comes from
``TOUCHPOINT_PSEUDONYM_KEY``; without it, a random key is created once in
``<data_dir>/.pseudonym_key`` (mode 0600, never followed through a link) and a warning says so.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from configs.redaction import RedactionConfig
from pipeline.pii import looks_like_pii, pseudonymize
from pipeline.pii import pseudonym_key as env_pseudonym_key
from pipeline.pii.pseudonym import ENV_KEY

log = logging.getLogger("touchpoint")
ID_FIELDS = ("customer_id", "interaction_id")


def pseudonym_key(data_dir: str | os.PathLike) -> bytes:
    """The keyed-hash secret: from the environment, else the data dir's key file (created once)."""
    env = env_pseudonym_key()
    if env:
        return env
    path = Path(data_dir) / ".pseudonym_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            return fh.read().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    log.warning("%s is not set: created a pseudonymisation key in %s; keep it (or set %s) so ids stay "
                "joinable across runs", ENV_KEY, path, ENV_KEY)
    return path.read_bytes().strip()


def pseudonymize_ids(row: dict[str, Any], key: bytes | None, policy: RedactionConfig) -> dict[str, Any]:
    """A copy of ``row`` whose identifier fields are pseudonymised when they contain personal data."""
    out = dict(row)
    if not key:
        return out
    for f in ID_FIELDS:
        v = out.get(f)
        if isinstance(v, str) and v and looks_like_pii(v, policy):
            out[f] = pseudonymize(v.strip().lower(), key)
    return out

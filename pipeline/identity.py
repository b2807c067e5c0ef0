"""Pseudonyms for identifier columns and speaker labels, and the secret key files behind them.

- ``customer_id`` is always pseudonymised (a review's author or user name is personal data even
  when it is not an email or a phone), in every channel and in scores and tickets alike: the same
  value maps to the same pseudonym under one key (``pipeline.pii.pseudonymize``), so joins still
  work. ``touchpoint ids lookup`` gives a follow-up team the pseudonym of a raw id.
- ``interaction_id`` (order, ticket, conversation numbers) is pseudonymised only when it holds
  personal data (an email or a phone used as the id).
- Utterance speaker labels (``<v Maria Rossi>``, a chat's sender) become ``spk_`` pseudonyms, so
  distinct speakers stay distinct within a call without their names being stored.

The key comes from ``TOUCHPOINT_PSEUDONYM_KEY``; without it, a random key is created once in
``<data_dir>/.pseudonym_key`` (mode 0600, never followed through a link) and a warning says so. A
key file that is empty, too short, a link or unreadable stops the run (``KeyFileError``): going on
would store raw ids, or ids that no longer join with the ones already stored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from configs.redaction import RedactionConfig
from models.keyfile import KeyFileError, key_file
from pipeline.pii import looks_like_pii, pseudonymize
from pipeline.pii import pseudonym_key as env_pseudonym_key
from pipeline.pii.pseudonym import ENV_KEY

log = logging.getLogger("touchpoint")
ID_FIELDS = ("customer_id", "interaction_id")
KEY_FILE = ".pseudonym_key"
SPEAKER_PREFIX = "spk_"

_PSEUDONYM_FIX = (f"restore the file from a backup, or set {ENV_KEY} to the key this store was built "
                  f"with; delete the file only for a new, empty store (a new key makes ids that no "
                  f"longer join with the stored ones)")


def pseudonym_key(data_dir: str | os.PathLike, create: bool = True) -> bytes:
    """The keyed-hash secret: from the environment, else the data dir's key file (created once).

    Raises:
        KeyFileError: the key file is empty, too short or unreadable, or it is missing and
            ``create`` is False (a lookup must not invent a key the store was not built with).
    """
    env = env_pseudonym_key()
    if env:
        return env
    path = Path(data_dir) / KEY_FILE
    fix = _PSEUDONYM_FIX if create else (f"the store has no key yet (no run has stored an id), or its key is "
                                         f"kept elsewhere: set {ENV_KEY} to it")
    key, created = key_file(path, fix, create=create)
    if created:
        log.warning("%s is not set: created a pseudonymisation key in %s; keep it (or set %s) so ids stay "
                    "joinable across runs", ENV_KEY, path, ENV_KEY)
    return key


# ---------------------------------------------------------------------------------------------
# Pseudonyms

def id_pseudonym(value: str, key: bytes, policy: RedactionConfig) -> str:
    """The stored pseudonym of one raw id (an email or phone is compared case-insensitively)."""
    v = value.strip()
    return pseudonymize(v.lower() if looks_like_pii(v, policy) else v, key)


def speaker_pseudonym(label: Any, key: bytes) -> str | None:
    """``spk_`` and 12 hex characters for a speaker label; no label stays None."""
    s = "" if label is None else str(label).strip()
    return pseudonymize(s, key, prefix=SPEAKER_PREFIX, scope="speaker", length=12) if s else None


def pseudonymize_ids(row: dict[str, Any], key: bytes | None, policy: RedactionConfig) -> dict[str, Any]:
    """A copy of ``row`` with ``customer_id`` pseudonymised, and ``interaction_id`` too when it holds
    personal data. ``key`` is required: without one no id could be stored safely."""
    if not key:
        raise KeyFileError(f"no pseudonymisation key: set {ENV_KEY} or let the run create "
                           f"<data_dir>/{KEY_FILE}")
    out = dict(row)
    cid = out.get("customer_id")
    if isinstance(cid, (str, int)) and not isinstance(cid, bool) and str(cid).strip():
        out["customer_id"] = id_pseudonym(str(cid), key, policy)
    iid = out.get("interaction_id")
    if isinstance(iid, str) and iid and looks_like_pii(iid, policy):
        out["interaction_id"] = pseudonymize(iid.strip().lower(), key)
    return out


def pseudonymize_speakers(utterances: list[dict[str, Any]], key: bytes) -> list[dict[str, Any]]:
    """Copies of utterance rows whose ``speaker`` label is replaced by its pseudonym (roles were
    assigned from the raw label at read time, so they are kept)."""
    return [{**u, "speaker": speaker_pseudonym(u.get("speaker"), key)} for u in utterances]

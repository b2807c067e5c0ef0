"""Secret key files: the pseudonymisation key (pipeline/identity.py) and the vector cache's key
(models/encoders/vector_cache.py) share this one creator and reader.

A key is created once, atomically, 0600; a key file that is empty, too short, a link or unreadable
stops the caller with ``KeyFileError`` naming the file and what to do. It lives in ``models`` because
both the stages and the encoders use it, and ``models`` never imports ``pipeline``.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

MIN_KEY_CHARS = 32  # a created key is 64 hex characters (256 bits); 32 is the least accepted


class KeyFileError(ValueError):
    """A secret key file (the pseudonymisation key, the vector cache's key) is empty, too short, a
    link, unreadable or cannot be created. A ValueError, so code that treats a bad key as bad data
    (the vector cache turns itself off) keeps doing so; the command line reports it as a user error."""



def _read_key(path: Path, fix: str, wait_s: float) -> bytes:
    """The key in ``path``; waits up to ``wait_s`` for a writer that has not finished (older versions
    wrote the file in place), then fails on a short or empty key."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                key = fh.read().strip()
        except FileNotFoundError:
            key = None  # removed after the existence check: waited for, then an error
        except OSError as exc:  # a link (ELOOP), a folder, no permission
            raise KeyFileError(f"{path}: the key file cannot be read ({exc.strerror or exc}); "
                               f"it must be a regular file readable by this user; {fix}") from None
        if key is not None and len(key) >= MIN_KEY_CHARS:
            return key
        if time.monotonic() >= deadline:
            if key is None:
                raise KeyFileError(f"{path}: the key file disappeared while it was being read; rerun, "
                                   f"and check that nothing deletes it; {fix}")
            what = "empty" if not key else f"only {len(key)} characters long (at least {MIN_KEY_CHARS} needed)"
            raise KeyFileError(f"{path}: the key file is {what}; {fix}")
        time.sleep(0.05)


def key_file(path: str | os.PathLike, fix: str, create: bool = True, wait_s: float = 1.0) -> tuple[bytes, bool]:
    """The random secret in ``path``, created once if missing; returns (key, created).

    Creation is atomic: the key is written to a private temporary file beside ``path`` and
    hard-linked into place, so a racing process either wins or reads the winner's complete key,
    never a half-written one; the link never replaces an existing file. On a file system without
    hard links, the file is created exclusively instead and readers wait for its content.

    Raises:
        KeyFileError: the file is empty, too short, a link or unreadable (``fix`` says what to do),
            or it is missing and ``create`` is False.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        return _read_key(path, fix, wait_s), False
    if not create:
        raise KeyFileError(f"{path}: no key file; {fix}")
    key = secrets.token_hex(32).encode()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise KeyFileError(f"{path}: the key file cannot be created ({exc.strerror or exc}); check that "
                           f"{path.parent} exists and is writable by this user") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process won the race: its key is the key
            return _read_key(path, fix, wait_s), False
        except OSError:  # no hard links here: create exclusively and write in place
            return _create_in_place(path, key, fix, wait_s)
    finally:
        tmp.unlink(missing_ok=True)
    return key, True


def _create_in_place(path: Path, key: bytes, fix: str, wait_s: float) -> tuple[bytes, bool]:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_key(path, fix, wait_s), False
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key, True

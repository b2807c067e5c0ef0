"""Persistent sentence-vector cache: encoder vectors kept across runs in one SQLite file.

The encoder is nine tenths of a run's time. A rerun of an overlapping dump, a ``rescore`` after a
taxonomy edit, or a night that sees yesterday's chat greetings again asks for vectors it computed
before. This cache answers them from ``<data_dir>/cache/vectors-<encoder>.sqlite``:

- Key: HMAC-SHA256 of the encoder fingerprint, the device it runs on and the exact text (16 bytes),
  keyed with a random secret kept beside the file (``.key``), so the file alone cannot confirm a
  guess at a short text. A new encoder version (new weights, new converter) or device (bf16 on a GPU
  vs fp32 on a CPU) has a new key, so vectors never mix; deleting the folder empties it.
- Value: the float32 vector bytes exactly as the encoder returned them, so a warm run produces the
  same predictions as a cold one.
- No text is stored, only the keyed hash: the texts reaching the encoder are already redacted, and
  the hash cannot be read back (reliability property 8).
- Bounded: past ``max_rows`` the oldest tenth (by insertion) is deleted; 384 float32 = 1.5 KB a row,
  so the default 1,000,000 rows is about 1.6 GB on disk.
- A cache must never fail a run: if the file cannot be opened or written (read-only disk, a Dask
  worker without the data dir, a corrupt file, a lock held too long), one warning is logged and the
  run goes on encoding; the next run tries again. The data dir itself is never created here.

SQLite (standard library, WAL journal): several processes may read and write the file at once
(Dask workers on one machine); writers wait up to 30 s for each other.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("touchpoint")

_CHUNK = 500  # keys per SELECT ... IN (...): under SQLite's default variable limit


def cache_file(data_dir: str | Path, encoder_name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in encoder_name)
    return Path(data_dir) / "cache" / f"vectors-{safe}.sqlite"


class VectorDiskCache:
    """text -> float32 vector, persistent, keyed by (encoder fingerprint, text)."""

    def __init__(self, path: str | Path, fingerprint: str, dim: int, max_rows: int = 1_000_000,
                 busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.fingerprint = fingerprint  # include the device: bf16 on a GPU and fp32 differ slightly
        self.dim = int(dim)
        self.max_rows = int(max_rows)
        self.busy_timeout_s = busy_timeout_s
        self.hits = self.misses = self.written = 0
        self.disabled: str | None = None
        self._local = threading.local()
        self._secret: bytes | None = None
        self._approx_rows: int | None = None  # rows as last counted plus what this process added
        self._last_at = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connection
    def _con(self) -> sqlite3.Connection | None:
        if self.disabled:
            return None
        con = getattr(self._local, "con", None)
        if con is not None and getattr(self._local, "pid", None) != os.getpid():
            con = None  # a forked child never uses its parent's connection
        if con is None:
            try:
                self.path.parent.mkdir(exist_ok=True)  # the cache folder only: never the data dir
                self._secret = self._secret or _secret(self.path.parent / ".key")
                con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL, "
                            "at INTEGER NOT NULL) WITHOUT ROWID")
                con.execute("CREATE INDEX IF NOT EXISTS vectors_at ON vectors (at)")
            except (sqlite3.Error, OSError, ValueError) as exc:
                self._disable(exc)
                return None
            self._local.con, self._local.pid = con, os.getpid()
        return con

    def _disable(self, exc: BaseException) -> None:
        if not self.disabled:
            self.disabled = f"{type(exc).__name__}: {exc}"
            log.warning("vector cache %s disabled for this run (%s); vectors are computed as usual",
                        self.path, self.disabled)

    def key(self, text: str) -> bytes:
        msg = self.fingerprint.encode() + b"\0" + text.encode("utf-8", "surrogatepass")
        return hmac.new(self._secret or b"", msg, hashlib.sha256).digest()[:16]

    # ------------------------------------------------------------------ read / write
    def get_many(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those ``texts`` that have one."""
        con = self._con()
        if con is None or not texts:
            return {}
        by_key = {self.key(t): t for t in texts}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        try:
            for i in range(0, len(keys), _CHUNK):
                part = keys[i:i + _CHUNK]
                rows = con.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                   part).fetchall()
                for k, blob in rows:
                    v = np.frombuffer(blob, dtype=np.float32)
                    if v.shape[0] == self.dim:
                        found[by_key[bytes(k)]] = v
        except (sqlite3.Error, ValueError) as exc:  # ValueError: a damaged blob
            self._disable(exc)
            return {}
        self.hits += len(found)
        self.misses += len(by_key) - len(found)
        return found

    def put_many(self, texts: list[str], vecs: np.ndarray) -> None:
        con = self._con()
        if con is None or not texts:
            return
        with self._lock:  # insertion order: strictly increasing, even on a coarse clock
            now = self._last_at = max(time.time_ns(), self._last_at + 1)
        rows = [(self.key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes(), now)
                for t, v in zip(texts, vecs)]
        try:
            if self._approx_rows is None:
                self._approx_rows = int(con.execute("SELECT count(*) FROM vectors").fetchone()[0])
            con.execute("BEGIN IMMEDIATE")
            added = self._insert(con, rows)
            self._approx_rows += added
            if self._approx_rows > self.max_rows:  # count for real (other processes write too), then trim
                n = int(con.execute("SELECT count(*) FROM vectors").fetchone()[0])
                if n > self.max_rows:  # drop the oldest tenth (at least the overflow)
                    drop = max(n - self.max_rows, self.max_rows // 10)
                    con.execute("DELETE FROM vectors WHERE key IN (SELECT key FROM vectors ORDER BY at LIMIT ?)",
                                (drop,))
                    n -= drop
                self._approx_rows = n
            con.execute("COMMIT")
            self.written += added
        except BaseException as exc:  # a task timeout or ^C must not leave the write lock held
            if con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if not isinstance(exc, sqlite3.Error):
                raise
            self._disable(exc)

    @staticmethod
    def _insert(con: sqlite3.Connection, rows: list[tuple]) -> int:
        before = con.total_changes
        con.executemany("INSERT OR IGNORE INTO vectors (key, vec, at) VALUES (?, ?, ?)", rows)
        return con.total_changes - before

    def rows(self) -> int:
        con = self._con()
        try:
            return int(con.execute("SELECT count(*) FROM vectors").fetchone()[0]) if con else 0
        except sqlite3.Error as exc:
            self._disable(exc)
            return 0

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their thread ends)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            try:
                con.close()
            except sqlite3.Error:
                pass
            self._local.con = None


def _secret(path: Path) -> bytes:
    """The cache's random HMAC key, created once (mode 0600) beside the cache file.

    The one key-file creator of the project (atomic against a racing worker, never through a link);
    a damaged key raises ``KeyFileError``, a ValueError, which turns the cache off for the run.
    """
    from models.keyfile import key_file

    return key_file(path, f"delete the folder {path.parent} (the cache is rebuilt)")[0]

"""Persistent sentence-vector cache: encoder vectors kept across runs in one SQLite file.

The encoder is nine tenths of a run's time. A rerun of an overlapping dump, a ``rescore`` after a
taxonomy edit, or a night that sees yesterday's chat greetings again asks for vectors it computed
before. This cache answers them from ``<data_dir>/cache/vectors-<encoder>.sqlite``:

- Key: sha256 of the encoder fingerprint and the exact text (16 bytes). A new encoder version (new
  weights, new converter) has a new fingerprint, so its vectors never mix with old ones; the file
  name carries the encoder name, and ``clear()`` or deleting the file empties it.
- Value: the float32 vector bytes exactly as the encoder returned them, so a warm run produces the
  same predictions as a cold one.
- No text is stored, only the hash: the texts reaching the encoder are already redacted, and a
  hash cannot be read back (reliability property 8).
- Bounded: past ``max_rows`` the oldest tenth (by insertion) is deleted; 384 float32 = 1.5 KB a row,
  so the default 1,000,000 rows is about 1.6 GB on disk.
- A cache must never fail a run: if the file cannot be opened or written (read-only disk, a Dask
  worker without the data dir, a corrupt file), one warning is logged and the run goes on encoding.

SQLite (standard library, WAL journal): several processes may read and write the file at once
(Dask workers on one machine); writers wait up to 30 s for each other.
"""

from __future__ import annotations

import hashlib
import logging
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

    def __init__(self, path: str | Path, fingerprint: str, dim: int, max_rows: int = 1_000_000):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.dim = int(dim)
        self.max_rows = int(max_rows)
        self.hits = self.misses = self.written = 0
        self.disabled: str | None = None
        self._local = threading.local()
        self._salt = fingerprint.encode() + b"\0"

    # ------------------------------------------------------------------ connection
    def _con(self) -> sqlite3.Connection | None:
        if self.disabled:
            return None
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL, "
                            "at INTEGER NOT NULL) WITHOUT ROWID")
                con.execute("CREATE INDEX IF NOT EXISTS vectors_at ON vectors (at)")
            except (sqlite3.Error, OSError) as exc:
                self._disable(exc)
                return None
            self._local.con = con
        return con

    def _disable(self, exc: BaseException) -> None:
        if not self.disabled:
            self.disabled = f"{type(exc).__name__}: {exc}"
            log.warning("vector cache %s disabled for this run (%s); vectors are computed as usual",
                        self.path, self.disabled)

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + text.encode("utf-8", "surrogatepass")).digest()[:16]

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
        except sqlite3.Error as exc:
            self._disable(exc)
            return {}
        self.hits += len(found)
        self.misses += len(by_key) - len(found)
        return found

    def put_many(self, texts: list[str], vecs: np.ndarray) -> None:
        con = self._con()
        if con is None or not texts:
            return
        now = time.time_ns()
        rows = [(self.key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes(), now)
                for t, v in zip(texts, vecs)]
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT OR IGNORE INTO vectors (key, vec, at) VALUES (?, ?, ?)", rows)
            n = con.execute("SELECT count(*) FROM vectors").fetchone()[0]
            if n > self.max_rows:  # drop the oldest tenth (at least the overflow)
                drop = max(n - self.max_rows, self.max_rows // 10)
                con.execute("DELETE FROM vectors WHERE key IN (SELECT key FROM vectors ORDER BY at LIMIT ?)", (drop,))
            con.execute("COMMIT")
            self.written += len(rows)
        except sqlite3.Error as exc:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._disable(exc)

    def rows(self) -> int:
        con = self._con()
        if con is None:
            return 0
        return int(con.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def clear(self) -> None:
        con = self._con()
        if con is not None:
            con.execute("DELETE FROM vectors")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

"""The persistent sentence-vector cache (models/encoders/vector_cache.py): exact, keyed by encoder version,
bounded, holding no text, never failing a run. A real rescore that reads every vector from it:
tests/flows/test_reliability.py::test_rescore_after_a_config_change_updates_every_row."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from models.encoders.core import DEFAULT_ENCODER, attach_vector_cache, clear_caches, get_encoder
from models.encoders.vector_cache import VectorDiskCache, cache_file

TEXTS = ["The parcel came two days late.", "快递太慢了。", "پشتیبانی جواب نمی‌دهد.", "Consegna in ritardo."]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)


def test_vectors_come_back_bit_for_bit_and_only_for_the_same_encoder_version(tmp_path):
    path = tmp_path / "v.sqlite"
    c = VectorDiskCache(path, "enc@1", 8)
    V = vectors(len(TEXTS))
    c.put_many(TEXTS, V)
    got = c.get_many(TEXTS + ["never seen"])
    assert set(got) == set(TEXTS) and c.hits == 4 and c.misses == 1
    for t, v in zip(TEXTS, V):
        assert got[t].tobytes() == v.tobytes()
    assert VectorDiskCache(path, "enc@2", 8).get_many(TEXTS) == {}  # new weights: nothing reused
    assert set(VectorDiskCache(path, "enc@1", 8).get_many(TEXTS)) == set(TEXTS)  # another process later


def test_the_cache_is_bounded_and_drops_the_oldest(tmp_path):
    c = VectorDiskCache(tmp_path / "v.sqlite", "enc@1", 8, max_rows=1000)
    for b in range(25):
        c.put_many([f"text {b}-{i}" for i in range(100)], vectors(100, b))
    # each batch past 1,000 rows overflows by 100 = a tenth: the oldest 100 go, the newest ten batches stay
    assert c.rows() == 1000
    assert c.get_many([f"text {b}-{i}" for b in range(15) for i in range(100)]) == {}
    assert len(c.get_many([f"text {b}-{i}" for b in range(15, 25) for i in range(100)])) == 1000
    c.put_many([f"late {i}" for i in range(50)], vectors(50, 99))  # overflow 50 < a tenth: 100 still go
    assert c.rows() == 950 and c.get_many([f"text 15-{i}" for i in range(100)]) == {}
    assert len(c.get_many([f"text 16-{i}" for i in range(100)] + [f"late {i}" for i in range(50)])) == 150


def test_no_text_is_written_only_its_hash(tmp_path):
    c = VectorDiskCache(tmp_path / "v.sqlite", "enc@1", 8)
    secret = "ticket about order 4471 of customer Giulia Bianchi"
    c.put_many([secret], vectors(1))
    c.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw and b"Giulia" not in raw


def test_the_key_is_secret_and_kept_private(tmp_path):
    c = VectorDiskCache(tmp_path / "v.sqlite", "enc@1", 8)
    c.put_many(TEXTS[:1], vectors(1))
    key = tmp_path / ".key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes().strip()) == 64
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert VectorDiskCache(other / "v.sqlite", "enc@1", 8).key(TEXTS[0]) != c.key(TEXTS[0])  # another secret


def test_an_interrupted_write_leaves_no_lock_behind(tmp_path, monkeypatch):
    a = VectorDiskCache(tmp_path / "v.sqlite", "enc@1", 8, busy_timeout_s=0.5)
    b = VectorDiskCache(tmp_path / "v.sqlite", "enc@1", 8, busy_timeout_s=0.5)

    def interrupted(con, rows):
        con.executemany("INSERT OR IGNORE INTO vectors (key, vec, at) VALUES (?, ?, ?)", rows)
        raise KeyboardInterrupt  # as a task timeout or ^C landing mid-transaction

    monkeypatch.setattr(VectorDiskCache, "_insert", staticmethod(interrupted))
    with pytest.raises(KeyboardInterrupt):
        a.put_many(TEXTS[:2], vectors(2))
    monkeypatch.undo()
    b.put_many(TEXTS[2:], vectors(2, 1))  # would wait out the lock and give up if it were still held
    assert b.disabled is None and b.rows() == 2 and a.get_many(TEXTS[:2]) == {}  # rolled back


def test_an_unusable_cache_warns_once_and_the_encoder_still_answers(tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    enc = get_encoder(DEFAULT_ENCODER)
    clear_caches()
    try:
        attach_vector_cache(enc, tmp_path)
        assert enc.disk is not None and enc.disk.path == cache_file(tmp_path, enc.name)
        with caplog.at_level(logging.WARNING, logger="touchpoint"):
            X = enc.encode(TEXTS[:2])
            enc.encode(TEXTS[2:])
        assert X.shape == (2, enc.dim) and np.isfinite(X).all() and enc.misses == 4
        warnings = [r for r in caplog.records if "vector cache" in r.getMessage()]
        assert len(warnings) == 1 and "disabled" in warnings[0].getMessage()
    finally:
        clear_caches()

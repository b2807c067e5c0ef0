"""The static (fast-tier) encoder: distilled from a checkpoint, fingerprinted, no pickle, conformant heads."""

import json

import numpy as np
import pytest

from models.base import ModelError
from models.encoders.core import STATIC_E5_ENCODER, clear_caches, get_encoder
from models.registry import Registry
from models.heads.sentiment import EmbeddingSentiment
from models.encoders.static import StaticEncoder, distil, keep_piece, static_dir

TEXTS = ["The parcel arrived late and broken.", "Fantastic service, thank you!", "快递太慢了。", "Ottima qualità.",
         "ارسال خیلی دیر بود.", "I was charged twice.", "The app crashes on login.", "It is a phone."]
LABELS = ["negative", "positive", "negative", "positive", "negative", "negative", "negative", "neutral"]


@pytest.fixture(scope="module")
def static_data_dir(tmp_path_factory, tiny_checkpoint):
    """A data dir holding a static encoder distilled from the tiny checkpoint (a few seconds)."""
    root = tmp_path_factory.mktemp("static_home")
    meta = distil(tiny_checkpoint, static_dir(root), dims=16, max_tokens=600, log=None)
    assert meta["tokens"] <= 600 and meta["dims"] == 16
    get_encoder(STATIC_E5_ENCODER, data_dir=root)  # later bare lookups resolve to this data dir
    return root


def test_vocabulary_filter_keeps_configured_scripts():
    assert keep_piece("\u2581hello", ("latin", "cjk", "arabic"))
    assert keep_piece("快递", ("latin", "cjk", "arabic")) and keep_piece("ارسال", ("latin", "cjk", "arabic"))
    assert not keep_piece("привет", ("latin", "cjk", "arabic"))


def test_static_encoder_vectors_are_normalised_deterministic_and_batch_independent(static_data_dir):
    enc = get_encoder(STATIC_E5_ENCODER)
    assert enc.fingerprint.startswith(STATIC_E5_ENCODER + "@") and enc.dim == 16
    X = enc.encode(TEXTS + [""])
    assert X.shape == (len(TEXTS) + 1, 16) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X[:-1], axis=1), 1.0, atol=1e-5)
    assert not X[-1].any()  # no tokens: a zero vector, not NaN
    clear_caches()
    one = np.vstack([enc.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(X[:-1], one, atol=1e-6)
    again = StaticEncoder(static_dir(static_data_dir)).encode(TEXTS)
    np.testing.assert_array_equal(again, X[:-1])


def test_distillation_is_deterministic(static_data_dir, tiny_checkpoint, tmp_path):
    meta = distil(tiny_checkpoint, tmp_path / "again", dims=16, max_tokens=600, log=None)
    first = json.loads((static_dir(static_data_dir) / "meta.json").read_text())
    assert meta["weights_sha256"] == first["weights_sha256"]


def test_tampered_static_artifact_is_refused(static_data_dir, tmp_path):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(static_dir(static_data_dir), d)
    w = d / "weights.npz"
    data = bytearray(w.read_bytes())
    data[-30] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        StaticEncoder(d)


def test_missing_static_encoder_says_how_to_build(tmp_path):
    with pytest.raises(ModelError, match="models.encoders.static"):
        get_encoder(STATIC_E5_ENCODER, data_dir=tmp_path / "empty")


def test_sentiment_head_on_static_vectors_is_conformant(static_data_dir, tmp_path):
    model = EmbeddingSentiment(encoder=STATIC_E5_ENCODER, seed=3)
    assert model.fit(TEXTS, LABELS) is model
    texts = list(TEXTS)
    out = model.predict(texts)
    assert len(out) == len(TEXTS) and texts == TEXTS and model.predict([]) == []
    twin = EmbeddingSentiment(encoder=STATIC_E5_ENCODER, seed=3).fit(TEXTS, LABELS)
    assert twin.predict(TEXTS) == out and twin.meta_.version == model.meta_.version
    reg = Registry(tmp_path)
    reg.save("sentiment", model)
    loaded = reg.load("sentiment")
    assert loaded.predict(TEXTS) == out
    assert loaded.meta_.pins["encoder_fingerprint"] == get_encoder(STATIC_E5_ENCODER).fingerprint
    clear_caches()
    singles = [loaded.predict([t])[0] for t in TEXTS]
    for b, s in zip(out, singles):
        assert b["label"] == s["label"] and abs(b["score"] - s["score"]) < 1e-3

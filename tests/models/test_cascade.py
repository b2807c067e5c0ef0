"""The cascade sentiment model: conformance properties, escalation by margin, and the pipeline's contract."""

import json

import numpy as np
import pytest

from models.base import ModelError
from models.cascade import BACKEND, CascadeSentiment, choose_margin, margins
from models.encoders import STATIC_E5_ENCODER, clear_caches, get_encoder
from models.registry import BACKENDS, Registry
from models.static import distil, static_dir

TEXTS = ["The parcel arrived late and broken.", "Fantastic service, thank you!", "快递太慢了。", "Ottima qualità.",
         "ارسال خیلی دیر بود.", "I was charged twice.", "The app crashes on login.", "It is a phone."]
LABELS = ["negative", "positive", "negative", "positive", "negative", "negative", "negative", "neutral"]
CONTRACT = {"label", "score", "p_negative", "p_neutral", "p_positive"}


@pytest.fixture(scope="module")
def slow(tmp_path_factory, tiny_checkpoint):
    """Static encoder distilled from the tiny checkpoint; the slow tier runs the checkpoint itself."""
    root = tmp_path_factory.mktemp("cascade_home")
    distil(tiny_checkpoint, static_dir(root), dims=16, max_tokens=600, log=None)
    get_encoder(STATIC_E5_ENCODER, data_dir=root)
    return f"hf.meanpool.v1:{tiny_checkpoint}"


def make(slow, **kw):
    return CascadeSentiment(fast_encoder=STATIC_E5_ENCODER, slow_encoder=slow, seed=3, **kw)


def test_margin_is_top_minus_runner_up():
    P = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]], dtype=np.float32)
    np.testing.assert_allclose(margins(P), [0.5, 0.05], atol=1e-6)


def test_choose_margin_escalates_only_what_it_must():
    gold = ["negative", "positive", "negative", "positive"]
    slow = np.array([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9]] * 2, dtype=np.float32)
    sure = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]] * 2, dtype=np.float32)
    thr, info = choose_margin(sure, slow, gold, ["negative", "neutral", "positive"])
    assert thr == 0.0 and info["escalation_share"] == 0.0  # the fast tier is already right
    unsure = sure.copy()
    unsure[0] = [0.33, 0.33, 0.34]  # wrong by a hair: only escalating it recovers the slow tier's F1
    thr, info = choose_margin(unsure, slow, gold, ["negative", "neutral", "positive"], max_escalation=0.5)
    assert 0.0 < info["escalation_share"] <= 0.5 and info["cascade_macro_f1"] == info["slow_macro_f1"]


def test_cascade_is_conformant_and_keeps_the_contract(slow, tmp_path):
    model = make(slow, margin=0.2)
    assert model.fit(TEXTS, LABELS) is model
    texts = list(TEXTS)
    out = model.predict(texts)
    assert len(out) == len(TEXTS) and texts == TEXTS and model.predict([]) == []
    assert all(CONTRACT <= set(r) for r in out)
    assert model.meta_.backend == BACKEND and model.meta_.version
    assert 0.0 <= model.escalation_share() <= 1.0
    assert make(slow, margin=0.2).fit(TEXTS, LABELS).predict(TEXTS) == out  # seeded: deterministic
    BACKENDS.setdefault(BACKEND, CascadeSentiment)  # until models/registry.py lists it
    reg = Registry(tmp_path)
    reg.save("sentiment", model)
    loaded = reg.load("sentiment")
    assert type(loaded) is CascadeSentiment and loaded.meta_.tag == model.meta_.tag
    assert loaded.predict(TEXTS) == out
    clear_caches()
    singles = []
    for t in TEXTS:
        clear_caches()
        singles.append(loaded.predict([t])[0])
    for b, s in zip(out, singles):
        assert b["label"] == s["label"] and b["escalated"] == s["escalated"]
        assert abs(b["score"] - s["score"]) < 1e-3


def test_margin_one_escalates_everything_and_zero_nothing(slow):
    always = make(slow, margin=1.01).fit(TEXTS, LABELS)
    never = make(slow, margin=0.0).fit(TEXTS, LABELS)
    assert all(r["escalated"] for r in always.predict(TEXTS))
    assert not any(r["escalated"] for r in never.predict(TEXTS))
    P_slow = always.slow_.predict_proba(TEXTS)
    np.testing.assert_allclose(always.predict_proba(TEXTS), P_slow, atol=1e-6)
    np.testing.assert_allclose(never.predict_proba(TEXTS), never.fast_.predict_proba(TEXTS), atol=1e-6)


def test_margin_chosen_on_dev_rows_is_recorded(slow):
    texts = TEXTS * 4
    labels = LABELS * 4
    m = make(slow).fit(texts, labels, dev_texts=TEXTS, dev_y=LABELS)
    sel = m.meta_.metrics["margin_selection"]
    assert sel["dev_rows"] == len(TEXTS) and sel["margin"] == pytest.approx(m.margin_, abs=1e-6)


def test_tampered_cascade_tier_is_refused(slow, tmp_path):
    d = make(slow, margin=0.2).fit(TEXTS, LABELS).save(tmp_path / "m")
    w = d / "slow" / "weights.npz"
    data = bytearray(w.read_bytes())
    data[-20] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        CascadeSentiment.load(d)
    meta = json.loads((d / "meta.json").read_text())
    meta["format_version"] = 99
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="artifact format 99"):
        CascadeSentiment.load(d)

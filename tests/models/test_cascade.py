"""The cascade sentiment model: conformance properties, escalation by margin, and the pipeline's contract.

Global state: the ``slow`` fixture points the process's static encoder at a temporary data dir
(``models.encoders.core._LAST_DATA_DIR``) and puts it back afterwards; the backend table is only read (an
autouse check fails any test that changes it), since ``models/registry.py`` lists the cascade itself.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models.encoders.core
from models.base import ModelError
from models.heads.cascade import BACKEND, CascadeSentiment, choose_margin, margins
from models.encoders.core import STATIC_E5_ENCODER, clear_caches, get_encoder
from models.heads.sentiment import three_view
from models.registry import BACKENDS, Registry
from models.encoders.static import distil, static_dir
from tests.models import test_conformance as suite

TEXTS = ["The parcel arrived late and broken.", "Fantastic service, thank you!", "快递太慢了。", "Ottima qualità.",
         "ارسال خیلی دیر بود.", "I was charged twice.", "The app crashes on login.", "It is a phone."]
LABELS = ["negative", "positive", "negative", "positive", "negative", "negative", "negative", "neutral"]
CONTRACT = {"label", "score", "p_negative", "p_neutral", "p_positive"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _backend_table_untouched():
    before = dict(BACKENDS)
    yield
    assert BACKENDS == before, "a test changed models.registry.BACKENDS"


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_checkpoint):
    """A data dir whose static encoder is distilled from the tiny checkpoint (as `models build` lays it out)."""
    saved = dict(models.encoders.core._LAST_DATA_DIR)
    root = tmp_path_factory.mktemp("cascade_home")
    distil(tiny_checkpoint, static_dir(root), dims=16, max_tokens=600, log=None)
    get_encoder(STATIC_E5_ENCODER, data_dir=root)
    yield root
    models.encoders.core._LAST_DATA_DIR.clear()
    models.encoders.core._LAST_DATA_DIR.update(saved)


@pytest.fixture(scope="module")
def slow(home, tiny_checkpoint):
    """The slow tier runs the tiny checkpoint itself."""
    return f"hf.meanpool.v1:{tiny_checkpoint}"


def make(slow, **kw):
    return CascadeSentiment(fast_encoder=STATIC_E5_ENCODER, slow_encoder=slow, seed=3, **kw)


def conformance_recipe(slow: str):
    """The cascade's recipe for tests/models/test_conformance.py (which needs a data dir's static encoder)."""
    return make(slow, margin=0.2), (TEXTS, LABELS)


# The project's conformance suite over the cascade (its own parametrisation needs a recipe per backend).
@pytest.fixture(params=[BACKEND])
def backend(request):
    return request.param


@pytest.fixture(name="make")
def _make(slow):
    return lambda backend: conformance_recipe(slow)


test_fit_returns_self_and_predict_keeps_length_and_input = suite.test_fit_returns_self_and_predict_keeps_length_and_input
test_seeded_fit_is_deterministic = suite.test_seeded_fit_is_deterministic
test_save_load_identical_and_batch_equals_one_by_one = suite.test_save_load_identical_and_batch_equals_one_by_one
test_tampered_or_incompatible_artifact_is_refused = suite.test_tampered_or_incompatible_artifact_is_refused
test_pinned_encoder_and_library_versions_are_enforced = suite.test_pinned_encoder_and_library_versions_are_enforced


def test_cascade_is_a_registered_backend():
    assert BACKENDS[BACKEND] is CascadeSentiment


def test_promoted_cascade_loads_in_a_fresh_process(slow, home, tmp_path):
    """What a build promotes, a new process (nightly, serve) loads: no registration side effect needed."""
    model = make(slow, margin=0.2).fit(TEXTS, LABELS)
    reg = Registry(home / "models")
    reg.save("sentiment_fresh", model, promote=True, reason="build (test)")
    assert reg.current_version("sentiment_fresh") == model.meta_.version
    script = ("import json, sys\n"
              "from models.registry import Registry\n"
              "m = Registry(sys.argv[1]).load('sentiment_fresh')\n"
              "print(json.dumps({'cls': type(m).__name__, 'tag': m.meta_.tag, 'out': m.predict(sys.argv[2:])}))\n")
    env = {k: v for k, v in os.environ.items() if k != "TOUCHPOINT_DATA_DIR"}  # found from the artifact's path
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", script, str(home / "models"), *TEXTS], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["cls"] == "CascadeSentiment" and got["tag"] == model.meta_.tag
    want = model.predict(TEXTS)
    assert [r["label"] for r in got["out"]] == [r["label"] for r in want]
    assert [r["escalated"] for r in got["out"]] == [r["escalated"] for r in want]
    np.testing.assert_allclose([r["score"] for r in got["out"]], [r["score"] for r in want], atol=1e-4)


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
    # escalated exactly where the fast tier's top-two margin is below 0.2, and the share counts those rows
    want = margins(three_view(model.fast_.proba_fine(TEXTS), model.labels_)) < 0.2
    assert [r["escalated"] for r in out] == want.tolist()
    assert model.escalation_share() == pytest.approx(want.sum() / len(TEXTS))
    # a margin between the 4th and 5th smallest fast margins escalates exactly half, and the share
    # accumulates over calls (the tiny checkpoint's margins vary between sessions; this split does not)
    fast_m = np.sort(margins(three_view(model.fast_.proba_fine(TEXTS), model.labels_)))
    half = make(slow, margin=float(fast_m[3] + fast_m[4]) / 2).fit(TEXTS, LABELS)
    flags = [r["escalated"] for r in half.predict(TEXTS)]
    assert sum(flags) == 4 and half.escalation_share() == 0.5
    half.predict(TEXTS[:1])
    assert half.escalation_share() == pytest.approx((4 + flags[0]) / 9)
    assert make(slow, margin=0.2).fit(TEXTS, LABELS).predict(TEXTS) == out  # seeded: deterministic
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

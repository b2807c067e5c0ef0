"""pipeline/cx.py: CX signals per feedback and per customer turn, and effort versus CES."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.heads.effort import EffortModel
from models.heads.emotion import EmotionModel
from models.heads.intent import FewShotIntent, load_intents
from pipeline.cx import (CX_COLUMNS, TURN_COLUMNS, cx_signals, cx_turns, effort_ces_correlation, effort_ces_reading,
                         effort_ces_table)


@pytest.fixture(scope="module")
def models(configured_encoder):
    enc = configured_encoder
    return {"emotion": EmotionModel(encoder=enc).fit(), "effort": EffortModel(encoder=enc).fit(),
            "intent": FewShotIntent(encoder=enc).fit_config(load_intents())}


@pytest.fixture()
def frames():
    feedback = pd.DataFrame({
        "feedback_id": ["r1", "r2", "c1", "c2", "s1"],
        "channel": ["review", "review", "chat", "call", "survey"],
        "text": ["Great hotel. Thank you so much to the staff!",
                 "Sono furioso. Ho chiamato tre volte e mi hanno trasferito a quattro reparti.",
                 "customer: hi\nagent: hello\ncustomer: I want to cancel my contract",
                 "call transcript", ""],
    })
    utterances = pd.DataFrame({
        "feedback_id": ["c1", "c1", "c1", "c2", "c2", "c2"],
        "turn": [0, 1, 2, 0, 1, 2],
        "role": ["customer", "agent", "customer", "agent", "customer", "customer"],
        "text": ["Hi, this is the third time I'm contacting you about my bill.",
                 "I'm so sorry, let me transfer you to billing and check your account.",
                 "I want to cancel my contract, I'm moving to another provider.",
                 "Thank you for calling, how can I help?",
                 "我要退款，你们扣了我两次钱。",
                 "我非常生气，已经等了一个小时了！"],
    })
    sentences = pd.DataFrame({"feedback_id": ["r1", "r1", "r2", "r2"], "idx": [0, 1, 0, 1],
                              "text": ["Great hotel.", "Thank you so much to the staff!", "Sono furioso.",
                                       "Ho chiamato tre volte e mi hanno trasferito a quattro reparti."]})
    return feedback, utterances, sentences


def test_signals_shape_and_inputs_unchanged(models, frames):
    feedback, utterances, sentences = frames
    before = [f.copy(deep=True) for f in frames]
    out = cx_signals(feedback, utterances, models, sentences)
    for a, b in zip(before, frames):
        pd.testing.assert_frame_equal(a, b)
    assert list(out.columns) == CX_COLUMNS
    assert out["feedback_id"].tolist() == feedback["feedback_id"].tolist()
    assert out["effort_score"].between(0, 1).all()


def test_signals_values(models, frames):
    out = cx_signals(*frames[:2], models, frames[2]).set_index("feedback_id")
    assert out.loc["r1", "emotion"] == "gratitude"  # "Thank you so much to the staff!"
    assert out.loc["r2", "emotion"] == "anger"  # "Sono furioso."
    assert {"repeat_contact", "transfer"} <= set(out.loc["r2", "effort_cues"].split(","))
    # intent only for conversations; the churn threat outranks the question-like opener
    assert pd.isna(out.loc["r1", "intent"]) and pd.isna(out.loc["s1", "intent"])
    assert out.loc["c1", "intent"] == "cancellation"
    assert "repeat_contact" in out.loc["c1", "effort_cues"].split(",")
    # agent turns are not read: c1's agent says "transfer", the customer never does
    assert "transfer" not in out.loc["c1", "effort_cues"].split(",")
    assert out.loc["c2", "intent"] == "refund_request"  # "我要退款" (I want a refund)
    assert out.loc["c2", "emotion"] == "anger"  # "我非常生气" (I am very angry)
    assert "long_wait" in out.loc["c2", "effort_cues"].split(",")
    assert out.loc["s1", "effort_score"] == 0.0 and out.loc["s1", "emotion"] == "none"


def test_batch_equals_one_by_one(models, frames):
    feedback, utterances, sentences = frames
    whole = cx_signals(feedback, utterances, models, sentences)
    parts = pd.concat([cx_signals(feedback.iloc[[i]], utterances, models, sentences) for i in range(len(feedback))],
                      ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts)


def test_without_sentences_or_utterances(models, frames):
    feedback = frames[0]
    out = cx_signals(feedback, None, models)
    assert len(out) == len(feedback)
    # the chat without turns falls back to its text, and still gets an intent
    assert out.set_index("feedback_id").loc["c1", "intent"] == "cancellation"  # "I want to cancel my contract"
    assert list(cx_signals(feedback.iloc[0:0], None, models).columns) == CX_COLUMNS


def test_one_encoder_pass(models, frames, monkeypatch):
    from models.encoders.core import get_encoder

    enc = get_encoder(models["emotion"].encoder)
    calls = []
    real = enc.encode
    monkeypatch.setattr(enc, "encode", lambda texts: calls.append(len(texts)) or real(texts))
    cx_signals(*frames[:2], models, frames[2])
    assert len(calls) == 1


def test_turns(models, frames):
    out = cx_turns(frames[1], models)
    assert list(out.columns) == TURN_COLUMNS
    assert len(out) == 4  # customer turns only
    assert out.iloc[1]["intent"] == "cancellation"
    assert cx_turns(None, models).empty


def test_effort_ces_correlation():
    rng = np.random.default_rng(0)
    n = 200
    effort = np.where(rng.random(n) < 0.5, 0.0, rng.random(n))
    ces = np.clip(np.round(2 + 4 * effort + rng.normal(0, 1, n)), 1, 7)
    fb = pd.DataFrame({"feedback_id": [f"f{i}" for i in range(n)], "effort_score": effort})
    sc = pd.DataFrame({"feedback_id": [f"f{i}" for i in range(n)], "ces": ces})
    sc.loc[:9, "ces"] = None  # no CES: left out
    r = effort_ces_correlation(fb, sc)
    assert r["n"] == n - 10 and r["spearman"] > 0.5 and r["pearson"] > 0.5
    lo, hi = r["spearman_ci95"]
    assert lo < r["spearman"] < hi
    assert r["ces_mean_cue"] > r["ces_mean_no_cue"]
    small = effort_ces_correlation(fb.head(5), sc.tail(195))
    assert small["n"] == 0 and small["spearman"] is None


def _pairs(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    effort = np.where(rng.random(n) < 0.6, 0.0, rng.random(n))
    ces = np.clip(np.round(3 + 2 * effort + rng.normal(0, 1.2, n)), 1, 7)
    ids = [f"f{i}" for i in range(n)]
    return (pd.DataFrame({"feedback_id": ids, "customer_id": [f"u{i}" for i in range(n)], "effort_score": effort}),
            pd.DataFrame({"feedback_id": ids, "ces": ces}))


def test_effort_ces_interval_resamples_customers_not_rows():
    """Each customer's answer copied onto three feedback rows (review, chat, survey comment): the same r,
    but not three times the evidence. The customer bootstrap keeps the interval's width; a row bootstrap
    would shrink it by about sqrt(3)."""
    fb, sc = _pairs(150)
    one = effort_ces_correlation(fb, sc)
    fb3 = pd.concat([fb.assign(feedback_id=fb["feedback_id"] + s) for s in "abc"], ignore_index=True)
    sc3 = pd.concat([sc.assign(feedback_id=sc["feedback_id"] + s) for s in "abc"], ignore_index=True)
    three = effort_ces_correlation(fb3, sc3)
    rows = effort_ces_correlation(fb3.drop(columns="customer_id"), sc3)
    width = lambda r: r["spearman_ci95"][1] - r["spearman_ci95"][0]  # noqa: E731
    assert three["n"] == 450 and three["customers"] == 150 and three["spearman"] == pytest.approx(one["spearman"], abs=0.02)
    assert width(three) == pytest.approx(width(one), rel=0.2)
    assert width(rows) < width(three) / 1.4


def test_effort_ces_table_and_reading():
    fb, sc = _pairs(200, seed=4)
    rows = fb.merge(sc).assign(channel=["chat", "review"] * 100)
    table = effort_ces_table(rows.to_dict("records"), n_boot=300)
    assert [r["scope"] for r in table] == ["all channels", "chat", "review"]
    assert table[0]["n"] == 200 and table[1]["n"] == table[2]["n"] == 100
    top = table[0]
    assert 0 < top["ci95_low"] < top["spearman_r"] < top["ci95_high"]
    text = effort_ces_reading(top)
    assert text.startswith(f"r = {top['spearman_r']:+.2f} (95% ") and "tend to give harder CES answers" in text
    flat = dict(top, spearman_r=0.05, ci95_low=-0.1, ci95_high=0.2)
    assert "no clear relationship" in effort_ces_reading(flat)
    assert "opposite directions" in effort_ces_reading(dict(top, spearman_r=-0.4, ci95_low=-0.5, ci95_high=-0.3))
    assert "No feedback" in effort_ces_reading(None) and effort_ces_table([])[0]["n"] == 0
    assert "too few to tell" in effort_ces_reading(effort_ces_table(rows.head(5).to_dict("records"))[0])


def test_weighted_spearman_equals_ranking_the_expanded_resample():
    from pipeline.cx import _weighted_spearman

    rng = np.random.default_rng(5)
    x = np.round(rng.random(40), 1)  # ties, as effort scores and CES answers have
    y = rng.integers(1, 8, 40).astype(float)
    w = rng.integers(0, 4, 40).astype(float)
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    ex, ey = np.repeat(x, w.astype(int)), np.repeat(y, w.astype(int))
    expanded = np.corrcoef(pd.Series(ex).rank(), pd.Series(ey).rank())[0, 1]
    assert _weighted_spearman(ix, len(ux), iy, len(uy), w) == pytest.approx(expanded, abs=1e-12)
    assert _weighted_spearman(ix, len(ux), iy, len(uy), (ix == 0).astype(float)) is None  # one value: no r

"""pipeline/cx.py: CX signals per feedback and per customer turn, and effort versus CES."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.effort import EffortModel
from models.emotion import EmotionModel
from models.intent import FewShotIntent, load_intents
from pipeline.cx import CX_COLUMNS, TURN_COLUMNS, cx_signals, cx_turns, effort_ces_correlation


@pytest.fixture(scope="module")
def models():
    return {"emotion": EmotionModel().fit(), "effort": EffortModel().fit(),
            "intent": FewShotIntent().fit_config(load_intents())}


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
    assert out.loc["r1", "emotion"] in {"gratitude", "joy"}
    assert out.loc["r2", "emotion"] in {"anger", "frustration"}
    assert {"repeat_contact", "transfer"} <= set(out.loc["r2", "effort_cues"].split(","))
    # intent only for conversations; the churn threat outranks the question-like opener
    assert pd.isna(out.loc["r1", "intent"]) and pd.isna(out.loc["s1", "intent"])
    assert out.loc["c1", "intent"] == "cancellation"
    assert "repeat_contact" in out.loc["c1", "effort_cues"].split(",")
    # agent turns are not read: c1's agent says "transfer", the customer never does
    assert "transfer" not in out.loc["c1", "effort_cues"].split(",")
    assert out.loc["c2", "intent"] in {"refund_request", "complaint"}
    assert out.loc["c2", "emotion"] in {"anger", "frustration"}
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
    assert out.set_index("feedback_id").loc["c1", "intent"] is not None
    assert list(cx_signals(feedback.iloc[0:0], None, models).columns) == CX_COLUMNS


def test_one_encoder_pass(models, frames, monkeypatch):
    from models.encoders import get_encoder

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

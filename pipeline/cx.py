"""Emotion, effort and intent per feedback and per customer turn (pure functions, no I/O).

Called after sentence scoring. The units read are the customer turns of chats and calls (agent turns
say nothing about how the customer feels), otherwise the feedback's sentences (already embedded by
sentiment and topics, so the encoder cache answers) or, without sentences, the feedback text. All
units of a batch go through the encoder in one call, then each model predicts from those vectors.

Roll-up to feedback:
- emotion: the strongest non-"none" emotion of any unit (one furious sentence in a long review is
  what a CX team acts on); "none" when no unit shows one;
- effort: each cue's strongest unit, plus cue patterns run on the whole text (a cue may span
  sentences), combined by the effort model's noisy-OR into ``effort_score``;
- intent (chat and call only, else None): the most actionable intent any customer turn expresses
  with ``intent_score >= ACTION_MIN_SCORE`` (cancellation, then refund, then complaint, then company
  intents, then question, then praise), else the turn intent with the highest score.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

CONVERSATION_CHANNELS = ("chat", "call")
CX_COLUMNS = ["feedback_id", "emotion", "emotion_score", "effort_score", "effort_cues", "intent", "intent_score"]
TURN_COLUMNS = ["feedback_id", "turn", "emotion", "emotion_score", "effort_score", "effort_cues", "intent",
                "intent_score"]
PRIORITY_FIRST = ["cancellation", "refund_request", "complaint"]
PRIORITY_LAST = ["question", "praise"]
ACTION_MIN_SCORE = 0.5
# Feedback rows with both a text effort score and a CES answer (the CES joined to the row by
# interaction or customer, see store); the customer for a clustered interval.
# One row per CES answer with joined text (each answer once): the highest text effort among the
# feedback rows joined to it; channel: the answered interaction's, else its first joined row's.
# (The id column keeps the name ``feedback_id`` for effort_ces_table; it holds the answer's score id.)
EFFORT_CES_SQL = """SELECT a.score_id AS feedback_id,
       CASE WHEN a.channel <> 'survey' THEN a.channel ELSE min(f.channel) END AS channel,
       a.customer_id, max(f.effort_score) AS effort_score, a.value AS ces
FROM answers a JOIN feedback_scores s ON s.ces_score_id = a.score_id JOIN feedback f ON f.feedback_id = s.feedback_id
WHERE a.kind = 'ces' AND f.effort_score IS NOT NULL
GROUP BY a.score_id, a.channel, a.customer_id, a.value
ORDER BY a.score_id"""


def _customer_turns(utterances: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["feedback_id", "turn", "text"]
    if utterances is None or utterances.empty:
        return pd.DataFrame(columns=cols)
    u = utterances
    if "role" in u.columns and u["role"].notna().any():
        u = u[u["role"].fillna("").str.lower() == "customer"]
    u = u[u["text"].fillna("").str.strip() != ""]
    turn = u["turn"] if "turn" in u.columns else pd.Series(range(len(u)), index=u.index)
    return pd.DataFrame({"feedback_id": u["feedback_id"].to_numpy(), "turn": turn.to_numpy(),
                         "text": u["text"].astype(str).to_numpy()}, columns=cols)


def _units(feedback: pd.DataFrame, turns: pd.DataFrame, sentences: pd.DataFrame | None) -> pd.DataFrame:
    """(feedback_id, text) units: customer turns for chats/calls that have them, else sentences/text."""
    have_turns = set(turns["feedback_id"])
    parts = [turns[["feedback_id", "text"]]]
    rest = feedback[~feedback["feedback_id"].isin(have_turns)]
    if sentences is not None and not sentences.empty:
        s = sentences[sentences["feedback_id"].isin(set(rest["feedback_id"]))][["feedback_id", "text"]]
        parts.append(s)
        rest = rest[~rest["feedback_id"].isin(set(s["feedback_id"]))]
    parts.append(rest[["feedback_id", "text"]])
    units = pd.concat(parts, ignore_index=True)
    units["text"] = units["text"].fillna("").astype(str)
    return units[units["text"].str.strip() != ""].reset_index(drop=True)


def _encode(texts: list[str], models: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One encoder pass per distinct encoder among the models (normally one), through ``model.embed``."""
    out: dict[str, np.ndarray] = {}
    for m in (models.get(t) for t in ("emotion", "effort", "intent")):
        if m is not None and m.encoder not in out:
            out[m.encoder] = m.embed(texts)
    return out


def _unit_predictions(texts: list[str], models: Mapping[str, Any], with_intent: bool):
    vecs = _encode(texts, models)
    emo, eff = models["emotion"], models["effort"]
    emotions = emo.predict_from_embeddings(vecs[emo.encoder], texts)
    strengths = eff.strengths_from_embeddings(vecs[eff.encoder], texts)
    intent = models.get("intent")
    intents = intent.predict_from_embeddings(vecs[intent.encoder]) if (with_intent and intent is not None) else None
    return emotions, strengths, intents


def _pick_intent(recs: list[dict[str, Any]], labels: list[str]) -> tuple[str | None, float | None]:
    named = [r for r in recs if r["intent"] != "other"]
    if not recs:
        return None, None
    if not named:
        best = max(recs, key=lambda r: r["intent_score"])
        return best["intent"], best["intent_score"]
    middle = [lab for lab in labels if lab not in PRIORITY_FIRST + PRIORITY_LAST]
    order = {lab: i for i, lab in enumerate(PRIORITY_FIRST + middle + PRIORITY_LAST)}
    strong = [r for r in named if r["intent_score"] >= ACTION_MIN_SCORE]
    if strong:
        best = min(strong, key=lambda r: (order.get(r["intent"], len(order)), -r["intent_score"]))
    else:
        best = max(named, key=lambda r: r["intent_score"])
    return best["intent"], best["intent_score"]


def cx_signals(feedback: pd.DataFrame, utterances: pd.DataFrame | None, models: Mapping[str, Any],
               sentences: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per feedback_id with emotion, emotion_score, effort_score, effort_cues, intent, intent_score.

    Args:
        feedback: needs feedback_id, channel, text.
        utterances: turns of chats and calls (feedback_id, turn, role, text) or None.
        models: {"emotion": EmotionModel, "effort": EffortModel, "intent": FewShotIntent or None}.
        sentences: the sentence frame already scored (feedback_id, text), to reuse its vectors.
    """
    return cx_frames(feedback, utterances, models, sentences)[0]


def cx_frames(feedback: pd.DataFrame, utterances: pd.DataFrame | None, models: Mapping[str, Any],
              sentences: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-feedback signals, per-customer-turn signals) from one prediction pass over the units.

    The customer turns are the first units, so the predictions behind each turn's row (``cx_turns``)
    are the ones its conversation's signals are rolled up from: each turn is encoded and predicted once.
    """
    if feedback.empty:
        return _typed(pd.DataFrame(columns=CX_COLUMNS)), _typed(pd.DataFrame(columns=TURN_COLUMNS))
    conv = set(feedback.loc[feedback["channel"].isin(CONVERSATION_CHANNELS), "feedback_id"])
    turns = _customer_turns(utterances)
    turns = turns[turns["feedback_id"].isin(set(feedback["feedback_id"]))].reset_index(drop=True)
    units = _units(feedback, turns, sentences)
    texts = units["text"].tolist()
    emotions, strengths, intents = _unit_predictions(texts, models, with_intent=bool(conv) or not turns.empty)
    eff = models["effort"]
    whole = eff.pattern_hits(feedback["text"].fillna("").astype(str).tolist())
    by_fid: dict[str, list[int]] = {}
    for i, fid in enumerate(units["feedback_id"]):
        by_fid.setdefault(fid, []).append(i)
    intent_model = models.get("intent")
    labels = intent_model.labels_ if intent_model is not None else []
    none_rec = {"emotion": "none", "emotion_score": None}
    rows = []
    for j, (fid, channel) in enumerate(zip(feedback["feedback_id"], feedback["channel"])):
        idx = by_fid.get(fid, [])
        recs = [emotions[i] for i in idx]
        emotional = [r for r in recs if r["emotion"] != "none"]
        if emotional:
            best = max(emotional, key=lambda r: r["emotion_score"])
        elif recs:
            best = max(recs, key=lambda r: r["emotion_score"])
        else:
            best = none_rec
        s = strengths[idx].max(axis=0) if idx else np.zeros(len(whole[j]), dtype=np.float32)
        effort = eff.record(np.maximum(s, whole[j]))
        intent, iscore = (None, None)
        if channel in CONVERSATION_CHANNELS and intents is not None:
            intent, iscore = _pick_intent([intents[i] for i in idx], labels)
        rows.append({"feedback_id": fid, "emotion": best["emotion"], "emotion_score": best["emotion_score"],
                     "effort_score": effort["effort_score"], "effort_cues": effort["effort_cues"],
                     "intent": intent, "intent_score": iscore})
    signals = _typed(pd.DataFrame(rows, columns=CX_COLUMNS))
    return signals, _turn_rows(turns, emotions, strengths, intents, eff)


def _turn_rows(turns: pd.DataFrame, emotions: list[dict[str, Any]], strengths: np.ndarray,
               intents: list[dict[str, Any]] | None, eff: Any) -> pd.DataFrame:
    """Rows of the first ``len(turns)`` unit predictions, one per customer turn."""
    rows = []
    for i, (fid, turn) in enumerate(zip(turns["feedback_id"], turns["turn"])):
        e = eff.record(strengths[i])
        rows.append({"feedback_id": fid, "turn": turn, "emotion": emotions[i]["emotion"],
                     "emotion_score": emotions[i]["emotion_score"], "effort_score": e["effort_score"],
                     "effort_cues": e["effort_cues"],
                     "intent": intents[i]["intent"] if intents else None,
                     "intent_score": intents[i]["intent_score"] if intents else None})
    return _typed(pd.DataFrame(rows, columns=TURN_COLUMNS))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes whatever the batch holds: scores float (NaN where absent), intent None where absent."""
    df = df.astype({"emotion_score": "float64", "effort_score": "float64", "intent_score": "float64"})
    df["intent"] = df["intent"].astype(object).where(df["intent"].notna(), None)
    return df


def cx_turns(utterances: pd.DataFrame | None, models: Mapping[str, Any]) -> pd.DataFrame:
    """One row per customer turn (feedback_id, turn) with emotion, effort and intent (turns alone;
    a batch gets them from ``cx_frames`` with its signals, from the same predictions)."""
    turns = _customer_turns(utterances)
    if turns.empty:
        return _typed(pd.DataFrame(columns=TURN_COLUMNS))
    emotions, strengths, intents = _unit_predictions(turns["text"].tolist(), models, with_intent=True)
    return _turn_rows(turns, emotions, strengths, intents, models["effort"])


def effort_ces_correlation(feedback: pd.DataFrame, feedback_scores: pd.DataFrame, n_boot: int = 1000,
                           seed: int = 13, cluster: str | None = "customer_id") -> dict[str, Any]:
    """How the text effort score tracks CES where both exist (CES: higher = more effort).

    Returns n, Spearman and Pearson correlations, a 95% bootstrap interval for Spearman, and mean CES
    for feedback with no effort cue vs. with one. When ``feedback`` has the ``cluster`` column (the
    customer), the bootstrap resamples customers, not rows: one customer's review, chat and survey
    comment share one CES answer and are not independent pairs. Correlations are None below 10 pairs.
    """
    keep = ["feedback_id", "effort_score"] + ([cluster] if cluster and cluster in feedback.columns else [])
    df = feedback[keep].merge(feedback_scores[["feedback_id", "ces"]], on="feedback_id")
    df = df.dropna(subset=["effort_score", "ces"]).reset_index(drop=True)
    n = len(df)
    who = df[cluster].where(df[cluster].notna(), df["feedback_id"]) if len(keep) == 3 else df["feedback_id"]
    out: dict[str, Any] = {"n": n, "customers": int(who.nunique()), "spearman": None, "spearman_ci95": None,
                           "pearson": None, "ces_mean_no_cue": None, "ces_mean_cue": None,
                           "n_cue": int((df["effort_score"] > 0).sum())}
    if n == 0:
        return out
    no_cue, cue = df.loc[df["effort_score"] == 0, "ces"], df.loc[df["effort_score"] > 0, "ces"]
    out["ces_mean_no_cue"] = round(float(no_cue.mean()), 3) if len(no_cue) else None
    out["ces_mean_cue"] = round(float(cue.mean()), 3) if len(cue) else None
    if n < 10 or df["effort_score"].nunique() < 2 or df["ces"].nunique() < 2:
        return out
    x, y = df["effort_score"].to_numpy(float), df["ces"].to_numpy(float)
    out["pearson"] = round(float(np.corrcoef(x, y)[0, 1]), 4)
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    out["spearman"] = round(float(np.corrcoef(rx, ry)[0, 1]), 4)
    rng = np.random.default_rng(seed)
    codes = pd.factorize(who)[0]
    groups = int(codes.max()) + 1
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    boots = []
    for _ in range(n_boot):
        # a resample as counts: how often each customer (each row without customers) was drawn
        w = np.bincount(rng.integers(0, groups, groups), minlength=groups)[codes].astype(float)
        r = _weighted_spearman(ix, len(ux), iy, len(uy), w)
        if r is not None:
            boots.append(r)
    if boots:
        out["spearman_ci95"] = [round(float(np.percentile(boots, 2.5)), 4), round(float(np.percentile(boots, 97.5)), 4)]
    return out


def _weighted_spearman(ix: np.ndarray, kx: int, iy: np.ndarray, ky: int, w: np.ndarray) -> float | None:
    """Spearman's r of a sample in which row j appears ``w[j]`` times, without expanding it: average
    ranks from the weighted counts of each distinct value (``ix``/``iy`` index the sorted distinct
    values), then the weighted Pearson correlation of those ranks. Equal to ranking the expanded sample."""
    def ranks(inv: np.ndarray, k: int) -> np.ndarray:
        cw = np.bincount(inv, weights=w, minlength=k)
        return (np.cumsum(cw) - cw + (cw + 1) / 2)[inv]

    rx, ry = ranks(ix, kx), ranks(iy, ky)
    total = w.sum()
    dx, dy = rx - (w * rx).sum() / total, ry - (w * ry).sum() / total
    vx, vy = (w * dx * dx).sum(), (w * dy * dy).sum()
    if vx <= 1e-12 or vy <= 1e-12:
        return None
    return float((w * dx * dy).sum() / np.sqrt(vx * vy))


def effort_ces_table(rows: list[dict[str, Any]] | pd.DataFrame, n_boot: int = 1000,
                     per_channel: bool = True) -> list[dict[str, Any]]:
    """Effort vs CES overall and (unless not ``per_channel``) per channel, one row each (rows: what
    ``EFFORT_CES_SQL`` returns). Each scope's bootstrap has its own fixed seed, so the overall row is the
    same with or without the channels."""
    df = pd.DataFrame(rows, columns=["feedback_id", "channel", "customer_id", "effort_score", "ces"])
    scopes = [("all channels", df)] + ([(str(ch), g) for ch, g in df.groupby("channel", sort=True)]
                                       if per_channel else [])
    out = []
    for scope, g in scopes:
        r = effort_ces_correlation(g[["feedback_id", "customer_id", "effort_score"]], g[["feedback_id", "ces"]],
                                   n_boot=n_boot)
        ci = r["spearman_ci95"] or [None, None]
        out.append({"scope": scope, "n": r["n"], "customers": r["customers"], "spearman_r": r["spearman"],
                    "ci95_low": ci[0], "ci95_high": ci[1], "pearson_r": r["pearson"], "with_cue": r["n_cue"],
                    "ces_mean_cue": r["ces_mean_cue"], "ces_mean_no_cue": r["ces_mean_no_cue"]})
    return out


def effort_ces_reading(row: dict[str, Any] | None) -> str:
    """One plain-language sentence on the overall row of ``effort_ces_table``."""
    if not row or not row.get("n"):
        return "No feedback has both a text effort score and a CES answer yet."
    r, lo, hi, n = row.get("spearman_r"), row.get("ci95_low"), row.get("ci95_high"), row["n"]
    if r is None:
        return f"Only {n} feedback rows with both a CES answer and text (or no variation): too few to tell."
    fig = f"r = {r:+.2f} (95% {lo:+.2f} .. {hi:+.2f}, n = {n})" if lo is not None else f"r = {r:+.2f} (n = {n})"
    if lo is not None and lo > 0:
        strength = "weakly" if r < 0.3 else "moderately" if r < 0.5 else "strongly"
        return (f"{fig}: customers who describe effort in their words (repeat contacts, transfers, waits, repeating "
                f"themselves, being sent to another channel) {strength} tend to give harder CES answers.")
    if hi is not None and hi < 0:
        return (f"{fig}: text effort and CES move in opposite directions here, which the cues should not do; "
                f"check the effort cues against a sample of rows.")
    return f"{fig}: no clear relationship between the effort customers describe and their CES answers."

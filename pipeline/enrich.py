"""Attach model predictions to sentences and roll them up to feedback (spaCy's predict/set_annotations split).

Models are used only through the protocol's ``predict`` (see models/base.py); both models share the
encoder's content cache, so each sentence is embedded once. Identical sentence texts in a batch are
scored once (the protocol guarantees batch == one-by-one, so this changes no prediction): real
feedback repeats short sentences ("Thanks!", "ok") often, and each one saved may be a transformer pass.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pandas as pd

OTHER = "other"


def score_sentences(sentences: pd.DataFrame, sentiment: Any, topics: Any) -> pd.DataFrame:
    """Return a copy of ``sentences`` with sentiment and topic columns and the producing model tags."""
    out = sentences.copy()
    texts = out["text"].tolist()
    uniq = list(dict.fromkeys(texts))
    where = {t: i for i, t in enumerate(uniq)}
    sent_u = sentiment.predict(uniq) if uniq else []
    tops_u = topics.predict(uniq) if uniq else []
    sent = [sent_u[where[t]] for t in texts]
    tops = [tops_u[where[t]] for t in texts]
    out["sentiment_label"] = [r["label"] for r in sent]
    out["sentiment_score"] = [r["score"] for r in sent]
    out["p_negative"] = [round(r["p_negative"], 4) for r in sent]
    out["p_positive"] = [round(r["p_positive"], 4) for r in sent]
    out["topic"] = [r["topic"] for r in tops]
    out["topic_score"] = [r["topic_score"] for r in tops]
    out["subtopic"] = [r.get("subtopic", r["topic"]) for r in tops]  # the taxonomy leaf (topic is its parent)
    out["sentiment_model"] = sentiment.meta_.tag
    out["topic_model"] = topics.meta_.tag
    return out


def roll_up(sentences: pd.DataFrame) -> pd.DataFrame:
    """Feedback-level sentiment (length-weighted mean of sentence probabilities) and topics.

    The label follows the weighted probabilities: negative if P(neg) is the largest, positive if
    P(pos) is, else neutral. ``top_topic`` is the most frequent non-"other" topic (ties: higher total
    similarity); ``topics`` lists every distinct topic in order of first mention.
    """
    acc: dict[str, dict[str, Any]] = defaultdict(lambda: {"w": 0.0, "neg": 0.0, "pos": 0.0, "topics": [],
                                                          "tscore": Counter(), "n": 0})
    for fid, text, pn, pp, topic, ts in zip(sentences["feedback_id"], sentences["text"], sentences["p_negative"],
                                             sentences["p_positive"], sentences["topic"], sentences["topic_score"]):
        a = acc[fid]
        w = float(min(len(text), 300) + 20)
        a["w"] += w
        a["neg"] += w * pn
        a["pos"] += w * pp
        a["n"] += 1
        if topic != OTHER:
            a["topics"].append(topic)
            a["tscore"][topic] += ts
    rows = []
    for fid, a in acc.items():
        neg, pos = a["neg"] / a["w"], a["pos"] / a["w"]
        neu = max(0.0, 1.0 - neg - pos)
        label = "negative" if neg >= max(pos, neu) else "positive" if pos >= neu else "neutral"
        counts = Counter(a["topics"])
        top = (min(counts, key=lambda t: (-counts[t], -a["tscore"][t], t)) if counts else OTHER)
        rows.append({"feedback_id": fid, "sentiment_label": label, "sentiment_score": round(pos - neg, 4),
                     "top_topic": top, "topics": ",".join(dict.fromkeys(a["topics"])) or OTHER,
                     "n_sentences": a["n"]})
    return pd.DataFrame(rows, columns=["feedback_id", "sentiment_label", "sentiment_score", "top_topic",
                                       "topics", "n_sentences"])

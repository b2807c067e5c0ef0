"""Evaluate sentiment (and taxonomy topics) on labelled CSV files such as ../shared/devdata.

Files need ``text`` and ``label`` columns. Labels are mapped to negative/neutral/positive (five-point
scales collapse: very_negative -> negative, ...). Binary files (no neutral gold) are scored by the
larger of P(negative) and P(positive). Topic evaluation applies to files whose ``topic`` column
maps onto taxonomy ids (the Bitext support categories do).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import numpy as np

from models.sentiment import LABELS

LABEL_MAP = {"very_negative": "negative", "negative": "negative", "neg": "negative", "0": "negative",
             "neutral": "neutral", "neu": "neutral", "mixed": "neutral",
             "positive": "positive", "very_positive": "positive", "pos": "positive", "1": "positive"}
TOPIC_MAP = {"ACCOUNT": "account", "ORDER": "order", "REFUND": "refund_returns", "DELIVERY": "delivery",
             "SHIPPING_ADDRESS": "delivery", "INVOICE": "billing_payment", "PAYMENT": "billing_payment",
             "CONTACT": "customer_service", "CANCELLATION_FEE": "order"}


def read_labelled(path: Path, limit: int, seed: int = 13) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get("text") or "").strip()]
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


def macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0))


def evaluate_sentiment(model: Any, path: Path, limit: int = 1000, seed: int = 13) -> dict[str, Any] | None:
    rows = read_labelled(path, limit, seed)
    rows = [r for r in rows if (r.get("label") or "").strip().lower() in LABEL_MAP]
    if not rows:
        return None
    gold = [LABEL_MAP[r["label"].strip().lower()] for r in rows]
    P = model.predict_proba([r["text"] for r in rows])
    classes = sorted(set(gold))
    if "neutral" not in classes:
        pred = np.where(P[:, 0] >= P[:, 2], "negative", "positive").tolist()
    else:
        pred = [LABELS[k] for k in P.argmax(axis=1)]
    return {"file": path.name, "task": "sentiment", "n": len(rows), "classes": len(classes),
            "macro_f1": round(macro_f1(gold, pred, classes), 4),
            "accuracy": round(float(np.mean(np.asarray(gold) == np.asarray(pred))), 4)}


def evaluate_topics(model: Any, path: Path, limit: int = 1000, seed: int = 13) -> dict[str, Any] | None:
    rows = [r for r in read_labelled(path, 0, seed) if r.get("topic") in TOPIC_MAP]
    if not rows:
        return None
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    gold = [TOPIC_MAP[r["topic"]] for r in rows]
    pred = [p["topic"] for p in model.predict([r["text"] for r in rows])]
    classes = sorted(set(gold))
    return {"file": path.name, "task": "topics", "n": len(rows), "classes": len(classes),
            "macro_f1": round(macro_f1(gold, pred, classes), 4),
            "accuracy": round(float(np.mean(np.asarray(gold) == np.asarray(pred))), 4),
            "coverage": round(float(np.mean([p != "other" for p in pred])), 4)}


def evaluate_dir(sentiment: Any, topics: Any, folder: Path, limit: int = 1000) -> list[dict[str, Any]]:
    results = []
    for path in sorted(folder.glob("*.csv")):
        for fn, model in ((evaluate_sentiment, sentiment), (evaluate_topics, topics)):
            r = fn(model, path, limit)
            if r:
                results.append(r)
    return results

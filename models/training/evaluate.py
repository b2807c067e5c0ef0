"""Evaluate sentiment (and taxonomy topics) on labelled CSV files such as ../shared/devdata.

Files need ``text`` and ``label`` columns. Labels are mapped to negative/neutral/positive (five-point
scales collapse: very_negative -> negative, ...). Binary files (no neutral gold) are scored by the
larger of P(negative) and P(positive). Topic evaluation applies to files whose ``topic`` column
maps onto taxonomy ids (the Bitext support categories do). The caller reads the files (the CLI, with
pipeline/ingest/lines.py, the one CSV reader); these functions score rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import numpy as np

from models.base import DataError
from models.heads.sentiment import LABELS

LABEL_MAP = {"very_negative": "negative", "negative": "negative", "neg": "negative", "0": "negative",
             "neutral": "neutral", "neu": "neutral", "mixed": "neutral",
             "positive": "positive", "very_positive": "positive", "pos": "positive", "1": "positive"}
TOPIC_MAP = {"ACCOUNT": "account", "ORDER": "order", "REFUND": "refund_returns", "DELIVERY": "delivery",
             "SHIPPING_ADDRESS": "delivery", "INVOICE": "billing_payment", "PAYMENT": "billing_payment",
             "CONTACT": "customer_service", "CANCELLATION_FEE": "order"}


def sample_rows(rows: list[dict[str, str]], limit: int, seed: int = 13) -> list[dict[str, str]]:
    """The rows with text; at most ``limit`` of them (0: all), drawn with a fixed seed."""
    rows = [r for r in rows if (r.get("text") or "").strip()]
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


def macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0))


def evaluate_sentiment(model: Any, name: str, rows: list[dict[str, str]], limit: int = 1000,
                       seed: int = 13) -> dict[str, Any] | None:
    """Sentiment on a file's rows (``text``, ``label``), three-class or binary by the labels present."""
    rows = sample_rows(rows, limit, seed)
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
    return {"file": name, "task": "sentiment", "n": len(rows), "classes": len(classes),
            "macro_f1": round(macro_f1(gold, pred, classes), 4),
            "accuracy": round(float(np.mean(np.asarray(gold) == np.asarray(pred))), 4)}


def evaluate_topics(model: Any, name: str, rows: list[dict[str, str]], limit: int = 1000,
                    seed: int = 13) -> dict[str, Any] | None:
    """Topics on a file's rows with a Bitext-style ``topic`` column (mapped by TOPIC_MAP)."""
    rows = [r for r in sample_rows(rows, 0, seed) if r.get("topic") in TOPIC_MAP]
    if not rows:
        return None
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    gold = [TOPIC_MAP[r["topic"]] for r in rows]
    pred = [p["topic"] for p in model.predict([r["text"] for r in rows])]
    classes = sorted(set(gold))
    return {"file": name, "task": "topics", "n": len(rows), "classes": len(classes),
            "macro_f1": round(macro_f1(gold, pred, classes), 4),
            "accuracy": round(float(np.mean(np.asarray(gold) == np.asarray(pred))), 4),
            "coverage": round(float(np.mean([p != "other" for p in pred])), 4)}


def evaluate_files(sentiment: Any, topics: Any, files: Iterable[tuple[str, list[dict[str, str]]]],
                   limit: int = 1000) -> list[dict[str, Any]]:
    """Sentiment and topics on each (file name, rows), read by the caller (pipeline/ingest/lines.py)."""
    results = []
    for name, rows in files:
        for fn, model in ((evaluate_sentiment, sentiment), (evaluate_topics, topics)):
            r = fn(model, name, rows, limit)
            if r:
                results.append(r)
    return results


# -- labelled datasets (models/data/datasets.py): the fixed split, guard files, version comparison -------
def score_labels(model: Any, data: Any) -> tuple[list[str], list[str], list[str]]:
    """(gold, predicted, label space): intents by the predicted intent over the data's intent ids;
    sentiment five-class when both data and model are, else three-class, binary data by the larger of
    P(negative) and P(positive)."""
    from models.data.datasets import BINARY, FIVE, TO_THREE

    if getattr(data, "task", "sentiment") == "intent" or getattr(model, "task", None) == "intent":
        if getattr(model, "task", None) != "intent" or getattr(data, "task", "sentiment") != "intent":
            raise DataError(f"{data.source}: {getattr(data, 'task', 'sentiment')} labels cannot score a "
                            f"{getattr(model, 'task', '?')} model; pass --task to match the model")
        # "other" and intents the data does not have count as errors: the label space is the data's
        return list(data.labels), [r["intent"] for r in model.predict(data.texts)], list(data.label_set)

    model_labels = list(getattr(model, "labels_", LABELS))
    if data.label_set == FIVE and model_labels == FIVE:
        P = model.predict_proba_fine(data.texts)
        return list(data.labels), [FIVE[k] for k in P.argmax(axis=1)], list(FIVE)
    gold = [TO_THREE[lab] for lab in data.labels]
    P = model.predict_proba(data.texts)
    if data.label_set == BINARY:
        return gold, np.where(P[:, 0] >= P[:, 2], "negative", "positive").tolist(), list(BINARY)
    return gold, [LABELS[k] for k in P.argmax(axis=1)], list(LABELS)


def evaluate_data(model: Any, data: Any) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1 and the confusion matrix of ``model`` on labelled ``data``."""
    from sklearn.metrics import confusion_matrix, f1_score

    gold, pred, space = score_labels(model, data)
    per = f1_score(gold, pred, labels=space, average=None, zero_division=0)
    return {"data": data.key, "n": len(gold), "label_space": space,
            "accuracy": round(float(np.mean(np.asarray(gold) == np.asarray(pred))), 4) if gold else 0.0,
            "macro_f1": round(float(np.mean(per)), 4) if len(per) else 0.0,
            "per_class_f1": {lab: round(float(f), 4) for lab, f in zip(space, per)},
            "confusion": {"labels": space, "matrix": confusion_matrix(gold, pred, labels=space).tolist()},
            "model": model.meta_.tag}


def format_evaluation(m: dict[str, Any]) -> str:
    """Human-readable block: headline metrics, per-class F1, confusion matrix (rows gold, columns predicted)."""
    labels = m["confusion"]["labels"]
    w = max(12, *(len(x) + 2 for x in labels))
    lines = [f"{m['model']} on {m['data']} ({m['n']} rows): accuracy {m['accuracy']:.3f}, "
             f"macro-F1 {m['macro_f1']:.3f}",
             "  per-class F1: " + ", ".join(f"{k} {v:.3f}" for k, v in m["per_class_f1"].items()),
             "  confusion (rows gold, columns predicted):", "  " + " " * w + "".join(f"{x:>{w}}" for x in labels)]
    for lab, row in zip(labels, m["confusion"]["matrix"]):
        lines.append(f"  {lab:<{w}}" + "".join(f"{x:>{w}}" for x in row))
    return "\n".join(lines)


def compare_evaluations(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Differences b - a in accuracy, macro-F1 and per-class F1 (same data, same rows)."""
    if a["data"] != b["data"] or a["n"] != b["n"]:
        raise ValueError(f"cannot compare evaluations on different data: {a['data']} vs {b['data']}")
    return {"data": a["data"], "n": a["n"], "a": a["model"], "b": b["model"],
            "accuracy": [a["accuracy"], b["accuracy"], round(b["accuracy"] - a["accuracy"], 4)],
            "macro_f1": [a["macro_f1"], b["macro_f1"], round(b["macro_f1"] - a["macro_f1"], 4)],
            "per_class_f1": {k: [a["per_class_f1"].get(k, 0.0), v, round(v - a["per_class_f1"].get(k, 0.0), 4)]
                             for k, v in b["per_class_f1"].items()}}


def comparison_markdown(rows: list[dict[str, Any]]) -> str:
    """Markdown table of ``compare_evaluations`` results (one row per evaluation data)."""
    if not rows:
        return "_no evaluations_"
    out = [f"| data | rows | {rows[0]['a']} macro-F1 | {rows[0]['b']} macro-F1 | delta | accuracy delta |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['data']} | {r['n']} | {r['macro_f1'][0]:.3f} | {r['macro_f1'][1]:.3f} | "
                   f"{r['macro_f1'][2]:+.3f} | {r['accuracy'][2]:+.3f} |")
    return "\n".join(out)

"""MODEL_CARD.md for a registered version, rendered from its meta.json (so it never drifts from it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from models.base import ModelMeta

LIMITS = {
    "touchpoint.EmbeddingLogReg.v1": "A linear head on frozen sentence embeddings: it cannot learn what the "
    "encoder does not separate (sarcasm, negation far from the sentiment word, domain jargon). Languages "
    "absent from the training data are scored through the multilingual encoder only; check them on a "
    "labelled sample before trusting them.",
    "touchpoint.FinetunedTransformer.v1": "Fine-tuned from the checkpoint named under Encoder; the artifact "
    "needs that exact checkpoint directory (path and content fingerprint) to load. Small training sets "
    "overfit quickly: early stopping watches a validation split of the training rows, not the held-out "
    "evaluation split. Languages absent from the training data may degrade more than with the frozen head.",
    "touchpoint.FewShotIntent.v1": "Logistic regression (or centroids) on frozen sentence embeddings of a "
    "few examples per intent: intents the encoder does not separate (two ways of asking about one order) "
    "get confused, and a text about none of the intents still gets the nearest one unless min_similarity "
    "is set. Languages without examples are scored through the multilingual encoder only.",
    "touchpoint.TaxonomyTopics.v1": "Nearest-seed topic assignment over a hierarchical taxonomy (parent in topic, leaf in subtopic); quality depends on the taxonomy's seeds.",
}


def metrics_table(evaluations: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| evaluation data | rows | accuracy | macro-F1 | per-class F1 |", "|---|---:|---:|---:|---|"]
    for key, m in evaluations.items():
        per = ", ".join(f"{k} {v:.3f}" for k, v in m.get("per_class_f1", {}).items())
        lines.append(f"| {key} | {m.get('n', '')} | {m.get('accuracy', 0):.3f} | {m.get('macro_f1', 0):.3f} | {per} |")
    return lines


def confusion_lines(m: dict[str, Any]) -> list[str]:
    labels, matrix = m["confusion"]["labels"], m["confusion"]["matrix"]
    out = ["| gold \\ predicted | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    out += [f"| {lab} | " + " | ".join(str(x) for x in row) + " |" for lab, row in zip(labels, matrix)]
    return out


def render_card(meta: ModelMeta, periods: list[str] | None = None) -> str:
    m = meta.metrics or {}
    data = m.get("data") or {}
    pins = meta.pins or {}
    libs = ", ".join(f"{k} {v}" for k, v in (pins.get("libraries") or {}).items() if v)
    out = [f"# {meta.task}: {meta.name}@{meta.version}", "",
           f"- Backend: `{meta.backend}`", f"- Encoder: `{meta.encoder}`",
           f"- Encoder fingerprint: `{pins.get('encoder_fingerprint')}` ({pins.get('fingerprint_source')})",
           f"- Libraries at training time: {libs or 'not recorded'}",
           f"- Label set: {', '.join(meta.labels)}"
           + (" (the pipeline reads the three-class view: very_* fold into negative/positive)"
              if "very_negative" in meta.labels else "")
           + (" (binary: P(neutral) is always 0)" if meta.labels == ["negative", "positive"] else ""),
           f"- Hyperparameters: {', '.join(f'{k}={v}' for k, v in meta.hyperparameters.items())}",
           f"- Current: {'; '.join(periods) if periods else 'never promoted'}", "", "## Training data", ""]
    if data:
        held_file = (m.get("split") or {}).get("held_out")
        rows = (f"- Rows: {meta.training_rows} used for training of {data.get('rows')} (every row; evaluated on "
                f"the separate file `{held_file.get('source')}`, {held_file.get('rows')} rows)") if held_file else (
                f"- Rows: {meta.training_rows} used for training of {data.get('rows')} (the rest is the fixed "
                f"held-out split)")
        out += [f"- Source: `{data.get('source')}`", f"- Content hash: `{meta.training_data_hash}` "
                f"(full file: `{data.get('hash')}`)", rows,
                f"- Labels: {', '.join(f'{k} {v}' for k, v in (data.get('labels') or {}).items())}",
                f"- Languages: {', '.join(f'{k} {v}' for k, v in (data.get('languages') or {}).items()) or 'not recorded'}"]
        if str(data.get("source", "")).startswith("store:"):
            out.append("- Labels are distant supervision from star ratings and NPS, not human sentence labels: "
                       "mixed reviews (\"great product, awful delivery\") get one label, and neutral is noisy.")
    else:
        corpora = m.get("training_corpora")
        out.append(f"- Package corpora: {corpora}" if corpora else f"- {meta.training_rows} rows, hash "
                   f"`{meta.training_data_hash}`")
    evals = m.get("evaluations") or {}
    if evals:
        out += ["", "## Metrics", ""] + metrics_table(evals)
        key = (m.get("split") or {}).get("key")
        key = key if key in evals else next(iter(evals))
        if "confusion" in evals[key]:
            out += ["", f"Confusion matrix on {key} (rows gold, columns predicted):", ""] + confusion_lines(evals[key])
    out += ["", "Evaluations named after the training file are on its fixed held-out split (rows never "
            "trained on by this version); other files are scored as given, and may overlap other versions' "
            "training data."] if evals else []
    if m.get("retrain"):
        out += ["", "## Retrain gate", "", m["retrain"].get("markdown", "")]
    if m.get("train_seconds") is not None:
        out += ["", f"Trained in {m['train_seconds']} s on {m.get('device', 'cpu')}."]
    out += ["", "## Limits", "", LIMITS.get(meta.backend, "")]
    if pins.get("fingerprint_source") == "fallback":
        out.append("The encoder exposed no fingerprint when this was trained, so it is pinned by name only.")
    return "\n".join(out) + "\n"


def write_card(path: str | os.PathLike, meta: ModelMeta, periods: list[str] | None = None) -> Path:
    p = Path(path) / "MODEL_CARD.md"
    tmp = p.with_suffix(".md.tmp")
    tmp.write_text(render_card(meta, periods), encoding="utf-8")
    os.replace(tmp, p)
    return p

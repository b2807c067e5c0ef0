"""Labelled data: label sets and rules per task, labels from the store, fixed evaluation splits.

Files are read by ``pipeline/ingest/labelled.py`` (``read_labelled_file``, on the pipeline's one CSV /
JSON Lines reader); it applies ``LABEL_RULES[task]`` to each row and returns a ``LabelledData``.

Sentiment label sets are binary (negative/positive), three-class (negative/neutral/positive) or five-class
(very_negative .. very_positive). Five-class data trains a five-class model; ``to_three`` gives the
three-class view the pipeline reads. Raw labels are mapped with a few aliases (pos, neg, mixed...)
and a user label map (``--label-map``); anything else is an error naming the file, line and field.
Intent labels are free ids (any non-empty string but "other"), in first-seen order.

The held-out evaluation split of a dataset is decided once and stored by the dataset's content hash
(``<registry>/<task>/splits/<hash>.json``), so every version is scored on the same rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.base import DataError, data_hash

BINARY = ["negative", "positive"]
THREE = ["negative", "neutral", "positive"]
FIVE = ["very_negative", "negative", "neutral", "positive", "very_positive"]
TO_THREE = {"very_negative": "negative", "negative": "negative", "neutral": "neutral",
            "positive": "positive", "very_positive": "positive"}
ALIASES = {"neg": "negative", "pos": "positive", "neu": "neutral", "mixed": "neutral",
           "very negative": "very_negative", "very positive": "very_positive",
           "0": "negative", "1": "positive"}  # 0/1 as in most binary benchmark files
EVAL_FRACTION = 0.2
SPLIT_SEED = 13


@dataclass
class LabelledData:
    """Texts with canonical labels, where they came from (file and line) and a content hash."""

    source: str
    texts: list[str]
    labels: list[str]
    lines: list[int]
    languages: list[str] | None = None
    label_set: list[str] = field(default_factory=list)
    task: str = "sentiment"  # which LABEL_RULES the labels follow: "sentiment" or "intent"

    def __post_init__(self):
        if not self.label_set:
            self.label_set = label_set_for_task(self.task, self.labels, self.source)

    @property
    def hash(self) -> str:
        return data_hash(self.texts, self.labels)

    @property
    def name(self) -> str:
        return Path(self.source).name if not self.source.startswith("store:") else self.source

    @property
    def key(self) -> str:
        """Name of this dataset in metrics tables: file name plus content hash."""
        return f"{self.name}#{self.hash[:8]}"

    def subset(self, idx: list[int]) -> "LabelledData":
        langs = [self.languages[i] for i in idx] if self.languages else None
        return LabelledData(self.source, [self.texts[i] for i in idx], [self.labels[i] for i in idx],
                            [self.lines[i] for i in idx], langs, list(self.label_set), self.task)

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "task": self.task, "hash": self.hash, "rows": len(self.texts),
                "label_set": self.label_set,
                "labels": dict(sorted(Counter(self.labels).items())),
                "languages": dict(sorted(Counter(self.languages).items())) if self.languages else {}}


def label_set_for(labels: list[str], source: str = "data") -> list[str]:
    present = set(labels)
    if len(present) < 2:
        raise DataError(f"{source}: needs at least two different labels to train, found {sorted(present)}")
    if present & {"very_negative", "very_positive"}:
        return list(FIVE)
    return list(THREE) if "neutral" in present else list(BINARY)


def parse_label_map(spec: str | dict | None, canonical: bool = True) -> dict[str, str]:
    """``'{"1":"negative"}'`` (JSON) or ``1=negative,5=positive`` into a dict; with ``canonical`` the values
    must be known sentiment labels (intent ids are free)."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        raw = spec
    elif spec.strip().startswith("{"):
        try:
            raw = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise DataError(f"--label-map is not valid JSON: {exc}") from None
    else:
        raw = {}
        for part in spec.split(","):
            if "=" not in part:
                raise DataError(f"--label-map item {part!r} is not key=value (e.g. 1=negative,5=positive)")
            k, v = part.split("=", 1)
            raw[k.strip()] = v.strip()
    out = {}
    for k, v in raw.items():
        if not canonical:
            out[str(k).strip()] = str(v).strip()
            continue
        canon = _canonical(str(v))
        if canon is None:
            raise DataError(f"--label-map maps {k!r} to {v!r}, which is not one of {', '.join(FIVE)}")
        out[str(k).strip()] = canon
    return out


def _canonical(raw: str) -> str | None:
    low = raw.strip().lower().replace("-", "_")
    if low in FIVE:
        return low
    return ALIASES.get(low) or ALIASES.get(low.replace("_", " "))


def map_label(raw: Any, label_map: dict[str, str]) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))  # parquet/JSON numbers: 5.0 -> "5"
    if text in label_map:
        return label_map[text]
    if text.lower() in label_map:
        return label_map[text.lower()]
    return _canonical(text)


# -- label rules per task: the file reader (pipeline/ingest/labelled.py) applies them row by row ----------
TASKS = ("sentiment", "intent")
INTENT_OTHER = "other"  # = configs.heads_schema.OTHER_INTENT (models.data may import models.base only)


def sentiment_label(raw: Any, label_map: dict[str, str]) -> tuple[str | None, str | None]:
    """(canonical label, None) or (None, what is wrong with ``raw``) for a sentiment row."""
    lab = map_label(raw, label_map)
    if lab is None:
        return None, (f"has label {raw!r}, which is not one of {', '.join(FIVE)} (or neg/neu/pos/mixed/0/1); "
                      f"map it with --label-map '{raw}=negative,...'")
    return lab, None


def intent_label(raw: Any, label_map: dict[str, str]) -> tuple[str | None, str | None]:
    """Any non-empty label is an intent id (renamed by ``label_map``); "other" is reserved for no intent."""
    text = "" if raw is None else str(raw).strip()
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    text = label_map.get(text, text)
    if not text:
        return None, "is empty; every row needs an intent id"
    if text == INTENT_OTHER:
        return None, (f"has label {INTENT_OTHER!r}, which is reserved for texts that match no intent; "
                      f"rename it (e.g. --label-map '{INTENT_OTHER}=small_talk')")
    return text, None


LABEL_RULES = {"sentiment": sentiment_label, "intent": intent_label}


def label_set_for_task(task: str, labels: list[str], source: str = "data") -> list[str]:
    """The label set of ``labels`` for ``task``: sentiment's fixed sets, or the intents in first-seen order."""
    if task == "sentiment":
        return label_set_for(labels, source)
    present = list(dict.fromkeys(labels))
    if len(present) < 2:
        raise DataError(f"{source}: needs at least two different labels to train, found {sorted(present)}")
    return present


def parse_task_label_map(task: str, spec: str | dict | None) -> dict[str, str]:
    """``--label-map`` for ``task``: sentiment values must be known labels, intent values are free ids."""
    return parse_label_map(spec, canonical=task == "sentiment")


# -- distant supervision from the store ----------------------------------------------------------
def label_from_rating(rating: float | None, scale: int | None, channel: str | None) -> str | None:
    """Stars (1-2 negative, 3 neutral, 4-5 positive, other scales rescaled to five) or NPS 0-6/7-8/9-10."""
    if rating is None or scale is None or scale <= 0:
        return None
    if channel == "survey" and scale == 10:  # NPS: detractor, passive, promoter
        return "negative" if rating <= 6 else "neutral" if rating <= 8 else "positive"
    stars = rating * 5.0 / scale
    return "negative" if stars < 2.5 else "neutral" if stars < 3.5 else "positive"


def read_store(data_dir: str | os.PathLike, channels: tuple[str, ...] = ("review", "survey"),
               min_chars: int = 3) -> LabelledData:
    """Reviews with ratings and survey comments with NPS from ``<data_dir>/touchpoint.duckdb`` as labels."""
    import duckdb

    db = Path(data_dir) / "touchpoint.duckdb"
    if not db.is_file():
        raise DataError(f"{db}: no store; run the nightly flow first (`touchpoint run nightly`)")
    con = duckdb.connect(str(db), read_only=True)
    try:
        marks = ", ".join("?" for _ in channels)
        rows = con.execute(f"SELECT text, rating, rating_scale, channel, language FROM feedback "
                           f"WHERE rating IS NOT NULL AND text IS NOT NULL AND channel IN ({marks}) "
                           f"ORDER BY feedback_id", list(channels)).fetchall()
    finally:
        con.close()
    texts, labels, lines, langs = [], [], [], []
    for n, (text, rating, scale, channel, lang) in enumerate(rows, 1):
        lab = label_from_rating(rating, scale, channel)
        if lab is None or len((text or "").strip()) < min_chars:
            continue
        texts.append(" ".join(text.split()))
        labels.append(lab)
        lines.append(n)
        langs.append(lang or "und")
    if not texts:
        raise DataError(f"{db}: no rated reviews or NPS comments with text in the store")
    return LabelledData(f"store:{db}", texts, labels, lines, langs)


# -- fixed evaluation split ------------------------------------------------------------------------
def make_split(data: LabelledData, fraction: float = EVAL_FRACTION) -> tuple[list[int], list[int]]:
    """Stratified (label, language) split seeded by the content hash: the same data, the same split."""
    rng = random.Random(f"{SPLIT_SEED}:{data.hash}")
    groups: dict[tuple, list[int]] = {}
    for i, lab in enumerate(data.labels):
        groups.setdefault((lab, data.languages[i] if data.languages else ""), []).append(i)
    held = []
    for key in sorted(groups):
        idx = groups[key]
        rng.shuffle(idx)
        k = int(round(len(idx) * fraction)) if len(idx) >= 2 else 0
        held += idx[:max(k, 1 if len(idx) >= 3 else 0)]
    held_set = set(held)
    return [i for i in range(len(data.texts)) if i not in held_set], sorted(held)


def fixed_split(data: LabelledData, splits_dir: str | os.PathLike) -> tuple[list[int], list[int]]:
    """The stored split for this dataset's hash (created on first use); (train rows, evaluation rows)."""
    d = Path(splits_dir)
    path = d / f"{data.hash}.json"
    if path.is_file():
        s = json.loads(path.read_text(encoding="utf-8"))
        if s.get("rows") != len(data.texts):
            raise DataError(f"{path}: split for {s.get('rows')} rows, data has {len(data.texts)}; delete it")
        return s["train"], s["eval"]
    train, held = make_split(data)
    d.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    rows_sha = hashlib.sha256("\x1e".join(data.texts[i] for i in held).encode()).hexdigest()[:16]
    tmp.write_text(json.dumps({"source": data.source, "hash": data.hash, "rows": len(data.texts),
                               "fraction": EVAL_FRACTION, "eval_rows_sha": rows_sha, "train": train,
                               "eval": held}), encoding="utf-8")
    os.replace(tmp, path)
    return train, held

"""Labelled sentiment data: read CSV/JSONL/Parquet files or the store, map labels, fix evaluation splits.

Label sets are binary (negative/positive), three-class (negative/neutral/positive) or five-class
(very_negative .. very_positive). Five-class data trains a five-class model; ``to_three`` gives the
three-class view the pipeline reads. Raw labels are mapped with a few aliases (pos, neg, mixed...)
and a user label map (``--label-map``); anything else is an error naming the file, line and field.

The held-out evaluation split of a dataset is decided once and stored by the dataset's content hash
(``<registry>/<task>/splits/<hash>.json``), so every version is scored on the same rows.
"""

from __future__ import annotations

import csv
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

    def __post_init__(self):
        if not self.label_set:
            self.label_set = label_set_for(self.labels, self.source)

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
                            [self.lines[i] for i in idx], langs, list(self.label_set))

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "hash": self.hash, "rows": len(self.texts), "label_set": self.label_set,
                "labels": dict(sorted(Counter(self.labels).items())),
                "languages": dict(sorted(Counter(self.languages).items())) if self.languages else {}}


def label_set_for(labels: list[str], source: str = "data") -> list[str]:
    present = set(labels)
    if len(present) < 2:
        raise DataError(f"{source}: needs at least two different labels to train, found {sorted(present)}")
    if present & {"very_negative", "very_positive"}:
        return list(FIVE)
    return list(THREE) if "neutral" in present else list(BINARY)


def parse_label_map(spec: str | dict | None) -> dict[str, str]:
    """``'{"1":"negative"}'`` (JSON) or ``1=negative,5=positive`` into a dict; values must be known labels."""
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


def _records(path: Path, text_col: str, label_col: str):
    """(line, record) pairs; line is the 1-based physical line (CSV, JSONL) or row number (Parquet)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{n}: not valid JSON ({exc.msg}); one object per line") from None
                if not isinstance(rec, dict):
                    raise DataError(f"{path}:{n}: expected a JSON object, got {type(rec).__name__}")
                yield n, rec
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        for col in (text_col, label_col):
            if col not in table.column_names:
                raise DataError(f"{path}: no column {col!r} (columns: {', '.join(table.column_names)}); "
                                f"pass --text-col/--label-col")
        for n, rec in enumerate(table.to_pylist(), 1):
            yield n, rec
    elif suffix in (".csv", ".tsv", ".txt"):
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            cols = reader.fieldnames or []
            for col in (text_col, label_col):
                if col not in cols:
                    raise DataError(f"{path}:1: no column {col!r} in the header (columns: {', '.join(cols)}); "
                                    f"pass --text-col/--label-col")
            start = 2
            for rec in reader:
                yield start, rec
                start = reader.line_num + 1
    else:
        raise DataError(f"{path}: unknown format {suffix!r}; use .csv, .tsv, .jsonl or .parquet")


def read_labelled_file(path: str | os.PathLike, text_col: str = "text", label_col: str = "label",
                       label_map: str | dict | None = None, language_col: str | None = None) -> LabelledData:
    """Read a labelled file; every row needs a non-empty text and a known (or mapped) label."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    lmap = parse_label_map(label_map)
    texts, labels, lines, langs = [], [], [], []
    for n, rec in _records(p, text_col, label_col):
        if text_col not in rec:
            raise DataError(f"{p}:{n}: field {text_col!r} is missing")
        text = rec.get(text_col)
        if text is None or not str(text).strip():
            raise DataError(f"{p}:{n}: field {text_col!r} is empty; remove the row or fill in the text")
        raw = rec.get(label_col)
        lab = map_label(raw, lmap)
        if lab is None:
            raise DataError(f"{p}:{n}: field {label_col!r} has label {raw!r}, which is not one of "
                            f"{', '.join(FIVE)} (or neg/neu/pos/mixed/0/1); map it with "
                            f"--label-map '{raw}=negative,...'")
        texts.append(" ".join(str(text).split()))
        labels.append(lab)
        lines.append(n)
        lc = language_col or next((c for c in ("language", "lang") if c in rec), None)
        langs.append(str(rec.get(lc) or "und") if lc else "und")
    if not texts:
        raise DataError(f"{p}: no labelled rows")
    return LabelledData(str(p), texts, labels, lines, langs if set(langs) != {"und"} else None)


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

"""Labelled training and evaluation files (text + label per row) for ``touchpoint models``.

CSV and JSON Lines are read by the pipeline's own line reader (``pipeline/ingest/lines.py``:
``iter_csv``, ``iter_jsonl``), so a stray quote costs one located error instead of swallowing the rest
of the file, and every row's line is its first physical line. Unlike the pipeline's readers, a labelled
file is all or nothing: the first bad row stops the read with ``models.base.DataError`` naming the file,
the line and the field (training on a silently shortened file would change the model without saying
so). TSV and Parquet, which the pipeline does not ingest, keep their own readers here (the csv module
with a tab delimiter; pyarrow).

Labels follow ``models.data.datasets.LABEL_RULES[task]``: sentiment labels are mapped onto the fixed
label sets, intent labels are free ids. Returns ``models.data.datasets.LabelledData``; this is the one
ingest module that imports ``models`` (the data class and label rules, nothing that encodes or fits).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.base import DataError
from models.data.datasets import LABEL_RULES, LabelledData, label_set_for_task, parse_task_label_map
from pipeline.ingest.lines import Rec, iter_csv, iter_jsonl

CSV_SUFFIXES = (".csv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


def read_labelled_file(path: str | os.PathLike, text_col: str = "text", label_col: str = "label",
                       label_map: str | dict | None = None, language_col: str | None = None,
                       task: str = "sentiment") -> LabelledData:
    """Read a labelled file; every row needs a non-empty text and a known (or mapped) label.

    Args:
        language_col: column with a language code per row (default: ``language`` or ``lang`` when present).
        task: "sentiment" (labels mapped onto negative/neutral/positive, binary or five levels) or "intent"
            (any non-empty label but "other" is an intent id).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    if task not in LABEL_RULES:
        raise DataError(f"unknown task {task!r}; labelled files are read for {', '.join(LABEL_RULES)}")
    rule, lmap = LABEL_RULES[task], parse_task_label_map(task, label_map)
    texts, labels, lines, langs = [], [], [], []
    for n, rec in _records(p, text_col, label_col):
        if text_col not in rec:
            raise DataError(f"{p}:{n}: field {text_col!r} is missing")
        text = rec.get(text_col)
        if text is None or not str(text).strip():
            raise DataError(f"{p}:{n}: field {text_col!r} is empty; remove the row or fill in the text")
        raw = rec.get(label_col)
        lab, problem = rule(raw, lmap)
        if lab is None:
            raise DataError(f"{p}:{n}: field {label_col!r} {problem}")
        texts.append(" ".join(str(text).split()))
        labels.append(lab)
        lines.append(n)
        lc = language_col or next((c for c in ("language", "lang") if c in rec), None)
        langs.append(str(rec.get(lc) or "und") if lc else "und")
    if not texts:
        raise DataError(f"{p}: no labelled rows")
    return LabelledData(str(p), texts, labels, lines, langs if set(langs) != {"und"} else None,
                        label_set_for_task(task, labels, str(p)), task)


def _records(path: Path, text_col: str, label_col: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, record) pairs; line is the 1-based first physical line (CSV, TSV, JSONL) or row (Parquet)."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_records(path)
    elif suffix in CSV_SUFFIXES:
        yield from _csv_records(path, text_col, label_col)
    elif suffix == ".tsv":
        yield from _tsv_records(path, text_col, label_col)
    elif suffix == ".parquet":
        yield from _parquet_records(path, text_col, label_col)
    else:
        raise DataError(f"{path}: unknown format {suffix!r}; use .csv, .tsv, .jsonl or .parquet")


def _check_header(path: Path, cols: list[str], text_col: str, label_col: str) -> None:
    for col in (text_col, label_col):
        if col not in cols:
            raise DataError(f"{path}:1: no column {col!r} in the header (columns: {', '.join(cols)}); "
                            f"pass --text-col/--label-col")


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for rec in iter_jsonl(path):
        if rec.error is not None:
            reason = rec.error.reason
            if reason.startswith("broken JSON: "):
                reason = f"not valid JSON ({reason.removeprefix('broken JSON: ')}); one object per line"
            raise DataError(f"{path}:{rec.line}: {reason}")
        if not isinstance(rec.value, dict):
            raise DataError(f"{path}:{rec.line}: expected a JSON object, got {type(rec.value).__name__}")
        yield rec.line, rec.value


def _csv_records(path: Path, text_col: str, label_col: str) -> Iterator[tuple[int, dict[str, Any]]]:
    header_checked = False
    for rec in iter_csv(path):
        if rec.error is None and not header_checked:
            _check_header(path, list(rec.value), text_col, label_col)
            header_checked = True
        if rec.error is not None:
            raise DataError(_csv_problem(path, rec, _header(path)))
        yield rec.line, rec.value
    if not header_checked:  # no rows at all: the header alone still has to name the columns
        _check_header(path, _header(path), text_col, label_col)


def _header(path: Path) -> list[str]:
    """The first non-blank line's cells (only read again to word an error)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for line in fh:
            if line.strip(" \t\r\n,\""):
                return [h.strip().lstrip("\ufeff") for h in next(csv.reader([line.rstrip("\r\n")]), [])]
    return []


def _csv_problem(path: Path, rec: Rec, header: list[str]) -> str:
    """``file:line: field 'x': what`` for a row the line reader refused, naming the field where it can."""
    reason = rec.error.reason if rec.error is not None else "unreadable row"
    first = rec.raw.splitlines()[0] if rec.raw else ""
    if "quoted field" in reason:
        # the field that opened the unclosed quote is the last one the line parses into
        k = len(next(csv.reader([first]), [""])) - 1
        name = header[k] if 0 <= k < len(header) else f"column {k + 1}"
        return (f"{path}:{rec.line}: field {name!r}: {reason}; quote the whole field and double the quotes "
                f"inside it (\"say \"\"hi\"\"\")")
    if reason.startswith("ragged row"):
        return (f"{path}:{rec.line}: {reason} (columns: {', '.join(header)}); a comma inside field "
                f"{header[0] if header else 'text'!r} needs the field in double quotes")
    return f"{path}:{rec.line}: {reason}"


def _tsv_records(path: Path, text_col: str, label_col: str) -> Iterator[tuple[int, dict[str, Any]]]:
    # The pipeline ingests no TSV, so this keeps the csv module (tab-delimited, lines as the reader counts them).
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        _check_header(path, list(reader.fieldnames or []), text_col, label_col)
        start = 2
        for rec in reader:
            yield start, rec
            start = reader.line_num + 1


def _parquet_records(path: Path, text_col: str, label_col: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for col in (text_col, label_col):
        if col not in table.column_names:
            raise DataError(f"{path}: no column {col!r} (columns: {', '.join(table.column_names)}); "
                            f"pass --text-col/--label-col")
    for n, rec in enumerate(table.to_pylist(), 1):
        yield n, rec

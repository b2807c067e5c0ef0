"""Channel readers behind one entry point: ``read_batches(path, source, ...)`` yields lists of Items.

Also here: ``lines`` (the one CSV / JSON Lines reader, located errors), ``labelled`` (labelled training
files for ``touchpoint models``, on ``lines``), ``paths`` (input-path safety), ``demo`` (the demo data
generator). May import ``configs``, ``pipeline.errors``, ``pipeline.records``; never the store, the
analyses or the report; ``models`` only in ``labelled`` (it returns ``models.data.datasets.LabelledData``).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from configs import Settings, SourceConfig
from pipeline.errors import InputError
from pipeline.ingest.base import Item
from pipeline.ingest.calls import read_call_json
from pipeline.ingest.chats import read_chat_rows, read_conversations
from pipeline.ingest.reviews import read_reviews
from pipeline.ingest.scores import read_surveys, read_tickets
from pipeline.ingest.vtt import read_vtt

__all__ = ["Item", "detect_format", "match_source", "read_items", "read_batches", "file_sha256", "list_inputs"]

_EXT = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".vtt": "vtt"}


def detect_format(path: Path, source: SourceConfig) -> str:
    if source.format != "auto":
        return source.format
    fmt = _EXT.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(_EXT)}")
    return fmt


def match_source(rel_path: str, settings: Settings) -> SourceConfig | None:
    """The configured source for a path: full-pattern matches on the path and its trailing parts
    (longest first, so ``dump/calls/x.json`` matches ``calls/*.json``), then on the file name alone."""
    parts = Path(rel_path).parts
    for i in range(len(parts)):
        tail = "/".join(parts[i:])
        for s in settings.sources:
            if fnmatch.fnmatch(tail, s.pattern):
                return s
    name = parts[-1] if parts else rel_path
    by_name = [s for s in settings.sources if fnmatch.fnmatch(name, Path(s.pattern).name)]
    return by_name[0] if len(by_name) == 1 else None  # ambiguous by name alone: use --source


def list_inputs(root: Path, settings: Settings, source: str | None = None) -> list[tuple[Path, SourceConfig]]:
    """Every file under root that a configured source claims (or all of them for ``source``), sorted."""
    forced = settings.source(source) if source else None
    files = [root] if root.is_file() else sorted(x for x in root.rglob("*") if x.is_file() and not x.name.startswith("."))
    out = []
    for p in files:
        rel = p.relative_to(root).as_posix() if root.is_dir() else p.name
        src = forced or match_source(rel, settings) or match_source(p.resolve().as_posix(), settings)
        if src is not None:
            out.append((p, src))
    return out


def read_items(path: Path, source: SourceConfig, max_chars: int) -> Iterator[Item]:
    fmt = detect_format(path, source)
    ch = source.channel
    if ch == "review":
        if fmt not in ("csv", "jsonl", "parquet"):
            raise InputError(f"{path}: reviews must be CSV, JSON Lines or Parquet, not {fmt}")
        return read_reviews(path, source, fmt, max_chars)
    if ch == "chat":
        if fmt == "csv":
            return read_chat_rows(path, source, max_chars)
        if fmt in ("json", "jsonl"):
            return read_conversations(path, source, fmt, max_chars)
    if ch == "call":
        if fmt == "vtt":
            return read_vtt(path, source, max_chars)
        if fmt in ("json", "jsonl"):
            return read_call_json(path, source, fmt, max_chars)
    if ch == "survey" and fmt == "csv":
        return read_surveys(path, source, max_chars)
    if ch == "ticket" and fmt == "csv":
        return read_tickets(path, source)
    raise InputError(f"{path}: channel {ch!r} has no reader for {fmt} files")


def read_batches(path: Path, source: SourceConfig, batch_size: int, max_chars: int) -> Iterator[list[Item]]:
    """Stream a file as batches of at most ``batch_size`` items, so memory does not grow with it."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    it = read_items(path, source, max_chars)
    while batch := list(islice(it, batch_size)):
        yield batch


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

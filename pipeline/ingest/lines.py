"""Streaming records from CSV, JSON Lines and JSON documents, with every physical line accounted for.

CSV: Python's csv module lets one stray ``"`` open a quoted field that swallows every following
line (and past its field limit it raises with no file named). Here a logical record that spans
several physical lines is accepted only when it is well formed: it closes before the end of the
file, parses under ``strict`` quoting and has the header's field count. Otherwise its *first*
physical line is quarantined with the reason and reading resumes at the next physical line, so
one stray quote costs one row. Physical lines split on ``\\n``, ``\\r\\n`` and ``\\r`` (as
``bytes.splitlines``); JSON Lines split on ``\\n`` only.

The invariant, checked by ``line_accounting`` in tests: header lines + blank lines + the ``span``
of every yielded record == physical lines in the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import RecordError
from pipeline.ingest.base import Item, unexpected

csv.field_size_limit(max(csv.field_size_limit(), 10_000_000))  # MAX_RECORD_CHARS applies first, located

MAX_RECORD_CHARS = 1 << 20  # a CSV record or line longer than this is quarantined (1 MiB)
MAX_JSONL_LINE = 64 << 20  # a JSON Lines line longer than this is quarantined (64 MiB: whole call transcripts)
_SURROGATE = re.compile("[\udc80-\udcff]")
_BLANK_CSV = re.compile(r'[\s,"]*')


@dataclass
class Rec:
    """One raw record: parsed value or error, located by first physical line and span."""

    line: int
    value: Any
    raw: str
    error: RecordError | None = None
    span: int = 1
    only: bool = False  # the file's single record (a JSON document holding one object)


class _LongLine(Exception):
    pass


class _Overflow(Exception):
    pass


def _physical_lines(text: io.TextIOBase, limit: int) -> Iterator[tuple[int, str, bool]]:
    """(line number, text with its terminator, too_long); an over-long line comes back as an excerpt."""
    n = 0
    while piece := text.readline(limit):
        n += 1
        if len(piece) >= limit and not piece.endswith(("\n", "\r")):
            while (more := text.readline(limit)) and len(more) >= limit and not more.endswith(("\n", "\r")):
                pass
            yield n, piece[:200], True
        else:
            yield n, piece, False


class _Feed:
    """Physical lines for ``csv.reader``, with push-back, recording the lines each record used."""

    def __init__(self, lines: Iterator[tuple[int, str, bool]], max_chars: int):
        self._lines = lines
        self.pending: deque[tuple[int, str, bool]] = deque()
        self.max_chars = max_chars
        self.max_span: int | None = None  # 1 once multi-line records are disabled
        self.start()

    def start(self) -> None:
        self.used: list[tuple[int, str, bool]] = []
        self.chars = 0
        self.eof = False

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.used and self.max_span is not None and len(self.used) >= self.max_span:
            raise _Overflow("quoted field not closed on this line (multi-line fields were disabled "
                            "after repeated quoting errors in this file)")
        if self.pending:
            entry = self.pending.popleft()
        else:
            try:
                entry = next(self._lines)
            except StopIteration:
                self.eof = True
                raise
        if entry[2]:  # over-long physical line
            if self.used:
                self.pending.appendleft(entry)
                raise _Overflow(f"quoted field opened on this line runs into a line longer than "
                                f"{self.max_chars} characters")
            self.used.append(entry)
            raise _LongLine
        self.used.append(entry)
        self.chars += len(entry[1])
        if self.chars > self.max_chars:
            raise _Overflow(f"quoted field opened on this line runs past {self.max_chars} characters "
                            f"({len(self.used)} lines) without closing")
        return entry[1]


def _multiline_problem(used: list, row: list[str], eof: bool, expected: int | None) -> str | None:
    k = len(used) - 1
    if eof:
        if k == 0:
            return "quoted field opened on this line is never closed (end of file)"
        return f"quoted field opened on this line is never closed: it swallows the {k} lines up to the end of the file"
    try:
        ok = len(list(csv.reader([s for _, s, _ in used], strict=True))) == 1
    except csv.Error:
        ok = False
    if not ok:
        return f"quoted field opened on this line swallows the next {k} lines (stray '\"'?)"
    if expected is not None and len(row) != expected:
        return (f"quoted field opened on this line runs over the next {k} lines and leaves "
                f"{len(row)} fields, expected {expected} (stray '\"'?)")
    return None


def _csv_records(feed: _Feed, budget: int, expected: list[int | None]) -> Iterator[tuple[list, list[str] | None, str | None]]:
    """(lines used, row or None, problem or None) per logical record, resynchronising after bad ones.

    ``budget`` is how many characters may be re-read after resyncs; past it (a file full of stray
    quotes) records are limited to one line so time stays linear in the file size.
    """
    reader = csv.reader(feed)
    while True:
        feed.start()
        row, problem = None, None
        try:
            row = next(reader)
        except StopIteration:
            return
        except _LongLine:
            problem = f"line longer than {feed.max_chars} characters"
        except _Overflow as exc:
            problem = str(exc)
        except csv.Error as exc:
            problem = f"malformed CSV: {str(exc)[:60]}"
        used = feed.used
        if problem is None and (len(used) > 1 or feed.eof):
            problem = _multiline_problem(used, row, feed.eof, expected[0])
        if problem is None:
            yield used, row, None
            continue
        if len(used) > 1:
            feed.pending.extendleft(reversed(used[1:]))
            budget -= sum(len(s) for _, s, _ in used[1:])
            if budget < 0:
                feed.max_span = 1
        yield used[:1], None, problem
        reader = csv.reader(feed)  # fresh parser state after an error


def iter_csv(path: Path, max_chars: int = MAX_RECORD_CHARS) -> Iterator[Rec]:
    """Yield one Rec per non-blank CSV record after the header, streaming.

    Invalid UTF-8, ragged rows, unterminated or swallowing quoted fields and csv errors come back
    as errors located at the record's first physical line; nothing raises for bad content.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
        feed = _Feed(_physical_lines(text, max_chars), max_chars)
        expected: list[int | None] = [None]
        header: list[str] | None = None
        for used, row, problem in _csv_records(feed, 8 * max_chars + 2 * size, expected):
            line, span = used[0][0], len(used)
            raw = "".join(s for _, s, _ in used).rstrip("\r\n")
            if problem is None and all(_BLANK_CSV.fullmatch(s) for _, s, _ in used):
                continue  # blank line(s), or a row of empty cells
            if header is None:
                # A broken header line is read alone, tolerantly: its rows then fail as ragged.
                cells = row if row is not None else next(csv.reader([used[0][1].rstrip("\r\n")]), [])
                header = [h.strip().lstrip("\ufeff") for h in cells]
                expected[0] = len(header)
                continue
            if problem is not None:
                yield Rec(line, None, _clean(raw), RecordError(problem, None), span)
            elif _SURROGATE.search(raw):
                yield Rec(line, None, _clean(raw), RecordError("invalid UTF-8 bytes in the row", None), span)
            elif len(row) != len(header):
                yield Rec(line, None, raw, RecordError(
                    f"ragged row: expected {len(header)} fields, found {len(row)}", None), span)
            else:
                yield Rec(line, dict(zip(header, row)), raw, None, span)


def _clean(raw: str) -> str:
    return raw.encode("utf-8", "replace").decode("utf-8", "replace")


def iter_jsonl(path: Path, max_bytes: int = MAX_JSONL_LINE) -> Iterator[Rec]:
    """Yield one Rec per non-blank JSON Lines line, streaming; broken lines are errors, not exceptions."""
    with open(path, "rb") as fh:
        n = 0
        while braw := fh.readline(max_bytes):
            n += 1
            if len(braw) >= max_bytes and not braw.endswith(b"\n"):
                while (more := fh.readline(max_bytes)) and not more.endswith(b"\n"):
                    pass
                yield Rec(n, None, braw[:200].decode("utf-8", "replace"),
                          RecordError(f"line longer than {max_bytes} bytes", None))
                continue
            if not braw.strip():
                continue
            try:
                raw = braw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Rec(n, None, braw.decode("utf-8", "replace"), RecordError(f"invalid UTF-8 at byte {exc.start}", None))
                continue
            try:
                rec = Rec(n, json.loads(raw), raw)
            except json.JSONDecodeError as exc:
                rec = Rec(n, None, raw, RecordError(f"broken JSON: {exc.msg} (column {exc.colno})", None))
            except RecursionError:
                rec = Rec(n, None, raw[:200], RecordError("broken JSON: nested too deeply", None))
            except Exception as exc:  # noqa: BLE001 - one line never stops the file
                rec = Rec(n, None, raw[:200], unexpected(exc))
            yield rec


def iter_json_doc(path: Path) -> Iterator[Rec]:
    """Records of one JSON document: a list (record n = element n) or a single object (record 1).

    A document that cannot be read as a whole is one error at the line where it broke; an empty
    document yields nothing.
    """
    data = Path(path).read_bytes()
    if not data.strip():
        return
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        yield Rec(1, None, "", RecordError(f"invalid UTF-8 at byte {exc.start}", None))
        return
    except json.JSONDecodeError as exc:
        line = min(exc.lineno, max(1, len(data.splitlines())))  # an error at EOF is on the last line
        yield Rec(line, None, "", RecordError(f"broken JSON: {exc.msg} (column {exc.colno})", None))
        return
    except RecursionError:
        yield Rec(1, None, "", RecordError("broken JSON: nested too deeply", None))
        return
    except Exception as exc:  # noqa: BLE001 - a broken document is one bad record, never an exception
        yield Rec(1, None, "", unexpected(exc))
        return
    if isinstance(doc, list):
        for n, obj in enumerate(doc, start=1):
            yield Rec(n, obj, "")
    else:
        yield Rec(1, doc, "", only=True)


# ---------------------------------------------------------------------------------------------
# Accounting (used by tests; cheap enough to call on any file)

@dataclass
class LineAccount:
    physical: int
    header: int
    blank: int
    consumed: int
    uncovered: list[int] = field(default_factory=list)  # non-blank lines no item and no header took
    overlapping: list[int] = field(default_factory=list)  # lines claimed twice
    outside: list[int] = field(default_factory=list)  # items claiming lines past the end

    @property
    def balanced(self) -> bool:
        return (self.header + self.blank + self.consumed == self.physical
                and not self.uncovered and not self.overlapping and not self.outside)


def line_accounting(path: Path, items: Iterable[Item], fmt: str) -> LineAccount:
    """Compare a line-oriented file (``fmt`` "csv" or "jsonl") with the items read from it.

    Physical lines are counted from the bytes independently of the readers. Header lines are the
    non-blank lines before the first item's lines (CSV only); blank lines are the whitespace-only
    lines (CSV: also lines of only commas and quotes) that no item claims.
    """
    data = Path(path).read_bytes()
    if fmt == "csv":
        lines = data.splitlines()
        is_blank = lambda b: _BLANK_CSV.fullmatch(b.decode("utf-8", "replace")) is not None  # noqa: E731
    else:
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        is_blank = lambda b: not b.strip()  # noqa: E731
    owner: dict[int, int] = {}
    acc = LineAccount(physical=len(lines), header=0, blank=0, consumed=0)
    for it in items:
        acc.consumed += it.span
        for first, count in (it.runs or ((it.line, it.span),)):
            for n in range(first, first + count):
                if n < 1 or n > len(lines):
                    acc.outside.append(n)
                elif n in owner:
                    acc.overlapping.append(n)
                owner[n] = it.line
    header = range(0)
    if fmt == "csv":
        h = next((n for n, b in enumerate(lines, start=1) if not is_blank(b)), None)
        if h is not None:
            header = range(h, h + _record_span(lines[h - 1:]))
    for n, b in enumerate(lines, start=1):
        if n in owner:
            continue
        if is_blank(b):
            acc.blank += 1
        elif n in header:
            acc.header += 1
        else:
            acc.uncovered.append(n)
    return acc


def _record_span(lines: list[bytes]) -> int:
    """Physical lines of the first CSV record when it is well formed (closed, strict quoting), else 1."""
    feed = (b.decode("utf-8", "replace") + "\n" for b in lines)
    reader = csv.reader(feed, strict=True)
    try:
        next(reader)
    except (csv.Error, StopIteration):
        return 1
    return reader.line_num

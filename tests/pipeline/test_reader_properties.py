"""Property tests: mutated real-format files never crash a reader and every line is accounted for.

Each reader starts from a small valid file under tests/data/readers/valid and gets a few random
byte-level mutations (stray quotes, deleted/duplicated/swapped lines, flipped bytes, truncation,
invalid UTF-8, deep nesting, wrong JSON types, huge fields, NUL bytes, emptiness). Whatever comes
out, no exception escapes ``list(read_items(...))``; every item is good or a located bad item;
and for line-oriented formats header + blank lines + item spans == physical lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import load_settings
from pipeline.ingest import read_items
from pipeline.ingest.lines import line_accounting

SETTINGS = load_settings()
VALID = Path(__file__).resolve().parents[1] / "data" / "readers" / "valid"

# (fixture, source, line accounting format or None for whole-document formats)
CASES = [
    ("reviews.csv", "appstore", "csv"),
    ("reviews.jsonl", "marketplace", "jsonl"),
    ("chats.json", "chat_export", None),
    ("chats.jsonl", "webchat", "jsonl"),
    ("chat_rows.csv", "chat_rows", "csv"),
    ("call.json", "callcentre", None),
    ("call.vtt", "callcentre_vtt", None),
    ("survey.csv", "nps_survey", "csv"),
    ("tickets.csv", "helpdesk", "csv"),
]
KINDS = {"feedback", "score", "ticket"}
_JSON_STRING_VALUE = re.compile(rb'(": )"[^"]*"')

_pos = st.integers(min_value=0, max_value=10**6)
MUTATION = st.one_of(
    st.tuples(st.just("stray_quote"), _pos),
    st.tuples(st.just("delete_line"), _pos),
    st.tuples(st.just("duplicate_line"), _pos),
    st.tuples(st.just("swap_lines"), _pos, _pos),
    st.tuples(st.just("flip_byte"), _pos, st.integers(0, 255)),
    st.tuples(st.just("truncate"), _pos),
    st.tuples(st.just("invalid_utf8"), _pos, st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])),
    st.tuples(st.just("deep_nesting"), _pos, st.sampled_from([50, 3000, 20000])),
    st.tuples(st.just("wrong_type"), _pos, st.sampled_from([b"42", b"null", b"true", b"[]", b'{"a": 1}', b"-1e999"])),
    st.tuples(st.just("huge_field"), _pos, st.sampled_from([30_000, 300_000])),
    st.tuples(st.just("nul"), _pos),
    st.tuples(st.just("insert_text"), _pos, st.sampled_from(
        [b'"', b'""', b",", b"\n", b"\r", b"\r\n", b"-->", b"<v X>", b"\n\n", b"99:99:99.999 --> 00:00:01.000\n"])),
    st.just(("empty",)),
)


def mutate(data: bytes, op: tuple) -> bytes:
    name, args = op[0], op[1:]
    lines = data.splitlines(keepends=True)
    pos = args[0] % (len(data) + 1) if args else 0
    if name == "empty":
        return b""
    if name == "stray_quote":
        return data[:pos] + b'"' + data[pos:]
    if name in ("delete_line", "duplicate_line", "swap_lines") and lines:
        i = args[0] % len(lines)
        if name == "delete_line":
            del lines[i]
        elif name == "duplicate_line":
            lines.insert(i, lines[i])
        else:
            j = args[1] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        return b"".join(lines)
    if name == "flip_byte" and data:
        i = args[0] % len(data)
        return data[:i] + bytes([args[1]]) + data[i + 1:]
    if name == "truncate":
        return data[:pos]
    if name == "invalid_utf8":
        return data[:pos] + args[1] + data[pos:]
    if name == "deep_nesting":
        depth = args[1]
        return data[:pos] + b"[" * depth + b"]" * depth + data[pos:]
    if name == "wrong_type":
        hits = list(_JSON_STRING_VALUE.finditer(data))
        if hits:
            m = hits[args[0] % len(hits)]
            return data[:m.start()] + m.group(1) + args[1] + data[m.end():]
        return data[:pos] + args[1] + data[pos:]
    if name == "huge_field":
        return data[:pos] + b"x" * args[1] + data[pos:]
    if name == "nul":
        return data[:pos] + b"\x00" + data[pos:]
    if name == "insert_text":
        return data[:pos] + args[1] + data[pos:]
    return data


def check(path: Path, source: str, fmt: str | None) -> None:
    items = list(read_items(path, SETTINGS.source(source), 20000))  # must not raise
    data = path.read_bytes()
    n_lines = len(data.splitlines()) if fmt != "jsonl" else data.count(b"\n") + (not data.endswith(b"\n"))
    n_records = max(n_lines, len(items))  # JSON arrays number records by element
    for it in items:
        assert it.kind in KINDS or it.kind == "bad", it.kind
        assert 1 <= it.line <= n_records, (it.line, n_records)
        assert it.span >= 1
        if it.kind == "bad":
            assert it.error is not None and it.error.reason and len(it.error.reason) <= 200
        else:
            assert it.error is None
            if it.kind == "feedback":
                assert it.data["source_id"] and it.data["text"]
    if fmt is not None:
        acc = line_accounting(path, items, fmt)
        assert acc.balanced, acc
        if fmt == "csv":
            assert acc.header <= 2  # the fixtures' headers are one line; a mutation may quote across two


@pytest.mark.parametrize("name, source, fmt", CASES, ids=[c[0] for c in CASES])
def test_valid_fixture_reads_clean(name, source, fmt):
    items = list(read_items(VALID / name, SETTINGS.source(source), 20000))
    assert items and all(it.kind != "bad" for it in items)
    check(VALID / name, source, fmt)


@pytest.mark.parametrize("name, source, fmt", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=80, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_files_never_crash_and_lines_balance(tmp_path, name, source, fmt, ops):
    data = (VALID / name).read_bytes()
    for op in ops:
        data = mutate(data, op)
    path = tmp_path / name
    path.write_bytes(data)
    check(path, source, fmt)

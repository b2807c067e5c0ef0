"""WebVTT call transcripts: one file is one call, speakers from ``<v Name>`` voice tags.

``NOTE key=value`` lines carry customer_id, interaction_id, started_at, call_id, ...

A broken cue never takes the call with it, and is never dropped silently: it becomes a bad item at
its own line (reason and its text), with ``parent_line=1`` when the call record was still produced
from the good cues. Broken means: a timing line that does not parse, minutes or seconds of 60 or
more, an end before the start, text with no timing line, or (in a file that uses voice tags) a cue
with no voice tag. A cue without a voice tag is quarantined rather than guessed at, because the
role heuristics need a speaker label and attributing it to "the previous speaker" would silently
put agent speech into customer text. Files with no voice tags at all may use the common
``Name: text`` caption style instead (Zoom); their cues without such a prefix are quarantined.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from configs import SourceConfig
from pipeline.errors import RecordError
from pipeline.ingest.base import Item, bad, excerpt, guard
from pipeline.ingest.calls import call_record

_TS = r"(?:(\d+):)?(\d+):(\d+)[.,](\d+)"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>(.*?)(?=<v[\s.]|$)", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_NAMED = re.compile(r"^\s*([^:<>\n]{1,40}?):\s+(\S.*)$", re.DOTALL)
_NEWLINE = re.compile(r"\r\n|\r|\n")


def _secs(h: str | None, m: str, s: str, frac: str) -> float:
    if int(m) >= 60 or int(s) >= 60:
        raise ValueError("minutes and seconds must be below 60")
    if len(m) != 2 or len(s) != 2 or len(frac) != 3 or (h is not None and len(h) < 2):
        raise ValueError("expected hh:mm:ss.ttt")
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac) / 1000


def parse_timing(line: str) -> tuple[float, float]:
    """(start, end) seconds of a cue timing line; ValueError says what is wrong with it."""
    m = _TIMING.match(line)
    if m is None:
        raise ValueError("unparseable cue timing")
    g = m.groups()
    start, end = _secs(*g[:4]), _secs(*g[4:])
    if end < start:
        raise ValueError("cue ends before it starts")
    return start, end


def _blocks(lines: list[str]) -> Iterator[list[tuple[int, str]]]:
    block: list[tuple[int, str]] = []
    for n, line in enumerate(lines, start=1):
        if line.strip():
            block.append((n, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _speech(payload: str) -> list[tuple[str | None, str]]:
    """(speaker or None, text) parts of a cue payload, split at voice tags."""
    voices = [(v.group(1).strip(), v.group(2)) for v in _VOICE.finditer(payload)]
    parts = voices or [(None, payload)]
    out = []
    for spk, txt in parts:
        txt = " ".join(html.unescape(_TAG.sub("", txt)).split())
        if txt:
            out.append((spk, txt))
    return out


def read_vtt(path: Path, source: SourceConfig, max_chars: int) -> Iterator[Item]:
    data = path.read_bytes()
    if not data.strip():
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield bad(1, RecordError(f"invalid UTF-8 at byte {exc.start}", None), "")
        return
    lines = _NEWLINE.split(text)
    if not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        yield bad(1, RecordError("not a WebVTT file (first line must be WEBVTT)", None), lines[0][:200])
        return
    meta: dict[str, Any] = {}
    cues: list[tuple[int, float, float, list[tuple[str | None, str]]]] = []
    broken: list[Item] = []
    blocks = _blocks(lines)
    next(blocks, None)  # the WEBVTT header block
    for block in blocks:
        first = block[0][1]
        if first.startswith("NOTE") and (len(first) == 4 or first[4].isspace()):
            for _, ln in block:
                for kv in ln.removeprefix("NOTE").split():
                    if "=" in kv:
                        k, v = kv.split("=", 1)
                        meta[k.strip()] = v.strip()
            continue
        if first.strip() in ("STYLE", "REGION"):
            continue
        at = 0 if "-->" in first else 1 if len(block) > 1 and "-->" in block[1][1] else None
        if at is None:
            body = " ".join(ln.strip() for _, ln in block)
            broken.append(bad(block[0][0], RecordError("cue text without a timing line", "cue"), body))
            continue
        n, timing = block[at]
        payload = "\n".join(ln for _, ln in block[at + 1:])
        try:
            start, end = parse_timing(timing)
        except ValueError as exc:
            broken.append(bad(n, RecordError(f"{exc}: {excerpt(timing.strip(), 40)}", "cue timing"), payload))
            continue
        speech = _speech(payload)
        if speech:
            cues.append((n, start, end, speech))
    tagged = any(spk is not None for _, _, _, sp in cues for spk, _ in sp)
    segs = []
    for n, start, end, speech in cues:
        parts = speech
        if not tagged:
            named = [_NAMED.match(txt) for _, txt in speech]
            parts = [(m.group(1).strip(), m.group(2)) if m else (None, txt) for m, (_, txt) in zip(named, speech)]
        if any(spk is None for spk, _ in parts):
            why = "cue without a <v Speaker> voice tag" if tagged else "cue without a <v Speaker> voice tag or 'Name:' prefix"
            broken.append(bad(n, RecordError(why, "speaker"), " ".join(t for _, t in parts)))
            continue
        segs.extend({"speaker": spk, "text": txt, "start": start, "end": end, "line": n} for spk, txt in parts)
    if segs:
        def build() -> Item:
            data, utts = call_record(meta.get("call_id") or path.stem, segs, meta, source, max_chars)
            return Item(line=0, kind="feedback", data=data, utterances=utts)

        call = guard(1, path.name, build)
        yield call
        if call.kind != "bad":
            for b in broken:
                b.parent_line = 1
    yield from broken

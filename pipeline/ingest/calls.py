"""Call-centre transcripts: ASR-style JSON segments and WebVTT with voice tags.

Speaker labels become roles by the source's ``speakers`` mapping. Without one, the heuristic is:
the first speaker who uses an agent phrase ("thank you for calling", "how can I help", ...) is the
agent; if nobody does, the first speaker is the agent (calls open with the agent's greeting); every
other speaker is the customer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from configs import SourceConfig
from pipeline.errors import RecordError
from pipeline.ingest.base import Item, bad, iter_json_array, iter_jsonl, parse_number, parse_ts, text_or_none
from pipeline.ingest.chats import ROLE_WORDS

AGENT_PHRASES = re.compile(
    r"thank(s| you) for calling|how (can|may) i (help|assist)|my name is \w+.{0,20}(speaking|here)"
    r"|grazie per (aver|averci) chiamato|come posso aiutar|有什么可以帮|您好.{0,6}客服|很高兴为您服务"
    r"|چطور می.?توانم کمک|چه کمکی از دست|با تشکر از تماس",
    re.IGNORECASE,
)


def assign_roles(segments: list[dict[str, Any]], mapping: dict[str, str]) -> dict[str, str]:
    """Speaker label -> role, by mapping, then the agent-phrase heuristic, then speaking order."""
    labels = list(dict.fromkeys(str(s["speaker"]) for s in segments))
    roles: dict[str, str] = {}
    for lab in labels:
        if lab in mapping:
            roles[lab] = mapping[lab]
        elif lab.lower() in ROLE_WORDS:
            roles[lab] = ROLE_WORDS[lab.lower()]
    if any(r == "agent" for r in roles.values()):
        return {lab: roles.get(lab, "customer") for lab in labels}
    agent = next((str(s["speaker"]) for s in segments if AGENT_PHRASES.search(s["text"] or "")), None)
    agent = agent or (labels[0] if len(labels) > 1 else None)
    return {lab: roles.get(lab, "agent" if lab == agent else "customer") for lab in labels}


def call_record(call_id: str, segments: list[dict[str, Any]], meta: dict[str, Any],
                source: SourceConfig, max_chars: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    segs = [s for s in segments if text_or_none(s.get("text"))]
    if not segs:
        raise RecordError("transcript has no segments with text", "segments")
    roles = assign_roles(segs, source.speakers)
    utts = [{
        "turn": i, "role": roles[str(s["speaker"])], "speaker": str(s["speaker"]), "said_at": None,
        "start_s": s.get("start"), "end_s": s.get("end"), "text": text_or_none(s["text"]),
    } for i, s in enumerate(segs)]
    customer = [u["text"] for u in utts if u["role"] == "customer"]
    if not customer:
        raise RecordError("no customer speech found (check the speakers mapping)", "speaker")
    text = "\n".join(customer)
    if len(text) > max_chars:
        raise RecordError(f"customer text longer than {max_chars} characters", "segments")
    data = {
        "source_id": call_id, "text": text, "rating": None, "rating_scale": None,
        "customer_id": meta.get("customer_id"), "interaction_id": meta.get("interaction_id"),
        "occurred_at": parse_ts(meta.get("started_at"), "started_at"),
        "touchpoint": meta.get("touchpoint"), "language_hint": meta.get("language") or source.language,
    }
    return data, utts


def _segments(obj: dict[str, Any]) -> list[dict[str, Any]]:
    segs = obj.get("segments") or obj.get("utterances") or obj.get("results")
    if not isinstance(segs, list):
        raise RecordError("no list of segments", "segments")
    out = []
    for i, s in enumerate(segs):
        if not isinstance(s, dict):
            raise RecordError(f"segment {i} is not an object", f"segments[{i}]")
        speaker = s.get("speaker") or s.get("speaker_label") or s.get("channel")
        if speaker is None:
            raise RecordError(f"segment {i} has no speaker label", f"segments[{i}].speaker")
        out.append({
            "speaker": str(speaker), "text": s.get("text") or s.get("transcript"),
            "start": parse_number(s.get("start"), f"segments[{i}].start", 0, 1e7),
            "end": parse_number(s.get("end"), f"segments[{i}].end", 0, 1e7),
        })
    return out


def read_call_json(path: Path, source: SourceConfig, fmt: str, max_chars: int) -> Iterator[Item]:
    records = iter_jsonl(path) if fmt == "jsonl" else iter_json_array(path)
    for line, obj, raw, err in records:
        if err is None and not isinstance(obj, dict):
            err = RecordError("expected a call object", None)
        if err is not None:
            yield bad(line, err, raw)
            continue
        try:
            call_id = text_or_none(obj.get("call_id") or obj.get("id")) or path.stem
            meta = {k: text_or_none(obj.get(k)) for k in
                    ("customer_id", "interaction_id", "started_at", "touchpoint", "language")}
            data, utts = call_record(call_id, _segments(obj), meta, source, max_chars)
            yield Item(line=line, kind="feedback", data=data, utterances=utts)
        except RecordError as exc:
            yield bad(line, exc, raw or obj)


_CUE = re.compile(r"(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})\s+-->\s+(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})")
_VOICE = re.compile(r"<v(?:\.[\w.]+)?\s+([^>]+)>(.*?)(?:</v>|$)", re.DOTALL)


def _secs(h, m, s, ms) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def read_vtt(path: Path, source: SourceConfig, max_chars: int) -> Iterator[Item]:
    """One WebVTT file is one call. ``NOTE key=value`` lines carry customer_id, started_at, ..."""
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        yield bad(1, RecordError(f"invalid UTF-8 at byte {exc.start}", None), "")
        return
    if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        yield bad(1, RecordError("not a WebVTT file (first line must be WEBVTT)", None), lines[0] if lines else "")
        return
    meta: dict[str, Any] = {}
    segs: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for n, line in enumerate(lines, start=1):
        if line.startswith("NOTE"):
            for kv in line[4:].split():
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    meta[k.strip()] = v.strip()
            continue
        m = _CUE.search(line)
        if m:
            g = m.groups()
            cur = {"start": _secs(*g[:4]), "end": _secs(*g[4:]), "speaker": None, "text": "", "line": n}
            segs.append(cur)
        elif cur is not None and line.strip():
            v = _VOICE.search(line)
            if v:
                cur["speaker"], txt = v.group(1).strip(), v.group(2)
            else:
                txt = line
            cur["text"] = (cur["text"] + " " + re.sub(r"<[^>]+>", "", txt).strip()).strip()
        elif not line.strip():
            cur = None
    missing = next((s for s in segs if s["speaker"] is None), None)
    if missing is not None:
        yield bad(missing["line"], RecordError("cue without a <v Speaker> voice tag", "speaker"), missing["text"])
        return
    try:
        data, utts = call_record(meta.get("call_id") or path.stem, segs, meta, source, max_chars)
        yield Item(line=1, kind="feedback", data=data, utterances=utts)
    except RecordError as exc:
        yield bad(1, exc, path.name)

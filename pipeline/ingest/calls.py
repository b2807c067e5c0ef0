"""Call-centre transcripts from JSON (generic ASR segments or a vendor's shape, see ``vendors``).

WebVTT files are read by ``pipeline.ingest.vtt`` into the same call record.

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
from pipeline.ingest.base import Item, bad, derived_id, guard, optional_id, parse_ts, text_or_none
from pipeline.ingest.chats import ROLE_WORDS
from pipeline.ingest.lines import iter_json_doc, iter_jsonl
from pipeline.ingest.vendors import call_shape

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


META_KEYS = ("customer_id", "interaction_id", "started_at", "touchpoint", "language")


def _language(code: Any) -> str | None:
    """A vendor language code ("en-US", "en_us") as the base language hint ("en")."""
    s = text_or_none(code)
    return s.replace("_", "-").split("-")[0].lower() if s else None


def call_from_object(obj: dict[str, Any], source: SourceConfig, max_chars: int, fallback_id: str | None) -> Item:
    """One call record from a JSON object of any supported shape.

    The id is the object's ``call_id``/``id``, else the vendor's (contact id, job name, request id),
    else ``fallback_id`` (the file name, for a file holding one call), else a content key
    ``derived_id(customer, start time, every segment's text)`` marked ``id_derived``.
    """
    shape = call_shape(obj)
    meta = {k: text_or_none(obj.get(k)) for k in META_KEYS}
    vendor_meta = {k: v for k, v in shape.meta.items() if v is not None and v != ""}
    for k in ("started_at", "language"):
        if meta.get(k) is None and k in vendor_meta:
            meta[k] = vendor_meta[k]
    meta["language"] = _language(meta["language"]) if "language" in vendor_meta else meta["language"]
    call_id = optional_id(obj.get("call_id")) or optional_id(obj.get("id")) or optional_id(vendor_meta.get("call_id"))
    data, utts = call_record(call_id or fallback_id or "", shape.segments, meta, source, max_chars)
    if not (call_id or fallback_id):
        data["source_id"] = derived_id(data["customer_id"], data["occurred_at"], *(u["text"] for u in utts))
        data["id_derived"] = True
    if shape.vendor:
        data["vendor"] = shape.vendor
    return Item(line=0, kind="feedback", data=data, utterances=utts)


def read_call_json(path: Path, source: SourceConfig, fmt: str, max_chars: int) -> Iterator[Item]:
    records = iter_jsonl(path) if fmt == "jsonl" else iter_json_doc(path)
    for rec in records:
        if rec.error is None and not isinstance(rec.value, dict):
            rec.error = RecordError("expected a call object", None)
        if rec.error is not None:
            yield bad(rec.line, rec.error, rec.raw, rec.span)
            continue
        obj, fallback = rec.value, (path.stem if rec.only else None)
        yield guard(rec.line, rec.raw or obj, lambda: call_from_object(obj, source, max_chars, fallback), rec.span)

"""Call-analytics JSON shapes of common vendors, mapped to one segment list plus call metadata.

Each adapter returns ``Shape(vendor, segments, meta)``; segments are ``{speaker, text, start, end}``
with times in seconds. Supported (detected in this order):

- AWS Contact Lens / Transcribe Call Analytics: ``Transcript: [{ParticipantId|ParticipantRole,
  Content, BeginOffsetMillis, EndOffsetMillis}]``; id from ``CustomerMetadata.ContactId`` or ``JobName``.
- AWS Transcribe: ``results.audio_segments`` with ``speaker_label``; else ``results.items`` words
  with ``speaker_label``, or mapped through ``results.speaker_labels.segments``, or per channel
  (``results.channel_labels``); id from ``jobName``.
- Deepgram: ``results.utterances: [{speaker: 0, transcript, start, end}]`` (seconds), else
  ``results.channels[0].alternatives[0].words`` with ``speaker``; id from ``metadata.request_id``.
- AssemblyAI: ``utterances: [{speaker: "A", text, start, end}]`` in milliseconds, recognised by
  its top-level ``audio_url``/``audio_duration`` or by utterances that carry ``words``.
- Google CCAI: ``entries: [{role, text, start_timestamp_usec}]`` or
  ``transcript.transcriptSegments: [{text, segmentParticipant.role, words}]``.
- Generic: ``segments``/``utterances``/``results`` lists of ``{speaker, text|transcript, start, end}``.

A transcript without speaker labels is an error (enable diarization or channel identification):
without them agent and customer speech cannot be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipeline.errors import RecordError
from pipeline.ingest.base import as_text, first_of, parse_number, text_or_none


@dataclass
class Shape:
    vendor: str | None
    segments: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def _d(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None where any step is missing or not an object."""
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _seg(i: int, speaker: Any, text: Any, start: Any, end: Any, scale: float = 1.0) -> dict[str, Any]:
    where = f"segments[{i}]"
    if speaker is None or speaker == "":
        raise RecordError(f"segment {i} has no speaker label", f"{where}.speaker")
    if isinstance(speaker, (dict, list)):
        raise RecordError(f"segment {i} speaker label is a {type(speaker).__name__}", f"{where}.speaker")
    s = parse_number(start, f"{where}.start", 0, 1e7 * scale)
    e = parse_number(end, f"{where}.end", 0, 1e7 * scale)
    return {"speaker": str(speaker), "text": as_text(text, f"{where}.text"),
            "start": None if s is None else s / scale, "end": None if e is None else e / scale}


def _objects(items: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise RecordError(f"{what} is not a list", what)
    for i, x in enumerate(items):
        if not isinstance(x, dict):
            raise RecordError(f"{what}[{i}] is not an object", f"{what}[{i}]")
    return items


def _group_words(words: list[tuple[Any, str, Any, Any, bool]]) -> list[dict[str, Any]]:
    """Consecutive (speaker, word, start, end, is_punctuation) tokens of one speaker -> one segment."""
    out: list[dict[str, Any]] = []
    for spk, word, start, end, punct in words:
        if punct and out:
            out[-1]["text"] += word
            continue
        if spk is None:
            spk = out[-1]["speaker"] if out else None
        if out and out[-1]["speaker"] == spk:
            out[-1]["text"] += " " + word
            out[-1]["end"] = end if end is not None else out[-1]["end"]
        else:
            out.append({"speaker": spk, "text": word, "start": start, "end": end})
    return [_seg(i, s["speaker"], s["text"], s["start"], s["end"]) for i, s in enumerate(out)]


def _aws_call_analytics(obj: dict[str, Any]) -> Shape:
    turns = _objects(obj["Transcript"], "Transcript")
    segs = [_seg(i, first_of(t, "ParticipantId", "ParticipantRole"), t.get("Content"),
                 t.get("BeginOffsetMillis"), t.get("EndOffsetMillis"), 1000.0) for i, t in enumerate(turns)]
    vendor = "aws_contact_lens" if "CustomerMetadata" in obj or "Channel" in obj else "aws_call_analytics"
    meta = {"call_id": first_of(_d(obj, "CustomerMetadata") or {}, "ContactId") or obj.get("JobName"),
            "language": obj.get("LanguageCode")}
    return Shape(vendor, segs, meta)


def _transcribe_item_words(items: list[dict[str, Any]], speaker_of) -> list[tuple]:
    words = []
    for it in items:
        alt = (it.get("alternatives") or [{}])[0]
        content = text_or_none(alt.get("content") if isinstance(alt, dict) else None)
        if content is None:
            continue
        punct = it.get("type") == "punctuation"
        words.append((speaker_of(it), content, it.get("start_time"), it.get("end_time"), punct))
    return words


def _aws_transcribe(obj: dict[str, Any]) -> Shape:
    res = obj["results"]
    meta = {"call_id": obj.get("jobName"), "language": res.get("language_code")}
    audio = res.get("audio_segments")
    if isinstance(audio, list) and audio and all(isinstance(a, dict) and "speaker_label" in a for a in audio):
        segs = [_seg(i, a.get("speaker_label"), a.get("transcript"), a.get("start_time"), a.get("end_time"))
                for i, a in enumerate(audio)]
        return Shape("aws_transcribe", segs, meta)
    items = _objects(res.get("items") or [], "results.items")
    if any("speaker_label" in it for it in items):
        words = _transcribe_item_words(items, lambda it: it.get("speaker_label"))
        return Shape("aws_transcribe", _group_words(words), meta)
    spk_segs = _d(res, "speaker_labels", "segments")
    if isinstance(spk_segs, list):
        by_start = {w.get("start_time"): s.get("speaker_label")
                    for s in _objects(spk_segs, "results.speaker_labels.segments")
                    for w in _objects(s.get("items") or [], "speaker_labels.segments.items")}
        words = _transcribe_item_words(items, lambda it: by_start.get(it.get("start_time")))
        return Shape("aws_transcribe", _group_words(words), meta)
    channels = _d(res, "channel_labels", "channels")
    if isinstance(channels, list):
        per = [(float(it.get("start_time") or 0), c.get("channel_label"), it)
               for c in _objects(channels, "results.channel_labels.channels")
               for it in _objects(c.get("items") or [], "channel_labels.channels.items")]
        per.sort(key=lambda x: x[0])
        words = [w for _, lab, it in per for w in _transcribe_item_words([it], lambda _it, lab=lab: lab)]
        return Shape("aws_transcribe", _group_words(words), meta)
    raise RecordError("AWS Transcribe output without speaker labels (enable speaker or channel identification)",
                      "results.speaker_labels")


def _deepgram(obj: dict[str, Any]) -> Shape:
    res = obj["results"]
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    meta = {"call_id": md.get("request_id"), "started_at": md.get("created")}
    utts = res.get("utterances")
    if isinstance(utts, list):
        segs = [_seg(i, first_of(u, "speaker", "channel"), u.get("transcript"), u.get("start"), u.get("end"))
                for i, u in enumerate(_objects(utts, "results.utterances"))]
        return Shape("deepgram", segs, meta)
    words = _d(res, "channels")
    alt = words[0].get("alternatives") if isinstance(words, list) and words and isinstance(words[0], dict) else None
    words = alt[0].get("words") if isinstance(alt, list) and alt and isinstance(alt[0], dict) else None
    if isinstance(words, list) and words and all(isinstance(w, dict) and "speaker" in w for w in words):
        toks = [(w.get("speaker"), str(first_of(w, "punctuated_word", "word") or ""), w.get("start"), w.get("end"), False)
                for w in words]
        return Shape("deepgram", _group_words(toks), meta)
    raise RecordError("Deepgram output without speaker labels (request diarize=true&utterances=true)",
                      "results.utterances")


def _assemblyai(obj: dict[str, Any]) -> Shape:
    segs = [_seg(i, u.get("speaker"), u.get("text"), u.get("start"), u.get("end"), 1000.0)
            for i, u in enumerate(_objects(obj["utterances"], "utterances"))]
    return Shape("assemblyai", segs, {"call_id": obj.get("id"), "language": obj.get("language_code")})


def _ccai_entries(obj: dict[str, Any]) -> Shape:
    entries = _objects(obj["entries"], "entries")
    t0 = next((e.get("start_timestamp_usec") for e in entries
               if isinstance(e.get("start_timestamp_usec"), (int, float))), None)
    segs = []
    for i, e in enumerate(entries):
        ts = e.get("start_timestamp_usec")
        start = (ts - t0) / 1e6 if isinstance(ts, (int, float)) and t0 is not None else None
        segs.append(_seg(i, first_of(e, "role", "user_id"), e.get("text"), start, None))
    meta = {}
    if t0 is not None:
        meta["started_at"] = datetime.fromtimestamp(t0 / 1e6, tz=timezone.utc)
    return Shape("google_ccai", segs, meta)


def _offset(v: Any) -> Any:
    return v[:-1] if isinstance(v, str) and v.endswith("s") else v


def _ccai_insights(obj: dict[str, Any]) -> Shape:
    parts = _objects(_d(obj, "transcript", "transcriptSegments"), "transcript.transcriptSegments")
    segs = []
    for i, p in enumerate(parts):
        words = p.get("words") if isinstance(p.get("words"), list) else []
        w0 = words[0] if words and isinstance(words[0], dict) else {}
        w1 = words[-1] if words and isinstance(words[-1], dict) else {}
        role = _d(p, "segmentParticipant", "role") or p.get("channelTag")
        segs.append(_seg(i, role, p.get("text"), _offset(w0.get("startOffset")), _offset(w1.get("endOffset"))))
    name = obj.get("name")
    meta = {"call_id": name.rsplit("/", 1)[-1] if isinstance(name, str) else None,
            "started_at": obj.get("startTime"), "language": obj.get("languageCode")}
    return Shape("google_ccai", segs, meta)


def _generic(obj: dict[str, Any]) -> Shape:
    segs = first_of(obj, "segments", "utterances", "results")
    if not isinstance(segs, list):
        raise RecordError("no list of segments (looked for segments, utterances, results, Transcript, "
                          "results.utterances, results.items, entries, transcript.transcriptSegments)", "segments")
    out = []
    for i, s in enumerate(segs):
        if not isinstance(s, dict):
            raise RecordError(f"segment {i} is not an object", f"segments[{i}]")
        out.append(_seg(i, first_of(s, "speaker", "speaker_label", "channel"), first_of(s, "text", "transcript"),
                        s.get("start"), s.get("end")))
    return Shape(None, out)


def call_shape(obj: dict[str, Any]) -> Shape:
    """Segments and metadata of one call object, whichever supported vendor shape it has."""
    if isinstance(obj.get("Transcript"), list):
        return _aws_call_analytics(obj)
    res = obj.get("results")
    if isinstance(res, dict):
        if "utterances" in res or "channels" in res:
            return _deepgram(obj)
        return _aws_transcribe(obj)
    utts = obj.get("utterances")
    if isinstance(utts, list) and ("audio_url" in obj or "audio_duration" in obj
                                   or any(isinstance(u, dict) and "words" in u for u in utts)):
        return _assemblyai(obj)
    if isinstance(obj.get("entries"), list):
        return _ccai_entries(obj)
    if isinstance(_d(obj, "transcript", "transcriptSegments"), list):
        return _ccai_insights(obj)
    return _generic(obj)

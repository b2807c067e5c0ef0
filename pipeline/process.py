"""Process one input file, batch by batch, into staged Parquet parts (nothing is published here).

Per batch: parse -> quarantine bad records -> drop exact duplicates -> normalise -> redact PII ->
detect language -> map touchpoint -> segment -> score sentences -> roll up -> write parts. Memory
is bounded by the batch size; the returned ``FileResult`` is a small manifest (counts, timings,
part paths) with no text in it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from configs import Settings, SourceConfig
from pipeline.enrich import roll_up, score_sentences
from pipeline.errors import ContractError
from pipeline.ingest import Item, read_batches
from pipeline.langid import detect_languages
from pipeline.normalize import content_key, normalize_persian, normalize_text
from pipeline.records import (
    FEEDBACK_COLUMNS, QUARANTINE_COLUMNS, SCORE_COLUMNS, TICKET_COLUMNS, UTTERANCE_COLUMNS, feedback_id,
)
from pipeline.redact import redact_all, redact_text
from pipeline.segment import split_sentences
from pipeline.touchpoints import assign_touchpoint


@dataclass
class FileResult:
    input_file: str
    sha256: str
    source: str
    channel: str
    rows_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    duplicates: int = 0
    feedback: int = 0
    scores: int = 0
    tickets: int = 0
    sentences: int = 0
    pii_redacted: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    parts: dict[str, list[str]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunState:
    """Keys seen so far in this run (exact duplicates across files and batches)."""

    feedback: set[bytes] = field(default_factory=set)
    scores: dict[str, bytes] = field(default_factory=dict)
    tickets: dict[str, bytes] = field(default_factory=dict)


class _Timer:
    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds

    def __call__(self, stage: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[stage] = timer.seconds.get(stage, 0.0) + time.perf_counter() - self.t

        return _Ctx()


def _quarantine_rows(items: list[Item], rel: str, source: SourceConfig, settings: Settings) -> list[dict]:
    rows = []
    for it in items:
        rows.append({
            "input_file": rel, "input_line": it.line, "channel": source.channel, "source": source.name,
            "field": it.error.field, "reason": redact_text(it.error.reason, settings.redaction).text,
            "raw": redact_text(it.raw, settings.redaction).text[:2000],
        })
    return rows


def _keep(row: dict, key: str, seen: dict[str, bytes], what: str, rel: str) -> bool:
    """True for a first sighting; False for an exact duplicate; a changed duplicate is a contract error."""
    ck = content_key(*(row[c] for c in sorted(row) if c not in ("input_file", "input_line")))
    prev = seen.get(row[key])
    if prev is None:
        seen[row[key]] = ck
        return True
    if prev == ck:
        return False
    raise ContractError(f"{rel}:{row['input_line']}: {what} key {row[key]!r} appears twice with different "
                        f"values; fix the export or give each record its own id")


def process_batch(items: list[Item], rel: str, source: SourceConfig, settings: Settings, models: dict[str, Any],
                  state: RunState, timer: _Timer, result: FileResult) -> dict[str, pd.DataFrame]:
    """Turn one batch of parsed items into staged DataFrames (pure apart from ``state`` and ``result``)."""
    good = [it for it in items if it.kind != "bad"]
    bad = [it for it in items if it.kind == "bad"]
    result.rows_in += len(items)
    result.quarantined += len(bad)
    for it in bad:
        reason = it.error.reason.split(":")[0][:60]
        result.reasons[reason] = result.reasons.get(reason, 0) + 1
    out: dict[str, pd.DataFrame] = {}
    if bad:
        out["quarantine"] = pd.DataFrame(_quarantine_rows(bad, rel, source, settings), columns=QUARANTINE_COLUMNS)

    # Each good item is one input record; it is a duplicate when everything it carries was seen.
    score_rows, ticket_rows, fb_items, dups = [], [], [], 0
    with timer("normalize"):
        for it in good:
            fresh = False
            for sc in it.scores:
                row = dict(sc, source=source.name, input_file=rel, input_line=it.line)
                if _keep(row, "score_id", state.scores, "survey", rel):
                    score_rows.append(row)
                    fresh = True
            if it.kind == "ticket":
                row = dict(it.data, source=source.name, input_file=rel, input_line=it.line)
                if _keep(row, "ticket_id", state.tickets, "ticket", rel):
                    ticket_rows.append(row)
                    fresh = True
            elif it.kind == "feedback":
                d = it.data
                d["text"] = normalize_text(d["text"])
                fid = feedback_id(source.channel, source.name, d["source_id"])
                keys = (content_key("id", fid),
                        content_key(source.channel, source.name, d.get("customer_id"), d.get("occurred_at"), d["text"]))
                if keys[0] not in state.feedback and keys[1] not in state.feedback:
                    state.feedback.update(keys)
                    d["feedback_id"] = fid
                    fb_items.append(it)
                    fresh = True
            dups += not fresh
    result.duplicates += dups
    result.rows_out += len(good) - dups
    if score_rows:
        out["scores"] = pd.DataFrame(score_rows, columns=SCORE_COLUMNS)
    if ticket_rows:
        out["tickets"] = pd.DataFrame(ticket_rows, columns=TICKET_COLUMNS)
    result.scores += len(score_rows)
    result.tickets += len(ticket_rows)
    if not fb_items:
        return out

    with timer("redact"):
        texts, counts = redact_all([it.data["text"] for it in fb_items], settings.redaction)
        utt_rows = []
        for it, t, c in zip(fb_items, texts, counts):
            it.data["text"], it.data["pii_redacted"] = t, c
            utts = [dict(u) for u in it.utterances]
            red, uc = redact_all([normalize_text(u["text"]) for u in utts], settings.redaction)
            for u, rt in zip(utts, red):
                u["text"], u["feedback_id"] = rt, it.data["feedback_id"]
                utt_rows.append(u)
            it.data["pii_redacted"] += sum(uc)
            it.data["n_utterances"] = len(utts) or None
        result.pii_redacted += sum(it.data["pii_redacted"] for it in fb_items)

    with timer("language"):
        langs, confs = detect_languages(texts, [it.data.get("language_hint") for it in fb_items],
                                        tuple(settings.languages.detect), settings.languages.min_confidence)

    rows = []
    for it, lang, conf in zip(fb_items, langs, confs):
        d = it.data
        text = normalize_persian(d["text"]) if lang == "fa" else d["text"]
        tp, stage = assign_touchpoint(source.channel, source.name, d.get("touchpoint"), source.touchpoint,
                                      text, settings.mapping)
        occurred = d.get("occurred_at")
        rows.append({
            "feedback_id": d["feedback_id"], "channel": source.channel, "source": source.name,
            "source_id": d["source_id"], "customer_id": d.get("customer_id"),
            "interaction_id": d.get("interaction_id"), "touchpoint": tp, "journey_stage": stage,
            "occurred_at": occurred, "event_date": occurred.date() if occurred else None,
            "language": lang, "language_confidence": conf, "text": text, "rating": d.get("rating"),
            "rating_scale": d.get("rating_scale"), "n_utterances": d.get("n_utterances"),
            "pii_redacted": d["pii_redacted"], "input_file": rel, "input_line": it.line,
        })
    feedback = pd.DataFrame(rows, columns=FEEDBACK_COLUMNS)

    with timer("segment"):
        sents = split_sentences(feedback["text"].tolist(), feedback["language"].tolist())
        srows = [{"feedback_id": fid, "idx": j, "language": lang, "text": s}
                 for fid, lang, ss in zip(feedback["feedback_id"], feedback["language"], sents)
                 for j, s in enumerate(ss)]
        sentences = pd.DataFrame(srows, columns=["feedback_id", "idx", "language", "text"])

    with timer("models"):
        sentences = score_sentences(sentences, models["sentiment"], models["topics"])
        rolled = roll_up(sentences)
    feedback = feedback.merge(rolled, on="feedback_id", how="left")
    m = settings.mapping
    unplaced = (feedback["touchpoint"] == m.default_touchpoint) & feedback["top_topic"].isin(list(m.topics))
    if unplaced.any():
        feedback.loc[unplaced, "touchpoint"] = feedback.loc[unplaced, "top_topic"].map(m.topics)
        feedback.loc[unplaced, "journey_stage"] = feedback.loc[unplaced, "touchpoint"].map(
            lambda t: m.stages.get(t, "other"))
    feedback["sentiment_model"] = models["sentiment"].meta_.tag
    feedback["topic_model"] = models["topics"].meta_.tag
    feedback["config_hash"] = settings.hash()
    out["feedback"] = feedback
    out["sentences"] = sentences
    if utt_rows:
        out["utterances"] = pd.DataFrame(utt_rows, columns=UTTERANCE_COLUMNS)
    result.feedback += len(feedback)
    result.sentences += len(sentences)
    return out


def process_file(path: Path, rel: str, sha256: str, source: SourceConfig, settings: Settings,
                 models: dict[str, Any], stage_dir: Path, state: RunState | None = None) -> FileResult:
    """Stream one file through the stages, writing Parquet parts under ``stage_dir/<table>/``."""
    state = state or RunState()
    result = FileResult(input_file=rel, sha256=sha256, source=source.name, channel=source.channel)
    timer = _Timer(result.seconds)
    t_read = time.perf_counter()
    n_batch = 0
    for batch in read_batches(path, source, settings.run.batch_size, settings.contract.max_text_chars):
        result.seconds["read"] = result.seconds.get("read", 0.0) + time.perf_counter() - t_read
        frames = process_batch(batch, rel, source, settings, models, state, timer, result)
        with timer("stage_write"):
            for table, df in frames.items():
                d = stage_dir / table
                d.mkdir(parents=True, exist_ok=True)
                p = d / f"{sha256[:16]}-{n_batch:05d}.parquet"
                df.to_parquet(p, index=False)
                result.parts.setdefault(table, []).append(str(p))
        n_batch += 1
        t_read = time.perf_counter()
    check_contract(result, settings)
    return result


def check_contract(result: FileResult, settings: Settings) -> None:
    """Fail the run when too large a share of a file's records broke the contract."""
    c = settings.contract
    if result.rows_in >= c.min_rows_for_fraction and result.quarantined / max(result.rows_in, 1) > c.max_bad_fraction:
        top = ", ".join(f"{r} ({n})" for r, n in Counter(result.reasons).most_common(3))
        raise ContractError(
            f"{result.input_file}: {result.quarantined} of {result.rows_in} records broke the {result.channel} "
            f"contract ({result.quarantined / result.rows_in:.0%} > {c.max_bad_fraction:.0%} allowed); "
            f"nothing was published. Most common: {top}. Fix the export or raise contract.max_bad_fraction."
        )

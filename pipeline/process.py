"""Process one input file, batch by batch, into staged Parquet parts (nothing is published here).

Per batch: split good from bad -> drop in-file exact duplicates -> build score and ticket rows ->
normalise, pseudonymise, redact -> detect language -> map touchpoint -> segment -> score sentences
-> roll up -> write parts. Each step is a small function that returns new objects and never
mutates its input. Memory is bounded by the batch size; the returned ``FileResult`` is a small
manifest (counts, timings, part paths) with no text in it.

Duplicates and conflicts *across* files and against the store are decided at publish
(pipeline/storage/store.py), by natural key and content hash, so a retried task starts from clean state
and loading A and B together gives the same store as loading A, then B.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from configs import Settings, SourceConfig
from models.base import CX_TASKS
from pipeline.cx import cx_frames
from pipeline.enrich import roll_up, score_sentences
from pipeline.errors import ContractError
from pipeline.identity import pseudonym_key as stored_pseudonym_key
from pipeline.identity import pseudonymize_ids, pseudonymize_speakers
from pipeline.ingest import Item, read_batches
from pipeline.langid import detect_languages
from pipeline.normalize import content_hash, normalize_persian, normalize_text
from pipeline.records import (
    FEEDBACK_COLUMNS, QUARANTINE_COLUMNS, SCORE_COLUMNS, TICKET_COLUMNS, UTTERANCE_COLUMNS, feedback_id,
)
from pipeline.pii import redact_all, redact_text
from pipeline.segment import split_sentences
from pipeline.touchpoints import assign_touchpoint

# Staging-only columns: the file's position in the run (later wins on a key conflict) and, on child
# rows, the parent record's location (so children follow their parent's fate at publish).
SEQ = "_seq"
STAGE_PARENT = ["input_file", "input_line"]


@dataclass
class FileResult:
    input_file: str
    sha256: str
    source: str
    channel: str
    seq: int = 0
    path: str = ""
    rows_in: int = 0
    rows_out: int = 0  # records staged; publish decides how many are really published
    quarantined: int = 0
    duplicates: int = 0  # exact duplicates inside this file
    fragments: int = 0  # bad parts of records that were still read (quarantined, not records)
    feedback: int = 0
    scores: int = 0
    tickets: int = 0
    sentences: int = 0
    pii_redacted: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    parts: dict[str, list[str]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FileContext:
    """What every stage of one file needs to know (read-only)."""

    rel: str
    sha256: str
    seq: int
    source: SourceConfig
    settings: Settings
    pseudonym_key: bytes | None = None
    config_hash: str = ""  # settings.hash(), computed once per file (it reads the taxonomy)


@dataclass
class BatchOutput:
    frames: dict[str, pd.DataFrame]
    rows_in: int = 0
    quarantined: int = 0
    duplicates: int = 0
    pii_redacted: int = 0
    fragments: int = 0
    reasons: Counter = field(default_factory=Counter)


class Timer:
    """Accumulates seconds per stage name."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t


# ---------------------------------------------------------------------------------------------
# Stages (pure: new objects out, inputs untouched)

def quarantine_frame(bad: list[Item], ctx: FileContext) -> pd.DataFrame:
    """Bad records with location, reason and the redacted raw record, keyed by content hash."""
    rows = []
    for it in bad:
        reason = redact_text(it.error.reason, ctx.settings.redaction).text
        raw = redact_text(it.raw, ctx.settings.redaction).text[:2000]
        rows.append({
            "input_file": ctx.rel, "input_line": it.line, "channel": ctx.source.channel, "source": ctx.source.name,
            "field": it.error.field, "reason": reason, "raw": raw,
            "record_hash": content_hash(ctx.source.name, it.raw, it.error.field, it.error.reason),
            "file_sha256": ctx.sha256,
        })
    return pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)


def reason_counts(bad: list[Item]) -> Counter:
    return Counter(it.error.reason.split(":")[0][:60] for it in bad)


def record_key(it: Item, source: SourceConfig) -> tuple:
    """The natural key of one input record (feedback id, or its score/ticket ids)."""
    if it.kind == "feedback":
        return ("feedback", feedback_id(source.channel, source.name, it.data["source_id"]))
    if it.kind == "ticket":
        return ("ticket", it.data["ticket_id"])
    return ("scores",) + tuple(sorted(s["score_id"] for s in it.scores))


def record_hash(it: Item) -> str:
    """Content hash of everything a record carries (not where it came from)."""
    parts: list[Any] = [it.kind]
    for d in (it.data, *it.scores):
        parts.extend(f"{k}={d[k]}" for k in sorted(d))
    for u in it.utterances:
        parts.extend(f"{k}={u[k]}" for k in sorted(u))
    return content_hash(*parts)


def drop_file_duplicates(good: list[Item], source: SourceConfig, seen: dict[tuple, str]) -> tuple[list[Item], int]:
    """Drop records identical to an earlier record of the same file (same key, same content).

    ``seen`` is this file's key -> content hash map, local to one processing attempt. A key seen
    with *different* content is kept: publish records the conflict and the later record wins.
    """
    kept, dups = [], 0
    for it in good:
        key, h = record_key(it, source), record_hash(it)
        if seen.get(key) == h:
            dups += 1
            continue
        seen[key] = h
        kept.append(it)
    return kept, dups


def _keyed_frame(records: list[tuple[int, dict[str, Any]]], columns: list[str], ctx: FileContext) -> pd.DataFrame:
    """Rows of a keyed table (scores, tickets): pseudonymised ids, location, content hash, file sequence."""
    rows = []
    for line, rec in records:
        row = pseudonymize_ids(rec, ctx.pseudonym_key, ctx.settings.redaction)
        row.update(source=ctx.source.name, input_file=ctx.rel, input_line=line)
        row["content_hash"] = content_hash(*(row.get(c) for c in columns if c not in STAGE_PARENT))
        rows.append(row)
    df = pd.DataFrame(rows, columns=columns + ["content_hash"])
    df[SEQ] = ctx.seq
    return df


def score_frame(items: list[Item], ctx: FileContext) -> pd.DataFrame:
    return _keyed_frame([(it.line, sc) for it in items for sc in it.scores], SCORE_COLUMNS, ctx)


def ticket_frame(items: list[Item], ctx: FileContext) -> pd.DataFrame:
    return _keyed_frame([(it.line, it.data) for it in items if it.kind == "ticket"], TICKET_COLUMNS, ctx)


def feedback_frames(items: list[Item], ctx: FileContext) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Feedback rows and utterance rows: normalised, pseudonymised, PII-redacted (no language yet).

    Speaker labels (a caller's name, a chat sender's email) are replaced by keyed pseudonyms here:
    readers assigned roles from the raw labels, and distinct labels stay distinct.
    """
    policy = ctx.settings.redaction
    fb_rows, utt_rows, n_pii = [], [], 0
    for it in items:
        if it.kind != "feedback":
            continue
        d = pseudonymize_ids(dict(it.data), ctx.pseudonym_key, policy)
        fid = feedback_id(ctx.source.channel, ctx.source.name, d["source_id"])
        utts = pseudonymize_speakers(it.utterances, ctx.pseudonym_key)
        red, uc = redact_all([normalize_text(u["text"]) for u in utts], policy)
        for u, rt in zip(utts, red):
            u.update(text=rt, feedback_id=fid, input_file=ctx.rel, input_line=it.line)
            utt_rows.append(u)
        if utts:  # a conversation's text is its customer turns: redacted once, in the turns, and counted once
            text, count = [normalize_text("\n".join(u["text"] or "" for u in utts if u["role"] == "customer"))], [0]
        else:
            text, count = redact_all([normalize_text(d["text"])], policy)
        pii = count[0] + sum(uc)
        n_pii += pii
        occurred = d.get("occurred_at")
        fb_rows.append({
            "feedback_id": fid, "channel": ctx.source.channel, "source": ctx.source.name,
            "source_id": d["source_id"], "customer_id": d.get("customer_id"),
            "interaction_id": d.get("interaction_id"), "interaction_kind": d.get("interaction_kind"),
            "touchpoint": d.get("touchpoint"),
            "occurred_at": occurred, "event_date": occurred.date() if occurred else None,
            "language_hint": d.get("language_hint"), "text": text[0], "rating": d.get("rating"),
            "rating_scale": d.get("rating_scale"), "n_utterances": len(utts) or None, "pii_redacted": pii,
            "input_file": ctx.rel, "input_line": it.line, "content_hash": record_hash(it),
        })
    feedback = pd.DataFrame(fb_rows, columns=[*FEEDBACK_COLUMNS, "language_hint", "content_hash"])
    utterances = pd.DataFrame(utt_rows, columns=UTTERANCE_COLUMNS + STAGE_PARENT)
    return feedback, utterances, n_pii


def with_language(feedback: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Detected language and confidence per row; Persian text gets Persian letter forms."""
    out = feedback.copy()
    langs, confs = detect_languages(out["text"].tolist(), out["language_hint"].tolist(),
                                    tuple(settings.languages.detect), settings.languages.min_confidence)
    out["language"], out["language_confidence"] = langs, confs
    out["text"] = [normalize_persian(t) if lang == "fa" else t for t, lang in zip(out["text"], langs)]
    return out.drop(columns=["language_hint"])


def with_touchpoint(feedback: pd.DataFrame, source: SourceConfig, settings: Settings) -> pd.DataFrame:
    """Touchpoint by record field, source, rules; rows no rule placed fall back to their top topic.

    Needs ``top_topic`` (after scoring), so the touchpoint is decided once, here.
    """
    out = feedback.copy()
    m = settings.mapping
    placed = [assign_touchpoint(source.channel, source.name, tp, source.touchpoint, text, m)
              for tp, text in zip(out["touchpoint"], out["text"])]
    tps = [tp for tp, _ in placed]
    tps = [m.topics.get(top, tp) if tp == m.default_touchpoint else tp for tp, top in zip(tps, out["top_topic"])]
    out["touchpoint"] = tps
    out["journey_stage"] = [m.stages.get(tp, "other") for tp in tps]
    return out


def with_cx_signals(feedback: pd.DataFrame, utterances: pd.DataFrame, sentences: pd.DataFrame,
                    models: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Emotion, effort and intent per feedback (and per customer turn), with the models that made them."""
    signals, turns = cx_frames(feedback, utterances, models, sentences)
    fb = feedback.merge(signals, on="feedback_id", how="left")
    fb["cx_models"] = ",".join(models[t].meta_.tag for t in CX_TASKS)
    if len(utterances):
        utterances = utterances.merge(turns, on=["feedback_id", "turn"], how="left")
    return fb, utterances


def sentence_frame(feedback: pd.DataFrame) -> pd.DataFrame:
    sents = split_sentences(feedback["text"].tolist(), feedback["language"].tolist())
    rows = [{"feedback_id": fid, "idx": j, "language": lang, "text": s, "input_file": f, "input_line": ln}
            for fid, lang, ss, f, ln in zip(feedback["feedback_id"], feedback["language"], sents,
                                            feedback["input_file"], feedback["input_line"])
            for j, s in enumerate(ss)]
    return pd.DataFrame(rows, columns=["feedback_id", "idx", "language", "text", *STAGE_PARENT])


# ---------------------------------------------------------------------------------------------

def process_batch(items: list[Item], ctx: FileContext, models: dict[str, Any], seen: dict[tuple, str],
                  timer: Timer) -> BatchOutput:
    """One batch of parsed items -> staged DataFrames and counts. ``seen`` is the file's dedupe state."""
    good = [it for it in items if it.kind != "bad"]
    bad = [it for it in items if it.kind == "bad"]
    # A bad *part* of a record that was still read (a broken WebVTT cue of a call) is quarantined with
    # its own line, but it is not a record: it stays out of the record counts and the contract.
    whole = [it for it in bad if it.parent_line is None]
    out = BatchOutput(frames={}, rows_in=len(items) - (len(bad) - len(whole)), quarantined=len(whole),
                      reasons=reason_counts(whole), fragments=len(bad) - len(whole))
    if bad:
        out.frames["quarantine"] = quarantine_frame(bad, ctx)
    kept, out.duplicates = drop_file_duplicates(good, ctx.source, seen)
    scores, tickets = score_frame(kept, ctx), ticket_frame(kept, ctx)
    if len(scores):
        out.frames["scores"] = scores
    if len(tickets):
        out.frames["tickets"] = tickets
    with timer("redact"):
        feedback, utterances, out.pii_redacted = feedback_frames(kept, ctx)
    if feedback.empty:
        return out
    # Two versions of one record (same key, new content) may share a batch: until staging, rows are
    # joined on a per-record id so their sentences and signals never mix.
    feedback, utterances = per_record_ids(feedback), per_record_ids(utterances)
    with timer("language"):
        feedback = with_language(feedback, ctx.settings)
    with timer("segment"):
        sentences = sentence_frame(feedback)
    with timer("models"):
        sentences = score_sentences(sentences, models["sentiment"], models["topics"])
        feedback = feedback.merge(roll_up(sentences), on="feedback_id", how="left")
    if all(t in models for t in CX_TASKS):
        with timer("cx_signals"):
            feedback, utterances = with_cx_signals(feedback, utterances, sentences, models)
    feedback = with_touchpoint(feedback, ctx.source, ctx.settings)
    feedback["sentiment_model"] = models["sentiment"].meta_.tag
    feedback["topic_model"] = models["topics"].meta_.tag
    feedback["config_hash"] = ctx.config_hash or ctx.settings.hash()
    feedback[SEQ] = ctx.seq
    out.frames["feedback"] = natural_ids(feedback)
    out.frames["sentences"] = natural_ids(sentences)
    if len(utterances):
        out.frames["utterances"] = natural_ids(utterances)
    return out


def per_record_ids(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["feedback_id"] = out["feedback_id"] + "#" + out["input_line"].astype(str)
    return out


def natural_ids(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["feedback_id"] = out["feedback_id"].str.split("#").str[0]
    return out


def process_file(path: Path, rel: str, sha256: str, source: SourceConfig, settings: Settings,
                 models: dict[str, Any], stage_dir: Path, seq: int = 0,
                 pseudonym_key: bytes | None = None, on_batch: Callable[[int], None] | None = None) -> FileResult:
    """Stream one file through the stages, writing Parquet parts under ``stage_dir/<seq>-<sha>/<table>/``.

    ``pseudonym_key`` defaults to the data dir's (``pipeline.identity.pseudonym_key``).

    Each call starts from clean state (its own dedupe map and an emptied part folder), so a retried
    attempt never sees what a failed one left behind.
    """
    # No key passed (a direct call): the store's own key, so no id or speaker label is ever staged raw.
    key = pseudonym_key or stored_pseudonym_key(settings.data_dir)
    ctx = FileContext(rel=rel, sha256=sha256, seq=seq, source=source, settings=settings, pseudonym_key=key,
                      config_hash=settings.hash())
    result = FileResult(input_file=rel, sha256=sha256, source=source.name, channel=source.channel, seq=seq,
                        path=str(Path(path).resolve()))
    timer = Timer(result.seconds)
    file_dir = Path(stage_dir) / f"{seq:05d}-{sha256[:16]}"
    shutil.rmtree(file_dir, ignore_errors=True)
    seen: dict[tuple, str] = {}
    t_read = time.perf_counter()
    for n_batch, batch in enumerate(read_batches(path, source, settings.run.batch_size,
                                                 settings.contract.max_text_chars)):
        result.seconds["read"] = result.seconds.get("read", 0.0) + time.perf_counter() - t_read
        out = process_batch(batch, ctx, models, seen, timer)
        result.rows_in += out.rows_in
        result.quarantined += out.quarantined
        result.duplicates += out.duplicates
        result.fragments += out.fragments
        result.rows_out += out.rows_in - out.quarantined - out.duplicates
        result.pii_redacted += out.pii_redacted
        for reason, n in out.reasons.items():
            result.reasons[reason] = result.reasons.get(reason, 0) + n
        for table, n_attr in (("feedback", "feedback"), ("scores", "scores"), ("tickets", "tickets"),
                              ("sentences", "sentences")):
            if table in out.frames:
                setattr(result, n_attr, getattr(result, n_attr) + len(out.frames[table]))
        with timer("stage_write"):
            for table, df in out.frames.items():
                d = file_dir / table
                d.mkdir(parents=True, exist_ok=True)
                p = d / f"{n_batch:05d}.parquet"
                df.to_parquet(p, index=False)
                result.parts.setdefault(table, []).append(str(p))
        if on_batch is not None:
            on_batch(out.rows_in)
        t_read = time.perf_counter()
    if result.rows_in == 0:
        result.warnings.append(f"{rel}: the file holds no records (empty or header only)")
    check_contract(result, settings)
    return result


def check_contract(result: FileResult, settings: Settings) -> None:
    """Fail the run when a file's records all broke the contract, or too large a share of them did."""
    c = settings.contract
    if result.rows_in == 0:
        return
    share = result.quarantined / result.rows_in
    all_bad = result.quarantined == result.rows_in
    if all_bad or (result.rows_in >= c.min_rows_for_fraction and share > c.max_bad_fraction):
        top = ", ".join(f"{r} ({n})" for r, n in Counter(result.reasons).most_common(3))
        what = ("every record" if all_bad else f"{share:.0%} of the records (more than the "
                f"{c.max_bad_fraction:.0%} allowed)")
        msg = (f"{result.input_file}: {what} broke the {result.channel} contract ({result.quarantined} of "
               f"{result.rows_in}); nothing was published. Most common: {top}. Fix the export"
               + ("" if all_bad else " or raise contract.max_bad_fraction") + ".")
        raise ContractError(redact_text(msg, settings.redaction).text)

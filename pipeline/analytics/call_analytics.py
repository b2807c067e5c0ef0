"""Call analytics: how each call went for the customer, from the stored utterances and sentences.

One row per call (feedback rows with ``channel = 'call'``):

- **Trajectory.** Customer sentiment at the start and at the end: the mean sentence sentiment
  (p_positive - p_negative, -1..1) of the first and the last third of the customer's turns
  (``ceil(turns / 3)`` turns each; with one customer turn, the first and last third of its
  sentences). Sentences carry no turn number, but a call's feedback text is its customer turns
  joined by line breaks and the splitter never crosses a line break, so each sentence is found in
  the text in order and its line gives its turn. Where the lines do not match the turns (a turn
  whose text held a line break, text changed after redaction), a sentence's turn is taken from
  its relative position in the text instead. ``trajectory`` is improved / worsened when the end
  differs from the start by at least ``TRAJECTORY_DELTA``, else steady; ``unknown`` without enough
  scored customer speech, ``roles_suspect`` when the scored text turned out to be the agent's.
- **Talk share** of agent and customer: by speaking time when every turn has start and end times,
  else by characters (``talk_basis`` says which). Overlapping speech counts for both speakers.
- **Longest silence**: the longest gap in seconds during which nobody speaks, between the end of
  all speech so far and the next turn's start (needs start and end times).
- **Interruptions**: turns that start while a turn of another speaker still has more than
  ``MIN_OVERLAP_S`` seconds to go, counted for whoever starts talking (back-channel "uh-huh" over
  the other speaker counts too: that is what talk-over metrics measure).
- **Transfers**: agent turns with a transfer phrase (en, it, zh, fa), or a third speaker label.
- **Role sanity**: speaker labels in real exports are often wrong. Each speaker's turns are
  matched against agent cues ("thank you for calling", "let me check") and customer cues ("I want a
  refund", "my order"). When the labelled agent talks like a customer and a labelled customer
  talks like an agent, the roles are swapped for the talk, interruption and transfer metrics,
  ``roles_suspect`` is set and ``roles_reason`` quotes both. The stored sentences were scored on the
  labelled customer's text (the agent's, then), so such a call gets no trajectory. A labelled
  agent with customer cues and no agent cue is flagged without a swap (who the agent is cannot be
  told). An extra labelled-customer speaker who talks like an agent (the colleague a call was
  transferred to) counts as an agent.
"""

from __future__ import annotations

import math
import re
from typing import Any

from functools import lru_cache

import duckdb
import pandas as pd

from pipeline.storage.schema import SCHEMA
from pipeline.normalize import normalize_persian
from pipeline.storage.tables import replace_frame

DDL = {t: SCHEMA[t] for t in ('call_metrics',)}  # the store's schema owns them
COLUMNS = [c.strip().split()[0] for c in DDL["call_metrics"].split(",")]
TRAJECTORY_DELTA = 0.3  # sentiment points (-1..1 scale) between start and end for improved / worsened
MIN_OVERLAP_S = 0.3  # diarization jitter below this is not an interruption

_ZW = "[\u200c ]?"  # Persian verbs are written with or without a zero-width non-joiner
TRANSFER = re.compile(
    r"\b(transfer(ring)?|put(ting)?|pass(ing)?) you (through |over )?(to|with)\b|\btransfer you\b"
    r"|\bconnect(ing)? you (to|with)\b|\bput you through\b"
    r"|passo la chiamata|la (passo|trasferisco|metto in contatto)|trasferisco la (sua )?chiamata"
    r"|转接|为您转|帮您转"
    rf"|(وصل|منتقل)\S*\s*می{_ZW}کنم|انتقال\s*می{_ZW}دهم",
    re.IGNORECASE,
)
_AGENT_CUES = (
    r"let me (check|look|see|pull)|is there anything else|anything else i can"
    r"|thank(s| you) for (holding|waiting|your patience)|sorry for the (wait|inconvenience)"
    r"|posso aiutarla|c'è (altro|qualcos)|attenda (in linea|un attimo)|grazie per l'attesa"
    r"|请稍等|还有(什么|其他)|让我(查|看)|感谢您的耐心"
    r"|لطفا\S*\s*(صبر|منتظر)|چیز دیگری|اجازه بدهید بررسی"
)


@lru_cache(maxsize=1)
def agent_cues() -> re.Pattern:
    """Ingest's agent phrases plus phrases agents use later in a call (imported lazily: the store imports
    this module for its DDL and should not pull in every reader)."""
    from pipeline.ingest.calls import AGENT_PHRASES

    return re.compile(AGENT_PHRASES.pattern + "|" + _AGENT_CUES, re.IGNORECASE)
CUSTOMER_CUES = re.compile(
    r"\bi (want|need|would like|'d like)( to get)? (a |my )?(refund|money back)\b"
    r"|\bi want to (cancel|close|return|complain)\b|\bi('ve| have) been waiting\b|\bi('ve| have) (already )?called\b"
    r"|\bmy (order|parcel|package|refund|card|account|subscription|delivery)\b|\bwhere is my\b"
    r"|(voglio|vorrei) (il |un |essere )?rimbors|(voglio|vorrei) (disdire|annullare)"
    r"|il mio (ordine|pacco|rimborso|conto)"
    r"|ho già chiamato|sto aspettando"
    r"|我要退款|我想退款|退钱|我的(订单|包裹|退款|账户)|我(想|要)取消|我已经(等|打)"
    r"|پول\S*\s*(را\s*)?(پس|برگرد)|سفارش(م|\s*من)|بازپرداخت"
    rf"|می{_ZW}خواهم\s*(لغو|کنسل)",
    re.IGNORECASE,
)


def _cue(pattern: re.Pattern, texts: list[str]) -> tuple[int, str | None]:
    """Number of turns matching ``pattern`` and the first match (for the recorded reason)."""
    hits = [m.group(0) for t in texts if (m := pattern.search(normalize_persian(t or "")))]
    return len(hits), (hits[0] if hits else None)


def _quote(phrase: str | None) -> str:
    """A quoted phrase for a recorded reason; unlike repr, Persian zero-width non-joiners stay characters."""
    return f"'{phrase}'"


Turn = dict[str, Any]  # one utterance: role, speaker, start_s, end_s, text


def _txt(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _sec(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def effective_roles(utts: list[Turn]) -> tuple[dict[str, str], bool, str | None]:
    """Speaker -> role decided from what is said where the labels disagree; (roles, suspect, reason)."""
    labelled: dict[str, str] = {}
    texts: dict[str, list[str]] = {}
    for u in utts:
        labelled.setdefault(u["speaker"], u["role"])
        texts.setdefault(u["speaker"], []).append(_txt(u["text"]))
    agent_cue = {s: _cue(agent_cues(), t) for s, t in texts.items()}
    agent_cue = {s: (n + _cue(TRANSFER, texts[s])[0], q) for s, (n, q) in agent_cue.items()}
    cust_cue = {s: _cue(CUSTOMER_CUES, t) for s, t in texts.items()}
    roles = dict(labelled)
    agents = [s for s, r in labelled.items() if r == "agent"]
    customers = [s for s, r in labelled.items() if r == "customer"]

    def talks_like(s: str, kind: str) -> bool:
        a, c = agent_cue[s][0], cust_cue[s][0]
        return a > c if kind == "agent" else c > a

    for a in agents:
        if not talks_like(a, "customer"):
            continue
        swap = next((c for c in customers if talks_like(c, "agent")), None)
        if swap is not None:
            roles[a], roles[swap] = "customer", "agent"
            return roles, True, (f"labelled agent {a} says {_quote(cust_cue[a][1])}; labelled customer {swap} "
                                 f"says {_quote(agent_cue[swap][1])}: roles swapped")
        if agent_cue[a][0] == 0:
            return roles, True, f"labelled agent {a} says {_quote(cust_cue[a][1])} and no agent phrase; roles kept"
    if len(customers) > 1:  # the main customer: most customer cues, then first to speak
        main = max(customers, key=lambda s: (cust_cue[s][0], -customers.index(s)))
        for c in customers:
            if c != main and talks_like(c, "agent"):
                roles[c] = "agent"
    return roles, False, None


def _units_sentiment(units: list[int], scores: list[float], n_units: int) -> tuple[float | None, float | None]:
    """Mean score of the first and last ``ceil(n / 3)`` units (turns or sentences)."""
    k = math.ceil(n_units / 3)
    start = [s for u, s in zip(units, scores) if u < k and s is not None]
    end = [s for u, s in zip(units, scores) if u >= n_units - k and s is not None]
    return (sum(start) / len(start) if start else None, sum(end) / len(end) if end else None)


def sentence_turns(text: str, turn_texts: list[str], sentences: list[str]) -> list[int]:
    """The customer turn (0-based, among ``turn_texts``) each sentence of ``text`` comes from."""
    m = max(len(turn_texts), 1)
    lines_per_turn = [t.count("\n") + 1 for t in turn_texts]
    by_lines = sum(lines_per_turn) == text.count("\n") + 1
    line_turn = [j for j, c in enumerate(lines_per_turn) for _ in range(c)]
    out, cursor = [], 0
    for i, s in enumerate(sentences):
        pos = text.find(s, cursor) if s else -1
        if pos < 0:  # not found: its relative position among the sentences
            out.append(min(m - 1, int(i / max(len(sentences), 1) * m)))
            continue
        cursor = pos + len(s)
        out.append(line_turn[text.count("\n", 0, pos)] if by_lines
                   else min(m - 1, int(pos / max(len(text), 1) * m)))
    return out


def trajectory(text: str, utts: list[Turn], sents: list[dict[str, Any]], roles: dict[str, str]) -> dict[str, Any]:
    """Customer sentiment at the start and end of one call (see the module docstring)."""
    labelled = [u for u in utts if u["role"] == "customer"]
    turn_of = sentence_turns(text or "", [_txt(u["text"]) for u in labelled], [_txt(x["text"]) for x in sents])
    # labelled customer turns that are really the customer's (not a swapped or transferred-to agent)
    rank = {t: r for r, t in enumerate(t for t, u in enumerate(labelled) if roles.get(u["speaker"]) == "customer")}
    pairs = [(rank[t], _sec(x["sentiment_score"])) for t, x in zip(turn_of, sents) if t in rank]
    n_turns = len(rank)
    if n_turns >= 2:
        start, end = _units_sentiment([u for u, _ in pairs], [s for _, s in pairs], n_turns)
        basis = "turns"
    elif n_turns == 1 and len(pairs) >= 2:
        start, end = _units_sentiment(list(range(len(pairs))), [s for _, s in pairs], len(pairs))
        basis = "sentences"
    else:
        start = end = basis = None
    if start is None or end is None:
        label = "roles_suspect" if not rank and labelled else "unknown"
        return {"sentiment_start": start, "sentiment_end": end, "sentiment_delta": None, "trajectory": label,
                "trajectory_basis": basis}
    delta = end - start
    label = "improved" if delta >= TRAJECTORY_DELTA else "worsened" if delta <= -TRAJECTORY_DELTA else "steady"
    return {"sentiment_start": round(start, 4), "sentiment_end": round(end, 4), "sentiment_delta": round(delta, 4),
            "trajectory": label, "trajectory_basis": basis}


def timing(utts: list[Turn], roles: dict[str, str]) -> dict[str, Any]:
    """Talk share, longest silence and interruptions of one call."""
    times = [(_sec(u["start_s"]), _sec(u["end_s"])) for u in utts]
    timed = bool(utts) and all(s is not None and e is not None and e >= s for s, e in times)
    amount = [e - s for s, e in times] if timed else [float(len(_txt(u["text"]))) for u in utts]
    total = sum(amount)
    share = {r: (round(sum(a for a, u in zip(amount, utts) if roles.get(u["speaker"]) == r) / total, 4)
                 if total > 0 else None) for r in ("agent", "customer")}
    out = {"talk_basis": "duration" if timed else "characters", "agent_talk_share": share["agent"],
           "customer_talk_share": share["customer"], "duration_s": None, "longest_silence_s": None,
           "silence_at_s": None, "interruptions": None, "agent_interruptions": None, "customer_interruptions": None}
    if not timed:
        return out
    segs = sorted(((s, e, u["speaker"]) for (s, e), u in zip(times, utts)), key=lambda x: (x[0], x[1]))
    out["duration_s"] = round(max(e for _, e, _ in segs) - segs[0][0], 3)
    longest, at, reach = 0.0, None, segs[0][1]
    counts = {"agent": 0, "customer": 0, "other": 0}
    for i, (s, e, spk) in enumerate(segs[1:], start=1):
        if s - reach > longest:
            longest, at = s - reach, reach
        if any(spk2 != spk and s2 < s and e2 - s > MIN_OVERLAP_S for s2, e2, spk2 in segs[:i]):
            counts[roles.get(spk) if roles.get(spk) in counts else "other"] += 1
        reach = max(reach, e)
    out.update(longest_silence_s=round(longest, 3), silence_at_s=None if at is None else round(at, 3),
               interruptions=sum(counts.values()), agent_interruptions=counts["agent"],
               customer_interruptions=counts["customer"])
    return out


def transfers(utts: list[Turn], roles: dict[str, str]) -> dict[str, Any]:
    n, phrase = _cue(TRANSFER, [_txt(u["text"]) for u in utts if roles.get(u["speaker"]) == "agent"])
    speakers = len({u["speaker"] for u in utts})
    reasons = ([f"agent says {_quote(phrase)}"] if n else []) + ([f"{speakers} speaker labels"] if speakers >= 3 else [])
    return {"transfers": n, "transferred": bool(reasons), "transfer_reason": "; ".join(reasons) or None}


def one_call(call: dict[str, Any], utts: list[Turn], sents: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of one call from its feedback row, its utterances (in turn order) and its sentences
    (in index order)."""
    row = {k: call.get(k) for k in ("feedback_id", "touchpoint", "event_date", "language")}
    if not utts:
        return {**{c: None for c in COLUMNS}, **row, "n_turns": 0, "trajectory": "unknown"}
    roles, suspect, reason = effective_roles(utts)
    row.update(n_turns=len(utts), n_customer_turns=sum(roles.get(u["speaker"]) == "customer" for u in utts),
               n_speakers=len(roles), roles_suspect=suspect, roles_reason=reason,
               agent_speaker=", ".join(s for s, r in roles.items() if r == "agent") or None)
    row.update(timing(utts, roles))
    row.update(transfers(utts, roles))
    row.update(trajectory(_txt(call.get("text")), utts, sents, roles))
    return {c: row.get(c) for c in COLUMNS}


def _by_call(frame: pd.DataFrame, order: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in frame.sort_values(["feedback_id", order]).to_dict("records"):
        out.setdefault(r["feedback_id"], []).append(r)
    return out


def metrics_frame(calls: pd.DataFrame, utts: pd.DataFrame, sents: pd.DataFrame) -> pd.DataFrame:
    """One row per call (pure: the frames are not changed)."""
    u_by, s_by = _by_call(utts, "turn"), _by_call(sents, "idx")
    rows = [one_call(c, u_by.get(c["feedback_id"], []), s_by.get(c["feedback_id"], []))
            for c in calls.sort_values("feedback_id").to_dict("records")]
    return pd.DataFrame(rows, columns=COLUMNS)


def call_metrics(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Metrics of every call in the store, one row per call, ordered by feedback id."""
    calls = con.execute("""SELECT feedback_id, touchpoint, event_date, language, text FROM feedback
        WHERE channel = 'call' ORDER BY feedback_id""").df()
    utts = con.execute("""SELECT u.feedback_id, u.turn, u.role, u.speaker, u.start_s, u.end_s, u.text
        FROM utterances u JOIN feedback f USING (feedback_id) WHERE f.channel = 'call'
        ORDER BY u.feedback_id, u.turn""").df()
    sents = con.execute("""SELECT s.feedback_id, s.idx, s.text, s.sentiment_score
        FROM sentences s JOIN feedback f USING (feedback_id) WHERE f.channel = 'call'
        ORDER BY s.feedback_id, s.idx""").df()
    return metrics_frame(calls, utts, sents)


def refresh_call_metrics(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Recompute ``call_metrics`` from the store and replace the table in one transaction."""
    result = call_metrics(con)
    replace_frame(con, "call_metrics", DDL["call_metrics"], result, COLUMNS)
    return result


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'call_metrics'").fetchone()[0])


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    if not _has_table(con):
        return []
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


SUMMARY_SQL = """
SELECT coalesce(touchpoint, '(none)') AS touchpoint, count(*) AS calls,
  round(avg(sentiment_start), 2) AS "start", round(avg(sentiment_end), 2) AS "end",
  round(100.0 * count_if(trajectory = 'improved') / nullif(count(sentiment_delta), 0), 1) AS improved_pct,
  round(100.0 * count_if(trajectory = 'worsened') / nullif(count(sentiment_delta), 0), 1) AS worsened_pct,
  round(median(agent_talk_share), 2) AS agent_share, round(median(longest_silence_s), 1) AS silence_s,
  round(avg(interruptions), 2) AS interruptions, round(100.0 * avg(transferred::INTEGER), 1) AS transferred_pct,
  count_if(roles_suspect) AS roles_suspect
FROM call_metrics GROUP BY ALL ORDER BY calls DESC, touchpoint
"""


def summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per touchpoint: calls, mean start and end sentiment, % improved / worsened (of calls with a
    trajectory), median agent talk share and longest silence, interruptions per call, % transferred,
    calls with suspect role labels (empty on a store without the table)."""
    return _rows(con, SUMMARY_SQL)


def report_rows(con: duckdb.DuckDBPyConnection, limit: int = 25) -> list[dict[str, Any]]:
    """Calls worth a listen: suspect labels first, then the biggest drops in sentiment, transfers, silences."""
    return _rows(con, f"""SELECT feedback_id, touchpoint, trajectory,
        printf('%+.2f -> %+.2f', sentiment_start, sentiment_end) AS sentiment,
        agent_talk_share AS agent_share, longest_silence_s AS silence_s, interruptions,
        concat_ws('; ', roles_reason,
                  CASE WHEN trajectory = 'worsened' THEN printf('sentiment %+.2f', sentiment_delta) END,
                  transfer_reason,
                  CASE WHEN longest_silence_s >= 20 THEN printf('silence of %.0f s', longest_silence_s) END) AS why
        FROM call_metrics
        WHERE roles_suspect OR trajectory = 'worsened' OR transferred OR longest_silence_s >= 20
        ORDER BY roles_suspect DESC, sentiment_delta NULLS LAST, transferred DESC,
                 longest_silence_s DESC NULLS LAST, feedback_id
        LIMIT {int(limit)}""")


def trajectory_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Start and end sentiment of every call that has both (for ``charts.call_trajectory_svg``)."""
    return _rows(con, """SELECT feedback_id, touchpoint, sentiment_start, sentiment_end, trajectory
        FROM call_metrics WHERE sentiment_start IS NOT NULL AND sentiment_end IS NOT NULL ORDER BY feedback_id""")


NOTE = ("Customer sentiment (-1..1) in the first and last third of the customer's turns; talk share by "
        "speaking time (characters when the export has no times); longest silence and interruptions need "
        "turn times. Calls whose speaker labels contradict what is said are flagged 'roles suspect'.")


def summary_markdown(summary_rows: list[dict[str, Any]]) -> str:
    """The per-touchpoint call summary as a Prefect markdown artifact."""
    if not summary_rows:
        return "No calls in the store."
    cols = list(summary_rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("–" if r[c] is None else str(r[c]).replace("|", "/") for c in cols) + " |"
              for r in summary_rows]
    return "\n".join(lines)

"""The closed loop: a follow-up queue of detractors and critical incidents, with statuses kept across runs.

Items are keyed by (record, reason): the record is the NPS answer for a detractor (so a detractor
who wrote no comment is still called back, and one answer is one item however many texts that
customer left) and the feedback row for a critical incident. ``refresh_queue`` only ever inserts
items whose key is new: a rerun, or a republished record, never duplicates, reopens or rewrites
an item, so statuses set with ``close`` or ``import_statuses`` survive every nightly run.

Reasons and default priority (1 = first):
  1  churn_threat (intent column), anger (emotion column), detractor with NPS 0-3
  2  detractor with NPS 4-6, strong_negative (sentiment score <= threshold), repeated_contact (three
     chat/call/ticket contacts within a week in the data, or the effort model's repeat_contact cue)
  3  high_effort (effort score column >= threshold)
The due time is the feedback's time plus ``due_hours`` (48 by default: the reply-within-two-days
rule); an item created from old feedback is therefore born overdue, which is the truth.
"""

from __future__ import annotations

import csv
import hashlib
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from pipeline.errors import TouchpointError, located
from pipeline.metrics import DETRACTOR_MAX
from pipeline.safety import neutralize_cell

DDL = {
    "followup_queue": """item_id VARCHAR, record_id VARCHAR, reason VARCHAR, feedback_id VARCHAR,
        customer_id VARCHAR, interaction_id VARCHAR, channel VARCHAR, touchpoint VARCHAR, language VARCHAR,
        excerpt VARCHAR, nps DOUBLE, priority INTEGER, occurred_at TIMESTAMP, due_at TIMESTAMP,
        created_run_date DATE, status VARCHAR, note VARCHAR, closed_at TIMESTAMP, status_updated_at TIMESTAMP""",
}
COLUMNS = [c.strip().split()[0] for c in DDL["followup_queue"].split(",")]
STATUSES = ("open", "in_progress", "closed", "wont_fix")
EMOTION_COL, EFFORT_COL, INTENT_COL, CUES_COL = "emotion", "effort_score", "intent", "effort_cues"
CHURN_INTENTS = ("churn_threat", "cancellation", "churn")
EXCERPT_CHARS = 200


class FollowupError(TouchpointError):
    """A follow-up item or status file is wrong (unknown id, unknown status, missing column)."""


def item_id(record_id: str, reason: str) -> str:
    return "FU-" + hashlib.sha256(f"{record_id}\x1f{reason}".encode()).hexdigest()[:12]


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create the queue table when missing (a read-only connection gets an empty temporary stand-in)."""
    if "followup_queue" in {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}:
        return
    temp = "TEMP " if con.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = "
                                  "current_database()").fetchall()[0][0] else ""
    con.execute(f"CREATE {temp}TABLE IF NOT EXISTS followup_queue ({DDL['followup_queue']})")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}


def candidates(con: duckdb.DuckDBPyConnection, run_date: date, lookback_days: int | None = 14,
               strong_negative: float = -0.4, high_effort: float = 0.7, repeat_contacts: int = 3,
               repeat_window_days: int = 7) -> pd.DataFrame:
    """Items the store calls for, for feedback and answers dated up to ``run_date`` (and within the lookback)."""
    have = _columns(con, "feedback")

    def in_window(col: str) -> str:
        return (f"(CAST($lookback AS INTEGER) IS NULL OR CAST({col} AS DATE) > CAST($run_date AS DATE) - "
                f"CAST($lookback AS INTEGER)) AND CAST({col} AS DATE) <= CAST($run_date AS DATE)")
    rules = [("strong_negative", 2, "f.sentiment_label = 'negative' AND f.sentiment_score <= $strong")]
    if INTENT_COL in have:
        rules.append(("churn_threat", 1, f"lower(f.{INTENT_COL}) IN {CHURN_INTENTS}"))
    if EMOTION_COL in have:
        rules.append(("anger", 1, f"lower(f.{EMOTION_COL}) = 'anger'"))
    if EFFORT_COL in have:
        rules.append(("high_effort", 3, f"f.{EFFORT_COL} >= $effort"))
    if CUES_COL in have:  # the customer says they had to contact us again (the effort model's cue)
        rules.append(("repeated_contact", 2, f"f.{CUES_COL} LIKE '%repeat_contact%'"))
    incident_sql = " UNION ALL ".join(
        f"SELECT f.feedback_id AS record_id, '{reason}' AS reason, {prio} AS priority, f.feedback_id, "
        f"f.customer_id, f.interaction_id, f.channel, f.touchpoint, f.language, f.text, s.nps, f.occurred_at "
        f"FROM feedback f LEFT JOIN feedback_scores s USING (feedback_id) "
        f"WHERE ({cond}) AND {in_window('coalesce(f.occurred_at, f.event_date)')}"
        for reason, prio, cond in rules)
    sql = f"""
    WITH contacts AS (
        SELECT customer_id, occurred_at FROM feedback WHERE channel IN ('chat', 'call') AND customer_id IS NOT NULL
        UNION ALL SELECT customer_id, opened_at FROM tickets WHERE customer_id IS NOT NULL),
    repeated AS (
        SELECT f.feedback_id AS record_id, 'repeated_contact' AS reason, 2 AS priority, f.feedback_id,
               f.customer_id, f.interaction_id, f.channel, f.touchpoint, f.language, f.text, s.nps, f.occurred_at
        FROM feedback f LEFT JOIN feedback_scores s USING (feedback_id)
        WHERE f.channel IN ('chat', 'call') AND {in_window('f.occurred_at')}
          AND (SELECT count(*) FROM contacts c WHERE c.customer_id = f.customer_id AND c.occurred_at <= f.occurred_at
               AND c.occurred_at > f.occurred_at - to_days(CAST($repeat_days AS INTEGER))) >= $repeats),
    linked AS (  -- the customer's most negative text for each detractor answer: same interaction first
        SELECT sc.score_id, f.feedback_id, f.channel, f.touchpoint, f.language, f.text,
               row_number() OVER (PARTITION BY sc.score_id
                                  ORDER BY coalesce(f.interaction_id = sc.interaction_id, false) DESC,
                                  f.sentiment_score, f.feedback_id) AS rn
        FROM scores sc JOIN feedback f ON f.interaction_id = sc.interaction_id OR (f.customer_id = sc.customer_id
             AND abs(epoch(f.occurred_at) - epoch(sc.occurred_at)) <= 14 * 86400)
        WHERE sc.kind = 'nps' AND sc.value <= {DETRACTOR_MAX}),
    detractors AS (
        SELECT sc.score_id AS record_id, 'detractor' AS reason, CASE WHEN sc.value <= 3 THEN 1 ELSE 2 END AS priority,
               l.feedback_id, sc.customer_id, sc.interaction_id, 'survey' AS channel,
               coalesce(sc.touchpoint, l.touchpoint) AS touchpoint, l.language, l.text, sc.value AS nps, sc.occurred_at
        FROM scores sc LEFT JOIN linked l ON l.score_id = sc.score_id AND l.rn = 1
        WHERE sc.kind = 'nps' AND sc.value <= {DETRACTOR_MAX} AND {in_window('sc.occurred_at')})
    SELECT * FROM detractors UNION ALL SELECT * FROM repeated UNION ALL {incident_sql}
    ORDER BY priority, occurred_at, record_id, reason"""
    params = {"run_date": run_date, "lookback": lookback_days, "strong": strong_negative, "repeat_days":
              repeat_window_days, "repeats": repeat_contacts}
    if EFFORT_COL in have:
        params["effort"] = high_effort
    df = con.execute(sql, params).df()
    return df


def _excerpt(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS - 1] + "…"


def refresh_queue(con: duckdb.DuckDBPyConnection, run_date: date, due_hours: int = 48,
                  **rules: Any) -> dict[str, int]:
    """Add the items whose (record, reason) key is new; existing items (and their statuses) are untouched.

    Returns ``{"added": n, "open": n, "overdue": n}`` (overdue: open items whose due time is before the
    end of ``run_date``).
    """
    ensure_table(con)
    cand = candidates(con, run_date, **rules)
    rows = []
    start_of_run = datetime.combine(run_date, datetime.min.time())
    for r in cand.to_dict("records"):
        occurred = r["occurred_at"] if pd.notna(r["occurred_at"]) else start_of_run
        occurred = pd.Timestamp(occurred).to_pydatetime()
        rows.append([item_id(r["record_id"], r["reason"]), r["record_id"], r["reason"], _none(r["feedback_id"]),
                     _none(r["customer_id"]), _none(r["interaction_id"]), r["channel"], _none(r["touchpoint"]),
                     _none(r["language"]), _excerpt(r["text"]), _none(r["nps"]), int(r["priority"]), occurred,
                     occurred + pd.Timedelta(hours=due_hours), run_date, "open", None, None, None])
    con.execute("BEGIN TRANSACTION")
    try:
        before = con.execute("SELECT count(*) FROM followup_queue").fetchone()[0]
        con.execute("CREATE OR REPLACE TEMP TABLE _fu_new AS SELECT * FROM followup_queue WHERE false")
        if rows:
            con.executemany(f"INSERT INTO _fu_new VALUES ({', '.join('?' for _ in COLUMNS)})", rows)
        con.execute("""INSERT INTO followup_queue SELECT * FROM _fu_new n
                       WHERE n.item_id NOT IN (SELECT item_id FROM followup_queue)
                       QUALIFY row_number() OVER (PARTITION BY n.item_id ORDER BY n.occurred_at) = 1""")
        added = con.execute("SELECT count(*) FROM followup_queue").fetchone()[0] - before
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    end_of_day = start_of_run + pd.Timedelta(days=1)
    open_n, overdue = con.execute("""SELECT count(*), coalesce(count_if(due_at < ?), 0) FROM followup_queue
                                     WHERE status IN ('open', 'in_progress')""", [end_of_day]).fetchone()
    return {"added": int(added), "open": int(open_n), "overdue": int(overdue)}


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA else v


def set_status(con: duckdb.DuckDBPyConnection, item: str, status: str, note: str | None,
               at: datetime) -> None:
    """Set one item's status (``closed_at`` is ``at`` for closed and won't-fix items)."""
    if status not in STATUSES:
        raise FollowupError(f"unknown status {status!r} for {item}; use one of {', '.join(STATUSES)}")
    ensure_table(con)
    if not con.execute("SELECT count(*) FROM followup_queue WHERE item_id = ?", [item]).fetchone()[0]:
        raise FollowupError(f"no follow-up item {item!r}; `touchpoint followup list` shows the ids")
    done = status in ("closed", "wont_fix")
    con.execute("""UPDATE followup_queue SET status = ?, note = coalesce(?, note), closed_at = ?,
                   status_updated_at = ? WHERE item_id = ?""", [status, note, at if done else None, at, item])


def close(con: duckdb.DuckDBPyConnection, item: str, note: str | None, closed_at: datetime) -> None:
    set_status(con, item, "closed", note, closed_at)


def _unneutralize(v: str) -> str:
    """Undo the export's formula guard so a CSV round trip keeps notes as written."""
    return v[1:] if v.startswith("'") and v[1:2] in ("=", "+", "-", "@", "\t", "\r") else v


def import_statuses(con: duckdb.DuckDBPyConnection, csv_path: str | os.PathLike, updated_at: datetime) -> int:
    """Apply a CSV of ``item_id,status[,note][,closed_at]`` (e.g. an edited export); all rows or none.

    Rows without ``closed_at`` are stamped with ``updated_at``. Returns the number of items updated.
    """
    path = str(csv_path)
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"item_id", "status"} - set(reader.fieldnames or [])
        if missing:
            raise FollowupError(located(path, 1, None, f"missing column(s) {', '.join(sorted(missing))}; the file "
                                        f"needs item_id and status (note and closed_at optional)"))
        rows = list(reader)
    ensure_table(con)
    known = {r[0] for r in con.execute("SELECT item_id FROM followup_queue").fetchall()}
    updates, problems = [], []
    for line, r in enumerate(rows, start=2):
        iid, status = (r.get("item_id") or "").strip(), (r.get("status") or "").strip().lower()
        if iid not in known:
            problems.append(located(path, line, "item_id", f"unknown item {iid!r}"))
        elif status not in STATUSES:
            problems.append(located(path, line, "status", f"{status!r} is not one of {', '.join(STATUSES)}"))
        else:
            at = updated_at
            if (r.get("closed_at") or "").strip():
                try:
                    at = datetime.fromisoformat(r["closed_at"].strip())
                except ValueError:
                    problems.append(located(path, line, "closed_at", f"{r['closed_at']!r} is not an ISO date-time"))
                    continue
            note = _unneutralize(r["note"]) if (r.get("note") or "").strip() else None
            updates.append((iid, status, note, at))
    if problems:
        raise FollowupError("nothing imported: " + "; ".join(problems[:10])
                            + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
    con.execute("BEGIN TRANSACTION")
    try:
        for iid, status, note, at in updates:
            set_status(con, iid, status, note, at)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(updates)


def list_items(con: duckdb.DuckDBPyConnection, status: str | None = "open", limit: int | None = None) -> pd.DataFrame:
    """Items by priority then due time (all statuses when ``status`` is None)."""
    ensure_table(con)
    sql = "SELECT * FROM followup_queue WHERE (CAST(? AS VARCHAR) IS NULL OR status = ?) " \
          "ORDER BY priority, due_at, item_id" + (" LIMIT ?" if limit else "")
    params: list[Any] = [status, status] + ([int(limit)] if limit else [])
    return con.execute(sql, params).df()


def export_queue(con: duckdb.DuckDBPyConnection, out_dir: str | os.PathLike, fmt: str = "csv",
                 status: str | None = None) -> Path:
    """Write the queue to ``out_dir/followup_queue.<fmt>`` atomically; CSV cells are formula-safe."""
    if fmt not in ("csv", "parquet"):
        raise FollowupError(f"unknown export format {fmt!r}; use csv or parquet")
    ensure_table(con)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"followup_queue.{fmt}"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sql = ("SELECT * FROM followup_queue WHERE (CAST(? AS VARCHAR) IS NULL OR status = ?) "
           "ORDER BY priority, due_at, item_id")
    if fmt == "parquet":
        pq.write_table(con.sql(sql, params=[status, status]).to_arrow_table(), tmp)
    else:
        cur = con.execute(sql, [status, status])
        cols = [d[0] for d in cur.description]
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for row in cur.fetchall():
                w.writerow(["" if v is None else neutralize_cell(v if isinstance(v, str) else str(v)) for v in row])
    os.replace(tmp, path)
    return path


def report_rows(con: duckdb.DuckDBPyConnection, run_date: date | None = None,
                limit: int = 25) -> list[dict[str, Any]]:
    """Open items for the report: highest priority and most overdue first."""
    ensure_table(con)
    return [dict(zip(("item", "priority", "reason", "channel", "touchpoint", "nps", "due", "excerpt"), r))
            for r in con.execute("""SELECT item_id, priority, reason, channel, touchpoint, nps, due_at, excerpt
                                    FROM followup_queue WHERE status IN ('open', 'in_progress')
                                    AND (CAST(? AS DATE) IS NULL OR created_run_date <= ?)
                                    ORDER BY priority, due_at, item_id LIMIT ?""",
                                 [run_date, run_date, limit]).fetchall()]


def summary_markdown(stats: dict[str, int]) -> str:
    return (f"Follow-up queue: {stats.get('added', 0)} new items, {stats.get('open', 0)} open, "
            f"{stats.get('overdue', 0)} overdue (reply due within two days of the feedback)")

"""The closed loop: a ranked follow-up queue with a daily capacity, statuses kept across runs.

A *case* is one record to call back: a detractor's NPS answer (0-6; a detractor who wrote no comment is
still called back), with the incidents on the text linked to it folded in, or else one feedback row
with incidents (strong negative sentiment, anger, churn threat, high effort, repeated contact). One
case is one item however many reasons it has (``reason`` is the headline, ``reasons`` lists them all).

Priority (1 = first; within a tier newest first, then lowest NPS, then item id):
  1 urgent     churn threat or anger, or a detractor who also shows high effort or repeated contact
  2 detractor  any other detractor
  3 incident   strong negative, high effort or repeated contact without an NPS answer

Capacity: each refresh day (``run_date``: the nightly run passes the data's last day) opens at most
``daily_capacity`` new items, best first; the remaining new cases are stored with status and intake
``over_capacity`` - counted, per touchpoint and reason, in ``summary`` and ``touchpoint followup
summary``, never opened as work and never dropped (a team lead can still take one on by setting its
status to open). Items considered on a day = items opened + items over capacity.

``refresh_queue`` only ever inserts cases whose record is new: a rerun, or a republished record, never
duplicates, reopens or rewrites an item, so statuses set with ``close`` or ``import_statuses`` survive
every nightly run, and a rerun on the same day only fills what is left of that day's capacity.
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

from pipeline.storage.schema import SCHEMA
from pipeline.storage.tables import insert_rows
from pipeline.errors import TouchpointError, located
from pipeline.metrics import DETRACTOR_MAX
from pipeline.storage.safety import neutralize_cell

# New columns go at the end: stores are upgraded in place by appending columns (store.ensure_schema).
DDL = {t: SCHEMA[t] for t in ('followup_queue',)}  # the store's schema owns them
COLUMNS = [c.strip().split()[0] for c in DDL["followup_queue"].split(",")]
WORK_STATUSES = ("open", "in_progress", "closed", "wont_fix")  # what a person may set
OVER_CAPACITY = "over_capacity"  # status and intake of a case counted but not opened
STATUSES = WORK_STATUSES + (OVER_CAPACITY,)
ACTIVE = ("open", "in_progress")
DEFAULT_DAILY_CAPACITY = 25  # configs FollowupConfig.daily_capacity
EMOTION_COL, EFFORT_COL, INTENT_COL, CUES_COL = "emotion", "effort_score", "intent", "effort_cues"
CHURN_INTENTS = ("churn_threat", "cancellation", "churn")
EXCERPT_CHARS = 200
TIERS = {1: "urgent", 2: "detractor", 3: "incident"}
CRITICAL = frozenset({"churn_threat", "anger"})
ESCALATING = frozenset({"high_effort", "repeated_contact"})  # a detractor who also had to work hard
HEADLINE = ("churn_threat", "anger", "detractor", "repeated_contact", "high_effort", "strong_negative")
ORDER_SQL = "priority, occurred_at DESC NULLS LAST, coalesce(nps, 99), item_id"  # the ranking, in SQL


class FollowupError(TouchpointError):
    """A follow-up item or status file is wrong (unknown id, unknown status, missing column)."""


def item_id(record_id: str, reason: str) -> str:
    return "FU-" + hashlib.sha256(f"{record_id}\x1f{reason}".encode()).hexdigest()[:12]


def priority(reasons: set[str] | frozenset[str]) -> int:
    """The tier of a case with these reasons (module docstring)."""
    if reasons & CRITICAL or ("detractor" in reasons and reasons & ESCALATING):
        return 1
    return 2 if "detractor" in reasons else 3


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
    """One row per (record, reason) the store calls for, dated up to ``run_date`` (and within the lookback).

    Detractor rows carry the feedback linked to the answer (same interaction first, else the customer's
    most negative text within 14 days) in ``feedback_id``; ``cases`` folds incidents on it in.
    """
    have = _columns(con, "feedback")

    def in_window(col: str) -> str:
        return (f"(CAST($lookback AS INTEGER) IS NULL OR CAST({col} AS DATE) > CAST($run_date AS DATE) - "
                f"CAST($lookback AS INTEGER)) AND CAST({col} AS DATE) <= CAST($run_date AS DATE)")
    rules = [("strong_negative", "f.sentiment_label = 'negative' AND f.sentiment_score <= $strong")]
    if INTENT_COL in have:
        rules.append(("churn_threat", f"lower(f.{INTENT_COL}) IN {CHURN_INTENTS}"))
    if EMOTION_COL in have:
        rules.append(("anger", f"lower(f.{EMOTION_COL}) = 'anger'"))
    if EFFORT_COL in have:
        rules.append(("high_effort", f"f.{EFFORT_COL} >= $effort"))
    if CUES_COL in have:  # the customer says they had to contact us again (the effort model's cue)
        rules.append(("repeated_contact", f"f.{CUES_COL} LIKE '%repeat_contact%'"))
    incident_sql = " UNION ALL ".join(
        f"SELECT f.feedback_id AS record_id, '{reason}' AS reason, f.feedback_id, "
        f"f.customer_id, f.interaction_id, f.channel, f.touchpoint, f.language, f.text, s.nps, f.occurred_at "
        f"FROM feedback f LEFT JOIN feedback_scores s USING (feedback_id) "
        f"WHERE ({cond}) AND {in_window('coalesce(f.occurred_at, f.event_date)')}"
        for reason, cond in rules)
    sql = f"""
    WITH contacts AS (
        SELECT customer_id, occurred_at FROM feedback WHERE channel IN ('chat', 'call') AND customer_id IS NOT NULL
        UNION ALL SELECT customer_id, opened_at FROM tickets WHERE customer_id IS NOT NULL),
    repeated AS (
        SELECT f.feedback_id AS record_id, 'repeated_contact' AS reason, f.feedback_id,
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
        SELECT sc.score_id AS record_id, 'detractor' AS reason,
               l.feedback_id, sc.customer_id, sc.interaction_id, 'survey' AS channel,
               coalesce(sc.touchpoint, l.touchpoint) AS touchpoint, l.language, l.text, sc.value AS nps, sc.occurred_at
        FROM scores sc LEFT JOIN linked l ON l.score_id = sc.score_id AND l.rn = 1
        WHERE sc.kind = 'nps' AND sc.value <= {DETRACTOR_MAX} AND {in_window('sc.occurred_at')})
    SELECT * FROM detractors UNION ALL SELECT * FROM repeated UNION ALL {incident_sql}
    ORDER BY record_id, reason"""
    params = {"run_date": run_date, "lookback": lookback_days, "strong": strong_negative, "repeat_days":
              repeat_window_days, "repeats": repeat_contacts}
    if EFFORT_COL in have:
        params["effort"] = high_effort
    return con.execute(sql, params).df()


def cases(cand: pd.DataFrame, run_date: date) -> list[dict[str, Any]]:
    """Group candidate rows into cases, ranked (best first); each has ``reasons`` and ``priority``.

    An incident on the text linked to a detractor answer joins that answer's case (one contact, one
    call back); other incidents group by feedback row.
    """
    rows = [{k: _none(v) for k, v in r.items()} for r in cand.to_dict("records")]
    linked: dict[str, list[str]] = {}
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["reason"] == "detractor":
            out[r["record_id"]] = {**r, "reasons": {"detractor"}, "kind": "detractor"}
            if r["feedback_id"] is not None:
                linked.setdefault(r["feedback_id"], []).append(r["record_id"])
    for r in rows:
        if r["reason"] == "detractor":
            continue
        for key in linked.get(r["record_id"], ()):
            out[key]["reasons"].add(r["reason"])
        if r["record_id"] not in linked:
            out.setdefault(r["record_id"], {**r, "reasons": set(), "kind": "incident"})["reasons"].add(r["reason"])
    start_of_run = datetime.combine(run_date, datetime.min.time())
    for c in out.values():
        c["priority"] = priority(c["reasons"])
        c["reason"] = next(x for x in HEADLINE if x in c["reasons"])
        c["occurred_at"] = pd.Timestamp(c["occurred_at"]).to_pydatetime() if c["occurred_at"] is not None \
            else start_of_run
        c["item_id"] = item_id(c["record_id"], c["reason"])
    return sorted(out.values(), key=rank_key)


def rank_key(c: dict[str, Any]) -> tuple:
    """Tier, then newest first, then lowest NPS, then item id (the same order as ``ORDER_SQL``)."""
    age = (c["occurred_at"] - datetime(1970, 1, 1)).total_seconds()  # naive store time: no local-zone shifts
    return (c["priority"], -age, 99 if c["nps"] is None else c["nps"], c["item_id"])


def _excerpt(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[:EXCERPT_CHARS - 1] + "…"


def refresh_queue(con: duckdb.DuckDBPyConnection, run_date: date, due_hours: int = 48,
                  daily_capacity: int | None = DEFAULT_DAILY_CAPACITY, **rules: Any) -> dict[str, int]:
    """Add the cases whose record is new: the best up to what is left of ``run_date``'s capacity are
    opened, the rest stored as over capacity; existing items (and their statuses) are untouched.

    Returns ``{"considered", "added", "over_capacity", "open", "overdue", "daily_capacity", "due_hours"}``:
    new cases considered (= added + over_capacity), items opened, cases counted over capacity, then all
    active items and those whose due time is before the end of ``run_date``; the two settings used
    (``daily_capacity`` 0: no limit).
    """
    ensure_table(con)
    ranked = cases(candidates(con, run_date, **rules), run_date)
    con.execute("BEGIN TRANSACTION")
    try:
        known_records = {r[0] for r in con.execute("SELECT DISTINCT record_id FROM followup_queue").fetchall()}
        shown = {r[0] for r in con.execute("SELECT DISTINCT feedback_id FROM followup_queue "
                                           "WHERE feedback_id IS NOT NULL").fetchall()}
        # an incident whose text another item already shows (a detractor's comment) is that item's case
        new = [c for c in ranked if c["record_id"] not in known_records
               and not (c["kind"] == "incident" and c["record_id"] in shown)]
        opened_today = con.execute("SELECT count(*) FROM followup_queue WHERE created_run_date = ? AND "
                                   "coalesce(intake, 'opened') = 'opened'", [run_date]).fetchall()[0][0]
        room = len(new) if daily_capacity is None else max(0, daily_capacity - opened_today)
        rows = []
        for k, c in enumerate(new):
            state = "open" if k < room else OVER_CAPACITY
            rows.append([c["item_id"], c["record_id"], c["reason"], c["feedback_id"], c["customer_id"],
                         c["interaction_id"], c["channel"], c["touchpoint"], c["language"], _excerpt(c["text"]),
                         c["nps"], c["priority"], c["occurred_at"], c["occurred_at"] + pd.Timedelta(hours=due_hours),
                         run_date, state, None, None, None, ",".join(x for x in HEADLINE if x in c["reasons"]),
                         "opened" if state == "open" else OVER_CAPACITY])
        con.execute("CREATE OR REPLACE TEMP TABLE _fu_new AS SELECT * FROM followup_queue WHERE false")
        insert_rows(con, "_fu_new", COLUMNS, rows)
        con.execute("INSERT INTO followup_queue SELECT * FROM _fu_new")
        con.execute("DROP TABLE _fu_new")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    added = min(room, len(new))
    end_of_day = datetime.combine(run_date, datetime.min.time()) + pd.Timedelta(days=1)
    open_n, overdue = con.execute(f"""SELECT count(*), coalesce(count_if(due_at < ?), 0) FROM followup_queue
                                      WHERE status IN {ACTIVE}""", [end_of_day]).fetchall()[0]
    return {"considered": len(new), "added": added, "over_capacity": len(new) - added, "open": int(open_n),
            "overdue": int(overdue), "daily_capacity": daily_capacity or 0, "due_hours": due_hours}


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA or v is pd.NaT else v


def set_status(con: duckdb.DuckDBPyConnection, item: str, status: str, note: str | None,
               at: datetime) -> None:
    """Set one item's status (``closed_at`` is ``at`` for closed and won't-fix items)."""
    if status not in WORK_STATUSES:
        raise FollowupError(f"unknown status {status!r} for {item}; use one of {', '.join(WORK_STATUSES)}")
    ensure_table(con)
    if not con.execute("SELECT count(*) FROM followup_queue WHERE item_id = ?", [item]).fetchall()[0][0]:
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
        elif status not in WORK_STATUSES:
            problems.append(located(path, line, "status", f"{status!r} is not one of {', '.join(WORK_STATUSES)}"))
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
    """Items in queue order: priority, newest first (all statuses when ``status`` is None)."""
    ensure_table(con)
    sql = "SELECT * FROM followup_queue WHERE (CAST(? AS VARCHAR) IS NULL OR status = ?) " \
          f"ORDER BY {ORDER_SQL}" + (" LIMIT ?" if limit else "")
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
    sql = f"SELECT * FROM followup_queue WHERE (CAST(? AS VARCHAR) IS NULL OR status = ?) ORDER BY {ORDER_SQL}"
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
    """Active items for the report, in queue order (priority, newest first)."""
    ensure_table(con)
    return [dict(zip(("item", "priority", "reason", "channel", "touchpoint", "nps", "due", "excerpt"), r))
            for r in con.execute(f"""SELECT item_id, priority, reason, channel, touchpoint, nps, due_at, excerpt
                                     FROM followup_queue WHERE status IN {ACTIVE}
                                     AND (CAST(? AS DATE) IS NULL OR created_run_date <= ?)
                                     ORDER BY {ORDER_SQL} LIMIT ?""",
                                 [run_date, run_date, limit]).fetchall()]


def summary(con: duckdb.DuckDBPyConnection, as_of: date | None = None, days: int = 7) -> dict[str, Any]:
    """The backlog in numbers, for a team lead and the HTML report (plain, JSON-ready data).

    ``as_of`` (default: the latest refresh day in the queue) sets what is overdue (due before the end
    of that day) and the last day of ``daily``. Returns::

        {"as_of": "YYYY-MM-DD" | None, "open": n, "in_progress": n, "overdue": n,
         "open_by_priority": {"1": n, "2": n, "3": n},            # active items (open + in progress)
         "closed": n, "wont_fix": n,
         "opened": n, "over_capacity": n,                          # all-time intake: every case is one or other
         "over_capacity_pending": n,                               # over capacity and still not taken on
         "over_capacity_by_reason": {reason: n},                   # headline reason, most first
         "over_capacity_by_touchpoint": {touchpoint: n},
         "over_capacity_by": [{"touchpoint", "reason", "n"}],       # touchpoint x reason, most first
         "daily": [{"day", "considered", "opened", "over_capacity"}]}  # the last ``days`` refresh days
    """
    ensure_table(con)
    last = con.execute("SELECT max(created_run_date) FROM followup_queue").fetchall()[0][0]
    as_of = as_of or last
    end = datetime.combine(as_of, datetime.min.time()) + pd.Timedelta(days=1) if as_of else None
    status = dict(con.execute("SELECT status, count(*) FROM followup_queue GROUP BY status").fetchall())
    intake = dict(con.execute("SELECT coalesce(intake, 'opened'), count(*) FROM followup_queue "
                              "GROUP BY 1").fetchall())
    overdue = con.execute(f"SELECT count(*) FROM followup_queue WHERE status IN {ACTIVE} AND due_at < ?",
                          [end]).fetchall()[0][0] if end else 0
    by_prio = dict(con.execute(f"SELECT priority, count(*) FROM followup_queue WHERE status IN {ACTIVE} "
                               "GROUP BY 1").fetchall())
    over = con.execute(f"""SELECT coalesce(touchpoint, '(none)') AS tp, reason, count(*) AS n FROM followup_queue
                           WHERE intake = '{OVER_CAPACITY}' GROUP BY ALL ORDER BY n DESC, tp, reason""").fetchall()

    def tally(k: int) -> dict[str, int]:
        acc: dict[str, int] = {}
        for r in over:
            acc[r[k]] = acc.get(r[k], 0) + r[2]
        return dict(sorted(acc.items(), key=lambda kv: (-kv[1], kv[0])))
    daily = con.execute(f"""SELECT created_run_date, count(*), count_if(coalesce(intake, 'opened') = 'opened')
                            FROM followup_queue WHERE (CAST(? AS DATE) IS NULL OR created_run_date <= ?)
                            GROUP BY 1 ORDER BY 1 DESC LIMIT ?""", [as_of, as_of, days]).fetchall()
    return {"as_of": str(as_of) if as_of else None, "open": status.get("open", 0),
            "in_progress": status.get("in_progress", 0), "overdue": int(overdue),
            "open_by_priority": {str(p): int(by_prio.get(p, 0)) for p in TIERS},
            "closed": status.get("closed", 0), "wont_fix": status.get("wont_fix", 0),
            "opened": intake.get("opened", 0), "over_capacity": intake.get(OVER_CAPACITY, 0),
            "over_capacity_pending": status.get(OVER_CAPACITY, 0),
            "over_capacity_by_reason": tally(1), "over_capacity_by_touchpoint": tally(0),
            "over_capacity_by": [{"touchpoint": tp, "reason": r, "n": int(n)} for tp, r, n in over],
            "daily": [{"day": str(d), "considered": int(n), "opened": int(o), "over_capacity": int(n - o)}
                      for d, n, o in reversed(daily)]}


def summary_markdown(stats: dict[str, int]) -> str:
    """One line for a run's artifact, from ``refresh_queue``'s result."""
    cap = stats.get("daily_capacity")
    over = stats.get("over_capacity", 0)
    return (f"Follow-up queue: {stats.get('added', 0)} new items opened"
            + (f" (daily capacity {cap})" if cap else "")
            + (f", {over} more over capacity (counted by touchpoint and reason: `touchpoint followup summary`)"
               if over else "")
            + f"; {stats.get('open', 0)} open, {stats.get('overdue', 0)} overdue (reply due within "
              f"{_hours_text(stats.get('due_hours', 48))} of the feedback)")


def _hours_text(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else f"{hours} hours"

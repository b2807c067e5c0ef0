"""Alerts: what changed on the run date compared with the recent baseline, with false alarms controlled.

Cells are touchpoint x topic x channel (topic "(all)" is the touchpoint x channel total; a feedback
row counts once per distinct topic its sentences mention, "other" excluded). Per cell, two one-sided
tests against the previous ``baseline_days`` days:

- volume: under "same daily rate", today's count given today + baseline counts is binomial with
  p = 1 / (1 + days), so ``P(X >= today)`` is an exact test that also accounts for the baseline's own
  noise (the conditional test for two Poisson rates);
- negative share: Fisher's exact test, one-sided (today's share of negative feedback higher).

Baseline days are the calendar days of the window on which the store has any feedback at all (a
store with five days of history is compared with five days, not 28). All p-values of the run go
through Benjamini-Hochberg: an alert is a cell with q <= ``fdr`` and a minimum size of effect
(``min_count`` rows, ``min_ratio`` for volume, ``min_share_diff`` for negative share), so about
``fdr`` of the alerts raised are expected to be false, however many cells there are. Emerging
topics (clusters of sentences the taxonomy could not place) alert once, the first run they appear.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipeline.analytics.pvalues import binom_sf, fisher_greater
from pipeline.storage.schema import SCHEMA
from pipeline.storage.tables import insert_rows

DDL = {t: SCHEMA[t] for t in ('alerts',)}  # the store's schema owns them
COLUMNS = [c.strip().split()[0] for c in DDL["alerts"].split(",")]
ALL_TOPICS = "(all)"

CELLS_SQL = """
WITH topics AS (
    SELECT DISTINCT feedback_id, topic FROM sentences WHERE topic IS NOT NULL AND topic <> 'other'),
rows AS (
    SELECT f.event_date, coalesce(f.touchpoint, '(none)') AS touchpoint, f.channel,
           coalesce(t.topic, '(none)') AS topic, f.sentiment_label = 'negative' AS negative
    FROM feedback f LEFT JOIN topics t USING (feedback_id)
    WHERE f.event_date > CAST($run_date AS DATE) - CAST($days AS INTEGER) AND f.event_date <= $run_date
    UNION ALL
    SELECT f.event_date, coalesce(f.touchpoint, '(none)'), f.channel, '(all)', f.sentiment_label = 'negative'
    FROM feedback f
    WHERE f.event_date > CAST($run_date AS DATE) - CAST($days AS INTEGER) AND f.event_date <= $run_date)
SELECT touchpoint, topic, channel,
       count_if(event_date = $run_date) AS n_today, count_if(event_date = $run_date AND negative) AS neg_today,
       count_if(event_date < $run_date) AS n_base, count_if(event_date < $run_date AND negative) AS neg_base
FROM rows WHERE topic <> '(none)' GROUP BY ALL ORDER BY ALL
"""


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def latest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest feedback date in the store: the natural run date of a nightly run over new dumps."""
    return con.execute("SELECT max(event_date) FROM feedback").fetchone()[0]


def cell_counts(con: duckdb.DuckDBPyConnection, run_date: date, baseline_days: int = 28) -> tuple[pd.DataFrame, int]:
    """Per-cell counts for the run date and the baseline, and the number of baseline days with data."""
    counts = con.execute(CELLS_SQL, {"run_date": run_date, "days": baseline_days + 1}).df()
    days = con.execute("""SELECT count(DISTINCT event_date) FROM feedback
                          WHERE event_date < ? AND event_date >= ?""",
                       [run_date, run_date - timedelta(days=baseline_days)]).fetchone()[0]
    return counts, int(days)


def score_cells(counts: pd.DataFrame, baseline_days: int) -> pd.DataFrame:
    """Add p-values for the volume and negative-share tests to each cell (pure)."""
    df = counts.copy()
    n_t, n_b = df["n_today"].to_numpy(float), df["n_base"].to_numpy(float)
    k_t, k_b = df["neg_today"].to_numpy(float), df["neg_base"].to_numpy(float)
    d = max(baseline_days, 1)
    df["expected"] = n_b / d
    df["p_volume"] = np.where(n_t > 0, binom_sf(n_t - 1, n_t + n_b, 1.0 / (1 + d)), 1.0)
    p_neg = []
    for a, n1, b, n2 in zip(k_t, n_t, k_b, n_b):
        if n1 == 0 or n2 == 0 or a == 0:
            p_neg.append(1.0)
        else:
            p_neg.append(fisher_greater(a, n1 - a, b, n2 - b))
    df["p_negative"] = p_neg
    df["share_today"] = np.where(n_t > 0, k_t / np.maximum(n_t, 1), np.nan)
    df["share_base"] = np.where(n_b > 0, k_b / np.maximum(n_b, 1), np.nan)
    return df


def detect(counts: pd.DataFrame, baseline_days: int, run_date: date, emerging: list[dict[str, Any]] | None = None,
           known_emerging: set[str] | None = None, fdr: float = 0.05, min_count: int = 5,
           min_ratio: float = 1.5, min_share_diff: float = 0.15) -> list[dict[str, Any]]:
    """Alerts for one run date (pure): BH across every volume and negative-share test of the run."""
    df = score_cells(counts, baseline_days)
    p_all = np.concatenate([df["p_volume"].to_numpy(), df["p_negative"].to_numpy()])
    q_all = bh_qvalues(p_all)
    df["q_volume"], df["q_negative"] = q_all[:len(df)], q_all[len(df):]
    alerts: list[dict[str, Any]] = []
    for r in df.to_dict("records"):
        cell = {"touchpoint": r["touchpoint"], "topic": r["topic"], "channel": r["channel"]}
        where = f"{r['touchpoint']} / {r['topic']} / {r['channel']}"
        ratio = r["n_today"] / r["expected"] if r["expected"] > 0 else float("inf")
        if r["q_volume"] <= fdr and r["n_today"] >= min_count and ratio >= min_ratio:
            alerts.append(_alert(run_date, "volume_spike", cell, r["n_today"], r["expected"], r, baseline_days,
                                 r["p_volume"], r["q_volume"],
                                 f"{where}: {r['n_today']} feedback today vs {r['expected']:.1f}/day over the "
                                 f"previous {baseline_days} days"))
        diff = (r["share_today"] - r["share_base"]) if r["n_base"] else float("nan")
        if r["q_negative"] <= fdr and r["neg_today"] >= min_count and diff >= min_share_diff:
            alerts.append(_alert(run_date, "negative_share", cell, r["share_today"], r["share_base"], r,
                                 baseline_days, r["p_negative"], r["q_negative"],
                                 f"{where}: {100 * r['share_today']:.0f}% negative today ({r['neg_today']} of "
                                 f"{r['n_today']}) vs {100 * r['share_base']:.0f}% before"))
    for e in emerging or []:
        cid = str(e.get("cluster_id"))
        if known_emerging is not None and cid in known_emerging:
            continue
        if int(e.get("size") or 0) < min_count:
            continue
        cell = {"touchpoint": None, "topic": f"emerging:{cid}", "channel": None}
        alerts.append(_alert(run_date, "emerging_topic", cell, float(e.get("size") or 0), None,
                             {"n_today": int(e.get("size") or 0), "n_base": 0}, baseline_days, None, None,
                             f"new topic outside the taxonomy: {e.get('terms')} ({e.get('size')} sentences; "
                             f"e.g. {str(e.get('example') or '')[:120]})"))
    return sorted(alerts, key=lambda a: (a["q_value"] if a["q_value"] is not None else -1, a["alert_id"]))


def _alert(run_date: date, kind: str, cell: dict[str, Any], observed: float, expected: float | None,
           r: dict[str, Any], days: int, p: float | None, q: float | None, message: str) -> dict[str, Any]:
    key = f"{run_date}|{kind}|{cell['touchpoint']}|{cell['topic']}|{cell['channel']}"
    return {"alert_id": "AL-" + hashlib.sha256(key.encode()).hexdigest()[:12], "run_date": run_date, "kind": kind,
            **cell, "observed": _r(observed), "expected": _r(expected), "n_today": int(r["n_today"]),
            "n_baseline": int(r["n_base"]), "baseline_days": int(days), "p_value": _r(p, 8), "q_value": _r(q, 8),
            "message": message, "delivery": None}


def _r(v: float | None, digits: int = 4) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), digits)


def run_alerts(con: duckdb.DuckDBPyConnection, run_date: date, baseline_days: int = 28,
               emerging: list[dict[str, Any]] | None = None, webhook_url: str | None = None,
               timeout_s: float = 5.0, **thresholds: Any) -> list[dict[str, Any]]:
    """Detect the run date's alerts, store them (replacing that date's), and post them to the webhook.

    Never raises for a webhook failure: the outcome is recorded in each alert's ``delivery``.
    """
    con.execute(f"CREATE TABLE IF NOT EXISTS alerts ({DDL['alerts']})")
    counts, days = cell_counts(con, run_date, baseline_days)
    known = {r[0].split(":", 1)[1] for r in con.execute(
        "SELECT DISTINCT topic FROM alerts WHERE kind = 'emerging_topic' AND run_date < ?", [run_date]).fetchall()}
    alerts = detect(counts, days, run_date, emerging, known, **thresholds)
    if webhook_url and alerts:
        status = post_webhook(webhook_url, {"run_date": str(run_date), "alerts": alerts}, timeout_s)
        alerts = [{**a, "delivery": status} for a in alerts]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM alerts WHERE run_date = ?", [run_date])
        if alerts:
            insert_rows(con, "alerts", COLUMNS, [[a[c] for c in COLUMNS] for a in alerts])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return alerts


def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 5.0) -> str:
    """POST ``payload`` as JSON; returns "sent <status>" or "failed: <reason>" (never raises)."""
    if not url.lower().startswith(("http://", "https://")):
        return "failed: webhook URL must start with http:// or https://"
    body = json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8",
                                          "User-Agent": "touchpoint-alerts"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - scheme checked above
            return f"sent {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"failed: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"failed: {type(exc).__name__}: {str(reason)[:200]}"


def latest(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The alerts of the newest run date in the store (none on a store without the table)."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'alerts'").fetchall()[0][0]:
        return []
    cur = con.execute("""SELECT * FROM alerts WHERE run_date = (SELECT max(run_date) FROM alerts)
                         ORDER BY q_value NULLS FIRST, alert_id""")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def report_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": a["kind"], "where": " / ".join(str(a[k]) for k in ("touchpoint", "topic", "channel")
                                                     if a[k] is not None),
             "q": a["q_value"], "message": a["message"]} for a in alerts]


def render_markdown(alerts: list[dict[str, Any]]) -> str:
    """The run's alerts as a Prefect markdown artifact."""
    if not alerts:
        return "No alerts: nothing moved beyond its baseline (Benjamini-Hochberg FDR control across cells)."
    lines = ["| kind | where | q | message |", "|---|---|---:|---|"]
    for r in report_rows(alerts):
        q = "" if r["q"] is None else f"{r['q']:.2g}"
        lines.append(f"| {r['kind']} | {r['where']} | {q} | {str(r['message']).replace('|', '/')} |")
    return "\n".join(lines)

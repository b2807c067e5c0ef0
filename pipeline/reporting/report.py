"""The readable outputs: a terminal summary and a self-contained HTML report, read from the store."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from pipeline.metrics import DETRACTOR_MAX, PROMOTER_MIN, TICKETS_ATTRIBUTED_SQL, csat_top2_sql, nps_sql
from pipeline.analytics import alerts, call_analytics, drivers, followup, manipulation
from pipeline.reporting import charts
from pipeline import cx
from pipeline.errors import StoreError
from pipeline.storage.store import connect

# One row per touchpoint and a last "(all)" row. NPS, CSAT and CES count survey answers, each once, at
# the touchpoint the attribution rule gives it (pipeline/metrics.py); volume, sentiment and negative
# share count feedback rows; time to resolution counts tickets, each once.
SCORECARD_SQL = f"""
WITH fb AS (
  SELECT touchpoint, grouping(touchpoint) AS g, CASE WHEN grouping(touchpoint) = 0 THEN min(journey_stage) END AS stage,
         count(*) AS volume,
         round(avg(sentiment_score), 3) AS sentiment,
         round(100.0 * avg(CASE WHEN sentiment_label = 'negative' THEN 1 ELSE 0 END), 1) AS negative_pct
  FROM feedback GROUP BY GROUPING SETS ((touchpoint), ())
), an AS (
  SELECT touchpoint, grouping(touchpoint) AS g,
         count(*) FILTER (WHERE kind = 'nps') AS n_nps, {nps_sql("CASE WHEN kind = 'nps' THEN value END", 1)} AS nps,
         count(*) FILTER (WHERE kind = 'csat') AS n_csat,
         {csat_top2_sql("CASE WHEN kind = 'csat' THEN value END", "scale", 1, percent=True)} AS csat_top2_pct,
         count(*) FILTER (WHERE kind = 'ces') AS n_ces, round(avg(CASE WHEN kind = 'ces' THEN value END), 2) AS ces_mean
  FROM answers GROUP BY GROUPING SETS ((touchpoint), ())
), tk AS (
  SELECT touchpoint, grouping(touchpoint) AS g, count(*) AS n_tickets,
         round(median(resolution_hours), 1) AS ttr_median_h
  FROM ({TICKETS_ATTRIBUTED_SQL}) GROUP BY GROUPING SETS ((touchpoint), ())
), keys AS (SELECT touchpoint, g FROM fb UNION SELECT touchpoint, g FROM an UNION SELECT touchpoint, g FROM tk)
SELECT CASE WHEN k.g = 1 THEN '(all)' ELSE k.touchpoint END AS touchpoint, fb.stage, coalesce(fb.volume, 0) AS volume,
  coalesce(an.n_nps, 0) AS n_nps, an.nps, coalesce(an.n_csat, 0) AS n_csat, an.csat_top2_pct,
  coalesce(an.n_ces, 0) AS n_ces, an.ces_mean, coalesce(tk.n_tickets, 0) AS n_tickets, tk.ttr_median_h,
  fb.sentiment, fb.negative_pct
FROM keys k
LEFT JOIN fb ON fb.g = k.g AND fb.touchpoint IS NOT DISTINCT FROM k.touchpoint
LEFT JOIN an ON an.g = k.g AND an.touchpoint IS NOT DISTINCT FROM k.touchpoint
LEFT JOIN tk ON tk.g = k.g AND tk.touchpoint IS NOT DISTINCT FROM k.touchpoint
ORDER BY k.g, volume DESC, n_nps DESC, k.touchpoint
"""
SCORECARD_NOTE = ("NPS in points (promoters 9-10 minus detractors 0-6) over survey answers, each answer counted once "
                  "at one touchpoint: the touchpoint of the interaction it answers (a review, chat or call with the "
                  "same order, ticket or conversation id), else the survey's own; n_nps, n_csat and n_ces count "
                  "answers. CSAT: share of top-2 boxes; CES: mean 1-7. Volume, sentiment (-1..1) and negative share "
                  "count feedback rows; time to resolution: median hours over tickets, each once. (all): every "
                  "answer, feedback row and ticket once.")

# Topics mentioned by the feedback joined to each NPS answer; every count is of answers, each once.
DRIVERS_SQL = f"""
WITH t AS (
  SELECT DISTINCT fs.nps_score_id AS score_id, se.topic
  FROM feedback_scores fs JOIN sentences se USING (feedback_id)
  WHERE fs.nps_score_id IS NOT NULL AND se.topic IS NOT NULL AND se.topic <> 'other'
), a AS (
  SELECT score_id, customer_id, value AS nps FROM answers
  WHERE kind = 'nps' AND score_id IN (SELECT nps_score_id FROM feedback_scores)
), base AS (
  SELECT count(*) FILTER (WHERE nps <= {DETRACTOR_MAX}) AS det, count(*) FILTER (WHERE nps >= {PROMOTER_MIN}) AS pro
  FROM a
)
SELECT t.topic, count(*) AS answers, count(DISTINCT a.customer_id) AS customers,
  count(*) FILTER (WHERE nps <= {DETRACTOR_MAX}) AS detractors,
  count(*) FILTER (WHERE nps >= {PROMOTER_MIN}) AS promoters,
  round(100.0 * count(*) FILTER (WHERE nps <= {DETRACTOR_MAX}) / nullif(any_value(base.det), 0), 1) AS pct_of_detractors,
  round(100.0 * count(*) FILTER (WHERE nps >= {PROMOTER_MIN}) / nullif(any_value(base.pro), 0), 1) AS pct_of_promoters,
  {nps_sql("nps", 1)} AS nps_when_mentioned
FROM t JOIN a USING (score_id), base GROUP BY t.topic ORDER BY pct_of_detractors DESC NULLS LAST, t.topic
"""
DRIVERS_NOTE = ("Counts are NPS answers, each once: an answer mentions a topic when any feedback row joined to it "
                "(same interaction, else the same customer within the join window) has a sentence on that topic. "
                "pct_of_detractors: share of the detractor answers with joined feedback that mention the topic; "
                "nps_when_mentioned: NPS over those answers; customers: distinct customers behind them.")

EFFORT_CES_LIMITS = (
    "Limits: the text score sees only the effort a customer writes about, so silence scores 0, not 'easy'. "
    "Each CES answer counts once, with the highest effort of the feedback joined to it (by interaction or, "
    "failing that, the same customer's feedback nearest in time, so a review can be paired with a CES about "
    "another contact). Most answers tie at 0 effort, which keeps r modest even when the cues are informative: "
    "compare the mean CES with and without a cue. The interval resamples customers. An association, not a cause.")


def _rows(con, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


# What each reader of ``collect`` needs: the report everything, the run's Prefect summary and the
# terminal a few parts (a run collects three times; the bootstrap intervals and the chart queries once).
SUMMARY_PARTS = ("run", "totals", "quarantine", "scorecard")
TERMINAL_PARTS = ("run", "totals", "scorecard", "drivers", "alerts", "followup_summary", "followup_open",
                  "effort_ces_overall")


def _queries(run_id: str | None) -> dict[str, Any]:
    """Each part of ``collect``: a function of the read-only connection."""
    daily = f"""SELECT coalesce(f.event_date, a.event_date) AS event_date,
        coalesce(f.volume, 0) AS volume, coalesce(a.n_nps, 0) AS n_nps, a.nps, f.sentiment
        FROM (SELECT event_date, count(*) AS volume, round(avg(sentiment_score), 3) AS sentiment
              FROM feedback WHERE event_date IS NOT NULL GROUP BY event_date) f
        FULL OUTER JOIN (SELECT event_date, count(*) AS n_nps, {nps_sql("value", 1)} AS nps FROM answers
              WHERE kind = 'nps' AND event_date IS NOT NULL GROUP BY event_date) a USING (event_date)
        ORDER BY event_date"""

    def sql(q: str):
        return lambda con: _rows(con, q)

    def run(con):
        rows = _rows(con, "SELECT * FROM runs WHERE run_id = ?" if run_id else
                     "SELECT * FROM runs ORDER BY finished_at DESC LIMIT 1", [run_id] if run_id else None)
        return rows[0] if rows else None

    return {
        "run": run,
        "totals": lambda con: _rows(con, """SELECT (SELECT count(*) FROM feedback) AS feedback,
            (SELECT count(*) FROM sentences) AS sentences, (SELECT count(*) FROM utterances) AS utterances,
            (SELECT count(*) FROM scores) AS scores, (SELECT count(*) FROM tickets) AS tickets,
            (SELECT count(*) FROM quarantine) AS quarantined,
            (SELECT count(*) FROM feedback_scores WHERE nps IS NULL AND csat IS NULL AND ces IS NULL
                AND ticket_id IS NULL) AS unmatched,
            (SELECT min(event_date) FROM feedback) AS first_day, (SELECT max(event_date) FROM feedback) AS last_day""")[0],
        "channels": sql("""SELECT channel, count(*) AS feedback, round(avg(sentiment_score), 3) AS sentiment,
            round(100.0 * avg(CASE WHEN sentiment_label = 'negative' THEN 1 ELSE 0 END), 1) AS negative_pct
            FROM feedback GROUP BY channel ORDER BY channel"""),
        "languages": sql("""SELECT language, count(*) AS feedback, round(avg(sentiment_score), 3) AS sentiment
            FROM feedback GROUP BY language ORDER BY feedback DESC, language"""),
        "scorecard": sql(SCORECARD_SQL),
        "drivers": sql(DRIVERS_SQL),
        "daily": sql(daily),
        "emerging": sql("SELECT * FROM emerging_topics ORDER BY size DESC, cluster_id LIMIT 10"),
        "quarantine": sql("""SELECT input_file, input_line, field, reason FROM quarantine
            ORDER BY input_file, input_line LIMIT 50"""),
        "key_drivers": drivers.stored,
        "alerts": alerts.latest,
        "followup": followup.report_rows,
        "followup_summary": followup.summary,
        "followup_open": lambda con: _rows(con, """SELECT count(*) AS n FROM followup_queue
            WHERE status IN ('open', 'in_progress')""")[0]["n"],
        "review_signals": manipulation.report_rows,
        "review_examples": manipulation.examples,
        "nps_trend": sql(charts.NPS_TREND_SQL),
        "topic_sentiment": sql(charts.TOPIC_SENTIMENT_SQL),
        "calls": call_analytics.summary,
        "call_rows": call_analytics.report_rows,
        "call_trajectories": call_analytics.trajectory_rows,
        "effort_ces_rows": sql(cx.EFFORT_CES_SQL),
    }


def collect(data_dir: str | os.PathLike, run_id: str | None = None,
            parts: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data; or only ``parts`` of it (``SUMMARY_PARTS``,
    ``TERMINAL_PARTS``). ``effort_ces`` is the effort-vs-CES table overall and per channel (customer
    bootstrap intervals); ``effort_ces_overall`` its first row alone, the same numbers (one seed per scope)."""
    queries = _queries(run_id)
    want = list(queries) + ["effort_ces"] if parts is None else list(parts)
    unknown = set(want) - set(queries) - {"effort_ces", "effort_ces_overall"}
    if unknown:
        raise ValueError(f"unknown report parts {sorted(unknown)}; known: {', '.join(queries)}, effort_ces, "
                         f"effort_ces_overall")
    con = connect(data_dir, read_only=True)
    try:
        data = {name: queries[name](con) for name in want if name in queries}
        if {"effort_ces", "effort_ces_overall"} & set(want) and "effort_ces_rows" not in data:
            data["effort_ces_rows"] = queries["effort_ces_rows"](con)
    finally:
        con.close()
    # overall and per channel, with a customer bootstrap interval (computed here, off the connection)
    if "effort_ces" in want:
        data["effort_ces"] = cx.effort_ces_table(data["effort_ces_rows"])
    if "effort_ces_overall" in want:
        data["effort_ces_overall"] = cx.effort_ces_table(data["effort_ces_rows"], per_channel=False)[0]
    return data


def calls_html(summary_rows: list[dict[str, Any]], calls: list[dict[str, Any]],
                trajectories: list[dict[str, Any]]) -> str:
    """The report's call section: the trajectory chart, the per-touchpoint summary and calls worth a listen."""
    parts = [f"<h2>Call analytics</h2><p class=muted>{html.escape(call_analytics.NOTE)}</p>"]
    if not summary_rows:
        return parts[0] + "<p class=muted>No calls in the store.</p>"
    parts.append(charts.figure(charts.call_trajectory_svg(trajectories)))
    for rows, title in ((summary_rows, "Calls per touchpoint"), (calls, "Calls worth a listen")):
        if not rows:
            continue
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td dir=auto>{html.escape('–' if v is None else str(v))}</td>"
                                        for v in r.values()) + "</tr>" for r in rows)
        parts.append(f"<h3>{html.escape(title)}</h3><table><tr>{head}</tr>{body}</table>")
    return "".join(parts)


def effort_ces_html(data: dict[str, Any]) -> str:
    """The report's effort-vs-CES section: a plain-language reading, its limits, the chart, the table."""
    table = data["effort_ces"]
    overall = table[0] if table else None
    stats = None
    if overall and overall["spearman_r"] is not None:
        ci = [overall["ci95_low"], overall["ci95_high"]] if overall["ci95_low"] is not None else None
        stats = {"spearman": overall["spearman_r"], "spearman_ci95": ci, "n": overall["n"]}
    chart = charts.effort_ces_svg(data.get("effort_ces_rows") or [], stats)
    return (charts.section("Effort in the text vs CES", charts.EFFORT_CES_NOTE, chart)
            + f"<p>{html.escape(cx.effort_ces_reading(overall))}</p>"
            + f"<p class=muted>{html.escape(EFFORT_CES_LIMITS)}</p>"
            + (_table(table, "Effort vs CES by channel",
                      "Spearman rank correlation of the text effort score with CES (1 very easy .. 7 very hard), "
                      "95% customer bootstrap interval; mean CES of rows with and without an effort cue")
               if overall and overall["n"] else ""))


def _over_capacity_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"touchpoint": r["touchpoint"], "reason": r["reason"], "cases": r["n"]}
            for r in summary.get("over_capacity_by") or []]


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _table(rows: list[dict[str, Any]], title: str, note: str = "") -> str:
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p class=muted>Nothing to show.</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    # dir="auto": each cell takes its direction from its own text (Persian and Arabic right to left)
    body = "".join("<tr>" + "".join(f"<td dir=auto>{html.escape(_fmt(r[c]))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    note_html = f"<p class=muted>{html.escape(note)}</p>" if note else ""
    return f"<h2>{html.escape(title)}</h2>{note_html}<table><tr>{head}</tr>{body}</table>"


def render_html(data: dict[str, Any]) -> str:
    run = data["run"] or {}
    counts = json.loads(run.get("counts") or "{}")
    count_rows = [{"channel": ch, **{k: c.get(k) for k in ("in", "out", "quarantined", "duplicates", "superseded",
                                                           "files")}}
                  for ch, c in sorted(counts.items())]
    warnings = [{"warning": w} for w in json.loads(run.get("warnings") or "[]")]
    models = json.loads(run.get("models") or "{}")
    t = data["totals"]
    cards = "".join(f"<div class=card><b>{_fmt(v)}</b><span>{html.escape(k)}</span></div>" for k, v in t.items())
    parts = [
        f"<!doctype html><html><head><meta charset=utf-8><meta name=generator content={GENERATOR}>"
        "<title>Touchpoint report</title><style>",
        # a font stack with Latin, CJK and Persian/Arabic coverage on Linux, macOS and Windows
        "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC','Noto Sans SC',",
        "'PingFang SC','Microsoft YaHei','Noto Naskh Arabic','Vazirmatn','Tahoma','DejaVu Sans',sans-serif;",
        "margin:2em auto;max-width:1100px;color:#222}td[dir=auto]{unicode-bidi:plaintext}",
        "table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}td,th{border-bottom:1px solid #ddd;",
        "padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}.muted{color:#777}",
        ".cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px}",
        ".card b{display:block;font-size:20px}.card span{color:#666;font-size:12px}</style></head><body>",
        "<h1>Touchpoint report</h1>",
        f"<p class=muted>Run {html.escape(str(run.get('run_id', '–')))} ({html.escape(str(run.get('flow', '')))}), "
        f"finished {html.escape(str(run.get('finished_at', '–')))}; config {html.escape(str(run.get('config_hash', '–')))}; "
        f"models: {html.escape(', '.join(f'{k} {v}' for k, v in models.items()))}</p>",
        f"<div class=cards>{cards}</div>",
        _table(count_rows, "This run: records per channel",
               "in = out + quarantined + duplicates + superseded for every channel, checked against the store; "
               f"{run.get('conflicts') or 0} records arrived again with different content (see the conflicts table)"),
        _table(warnings, "Warnings of this run") if warnings else "",
        _table(data["scorecard"], "Touchpoint scorecard", SCORECARD_NOTE),
        charts.section("NPS trend by touchpoint", charts.NPS_TREND_NOTE, charts.nps_trend_svg(data["nps_trend"])),
        _table(data["drivers"], "What drives detractors", DRIVERS_NOTE),
        charts.section("Alerts against their baseline", "", charts.alerts_svg(data["alerts"])) if data["alerts"] else "",
        _table(alerts.report_rows(data["alerts"]), "Alerts",
               "The run date against the previous 28 days per touchpoint x topic x channel; "
               "q = Benjamini-Hochberg adjusted p-value"),
        charts.section("Key drivers of NPS: effect plot", drivers.NOTE,
                       charts.drivers_effect_svg(data["key_drivers"], "overall", "nps", "negative_topics")),
        drivers.render_html(data["key_drivers"], "overall", "nps", "negative_topics"),
        drivers.render_html(data["key_drivers"], "overall", "nps", "signals"),
        effort_ces_html(data),
        _table(data["followup"], f"Follow-up queue ({data['followup_open']} open, most urgent first)",
               "One item per case (a detractor's answer with its comment's incidents, else a feedback row); P1 churn "
               "threat, anger, or a detractor with high effort or repeated contact; P2 other detractors; P3 other "
               "incidents. Due two days after the feedback; close with `touchpoint followup close ID --note ...` "
               "(text is PII-redacted)"),
        _table(_over_capacity_rows(data["followup_summary"]), "Follow-up cases over the daily capacity",
               "Counted, not opened: beyond followup.daily_capacity new items a day; "
               "`touchpoint followup summary` lists them, and importing one with status open takes it on"),
        charts.section("Negative share by topic and touchpoint", charts.HEATMAP_NOTE,
                       charts.topic_sentiment_heatmap_svg(data["topic_sentiment"])),
        calls_html(data["calls"], data["call_rows"], data["call_trajectories"]),
        _table(data["daily"], "Daily trend", "volume: feedback rows of the day; n_nps: NPS answers of the day, "
               "each once; NPS over those answers"),
        _table(data["channels"], "Channels"),
        _table(data["languages"], "Languages"),
        _table(data["review_signals"], "Review manipulation signals",
               "Counts per source and product: signals to check, not verdicts"),
        _table(data["review_examples"], "Review signal examples"),
        _table(data["emerging"], "Emerging topics (not in the taxonomy)",
               "Clusters of sentences the taxonomy labels 'other'; ids are hashes of their top terms"),
        _table(data["quarantine"], "Quarantined records", "Fix these at the source and rerun; nothing else was lost"),
        "</body></html>",
    ]
    return "\n".join(parts)


def run_markdown(data: dict[str, Any], report_path: str | None = None) -> str:
    """The run summary as markdown (a Prefect artifact): counts, quarantine, unmatched, models, warnings."""
    run = data["run"] or {}
    counts = json.loads(run.get("counts") or "{}")
    models = json.loads(run.get("models") or "{}")
    warnings = json.loads(run.get("warnings") or "[]")
    t = data["totals"]
    lines = [f"# Touchpoint run {run.get('run_id', '–')} ({run.get('flow', '')})", "",
             "| channel | in | out | quarantined | duplicates | superseded | files |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for ch, c in sorted(counts.items()):
        lines.append(f"| {ch} | {c.get('in')} | {c.get('out')} | {c.get('quarantined')} | {c.get('duplicates')} | "
                     f"{c.get('superseded', 0)} | {c.get('files')} |")
    lines += ["", f"- Store: {t['feedback']} feedback rows, {t['scores']} scores, {t['tickets']} tickets, "
              f"{t['quarantined']} quarantined records",
              f"- Feedback with no score or ticket match: {run.get('unmatched_feedback', t['unmatched'])}",
              f"- Records that arrived again with different content (conflicts): {run.get('conflicts') or 0}",
              f"- Feedback rows whose best score match was a tie (ambiguous): {run.get('ambiguous_matches') or 0}; "
              f"id matches refused because the customers differ: {run.get('id_customer_mismatches') or 0}",
              f"- Models: {', '.join(f'{k} `{v}`' for k, v in models.items())}; config `{run.get('config_hash')}`"]
    if report_path:
        lines.append(f"- HTML report: [{report_path}](file://{report_path})")
    if warnings:
        lines += ["", "## Warnings", *[f"- {w}" for w in warnings]]
    if data["quarantine"]:
        lines += ["", "## Quarantined (first 10)", "| file | line | field | reason |", "|---|---:|---|---|"]
        lines += [f"| {r['input_file']} | {r['input_line']} | {r['field'] or ''} | {str(r['reason'])[:80]} |"
                  for r in data["quarantine"][:10]]
    return "\n".join(lines)


GENERATOR = "touchpoint-report"


def _check_overwritable(path: Path) -> None:
    """Refuse to replace anything but a report this tool wrote (``--out data/touchpoint.duckdb``...)."""
    if path.is_symlink():
        raise StoreError(f"{path} is a symbolic link; refusing to write the report through it")
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"{path} exists and is not a file; choose another --out")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if f"name=generator content={GENERATOR}".encode() not in head:
        raise StoreError(f"{path} exists and is not a Touchpoint report; refusing to overwrite it. "
                         f"Choose another --out or remove the file yourself")


def write_report(data_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                 run_id: str | None = None) -> Path:
    path = Path(out) if out else Path(data_dir) / "reports" / "report.html"
    if path.suffix.lower() not in (".html", ".htm"):
        raise StoreError(f"{path}: the report is HTML; give --out a name ending in .html")
    _check_overwritable(path)  # before the queries and charts: a refused --out fails at once
    data = collect(data_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(render_html(data), encoding="utf-8")
    os.replace(tmp, path)
    return path


def terminal_summary(data_dir: str | os.PathLike, run_id: str | None = None) -> str:
    d = collect(data_dir, run_id, TERMINAL_PARTS)
    t = d["totals"]
    lines = [f"Store: {t['feedback']} feedback rows ({t['first_day']} .. {t['last_day']}), {t['sentences']} sentences, "
             f"{t['scores']} scores, {t['tickets']} tickets, {t['quarantined']} quarantined, "
             f"{t['unmatched']} feedback rows with no score or ticket match"
             + (f", {d['run'].get('ambiguous_matches') or 0} with a tied (ambiguous) match, "
                f"{d['run'].get('id_customer_mismatches') or 0} id matches refused (customers differ)"
                if d["run"] else "")]
    if d["run"]:
        counts = json.loads(d["run"]["counts"])
        lines.append("This run: " + "; ".join(
            f"{ch} {c['in']} in / {c['out']} out / {c['quarantined']} quarantined / {c['duplicates']} duplicate"
            + (f" / {c['superseded']} superseded" if c.get("superseded") else "")
            for ch, c in sorted(counts.items())))
    lines.append("Scorecard: volume counts feedback rows; n NPS/CSAT/CES count survey answers, each once at one "
                 "touchpoint (README: what each number counts)")
    lines.append(f"{'touchpoint':<12}{'volume':>8}{'n NPS':>7}{'NPS':>8}{'n CSAT':>7}{'CSAT%':>7}{'n CES':>6}{'CES':>6}"
                 f"{'TTR h':>7}{'sent.':>8}{'neg%':>7}")
    for r in d["scorecard"]:
        lines.append(f"{str(r['touchpoint']):<12}{r['volume']:>8}{r['n_nps']:>7}{_fmt(r['nps']):>8}{r['n_csat']:>7}"
                     f"{_fmt(r['csat_top2_pct']):>7}{r['n_ces']:>6}{_fmt(r['ces_mean']):>6}{_fmt(r['ttr_median_h']):>7}"
                     f"{_fmt(r['sentiment']):>8}{_fmt(r['negative_pct']):>7}")
    if d["drivers"]:
        top = d["drivers"][:3]
        lines.append("Top detractor topics: " + ", ".join(
            f"{r['topic']} ({_fmt(r['pct_of_detractors'])}% of detractor answers, NPS {_fmt(r['nps_when_mentioned'])} "
            f"over the {r['answers']} answers that mention it)"
            for r in top))
    lines.append("Effort in the text vs CES: " + cx.effort_ces_reading(d["effort_ces_overall"]))
    over = d["followup_summary"].get("over_capacity_pending") or 0
    lines.append(f"Follow-up queue: {d['followup_open']} open items, {over} over the daily capacity; alerts for the last day: {len(d['alerts'])} "
                 f"(see the report)")
    return "\n".join(lines)

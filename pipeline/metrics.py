"""CX metrics: pure functions (the definitions) and the SQL the store runs (the same definitions).

- NPS: share of promoters (9-10) minus share of detractors (0-6), in points (-100..100).
- CSAT: share of responses in the top two boxes of their scale (4-5 of 5, 6-7 of 7).
- CES: mean effort score (1-7). Time to resolution: median hours from opened to resolved.

The join links each feedback row to, per score kind, the score with the same ``interaction_id``;
failing that, the same customer's score nearest in time within ``window_s`` seconds; ties break
on the score id. Every feedback row appears exactly once in ``feedback_scores``; rows without any
match are counted as unmatched, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

# The one definition of each metric. Python and SQL below are built from these thresholds.
PROMOTER_MIN = 9  # NPS 9-10
DETRACTOR_MAX = 6  # NPS 0-6
CSAT_TOP_BOXES = 2  # top-2 boxes of the scale: 4-5 of 5, 6-7 of 7


def nps(scores: Iterable[float]) -> float | None:
    """Net Promoter Score in points (-100..100), rounded to 2 decimals; None without answers."""
    vals = [float(s) for s in scores if s is not None]
    if not vals:
        return None
    promoters = sum(v >= PROMOTER_MIN for v in vals)
    detractors = sum(v <= DETRACTOR_MAX for v in vals)
    return round(100.0 * (promoters - detractors) / len(vals), 2)


def csat_top2(scores: Iterable[float], scale: int) -> float | None:
    """Share (0..1) of CSAT answers in the top two boxes of their scale."""
    vals = [float(s) for s in scores if s is not None]
    if not vals:
        return None
    return round(sum(v > scale - CSAT_TOP_BOXES for v in vals) / len(vals), 4)


def nps_sql(col: str = "nps", digits: int = 2) -> str:
    """SQL aggregate expression for NPS over column ``col`` (same definition as ``nps``); standard SQL
    (``count(*) FILTER``), so the views built from it run on DuckDB and PostgreSQL alike."""
    return (f"CASE WHEN count({col}) > 0 THEN round(100.0 * (count(*) FILTER (WHERE {col} >= {PROMOTER_MIN}) - "
            f"count(*) FILTER (WHERE {col} <= {DETRACTOR_MAX})) / count({col}), {digits}) END")


def csat_top2_sql(col: str = "csat", scale_col: str = "csat_scale", digits: int = 4, percent: bool = False) -> str:
    """SQL aggregate expression for the CSAT top-2 share (same definition as ``csat_top2``)."""
    factor = "100.0 * " if percent else ""
    return (f"CASE WHEN count({col}) > 0 THEN round({factor}count(*) FILTER (WHERE {col} > {scale_col} - "
            f"{CSAT_TOP_BOXES}) / count({col}), {digits}) END")


FEEDBACK_SCORES_SQL = """
INSERT INTO feedback_scores
WITH cand AS (
    SELECT f.feedback_id, s.kind, s.value, s.scale, s.score_id, 0 AS tier, 0.0 AS dt
    FROM feedback f JOIN scores s ON s.interaction_id = f.interaction_id
    UNION ALL
    SELECT f.feedback_id, s.kind, s.value, s.scale, s.score_id, 1 AS tier,
           abs(epoch(s.occurred_at) - epoch(f.occurred_at)) AS dt
    FROM feedback f JOIN scores s ON s.customer_id = f.customer_id
    WHERE abs(epoch(s.occurred_at) - epoch(f.occurred_at)) <= $window_s
),
best AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY feedback_id, kind ORDER BY tier, dt, score_id) AS rn FROM cand
    ) WHERE rn = 1
),
tcand AS (
    SELECT f.feedback_id, t.ticket_id, t.resolution_hours, 0 AS tier, 0.0 AS dt
    FROM feedback f JOIN tickets t ON t.interaction_id = f.interaction_id
    UNION ALL
    SELECT f.feedback_id, t.ticket_id, t.resolution_hours, 1 AS tier,
           abs(epoch(t.opened_at) - epoch(f.occurred_at)) AS dt
    FROM feedback f JOIN tickets t ON t.customer_id = f.customer_id
    WHERE abs(epoch(t.opened_at) - epoch(f.occurred_at)) <= $window_s
),
tbest AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY feedback_id ORDER BY tier, dt, ticket_id) AS rn FROM tcand
    ) WHERE rn = 1
)
SELECT f.feedback_id,
    max(CASE WHEN b.kind = 'nps' THEN b.value END) AS nps,
    max(CASE WHEN b.kind = 'nps' THEN CASE b.tier WHEN 0 THEN 'interaction' ELSE 'customer_window' END END),
    max(CASE WHEN b.kind = 'csat' THEN b.value END) AS csat,
    max(CASE WHEN b.kind = 'csat' THEN b.scale END),
    max(CASE WHEN b.kind = 'csat' THEN CASE b.tier WHEN 0 THEN 'interaction' ELSE 'customer_window' END END),
    max(CASE WHEN b.kind = 'ces' THEN b.value END) AS ces,
    max(CASE WHEN b.kind = 'ces' THEN CASE b.tier WHEN 0 THEN 'interaction' ELSE 'customer_window' END END),
    any_value(t.ticket_id), any_value(t.resolution_hours),
    any_value(CASE t.tier WHEN 0 THEN 'interaction' WHEN 1 THEN 'customer_window' END)
FROM feedback f
LEFT JOIN best b ON b.feedback_id = f.feedback_id
LEFT JOIN tbest t ON t.feedback_id = f.feedback_id
GROUP BY f.feedback_id
"""

AGGREGATES_SQL = f"""
INSERT INTO aggregates
WITH j AS (
    SELECT f.*, s.nps, s.csat, s.csat_scale, s.ces, s.ticket_id, s.resolution_hours
    FROM feedback f JOIN feedback_scores s USING (feedback_id)
),
topic_counts AS (
    SELECT event_date, touchpoint, channel, language, top_topic, count(*) AS n
    FROM j WHERE top_topic <> 'other' GROUP BY ALL
),
tops AS (
    SELECT event_date, touchpoint, channel, language,
           string_agg(top_topic || ' (' || n || ')', ', ' ORDER BY n DESC, top_topic) AS top_topics
    FROM (SELECT *, row_number() OVER (PARTITION BY event_date, touchpoint, channel, language
                                       ORDER BY n DESC, top_topic) AS r FROM topic_counts)
    WHERE r <= 3 GROUP BY ALL
)
SELECT g.*, tops.top_topics FROM (
    SELECT event_date, touchpoint, channel, language,
        count(*) AS volume,
        count(nps) AS n_nps,
        {nps_sql("nps")},
        count(csat) AS n_csat,
        {csat_top2_sql("csat", "csat_scale")},
        count(ces) AS n_ces,
        round(avg(ces), 4),
        count(ticket_id),
        round(median(resolution_hours), 4),
        round(avg(sentiment_score), 4),
        round(avg(CASE WHEN sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END), 4)
    FROM j GROUP BY event_date, touchpoint, channel, language
) g LEFT JOIN tops
  ON g.event_date IS NOT DISTINCT FROM tops.event_date AND g.touchpoint IS NOT DISTINCT FROM tops.touchpoint
 AND g.channel = tops.channel AND g.language IS NOT DISTINCT FROM tops.language
"""

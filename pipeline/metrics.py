"""CX metrics: pure functions (the definitions) and the SQL the store runs (the same definitions).

- NPS: share of promoters (9-10) minus share of detractors (0-6), in points (-100..100).
- CSAT: share of responses in the top two boxes of their scale (4-5 of 5, 6-7 of 7).
- CES: mean effort score (1-7). Time to resolution: median hours from opened to resolved.

Two tables, two units:

- ``answers``: one row per survey answer (NPS, CSAT, CES), attributed to exactly one touchpoint.
  Every aggregate (scorecard, ``aggregates``, the ``v_nps_*`` views, the trend chart, the driver
  denominators) counts answers from here, so each answer counts once. The rule, in order:
  1. the answered interaction's touchpoint: a feedback row of another channel (a review, chat or
     call, not the survey's own comment) with the same interaction id, of the same id kind where
     both sides know it (order, ticket, conversation) and of the same customer where both know it;
     several such rows: the earliest, then the lowest feedback id;
  2. else the survey's own touchpoint (its ``touchpoint`` field);
  3. else the touchpoint of the survey's own comment;
  4. else ``(none)``.
  Tickets (time to resolution) are attributed the same way, each ticket once.
- ``feedback_scores``: for reading, one row per feedback row with, per score kind, the joined
  answer: the score with the same interaction id (same kind and customer where both know them);
  failing that, the same customer's score nearest in time within ``window_s`` seconds; ties break
  on the score id and are flagged in ``ambiguous_kinds``. One answer may appear on several
  feedback rows here (a review, a chat and a comment of one customer), which is why no aggregate
  reads it. Every feedback row appears exactly once; rows without any match are counted as
  unmatched, never dropped.
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



# An id match: same id; same id kind and same customer wherever both sides know them.
def id_match(a: str, b: str) -> str:
    return (f"{a}.interaction_id = {b}.interaction_id AND ({a}.interaction_kind IS NULL OR "
            f"{b}.interaction_kind IS NULL OR {a}.interaction_kind = {b}.interaction_kind) AND "
            f"({a}.customer_id IS NULL OR {b}.customer_id IS NULL OR {a}.customer_id = {b}.customer_id)")


FEEDBACK_SCORES_SQL = f"""
INSERT INTO feedback_scores (feedback_id, nps, nps_match, nps_score_id, csat, csat_scale, csat_match, csat_score_id,
    ces, ces_match, ces_score_id, ticket_id, resolution_hours, ticket_match, ambiguous_kinds)
WITH cand AS (
    SELECT f.feedback_id, s.kind, s.value, s.scale, s.score_id, 0 AS tier, 0.0 AS dt
    FROM feedback f JOIN scores s ON {id_match("s", "f")}
    UNION ALL
    SELECT f.feedback_id, s.kind, s.value, s.scale, s.score_id, 1 AS tier,
           abs(epoch(s.occurred_at) - epoch(f.occurred_at)) AS dt
    FROM feedback f JOIN scores s ON s.customer_id = f.customer_id
    WHERE abs(epoch(s.occurred_at) - epoch(f.occurred_at)) <= $window_s
),
best AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY feedback_id, kind ORDER BY tier, dt, score_id) AS rn,
               count(*) OVER (PARTITION BY feedback_id, kind, tier, dt) AS ties FROM cand
    ) WHERE rn = 1
),
tcand AS (
    SELECT f.feedback_id, t.ticket_id, t.resolution_hours, 0 AS tier, 0.0 AS dt
    FROM feedback f JOIN tickets t ON {id_match("t", "f")}
    UNION ALL
    SELECT f.feedback_id, t.ticket_id, t.resolution_hours, 1 AS tier,
           abs(epoch(t.opened_at) - epoch(f.occurred_at)) AS dt
    FROM feedback f JOIN tickets t ON t.customer_id = f.customer_id
    WHERE abs(epoch(t.opened_at) - epoch(f.occurred_at)) <= $window_s
),
tbest AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (PARTITION BY feedback_id ORDER BY tier, dt, ticket_id) AS rn,
               count(*) OVER (PARTITION BY feedback_id, tier, dt) AS ties FROM tcand
    ) WHERE rn = 1
)
SELECT f.feedback_id,
    max(CASE WHEN b.kind = 'nps' THEN b.value END) AS nps,
    max(CASE WHEN b.kind = 'nps' THEN CASE b.tier WHEN 0 THEN 'interaction' ELSE 'customer_window' END END),
    max(CASE WHEN b.kind = 'nps' THEN b.score_id END),
    max(CASE WHEN b.kind = 'csat' THEN b.value END) AS csat,
    max(CASE WHEN b.kind = 'csat' THEN b.scale END),
    max(CASE WHEN b.kind = 'csat' THEN CASE b.tier WHEN 0 THEN 'interaction' ELSE 'customer_window' END END),
    max(CASE WHEN b.kind = 'csat' THEN b.score_id END),
    max(CASE WHEN b.kind = 'ces' THEN b.value END) AS ces,
    max(CASE WHEN b.kind = 'ces' THEN CASE b.tier WHEN 0 THEN 'interaction' ELSE 'customer_window' END END),
    max(CASE WHEN b.kind = 'ces' THEN b.score_id END),
    any_value(t.ticket_id), any_value(t.resolution_hours),
    any_value(CASE t.tier WHEN 0 THEN 'interaction' WHEN 1 THEN 'customer_window' END),
    nullif(concat_ws(',', string_agg(CASE WHEN b.ties > 1 THEN b.kind END, ',' ORDER BY b.kind),
                     any_value(CASE WHEN t.ties > 1 THEN 'ticket' END)), '')
FROM feedback f
LEFT JOIN best b ON b.feedback_id = f.feedback_id
LEFT JOIN tbest t ON t.feedback_id = f.feedback_id
GROUP BY f.feedback_id
"""

# Id matches refused because both sides name a customer and the customers differ (counted per run).
ID_CUSTOMER_MISMATCH_SQL = """
SELECT count(*) FROM (
    SELECT DISTINCT f.feedback_id, s.score_id FROM feedback f JOIN scores s ON s.interaction_id = f.interaction_id
      AND (s.interaction_kind IS NULL OR f.interaction_kind IS NULL OR s.interaction_kind = f.interaction_kind)
    WHERE s.customer_id IS NOT NULL AND f.customer_id IS NOT NULL AND s.customer_id <> f.customer_id
    UNION ALL
    SELECT DISTINCT f.feedback_id, t.ticket_id FROM feedback f JOIN tickets t ON t.interaction_id = f.interaction_id
      AND (t.interaction_kind IS NULL OR f.interaction_kind IS NULL OR t.interaction_kind = f.interaction_kind)
    WHERE t.customer_id IS NOT NULL AND f.customer_id IS NOT NULL AND t.customer_id <> f.customer_id)
"""


def _attributed(table: str, id_col: str) -> str:
    """The attribution rule (module docstring) for the rows of ``scores`` or ``tickets``, as a query
    with one row per ``id_col``: touchpoint, attribution, feedback_id, channel, language."""
    own = ("LEFT JOIN feedback o ON o.channel = 'survey' AND o.source = x.source "
           "AND x.score_id = o.source || ':' || o.source_id || ':' || x.kind") if table == "scores" else \
        "LEFT JOIN (SELECT NULL AS feedback_id, NULL AS touchpoint, NULL AS language) o ON false"
    return f"""
    SELECT x.{id_col},
        coalesce(i.touchpoint, x.touchpoint, o.touchpoint, '(none)') AS touchpoint,
        CASE WHEN i.feedback_id IS NOT NULL THEN 'interaction' WHEN x.touchpoint IS NOT NULL THEN 'survey'
             WHEN o.touchpoint IS NOT NULL THEN 'survey_comment' ELSE 'none' END AS attribution,
        coalesce(i.feedback_id, o.feedback_id) AS feedback_id,
        CASE WHEN i.feedback_id IS NOT NULL THEN i.channel ELSE '{"survey" if table == "scores" else "ticket"}' END
            AS channel,
        CASE WHEN i.feedback_id IS NOT NULL THEN i.language ELSE o.language END AS language
    FROM {table} x
    LEFT JOIN (
        SELECT x.{id_col}, f.feedback_id, f.touchpoint, f.channel, f.language,
               row_number() OVER (PARTITION BY x.{id_col} ORDER BY f.occurred_at NULLS LAST, f.feedback_id) AS rn
        FROM {table} x JOIN feedback f ON {id_match("x", "f")} AND f.channel <> 'survey'
    ) i ON i.{id_col} = x.{id_col} AND i.rn = 1
    {own}"""


ANSWERS_SQL = f"""
INSERT INTO answers (score_id, kind, value, scale, customer_id, occurred_at, event_date, touchpoint, attribution,
    feedback_id, channel, language)
SELECT s.score_id, s.kind, s.value, s.scale, s.customer_id, s.occurred_at, CAST(s.occurred_at AS DATE),
       a.touchpoint, a.attribution, a.feedback_id, a.channel, a.language
FROM scores s JOIN ({_attributed("scores", "score_id")}) a USING (score_id)
"""

# Tickets, each once, with the touchpoint of the rule above (no survey comment step).
TICKETS_ATTRIBUTED_SQL = f"""
SELECT t.ticket_id, t.resolution_hours, CAST(t.opened_at AS DATE) AS event_date, a.touchpoint, a.channel,
       a.language
FROM tickets t JOIN ({_attributed("tickets", "ticket_id")}) a USING (ticket_id)
"""

_CELL = ("event_date", "touchpoint", "channel", "language")
_SAME_CELL = " AND ".join(f"c.{k} IS NOT DISTINCT FROM {{t}}.{k}" for k in _CELL)

AGGREGATES_SQL = f"""
INSERT INTO aggregates (event_date, touchpoint, channel, language, volume, n_nps, nps, n_csat, csat_top2, n_ces,
    ces_mean, n_tickets, ttr_median_hours, sentiment_mean, share_negative, top_topics)
WITH fb AS (
    SELECT event_date, touchpoint, channel, language, count(*) AS volume,
           round(avg(sentiment_score), 4) AS sentiment_mean,
           round(avg(CASE WHEN sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END), 4) AS share_negative
    FROM feedback GROUP BY ALL
),
av AS (
    SELECT *, CASE WHEN kind = 'nps' THEN value END AS nps, CASE WHEN kind = 'csat' THEN value END AS csat,
           CASE WHEN kind = 'csat' THEN scale END AS csat_scale, CASE WHEN kind = 'ces' THEN value END AS ces
    FROM answers
),
an AS (
    SELECT event_date, touchpoint, channel, language, count(nps) AS n_nps, {nps_sql("nps")} AS nps,
           count(csat) AS n_csat, {csat_top2_sql("csat", "csat_scale")} AS csat_top2,
           count(ces) AS n_ces, round(avg(ces), 4) AS ces_mean
    FROM av GROUP BY ALL
),
tk AS (
    SELECT event_date, touchpoint, channel, language, count(*) AS n_tickets,
           round(median(resolution_hours), 4) AS ttr_median_hours
    FROM ({TICKETS_ATTRIBUTED_SQL}) GROUP BY ALL
),
cells AS (
    SELECT event_date, touchpoint, channel, language FROM fb UNION SELECT event_date, touchpoint, channel, language
    FROM an UNION SELECT event_date, touchpoint, channel, language FROM tk
),
topic_counts AS (
    SELECT event_date, touchpoint, channel, language, top_topic, count(*) AS n
    FROM feedback WHERE top_topic <> 'other' GROUP BY ALL
),
tops AS (
    SELECT event_date, touchpoint, channel, language,
           string_agg(top_topic || ' (' || n || ')', ', ' ORDER BY n DESC, top_topic) AS top_topics
    FROM (SELECT *, row_number() OVER (PARTITION BY event_date, touchpoint, channel, language
                                       ORDER BY n DESC, top_topic) AS r FROM topic_counts)
    WHERE r <= 3 GROUP BY ALL
)
SELECT c.event_date, c.touchpoint, c.channel, c.language, coalesce(fb.volume, 0), coalesce(an.n_nps, 0), an.nps,
       coalesce(an.n_csat, 0), an.csat_top2, coalesce(an.n_ces, 0), an.ces_mean, coalesce(tk.n_tickets, 0),
       tk.ttr_median_hours, fb.sentiment_mean, fb.share_negative, tops.top_topics
FROM cells c
LEFT JOIN fb ON {_SAME_CELL.format(t="fb")}
LEFT JOIN an ON {_SAME_CELL.format(t="an")}
LEFT JOIN tk ON {_SAME_CELL.format(t="tk")}
LEFT JOIN tops ON {_SAME_CELL.format(t="tops")}
"""

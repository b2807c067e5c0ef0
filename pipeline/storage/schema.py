"""The store's schema: every table and view, in one place (DuckDB types; pgstore maps them).

Stages write the input tables, publish derives the answer/aggregate tables, the analytics modules
fill their own tables from the published store; all of them take their DDL from here, so the
store never imports an analysis module. Imports: pipeline.metrics only (the SQL of NPS/CSAT/CES).
"""
from __future__ import annotations
from pipeline.metrics import DETRACTOR_MAX, PROMOTER_MIN, csat_top2_sql, nps_sql

SCHEMA = {
    "feedback": """feedback_id VARCHAR, channel VARCHAR, source VARCHAR, source_id VARCHAR, customer_id VARCHAR,
        interaction_id VARCHAR, touchpoint VARCHAR, journey_stage VARCHAR, occurred_at TIMESTAMP,
        event_date DATE, language VARCHAR, language_confidence DOUBLE, text VARCHAR, rating DOUBLE,
        rating_scale INTEGER, n_utterances INTEGER, pii_redacted INTEGER, input_file VARCHAR,
        input_line INTEGER, sentiment_label VARCHAR, sentiment_score DOUBLE, top_topic VARCHAR,
        topics VARCHAR, n_sentences INTEGER, sentiment_model VARCHAR, topic_model VARCHAR,
        config_hash VARCHAR, content_hash VARCHAR, emotion VARCHAR, emotion_score DOUBLE, effort_score DOUBLE,
        effort_cues VARCHAR, intent VARCHAR, intent_score DOUBLE, cx_models VARCHAR, interaction_kind VARCHAR,
        version_ts TIMESTAMP, file_sha256 VARCHAR""",
    "utterances": """feedback_id VARCHAR, turn INTEGER, role VARCHAR, speaker VARCHAR, said_at TIMESTAMP,
        start_s DOUBLE, end_s DOUBLE, text VARCHAR, emotion VARCHAR, emotion_score DOUBLE, effort_score DOUBLE,
        effort_cues VARCHAR, intent VARCHAR, intent_score DOUBLE""",
    "sentences": """feedback_id VARCHAR, idx INTEGER, language VARCHAR, text VARCHAR, sentiment_label VARCHAR,
        sentiment_score DOUBLE, p_negative DOUBLE, p_positive DOUBLE, topic VARCHAR, topic_score DOUBLE,
        sentiment_model VARCHAR, topic_model VARCHAR, subtopic VARCHAR""",
    "scores": """score_id VARCHAR, kind VARCHAR, value DOUBLE, scale INTEGER, customer_id VARCHAR,
        interaction_id VARCHAR, occurred_at TIMESTAMP, source VARCHAR, touchpoint VARCHAR,
        input_file VARCHAR, input_line INTEGER, content_hash VARCHAR, interaction_kind VARCHAR,
        version_ts TIMESTAMP, file_sha256 VARCHAR""",
    "tickets": """ticket_id VARCHAR, customer_id VARCHAR, interaction_id VARCHAR, opened_at TIMESTAMP,
        resolved_at TIMESTAMP, resolution_hours DOUBLE, status VARCHAR, source VARCHAR, touchpoint VARCHAR,
        input_file VARCHAR, input_line INTEGER, content_hash VARCHAR, interaction_kind VARCHAR,
        version_ts TIMESTAMP, file_sha256 VARCHAR""",
    "quarantine": """input_file VARCHAR, input_line INTEGER, channel VARCHAR, source VARCHAR, field VARCHAR,
        reason VARCHAR, raw VARCHAR, record_hash VARCHAR, file_sha256 VARCHAR""",
    "feedback_scores": """feedback_id VARCHAR, nps DOUBLE, nps_match VARCHAR, csat DOUBLE, csat_scale INTEGER,
        csat_match VARCHAR, ces DOUBLE, ces_match VARCHAR, ticket_id VARCHAR, resolution_hours DOUBLE,
        ticket_match VARCHAR, nps_score_id VARCHAR, csat_score_id VARCHAR, ces_score_id VARCHAR,
        ambiguous_kinds VARCHAR""",
    # One row per survey answer, attributed to one touchpoint (pipeline/metrics.py): what aggregates count.
    "answers": """score_id VARCHAR, kind VARCHAR, value DOUBLE, scale INTEGER, customer_id VARCHAR,
        occurred_at TIMESTAMP, event_date DATE, touchpoint VARCHAR, attribution VARCHAR, feedback_id VARCHAR,
        channel VARCHAR, language VARCHAR""",
    "aggregates": """event_date DATE, touchpoint VARCHAR, channel VARCHAR, language VARCHAR, volume BIGINT,
        n_nps BIGINT, nps DOUBLE, n_csat BIGINT, csat_top2 DOUBLE, n_ces BIGINT, ces_mean DOUBLE,
        n_tickets BIGINT, ttr_median_hours DOUBLE, sentiment_mean DOUBLE, share_negative DOUBLE,
        top_topics VARCHAR""",
    "emerging_topics": """cluster_id VARCHAR, terms VARCHAR, size INTEGER, example VARCHAR, languages VARCHAR""",
    "runs": """run_id VARCHAR, flow VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
        config_hash VARCHAR, models VARCHAR, counts VARCHAR, files INTEGER, unmatched_feedback INTEGER,
        conflicts INTEGER, warnings VARCHAR, ambiguous_matches INTEGER, id_customer_mismatches INTEGER""",
    # History of keys that arrived again with different content: the later record wins, nothing silently.
    "conflicts": """run_id VARCHAR, table_name VARCHAR, record_key VARCHAR, kind VARCHAR, previous_hash VARCHAR,
        new_hash VARCHAR, previous_file VARCHAR, previous_line INTEGER, new_file VARCHAR, new_line INTEGER""",
    # What the store holds from each input file, and which config and model versions produced it.
    # ingest_seq: the file's position in the order this store first saw its content (the version tie-break).
    "ingested_files": """sha256 VARCHAR, input_file VARCHAR, source VARCHAR, run_id VARCHAR, rows_in INTEGER,
        path VARCHAR, config_hash VARCHAR, models VARCHAR, ingest_seq BIGINT""",
    # analysis table(s): key drivers (pipeline/analytics/drivers.py), recomputed after each publish
    "key_drivers": """scope VARCHAR, metric VARCHAR, family VARCHAR, driver VARCHAR, effect DOUBLE,
        ci_low DOUBLE, ci_high DOUBLE, p_value DOUBLE, n_with INTEGER, n_without INTEGER, n_total INTEGER,
        clusters INTEGER, mean_with DOUBLE, mean_without DOUBLE, small_n BOOLEAN, unit VARCHAR,
        adjusted_for VARCHAR""",
    # analysis table(s): follow-up queue (pipeline/analytics/followup.py), recomputed after each publish
    "followup_queue": """item_id VARCHAR, record_id VARCHAR, reason VARCHAR, feedback_id VARCHAR,
        customer_id VARCHAR, interaction_id VARCHAR, channel VARCHAR, touchpoint VARCHAR, language VARCHAR,
        excerpt VARCHAR, nps DOUBLE, priority INTEGER, occurred_at TIMESTAMP, due_at TIMESTAMP,
        created_run_date DATE, status VARCHAR, note VARCHAR, closed_at TIMESTAMP, status_updated_at TIMESTAMP,
        reasons VARCHAR, intake VARCHAR""",
    # analysis table(s): alerts (pipeline/analytics/alerts.py), recomputed after each publish
    "alerts": """alert_id VARCHAR, run_date DATE, kind VARCHAR, touchpoint VARCHAR, topic VARCHAR,
        channel VARCHAR, observed DOUBLE, expected DOUBLE, n_today BIGINT, n_baseline BIGINT,
        baseline_days INTEGER, p_value DOUBLE, q_value DOUBLE, message VARCHAR, delivery VARCHAR""",
    # analysis table(s): review-manipulation signals (pipeline/analytics/manipulation.py), recomputed after each publish
    "manipulation_signals": """signal VARCHAR, source VARCHAR, product VARCHAR, feedback_id VARCHAR,
        source_id VARCHAR, customer_id VARCHAR, event_date DATE, group_key VARCHAR, score DOUBLE,
        detail VARCHAR""",
    # analysis table(s): call metrics (pipeline/analytics/call_analytics.py), recomputed after each publish
    "call_metrics": """feedback_id VARCHAR, touchpoint VARCHAR, event_date DATE, language VARCHAR,
        n_turns INTEGER, n_customer_turns INTEGER, n_speakers INTEGER, duration_s DOUBLE, talk_basis VARCHAR,
        agent_talk_share DOUBLE, customer_talk_share DOUBLE, longest_silence_s DOUBLE, silence_at_s DOUBLE,
        interruptions INTEGER, agent_interruptions INTEGER, customer_interruptions INTEGER, transfers INTEGER,
        transferred BOOLEAN, transfer_reason VARCHAR, sentiment_start DOUBLE, sentiment_end DOUBLE,
        sentiment_delta DOUBLE, trajectory VARCHAR, trajectory_basis VARCHAR, roles_suspect BOOLEAN,
        roles_reason VARCHAR, agent_speaker VARCHAR""",
    # analysis table(s): emerging topics (pipeline/analytics/emerging.py), recomputed after each publish
    "discovered_topics": """topic_id VARCHAR, status VARCHAR, terms VARCHAR, suggested_parent VARCHAR,
        first_seen DATE, last_seen DATE, volume BIGINT, last_run_sentences BIGINT, growth DOUBLE,
        languages VARCHAR, examples VARCHAR, centroid FLOAT[], promoted_to VARCHAR""",
    "discovered_assignments": """feedback_id VARCHAR, idx INTEGER, text_md5 VARCHAR, topic_id VARCHAR,
        similarity DOUBLE, run_date DATE""",
    "discovered_topic_volume": """run_date DATE, topic_id VARCHAR, language VARCHAR, sentences BIGINT""",
    "discovery_runs": """run_date DATE, language VARCHAR, sentences BIGINT, assigned BIGINT, new_topics BIGINT,
        outliers BIGINT, outlier_share DOUBLE, threshold DOUBLE""",
    "discovery_language_means": """language VARCHAR, mean FLOAT[]""",
}

# Natural keys used for upserts (no PRIMARY KEY constraints: delete-then-insert in one transaction).
KEYS = {
    "feedback": ["feedback_id"], "utterances": ["feedback_id", "turn"], "sentences": ["feedback_id", "idx"],
    "scores": ["score_id"], "tickets": ["ticket_id"], "quarantine": ["source", "record_hash", "input_line"],
}
# Tables whose rows are input records: their key decides duplicates and conflicts.
PARENTS = {"feedback": "feedback_id", "scores": "score_id", "tickets": "ticket_id"}
CHILDREN = ("utterances", "sentences")
# Readable key recorded in the conflicts table.
# Data tables compared by the determinism tests (run bookkeeping excluded).
DATA_TABLES = ["feedback", "utterances", "sentences", "scores", "tickets", "quarantine", "feedback_scores",
               "answers", "aggregates", "key_drivers", "alerts", "manipulation_signals", "followup_queue", "call_metrics"]


# Documented views for BI tools and analysts (docs/analysts.md); recreated on every connect.
# Written in SQL that DuckDB and PostgreSQL both run (a shared store gets the same views: pipeline/storage/pgstore.py).
VIEWS = {
    # answers counted once each (pipeline/metrics.py: the attribution rule); volume and sentiment per
    # feedback row, on the same day and touchpoint
    "v_nps_by_touchpoint_day": f"""
        SELECT coalesce(a.event_date, f.event_date) AS event_date, coalesce(a.touchpoint, f.touchpoint) AS touchpoint,
               coalesce(f.volume, 0) AS volume, coalesce(a.n_nps, 0) AS n_nps, a.nps, f.sentiment
        FROM (SELECT event_date, touchpoint, count(*) AS n_nps, {nps_sql("value", 1)} AS nps FROM answers
              WHERE kind = 'nps' GROUP BY event_date, touchpoint) a
        FULL OUTER JOIN (SELECT event_date, touchpoint, count(*) AS volume, round(avg(sentiment_score), 3) AS sentiment
              FROM feedback GROUP BY event_date, touchpoint) f
          ON a.event_date = f.event_date AND a.touchpoint = f.touchpoint""",
    # per touchpoint: answers (each once) and the figure over them
    "v_answers_by_touchpoint": f"""
        SELECT touchpoint, count(*) FILTER (WHERE kind = 'nps') AS n_nps,
               {nps_sql("CASE WHEN kind = 'nps' THEN value END", 1)} AS nps,
               count(*) FILTER (WHERE kind = 'csat') AS n_csat,
               {csat_top2_sql("CASE WHEN kind = 'csat' THEN value END", "scale", 1, percent=True)} AS csat_top2_pct,
               count(*) FILTER (WHERE kind = 'ces') AS n_ces,
               round(avg(CASE WHEN kind = 'ces' THEN value END), 2) AS ces_mean
        FROM answers GROUP BY touchpoint""",
    # NPS answers whose customer's joined feedback mentions a topic: answers and customers, each once
    "v_nps_when_topic_mentioned": f"""
        SELECT m.topic, count(*) AS answers, count(DISTINCT a.customer_id) AS customers,
               count(*) FILTER (WHERE a.value <= {DETRACTOR_MAX}) AS detractors,
               count(*) FILTER (WHERE a.value >= {PROMOTER_MIN}) AS promoters, {nps_sql("a.value", 1)} AS nps
        FROM (SELECT DISTINCT fs.nps_score_id AS score_id, se.topic FROM feedback_scores fs
              JOIN sentences se ON se.feedback_id = fs.feedback_id
              WHERE fs.nps_score_id IS NOT NULL AND se.topic IS NOT NULL AND se.topic <> 'other') m
        JOIN answers a ON a.score_id = m.score_id GROUP BY m.topic""",
    "v_topic_sentiment_by_touchpoint": """
        SELECT f.touchpoint, s.topic, count(*) AS sentences,
               count(*) FILTER (WHERE s.sentiment_label = 'negative') AS negative,
               count(*) FILTER (WHERE s.sentiment_label = 'neutral') AS neutral,
               count(*) FILTER (WHERE s.sentiment_label = 'positive') AS positive,
               round(avg(s.sentiment_score), 3) AS sentiment
        FROM sentences s JOIN feedback f USING (feedback_id) GROUP BY f.touchpoint, s.topic""",
    # for reading: each feedback row joined to a detractor answer (one answer may show on several rows)
    "v_detractor_reasons": f"""
        SELECT f.feedback_id, f.channel, f.touchpoint, f.language, f.event_date, fs.nps, fs.nps_score_id,
               f.top_topic, f.topics, f.sentiment_label, f.text
        FROM feedback f JOIN feedback_scores fs USING (feedback_id)
        WHERE fs.nps <= {DETRACTOR_MAX}""",
}

# Views over the emerging-topic tables (created by pipeline/analytics/emerging.py when it runs).
EMERGING_VIEWS = {
    "v_topic_sentiment_daily": """
        SELECT f.event_date, f.touchpoint, s.topic, count(*) AS sentences,
               count(DISTINCT s.feedback_id) AS feedback,
               round(avg(CASE WHEN s.sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END), 4) AS share_negative,
               round(avg(s.sentiment_score), 4) AS mean_sentiment
        FROM sentences s JOIN feedback f USING (feedback_id)
        GROUP BY f.event_date, f.touchpoint, s.topic""",
    "v_discovered_sentiment_daily": """
        SELECT f.event_date, f.touchpoint, a.topic_id, d.terms, d.status, count(*) AS sentences,
               round(avg(CASE WHEN s.sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END), 4) AS share_negative,
               round(avg(s.sentiment_score), 4) AS mean_sentiment
        FROM discovered_assignments a
        JOIN sentences s ON s.feedback_id = a.feedback_id AND s.idx = a.idx AND md5(s.text) = a.text_md5
        JOIN feedback f ON f.feedback_id = a.feedback_id
        JOIN discovered_topics d ON d.topic_id = a.topic_id
        GROUP BY f.event_date, f.touchpoint, a.topic_id, d.terms, d.status""",
    "v_subtopic_sentiment_daily": """
        SELECT f.event_date, f.touchpoint, s.topic, s.subtopic, count(*) AS sentences,
               round(avg(CASE WHEN s.sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END), 4) AS share_negative,
               round(avg(s.sentiment_score), 4) AS mean_sentiment
        FROM sentences s JOIN feedback f USING (feedback_id)
        GROUP BY f.event_date, f.touchpoint, s.topic, s.subtopic""",
}
VIEWS.update(EMERGING_VIEWS)


def columns(table: str) -> list[str]:
    return [c.strip().split()[0] for c in SCHEMA[table].split(",")]

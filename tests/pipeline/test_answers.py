"""RELIABILITY 17: every aggregate counts an answer once, at one touchpoint (pipeline/metrics.py)."""

from __future__ import annotations

import pytest

from pipeline import metrics
from pipeline.reporting import report
from pipeline.storage.store import connect

# One customer (C1) wrote a review about order 1001, chatted about it and answered the survey with a
# comment: three feedback rows joined to ONE NPS answer. C2 answered without writing anything.
FEEDBACK = [  # feedback_id, channel, source, source_id, customer, interaction, kind, touchpoint, day, sentiment
    ("F1", "review", "shop", "R1", "C1", "1001", "order", "delivery", 1, "negative"),
    ("F2", "chat", "web", "CH1", "C1", "1001", None, "support", 2, "negative"),
    ("F3", "survey", "nps", "S1", "C1", "1001", "order", "general", 3, "negative"),
    ("F4", "review", "shop", "R4", "C3", "1002", "order", "product", 1, "positive"),
    ("F5", "chat", "web", "CH5", "C4", "2001", "ticket", "support", 1, "neutral"),
]
SCORES = [  # score_id, kind, value, customer, interaction, kind, touchpoint, day
    ("nps:S1:nps", "nps", 2, "C1", "1001", "order", None, 3),
    ("nps:S1:ces", "ces", 6, "C1", "1001", "order", None, 3),
    ("nps:S2:nps", "nps", 10, "C2", None, None, "checkout", 3),
    ("nps:S3:nps", "nps", 9, "C9", "1002", "order", None, 3),  # another customer's id: must not join F4
    ("nps:S4:nps", "nps", 7, "C4", "2001", "order", None, 3),  # order 2001 is not ticket 2001
    ("nps:S5:nps", "nps", 0, None, None, None, None, 3),       # no interaction, no touchpoint
]


def build(tmp_path):
    con = connect(tmp_path)
    for fid, ch, src, sid, cust, iid, kind, tp, day, sent in FEEDBACK:
        con.execute("""INSERT INTO feedback (feedback_id, channel, source, source_id, customer_id, interaction_id,
            interaction_kind, touchpoint, occurred_at, event_date, language, sentiment_label, sentiment_score, top_topic)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', ?, ?, 'delivery')""",
                    [fid, ch, src, sid, cust, iid, kind, tp, f"2026-10-0{day} 10:00:00", f"2026-10-0{day}", sent,
                     {"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sent]])
        con.execute("INSERT INTO sentences (feedback_id, idx, topic, sentiment_label) VALUES (?, 0, 'delivery', ?)",
                    [fid, sent])
    for sid, kind, value, cust, iid, ikind, tp, day in SCORES:
        con.execute("""INSERT INTO scores (score_id, kind, value, scale, customer_id, interaction_id, interaction_kind,
            occurred_at, source, touchpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'nps', ?)""",
                    [sid, kind, value, 10 if kind == "nps" else 7, cust, iid, ikind, f"2026-10-0{day} 12:00:00", tp])
    con.execute(metrics.FEEDBACK_SCORES_SQL, {"window_s": 14 * 86400})
    con.execute(metrics.ANSWERS_SQL)
    con.execute(metrics.AGGREGATES_SQL)
    return con


def test_each_answer_counts_once_at_one_touchpoint(tmp_path):
    con = build(tmp_path)
    try:
        att = {r[0]: r[1:] for r in con.execute(
            "SELECT score_id, touchpoint, attribution, channel FROM answers").fetchall()}
        # the answered interaction: the earliest non-survey row about order 1001 (the review, not the chat)
        assert att["nps:S1:nps"] == ("delivery", "interaction", "review")
        assert att["nps:S2:nps"] == ("checkout", "survey", "survey")
        assert att["nps:S3:nps"][1:] == ("none", "survey")  # C9's answer does not land on C3's review
        assert att["nps:S4:nps"][1:] == ("none", "survey")  # an order id never joins a ticket id
        assert att["nps:S5:nps"] == ("(none)", "none", "survey")
        # every aggregate adds up to the answers in scores, per kind
        n_scores = dict(con.execute("SELECT kind, count(*) FROM scores GROUP BY kind").fetchall())
        assert con.execute("SELECT sum(n_nps), sum(n_ces) FROM aggregates").fetchone() == (n_scores["nps"],
                                                                                          n_scores["ces"])
        assert con.execute("SELECT sum(n_nps) FROM v_nps_by_touchpoint_day").fetchone()[0] == n_scores["nps"]
        # the one answer shows on all three of C1's rows for reading, and is flagged nowhere as three
        joined = con.execute("SELECT count(*) FROM feedback_scores WHERE nps_score_id = 'nps:S1:nps'").fetchone()[0]
        assert joined == 3
        assert con.execute("SELECT n_nps, nps FROM aggregates WHERE touchpoint = 'delivery' AND channel = 'review' "
                           "AND event_date = DATE '2026-10-03'").fetchall() == [(1, -100.0)]
        # id-matched but refused because the customers differ: counted
        assert con.execute(metrics.ID_CUSTOMER_MISMATCH_SQL).fetchone()[0] == 1
    finally:
        con.close()
    card = report.collect(tmp_path)["scorecard"]
    overall = card[-1]
    # NPS over the five answers 2, 10, 9, 7, 0: 2 promoters, 2 detractors -> 0
    assert overall["touchpoint"] == "(all)" and (overall["n_nps"], overall["nps"]) == (5, 0.0)
    assert overall["volume"] == len(FEEDBACK) and overall["n_ces"] == 1
    assert sum(r["n_nps"] for r in card[:-1]) == 5
    assert {r["touchpoint"]: r["n_nps"] for r in card[:-1]} == {"delivery": 1, "checkout": 1, "(none)": 3,
                                                                 "support": 0, "product": 0, "general": 0}


def test_scorecard_rows_are_a_function_of_the_store_and_each_reader_gets_the_same_parts(tmp_path):
    """A touchpoint whose feedback carries two journey stages shows the first by name, and "(all)" none
    (it was any row's stage, which changed between two reads of one store); the run summary's and the
    terminal's parts of ``collect`` equal the same parts of the whole report's data."""
    con = build(tmp_path)
    con.execute("UPDATE feedback SET journey_stage = CASE WHEN feedback_id = 'F2' THEN 'service' ELSE 'aftercare' END")
    con.close()
    whole = report.collect(tmp_path)
    stages = {r["touchpoint"]: r["stage"] for r in whole["scorecard"]}
    assert stages["(all)"] is None and stages["support"] == "aftercare"  # F2 'service', F5 'aftercare'
    assert all(report.collect(tmp_path, parts=("scorecard",))["scorecard"] == whole["scorecard"] for _ in range(20))
    for parts in (report.SUMMARY_PARTS, report.TERMINAL_PARTS):
        got = report.collect(tmp_path, parts=parts)
        assert set(got) - {"effort_ces_rows"} == set(parts)
        for name in set(parts) & set(whole):
            assert got[name] == whole[name] if name != "key_drivers" else got[name].equals(whole[name]), name
    assert report.collect(tmp_path, parts=("effort_ces_overall",))["effort_ces_overall"] == whole["effort_ces"][0]
    with pytest.raises(ValueError, match="unknown report parts"):
        report.collect(tmp_path, parts=("scorecard", "nope"))


def test_topic_mentions_count_answers_and_customers_once(tmp_path):
    con = build(tmp_path)
    try:
        rows = con.execute("SELECT topic, answers, customers, detractors, nps FROM v_nps_when_topic_mentioned"
                           ).fetchall()
        # S1's three rows mention delivery: one answer (NPS 2), one customer. S4 misses its chat by id (order vs
        # ticket) but joins it by customer window, so it mentions delivery too (NPS 7). S2, S3, S5: no text.
        by_topic = {r[0]: r[1:] for r in rows}
        assert by_topic == {"delivery": (2, 2, 1, -50.0)}
    finally:
        con.close()
    drivers = report.collect(tmp_path)["drivers"]
    delivery = next(r for r in drivers if r["topic"] == "delivery")
    assert delivery["answers"] == by_topic["delivery"][0] and delivery["detractors"] <= delivery["answers"]


def test_ids_an_older_version_stored_raw_are_pseudonymised_at_the_next_publish(tmp_path):
    """Customer ids (not emails or phones) and speaker labels that older versions stored verbatim are
    replaced in place, so old rows keep joining the new, pseudonymised ones; a second pass changes nothing."""
    from configs.redaction import RedactionConfig
    from pipeline.identity import id_pseudonym, speaker_pseudonym
    from pipeline.storage.store import migrate_pseudonyms

    key, policy = b"m" * 64, RedactionConfig()
    con = connect(tmp_path)
    try:
        con.execute("INSERT INTO feedback (feedback_id, customer_id) VALUES ('F1', 'maria.rossi'), ('F2', NULL)")
        con.execute("INSERT INTO scores (score_id, customer_id) VALUES ('S1', 'maria.rossi')")
        con.execute("INSERT INTO utterances (feedback_id, turn, speaker) VALUES ('F1', 0, 'Giulia Bianchi')")
        fns = {"customer_id": lambda v: id_pseudonym(v, key, policy), "speaker": lambda v: speaker_pseudonym(v, key)}
        assert migrate_pseudonyms(con, fns) == 3
        pid = id_pseudonym("maria.rossi", key, policy)
        assert con.execute("SELECT customer_id FROM feedback ORDER BY feedback_id").fetchall() == [(pid,), (None,)]
        assert con.execute("SELECT customer_id FROM scores").fetchall() == [(pid,)]
        assert con.execute("SELECT speaker FROM utterances").fetchall() == [(speaker_pseudonym("Giulia Bianchi", key),)]
        assert migrate_pseudonyms(con, fns) == 0
    finally:
        con.close()


def test_key_drivers_count_each_answer_once(tmp_path):
    """C1's review, chat and comment are one observation of one NPS answer in the driver regression."""
    from pipeline.analytics import drivers

    con = build(tmp_path)
    try:
        frame = drivers.load_frame(con)
    finally:
        con.close()
    nps_rows = frame[frame["nps"].notna()]
    assert sorted(nps_rows["score_id"]) == ["nps:S1:nps", "nps:S4:nps"]  # the NPS answers with joined text
    s1 = nps_rows.set_index("score_id").loc["nps:S1:nps"]
    assert (s1["touchpoint"], s1["channel"], s1["topics"], s1["sentiment_label"]) == \
        ("delivery", "review", ["delivery"], "negative")
    assert len(frame[frame["ces"].notna()]) == 1

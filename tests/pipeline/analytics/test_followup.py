"""The follow-up queue: the right cases, ranked, a daily capacity with the rest counted, idempotent refreshes,
statuses kept across runs, safe exports."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.analytics import followup
from pipeline.storage import store

RUN = date(2026, 11, 1)
T0 = datetime(2026, 10, 31, 9, 0)
CX_COLS = (("intent", "VARCHAR"), ("emotion", "VARCHAR"), ("effort_score", "DOUBLE"), ("effort_cues", "VARCHAR"))


def _insert(con, table: str, rows: list[dict]) -> None:
    df = pd.DataFrame(rows)
    con.register("_rows", df)
    con.execute(f"INSERT INTO {table} ({', '.join(df.columns)}) SELECT * FROM _rows")
    con.unregister("_rows")


def _feedback(fid, cust, channel, text, label, score, at=T0, inter=None, **cx):
    return {"feedback_id": fid, "customer_id": cust, "interaction_id": inter, "channel": channel,
            "touchpoint": cx.pop("touchpoint", "delivery"), "language": "en", "text": text,
            "sentiment_label": label, "sentiment_score": score, "occurred_at": at, "event_date": at.date(),
            "emotion": cx.pop("emotion", None), "effort_score": cx.pop("effort_score", None)}


def _nps(sid, value, cust, at=T0, inter=None, touchpoint=None):
    return {"score_id": sid, "kind": "nps", "value": float(value), "customer_id": cust, "interaction_id": inter,
            "occurred_at": at, "touchpoint": touchpoint}


def _store(path, feedback: list[dict], scores: list[dict], fscores: list[dict] = ()):
    c = store.connect(path)
    for col, typ in CX_COLS:  # the store has them now; older stores may not
        c.execute(f"ALTER TABLE feedback ADD COLUMN IF NOT EXISTS {col} {typ}")
    _insert(c, "feedback", feedback)
    _insert(c, "scores", scores)
    if fscores:
        _insert(c, "feedback_scores", list(fscores))
    return c


@pytest.fixture()
def con(tmp_path):
    c = _store(tmp_path, [
        _feedback("f_comment", "c1", "survey", "The parcel came a week late.", "negative", -0.3, inter="i1"),
        _feedback("f_chat", "c3", "chat", "=HYPERLINK(\"http://x\") nobody answers, this is a disgrace", "negative",
                  -0.7, inter="i3"),
        _feedback("f_mild", "c4", "review", "A bit slow but fine.", "negative", -0.1),
        _feedback("f_happy", "c5", "review", "Lovely.", "positive", 0.8),
        _feedback("f_old", "c6", "review", "Terrible, months ago.", "negative", -0.9, at=T0 - timedelta(days=60)),
        _feedback("f_future", "c7", "review", "Terrible, tomorrow.", "negative", -0.9, at=T0 + timedelta(days=3)),
        *[_feedback(f"f_rep{i}", "c8", "call", f"Calling again ({i}).", "neutral", 0.0, at=T0 - timedelta(days=i))
          for i in range(3)],
    ], [
        _nps("s1:nps", 2, "c1", at=T0 + timedelta(hours=1), inter="i1"),
        _nps("s2:nps", 5, "c2", inter="i2"),  # a detractor who wrote nothing: still an item
        _nps("s5:nps", 10, "c5"),
    ], [{"feedback_id": "f_comment", "nps": 2.0}, {"feedback_id": "f_happy", "nps": 10.0}])
    yield c
    c.close()


# Six cases over three tiers and three days, for ranking and capacity.
RANKED = ["s_a:nps", "f_ang", "s_b:nps", "s_c:nps", "f_neg", "f_neg2"]  # the expected queue order


def _ranking_rows():
    feedback = [
        _feedback("f_a", "ca", "survey", "Took five calls to get an answer.", "neutral", 0.0, inter="ia",
                  effort_score=0.9),
        _feedback("f_ang", "cg", "review", "I am furious.", "neutral", 0.0, at=T0 - timedelta(days=2),
                  emotion="anger", touchpoint="billing"),
        _feedback("f_neg", "cn", "review", "Awful.", "negative", -0.8, at=T0 + timedelta(hours=1)),
        _feedback("f_neg2", "cm", "review", "Awful too.", "negative", -0.9, at=T0 - timedelta(days=1),
                  touchpoint="billing"),
    ]
    scores = [
        _nps("s_a:nps", 3, "ca", inter="ia"),                                  # detractor + high effort: P1
        _nps("s_b:nps", 6, "cb", at=T0 + timedelta(hours=2), touchpoint="checkout"),  # P2, newest
        _nps("s_c:nps", 1, "cc", at=T0 - timedelta(days=1)),                   # P2, older (lower NPS loses)
    ]
    return feedback, scores


@pytest.fixture()
def ranked(tmp_path):
    c = _store(tmp_path, *_ranking_rows())
    yield c
    c.close()


def items(con) -> dict[str, dict]:
    return {r["record_id"]: r for r in followup.list_items(con, status=None).to_dict("records")}


def test_detractors_and_incidents_become_one_item_per_case(con):
    stats = followup.refresh_queue(con, RUN)
    got = items(con)
    assert set(got) == {"s1:nps", "s2:nps", "f_chat", "f_rep0"}, set(got)
    d1 = got["s1:nps"]
    assert d1["reason"] == "detractor" and d1["feedback_id"] == "f_comment"
    assert d1["excerpt"] == "The parcel came a week late."
    assert d1["priority"] == 2 and d1["nps"] == 2.0 and d1["customer_id"] == "c1" and d1["interaction_id"] == "i1"
    assert pd.Timestamp(d1["due_at"]) == pd.Timestamp(T0 + timedelta(hours=49))  # two days after the answer
    silent = got["s2:nps"]
    assert silent["priority"] == 2 and pd.isna(silent["excerpt"]) and silent["channel"] == "survey"
    assert got["f_chat"]["channel"] == "chat" and got["f_chat"]["priority"] == 3
    assert got["f_rep0"]["reason"] == "repeated_contact"
    assert {r["intake"] for r in got.values()} == {"opened"}
    assert stats == {"considered": 4, "added": 4, "over_capacity": 0, "open": 4, "overdue": 0,
                     "daily_capacity": 25, "due_hours": 48}
    # three days later: f_future is in range (a new item, not yet due), the first four are overdue
    later = followup.refresh_queue(con, RUN + timedelta(days=3))
    assert (later["added"], later["open"], later["overdue"]) == (1, 5, 4)


def test_an_incident_on_a_detractors_comment_is_the_same_case(con):
    con.execute("UPDATE feedback SET sentiment_score = -0.8, emotion = 'anger' WHERE feedback_id = 'f_comment'")
    followup.refresh_queue(con, RUN)
    got = items(con)
    assert "f_comment" not in got  # no second item for the same contact
    d1 = got["s1:nps"]
    assert d1["reasons"] == "anger,detractor,strong_negative" and d1["reason"] == "anger" and d1["priority"] == 1


def test_optional_intent_emotion_and_effort_columns_add_reasons(con):
    con.execute("UPDATE feedback SET intent = 'cancellation', emotion = 'anger', effort_score = 0.9, "
                "effort_cues = 'long_wait,repeat_contact' WHERE feedback_id = 'f_mild'")
    followup.refresh_queue(con, RUN)
    mild = items(con)["f_mild"]
    assert mild["reasons"] == "churn_threat,anger,repeated_contact,high_effort"
    assert mild["reason"] == "churn_threat" and mild["priority"] == 1


def test_queue_is_ranked_by_tier_then_newest(ranked):
    followup.refresh_queue(ranked, RUN)
    q = followup.list_items(ranked)
    assert list(q["record_id"]) == RANKED
    assert list(q["priority"]) == [1, 1, 2, 2, 3, 3]
    assert items(ranked)["s_a:nps"]["reasons"] == "detractor,high_effort"
    assert [r["item"] for r in followup.report_rows(ranked)] == list(q["item_id"])
    assert followup.priority({"detractor"}) == 2 and followup.priority({"strong_negative", "high_effort"}) == 3
    assert followup.priority({"anger"}) == 1 == followup.priority({"detractor", "repeated_contact"})


def test_daily_capacity_opens_the_best_and_counts_the_rest(ranked):
    stats = followup.refresh_queue(ranked, RUN, daily_capacity=3)
    assert (stats["considered"], stats["added"], stats["over_capacity"], stats["open"]) == (6, 3, 3, 3)
    assert stats["considered"] == stats["added"] + stats["over_capacity"]
    assert list(followup.list_items(ranked)["record_id"]) == RANKED[:3]
    over = followup.list_items(ranked, status="over_capacity")
    assert list(over["record_id"]) == RANKED[3:] and set(over["intake"]) == {"over_capacity"}
    s = followup.summary(ranked)
    assert s["as_of"] == str(RUN) and s["open"] == 3 and s["opened"] == 3 and s["over_capacity"] == 3
    assert s["over_capacity_by_reason"] == {"strong_negative": 2, "detractor": 1}
    assert s["over_capacity_by_touchpoint"] == {"(none)": 1, "billing": 1, "delivery": 1}
    assert sum(r["n"] for r in s["over_capacity_by"]) == s["over_capacity"] == sum(s["over_capacity_by_reason"].values())
    assert s["daily"] == [{"day": str(RUN), "considered": 6, "opened": 3, "over_capacity": 3}]
    assert json.loads(json.dumps(s)) == s  # plain data, ready for the report

    # a rerun the same day: capacity is used up; a late, urgent arrival is counted, nothing is bumped
    _insert(ranked, "feedback", [_feedback("f_ang2", "ch", "chat", "Outraged.", "neutral", 0.0, emotion="anger")])
    again = followup.refresh_queue(ranked, RUN, daily_capacity=3)
    assert (again["considered"], again["added"], again["over_capacity"]) == (1, 0, 1)
    # the next day has its own capacity
    _insert(ranked, "feedback", [_feedback("f_next", "ci", "review", "Broken.", "negative", -0.9,
                                           at=T0 + timedelta(days=1))])
    nxt = followup.refresh_queue(ranked, RUN + timedelta(days=1), daily_capacity=3)
    assert (nxt["considered"], nxt["added"], nxt["over_capacity"]) == (1, 1, 0)
    total = followup.summary(ranked)
    assert ranked.execute("SELECT count(*), count(DISTINCT record_id) FROM followup_queue").fetchone() == (8, 8)
    assert total["opened"] + total["over_capacity"] == 8
    assert [d["considered"] for d in total["daily"]] == [7, 1]


def test_an_over_capacity_case_can_be_taken_on_and_stays_so(ranked, tmp_path):
    followup.refresh_queue(ranked, RUN, daily_capacity=1)
    late = items(ranked)["f_neg2"]
    assert late["status"] == "over_capacity"
    (tmp_path / "take.csv").write_text(f"item_id,status\n{late['item_id']},open\n", encoding="utf-8")
    assert followup.import_statuses(ranked, tmp_path / "take.csv", datetime(2026, 11, 2)) == 1
    followup.refresh_queue(ranked, RUN, daily_capacity=1)
    row = items(ranked)["f_neg2"]
    assert row["status"] == "open" and row["intake"] == "over_capacity"  # intake stays what it was
    assert followup.summary(ranked)["over_capacity_pending"] == 4
    with pytest.raises(followup.FollowupError, match="unknown status"):
        followup.set_status(ranked, late["item_id"], "over_capacity", None, datetime(2026, 11, 2))


def test_same_input_gives_the_same_queue(tmp_path):
    feedback, scores = _ranking_rows()
    a = _store(tmp_path / "a", feedback, scores)
    b = _store(tmp_path / "b", feedback[::-1], scores[::-1])  # another arrival order
    try:
        for day in (RUN, RUN + timedelta(days=1)):
            assert followup.refresh_queue(a, day, daily_capacity=2) == followup.refresh_queue(b, day, daily_capacity=2)
        qa, qb = followup.list_items(a, status=None), followup.list_items(b, status=None)
        assert len(qa) == 6
        pd.testing.assert_frame_equal(qa, qb)
        assert followup.summary(a) == followup.summary(b)
    finally:
        a.close()
        b.close()


def test_reruns_never_duplicate_or_reopen_and_statuses_survive(con):
    followup.refresh_queue(con, RUN)
    chat = items(con)["f_chat"]["item_id"]
    assert chat == followup.item_id("f_chat", "strong_negative")
    followup.close(con, chat, "called back, refund issued", datetime(2026, 11, 2, 10, 0))
    # the chat is republished with other content (a later dump): same key, the item stays closed
    con.execute("UPDATE feedback SET text = 'edited', sentiment_score = -0.95, emotion = 'anger' "
                "WHERE feedback_id = 'f_chat'")
    for _ in range(2):
        assert followup.refresh_queue(con, RUN)["added"] == 0
    row = followup.list_items(con, status=None).set_index("item_id").loc[chat]
    assert row["status"] == "closed" and row["note"] == "called back, refund issued"
    assert row["excerpt"].startswith("=HYPERLINK") and pd.Timestamp(row["closed_at"]) == pd.Timestamp("2026-11-02 10:00")
    assert con.execute("SELECT count(*), count(DISTINCT item_id) FROM followup_queue").fetchone() == (4, 4)
    with pytest.raises(followup.FollowupError, match="no follow-up item"):
        followup.close(con, "FU-nope", "x", datetime(2026, 11, 2))


def test_an_upgraded_store_keeps_its_items_without_duplicates(con):
    """Items of a store from before cases (one per record and reason, no intake) are not added again."""
    followup.ensure_table(con)
    old = followup.item_id("s1:nps", "detractor")
    con.execute("INSERT INTO followup_queue (item_id, record_id, reason, feedback_id, priority, status, "
                "created_run_date) VALUES (?, 's1:nps', 'detractor', 'f_comment', 1, 'closed', ?)", [old, RUN])
    con.execute("UPDATE feedback SET sentiment_score = -0.8 WHERE feedback_id = 'f_comment'")
    stats = followup.refresh_queue(con, RUN, daily_capacity=1)
    assert stats["considered"] == 3 and stats["added"] == 0  # the legacy item used the day's capacity
    assert "f_comment" not in items(con) and items(con)["s1:nps"]["status"] == "closed"


def test_import_statuses_is_all_or_nothing_and_round_trips_an_export(con, tmp_path):
    followup.refresh_queue(con, RUN)
    ids = sorted(followup.list_items(con)["item_id"])
    bad = tmp_path / "bad.csv"
    bad.write_text(f"item_id,status,note\n{ids[0]},closed,ok\nFU-unknown,closed,x\n{ids[1]},done,x\n", encoding="utf-8")
    with pytest.raises(followup.FollowupError) as exc:
        followup.import_statuses(con, bad, datetime(2026, 11, 3))
    assert "bad.csv:3: item_id" in str(exc.value) and "bad.csv:4: status" in str(exc.value)
    assert followup.list_items(con, status="closed").empty  # nothing applied

    path = followup.export_queue(con, tmp_path / "out", "csv")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    chat = next(r for r in rows if r["record_id"] == "f_chat")
    assert chat["excerpt"].startswith("'=HYPERLINK")  # formula neutralised for spreadsheets
    for r in rows:
        r["status"], r["note"] = "closed", "=SUM(A1) note that looks like a formula"
    edited = tmp_path / "edited.csv"
    with open(edited, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["item_id", "status", "note", "closed_at"])
        w.writeheader()
        w.writerows({"item_id": r["item_id"], "status": r["status"], "note": "'" + r["note"],
                     "closed_at": "2026-11-03T12:00:00"} for r in rows)
    assert followup.import_statuses(con, edited, datetime(2026, 11, 4)) == len(rows)
    closed = followup.list_items(con, status="closed")
    assert len(closed) == len(rows) and set(closed["note"]) == {"=SUM(A1) note that looks like a formula"}
    assert set(closed["closed_at"]) == {pd.Timestamp("2026-11-03 12:00")}
    followup.refresh_queue(con, RUN)
    assert followup.list_items(con, status="open").empty  # still closed after the next run

    pq_path = followup.export_queue(con, tmp_path / "out", "parquet")
    table = pq.read_table(pq_path)
    assert table.num_rows == len(rows) and table.schema.names == followup.COLUMNS
    assert "=HYPERLINK" in " ".join(str(v) for v in table.column("excerpt").to_pylist())  # parquet keeps the value


def test_report_helpers(con):
    stats = followup.refresh_queue(con, RUN, daily_capacity=3)
    rows = followup.report_rows(con, RUN)
    assert [r["priority"] for r in rows] == sorted(r["priority"] for r in rows) and len(rows) == 3
    md = followup.summary_markdown(stats)
    assert "3 new items opened (daily capacity 3), 1 more over capacity" in md and "within 2 days" in md
    assert followup.summary(con)["open_by_priority"] == {"1": 0, "2": 2, "3": 1}


def test_cli_list_summary_close_export_import(con, tmp_path, capsys, monkeypatch):
    import argparse

    from flows.cli.followup import add_parser

    followup.refresh_queue(con, RUN, daily_capacity=3)
    con.close()
    monkeypatch.chdir(tmp_path)
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    p.add_argument("--data-dir")
    add_parser(p.add_subparsers(dest="command"))

    def cli(*argv):
        args = p.parse_args(["--data-dir", str(tmp_path), "followup", *argv])
        assert args.func(args) == 0
        return capsys.readouterr().out

    assert "3 item(s)" in cli("list") and "1 item(s)" in cli("list", "--status", "over_capacity")
    out = cli("summary")
    assert "3 opened, 1 over capacity" in out and "daily capacity 25" in out
    assert "repeated_contact" in out.split("over capacity by touchpoint and reason:")[1]
    assert json.loads(cli("summary", "--json"))["over_capacity_by_reason"] == {"repeated_contact": 1}
    chat = followup.item_id("f_chat", "strong_negative")
    assert f"closed {chat}" in cli("close", chat, "--note", "called back", "--at", "2026-11-02T10:00")
    assert "2 item(s)" in cli("list") and "1 item(s)" in cli("list", "--status", "closed")
    out = cli("export", str(tmp_path / "exp"), "--format", "parquet")
    assert out.strip().endswith("followup_queue.parquet")
    (tmp_path / "st.csv").write_text(f"item_id,status\n{chat},in_progress\n", encoding="utf-8")
    assert "updated 1 item(s)" in cli("import", "st.csv", "--at", "2026-11-03T08:00")
    assert json.loads(cli("list", "--status", "in_progress", "--json"))[0]["item_id"] == chat
    assert "0 new items opened" in cli("refresh", "--run-date", str(RUN))

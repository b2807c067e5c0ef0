"""The follow-up queue: the right items, idempotent refreshes, statuses kept across runs, safe exports."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline import followup, store

RUN = date(2026, 11, 1)
T0 = datetime(2026, 10, 31, 9, 0)


def _insert(con, table: str, rows: list[dict]) -> None:
    df = pd.DataFrame(rows)
    con.register("_rows", df)
    con.execute(f"INSERT INTO {table} ({', '.join(df.columns)}) SELECT * FROM _rows")
    con.unregister("_rows")


def _feedback(fid, cust, channel, text, label, score, at=T0, inter=None):
    return {"feedback_id": fid, "customer_id": cust, "interaction_id": inter, "channel": channel,
            "touchpoint": "delivery", "language": "en", "text": text, "sentiment_label": label,
            "sentiment_score": score, "occurred_at": at, "event_date": at.date()}


@pytest.fixture()
def con(tmp_path):
    c = store.connect(tmp_path)
    _insert(c, "feedback", [
        _feedback("f_comment", "c1", "survey", "The parcel came a week late.", "negative", -0.3, inter="i1"),
        _feedback("f_chat", "c3", "chat", "=HYPERLINK(\"http://x\") nobody answers, this is a disgrace", "negative",
                  -0.7, inter="i3"),
        _feedback("f_mild", "c4", "review", "A bit slow but fine.", "negative", -0.1),
        _feedback("f_happy", "c5", "review", "Lovely.", "positive", 0.8),
        _feedback("f_old", "c6", "review", "Terrible, months ago.", "negative", -0.9, at=T0 - timedelta(days=60)),
        _feedback("f_future", "c7", "review", "Terrible, tomorrow.", "negative", -0.9, at=T0 + timedelta(days=3)),
        *[_feedback(f"f_rep{i}", "c8", "call", f"Calling again ({i}).", "neutral", 0.0, at=T0 - timedelta(days=i))
          for i in range(3)],
    ])
    _insert(c, "scores", [
        {"score_id": "s1:nps", "kind": "nps", "value": 2.0, "customer_id": "c1", "interaction_id": "i1",
         "occurred_at": T0 + timedelta(hours=1)},
        {"score_id": "s2:nps", "kind": "nps", "value": 5.0, "customer_id": "c2", "interaction_id": "i2",
         "occurred_at": T0},  # a detractor who wrote nothing: still an item
        {"score_id": "s5:nps", "kind": "nps", "value": 10.0, "customer_id": "c5", "interaction_id": None,
         "occurred_at": T0},
    ])
    _insert(c, "feedback_scores", [{"feedback_id": "f_comment", "nps": 2.0}, {"feedback_id": "f_happy", "nps": 10.0}])
    yield c
    c.close()


def items(con) -> dict[tuple[str, str], dict]:
    df = followup.list_items(con, status=None)
    return {(r["record_id"], r["reason"]): r for r in df.to_dict("records")}


def test_detractors_and_critical_incidents_become_items(con):
    stats = followup.refresh_queue(con, RUN)
    got = items(con)
    assert set(got) == {("s1:nps", "detractor"), ("s2:nps", "detractor"), ("f_chat", "strong_negative"),
                        ("f_rep0", "repeated_contact")}, set(got)
    d1 = got[("s1:nps", "detractor")]
    assert d1["feedback_id"] == "f_comment" and d1["excerpt"] == "The parcel came a week late."
    assert d1["priority"] == 1 and d1["nps"] == 2.0 and d1["customer_id"] == "c1" and d1["interaction_id"] == "i1"
    assert pd.Timestamp(d1["due_at"]) == pd.Timestamp(T0 + timedelta(hours=49))  # two days after the answer
    silent = got[("s2:nps", "detractor")]
    assert silent["priority"] == 2 and pd.isna(silent["excerpt"]) and silent["channel"] == "survey"
    assert got[("f_chat", "strong_negative")]["channel"] == "chat"
    assert stats == {"added": 4, "open": 4, "overdue": 0}
    # three days later: f_future is in range (a new item, not yet due), the first four are overdue
    assert followup.refresh_queue(con, RUN + timedelta(days=3)) == {"added": 1, "open": 5, "overdue": 4}


def test_reruns_never_duplicate_or_reopen_and_statuses_survive(con):
    followup.refresh_queue(con, RUN)
    chat = followup.item_id("f_chat", "strong_negative")
    followup.close(con, chat, "called back, refund issued", datetime(2026, 11, 2, 10, 0))
    # the chat is republished with other content (a later dump): same key, the item stays closed
    con.execute("UPDATE feedback SET text = 'edited', sentiment_score = -0.95 WHERE feedback_id = 'f_chat'")
    for _ in range(2):
        assert followup.refresh_queue(con, RUN)["added"] == 0
    row = followup.list_items(con, status=None).set_index("item_id").loc[chat]
    assert row["status"] == "closed" and row["note"] == "called back, refund issued"
    assert row["excerpt"].startswith("=HYPERLINK") and pd.Timestamp(row["closed_at"]) == pd.Timestamp("2026-11-02 10:00")
    assert con.execute("SELECT count(*), count(DISTINCT item_id) FROM followup_queue").fetchone() == (4, 4)
    with pytest.raises(followup.FollowupError, match="no follow-up item"):
        followup.close(con, "FU-nope", "x", datetime(2026, 11, 2))


def test_optional_intent_and_emotion_columns_add_reasons(con):
    for col, typ in (("intent", "VARCHAR"), ("emotion", "VARCHAR"), ("effort_score", "DOUBLE"),
                     ("effort_cues", "VARCHAR")):  # the store has them now; older stores may not
        con.execute(f"ALTER TABLE feedback ADD COLUMN IF NOT EXISTS {col} {typ}")
    con.execute("UPDATE feedback SET intent = 'cancellation', emotion = 'anger', effort_score = 0.9, "
                "effort_cues = 'long_wait,repeat_contact' WHERE feedback_id = 'f_mild'")
    followup.refresh_queue(con, RUN)
    got = items(con)
    assert got[("f_mild", "churn_threat")]["priority"] == 1 and got[("f_mild", "anger")]["priority"] == 1
    assert got[("f_mild", "high_effort")]["priority"] == 3
    assert got[("f_mild", "repeated_contact")]["priority"] == 2


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
    stats = followup.refresh_queue(con, RUN)
    rows = followup.report_rows(con, RUN)
    assert [r["priority"] for r in rows] == sorted(r["priority"] for r in rows) and len(rows) == 4
    assert "4 new items" in followup.summary_markdown(stats)


def test_cli_list_close_export_import(con, tmp_path, capsys, monkeypatch):
    import argparse

    from flows.cli_followup import add_parser

    followup.refresh_queue(con, RUN)
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

    assert "4 item(s)" in cli("list")
    chat = followup.item_id("f_chat", "strong_negative")
    assert f"closed {chat}" in cli("close", chat, "--note", "called back", "--at", "2026-11-02T10:00")
    assert "3 item(s)" in cli("list") and "1 item(s)" in cli("list", "--status", "closed")
    out = cli("export", str(tmp_path / "exp"), "--format", "parquet")
    assert out.strip().endswith("followup_queue.parquet")
    (tmp_path / "st.csv").write_text(f"item_id,status\n{chat},in_progress\n", encoding="utf-8")
    assert "updated 1 item(s)" in cli("import", "st.csv", "--at", "2026-11-03T08:00")
    assert json.loads(cli("list", "--status", "in_progress", "--json"))[0]["item_id"] == chat

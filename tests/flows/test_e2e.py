"""End-to-end: the real Prefect flow, the real DuckDB store, real models, on fixture dumps of every channel."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.nightly import nightly, rerun
from pipeline.storage import store
from pipeline.errors import ContractError, StoreError
from tests.flows.conftest import TEST_RUN, q, snapshot, stage_file
from tests.conftest import PLANTED_PII, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")




def test_fixture_dump_end_to_end(config, landing, data_dir):
    res = nightly(landing=str(landing), config=str(config))
    c = res["counts"]
    # every input accounted for: in = out + quarantined + duplicates, per channel
    assert c["review"] == {"in": 14, "out": 8, "quarantined": 6, "duplicates": 0, "superseded": 0, "files": 2}
    assert c["chat"] == {"in": 5, "out": 4, "quarantined": 1, "duplicates": 0, "superseded": 0, "files": 3}
    assert c["call"] == {"in": 2, "out": 2, "quarantined": 0, "duplicates": 0, "superseded": 0, "files": 2}
    assert c["survey"] == {"in": 8, "out": 7, "quarantined": 1, "duplicates": 0, "superseded": 0, "files": 1}
    assert c["ticket"] == {"in": 4, "out": 3, "quarantined": 1, "duplicates": 0, "superseded": 0, "files": 1}
    by_channel = dict(q(data_dir, "SELECT channel, count(*) FROM feedback GROUP BY channel"))
    assert by_channel == {"review": 8, "chat": 4, "call": 2, "survey": 1}
    assert q(data_dir, "SELECT count(DISTINCT split_part(score_id, ':', 2)) FROM scores")[0][0] == 7
    assert q(data_dir, "SELECT count(*) FROM tickets")[0][0] == 3
    assert q(data_dir, "SELECT count(*) FROM quarantine")[0][0] == 9
    quarantine = {(f, line): (fld, r) for f, line, fld, r in q(data_dir, "SELECT input_file, input_line, field, reason FROM quarantine")}
    assert quarantine[("surveys/survey_sample.csv", 9)][0] == "nps"
    assert "invalid UTF-8" in quarantine[("reviews/appstore_sample.csv", 9)][1]

    # joins: by interaction first, else the customer's nearest score within the window; never dropped
    fs = {r[0]: r[1:] for r in q(data_dir, """SELECT f.source_id, s.nps, s.nps_match, s.ticket_id, s.resolution_hours
                                             FROM feedback f JOIN feedback_scores s USING (feedback_id)""")}
    assert len(fs) == 15
    assert fs["M1"][:2] == (2.0, "interaction")
    assert fs["R1"][:2] == (2.0, "customer_window")
    assert fs["CALL1"] == (3.0, "interaction", "helpdesk:T2", 48.0)
    assert res["unmatched_feedback"] == 3  # the ABCD chat (no customer id), the VTT call (U7), M3 (U10)
    assert {k for k, v in fs.items() if v[0] is None and v[2] is None} == {"101", "call_sample", "M3"}

    # every answer counted once (RELIABILITY 17): 7 respondents x NPS, CSAT, CES; S8 (NPS 11) quarantined
    assert dict(q(data_dir, "SELECT kind, count(*) FROM answers GROUP BY kind")) == \
        dict(q(data_dir, "SELECT kind, count(*) FROM scores GROUP BY kind")) == {"nps": 7, "csat": 7, "ces": 7}
    assert q(data_dir, "SELECT sum(n_nps), sum(n_csat), sum(n_ces), sum(volume) FROM aggregates") == [(7, 7, 7, 15)]
    # attribution: S1 answers order O1, which the marketplace review M1 is about; S6 answers the call's I6;
    # S4 and S5 name no interaction and no survey touchpoint
    att = {r[0]: r[1:] for r in q(data_dir, """SELECT a.score_id, a.attribution, a.channel, f.source_id
        FROM answers a LEFT JOIN feedback f USING (feedback_id) WHERE a.kind = 'nps'""")}
    assert att["nps_survey:S1:nps"] == ("interaction", "review", "M1")
    assert att["nps_survey:S6:nps"] == ("interaction", "call", "CALL1")
    assert att["nps_survey:S4:nps"][:2] == att["nps_survey:S5:nps"][:2] == ("none", "survey")
    # NPS on known numbers: 2, 10, 6, 9, 8, 3, 10 -> 3 promoters, 3 detractors of 7 answers -> 0
    from pipeline.reporting.report import collect
    card = collect(data_dir)["scorecard"]
    overall = card[-1]
    assert overall["touchpoint"] == "(all)" and (overall["n_nps"], overall["nps"]) == (7, 0.0)
    assert overall["volume"] == 15 and overall["n_tickets"] == 3
    assert sum(r["n_nps"] for r in card[:-1]) == 7 and sum(r["n_ces"] for r in card[:-1]) == 7

    # PII absent from every table and every byte under the data dir; the non-Luhn order number stays
    for table in store.SCHEMA:
        for r in q(data_dir, f"SELECT * FROM {table}"):
            blob = json.dumps(r, default=str, ensure_ascii=False)
            for secret in PLANTED_PII:
                assert secret not in blob, (table, secret)
    for f in data_dir.rglob("*"):
        if f.is_file() and "models" not in f.parts:
            raw = f.read_bytes()
            for secret in PLANTED_PII:
                assert secret.encode() not in raw, (f, secret)
    assert "1234567812345678" in q(data_dir, "SELECT text FROM feedback WHERE source_id = 'R5'")[0][0]

    # provenance and language
    tags = q(data_dir, "SELECT DISTINCT sentiment_model, topic_model, config_hash FROM feedback")
    assert len(tags) == 1 and all(tags[0])
    assert q(data_dir, "SELECT count(*) FROM sentences WHERE sentiment_model IS NULL OR topic_model IS NULL")[0][0] == 0
    langs = dict(q(data_dir, "SELECT source_id, language FROM feedback"))
    assert (langs["R2"], langs["R3"], langs["R4"], langs["R1"]) == ("it", "zh", "fa", "en")
    roles = q(data_dir, """SELECT role, count(*) FROM utterances u JOIN feedback f USING (feedback_id)
                          WHERE f.source_id = 'CALL1' GROUP BY role ORDER BY role""")
    assert roles == [("agent", 2), ("customer", 2)]
    assert Path(res["report"]).is_file() and "Touchpoint scorecard" in Path(res["report"]).read_text(encoding="utf-8")


def test_rerun_changes_nothing_and_overlapping_dumps_do_not_duplicate(config, landing, data_dir, tmp_path):
    nightly(landing=str(landing), config=str(config))
    before = snapshot(data_dir)
    res = rerun(path=str(landing), config=str(config))
    assert res["counts"]["review"]["in"] == 14
    assert snapshot(data_dir) == before  # deterministic: identical row for row
    assert nightly(landing=str(landing), config=str(config))["files"] == 0  # nothing new by content hash

    # dump B overlaps A: one review repeated unchanged, one edited, one new
    dump_b = tmp_path / "dump_b" / "reviews"
    dump_b.mkdir(parents=True)
    lines = (landing / "reviews" / "marketplace_sample.jsonl").read_text(encoding="utf-8").splitlines()
    new = json.loads(lines[1])
    new.update(id="M7", content="Arrivato in tempo, tutto perfetto.")
    edited = json.loads(lines[2])
    edited["content"] = "Il rimborso è arrivato, grazie."
    (dump_b / "marketplace_b.jsonl").write_text("\n".join([lines[0], json.dumps(edited), json.dumps(new)]) + "\n",
                                                encoding="utf-8")
    rerun(path=str(dump_b.parent), config=str(config))
    for table, keys in store.KEYS.items():
        cols = ", ".join(keys)
        assert q(data_dir, f"SELECT count(*) FROM (SELECT {cols} FROM {table} GROUP BY ALL HAVING count(*) > 1)")[0][0] == 0
    assert q(data_dir, "SELECT count(*) FROM feedback")[0][0] == 16
    assert q(data_dir, "SELECT text FROM feedback WHERE source_id = 'M3'")[0][0] == "Il rimborso è arrivato, grazie."
    # partition isolation: rows from other files are untouched
    after = snapshot(data_dir)
    untouched = [r for r in before["feedback"] if r[2] != "marketplace"]
    assert all(r in after["feedback"] for r in untouched)


def test_contract_breach_fails_the_run_and_leaves_store_unchanged(config, landing, data_dir, tmp_path):
    nightly(landing=str(landing), config=str(config))
    before = snapshot(data_dir)
    bad = tmp_path / "bad" / "surveys"
    bad.mkdir(parents=True)
    rows = ["response_id,customer_id,submitted_at,nps"] + [f"B{i},U{i},2026-10-03T10:00:00,{11 if i < 6 else 5}"
                                                           for i in range(10)]
    (bad / "bad.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"broke the survey contract \(6 of 10\)"):
        rerun(path=str(bad.parent), config=str(config))
    assert snapshot(data_dir) == before


def test_publish_is_all_or_nothing(config, landing, data_dir, tmp_path):
    nightly(landing=str(landing / "surveys"), config=str(config))
    before = snapshot(data_dir)
    res = stage_file(config, landing / "reviews" / "marketplace_sample.jsonl", "marketplace", tmp_path / "stage")
    run = TEST_RUN

    def fail(table):
        if table == "sentences":
            raise RuntimeError("injected failure after staging sentences")

    with pytest.raises(RuntimeError, match="injected failure"):
        store.publish(data_dir, res.parts, run, [res.to_dict()], 14, on_staged=fail)
    assert snapshot(data_dir) == before
    assert q(data_dir, "SELECT count(*) FROM runs WHERE run_id = 'r'")[0][0] == 0

    # SIGKILL in the middle of the publish transaction: the previous state survives intact
    marker = tmp_path / "staged.marker"
    script = (
        "import json, sys, time\n"
        "from pipeline.storage import store\n"
        "args = json.loads(sys.argv[1])\n"
        "def pause(table):\n"
        "    if table == 'feedback':\n"
        "        open(args['marker'], 'w').close(); time.sleep(60)\n"
        "store.publish(args['data_dir'], args['parts'], args['run'], args['files'], 14, on_staged=pause)\n"
    )
    payload = json.dumps({"marker": str(marker), "data_dir": str(data_dir), "parts": res.parts,
                          "run": {**run, "run_id": "killed"}, "files": [res.to_dict()]})
    proc = subprocess.Popen([sys.executable, "-c", script, payload], cwd=Path(__file__).resolve().parents[2])
    try:
        for _ in range(600):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "publisher never reached the staged point"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert snapshot(data_dir) == before
    assert q(data_dir, "SELECT count(*) FROM runs WHERE run_id = 'killed'")[0][0] == 0


def test_overlapping_runs_are_refused(config, landing, data_dir):
    with store.run_lock(data_dir):
        with pytest.raises(StoreError, match="another Touchpoint run"):
            nightly(landing=str(landing), config=str(config))


def test_retries_only_on_transient_errors():
    from prefect import flow, task

    from flows.tasks import transient_only

    calls = {"io": 0, "bad": 0}

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=transient_only)
    def flaky_io():
        calls["io"] += 1
        if calls["io"] < 3:
            raise OSError("disk hiccup")
        return "ok"

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=transient_only)
    def bad_data():
        calls["bad"] += 1
        raise ContractError("NPS 11 is out of range")

    @flow
    def f():
        return flaky_io()

    @flow
    def g():
        return bad_data()

    assert f() == "ok" and calls["io"] == 3
    with pytest.raises(ContractError):
        g()
    assert calls["bad"] == 1


def test_demo_data_planted_relationships(tmp_path, data_dir):
    from pipeline.ingest.demo import generate

    cfg = write_config(tmp_path / "demo.yaml", data_dir)
    generate(tmp_path / "demo", size=300, seed=11)
    res = nightly(landing=str(tmp_path / "demo"), config=str(cfg))
    assert res["counts"]["survey"]["quarantined"] == 2 and res["counts"]["review"]["quarantined"] == 3
    (neg_nps,), (pos_nps,) = (q(data_dir, """SELECT avg(s.nps) FROM feedback f JOIN feedback_scores s USING (feedback_id)
                                              WHERE f.sentiment_label = ?""", [lab])[0] for lab in ("negative", "positive"))
    assert pos_nps - neg_nps > 2.5, (neg_nps, pos_nps)
    delivery = q(data_dir, """SELECT count_if(s.nps <= 6) * 1.0 / count(*) FROM feedback f
                              JOIN feedback_scores s USING (feedback_id) WHERE f.top_topic = 'delivery' AND s.nps IS NOT NULL""")
    assert delivery[0][0] > 0.6  # late-delivery complaints mostly come from detractors

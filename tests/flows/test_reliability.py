"""Regression tests for the reliability issue: nothing lost silently, one conflict rule, safe operations.

Each test runs the real Prefect flow on the real DuckDB store with real models.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from configs import load_settings
from flows.nightly import nightly, rerun
from pipeline.storage import store
from pipeline.errors import ContractError, StoreError
from tests.flows.conftest import TEST_RUN, q, snapshot, stage_file
from tests.conftest import copy_models, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROOT = Path(__file__).resolve().parents[2]




def write_reviews(path: Path, rows: list[tuple]) -> Path:
    """App-store CSV rows: (review_id, user_id, created, stars, body)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=["review_id", "user_id", "created", "stars", "body"])
    df["lang"] = ""
    df.to_csv(path, index=False)
    return path


def test_same_text_from_different_customers_is_not_a_duplicate(config, data_dir, tmp_path):
    rows = [(f"G{i}", None, "2026-10-01T10:00:00", 5, "Great app") for i in range(6)]
    write_reviews(tmp_path / "dump" / "reviews" / "appstore_great.csv", rows)
    res = rerun(path=str(tmp_path / "dump"), config=str(config))
    assert res["counts"]["review"] == {"in": 6, "out": 6, "quarantined": 0, "duplicates": 0, "superseded": 0,
                                       "files": 1}
    assert q(data_dir, "SELECT count(*) FROM feedback WHERE text = 'Great app'")[0][0] == 6


def test_exact_duplicates_are_counted_once(config, data_dir, tmp_path):
    row = ("D1", "U1", "2026-10-01T10:00:00", 4, "Good but slow delivery")
    write_reviews(tmp_path / "dump" / "reviews" / "appstore_a.csv", [row, row])
    write_reviews(tmp_path / "dump" / "reviews" / "appstore_b.csv", [row])
    res = rerun(path=str(tmp_path / "dump"), config=str(config))
    assert res["counts"]["review"] == {"in": 3, "out": 1, "quarantined": 0, "duplicates": 2, "superseded": 0,
                                       "files": 2}
    assert q(data_dir, "SELECT count(*) FROM feedback")[0][0] == 1


def test_same_key_with_new_content_is_a_conflict_and_the_later_record_wins(config, data_dir, tmp_path):
    write_reviews(tmp_path / "dump" / "reviews" / "appstore_edit.csv", [
        ("E1", "U1", "2026-10-01T10:00:00", 2, "Terrible checkout, it failed twice"),
        ("E1", "U1", "2026-10-01T10:00:00", 4, "Checkout failed once, support fixed it quickly"),
    ])
    res = rerun(path=str(tmp_path / "dump"), config=str(config))
    assert res["counts"]["review"]["superseded"] == 1 and res["counts"]["review"]["out"] == 1
    assert res["conflicts"] == 1
    assert q(data_dir, "SELECT text, rating FROM feedback") == [("Checkout failed once, support fixed it quickly", 4.0)]
    (row,) = q(data_dir, "SELECT table_name, record_key, kind, previous_line, new_line FROM conflicts")
    assert row == ("feedback", "appstore:E1", "within_run", 2, 3)


def test_survey_conflict_across_runs_is_recorded_not_silently_overwritten(config, data_dir, tmp_path):
    head = "response_id,customer_id,submitted_at,nps\n"
    (tmp_path / "d1" / "surveys").mkdir(parents=True)
    (tmp_path / "d1" / "surveys" / "s1.csv").write_text(head + "S1,U1,2026-10-01T10:00:00,9\n", encoding="utf-8")
    (tmp_path / "d2" / "surveys").mkdir(parents=True)
    (tmp_path / "d2" / "surveys" / "s2.csv").write_text(head + "S1,U1,2026-10-01T10:00:00,3\n", encoding="utf-8")
    rerun(path=str(tmp_path / "d1"), config=str(config))
    res = rerun(path=str(tmp_path / "d2"), config=str(config))
    assert res["conflicts"] == 1
    assert q(data_dir, "SELECT value FROM scores WHERE score_id = 'nps_survey:S1:nps'") == [(3.0,)]
    (row,) = q(data_dir, "SELECT record_key, kind, previous_file, new_file FROM conflicts")
    assert row == ("nps_survey:S1:nps", "vs_store", "surveys/s1.csv", "surveys/s2.csv")
    assert q(data_dir, "SELECT conflicts FROM runs ORDER BY finished_at DESC LIMIT 1") == [(1,)]


def test_loading_a_then_b_equals_loading_a_and_b_together(tmp_path, model_dir, monkeypatch):
    # customer ids are stored as keyed pseudonyms: both stores share one key, as one team's runs do
    monkeypatch.setenv("TOUCHPOINT_PSEUDONYM_KEY", "one-key-for-both-stores-of-this-test")
    a = [("K1", "U1", "2026-10-01T10:00:00", 1, "Late again"), ("K2", "U2", "2026-10-01T11:00:00", 5, "Great")]
    b = [("K1", "U1", "2026-10-01T10:00:00", 3, "Late again, but refunded"), ("K3", "U3", "2026-10-02T09:00:00", 4, "Fine")]
    stores = []
    for mode in ("sequential", "together"):
        d = tmp_path / mode
        copy_models(model_dir, d / "data" / "models")
        cfg = write_config(d / "config.yaml", d / "data")
        landing = d / "landing" / "reviews"
        write_reviews(landing / "appstore_a.csv", a)
        if mode == "sequential":
            nightly(landing=str(d / "landing"), config=str(cfg))
        write_reviews(landing / "appstore_b.csv", b)
        nightly(landing=str(d / "landing"), config=str(cfg))
        # the follow-up queue is a work list with history (an item keeps the run date it was first
        # raised on), so it legitimately differs; every data table must not
        stores.append({t: rows for t, rows in snapshot(d / "data").items() if t != "followup_queue"})
    assert stores[0] == stores[1]
    texts = {r[3]: r[12] for r in stores[0]["feedback"]}  # source_id -> text
    assert texts == {"K1": "Late again, but refunded", "K2": "Great", "K3": "Fine"}


def test_a_retried_attempt_starts_from_clean_state(config, landing, tmp_path):
    from flows.tasks import load_models
    from pipeline.ingest import file_sha256
    from pipeline.process import process_file

    settings = load_settings(config)
    path = landing / "reviews" / "appstore_sample.csv"
    args = (path, "reviews/appstore_sample.csv", file_sha256(path), settings.source("appstore"), settings,
            load_models(settings), tmp_path / "stage")
    first = process_file(*args)
    second = process_file(*args)  # what Prefect's retry does: same file, same run, same stage folder
    assert second.rows_out == first.rows_out == first.rows_in - first.quarantined - first.duplicates > 0
    assert second.parts == first.parts
    assert sum(len(pd.read_parquet(p)) for p in second.parts["feedback"]) == first.feedback


def test_reconcile_compares_with_what_was_published(config, landing, data_dir, tmp_path):
    nightly(landing=str(landing / "surveys"), config=str(config))
    before = snapshot(data_dir)
    res = stage_file(config, landing / "reviews" / "marketplace_sample.jsonl", "marketplace", tmp_path / "stage")
    part = res.parts["feedback"][0]
    pd.read_parquet(part).iloc[1:].to_parquet(part, index=False)  # one staged record lost on the way
    run = TEST_RUN
    with pytest.raises(StoreError, match="do not reconcile"):
        store.publish(data_dir, res.parts, run, [res.to_dict()], 14)
    assert snapshot(data_dir) == before


def test_quarantine_is_keyed_by_content_and_replaced_when_the_file_is_fixed(config, landing, data_dir):
    nightly(landing=str(landing), config=str(config))
    n = q(data_dir, "SELECT count(*) FROM quarantine")[0][0]
    # the same file rerun by its own path (a different input_file string) adds no quarantine rows
    rerun(path=str(landing / "reviews" / "appstore_sample.csv"), config=str(config))
    assert q(data_dir, "SELECT count(*) FROM quarantine")[0][0] == n
    # the export is fixed and delivered again under the same name: its old quarantine rows go
    rerun(path=str(landing), config=str(config))
    path = landing / "reviews" / "appstore_sample.csv"
    bad_before = q(data_dir, "SELECT count(*) FROM quarantine WHERE source = 'appstore'")[0][0]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1])  # header and the first good row only
    rerun(path=str(landing), config=str(config))
    assert bad_before > 0
    assert q(data_dir, "SELECT count(*) FROM quarantine WHERE source = 'appstore'")[0][0] == 0


def test_a_file_whose_records_are_all_quarantined_fails_the_run(config, data_dir, tmp_path):
    calls = tmp_path / "dump" / "calls"
    calls.mkdir(parents=True)
    (calls / "vendor.json").write_text(json.dumps({"Unknown": {"shape": [1, 2, 3]}}), encoding="utf-8")
    with pytest.raises(ContractError, match="every record broke the call contract"):
        rerun(path=str(tmp_path / "dump"), config=str(config))
    assert q(data_dir, "SELECT count(*) FROM runs")[0][0] == 0  # the store is opened, no run is recorded


def test_an_empty_file_is_reported_not_silently_accepted(config, data_dir, tmp_path):
    (tmp_path / "dump" / "reviews").mkdir(parents=True)
    (tmp_path / "dump" / "reviews" / "appstore_empty.csv").write_text("review_id,user_id,created,stars,body\n")
    write_reviews(tmp_path / "dump" / "reviews" / "appstore_ok.csv", [("O1", "U1", "2026-10-01", 5, "Works well")])
    res = rerun(path=str(tmp_path / "dump"), config=str(config))
    assert any("appstore_empty.csv" in w and "no records" in w for w in res["warnings"])
    assert "no records" in q(data_dir, "SELECT warnings FROM runs")[0][0]


def test_contract_error_messages_carry_no_personal_data(config, data_dir, tmp_path):
    (tmp_path / "dump" / "surveys").mkdir(parents=True)
    rows = "".join(f"S{i},U{i},mail jane.doe@example.com,5\n" for i in range(6))
    (tmp_path / "dump" / "surveys" / "s.csv").write_text("response_id,customer_id,submitted_at,nps\n" + rows)
    with pytest.raises(ContractError) as exc:
        rerun(path=str(tmp_path / "dump"), config=str(config))
    assert "jane.doe@example.com" not in str(exc.value)


def test_emerging_topics_on_repetitive_text_and_failures_after_publish(config, data_dir, tmp_path, monkeypatch):
    rows = [(f"Z{i}", f"U{i}", "2026-10-01T10:00:00", 3, "meh meh meh meh meh meh meh") for i in range(60)]
    write_reviews(tmp_path / "d1" / "reviews" / "appstore_rep.csv", rows)
    res = rerun(path=str(tmp_path / "d1"), config=str(config))
    assert res["warnings"] == [] and Path(res["report"]).is_file()

    import pipeline.analytics.emerging

    def broken(*a, **k):  # fault injection: the analysis step after publish fails
        raise RuntimeError("clustering exploded")

    monkeypatch.setattr(pipeline.analytics.emerging, "refresh_emerging_topics", broken)
    write_reviews(tmp_path / "d2" / "reviews" / "appstore_two.csv", [("Y1", "U1", "2026-10-02", 1, "Broken login")])
    res = rerun(path=str(tmp_path / "d2"), config=str(config))
    assert any("emerging topics failed" in w for w in res["warnings"]) and res["report"]
    assert q(data_dir, "SELECT count(*) FROM feedback WHERE source_id = 'Y1'")[0][0] == 1
    monkeypatch.undo()
    write_reviews(tmp_path / "d3" / "reviews" / "appstore_three.csv", [("X1", "U1", "2026-10-03", 5, "Fixed, thanks")])
    assert rerun(path=str(tmp_path / "d3"), config=str(config))["warnings"] == []  # later runs unaffected


def test_symlinks_leaving_the_roots_are_refused(config, data_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    dump = tmp_path / "dump" / "reviews"
    dump.mkdir(parents=True)
    (dump / "appstore_evil.csv").symlink_to(secret)
    (dump / "nested").symlink_to(outside, target_is_directory=True)
    write_reviews(dump / "appstore_ok.csv", [("O1", "U1", "2026-10-01", 5, "Works well")])
    res = rerun(path=str(tmp_path / "dump"), config=str(config))
    assert res["files"] == 1 and any("appstore_evil.csv" in w and "refused" in w for w in res["warnings"])
    assert q(data_dir, "SELECT count(*) FROM quarantine WHERE raw LIKE '%root:x%'")[0][0] == 0


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(config, landing, data_dir, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (data_dir / ".touchpoint.lock").symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        nightly(landing=str(landing), config=str(config))
    assert target.read_text() == "keep me"


def test_a_store_locked_by_another_process_fails_before_processing(config, landing, data_dir):
    store.connect(data_dir).close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               f"c = duckdb.connect({str(store.db_path(data_dir))!r}); print('held', flush=True); "
                               "time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.perf_counter()
        with pytest.raises(StoreError, match="locked"):
            nightly(landing=str(landing), config=str(config))
        assert time.perf_counter() - t0 < 20
        assert not (data_dir / "work").exists()  # refused before any staging
    finally:
        holder.kill()
        holder.wait()


def test_stale_staging_from_a_killed_run_is_cleaned(config, landing, data_dir):
    stale = data_dir / "work" / "20260101T000000-dead" / "00000-abc" / "feedback"
    stale.mkdir(parents=True)
    (stale / "00000.parquet").write_bytes(b"partial")
    nightly(landing=str(landing), config=str(config))
    assert not (data_dir / "work" / "20260101T000000-dead").exists()


def test_disk_full_and_permission_errors_are_not_retried():
    from prefect import flow, task

    from flows.tasks import transient_only

    calls = {"n": 0}

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=transient_only)
    def write_part():
        calls["n"] += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    @flow
    def f():
        return write_part()

    with pytest.raises(OSError):
        f()
    assert calls["n"] == 1


def test_bounded_time_a_slow_file_is_stopped_by_the_task_timeout(tmp_path, data_dir):
    """RELIABILITY 14: a file that takes longer than run.task_timeout_s stops the run; nothing is published."""
    from prefect.task_engine import TaskRunTimeoutError

    from pipeline.ingest.demo import generate

    # 0.2 s: far less than any real file takes (loading, reading, scoring), on any machine
    cfg = write_config(tmp_path / "slow.yaml", data_dir, run={"task_timeout_s": 0.2, "batch_size": 50})
    generate(tmp_path / "demo", size=1500, seed=3)
    t0 = time.perf_counter()
    with pytest.raises(TaskRunTimeoutError, match=r"timed out after 0\.2 second"):
        rerun(path=str(tmp_path / "demo" / "reviews"), config=str(cfg))
    assert time.perf_counter() - t0 < 60
    assert q(data_dir, "SELECT count(*) FROM feedback")[0][0] == 0


def test_rescore_after_a_config_change_updates_every_row(config, landing, data_dir, tmp_path):
    from flows.nightly import rescore

    from models.encoders.core import clear_caches, get_encoder

    sql = ("SELECT feedback_id, idx, sentiment_label, round(sentiment_score, 6), topic, subtopic "
           "FROM sentences ORDER BY feedback_id, idx")
    clear_caches()
    nightly(landing=str(landing), config=str(config))
    enc = get_encoder(load_settings(config).models.encoder)  # the configured encoder the flow used
    first = q(data_dir, sql)
    assert first and enc.misses > 0 and enc.disk is not None and enc.disk.rows() >= enc.misses
    clear_caches()  # memory emptied, as in a new process; the vector cache file stays
    old_hash = load_settings(config).hash()
    changed = write_config(tmp_path / "changed.yaml", data_dir, contract={"max_bad_fraction": 0.55},
                           join={"customer_window_days": 30})
    new_hash = load_settings(changed).hash()
    assert new_hash != old_hash
    assert nightly(landing=str(landing), config=str(changed))["files"] == 0  # same content: nightly skips it
    res = rescore(config=str(changed))
    assert res["files"] == 9 and res["counts"]["review"]["out"] == 8
    # reliability property 11: every sentence vector came from the run before, and no row changed
    assert enc.misses == 0 and enc.disk_hits > 0 and q(data_dir, sql) == first
    assert q(data_dir, "SELECT DISTINCT config_hash FROM feedback") == [(new_hash,)]
    models = json.loads(q(data_dir, "SELECT models FROM runs ORDER BY finished_at DESC LIMIT 1")[0][0])
    assert store.stale_files(data_dir, new_hash, models) == []
    assert len(store.stale_files(data_dir, old_hash, models)) == 9
    assert rescore(config=str(changed))["files"] == 0


def test_each_run_publishes_a_summary_and_a_scorecard_artifact(config, landing, data_dir):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    state = nightly(landing=str(landing), config=str(config), return_state=True)
    res = state.result()
    flow_run_id = state.state_details.flow_run_id

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))

    arts = {a.key: a for a in asyncio.run(read())}
    summary = arts["touchpoint-run-summary"].data
    assert arts["touchpoint-run-summary"].type == "markdown" and res["run_id"] in summary
    assert "| review | 14 | 8 | 6 | 0 | 0 | 2 |" in summary and res["report"] in summary
    assert arts["touchpoint-scorecard"].type == "table"
    assert {r["touchpoint"] for r in json.loads(arts["touchpoint-scorecard"].data)} >= {"app", "support"}


def test_broken_webvtt_cues_are_quarantined_while_the_call_is_published(config, data_dir):
    src = ROOT / "tests" / "data" / "readers" / "broken_cues.vtt"
    dump = data_dir / "dump" / "calls"
    dump.mkdir(parents=True)
    (dump / "broken_cues.vtt").write_bytes(src.read_bytes())
    res = rerun(path=str(data_dir / "dump"), config=str(config))
    c = res["counts"]["call"]
    assert (c["in"], c["out"], c["quarantined"]) == (1, 1, 0) and c["fragments_quarantined"] >= 3
    assert q(data_dir, "SELECT count(*) FROM quarantine WHERE channel = 'call'")[0][0] == c["fragments_quarantined"]
    assert q(data_dir, "SELECT count(*) FROM feedback WHERE channel = 'call'")[0][0] == 1


def test_bi_views_agree_with_the_metric_definitions(config, landing, data_dir, tmp_path):
    from pipeline.storage.export import export_tables
    from pipeline.metrics import nps

    nightly(landing=str(landing), config=str(config))
    # the view counts answers, each once, on the answer's day at its attributed touchpoint
    answers = q(data_dir, "SELECT event_date, touchpoint, value FROM answers WHERE kind = 'nps'")
    view = {(d, tp): (n, v) for d, tp, _vol, n, v, _s in q(data_dir, "SELECT * FROM v_nps_by_touchpoint_day")}
    assert view and sum(n for n, _ in view.values()) == len(answers) == 7
    for (d, tp), (n, v) in view.items():
        vals = [x for dd, t, x in answers if dd == d and t == tp]
        assert n == len(vals)
        assert v == (None if not vals else round(nps(vals), 1)), (d, tp)
    # the reading view lists feedback rows joined to a detractor answer
    rows = q(data_dir, "SELECT s.nps FROM feedback f JOIN feedback_scores s USING (feedback_id)")
    detractors = q(data_dir, "SELECT count(*) FROM v_detractor_reasons")[0][0]
    assert detractors == sum(1 for (x,) in rows if x is not None and x <= 6) > 0
    written = export_tables(data_dir, tmp_path / "bi", "parquet", ["v_topic_sentiment_by_touchpoint",
                                                                    "v_nps_by_touchpoint_day", "sentences"])
    assert len(pd.read_parquet(written["v_topic_sentiment_by_touchpoint"])) > 0
    # dated tables come back partitioned by day, each row in its own day's folder, none lost
    days = pd.read_parquet(written["v_nps_by_touchpoint_day"])
    assert written["v_nps_by_touchpoint_day"].is_dir() and len(days) == len(view)
    stored_days = pd.to_datetime(days["event_date"]).dt.strftime("%Y-%m-%d").fillna("unknown")
    assert (days["date"].astype(str) == stored_days).all(), days[["date", "event_date"]].head()
    assert {p.name for p in written["v_nps_by_touchpoint_day"].iterdir()} == {f"date={d}" for d in stored_days}
    assert len(pd.read_parquet(written["sentences"])) == q(data_dir, "SELECT count(*) FROM sentences")[0][0]

"""The demo's planted effort phrases and call cases, found by the real pipeline: demo dumps -> nightly
flow (real models, real store) -> cx signals, call_metrics, and the report's effort-vs-CES figures.

One flow run for the module; the planted sets come from pipeline.ingest.demo (effort_cases, call_cases)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.ingest import demo
from pipeline.reporting import report
from pipeline.storage import store
from tests.conftest import copy_models, write_config

SIZE, SEED = 300, 11
MIN_CUE_WEIGHT = 0.45  # the smallest effort-cue weight (models/effort.WEIGHTS): one cue scores at least this


@pytest.fixture(scope="module")
def run(tmp_path_factory, model_dir, prefect_harness):
    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("demo_planted")
    data_dir = root / "data"
    data_dir.mkdir()
    copy_models(model_dir, data_dir / "models")
    cfg = write_config(root / "demo.yaml", data_dir, run={"discover_topics": 0})
    demo.generate(root / "landing", size=SIZE, seed=SEED)
    res = nightly(landing=str(root / "landing"), config=str(cfg))
    con = duckdb.connect(str(store.db_path(data_dir)), read_only=True)
    try:
        feedback = con.execute("""SELECT feedback_id, channel, source_id, effort_score, effort_cues
            FROM feedback""").df()
        calls = con.execute("""SELECT f.source_id, m.* FROM call_metrics m JOIN feedback f USING (feedback_id)
            ORDER BY f.source_id""").df()
    finally:
        con.close()
    return {"data_dir": data_dir, "result": res, "feedback": feedback, "calls": calls}


def test_planted_effort_cues_are_found_in_every_channel_and_language(run):
    fb = run["feedback"]
    cases = demo.effort_cases()
    assert len(cases) == 20 and {c["channel"] for c in cases} == {"review", "chat", "call", "survey"}
    missed = []
    for c in cases:
        row = fb[(fb["source_id"] == c["source_id"]) & (fb["channel"] == c["channel"])]
        assert len(row) == 1, c
        cues = (row["effort_cues"].iloc[0] or "").split(",")
        if c["cue"] not in cues or row["effort_score"].iloc[0] < MIN_CUE_WEIGHT:
            missed.append((c["cue"], c["language"], c["channel"], row["effort_cues"].iloc[0]))
    assert missed == [], missed


def test_planted_rows_score_higher_effort_than_the_rest(run):
    fb = run["feedback"]
    keys = {(c["channel"], c["source_id"]) for c in demo.effort_cases()}
    planted = fb[[(ch, s) in keys for ch, s in zip(fb["channel"], fb["source_id"])]]
    rest = fb.drop(planted.index)
    assert len(planted) == 20 and len(rest) > 150
    assert planted["effort_score"].min() >= MIN_CUE_WEIGHT
    assert planted["effort_score"].mean() > rest["effort_score"].mean() + 0.3, \
        (planted["effort_score"].mean(), rest["effort_score"].mean())
    # most of the rest describe no effort at all: the score is not high everywhere
    assert (rest["effort_score"] == 0).mean() > 0.6


def test_planted_call_cases_are_counted(run):
    from pipeline.identity import pseudonym_key, speaker_pseudonym

    key = pseudonym_key(run["data_dir"], create=False)
    spk = {label: speaker_pseudonym(label, key) for label in ("spk_0", "spk_1", "spk_2")}  # labels are stored keyed
    calls = run["calls"].set_index("source_id")
    cases = {c["call_id"]: c for c in demo.call_cases()}
    assert len(cases) == 12 and set(cases) <= set(calls.index)
    for cid, c in cases.items():
        m = calls.loc[cid]
        assert m["transfers"] == c["transfers"] and bool(m["transferred"]) == (c["kind"] == "transfer"), (cid, m)
        assert m["interruptions"] == c["interruptions"], (cid, m["interruptions"])
        assert bool(m["roles_suspect"]) == c["swapped"], (cid, m["roles_reason"])
        if c["kind"] == "transfer":
            assert m["n_speakers"] == 3 and "3 speaker labels" in m["transfer_reason"]
            assert "agent says" in m["transfer_reason"]
            assert m["agent_speaker"] == f"{spk['spk_0']}, {spk['spk_2']}"  # the colleague counts as an agent
        if c["kind"] == "overlap":
            assert (m["agent_interruptions"], m["customer_interruptions"]) == (1, 1)
        if c["kind"] == "swapped":  # corrected, with the quoted reason
            assert "roles swapped" in m["roles_reason"] and f"labelled agent {spk['spk_0']}" in m["roles_reason"]
            assert "\\u" not in m["roles_reason"]  # quoted as written (Persian joiners), not as repr escapes
            assert m["agent_speaker"] == spk["spk_1"] and m["trajectory"] == "roles_suspect"
    # every other call: no overlap, no transfer, labels trusted (the planted ones are the only cases)
    rest = calls.drop(index=list(cases))
    assert len(rest) >= 10
    timed = rest[rest["talk_basis"] == "duration"]
    assert len(timed) >= 5 and (timed["interruptions"] == 0).all()
    assert (rest["transfers"] == 0).all() and not rest["transferred"].any()
    assert not rest["roles_suspect"].any(), rest.loc[rest["roles_suspect"], "roles_reason"].tolist()


def test_effort_vs_ces_in_the_report(run):
    data = report.collect(run["data_dir"])
    overall = data["effort_ces"][0]
    assert overall["scope"] == "all channels" and overall["n"] == len(data["effort_ces_rows"]) >= 100
    # each CES answer once (a customer's review and chat joined to one answer are one pair)
    ids = [r["feedback_id"] for r in data["effort_ces_rows"]]
    assert len(ids) == len(set(ids)) and overall["customers"] <= overall["n"]
    assert overall["ci95_low"] < overall["spearman_r"] < overall["ci95_high"]
    assert overall["ci95_low"] > 0  # effort described in text goes with harder CES answers here
    assert overall["ces_mean_cue"] > overall["ces_mean_no_cue"]
    assert {r["scope"] for r in data["effort_ces"][1:]} <= {"review", "chat", "call", "survey"}
    page = Path(run["result"]["report"]).read_text(encoding="utf-8")
    assert "<h2>Effort in the text vs CES</h2>" in page and "<h2>Effort vs CES by channel</h2>" in page
    assert f"Spearman r = {overall['spearman_r']:+.2f}" in page and "tend to give harder CES answers" in page

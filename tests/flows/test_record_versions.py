"""RELIABILITY 16: the store is a function of the set of inputs, not of their order.

The newest version of a record wins by its own stamp (source time), whatever order files, reruns
and rescores arrive in; and RELIABILITY 17 on the same stores: every answer counted once.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from configs import load_settings
from flows.nightly import nightly, rescore
from flows.tasks import load_models
from pipeline.storage import store
from pipeline.ingest import file_sha256
from pipeline.normalize import normalize_text
from pipeline.process import process_file
from tests.conftest import copy_models, write_config
from tests.flows.conftest import TEST_RUN, q, snapshot

BASE = datetime(2026, 10, 1, 9, 0, 0)
TEXTS = ["Delivery was late and support never answered.", "Update: it arrived and support fixed everything. Great!",
         "Il pacco è arrivato rotto.", "快递很快，质量很好。", "بسته دیر رسید و کسی جواب نداد.", "Price is fair, app is slow."]
KEY = b"k" * 64

# A record version: (id, v). Its time and content are functions of (id, v), so two different contents
# of one id always carry two different stamps (the case the property is about).
review = st.tuples(st.sampled_from(["R1", "R2", "R3"]), st.integers(0, 5))
answer = st.tuples(st.sampled_from(["S1", "S2"]), st.integers(0, 5))
dump = st.tuples(st.lists(review, max_size=4), st.lists(answer, max_size=3))


def write_dump(folder: Path, i: int, reviews, answers) -> list[tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    if reviews:
        p = folder / f"reviews_{i}.jsonl"
        p.write_text("".join(json.dumps({
            "id": rid, "customer": f"U{rid}", "order_id": f"O{rid}", "ts": (BASE + timedelta(days=v)).isoformat(),
            "score": 1 + v % 5, "content": TEXTS[v]}, ensure_ascii=False) + "\n" for rid, v in reviews),
            encoding="utf-8")
        out.append((p, "marketplace"))
    if answers:
        p = folder / f"survey_{i}.csv"
        lines = ["response_id,customer_id,order_id,submitted_at,nps,comment"]
        lines += [f"{sid},U{sid},O{'R1' if sid == 'S1' else 'R9'},{(BASE + timedelta(hours=v)).isoformat()},"
                  f"{2 * v},{'' if v % 2 else 'thanks'}" for sid, v in answers]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.append((p, "nps_survey"))
    return out


def publish_in_order(data_dir: Path, staged: list[list[dict]]) -> dict[str, list[tuple]]:
    """Publish each group of staged files as one run, in the given order; the store's data tables."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for n, group in enumerate(staged):
        parts: dict[str, list[str]] = {}
        for res in group:
            for table, ps in res["parts"].items():
                parts.setdefault(table, []).extend(ps)
        store.publish(data_dir, parts, {**TEST_RUN, "run_id": f"r{n}"}, group, window_days=14)
    return snapshot(data_dir)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, model_dir) -> tuple:
    """Settings and the session's real models, loaded once for every hypothesis example."""
    home = tmp_path_factory.mktemp("versions-models")
    copy_models(model_dir, home / "models")
    cfg = load_settings(write_config(home / "config.yaml", home))
    return cfg, load_models(cfg)


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(dumps=st.lists(dump, min_size=2, max_size=3))
def test_store_is_a_function_of_the_set_of_inputs(dumps, loaded):
    root = Path(tempfile.mkdtemp(prefix="versions-"))
    try:
        cfg, models = loaded
        runs: list[list[dict]] = []  # one run per dump: its files
        seq = 0
        for i, (reviews, answers) in enumerate(dumps):
            runs.append([])
            for path, source in write_dump(root / "in", i, reviews, answers):
                res = process_file(path, path.name, file_sha256(path), cfg.source(source), cfg, models,
                                   root / "stage", seq=seq, pseudonym_key=KEY)
                runs[-1].append(res.to_dict())
                seq += 1
        runs = [r for r in runs if r]
        if not runs:
            return
        together = publish_in_order(root / "together", [[f for r in runs for f in r]])
        for k, order in enumerate(itertools.permutations(runs)):
            one_by_one = publish_in_order(root / f"perm{k}", list(order))
            assert one_by_one == together, [[f["input_file"] for f in r] for r in order]
            if k == 0:  # and a rescore of the first dump afterwards changes nothing
                rescored = publish_in_order(root / f"perm{k}", [order[0]])
                assert rescored == together
        # the newest version of each review is the one stored
        newest = {}
        for reviews, _ in dumps:
            for rid, v in reviews:
                newest[rid] = max(newest.get(rid, -1), v)
        stored = dict(q(root / "together", "SELECT source_id, text FROM feedback WHERE channel = 'review'"))
        assert stored == {rid: normalize_text(TEXTS[v]) for rid, v in newest.items()}
        # every answer once: answers = scores, per kind, and the aggregates add up to them
        n_scores = q(root / "together", "SELECT count(*) FROM scores")[0][0]
        assert q(root / "together", "SELECT count(*) FROM answers")[0][0] == n_scores
        assert (q(root / "together", "SELECT coalesce(sum(n_nps), 0) FROM aggregates")[0][0]
                == q(root / "together", "SELECT count(*) FROM scores WHERE kind = 'nps'")[0][0])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_rescore_never_writes_an_older_record_over_a_newer_one(tmp_path, data_dir, prefect_harness, monkeypatch):
    """The issue's scenario: A holds R1 of Oct 1; the config changes; B brings R1 of Oct 3; rescoring A
    (stale: another config produced its rows) must leave B's text, and equal the B-then-A store."""
    def dump(name: str, day: int, text: str) -> Path:
        d = tmp_path / name / "reviews"
        d.mkdir(parents=True)
        (d / f"marketplace_{name}.jsonl").write_text(json.dumps({"id": "R1", "customer": "U1", "ts": f"2026-10-0{day}T09:00:00",
                                                     "score": 3, "content": text}) + "\n", encoding="utf-8")
        return tmp_path / name

    monkeypatch.setenv("TOUCHPOINT_PSEUDONYM_KEY", "versions-test-key-" + "0" * 40)  # both stores, one key
    a = dump("A", 1, "Delivery was late and support never answered.")
    b = dump("B", 3, "Update: it arrived and support fixed everything. Great!")
    old = write_config(tmp_path / "old.yaml", data_dir)
    new = write_config(tmp_path / "new.yaml", data_dir, join={"customer_window_days": 7})
    nightly(landing=str(a), config=str(old))
    nightly(landing=str(b), config=str(new))
    res = rescore(config=str(new))
    assert res["counts"]["review"]["superseded"] == 1  # A's R1 met a newer stored R1 and lost
    assert q(data_dir, "SELECT text FROM feedback")[0][0].startswith("Update: it arrived")
    kinds = [r[0] for r in q(data_dir, "SELECT kind FROM conflicts ORDER BY run_id, kind")]
    assert "vs_store_newer" in kinds

    other = tmp_path / "other_data"
    copy_models(data_dir / "models", other / "models")
    new2 = write_config(tmp_path / "new2.yaml", other, join={"customer_window_days": 7})
    nightly(landing=str(b), config=str(new2))
    nightly(landing=str(a), config=str(new2))
    # the follow-up queue is work state, not a function of the inputs: an item opened on A's text stays
    # open for the team that may already have acted on it
    mine, theirs = snapshot(data_dir), snapshot(other)
    mine.pop("followup_queue"), theirs.pop("followup_queue")
    assert theirs == mine

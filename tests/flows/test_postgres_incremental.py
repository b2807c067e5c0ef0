"""Incremental push and pull of the shared store, on a real PostgreSQL server on 127.0.0.1.

The stores are synthetic (bench/pg_push.py builds them with SQL, a few hundred records): what is
tested is what moves and what the shared store ends with, not the flow that fills a store.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.storage import pgstore, store
from tests.flows.test_postgres_store import duck_snapshot, pg_snapshot, pg_url  # noqa: F401 - the server

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("pg_push_bench", ROOT / "bench" / "pg_push.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

INPUT_TABLES = ["feedback", "utterances", "sentences", "scores", "tickets", "quarantine", "ingested_files", "runs",
                "conflicts"]
N = 300  # feedback records of the synthetic store


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("base") / "store"
    bench.build_store(d, N)
    return d


def copy_store(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def session(url: str, schema: str) -> pgstore.SharedStore:
    return pgstore.SharedStore(url, schema, run_lock=False)


def duck(data_dir: Path, query: str, params=None):
    con = duckdb.connect(str(store.db_path(data_dir)))
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def test_incremental_push_moves_only_the_changed_rows(pg_url, tmp_path, base_store):
    schema = "tp_inc_push"
    m = copy_store(base_store, tmp_path / "m")
    total = sum(len(store.table_rows(m, t)) for t in store.SCHEMA)
    with session(pg_url, schema) as s:
        seed = s.push(m, "seed")
        assert seed["mode"] == "full" and sum(seed["rows"].values()) == total  # seeding: everything
        again = s.push(m, "again")
        assert again["mode"] == "incremental" and sum(again["rows"].values()) == 0  # nothing changed

        changed = bench.touch(m, 0.04, tag="e1")  # k = 6 records edited, 6 new
        k = int(N * 0.04 / 2)
        res = s.push(m, "e1")
    assert res["mode"] == "incremental"
    rows = res["rows"]
    # a record travels with its child rows: edited (2 sentences, 1 utterance) and new (1 sentence, none)
    assert rows["feedback"] == 2 * k and res["keys"]["feedback"] == 2 * k
    assert rows["sentences"] == 3 * k and rows["utterances"] == k
    assert rows["ingested_files"] == 1 and rows["runs"] == 1
    assert rows["tickets"] == rows["quarantine"] == rows["conflicts"] == rows["key_drivers"] == 0
    assert 0 < sum(rows.values()) <= 2 * changed < 0.1 * total, (rows, changed, total)
    assert pg_snapshot(pg_url, schema) == duck_snapshot(m)  # the same rows as a full copy gives

    # a deletion moves a key, not a row
    duck(m, "DELETE FROM tickets WHERE ticket_id = 't3'")
    with session(pg_url, schema) as s:
        res = s.push(m, "delete")
    assert res["rows"]["tickets"] == 0 and res["keys"]["tickets"] == 1 and sum(res["rows"].values()) == 0
    assert pg_snapshot(pg_url, schema) == duck_snapshot(m)

    # a copy holding an older version of a record cannot write it over the newer one in Postgres
    stale = tmp_path / "stale"
    with session(pg_url, schema) as s:
        assert s.pull(stale)["mode"] == "full"
    newer = pg_snapshot(pg_url, schema)
    duck(stale, "UPDATE feedback SET text = 'an older edit', content_hash = md5('older'), "
                "version_ts = version_ts - INTERVAL 1 DAY WHERE feedback_id = 'reviews:0'")
    duck(stale, "UPDATE sentences SET text = 'older sentence' WHERE feedback_id = 'reviews:0'")
    with session(pg_url, schema) as s:
        res = s.push(stale, "stale")
        assert res["kept"] == {"feedback": 1, "utterances": 1, "sentences": 1}
        assert pg_snapshot(pg_url, schema) == newer  # the record and its sentences as they were
        back = s.pull(stale)  # the kept version comes back to the stale copy
    assert back["mode"] == "incremental" and back["rows"]["feedback"] == 1 and back["rows"]["sentences"] == 2
    assert duck_snapshot(stale) == newer


def test_pull_after_another_push_brings_only_the_new_rows(pg_url, tmp_path, base_store):
    schema = "tp_inc_pull"
    a = copy_store(base_store, tmp_path / "a")
    b = tmp_path / "b"
    with session(pg_url, schema) as s:
        s.push(a, "seed")
        first = s.pull(b)  # a new machine: everything
        assert first["mode"] == "full"
        assert s.pull(b)["mode"] == "incremental" and sum(s.pull(b)["rows"].values()) == 0

        bench.touch(a, 0.04, tag="ea")
        pushed = s.push(a, "ea")
        # machine B changed its copy without pushing: a pull puts it back, as a full pull would
        duck(b, "DELETE FROM sentences WHERE feedback_id = 'reviews:7' AND idx = 1")
        duck(b, "UPDATE aggregates SET volume = -1")
        got = s.pull(b)
        assert s.pull(a)["rows"] == {t: 0 for t in store.SCHEMA}  # A's own push does not come back to it
    assert got["mode"] == "incremental"
    n_aggr = len(store.table_rows(b, "aggregates"))
    for table in store.SCHEMA:
        extra = {"sentences": 2, "aggregates": n_aggr - pushed["rows"]["aggregates"]}.get(table, 0)
        assert got["rows"][table] == pushed["rows"][table] + extra, table
    assert sum(got["rows"].values()) < 0.1 * sum(first["rows"].values())
    full = tmp_path / "full"
    with session(pg_url, schema) as s:
        s.pull(full, full=True)
    assert duck_snapshot(b) == duck_snapshot(full) == pg_snapshot(pg_url, schema)


PUSHER = """
import json, sys, time
from pipeline.storage import pgstore
url, schema, data_dir, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
while time.time() < start:
    time.sleep(0.005)
t0 = time.time()
with pgstore.SharedStore(url, schema, run_lock=False) as s:  # each its own connection
    res = s.push(data_dir, data_dir, on_table=lambda t: time.sleep(0.6) if t == "feedback" else None)
print(json.dumps({"revision": res["revision"], "mode": res["mode"], "kept": res["kept"], "t0": t0,
                  "t1": time.time()}))
"""


def _edit_a(d: Path) -> None:
    bench.touch(d, 0.1, tag="a1", stamp_minutes=30, stride=7)  # newer than B's edit of the same records
    bench.touch(d, 0.1, tag="a2", stamp_minutes=5, stride=13, offset=1)  # the same stamp as B's: a tie
    duck(d, "UPDATE quarantine SET input_file = 'a.jsonl' WHERE input_line < 3")


def _edit_b(d: Path) -> None:
    bench.touch(d, 0.1, tag="b1", stamp_minutes=20, stride=7)
    bench.touch(d, 0.1, tag="b2", stamp_minutes=5, stride=13, offset=1)
    bench.touch(d, 0.1, tag="b3", stamp_minutes=90, stride=11, offset=3)  # newer than A's
    duck(d, "UPDATE quarantine SET input_file = '0b.jsonl' WHERE input_line < 2")


def test_concurrent_pushes_end_as_pushing_one_after_the_other(pg_url, tmp_path, base_store):
    def prepared(schema: str) -> tuple[Path, Path]:
        seed = copy_store(base_store, tmp_path / f"{schema}_seed")
        with session(pg_url, schema) as s:
            s.push(seed, "seed")
        a, b = copy_store(seed, tmp_path / f"{schema}_a"), copy_store(seed, tmp_path / f"{schema}_b")
        _edit_a(a)
        _edit_b(b)
        return a, b

    # two processes, each with its own connection, push at the same moment
    a, b = prepared("tp_conc")
    start = time.time() + 3
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = {name: subprocess.Popen([sys.executable, "-c", PUSHER, pg_url, "tp_conc", str(d), str(start)], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, d in (("a", a), ("b", b))}
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr[-2000:]
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    assert {o["mode"] for o in out.values()} == {"incremental"}
    assert max(o["t0"] for o in out.values()) < min(o["t1"] for o in out.values())  # they did overlap
    first = min(out, key=lambda n: out[n]["revision"])
    assert sorted(o["revision"] for o in out.values()) == [2, 3]  # one after the other, each whole
    assert out[[n for n in out if n != first][0]]["kept"]  # the version rule kept some rows of the first
    concurrent = pg_snapshot(pg_url, "tp_conc")

    # the same two pushes, one after the other, both ways round
    sequential = {}
    for order in ("ab", "ba"):
        schema = f"tp_seq_{order}"
        dirs = dict(zip("ab", prepared(schema)))
        for name in order:
            with session(pg_url, schema) as s:
                s.push(dirs[name], str(dirs[name]))
        sequential[order] = pg_snapshot(pg_url, schema)

    # input tables: the record-version rule decides, so the order does not matter
    for table in INPUT_TABLES:
        assert concurrent[table] == sequential["ab"][table] == sequential["ba"][table], table
    # every table, derived ones too (the last push's), as the same pushes in the order they committed
    assert concurrent == sequential["ab" if first == "a" else "ba"]

    # and the rule did decide: A's newer edit, B's newer edit, each kept whoever pushed last
    text = dict(pg_query_rows(pg_url, "tp_conc", "SELECT feedback_id, text FROM {} WHERE feedback_id IN "
                                                 "('reviews:7', 'reviews:14')"))
    assert text["reviews:7"].endswith("(a1)") and text["reviews:14"].endswith("(b3)")
    lowest = pg_query_rows(pg_url, "tp_conc", "SELECT DISTINCT input_file FROM {} WHERE input_line < 3",
                           "quarantine")
    assert sorted(r[0] for r in lowest) == ["0b.jsonl", "a.jsonl"]


def pg_query_rows(url: str, schema: str, query: str, table: str = "feedback"):
    from psycopg import sql

    with psycopg.connect(url) as c:
        return c.execute(sql.SQL(query).format(sql.Identifier(schema, table))).fetchall()


def baselines(data_dir: Path) -> dict[str, list]:
    """Every sync baseline table of a local copy (tp_sync_*), sorted rows."""
    names = [r[0] for r in duck(data_dir, "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'tp_sync_%'")]
    assert names
    return {t: sorted(duck(data_dir, f"SELECT * FROM {t}"), key=repr) for t in names}


def test_the_benchmarks_scan_timing_changes_nothing_the_push_sees(pg_url, tmp_path, base_store):
    """bench/pg_push.py times the change detection on its own connection before the push: that must
    leave the store and its baselines as they were, so the push it reports moves the same rows."""
    schema = "tp_inc_scan"
    m = copy_store(base_store, tmp_path / "m")
    with session(pg_url, schema) as s:
        s.push(m, "seed")
        bench.touch(m, 0.04, tag="s1")
        before = duck_snapshot(m), baselines(m)
        scan = bench.scan_seconds(m)
        assert (duck_snapshot(m), baselines(m)) == before
        assert scan["input"] > 0 and scan["other"] > 0
        res = s.push(m, "s1")
    k = int(N * 0.04 / 2)
    assert res["mode"] == "incremental" and res["rows"]["feedback"] == 2 * k and res["rows"]["sentences"] == 3 * k
    assert pg_snapshot(pg_url, schema) == duck_snapshot(m)


@pytest.mark.parametrize("duplicate", [False, True], ids=["edits", "edits-and-a-duplicated-row"])
def test_change_detection_finds_exactly_the_keys_whose_rows_changed(tmp_path, base_store, duplicate):
    """pgsync._dirty against a brute-force reference: per sync key, the multiset of row hashes now
    against the baseline's. Edits, deletes and inserts are found from the hashes on one side; a row
    duplicated (a hash both sides hold, now twice) is not, and must send its key through the exact count."""
    from collections import Counter

    from pipeline.storage import pgsync

    d = copy_store(base_store, tmp_path / "d")
    con = store.connect(d)
    try:
        tables = ["feedback", "sentences", "scores", "aggregates", "quarantine"]
        for t in tables:
            pgsync._rebase(con, t)

        def groups(t: str) -> dict[str, Counter]:
            out: dict[str, Counter] = {}
            for h, k in con.execute(f"SELECT {pgsync._hash_sql(t)}, {pgsync._key_sql(t)} FROM {t}").fetchall():
                out.setdefault(k, Counter())[h] += 1
            return out

        before = {t: groups(t) for t in tables}
        con.execute("UPDATE feedback SET text = text || '!' WHERE feedback_id IN ('reviews:3', 'reviews:17')")
        con.execute("DELETE FROM sentences WHERE feedback_id = 'reviews:5' AND idx = 1")
        con.execute("INSERT INTO sentences (feedback_id, idx, text) VALUES ('reviews:new', 0, 'new')")
        con.execute("UPDATE scores SET value = value + 1 WHERE score_id = 's8'")
        con.execute("DELETE FROM aggregates WHERE rowid = (SELECT min(rowid) FROM aggregates)")
        if duplicate:
            con.execute("INSERT INTO sentences SELECT * FROM sentences WHERE feedback_id = 'reviews:9' AND idx = 0")
            con.execute("INSERT INTO quarantine SELECT * FROM quarantine LIMIT 1")
        got = {}
        for t in tables:
            now = groups(t)
            want = {k for k in set(now) | set(before[t]) if now.get(k) != before[t].get(k)}
            n = pgsync._dirty(con, t)
            got[t] = {r[0] for r in con.execute(f"SELECT k FROM _dirty_{t}").fetchall()}
            assert got[t] == want and n == len(want), t
        assert {"reviews:3", "reviews:17"} == got["feedback"] and got["scores"] == {"s8"} and len(got["aggregates"]) == 1
        assert {"reviews:5", "reviews:new"} | ({"reviews:9"} if duplicate else set()) == got["sentences"]
        assert len(got["quarantine"]) == (1 if duplicate else 0)
    finally:
        con.close()

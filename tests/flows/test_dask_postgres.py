"""The nightly flow on a Dask LocalCluster (two worker processes) with the shared PostgreSQL store.

Workers only stage files; the pull, the publish and the push stay in the flow's process, so each run
is one Postgres transaction and the tables end as a single-process run of the same files leaves them.
The server is the one tests/flows/test_postgres_store.py starts on 127.0.0.1 (skipped without it).
"""

from __future__ import annotations

import shutil

import pytest

from flows.nightly import nightly, with_runner
from pipeline.storage import store
from tests.conftest import copy_models
from tests.flows.conftest import snapshot
from tests.flows.test_postgres_store import (assert_same, duck_snapshot, pg_query, pg_snapshot,  # noqa: F401
                                             pg_url, shared_config)

pytestmark = pytest.mark.usefixtures("prefect_harness")
pytest.importorskip("prefect_dask", reason="prefect-dask is not installed: pip install -e '.[dask]'")

BATCHES = (("reviews", "surveys", "tickets"), ("chats", "calls"))  # two nightly runs, the second adds files


def xmins(url: str, schema: str) -> dict[str, set[int]]:
    """The transactions (xmin) that wrote the rows each table of the schema holds now."""
    tables = [r[0] for r in pg_query(url, "SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = %s AND table_type = 'BASE TABLE'", [schema])]
    return {t: {r[0] for r in pg_query(url, f'SELECT DISTINCT xmin::text::bigint FROM "{schema}"."{t}"')}
            for t in tables}


def test_dask_with_shared_store_gives_the_local_runs_tables(pg_url, tmp_path, model_dir, landing, monkeypatch):
    """Both Dask runs go to one long-lived cluster at its scheduler address (as a team's cluster is run):
    two worker processes, started once, keep their loaded models from one night to the next."""
    from distributed import LocalCluster

    monkeypatch.setenv("TOUCHPOINT_PSEUDONYM_KEY", "shared-secret-of-the-team")  # workers inherit it
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        _local_then_dask(pg_url, tmp_path, model_dir, landing, cluster.scheduler_address)
    finally:
        cluster.close()


def _local_then_dask(pg_url, tmp_path, model_dir, landing, address: str) -> None:
    pg, duck, runs = {}, {}, {}
    for runner in ("local", "dask"):
        data, schema, feed = tmp_path / runner, f"tp_{runner}", tmp_path / f"landing_{runner}"
        copy_models(model_dir, data / "models")
        cfg = shared_config(tmp_path, data, pg_url, schema, f"{runner}.yaml")
        flow = with_runner(nightly, runner, address=address if runner == "dask" else None)
        seen: set[int] = set()
        runs[runner] = []
        for batch in BATCHES:
            for folder in batch:
                shutil.copytree(landing / folder, feed / folder)
            res = flow(landing=str(feed), config=str(cfg))
            assert res["files"] == sum(1 for f in batch for p in (landing / f).iterdir()), res
            assert res["seconds"]["shared_store_push"] > 0
            runs[runner].append(res["run_id"])
            # one push, one transaction: every row this run wrote in Postgres carries the same xmin
            now = xmins(pg_url, schema)
            new = set().union(*now.values()) - seen
            assert len(new) == 1, {t: x - seen for t, x in now.items() if x - seen}
            (txid,) = new
            assert pg_query(pg_url, f"SELECT xmin::text::bigint FROM {schema}.runs WHERE run_id = %s",
                            [res["run_id"]]) == [(txid,)]
            seen |= new
        if runner == "dask":  # fresh worker processes encode, so they wrote (and shared) the cache file; the local
            # runner may be answered by this process's in-memory cache from earlier tests and write nothing
            assert list((data / "cache").glob("vectors-*.sqlite"))
        pg[runner] = pg_snapshot(pg_url, schema)
        assert_same(pg[runner], duck_snapshot(data))  # Postgres holds what the local copy holds
        duck[runner] = snapshot(data)
        assert {r[0] for r in pg_query(pg_url, f"SELECT run_id FROM {schema}.runs")} == set(runs[runner])
    for table in store.DATA_TABLES:  # runs differ by id and time; every data table is identical
        assert pg["dask"][table] == pg["local"][table], table
    assert duck["dask"] == duck["local"]
    assert len(duck["dask"]["feedback"]) == 15

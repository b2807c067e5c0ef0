"""The same flow on a Dask LocalCluster of two worker processes gives the same tables as the default runner.

Where a PostgreSQL server can be started, tests/flows/test_dask_postgres.py runs the stronger version of
this check (the same DuckDB identity, plus the shared store's tables and one transaction per run), so
this one steps aside there to keep `make test` under ten minutes; elsewhere it is the Dask test.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
from pathlib import Path

import pytest

from flows.nightly import nightly, with_runner
from pipeline.storage import store
from tests.conftest import copy_models, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _postgres_test_runs() -> bool:
    """What the pg_url fixture needs first: psycopg, server binaries, and a non-root user to run them."""
    binaries = shutil.which("pg_ctl") or any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    try:
        user = os.geteuid() != 0 or bool(pwd.getpwnam("postgres"))
    except KeyError:
        user = False
    return bool(importlib.util.find_spec("psycopg")) and bool(binaries) and user


@pytest.mark.skipif(_postgres_test_runs(), reason="covered by tests/flows/test_dask_postgres.py (a PostgreSQL "
                                                  "server can be started here)")
def test_dask_local_cluster_gives_identical_tables(tmp_path, model_dir, landing, monkeypatch):
    pytest.importorskip("prefect_dask")
    monkeypatch.delenv("TOUCHPOINT_PSEUDONYM_KEY", raising=False)
    snapshots = {}
    for runner in ("local", "dask"):
        data = tmp_path / runner
        copy_models(model_dir, data / "models")
        if runner == "dask":  # ids are keyed pseudonyms: the same key gives the same tables
            shutil.copy2(tmp_path / "local" / ".pseudonym_key", data / ".pseudonym_key")
        cfg = write_config(tmp_path / f"{runner}.yaml", data, contract={"max_bad_fraction": 0.55})
        res = with_runner(nightly, runner, workers=2)(landing=str(landing), config=str(cfg))
        assert res["files"] == 9
        snapshots[runner] = store.tables_rows(data, store.DATA_TABLES)
    assert snapshots["dask"] == snapshots["local"]
    assert len(snapshots["dask"]["feedback"]) == 15

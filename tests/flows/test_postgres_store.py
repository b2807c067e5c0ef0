"""The shared store on a real PostgreSQL server started on 127.0.0.1 by the test, fed by the real flow.

The server comes from Debian's ``postgresql`` package (initdb, pg_ctl); as root it runs as the
``postgres`` system user (Postgres refuses root). Where it cannot be found or started the tests are
skipped with the reason.
"""

from __future__ import annotations

import logging
import math
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly, rerun
from flows.ops import free_port
from pipeline.storage import pgbase, pgstore, pgsync, store
from pipeline.errors import StoreError
from tests.conftest import copy_models, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")
psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

PASSWORD = "tp-Zq8-s3cret"  # must never appear in a log line, an error or the output


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="module")
def pg_url():
    """A throwaway PostgreSQL server on 127.0.0.1 with password authentication; stopped at teardown."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; `apt-get install postgresql` to run")
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:  # postgres will not run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` system user to start PostgreSQL as")
        runuser = shutil.which("runuser")
        as_user = [runuser, "-u", "postgres", "--"] if runuser else \
            ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--init-groups"]
    root = Path(tempfile.mkdtemp(prefix="touchpoint-pg-"))
    pgdata, pwfile, logfile = root / "data", root / "pw", root / "server.log"
    pwfile.write_text(PASSWORD)
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    port = free_port()
    started = False
    try:
        init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(pgdata), "-U", "touchpoint",
                               "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8",
                               "--locale=C"], capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
        with open(pgdata / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
                     "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 30\n")
        start = subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(logfile), "-w",
                                "-t", "60", "start"], capture_output=True, text=True, timeout=90)
        if start.returncode != 0:
            log_tail = logfile.read_text(errors="replace")[-300:] if logfile.exists() else ""
            pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-200:]} {log_tail}")
        started = True
        yield f"postgresql://touchpoint:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- helpers

def _norm(v):
    if isinstance(v, list):
        return tuple(_norm(x) for x in v)
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    return v


def pg_rows(url: str, schema: str, table: str) -> Counter:
    from psycopg import sql

    with psycopg.connect(url) as c:
        rows = c.execute(sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, store.columns(table))), sql.Identifier(schema, table))).fetchall()
    return Counter(tuple(_norm(v) for v in r) for r in rows)


def duck_rows(data_dir: Path, table: str) -> Counter:
    con = duckdb.connect(str(store.db_path(data_dir)), read_only=True)
    try:
        rows = con.execute(f"SELECT {', '.join(store.columns(table))} FROM {table}").fetchall()
    finally:
        con.close()
    return Counter(tuple(_norm(v) for v in r) for r in rows)


def pg_snapshot(url: str, schema: str, tables=None) -> dict[str, Counter]:
    return {t: pg_rows(url, schema, t) for t in (tables or store.SCHEMA)}


def duck_snapshot(data_dir: Path, tables=None) -> dict[str, Counter]:
    return {t: duck_rows(data_dir, t) for t in (tables or store.SCHEMA)}


def pg_query(url: str, query: str, params=None):
    with psycopg.connect(url) as c:
        return c.execute(query, params or []).fetchall()


def shared_config(tmp_path: Path, data_dir: Path, url: str, schema: str, name: str = "config.yaml") -> Path:
    return write_config(tmp_path / name, data_dir, contract={"max_bad_fraction": 0.55},
                        store={"url": url, "schema": schema})


def assert_same(pg: dict[str, Counter], duck: dict[str, Counter]) -> None:
    for table in duck:
        assert pg[table] == duck[table], (table, sum(pg[table].values()), sum(duck[table].values()))


# ---------------------------------------------------------------- tests

def test_helpers_keep_passwords_out_and_map_every_type():
    url = "postgresql://ana:p%40ss%3Aw0rd@db.internal:6432/analytics?sslmode=require"
    assert pgbase.redact(url) == "postgresql://ana:***@db.internal:6432/analytics?sslmode=require"
    assert pgbase.redact("postgresql://ana@db/x") == "postgresql://ana@db/x"
    msg = pgbase.scrub(f"bad {url}; also p@ss:w0rd and p%40ss%3Aw0rd", url)
    assert "w0rd" not in msg and "db.internal" in msg
    assert "s3" not in pgbase.scrub("password=s3 in postgresql://h/db?password=s3", "postgresql://h/db?password=s3")
    assert pgbase.lock_key("touchpoint") == pgbase.lock_key("touchpoint") != pgbase.lock_key("other")
    for table in store.SCHEMA:  # every column of every table has a Postgres type
        for _, t in pgsync.column_types(table):
            assert pgbase.pg_type(t) and pgbase.arrow_type(t)
    assert pgbase.pg_type("FLOAT[]") == "real[]" and pgbase.pg_type("DOUBLE") == "double precision"


def test_store_url_is_validated_without_echoing_it(tmp_path, monkeypatch):
    from configs import ConfigError, load_settings

    cfg = write_config(tmp_path / "c.yaml", tmp_path / "d", store={"url": f"mysql://u:{PASSWORD}@h/db"})
    with pytest.raises(ConfigError, match="store.url") as err:
        load_settings(cfg)
    assert PASSWORD not in str(err.value)
    plain = write_config(tmp_path / "p.yaml", tmp_path / "d")
    monkeypatch.setenv("TOUCHPOINT_STORE_URL", f"postgresql://u:{PASSWORD}@h/db")
    s = load_settings(plain)
    assert s.store.url.get_secret_value().endswith("@h/db") and PASSWORD not in repr(s)
    monkeypatch.delenv("TOUCHPOINT_STORE_URL")
    assert load_settings(plain).store.url is None and load_settings(plain).hash() == s.hash()  # wiring, not config


def test_demo_run_lands_in_postgres_with_views_and_reruns_idempotently(pg_url, tmp_path, data_dir, model_dir,
                                                                       caplog, capsys, monkeypatch):
    from pipeline.ingest.demo import generate

    monkeypatch.setenv("TOUCHPOINT_PSEUDONYM_KEY", "shared-secret-of-the-team")  # every runner shares it
    caplog.set_level(logging.DEBUG)
    schema = "tp_demo"
    cfg = shared_config(tmp_path, data_dir, pg_url, schema)
    generate(tmp_path / "demo", size=300, seed=11)

    res = rerun(path=str(tmp_path / "demo"), config=str(cfg))
    assert res["seconds"]["shared_store_push"] > 0
    pg, duck = pg_snapshot(pg_url, schema), duck_snapshot(data_dir)
    assert sum(pg["feedback"].values()) > 200 and sum(pg["sentences"].values()) > 200
    assert all(sum(pg[t].values()) > 0 for t in ("scores", "tickets", "quarantine", "feedback_scores", "aggregates",
                                                 "runs", "ingested_files", "alerts", "followup_queue"))
    assert_same(pg, duck)  # every table, row for row, types included

    # the same views answer in Postgres, with the numbers DuckDB gives
    have = {r[0] for r in pg_query(pg_url, "SELECT table_name FROM information_schema.views WHERE table_schema = %s",
                                   [schema])}
    assert have == set(store.VIEWS)
    con = duckdb.connect(str(store.db_path(data_dir)), read_only=True)
    try:
        for view in store.VIEWS:
            n_pg = pg_query(pg_url, f"SELECT count(*) FROM {schema}.{view}")[0][0]
            assert n_pg == con.execute(f"SELECT count(*) FROM {view}").fetchone()[0], view
        duck_nps = con.execute("SELECT event_date, touchpoint, volume, n_nps, nps FROM v_nps_by_touchpoint_day "
                               "WHERE nps IS NOT NULL").fetchall()
        duck_topics = con.execute("SELECT touchpoint, topic, negative, neutral, positive, sentiment "
                                  "FROM v_topic_sentiment_by_touchpoint").fetchall()
    finally:
        con.close()
    pg_nps = {r[:4]: float(r[4]) for r in pg_query(
        pg_url, f"SELECT event_date, touchpoint, volume, n_nps, nps FROM {schema}.v_nps_by_touchpoint_day "
                "WHERE nps IS NOT NULL")}
    assert len(duck_nps) > 5 and len(pg_nps) == len(duck_nps)
    assert all(abs(pg_nps[r[:4]] - r[4]) < 1e-9 for r in duck_nps)
    pg_topics = {r[:2]: r[2:] for r in pg_query(
        pg_url, f"SELECT touchpoint, topic, negative, neutral, positive, sentiment "
                f"FROM {schema}.v_topic_sentiment_by_touchpoint")}
    assert {r[:2]: r[2:5] for r in duck_topics} == {k: v[:3] for k, v in pg_topics.items()}
    assert all(abs(pg_topics[r[:2]][3] - r[5]) < 1e-9 for r in duck_topics if r[5] is not None)

    # a second identical run: the same rows everywhere, one more run recorded
    data_before = pg_snapshot(pg_url, schema, store.DATA_TABLES)
    res2 = rerun(path=str(tmp_path / "demo"), config=str(cfg))
    assert pg_snapshot(pg_url, schema, store.DATA_TABLES) == data_before
    assert_same(pg_snapshot(pg_url, schema), duck_snapshot(data_dir))
    assert {r[0] for r in pg_query(pg_url, f"SELECT run_id FROM {schema}.runs")} == {res["run_id"], res2["run_id"]}
    meta = dict(pg_query(pg_url, f"SELECT name, value FROM {schema}.touchpoint_store"))
    assert meta["run_id"] == res2["run_id"] and len(meta["key_fingerprint"]) == 16

    # another runner, on a fresh machine (empty local copy): it pulls what the team published, and its
    # nightly finds nothing new because the shared store knows the ingested files
    other = tmp_path / "runner_b"
    other.mkdir()
    copy_models(model_dir, other / "models")
    cfg_b = shared_config(tmp_path, other, pg_url, schema, "b.yaml")
    res_b = nightly(landing=str(tmp_path / "demo"), config=str(cfg_b))
    assert res_b["files"] == 0, res_b
    assert_same(pg_snapshot(pg_url, schema), duck_snapshot(other))

    # runner B closes a follow-up item: pulled, changed, pushed under the lock; runner A pulls it
    from flows.cli.main import main

    item = pg_query(pg_url, f"SELECT item_id FROM {schema}.followup_queue WHERE status = 'open' "
                            f"ORDER BY item_id LIMIT 1")[0][0]
    assert main(["--config", str(cfg_b), "followup", "close", item, "--note", "called back"]) == 0
    assert pg_query(pg_url, f"SELECT status, note FROM {schema}.followup_queue WHERE item_id = %s",
                    [item]) == [("closed", "called back")]
    assert main(["--config", str(cfg), "store", "pull"]) == 0
    assert duck_rows(data_dir, "followup_queue") == pg_rows(pg_url, schema, "followup_queue")
    assert main(["--config", str(cfg), "store", "status"]) == 0
    status = capsys.readouterr().out
    assert f"schema {schema}" in status and "lock: free" in status and "last push: 20" in status

    out = capsys.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in status + out.out + out.err + logged
    assert "touchpoint:***@127.0.0.1" in logged  # the store is named, its password is not


def test_failed_push_leaves_postgres_unchanged_and_the_shared_copy_wins(pg_url, tmp_path, data_dir, landing):
    schema = "tp_fail"
    cfg = shared_config(tmp_path, data_dir, pg_url, schema)
    reviews_only = tmp_path / "reviews_only"
    shutil.copytree(landing / "reviews", reviews_only / "reviews")
    rerun(path=str(reviews_only), config=str(cfg))
    before = pg_snapshot(pg_url, schema)
    assert sum(before["feedback"].values()) == 8 and not before["tickets"]

    # the server itself refuses a table late in the push (after feedback, sentences, scores, tickets...)
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("""CREATE FUNCTION public.tp_refuse() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN RAISE EXCEPTION 'disk quota exceeded (planted by the test)'; END $$""")
        c.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {schema}.aggregates FOR EACH ROW "
                  f"EXECUTE FUNCTION public.tp_refuse()")
    assert list(store.SCHEMA).index("aggregates") > list(store.SCHEMA).index("tickets")
    with pytest.raises(StoreError, match="push failed, nothing was changed in Postgres") as err:
        rerun(path=str(landing), config=str(cfg))
    assert "planted by the test" in str(err.value) and PASSWORD not in str(err.value)
    assert pg_snapshot(pg_url, schema) == before  # not one row of the failed run is visible
    assert duck_rows(data_dir, "tickets")  # it had published locally; the shared copy wins next time

    # the next run starts from the shared copy: its pull puts the local copy back to what Postgres holds
    with pgstore.SharedStore(pg_url, schema) as s:
        assert s.pull(data_dir)["rows"]["tickets"] == 0
    assert_same(before, duck_snapshot(data_dir))


def test_second_runner_is_refused_while_one_holds_the_store(pg_url, tmp_path, data_dir, landing):
    schema = "tp_lock"
    cfg = shared_config(tmp_path, data_dir, pg_url, schema)
    holder = pgstore.SharedStore(pg_url, schema).open()  # runner A, mid-run on another machine
    try:
        t0 = time.perf_counter()
        with pytest.raises(StoreError, match="another Touchpoint run holds the shared store's lock") as err:
            rerun(path=str(landing), config=str(cfg))
        assert time.perf_counter() - t0 < 20  # refused up front, before any file is processed
        assert "held by touchpoint" in str(err.value) and PASSWORD not in str(err.value)
        assert duck_rows(data_dir, "feedback") == Counter()  # nothing processed locally either
        assert pg_query(pg_url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                        [schema])[0][0] == 0
        pgstore.SharedStore(pg_url, schema + "_other").open().close()  # another schema: another store, lock
        # runner A publishes (an empty store) with the team's pseudonymisation key, then lets go
        holder.push(tmp_path / "runner_a", "run-a", b"the-team-key")
    finally:
        holder.close()
    with pgstore.SharedStore(pg_url, schema) as s:  # the lock is free again
        # a runner whose pseudonymisation key differs would publish ids that do not join: refused
        with pytest.raises(StoreError, match="pseudonymisation key differs"):
            s.pull(data_dir, b"not-the-team-key")
        assert s.pull(data_dir, b"the-team-key")["initialised"]

    # a wrong password: a clear error that names the server but not the password
    bad = pg_url.replace(PASSWORD, "wrong-" + PASSWORD[::-1])
    with pytest.raises(StoreError, match="cannot connect") as err:
        pgstore.SharedStore(bad, schema).open()
    assert PASSWORD[::-1] not in str(err.value) and "127.0.0.1" in str(err.value)

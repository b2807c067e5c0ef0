"""Scheduling against a real local Prefect server: prefect.yaml deploys, `touchpoint serve` runs the
nightly flow from its deployment, one run at a time.

No prefect_test_harness here: it points the API at its own server. Each test talks to the server
started below, through PREFECT_API_URL in temporary settings (this process) or the environment
(subprocesses).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest
import yaml

from flows import deploy
from flows.ops import free_port
from pipeline.storage import store

ROOT = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).with_name("prefect")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}

SERVE_SCRIPT = """
import argparse, sys
from flows.cli.serve import add_parser
p = argparse.ArgumentParser(prog="touchpoint")
p.add_argument("--config")
p.add_argument("--data-dir")
add_parser(p.add_subparsers(dest="command", required=True))
args = p.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def _env(home: Path, api_url: str | None, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited Prefect settings, one thread per process (shared 2-core machine)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "TOUCHPOINT_OWNER_PID"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PREFECT_LOGGING_LEVEL="INFO", PREFECT_SERVER_LOGGING_LEVEL="WARNING",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(extra)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-n:] if path.exists() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A `prefect server start` on a free port with its own PREFECT_HOME (SQLite); stopped at teardown."""
    home = tmp_path_factory.mktemp("prefect_server_home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = home / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=_env(home, None), stdout=out, stderr=subprocess.STDOUT, cwd=home,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"prefect server exited ({proc.returncode}):\n{_tail(log)}"
            try:
                if httpx.get(f"{url}/health", timeout=2).json() is True:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, f"prefect server not healthy after 90 s:\n{_tail(log)}"
            time.sleep(0.5)
        yield {"url": url, "home": home}
    finally:
        _stop(proc)


@pytest.fixture()
def client(server):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server["url"]}):
        with get_client(sync_client=True) as c:
            yield c


def _cli(server, tmp_path, *args: str) -> str:
    res = subprocess.run([str(PREFECT), "--no-prompt", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=_env(tmp_path / "client_home", server["url"], PREFECT_LOGGING_LEVEL="WARNING"))
    assert res.returncode == 0, f"prefect {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def test_prefect_yaml_declares_the_serve_settings_and_deploys(server, client, tmp_path):
    from prefect.cli.deploy._models import PrefectYamlModel  # the schema `prefect deploy` reads the file with
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.flows import load_flow_from_entrypoint

    spec = PrefectYamlModel.model_validate(yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8")))
    (dep,) = spec.deployments
    assert (dep.name, dep.entrypoint) == (deploy.DEPLOYMENT_NAME, deploy.ENTRYPOINT)
    (sched,) = dep.schedules
    assert (sched.cron, sched.timezone) == (deploy.DEFAULT_CRON, deploy.DEFAULT_TIMEZONE)
    assert (dep.concurrency_limit.limit, dep.concurrency_limit.collision_strategy) == \
        (deploy.CONCURRENCY_LIMIT, deploy.COLLISION_STRATEGY) == (1, "CANCEL_NEW")
    env = dep.work_pool.job_variables["env"]
    assert (int(env["PREFECT_FLOWS_DEFAULT_RETRIES"]), int(env["PREFECT_FLOWS_DEFAULT_RETRY_DELAY_SECONDS"])) == \
        (deploy.FLOW_RETRIES, deploy.FLOW_RETRY_DELAY_S)
    assert load_flow_from_entrypoint(str(ROOT / deploy.ENTRYPOINT)).name == deploy.FLOW_NAME

    # `prefect deploy` of the file, as the README says, and the server's view of the result
    client.create_work_pool(WorkPoolCreate(name=dep.work_pool.name, type="process"))  # `prefect work-pool create`
    _cli(server, tmp_path, "deploy", "--all")
    d = client.read_deployment_by_name(f"{deploy.FLOW_NAME}/{deploy.DEPLOYMENT_NAME}")
    assert d.entrypoint == deploy.ENTRYPOINT and d.work_pool_name == "touchpoint"
    assert d.global_concurrency_limit.limit == 1
    assert d.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    ((cron, tz, active),) = [(s.schedule.cron, s.schedule.timezone, s.active) for s in d.schedules]
    assert (cron, tz, active) == ("0 2 * * *", "UTC", True)
    assert d.job_variables["env"]["PREFECT_FLOWS_DEFAULT_RETRIES"] == "1"


def _wait_state(client, run_id, until, timeout: float, what: str, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while True:
        run = client.read_flow_run(run_id)
        if until(run.state.type.value):
            return run
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"serve exited ({proc.returncode}) while waiting for {what}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: flow run still {run.state.type.value} ({run.state.name}) after {timeout} s:\n"
                        f"{_tail(log) if log else ''}")
        time.sleep(0.25)


def test_serve_runs_the_nightly_flow_once_at_a_time(server, client, config, landing, data_dir, tmp_path):
    from prefect.deployments import run_deployment

    log = tmp_path / "serve.log"
    name = "test-nightly"
    # a first run long enough (40 more files, about 10-20 s) that the second always comes due while it
    # holds the slot: on a quiet machine the fixture alone finishes in 7 s, before the second is picked up
    src = landing / "reviews" / "marketplace_sample.jsonl"
    for i in range(40):
        (landing / "reviews" / f"marketplace_copy{i:02d}.jsonl").write_bytes(src.read_bytes())
    args = ["--config", str(config), "--data-dir", str(data_dir), "serve", "--name", name,
            "--landing", str(landing), "--timezone", "Europe/Rome"]
    # poll every second (default 10) so the second run reaches the server while the first is running
    env = _env(tmp_path / "serve_home", server["url"], PREFECT_RUNNER_POLL_FREQUENCY="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT, *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        full = f"{deploy.FLOW_NAME}/{name}"
        deadline = time.monotonic() + 60
        while "Serving" not in _tail(log):
            assert proc.poll() is None, f"serve exited ({proc.returncode}):\n{_tail(log)}"
            assert time.monotonic() < deadline, f"serve did not register the deployment in 60 s:\n{_tail(log)}"
            time.sleep(0.25)
        d = client.read_deployment_by_name(full)
        assert d.global_concurrency_limit.limit == 1
        assert d.concurrency_options.collision_strategy.value == "CANCEL_NEW"
        assert [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] == [("0 2 * * *", "Europe/Rome")]
        params = {"landing": str(landing), "config": str(config), "data_dir": str(data_dir)}
        assert d.parameters == params

        first = run_deployment(full, parameters=params, timeout=0)
        _wait_state(client, first.id, lambda s: s == "RUNNING" or s in TERMINAL, 90, "first run", proc, log)
        second = run_deployment(full, timeout=0)  # comes due while the first holds the slot
        second = _wait_state(client, second.id, lambda s: s in TERMINAL, 60, "second run", proc, log)
        first = _wait_state(client, first.id, lambda s: s in TERMINAL, 120, "first run", proc, log)

        assert first.state.type.value == "COMPLETED", f"{first.state}\n{_tail(log)}"
        assert second.state.type.value == "CANCELLED", f"{second.state}\n{_tail(log)}"
        assert "concurrency limit" in (second.state.message or ""), second.state.message
        history = [s.type.value for s in client.read_flow_run_states(second.id)]
        assert "RUNNING" not in history, history
        first_states = {s.type.value: s.timestamp for s in client.read_flow_run_states(first.id)}
        assert first_states["RUNNING"] < second.state.timestamp < first_states["COMPLETED"], first_states
        # flow-level retries travel with the served flow object into its run
        assert (first.empirical_policy.retries, first.empirical_policy.retry_delay) == \
            (deploy.FLOW_RETRIES, deploy.FLOW_RETRY_DELAY_S)
    finally:
        _stop(proc)

    con = duckdb.connect(str(store.db_path(data_dir)), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM feedback").fetchone()[0] == 15
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # the cancelled run never started
    finally:
        con.close()
    assert (data_dir / "reports" / "report.html").is_file()
    # SIGTERM stops serve like Ctrl-C: the deployment is paused, so no runs pile up while no one serves it
    assert client.read_deployment_by_name(full).paused is True, _tail(log)


def _parse(*argv: str):
    from flows.cli.serve import add_parser

    p = argparse.ArgumentParser(prog="touchpoint")
    p.add_argument("--config")
    p.add_argument("--data-dir")
    add_parser(p.add_subparsers(dest="command", required=True))
    return p.parse_args(argv)


def test_serve_refuses_what_would_fail_at_night(tmp_path, config, data_dir):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from configs import ConfigError
    from pipeline.errors import TouchpointError

    args = _parse("--config", str(config), "serve", "--cron", "0 25 * * *")
    with pytest.raises(ConfigError, match=r"--cron '0 25 \* \* \*' is not a cron expression"):
        args.func(args)
    args = _parse("--config", str(config), "serve", "--timezone", "Europe/Atlantis")
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        args.func(args)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        args = _parse("--config", str(config), "serve")
        with pytest.raises(TouchpointError, match="needs a Prefect server"):
            args.func(args)
    empty = tmp_path / "empty"
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        args = _parse("--config", str(config), "--data-dir", str(empty), "serve")
        with pytest.raises(TouchpointError, match="touchpoint models build"):
            args.func(args)

"""The nightly deployment: schedule, concurrency and retries, defined once.

Two ways to run the nightly flow on a schedule, with the same settings:

- ``touchpoint serve`` (:func:`serve_nightly`): one long-lived process registers the deployment with
  the Prefect server (PREFECT_API_URL) and runs its flow runs itself. No work pool, no worker.
- ``prefect deploy --all`` with ``prefect.yaml`` at the repository root: for teams with a process
  work pool and a worker. tests/flows/test_deploy.py checks the YAML matches the constants below.

Concurrency: at most one nightly run at a time, and a run that comes due while another is running
is cancelled by the server (``CANCEL_NEW``), not queued behind it: the next night picks up its files,
since the nightly flow takes every file no earlier run has ingested. The store's own run lock
(``pipeline.storage.store.run_lock``) still refuses an overlapping ``touchpoint run``/``rerun`` from a shell.

Retries, two levels:

- Each input file's task retries twice, 2 s apart, on transient I/O errors only; bad data, a full disk
  or a model error fails at once (``flows.tasks.transient_only``).
- The whole flow run retries ``FLOW_RETRIES`` times after ``FLOW_RETRY_DELAY_S`` (for a store locked
  by a manual run, a network share that was away). ``touchpoint serve`` gives its runner the flow with
  these retries; a worker loads the flow from its entrypoint, so prefect.yaml sets them through
  ``PREFECT_FLOWS_DEFAULT_RETRIES``/``..._RETRY_DELAY_SECONDS`` in the job's env. A retry is safe:
  nothing is published unless the run finishes, and the run keeps its concurrency slot while it
  waits. A run refused for bad data fails again on retry, at the cost of one more pass over the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from configs import ConfigError, load_settings

# Plain values, so that building the CLI parser imports neither Prefect nor the flows.
FLOW_NAME = "touchpoint-nightly"  # @flow(name=...) in flows/nightly.py
DEPLOYMENT_NAME = "touchpoint-nightly"
ENTRYPOINT = "flows/nightly.py:nightly"
DEFAULT_CRON = "0 2 * * *"  # 02:00 every day: after the vendors' midnight exports have landed
DEFAULT_TIMEZONE = "UTC"
CONCURRENCY_LIMIT = 1
COLLISION_STRATEGY = "CANCEL_NEW"  # Prefect's default, ENQUEUE, would queue the colliding run
FLOW_RETRIES = 1
FLOW_RETRY_DELAY_S = 600
TAGS = ["touchpoint", "nightly"]


def concurrency():
    """One run at a time; a colliding run is cancelled (``ConcurrencyLimitConfig`` for Prefect)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return ConcurrencyLimitConfig(limit=CONCURRENCY_LIMIT,
                                  collision_strategy=ConcurrencyLimitStrategy(COLLISION_STRATEGY))


def schedule(cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE):
    """A Prefect cron schedule, with the cron string and time zone checked now rather than at 2 a.m."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.schedules import Cron
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron, timezone=timezone)  # the server's own validation
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        if "timezone" in fields:
            raise ConfigError(f"--timezone {timezone!r} is not an IANA time zone (e.g. UTC, Europe/Rome, "
                              f"Asia/Tehran)") from None
        raise ConfigError(f"--cron {cron!r} is not a cron expression (five fields: minute hour day-of-month "
                          f"month day-of-week, e.g. {DEFAULT_CRON!r})") from None
    return Cron(cron, timezone=timezone)


def deployment_options(cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE, landing: str | None = None,
                       config: str | None = None, data_dir: str | None = None,
                       name: str = DEPLOYMENT_NAME) -> dict[str, Any]:
    """Keyword arguments for ``Flow.to_deployment`` and ``Runner.add_flow``: schedule, limit, parameters.

    Paths become absolute: the flow runs in a process whose working directory may differ.
    """
    params = {k: str(Path(v).resolve()) for k, v in
              {"landing": landing, "config": config, "data_dir": data_dir}.items() if v is not None}
    return {"name": name, "schedules": [schedule(cron, timezone)], "parameters": params,
            "concurrency_limit": concurrency(), "tags": TAGS,
            "description": "New files under the landing folder -> store -> report, once a night. "
                           "A run that comes due while one is running is cancelled, not queued."}


def nightly_flow(retries: int = FLOW_RETRIES, retry_delay_s: int = FLOW_RETRY_DELAY_S):
    """The nightly flow with flow-level retries (the decorator in flows/nightly.py sets none)."""
    from flows.nightly import nightly

    if retries < 0 or retry_delay_s < 0:
        raise ConfigError(f"--retries ({retries}) and --retry-delay ({retry_delay_s}) must be 0 or more")
    return nightly.with_options(retries=retries, retry_delay_seconds=retry_delay_s)


def check_ready(config: str | None, data_dir: str | None) -> str:
    """Fail before serving, not every night: a server to schedule on, a valid config, built models.

    Returns:
        The data directory the runs will use.
    """
    from prefect.settings import PREFECT_API_URL

    from models.training.train import models_ready
    from pipeline.errors import TouchpointError

    if not PREFECT_API_URL.value():
        raise TouchpointError("serving needs a Prefect server to keep the schedule (Prefect's temporary "
                              "server has no scheduler): run `prefect server start` elsewhere and set "
                              "PREFECT_API_URL=http://127.0.0.1:4200/api")
    settings = load_settings(config, data_dir)
    if not models_ready(settings):
        raise TouchpointError(f"no models in {Path(settings.data_dir) / 'models'}; "
                              f"run `touchpoint models build` before serving the nightly flow")
    return settings.data_dir


def serve_nightly(options: dict[str, Any], retries: int = FLOW_RETRIES, retry_delay_s: int = FLOW_RETRY_DELAY_S,
                  on_ready=None) -> None:
    """Register the deployment and run its flow runs in this process until interrupted (Ctrl-C, SIGTERM).

    The runner is given the flow object, so its runs carry the retries set here (a deployment loaded
    from its entrypoint by a worker would not). It takes every due run; the server cancels a second
    one while the first holds the deployment's slot (a runner limit of 1 would only hold it back
    until the first finished). On shutdown (Ctrl-C, SIGTERM) the schedule is paused, as
    ``prefect.serve`` does; serving again resumes it.

    Args:
        options: from :func:`deployment_options`.
        on_ready: called with the deployment id once it is registered.
    """
    import asyncio
    import warnings

    from prefect.runner import Runner

    # Prefect 3.8's runner calls its async stop() without awaiting it on SIGTERM; the warning is noise
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")

    runner = Runner(name=options["name"], pause_on_shutdown=True)
    deployment_id = runner.add_flow(nightly_flow(retries, retry_delay_s), **options)
    if on_ready:
        on_ready(deployment_id)
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        pass
    finally:
        # On SIGTERM (systemd, docker stop) Prefect's runner starts pausing but exits before it is done.
        _pause(deployment_id)


def _pause(deployment_id) -> None:
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.pause_deployment(deployment_id)
    except Exception as exc:  # noqa: BLE001 - shutting down anyway; say what is left to do
        print(f"could not pause deployment {deployment_id} ({type(exc).__name__}: {exc}); pause it in the "
              f"Prefect UI or it will collect late runs until served again")

"""Where the per-file tasks run: in this process (default), or on a Dask cluster (prefect-dask).

Per-file tasks share no state (duplicates and conflicts are decided at publish), so any runner gives
the same tables; publish is still one transaction in the flow's process.
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

RUNNERS = ("local", "dask")


def task_runner(kind: str = "local", address: str | None = None, workers: int = 2) -> Any:
    """A Prefect task runner. ``local``: one file at a time in this process (the models are not
    thread-safe, and two cores are busy enough with one). ``dask``: an existing scheduler at
    ``address`` (tcp://host:8786), or a LocalCluster of ``workers`` single-threaded processes."""
    if kind == "local":
        if address:
            raise ValueError("--address only applies to --runner dask")
        return ThreadPoolTaskRunner(max_workers=1)
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:  # pragma: no cover - depends on the install
            from pipeline.errors import TouchpointError

            raise TouchpointError("the Dask runner needs prefect-dask: pip install -e '.[dask]'") from None
        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    raise ValueError(f"unknown runner {kind!r}; choose one of {', '.join(RUNNERS)}")

"""Progress on long runs, with rich (already a Prefect dependency).

Shown only when the CLI asked for it (``TOUCHPOINT_PROGRESS=1``: stdout is a terminal and no
``--quiet``); under cron, CI or a Prefect worker nothing is drawn and logs stay clean.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

ENV = "TOUCHPOINT_PROGRESS"


def enabled() -> bool:
    return os.environ.get(ENV) == "1" and sys.stderr.isatty()


class _Bar:
    def __init__(self, progress=None, task=None):
        self.progress, self.task = progress, task
        self.records = 0

    def file_started(self, name: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=f"{name[-40:]:<40}")

    def batch_done(self, records: int) -> None:
        self.records += records
        if self.progress is not None:
            self.progress.update(self.task, records=f"{self.records:,} records")

    def file_done(self, size: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, size)


_CURRENT = _Bar()


def current() -> _Bar:
    """The bar of the run in progress in this process (a silent one when none is shown)."""
    return _CURRENT


@contextmanager
def files_progress(total_bytes: int, label: str = "processing") -> Iterator[_Bar]:
    """A bar over the input bytes, advanced per file, with a running record count."""
    global _CURRENT
    if not enabled():
        yield _CURRENT
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn(f"{label} " + "{task.description}"), BarColumn(), DownloadColumn(),
                  TextColumn("{task.fields[records]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  transient=True) as p:
        _CURRENT = _Bar(p, p.add_task("", total=max(total_bytes, 1), records="0 records"))
        try:
            yield _CURRENT
        finally:
            _CURRENT = _Bar()


@contextmanager
def steps_progress(label: str = "fine-tuning") -> Iterator[Callable[[dict], None] | None]:
    """A bar over training steps for ``train_sentiment(progress=...)``: epoch k/N, step, loss; ``None`` when
    no bar is shown (the per-epoch log lines still are)."""
    if not enabled():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn(f"{label} " + "{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(), transient=True) as p:
        task = p.add_task("", total=None, loss="")

        def update(event: dict) -> None:
            if event["kind"] == "step":
                p.update(task, total=event["steps"], completed=event["step"],
                         description=f"epoch {event['epoch']}/{event['epochs']}", loss=f"loss {event['loss']:.3f}")
        yield update

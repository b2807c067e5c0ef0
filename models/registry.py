"""Versioned model directory: ``<data_dir>/models/<task>/<version>/`` plus a ``CURRENT`` pointer.

Old versions stay loadable; ``promote`` moves the pointer atomically. Backends are looked up by the
registry name stored in each artifact's metadata, so an old artifact loads with the class that
wrote it (a behaviour change gets a new registry name).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from models.base import ModelError
from models.sentiment import BACKEND as SENTIMENT_BACKEND, EmbeddingSentiment
from models.topics import BACKEND as TOPICS_BACKEND, TaxonomyTopics

BACKENDS: dict[str, type] = {SENTIMENT_BACKEND: EmbeddingSentiment, TOPICS_BACKEND: TaxonomyTopics}


class Registry:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def task_dir(self, task: str) -> Path:
        return self.root / task

    def save(self, task: str, model: Any, promote: bool = True) -> Path:
        d = self.task_dir(task) / model.meta_.version
        model.save(d)
        if promote:
            self.promote(task, model.meta_.version)
        return d

    def promote(self, task: str, version: str) -> None:
        d = self.task_dir(task)
        if not (d / version / "meta.json").is_file():
            raise ModelError(f"cannot promote {task} {version}: no artifact at {d / version}")
        tmp = d / "CURRENT.tmp"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, d / "CURRENT")

    def current_version(self, task: str) -> str | None:
        p = self.task_dir(task) / "CURRENT"
        return p.read_text(encoding="utf-8").strip() if p.is_file() else None

    def load(self, task: str, version: str | None = None) -> Any:
        version = version or self.current_version(task)
        if version is None:
            raise ModelError(f"no {task} model in {self.task_dir(task)}; build the defaults with "
                             f"`touchpoint models build`")
        path = self.task_dir(task) / version
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            raise ModelError(f"{path}: model version {version} not found; see `touchpoint models list`")
        backend = json.loads(meta_path.read_text(encoding="utf-8")).get("backend")
        cls = BACKENDS.get(backend)
        if cls is None:
            raise ModelError(f"{path}: unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
        return cls.load(path)

    def list(self) -> list[dict[str, Any]]:
        rows = []
        if not self.root.is_dir():
            return rows
        for task_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            cur = self.current_version(task_dir.name)
            for v in sorted(p for p in task_dir.iterdir() if (p / "meta.json").is_file()):
                meta = json.loads((v / "meta.json").read_text(encoding="utf-8"))
                rows.append({"task": task_dir.name, "version": v.name, "current": v.name == cur,
                             "name": meta["name"], "backend": meta["backend"],
                             "training_rows": meta.get("training_rows"), "metrics": meta.get("metrics", {})})
        return rows

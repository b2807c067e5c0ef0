"""Versioned model directory: ``<data_dir>/models/<task>/<version>/`` plus a ``CURRENT`` pointer.

Old versions stay loadable; ``promote`` moves the pointer atomically and appends to
``<task>/HISTORY.jsonl`` (time, version, previous version, reason), so ``rollback`` can go back and
``list`` can say when each version was current. Backends are looked up by the registry name stored
in each artifact's metadata, so an old artifact loads with the class that wrote it (a behaviour
change gets a new registry name). Each version directory carries a MODEL_CARD.md rendered from its
metadata; fixed evaluation splits live in ``<task>/splits/<data hash>.json``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.base import ModelError, read_meta, write_meta
from models.card import write_card
from models.heads.cascade import BACKEND as CASCADE_BACKEND, CascadeSentiment
from models.heads.effort import BACKEND as EFFORT_BACKEND, EffortModel
from models.heads.emotion import BACKEND as EMOTION_BACKEND, EmotionModel
from models.heads.finetune import BACKEND as FINETUNE_BACKEND, FinetunedSentiment
from models.heads.intent import BACKEND as INTENT_BACKEND, FewShotIntent
from models.heads.sentiment import BACKEND as SENTIMENT_BACKEND, EmbeddingSentiment
from models.heads.topics import BACKEND as TOPICS_BACKEND, TaxonomyTopics

# Every backend an artifact may name, registered here at import (never as a side effect of a build), so a
# fresh process loads whatever a build promoted.
BACKENDS: dict[str, type] = {SENTIMENT_BACKEND: EmbeddingSentiment, FINETUNE_BACKEND: FinetunedSentiment,
                             TOPICS_BACKEND: TaxonomyTopics, EMOTION_BACKEND: EmotionModel,
                             EFFORT_BACKEND: EffortModel, INTENT_BACKEND: FewShotIntent,
                             CASCADE_BACKEND: CascadeSentiment}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Registry:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def task_dir(self, task: str) -> Path:
        return self.root / task

    def splits_dir(self, task: str) -> Path:
        return self.task_dir(task) / "splits"

    def save(self, task: str, model: Any, promote: bool = True, reason: str = "build") -> Path:
        d = self.task_dir(task) / model.meta_.version
        model.save(d)
        write_card(d, model.meta_)
        if promote:
            self.promote(task, model.meta_.version, reason)
        return d

    # -- metadata ---------------------------------------------------------------------------
    def version_dir(self, task: str, version: str) -> Path:
        d = self.task_dir(task) / version
        if not (d / "meta.json").is_file():
            raise ModelError(f"{d}: model version {version} not found; see `touchpoint models list`")
        return d

    def meta(self, task: str, version: str):
        return read_meta(self.version_dir(task, version))

    def update_metrics(self, task: str, version: str, **metrics: Any) -> None:
        """Merge entries into a version's metrics (evaluations, retrain gate) and re-render its card."""
        d = self.version_dir(task, version)
        meta = read_meta(d)
        for k, v in metrics.items():
            if isinstance(v, dict) and isinstance(meta.metrics.get(k), dict):
                meta.metrics[k] = {**meta.metrics[k], **v}
            else:
                meta.metrics[k] = v
        write_meta(d, meta)
        write_card(d, meta, self.current_periods(task).get(version))

    # -- promotion --------------------------------------------------------------------------
    def promote(self, task: str, version: str, reason: str = "manual", action: str = "promote") -> None:
        d = self.task_dir(task)
        if not (d / version / "meta.json").is_file():
            raise ModelError(f"cannot promote {task} {version}: no artifact at {d / version}; "
                             f"see `touchpoint models list`")
        previous = self.current_version(task)
        tmp = d / "CURRENT.tmp"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, d / "CURRENT")
        with open(d / "HISTORY.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"at": _now(), "action": action, "version": version, "previous": previous,
                                 "reason": reason}, ensure_ascii=False) + "\n")
        periods = self.current_periods(task)
        for v in {version, previous} - {None}:  # cards say when each version was current
            if (d / v / "meta.json").is_file():
                write_card(d / v, read_meta(d / v), periods.get(v))

    def history(self, task: str) -> list[dict[str, Any]]:
        p = self.task_dir(task) / "HISTORY.jsonl"
        if not p.is_file():
            return []
        return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]

    def rollback(self, task: str, reason: str = "rollback") -> str:
        """Undo the latest promotion that is still in effect; repeated rollbacks walk further back."""
        cur = self.current_version(task)
        if cur is None:
            raise ModelError(f"no current {task} model to roll back from")
        stack: list[str] = []
        for h in self.history(task):  # replay: promotions push, rollbacks pop
            if h.get("action") == "rollback":
                if stack:
                    stack.pop()
            else:
                stack.append(h["version"])
        if not stack or stack[-1] != cur:
            raise ModelError(f"cannot roll back {task}: CURRENT ({cur}) does not match "
                             f"{self.task_dir(task) / 'HISTORY.jsonl'} (edited by hand?); "
                             f"use `touchpoint models promote {task} VERSION`")
        earlier = [v for v in stack[:-1] if v != cur]
        if not earlier:
            raise ModelError(f"cannot roll back {task}: {cur} has no earlier promoted version")
        prev = earlier[-1]
        if not (self.task_dir(task) / prev / "meta.json").is_file():
            raise ModelError(f"cannot roll back {task} to {prev}: {self.task_dir(task) / prev} is gone")
        self.promote(task, prev, f"{reason} (from {cur})", action="rollback")
        return prev

    def current_periods(self, task: str) -> dict[str, list[str]]:
        """version -> ["<from> .. <to or now>", ...] from the promotion history."""
        out: dict[str, list[str]] = {}
        hist = self.history(task)
        for i, h in enumerate(hist):
            end = hist[i + 1]["at"] if i + 1 < len(hist) else "now"
            out.setdefault(h["version"], []).append(f"{h['at']} .. {end}")
        return out

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
            periods = self.current_periods(task_dir.name)
            for v in sorted(p for p in task_dir.iterdir() if (p / "meta.json").is_file()):
                meta = json.loads((v / "meta.json").read_text(encoding="utf-8"))
                if meta.get("backend") not in BACKENDS:  # models/encoders/*: exported encoders, not versions
                    continue
                rows.append({"task": task_dir.name, "version": v.name, "current": v.name == cur,
                             "name": meta["name"], "backend": meta["backend"],
                             "training_rows": meta.get("training_rows"),
                             "training_data_hash": meta.get("training_data_hash"),
                             "labels": meta.get("labels", []), "metrics": meta.get("metrics", {}),
                             "current_periods": periods.get(v.name, [])})
        return rows

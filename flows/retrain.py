"""``touchpoint-retrain``: train a candidate, compare it with the current version, promote only if better.

train (not promoted) -> evaluate candidate and current on the dataset's fixed held-out split and on
the guard files -> gate (models/training/gate.py: margin on macro-F1, tolerance on every guard) -> promote or
refuse, saying why -> the comparison as a Prefect markdown artifact and in the candidate's model card.
Tasks pass small dicts (a data spec, versions, metrics), never the data itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from configs import load_settings
from configs.retrain import RetrainConfig, load_retrain_config


def load_data(spec: dict[str, Any], data_dir: str):
    """A labelled dataset from its spec: {"path", "text_col", "label_col", "label_map", "kind"} or {"store": True}."""
    from models.data.datasets import read_store
    from pipeline.ingest.labelled import read_labelled_file

    if spec.get("store"):
        return read_store(data_dir)
    return read_labelled_file(spec["path"], spec.get("text_col", "text"), spec.get("label_col", "label"),
                              spec.get("label_map"), task=spec.get("kind", "sentiment"))


def _guard_data(g: dict[str, Any]):
    import random

    from pipeline.ingest.labelled import read_labelled_file

    data = read_labelled_file(g["path"], g["text_col"], g["label_col"], g["label_map"] or None, task=g["task"])
    if g["limit"] and len(data.texts) > g["limit"]:
        data = data.subset(sorted(random.Random(13).sample(range(len(data.texts)), g["limit"])))
    return data


@task(name="train-candidate")
def train_candidate(spec: dict[str, Any], rc: dict[str, Any], config: str | None, data_dir: str | None) -> dict[str, Any]:
    from models.training.train import train_labelled

    settings = load_settings(config, data_dir)
    res = train_labelled(settings, load_data(spec, settings.data_dir), backend=rc["backend"], promote=False,
                         checkpoint=rc["checkpoint"], hyperparameters=rc["hyperparameters"], task=rc["task"])
    return {k: res[k] for k in ("task", "version", "tag", "seconds", "split_key")}


@task(name="evaluate-versions")
def evaluate_versions(spec: dict[str, Any], rc: dict[str, Any], candidate: str, config: str | None,
                      data_dir: str | None) -> dict[str, Any]:
    """Candidate and current version on the fixed split and every guard file."""
    from models.base import ModelError
    from models.data.datasets import fixed_split
    from models.training.evaluate import evaluate_data
    from models.registry import Registry

    settings = load_settings(config, data_dir)
    reg = Registry(Path(settings.data_dir) / "models")
    data = load_data(spec, settings.data_dir)
    held = data.subset(fixed_split(data, reg.splits_dir(rc["task"]))[1])
    # a guard file guards the task its labels are for (sentiment guards never score an intent model)
    guards = [_guard_data(g) for g in rc["guard_files"] if g["task"] == spec.get("kind", "sentiment")]
    current = reg.current_version(rc["task"])
    out: dict[str, Any] = {"current": current, "current_error": None, "candidate_eval": None, "current_eval": None}
    for role, version in (("candidate", candidate), ("current", current)):
        if version is None:
            continue
        try:
            model = reg.load(rc["task"], version)
        except ModelError as exc:
            if role == "candidate":
                raise
            out["current_error"] = str(exc)
            continue
        ev = {"split": evaluate_data(model, held), "guards": {g.key: evaluate_data(model, g) for g in guards}}
        out[f"{role}_eval"] = ev
        reg.update_metrics(rc["task"], version, evaluations={ev["split"]["data"]: ev["split"], **ev["guards"]})
    return out


@task(name="gate-and-record")
def gate_and_record(rc: dict[str, Any], candidate: str, evals: dict[str, Any], config: str | None,
                    data_dir: str | None) -> dict[str, Any]:
    from models.training.gate import decide, decision_markdown
    from models.registry import Registry

    settings = load_settings(config, data_dir)
    reg = Registry(Path(settings.data_dir) / "models")
    current = evals["current"]
    if current == candidate:
        decision = {"promote": False, "reasons": [f"{candidate} is already current (same data, same settings)"],
                    "comparisons": []}
    else:
        decision = decide(evals["candidate_eval"], evals["current_eval"], rc["margin"], rc["tolerance"],
                          evals["current_error"])
    md = decision_markdown(rc["task"], candidate, current, decision, rc["margin"], rc["tolerance"])
    if decision["promote"]:
        reg.promote(rc["task"], candidate, "retrain gate: " + "; ".join(decision["reasons"]))
    reg.update_metrics(rc["task"], candidate, retrain={"promoted": decision["promote"], "against": current,
                                                       "reasons": decision["reasons"], "markdown": md})
    return {"promoted": decision["promote"], "reasons": decision["reasons"], "markdown": md}


@flow(name="touchpoint-retrain")
def retrain(data: str | None = None, from_store: bool = False, text_col: str = "text", label_col: str = "label",
            label_map: str | None = None, backend: str | None = None, checkpoint: str | None = None,
            config: str | None = None, data_dir: str | None = None,
            retrain_config: str | None = None, task: str | None = None) -> dict[str, Any]:
    """Train on ``data`` (or the store's ratings), gate against the current version, report why.

    ``task`` ("sentiment" or "intent") overrides the retrain config's; intents need a labelled file.
    """
    rc: RetrainConfig = load_retrain_config(retrain_config, backend=backend, checkpoint=checkpoint, task=task)
    if not data and not from_store:
        raise ValueError("retrain needs a labelled file (data=...) or from_store=True")
    kind = "intent" if rc.task == "intent" else "sentiment"
    if from_store and kind != "sentiment":
        raise ValueError("the store gives sentiment labels only; retrain intents from a labelled file (data=...)")
    spec = {"store": True} if from_store else {"path": str(data), "text_col": text_col, "label_col": label_col,
                                               "label_map": label_map, "kind": kind}
    rcd = rc.model_dump()
    cand = train_candidate(spec, rcd, config, data_dir)
    evals = evaluate_versions(spec, rcd, cand["version"], config, data_dir)
    result = gate_and_record(rcd, cand["version"], evals, config, data_dir)
    create_markdown_artifact(key=f"touchpoint-retrain-{rc.task}".lower().replace("_", "-"),
                             markdown=result["markdown"],
                             description=f"retrain gate for {rc.task}: {cand['tag']}")
    return {"task": rc.task, "candidate": cand["version"], "current_before": evals["current"],
            "promoted": result["promoted"], "reasons": result["reasons"], "train_seconds": cand["seconds"]}

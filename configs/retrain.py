"""Typed retrain-gate configuration (configs/retrain.yaml): margin, tolerance and guard files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from configs import CONFIG_DIR, ConfigError, parse_yaml

DEFAULT_RETRAIN_CONFIG = CONFIG_DIR / "retrain.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardFile(_Strict):
    """A labelled file the candidate must not get worse on (scored on all its rows, or a seeded sample)."""

    path: str
    text_col: str = "text"
    label_col: str = "label"
    label_map: dict[str, str] = Field(default_factory=dict)
    limit: int = Field(default=0, ge=0, description="rows sampled (seeded); 0 = all")
    task: Literal["sentiment", "intent"] = Field(default="sentiment", description="the labels' task: a guard "
                                                 "file is scored only when retraining that task")


class RetrainConfig(_Strict):
    task: str = "sentiment"
    backend: Literal["head", "finetune"] = "head"
    checkpoint: str | None = None
    margin: float = Field(default=0.01, ge=0.0, le=1.0)
    tolerance: float = Field(default=0.02, ge=0.0, le=1.0)
    guard_files: list[GuardFile] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


def load_retrain_config(path: str | Path | None = None, **overrides: Any) -> RetrainConfig:
    """Load and validate the retrain config; ``overrides`` (non-None values) win over the file."""
    p = Path(path) if path else DEFAULT_RETRAIN_CONFIG
    try:
        raw = parse_yaml(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read retrain config: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RetrainConfig(**raw)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{p}: {errs}") from None

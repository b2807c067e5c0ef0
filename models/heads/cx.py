"""Build the CX models (emotion, effort, intent) from their seeds and register them.

The shared linear-head code is in ``models/heads/linear.py``; the task names in ``models.base.CX_TASKS``.
"""

from __future__ import annotations

from typing import Any

from models.heads.effort import EffortModel
from models.heads.emotion import EmotionModel
from models.heads.intent import FewShotIntent, load_intents


def build_cx_models(settings: Any, registry: Any, promote: bool = True, log: Any = print) -> dict[str, str]:
    """Fit emotion, effort and intent from their seed sentences (and configs/intents.yaml) and register them."""
    enc, seed = settings.models.encoder, settings.models.seed
    intents_file = settings.config_path.parent / "intents.yaml"
    built = {"emotion": EmotionModel(encoder=enc, seed=seed).fit(),
             "effort": EffortModel(encoder=enc, seed=seed).fit(),
             "intent": FewShotIntent(encoder=enc, seed=seed).fit_config(
                 load_intents(intents_file if intents_file.is_file() else None))}
    for task, m in built.items():
        log(f"{task} {m.meta_.tag} -> {registry.save(task, m, promote=promote, reason='build (seed sentences)')}")
    return {t: m.meta_.tag for t, m in built.items()}

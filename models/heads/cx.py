"""Build the CX models (emotion, effort, intent) from their seed files and register them.

The seed sentences and cues are in configs/emotion.yaml, effort.yaml and intents.yaml; the shared linear
head (``LinearHead``) is in ``models/heads/linear.py``; the task names in ``models.base.CX_TASKS``.
"""

from __future__ import annotations

from typing import Any

from configs.heads_schema import load_seeds
from models.heads import effort, emotion
from models.heads.effort import EffortModel
from models.heads.emotion import EmotionModel
from models.heads.intent import FewShotIntent, load_intents


def build_cx_models(settings: Any, registry: Any, promote: bool = True, log: Any = print) -> dict[str, str]:
    """Fit emotion, effort and intent from their seed files and register them: emotion.yaml, effort.yaml and
    intents.yaml beside the settings file when there, else the ones in configs/."""
    enc, seed = settings.models.encoder, settings.models.seed
    here = settings.config_path.parent

    def local(name: str, default: Any) -> Any:
        return here / name if (here / name).is_file() else default

    built = {"emotion": EmotionModel(encoder=enc, seed=seed).fit_config(
                 load_seeds(local("emotion.yaml", emotion.DEFAULT_SEEDS), emotion.EMOTIONS)),
             "effort": EffortModel(encoder=enc, seed=seed).fit_config(
                 load_seeds(local("effort.yaml", effort.DEFAULT_SEEDS), effort.LABELS)),
             "intent": FewShotIntent(encoder=enc, seed=seed).fit_config(load_intents(local("intents.yaml", None)))}
    for task, m in built.items():
        log(f"{task} {m.meta_.tag} -> {registry.save(task, m, promote=promote, reason='build (seed sentences)')}")
    return {t: m.meta_.tag for t, m in built.items()}

"""The project's conformance suite (tests/models/test_conformance.py) run over the CX backends.

The suite's own ``backend`` parameters come from the registry; until the CX backends are registered
there, this module runs the same checks with its own recipes (and registers the backends for the
duration of each test, so ``Registry.load`` finds them).
"""

from __future__ import annotations

import pytest

from models.heads.linear import seeds_to_lists
from models.heads.effort import BACKEND as EFFORT_BACKEND, EffortModel, default_seeds as effort_seeds
from models.heads.emotion import BACKEND as EMOTION_BACKEND, EmotionModel, default_seeds as emotion_seeds
from models.heads.intent import BACKEND as INTENT_BACKEND, FewShotIntent, load_intents
from models.registry import BACKENDS
from tests.models import test_conformance as suite

RECIPES = {  # backend -> (class, encoder name -> an unfitted model and its training data)
    EMOTION_BACKEND: (EmotionModel, lambda enc: (EmotionModel(encoder=enc, seed=3),
                                                 seeds_to_lists(emotion_seeds().seeds))),
    EFFORT_BACKEND: (EffortModel, lambda enc: (EffortModel(encoder=enc, seed=3),
                                               seeds_to_lists(effort_seeds().seeds))),
    INTENT_BACKEND: (FewShotIntent, lambda enc: (FewShotIntent(encoder=enc, seed=3), load_intents().examples())),
}


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    for name, (cls, _) in RECIPES.items():
        monkeypatch.setitem(BACKENDS, name, cls)


@pytest.fixture(params=sorted(RECIPES))
def backend(request):
    return request.param


@pytest.fixture()
def make(configured_encoder):
    """Recipes on the configured encoder (the session's shared export), as the product fits them."""
    return lambda backend: RECIPES[backend][1](configured_encoder)


test_fit_returns_self_and_predict_keeps_length_and_input = suite.test_fit_returns_self_and_predict_keeps_length_and_input
test_seeded_fit_is_deterministic = suite.test_seeded_fit_is_deterministic
test_save_load_identical_and_batch_equals_one_by_one = suite.test_save_load_identical_and_batch_equals_one_by_one
test_tampered_or_incompatible_artifact_is_refused = suite.test_tampered_or_incompatible_artifact_is_refused
test_pinned_encoder_and_library_versions_are_enforced = suite.test_pinned_encoder_and_library_versions_are_enforced

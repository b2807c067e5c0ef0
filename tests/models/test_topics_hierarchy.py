"""Hierarchical taxonomy topics and nightly discovery (models/heads/topics.py): real encoder and synthetic vectors."""

import numpy as np
import pytest
import yaml

from configs import DEFAULT_TAXONOMY, Taxonomy
from configs.taxonomy_schema import CxTaxonomy
from models.heads.topics import (TaxonomyTopics, _fold, centre, parent_of, propose_topics, run_discovery,
                           script_language)

COMPAT_PARENTS = ["delivery", "product_quality", "price_value", "customer_service", "billing_payment",
                  "refund_returns", "order", "account", "app_website"]


@pytest.fixture(scope="module")
def taxonomy() -> CxTaxonomy:
    return CxTaxonomy.model_validate(yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def model(taxonomy, configured_encoder) -> TaxonomyTopics:
    return TaxonomyTopics(encoder=configured_encoder, threshold=taxonomy.threshold,
                          keyword_bonus=taxonomy.keyword_bonus).fit(taxonomy)


def test_default_taxonomy_is_hierarchical_multilingual_and_backward_compatible(taxonomy):
    raw = yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
    # the flat loader still reads the topics (the keys it does not know are the hierarchical schema's)
    Taxonomy.model_validate({k: v for k, v in raw.items() if k not in ("min_margin", "language_thresholds",
                                                                       "discovery")})
    assert set(COMPAT_PARENTS) <= set(taxonomy.parents())
    leaves = taxonomy.leaves()
    assert len(leaves) >= 25
    for leaf in leaves:
        node = taxonomy.node(leaf)
        assert {"en", "zh", "fa", "it"} <= {lang for lang, s in node.seeds.items() if s}, leaf
        assert parent_of(leaf) in taxonomy.parents()


def test_schema_rejects_orphan_leaves_and_bad_ids(taxonomy):
    base = {"version": "x", "topics": [{"id": "delivery", "label": "D", "seeds": {"en": ["a"]}}]}
    CxTaxonomy.model_validate(base)
    with pytest.raises(ValueError, match="parent is not listed"):
        CxTaxonomy.model_validate({**base, "topics": base["topics"] + [{"id": "stay.room", "label": "R",
                                                                         "seeds": {"en": ["r"]}}]})
    with pytest.raises(ValueError, match="snake_case"):
        CxTaxonomy.model_validate({**base, "topics": [{"id": "Delivery.Late.x", "label": "D"}]})
    with pytest.raises(ValueError, match="without seed"):
        CxTaxonomy.model_validate({**base, "topics": base["topics"] + [{"id": "delivery.late", "label": "L"}]})


def test_chinese_and_italian_late_delivery_land_in_the_same_leaf(model):
    out = model.predict(["我的包裹晚了十天才到，太慢了。", "Il pacco è arrivato con dieci giorni di ritardo.",
                         "My parcel arrived ten days late."])
    assert [r["subtopic"] for r in out] == ["delivery.late"] * 3
    assert [r["topic"] for r in out] == ["delivery"] * 3  # `topic` keeps the stable parent id


def test_parent_and_other_outputs(model):
    out = model.predict(["The hotel room was dirty and smelled of smoke.", "Qwertz 12345 zzzz"])
    assert out[0]["topic"] == "stay" and out[0]["subtopic"] == "stay.cleanliness"
    strict = TaxonomyTopics(encoder=model.encoder, threshold=1.5).fit(CxTaxonomy.model_validate(
        yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))))  # the same seeds: cached vectors
    assert all(r["topic"] == "other" and r["subtopic"] == "other" for r in strict.predict(["anything at all"]))


def _tiny(**kw) -> CxTaxonomy:
    return CxTaxonomy.model_validate({"version": "t", "threshold": 0.5, **kw, "topics": [
        {"id": "delivery", "label": "D", "keywords": {"en": ["parcel"], "fa": ["ارسال"]}, "seeds": {"en": ["Delivery."]}},
        {"id": "delivery.late", "label": "L", "keywords": {"en": ["late", "too late"]},
         "seeds": {"en": ["My parcel arrived a week late."], "zh": ["快递太慢了。"]}},
        {"id": "stay", "label": "S", "keywords": {"en": ["room"]}, "seeds": {"en": ["The hotel room was dirty."]}},
        {"id": "billing", "label": "B", "keywords": {}}]})  # a parent without seeds scores -1


def test_margin_rule_sends_flat_profiles_to_other():
    texts = ["My parcel arrived ten days late.", "http://t.co/x1y2", "ok"]
    loose = TaxonomyTopics(threshold=0.5, keyword_bonus=0.0).fit(_tiny())
    assert loose.min_margin == 0.0 and all(r["topic"] != "other" for r in loose.predict(texts))
    X = loose.embed(texts)
    S = loose.scores_from_embeddings(X, texts)
    margins = S.max(axis=1) - np.median(S[:, [0, 1, 2]], axis=1)  # the seedless parent is left out
    m = float((margins[0] + margins[1:].max()) / 2)  # between the topical sentence and the rest
    tax = _tiny(min_margin=round(m, 4))
    strict = TaxonomyTopics(threshold=0.5, keyword_bonus=0.0).fit(tax)  # the taxonomy's own calibration
    assert strict.min_margin == round(m, 4) and strict.meta_.hyperparameters["min_margin"] == round(m, 4)
    assert [r["subtopic"] for r in strict.predict(texts)] == ["delivery.late", "other", "other"]
    other = TaxonomyTopics(threshold=0.4, keyword_bonus=0.0).fit(tax)  # another calibration: no margin
    assert other.min_margin == 0.0 and other.language_thresholds == {}
    assert strict.meta_.version != loose.meta_.version  # the margin is part of the model version


def test_language_thresholds_apply_by_script(tmp_path):
    texts = ["快递太慢了，等了一个星期。", "My parcel arrived a week late."]
    base = TaxonomyTopics(threshold=0.5).fit(_tiny())
    best = base.scores_from_embeddings(base.embed(texts), texts).max(axis=1)
    tax = _tiny(language_thresholds={"zh": round(float(best[0]) + 0.01, 4)})
    m = TaxonomyTopics(threshold=0.5).fit(tax)
    assert [r["topic"] for r in m.predict(texts)] == ["other", "delivery"]
    m.save(tmp_path / "t")
    again = TaxonomyTopics.load(tmp_path / "t")
    assert again.language_thresholds == m.language_thresholds and again.predict(texts) == m.predict(texts)
    with pytest.raises(ValueError, match="language codes"):
        _tiny(language_thresholds={"Chinese": 0.9})


def test_script_language():
    assert [script_language(t) for t in ["快递太慢", "配送が遅い", "배송이 늦어요", "ارسال خیلی دیر بود",
                                         "گوشي خوبيه", "خيلي خوبه", "الشحنة متأخرة جدًا وأين الفاتورة؟",
                                         "Late delivery", "Consegna in ritardo", ""]] == \
        ["zh", "ja", "ko", "fa", "fa", "fa", "ar", None, None, None]


def test_keyword_matching_equals_substring_search_and_folds_arabic_letters():
    m = TaxonomyTopics(threshold=0.5).fit(_tiny())
    texts = ["It came TOO LATE", "the parcel", "room late", "nothing here", "ارسال کند بود", "ارسال", ""]
    naive = [[k for k, kws in enumerate(m.keywords_) if any(_fold(w) in _fold(t) for w in kws)] for t in texts]
    assert m._keyword_hits(texts) == naive
    assert m._keyword_hits(["\u0627\u0631\u0633\u0627\u0644"]) == m._keyword_hits(["ارسال"])  # same letters
    # Arabic yeh/kaf typed for Persian ones still match a Persian keyword
    m.keywords_ = [["کیفیت"]] + [[] for _ in m.keywords_[1:]]
    del m._kw_index
    assert m._keyword_hits(["كيفيت خوبه"]) == [[0]]


def test_scores_in_chunks_equal_one_pass():
    m = TaxonomyTopics(threshold=0.5).fit(_tiny())
    texts = ["late parcel", "dirty room", "hello", "快递太慢"] * 5
    X = m.embed(texts)
    assert np.allclose(m.scores_from_embeddings(X, texts, chunk=3), m.scores_from_embeddings(X, texts))
    assert (m.scores_from_embeddings(X, texts)[:, 3] == -1.0).all()  # the parent without seeds


def test_artifacts_without_margin_load_and_predict_as_before(tmp_path):
    m = TaxonomyTopics(threshold=0.5).fit(_tiny())
    assert "min_margin" not in m.meta_.hyperparameters and "language_thresholds" not in m.meta_.hyperparameters
    m.save(tmp_path / "old")
    again = TaxonomyTopics.load(tmp_path / "old")
    assert again.min_margin == 0.0 and again.language_thresholds == {}
    assert again.predict(["late parcel", "xyz"]) == m.predict(["late parcel", "xyz"])


# ------------------------------------------------------------------ discovery on synthetic vectors
def _synthetic(themes, langs, per, seed, dim=24, noise=0.08):
    """Vectors = theme direction + a strong language offset + noise (what multilingual encoders do)."""
    rng = np.random.default_rng(0)
    theme_dirs = {t: rng.normal(size=dim) for t in ["gift", "points", "lift", "smell"]}
    lang_dirs = {lg: 3 * rng.normal(size=dim) for lg in ["en", "it", "zh"]}
    r2 = np.random.default_rng(seed)
    X, texts, L, gold = [], [], [], []
    for t in themes:
        for lg in langs:
            for i in range(per):
                X.append(theme_dirs[t] + lang_dirs[lg] + noise * np.linalg.norm(theme_dirs[t]) * r2.normal(size=dim))
                texts.append(f"{t} complaint number {seed}-{i} in {lg}")
                L.append(lg)
                gold.append(t)
    X = np.asarray(X)
    return X / np.linalg.norm(X, axis=1, keepdims=True), texts, L, gold


def test_discovery_groups_by_theme_not_language_and_is_deterministic():
    X, texts, langs, gold = _synthetic(["gift", "points"], ["en", "it", "zh"], 10, seed=1)
    a = run_discovery(texts, langs, X, {}, {}, "2026-10-01", threshold=0.3, min_size=5, min_language_rows=5)
    b = run_discovery(texts, langs, X, {}, {}, "2026-10-01", threshold=0.3, min_size=5, min_language_rows=5)
    assert a["topic"] == b["topic"] and [p["topic_id"] for p in a["new"]] == [p["topic_id"] for p in b["new"]]
    assert len(a["new"]) == 2
    by_theme = {g: {t for t, gg in zip(a["topic"], gold) if gg == g} for g in ("gift", "points")}
    assert all(len(v) == 1 and None not in v for v in by_theme.values())  # one topic per theme, all languages
    assert by_theme["gift"] != by_theme["points"]


def test_ids_are_stable_across_nights_and_new_themes_are_proposed():
    X1, t1, l1, _ = _synthetic(["gift", "points"], ["en", "it"], 10, seed=1)
    night1 = run_discovery(t1, l1, X1, {}, {}, "2026-10-01", threshold=0.45, min_size=8, min_language_rows=5)
    cents = {p["topic_id"]: p["centroid"] for p in night1["new"]}
    theme_id = {g: night1["topic"][i] for i, g in ((0, "gift"), (20, "points"))}
    # night 2: new sentences on an old theme (and a language not seen before) plus a new theme
    X2, t2, l2, g2 = _synthetic(["gift", "lift"], ["en", "it", "zh"], 8, seed=2)
    night2 = run_discovery(t2, l2, X2, cents, night1["means"], "2026-10-02", threshold=0.45, min_size=8,
                           min_language_rows=5)
    assert {t for t, g in zip(night2["topic"], g2) if g == "gift"} == {theme_id["gift"]}  # no refit, same id
    lift = {t for t, g in zip(night2["topic"], g2) if g == "lift"}
    assert len(lift) == 1 and lift.isdisjoint(cents) and [p["topic_id"] for p in night2["new"]] == list(lift)
    assert set(night1["means"]) <= set(night2["means"]) and "zh" in night2["means"]
    assert all(np.array_equal(night1["means"][k], night2["means"][k]) for k in night1["means"])  # frozen


def test_outlier_threshold_controls_the_outlier_share():
    X, texts, langs, _ = _synthetic(["gift", "points", "smell"], ["en", "it"], 10, seed=3, noise=0.25)
    shares = []
    for thr in (0.0, 0.5, 0.8, 0.99):
        res = run_discovery(texts, langs, X, {}, {}, "2026-10-01", threshold=thr, min_size=4, min_language_rows=5)
        shares.append(sum(t is None for t in res["topic"]) / len(texts))
    assert shares == sorted(shares) and shares[0] < 0.1 and shares[-1] == 1.0


def test_repetitive_text_does_not_crash():
    X = np.tile(np.eye(8)[0], (60, 1))
    new = propose_topics(["meh meh meh"] * 60, ["en"] * 60, centre(X, ["en"] * 60, {}) + 0 * X, 0.3, 5, 8,
                         "2026-10-01")
    # one distinct point: KMeans gets one cluster, so exactly one topic holding every row
    assert [(t["terms"], t["members"]) for t in new] == [("meh", list(range(60)))]
    res = run_discovery(["meh meh meh"] * 60, ["en"] * 60, X, {}, {}, "2026-10-01", min_size=5)
    # identical rows centre to zero vectors (no direction): every row stays an outlier, nothing is proposed
    assert res["topic"] == [None] * 60 and res["new"] == []


@pytest.mark.parametrize("iters, grid", [(50, False), (3, False), (50, True)])
def test_kmeans_stopping_at_settled_labels_gives_what_every_step_gives(iters, grid):
    """kmeans_labels stops a run when a step leaves the labels unchanged; the result is the one of
    running SciPy's kmeans2 for all ``iters`` steps from the same k-means++ starts."""
    import warnings

    from scipy.cluster.vq import kmeans2

    from models.heads.topics import kmeans_labels

    rng = np.random.default_rng(5)
    Z = np.concatenate([rng.normal(c, 0.6, size=(120, 8)) for c in rng.normal(0, 2, size=(6, 8))])
    if grid:  # 9 distinct points, repeated: duplicate starts, clusters left empty, k above the distinct points
        Z = np.repeat(np.array([[x, y] for x in range(3) for y in range(3)], dtype=np.float64), 7, axis=0)
    for k in ((5, 9, 12) if grid else (2, 6, 11)):
        starts = np.random.default_rng(13)
        best, best_sse = None, np.inf
        for _ in range(4):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c, lab = kmeans2(Z, k, iter=iters, minit="++", seed=starts)
            sse = float(((Z - c[lab]) ** 2).sum())
            if sse < best_sse:
                best, best_sse = lab, sse
        got = kmeans_labels(Z, k, seed=13, iters=iters)
        assert len(set(got.tolist())) > 1
        assert np.array_equal(got, best), k

"""One conformance suite over every registered model backend (scikit-learn's parametrize_with_checks idea)."""

import json

import pytest

import models.encoders.core
from configs import load_settings, load_taxonomy
from models.base import CHECKPOINT_PREFIX, ModelError
from models.heads.finetune import FinetunedSentiment
from models.registry import BACKENDS, Registry
from models.heads.sentiment import EmbeddingSentiment
from models.heads.topics import TaxonomyTopics

TEXTS = ["The parcel arrived late and broken.", "Fantastic service, thank you!", "快递太慢了。", "Ottima qualità.",
         "ارسال خیلی دیر بود.", "I was charged twice.", "The app crashes on login.", "It is a phone."]
LABELS = ["negative", "positive", "negative", "positive", "negative", "negative", "negative", "neutral"]


def recipe(backend: str, checkpoint, enc: str = models.encoders.core.DEFAULT_ENCODER):
    """An unfitted model of ``backend`` and its training data; the encoder heads use ``enc``."""
    if backend == "touchpoint.Cascade.v1":
        pytest.skip("the cascade needs a distilled static encoder: conformance runs in tests/models/test_cascade.py")
    if backend == "touchpoint.EmbeddingLogReg.v1":
        return EmbeddingSentiment(encoder=enc, seed=3), (TEXTS, LABELS)
    if backend == "touchpoint.FinetunedTransformer.v1":
        # lr high enough that a random tiny BERT moves in two epochs
        return FinetunedSentiment(str(checkpoint), epochs=2, lr=1e-3, batch_size=4, seed=3), (TEXTS, LABELS)
    if backend == "touchpoint.TaxonomyTopics.v1":
        return TaxonomyTopics(encoder=enc), (load_taxonomy(load_settings()), None)
    if backend == "touchpoint.EmotionSeeds.v1":
        from models.heads.linear import seeds_to_lists
        from models.heads.emotion import EmotionModel, default_seeds

        return EmotionModel(encoder=enc, seed=3), seeds_to_lists(default_seeds().seeds)
    if backend == "touchpoint.EffortCues.v1":
        from models.heads.linear import seeds_to_lists
        from models.heads.effort import EffortModel, default_seeds

        return EffortModel(encoder=enc, seed=3), seeds_to_lists(default_seeds().seeds)
    if backend == "touchpoint.FewShotIntent.v1":
        from models.heads.intent import FewShotIntent, load_intents

        return FewShotIntent(encoder=enc, seed=3), load_intents().examples()
    raise AssertionError(f"add a conformance recipe for {backend}")


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return request.param


@pytest.fixture()
def make(tiny_checkpoint, configured_encoder):
    """Recipes on the configured encoder (the session's shared export)."""
    return lambda backend: recipe(backend, tiny_checkpoint, configured_encoder)


def clear_encoder_caches() -> None:
    """Empty the encoder's text cache so one-by-one calls really run the encoder again."""
    clear = getattr(models.encoders.core, "clear_caches", None)
    if clear is not None:
        clear()
    else:  # until the encoder module has clear_caches(): empty the LRU caches of loaded encoders
        for name in (models.encoders.core.DEFAULT_ENCODER,):
            models.encoders.core.get_encoder(name)._cache.clear()


def test_fit_returns_self_and_predict_keeps_length_and_input(backend, make):
    model, (x, y) = make(backend)
    assert model.fit(x, y) is model
    texts = list(TEXTS)
    out = model.predict(texts)
    assert len(out) == len(TEXTS) and texts == TEXTS
    assert model.predict([]) == []
    assert model.meta_.version and model.meta_.backend == backend


def test_seeded_fit_is_deterministic(backend, make):
    a, (x, y) = make(backend)
    b, _ = make(backend)
    assert a.fit(x, y).predict(TEXTS) == b.fit(x, y).predict(TEXTS)
    assert a.meta_.version == b.meta_.version


def test_save_load_identical_and_batch_equals_one_by_one(backend, make, tmp_path):
    model, (x, y) = make(backend)
    model.fit(x, y)
    reg = Registry(tmp_path)
    reg.save("t", model)
    loaded = reg.load("t")
    assert type(loaded) is type(model) and loaded.meta_.tag == model.meta_.tag
    assert loaded.predict(TEXTS) == model.predict(TEXTS)
    assert_batch_equals_one_by_one(loaded, TEXTS, clear_encoder_caches)


def assert_batch_equals_one_by_one(model, texts, clear) -> None:
    """Predicting a batch gives what predicting each text alone gives (``clear`` empties the encoder
    caches first, otherwise the singles would be cache hits from the batch)."""
    clear()
    batch = model.predict(texts)
    singles = []
    for t in texts:
        clear()
        singles.append(model.predict([t])[0])
    for b, s in zip(batch, singles):
        assert set(b) == set(s)
        for k in b:
            if isinstance(b[k], float):
                assert abs(b[k] - s[k]) < 1e-3, (k, b[k], s[k])
            else:
                assert b[k] == s[k]


def test_tampered_or_incompatible_artifact_is_refused(backend, make, tmp_path):
    model, (x, y) = make(backend)
    d = model.fit(x, y).save(tmp_path / "m")
    w = d / "weights.npz"
    data = bytearray(w.read_bytes())
    data[-20] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        type(model).load(d)
    d2 = model.save(tmp_path / "m2")
    meta = json.loads((d2 / "meta.json").read_text())
    meta["format_version"] = 99
    (d2 / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="artifact format 99"):
        type(model).load(d2)
    other = [b for b in BACKENDS if b != backend][0]
    d3 = model.save(tmp_path / "m3")
    with pytest.raises(ModelError, match="cannot be loaded as"):
        BACKENDS[other].load(d3)


def test_registry_current_pointer_and_missing_model(tmp_path):
    reg = Registry(tmp_path)
    with pytest.raises(ModelError, match="touchpoint models build"):
        reg.load("sentiment")
    m = EmbeddingSentiment().fit(TEXTS, LABELS)
    reg.save("sentiment", m, promote=False)
    assert reg.current_version("sentiment") is None
    reg.promote("sentiment", m.meta_.version)
    assert reg.load("sentiment").meta_.version == m.meta_.version
    assert [r["current"] for r in reg.list()] == [True]


def test_default_sentiment_reads_four_languages(model_dir):
    """The session model (trained only on zh + en corpora) carries to Italian and Persian."""
    model = Registry(model_dir).load("sentiment")
    neg = ["My order arrived broken and support never answered.", "质量太差了，非常失望。",
           "Pessimo servizio, il pacco non è mai arrivato.", "خیلی بد بود، اصلا راضی نیستم."]
    pos = ["Excellent quality, I love it.", "非常满意，质量很好。", "Ottimo prodotto, sono molto contento.",
           "عالی بود، خیلی راضی هستم."]
    scores_neg = [r["score"] for r in model.predict(neg)]
    scores_pos = [r["score"] for r in model.predict(pos)]
    assert all(n < p for n, p in zip(scores_neg, scores_pos)), (scores_neg, scores_pos)
    assert sum(r["label"] == "negative" for r in model.predict(neg)) >= 3
    assert sum(r["label"] == "positive" for r in model.predict(pos)) >= 3


def test_topics_assign_taxonomy_ids_across_languages(model_dir):
    model = Registry(model_dir).load("topics")
    out = [r["topic"] for r in model.predict(["Where is my parcel? The courier is late.", "快递太慢了，物流一直不更新。",
                                              "Mi hanno addebitato due volte.", "نمی‌توانم وارد حساب کاربری‌ام شوم."])]
    assert out == ["delivery", "delivery", "billing_payment", "account"]


def test_discovery_clusters_by_topic_across_languages_deterministically(model_dir):
    model = Registry(model_dir).load("topics")
    gift_en = [f"The gift wrapping was torn and ugly, box {i}" for i in range(6)]
    gift_it = [f"La carta regalo era strappata e brutta, scatola {i}" for i in range(6)]
    pts_en = [f"My loyalty points vanished from the account, case {i}" for i in range(6)]
    pts_it = [f"I miei punti fedeltà sono spariti dal conto, caso {i}" for i in range(6)]
    texts = gift_en + pts_en + gift_it + pts_it
    langs = ["en"] * 12 + ["it"] * 12
    ids1, summ1 = model.discover(texts, langs, 2)
    ids2, summ2 = model.discover(texts, langs, 2)
    assert ids1 == ids2 and summ1 == summ2
    assert len(set(ids1)) == 2 and sum(s["size"] for s in summ1) == len(texts)
    assert all(s["cluster_id"].startswith("emg-") and s["terms"] for s in summ1)
    # language-centred embeddings: clusters follow the topic, not the language
    assert len(set(ids1[:6] + ids1[12:18])) == 1 and len(set(ids1[6:12] + ids1[18:])) == 1


def test_pinned_encoder_and_library_versions_are_enforced(backend, make, tmp_path):
    """An artifact refuses to load when its encoder fingerprint or a runtime library's major version changed."""
    model, (x, y) = make(backend)
    d = model.fit(x, y).save(tmp_path / "m")
    meta = json.loads((d / "meta.json").read_text())
    pins = meta["pins"]
    # pinned by the real fingerprint (a fine-tuned checkpoint's files, else the encoder's), never by name only
    want = "checkpoint" if meta["encoder"].startswith(CHECKPOINT_PREFIX) else "encoder"
    assert pins["encoder"] == meta["encoder"] and pins["fingerprint_source"] == want
    assert pins["libraries"]["numpy"] and pins["libraries"]["scikit-learn"]
    cls = type(model)
    lib = getattr(cls, "runtime_libraries", ("numpy",))[0]
    bad = json.loads(json.dumps(meta))
    bad["pins"]["libraries"][lib] = "0.1.0"
    (d / "meta.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match=f"trained with {lib} 0.1.0.*major version changed"):
        cls.load(d)
    bad = json.loads(json.dumps(meta))
    bad["pins"]["encoder_fingerprint"] = "something-else"
    (d / "meta.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="fingerprint something-else"):
        cls.load(d)
    (d / "meta.json").write_text(json.dumps(meta))
    assert cls.load(d).predict(TEXTS[:2]) == model.predict(TEXTS[:2])


def test_five_class_and_binary_label_sets_keep_the_three_class_view():
    five = ["very_negative", "very_positive", "negative", "positive", "negative", "negative", "very_negative",
            "neutral"]
    m5 = EmbeddingSentiment(seed=3).fit(TEXTS, five)
    assert m5.meta_.labels == ["very_negative", "negative", "neutral", "positive", "very_positive"]
    for r in m5.predict(TEXTS):
        assert r["label"] in ("negative", "neutral", "positive")
        assert r["fine_label"] in m5.meta_.labels
        assert abs(r["p_negative"] - r["p5_very_negative"] - r["p5_negative"]) < 1e-5
        assert abs(r["p_negative"] + r["p_neutral"] + r["p_positive"] - 1) < 1e-4
    binary = [lab if lab != "neutral" else "negative" for lab in LABELS]
    m2 = EmbeddingSentiment(seed=3).fit(TEXTS, binary)
    assert m2.meta_.labels == ["negative", "positive"]
    assert all(r["p_neutral"] == 0.0 and r["label"] != "neutral" for r in m2.predict(TEXTS))

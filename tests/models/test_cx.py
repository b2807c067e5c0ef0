"""CX models (emotion, effort, intent): the protocol's properties, multilingual spot checks that must
hold, the intents YAML validation, and the check sets' shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from configs import ConfigError
from models.heads.linear import read_check_set
from models.heads.effort import CUES, EffortModel
from models.heads.emotion import EMOTIONS, EmotionModel
from models.heads.intent import BUILTIN, DEFAULT_INTENTS, FewShotIntent, load_intents

CHECK_DIR = Path(__file__).resolve().parents[1] / "data" / "cx"
LANGS = ["en", "zh", "fa", "it"]
TEXTS = ["Sono furioso, nessuno mi risponde da giorni!", "Thank you so much for the quick help.",
         "我不明白为什么被扣了两次钱。", "سه بار تماس گرفته‌ام و هنوز درست نشده.",
         "I was transferred four times and waited an hour on hold.", "The parcel arrived on Monday.", ""]


@pytest.fixture(scope="session")
def emotion(configured_encoder) -> EmotionModel:
    return EmotionModel(encoder=configured_encoder).fit()


@pytest.fixture(scope="session")
def effort(configured_encoder) -> EffortModel:
    return EffortModel(encoder=configured_encoder).fit()


@pytest.fixture(scope="session")
def intent(configured_encoder) -> FewShotIntent:
    return FewShotIntent(encoder=configured_encoder).fit_config(load_intents())


@pytest.fixture(params=["emotion", "effort", "intent"])
def fitted(request, emotion, effort, intent):
    return {"emotion": emotion, "effort": effort, "intent": intent}[request.param]


def _refit(model):
    if isinstance(model, FewShotIntent):
        return FewShotIntent(encoder=model.encoder).fit_config(load_intents())
    return type(model)(encoder=model.encoder).fit()


def _arrays(model) -> list[np.ndarray]:
    names = ["coef_", "intercept_"] + (["centroids_"] if isinstance(model, FewShotIntent) else [])
    return [getattr(model, n) for n in names]


# -- conformance ------------------------------------------------------------------------------------
def test_fit_returns_self_and_meta(fitted):
    m = type(fitted)(encoder=fitted.encoder)
    assert (m.fit_config(load_intents()) if isinstance(m, FewShotIntent) else m.fit()) is m
    assert m.meta_.name and m.meta_.version.startswith("1.") and m.meta_.backend.startswith("touchpoint.")
    assert m.meta_.task == {EmotionModel: "emotion", EffortModel: "effort", FewShotIntent: "intent"}[type(m)]


def test_predict_length_and_input_unchanged(fitted):
    texts = list(TEXTS)
    out = fitted.predict(texts)
    assert len(out) == len(TEXTS) and texts == TEXTS
    assert fitted.predict([]) == []


def test_deterministic(fitted):
    again = _refit(fitted)
    assert again.meta_.version == fitted.meta_.version
    for a, b in zip(_arrays(again), _arrays(fitted)):
        np.testing.assert_array_equal(a, b)
    assert again.predict(TEXTS) == fitted.predict(TEXTS)


def test_save_load_identical(fitted, tmp_path):
    d = fitted.save(tmp_path / "m")
    with np.load(d / "weights.npz", allow_pickle=False) as z:  # no pickled objects in the artifact
        assert z.files
    loaded = type(fitted).load(d)
    assert loaded.meta_.tag == fitted.meta_.tag
    assert loaded.predict(TEXTS) == fitted.predict(TEXTS)


def test_batch_equals_one_by_one(fitted):
    assert fitted.predict(TEXTS) == [fitted.predict([t])[0] for t in TEXTS]


def test_load_refuses_other_backend(emotion, effort, tmp_path):
    from models.base import ModelError

    d = emotion.save(tmp_path / "emo")
    with pytest.raises(ModelError, match="cannot be loaded"):
        EffortModel.load(d)


# -- outputs ----------------------------------------------------------------------------------------
def test_output_ranges(emotion, effort, intent):
    for r in emotion.predict(TEXTS):
        assert r["emotion"] in EMOTIONS and 0.0 <= r["emotion_score"] <= 1.0
        assert abs(sum(r[f"p_{e}"] for e in EMOTIONS) - 1.0) < 1e-3
    for r in effort.predict(TEXTS):
        assert 0.0 <= r["effort_score"] <= 1.0
        assert set(filter(None, r["effort_cues"].split(","))) <= set(CUES)
    for r in intent.predict(TEXTS):
        assert r["intent"] in intent.labels_ + ["other"] and 0.0 <= r["intent_score"] <= 1.0


@pytest.mark.parametrize("text", [
    "Sono furioso! Mi avete addebitato il doppio e il vostro servizio clienti è una vergogna.",
    "你们太过分了，东西坏了也没人管，气死我了！",
    "This is outrageous, I was charged twice and nobody cares!",
    "از خدمات شما به شدت عصبانی هستم، پولم را دزدیدید!",
])
def test_angry_complaints_are_anger_or_frustration(emotion, text):
    assert emotion.predict([text])[0]["emotion"] in {"anger", "frustration"}


@pytest.mark.parametrize("text", [
    "Third time I'm calling about this.", "È la terza volta che chiamo per questo.",
    "这是我第三次打电话说这件事了。", "سومین بار است که برای این موضوع زنگ می‌زنم.",
])
def test_third_call_is_repeated_contact(effort, text):
    r = effort.predict([text])[0]
    assert "repeat_contact" in r["effort_cues"].split(",") and r["effort_score"] >= 0.5


def test_effort_score_grows_with_cues(effort):
    one, two, none = effort.predict(["I waited on hold for an hour.",
                                     "I waited on hold for an hour and was transferred three times.",
                                     "The jacket fits well."])
    assert none["effort_score"] == 0.0 and none["effort_cues"] == ""
    assert two["effort_score"] > one["effort_score"] > 0.0


@pytest.mark.parametrize("text,expected", [
    ("Grazie mille, gentilissimi!", "gratitude"), ("谢谢你们的帮助！", "gratitude"),
    ("I'm worried my card details were stolen.", "worry"), ("Non capisco questa fattura.", "confusion"),
])
def test_emotion_spot_checks(emotion, text, expected):
    assert emotion.predict([text])[0]["emotion"] == expected


def test_intent_spot_checks(intent):
    out = intent.predict(["I want to cancel my subscription today.", "Voglio il rimborso, subito.",
                          "你们的客服太棒了，谢谢！"])
    assert [r["intent"] for r in out] == ["cancellation", "refund_request", "praise"]


# -- intents YAML ------------------------------------------------------------------------------------
def test_default_intents_valid():
    cfg = load_intents()
    ids = [i.id for i in cfg.intents]
    assert ids[:len(BUILTIN)] == BUILTIN and all(8 <= len(i.examples) <= 20 for i in cfg.intents)


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "intents.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _with_extra(extra: str) -> str:
    return DEFAULT_INTENTS.read_text(encoding="utf-8") + extra


def test_misspelt_key_names_key_and_file(tmp_path):
    examples = "".join(f"      - example sentence number {i}\n" for i in range(8))
    p = _write(tmp_path, _with_extra(f"  - id: upgrade\n    exampels:\n{examples}"))
    with pytest.raises(ConfigError) as exc:
        load_intents(p)
    msg = str(exc.value)
    assert str(p) in msg and "exampels" in msg and "upgrade" in msg


def test_too_few_examples_and_missing_builtin(tmp_path):
    p = _write(tmp_path, _with_extra("  - id: upgrade\n    examples: [a, b, c]\n"))
    with pytest.raises(ConfigError, match=r"intents\.5\.examples.*'upgrade'"):
        load_intents(p)
    p = _write(tmp_path, "version: x\nintents:\n  - id: upgrade\n    examples: [a, b, c, d, e, f, g, h]\n")
    with pytest.raises(ConfigError, match="built-in intents missing"):
        load_intents(p)


def test_company_intent_is_learned(tmp_path, intent):
    examples = ["I'd like to upgrade to the premium plan.", "Can I move to a bigger package?",
                "Vorrei passare al piano superiore.", "Posso fare l'upgrade dell'abbonamento?",
                "我想升级到高级套餐。", "怎么升级我的会员？", "می‌خواهم طرحم را ارتقا دهم.", "چطور به طرح ویژه ارتقا بدهم؟"]
    extra = "  - id: upgrade\n    examples:\n" + "".join(f"      - \"{e}\"\n" for e in examples)
    m = FewShotIntent(encoder=intent.encoder).fit_config(load_intents(_write(tmp_path, _with_extra(extra))))
    assert "upgrade" in m.labels_
    assert m.predict(["I want to upgrade my plan to premium."])[0]["intent"] == "upgrade"


# -- check sets ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,labels", [("emotion", EMOTIONS), ("effort", CUES + ["none"])])
def test_check_sets_have_30_per_class_and_language(kind, labels):
    for lang in LANGS:
        rows = read_check_set(CHECK_DIR / f"{kind}.{lang}.txt")
        for lab in labels:
            sub = [r for r in rows if r["label"] == lab]
            assert len(sub) >= 30, (kind, lang, lab)
            assert sum(r["split"] == "heldout" for r in sub) == len(sub) // 3
        assert {r["label"] for r in rows} == set(labels)


@pytest.mark.parametrize("kind", ["emotion", "effort"])
def test_cue_hits_find_what_one_alternation_of_the_cues_finds(kind, emotion, effort):
    """The cue patterns are searched behind a literal prefilter (faster); a text hits a label exactly when
    the label's patterns joined into one alternation match it, on every check-set sentence of every language."""
    import re

    from models.heads.linear import cue_hits, fold

    model = {"emotion": emotion, "effort": effort}[kind]
    labels = sorted(model._compiled)
    texts = [r["text"] for lang in LANGS for r in read_check_set(CHECK_DIR / f"{kind}.{lang}.txt")] + TEXTS
    H = cue_hits(texts, model._compiled, labels)
    joined = {lab: re.compile("|".join(f"(?:{p.pattern})" for p in model._compiled[lab])) for lab in labels}
    expect = np.array([[float(bool(joined[lab].search(fold(t)))) for lab in labels] for t in texts], dtype=np.float32)
    assert H.sum() >= 10  # the check sets hold cue sentences: the comparison is not between empty matrices
    assert np.array_equal(H, expect)


@pytest.mark.parametrize("pattern, literals", [
    (r"keep (having to )?(contact|call)", {"keep contact", "keep call", "keep having to contact", "keep having to call"}),
    (r"\band again on\b", {"and again on"}),  # zero-width items consume nothing: the run goes on
    (r"مدام.{0,20}تماس بگیرم", {"تماس بگیرم"}),  # the longer of the two runs
    (r"联系了你们[两三\d]+次", {"联系了你们"}),  # a class with a category is any text
    (r"(second|\d+(st|nd)) (call|email)", {" call", " email"}),
    (r"(ab){1,2}c", {"abc", "ababc"}),
    (r"(a|)b", {"b"}),  # an empty branch guarantees nothing
    (r"[^a]bc", {"bc"}),
    (r"a\w*|b", {"a", "b"}),
    (r"(ab)\1", {"ab"}), (r"(?>ab)c", {"abc"}), (r"[a-h]{3}z", {"z"}),  # 512 strings: over the cap, then "z"
    (r"(?i)abc", None), (r"(?i:ab)", None), (r".*", None), (r"(x|\w)", None), (r"(abc)?", None), (r"^$", None),
])
def test_required_literals_are_what_every_match_contains(pattern, literals):
    from models.heads.cues import required_literals

    got = required_literals(pattern)
    assert (None if got is None else set(got)) == literals


def _patterns():
    from hypothesis import strategies as st

    atom = st.sampled_from(["a", "b", "c", " ", "ab", "[ab]", "[^a]", r"\w", ".", r"\b", r"\d", "[a-c]", "", "^", "$",
                            "é", "[a-h]", "[a-h][a-h][a-h]", "(?>ab)", "a*+", "(?i:ab)", r"(a)\1", r"\s", "[^\W\d]"])
    return st.recursive(atom, lambda inner: st.one_of(
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}|{t[1]})"),
        st.tuples(inner, st.sampled_from(["?", "*", "+", "{0,2}", "{1,3}", "{2}", "*?"])).map(
            lambda t: f"(?:{t[0]}){t[1]}"),
        inner.map(lambda x: f"(?={x})"), inner.map(lambda x: f"(?<!a)(?:{x})"),
    ), max_leaves=8)


def test_cue_prefilter_finds_exactly_what_searching_every_pattern_finds():
    """Random patterns and texts: the literal prefilter never drops a text a pattern matches."""
    import re

    from hypothesis import HealthCheck, assume, given, settings, strategies as st

    from models.heads.cues import CuePatterns

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.lists(_patterns(), min_size=1, max_size=4), min_size=1, max_size=3),
           st.lists(st.text(alphabet="abcdefgh 1éAB", max_size=12), min_size=1, max_size=8))
    def check(labelled, texts):
        try:
            compiled = {f"l{k}": [re.compile(p) for p in ps] for k, ps in enumerate(labelled)}
        except re.error:  # a backreference to a group still open, say
            assume(False)
        labels = sorted(compiled)
        got = CuePatterns(compiled).hits(texts, labels)
        expect = [[float(any(p.search(t) for p in compiled[lab])) for lab in labels] for t in texts]
        assert got.tolist() == expect

    check()

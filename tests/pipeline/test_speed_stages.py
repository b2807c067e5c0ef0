"""The fast language id and sentence splitter keep the old stages' behaviour (lingua, spaCy's sentencizer)."""

import csv

import pytest

from pipeline import langid
from pipeline.langid import detect_languages
from pipeline.segment import split_sentences
from tests.conftest import DEVDATA

CODES = ("en", "zh", "fa", "it", "de", "fr", "es", "pt", "ar", "nl")


def test_sentences_follow_spacy_rules_on_tricky_cases():
    out = split_sentences(["Mr. Smith paid 3.5 dollars... ok? Yes!! Then U.S. flights, e.g. this. End",
                           "很不错。。比较满意下次还住的可能很大。。。", "设施太旧,隔音效果差.服务也不错.",
                           "گوشی خوبیه. ممنون؟ بله", "Bella serata.Poi niente", "\n\n", "one\r\ntwo"],
                          ["en", "zh", "zh", "fa", "it", "en", "en"])
    assert out[0] == ["Mr. Smith paid 3.5 dollars... ok?", "Yes!!", "Then U.S. flights, e.g. this.", "End"]
    assert out[1] == ["很不错。。", "比较满意下次还住的可能很大。。。"]
    assert out[2] == ["设施太旧,隔音效果差.", "服务也不错."]
    assert out[3] == ["گوشی خوبیه.", "ممنون؟", "بله"]
    assert out[4] == ["Bella serata.", "Poi niente"]
    assert out[5] == [] and out[6] == ["one", "two"]


def test_wordless_pieces_stay_with_their_sentence():
    texts = ["@united Lost my bag again. http://t.co/x1 #fail", "http://t.co/a Late again. 😎 (1/2)",
             "#fail", "很不错。。1234。好", "Worst. Ever.\nhttp://t.co/b", "1. Late delivery. 2. Rude staff.",
             "HTTP://T.CO/A Fine. pic.twitter.com/xYz", "https://x.com/" + "a" * 600 + ". Terrible service."]
    out = split_sentences(texts, ["en", "en", "en", "zh", "en", "en", "en", "en"])
    assert out[0] == ["@united Lost my bag again. http://t.co/x1 #fail"]
    assert out[1] == ["http://t.co/a Late again. 😎 (1/2)"]
    assert out[2] == ["#fail"]  # nothing to attach to: kept, never dropped
    assert out[3] == ["很不错。。1234。", "好"]  # joined with the original spacing (none in Chinese)
    assert out[4] == ["Worst.", "Ever.", "http://t.co/b"]  # words make a sentence; a line break is a boundary
    assert out[5] == ["1. Late delivery.", "2. Rude staff."]  # a list marker goes with its item
    assert out[6] == ["HTTP://T.CO/A Fine. pic.twitter.com/xYz"]
    assert out[7][-1] == "Terrible service."  # never joined past the length a sentence is cut to
    for text, sents in zip(texts, out):  # nothing lost, nothing repeated, in order
        if all(len(x) < 512 for x in sents):
            assert "".join(sents).replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_sentence_cap_and_length_limit():
    out = split_sentences([" ".join(["Short one."] * 150), "x" * 2000], ["en", "en"], max_sentences=100)
    assert len(out[0]) == 100 and len(out[1][0]) == 512


def test_persian_in_arabic_letter_forms_is_persian():
    langs, _ = detect_languages(["من که خيلي ازش راضي بودم", "ممنون ديجي کالا", "الفندق جميل جدا والخدمة ممتازة"],
                                [None] * 3, CODES, 0.5)
    assert langs == ["fa", "fa", "ar"]


def test_language_id_without_fasttext_falls_back_to_lingua(monkeypatch):
    monkeypatch.setattr(langid, "_fasttext_model", lambda: None)
    langs, confs = detect_languages(["The delivery was late again", "快递太慢了"], [None, None], CODES, 0.5)
    assert langs == ["en", "zh"] and all(0 <= c <= 1 for c in confs)


def test_urls_mentions_and_newlines_do_not_break_language_id():
    langs, confs = detect_languages(["@united thanks for nothing\nhttp://t.co/xyz", "https://x.io @a #b", ""],
                                    ["it", "it", None], CODES, 0.5)
    assert langs[0] == "en" and langs[1] == "it" and langs[2] == "und" and confs[2] == 0.0


def _devdata_texts(name: str, n: int) -> list[str]:
    with open(DEVDATA / name, encoding="utf-8", newline="") as fh:
        return [r["text"] for r, _ in zip(csv.DictReader(fh), range(n))]


@pytest.mark.skipif(not DEVDATA.is_dir(), reason="../shared/devdata not present")
@pytest.mark.parametrize("name,lang", [("en_airline_tweets.csv", "en"), ("zh_chnsenticorp_htl.csv", "zh"),
                                       ("fa_sentipers_original.csv", "fa"), ("it_umsab_tweets_trainval.csv", "it")])
def test_fast_language_id_agrees_with_lingua_on_real_text(name, lang):
    texts = _devdata_texts(name, 200)
    fast, _ = detect_languages(texts, [None] * len(texts), CODES, 0.5)
    slow, _ = langid.detect_languages_lingua(texts, [None] * len(texts), CODES, 0.5)
    agree = sum(a == b for a, b in zip(fast, slow)) / len(texts)
    right = sum(a == lang for a in fast) / len(texts)
    assert agree >= 0.9 and right >= 0.9, (agree, right)


class _Counting:
    """A stand-in model that records what it was asked to score."""

    def __init__(self, kind):
        self.kind, self.seen = kind, []
        self.meta_ = type("M", (), {"tag": f"{kind}@1"})()

    def predict(self, texts):
        self.seen.extend(texts)
        if self.kind == "sentiment":
            return [{"label": "negative" if "late" in t else "positive", "score": 0.0, "p_negative": 0.5,
                     "p_neutral": 0.0, "p_positive": 0.5} for t in texts]
        return [{"topic": "delivery" if "late" in t else "other", "topic_score": 0.9} for t in texts]


def test_identical_sentences_are_scored_once_and_rows_keep_their_order():
    import pandas as pd

    from pipeline.enrich import score_sentences

    texts = ["Thanks!", "It was late.", "Thanks!", "ok", "It was late."]
    frame = pd.DataFrame({"feedback_id": list("abcde"), "idx": 0, "text": texts})
    sent, top = _Counting("sentiment"), _Counting("topics")
    out = score_sentences(frame, sent, top)
    assert sent.seen == ["Thanks!", "It was late.", "ok"] and top.seen == sent.seen
    assert out["text"].tolist() == texts and frame["text"].tolist() == texts
    assert out["sentiment_label"].tolist() == ["positive", "negative", "positive", "positive", "negative"]
    assert out["topic"].tolist() == ["other", "delivery", "other", "other", "delivery"]

"""Labelled data: formats, label sets and maps, errors that name file/line/field, store labels, fixed splits.

The file reader is ``pipeline/ingest/labelled.py`` (on the pipeline's line reader); it is tested here, beside
the ``LabelledData`` it returns and the label rules it applies.
"""

import json

import pytest

from models.base import DataError
from models.data.datasets import BINARY, FIVE, THREE, fixed_split, label_from_rating, parse_label_map, read_store
from pipeline.ingest.labelled import read_labelled_file
from tests.conftest import SENTIMENT_TRAIN


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_fixture_is_balanced_over_four_languages_and_three_labels():
    data = read_labelled_file(SENTIMENT_TRAIN)
    s = data.summary()
    assert s["label_set"] == THREE and set(s["labels"].values()) == {80}
    assert set(s["languages"]) == {"en", "zh", "it", "fa"} and set(s["languages"].values()) == {60}


def test_csv_jsonl_parquet_and_label_maps(tmp_path):
    import pandas as pd

    csvf = write(tmp_path / "a.csv", "body,stars\nGreat!,5\nAwful,1\nOk I guess,3\n")
    d = read_labelled_file(csvf, "body", "stars", "1=negative,3=neutral,5=positive")
    assert d.labels == ["positive", "negative", "neutral"] and d.label_set == THREE and d.lines == [2, 3, 4]
    jl = write(tmp_path / "b.jsonl", "\n".join(json.dumps({"text": t, "label": lab}) for t, lab in
                                                 [("Great", "pos"), ("Bad", "neg"), ("Fine", "POSITIVE")]))
    assert read_labelled_file(jl).labels == ["positive", "negative", "positive"]
    assert read_labelled_file(jl).label_set == BINARY
    pq = tmp_path / "c.parquet"
    pd.DataFrame({"text": ["a", "b", "c", "d", "e"], "rating": [1.0, 2.0, 3.0, 4.0, 5.0]}).to_parquet(pq)
    five = read_labelled_file(pq, label_col="rating", label_map='{"1": "very_negative", "2": "negative", '
                              '"3": "neutral", "4": "positive", "5": "very_positive"}')
    assert five.label_set == FIVE and five.labels == FIVE


@pytest.mark.parametrize("content,match", [
    ("text,label\nGood,positive\nBad,awful\n", r"bad\.csv:3: field 'label' has label 'awful'.*--label-map"),
    ("text,label\nGood,positive\n,negative\n", r"bad\.csv:3: field 'text' is empty"),
    ("body,label\nGood,positive\n", r"bad\.csv:1: no column 'text'.*--text-col"),
    ('text,label\n"two\nlines",positive\nBad,meh\n', r"bad\.csv:4: field 'label' has label 'meh'"),
    ("text,label\nGood,positive\nAlso good,positive\n", r"at least two different labels"),
    # a stray quote costs nothing after it silently: the row is named, with the field that opened it
    ('text,label\nGood,positive\n"Broken quote,negative\nFine,neutral\n',
     r"bad\.csv:3: field 'text': quoted field opened on this line is never closed"),
    ('text,label\nGood,"positive\nBad,negative\nFine,neutral\n', r"bad\.csv:2: field 'label': quoted field"),
    ("text,label\nGood,positive\nGood, but slow,neutral\n", r"bad\.csv:3: ragged row: expected 2 fields, found 3"),
    ("text,label\n\nGood,positive\n\nBad,nope\n", r"bad\.csv:5: field 'label' has label 'nope'"),
])
def test_bad_csv_input_names_file_line_and_field(tmp_path, content, match):
    with pytest.raises(DataError, match=match):
        read_labelled_file(write(tmp_path / "bad.csv", content))


def test_intent_labels_are_free_ids_in_first_seen_order(tmp_path):
    f = write(tmp_path / "intents.csv", "text,label,lang\nWhere is my parcel?,track_order,en\n"
                                        "Annullate l'abbonamento,cancel,it\nTrack it please,track_order,en\n")
    d = read_labelled_file(f, task="intent", label_map="cancel=cancel_subscription")
    assert d.task == "intent" and d.labels == ["track_order", "cancel_subscription", "track_order"]
    assert d.label_set == ["track_order", "cancel_subscription"] and d.languages == ["en", "it", "en"]
    assert d.subset([1]).task == "intent" and d.subset([1]).label_set == d.label_set
    with pytest.raises(DataError, match=r"bad\.csv:3: field 'label' is empty; every row needs an intent id"):
        read_labelled_file(write(tmp_path / "bad.csv", "text,label\nHi,greet\nWhere?,\n"), task="intent")
    with pytest.raises(DataError, match=r"o\.csv:2: field 'label' has label 'other', which is reserved"):
        read_labelled_file(write(tmp_path / "o.csv", "text,label\nHi,other\nWhere?,track\n"), task="intent")
    with pytest.raises(DataError, match=r"one\.csv: needs at least two different labels"):
        read_labelled_file(write(tmp_path / "one.csv", "text,label\nHi,greet\nHello,greet\n"), task="intent")


def test_intent_other_matches_the_intent_schema():
    from configs.heads_schema import OTHER_INTENT
    from models.data.datasets import INTENT_OTHER

    assert INTENT_OTHER == OTHER_INTENT


def test_bad_jsonl_and_label_map_are_clear(tmp_path):
    with pytest.raises(DataError, match=r"x\.jsonl:2: not valid JSON"):
        read_labelled_file(write(tmp_path / "x.jsonl", '{"text": "a", "label": "pos"}\n{oops\n'))
    with pytest.raises(DataError, match="not one of very_negative"):
        parse_label_map("1=terrible")
    with pytest.raises(DataError, match="not key=value"):
        parse_label_map("1:negative")


def test_ratings_and_nps_become_distant_labels(tmp_path):
    import duckdb

    assert [label_from_rating(r, 5, "review") for r in (1, 2, 3, 4, 5)] == \
        ["negative", "negative", "neutral", "positive", "positive"]
    assert [label_from_rating(r, 10, "survey") for r in (0, 6, 7, 8, 9, 10)] == \
        ["negative", "negative", "neutral", "neutral", "positive", "positive"]
    assert label_from_rating(None, 5, "review") is None
    con = duckdb.connect(str(tmp_path / "touchpoint.duckdb"))
    con.execute("CREATE TABLE feedback (feedback_id VARCHAR, text VARCHAR, rating DOUBLE, rating_scale INTEGER, "
                "channel VARCHAR, language VARCHAR)")
    con.execute("INSERT INTO feedback VALUES ('1', 'Broken on arrival', 1, 5, 'review', 'en'), "
                "('2', 'Would recommend', 10, 10, 'survey', 'en'), ('3', 'chat text', NULL, NULL, 'chat', 'en'), "
                "('4', 'Così così', 3, 5, 'review', 'it')")
    con.close()
    d = read_store(tmp_path)
    assert d.texts == ["Broken on arrival", "Would recommend", "Così così"]
    assert d.labels == ["negative", "positive", "neutral"] and d.source.startswith("store:")


def test_split_is_fixed_per_content_and_stratified(tmp_path):
    data = read_labelled_file(SENTIMENT_TRAIN)
    train, held = fixed_split(data, tmp_path / "splits")
    assert (tmp_path / "splits" / f"{data.hash}.json").is_file()
    assert fixed_split(data, tmp_path / "other") == (train, held)  # derived from the content, not the folder
    assert not set(train) & set(held) and len(train) + len(held) == len(data.texts)
    per = {(data.labels[i], data.languages[i]) for i in held}
    assert len(per) == 12  # every label in every language is held out

"""Intents trained, evaluated, compared and retrained from a labelled file (``--task intent``), with real models.

The file is tests/data/models/intent_train.csv: 4 intents, 8 hand-written examples each in English and
Italian. The session's default intent model (``model_dir``) is the one built from configs/intents.yaml,
whose intents (complaint, question, ...) are not the file's: it is the "current" version a file-trained
candidate has to beat.
"""

import csv
import json
from functools import partial

import pytest

from flows.cli.main import main
from models.registry import Registry
from tests.conftest import MODEL_DATA, write_csv

INTENT_TRAIN = MODEL_DATA / "intent_train.csv"
INTENTS = ["track_order", "cancel_subscription", "update_payment", "reset_password"]


def cli(data_dir, *args) -> int:
    return main(["--data-dir", str(data_dir), "models", *args])


def rows():
    with open(INTENT_TRAIN, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


write_csv = partial(write_csv, header=("text", "label", "language"))


def rotated(path):
    """Every intent's examples labelled as the next intent: a model trained on it is wrong on true labels."""
    nxt = {a: b for a, b in zip(INTENTS, INTENTS[1:] + INTENTS[:1])}
    return write_csv(path, [(r["text"], nxt[r["label"]], r["language"]) for r in rows()])


def test_train_from_file_evaluates_per_intent_and_writes_a_card(data_dir, capsys):
    reg = Registry(data_dir / "models")
    yaml_version = reg.current_version("intent")
    assert cli(data_dir, "train", "--task", "intent", "--data", str(INTENT_TRAIN), "--no-promote", "--json", "-") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["task"] == "intent" and not res["promoted"] and reg.current_version("intent") == yaml_version
    ev = res["evaluation"]
    # the fixed split holds out 2 of 8 rows per (intent, language): 16 rows never trained on
    assert ev["n"] == 16 and ev["label_space"] == INTENTS and set(ev["per_class_f1"]) == set(INTENTS)
    assert ev["accuracy"] >= 0.8 and ev["macro_f1"] >= 0.8
    model = reg.load("intent", res["version"])
    assert model.meta_.backend == "touchpoint.FewShotIntent.v1" and model.meta_.training_rows == 48
    out = model.predict(["Where is my parcel? It has not arrived.", "Ho dimenticato la password."])
    assert [r["intent"] for r in out] == ["track_order", "reset_password"]
    card = (reg.version_dir("intent", res["version"]) / "MODEL_CARD.md").read_text(encoding="utf-8")
    for needle in ("Rows: 48 used for training of 64", "Languages: en 32, it 32",
                   "Label set: track_order, cancel_subscription, update_payment, reset_password",
                   f"| intent_train.csv#{ev['data'].split('#')[1]} | 16 | {ev['accuracy']:.3f} | {ev['macro_f1']:.3f}",
                   "## Limits", "few examples"):
        assert needle in card, needle

    # evaluate and compare use the same fixed rows, with per-intent figures
    assert cli(data_dir, "evaluate", res["version"], "--task", "intent", "--data", str(INTENT_TRAIN)) == 0
    text = capsys.readouterr().out
    assert "fixed held-out split (16 of 64 rows)" in text and "per-class F1: track_order" in text
    assert cli(data_dir, "compare", yaml_version, res["version"], "--task", "intent", "--data", str(INTENT_TRAIN),
               "--json", "-") == 0
    cmp = json.loads(capsys.readouterr().out)
    a, b = cmp["evaluations"]
    assert a["n"] == b["n"] == 16 and a["data"] == b["data"]
    assert a["accuracy"] == 0.0  # the intents.yaml model knows none of these intents
    assert cmp["comparison"]["macro_f1"][2] == round(b["macro_f1"] - a["macro_f1"], 4) > 0.5


def test_eval_data_trains_on_every_row_and_scores_the_other_file(data_dir, tmp_path, capsys):
    train = write_csv(tmp_path / "shots.csv", [(r["text"], r["label"], r["language"]) for r in rows()[::2]])
    test = write_csv(tmp_path / "test.csv", [(r["text"], r["label"], r["language"]) for r in rows()[1::2]])
    assert cli(data_dir, "train", "intent", "--data", str(train), "--eval-data", str(test), "--no-promote",
               "--json", "-") == 0
    res = json.loads(capsys.readouterr().out)
    meta = Registry(data_dir / "models").meta("intent", res["version"])
    assert meta.training_rows == 32 and res["evaluation"]["n"] == 32 and res["split_key"].startswith("test.csv#")
    assert res["evaluation"]["accuracy"] >= 0.8


def test_retrain_promotes_a_better_intent_model_and_refuses_a_worse_one(prefect_harness, data_dir, tmp_path):
    from flows.retrain import retrain

    reg = Registry(data_dir / "models")
    yaml_version = reg.current_version("intent")
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text(json.dumps({"margin": 0.01, "tolerance": 0.02, "guard_files": [
        {"path": str(INTENT_TRAIN), "task": "intent"},
        {"path": str(MODEL_DATA / "sentiment_train.csv")}]}), encoding="utf-8")  # a sentiment guard is skipped

    res = retrain(data=str(INTENT_TRAIN), data_dir=str(data_dir), retrain_config=str(cfg), task="intent")
    assert res["task"] == "intent" and res["promoted"] and res["current_before"] == yaml_version
    assert reg.current_version("intent") == res["candidate"]
    assert res["reasons"][0].startswith("macro-F1 on the fixed split improves")
    assert not any("sentiment_train.csv" in r for r in res["reasons"])
    good = res["candidate"]

    # a worse candidate: perfect on its own (rotated) split, but wrong on the true-label guard file
    res = retrain(data=str(rotated(tmp_path / "rotated.csv")), data_dir=str(data_dir), retrain_config=str(cfg),
                  task="intent")
    assert not res["promoted"] and reg.current_version("intent") == good
    assert any("guard intent_train.csv" in r and "more than the tolerance" in r for r in res["reasons"])
    card = (reg.version_dir("intent", res["candidate"]) / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Retrain gate" in card and "NOT PROMOTED" in card

    # the CLI runs the same flow: the same data again is already current
    assert cli(data_dir, "retrain", "--task", "intent", "--data", str(INTENT_TRAIN), "--retrain-config", str(cfg)) == 0
    assert reg.current_version("intent") == good


def test_bad_intent_rows_name_file_line_and_field(data_dir, tmp_path, capsys):
    empty = write_csv(tmp_path / "empty_label.csv", [("Where is my order?", "track_order", "en"),
                                                     ("Cancel my plan", "", "en")])
    assert cli(data_dir, "train", "--task", "intent", "--data", str(empty)) == 2
    assert "empty_label.csv:3: field 'label' is empty" in capsys.readouterr().err
    blank = write_csv(tmp_path / "blank_text.csv", [("Where is my order?", "track_order", "en"),
                                                    (" ", "cancel", "en")])
    assert cli(data_dir, "train", "--task", "intent", "--data", str(blank)) == 2
    assert "blank_text.csv:3: field 'text' is empty" in capsys.readouterr().err
    quote = tmp_path / "quote.csv"
    quote.write_text('text,label\nWhere is my order?,track_order\n"Cancel my plan,cancel\nHi,greet\n', encoding="utf-8")
    assert cli(data_dir, "train", "--task", "intent", "--data", str(quote)) == 2
    assert "quote.csv:3: field 'text': quoted field opened on this line" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="disagree"):
        cli(data_dir, "train", "sentiment", "--task", "intent", "--data", str(INTENT_TRAIN))

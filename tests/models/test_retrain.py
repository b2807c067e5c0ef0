"""Train, evaluate, compare, promote, roll back and retrain through the CLI and the Prefect flow, on tiny data."""

import csv
import json

import pytest

from configs import load_settings
from flows.cli.main import main
from models.registry import Registry
from tests.conftest import SENTIMENT_TRAIN, torch_threads, write_csv


def cli(data_dir, *args) -> int:
    return main(["--data-dir", str(data_dir), "models", *args])


def rows():
    with open(SENTIMENT_TRAIN, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def swapped(path):
    """The fixture with positive and negative swapped: a model trained on it is worse on true labels."""
    flip = {"positive": "negative", "negative": "positive", "neutral": "neutral"}
    return write_csv(path, [(r["text"], flip[r["label"]]) for r in rows()])


def test_evaluate_a_folder_reads_each_csv_once_and_names_broken_lines(data_dir, tmp_path, capsys):
    folder = tmp_path / "labelled"
    folder.mkdir()
    good = [(r["text"], r["label"]) for r in rows()[:30]]
    path = write_csv(folder / "tweets.csv", good)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('"an unterminated, quoted,field,negative\n')  # a record that swallows the rest of the file
    write_csv(folder / "support.csv", [("Where is my refund?", "neutral", "REFUND"),
                                       ("I want to change my delivery address", "neutral", "SHIPPING_ADDRESS"),
                                       ("My invoice is wrong", "negative", "INVOICE")], header=("text", "label", "topic"))
    assert cli(data_dir, "evaluate", str(folder), "--json", "-") == 0
    cap = capsys.readouterr()
    out, err = json.loads(cap.out), cap.err
    by = {(r["file"], r["task"]): r for r in out}
    assert set(by) == {("tweets.csv", "sentiment"), ("support.csv", "sentiment"), ("support.csv", "topics")}
    assert by[("tweets.csv", "sentiment")]["n"] == 30 and by[("support.csv", "topics")]["n"] == 3
    assert "tweets.csv: 1 broken record(s) skipped; first at line 32" in err, err


def test_train_evaluate_compare_promote_rollback_and_card(data_dir, tmp_path, capsys):
    reg = Registry(data_dir / "models")
    first = reg.current_version("sentiment")
    small = write_csv(tmp_path / "small.csv", [(r["text"], r["label"]) for r in rows()[::2]])
    assert cli(data_dir, "train", "sentiment", "--data", str(small), "--no-promote", "--json", "-") == 0
    res = json.loads(capsys.readouterr().out)
    second = res["version"]
    assert second != first and reg.current_version("sentiment") == first and not res["promoted"]
    assert res["evaluation"]["n"] == 24 and set(res["evaluation"]["per_class_f1"]) == {"negative", "neutral", "positive"}

    assert cli(data_dir, "compare", first, second, "--data", str(SENTIMENT_TRAIN), "--json", "-") == 0
    out = json.loads(capsys.readouterr().out)
    a, b = out["evaluations"]
    assert a["data"] == b["data"] and a["n"] == b["n"] == 48  # same fixed rows for both versions
    assert out["comparison"]["macro_f1"][2] == round(b["macro_f1"] - a["macro_f1"], 4)
    assert sum(map(sum, a["confusion"]["matrix"])) == 48
    assert cli(data_dir, "evaluate", "--data", str(SENTIMENT_TRAIN)) == 0
    text = capsys.readouterr().out
    assert "fixed held-out split (48 of 240 rows)" in text and "confusion (rows gold" in text

    assert cli(data_dir, "promote", "sentiment", second, "--reason", "better on zh") == 0
    assert reg.current_version("sentiment") == second
    assert cli(data_dir, "rollback", "sentiment") == 0
    assert reg.current_version("sentiment") == first
    hist = reg.history("sentiment")
    assert [h["version"] for h in hist[-2:]] == [second, first] and hist[-2]["reason"] == "better on zh"
    assert all(h["at"] for h in hist)
    assert cli(data_dir, "rollback", "sentiment") == 2  # nothing earlier than the first promotion
    assert "no earlier promoted version" in capsys.readouterr().err

    assert cli(data_dir, "list", "--json", "-") == 0
    listed = {r["version"]: r for r in json.loads(capsys.readouterr().out) if r["task"] == "sentiment"}
    assert listed[second]["current_periods"] and listed[second]["training_data_hash"]
    assert listed[first]["current"] and not listed[second]["current"]
    card = (reg.version_dir("sentiment", second) / "MODEL_CARD.md").read_text(encoding="utf-8")
    encoder = load_settings().models.encoder  # the configured encoder, named with its fingerprint
    for needle in ("touchpoint.EmbeddingLogReg.v1", f"{encoder}@", "small.csv", "Languages:",
                   "negative, neutral, positive", "| sentiment_train.csv#", "## Limits", "Current: 20"):
        assert needle in card, needle


def test_bad_training_file_fails_with_file_line_and_field(data_dir, tmp_path, capsys):
    bad = write_csv(tmp_path / "labels.csv", [("Great", "positive"), ("Bad", "terrible")])
    assert cli(data_dir, "train", "sentiment", "--data", str(bad)) == 2
    assert "labels.csv:3: field 'label' has label 'terrible'" in capsys.readouterr().err


def test_five_class_file_trains_five_classes(data_dir, tmp_path, capsys):
    stronger = {"negative": "very_negative", "positive": "very_positive"}
    recs = [(r["text"], stronger.get(r["label"], r["label"]) if i % 2 else r["label"]) for i, r in enumerate(rows())]
    f = write_csv(tmp_path / "five.csv", recs)
    assert cli(data_dir, "train", "sentiment", "--data", str(f), "--no-promote", "--json", "-") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["evaluation"]["label_space"] == ["very_negative", "negative", "neutral", "positive", "very_positive"]
    model = Registry(data_dir / "models").load("sentiment", res["version"])
    out = model.predict(["Terrible, it broke at once.", "Wonderful, thank you so much!"])
    assert [r["label"] for r in out] == ["negative", "positive"] and "fine_label" in out[0]


def test_finetune_backend_from_a_local_checkpoint(data_dir, tmp_path, tiny_checkpoint, capsys):
    torch_threads()
    f = write_csv(tmp_path / "ft.csv", [(r["text"], r["label"]) for r in rows()[::4]])
    assert cli(data_dir, "train", "sentiment", "--data", str(f), "--backend", "finetune", "--checkpoint",
               str(tiny_checkpoint), "--epochs", "2", "--no-promote", "--json", "-") == 0
    out = capsys.readouterr()
    res = json.loads(out.out)
    assert "epoch 1/2: train loss" in out.err and "epoch 2/2: train loss" in out.err  # a line per epoch
    reg = Registry(data_dir / "models")
    meta = reg.meta("sentiment", res["version"])
    assert meta.backend == "touchpoint.FinetunedTransformer.v1" and res["version"].startswith("ft1.")
    assert meta.pins["fingerprint_source"] == "checkpoint" and meta.pins["libraries"]["torch"]
    # --epochs 2 with patience 1: early stopping needs two worse epochs, so both epochs run and are scored
    hist = meta.metrics["training_history"]
    assert [h["epoch"] for h in hist] == [1, 2] and all(0.0 <= h["val_macro_f1"] <= 1.0 for h in hist)
    assert meta.hyperparameters["epochs"] == 2
    saved = (reg.version_dir("sentiment", res["version"]) / "weights.npz")
    import numpy as np

    with np.load(saved, allow_pickle=False) as z:  # frozen word embeddings are not stored
        assert "enc.embeddings.word_embeddings.weight" not in z.files and "head.weight" in z.files
    loaded = reg.load("sentiment", res["version"])
    assert len(loaded.predict(["ok", "bad", "great"])) == 3


@pytest.fixture()
def retrain_config(tmp_path):
    def make(**kw):
        cfg = {"margin": 0.01, "tolerance": 0.02,
               "guard_files": [{"path": str(SENTIMENT_TRAIN)}], **kw}
        p = tmp_path / f"retrain-{len(kw)}.yaml"
        p.write_text(json.dumps(cfg), encoding="utf-8")
        return str(p)
    return make


def test_retrain_flow_refuses_worse_and_promotes_better(prefect_harness, data_dir, tmp_path, retrain_config):
    from configs import load_settings
    from flows.retrain import retrain
    from models.training.train import train_sentiment
    from pipeline.ingest.labelled import read_labelled_file

    reg = Registry(data_dir / "models")
    good = reg.current_version("sentiment")
    # a worse candidate: better on its own (swapped) split, far worse on the true-label guard file
    res = retrain(data=str(swapped(tmp_path / "swapped.csv")), data_dir=str(data_dir),
                  retrain_config=retrain_config())
    assert not res["promoted"] and reg.current_version("sentiment") == good
    assert any("guard sentiment_train.csv" in r and "more than the tolerance" in r for r in res["reasons"])
    card = (reg.version_dir("sentiment", res["candidate"]) / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Retrain gate" in card and "NOT PROMOTED" in card

    # a margin nothing can meet refuses too, and says so
    small = write_csv(tmp_path / "true_half.csv", [(r["text"], r["label"]) for r in rows()[1::2]])
    res = retrain(data=str(small), data_dir=str(data_dir), retrain_config=retrain_config(margin=0.9), backend="head")
    assert not res["promoted"] and reg.current_version("sentiment") == good
    assert "promotion needs at least +0.900" in res["reasons"][0]
    # retraining on exactly the current version's data and settings changes nothing
    res = retrain(data=str(SENTIMENT_TRAIN), data_dir=str(data_dir), retrain_config=retrain_config())
    assert not res["promoted"] and "already current" in res["reasons"][0]

    # make the swapped model current; retraining on true labels must now win and be promoted
    settings = load_settings(None, str(data_dir))
    bad = train_sentiment(settings, read_labelled_file(tmp_path / "swapped.csv"), log=lambda m: None)["version"]
    assert reg.current_version("sentiment") == bad
    res = retrain(data=str(small), data_dir=str(data_dir), retrain_config=retrain_config())
    assert res["promoted"] and res["current_before"] == bad
    assert reg.current_version("sentiment") == res["candidate"]
    assert reg.history("sentiment")[-1]["reason"].startswith("retrain gate: macro-F1 on the fixed split improves")

    import asyncio

    from prefect.client.orchestration import get_client

    async def artifact():
        async with get_client() as client:
            return await client.read_latest_artifacts()
    arts = [a for a in asyncio.run(artifact()) if a.key == "touchpoint-retrain-sentiment"]
    assert arts and "PROMOTED" in arts[0].data and res["candidate"] in arts[0].data

"""Fine-tuning reports its progress: every step and every epoch, matching the recorded training history."""

import csv

from models.heads.finetune import FinetunedSentiment, _stratified_split
from tests.conftest import SENTIMENT_TRAIN, torch_threads


def test_progress_reports_every_step_and_every_epoch(tiny_checkpoint):
    torch_threads()
    with open(SENTIMENT_TRAIN, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[::4]
    texts, y = [r["text"] for r in rows], [r["label"] for r in rows]
    events = []
    m = FinetunedSentiment(str(tiny_checkpoint), epochs=3, batch_size=8, patience=0).fit(texts, y, progress=events.append)

    train_idx, val_idx = _stratified_split(y, m.val_fraction, m.seed)
    per_epoch = -(-len(train_idx) // 8)
    epochs = [e for e in events if e["kind"] == "epoch"]
    history = m.meta_.metrics["training_history"]
    assert val_idx and [e["epoch"] for e in epochs] == [h["epoch"] for h in history]
    assert [round(e["val_macro_f1"], 4) for e in epochs] == [h["val_macro_f1"] for h in history]
    for e in epochs:  # each epoch's steps are 1..per_epoch, in order, before its epoch event
        steps = [s["step"] for s in events if s["kind"] == "step" and s["epoch"] == e["epoch"]]
        assert steps == list(range(1, per_epoch + 1))
        assert all(s["steps"] == per_epoch and s["epochs"] == 3 for s in events if s["kind"] == "step")
    assert events[-1]["kind"] == "epoch"
    # "best" marks a new maximum; patience 0 stops at the first epoch that is no better, and only there
    best = -1.0
    for e in epochs:
        assert e["best"] == (e["val_macro_f1"] > best) and e["stop"] == (not e["best"])
        best = max(best, e["val_macro_f1"])
    assert not any(e["stop"] for e in epochs[:-1])  # training ends at the first stop

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


def test_length_batches_cover_every_row_once_with_less_padding_than_random_batches():
    import random

    import torch

    from models.heads.finetune import length_batches

    rng = random.Random(5)
    lengths = [rng.choice([4, 8, 12, 40, 90, 128]) for _ in range(1000)]
    order = [int(i) for i in torch.randperm(1000, generator=torch.Generator().manual_seed(1))]

    def padded(batches):  # tokens a padded batch computes: its longest text times its rows
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    random_batches = length_batches(order, lengths, 16, 0, torch.Generator().manual_seed(2))
    bucketed = length_batches(order, lengths, 16, 10, torch.Generator().manual_seed(2))
    assert random_batches == [order[s:s + 16] for s in range(0, 1000, 16)]  # window 0: order's own batches
    for batches in (random_batches, bucketed):
        assert sorted(i for b in batches for i in b) == list(range(1000))
        assert len(batches) == 63 and all(1 <= len(b) <= 16 for b in batches)
    assert sum(lengths) / padded(bucketed) > 0.8 > 0.6 > sum(lengths) / padded(random_batches)
    assert bucketed == length_batches(order, lengths, 16, 10, torch.Generator().manual_seed(2))  # seeded
    assert bucketed != length_batches(order, lengths, 16, 10, torch.Generator().manual_seed(3))

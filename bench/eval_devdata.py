"""Score a registered sentiment version on ../shared/devdata: one table row per file.

    python bench/eval_devdata.py [--data-dir data] [--version V] [--devdata ../shared/devdata]
                                 [--cache /tmp/me/emb] [--heldout] [--json FILE]

Rows scored: the ``val`` rows of files with a ``split`` column (UMSAB), all rows otherwise; with
``--heldout``, files without a split column are cut to the fixed held-out split that
``touchpoint models train`` stored for them (so a version trained on a file is scored only on the
rows it never saw). Metrics: three-class macro-F1 (SentiPers' five points collapsed to three, and
five-class macro-F1 too when the model is five-class); accuracy for the binary Chinese hotel file.

``--cache DIR`` keeps embeddings on disk (a vector per text and encoder fingerprint, in npz shards), so
a second version on the same encoder scores in seconds; it only helps backends that embed through
models/encoders/core.py. ``--limit N`` scores a seeded sample of N rows of the files without a split.
Devdata is for measurement only: nothing here trains, and nothing is copied into the repository.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# file -> metric reported (the targets: 3-class macro-F1, Chinese hotel accuracy)
FILES = {"en_airline_tweets.csv": "macro_f1_3", "en_umsab_tweets_trainval.csv": "macro_f1_3",
         "it_umsab_tweets_trainval.csv": "macro_f1_3", "fa_sentipers_original.csv": "macro_f1_3",
         "zh_chnsenticorp_htl.csv": "accuracy"}


def read_rows(path: Path, limit: int = 0, seed: int = 13) -> tuple[list[str], list[str], str]:
    """(texts, canonical labels, which rows) with the label mapping and whitespace rule of models.data.datasets;
    ``limit`` samples that many rows (seeded) from files without a split column."""
    from models.data.datasets import map_label

    with open(path, encoding="utf-8", newline="") as fh:
        recs = [r for r in csv.DictReader(fh) if (r.get("text") or "").strip()]
    which = "all rows"
    if recs and "split" in recs[0]:
        recs = [r for r in recs if r["split"] in ("val", "validation", "dev")]
        which = "val split"
    elif limit and len(recs) > limit:
        import random

        recs = random.Random(seed).sample(recs, limit)
        which = f"{limit} sampled"
    texts, labels = [], []
    for r in recs:
        lab = map_label(r.get("label"), {})
        if lab is not None:
            texts.append(" ".join(r["text"].split()))
            labels.append(lab)
    return texts, labels, which


class DiskCache:
    """Encoder backend wrapper: a vector per text (sha1) kept in npz shards under ``folder``."""

    def __init__(self, backend, folder: Path):
        self.backend, self.folder = backend, folder
        self.name, self.dim = backend.name, backend.dim
        self.tag = hashlib.sha1(backend.fingerprint.encode()).hexdigest()[:10]
        self.store: dict[str, np.ndarray] = {}
        for shard in sorted(folder.glob(f"{self.tag}-*.npz")):
            z = np.load(shard)
            self.store.update(zip(z["keys"].tolist(), z["X"]))

    @property
    def fingerprint(self) -> str:
        return self.backend.fingerprint

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def add(self, texts: list[str], X: np.ndarray) -> None:
        """Store vectors computed elsewhere (same encoder) for later runs."""
        keys = [self.key(t) for t in texts]
        new = [i for i, k in enumerate(keys) if k not in self.store]
        if not new:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        ks = np.array([keys[i] for i in new])
        shard = self.folder / f"{self.tag}-{hashlib.sha1(''.join(ks).encode()).hexdigest()[:16]}.npz"
        tmp = shard.with_name(shard.name + ".tmp.npz")
        np.savez(tmp, keys=ks, X=X[new].astype(np.float32))
        tmp.replace(shard)
        self.store.update(zip(ks.tolist(), X[new]))

    def encode(self, texts: list[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        miss = [i for i, k in enumerate(keys) if k not in self.store]
        for s in range(0, len(miss), 512):  # save as we go: a long run that is stopped keeps its work
            part = miss[s:s + 512]
            self.add([texts[i] for i in part], self.backend.encode([texts[i] for i in part]))
        return np.stack([self.store[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)


def use_disk_cache(encoder_name: str, folder: Path, data_dir: str | None) -> DiskCache:
    """Route ``encoder_name``'s misses through the on-disk per-text cache in ``folder``."""
    from models.encoders.core import get_encoder

    enc = get_encoder(encoder_name, data_dir=data_dir)
    if not isinstance(enc.backend, DiskCache):
        enc.backend = DiskCache(enc.backend, folder)
    return enc.backend


def heldout_rows(texts: list[str], labels: list[str], path: Path, splits_dir: Path):
    """Cut to the fixed evaluation split ``models train`` stored for this file, if there is one."""
    from pipeline.ingest.labelled import read_labelled_file

    data = read_labelled_file(path)
    split = splits_dir / f"{data.hash}.json"
    if not split.is_file():
        return texts, labels, "all rows (no stored split)"
    keep = json.loads(split.read_text(encoding="utf-8"))["eval"]
    return [data.texts[i] for i in keep], [data.labels[i] for i in keep], "held-out split"


def evaluate_file(model, path: Path, splits_dir: Path | None, limit: int = 0) -> dict:
    from models.data.datasets import FIVE, THREE, TO_THREE, LabelledData
    from models.training.evaluate import evaluate_data

    texts, labels, which = read_rows(path, 0 if splits_dir is not None else limit)
    if splits_dir is not None and which == "all rows":
        texts, labels, which = heldout_rows(texts, labels, path, splits_dir)
    out = {"file": path.name, "rows": len(texts), "which": which}
    data = LabelledData(str(path), texts, labels, list(range(len(texts))))
    if data.label_set == FIVE and list(getattr(model, "labels_", [])) == FIVE:
        out["macro_f1_5"] = evaluate_data(model, data)["macro_f1"]
    if "neutral" in {TO_THREE[x] for x in labels}:
        three = LabelledData(str(path), texts, [TO_THREE[x] for x in labels], data.lines, label_set=list(THREE))
        ev = evaluate_data(model, three)
        out.update(macro_f1_3=ev["macro_f1"], accuracy=ev["accuracy"], per_class_f1=ev["per_class_f1"])
    else:
        ev = evaluate_data(model, data)
        out.update(accuracy=ev["accuracy"], macro_f1_2=ev["macro_f1"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT / "data"))
    ap.add_argument("--config", default=None)
    ap.add_argument("--task", default="sentiment")
    ap.add_argument("--version", help="registered version (default: current)")
    ap.add_argument("--devdata", default=str(ROOT.parent / "shared" / "devdata"))
    ap.add_argument("--files", nargs="*", help="subset of the devdata files")
    ap.add_argument("--cache", help="folder for cached embeddings (npz per file, rows and encoder)")
    ap.add_argument("--heldout", action="store_true",
                    help="files without a split column: only their stored `models train` held-out rows")
    ap.add_argument("--limit", type=int, default=0,
                    help="files without a split column: score a seeded sample of this many rows (0 = all)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)

    from configs import load_settings
    from models.registry import Registry

    settings = load_settings(args.config, args.data_dir)
    reg = Registry(Path(settings.data_dir) / "models")
    version = args.version or reg.current_version(args.task)
    if version is None:
        raise SystemExit(f"no current {args.task} version in {reg.root}; run `touchpoint models build`")
    model = reg.load(args.task, version)
    encoder = getattr(model, "encoder", None)
    if args.cache and encoder and not str(encoder).startswith("checkpoint:"):
        use_disk_cache(encoder, Path(args.cache), settings.data_dir)
    folder = Path(args.devdata)
    files = args.files or list(FILES)
    print(f"{args.task} {model.meta_.tag} ({model.meta_.backend}, labels {len(model.labels_)}) on {folder}",
          file=sys.stderr)
    results = []
    print(f"{'file':<32}{'rows':>7}  {'scored':<16}{'metric':<20}{'value':>7}{'secs':>7}")
    for name in files:
        path = folder / name
        if not path.is_file():
            print(f"{name:<32} missing, skipped", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        r = evaluate_file(model, path, reg.splits_dir(args.task) if args.heldout else None, args.limit)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(r)
        metrics = [FILES.get(name, "macro_f1_3")] + (["macro_f1_5"] if "macro_f1_5" in r else [])
        for m in metrics:
            label = {"macro_f1_3": "3-class macro-F1", "macro_f1_5": "5-class macro-F1",
                     "accuracy": "accuracy"}[m]
            print(f"{name:<32}{r['rows']:>7}  {r['which']:<16}{label:<20}{r[m]:>7.3f}{r['seconds']:>7.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": model.meta_.tag, "results": results}, indent=2),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

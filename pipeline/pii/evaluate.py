"""Score the redactor on a planted corpus: recall per kind, precision on PII-free look-alikes.

A planted span counts as found when every letter and digit of it lies inside detected spans (of
any kind: what matters is that nothing leaks). A look-alike record counts as kept when nothing in
it is detected. Used by tests/pipeline/test_pii_corpus.py and bench/pii_eval.py.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from configs import RedactionConfig
from pipeline.pii.core import find_pii


@dataclass
class Score:
    planted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (row id, subkind, value)
    lookalikes: int = 0
    lookalikes_kept: int = 0
    false_positives: list[tuple[str, str, str]] = field(default_factory=list)  # (row id, kind, text)
    extra_spans: int = 0  # detections in planted rows that overlap no planted span
    detected_spans: int = 0

    def recall(self, key: str) -> float:
        return self.found[key] / self.planted[key] if self.planted[key] else float("nan")

    @property
    def precision(self) -> float:
        """Share of PII-free look-alike records left untouched."""
        return self.lookalikes_kept / self.lookalikes if self.lookalikes else float("nan")

    @property
    def span_precision(self) -> float:
        """Share of detected spans (planted rows) that overlap a planted span."""
        return 1 - self.extra_spans / self.detected_spans if self.detected_spans else float("nan")


def load_corpus(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def score(rows: list[dict], policy: RedactionConfig = RedactionConfig()) -> Score:
    sc = Score()
    for row in rows:
        text = row["text"]
        spans = find_pii(text, policy)
        if not row["spans"]:
            sc.lookalikes += 1
            sc.lookalikes_kept += not spans
            sc.false_positives += [(row["id"], s.kind, text[s.start:s.end]) for s in spans]
            continue
        covered = set()
        for s in spans:
            covered.update(range(s.start, s.end))
        sc.detected_spans += len(spans)
        sc.extra_spans += sum(1 for s in spans if not any(s.start < p["end"] and p["start"] < s.end for p in row["spans"]))
        for p in row["spans"]:
            ok = all(i in covered for i in range(p["start"], p["end"]) if text[i].isalnum())
            for key in (p["kind"], p["subkind"], "ALL"):
                sc.planted[key] += 1
                sc.found[key] += ok
            if not ok:
                sc.misses.append((row["id"], p["subkind"], p["value"]))
    return sc


def table(sc: Score, title: str) -> str:
    """A plain-text table: one line per kind and sub-kind, then precision."""
    lines = [f"{title}", f"  {'kind':<20}{'planted':>8}{'found':>7}{'recall':>8}"]
    kinds = [k for k in sc.planted if k.isupper() and k != "ALL"]
    subs = sorted(k for k in sc.planted if not k.isupper())
    for k in sorted(kinds) + ["ALL"] + subs:
        lines.append(f"  {k:<20}{sc.planted[k]:>8}{sc.found[k]:>7}{sc.recall(k):>8.3f}")
    lines.append(f"  look-alike records kept: {sc.lookalikes_kept}/{sc.lookalikes} = precision {sc.precision:.3f}")
    lines.append(f"  span precision on planted rows: {sc.span_precision:.3f} ({sc.extra_spans} extra of {sc.detected_spans})")
    return "\n".join(lines)

"""The promotion gate: a candidate replaces the current version only when it is measurably better.

Pure functions over evaluation dicts (models/training/evaluate.py ``evaluate_data``): macro-F1 on the dataset's
fixed held-out split must improve by at least ``margin``, and macro-F1 on no guard file may drop by
more than ``tolerance``. Without a loadable current version nothing is compared, so nothing is
promoted automatically unless there is no current version at all.
"""

from __future__ import annotations

from typing import Any

from models.training.evaluate import compare_evaluations, comparison_markdown


def decide(candidate: dict[str, Any], current: dict[str, Any] | None, margin: float, tolerance: float,
           current_error: str | None = None) -> dict[str, Any]:
    """``candidate``/``current``: {"split": evaluation, "guards": {key: evaluation}}; returns the decision."""
    if current_error:
        return {"promote": False, "reasons": [f"the current version could not be evaluated ({current_error}); "
                                              f"compare by hand and promote with `touchpoint models promote`"],
                "comparisons": []}
    if current is None:
        return {"promote": True, "reasons": ["there is no current version"], "comparisons": []}
    comparisons = [compare_evaluations(current["split"], candidate["split"])]
    delta = comparisons[0]["macro_f1"][2]
    reasons, ok = [], True
    if delta <= 0 or delta < margin:
        ok = False
        reasons.append(f"macro-F1 on the fixed split is {candidate['split']['macro_f1']:.3f} vs "
                       f"{current['split']['macro_f1']:.3f} ({delta:+.3f}); promotion needs at least "
                       f"+{margin:.3f}")
    else:
        reasons.append(f"macro-F1 on the fixed split improves by {delta:+.3f} (margin {margin:.3f})")
    for key, cand in candidate.get("guards", {}).items():
        cur = current.get("guards", {}).get(key)
        if cur is None:
            continue
        c = compare_evaluations(cur, cand)
        comparisons.append(c)
        if c["macro_f1"][2] < -tolerance:
            ok = False
            reasons.append(f"guard {key}: macro-F1 drops {c['macro_f1'][2]:+.3f}, more than the tolerance "
                           f"{tolerance:.3f}")
        else:
            reasons.append(f"guard {key}: macro-F1 {c['macro_f1'][2]:+.3f} (tolerance {tolerance:.3f})")
    return {"promote": ok, "reasons": reasons, "comparisons": comparisons}


def decision_markdown(task: str, candidate: str, current: str | None, decision: dict[str, Any],
                      margin: float, tolerance: float) -> str:
    verdict = "PROMOTED" if decision["promote"] else "NOT PROMOTED"
    lines = [f"### {task}: candidate {candidate} {verdict}", "",
             f"Current version: {current or 'none'}. Gate: macro-F1 on the fixed split must improve by "
             f">= {margin:.3f}; no guard file may drop by more than {tolerance:.3f}.", ""]
    lines += [f"- {r}" for r in decision["reasons"]]
    if decision.get("comparisons"):
        lines += ["", comparison_markdown(decision["comparisons"])]
    return "\n".join(lines) + "\n"

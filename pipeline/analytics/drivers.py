"""Key drivers: which topics and signals move NPS, CSAT and CES, with 95% intervals and the n behind them.

For each scope (all feedback, then each touchpoint) and each metric, one linear regression per
driver family:

- ``topics``: one indicator per taxonomy topic mentioned in any sentence of the feedback;
- ``negative_topics``: one indicator per topic mentioned in a *negative* sentence (complaints);
- ``signals``: negative sentiment, and when the store has them (pipeline/cx.py), high effort, each
  effort cue (repeat contact, transfer, long wait...), each emotion, each intent.

Families are fitted separately: sentiment is partly the consequence of the topic (a late parcel
makes the text negative), so putting both in one model would hide the topic's effect behind it.

Every model has channel and language fixed effects (the mix is adjusted for). The outcome is the
metric coded so that a coefficient reads in its usual unit: NPS as +100 promoter / 0 passive /
-100 detractor (the mean of that coding *is* NPS, so an effect is in NPS points), CSAT as 100 x top-2
box (points of top-2 share), CES as the raw 1-7 answer. Standard errors are cluster-robust by
customer (CR1; HC1 when every customer answers once): one customer's review, chat and survey
comment share one NPS answer, so the unit is the answer (``load_frame``), each once, and one
customer's several answers are not independent observations. Intervals use Student's t with
(clusters - 1) degrees of freedom.

A driver mentioned by fewer than ``min_n`` responses (or absent from fewer than ``min_n``) is
flagged ``small_n``: its number is kept for analysts but reports show it as "too few to tell".
Drivers mentioned fewer than ``MIN_FIT`` times are not fitted at all (a coefficient from two rows
is noise with a tiny standard error).
"""

from __future__ import annotations

import html
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pipeline.analytics.pvalues import t_ppf, t_sf
from pipeline.storage.schema import SCHEMA
from pipeline.metrics import CSAT_TOP_BOXES, DETRACTOR_MAX, PROMOTER_MIN
from pipeline.storage.tables import replace_frame

DDL = {t: SCHEMA[t] for t in ('key_drivers',)}  # the store's schema owns them
COLUMNS = [c.strip().split()[0] for c in DDL["key_drivers"].split(",")]
UNITS = {"nps": "NPS points", "csat": "CSAT top-2 points", "ces": "CES points (1-7)"}
FAMILIES = ("topics", "negative_topics", "signals")
MIN_FIT = 5  # fewer mentions than this: not fitted
MIN_LEVEL = 5  # channel/language levels with fewer rows are pooled into one "(other)" level
# Optional per-feedback signal columns (written by the emotion/effort/intent stage when present).
EMOTION_COL, EFFORT_COL, INTENT_COL, CUES_COL = "emotion", "effort_score", "intent", "effort_cues"
EFFORT_CUES = ("repeat_contact", "transfer", "long_wait", "repeat_self", "channel_switch")  # models/heads/effort.py
HIGH_EFFORT = 0.6  # effort score (0-1) from which a feedback counts as high effort
NO_LABEL = {"", "none", "other", "neutral"}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}


def load_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per survey answer with joined feedback: its outcome, mix, topic lists and optional signals.

    The unit is the answer, each once (a customer's review, chat and comment joined to one NPS answer
    are one observation, not three). Topics: those of any sentence of the feedback rows joined to the
    answer; negative sentiment, high effort and effort cues: present in any of them; emotion and intent:
    those of the most negative of them. Touchpoint: the answer's (the attribution rule of
    pipeline/metrics.py); channel and language: those of the answer's interaction, else of its first
    joined feedback row. Answers with no joined feedback carry no text to read and are left out.
    """
    have = _columns(con, "feedback")
    extra = ", ".join(f"f.{c}" for c in (EMOTION_COL, EFFORT_COL, INTENT_COL, CUES_COL) if c in have)
    sql = f"""
        WITH t AS (
            SELECT feedback_id,
                   list(DISTINCT topic ORDER BY topic) FILTER (WHERE topic IS NOT NULL AND topic <> 'other') AS topics,
                   list(DISTINCT topic ORDER BY topic) FILTER (WHERE topic IS NOT NULL AND topic <> 'other'
                                                               AND sentiment_label = 'negative') AS negative_topics
            FROM sentences GROUP BY feedback_id),
        link AS (
            SELECT nps_score_id AS score_id, feedback_id FROM feedback_scores WHERE nps_score_id IS NOT NULL
            UNION SELECT csat_score_id, feedback_id FROM feedback_scores WHERE csat_score_id IS NOT NULL
            UNION SELECT ces_score_id, feedback_id FROM feedback_scores WHERE ces_score_id IS NOT NULL)
        SELECT a.score_id, a.kind, a.value, a.scale, a.customer_id, a.touchpoint, a.channel AS answer_channel,
               a.language AS answer_language, f.feedback_id, f.channel, f.language, f.occurred_at,
               f.sentiment_label, f.sentiment_score, t.topics, t.negative_topics {', ' + extra if extra else ''}
        FROM answers a JOIN link l ON l.score_id = a.score_id JOIN feedback f ON f.feedback_id = l.feedback_id
        LEFT JOIN t ON t.feedback_id = f.feedback_id
        ORDER BY a.score_id, f.occurred_at NULLS LAST, f.feedback_id"""
    return per_answer(con.execute(sql).df())


def _lists_per_answer(rows: pd.DataFrame, col: str, ids: pd.Index) -> pd.Series:
    """For each score_id in ``ids``: the sorted distinct items of the list column ``col`` over its rows."""
    items = rows[["score_id", col]].explode(col).dropna()
    items = items.drop_duplicates().sort_values(["score_id", col], kind="stable")
    lists = items.groupby("score_id", sort=False)[col].agg(list)
    return pd.Series([lists.get(i, []) for i in ids], index=ids, dtype=object)


def per_answer(rows: pd.DataFrame) -> pd.DataFrame:
    """Collapse (answer, joined feedback row) pairs to one row per answer (``load_frame``'s rules).

    ``rows`` come ordered by answer, then event time and feedback id: an answer's first row gives its
    customer, touchpoint, channel and language; its worst row (lowest sentiment score, unscored last, then
    feedback id) gives the sentiment label (negative if any row is), the emotion and the intent. Topics and
    effort cues are the union over its rows, the effort score their maximum. Column operations over all
    answers at once (a loop per answer took 8 ms each: 23 s for 3,000 answers)."""
    cols = ["score_id", "customer_id", "touchpoint", "channel", "language", "sentiment_label", "nps", "csat",
            "csat_scale", "ces", "topics", "negative_topics"]
    signal_cols = [c for c in (EMOTION_COL, EFFORT_COL, INTENT_COL, CUES_COL) if c in rows]
    if rows.empty:
        return pd.DataFrame(columns=cols + signal_cols)
    rows = rows.reset_index(drop=True)
    first = rows.drop_duplicates("score_id", keep="first").set_index("score_id")
    ids = pd.Index(sorted(first.index), name="score_id")
    first = first.loc[ids]
    worst = (rows.sort_values(["score_id", "sentiment_score", "feedback_id"], na_position="last", kind="stable")
             .drop_duplicates("score_id", keep="first").set_index("score_id").loc[ids])
    any_negative = rows["sentiment_label"].eq("negative").groupby(rows["score_id"]).any().loc[ids]
    kind, value = first["kind"], first["value"].astype(float)
    out = pd.DataFrame({
        "score_id": list(ids),
        "customer_id": first["customer_id"].to_numpy(),
        "touchpoint": first["touchpoint"].to_numpy(),
        "channel": np.where(first["answer_channel"] != "survey", first["answer_channel"], first["channel"]),
        "language": [a if isinstance(a, str) else (f if isinstance(f, str) else "und")
                     for a, f in zip(first["answer_language"], first["language"])],
        "sentiment_label": np.where(any_negative, "negative", worst["sentiment_label"]).astype(object),
        "nps": value.where(kind == "nps").to_numpy(), "csat": value.where(kind == "csat").to_numpy(),
        "csat_scale": first["scale"].where(kind == "csat").astype(float).to_numpy(),
        "ces": value.where(kind == "ces").to_numpy(),
        "topics": _lists_per_answer(rows, "topics", ids).to_numpy(),
        "negative_topics": _lists_per_answer(rows, "negative_topics", ids).to_numpy(),
    })
    if EFFORT_COL in rows:
        out[EFFORT_COL] = rows.groupby("score_id")[EFFORT_COL].max().loc[ids].to_numpy()
    if CUES_COL in rows:
        cues = rows[["score_id"]].assign(cue=rows[CUES_COL].fillna("").astype(str).str.split(","))
        cues = _lists_per_answer(cues[["score_id", "cue"]].explode("cue").query("cue != ''"), "cue", ids)
        out[CUES_COL] = [",".join(c) for c in cues]
    for col in (EMOTION_COL, INTENT_COL):
        if col in rows:
            out[col] = worst[col].to_numpy()
    return out[cols + signal_cols]


def outcome(frame: pd.DataFrame, metric: str) -> pd.Series:
    """The metric coded so that its mean is the metric (NPS, CSAT top-2 in points) or the raw CES."""
    if metric == "nps":
        v = frame["nps"]
        return pd.Series(np.where(v >= PROMOTER_MIN, 100.0, np.where(v <= DETRACTOR_MAX, -100.0, 0.0)),
                         index=frame.index).where(v.notna())
    if metric == "csat":
        v, scale = frame["csat"], frame["csat_scale"].fillna(5)
        return (100.0 * (v > scale - CSAT_TOP_BOXES)).where(v.notna())
    if metric == "ces":
        return frame["ces"].astype(float)
    raise ValueError(f"unknown metric {metric!r}; use nps, csat or ces")


def _flags(lists: pd.Series, prefix: str) -> pd.DataFrame:
    """0/1 columns ``{prefix}{item}`` for the items of a list column, in sorted item order."""
    items = [list(v) if isinstance(v, (list, np.ndarray)) else [] for v in lists]
    names = sorted({t for ts in items for t in ts})
    where = {t: j for j, t in enumerate(names)}
    flags = np.zeros((len(items), len(names)))
    for i, ts in enumerate(items):
        for t in ts:
            flags[i, where[t]] = 1.0
    return pd.DataFrame(flags, columns=[f"{prefix}{t}" for t in names], index=lists.index)


def indicators(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    """0/1 driver columns of one family (column names like ``topic:delivery``)."""
    if family in ("topics", "negative_topics"):
        return _flags(frame[family], "topic:" if family == "topics" else "negative:")
    if family != "signals":
        raise ValueError(f"unknown driver family {family!r}; use one of {FAMILIES}")
    out = {"signal:negative_sentiment": (frame["sentiment_label"] == "negative").astype(float)}
    if EFFORT_COL in frame:
        out["signal:high_effort"] = (frame[EFFORT_COL].astype(float) >= HIGH_EFFORT).astype(float)
    if CUES_COL in frame:
        cues = frame[CUES_COL].fillna("").astype(str)
        for cue in EFFORT_CUES:
            out[f"effort:{cue}"] = cues.str.contains(rf"\b{cue}\b", regex=True).astype(float)
    for col in (EMOTION_COL, INTENT_COL):
        if col in frame:
            labels = frame[col].fillna("").astype(str).str.lower()
            for lab in sorted(set(labels) - NO_LABEL):
                out[f"{col}:{lab}"] = (labels == lab).astype(float)
    return pd.DataFrame(out, index=frame.index)


def _fixed_effects(frame: pd.DataFrame, cols: list[str]) -> tuple[list[str], np.ndarray]:
    """Dummies for each mix column (names, n x k matrix); the most frequent level is the reference,
    levels with fewer than ``MIN_LEVEL`` rows pooled into "(other)"."""
    names: list[str] = []
    parts: list[np.ndarray] = []
    for col in cols if len(frame) else ():
        v = frame[col].fillna("(none)").astype(str).to_numpy(dtype=object)
        levels, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        v = np.where(counts[inverse] >= MIN_LEVEL, v, "(other)")
        levels, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        ref = min(range(len(levels)), key=lambda j: (-counts[j], levels[j]))
        for j, level in enumerate(levels):
            if j != ref:
                names.append(f"fe:{col}={level}")
                parts.append((inverse == j).astype(float))
    return names, (np.column_stack(parts) if parts else np.empty((len(frame), 0)))


def _independent(X: np.ndarray) -> list[int]:
    """Indices of columns that add rank, in order (drivers first; a collinear fixed effect is dropped)."""
    kept: list[int] = []
    for j in range(X.shape[1]):
        col = X[:, j]
        if not np.any(col != col[0]) and j > 0:  # constant column (other than the intercept)
            continue
        if kept:
            basis = X[:, kept]
            coef, *_ = np.linalg.lstsq(basis, col, rcond=None)
            if np.linalg.norm(col - basis @ coef) <= 1e-8 * max(1.0, np.linalg.norm(col)):
                continue
        kept.append(j)
    return kept


def ols_cluster(X: np.ndarray, y: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """OLS coefficients, cluster-robust (CR1) standard errors, and the t degrees of freedom (clusters - 1)."""
    n, k = X.shape
    xtx_inv = np.linalg.pinv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    resid = y - X @ beta
    codes, inverse = np.unique(clusters, return_inverse=True)
    g = len(codes)
    scores = np.zeros((g, k))
    np.add.at(scores, inverse, X * resid[:, None])
    meat = scores.T @ scores
    c = (g / max(g - 1, 1)) * ((n - 1) / max(n - k, 1))
    cov = c * xtx_inv @ meat @ xtx_inv
    return beta, np.sqrt(np.clip(np.diag(cov), 0.0, None)), max(g - 1, 1)


class _Answers:
    """What every family's model of one scope and metric shares: the answers with that metric, the
    outcome, the mix dummies and the clusters (computed once, fitted per family)."""

    def __init__(self, frame: pd.DataFrame, metric: str, adjust: tuple[str, ...]):
        y_all = outcome(frame, metric)
        keep = y_all.notna().to_numpy()
        self.rows = frame[keep]
        self.y = y_all.to_numpy(dtype=float)[keep]
        self.adjusted = [c for c in adjust if c in self.rows]
        self.fe_names, self.fe = _fixed_effects(self.rows, self.adjusted)
        unit = "score_id" if "score_id" in self.rows else "feedback_id"
        self.clusters = self.rows["customer_id"].fillna(self.rows[unit]).astype(str).to_numpy() \
            if "customer_id" in self.rows else self.rows.index.to_numpy()
        self.n_clusters = len(set(self.clusters))


def fit_drivers(frame: pd.DataFrame, metric: str = "nps", family: str = "topics", min_n: int = 30,
                adjust: tuple[str, ...] = ("channel", "language"), scope: str = "overall") -> pd.DataFrame:
    """Effect of each driver of one family on one metric, adjusted for the ``adjust`` mix.

    Returns one row per driver (``COLUMNS``); drivers mentioned fewer than ``MIN_FIT`` times have
    no effect (NaN) and ``small_n`` set.
    """
    return _fit(_Answers(frame, metric, adjust), metric, family, min_n, scope)


def _fit(a: _Answers, metric: str, family: str, min_n: int, scope: str) -> pd.DataFrame:
    rows, y = a.rows, a.y
    out: list[dict[str, Any]] = []
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    drivers = indicators(rows, family)
    flags = drivers.to_numpy(dtype=float)
    counts = flags.sum(axis=0).astype(int)
    fit = [j for j in range(flags.shape[1]) if MIN_FIT <= counts[j] <= len(rows) - MIN_FIT]
    names = ["const"] + [drivers.columns[j] for j in fit] + a.fe_names
    X = np.column_stack([np.ones(len(rows)), flags[:, fit], a.fe])
    keep = _independent(X)
    est: dict[str, tuple[float, float, float, float]] = {}
    if len(keep) < len(rows):
        beta, se, df = ols_cluster(X[:, keep], y, a.clusters)
        tcrit = t_ppf(0.975, df)
        for b, s, j in zip(beta, se, keep):
            p = 2 * t_sf(abs(b / s), df) if s > 0 else float("nan")
            est[names[j]] = (float(b), float(b - tcrit * s), float(b + tcrit * s), p)
    for j, name in enumerate(drivers.columns):
        mask = flags[:, j] > 0
        n_with = int(counts[j])
        e = est.get(name, (np.nan,) * 4)
        out.append({
            "scope": scope, "metric": metric, "family": family, "driver": name,
            "effect": _r(e[0]), "ci_low": _r(e[1]), "ci_high": _r(e[2]), "p_value": _r(e[3], 6),
            "n_with": n_with, "n_without": int(len(rows) - n_with), "n_total": int(len(rows)),
            "clusters": a.n_clusters,
            "mean_with": _r(float(y[mask].mean())) if n_with else None,
            "mean_without": _r(float(y[~mask].mean())) if n_with < len(rows) else None,
            "small_n": bool(n_with < min_n or len(rows) - n_with < min_n or name not in est),
            "unit": UNITS[metric], "adjusted_for": ",".join(a.adjusted),
        })
    return pd.DataFrame(out, columns=COLUMNS)


def _r(v: float | None, digits: int = 3) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), digits)


def key_drivers(frame: pd.DataFrame, metrics: tuple[str, ...] = ("nps", "csat", "ces"),
                families: tuple[str, ...] = FAMILIES, min_n: int = 30) -> pd.DataFrame:
    """Drivers overall and per touchpoint, for each metric and family, in a stable order."""
    scopes = [("overall", frame)] + [(f"touchpoint:{tp}", g) for tp, g in
                                     sorted(frame.groupby(frame["touchpoint"].fillna("(none)")), key=lambda x: x[0])]
    adjust = ("channel", "language")
    parts = []
    for name, g in scopes:
        for m in metrics:
            answers = _Answers(g, m, adjust)  # shared by the families' models
            parts += [_fit(answers, m, fam, min_n, name) for fam in families]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(["scope", "metric", "family", "driver"],
                                                           ignore_index=True)


def refresh_drivers(con: duckdb.DuckDBPyConnection, min_n: int = 30) -> pd.DataFrame:
    """Recompute ``key_drivers`` from the store and replace the table in one transaction."""
    result = key_drivers(load_frame(con), min_n=min_n)
    replace_frame(con, "key_drivers", DDL["key_drivers"], result, COLUMNS)
    return result


def stored(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The stored ``key_drivers`` (empty on a store that has none yet; works on read-only connections)."""
    if not _has_table(con, "key_drivers"):
        return pd.DataFrame(columns=COLUMNS)
    return con.execute("SELECT * FROM key_drivers ORDER BY scope, metric, family, driver").df()


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall()[0][0])


def report_rows(drivers: pd.DataFrame | list[dict[str, Any]], scope: str = "overall", metric: str = "nps",
                family: str = "topics", limit: int = 15) -> list[dict[str, Any]]:
    """Display rows for the report: strongest effects first; small cells say so instead of a number."""
    df = pd.DataFrame(drivers)
    if df.empty:
        return []
    df = df[(df["scope"] == scope) & (df["metric"] == metric) & (df["family"] == family)].copy()
    df["_order"] = df["small_n"].astype(int) * 1e6 + df["effect"].fillna(0).abs().mul(-1)
    rows = []
    for r in df.sort_values(["_order", "driver"]).head(limit).to_dict("records"):
        small = bool(r["small_n"]) or r["effect"] is None or pd.isna(r["effect"])
        rows.append({
            "driver": r["driver"],
            "effect": "too few to tell" if small else f"{r['effect']:+.1f}",
            "95% CI": "" if small or pd.isna(r["ci_low"]) else f"{r['ci_low']:+.1f} .. {r['ci_high']:+.1f}",
            "n with / total": f"{r['n_with']} / {r['n_total']}",
            "mean with / without": "" if small else f"{_fmt(r['mean_with'])} / {_fmt(r['mean_without'])}",
        })
    return rows


def _fmt(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.1f}"


NOTE = ("Unit: survey answers with joined feedback, each once (n counts answers). "
        "Effect: difference in the metric when the driver is present, from a regression with channel and "
        "language fixed effects (NPS in points: promoters +100, detractors -100); 95% interval from "
        "customer-clustered robust standard errors. 'Too few to tell': fewer than min_n responses with or "
        "without the driver. Associations, not proof of cause.")


def render_html(drivers: pd.DataFrame | list[dict[str, Any]], scope: str = "overall", metric: str = "nps",
                family: str = "topics") -> str:
    """An HTML section (heading, note, table with an interval bar per driver) for the report."""
    rows = report_rows(drivers, scope, metric, family)
    title = f"Key drivers of {metric.upper()} ({family.replace('_', ' ')}, {scope})"
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p class=muted>Nothing to show.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td dir=auto>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
                   for r in rows)
    return (f"<h2>{html.escape(title)}</h2><p class=muted>{html.escape(NOTE)}</p>"
            f"<table><tr>{head}</tr>{body}</table>")


def render_markdown(drivers: pd.DataFrame | list[dict[str, Any]], scope: str = "overall", metric: str = "nps",
                    family: str = "topics") -> str:
    rows = report_rows(drivers, scope, metric, family)
    if not rows:
        return ""
    cols = list(rows[0])
    lines = [f"## Key drivers of {metric.upper()} ({family}, {scope})", "", "| " + " | ".join(cols) + " |",
             "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |" for r in rows]
    return "\n".join(lines)

"""Review manipulation signals, per source and product: signals to look at, not verdicts.

- ``five_star_burst``: a day whose count of top-rating reviews is far above the group's usual daily
  count (exact conditional Poisson test against the other days of the window, Benjamini-Hochberg
  across days and groups, at least ``min_count`` reviews and ``min_ratio`` x the usual rate).
- ``near_duplicate``: the same or nearly the same text (Jaccard >= ``threshold`` on character
  5-gram shingles, found with MinHash LSH) from two or more different customer ids. Only texts of
  ``min_chars`` or more count (CJK characters count three): short generic praise ("Great product!")
  is written independently by many real customers.
- ``rating_contradiction``: top rating with negative text, or lowest rating with positive text.
- ``incentive_language``: "received free in exchange for a review" and equivalents in en/it/zh/fa.
- ``deleted``: a review id present in an earlier dump of a source and missing from a later one.

The product is the ``product`` column when the store has one, else the source: every review of
a source is one group.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Iterable

import duckdb
import numpy as np
import pandas as pd

from pipeline.analytics.pvalues import binom_sf
from pipeline.storage.schema import SCHEMA
from pipeline.analytics.alerts import bh_qvalues
from pipeline.storage.tables import replace_frame

DDL = {t: SCHEMA[t] for t in ('manipulation_signals',)}  # the store's schema owns them
COLUMNS = [c.strip().split()[0] for c in DDL["manipulation_signals"].split(",")]
SIGNALS = ("five_star_burst", "near_duplicate", "rating_contradiction", "incentive_language", "deleted")

_WS = r"[\s\u200c]*"  # Persian text may carry zero-width non-joiners between word parts
INCENTIVE_PATTERNS = {
    "en": [r"in exchange for (?:an? |my |this |a free )?(?:honest |unbiased |fair )?review",
           r"(?:received|got|was (?:given|sent)) (?:this|the|it|a|my)?\b.{0,40}?\b(?:for free|free of charge|"
           r"at a discount|discounted|complimentary)\b.{0,40}\breview",
           r"(?:free|discounted) (?:product|sample|item) (?:for|in return for) (?:a|my) review",
           r"(?:gift card|refund|voucher|coupon|cashback)\b.{0,30}\bfor (?:a|my|leaving a|writing a) "
           r"(?:5[- ]star |five[- ]star |positive |good )?review",
           r"paid (?:me )?to (?:write|leave|post) (?:a|this|my) review", r"\bincentivi[sz]ed review"],
    "it": [r"in cambio di (?:una|la mia) recensione", r"recensione (?:onesta |positiva )?in cambio",
           r"ricevuto .{0,40}(?:gratuitamente|gratis|in omaggio).{0,60}recensione",
           r"(?:buono|rimborso|coupon).{0,30}per (?:una|la) recensione"],
    "zh": [r"好评返现", r"晒图返现", r"以换取.{0,6}评", r"换取.{0,4}好?评价", r"免费(?:获得|收到|试用|赠送|领取).{0,20}评",
           r"五星好评.{0,8}(?:返|送|退)", r"给好评.{0,8}(?:返|送|退)"],
    "fa": [rf"در{_WS}ازای{_WS}(?:نوشتن{_WS})?(?:نظر|نقد|بررسی|امتیاز)",
           rf"رایگان{_WS}دریافت{_WS}کردم.{{0,60}}(?:نظر|نقد|بررسی)",
           rf"(?:نظر|نقد|بررسی).{{0,60}}رایگان{_WS}دریافت{_WS}کردم",
           rf"برای{_WS}(?:نوشتن{_WS})?(?:نظر|نقد).{{0,30}}(?:هدیه|تخفیف|رایگان|کد{_WS}تخفیف)"],
}
_INCENTIVE = {lang: [re.compile(p, re.IGNORECASE) for p in ps] for lang, ps in INCENTIVE_PATTERNS.items()}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def load_reviews(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Review rows with what the signals need (``product`` is the source when the store has no product)."""
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'feedback'").fetchall()}
    product = "coalesce(CAST(product AS VARCHAR), source)" if "product" in have else "source"
    return con.execute(f"""SELECT feedback_id, source, {product} AS product, source_id, customer_id, event_date,
            rating, rating_scale, language, text, sentiment_label, sentiment_score
        FROM feedback WHERE channel = 'review' ORDER BY source, source_id, feedback_id""").df()


def _top_rating(df: pd.DataFrame) -> pd.Series:
    return df["rating"].notna() & (df["rating"] >= df["rating_scale"].fillna(5))


def five_star_bursts(reviews: pd.DataFrame, fdr: float = 0.05, min_count: int = 5,
                     min_ratio: float = 3.0) -> pd.DataFrame:
    """Days (per source and product) with far more top-rating reviews than the group's other days."""
    top = reviews[_top_rating(reviews) & reviews["event_date"].notna()]
    if top.empty:
        return pd.DataFrame(columns=COLUMNS)
    daily = top.groupby(["source", "product", "event_date"]).size().rename("n").reset_index()
    span = reviews.dropna(subset=["event_date"]).groupby(["source", "product"])["event_date"].agg(["min", "max"])
    tests = []
    for (src, prod), g in daily.groupby(["source", "product"]):
        lo, hi = span.loc[(src, prod)]
        days = max((pd.Timestamp(hi) - pd.Timestamp(lo)).days + 1, 1)
        total = int(g["n"].sum())
        for d, n in zip(g["event_date"], g["n"]):
            other_days = max(days - 1, 1)
            # conditional test for two Poisson rates: this day vs the group's other days
            p = binom_sf(n - 1, total, 1.0 / (1 + other_days)) if days > 1 else 1.0
            usual = (total - n) / other_days
            tests.append((src, prod, d, int(n), usual, p))
    t = pd.DataFrame(tests, columns=["source", "product", "event_date", "n", "usual", "p"])
    t["q"] = bh_qvalues(t["p"].to_numpy())
    hits = t[(t["q"] <= fdr) & (t["n"] >= min_count) & (t["n"] >= min_ratio * t["usual"].clip(lower=1 / 3))]
    out = top.merge(hits, on=["source", "product", "event_date"])
    return pd.DataFrame({
        "signal": "five_star_burst", "source": out["source"], "product": out["product"],
        "feedback_id": out["feedback_id"], "source_id": out["source_id"], "customer_id": out["customer_id"],
        "event_date": out["event_date"],
        "group_key": out["source"] + "|" + pd.to_datetime(out["event_date"]).dt.strftime("%Y-%m-%d"),
        "score": out["q"].round(10),
        "detail": [f"{n} top-rating reviews on {pd.Timestamp(d).date()} vs {u:.1f}/day usually (q={q:.2g})"
                   for n, d, u, q in zip(out["n"], out["event_date"], out["usual"], out["q"])],
    }, columns=COLUMNS)


def _effective_len(text: str) -> int:
    return len(text) + 2 * len(_CJK.findall(text))


def shingles(text: str, k: int = 5) -> set[int]:
    """Hashed character k-grams of the lowercased, whitespace-collapsed text (any script)."""
    t = " ".join(text.lower().split())
    t = re.sub(r"[^\w\s]", "", t)
    if len(t) <= k:
        return {zlib.crc32(t.encode())}
    return {zlib.crc32(t[i:i + k].encode()) for i in range(len(t) - k + 1)}


def shingle_array(text: str, k: int = 5) -> np.ndarray:
    """``shingles`` as a sorted uint32 array: a tenth of a Python set's memory (a set of ~120 ints is
    ~8 KB), so the reviews of a large store fit beside each other."""
    s = shingles(text, k)
    return np.sort(np.fromiter(s, dtype=np.uint32, count=len(s)))


def minhash(sets: list[np.ndarray], num_perm: int = 64, seed: int = 1) -> np.ndarray:
    """MinHash signatures (len(sets) x num_perm) with universal hashing mod a Mersenne prime, of arrays of
    distinct hashes (``shingle_array``)."""
    prime = np.uint64((1 << 61) - 1)
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 31, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64)
    sig = np.empty((len(sets), num_perm), dtype=np.uint64)
    for i, s in enumerate(sets):
        h = s.astype(np.uint64)
        sig[i] = ((a[:, None] * h[None, :] + b[:, None]) % prime).min(axis=1)  # a, h < 2**32: no overflow
    return sig


def _band_buckets(sig: np.ndarray, groups: np.ndarray, bands: int, rows_per_band: int):
    """Per band, the rows (ascending) of each bucket of two or more rows that share the group and the
    band's part of the signature; buckets in the order of their first row."""
    n = len(sig)
    for band in range(bands):
        keys = np.column_stack([groups, sig[:, band * rows_per_band:(band + 1) * rows_per_band]])
        _, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
        rows = np.flatnonzero(counts[inv] > 1)
        if not len(rows):
            continue
        first = np.full(len(counts), n)
        np.minimum.at(first, inv, np.arange(n))
        b = inv[rows]
        order = np.lexsort((rows, first[b]))
        rows, b = rows[order], b[order]
        for members in np.split(rows, np.flatnonzero(np.diff(b)) + 1):
            yield members.tolist()


def near_duplicates(reviews: pd.DataFrame, threshold: float = 0.8, min_chars: int = 100, bands: int = 16,
                    rows_per_band: int = 4) -> pd.DataFrame:
    """Reviews whose text nearly matches a review by another customer id (per source and product)."""
    df = reviews[reviews["text"].fillna("").map(_effective_len) >= min_chars].reset_index(drop=True)
    if len(df) < 2:
        return pd.DataFrame(columns=COLUMNS)
    sets = [shingle_array(t) for t in df["text"]]
    sig = minhash(sets, bands * rows_per_band)
    parent = list(range(len(df)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    groups = pd.factorize(df["source"].astype(str) + "\x1f" + df["product"].astype(str))[0].astype(np.uint64)
    customer_of = df["customer_id"].tolist()
    seen_pairs: set[tuple[int, int]] = set()
    best = np.zeros(len(df))
    for members in _band_buckets(sig, groups, bands, rows_per_band):
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if (i, j) in seen_pairs:
                    continue
                seen_pairs.add((i, j))
                if customer_of[i] == customer_of[j]:
                    continue
                inter = len(np.intersect1d(sets[i], sets[j], assume_unique=True))
                jac = inter / (len(sets[i]) + len(sets[j]) - inter)
                if jac >= threshold:
                    parent[find(i)] = find(j)
                    best[i], best[j] = max(best[i], jac), max(best[j], jac)
    roots = np.array([find(i) for i in range(len(df))])
    rows = []
    for root in sorted(set(roots[best > 0])):
        members = np.flatnonzero(roots == root)
        customers = df.loc[members, "customer_id"].nunique()
        if customers < 2:
            continue
        key = "dup-" + format(zlib.crc32(str(sorted(df.loc[members, "feedback_id"])).encode()), "08x")
        for i in members:
            r = df.loc[i]
            rows.append(["near_duplicate", r["source"], r["product"], r["feedback_id"], r["source_id"],
                         r["customer_id"], r["event_date"], key, round(float(best[i]), 4),
                         f"{len(members)} near-identical reviews from {customers} customer ids"])
    return pd.DataFrame(rows, columns=COLUMNS)


def rating_contradictions(reviews: pd.DataFrame) -> pd.DataFrame:
    """Top rating with negative text, or the lowest rating with positive text."""
    top = _top_rating(reviews) & (reviews["sentiment_label"] == "negative")
    low = reviews["rating"].notna() & (reviews["rating"] <= 1) & (reviews["sentiment_label"] == "positive")
    out = reviews[top | low]
    detail = np.where(_top_rating(out), "top rating, negative text", "lowest rating, positive text")
    return pd.DataFrame({"signal": "rating_contradiction", "source": out["source"], "product": out["product"],
                         "feedback_id": out["feedback_id"], "source_id": out["source_id"],
                         "customer_id": out["customer_id"], "event_date": out["event_date"],
                         "group_key": None, "score": out["sentiment_score"], "detail": detail}, columns=COLUMNS)


def incentive_match(text: str) -> tuple[str, str] | None:
    """(language, matched phrase) of the first incentive pattern found in ``text``, or None."""
    if not isinstance(text, str):
        return None
    for lang, pats in _INCENTIVE.items():
        for p in pats:
            m = p.search(text)
            if m:
                return lang, m.group(0)
    return None


def incentive_language(reviews: pd.DataFrame) -> pd.DataFrame:
    matches = reviews["text"].map(incentive_match)
    out = reviews[matches.notna()]
    m = matches[matches.notna()]
    return pd.DataFrame({"signal": "incentive_language", "source": out["source"], "product": out["product"],
                         "feedback_id": out["feedback_id"], "source_id": out["source_id"],
                         "customer_id": out["customer_id"], "event_date": out["event_date"],
                         "group_key": [x[0] for x in m], "score": 1.0,
                         "detail": [f"{x[0]}: “{x[1]}”" for x in m]}, columns=COLUMNS)


def deleted_reviews(earlier: Iterable[tuple[str, str]], later: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Review ids (source, source_id) in an earlier dump and missing from a later dump of the same source.

    Only sources present in the later dump are compared (a source missing altogether is a missing
    file, not deleted reviews).
    """
    later_set = set(later)
    later_sources = {s for s, _ in later_set}
    gone = sorted({(s, i) for s, i in earlier if s in later_sources and (s, i) not in later_set})
    return pd.DataFrame({"signal": "deleted", "source": [s for s, _ in gone], "product": [s for s, _ in gone],
                         "feedback_id": None, "source_id": [i for _, i in gone], "customer_id": None,
                         "event_date": None, "group_key": None, "score": 1.0,
                         "detail": "in the earlier dump, missing from the later one"}, columns=COLUMNS)


def deleted_in_store(con: duckdb.DuckDBPyConnection, source: str, earlier_file: str,
                     later_file: str) -> pd.DataFrame:
    """Deleted reviews between two full-snapshot dumps of ``source`` already loaded into the store.

    A re-delivered review is republished from the later file, so after loading both, the rows still
    attributed to the earlier file are the ones the later snapshot lacks. Rows newer than the later
    snapshot's newest review are not counted (the snapshot could not contain them).
    """
    rows = con.execute("""SELECT source, source_id FROM feedback WHERE source = ? AND input_file = ?
                          AND (occurred_at IS NULL OR occurred_at <= (SELECT max(occurred_at) FROM feedback
                                                                      WHERE source = ? AND input_file = ?))""",
                       [source, earlier_file, source, later_file]).fetchall()
    later = con.execute("SELECT source, source_id FROM feedback WHERE source = ? AND input_file = ?",
                        [source, later_file]).fetchall()
    if not later:
        return pd.DataFrame(columns=COLUMNS)
    return deleted_reviews(rows, later)


def detect(reviews: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Every signal except ``deleted`` (which needs two dumps), in a stable order."""
    burst_opts = {k: options[k] for k in ("fdr", "min_count", "min_ratio") if k in options}
    dup_opts = {k: options[k] for k in ("threshold", "min_chars") if k in options}
    parts = [five_star_bursts(reviews, **burst_opts), near_duplicates(reviews, **dup_opts),
             rating_contradictions(reviews), incentive_language(reviews)]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(["signal", "source", "product", "feedback_id"],
                                                           ignore_index=True, na_position="last")


def counts(signals: pd.DataFrame, reviews: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per source and product: reviews, and how many carry each signal."""
    keys = ["source", "product"]
    if signals.empty:  # keep the (source, product) index so the frame has its columns either way
        c = pd.DataFrame(columns=list(SIGNALS), index=pd.MultiIndex.from_tuples([], names=keys))
    else:
        c = signals.groupby([*keys, "signal"]).size().unstack("signal", fill_value=0)
    c = c.reindex(columns=list(SIGNALS), fill_value=0)
    if reviews is not None:
        n = reviews.groupby(keys).size().rename("reviews")
        c = pd.concat([n, c], axis=1).fillna(0)
        c.index = c.index.set_names(keys)
    return c.astype(int).reset_index().sort_values(keys, ignore_index=True)


def refresh_signals(con: duckdb.DuckDBPyConnection, deleted: pd.DataFrame | None = None,
                    **options: Any) -> pd.DataFrame:
    """Recompute signals over every stored review and replace ``manipulation_signals`` in one transaction."""
    sig = detect(load_reviews(con), **options)
    if deleted is not None and not deleted.empty:
        sig = pd.concat([sig, deleted[COLUMNS]], ignore_index=True)
    rows = sig.astype({"event_date": "datetime64[s]"}) if not sig.empty else sig
    replace_frame(con, "manipulation_signals", DDL["manipulation_signals"], rows, COLUMNS)
    return sig


def report_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Counts per source and product for the report (signals to review, not verdicts)."""
    if not _has_table(con):
        return []
    c = counts(con.execute("SELECT * FROM manipulation_signals").df(), load_reviews(con))
    return c.to_dict("records")


def examples(con: duckdb.DuckDBPyConnection, per_signal: int = 3) -> list[dict[str, Any]]:
    """A few flagged reviews per signal, with the detail and an excerpt (text is PII-redacted)."""
    if not _has_table(con):
        return []
    cur = con.execute("""SELECT m.signal, m.source, m.source_id, m.event_date, m.detail, left(f.text, 120) AS excerpt
        FROM manipulation_signals m LEFT JOIN feedback f USING (feedback_id)
        QUALIFY row_number() OVER (PARTITION BY m.signal ORDER BY m.group_key, m.source, m.source_id) <= ?
        ORDER BY m.signal, m.source, m.source_id""", [per_signal])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]



def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'manipulation_signals'")
                .fetchall()[0][0])

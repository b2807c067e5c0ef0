"""Review manipulation signals: the planted demo cases are found, genuine reviews are left alone."""

from __future__ import annotations

import csv
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipeline.analytics import manipulation as m
from pipeline.storage import store
from pipeline.ingest.demo import generate


def demo_reviews(folder) -> pd.DataFrame:
    """The demo's review dumps as review rows (no models: the signals under test do not need sentiment)."""
    rows = []
    with open(folder / "reviews" / "marketplace_export.jsonl", encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
                rows.append(("marketplace", r["id"], r["customer"], r["ts"][:10], r["score"], r["content"]))
            except (json.JSONDecodeError, KeyError):
                continue  # the planted malformed lines
    with open(folder / "reviews" / "appstore_export.csv", encoding="utf-8", errors="replace", newline="") as fh:
        for r in csv.DictReader(fh):
            if r.get(None) is None:  # ragged rows carry extra fields under None
                rows.append(("appstore", r["review_id"], r["user_id"], r["created"][:10], r["stars"], r["body"]))
    df = pd.DataFrame(rows, columns=["source", "source_id", "customer_id", "event_date", "rating", "text"])
    return df.assign(feedback_id=df["source"] + ":" + df["source_id"], product=df["source"],
                     event_date=pd.to_datetime(df["event_date"]).dt.date, rating=df["rating"].astype(float),
                     rating_scale=5, language=None, sentiment_label=None, sentiment_score=None)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    generate(folder, size=1200, seed=5)
    return demo_reviews(folder)


def test_planted_five_star_burst_is_found(demo):
    burst = m.five_star_bursts(demo)
    planted = set(demo.loc[demo["source_id"].str.startswith("MPB"), "source_id"])
    assert len(planted) == 20 and planted <= set(burst["source_id"])
    assert set(burst["event_date"]) == {date(2026, 10, 27)}  # only the burst day, no other day
    assert set(burst["source"]) == {"marketplace"}


def test_planted_copy_paste_reviews_are_found_and_only_them(demo):
    dups = m.near_duplicates(demo)
    assert set(dups["source_id"]) == {"MPDen0", "MPDen1", "MPDen2", "MPDen3", "MPDen4", "MPDit0", "MPDit1", "MPDit2"}
    assert dups.groupby("group_key")["customer_id"].nunique().sort_values().tolist() == [3, 5]
    assert dups["score"].min() >= 0.8


def test_planted_incentive_language_is_found_in_four_languages(demo):
    inc = m.incentive_language(demo)
    assert set(inc["source_id"]) == {"MPIen", "MPIit", "MPIzh", "MPIfa"}
    assert set(inc["group_key"]) == {"en", "it", "zh", "fa"}


@pytest.mark.parametrize("text, lang", [
    ("Got it at a discount in exchange for an unbiased review.", "en"),
    ("I received this product for free from the seller and this is my review", "en"),
    ("They offered a $10 gift card for leaving a 5-star review", "en"),
    ("Prodotto ricevuto in omaggio dal venditore per una recensione", "it"),
    ("Recensione onesta in cambio del prodotto", "it"),
    ("商家说好评返现五元", "zh"),
    ("五星好评就送优惠券", "zh"),
    ("برای نوشتن نظر کد تخفیف هدیه گرفتم", "fa"),
    ("این را در\u200cازای نظر دادن گرفتم", "fa"),
])
def test_incentive_phrases(text, lang):
    assert m.incentive_match(text)[0] == lang


@pytest.mark.parametrize("text", [
    "Free delivery and a great product, honest review: five stars.",
    "I paid full price, no one gave me anything for this review.",
    "Ho pagato il prodotto, recensione sincera.",
    "物流很快，质量不错，好评。",
    "ارسال رایگان بود و کیفیت عالی است.",
])
def test_genuine_reviews_are_not_incentive(text):
    assert m.incentive_match(text) is None


def test_near_duplicates_need_other_accounts_and_long_text():
    long = "This kettle boils water in under a minute, the handle stays cool and the lid opens with one hand easily."
    df = pd.DataFrame({"feedback_id": list("abcde"), "source": "shop", "product": "shop", "source_id": list("abcde"),
                       "customer_id": ["u1", "u1", "u2", "u3", "u4"], "event_date": date(2026, 10, 1),
                       "text": [long, long + "!", "Great product!", "Great product!", "Something else entirely " * 5]})
    assert m.near_duplicates(df).empty  # same account twice; short generic praise from two accounts
    df.loc[2, "text"] = long.replace("kettle", "Kettle") + " 👍"
    assert set(m.near_duplicates(df)["feedback_id"]) == {"a", "b", "c"}


def test_rating_contradictions():
    df = pd.DataFrame({"feedback_id": ["a", "b", "c", "d"], "source": "s", "product": "s", "source_id": list("abcd"),
                       "customer_id": list("wxyz"), "event_date": date(2026, 10, 1), "rating": [5, 1, 5, 3],
                       "rating_scale": 5, "text": "t", "sentiment_label": ["negative", "positive", "positive", "negative"],
                       "sentiment_score": [-0.6, 0.7, 0.5, -0.4]})
    c = m.rating_contradictions(df)
    assert dict(zip(c["feedback_id"], c["detail"])) == {"a": "top rating, negative text", "b": "lowest rating, positive text"}


def test_deleted_reviews_between_dumps(tmp_path):
    earlier = [("shop", "r1"), ("shop", "r2"), ("shop", "r3"), ("other", "x1")]
    later = [("shop", "r1"), ("shop", "r3"), ("shop", "r4")]
    assert m.deleted_reviews(earlier, later)["source_id"].tolist() == ["r2"]  # "other" has no later dump
    con = store.connect(tmp_path)
    rows = [("f1", "shop", "r1", "dump_2.csv", "2026-10-01"), ("f2", "shop", "r2", "dump_1.csv", "2026-10-01"),
            ("f3", "shop", "r3", "dump_2.csv", "2026-10-02"), ("f5", "shop", "r5", "dump_1.csv", "2026-10-09")]
    con.executemany("INSERT INTO feedback (feedback_id, channel, source, source_id, input_file, occurred_at) "
                    "VALUES (?, 'review', ?, ?, ?, ?)", rows)
    # r5 is newer than the later snapshot's newest review: not evidence of a deletion
    assert m.deleted_in_store(con, "shop", "dump_1.csv", "dump_2.csv")["source_id"].tolist() == ["r2"]


def test_refresh_signals_stores_counts_per_source(tmp_path, demo):
    con = store.connect(tmp_path)
    assert m.report_rows(con) == [] and m.examples(con) == []  # a store from before the signals existed
    df = demo.assign(channel="review")
    cols = ["feedback_id", "channel", "source", "source_id", "customer_id", "event_date", "rating", "rating_scale", "text"]
    con.register("_rows", df[cols])
    con.execute(f"INSERT INTO feedback ({', '.join(cols)}) SELECT * FROM _rows")
    sig = m.refresh_signals(con, deleted=m.deleted_reviews([("marketplace", "gone1")], [("marketplace", "M1")]))
    assert con.execute("SELECT count(*) FROM manipulation_signals").fetchone()[0] == len(sig)
    counts = {r["source"]: r for r in m.report_rows(con)}
    assert counts["marketplace"]["near_duplicate"] == 8 and counts["marketplace"]["incentive_language"] == 4
    assert counts["marketplace"]["deleted"] == 1 and counts["marketplace"]["five_star_burst"] >= 20
    assert counts["appstore"]["near_duplicate"] == 0 and counts["appstore"]["reviews"] > 0
    assert {e["signal"] for e in m.examples(con)} == {"five_star_burst", "near_duplicate", "incentive_language",
                                                      "deleted"}
    m.refresh_signals(con)  # a rerun replaces the table
    assert con.execute("SELECT count(*) FROM manipulation_signals WHERE signal = 'deleted'").fetchone()[0] == 0


def test_band_buckets_are_the_rows_sharing_a_band_key_in_first_row_order():
    """The vectorised banding gives the buckets a dict keyed by (group, band values) gives, in its order."""
    rng = np.random.default_rng(3)
    sig = rng.integers(0, 3, size=(300, 8)).astype(np.uint64)  # few values: many shared band keys
    groups = rng.integers(0, 2, size=300).astype(np.uint64)
    expect = []
    for band in range(4):
        buckets: dict = {}
        for i, key in enumerate(map(tuple, sig[:, band * 2:(band + 1) * 2])):
            buckets.setdefault((groups[i], key), []).append(i)
        expect += [b for b in buckets.values() if len(b) > 1]
    got = list(m._band_buckets(sig, groups, 4, 2))
    assert len(got) > 20 and got == expect

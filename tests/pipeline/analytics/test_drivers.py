"""Key drivers recover planted effects within their intervals, adjusted for the channel mix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.analytics import drivers
from pipeline.storage import store
from pipeline.metrics import nps

PLANTED = {"delivery": -30.0, "price_value": -10.0, "app_website": 0.0}


def synthetic(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    """Feedback whose expected NPS is additive in the planted topic effects and a channel effect.

    Delivery complaints come mostly through calls, and callers score 30 points lower whatever they
    say: a naive comparison overstates the delivery effect, the adjusted one must not.
    """
    rng = np.random.default_rng(seed)
    channel = rng.choice(["review", "chat", "call"], size=n, p=[0.5, 0.3, 0.2])
    language = rng.choice(["en", "it", "zh", "fa"], size=n)
    p_delivery = np.where(channel == "call", 0.6, 0.2)
    topics = {"delivery": rng.random(n) < p_delivery, "price_value": rng.random(n) < 0.25,
              "app_website": rng.random(n) < 0.2}
    # NPS = 100 * (P(promoter) - P(detractor)): each effect moves 0.5 * effect / 100 from one to the other
    shift = sum(0.5 * PLANTED[t] / 100 * topics[t] for t in topics) + np.where(channel == "call", -0.15, 0.0)
    p_pro, p_det = 0.55 + shift, 0.20 - shift
    u = rng.random(n)
    score = np.where(u < p_pro, 10, np.where(u < p_pro + p_det, 3, 8))
    lists = [[t for t in topics if topics[t][i]] for i in range(n)]
    return pd.DataFrame({
        "feedback_id": [f"f{i}" for i in range(n)], "customer_id": [f"c{i // 2}" for i in range(n)],
        "touchpoint": np.where(np.arange(n) % 2 == 0, "delivery", "product"), "channel": channel,
        "language": language, "sentiment_label": np.where(score <= 6, "negative", "positive"),
        "nps": score.astype(float), "csat": np.nan, "csat_scale": np.nan, "ces": np.nan,
        "topics": lists, "negative_topics": [[] for _ in range(n)],
    })


def test_planted_topic_effects_are_recovered_within_their_intervals():
    frame = synthetic()
    res = drivers.fit_drivers(frame, "nps", "topics", min_n=30).set_index("driver")
    for topic, truth in PLANTED.items():
        r = res.loc[f"topic:{topic}"]
        assert r.ci_low <= truth <= r.ci_high, (topic, truth, r.to_dict())
        assert r.ci_high - r.ci_low < 12  # informative, not a trivially wide interval
        assert not r.small_n and r.n_with + r.n_without == len(frame)
    assert res.loc["topic:delivery", "ci_high"] < 0 and res.loc["topic:price_value", "ci_high"] < 0
    # the naive difference is confounded by the call channel; the adjusted estimate is not
    naive = res.loc["topic:delivery", "mean_with"] - res.loc["topic:delivery", "mean_without"]
    assert naive < PLANTED["delivery"] - 4


def test_outcome_coding_means_are_the_metric():
    frame = synthetic(500)
    assert drivers.outcome(frame, "nps").mean() == pytest.approx(nps(frame["nps"]), abs=0.01)
    with pytest.raises(ValueError, match="unknown metric"):
        drivers.outcome(frame, "nsp")


def test_small_cells_are_flagged_not_shown_as_facts():
    frame = synthetic(1500)
    rare = frame.index[:12]
    frame.loc[rare, "topics"] = frame.loc[rare, "topics"].apply(lambda ts: ts + ["account"])
    frame.loc[frame.index[12:14], "topics"] = frame.loc[frame.index[12:14], "topics"].apply(lambda ts: ts + ["rare"])
    res = drivers.fit_drivers(frame, "nps", "topics", min_n=30).set_index("driver")
    assert res.loc["topic:account", "small_n"] and res.loc["topic:account", "n_with"] == 12
    assert res.loc["topic:rare", "small_n"] and pd.isna(res.loc["topic:rare", "effect"])  # below MIN_FIT: no fit
    assert not res.loc["topic:delivery", "small_n"]
    shown = {r["driver"]: r for r in drivers.report_rows(res.reset_index())}
    assert shown["topic:account"]["effect"] == "too few to tell"
    assert shown["topic:delivery"]["effect"].startswith("-")
    assert "too few to tell" in drivers.render_html(res.reset_index())


def test_signals_family_uses_optional_columns_when_present():
    frame = synthetic(2000)
    rng = np.random.default_rng(1)
    frame["effort_score"] = np.where(frame["nps"] <= 6, rng.uniform(0.5, 1, len(frame)), rng.uniform(0, 0.7, len(frame)))
    frame["emotion"] = np.where(frame["nps"] <= 6, "anger", "none")
    frame["effort_cues"] = np.where(np.arange(len(frame)) % 3 == 0, "long_wait,repeat_contact", "")
    res = drivers.fit_drivers(frame, "nps", "signals").set_index("driver")
    assert {"signal:negative_sentiment", "signal:high_effort", "emotion:anger"} <= set(res.index)
    assert "emotion:none" not in res.index
    assert res.loc["effort:repeat_contact", "n_with"] == res.loc["effort:long_wait", "n_with"] == 667
    assert res.loc["signal:high_effort", "n_with"] == int((frame["effort_score"] >= 0.6).sum())


def test_refresh_drivers_from_a_store_per_touchpoint_and_overall(tmp_path):
    frame = synthetic(3000)
    con = store.connect(tmp_path)
    feedback = frame.assign(text="x", event_date=pd.Timestamp("2026-10-01"))[
        ["feedback_id", "customer_id", "touchpoint", "channel", "language", "sentiment_label", "text"]]
    con.register("fb", feedback)
    con.execute("INSERT INTO feedback (feedback_id, customer_id, touchpoint, channel, language, sentiment_label, text) "
                "SELECT * FROM fb")
    con.register("sc", frame[["feedback_id", "nps", "customer_id", "touchpoint", "channel", "language"]])
    # one answer per feedback row here: the unit of the drivers is the answer (load_frame)
    con.execute("INSERT INTO feedback_scores (feedback_id, nps, nps_score_id) SELECT feedback_id, nps, "
                "'S-' || feedback_id FROM sc")
    con.execute("INSERT INTO answers (score_id, kind, value, scale, customer_id, touchpoint, channel, language) "
                "SELECT 'S-' || feedback_id, 'nps', nps, 10, customer_id, touchpoint, channel, language FROM sc")
    sent = frame[["feedback_id", "topics"]].explode("topics").dropna().rename(columns={"topics": "topic"})
    sent["idx"] = sent.groupby("feedback_id").cumcount()
    sent["sentiment_label"] = "neutral"
    con.register("se", sent)
    con.execute("INSERT INTO sentences (feedback_id, idx, topic, sentiment_label) "
                "SELECT feedback_id, idx, topic, sentiment_label FROM se")
    assert drivers.stored(con).empty  # nothing computed yet
    res = drivers.refresh_drivers(con, min_n=30)
    stored = con.execute("SELECT scope, driver, effect, ci_low, ci_high FROM key_drivers "
                         "WHERE metric = 'nps' AND family = 'topics' ORDER BY scope, driver").fetchall()
    assert {s for s, *_ in stored} == {"overall", "touchpoint:delivery", "touchpoint:product"}
    overall = {d: (e, lo, hi) for s, d, e, lo, hi in stored if s == "overall"}
    assert overall["topic:delivery"][1] <= -30 <= overall["topic:delivery"][2]
    assert len(res) == len(drivers.stored(con))
    drivers.refresh_drivers(con)  # a rerun replaces, never appends
    assert len(res) == con.execute("SELECT count(*) FROM key_drivers").fetchone()[0]


def test_demo_data_planted_delivery_effect_is_negative(tmp_path, data_dir, prefect_harness):
    """The real path: demo dumps -> nightly flow -> store -> drivers. Late deliveries make detractors."""
    from flows.nightly import nightly
    from pipeline.ingest.demo import generate
    from tests.conftest import write_config

    cfg = write_config(tmp_path / "demo.yaml", data_dir, run={"discover_topics": 0})
    generate(tmp_path / "demo", size=400, seed=11)
    nightly(landing=str(tmp_path / "demo"), config=str(cfg))
    con = store.connect(data_dir)
    try:
        res = drivers.refresh_drivers(con).set_index(["scope", "metric", "family", "driver"])
    finally:
        con.close()
    complaint = res.loc[("overall", "nps", "negative_topics", "negative:delivery")]
    assert complaint.ci_high < 0 and not complaint.small_n, complaint.to_dict()
    assert res.loc[("overall", "nps", "signals", "signal:negative_sentiment")].ci_high < 0


def test_demo_generator_planted_nps_contrasts_are_recovered(tmp_path, monkeypatch):
    """With the generator's own experience per customer as the driver, each planted contrast with the
    happy path (from the generator's NPS weights) lies inside its interval."""
    import csv

    from pipeline.ingest import demo

    seen: list[str] = []
    real = demo._nps
    monkeypatch.setattr(demo, "_nps", lambda exp, rng: (seen.append(exp), real(exp, rng))[1])
    demo.generate(tmp_path / "demo", size=3000, seed=7)
    with open(tmp_path / "demo" / "surveys" / "nps_responses.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["response_id"].startswith("S") and r["nps"].isdigit()]
    rows = [r for r in rows if r["response_id"][1:].isdigit() and int(r["nps"]) <= 10]
    exp = [seen[int(r["response_id"][1:])] for r in rows]
    frame = pd.DataFrame({
        "feedback_id": [r["response_id"] for r in rows], "customer_id": [r["customer_id"] for r in rows],
        "touchpoint": "survey", "channel": "survey",
        "language": "und", "sentiment_label": None, "nps": [float(r["nps"]) for r in rows],
        "csat": np.nan, "csat_scale": np.nan, "ces": np.nan,
        "topics": [[e] if e != "happy" else [] for e in exp], "negative_topics": [[] for _ in rows]})
    res = drivers.fit_drivers(frame, "nps", "topics").set_index("driver")
    for e in ("late_delivery", "broken", "billing", "app", "refund"):
        truth = demo.planted_nps(e) - demo.planted_nps("happy")
        r = res.loc[f"topic:{e}"]
        assert r.ci_low <= truth <= r.ci_high, (e, truth, r.to_dict())


def _per_answer_one_group_at_a_time(rows: pd.DataFrame) -> pd.DataFrame:
    """load_frame's rules written out answer by answer (the implementation before it was vectorised)."""
    def union(values):
        return sorted({t for v in values if isinstance(v, (list, np.ndarray)) for t in v})

    out = []
    for sid, g in rows.groupby("score_id", sort=True):
        first = g.iloc[0]
        worst = g.sort_values(["sentiment_score", "feedback_id"], na_position="last").iloc[0]
        kind, value = first["kind"], float(first["value"])
        out.append({
            "score_id": sid, "customer_id": first["customer_id"], "touchpoint": first["touchpoint"],
            "channel": first["answer_channel"] if first["answer_channel"] != "survey" else first["channel"],
            "language": first["answer_language"] if isinstance(first["answer_language"], str)
            else (first["language"] if isinstance(first["language"], str) else "und"),
            "sentiment_label": "negative" if (g["sentiment_label"] == "negative").any() else worst["sentiment_label"],
            "nps": value if kind == "nps" else np.nan, "csat": value if kind == "csat" else np.nan,
            "csat_scale": first["scale"] if kind == "csat" else np.nan, "ces": value if kind == "ces" else np.nan,
            "topics": union(g["topics"]), "negative_topics": union(g["negative_topics"]),
            "effort_score": g["effort_score"].max(),
            "effort_cues": ",".join(sorted({c for v in g["effort_cues"].dropna() for c in str(v).split(",") if c})),
            "emotion": worst["emotion"], "intent": worst["intent"],
        })
    return pd.DataFrame(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_per_answer_follows_the_rules_answer_by_answer(seed):
    """Random (answer, joined feedback row) pairs: 1-4 rows per answer, ties, unscored rows, missing
    languages, empty topic lists and cues; the vectorised collapse equals the rules applied one answer
    at a time."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in rng.permutation(120):
        kind = ["nps", "csat", "ces"][a % 3]
        for j in range(int(rng.integers(1, 5))):
            rows.append({
                "score_id": f"S{a:04d}", "kind": kind, "value": float(rng.integers(0, 11)),
                "scale": [10, 5, 7][a % 3], "customer_id": f"C{a // 3}", "touchpoint": ["delivery", "app"][a % 2],
                "answer_channel": ["survey", "chat", "call"][a % 3], "answer_language": None if a % 4 else "it",
                "feedback_id": f"F{int(rng.integers(0, 10**6)):07d}", "channel": ["review", "chat"][j % 2],
                "language": None if rng.random() < 0.2 else str(rng.choice(["en", "zh", "fa"])),
                "occurred_at": pd.Timestamp("2026-10-01") + pd.Timedelta(hours=int(rng.integers(0, 50))),
                "sentiment_label": str(rng.choice(["negative", "neutral", "positive"])),
                "sentiment_score": np.nan if rng.random() < 0.2 else float(rng.choice([-0.5, 0.0, 0.5])),
                "topics": list(rng.choice(["price", "delivery", "app"], size=int(rng.integers(0, 3)), replace=False)),
                "negative_topics": None if rng.random() < 0.5 else ["delivery"],
                "effort_score": np.nan if rng.random() < 0.3 else float(rng.random()),
                "effort_cues": None if rng.random() < 0.3 else ",".join(rng.choice(["long_wait", "repeat_contact", "transfer"],
                                                                                  size=int(rng.integers(0, 3)), replace=False)),
                "emotion": str(rng.choice(["anger", "joy", "none"])), "intent": str(rng.choice(["refund", "cancel"])),
            })
    frame = pd.DataFrame(rows).sort_values(["score_id", "occurred_at", "feedback_id"], kind="stable")
    got = drivers.per_answer(frame)
    want = _per_answer_one_group_at_a_time(frame)[list(got.columns)]
    assert len(got) == 120 == got["score_id"].nunique()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)


def _random_answers(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    topics = ["delivery", "price", "app", "refund"]

    def some(k):
        picked = list(rng.choice(topics, size=int(rng.integers(0, k)), replace=False))
        return [None, picked, np.array(picked, dtype=object)][int(rng.integers(0, 3))] if picked else picked

    return pd.DataFrame({
        "score_id": [f"S{i}" for i in range(n)], "customer_id": [None if i % 7 == 0 else f"C{i // 3}" for i in range(n)],
        "touchpoint": rng.choice(["delivery", "app", None], size=n), "channel": rng.choice(["review", "chat", "call", "x"], size=n,
                                                                                         p=[.5, .3, .19, .01]),
        "language": rng.choice(["en", "zh", "fa", None], size=n), "sentiment_label": rng.choice(["negative", "positive"], size=n),
        "nps": np.where(rng.random(n) < 0.6, rng.integers(0, 11, n), np.nan), "csat": np.where(rng.random(n) < 0.4,
                                                                                               rng.integers(1, 6, n), np.nan),
        "csat_scale": 5.0, "ces": np.where(rng.random(n) < 0.3, rng.integers(1, 8, n), np.nan),
        "topics": [some(4) for _ in range(n)], "negative_topics": [some(3) for _ in range(n)],
        "effort_score": rng.random(n), "effort_cues": rng.choice(["", "long_wait", "transfer,repeat_contact", None], size=n),
        "emotion": rng.choice(["anger", "joy", "none"], size=n), "intent": rng.choice(["refund", "cancel", ""], size=n)})


@pytest.mark.parametrize("seed", [1, 2])
def test_key_drivers_share_one_design_per_scope_and_metric_and_equal_one_model_at_a_time(seed):
    """key_drivers computes the answers, mix dummies and clusters once per scope and metric for all three
    families; each family's rows equal fitting that model alone, and the indicators and mix dummies
    follow their written rules (lists, arrays or nothing; rare levels pooled, most frequent the reference)."""
    frame = _random_answers(seed)
    got = drivers.key_drivers(frame, min_n=10)
    scopes = [("overall", frame)] + [(f"touchpoint:{tp}", g) for tp, g in
                                     sorted(frame.groupby(frame["touchpoint"].fillna("(none)")), key=lambda x: x[0])]
    alone = pd.concat([drivers.fit_drivers(g, m, fam, 10, scope=name) for name, g in scopes
                       for m in ("nps", "csat", "ces") for fam in drivers.FAMILIES], ignore_index=True)
    alone = alone.sort_values(["scope", "metric", "family", "driver"], ignore_index=True)
    pd.testing.assert_frame_equal(got, alone)
    assert got["effect"].notna().sum() > 20 and {"topic:delivery", "negative:app", "intent:refund"} <= set(got["driver"])
    flags = drivers.indicators(frame, "topics")
    for t in ("delivery", "price", "app", "refund"):
        want = [float(isinstance(v, (list, np.ndarray)) and t in list(v)) for v in frame["topics"]]
        assert flags[f"topic:{t}"].tolist() == want
    names, fe = drivers._fixed_effects(frame, ["channel"])
    counts = frame["channel"].value_counts()
    assert "fe:channel=x" not in names and "fe:channel=(other)" in names  # 1% of 400 rows: pooled
    assert f"fe:channel={counts.idxmax()}" not in names  # the reference level
    other = names.index("fe:channel=(other)")
    assert fe[:, other].tolist() == frame["channel"].map(lambda c: float(counts[c] < drivers.MIN_LEVEL)).tolist()

"""Report charts (matplotlib, inlined as SVG): valid SVG with the expected marks, text kept as text in the
page's fonts, no script, no URL, no page-wide style, unique ids, byte-identical reruns (also across
processes), empty input handled, NPS and mean intervals right (against the normal approximation and by
simulated coverage), and the charts drawn by headless Chromium without a console message."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline.reporting import charts
from pipeline.analytics import intervals

DAYS = [date(2026, 10, 1) + timedelta(days=i) for i in range(5)]
NPS_ROWS = [{"event_date": d, "touchpoint": tp, "n": 20 + i, "promoters": 10 + i, "detractors": 4}
            for tp in ("delivery", "支付", "پشتیبانی <&>") for i, d in enumerate(DAYS)] + \
           [{"event_date": DAYS[0], "touchpoint": "app", "n": 0, "promoters": 0, "detractors": 0}]
DRIVER_ROWS = [
    {"scope": "overall", "metric": "nps", "family": "negative_topics", "driver": "delivery_delay", "effect": -38.0,
     "ci_low": -52.0, "ci_high": -24.0, "small_n": False, "n_with": 120, "n_total": 900},
    {"scope": "overall", "metric": "nps", "family": "negative_topics", "driver": "refund", "effect": -12.5,
     "ci_low": -25.0, "ci_high": 0.5, "small_n": False, "n_with": 60, "n_total": 900},
    {"scope": "overall", "metric": "nps", "family": "negative_topics", "driver": "price", "effect": 4.0,
     "ci_low": -6.0, "ci_high": 14.0, "small_n": False, "n_with": 80, "n_total": 900},
    {"scope": "overall", "metric": "nps", "family": "negative_topics", "driver": "app_crash", "effect": -60.0,
     "ci_low": -99.0, "ci_high": -20.0, "small_n": True, "n_with": 7, "n_total": 900},
    {"scope": "delivery", "metric": "nps", "family": "negative_topics", "driver": "delivery_delay", "effect": -40.0,
     "ci_low": -60.0, "ci_high": -20.0, "small_n": False, "n_with": 50, "n_total": 200},
]
HEAT_ROWS = [{"topic": t, "touchpoint": p, "sentences": n, "negative": k}
             for t, p, n, k in [("delivery", "delivery", 40, 30), ("delivery", "support", 10, 2),
                                ("price", "delivery", 3, 3), ("quality", "support", 25, 5),
                                ("price", "support", 12, 6)]]
CALL_ROWS = [{"feedback_id": f"C{i}", "sentiment_start": s, "sentiment_end": e, "trajectory": t}
             for i, (s, e, t) in enumerate([(-0.8, 0.4, "improved"), (-0.2, -0.7, "worsened"), (0.1, 0.2, "steady"),
                                            (None, 0.3, "unknown")])]
ALERT_ROWS = [
    {"kind": "volume_spike", "touchpoint": "delivery", "topic": "(all)", "channel": "review", "observed": 30.0,
     "expected": 6.0, "message": "delivery / (all) / review: 30 feedback today vs 6.0/day"},
    {"kind": "negative_share", "touchpoint": "support", "topic": "refund", "channel": "chat", "observed": 0.7,
     "expected": 0.3, "message": "70% negative today"},
    {"kind": "emerging_topic", "touchpoint": None, "topic": "emerging:abc", "channel": None, "observed": 9.0,
     "expected": None, "message": "new topic outside the taxonomy"},
]

# CES 1..7 answers with text effort scores: effort rises with CES; CES 4 has one row (no interval)
EFFORT_ROWS = [{"feedback_id": f"E{c}{i}", "channel": "chat", "customer_id": f"U{c}{i}", "ces": c,
                "effort_score": e} for c, scores in {1: [0, 0, 0, 0.1], 2: [0, 0, 0.2], 4: [0.5],
                                                     6: [0.45, 0.6, 0.8, 0], 7: [0.9, 0.7, 0.45]}.items()
               for i, e in enumerate(scores)]
EFFORT_STATS = {"spearman": 0.71, "spearman_ci95": [0.42, 0.88], "n": len(EFFORT_ROWS)}

CHARTS = {
    "nps": (charts.nps_trend_svg, NPS_ROWS, "point", 15),
    "drivers": (charts.drivers_effect_svg, DRIVER_ROWS, "effect", 3),
    "heatmap": (charts.topic_sentiment_heatmap_svg, HEAT_ROWS, "cell", 5),
    "calls": (charts.call_trajectory_svg, CALL_ROWS, "call", 3),
    "alerts": (charts.alerts_svg, ALERT_ROWS, "alert", 2),
    "effort_ces": (charts.effort_ces_svg, EFFORT_ROWS, "level", 5),
}


def marks(svg: str, cls: str) -> list[ET.Element]:
    """The chart's marks of one class: matplotlib groups each artist in a <g>, which carries the class
    and the hover <title>."""
    root = ET.fromstring(svg)
    assert root.tag == "svg"
    return [e for e in root.iter("g") if e.get("class") == cls]


def texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter("text")]


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_valid_svg_with_the_expected_marks_and_nothing_external(name):
    fn, rows, cls, expected = CHARTS[name]
    svg = fn(rows)
    found = marks(svg, cls)
    assert len(found) == expected
    assert all(m.find("title") is not None and m.find("title").text for m in found)  # hover text, no script
    assert "<script" not in svg.lower() and not re.search(r"https?:|xmlns|xlink|data:", svg)
    assert " on" not in svg.split(">")[0] and "<image" not in svg  # vector marks only
    # no <style> element: inline in HTML, its rules would apply to the whole page
    assert "<style" not in svg and "<!--" not in svg and "<metadata" not in svg
    assert fn(rows) == svg  # deterministic: reruns produce identical reports


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_text_stays_text_in_the_page_fonts(name):
    fn, rows, *_ = CHARTS[name]
    svg = fn(rows)
    root = ET.fromstring(svg)
    labels = [t for t in root.iter("text")]
    assert len(labels) >= 3  # tick labels, titles: as <text>, not glyph outlines
    assert "font-family" not in svg  # inherited from the page's stack (CJK and Persian coverage)
    assert all("font-size" in (t.get("style") or "") for t in labels)


def test_ids_are_unique_across_charts_on_one_page_and_references_resolve():
    svgs = [fn(rows) for fn, rows, *_ in CHARTS.values()]
    ids = [e.get("id") for s in svgs for e in ET.fromstring(s).iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and len(ids) > 50
    for s in svgs:
        own = {e.get("id") for e in ET.fromstring(s).iter() if e.get("id")}
        refs = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', s))
        assert refs and refs <= own  # clip paths and markers point inside the same chart


def test_same_chart_is_byte_identical_in_another_process(tmp_path):
    """Hash randomisation and matplotlib's id counters do not leak into the output."""
    import os
    import sys

    code = ("import sys; from tests.pipeline.reporting.test_charts import CHARTS; "
            "sys.stdout.write(''.join(f(r) for f, r, *_ in CHARTS.values()))")
    root = Path(__file__).resolve().parents[3]
    outs = [subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert outs[0] == outs[1] == "".join(f(r) for f, r, *_ in CHARTS.values())


def test_dollar_signs_are_text_not_mathtext():
    rows = [dict(r, touchpoint="$5 off $deals$") for r in NPS_ROWS if r["touchpoint"] == "delivery"]
    assert "$5 off $deals$" in texts(charts.nps_trend_svg(rows))


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_empty_input_says_so(name):
    out = CHARTS[name][0]([])
    assert out.startswith("<p") and "Nothing to show" in out and "<svg" not in out


def test_nps_chart_has_one_band_and_line_per_touchpoint_and_escapes_labels():
    svg = charts.nps_trend_svg(NPS_ROWS)
    assert len(marks(svg, "band")) == 3 and len(marks(svg, "line")) == 3
    assert "پشتیبانی <&>" in texts(svg) and "支付" in texts(svg)  # escaped in the markup, intact after parsing
    assert "&lt;&amp;&gt;" in svg
    # every point's band contains its NPS: the tooltip's interval brackets the value
    for p in marks(svg, "point"):
        found = re.search(r"NPS ([-+]\d+) \(95% ([-+]\d+) \.\. ([-+]\d+)\)", p.find("title").text)
        v, lo, hi = map(float, found.groups())
        assert lo <= v <= hi


def _y(mark: ET.Element) -> float:
    """Vertical position of a single-point mark (its <use> of the marker)."""
    return float(mark.find(".//use").get("y"))


def test_drivers_chart_names_small_cells_without_drawing_them():
    svg = charts.drivers_effect_svg(DRIVER_ROWS)
    drawn = sorted(marks(svg, "effect"), key=_y)
    assert [e.find("title").text.split(":")[0] for e in drawn] == ["delivery_delay", "refund", "price"]
    assert "n 120/900" in drawn[0].find("title").text and "n=120" in texts(svg)  # responses behind it
    assert "too few to tell: app_crash" in texts(svg)  # most negative on top, scope overall only
    assert all("app_crash" not in e.find("title").text for e in drawn)
    assert len(marks(charts.drivers_effect_svg(DRIVER_ROWS, scope="delivery"), "effect")) == 1


def test_heatmap_greys_small_cells():
    cells = {c.find("title").text.split(":")[0]: c.find("path").get("style")
             for c in marks(charts.topic_sentiment_heatmap_svg(HEAT_ROWS), "cell")}
    assert "fill: #eeeeee" in cells["price / delivery"]  # 3 sentences < min_n
    assert "fill: #eeeeee" not in cells["delivery / delivery"]
    assert f"fill: {charts._red(30 / 40)}" in cells["delivery / delivery"]


def test_effort_by_ces_levels_and_intervals():
    levels = {lv["ces"]: lv for lv in charts.effort_by_ces(EFFORT_ROWS + [{"ces": None, "effort_score": 1.0}])}
    assert sorted(levels) == [1, 2, 4, 6, 7]
    six = levels[6]
    vals = np.array([0.45, 0.6, 0.8, 0])
    half = 1.959964 * vals.std(ddof=1) / np.sqrt(4)
    assert six["n"] == 4 and six["cue_share"] == 0.75
    assert six["effort_mean"] == pytest.approx(vals.mean(), abs=1e-4)
    assert six["ci_low"] == pytest.approx(vals.mean() - half, abs=1e-4)
    assert six["ci_high"] == pytest.approx(vals.mean() + half, abs=1e-4)
    assert levels[4]["ci_low"] == levels[4]["ci_high"] == 0.5  # one row: no spread to estimate
    assert levels[2]["ci_low"] == 0.0  # clipped to the score's range


def test_effort_chart_titles_carry_r_ci_and_n():
    svg = charts.effort_ces_svg(EFFORT_ROWS, EFFORT_STATS)
    assert f"Spearman r = +0.71 (95% +0.42 .. +0.88), n = {len(EFFORT_ROWS)}" in texts(svg)
    tips = [m.find("title").text for m in marks(svg, "level")]
    assert tips[0].startswith("CES 1: mean effort 0.03") and tips[0].endswith("n=4")
    assert "n = " not in "".join(texts(charts.effort_ces_svg(EFFORT_ROWS)))  # no stats: no claim


def test_mean_interval_coverage():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(2000):
        x = rng.beta(0.5, 2.0, 60)  # skewed like effort scores, true mean 0.2
        _, lo, hi = intervals.mean_interval(list(x))
        hits += lo <= 0.2 <= hi
    assert 0.92 <= hits / 2000 <= 0.97, hits / 2000


def test_nps_interval_matches_the_normal_approximation_at_large_n():
    n, pro, det = 2000, 900, 300
    v, lo, hi = intervals.nps_interval(pro, det, n)
    p1, p2 = pro / n, det / n
    se = 100 * np.sqrt((p1 + p2 - (p1 - p2) ** 2) / n)
    assert v == pytest.approx(30.0)
    assert lo == pytest.approx(30 - 1.96 * se, abs=0.2) and hi == pytest.approx(30 + 1.96 * se, abs=0.2)


def test_nps_interval_edges():
    v, lo, hi = intervals.nps_interval(5, 0, 5)
    assert v == 100 and hi == 100 and 0 < lo < 100  # all promoters: not a zero-width interval
    v, lo, hi = intervals.nps_interval(0, 3, 3)
    assert v == -100 and lo == -100 and -100 < hi < 0
    with pytest.raises(ValueError):
        intervals.nps_interval(0, 0, 0)


def test_nps_interval_coverage_at_small_n():
    rng = np.random.default_rng(7)
    true_p, n, trials = (0.5, 0.3, 0.2), 20, 3000  # promoters, passives, detractors: NPS 30
    draws = rng.multinomial(n, true_p, size=trials)
    hits = sum(lo <= 30.0 <= hi for lo, hi in (intervals.nps_interval(d[0], d[2], n)[1:] for d in draws))
    assert 0.93 <= hits / trials <= 0.99, hits / trials


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_charts_render_in_headless_chromium_without_console_messages(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("headless Chromium is not installed (Debian: `apt-get install -y chromium`)")
    body = "".join(charts.section(name, "", fn(rows)) for name, (fn, rows, *_r) in sorted(CHARTS.items()))
    body = f"<div style=\"font-family:'Noto Sans CJK SC','DejaVu Sans',sans-serif\">{body}</div>"
    page = tmp_path / "charts.html"
    page.write_text(f"<!doctype html><html><head><meta charset=utf-8></head><body>{body}</body></html>",
                    encoding="utf-8")
    png = tmp_path / "charts.png"
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          "--window-size=900,1400", "--enable-logging=stderr", "--v=0",
                          f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert re.findall(r":CONSOLE[:(\]].*", res.stderr) == []
    assert res.stdout.count("<svg") == len(CHARTS)
    # a page of charts compresses far worse than a blank one (blank 900x1400 PNGs are a few KB)
    assert png.stat().st_size > 20_000, png.stat().st_size


def test_report_queries_feed_the_charts(tmp_path):
    """The queries report.collect runs, on a real store: one answer per customer and day, topics x touchpoints."""
    from pipeline.storage.store import connect

    con = connect(tmp_path)
    try:
        fb = [("F1", "U1", "delivery", 9), ("F2", "U1", "delivery", 9), ("F3", "U2", "delivery", 3),
              ("F4", "U3", "delivery", 7), ("F5", "U4", "billing", 10)]
        for fid, cust, tp, nps in fb:
            con.execute("INSERT INTO feedback (feedback_id, channel, customer_id, touchpoint, event_date) "
                        "VALUES (?, 'review', ?, ?, DATE '2026-10-01')", [fid, cust, tp])
            con.execute("INSERT INTO feedback_scores (feedback_id, nps, nps_score_id) VALUES (?, ?, ?)",
                        [fid, nps, f"S-{cust}"])
            con.execute("INSERT INTO sentences (feedback_id, idx, topic, sentiment_label) VALUES (?, 0, ?, ?)",
                        [fid, "delivery_delay" if nps < 9 else "price", "negative" if nps < 7 else "positive"])
        con.execute("INSERT INTO sentences (feedback_id, idx, topic, sentiment_label) VALUES ('F1', 1, 'other', "
                    "'neutral')")
        for cust, tp, nps in sorted({(c, t, n) for _, c, t, n in fb}):  # U1's review and chat share one answer
            con.execute("INSERT INTO answers (score_id, kind, value, customer_id, event_date, touchpoint) "
                        "VALUES (?, 'nps', ?, ?, DATE '2026-10-01', ?)", [f"S-{cust}", nps, cust, tp])
        trend = {r[1]: r[2:] for r in con.execute(charts.NPS_TREND_SQL).fetchall()}
        assert trend == {"delivery": (3, 1, 1), "billing": (1, 1, 0)}  # U1's two rows: one answer
        heat = con.execute(charts.TOPIC_SENTIMENT_SQL).df()
        assert sorted(heat["topic"].unique()) == ["delivery_delay", "price"]
        cur = con.execute(charts.NPS_TREND_SQL)
        rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
        assert len(marks(charts.nps_trend_svg(rows), "point")) == 2
        assert len(marks(charts.topic_sentiment_heatmap_svg(heat.to_dict("records")), "cell")) == 3
    finally:
        con.close()


def test_drivers_chart_takes_the_stored_dataframe():
    import pandas as pd

    df = pd.DataFrame(DRIVER_ROWS)
    df.loc[2, "effect"] = float("nan")  # a driver the regression could not estimate
    svg = charts.drivers_effect_svg(df)
    assert len(marks(svg, "effect")) == 2

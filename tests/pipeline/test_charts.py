"""Report charts: valid SVG with the expected marks, no script and no URL, empty input handled, NPS
intervals right (against the normal approximation and by simulated coverage), and the charts drawn
by headless Chromium without a console message."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline import charts

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

CHARTS = {
    "nps": (charts.nps_trend_svg, NPS_ROWS, "circle", "point", 15),
    "drivers": (charts.drivers_effect_svg, DRIVER_ROWS, "circle", "effect", 3),
    "heatmap": (charts.topic_sentiment_heatmap_svg, HEAT_ROWS, "rect", "cell", 5),
    "calls": (charts.call_trajectory_svg, CALL_ROWS, "line", "call", 3),
    "alerts": (charts.alerts_svg, ALERT_ROWS, "circle", "alert", 2),
}


def marks(svg: str, tag: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == "svg"
    return [e for e in root.iter(tag) if e.get("class") == cls]


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_is_valid_svg_with_the_expected_marks_and_nothing_external(name):
    fn, rows, tag, cls, expected = CHARTS[name]
    svg = fn(rows)
    assert len(marks(svg, tag, cls)) == expected
    assert "<script" not in svg.lower() and not re.search(r"https?:", svg) and " on" not in svg.split(">")[0]
    assert fn(rows) == svg  # deterministic: reruns produce identical reports


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_empty_input_says_so(name):
    out = CHARTS[name][0]([])
    assert out.startswith("<p") and "Nothing to show" in out and "<svg" not in out


def test_nps_chart_has_one_band_and_line_per_touchpoint_and_escapes_labels():
    svg = charts.nps_trend_svg(NPS_ROWS)
    assert len(marks(svg, "polygon", "band")) == 3 and len(marks(svg, "polyline", "line")) == 3
    texts = [t.text for t in ET.fromstring(svg).iter("text")]
    assert "پشتیبانی <&>" in texts and "支付" in texts  # escaped in the markup, intact after parsing
    # every point's band contains its NPS: the tooltip's interval brackets the value
    for p in marks(svg, "circle", "point"):
        found = re.search(r"NPS ([-+]\d+) \(95% ([-+]\d+) \.\. ([-+]\d+)\)", p.find("title").text)
        v, lo, hi = map(float, found.groups())
        assert lo <= v <= hi


def test_drivers_chart_names_small_cells_without_drawing_them():
    svg = charts.drivers_effect_svg(DRIVER_ROWS)
    drawn = [e.find("title").text.split(":")[0] for e in marks(svg, "circle", "effect")]
    assert drawn == ["delivery_delay", "refund", "price"]  # most negative first (top), scope overall only
    assert "too few to tell: app_crash" in [t.text for t in ET.fromstring(svg).iter("text")]
    assert len(marks(charts.drivers_effect_svg(DRIVER_ROWS, scope="delivery"), "circle", "effect")) == 1


def test_heatmap_greys_small_cells():
    cells = {c.find("title").text.split(":")[0]: c for c in marks(charts.topic_sentiment_heatmap_svg(HEAT_ROWS),
                                                                   "rect", "cell")}
    assert cells["price / delivery"].get("fill") == "#eeeeee"  # 3 sentences < min_n
    assert cells["delivery / delivery"].get("fill") != "#eeeeee"


def test_nps_interval_matches_the_normal_approximation_at_large_n():
    n, pro, det = 2000, 900, 300
    v, lo, hi = charts.nps_interval(pro, det, n)
    p1, p2 = pro / n, det / n
    se = 100 * np.sqrt((p1 + p2 - (p1 - p2) ** 2) / n)
    assert v == pytest.approx(30.0)
    assert lo == pytest.approx(30 - 1.96 * se, abs=0.2) and hi == pytest.approx(30 + 1.96 * se, abs=0.2)


def test_nps_interval_edges():
    v, lo, hi = charts.nps_interval(5, 0, 5)
    assert v == 100 and hi == 100 and 0 < lo < 100  # all promoters: not a zero-width interval
    v, lo, hi = charts.nps_interval(0, 3, 3)
    assert v == -100 and lo == -100 and -100 < hi < 0
    with pytest.raises(ValueError):
        charts.nps_interval(0, 0, 0)


def test_nps_interval_coverage_at_small_n():
    rng = np.random.default_rng(7)
    true_p, n, trials = (0.5, 0.3, 0.2), 20, 3000  # promoters, passives, detractors: NPS 30
    draws = rng.multinomial(n, true_p, size=trials)
    hits = sum(lo <= 30.0 <= hi for lo, hi in (charts.nps_interval(d[0], d[2], n)[1:] for d in draws))
    assert 0.93 <= hits / trials <= 0.99, hits / trials


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_charts_render_in_headless_chromium_without_console_messages(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("headless Chromium is not installed (Debian: `apt-get install -y chromium`)")
    body = "".join(charts.section(name, "", fn(rows)) for name, (fn, rows, *_r) in sorted(CHARTS.items()))
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
    from pipeline.store import connect

    con = connect(tmp_path)
    try:
        fb = [("F1", "U1", "delivery", 9), ("F2", "U1", "delivery", 9), ("F3", "U2", "delivery", 3),
              ("F4", "U3", "delivery", 7), ("F5", "U4", "billing", 10)]
        for fid, cust, tp, nps in fb:
            con.execute("INSERT INTO feedback (feedback_id, channel, customer_id, touchpoint, event_date) "
                        "VALUES (?, 'review', ?, ?, DATE '2026-10-01')", [fid, cust, tp])
            con.execute("INSERT INTO feedback_scores (feedback_id, nps) VALUES (?, ?)", [fid, nps])
            con.execute("INSERT INTO sentences (feedback_id, idx, topic, sentiment_label) VALUES (?, 0, ?, ?)",
                        [fid, "delivery_delay" if nps < 9 else "price", "negative" if nps < 7 else "positive"])
        con.execute("INSERT INTO sentences (feedback_id, idx, topic, sentiment_label) VALUES ('F1', 1, 'other', "
                    "'neutral')")
        trend = {r[1]: r[2:] for r in con.execute(charts.NPS_TREND_SQL).fetchall()}
        assert trend == {"delivery": (3, 1, 1), "billing": (1, 1, 0)}  # U1's two rows: one answer
        heat = con.execute(charts.TOPIC_SENTIMENT_SQL).df()
        assert sorted(heat["topic"].unique()) == ["delivery_delay", "price"]
        cur = con.execute(charts.NPS_TREND_SQL)
        rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
        assert len(marks(charts.nps_trend_svg(rows), "circle", "point")) == 2
        assert len(marks(charts.topic_sentiment_heatmap_svg(heat.to_dict("records")), "rect", "cell")) == 3
    finally:
        con.close()


def test_drivers_chart_takes_the_stored_dataframe():
    import pandas as pd

    df = pd.DataFrame(DRIVER_ROWS)
    df.loc[2, "effect"] = float("nan")  # a driver the regression could not estimate
    svg = charts.drivers_effect_svg(df)
    assert len(marks(svg, "circle", "effect")) == 2

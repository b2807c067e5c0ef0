"""Report charts as inline SVG: self-contained, no script, no network, text kept as text.

Each chart function takes plain lists of dicts (what a DuckDB query returns) and returns an HTML
snippet: an ``<svg>`` element, or a short "nothing to show" paragraph for empty input. Labels are
SVG ``<text>`` in the page's own font stack, so Chinese and Persian names render as the tables do;
each mark carries a ``<title>`` (the browser shows it on hover, no JavaScript). No ``xmlns`` is
written: inline SVG in HTML5 does not need it, and the report then holds no URL at all.

Why hand-written SVG and not a charting library: the report must open offline with no script
(tests/flows/test_report_render.py fails on any console message), matplotlib's SVG writes text as
paths unless configured and adds a ~40 MB dependency for five simple charts, and plotly needs its
3 MB JavaScript bundle inlined. The marks here are plain and few; the statistics (intervals) are
computed and tested in this module.

NPS intervals: NPS = p_promoters - p_detractors of one multinomial sample. Each share gets a Wilson
score interval and the difference's interval combines them by MOVER (Newcombe; Zou & Donner) with
the multinomial correlation ``-sqrt(p1 p2 / ((1 - p1)(1 - p2)))``; it stays inside -100..100 and
behaves at small n, where the plain normal interval collapses to zero width at 0% or 100%.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from pipeline.metrics import DETRACTOR_MAX, PROMOTER_MIN

# Queries whose rows the charts take (report.collect runs them on its read-only connection).
# One NPS answer per customer, touchpoint and day: a customer's review and chat joined to the same
# survey answer must not count twice in n, or the band would be too narrow.
NPS_TREND_SQL = f"""
WITH a AS (
    SELECT DISTINCT f.event_date, coalesce(f.touchpoint, '(none)') AS touchpoint,
           coalesce(f.customer_id, f.feedback_id) AS who, s.nps
    FROM feedback f JOIN feedback_scores s USING (feedback_id)
    WHERE f.event_date IS NOT NULL AND s.nps IS NOT NULL)
SELECT event_date, touchpoint, count(*) AS n, count_if(nps >= {PROMOTER_MIN}) AS promoters,
       count_if(nps <= {DETRACTOR_MAX}) AS detractors
FROM a GROUP BY ALL ORDER BY ALL
"""
TOPIC_SENTIMENT_SQL = """
SELECT topic, coalesce(touchpoint, '(none)') AS touchpoint, sentences, negative
FROM v_topic_sentiment_by_touchpoint WHERE topic IS NOT NULL AND topic <> 'other'
ORDER BY topic, touchpoint
"""

NPS_TREND_NOTE = ("NPS per day and touchpoint (one answer per customer, touchpoint and day); the band is the 95% "
                  "interval: Wilson intervals of the promoter and detractor shares combined by MOVER. Wide bands "
                  "mean few answers that day. Hover a point for its n.")
HEATMAP_NOTE = ("Share of negative sentences per topic and touchpoint (the model's sentence sentiment); grey cells "
                "have too few sentences to tell. Hover a cell for its counts.")

Z95 = 1.959964
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D31", "#000000"]  # Okabe-Ito
TRAJECTORY_COLORS = {"improved": "#009E73", "worsened": "#D55E00", "steady": "#999999"}
MAX_PANELS = 8


def esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def empty(what: str = "") -> str:
    return f"<p class=muted>Nothing to show{(': ' + esc(what)) if what else ''}.</p>"


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption class=muted>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure style=\"margin:.5em 0 1.5em\">{svg}{cap}</figure>"


def section(title: str, note: str, body: str) -> str:
    """A report section: heading, note, chart (the report's own markup and classes)."""
    return f"<h2>{esc(title)}</h2>" + (f"<p class=muted>{esc(note)}</p>" if note else "") + figure(body)


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
            f'role="img" aria-label="{esc(label)}" font-size="12" style="max-width:100%;height:auto">'
            f"<title>{esc(label)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, s: Any, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{esc(s)}</text>'


def _records(rows: Any) -> list[dict[str, Any]]:
    """Plain dicts from a list of dicts, a DataFrame (``drivers.stored``) or None."""
    if rows is None:
        return []
    return rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# ---------------------------------------------------------------------------------------- intervals

def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a share k/n (0..1); (0, 1) without answers."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def nps_interval(promoters: float, detractors: float, n: float, z: float = Z95) -> tuple[float, float, float]:
    """NPS and its 95% interval in points, by MOVER on Wilson intervals of the two shares."""
    if n <= 0:
        raise ValueError("nps_interval needs at least one answer")
    p1, p2 = promoters / n, detractors / n
    l1, u1 = wilson(promoters, n, z)
    l2, u2 = wilson(detractors, n, z)
    r = -math.sqrt(p1 * p2 / ((1 - p1) * (1 - p2))) if 0 < p1 < 1 and 0 < p2 < 1 else 0.0
    d = p1 - p2
    lo = d - math.sqrt(max(0.0, (p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * r * (p1 - l1) * (u2 - p2)))
    hi = d + math.sqrt(max(0.0, (u1 - p1) ** 2 + (p2 - l2) ** 2 - 2 * r * (u1 - p1) * (p2 - l2)))
    return 100 * d, 100 * max(-1.0, lo), 100 * min(1.0, hi)


# ---------------------------------------------------------------------------------------- NPS trend

def _day(v: Any) -> str:
    return v.isoformat()[:10] if isinstance(v, (date, datetime)) else str(v)


def nps_trend_svg(rows: Any, width: int = 760) -> str:
    """NPS by day per touchpoint (one panel each, shared days) with the 95% band.

    Rows: ``event_date``, ``touchpoint``, ``n`` (NPS answers), ``promoters``, ``detractors``.
    """
    cells: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for r in _records(rows):
        n = _num(r.get("n")) or 0
        if n > 0 and r.get("event_date") is not None:
            c = cells[str(r.get("touchpoint") or "(none)")].setdefault(_day(r["event_date"]), [0.0, 0.0, 0.0])
            c[0] += n
            c[1] += _num(r.get("promoters")) or 0
            c[2] += _num(r.get("detractors")) or 0
    if not cells:
        return empty("no NPS answers")
    days = sorted({d for c in cells.values() for d in c})
    order = sorted(cells, key=lambda t: (-sum(v[0] for v in cells[t].values()), t))[:MAX_PANELS]
    left, right, ph, gap = 50, 40, 100, 34
    pw = width - left - right
    x = (lambda i: left + pw / 2) if len(days) == 1 else (lambda i: left + i * pw / (len(days) - 1))
    height = 24 + len(order) * (ph + gap) + 10
    body = []
    for k, tp in enumerate(order):
        top = 24 + k * (ph + gap)
        y = lambda v, top=top: top + (100 - v) / 200 * ph  # noqa: E731
        color = COLORS[k % len(COLORS)]
        body.append(_text(left, top - 8, tp, "start", ' font-weight="bold"'))
        for g in (-100, 0, 100):
            dash = ' stroke-dasharray="3 3"' if g else ""
            body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(g):.1f}" y2="{y(g):.1f}" stroke="#ddd"{dash}/>')
            body.append(_text(left - 6, y(g) + 4, f"{g:+d}" if g else "0", "end", ' fill="#777" font-size="10"'))
        pts = []
        for i, d in enumerate(days):
            if d in cells[tp]:
                n, pro, det = cells[tp][d]
                pts.append((x(i), d, n, *nps_interval(pro, det, n)))
        upper = " ".join(f"{px:.1f},{y(hi):.1f}" for px, _, _, _, _, hi in pts)
        lower = " ".join(f"{px:.1f},{y(lo):.1f}" for px, _, _, _, lo, _ in reversed(pts))
        body.append(f'<polygon class="band" points="{upper} {lower}" fill="{color}" fill-opacity="0.15" '
                    f'stroke="none"/>')
        if len(pts) == 1:  # a band needs two days: one day gets an interval bar
            px, _, _, _, lo, hi = pts[0]
            body.append(f'<line class="ci" x1="{px:.1f}" x2="{px:.1f}" y1="{y(hi):.1f}" y2="{y(lo):.1f}" '
                        f'stroke="{color}" stroke-width="2" stroke-opacity="0.5"/>')
        if len(pts) > 1:
            line = " ".join(f"{px:.1f},{y(v):.1f}" for px, _, _, v, _, _ in pts)
            body.append(f'<polyline class="line" points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for px, d, n, v, lo, hi in pts:
            body.append(f'<circle class="point" cx="{px:.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                        f"<title>{esc(tp)} {esc(d)}: NPS {v:+.0f} (95% {lo:+.0f} .. {hi:+.0f}), n={n:.0f}</title>"
                        "</circle>")
    base = 24 + len(order) * (ph + gap) - gap + 14
    step = max(1, math.ceil(len(days) / 6))
    for i in sorted(set(range(0, len(days), step)) | {len(days) - 1}):
        body.append(_text(x(i), base + 4, days[i], "middle", ' fill="#555" font-size="10"'))
    more = f" (largest {MAX_PANELS} of {len(cells)} touchpoints)" if len(cells) > MAX_PANELS else ""
    return _svg(width, height, f"NPS by day per touchpoint with 95% intervals{more}", body)


# ---------------------------------------------------------------------------------------- drivers

def drivers_effect_svg(rows: Any, scope: str = "overall", metric: str = "nps",
                       family: str = "negative_topics", limit: int = 15, width: int = 760) -> str:
    """Effect plot of ``key_drivers`` rows of one scope, metric and family: effect and 95% interval per
    driver, strongest first; small cells are named, not drawn ("too few to tell")."""
    sel = [r for r in _records(rows)
           if r.get("scope") == scope and r.get("metric") == metric and r.get("family") == family]
    shown = [r for r in sel if not r.get("small_n") and _num(r.get("effect")) is not None
             and _num(r.get("ci_low")) is not None and _num(r.get("ci_high")) is not None]
    shown = sorted(shown, key=lambda r: (-abs(float(r["effect"])), str(r["driver"])))[:limit]
    shown.sort(key=lambda r: (float(r["effect"]), str(r["driver"])))
    small = sorted(str(r.get("driver")) for r in sel if r not in shown and (r.get("small_n") or
                                                                           _num(r.get("effect")) is None))
    if not shown and not small:
        return empty(f"no drivers for {scope} / {metric} / {family}")
    left, right, rh = 190, 30, 22
    lo = min([0.0] + [float(r["ci_low"]) for r in shown])
    hi = max([0.0] + [float(r["ci_high"]) for r in shown])
    pad = (hi - lo) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    pw = width - left - right
    x = lambda v: left + (v - lo) / (hi - lo) * pw  # noqa: E731
    height = 20 + len(shown) * rh + 40 + (18 if small else 0)
    body = [f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="10" y2="{20 + len(shown) * rh:.1f}" stroke="#888"/>']
    for i, r in enumerate(shown):
        yy = 20 + i * rh + rh / 2
        eff, a, b = float(r["effect"]), float(r["ci_low"]), float(r["ci_high"])
        color = COLORS[1] if eff < 0 else COLORS[0]
        body.append(_text(left - 8, yy + 4, r["driver"], "end"))
        body.append(f'<line class="ci" x1="{x(a):.1f}" x2="{x(b):.1f}" y1="{yy:.1f}" y2="{yy:.1f}" '
                    f'stroke="{color}" stroke-width="2"/>')
        n = f", n {r['n_with']}/{r['n_total']}" if r.get("n_with") is not None else ""
        body.append(f'<circle class="effect" cx="{x(eff):.1f}" cy="{yy:.1f}" r="4" fill="{color}">'
                    f"<title>{esc(r['driver'])}: {eff:+.1f} (95% {a:+.1f} .. {b:+.1f}){esc(n)}</title></circle>")
    axis_y = 20 + len(shown) * rh + 14
    for t in _ticks(lo, hi):
        body.append(_text(x(t), axis_y, f"{t:+g}" if t else "0", "middle", ' fill="#555" font-size="10"'))
    body.append(_text(left + pw / 2, axis_y + 16, f"effect on {metric.upper()} (95% interval)", "middle",
                      ' fill="#555"'))
    if small:
        body.append(_text(10, axis_y + 34, "too few to tell: " + ", ".join(small[:12])
                          + (" ..." if len(small) > 12 else ""), "start", ' fill="#777"'))
    return _svg(width, height, f"Key drivers of {metric.upper()} ({family.replace('_', ' ')}, {scope})", body)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    return [round(v * step, 10) for v in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


# ---------------------------------------------------------------------------------------- heat map

def _red(share: float) -> str:
    """White (0% negative) to a dark red (100%)."""
    s = min(1.0, max(0.0, share))
    r, g, b = (round(255 + (179 - 255) * s), round(255 + (24 - 255) * s), round(255 + (43 - 255) * s))
    return f"#{r:02x}{g:02x}{b:02x}"


def topic_sentiment_heatmap_svg(rows: Any, min_n: int = 5, width: int | None = None) -> str:
    """Topic x touchpoint share of negative sentences (rows: topic, touchpoint, sentences, negative);
    cells with fewer than ``min_n`` sentences are grey and show their n only."""
    cells: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in _records(rows):
        n = _num(r.get("sentences")) or 0
        if n > 0:
            c = cells[(str(r.get("topic") or "(none)"), str(r.get("touchpoint") or "(none)"))]
            c[0] += n
            c[1] += _num(r.get("negative")) or 0
    if not cells:
        return empty("no sentences with topics")
    tot_t, tot_p = defaultdict(float), defaultdict(float)
    for (t, p), (n, _) in cells.items():
        tot_t[t] += n
        tot_p[p] += n
    topics = sorted(tot_t, key=lambda t: (-tot_t[t], t))
    tps = sorted(tot_p, key=lambda p: (-tot_p[p], p))
    left, top, cw, ch = 170, 40, 84, 26
    width = width or left + cw * len(tps) + 20
    height = top + ch * len(topics) + 30
    body = [_text(left + i * cw + cw / 2, top - 10, p, "middle", ' font-weight="bold"') for i, p in enumerate(tps)]
    for j, t in enumerate(topics):
        body.append(_text(left - 8, top + j * ch + ch / 2 + 4, t, "end"))
        for i, p in enumerate(tps):
            if (t, p) not in cells:
                continue
            n, neg = cells[(t, p)]
            share = neg / n
            small = n < min_n
            fill = "#eeeeee" if small else _red(share)
            label = f"n={n:.0f}" if small else f"{100 * share:.0f}%"
            ink = "#fff" if not small and share > 0.55 else "#333"
            body.append(f'<rect class="cell" x="{left + i * cw + 1}" y="{top + j * ch + 1}" width="{cw - 2}" '
                        f'height="{ch - 2}" fill="{fill}"><title>{esc(t)} / {esc(p)}: {100 * share:.0f}% negative '
                        f"({neg:.0f} of {n:.0f} sentences){' - too few to tell' if small else ''}</title></rect>")
            body.append(_text(left + i * cw + cw / 2, top + j * ch + ch / 2 + 4, label, "middle",
                              f' fill="{ink}" font-size="11"'))
    body.append(_text(left, height - 8, f"share of negative sentences; grey: fewer than {min_n} sentences", "start",
                      ' fill="#777" font-size="11"'))
    return _svg(width, height, "Share of negative sentences by topic and touchpoint", body)


# ---------------------------------------------------------------------------------------- calls

def call_trajectory_svg(rows: Any, limit: int = 400, width: int = 560) -> str:
    """Slope chart of customer sentiment at the start and end of each call, with the mean.

    Rows: ``sentiment_start``, ``sentiment_end`` (-1..1), ``trajectory``, optionally ``feedback_id``.
    """
    calls = [r for r in _records(rows)
             if _num(r.get("sentiment_start")) is not None and _num(r.get("sentiment_end")) is not None]
    if not calls:
        return empty("no calls with a customer sentiment trajectory")
    calls = calls[:limit]
    x0, x1, top, ph = 150, 410, 30, 220
    y = lambda v: top + (1 - v) / 2 * ph  # noqa: E731
    body = []
    for xx, name in ((x0, "start of call"), (x1, "end of call")):
        body.append(f'<line x1="{xx}" x2="{xx}" y1="{top}" y2="{top + ph}" stroke="#bbb"/>')
        body.append(_text(xx, top - 12, name, "middle", ' font-weight="bold"'))
    for v, lab in ((1, "positive +1"), (0, "0"), (-1, "negative -1")):
        body.append(_text(x0 - 10, y(v) + 4, lab, "end", ' fill="#777" font-size="10"'))
    counts: dict[str, int] = defaultdict(int)
    for r in calls:
        a, b = float(r["sentiment_start"]), float(r["sentiment_end"])
        kind = str(r.get("trajectory") or "steady")
        counts[kind] += 1
        color = TRAJECTORY_COLORS.get(kind, "#999999")
        who = f"{r['feedback_id']}: " if r.get("feedback_id") else ""
        body.append(f'<line class="call" x1="{x0}" x2="{x1}" y1="{y(a):.1f}" y2="{y(b):.1f}" stroke="{color}" '
                    f'stroke-opacity="0.45" stroke-width="1.5"><title>{esc(who)}{a:+.2f} -> {b:+.2f} '
                    f"({esc(kind)})</title></line>")
    ma = sum(float(r["sentiment_start"]) for r in calls) / len(calls)
    mb = sum(float(r["sentiment_end"]) for r in calls) / len(calls)
    body.append(f'<line class="mean" x1="{x0}" x2="{x1}" y1="{y(ma):.1f}" y2="{y(mb):.1f}" stroke="#000" '
                f'stroke-width="3"><title>mean {ma:+.2f} -> {mb:+.2f} over {len(calls)} calls</title></line>')
    body.append(_text(x1 + 8, y(mb) + 4, f"mean {ma:+.2f} -> {mb:+.2f}", "start", ' font-weight="bold"'))
    for i, kind in enumerate(("improved", "steady", "worsened")):
        share = 100 * counts.get(kind, 0) / len(calls)
        body.append(f'<rect x="{x1 + 8}" y="{top + 150 + i * 18}" width="10" height="10" '
                    f'fill="{TRAJECTORY_COLORS[kind]}"/>')
        body.append(_text(x1 + 24, top + 159 + i * 18, f"{kind} {counts.get(kind, 0)} ({share:.0f}%)", "start",
                          ' font-size="11"'))
    return _svg(width, top + ph + 20, f"Customer sentiment from start to end of {len(calls)} calls", body)


# ---------------------------------------------------------------------------------------- alerts

def alerts_svg(rows: Any, width: int = 760) -> str:
    """Each alert as observed / expected on a log scale (1x = the baseline); emerging topics as text."""
    rows = _records(rows)
    if not rows:
        return empty("no alerts")
    left, right, rh, top = 300, 40, 22, 16
    ratios = []
    for r in rows:
        o, e = _num(r.get("observed")), _num(r.get("expected"))
        ratios.append(None if o is None or r.get("kind") == "emerging_topic" else
                      (o / e if e and e > 0 else math.inf))
    finite = [v for v in ratios if v is not None and math.isfinite(v) and v > 0]
    hi = max([4.0] + [v * 1.2 for v in finite])
    lo = min([0.8] + [v / 1.2 for v in finite])
    pw = width - left - right
    x = lambda v: left + (math.log2(v) - math.log2(lo)) / (math.log2(hi) - math.log2(lo)) * pw  # noqa: E731
    height = top + len(rows) * rh + 40
    body = [f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="{top - 6}" y2="{top + len(rows) * rh}" stroke="#888"/>']
    for i, (r, ratio) in enumerate(zip(rows, ratios)):
        yy = top + i * rh + rh / 2
        where = " / ".join(str(r[k]) for k in ("touchpoint", "topic", "channel") if r.get(k) is not None)
        body.append(_text(left - 8, yy + 4, f"{r.get('kind')}: {where}"[:60], "end"))
        tip = f"<title>{esc(r.get('message') or where)}</title>"
        if ratio is None:
            body.append(_text(x(1) + 8, yy + 4, "new", "start", ' fill="#D55E00" font-weight="bold"'))
            continue
        v = min(ratio, hi) if math.isfinite(ratio) else hi
        body.append(f'<line x1="{x(1):.1f}" x2="{x(v):.1f}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#D55E00" '
                    f'stroke-width="2"/>')
        body.append(f'<circle class="alert" cx="{x(v):.1f}" cy="{yy:.1f}" r="4" fill="#D55E00">{tip}</circle>')
        body.append(_text(x(v) + 8, yy + 4, f"{ratio:.1f}x" if math.isfinite(ratio) else "new", "start",
                          ' font-size="10" fill="#555"'))
    axis_y = top + len(rows) * rh + 14
    t = 1.0
    while t <= hi:
        body.append(_text(x(t), axis_y, f"{t:g}x", "middle", ' fill="#555" font-size="10"'))
        t *= 2
    body.append(_text(left + pw / 2, axis_y + 16, "today / baseline (volume or negative share), log scale", "middle",
                      ' fill="#555"'))
    return _svg(width, height, f"{len(rows)} alerts against their baseline", body)

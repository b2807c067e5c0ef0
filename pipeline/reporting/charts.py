"""Report charts drawn with matplotlib and inlined as SVG: self-contained, no script, no URL, text kept as text.

Each chart function takes plain lists of dicts (what a DuckDB query returns) or a DataFrame and returns
an HTML snippet: an ``<svg>`` element, or a short "nothing to show" paragraph for empty input.

How the SVG is made (``_Chart``): a matplotlib ``Figure`` (Agg backend for text measurement, no pyplot
state) saved as SVG with ``svg.fonttype = 'none'``, so labels stay ``<text>`` elements. Their
``font-family`` is removed, so they inherit the page's font stack, which covers Chinese and Persian
(the matplotlib default, DejaVu Sans, has no CJK glyphs; its metrics are only used for layout). The
output is then made fit for inlining in HTML and stable across runs:

- the XML prolog, DOCTYPE (a URL), ``xmlns`` declarations (URLs) and the date metadata are dropped
  (``metadata={'Date': None, ...}``); ``xlink:href`` becomes SVG 2 ``href``; matplotlib's global
  ``<style>`` rule moves onto the root element (inline, a ``<style>`` would apply to the whole page);
- ``svg.hashsalt`` is fixed, so marker and clip-path ids are the same on every run, and every id is
  prefixed with a hash of the chart's content, so several charts on one page never share an id;
- marks the tests and readers care about carry a class (``point``, ``band``, ``effect``, ``cell``,
  ``call``, ``alert``, ...) and a ``<title>`` (the browser shows it on hover, no JavaScript).

User text ($ signs included) is escaped for matplotlib's mathtext, and escaped as XML by matplotlib.

NPS intervals: NPS = p_promoters - p_detractors of one multinomial sample. Each share gets a Wilson
score interval and the difference's interval combines them by MOVER (Newcombe; Zou & Donner) with
the multinomial correlation ``-sqrt(p1 p2 / ((1 - p1)(1 - p2)))``; it stays inside -100..100 and
behaves at small n, where the plain normal interval collapses to zero width at 0% or 100%.
"""

from __future__ import annotations

import hashlib
import html
import io
import math
import re
import warnings
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: the report is written by batch runs

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from pipeline.analytics.intervals import mean_interval, nps_interval  # noqa: E402
from pipeline.metrics import DETRACTOR_MAX, PROMOTER_MIN  # noqa: E402

# Queries whose rows the charts take (report.collect runs them on its read-only connection).
# Each NPS answer once, on its own day, at the touchpoint the attribution rule gives it
# (pipeline/metrics.py): a customer's review and chat joined to one answer never count it twice.
NPS_TREND_SQL = f"""
SELECT event_date, coalesce(touchpoint, '(none)') AS touchpoint, count(*) AS n,
       count_if(value >= {PROMOTER_MIN}) AS promoters, count_if(value <= {DETRACTOR_MAX}) AS detractors
FROM answers WHERE kind = 'nps' AND event_date IS NOT NULL
GROUP BY ALL ORDER BY ALL
"""
TOPIC_SENTIMENT_SQL = """
SELECT topic, coalesce(touchpoint, '(none)') AS touchpoint, sentences, negative
FROM v_topic_sentiment_by_touchpoint WHERE topic IS NOT NULL AND topic <> 'other'
ORDER BY topic, touchpoint
"""

NPS_TREND_NOTE = ("NPS per day and touchpoint over survey answers, each counted once on the day it was given; the band is the 95% "
                  "interval: Wilson intervals of the promoter and detractor shares combined by MOVER. Wide bands "
                  "mean few answers that day. Hover a point for its n.")
HEATMAP_NOTE = ("Share of negative sentences per topic and touchpoint (the model's sentence sentiment); grey cells "
                "have too few sentences to tell. Hover a cell for its counts.")

COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D31", "#000000"]  # Okabe-Ito
TRAJECTORY_COLORS = {"improved": "#009E73", "worsened": "#D55E00", "steady": "#999999"}
SMALL_FILL = "#eeeeee"
MAX_PANELS = 8
PX = 72.0  # matplotlib's SVG unit is the point; at dpi 72 one point is one CSS pixel

RC = {
    "svg.fonttype": "none",        # text stays text (selectable, searchable, in the page's fonts)
    "svg.hashsalt": "touchpoint",  # deterministic ids: reruns write byte-identical reports
    "svg.image_inline": True,
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same layout on every machine
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 11,
    "axes.labelcolor": "#555555",
    "axes.edgecolor": "#bbbbbb",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.frameon": False,
    "legend.fontsize": 10,
    "figure.facecolor": "none",    # the page's background shows through
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.edgecolor": "none",
    "lines.solid_capstyle": "butt",
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


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


def lab(v: Any, limit: int = 60) -> str:
    """User text as a matplotlib label: one line, shortened, ``$`` not read as mathtext."""
    s = " ".join(str(v).split())
    s = s if len(s) <= limit else s[:limit - 1] + "…"
    return s.replace("\\", "\\\\").replace("$", r"\$")


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


# ---------------------------------------------------------------------------------------- SVG out

class _Chart:
    """One matplotlib figure and its named marks; ``svg()`` renders it for inlining (module docstring)."""

    def __init__(self, width: float, height: float, label: str, layout: str | None = "constrained"):
        self.label = label
        self.fig = Figure(figsize=(width / PX, height / PX), dpi=PX, layout=layout)
        self.marks: dict[str, tuple[str, str | None]] = {}

    def mark(self, artist: Any, cls: str, title: str | None = None) -> Any:
        """Give ``artist`` a class and a hover title in the SVG (its ``<g>`` element)."""
        gid = f"{cls}-{len(self.marks)}"
        artist.set_gid(gid)
        self.marks[gid] = (cls, title)
        return artist

    def svg(self) -> str:
        buf = io.StringIO()
        with warnings.catch_warnings():
            # layout is measured with DejaVu Sans, which has no CJK glyphs; the browser draws them
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            self.fig.savefig(buf, format="svg", metadata=_NO_METADATA)
        return _inline(buf.getvalue(), self.label, self.marks)


_FONT_FAMILY = re.compile(r"font-family: [^;\"]*(; )?")
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)')
_ROOT = re.compile(r'<svg [^>]*width="([\d.]+)pt" height="([\d.]+)pt" viewBox="([^"]+)"[^>]*>')


def _inline(svg: str, label: str, marks: dict[str, tuple[str, str | None]]) -> str:
    """matplotlib's SVG document as an element fit for an HTML page (see the module docstring)."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s*<style type="text/css">[^<]*</style>', "", svg)
    svg = re.sub(r"<defs>\s*</defs>", "", svg)
    svg = svg.replace("xlink:href=", "href=")
    svg = _FONT_FAMILY.sub("", svg)
    svg = re.sub(r" ?\n *", " ", svg).replace("> <", "><")
    prefix = "c" + hashlib.blake2b(svg.encode(), digest_size=4).hexdigest() + "-"
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: m.group(1) + prefix, svg)
    for gid, (cls, title) in marks.items():
        tip = f"<title>{esc(title)}</title>" if title else ""
        svg = svg.replace(f'<g id="{prefix}{gid}">', f'<g id="{prefix}{gid}" class="{cls}">{tip}', 1)
    root = _ROOT.match(svg)
    if root is None:
        raise ValueError("unexpected SVG root element from matplotlib")
    w, h, box = root.groups()
    head = (f'<svg class="chart" width="{float(w):.0f}" height="{float(h):.0f}" viewBox="{box}" role="img" '
            f'aria-label="{esc(label)}" style="max-width:100%;height:auto;stroke-linejoin:round;'
            f'stroke-linecap:butt"><title>{esc(label)}</title>')
    return head + svg[root.end():].strip()


def _render(build) -> str:
    """Run a chart builder under the report's matplotlib settings (also read when saving)."""
    with rc_context(RC):
        out = build()
        return out if isinstance(out, str) else out.svg()


# ---------------------------------------------------------------------------------------- NPS trend

def _day(v: Any) -> str:
    return v.isoformat()[:10] if isinstance(v, (date, datetime)) else str(v)


def _as_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _short_day(first: date, offset: int) -> str:
    """``Oct 21`` (locale-independent) for the day ``offset`` days after ``first``."""
    d = date.fromordinal(first.toordinal() + offset)
    return f"{MONTHS[d.month - 1]} {d.day}"


def nps_trend_svg(rows: Any, width: int = 760) -> str:
    """NPS by day per touchpoint (one panel each, shared days) with the 95% band.

    Rows: ``event_date``, ``touchpoint``, ``n`` (NPS answers), ``promoters``, ``detractors``.
    """
    cells: dict[str, dict[date, list[float]]] = defaultdict(dict)
    for r in _records(rows):
        n = _num(r.get("n")) or 0
        if n > 0 and r.get("event_date") is not None:
            c = cells[str(r.get("touchpoint") or "(none)")].setdefault(_as_date(r["event_date"]), [0.0, 0.0, 0.0])
            c[0] += n
            c[1] += _num(r.get("promoters")) or 0
            c[2] += _num(r.get("detractors")) or 0
    if not cells:
        return empty("no NPS answers")
    order = sorted(cells, key=lambda t: (-sum(v[0] for v in cells[t].values()), t))[:MAX_PANELS]
    more = f" (largest {MAX_PANELS} of {len(cells)} touchpoints)" if len(cells) > MAX_PANELS else ""

    def build() -> _Chart:
        # a fixed layout and fixed day ticks: constrained layout and date locators on up to 8 panels
        # cost seconds, and these labels have known sizes
        ph, gap, top, bottom, left, right = 90, 34, 26, 34, 58, 16
        height = top + len(order) * ph + (len(order) - 1) * gap + bottom
        ch = _Chart(width, height, f"NPS by day per touchpoint with 95% intervals{more}", layout=None)
        ch.fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                               bottom=bottom / height, hspace=gap / ph)
        axes = ch.fig.subplots(len(order), 1, sharex=True, squeeze=False)[:, 0]
        days = sorted({d for c in cells.values() for d in c})
        first = days[0]
        x = lambda d: (d - first).days  # noqa: E731
        step = max(1, math.ceil((x(days[-1]) + 1) / 8))
        ticks = list(range(0, x(days[-1]) + 1, step))
        for k, (ax, tp) in enumerate(zip(axes, order)):
            color = COLORS[k % len(COLORS)]
            pts = [(d, cells[tp][d][0], *nps_interval(cells[tp][d][1], cells[tp][d][2], cells[tp][d][0]))
                   for d in sorted(cells[tp])]
            ax.set_title(lab(tp))
            ax.axhline(0, color="#cccccc", lw=0.8)
            ax.set_ylim(-105, 105)
            ax.set_yticks([-100, 0, 100], ["-100", "0", "+100"])
            ax.set_ylabel("NPS")
            if len(pts) > 1:
                ch.mark(ax.fill_between([x(p[0]) for p in pts], [p[3] for p in pts], [p[4] for p in pts],
                                        color=color, alpha=0.15, lw=0), "band", f"{tp}: 95% interval")
                ch.mark(ax.plot([x(p[0]) for p in pts], [p[2] for p in pts], "-", color=color, lw=1.5)[0], "line")
            else:  # a band needs two days: one day gets an interval bar
                d, _, _, lo, hi = pts[0]
                ch.mark(ax.plot([x(d), x(d)], [lo, hi], "-", color=color, lw=2, alpha=0.5)[0], "ci")
            for d, n, v, lo, hi in pts:
                ch.mark(ax.plot([x(d)], [v], "o", color=color, ms=5)[0], "point",
                        f"{tp} {_day(d)}: NPS {v:+.0f} (95% {lo:+.0f} .. {hi:+.0f}), n={n:.0f}")
        axes[-1].set_xlim(-0.5, x(days[-1]) + 0.5)
        axes[-1].set_xticks(ticks, [_short_day(first, t) for t in ticks])
        return ch

    return _render(build)


# ---------------------------------------------------------------------------------------- drivers

def drivers_effect_svg(rows: Any, scope: str = "overall", metric: str = "nps",
                       family: str = "negative_topics", limit: int = 15, width: int = 760) -> str:
    """Effect plot of ``key_drivers`` rows of one scope, metric and family: effect and 95% interval per
    driver, strongest first, with the responses behind it; small cells are named, not drawn ("too few
    to tell")."""
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

    def build() -> _Chart:
        ch = _Chart(width, 90 + 24 * max(len(shown), 1) + (20 if small else 0),
                    f"Key drivers of {metric.upper()} ({family.replace('_', ' ')}, {scope})")
        ax = ch.fig.add_subplot()
        ax.axvline(0, color="#888888", lw=1)
        for i, r in enumerate(shown):
            y = len(shown) - 1 - i  # most negative on top
            eff, a, b = float(r["effect"]), float(r["ci_low"]), float(r["ci_high"])
            color = COLORS[1] if eff < 0 else COLORS[0]
            n = f", n {r['n_with']}/{r['n_total']}" if _num(r.get("n_with")) is not None else ""
            ch.mark(ax.plot([a, b], [y, y], "-", color=color, lw=2)[0], "ci")
            ch.mark(ax.plot([eff], [y], "o", color=color, ms=6)[0], "effect",
                    f"{r['driver']}: {eff:+.1f} (95% {a:+.1f} .. {b:+.1f}){n}")
            if n:
                ax.annotate(f"n={r['n_with']}", (b, y), xytext=(4, 0), textcoords="offset points", va="center",
                            fontsize=8, color="#777777")
        ax.set_yticks(range(len(shown)), [lab(r["driver"], 40) for r in reversed(shown)])
        ax.set_ylim(-0.7, max(len(shown), 1) - 0.3)
        ax.margins(x=0.08)
        ax.set_xlabel(f"effect on {metric.upper()} ({'points, ' if metric == 'nps' else ''}95% interval)")
        ax.grid(axis="x", color="#eeeeee", lw=0.8)
        ax.set_axisbelow(True)
        if small:
            ax.text(0, -0.22 if shown else 0.5, lab("too few to tell: " + ", ".join(small[:12])
                                                    + (" ..." if len(small) > 12 else ""), 140),
                    transform=ax.transAxes, color="#777777", fontsize=9, va="top")
        if not shown:
            ax.set_yticks([])
        return ch

    return _render(build)


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

    def build() -> _Chart:
        ch = _Chart(width or 220 + 88 * len(tps), 80 + 28 * len(topics),
                    "Share of negative sentences by topic and touchpoint")
        ax = ch.fig.add_subplot()
        for j, t in enumerate(topics):
            for i, p in enumerate(tps):
                if (t, p) not in cells:
                    continue
                n, neg = cells[(t, p)]
                share, small = neg / n, n < min_n
                ch.mark(ax.add_patch(Rectangle((i + 0.03, j + 0.05), 0.94, 0.9, lw=0.6, edgecolor="#dddddd",
                                               facecolor=SMALL_FILL if small else _red(share))), "cell",
                        f"{t} / {p}: {100 * share:.0f}% negative ({neg:.0f} of {n:.0f} sentences)"
                        + (" - too few to tell" if small else ""))
                ax.text(i + 0.5, j + 0.5, f"n={n:.0f}" if small else f"{100 * share:.0f}%", ha="center",
                        va="center", fontsize=10, color="#ffffff" if not small and share > 0.55 else "#333333")
        ax.set_xlim(0, len(tps))
        ax.set_ylim(len(topics), 0)
        ax.xaxis.tick_top()
        ax.set_xticks([i + 0.5 for i in range(len(tps))], [lab(p, 16) for p in tps], fontweight="bold")
        ax.set_yticks([j + 0.5 for j in range(len(topics))], [lab(t, 30) for t in topics])
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
        ax.set_xlabel(f"share of negative sentences; grey: fewer than {min_n} sentences", fontsize=10)
        return ch

    return _render(build)


# ---------------------------------------------------------------------------------------- calls

def call_trajectory_svg(rows: Any, limit: int = 400, width: int = 600) -> str:
    """Slope chart of customer sentiment at the start and end of each call, with the mean and the
    count of improved / steady / worsened calls.

    Rows: ``sentiment_start``, ``sentiment_end`` (-1..1), ``trajectory``, optionally ``feedback_id``.
    """
    calls = [r for r in _records(rows)
             if _num(r.get("sentiment_start")) is not None and _num(r.get("sentiment_end")) is not None]
    if not calls:
        return empty("no calls with a customer sentiment trajectory")
    calls = calls[:limit]

    def build() -> _Chart:
        ch = _Chart(width, 300, f"Customer sentiment from start to end of {len(calls)} calls")
        ax = ch.fig.add_subplot()
        counts: dict[str, int] = defaultdict(int)
        for r in calls:
            a, b = float(r["sentiment_start"]), float(r["sentiment_end"])
            kind = str(r.get("trajectory") or "steady")
            counts[kind] += 1
            who = f"{r['feedback_id']}: " if r.get("feedback_id") else ""
            ch.mark(ax.plot([0, 1], [a, b], "-", color=TRAJECTORY_COLORS.get(kind, "#999999"), alpha=0.45,
                            lw=1.5)[0], "call", f"{who}{a:+.2f} -> {b:+.2f} ({kind})")
        ma = sum(float(r["sentiment_start"]) for r in calls) / len(calls)
        mb = sum(float(r["sentiment_end"]) for r in calls) / len(calls)
        ch.mark(ax.plot([0, 1], [ma, mb], "-", color="#000000", lw=3)[0], "mean",
                f"mean {ma:+.2f} -> {mb:+.2f} over {len(calls)} calls")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xticks([0, 1], ["start of call", "end of call"], fontweight="bold")
        ax.set_yticks([-1, 0, 1], ["negative -1", "0", "positive +1"])
        ax.set_ylabel("customer sentiment")
        for x in (0, 1):
            ax.axvline(x, color="#bbbbbb", lw=1)
        handles = [Line2D([], [], color=TRAJECTORY_COLORS[k], lw=3,
                          label=f"{k} {counts.get(k, 0)} ({100 * counts.get(k, 0) / len(calls):.0f}%)")
                   for k in ("improved", "steady", "worsened")]
        handles.append(Line2D([], [], color="#000000", lw=3, label=f"mean {ma:+.2f} -> {mb:+.2f}"))
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5))
        return ch

    return _render(build)


# ---------------------------------------------------------------------------------------- alerts

def alerts_svg(rows: Any, width: int = 760) -> str:
    """Each alert as observed / expected on a log scale (1x = the baseline); emerging topics as text."""
    rows = _records(rows)
    if not rows:
        return empty("no alerts")
    ratios = []
    for r in rows:
        o, e = _num(r.get("observed")), _num(r.get("expected"))
        ratios.append(None if o is None or r.get("kind") == "emerging_topic" else
                      (o / e if e and e > 0 else math.inf))
    finite = [v for v in ratios if v is not None and math.isfinite(v) and v > 0]
    hi = max([4.0] + [v * 1.2 for v in finite])
    lo = min([0.8] + [v / 1.2 for v in finite])

    def build() -> _Chart:
        ch = _Chart(width, 80 + 24 * len(rows), f"{len(rows)} alerts against their baseline")
        ax = ch.fig.add_subplot()
        ax.set_xscale("log", base=2)
        ax.set_xlim(lo, hi * 1.3)
        ax.axvline(1, color="#888888", lw=1)
        labels = []
        for i, (r, ratio) in enumerate(zip(rows, ratios)):
            y = len(rows) - 1 - i
            where = " / ".join(str(r[k]) for k in ("touchpoint", "topic", "channel") if r.get(k) is not None)
            labels.append(lab(f"{r.get('kind')}: {where}", 60))
            tip = str(r.get("message") or where)
            if ratio is None:
                ch.mark(ax.text(1.05, y, "new", color=COLORS[1], fontweight="bold", va="center"), "new", tip)
                continue
            v = min(ratio, hi) if math.isfinite(ratio) else hi
            ax.plot([1, v], [y, y], "-", color=COLORS[1], lw=2)
            ch.mark(ax.plot([v], [y], "o" if math.isfinite(ratio) else ">", color=COLORS[1], ms=6)[0], "alert", tip)
            ax.annotate(f"{ratio:.1f}x" if math.isfinite(ratio) else "new", (v, y), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=8, color="#555555")
        ax.set_yticks(range(len(rows)), list(reversed(labels)))
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ticks = [2.0 ** k for k in range(math.floor(math.log2(lo)), math.ceil(math.log2(hi * 1.3)) + 1)
                 if lo <= 2.0 ** k <= hi * 1.3]
        ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("today / baseline (volume or negative share), log scale")
        return ch

    return _render(build)


# ---------------------------------------------------------------------------------------- effort vs CES

EFFORT_CES_NOTE = ("Mean text effort score (0-1, from the effort cues a customer describes) per CES answer "
                   "(1 = very easy, 7 = very hard), with its 95% interval; the number above each point is how "
                   "many feedback rows have that CES.")


def effort_by_ces(rows: Any) -> list[dict[str, Any]]:
    """Per CES answer: n, mean effort score with its 95% interval, share with any effort cue.
    Rows: ``ces``, ``effort_score`` (what ``cx.EFFORT_CES_SQL`` returns)."""
    by: dict[float, list[float]] = defaultdict(list)
    for r in _records(rows):
        c, e = _num(r.get("ces")), _num(r.get("effort_score"))
        if c is not None and e is not None:
            by[c].append(e)
    out = []
    for c in sorted(by):
        m, lo, hi = mean_interval(by[c])
        out.append({"ces": c, "n": len(by[c]), "effort_mean": round(m, 4), "ci_low": round(max(0.0, lo), 4),
                    "ci_high": round(min(1.0, hi), 4),
                    "cue_share": round(sum(e > 0 for e in by[c]) / len(by[c]), 4)})
    return out


def effort_ces_svg(rows: Any, stats: dict[str, Any] | None = None, width: int = 600) -> str:
    """Mean text effort score per CES answer with 95% intervals; ``stats`` (``cx.effort_ces_correlation``)
    adds the rank correlation, its interval and n to the title."""
    levels = effort_by_ces(rows)
    if not levels:
        return empty("no feedback with both a CES answer and text")
    corr = ""
    if stats and stats.get("spearman") is not None:
        ci = stats.get("spearman_ci95")
        corr = (f": Spearman r = {stats['spearman']:+.2f}"
                + (f" (95% {ci[0]:+.2f} .. {ci[1]:+.2f})" if ci else "") + f", n = {stats['n']}")

    def build() -> _Chart:
        ch = _Chart(width, 300, f"Text effort score by CES answer{corr}")
        ax = ch.fig.add_subplot()
        top = max([0.1] + [lv["ci_high"] for lv in levels])
        for lv in levels:
            x = lv["ces"]
            ax.plot([x, x], [lv["ci_low"], lv["ci_high"]], "-", color=COLORS[0], lw=2)
            ch.mark(ax.plot([x], [lv["effort_mean"]], "o", color=COLORS[0], ms=6)[0], "level",
                    f"CES {x:g}: mean effort {lv['effort_mean']:.2f} (95% {lv['ci_low']:.2f} .. "
                    f"{lv['ci_high']:.2f}), {100 * lv['cue_share']:.0f}% with an effort cue, n={lv['n']}")
            ax.annotate(f"n={lv['n']}", (x, lv["ci_high"]), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=8, color="#777777")
        ax.set_xlim(0.5, max(7.0, max(lv["ces"] for lv in levels)) + 0.5)
        ax.set_xticks(range(1, int(max(7.0, max(lv["ces"] for lv in levels))) + 1))
        ax.set_ylim(0, min(1.0, top * 1.25) if top < 0.8 else 1.05)
        ax.set_xlabel("CES answer (1 = very easy, 7 = very hard)")
        ax.set_ylabel("mean text effort score (0-1)")
        ax.grid(axis="y", color="#eeeeee", lw=0.8)
        ax.set_axisbelow(True)
        if corr:
            ax.set_title("Spearman r" + corr.split("Spearman r", 1)[1], fontsize=9, fontweight="normal",
                         color="#555555")
        return ch

    return _render(build)

"""The HTML report of a real nightly run, opened in headless Chromium: it renders, logs nothing to the
console, has the scorecard table, and Chinese and Persian text cells take their direction from their
own text (dir="auto").

Needs the Debian package ``chromium`` (.ci/run installs it); skipped, saying so, where it is missing.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flows.nightly import nightly

pytestmark = pytest.mark.usefixtures("prefect_harness")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000", "--enable-logging=stderr", "--v=0"]
CJK = re.compile(r"[\u3400-\u9fff]")
PERSIAN = re.compile(r"[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
# Chromium logs every console message (log, warning, error, uncaught exception) as INFO:CONSOLE
CONSOLE = re.compile(r":CONSOLE[:(\]].*")


class Cells(HTMLParser):
    """Tables as (title of the h2 before them, header cells, rows of (attrs, text)) from a DOM dump."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._title, self._cell, self._in_h2 = "", None, False

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._in_h2, self._title = True, ""
        elif tag == "table":
            self.tables.append({"title": self._title, "head": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = (tag, dict(attrs), [])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag in ("td", "th") and self._cell:
            kind, attrs, text = self._cell
            t = self.tables[-1]
            (t["head"] if kind == "th" else t["rows"][-1]).append((attrs, "".join(text).strip()))
            self._cell = None

    def handle_data(self, data):
        if self._in_h2:
            self._title += data
        if self._cell:
            self._cell[2].append(data)


def render(page: Path, tmp: Path) -> tuple[str, Path, list[str]]:
    """Open a page in headless Chromium: its DOM after load, a screenshot, and the console messages."""
    png = tmp / f"{page.stem}.png"
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / ('profile-' + page.stem)}",
                          f"--screenshot={png}", "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"chromium failed ({res.returncode}):\n{res.stderr[-3000:]}"
    return res.stdout, png, CONSOLE.findall(res.stderr)


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("headless Chromium is not installed (Debian: `apt-get install -y chromium`, as .ci/run "
                    "does); the report's rendering is not checked")
    return CHROMIUM


def test_report_renders_in_chromium(chromium, config, landing, data_dir, tmp_path):
    # a control page first: the console scan and the blank-page size are measured, not assumed
    control = tmp_path / "control.html"
    control.write_text("<!doctype html><meta charset=utf-8><p>.</p><script>undefinedFn()</script>", encoding="utf-8")
    _, blank_png, console = render(control, tmp_path)
    assert any("Uncaught ReferenceError" in line for line in console), console

    # The fixture's Persian review (R4) comes from a promoter, so it is in no table of excerpts;
    # a Persian detractor's survey comment puts one among the follow-up candidates (next to R3's Chinese).
    (landing / "surveys" / "survey_fa.csv").write_text(
        "response_id,customer_id,submitted_at,nps,ces,comment\n"
        "F1,U90,2026-10-02T12:00:00,1,7,"
        "\"ارسال خیلی دیر بود و کیفیت محصول بد بود. پشتیبانی هم جواب نداد.\"\n",
        encoding="utf-8")
    res = nightly(landing=str(landing), config=str(config))
    report = Path(res["report"])
    dom, png, console = render(report, tmp_path)

    assert console == [], console  # the report has no scripts: any console message is a failure
    assert png_size(png) == (1280, 2000)
    # a page of tables and text compresses far worse than a nearly empty one
    assert png.stat().st_size > 3 * blank_png.stat().st_size, (png.stat().st_size, blank_png.stat().st_size)

    parser = Cells()
    parser.feed(dom)
    tables = {t["title"]: t for t in parser.tables}
    score = tables["Touchpoint scorecard"]
    head = [text for _, text in score["head"]]
    assert {"touchpoint", "volume", "nps", "csat_top2_pct", "ces_mean", "sentiment"} <= set(head), head
    rows = [dict(zip(head, (text for _, text in r))) for r in score["rows"] if r]
    # every feedback row once per touchpoint (the fixture's 15 and F1), and once more in the "(all)" row;
    # n_nps counts answers, each once: the fixture's 7 NPS answers and F1's
    overall = [r for r in rows if r["touchpoint"] == "(all)"]
    assert len(overall) == 1 and int(overall[0]["volume"]) == 16 and int(overall[0]["n_nps"]) == 8
    assert sum(int(r["volume"]) for r in rows if r["touchpoint"] != "(all)") == 16
    assert sum(int(r["n_nps"]) for r in rows if r["touchpoint"] != "(all)") == 8

    cells = [(t["title"], attrs, text) for t in parser.tables for r in t["rows"] for attrs, text in r]
    zh = [c for c in cells if CJK.search(c[2])]
    fa = [c for c in cells if PERSIAN.search(c[2])]
    assert zh and fa, f"expected Chinese and Persian excerpts in the report; tables: {sorted(tables)}"
    assert all(attrs.get("dir") == "auto" for _, attrs, _ in zh + fa), \
        [(title, attrs, text[:40]) for title, attrs, text in zh + fa if attrs.get("dir") != "auto"]


@pytest.mark.parametrize("lang, script", [("zh", "Chinese"), ("fa", "Persian")])
def test_the_browser_has_a_font_for_each_script_the_report_shows(chromium, lang, script):
    """Without a font for a script, Chromium draws its text as empty boxes: the screenshot would pass
    while analysts see nothing. ``make browser`` installs fonts-noto-cjk beside Chromium."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fontconfig's fc-list is missing; cannot tell which scripts the browser can draw")
    families = subprocess.run([fc_list, f":lang={lang}", "family"], capture_output=True, text=True,
                              timeout=60).stdout.split("\n")
    assert [f for f in families if f.strip()], (
        f"no installed font covers {script}; the report's {script} text would render as boxes. "
        f"Install one (Debian: apt-get install fonts-noto-cjk, as `make browser` does)")

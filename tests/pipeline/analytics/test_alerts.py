"""Alerts: a planted spike alerts, quiet days do not (FDR across cells), webhook posts to a real local server."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pandas as pd
import pytest

from pipeline.analytics import alerts
from pipeline.storage import store

RUN = date(2026, 11, 1)
CELLS = [(tp, topic, ch) for tp in ("delivery", "product", "app") for topic in ("delivery", "price_value", "account")
         for ch in ("review", "chat")]


def build(tmp_path, spike: dict | None = None, neg_spike: dict | None = None, seed: int = 4):
    """29 days (28 baseline + the run date) of Poisson volumes, 30% negative, in 18 cells."""
    rng = np.random.default_rng(seed)
    fb, se = [], []
    for day in range(29):
        d = RUN - timedelta(days=28 - day)
        for tp, topic, ch in CELLS:
            n = rng.poisson(6)
            neg_p = 0.3
            if d == RUN and spike and (tp, topic, ch) == spike["cell"]:
                n += spike["extra"]
            if d == RUN and neg_spike and (tp, topic, ch) == neg_spike["cell"]:
                neg_p = neg_spike["share"]
            for i in range(n):
                fid = f"{d}-{tp}-{topic}-{ch}-{i}"
                fb.append({"feedback_id": fid, "channel": ch, "touchpoint": tp, "event_date": d,
                           "sentiment_label": "negative" if rng.random() < neg_p else "positive"})
                se.append({"feedback_id": fid, "idx": 0, "topic": topic})
    con = store.connect(tmp_path)
    for table, rows in (("feedback", fb), ("sentences", se)):
        df = pd.DataFrame(rows)
        con.register("_rows", df)
        con.execute(f"INSERT INTO {table} ({', '.join(df.columns)}) SELECT * FROM _rows")
        con.unregister("_rows")
    return con


def test_bh_qvalues_match_the_textbook_procedure():
    q = alerts.bh_qvalues(np.array([0.01, 0.04, 0.03, 0.005, 0.5]))
    assert np.allclose(q, [0.025, 0.05, 0.05, 0.025, 0.5])


def test_quiet_day_raises_no_alert(tmp_path):
    con = build(tmp_path)
    assert alerts.run_alerts(con, RUN) == []
    # and across ten quiet run dates (180 cells x 2 tests each), FDR control keeps false alarms rare
    false = sum(len(alerts.run_alerts(con, RUN - timedelta(days=k))) for k in range(1, 11))
    assert false <= 1


def test_planted_volume_spike_and_negative_share_jump_alert(tmp_path):
    con = build(tmp_path, spike={"cell": ("app", "account", "review"), "extra": 20},
                neg_spike={"cell": ("product", "price_value", "chat"), "share": 1.0})
    found = alerts.run_alerts(con, RUN)
    kinds = {(a["kind"], a["touchpoint"], a["topic"], a["channel"]) for a in found}
    assert ("volume_spike", "app", "account", "review") in kinds
    assert ("negative_share", "product", "price_value", "chat") in kinds
    assert ("volume_spike", "app", "(all)", "review") in kinds  # the touchpoint x channel total moves too
    assert all(a["q_value"] <= 0.05 for a in found)
    assert not any(a["touchpoint"] == "delivery" for a in found)  # untouched cells stay quiet
    spike = next(a for a in found if a["kind"] == "volume_spike" and a["topic"] == "account")
    assert spike["n_today"] >= 20 and 4 < spike["expected"] < 8 and spike["baseline_days"] == 28
    stored = con.execute("SELECT count(*) FROM alerts WHERE run_date = ?", [RUN]).fetchone()[0]
    assert stored == len(found)
    alerts.run_alerts(con, RUN)  # a rerun of the same date replaces its alerts
    assert con.execute("SELECT count(*) FROM alerts WHERE run_date = ?", [RUN]).fetchone()[0] == stored
    assert "volume_spike" in alerts.render_markdown(found)
    assert {a["alert_id"] for a in alerts.latest(con)} == {a["alert_id"] for a in found}
    assert alerts.latest_day(con) == RUN


def test_emerging_topics_alert_once(tmp_path):
    con = build(tmp_path)
    emerging = [{"cluster_id": "c0ffee", "terms": "voucher, code", "size": 12, "example": "voucher code rejected"},
                {"cluster_id": "tiny", "terms": "x", "size": 2, "example": "x"}]
    first = alerts.run_alerts(con, RUN - timedelta(days=1), emerging=emerging)
    assert [a["topic"] for a in first] == ["emerging:c0ffee"]
    assert alerts.run_alerts(con, RUN, emerging=emerging) == []  # already announced


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def hook():
    _Hook.received, _Hook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook
    server.shutdown()
    server.server_close()


def test_webhook_receives_the_alerts_as_json(tmp_path, hook):
    url, handler = hook
    con = build(tmp_path, spike={"cell": ("app", "account", "review"), "extra": 20})
    found = alerts.run_alerts(con, RUN, webhook_url=url, timeout_s=5)
    assert len(handler.received) == 1
    ctype, payload = handler.received[0]
    assert ctype.startswith("application/json") and payload["run_date"] == str(RUN)
    assert {a["alert_id"] for a in payload["alerts"]} == {a["alert_id"] for a in found}
    assert {a["delivery"] for a in found} == {"sent 200"}
    assert con.execute("SELECT DISTINCT delivery FROM alerts").fetchall() == [("sent 200",)]


def test_webhook_failures_are_recorded_never_raised(tmp_path, hook):
    url, handler = hook
    con = build(tmp_path, spike={"cell": ("app", "account", "review"), "extra": 20})
    handler.status = 500
    assert {a["delivery"] for a in alerts.run_alerts(con, RUN, webhook_url=url)} == {"failed: HTTP 500"}
    dead = HTTPServer(("127.0.0.1", 0), _Hook)  # bound, then closed: nothing listens on its port
    port = dead.server_address[1]
    dead.server_close()
    found = alerts.run_alerts(con, RUN, webhook_url=f"http://127.0.0.1:{port}/", timeout_s=2)
    assert found and all(a["delivery"].startswith("failed: URLError") for a in found)
    assert alerts.post_webhook("file:///etc/passwd", {}).startswith("failed: webhook URL must start")

"""Incremental push and pull to the shared PostgreSQL store vs the full copy, on a synthetic store.

    python bench/pg_push.py [--rows 100000 1000000] [--touch 0.01] [--repeat 5] [--url postgresql://...]

For each size: a synthetic local store of about ``--rows`` rows over 11 tables (feedback, sentences,
utterances, scores, tickets, quarantine, feedback_scores, answers, aggregates, runs, ingested_files)
is pushed in full (today's copy: DELETE + COPY of every table), then ``--touch`` of its records
change (new versions of feedback with their sentences and joined scores, new survey answers, the
aggregates recomputed, a run and its file recorded) and the push is incremental; a second machine
that pulled before the change then pulls incrementally. Without ``--url`` a throwaway PostgreSQL
server is started on 127.0.0.1 (initdb and pg_ctl from /usr/lib/postgresql/*/bin; as root it runs as
the ``postgres`` user). Prints one table: rows in store, rows changed, rows moved, the median and
minimum seconds of ``--repeat`` incremental pushes (pulls) from the same local copy, the full copy's
seconds, the ratio of the median to it, and for the push the seconds its change detection takes alone (the scan of every local
row that pgsync.py compares with the baseline; measured on its own connection just before the push, so
the push repeats it), split into the input tables and the rest, with the load average.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.storage import pgstore, pgsync, store  # noqa: E402


# ---------------------------------------------------------------- a synthetic store

def _x(con, sql: str, params: dict | None = None):
    """con.execute with only the named parameters the SQL uses (DuckDB refuses extra ones)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {k: v for k, v in (params or {}).items() if k in used})


def build_store(data_dir: str | os.PathLike, n_feedback: int, tag: str = "base") -> int:
    """A local store with ``n_feedback`` feedback records (two sentences, one utterance each), half as
    many survey answers, a tenth as many tickets, their joins and aggregates. Returns its rows."""
    con = store.connect(data_dir)
    try:
        p = {"n": n_feedback, "tag": tag, "file": f"{tag}.jsonl", "sha": f"sha_{tag}"}
        _x(con, """INSERT INTO feedback (feedback_id, channel, source, source_id, customer_id, touchpoint,
                journey_stage, occurred_at, event_date, language, language_confidence, text, rating, rating_scale,
                n_utterances, input_file, input_line, sentiment_label, sentiment_score, top_topic, topics,
                n_sentences, sentiment_model, topic_model, config_hash, content_hash, interaction_kind,
                version_ts, file_sha256, interaction_id, pii_redacted, emotion, emotion_score, effort_score,
                effort_cues, intent, intent_score, cx_models)
            SELECT 'reviews:' || i, 'review', 'reviews', CAST(i AS VARCHAR), 'pid_' || md5('c' || (i % 997)),
                'tp' || (i % 7), 'use', TIMESTAMP '2026-01-01' + to_minutes(i), CAST(TIMESTAMP '2026-01-01'
                + to_minutes(i) AS DATE), 'en', 0.99, 'review text number ' || i || ': the parcel came two days late and '
                || 'the courier left it at the wrong door; support answered quickly and refunded the shipping, '
                || 'but I had to ask twice. Price was fine. ' || md5(CAST(i AS VARCHAR)),
                1 + i % 5, 5, 1, $file, i, CASE WHEN i % 3 = 0 THEN 'negative' ELSE 'positive' END,
                (i % 100) / 100.0, 'delivery', '["delivery"]', 2, 'sent-v1', 'topic-v1', 'cfg1',
                md5('review text number ' || i), 'purchase', TIMESTAMP '2026-01-01' + to_minutes(i), $sha,
                'ord-' || md5('o' || i), 0, 'frustration', 0.71, 3.5, '["had to ask twice"]', 'complaint', 0.83,
                '{"emotion": "emo-v2", "effort": "eff-v1", "intent": "int-v1"}'
            FROM range($n) t(i)""", p)
        _x(con, """INSERT INTO sentences SELECT 'reviews:' || i, j, 'en', 'sentence ' || j || ' of ' || i
                || ': the parcel came two days late and the courier left it at the wrong door',
                'positive', 0.5 + j / 10, 0.1, 0.8, 'delivery', 0.7, 'sent-v1', 'topic-v1', 'delivery/late'
            FROM range($n) t(i), range(2) s(j)""", {"n": n_feedback})
        _x(con, """INSERT INTO utterances SELECT 'reviews:' || i, 0, 'customer', 'spk_' || md5('s' || (i % 13)),
                TIMESTAMP '2026-01-01' + to_minutes(i), 0.0, 12.5, 'review text number ' || i || ': the parcel '
                || 'came two days late', 'frustration', 0.7, 3.5, '["late"]', 'complaint', 0.8
            FROM range($n) t(i)""", {"n": n_feedback})
        _x(con, """INSERT INTO scores SELECT 's' || i, 'nps', i % 11, 10, 'pid_' || (i % 997), NULL,
                TIMESTAMP '2026-01-01' + to_minutes(2 * i), 'surveys', 'tp' || (i % 7), $file, i,
                md5('score ' || i), 'purchase', TIMESTAMP '2026-01-01' + to_minutes(2 * i), $sha
            FROM range($n // 2) t(i)""", p)
        _x(con, """INSERT INTO tickets SELECT 't' || i, 'pid_' || (i % 997), NULL, TIMESTAMP '2026-01-01'
                + to_minutes(10 * i), NULL, NULL, 'open', 'tickets', 'tp' || (i % 7), $file, i, md5('ticket ' || i),
                'purchase', TIMESTAMP '2026-01-01' + to_minutes(10 * i), $sha FROM range($n // 10) t(i)""", p)
        _x(con, """INSERT INTO quarantine SELECT $file, i, 'review', 'reviews', 'text', 'empty', '{}',
                md5('bad ' || i), $sha FROM range($n // 50) t(i)""", p)
        _x(con, """INSERT INTO ingested_files VALUES ($sha, $file, 'reviews', 'run-' || $tag, $n, '/in/' || $file,
                'cfg1', '{}', 1)""", p)
        _x(con, """INSERT INTO runs (run_id, flow, started_at, finished_at, status, config_hash, models, counts,
                files) VALUES ('run-' || $tag, 'nightly', TIMESTAMP '2026-02-01', TIMESTAMP '2026-02-01 00:10',
                'published', 'cfg1', '{}', '{}', 1)""", {"tag": tag})
        derive(con)
        return sum(_x(con, f"SELECT count(*) FROM {t}").fetchone()[0] for t in store.SCHEMA)
    finally:
        con.close()


def derive(con) -> None:
    """The derived tables, recomputed from the input tables (a stand-in for store.publish's SQL)."""
    _x(con, "DELETE FROM feedback_scores")
    _x(con, """INSERT INTO feedback_scores (feedback_id, nps, nps_match, nps_score_id, csat_match, ces_match,
            ticket_match)
        SELECT f.feedback_id, s.value, CASE WHEN s.score_id IS NULL THEN NULL ELSE 'interaction' END, s.score_id,
            'none', 'none', 'none'
        FROM feedback f LEFT JOIN scores s ON s.score_id = 's' || f.source_id""")
    _x(con, "DELETE FROM answers")
    _x(con, """INSERT INTO answers SELECT score_id, kind, value, scale, customer_id, occurred_at,
        CAST(occurred_at AS DATE), touchpoint, 'survey', NULL, 'survey', 'en' FROM scores""")
    _x(con, "DELETE FROM aggregates")
    _x(con, """INSERT INTO aggregates (event_date, touchpoint, channel, language, volume, sentiment_mean)
        SELECT event_date, touchpoint, channel, language, count(*), round(avg(sentiment_score), 6)
        FROM feedback GROUP BY ALL""")


def touch(data_dir: str | os.PathLike, fraction: float, tag: str = "edit", stamp_minutes: int = 10,
          offset: int = 0, stride: int | None = None) -> int:
    """A run that touches ``fraction`` of the records: new versions of feedback rows (text, stamp, their
    sentences), as many new feedback records, edited answers; derived tables recomputed. Returns the
    rows changed (inserted, deleted or updated, per table)."""
    con = store.connect(data_dir)
    try:
        before = {t: _fingerprint(con, t) for t in store.SCHEMA}
        n = _x(con, "SELECT count(*) FROM feedback").fetchone()[0]
        k = max(1, int(n * fraction / 2))
        stride = stride or max(1, n // k)
        p = {"k": k, "stride": stride, "off": offset, "tag": tag, "file": f"{tag}.jsonl", "sha": f"sha_{tag}",
             "m": stamp_minutes}
        seq = _x(con, "SELECT coalesce(max(ingest_seq), 0) + 1 FROM ingested_files").fetchone()[0]
        _x(con, "CREATE OR REPLACE TEMP TABLE _ids AS SELECT 'reviews:' || ((i * $stride + $off) % "
                    f"{n}) AS feedback_id FROM range($k) t(i)", {"k": k, "stride": stride, "off": offset})
        _x(con, """UPDATE feedback SET text = text || ' (' || $tag || ')', content_hash = md5(text || $tag),
                version_ts = version_ts + to_minutes($m), occurred_at = occurred_at + to_minutes($m), input_file = $file,
                file_sha256 = $sha, sentiment_score = 1 - sentiment_score
            WHERE feedback_id IN (SELECT feedback_id FROM _ids)""", {"tag": tag, "file": p["file"], "sha": p["sha"],
                                                                   "m": stamp_minutes})
        _x(con, "UPDATE sentences SET text = text || ' ' || $tag, sentiment_label = 'negative' "
                    "WHERE feedback_id IN (SELECT feedback_id FROM _ids)", {"tag": tag})
        _x(con, """INSERT INTO feedback (feedback_id, channel, source, source_id, touchpoint, occurred_at,
                event_date, language, text, input_file, input_line, sentiment_score, content_hash, version_ts,
                file_sha256)
            SELECT 'reviews:' || $tag || i, 'review', 'reviews', $tag || i, 'tp' || (i % 7),
                TIMESTAMP '2026-03-01' + to_minutes(i), DATE '2026-03-01', 'en', 'new ' || $tag || i, $file, i, 0.5,
                md5('new ' || $tag || i), TIMESTAMP '2026-03-01' + to_minutes(i), $sha FROM range($k) t(i)""", p)
        _x(con, """INSERT INTO sentences (feedback_id, idx, language, text, sentiment_label)
            SELECT 'reviews:' || $tag || i, 0, 'en', 'new ' || $tag || i, 'neutral' FROM range($k) t(i)""", p)
        _x(con, """UPDATE scores SET value = 10 - value, content_hash = md5(content_hash || $tag),
                version_ts = version_ts + to_minutes($m), input_file = $file, file_sha256 = $sha
            WHERE score_id IN (SELECT 's' || split_part(feedback_id, ':', 2) FROM _ids)""",
                    {"tag": tag, "file": p["file"], "sha": p["sha"], "m": stamp_minutes})
        _x(con, "DELETE FROM ingested_files WHERE sha256 = $sha", {"sha": p["sha"]})
        _x(con, "INSERT INTO ingested_files VALUES ($sha, $file, 'reviews', 'run-' || $tag, $k, '/in/' || $file, "
                    "'cfg1', '{}', $seq)", {"sha": p["sha"], "file": p["file"], "tag": tag, "k": 2 * k, "seq": seq})
        _x(con, "INSERT INTO runs (run_id, flow, started_at, status) VALUES ('run-' || $tag, 'nightly', "
                    "TIMESTAMP '2026-03-02', 'published')", {"tag": tag})
        derive(con)
        return sum(_changed(before[t], _fingerprint(con, t)) for t in store.SCHEMA)
    finally:
        con.close()


def _fingerprint(con, table: str) -> dict:
    from collections import Counter

    return Counter(r[0] for r in con.execute(f"SELECT {pgsync._hash_sql(table)} FROM {table}").fetchall())


def _changed(a, b) -> int:
    """Rows changed between two multisets of row hashes: an update counts once (max of removed, added)."""
    return max(sum((a - b).values()), sum((b - a).values()))


# ---------------------------------------------------------------- a throwaway server

@contextmanager
def local_postgres():
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not bindir:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql; pass --url")
    bindir = bindir[-1].parent
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="touchpoint-pgbench-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chown(root, owner.pw_uid, owner.pw_gid)
    pgdata, pwfile = root / "data", root / "pw"
    pwfile.write_text("bench")
    if as_user:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(pgdata), "-U", "touchpoint", "--auth=scram-sha-256",
                    f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    with open(pgdata / "postgresql.conf", "a", encoding="utf-8") as fh:  # as the test server
        fh.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
                 "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(root / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://touchpoint:bench@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- the benchmark

def bench_one(url: str, rows_target: int, fraction: float, work: Path, repeat: int = 5) -> list[dict]:
    # rows per feedback record: 1 + 2 sentences + 1 utterance + 0.5 scores + 0.1 tickets + 0.02 quarantine
    # + 1 feedback_scores + 0.5 answers
    n_feedback = max(100, int(rows_target / 6.12))
    schema = f"bench_{rows_target}"
    a, b = work / f"a_{rows_target}", work / f"b_{rows_target}"
    total = build_store(a, n_feedback)
    with pgstore.SharedStore(url, schema, run_lock=False) as s:
        full = s.push(a, "seed")  # today's push: every table, DELETE + COPY
        assert full["mode"] == "full"
        t = time.perf_counter()
        full_pull = s.pull(b)  # a second machine's first pull: every table
        full_pull_s = time.perf_counter() - t
        assert full_pull["mode"] == "full"
    changed = touch(a, fraction)
    scan = scan_seconds(a)
    snap_a, snap_b = work / f"a_{rows_target}.touched", work / f"b_{rows_target}.pulled"
    shutil.copytree(a, snap_a)
    shutil.copytree(b, snap_b)
    pushes, pulls = [], []
    for i in range(repeat):  # each from the same local copies; Postgres merges the same keys again
        if i:
            for d, snap in ((a, snap_a), (b, snap_b)):
                shutil.rmtree(d)
                shutil.copytree(snap, d)
        os.sync()  # the copies' writeback out of the timings
        time.sleep(1)
        with pgstore.SharedStore(url, schema, run_lock=False) as s:
            inc = s.push(a, "edit")
            assert inc["mode"] == "incremental"
            inc_pull = s.pull(b)
            assert inc_pull["mode"] == "incremental"
        pushes.append(inc["seconds"])
        pulls.append(inc_pull["seconds"])
    store_rows = sum(total for total in [total])
    return [
        {"op": "push", "rows": store_rows, "changed": changed, "moved": sum(inc["rows"].values()),
         "seconds": statistics.median(pushes), "min": min(pushes), "full": full["seconds"], "scan": scan},
        {"op": "pull", "rows": store_rows, "changed": changed, "moved": sum(inc_pull["rows"].values()),
         "seconds": statistics.median(pulls), "min": min(pulls), "full": full_pull_s, "scan": None},
    ]


def scan_seconds(data_dir: Path) -> dict[str, float]:
    """The push's change detection alone (pgsync._dirty over every table, as push runs it first), on its
    own connection before the push: seconds for the input tables (what publish writes by key) and for the
    rest (the derived tables publish recomputes whole, the analysis tables). Temp tables only: the store
    and its baselines are left as they were."""
    con = store.connect(data_dir)
    try:
        out = {"input": 0.0, "other": 0.0}
        for table in store.SCHEMA:
            t = time.perf_counter()
            pgsync._dirty(con, table)
            out["input" if table in INPUT_TABLES else "other"] += time.perf_counter() - t
        return out
    finally:
        con.close()


INPUT_TABLES = ("feedback", "utterances", "sentences", "scores", "tickets", "quarantine")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--touch", type=float, default=0.01)
    ap.add_argument("--repeat", type=int, default=5, help="incremental push and pull timings per size (median)")
    ap.add_argument("--url", help="a PostgreSQL URL to use (a schema bench_<rows> is replaced there)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="touchpoint-pgpush-"))
    try:
        with (local_postgres() if not args.url else _given(args.url)) as url:
            print(f"load average {_load()}")
            print(f"{'op':<5} {'rows in store':>13} {'rows changed':>12} {'rows moved':>10} {'moved %':>8} "
                  f"{'median s':>8} {'min s':>6} {'full-copy s':>11} {'ratio':>7} {'scan s (input + other)':>23}  load",
                  flush=True)
            for n in args.rows:
                for r in bench_one(url, n, args.touch, work, args.repeat):
                    sc = r["scan"]
                    scan = (f"{sc['input'] + sc['other']:.2f} ({sc['input']:.2f} + {sc['other']:.2f})" if sc
                            else "")
                    print(f"{r['op']:<5} {r['rows']:>13,} {r['changed']:>12,} {r['moved']:>10,} "
                          f"{100 * r['moved'] / r['rows']:>7.2f}% {r['seconds']:>8.2f} {r['min']:>6.2f} {r['full']:>11.2f} "
                          f"{r['seconds'] / r['full']:>7.3f} {scan:>23}  {_load()}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


@contextmanager
def _given(url: str):
    yield url


if __name__ == "__main__":
    main()

"""The DuckDB store: schema, one-transaction publish of staged Parquet parts, run lock.

Publishing is all-or-nothing: one transaction deletes the rows whose keys are being republished
(child rows of republished feedback too), inserts the staged rows, recomputes the score join and
the daily aggregates, and records the run manifest. A crash before COMMIT leaves the previous
state untouched. All SQL is parameterised; paths and values never go into SQL text.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb

from pipeline.errors import StoreError
from pipeline.metrics import AGGREGATES_SQL, ANSWERS_SQL, FEEDBACK_SCORES_SQL, ID_CUSTOMER_MISMATCH_SQL
# the schema lives in its own module; callers read it as store.SCHEMA, store.KEYS, store.DATA_TABLES too
from pipeline.storage.schema import CHILDREN, DATA_TABLES, KEYS, PARENTS, SCHEMA, VIEWS, columns  # noqa: F401

_KEY_TEXT = {"feedback": "w.source || ':' || w.source_id", "scores": "w.score_id", "tickets": "w.ticket_id"}


def _channel(table: str, alias: str) -> str:
    return {"feedback": f"{alias}.channel", "scores": "'survey'", "tickets": "'ticket'"}[table]


def db_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "touchpoint.duckdb"


def connect(data_dir: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = db_path(data_dir)
    if read_only and not path.exists():
        raise StoreError(f"no store at {path}; run `touchpoint run nightly` or `touchpoint demo` first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except PermissionError as exc:
        raise StoreError(f"cannot write {path.parent}: {exc.strerror}; choose a writable --data-dir") from None
    except duckdb.IOException as exc:
        msg = str(exc).splitlines()[0]
        if "lock" in msg.lower():
            raise StoreError(f"{path} is locked by another process ({msg}); wait for it to finish or close "
                             f"the program holding it") from None
        raise StoreError(f"cannot open {path}: {msg}") from None
    if not read_only:
        ensure_schema(con)
    return con


# What ensure_schema creates; a store stamped with it is current and each write connection skips the
# ~40 catalogue statements (0.1 s a connection, several connections a run).
SCHEMA_SHA = hashlib.sha256(repr((sorted(SCHEMA.items()), sorted(VIEWS.items()))).encode()).hexdigest()[:16]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and add columns a newer Touchpoint introduced (stores are upgraded in place)."""
    try:
        if con.execute("SELECT sha FROM tp_schema").fetchall() == [(SCHEMA_SHA,)]:
            return
    except duckdb.CatalogException:  # a new store, or one from before the stamp
        pass
    for table, cols in SCHEMA.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
        for col in cols.split(","):
            name, typ = col.split()[:2]
            if name not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {typ}")
                if name == "version_ts" and table in VERSION_TS:  # stores from before record versions
                    con.execute(f"UPDATE {table} SET version_ts = CAST({VERSION_TS[table]} AS TIMESTAMP)")
    for name, sql in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    con.execute("CREATE OR REPLACE TABLE tp_schema (sha VARCHAR)")
    con.execute("INSERT INTO tp_schema VALUES (?)", [SCHEMA_SHA])
    for old, new in (("input_file", "record_hash"),):  # quarantine keyed by content now
        con.execute(f"UPDATE quarantine SET {new} = {old} || ':' || input_line WHERE {new} IS NULL")


def check_writable(data_dir: str | os.PathLike) -> None:
    """Fail fast, before any processing, when the store cannot be opened for writing."""
    d = Path(data_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {d}: {exc.strerror}; choose another --data-dir") from None
    if not os.access(d, os.W_OK | os.X_OK):
        raise StoreError(f"the data directory {d} is not writable; fix its permissions or choose another --data-dir")
    connect(data_dir).close()


@contextmanager
def run_lock(data_dir: str | os.PathLike) -> Iterator[None]:
    """Exclusive lock so two runs on one store never publish at once; the second fails fast.

    The lock file is opened without following symlinks and never truncated.
    """
    d = Path(data_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / ".touchpoint.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"{d / '.touchpoint.lock'} is a symbolic link; remove it (Touchpoint never follows "
                             f"links for its lock)") from None
        raise StoreError(f"cannot create the run lock in {d}: {exc.strerror}; choose a writable --data-dir") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"another Touchpoint run holds {d / '.touchpoint.lock'}; wait for it to finish") from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def ingested_hashes(data_dir: str | os.PathLike) -> set[str]:
    if not db_path(data_dir).exists():
        return set()
    con = connect(data_dir)
    try:
        return {r[0] for r in con.execute("SELECT sha256 FROM ingested_files").fetchall()}
    finally:
        con.close()


def stale_files(data_dir: str | os.PathLike, config_hash: str, models: dict[str, str],
                since: Any = None, include_current: bool = False) -> list[dict[str, Any]]:
    """Ingested files whose stored rows came from another config or model version (or all, with
    ``include_current``), optionally only those ingested by runs started on or after ``since``."""
    if not db_path(data_dir).exists():
        return []
    con = connect(data_dir, read_only=True)
    try:
        rows = con.execute("""SELECT i.sha256, i.input_file, i.source, i.path, i.config_hash, i.models,
                r.started_at FROM ingested_files i LEFT JOIN runs r USING (run_id)
            WHERE (? OR i.config_hash IS DISTINCT FROM ? OR i.models IS DISTINCT FROM ?)
              AND (CAST(? AS TIMESTAMP) IS NULL OR r.started_at >= CAST(? AS TIMESTAMP))
            ORDER BY r.started_at, i.input_file""",
                           [include_current, config_hash, json.dumps(models, sort_keys=True), since, since]).fetchall()
    finally:
        con.close()
    cols = ["sha256", "input_file", "source", "path", "config_hash", "models", "started_at"]
    return [dict(zip(cols, r)) for r in rows]


def _stage(con: duckdb.DuckDBPyConnection, name: str, parts: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_parquet(?, union_by_name=true)", [parts])


# A record's own stamp: the newest version of a record wins by it (RELIABILITY property 16).
VERSION_TS = {"feedback": "occurred_at", "scores": "occurred_at", "tickets": "coalesce(resolved_at, opened_at)"}
_NO_TS = "TIMESTAMP '0001-01-01'"


_PARTS = ("ts", "seq", "oline", "hash", "sha", "file", "line")


def _lex_less(a: str, b: str, parts: tuple[str, ...]) -> str:
    out = f"{a}_{parts[-1]} < {b}_{parts[-1]}"
    for part in reversed(parts[:-1]):
        out = f"({a}_{part} < {b}_{part} OR ({a}_{part} = {b}_{part} AND {out}))"
    return out


def _newer(a: str, b: str) -> str:
    """SQL: the version ``a`` is to be kept over ``b``; each side names ``{x}_ts, {x}_seq, {x}_oline,
    {x}_hash, {x}_sha, {x}_file, {x}_line`` (``_version_cols``).

    The record's own stamp decides (RELIABILITY 16). The same content at the same stamp is one record:
    the copy with the lowest file hash, name and line is kept, whichever arrived first, and the same
    line of the same file (a rescore) replaces. Other content at the same stamp, or no stamp: ingest
    order (the position at which the store first saw the file's content, then the line), then content.
    """
    return f"""CASE WHEN {a}_ts <> {b}_ts THEN {a}_ts > {b}_ts
        WHEN {a}_hash = {b}_hash THEN {_lex_less(a, b, ("sha", "file", "line"))}
        ELSE NOT ({_lex_less(a, b, ("seq", "oline", "hash"))}) END"""


def _version_cols(alias: str, prefix: str, seq: str, oline: str | None = None) -> str:
    return (f"coalesce({alias}.version_ts, {_NO_TS}) AS {prefix}_ts, coalesce({seq}, 0) AS {prefix}_seq, "
            f"coalesce({oline or alias + '.input_line'}, 0) AS {prefix}_oline, "
            f"coalesce({alias}.content_hash, '') AS {prefix}_hash, coalesce({alias}.file_sha256, '') AS {prefix}_sha, "
            f"coalesce({alias}.input_file, '') AS {prefix}_file, coalesce({alias}.input_line, 0) AS {prefix}_line")


def _ingest_order(con: duckdb.DuckDBPyConnection, files: list[dict[str, Any]]) -> None:
    """Temp tables ``_run_order`` (this run's files: seq, sha256, ingest_seq) and ``_file_order`` (every
    file the store or this run knows: sha256, ingest_seq). A file keeps the position at which the store
    first saw its content, so a rerun or rescore of an old file stays old."""
    known = dict(con.execute("SELECT sha256, min(ingest_seq) FROM ingested_files WHERE ingest_seq IS NOT NULL "
                             "GROUP BY sha256").fetchall())
    nxt = int(con.execute("SELECT coalesce(max(ingest_seq), 0) FROM ingested_files").fetchone()[0]) + 1
    rows = []
    for f in sorted(files, key=lambda f: f.get("seq", 0)):
        if f["sha256"] not in known:
            known[f["sha256"]], nxt = nxt, nxt + 1
        rows.append([f.get("seq", 0), f["sha256"], known[f["sha256"]]])
    con.execute("CREATE OR REPLACE TEMP TABLE _run_order (seq INTEGER, sha256 VARCHAR, ingest_seq BIGINT)")
    if rows:
        con.executemany("INSERT INTO _run_order VALUES (?, ?, ?)", rows)
    con.execute("""CREATE OR REPLACE TEMP TABLE _file_order AS SELECT sha256, min(ingest_seq) AS ingest_seq FROM (
        SELECT sha256, ingest_seq FROM ingested_files UNION ALL SELECT sha256, ingest_seq FROM _run_order)
        GROUP BY sha256""")


def _resolve_parent(con: duckdb.DuckDBPyConnection, table: str, parts: list[str], run_id: str) -> None:
    """Stage one parent table and decide each staged row's fate.

    For each key the newest staged row wins (inside a file the later line at an equal stamp, then
    across files by ``_newer``'s order); earlier rows with the same
    content are duplicates, with different content superseded, and a conflict row is written. The
    winner then meets the stored row of its key: it replaces it unless the stored row is newer, in
    which case the staged row is superseded (or a duplicate, same content) and the store keeps its
    row. So loading A then B, B then A, or rescoring A afterwards, ends in the same store.
    """
    key = PARENTS[table]
    _stage(con, f"_raw_{table}", parts)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _st_{table} AS SELECT r.*, o.sha256 AS file_sha256,
        o.ingest_seq AS _iseq, CAST({VERSION_TS[table]} AS TIMESTAMP) AS version_ts
        FROM _raw_{table} r JOIN _run_order o ON o.seq = r._seq""")
    twice = con.execute(f"SELECT count(*) - count(DISTINCT (input_file, input_line, {key})) FROM _st_{table}").fetchone()[0]
    if twice:
        raise StoreError(f"{twice} {table} rows were staged twice for the same input record; nothing was "
                         f"published. Please report this as a bug")
    # Three steps. Inside one file the later line is the later version (at an equal stamp: an edit exported
    # below the original). Across files, copies of the same content at the same stamp are one version,
    # kept at its lowest location and as recent as its latest arrival. Then versions rank by stamp,
    # ingest order, content (``_newer``), and the winner meets the stored row.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _f1_{table} AS SELECT *, row_number() OVER (
        PARTITION BY {key}, _seq ORDER BY version_ts DESC NULLS LAST, input_line DESC) AS _in_file FROM _st_{table}""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _grp_{table} AS SELECT *, row_number() OVER (
            PARTITION BY {key} ORDER BY version_ts DESC NULLS LAST, _gseq DESC, _gline DESC, content_hash DESC) AS _g
        FROM (SELECT {key}, content_hash, version_ts, max(_iseq) AS _gseq, max(input_line) AS _gline,
                     min((coalesce(file_sha256, ''), input_file, input_line)) AS _loc
              FROM _f1_{table} WHERE _in_file = 1 GROUP BY {key}, content_hash, version_ts)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _rk_{table} AS SELECT f.* EXCLUDE (_in_file),
        CASE WHEN f._in_file = 1 AND g._g = 1 AND (coalesce(f.file_sha256, ''), f.input_file, f.input_line) = g._loc
             THEN 1 ELSE 2 END AS _rank, g._gseq, g._gline
        FROM _f1_{table} f LEFT JOIN _grp_{table} g ON g.{key} = f.{key} AND g.content_hash IS NOT DISTINCT FROM
             f.content_hash AND g.version_ts IS NOT DISTINCT FROM f.version_ts""")
    # the run's newest row per key, and whether the stored row of its key is to be kept over it
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cand_{table} AS SELECT w.* EXCLUDE (_rank, _gseq, _gline),
        coalesce({_newer("e", "w")}, false) AS _stored_newer, e.content_hash AS _stored_hash
        FROM (SELECT *, {_version_cols("r", "w", "r._gseq", "r._gline")} FROM _rk_{table} r WHERE _rank = 1) w
        LEFT JOIN (SELECT x.{key}, x.content_hash, {_version_cols("x", "e", "fo.ingest_seq")} FROM {table} x
                   LEFT JOIN _file_order fo ON fo.sha256 = x.file_sha256) e USING ({key})""")
    version = ", ".join(f"w_{p}" for p in _PARTS)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _win_{table} AS SELECT * EXCLUDE (_stored_newer, _stored_hash,
        {version}) FROM _cand_{table} WHERE NOT _stored_newer""")
    con.execute(f"""INSERT INTO _fate SELECT {_channel(table, 'r')}, r.input_file, r.input_line,
        CASE WHEN r._rank = 1 AND NOT c._stored_newer THEN 'staged'
             WHEN r._rank = 1 THEN CASE WHEN r.content_hash = c._stored_hash THEN 'duplicate' ELSE 'superseded' END
             WHEN r.content_hash = c.content_hash THEN 'duplicate'
             ELSE 'superseded' END
        FROM _rk_{table} r JOIN _cand_{table} c USING ({key})""")
    cols = "run_id, table_name, record_key, kind, previous_hash, new_hash, previous_file, previous_line, new_file, new_line"
    con.execute(f"""INSERT INTO conflicts ({cols}) SELECT ?, ?, {_KEY_TEXT[table]}, 'within_run',
        r.content_hash, w.content_hash, r.input_file, r.input_line, w.input_file, w.input_line
        FROM _rk_{table} r JOIN _cand_{table} w USING ({key})
        WHERE r._rank > 1 AND r.content_hash <> w.content_hash""", [run_id, table])
    # vs_store: the staged winner replaced a stored row with other content; vs_store_newer: the stored
    # row is newer and stays (the staged row is an older version of the record)
    con.execute(f"""INSERT INTO conflicts ({cols}) SELECT ?, ?, {_KEY_TEXT[table]},
        CASE WHEN w._stored_newer THEN 'vs_store_newer' ELSE 'vs_store' END,
        e.content_hash, w.content_hash, e.input_file, e.input_line, w.input_file, w.input_line
        FROM {table} e JOIN _cand_{table} w USING ({key})
        WHERE e.content_hash IS NOT NULL AND e.content_hash <> w.content_hash""", [run_id, table])


def _insert(con: duckdb.DuckDBPyConnection, table: str, source: str) -> None:
    """Insert the table's columns from ``source``; columns the staged rows lack (a model that was not
    built, parts from an older version) are NULL."""
    have = {r[0] for r in con.execute(f"DESCRIBE {source}").fetchall()}
    cols = columns(table)
    select = ", ".join(c if c in have else f"NULL AS {c}" for c in cols)
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {source}")


def _published_records(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per channel, the staged records whose rows are now in the store (read back, not assumed)."""
    found = []
    for table, key in PARENTS.items():
        found.append(f"""SELECT {_channel(table, 't')} AS channel, t.input_file,
            t.input_line FROM {table} t JOIN _win_{table} w ON t.{key} = w.{key}
            AND t.content_hash = w.content_hash AND t.input_file = w.input_file AND t.input_line = w.input_line""")
    sql = f"SELECT channel, count(*) FROM (SELECT DISTINCT * FROM ({' UNION ALL '.join(found)})) GROUP BY channel"
    return dict(con.execute(sql).fetchall())


def _record_fates(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per channel: records staged, and those dropped as duplicates or superseded at publish."""
    rows = con.execute("""SELECT channel, fate, count(*) FROM (
        SELECT channel, input_file, input_line,
               CASE WHEN bool_or(fate = 'staged') THEN 'staged'
                    WHEN bool_or(fate = 'superseded') THEN 'superseded' ELSE 'duplicate' END AS fate
        FROM _fate GROUP BY ALL) GROUP BY ALL""").fetchall()
    out: dict[str, dict[str, int]] = {}
    for ch, fate, n in rows:
        out.setdefault(ch, {})[fate] = n
    return out


def reconcile(files: list[dict[str, Any]], fates: dict[str, dict[str, int]],
              published: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per-channel counts of the run, checked against what was actually published.

    in = out + quarantined + duplicates + superseded must hold for every channel, where ``out`` is
    read back from the store inside the publish transaction. A mismatch is a bug: the publish is
    rolled back.
    """
    counts: dict[str, dict[str, int]] = {}
    for f in files:
        c = counts.setdefault(f["channel"], {"in": 0, "out": 0, "quarantined": 0, "duplicates": 0,
                                             "superseded": 0, "files": 0})
        c["in"] += f["rows_in"]
        c["quarantined"] += f["quarantined"]
        c["duplicates"] += f["duplicates"]
        c["files"] += 1
        if f.get("fragments"):
            c["fragments_quarantined"] = c.get("fragments_quarantined", 0) + f["fragments"]
    for ch, c in counts.items():
        fate = fates.get(ch, {})
        c["out"] = published.get(ch, 0)
        c["duplicates"] += fate.get("duplicate", 0)
        c["superseded"] = fate.get("superseded", 0)
        staged = sum(f["rows_out"] for f in files if f["channel"] == ch)
        if staged != sum(fate.values()) or fate.get("staged", 0) != c["out"] or \
                c["in"] != c["out"] + c["quarantined"] + c["duplicates"] + c["superseded"]:
            raise StoreError(f"counts do not reconcile for {ch}: {c}; staged {staged}, publish saw {fate}. "
                             f"Nothing was published; please report this as a bug")
    return counts


# Columns that hold a pseudonym once stored, with its prefix (pipeline/identity.py).
PSEUDONYM_COLUMNS = {"customer_id": ("pid_", ("feedback", "scores", "tickets", "answers", "followup_queue")),
                     "speaker": ("spk_", ("utterances",))}


def migrate_pseudonyms(con: duckdb.DuckDBPyConnection, pseudonyms: dict[str, Callable[[str], str | None]]) -> int:
    """Replace values stored raw by an older Touchpoint (customer ids that were not an email or phone,
    speaker labels) with their pseudonyms, so old rows keep joining new ones. Returns rows changed;
    a store that holds none is a no-op (one scan per column)."""
    changed = 0
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for col, (prefix, tables) in PSEUDONYM_COLUMNS.items():
        if col not in pseudonyms:
            continue
        for table in tables:
            if table not in have:
                continue
            raw = [r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL "
                                             f"AND NOT starts_with({col}, ?)", [prefix]).fetchall()]
            if not raw:
                continue
            con.execute("CREATE OR REPLACE TEMP TABLE _pseudo (raw VARCHAR, pseudo VARCHAR)")
            con.executemany("INSERT INTO _pseudo VALUES (?, ?)", [[v, pseudonyms[col](v)] for v in raw])
            changed += con.execute(f"UPDATE {table} SET {col} = p.pseudo FROM _pseudo p "
                                   f"WHERE {table}.{col} = p.raw").fetchone()[0]
    return changed


def publish(data_dir: str | os.PathLike, parts: dict[str, list[str]], run: dict[str, Any],
            files: list[dict[str, Any]], window_days: int,
            on_staged: Callable[[str], None] | None = None,
            pseudonyms: dict[str, Callable[[str], str | None]] | None = None) -> dict[str, Any]:
    """Publish staged parts and recompute derived tables in one transaction.

    ``on_staged(table)`` is called after each table is written inside the open transaction (tests use
    it to fail or kill a publish halfway and show that nothing becomes visible). ``pseudonyms`` maps
    ``customer_id`` / ``speaker`` to the run's pseudonym functions: raw values an older version
    stored are replaced in the same transaction (``migrate_pseudonyms``).
    """
    con = connect(data_dir)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE OR REPLACE TEMP TABLE _fate (channel VARCHAR, input_file VARCHAR, input_line INTEGER, "
                    "fate VARCHAR)")
        written: dict[str, int] = {}
        migrated = migrate_pseudonyms(con, pseudonyms) if pseudonyms else 0
        _ingest_order(con, files)
        for table, key in PARENTS.items():
            if not parts.get(table):
                con.execute(f"CREATE OR REPLACE TEMP TABLE _win_{table} AS SELECT *, 0 AS _seq FROM {table} "
                            f"WHERE false")
                continue
            _resolve_parent(con, table, parts[table], run["run_id"])
            if table == "feedback":  # republished feedback replaces all its child rows
                for child in CHILDREN:
                    con.execute(f"DELETE FROM {child} WHERE feedback_id IN (SELECT feedback_id FROM _win_feedback)")
            con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _win_{table})")
            _insert(con, table, f"_win_{table}")
            written[table] = con.execute(f"SELECT count(*) FROM _win_{table}").fetchone()[0]
            if on_staged is not None:
                on_staged(table)
        for child in CHILDREN:  # only the children of the winning version of each feedback record
            if parts.get(child):
                _stage(con, f"_st_{child}", parts[child])
                con.execute(f"""CREATE OR REPLACE TEMP TABLE _win_{child} AS SELECT c.* FROM _st_{child} c
                    JOIN _win_feedback w ON c.feedback_id = w.feedback_id AND c.input_file = w.input_file
                    AND c.input_line = w.input_line""")
                _insert(con, child, f"_win_{child}")
                written[child] = con.execute(f"SELECT count(*) FROM _win_{child}").fetchone()[0]
            if on_staged is not None:
                on_staged(child)
        # a republished file (same content, or same name in its source) replaces its quarantine rows
        con.execute("CREATE OR REPLACE TEMP TABLE _files (sha256 VARCHAR, source VARCHAR, input_file VARCHAR)")
        con.executemany("INSERT INTO _files VALUES (?, ?, ?)", [[f["sha256"], f["source"], f["input_file"]]
                                                                 for f in files])
        con.execute("""DELETE FROM quarantine q USING _files f WHERE q.file_sha256 = f.sha256
            OR (q.source = f.source AND q.input_file = f.input_file)""")
        if parts.get("quarantine"):
            _stage(con, "_st_quarantine", parts["quarantine"])
            # one row per bad record, the same whatever order files come in: the lowest file name keeps it
            con.execute("""CREATE OR REPLACE TEMP TABLE _win_quarantine AS SELECT * FROM _st_quarantine
                QUALIFY row_number() OVER (PARTITION BY source, record_hash, input_line ORDER BY input_file) = 1""")
            con.execute("""DELETE FROM quarantine q USING _win_quarantine w WHERE q.source = w.source
                AND q.record_hash = w.record_hash AND q.input_line = w.input_line AND q.input_file >= w.input_file""")
            con.execute("""DELETE FROM _win_quarantine w WHERE EXISTS (SELECT 1 FROM quarantine q WHERE
                q.source = w.source AND q.record_hash = w.record_hash AND q.input_line = w.input_line)""")
            _insert(con, "quarantine", "_win_quarantine")
            written["quarantine"] = con.execute("SELECT count(*) FROM _win_quarantine").fetchone()[0]
        if on_staged is not None:
            on_staged("quarantine")
        counts = reconcile(files, _record_fates(con), _published_records(con))
        con.execute("DELETE FROM feedback_scores")
        con.execute(FEEDBACK_SCORES_SQL, {"window_s": window_days * 86400})
        con.execute("DELETE FROM answers")
        con.execute(ANSWERS_SQL)
        con.execute("DELETE FROM aggregates")
        con.execute(AGGREGATES_SQL)
        unmatched = con.execute(
            "SELECT count(*) FROM feedback_scores WHERE nps IS NULL AND csat IS NULL AND ces IS NULL "
            "AND ticket_id IS NULL").fetchone()[0]
        ambiguous = con.execute("SELECT count(*) FROM feedback_scores WHERE ambiguous_kinds IS NOT NULL").fetchone()[0]
        mismatched = con.execute(ID_CUSTOMER_MISMATCH_SQL).fetchone()[0]
        conflicts = con.execute("SELECT count(*) FROM conflicts WHERE run_id = ?", [run["run_id"]]).fetchone()[0]
        order = dict(con.execute("SELECT sha256, ingest_seq FROM _file_order").fetchall())
        for f in files:
            con.execute("DELETE FROM ingested_files WHERE sha256 = ?", [f["sha256"]])
            con.execute(f"INSERT INTO ingested_files ({', '.join(columns('ingested_files'))}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [f["sha256"], f["input_file"], f["source"], run["run_id"], f["rows_in"], f.get("path"),
                         run["config_hash"], json.dumps(run["models"], sort_keys=True), order.get(f["sha256"])])
        warnings = [w for f in files for w in f.get("warnings", [])] + list(run.get("warnings", []))
        con.execute(f"INSERT INTO runs ({', '.join(columns('runs'))}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            run["run_id"], run["flow"], run["started_at"], run["finished_at"], "published", run["config_hash"],
            json.dumps(run["models"], sort_keys=True), json.dumps(counts, sort_keys=True), len(files),
            unmatched, conflicts, json.dumps(warnings, ensure_ascii=False), ambiguous, mismatched])
        con.execute("COMMIT")
        return {"written": written, "unmatched_feedback": int(unmatched), "counts": counts,
                "conflicts": int(conflicts), "warnings": warnings, "ambiguous_matches": int(ambiguous),
                "id_customer_mismatches": int(mismatched), "pseudonymised_stored_values": migrated}
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    finally:
        con.close()


def add_run_warning(data_dir: str | os.PathLike, run_id: str, warning: str) -> None:
    """Append a warning to a published run (a post-publish analysis step that failed)."""
    con = connect(data_dir)
    try:
        row = con.execute("SELECT warnings FROM runs WHERE run_id = ?", [run_id]).fetchone()
        warnings = json.loads(row[0] or "[]") if row else []
        warnings.append(warning)
        con.execute("UPDATE runs SET warnings = ? WHERE run_id = ?", [json.dumps(warnings, ensure_ascii=False), run_id])
    finally:
        con.close()


def table_rows(data_dir: str | os.PathLike, table: str) -> list[tuple]:
    """Every row of a table in a canonical order (for determinism checks and exports)."""
    return tables_rows(data_dir, [table])[table]


def tables_rows(data_dir: str | os.PathLike, tables=DATA_TABLES) -> dict[str, list[tuple]]:
    """``table_rows`` of several tables, read on one connection (one snapshot of the store)."""
    unknown = [t for t in tables if t not in SCHEMA]
    if unknown:
        raise StoreError(f"unknown table {unknown[0]!r}")
    con = connect(data_dir, read_only=True)
    try:
        out = {}
        for table in tables:
            order = ", ".join(str(i) for i in range(1, len(columns(table)) + 1))
            out[table] = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        return out
    finally:
        con.close()

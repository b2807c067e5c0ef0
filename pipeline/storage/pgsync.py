"""The local side of the shared store's sync: which rows changed since the last push or pull.

Each table's rows are grouped by a sync key (a feedback record with its utterances and sentences; the
natural key elsewhere; the row's content for tables without one). The local DuckDB keeps a baseline of
row hashes per key (``tp_sync_<table>``) and the last synced store id and revision (``tp_sync_state``);
a push or pull compares the rows with the baseline and moves only the keys that differ. Postgres-side
SQL stays in pgstore.py. Imports: ``pipeline.storage.store`` only.
"""

from __future__ import annotations

from pipeline.storage import store

CHANGES_TABLE = "touchpoint_changes"  # Postgres only: (rev, table_name, tp_key) of every key each push touched
SYNC_FORMAT = "1"  # the store carries tp_key columns and the change log
KEEP_REVISIONS = 1000  # pushes the change log reaches back; a runner further behind pulls in full


def column_types(table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of a store table, in schema order."""
    out = []
    for col in store.SCHEMA[table].split(","):
        name, typ = col.split()[:2]
        out.append((name, typ.upper()))
    return out



FAMILY = ("feedback", "utterances", "sentences")  # a feedback record and its child rows move together
# The key each table's rows are grouped by for sync: a group is replaced as a whole, in both directions.
# Tables not listed are keyed by each row's content (conflicts, key drivers, the topic discovery tables).
GROUP_KEYS = {
    "feedback": ["feedback_id"], "utterances": ["feedback_id"], "sentences": ["feedback_id"],
    "scores": ["score_id"], "tickets": ["ticket_id"], "quarantine": ["source", "record_hash", "input_line"],
    "ingested_files": ["sha256"], "runs": ["run_id"], "feedback_scores": ["feedback_id"], "answers": ["score_id"],
    "aggregates": ["event_date", "touchpoint", "channel", "language"], "followup_queue": ["item_id"],
    "alerts": ["alert_id"], "call_metrics": ["feedback_id"], "discovered_topics": ["topic_id"],
}


def _key_sql(table: str) -> str:
    """DuckDB SQL: a row's sync key (``tp_key`` in Postgres), text that never is NULL."""
    cols = GROUP_KEYS.get(table)
    if cols is None:
        return "md5(CAST(struct_pack({}) AS VARCHAR))".format(", ".join(f"{c} := {c}" for c in store.columns(table)))
    parts = [f"coalesce(CAST({c} AS VARCHAR), chr(1))" for c in cols]
    return parts[0] if len(parts) == 1 else f"concat_ws(chr(31), {', '.join(parts)})"


def _hash_sql(table: str) -> str:
    """DuckDB SQL: a 64-bit hash of a row's content (a changed row gets another one)."""
    return f"hash({', '.join(store.columns(table))})"


def _baseline(table: str) -> str:
    return f"tp_sync_{table}"


_BASELINE_DDL = "(h UBIGINT, n INTEGER, k VARCHAR)"  # one row per distinct row hash: how many rows, their key


def _dirty(con, table: str) -> int:
    """Temp table ``_dirty_<table>(k)``: the keys whose rows differ from the baseline (the rows this copy
    shared with Postgres at its last pull or push), compared as multisets of row hashes; ``_dh_<table>``
    the hashes that differ (``cn``/``bn``: how many rows have it now / had it then), ``_dk_<table>`` the
    baseline entries (h, n, k) of the current rows among them. Returns the number of dirty keys; for an
    unchanged table only ``_dirty_<table>`` is made (empty).

    One pass over the table hashes its rows (``_hk``); a table whose row count and sum of hashes equal the
    baseline's is unchanged. Otherwise one join finds the hashes on one side only, and the counts and sums
    of those rows must account for the whole difference: if they do, no row that both sides hold changed
    its multiplicity (a duplicate row added or removed), and those hashes are the change; if they do not,
    the hashes are counted on both sides and compared (exact, and slower)."""
    base = _baseline(table)
    con.execute(f"CREATE TABLE IF NOT EXISTS {base} {_BASELINE_DDL}")
    keyed = table in GROUP_KEYS  # a content key (an md5 of the row) is made only for the rows that changed
    con.execute(f"CREATE OR REPLACE TEMP TABLE _hk AS SELECT {_hash_sql(table)} AS h, "
                f"{_key_sql(table) if keyed else 'CAST(NULL AS VARCHAR)'} AS k FROM {table}")  # the one pass
    now = con.execute("SELECT count(*), coalesce(sum(CAST(h AS HUGEINT)), 0) FROM _hk").fetchone()
    then = con.execute(f"SELECT coalesce(sum(n), 0), coalesce(sum(CAST(h AS HUGEINT) * n), 0) FROM {base}").fetchone()
    if tuple(now) == tuple(then):  # the table as a whole is unchanged
        con.execute(f"CREATE OR REPLACE TEMP TABLE _dirty_{table} (k VARCHAR)")
        con.execute("DROP TABLE _hk")
        return 0
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _dx AS SELECT c.h AS ch, b.h AS bh, b.n AS bn, b.k AS bk
        FROM (SELECT h FROM _hk) c FULL JOIN {base} b ON c.h = b.h
        WHERE c.h IS NULL OR b.h IS NULL""")  # the keys stay out of the join: half its time
    one_side = con.execute("SELECT count(ch) - coalesce(sum(bn), 0), coalesce(sum(CAST(ch AS HUGEINT)), 0) - "
                           "coalesce(sum(CAST(bh AS HUGEINT) * bn), 0) FROM _dx").fetchone()
    if tuple(one_side) == (now[0] - then[0], now[1] - then[1]):  # the one-sided hashes are the whole change
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _dh_{table} AS
            SELECT ch AS h, count(*) AS cn, CAST(NULL AS INTEGER) AS bn, CAST(NULL AS VARCHAR) AS bk FROM _dx
            WHERE ch IS NOT NULL GROUP BY ch
            UNION ALL SELECT bh, NULL, bn, bk FROM _dx WHERE bh IS NOT NULL""")
    else:  # a shared row's multiplicity changed too: count every hash on both sides (exact, slower)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _dh_{table} AS SELECT coalesce(c.h, b.h) AS h, c.n AS cn,
                b.n AS bn, b.k AS bk
            FROM (SELECT h, count(*) AS n FROM _hk GROUP BY h) c FULL JOIN {base} b ON c.h = b.h
            WHERE c.n IS DISTINCT FROM b.n""")
    new_rows = ("SELECT h, k FROM _hk" if keyed else
                f"SELECT {_hash_sql(table)} AS h, {_key_sql(table)} AS k FROM {table}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _dk_{table} AS SELECT h, count(*) AS n, min(k) AS k
        FROM ({new_rows}) WHERE h IN (SELECT h FROM _dh_{table} WHERE cn IS NOT NULL) GROUP BY h""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _dirty_{table} AS SELECT bk AS k FROM _dh_{table} WHERE bk IS NOT NULL
        UNION SELECT k FROM _dk_{table}""")
    con.execute("DROP TABLE _hk")
    con.execute("DROP TABLE _dx")
    return con.execute(f"SELECT count(*) FROM _dirty_{table}").fetchone()[0]


def _key_in(table: str, keys: str) -> str:
    """DuckDB SQL: the row's key is in temp table ``keys(k)`` (on the key column itself where there is one)."""
    cols = GROUP_KEYS.get(table)
    if cols and len(cols) == 1 and dict(column_types(table))[cols[0]] == "VARCHAR":
        return f"coalesce({cols[0]}, chr(1)) IN (SELECT k FROM {keys})"
    return f"{_key_sql(table)} IN (SELECT k FROM {keys})"


def _rebase(con, table: str, keys: str | None = None) -> None:
    """The baseline of ``table`` (of the keys in temp table ``keys``, or all) becomes its current rows."""
    base = _baseline(table)
    con.execute(f"CREATE TABLE IF NOT EXISTS {base} {_BASELINE_DDL}")
    if keys is None:
        con.execute(f"DELETE FROM {base}")
        con.execute(f"INSERT INTO {base} SELECT h, count(*), min(k) FROM (SELECT {_hash_sql(table)} AS h, "
                    f"{_key_sql(table)} AS k FROM {table}) GROUP BY h")
        return
    con.execute(f"DELETE FROM {base} WHERE k IN (SELECT k FROM {keys})")
    con.execute(f"INSERT INTO {base} SELECT h, count(*), min(k) FROM (SELECT {_hash_sql(table)} AS h, "
                f"{_key_sql(table)} AS k FROM {table} WHERE {_key_in(table, keys)}) GROUP BY h")


def _rebase_pushed(con, table: str, kept: list[str]) -> None:
    """After a push: the baseline takes this copy's changed rows (``_dh_<table>``), except those of the keys
    Postgres kept its own version of, which stay dirty (the next pull fetches them). Only for a table
    ``_dirty`` found changed."""
    base = _baseline(table)
    con.execute("CREATE OR REPLACE TEMP TABLE _kept (k VARCHAR)")
    if kept:
        con.executemany("INSERT INTO _kept VALUES (?)", [[k] for k in kept])
    con.execute(f"DELETE FROM {base} WHERE h IN (SELECT h FROM _dh_{table}) AND k NOT IN (SELECT k FROM _kept)")
    con.execute(f"INSERT INTO {base} SELECT h, n, k FROM _dk_{table} WHERE k NOT IN (SELECT k FROM _kept)")


def _local_state(con, schema: str) -> tuple[str, int] | None:
    """(store id, revision) this copy last synchronised with, for this schema; None if never."""
    con.execute("CREATE TABLE IF NOT EXISTS tp_sync_state (store_id VARCHAR, db_schema VARCHAR, revision BIGINT)")
    row = con.execute("SELECT store_id, revision FROM tp_sync_state WHERE db_schema = ?", [schema]).fetchone()
    return (row[0], int(row[1])) if row and row[0] else None


def _set_state(con, schema: str, store_id: str | None, revision: int) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS tp_sync_state (store_id VARCHAR, db_schema VARCHAR, revision BIGINT)")
    con.execute("DELETE FROM tp_sync_state")  # one store per working copy
    if store_id:
        con.execute("INSERT INTO tp_sync_state VALUES (?, ?, ?)", [store_id, schema, revision])


def _sync_ready(meta: dict[str, str], have: dict[str, set[str]]) -> bool:
    """Postgres holds what incremental pulls need: a store id, the change log, keyed rows in every table."""
    return bool(meta.get("store_id")) and meta.get("sync_format") == SYNC_FORMAT and CHANGES_TABLE in have and \
        all(t in have and "tp_key" in have[t] for t in store.SCHEMA)


def _after_push(con, schema: str, store_id: str, mode: str, rev: int, rev0: int,
                state: tuple[str, int] | None, kept: dict[str, list[str]], changed: set[str]) -> None:
    """After the push committed: the pushed keys' rows are the new baseline; a key Postgres kept its own
    (newer) version of stays dirty, so the next pull fetches that version. ``changed``: the tables with
    dirty keys (incremental pushes only). The revision moves on only
    when no other push came between this copy's last sync and this push."""
    con.execute("BEGIN TRANSACTION")
    if mode == "full":
        for table in store.SCHEMA:
            _rebase(con, table)
        _set_state(con, schema, store_id, rev)
    else:
        for table in changed:  # the tables _dirty found changed (an incremental push's keys)
            _rebase_pushed(con, table, kept.get(table, []))
        _set_state(con, schema, store_id, rev if state is not None and state[1] == rev0 else state[1])
    con.execute("COMMIT")

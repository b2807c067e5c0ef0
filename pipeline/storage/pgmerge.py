"""A push's rows into PostgreSQL: COPY of a table's rows, and the incremental merge of the locally
changed keys by the record-version rule (a newer stored version of a record is kept), so pushes from
several machines commute.

Functions of an open psycopg connection (``conn``, inside the push's transaction), the store's schema
name and the local DuckDB connection (``con``). May import ``pipeline.storage.store``, ``pgbase``,
``pgschema`` and ``pgsync``.
"""

from __future__ import annotations

from pipeline.storage import store
from pipeline.storage.pgbase import BATCH_ROWS
from pipeline.storage.pgschema import ident
from pipeline.storage.pgsync import CHANGES_TABLE, FAMILY, _dirty, _key_in, _key_sql


def pg_version_cols(alias: str, prefix: str) -> str:
    """Postgres SQL: store._version_cols for a stored row (``fo``: the merged file order), text compared
    bytewise as DuckDB does, whatever the database's collation."""
    return (f"coalesce({alias}.version_ts, TIMESTAMP '0001-01-01') AS {prefix}_ts, "
            f"coalesce(fo.ingest_seq, 0) AS {prefix}_seq, coalesce({alias}.input_line, 0) AS {prefix}_oline, "
            f'coalesce({alias}.content_hash, \'\') COLLATE "C" AS {prefix}_hash, '
            f'coalesce({alias}.file_sha256, \'\') COLLATE "C" AS {prefix}_sha, '
            f'coalesce({alias}.input_file, \'\') COLLATE "C" AS {prefix}_file, '
            f"coalesce({alias}.input_line, 0) AS {prefix}_line")


def copy_rows(conn, target, names: list[str], rel) -> int:
    from psycopg import sql

    n = 0
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                target, sql.SQL(", ").join(map(sql.Identifier, names)))) as cp:
            while batch := rel.fetchmany(BATCH_ROWS):
                for r in batch:
                    cp.write_row(r)
                n += len(batch)
    return n


def push_all(conn, schema: str, con, table: str) -> int:
    from psycopg import sql

    names = store.columns(table)
    conn.execute(sql.SQL("DELETE FROM {}").format(ident(schema, table)))
    rel = con.execute(f"SELECT {', '.join(names)}, {_key_sql(table)} AS tp_key FROM {table}")
    n = copy_rows(conn, ident(schema, table), [*names, "tp_key"], rel)
    conn.execute(sql.SQL("ANALYZE {}").format(ident(schema, table)))  # so incremental pushes use the key index
    return n


VERSIONED = (*store.PARENTS, "quarantine", "ingested_files")  # tables whose stored version may be kept


def push_changes(conn, schema: str, con, rev: int,
                 on_table) -> tuple[dict[str, int], dict[str, int], dict[str, list[str]], set[str]]:
    """Send the locally changed keys of every table and merge them (see ``push``). Returns the rows sent
    and the keys replaced per table, the keys whose stored version was kept, and the tables whose own
    rows changed (the baselines to update).

    A table with a version rule (``VERSIONED``) goes through a temp table: its rows are copied there,
    the rule picks the keys whose stored version stays, the rest replace theirs. Every other table
    follows its record (a feedback record's child rows) or has no rule, so the keys to replace are known
    before anything is sent: they are deleted and the rows copied straight into the table. Keys are
    sent as binary text arrays; the change log gets one statement for the whole push."""
    from psycopg import sql

    n_dirty = {table: _dirty(con, table) for table in store.SCHEMA}
    family = [t for t in FAMILY if n_dirty[t]]  # a record travels with its child rows
    con.execute("CREATE OR REPLACE TEMP TABLE _dirty_family AS " + (
        " UNION ".join(f"SELECT k FROM _dirty_{t}" for t in family) if family
        else "SELECT CAST(NULL AS VARCHAR) AS k WHERE false"))
    rows: dict[str, int] = {}
    keys: dict[str, int] = {}
    kept: dict[str, list[str]] = {}
    log_tables: list[str] = []
    log_keys: list[str] = []
    order = ["ingested_files"] + [t for t in store.SCHEMA if t != "ingested_files"]  # file order first
    for table in order:
        dirty = "_dirty_family" if table in FAMILY else f"_dirty_{table}"
        changed = bool(family) if table in FAMILY else n_dirty[table] > 0
        pushed = [r[0] for r in con.execute(f"SELECT k FROM {dirty}").fetchall()] if changed else []
        keys[table], rows[table] = len(pushed), 0
        if pushed:
            names = store.columns(table)
            cols = [*names, "tp_key"]
            col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
            select = f"SELECT {', '.join(names)}, {_key_sql(table)} AS tp_key FROM {table} WHERE {_key_in(table, dirty)}"
            target = ident(schema, table)
            if table in VERSIONED:  # the pushed rows go to a temp table first: the rule reads them
                ins = sql.Identifier(f"_tp_in_{table}")
                conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(ins, target))
                rows[table] = copy_rows(conn, ins, cols, con.execute(select))
                conn.execute(sql.SQL("ANALYZE {}").format(ins))
                kept[table] = kept_keys(conn, schema, table, ins, pushed)
            else:  # a child row follows its record's verdict; other tables have no rule
                kept[table] = list(kept.get("feedback", [])) if table in FAMILY else []
            lost = set(kept[table])
            # the key index finds the rows to replace (a join would scan the table)
            conn.execute(sql.SQL("DELETE FROM {} WHERE tp_key = ANY(%b::text[])").format(target),
                         [[k for k in pushed if k not in lost]])
            if table in VERSIONED:
                conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE tp_key <> ALL(%b::text[])").format(
                    target, col_list, col_list, ins), [kept[table]])
            else:
                if lost:  # the record's stored version stays, with its own child rows
                    con.execute("CREATE OR REPLACE TEMP TABLE _kept_push (k VARCHAR)")
                    con.executemany("INSERT INTO _kept_push VALUES (?)", [[k] for k in sorted(lost)])
                    select += f" AND NOT ({_key_in(table, '_kept_push')})"
                rows[table] = copy_rows(conn, target, cols, con.execute(select))
            log_tables += [table] * len(pushed)
            log_keys += pushed
        if table == "ingested_files":  # the merged file order decides the record versions below
            conn.execute(sql.SQL("CREATE TEMP TABLE _tp_fo ON COMMIT DROP AS SELECT sha256, "
                                 "min(ingest_seq) AS ingest_seq FROM {} WHERE ingest_seq IS NOT NULL "
                                 "GROUP BY sha256").format(ident(schema, "ingested_files")))
            conn.execute("CREATE INDEX ON _tp_fo (sha256)")
            conn.execute("ANALYZE _tp_fo")
        if on_table is not None:
            on_table(table)
    if log_keys:
        conn.execute(sql.SQL("INSERT INTO {} (rev, table_name, tp_key) SELECT %s, t, k FROM "
                             "unnest(%b::text[], %b::text[]) AS u(t, k)").format(ident(schema, CHANGES_TABLE)),
                     [rev, log_tables, log_keys])
    return rows, keys, {t: v for t, v in kept.items() if v}, {t for t, n in n_dirty.items() if n}


def kept_keys(conn, schema: str, table: str, ins, pushed: list[str]) -> list[str]:
    """The pushed keys whose stored version in Postgres is to be kept over the pushed one."""
    from psycopg import sql

    target = ident(schema, table)
    if table in store.PARENTS:  # the record-version rule, as in store.publish
        q = sql.SQL(f"""SELECT DISTINCT w.tp_key FROM
            (SELECT x.tp_key, {pg_version_cols("x", "w")} FROM {{ins}} x
             LEFT JOIN _tp_fo fo ON fo.sha256 = x.file_sha256) w
            JOIN (SELECT x.tp_key, {pg_version_cols("x", "e")} FROM {{target}} x
                  LEFT JOIN _tp_fo fo ON fo.sha256 = x.file_sha256 WHERE x.tp_key = ANY(%b::text[])) e
              ON e.tp_key = w.tp_key
            WHERE {store._newer("e", "w")}""")
    elif table == "quarantine":  # the lowest file name keeps a bad record
        q = sql.SQL("""SELECT w.tp_key FROM (SELECT tp_key, min(input_file COLLATE "C") AS f FROM {ins}
            GROUP BY tp_key) w JOIN (SELECT x.tp_key, min(x.input_file COLLATE "C") AS f FROM {target} x
            WHERE x.tp_key = ANY(%b::text[]) GROUP BY x.tp_key) e ON e.tp_key = w.tp_key WHERE e.f < w.f""")
    elif table == "ingested_files":  # the later run's record of a file (run ids start with their start)
        q = sql.SQL("""SELECT w.tp_key FROM (SELECT tp_key, max(run_id COLLATE "C") AS r FROM {ins}
            GROUP BY tp_key) w JOIN (SELECT x.tp_key, max(x.run_id COLLATE "C") AS r FROM {target} x
            WHERE x.tp_key = ANY(%b::text[]) GROUP BY x.tp_key) e ON e.tp_key = w.tp_key WHERE e.r > w.r""")
    else:
        return []
    return [r[0] for r in conn.execute(q.format(ins=ins, target=target), [pushed]).fetchall()]

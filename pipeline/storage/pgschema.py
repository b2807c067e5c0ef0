"""The shared store's schema in PostgreSQL: tables and added columns, the key column and index incremental
pushes use, the change log, and the store's views with the same SQL text as in DuckDB.

Functions of an open psycopg connection and a schema name. May import ``pipeline.storage.store``,
``pgbase`` and ``pgsync`` (the change-log table and the sync format).
"""

from __future__ import annotations

import hashlib

from pipeline.storage import store
from pipeline.storage.pgbase import META_TABLE, pg_type, scrub
from pipeline.storage.pgsync import CHANGES_TABLE, SYNC_FORMAT, column_types

# DuckDB has round(DOUBLE, INTEGER); Postgres only round(NUMERIC, INTEGER). The views are created with
# this overload on their search path (bound once, at CREATE VIEW), so the view SQL is the same text on
# both engines and nobody else's round() changes: the overload lives in its own schema.
COMPAT_FUNCS = ["""CREATE OR REPLACE FUNCTION {compat}.round(double precision, integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT pg_catalog.round($1::numeric, $2)::double precision'"""]

# The tables, columns and views a push creates: while Postgres has them, an incremental push skips that DDL.
SCHEMA_SHA = hashlib.sha256(repr((sorted(store.SCHEMA.items()), sorted(store.VIEWS.items()), COMPAT_FUNCS,
                                  SYNC_FORMAT)).encode()).hexdigest()[:16]


def ident(schema: str, name: str):
    """``schema.name`` as a quoted SQL identifier."""
    from psycopg import sql

    return sql.Identifier(schema, name)


def tables(conn, schema: str) -> dict[str, set[str]]:
    """The tables Postgres has in ``schema``, each with its column names."""
    rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = %s", [schema]).fetchall()
    out: dict[str, set[str]] = {}
    for t, c in rows:
        out.setdefault(t, set()).add(c)
    return out


def ensure_schema(conn, schema: str) -> None:
    """Create the schema, tables and missing columns (a newer Touchpoint adds columns in place), the
    key column and index incremental pushes use, and the change log."""
    from psycopg import sql

    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, value text)").format(
        ident(schema, META_TABLE)))
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (rev bigint, table_name text, tp_key text)").format(
        ident(schema, CHANGES_TABLE)))
    conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (table_name, rev)").format(
        sql.Identifier(f"{CHANGES_TABLE}_rev"), ident(schema, CHANGES_TABLE)))
    have = tables(conn, schema)
    for table in store.SCHEMA:
        target = ident(schema, table)
        cols = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(t))) for c, t in column_types(table)]
        if table not in have:
            conn.execute(sql.SQL("CREATE TABLE {} ({}, tp_key text)").format(target, sql.SQL(", ").join(cols)))
        else:
            for (c, t), col in zip(column_types(table), cols):
                if c not in have[table]:
                    conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(target, col))
            if "tp_key" not in have[table]:  # a store pushed by an older Touchpoint: the next push is full
                conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN tp_key text").format(target))
        conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (tp_key)").format(
            sql.Identifier(f"{table}_tp_key"), target))


def create_views(conn, schema: str, url: str) -> list[str]:
    """The store's views, same SQL text as in DuckDB; a view Postgres rejects is a warning (``url``
    scrubbed from it), not a failure."""
    from psycopg import sql

    compat = f"{schema}_compat"
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(compat)))
    for f in COMPAT_FUNCS:
        conn.execute(sql.SQL(f).format(compat=sql.Identifier(compat)))
    conn.execute(sql.SQL("SET LOCAL search_path = {}, {}").format(sql.Identifier(schema), sql.Identifier(compat)))
    warnings = []
    for name, body in store.VIEWS.items():
        view = ident(schema, name)
        create = sql.SQL("CREATE VIEW {} AS ").format(view) + sql.SQL(body)
        tries = [[sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(view) + sql.SQL(body)],  # keeps dependants
                 [sql.SQL("DROP VIEW IF EXISTS {}").format(view), create]]  # its columns changed
        err = None
        for stmts in tries:
            try:
                with conn.transaction():  # a savepoint
                    for stmt in stmts:
                        conn.execute(stmt)
                err = None
                break
            except Exception as exc:  # noqa: BLE001
                err = exc
        if err is not None:
            warnings.append(scrub(f"view {name} was not created in the shared store: "
                                  f"{str(err).strip().splitlines()[0]}", url))
    conn.execute("SET LOCAL search_path TO DEFAULT")
    return warnings

"""The one way the analyses write their tables: a frame of rows goes in with one statement.

- ``replace_frame``: a derived table replaced whole from a DataFrame, in one transaction.
- ``insert_rows``: rows appended (one INSERT ... SELECT over a registered frame, not a statement per row).
- ``upsert_rows``: rows replacing those with the same key (one DELETE ... USING, one INSERT).
The last two run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd


def replace_frame(con: duckdb.DuckDBPyConnection, table: str, ddl: str, df: pd.DataFrame,
                  columns: list[str]) -> None:
    """Create ``table`` if missing and replace its rows with ``df[columns]``, all or nothing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table}")
        _insert_frame(con, table, df, columns)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _frame(rows: Sequence[Sequence[Any]] | pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows
    return pd.DataFrame([list(r) for r in rows], columns=columns, dtype=object)


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame, columns: list[str]) -> None:
    if df.empty:
        return
    view = f"_{table}_rows"
    con.register(view, df)
    try:
        cols = ", ".join(columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
    finally:
        con.unregister(view)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[str],
                rows: Sequence[Sequence[Any]] | pd.DataFrame) -> None:
    """Append ``rows`` (sequences in ``columns`` order, or a frame with those columns) in one statement."""
    _insert_frame(con, table, _frame(rows, columns), columns)


def upsert_rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], key: list[str],
                rows: Sequence[Sequence[Any]] | pd.DataFrame) -> None:
    """Replace the rows of ``table`` whose ``key`` columns match a row of ``rows``, then insert ``rows``.

    ``rows`` must not repeat a key (the last one would not win: both would be inserted)."""
    df = _frame(rows, columns)
    if df.empty:
        return
    view = f"_{table}_keys"
    con.register(view, df[key].drop_duplicates())
    try:
        on = " AND ".join(f"{table}.{k} = {view}.{k}" for k in key)
        con.execute(f"DELETE FROM {table} USING {view} WHERE {on}")
    finally:
        con.unregister(view)
    _insert_frame(con, table, df, columns)

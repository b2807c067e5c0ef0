"""Replace a derived table from a DataFrame in one transaction (used by the post-publish analyses)."""

from __future__ import annotations

import duckdb
import pandas as pd


def replace_frame(con: duckdb.DuckDBPyConnection, table: str, ddl: str, df: pd.DataFrame,
                  columns: list[str]) -> None:
    """Create ``table`` if missing and replace its rows with ``df[columns]``, all or nothing."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table}")
        if not df.empty:
            view = f"_{table}_df"
            con.register(view, df)
            cols = ", ".join(columns)
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
            con.unregister(view)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise

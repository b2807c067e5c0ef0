"""PostgreSQL as the shared store. DuckDB stays the engine; Postgres holds the copy every runner shares.

With ``store.url: postgresql://...`` a run (nightly, rerun, rescore), on any machine:

1. takes a Postgres advisory lock (``pg_try_advisory_lock`` on the store's schema): a second runner, on
   this machine or another, fails fast and is told who holds it;
2. pulls every store table from one consistent Postgres snapshot into the local DuckDB working copy
   (``<data_dir>/touchpoint.duckdb``), in one DuckDB transaction;
3. publishes and analyses on DuckDB exactly as without Postgres (the same code, the same transaction);
4. pushes every table back in ONE Postgres transaction (DELETE + COPY per table), recreates the views,
   records the push, then COMMIT: a failure before COMMIT leaves Postgres as it was;
5. releases the lock (Postgres releases it too if the runner dies and its connection drops).

A schema that was never pushed to is seeded from the local copy (how an existing DuckDB store moves
to Postgres). Readers are never blocked: DELETE (not TRUNCATE) keeps the previous rows visible to
them until the push commits. Passwords in URLs never reach a log line or an error message.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import socket
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import pyarrow as pa

from pipeline.storage import store
from pipeline.errors import StoreError

log = logging.getLogger("touchpoint")

META_TABLE = "touchpoint_store"  # Postgres only: pushes, and the pseudonymisation key's fingerprint
BATCH_ROWS = 20_000

# DuckDB column types of store.SCHEMA -> PostgreSQL and Arrow types.
_PG = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "INTEGER": "integer",
       "BIGINT": "bigint", "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "DATE": "date"}
_ARROW = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "FLOAT": pa.float32(), "INTEGER": pa.int32(),
          "BIGINT": pa.int64(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32()}

# DuckDB has round(DOUBLE, INTEGER); Postgres only round(NUMERIC, INTEGER). The views are created with
# this overload on their search path (bound once, at CREATE VIEW), so the view SQL is the same text on
# both engines and nobody else's round() changes: the overload lives in its own schema.
_COMPAT_FUNCS = ["""CREATE OR REPLACE FUNCTION {compat}.round(double precision, integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT pg_catalog.round($1::numeric, $2)::double precision'"""]


# ---------------------------------------------------------------- pure helpers

def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.strip().lower().startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs and messages)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return "postgresql://(unparsable URL)"


def scrub(text: str, url: str) -> str:
    """``text`` with the URL and its password (raw and percent-decoded) removed."""
    out = text.replace(url, redact(url))
    try:
        pw = urlsplit(url).password
    except ValueError:
        pw = None
    secrets = [pw, unquote(pw)] if pw else []
    try:  # a password given as ?password=... in the query string
        from urllib.parse import parse_qs
        secrets += parse_qs(urlsplit(url).query).get("password", [])
    except ValueError:
        pass
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(s, "***")
    return out


def column_types(table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of a store table, in schema order."""
    out = []
    for col in store.SCHEMA[table].split(","):
        name, typ = col.split()[:2]
        out.append((name, typ.upper()))
    return out


def _base(duck_type: str) -> tuple[str, bool]:
    t = duck_type.upper()
    return (t[:-2], True) if t.endswith("[]") else (t, False)


def pg_type(duck_type: str) -> str:
    base, is_list = _base(duck_type)
    if base not in _PG:
        raise StoreError(f"no PostgreSQL type for the DuckDB type {duck_type}; please report this as a bug")
    return _PG[base] + ("[]" if is_list else "")


def arrow_type(duck_type: str) -> pa.DataType:
    base, is_list = _base(duck_type)
    return pa.list_(_ARROW[base]) if is_list else _ARROW[base]


def lock_key(schema: str) -> int:
    """The advisory lock id of a store schema (signed 64 bit, stable across machines)."""
    return int.from_bytes(hashlib.sha256(f"touchpoint-store:{schema}".encode()).digest()[:8], "big", signed=True)


def key_fingerprint(key: bytes) -> str:
    """Identifies the pseudonymisation key without revealing it (runners must share one key)."""
    return hashlib.sha256(b"touchpoint pseudonym key check\x00" + key).hexdigest()[:16]


def store_url(settings) -> str | None:
    url = settings.store.url
    return url.get_secret_value() if url is not None else None


# ---------------------------------------------------------------- the shared store

class SharedStore:
    """One runner's session with the shared store: the lock, a pull, and a push, on one connection."""

    def __init__(self, url: str, schema: str = "touchpoint", lock_timeout_s: float = 60.0):
        self.url, self.schema, self.lock_timeout_s = url, schema, lock_timeout_s
        self.compat = f"{schema}_compat"
        self.label = redact(url)
        self.conn = None
        self.initialised = False

    def __enter__(self) -> "SharedStore":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SharedStore({self.label}, schema={self.schema})"

    # -- connection and lock
    def open(self) -> "SharedStore":
        psycopg = _psycopg()
        app = f"touchpoint {socket.gethostname()} pid {os.getpid()}"[:63]
        try:
            self.conn = psycopg.connect(self.url, autocommit=True, application_name=app, connect_timeout=15,
                                        keepalives=1, keepalives_idle=30, keepalives_interval=10,
                                        keepalives_count=5)
        except Exception as exc:  # noqa: BLE001 - any driver error, reported without the password
            raise self._error("cannot connect", exc) from None
        try:
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(self.schema)]).fetchone()[0]
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise self._error("cannot take the run lock", exc) from None
        if not got:
            holder = self._lock_holder()
            self.close()
            raise StoreError(f"another Touchpoint run holds the shared store's lock ({self.label}, schema "
                             f"{self.schema}{holder}); wait for it to finish. Only one runner publishes at a time")
        return self

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            if not self.conn.closed:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", [lock_key(self.schema)])
        except Exception:  # noqa: BLE001 - closing the connection releases the lock anyway
            pass
        finally:
            self.conn.close()
            self.conn = None

    def _lock_row(self) -> tuple | None:
        """(application, client address, connected since) of the session holding the lock, if any."""
        key = lock_key(self.schema) & 0xFFFFFFFFFFFFFFFF
        return self.conn.execute(
            """SELECT a.application_name, a.client_addr::text, a.backend_start FROM pg_locks l
               LEFT JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::bigint::oid
                 AND l.objid = %s::bigint::oid AND l.objsubid = 1""",
            [key >> 32, key & 0xFFFFFFFF]).fetchone()

    def _lock_holder(self) -> str:
        try:
            row = self._lock_row()
        except Exception:  # noqa: BLE001 - the refusal matters, not the details
            return ""
        if not row:
            return ""
        app, addr, since = row
        bits = [f"by {app}" if app else None, f"from {addr}" if addr else None,
                f"connected since {since:%Y-%m-%d %H:%M:%S %Z}" if since else None]
        return "; held " + ", ".join(b for b in bits if b) if any(bits) else ""

    def _error(self, what: str, exc: BaseException) -> StoreError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(scrub(f"shared store {self.label}: {what}: {first}", self.url))

    def _ident(self, name: str):
        from psycopg import sql

        return sql.Identifier(self.schema, name)

    def _tables(self) -> dict[str, set[str]]:
        rows = self.conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE table_schema = %s", [self.schema]).fetchall()
        out: dict[str, set[str]] = {}
        for t, c in rows:
            out.setdefault(t, set()).add(c)
        return out

    def meta(self) -> dict[str, str]:
        if META_TABLE not in self._tables():
            return {}
        from psycopg import sql

        return dict(self.conn.execute(sql.SQL("SELECT name, value FROM {}").format(self._ident(META_TABLE)))
                    .fetchall())

    # -- pull: Postgres -> local DuckDB
    def pull(self, data_dir: str | os.PathLike, pseudonym_key: bytes | None = None) -> dict[str, Any]:
        """Replace the local working copy with the shared store (one snapshot, one DuckDB transaction).

        A schema never pushed to leaves the local copy as it is: the first push seeds Postgres with it.
        """
        from psycopg import sql

        t0 = time.perf_counter()
        con = store.connect(data_dir)
        rows: dict[str, int] = {}
        try:
            with self.conn.transaction():
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                have = self._tables()
                self.initialised = META_TABLE in have
                if not self.initialised:
                    log.warning("shared store %s (schema %s) is empty: the first push seeds it from %s",
                                self.label, self.schema, store.db_path(data_dir))
                    return {"initialised": False, "rows": {}, "seconds": time.perf_counter() - t0}
                meta = self.meta()
                if pseudonym_key and meta.get("key_fingerprint") not in (None, key_fingerprint(pseudonym_key)):
                    raise StoreError(
                        f"this runner's pseudonymisation key differs from the one the shared store {self.label} "
                        f"was built with, so its customer ids would not join; set TOUCHPOINT_PSEUDONYM_KEY to "
                        f"the same secret on every runner (nothing was pulled or published)")
                con.execute("BEGIN TRANSACTION")
                for table in store.SCHEMA:
                    con.execute(f"DELETE FROM {table}")
                    if table not in have:
                        rows[table] = 0
                        continue
                    cols = [(c, t) for c, t in column_types(table) if c in have[table]]  # older pushes: NULL
                    names = [c for c, _ in cols]
                    schema = pa.schema([(c, arrow_type(t)) for c, t in cols])
                    n = 0
                    with self.conn.cursor(name=f"tp_pull_{table}") as cur:
                        cur.itersize = BATCH_ROWS
                        cur.execute(sql.SQL("SELECT {} FROM {}").format(
                            sql.SQL(", ").join(map(sql.Identifier, names)), self._ident(table)))
                        while batch := cur.fetchmany(BATCH_ROWS):
                            arrays = [pa.array(list(v), type=schema.field(i).type)
                                      for i, v in enumerate(zip(*batch))]
                            con.register("_pull_batch", pa.Table.from_arrays(arrays, schema=schema))
                            con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM _pull_batch")
                            con.unregister("_pull_batch")
                            n += len(batch)
                    rows[table] = n
                con.execute("COMMIT")
        except StoreError:
            _rollback(con)
            raise
        except Exception as exc:  # noqa: BLE001 - driver errors, without the password
            _rollback(con)
            raise self._error("pull failed (the local copy was left as it was)", exc) from None
        finally:
            con.close()
        secs = time.perf_counter() - t0
        log.info("pulled %d rows from %s in %.2fs", sum(rows.values()), self.label, secs)
        return {"initialised": True, "rows": rows, "seconds": secs}

    # -- push: local DuckDB -> Postgres, one transaction
    def push(self, data_dir: str | os.PathLike, run_id: str | None = None, pseudonym_key: bytes | None = None,
             on_table: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Replace every shared table with the local copy's rows and recreate the views, all or nothing.

        ``on_table(table)`` runs after each table is copied, inside the open transaction.
        """
        from psycopg import sql

        t0 = time.perf_counter()
        con = store.connect(data_dir, read_only=False)
        rows: dict[str, int] = {}
        warnings: list[str] = []
        nbytes = 0
        try:
            with self.conn.transaction():
                self.conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                    sql.Literal(f"{int(self.lock_timeout_s * 1000)}ms")))
                self._ensure_schema()
                for table in store.SCHEMA:
                    names = store.columns(table)
                    self.conn.execute(sql.SQL("DELETE FROM {}").format(self._ident(table)))
                    n = 0
                    rel = con.execute(f"SELECT {', '.join(names)} FROM {table}")
                    with self.conn.cursor() as cur:
                        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                                self._ident(table), sql.SQL(", ").join(map(sql.Identifier, names)))) as cp:
                            while batch := rel.fetchmany(BATCH_ROWS):
                                for r in batch:
                                    cp.write_row(r)
                                n += len(batch)
                    rows[table] = n
                    if on_table is not None:
                        on_table(table)
                warnings += self._create_views()
                meta = {"pushed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "pushed_by": f"{getpass.getuser()}@{socket.gethostname()}",
                        "run_id": run_id or "", "touchpoint_tables": str(len(store.SCHEMA))}
                if pseudonym_key:
                    meta["key_fingerprint"] = key_fingerprint(pseudonym_key)
                for k, v in meta.items():
                    self.conn.execute(sql.SQL("INSERT INTO {} (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                                              "DO UPDATE SET value = excluded.value").format(
                        self._ident(META_TABLE)), [k, v])
                nbytes = self.conn.execute(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", [self.schema]).fetchone()[0]
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - driver errors, without the password
            raise self._error("push failed, nothing was changed in Postgres (the next run redoes this one)",
                              exc) from None
        finally:
            con.close()
        self.initialised = True
        secs = time.perf_counter() - t0
        for w in warnings:
            log.warning(w)
        log.info("pushed %d rows to %s in %.2fs", sum(rows.values()), self.label, secs)
        return {"rows": rows, "seconds": secs, "bytes": int(nbytes), "warnings": warnings}

    def _ensure_schema(self) -> None:
        """Create the schema, tables and missing columns (a newer Touchpoint adds columns in place)."""
        from psycopg import sql

        self.conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        self.conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, value text)").format(
            self._ident(META_TABLE)))
        have = self._tables()
        for table in store.SCHEMA:
            cols = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(t))) for c, t in column_types(table)]
            if table not in have:
                self.conn.execute(sql.SQL("CREATE TABLE {} ({})").format(self._ident(table), sql.SQL(", ").join(cols)))
                continue
            for (c, t), col in zip(column_types(table), cols):
                if c not in have[table]:
                    self.conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(self._ident(table), col))

    def _create_views(self) -> list[str]:
        """The store's views, same SQL text as in DuckDB; a view Postgres rejects is a warning, not a failure."""
        from psycopg import sql

        self.conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.compat)))
        for f in _COMPAT_FUNCS:
            self.conn.execute(sql.SQL(f).format(compat=sql.Identifier(self.compat)))
        self.conn.execute(sql.SQL("SET LOCAL search_path = {}, {}").format(
            sql.Identifier(self.schema), sql.Identifier(self.compat)))
        warnings = []
        for name, body in store.VIEWS.items():
            ident = self._ident(name)
            create = sql.SQL("CREATE VIEW {} AS ").format(ident) + sql.SQL(body)
            tries = [[sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(ident) + sql.SQL(body)],  # keeps dependants
                     [sql.SQL("DROP VIEW IF EXISTS {}").format(ident), create]]  # its columns changed
            err = None
            for stmts in tries:
                try:
                    with self.conn.transaction():  # a savepoint
                        for stmt in stmts:
                            self.conn.execute(stmt)
                    err = None
                    break
                except Exception as exc:  # noqa: BLE001
                    err = exc
            if err is not None:
                warnings.append(scrub(f"view {name} was not created in the shared store: "
                                      f"{str(err).strip().splitlines()[0]}", self.url))
        self.conn.execute("SET LOCAL search_path TO DEFAULT")
        return warnings


@contextmanager
def shared_store(settings) -> Iterator[SharedStore | None]:
    """The locked session for a run when ``store.url`` is set; ``None`` (nothing to do) for DuckDB only."""
    url = store_url(settings)
    if not is_postgres_url(url):
        yield None
        return
    s = SharedStore(url, settings.store.db_schema, settings.store.lock_timeout_s).open()
    try:
        yield s
    finally:
        s.close()


@contextmanager
def synced(settings, write: bool = True) -> Iterator[SharedStore | None]:
    """For commands that change the store outside a run (follow-up statuses, topic promotion): with a
    shared store, both run locks, a pull before and (``write``) a push after; nothing without one."""
    from pipeline.identity import pseudonym_key

    data_dir = settings.data_dir
    if not is_postgres_url(store_url(settings)):
        yield None
        return
    with store.run_lock(data_dir), shared_store(settings) as shared:
        shared.pull(data_dir, pseudonym_key(data_dir))
        yield shared
        if write:
            shared.push(data_dir, None, pseudonym_key(data_dir))


def status(settings) -> dict[str, Any]:
    """What the shared store holds (rows per table, the last push) and whether a run holds its lock;
    takes no lock and changes nothing."""
    from psycopg import sql

    url = store_url(settings)
    if not is_postgres_url(url):
        return {"backend": "duckdb", "path": str(store.db_path(settings.data_dir))}
    s = SharedStore(url, settings.store.db_schema)
    psycopg = _psycopg()
    try:
        s.conn = psycopg.connect(url, autocommit=True, connect_timeout=15)
    except Exception as exc:  # noqa: BLE001
        raise s._error("cannot connect", exc) from None
    try:
        have = s._tables()
        rows = {t: s.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(s._ident(t))).fetchone()[0]
                for t in store.SCHEMA if t in have}
        meta = {k: v for k, v in s.meta().items() if k != "key_fingerprint"}
        locked = s._lock_row() is not None
        holder = s._lock_holder().removeprefix("; held ")
    except Exception as exc:  # noqa: BLE001
        raise s._error("cannot read", exc) from None
    finally:
        s.conn.close()
        s.conn = None
    return {"backend": "postgresql", "url": s.label, "schema": s.schema, "initialised": bool(meta),
            "last_push": meta, "rows": rows, "locked": (holder or "yes") if locked else None}


def _rollback(con) -> None:
    try:
        con.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - no transaction open
        pass


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError("store.url is a PostgreSQL URL but psycopg is not installed; "
                         "pip install 'touchpoint[postgres]'") from None
    return psycopg

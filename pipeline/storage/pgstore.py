"""PostgreSQL as the shared store. DuckDB stays the engine; Postgres holds the copy every runner shares.

With ``store.url: postgresql://...`` a run (nightly, rerun, rescore), on any machine:

1. takes a Postgres advisory lock (``pg_try_advisory_lock`` on the store's schema): a second runner, on
   this machine or another, fails fast and is told who holds it;
2. pulls what other runners pushed since this copy last synced (the keys in Postgres' change log; a
   copy that never synced pulls every table), from one consistent snapshot, in one DuckDB transaction;
3. publishes and analyses on DuckDB exactly as without Postgres (the same code, the same transaction);
4. pushes only the rows that changed (pgsync.py finds them against a baseline of row hashes) in ONE
   Postgres transaction, merged by key with the record-version rule, recreates the views if the schema
   changed, records the push, then COMMIT: a failure before COMMIT leaves Postgres as it was;
5. releases the lock (Postgres releases it too if the runner dies and its connection drops).

A schema that was never pushed to is seeded from the local copy (how an existing DuckDB store moves
to Postgres). Readers are never blocked: DELETE (not TRUNCATE) keeps the previous rows visible to
them until the push commits. Passwords in URLs never reach a log line or an error message.

This module holds the runner's session (lock, pull, push); beside it, by role: ``pgbase`` (URLs and their
secrets, type mapping, lock ids), ``pgschema`` (tables, columns, views), ``pgsync`` (what changed in the
local copy since the last sync) and ``pgmerge`` (a push's COPY and its merge by the record-version rule).
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pyarrow as pa

from pipeline.errors import StoreError
from pipeline.storage import store
from pipeline.storage.pgbase import (
    BATCH_ROWS,
    META_TABLE,
    arrow_type,
    is_postgres_url,
    key_fingerprint,
    lock_key,
    psycopg_module,
    redact,
    rollback,
    scrub,
    store_url,
)
from pipeline.storage.pgmerge import push_all, push_changes
from pipeline.storage.pgschema import SCHEMA_SHA, create_views, ensure_schema, ident, tables
from pipeline.storage.pgsync import (
    CHANGES_TABLE,
    KEEP_REVISIONS,
    SYNC_FORMAT,
    _after_push,
    _dirty,
    _key_in,
    _local_state,
    _rebase,
    _set_state,
    _sync_ready,
    column_types,
)

log = logging.getLogger("touchpoint")


class SharedStore:
    """One runner's session with the shared store: the lock, a pull, and a push, on one connection."""

    def __init__(self, url: str, schema: str = "touchpoint", lock_timeout_s: float = 60.0, run_lock: bool = True):
        """``run_lock=False``: a session that only pushes or pulls (no run): it does not take the run lock;
        pushes still apply one at a time (each takes a transaction lock) and merge by the version rule."""
        self.url, self.schema, self.lock_timeout_s, self.run_lock = url, schema, lock_timeout_s, run_lock
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
        psycopg = psycopg_module()
        app = f"touchpoint {socket.gethostname()} pid {os.getpid()}"[:63]
        try:
            self.conn = psycopg.connect(self.url, autocommit=True, application_name=app, connect_timeout=15,
                                        keepalives=1, keepalives_idle=30, keepalives_interval=10,
                                        keepalives_count=5)
        except Exception as exc:  # noqa: BLE001 - any driver error, reported without the password
            raise self._error("cannot connect", exc) from None
        if not self.run_lock:
            return self
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
            if self.run_lock and not self.conn.closed:
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
        return ident(self.schema, name)

    def _tables(self) -> dict[str, set[str]]:
        return tables(self.conn, self.schema)

    def meta(self) -> dict[str, str]:
        if META_TABLE not in self._tables():
            return {}
        from psycopg import sql

        return dict(self.conn.execute(sql.SQL("SELECT name, value FROM {}").format(self._ident(META_TABLE)))
                    .fetchall())

    # -- pull: Postgres -> local DuckDB
    def pull(self, data_dir: str | os.PathLike, pseudonym_key: bytes | None = None,
             full: bool = False) -> dict[str, Any]:
        """Bring the local working copy to what the shared store holds (one snapshot, one DuckDB transaction).

        Incremental when this data directory last synchronised with this store and the store's change
        log still reaches back to it: only the keys changed in Postgres since then, and the keys changed
        locally and not pushed (put back as Postgres has them), are moved. Otherwise (or ``full``) every
        table is copied. Either way the local copy ends identical to Postgres. A schema never pushed to
        leaves the local copy as it is: the first push seeds Postgres with it.
        """
        t0 = time.perf_counter()
        con = store.connect(data_dir)
        rows: dict[str, int] = {}
        mode = "full"
        try:
            with self.conn.transaction():
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                have = self._tables()
                self.initialised = META_TABLE in have
                if not self.initialised:
                    log.warning("shared store %s (schema %s) is empty: the first push seeds it from %s",
                                self.label, self.schema, store.db_path(data_dir))
                    return {"initialised": False, "rows": {}, "seconds": time.perf_counter() - t0, "mode": None}
                meta = self.meta()
                if pseudonym_key and meta.get("key_fingerprint") not in (None, key_fingerprint(pseudonym_key)):
                    raise StoreError(
                        f"this runner's pseudonymisation key differs from the one the shared store {self.label} "
                        f"was built with, so its customer ids would not join; set TOUCHPOINT_PSEUDONYM_KEY to "
                        f"the same secret on every runner (nothing was pulled or published)")
                revision = int(meta.get("revision") or 0)
                synced = _sync_ready(meta, have)
                state = _local_state(con, self.schema)
                con.execute("BEGIN TRANSACTION")
                if (not full and synced and state is not None and state[0] == meta.get("store_id")
                        and state[1] >= int(meta.get("log_from") or 0)):
                    mode = "incremental"
                    for table in store.SCHEMA:
                        rows[table] = self._pull_changes(con, table, state[1])
                else:
                    for table in store.SCHEMA:
                        rows[table] = self._pull_all(con, table, have)
                        if synced:
                            _rebase(con, table)
                _set_state(con, self.schema, meta.get("store_id") if synced else None, revision)
                con.execute("COMMIT")
        except StoreError:
            rollback(con)
            raise
        except Exception as exc:  # noqa: BLE001 - driver errors, without the password
            rollback(con)
            raise self._error("pull failed (the local copy was left as it was)", exc) from None
        finally:
            con.close()
        secs = time.perf_counter() - t0
        log.info("pulled %d rows (%s) from %s in %.2fs", sum(rows.values()), mode, self.label, secs)
        return {"initialised": True, "rows": rows, "seconds": secs, "mode": mode}

    def _fetch_into(self, con, table: str, names: list[str], query, params=None) -> int:
        """Rows of a Postgres query (columns ``names`` of ``table``) inserted into the local table."""
        schema = pa.schema([(c, arrow_type(t)) for c, t in column_types(table) if c in names])
        n = 0
        with self.conn.cursor(name=f"tp_pull_{table}") as cur:
            cur.itersize = BATCH_ROWS
            cur.execute(query, params)
            while batch := cur.fetchmany(BATCH_ROWS):
                arrays = [pa.array(list(v), type=schema.field(i).type) for i, v in enumerate(zip(*batch))]
                con.register("_pull_batch", pa.Table.from_arrays(arrays, schema=schema))
                con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM _pull_batch")
                con.unregister("_pull_batch")
                n += len(batch)
        return n

    def _pull_all(self, con, table: str, have: dict[str, set[str]]) -> int:
        from psycopg import sql

        con.execute(f"DELETE FROM {table}")
        if table not in have:
            return 0
        names = [c for c, _ in column_types(table) if c in have[table]]  # older pushes: NULL
        return self._fetch_into(con, table, names, sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), self._ident(table)))

    def _pull_changes(self, con, table: str, since: int) -> int:
        """One table, incrementally: the keys Postgres changed after revision ``since`` and the keys
        changed here since the last sync are replaced by Postgres' rows of those keys."""
        from psycopg import sql

        keys = {r[0] for r in self.conn.execute(sql.SQL(
            "SELECT DISTINCT tp_key FROM {} WHERE table_name = %s AND rev > %s").format(self._ident(CHANGES_TABLE)),
            [table, since]).fetchall()}
        _dirty(con, table)
        keys |= {r[0] for r in con.execute(f"SELECT k FROM _dirty_{table}").fetchall()}
        if not keys:
            return 0
        con.execute("CREATE OR REPLACE TEMP TABLE _pull_keys (k VARCHAR)")
        con.register("_pull_keys_df", pa.table({"k": pa.array(sorted(keys), pa.string())}))
        con.execute("INSERT INTO _pull_keys SELECT k FROM _pull_keys_df")
        con.unregister("_pull_keys_df")
        con.execute(f"DELETE FROM {table} WHERE {_key_in(table, '_pull_keys')}")
        names = store.columns(table)
        n = self._fetch_into(con, table, names, sql.SQL("SELECT {} FROM {} WHERE tp_key = ANY(%s)").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), self._ident(table)), [sorted(keys)])
        _rebase(con, table, "_pull_keys")
        return n

    # -- push: local DuckDB -> Postgres, one transaction
    def push(self, data_dir: str | os.PathLike, run_id: str | None = None, pseudonym_key: bytes | None = None,
             on_table: Callable[[str], None] | None = None, full: bool = False) -> dict[str, Any]:
        """Publish the local copy's changes to the shared store and recreate the views, all or nothing.

        Incremental when this data directory synchronised with this store before: only the keys whose
        rows changed locally since the last pull or push are sent, and merged into Postgres by the
        record-version rule (a newer stored version of a record is kept), so pushes from several
        machines commute. Without a sync state (a data directory that never pulled from this store,
        a store pushed by an older Touchpoint) or with ``full``, every table is replaced by the local
        copy, as before. Pushes queue on a transaction lock, so concurrent pushes apply one after the
        other. ``on_table(table)`` runs after each table is written, inside the open transaction.
        """
        from psycopg import sql

        t0 = time.perf_counter()
        con = store.connect(data_dir, read_only=False)
        rows: dict[str, int] = {}
        keys: dict[str, int] = {}
        kept: dict[str, list[str]] = {}
        warnings: list[str] = []
        nbytes = 0
        mode = "full"
        changed: set[str] = set()
        try:
            with self.conn.transaction():
                self.conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                    sql.Literal(f"{int(self.lock_timeout_s * 1000)}ms")))
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(self.schema + "\x00push")])
                meta0 = self.meta()
                same_schema = meta0.get("schema_sha") == SCHEMA_SHA and meta0.get("sync_format") == SYNC_FORMAT
                if not same_schema or full:
                    ensure_schema(self.conn, self.schema)
                rev0 = int(meta0.get("revision") or 0)
                rev = rev0 + 1
                state = _local_state(con, self.schema)
                store_id = meta0.get("store_id")
                log_from = int(meta0.get("log_from") or 0)
                if (not full and store_id and meta0.get("sync_format") == SYNC_FORMAT and state is not None
                        and state[0] == store_id):
                    mode = "incremental"
                    rows, keys, kept, changed = push_changes(self.conn, self.schema, con, rev, on_table)
                else:
                    store_id = store_id or uuid.uuid4().hex
                    log_from = rev  # every other runner's incremental state is void: they pull in full
                    self.conn.execute(sql.SQL("DELETE FROM {}").format(self._ident(CHANGES_TABLE)))
                    for table in store.SCHEMA:
                        rows[table] = push_all(self.conn, self.schema, con, table)
                        keys[table] = rows[table]
                        if on_table is not None:
                            on_table(table)
                log_from = max(log_from, rev - KEEP_REVISIONS)
                self.conn.execute(sql.SQL("DELETE FROM {} WHERE rev < %s").format(self._ident(CHANGES_TABLE)),
                                  [log_from])
                if not same_schema or mode == "full":
                    warnings += create_views(self.conn, self.schema, self.url)
                meta = {"pushed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "pushed_by": f"{getpass.getuser()}@{socket.gethostname()}",
                        "run_id": run_id or "", "touchpoint_tables": str(len(store.SCHEMA)),
                        "store_id": store_id, "revision": str(rev), "log_from": str(log_from),
                        "sync_format": SYNC_FORMAT, "push_mode": mode, "schema_sha": SCHEMA_SHA}
                if pseudonym_key:
                    meta["key_fingerprint"] = key_fingerprint(pseudonym_key)
                for k, v in meta.items():
                    self.conn.execute(sql.SQL("INSERT INTO {} (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                                              "DO UPDATE SET value = excluded.value").format(
                        self._ident(META_TABLE)), [k, v])
                nbytes = self.conn.execute(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", [self.schema]).fetchone()[0]
            # committed: what this copy now shares with Postgres becomes its baseline
            try:
                _after_push(con, self.schema, store_id, mode, rev, rev0, state, kept, changed)
            except Exception as exc:  # noqa: BLE001 - the push stands; the next pull or push redoes the rest
                log.warning("pushed, but the local sync state was not updated (%s); the next pull is full", exc)
                rollback(con)
                con.execute("DELETE FROM tp_sync_state")
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
        n_kept = sum(len(v) for v in kept.values())
        log.info("pushed %d rows (%s, %d keys, %d kept newer in Postgres) to %s in %.2fs", sum(rows.values()),
                 mode, sum(keys.values()), n_kept, self.label, secs)
        return {"rows": rows, "keys": keys, "kept": {t: len(v) for t, v in kept.items() if v}, "mode": mode,
                "revision": rev, "seconds": secs, "bytes": int(nbytes), "warnings": warnings}

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
    psycopg = psycopg_module()
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

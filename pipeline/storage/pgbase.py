"""PostgreSQL basics the shared store is built on: URLs and the secrets in them, DuckDB -> Postgres and
Arrow types, advisory-lock ids, the key fingerprint, and the driver import with its install hint.

Pure functions (no connection is opened here). May import ``pipeline.errors`` only.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import pyarrow as pa

from pipeline.errors import StoreError

META_TABLE = "touchpoint_store"  # Postgres only: pushes, and the pseudonymisation key's fingerprint
BATCH_ROWS = 20_000

# DuckDB column types of store.SCHEMA -> PostgreSQL and Arrow types.
_PG = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "INTEGER": "integer",
       "BIGINT": "bigint", "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "DATE": "date"}
_ARROW = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "FLOAT": pa.float32(), "INTEGER": pa.int32(),
          "BIGINT": pa.int64(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32()}


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
        secrets += parse_qs(urlsplit(url).query).get("password", [])
    except ValueError:
        pass
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(s, "***")
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


def rollback(con) -> None:
    try:
        con.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - no transaction open
        pass


def psycopg_module():
    try:
        import psycopg
    except ImportError:
        raise StoreError("store.url is a PostgreSQL URL but psycopg is not installed; "
                         "pip install 'touchpoint[postgres]'") from None
    return psycopg

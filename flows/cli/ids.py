"""``touchpoint ids ...``: the stored pseudonym of a raw customer id, for a follow-up team.

  touchpoint ids lookup VALUE [VALUE...] [--json]   the pseudonym each raw id is stored as, and where

Customer ids (a review's author or user name, a survey's or ticket's customer) are stored only as
keyed pseudonyms (``pid_...``). This prints the pseudonym of each value under the store's key
(TOUCHPOINT_PSEUDONYM_KEY, else ``<data_dir>/.pseudonym_key``) and how many rows of the store hold
it, so a follow-up list can be matched to a customer the team already knows. It never creates a
key: without the store's key the pseudonyms would match nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

# Tables and the id columns a customer's pseudonym is stored in.
ID_COLUMNS = {"feedback": ("customer_id", "interaction_id"), "scores": ("customer_id", "interaction_id"),
              "tickets": ("customer_id", "interaction_id"), "followup_queue": ("customer_id",)}


def _say(text: str) -> None:
    from pipeline.storage.safety import terminal_safe

    print(terminal_safe(str(text)))


def lookup(settings, values: list[str]) -> list[dict[str, Any]]:
    """Per raw id: ``value``, its stored ``pseudonym`` and ``rows`` (table -> rows holding it), or
    ``rows`` None when the store cannot be read now."""
    from pipeline.identity import id_pseudonym, pseudonym_key

    key = pseudonym_key(settings.data_dir, create=False)
    out = [{"value": v, "pseudonym": id_pseudonym(v, key, settings.redaction)} for v in values]
    found = find_rows(settings.data_dir, [r["pseudonym"] for r in out])
    for r in out:
        r["rows"] = None if found is None else found.get(r["pseudonym"], {})
    return out


def find_rows(data_dir: str, pseudonyms: list[str]) -> dict[str, dict[str, int]] | None:
    """Pseudonym -> table -> rows holding it in an id column; {} without a store, None when the store
    is locked by a run."""
    from pipeline.storage import store
    from pipeline.errors import StoreError

    if not store.db_path(data_dir).exists():
        return {}
    try:
        con = store.connect(data_dir, read_only=True)
    except StoreError:
        return None
    try:
        have: dict[str, set[str]] = {}
        for t, c in con.execute("SELECT table_name, column_name FROM duckdb_columns()").fetchall():
            have.setdefault(t, set()).add(c)
        out: dict[str, dict[str, int]] = {p: {} for p in pseudonyms}
        for table, cols in ID_COLUMNS.items():
            cols = tuple(c for c in cols if c in have.get(table, ()))
            if not cols:
                continue
            where = " OR ".join(f"{c} = ?" for c in cols)
            for p in pseudonyms:
                n = con.execute(f"SELECT count(*) FROM {table} WHERE {where}", [p] * len(cols)).fetchone()[0]
                if n:
                    out[p][table] = int(n)
        return out
    finally:
        con.close()


def cmd_ids(args) -> int:
    from configs import load_settings

    settings = load_settings(args.config, args.data_dir)
    rows = lookup(settings, args.values)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    width = max(len(v) for v in args.values)
    for r in rows:
        where = ("store locked by a run: rows not counted" if r["rows"] is None
                 else ", ".join(f"{t} {n}" for t, n in r["rows"].items()) or "not in the store")
        _say(f"{r['value']:<{width}}  {r['pseudonym']}  ({where})")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``ids`` subcommand (lookup) on the main parser."""
    p = sub.add_parser("ids", help="the stored pseudonym of a raw customer id (for follow-up teams)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    lk = acts.add_parser("lookup", help="print the pseudonym each raw customer id is stored as")
    lk.add_argument("values", nargs="+", metavar="VALUE", help="raw customer ids (user names, emails, phones)")
    lk.add_argument("--json", action="store_true", help="print the result as JSON")
    lk.set_defaults(func=cmd_ids)

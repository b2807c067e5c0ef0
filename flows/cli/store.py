"""``touchpoint store ...``: the shared PostgreSQL store (``store.url``), from the command line.

  touchpoint store status    where the store is, rows per table, the last push, who holds the lock
  touchpoint store pull      refresh this machine's working copy (<data_dir>/touchpoint.duckdb) from Postgres
  touchpoint store push      push the working copy to Postgres in one transaction (seeds an empty schema)

Runs (nightly, rerun, rescore) pull and push by themselves; these are for a machine that reads
(report, export, follow-up lists) or for moving an existing DuckDB store to Postgres.
"""

from __future__ import annotations

import argparse
import json


def _say(text: str) -> None:
    from pipeline.storage.safety import terminal_safe

    print(terminal_safe(str(text)))


def cmd_store(args) -> int:
    from configs import load_settings
    from pipeline.storage import pgstore, store
    from pipeline.errors import StoreError
    from pipeline.identity import pseudonym_key

    settings = load_settings(args.config, args.data_dir)
    if args.action == "status":
        st = pgstore.status(settings)
        if args.json:
            print(json.dumps(st, indent=1, default=str))
        elif st["backend"] == "duckdb":
            _say(f"embedded DuckDB store: {st['path']} (set store.url to share it through PostgreSQL)")
        else:
            _say(f"shared store: {st['url']}  schema {st['schema']}")
            push = st["last_push"]
            _say(f"last push: {push.get('pushed_at')} by {push.get('pushed_by')} (run {push.get('run_id') or '-'})"
                 if push else "never pushed: the next run or `touchpoint store push` seeds it")
            _say(f"lock: {'held ' + st['locked'] if st['locked'] else 'free'}")
            for t, n in st["rows"].items():
                _say(f"  {t:<26} {n:>10}")
        return 0
    if pgstore.store_url(settings) is None:
        raise StoreError("store.url is not set: the store is the local DuckDB file, there is nothing to "
                         f"{args.action}; see README \"Share the store\"")
    store.check_writable(settings.data_dir)
    with store.run_lock(settings.data_dir), pgstore.shared_store(settings) as shared:
        key = pseudonym_key(settings.data_dir)
        if args.action == "pull":
            res = shared.pull(settings.data_dir, key)
            if not res["initialised"]:
                _say(f"{shared.label} (schema {shared.schema}) was never pushed to; the local copy is unchanged")
            else:
                _say(f"pulled {sum(res['rows'].values())} rows from {shared.label} into "
                     f"{store.db_path(settings.data_dir)} in {res['seconds']:.1f}s")
        else:
            res = shared.push(settings.data_dir, None, key)
            for w in res["warnings"]:
                _say(f"warning: {w}")
            _say(f"pushed {sum(res['rows'].values())} rows to {shared.label} (schema {shared.schema}) in "
                 f"{res['seconds']:.1f}s; {res['bytes'] / 1e6:.1f} MB in Postgres")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``store`` subcommand on the main parser."""
    s = sub.add_parser("store", help="the shared PostgreSQL store: status, pull, push",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    st = acts.add_parser("status", help="rows per table, the last push, the lock (changes nothing)")
    st.add_argument("--json", action="store_true")
    acts.add_parser("pull", help="refresh the local working copy from Postgres")
    acts.add_parser("push", help="push the local working copy to Postgres (one transaction)")
    for sp in acts.choices.values():
        sp.set_defaults(func=cmd_store)

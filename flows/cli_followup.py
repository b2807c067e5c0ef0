"""``touchpoint followup ...``: the closed loop from the command line.

  touchpoint followup list [--status open|in_progress|closed|wont_fix|all] [--limit N] [--json]
  touchpoint followup close ID --note "called back, refund issued" [--at 2026-11-02T10:00]
  touchpoint followup import statuses.csv [--at ...]   item_id,status[,note][,closed_at]; all rows or none
  touchpoint followup export OUT_DIR [--format csv|parquet] [--status ...]
  touchpoint followup refresh [--run-date YYYY-MM-DD]  add new items now (the nightly run does this)

Statuses are kept across nightly runs: a run only ever adds items whose (record, reason) is new.
With a shared store (store.url) close, import and refresh pull it first and push it back, under its lock;
list and export read this machine's copy (`touchpoint store pull` refreshes it).
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timezone
from pathlib import Path


def _say(text: str) -> None:
    from pipeline.safety import terminal_safe

    print(terminal_safe(str(text)))


def _when(value: str | None) -> datetime:
    # The CLI is where a wall-clock default belongs: stages take the time as a parameter.
    return datetime.fromisoformat(value) if value else datetime.now(timezone.utc).replace(tzinfo=None)


def cmd_followup(args) -> int:
    from configs import load_settings

    settings = load_settings(args.config, args.data_dir)
    if args.action in ("close", "import", "refresh"):
        from pipeline.pgstore import synced

        with synced(settings):  # a shared store (store.url): locked, pulled before, pushed after
            return _followup(args, settings)
    return _followup(args, settings)


def _followup(args, settings) -> int:
    from pipeline import followup, store
    from pipeline.errors import InputError
    from pipeline.paths import allowed_roots, inside

    con = store.connect(settings.data_dir, read_only=args.action in ("list", "export"))
    try:
        if args.action == "list":
            status = None if args.status == "all" else args.status
            df = followup.list_items(con, status, args.limit)
            if args.json:
                print(json.dumps(df.to_dict("records"), default=str, ensure_ascii=False, indent=1))
                return 0
            for r in df.to_dict("records"):
                text = {k: (v if isinstance(v, str) else "") for k, v in r.items()}
                _say(f"{r['item_id']}  P{r['priority']}  {r['status']:<11} due {r['due_at']}  {r['reason']:<16} "
                     f"{text['channel']}/{text['touchpoint']}  {text['excerpt'][:70]}")
            _say(f"{len(df)} item(s)")
        elif args.action == "close":
            followup.close(con, args.id, args.note, _when(args.at))
            _say(f"closed {args.id}")
        elif args.action == "import":
            path = Path(args.csv)
            if not inside(path, allowed_roots(settings)):
                raise InputError(f"{path} is outside the allowed input roots; add its folder to input_roots")
            _say(f"updated {followup.import_statuses(con, path.resolve(), _when(args.at))} item(s)")
        elif args.action == "export":
            _say(str(followup.export_queue(con, args.out, args.format, None if args.status == "all" else args.status)))
        elif args.action == "refresh":
            run_date = date.fromisoformat(args.run_date) if args.run_date else _when(None).date()
            _say(followup.summary_markdown(followup.refresh_queue(con, run_date)))
    finally:
        con.close()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``followup`` subcommand on the main parser."""
    f = sub.add_parser("followup", help="the follow-up queue of detractors and critical incidents",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = f.add_subparsers(dest="action", required=True, metavar="ACTION")
    statuses = ["open", "in_progress", "closed", "wont_fix", "all"]
    ls = acts.add_parser("list", help="items by priority and due time")
    ls.add_argument("--status", choices=statuses, default="open")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    c = acts.add_parser("close", help="close one item with a note")
    c.add_argument("id")
    c.add_argument("--note", required=True)
    c.add_argument("--at", help="when it was closed (ISO date-time, default now, UTC)")
    i = acts.add_parser("import", help="apply statuses from a CSV (item_id,status[,note][,closed_at])")
    i.add_argument("csv")
    i.add_argument("--at", help="time stamped on rows without closed_at (default now, UTC)")
    e = acts.add_parser("export", help="write followup_queue.csv or .parquet into a folder")
    e.add_argument("out")
    e.add_argument("--format", choices=["csv", "parquet"], default="csv")
    e.add_argument("--status", choices=statuses, default="all")
    r = acts.add_parser("refresh", help="add items for new detractors and incidents (the nightly run does this)")
    r.add_argument("--run-date", help="YYYY-MM-DD (default today, UTC)")
    for sp in acts.choices.values():
        sp.set_defaults(func=cmd_followup)

"""``touchpoint followup ...``: the closed loop from the command line.

  touchpoint followup list [--status open|in_progress|closed|wont_fix|over_capacity|all] [--limit N] [--json]
  touchpoint followup summary [--days N] [--json]    the backlog: open, overdue, intake per day, over capacity
  touchpoint followup close ID --note "called back, refund issued" [--at 2026-11-02T10:00]
  touchpoint followup import statuses.csv [--at ...]   item_id,status[,note][,closed_at]; all rows or none
  touchpoint followup export OUT_DIR [--format csv|parquet] [--status ...]
  touchpoint followup refresh [--run-date YYYY-MM-DD]  add new items now (the nightly run does this)

The list is ranked: priority 1 (churn threat, anger, or a detractor who also shows high effort or repeated
contact), 2 (other detractors), 3 (other incidents); newest first within a priority. Each day opens at most
followup.daily_capacity new items (configs/touchpoint.yaml); the rest are counted as over_capacity
(`summary` shows them per touchpoint and reason) and can still be taken on: `import` a row with status open.
Statuses are kept across nightly runs: a run only ever adds items whose record is new.
With a shared store (store.url) close, import and refresh pull it first and push it back, under its lock;
list and export read this machine's copy (`touchpoint store pull` refreshes it).
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timezone
from pathlib import Path


def _say(text: str) -> None:
    from pipeline.storage.safety import terminal_safe

    print(terminal_safe(str(text)))


def _when(value: str | None) -> datetime:
    # The CLI is where a wall-clock default belongs: stages take the time as a parameter.
    return datetime.fromisoformat(value) if value else datetime.now(timezone.utc).replace(tzinfo=None)


def cmd_followup(args) -> int:
    from configs import load_settings

    settings = load_settings(args.config, args.data_dir)
    if args.action in ("close", "import", "refresh"):
        from pipeline.storage.pgstore import synced

        with synced(settings):  # a shared store (store.url): locked, pulled before, pushed after
            return _followup(args, settings)
    return _followup(args, settings)


def _followup(args, settings) -> int:
    from pipeline.analytics import followup
    from pipeline.storage import store
    from pipeline.errors import InputError
    from pipeline.ingest.paths import allowed_roots, inside

    con = store.connect(settings.data_dir, read_only=args.action in ("list", "export", "summary"))
    try:
        if args.action == "list":
            status = None if args.status == "all" else args.status
            df = followup.list_items(con, status, args.limit)
            if args.json:
                print(json.dumps(df.to_dict("records"), default=str, ensure_ascii=False, indent=1))
                return 0
            for r in df.to_dict("records"):
                text = {k: (v if isinstance(v, str) else "") for k, v in r.items()}
                _say(f"{r['item_id']}  P{r['priority']}  {r['status']:<11} due {r['due_at']}  "
                     f"{text['reasons'] or r['reason']:<16} {text['channel']}/{text['touchpoint']}  "
                     f"{text['excerpt'][:70]}")
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
        elif args.action == "summary":
            stats = followup.summary(con, days=args.days)
            if args.json:
                print(json.dumps(stats, ensure_ascii=False, indent=1))
            else:
                for line in render_summary(stats, settings.followup.daily_capacity):
                    _say(line)
        elif args.action == "refresh":
            run_date = date.fromisoformat(args.run_date) if args.run_date else _when(None).date()
            cfg = settings.followup
            _say(followup.summary_markdown(followup.refresh_queue(
                con, run_date, due_hours=cfg.due_hours, daily_capacity=cfg.daily_capacity,
                lookback_days=cfg.lookback_days)))
    finally:
        con.close()
    return 0


def render_summary(stats: dict, capacity: int | None) -> list[str]:
    """``followup.summary`` as terminal lines."""
    p = stats["open_by_priority"]
    lines = [f"Follow-up queue as of {stats['as_of'] or '-'} (daily capacity {capacity or 'unlimited'})",
             f"  active {stats['open'] + stats['in_progress']} (open {stats['open']}, in progress "
             f"{stats['in_progress']}), overdue {stats['overdue']}; by priority: P1 {p['1']}, P2 {p['2']}, P3 {p['3']}",
             f"  closed {stats['closed']}, won't fix {stats['wont_fix']}",
             f"  intake: {stats['opened']} opened, {stats['over_capacity']} over capacity "
             f"({stats['over_capacity_pending']} not taken on)"]
    if stats["daily"]:
        lines.append("  day          considered  opened  over capacity")
        lines += [f"  {d['day']}  {d['considered']:>10}  {d['opened']:>6}  {d['over_capacity']:>13}"
                  for d in stats["daily"]]
    if stats["over_capacity_by"]:
        lines.append("  over capacity by touchpoint and reason:")
        lines += [f"    {r['touchpoint']:<12} {r['reason']:<17} {r['n']:>5}" for r in stats["over_capacity_by"]]
        lines.append("    by reason: " + ", ".join(f"{k} {v}" for k, v in stats["over_capacity_by_reason"].items()))
    return lines


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``followup`` subcommand on the main parser."""
    f = sub.add_parser("followup", help="the follow-up queue of detractors and critical incidents",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = f.add_subparsers(dest="action", required=True, metavar="ACTION")
    statuses = ["open", "in_progress", "closed", "wont_fix", "over_capacity", "all"]
    ls = acts.add_parser("list", help="items in queue order: priority, then newest first")
    ls.add_argument("--status", choices=statuses, default="open")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    s = acts.add_parser("summary", help="the backlog: open and overdue items, intake per day, over capacity")
    s.add_argument("--days", type=int, default=7, help="refresh days shown in the intake table (default 7)")
    s.add_argument("--json", action="store_true")
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

"""``touchpoint serve``: run the nightly flow on a schedule from one long-lived process, no work pool.

  export PREFECT_API_URL=http://127.0.0.1:4200/api   # a `prefect server start` somewhere
  touchpoint --data-dir /srv/touchpoint serve --cron "0 2 * * *" --timezone Europe/Rome

The process registers the deployment ``touchpoint-nightly/touchpoint-nightly`` and runs every due
flow run, scheduled or triggered (``prefect deployment run touchpoint-nightly/touchpoint-nightly``).
At most one run at a time: a run that comes due while one is running is cancelled by the server,
not queued. Stop it with Ctrl-C or SIGTERM; the schedule is paused until it is served again.
Teams with a work pool use ``prefect deploy --all`` and prefect.yaml instead (same schedule and limit).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_serve(args) -> int:
    from flows import deploy

    options = deploy.deployment_options(args.cron, args.timezone, args.landing, args.config, args.data_dir,
                                        args.name)  # a bad cron or time zone fails here, before anything
    data_dir = deploy.check_ready(args.config, args.data_dir)
    # pin the data dir this shell resolved (--data-dir, TOUCHPOINT_DATA_DIR or the config), absolute
    options["parameters"].setdefault("data_dir", str(Path(data_dir).resolve()))

    def ready(deployment_id) -> None:
        from prefect.settings import PREFECT_API_URL

        print(f"Serving {deploy.FLOW_NAME}/{args.name} (deployment {deployment_id}) against "
              f"{PREFECT_API_URL.value()}\n"
              f"  schedule: {args.cron} ({args.timezone}); one run at a time, a colliding run is cancelled\n"
              f"  retries: {args.retries} after {args.retry_delay}s for the whole run; 2 per file on I/O errors\n"
              f"  data dir: {data_dir}; landing: {options['parameters'].get('landing', '<data_dir>/landing')}\n"
              f"Run now: prefect deployment run '{deploy.FLOW_NAME}/{args.name}'    Stop: Ctrl-C", flush=True)

    deploy.serve_nightly(options, args.retries, args.retry_delay, on_ready=ready)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``serve`` subcommand on the main parser."""
    from flows.deploy import DEFAULT_CRON, DEFAULT_TIMEZONE, DEPLOYMENT_NAME, FLOW_RETRIES, FLOW_RETRY_DELAY_S

    s = sub.add_parser("serve", help="run the nightly flow on a schedule from this process (Prefect serve)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--cron", default=DEFAULT_CRON, help=f"when to run (default {DEFAULT_CRON!r}: 02:00 daily)")
    s.add_argument("--timezone", default=DEFAULT_TIMEZONE,
                   help=f"IANA time zone of the cron schedule (default {DEFAULT_TIMEZONE})")
    s.add_argument("--landing", help="landing folder (default <data_dir>/landing)")
    s.add_argument("--name", default=DEPLOYMENT_NAME, help=f"deployment name (default {DEPLOYMENT_NAME})")
    s.add_argument("--retries", type=int, default=FLOW_RETRIES,
                   help=f"retries of a failed run, whole flow (default {FLOW_RETRIES})")
    s.add_argument("--retry-delay", type=int, default=FLOW_RETRY_DELAY_S,
                   help=f"seconds before a failed run is retried (default {FLOW_RETRY_DELAY_S})")
    s.set_defaults(func=cmd_serve)

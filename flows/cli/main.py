"""``touchpoint`` command line: demo, nightly and ad hoc runs, models, reports."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import flows  # noqa: F401  (sets quiet, offline environment defaults before Prefect loads)

EPILOG = """examples:
  touchpoint demo                      generate demo data, build models if missing, run nightly, report
  touchpoint run nightly               process new files under <data_dir>/landing
  touchpoint rerun dumps/reviews.csv   process one dump (file or folder) ad hoc
  touchpoint rescore                   after a promotion: rescore files scored by older models
  touchpoint export out/ --format parquet
  touchpoint serve --timezone Europe/Rome   run the nightly flow every night at 02:00 (needs PREFECT_API_URL)
  touchpoint models build              train the default models into <data_dir>/models
  touchpoint models evaluate ../shared/devdata
  touchpoint models train sentiment --data labels.csv --no-promote
  touchpoint models compare A B --data labels.csv
  touchpoint models retrain sentiment --data labels.csv   (promotes only when better)
  touchpoint report --out report.html
  touchpoint store status              the shared PostgreSQL store (store.url): rows, last push, lock

Configuration: configs/touchpoint.yaml (or --config FILE); data directory: --data-dir or TOUCHPOINT_DATA_DIR.
Set PREFECT_API_URL to run against a Prefect server; otherwise Prefect runs in ephemeral mode."""


def _settings(args):
    from configs import load_settings
    from models.encoders.core import remember_data_dir

    settings = load_settings(args.config, args.data_dir)
    remember_data_dir(settings.data_dir)  # --data-dir finds the ONNX and static encoders without the env var
    return settings


def _check_inside(path: Path, settings) -> Path:
    """CLI input paths must resolve inside the working directory, the data dir or configured input roots."""
    from pipeline.errors import InputError
    from pipeline.ingest.paths import allowed_roots, inside

    roots = allowed_roots(settings)
    if not inside(path, roots):
        raise InputError(f"{path} is outside the allowed input roots ({', '.join(map(str, roots))}); "
                         f"add its folder to input_roots in the config")
    return path.resolve()


def say(text: str = "") -> None:
    """Print to the operator's terminal with control characters from data removed."""
    from pipeline.storage.safety import terminal_safe

    print(terminal_safe(str(text)))


def _quiet_say(text: str = "") -> None:
    from pipeline.storage.safety import terminal_safe

    if str(text).startswith("warning:"):
        print(terminal_safe(str(text)), file=sys.stderr)


def _print_result(res: dict, t0: float, data_dir: str) -> None:
    from pipeline.reporting.report import terminal_summary

    for w in res.get("warnings") or []:
        say(f"warning: {w}")
    if not res.get("run_id"):
        say(res.get("message", "nothing to do"))
        return
    secs = time.perf_counter() - t0
    n = res["records_in"]
    say(f"\nRun {res['run_id']}: {res['files']} files, {n} records in {secs:.1f}s ({n / secs:.0f} records/s)")
    if res.get("conflicts"):
        say(f"{res['conflicts']} records arrived again with different content: the later version was kept and "
            f"both are listed in the conflicts table")
    say(terminal_summary(data_dir, res["run_id"]))
    if res.get("report"):
        say(f"\nHTML report: {res['report']}")
    say(f"Store: {Path(data_dir) / 'touchpoint.duckdb'}  (e.g. duckdb {Path(data_dir) / 'touchpoint.duckdb'} "
        f"-c 'select * from aggregates limit 5')")


def cmd_demo(args) -> int:
    from flows.nightly import nightly
    from models.training.train import build_default_models, models_ready
    from pipeline.ingest.demo import generate

    settings = _settings(args)
    landing = Path(settings.data_dir) / "landing"
    t0 = time.perf_counter()
    if args.fresh or not landing.exists():
        counts = generate(landing, size=args.size, seed=args.seed)
        print(f"[1/3] demo data -> {landing}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    else:
        print(f"[1/3] demo data already in {landing} (use --fresh to regenerate)")
    if not models_ready(settings):
        print("[2/3] building default models (first run only; about 5 minutes on 2 cores)")
        from flows.cli.models import attach_build_cache

        attach_build_cache(settings)  # a later `models build` (after a taxonomy edit) reuses the vectors
        build_default_models(settings, log=lambda m: print("      " + m))
    else:
        print("[2/3] models ready")
    print("[3/3] running the nightly flow (Prefect, ephemeral mode unless PREFECT_API_URL is set)")
    t1 = time.perf_counter()
    res = nightly(landing=str(landing), config=args.config, data_dir=settings.data_dir)
    _print_result(res, t1, settings.data_dir)
    print(f"\nDemo finished in {time.perf_counter() - t0:.0f}s")
    return 0


def cmd_run(args) -> int:
    from flows.nightly import nightly, with_runner

    settings = _settings(args)
    landing = str(_check_inside(Path(args.landing), settings)) if args.landing else None
    t0 = time.perf_counter()
    res = with_runner(nightly, args.runner, args.address, args.workers)(
        landing=landing, config=args.config, data_dir=settings.data_dir)
    _print_result(res, t0, settings.data_dir)
    return 0


# Commands that run a Prefect flow: without PREFECT_API_URL they get a temporary API server (flows/ops.py)
FLOW_COMMANDS = {"demo", "run", "rerun", "rescore"}


def preflight(args) -> None:
    """What a flow command can check before Prefect starts (its temporary server takes 8-13 s): the config,
    that the data dir can be created, the rerun path's root and, for the commands that need them, the
    models. The flow checks them again; this only makes a bad command fail in about a second."""
    from flows.ops import require_models
    from pipeline.errors import TouchpointError

    settings = _settings(args)
    data = Path(settings.data_dir)
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TouchpointError(f"data directory {data} cannot be created: {exc.strerror or exc}") from None
    if args.command == "rerun":
        _check_inside(Path(args.path), settings)
    if args.command in ("run", "rerun", "rescore"):
        require_models(settings)


HEARTBEAT_ENV = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def ad_hoc_run():
    """Prefect settings for an ad hoc flow run at the terminal (rerun, rescore): no flow-run heartbeat
    thread. Prefect stops it in 1 s sleeps, so it added up to 1 s (0.6-0.9 s measured) to every run;
    its use is spotting a killed run from a server, and the operator is watching this one. Setting
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY (seconds) keeps the heartbeats."""
    from contextlib import nullcontext

    if any(os.environ.get(k) for k in HEARTBEAT_ENV):
        return nullcontext()
    from prefect.settings import temporary_settings

    return temporary_settings(updates={"flows.heartbeat_frequency": None})


def cmd_rerun(args) -> int:
    from flows.nightly import rerun, with_runner

    settings = _settings(args)
    path = _check_inside(Path(args.path), settings)
    t0 = time.perf_counter()
    with ad_hoc_run():
        res = with_runner(rerun, args.runner, args.address, args.workers)(
            path=str(path), config=args.config, data_dir=settings.data_dir, source=args.source)
    _print_result(res, t0, settings.data_dir)
    return 0


def cmd_rescore(args) -> int:
    from flows.nightly import rescore

    settings = _settings(args)
    t0 = time.perf_counter()
    with ad_hoc_run():
        res = rescore(since=args.since, all_files=args.all, config=args.config, data_dir=settings.data_dir)
    _print_result(res, t0, settings.data_dir)
    return 0


def cmd_report(args) -> int:
    from pipeline.reporting.report import terminal_summary, write_report

    settings = _settings(args)
    path = write_report(settings.data_dir, args.out)
    say(terminal_summary(settings.data_dir))
    say(f"HTML report: {path}")
    return 0


def cmd_export(args) -> int:
    from pipeline.storage.export import export_tables

    settings = _settings(args)
    written = export_tables(settings.data_dir, args.out, args.format, args.tables or None,
                            partition=not args.single_file)
    for t, p in written.items():
        say(f"{t:<32} -> {p}{'/' if p.is_dir() else ''}")
    return 0


def cmd_generate(args) -> int:
    from pipeline.ingest.demo import generate

    counts = generate(args.out, size=args.size, seed=args.seed, bad_records=not args.clean)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _runner_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", choices=["local", "dask"], default="local",
                   help="where per-file tasks run: this process (default) or Dask (pip install -e '.[dask]')")
    p.add_argument("--address", help="dask: scheduler address, e.g. tcp://10.0.0.5:8786 (default: a local cluster)")
    p.add_argument("--workers", type=int, default=2, help="dask: local cluster worker processes (default 2)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="touchpoint", description="Omnichannel customer-feedback analytics: "
                                "reviews, chats and calls joined to NPS, CSAT, CES and tickets.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML config (default: configs/touchpoint.yaml)")
    p.add_argument("--data-dir", help="store, models, landing and reports folder (default from config: data/)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar; print only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log per-file progress, Prefect's task logs, and the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="generate demo data, build models if needed, run the nightly flow, report")
    d.add_argument("--size", type=int, default=3000, help="approximate number of text records (default 3000)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--fresh", action="store_true", help="regenerate the demo landing folder")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("run", help="run a scheduled flow")
    r.add_argument("flow", choices=["nightly"], help="nightly: new files under the landing folder")
    r.add_argument("--landing", help="landing folder (default <data_dir>/landing)")
    _runner_args(r)
    r.set_defaults(func=cmd_run)

    rr = sub.add_parser("rerun", help="process one dump (file or folder) ad hoc, even if seen before")
    rr.add_argument("path", help="a file or folder; files are matched to sources by the config's patterns")
    rr.add_argument("--source", help="treat every file as this configured source (skips pattern matching)")
    _runner_args(rr)
    rr.set_defaults(func=cmd_rerun)

    rs = sub.add_parser("rescore", help="reprocess stored files scored by an older config or model version")
    rs.add_argument("--since", help="only files ingested by runs started on or after this date (YYYY-MM-DD)")
    rs.add_argument("--all", action="store_true", help="rescore every ingested file, current or not")
    rs.set_defaults(func=cmd_rescore)

    from flows.cli.models import add_parser as add_models_parser

    add_models_parser(sub)

    from flows.cli.serve import add_parser as add_serve_parser

    add_serve_parser(sub)

    from flows.cli.followup import add_parser as add_followup_parser

    add_followup_parser(sub)

    from flows.cli.topics import add_parser as add_topics_parser

    add_topics_parser(sub)

    from flows.cli.store import add_parser as add_store_parser

    add_store_parser(sub)

    from flows.cli.ids import add_parser as add_ids_parser

    add_ids_parser(sub)

    rep = sub.add_parser("report", help="print the summary and write the HTML report from the store")
    rep.add_argument("--out", help="HTML path (default <data_dir>/reports/report.html)")
    rep.set_defaults(func=cmd_report)

    ex = sub.add_parser("export", help="write store tables to CSV or Parquet (formula cells neutralised in CSV)",
                        description="Write store tables and views for BI tools and spreadsheets. Tables with a day "
                                    "are folders partitioned by date (<table>/date=YYYY-MM-DD/part-0.<format>); "
                                    "the others are one file each. CSV cells that a spreadsheet would run as a "
                                    "formula get a leading '.")
    ex.add_argument("out", help="output folder")
    ex.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ex.add_argument("--tables", nargs="*", help="tables to export (default: all data tables)")
    ex.add_argument("--single-file", action="store_true",
                    help="one file per table (<table>.<format>) instead of date-partitioned folders")
    ex.set_defaults(func=cmd_export)

    g = sub.add_parser("generate", help="write a deterministic demo landing folder")
    g.add_argument("out", help="output folder")
    g.add_argument("--size", type=int, default=3000)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--clean", action="store_true", help="omit the planted malformed records")
    g.set_defaults(func=cmd_generate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Prefect logs a failed task's traceback at ERROR; without -v the user gets one line instead.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING" if args.verbose else "CRITICAL")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("touchpoint").setLevel(logging.INFO if args.verbose else logging.WARNING)
    os.environ.setdefault("TOUCHPOINT_CLI", "1")
    if not args.quiet and sys.stderr.isatty():
        os.environ.setdefault("TOUCHPOINT_PROGRESS", "1")
    if args.quiet:
        global say
        say = _quiet_say
    from flows.ops import ephemeral_api, mark_owner, reap_orphaned_servers

    mark_owner()
    reaped = reap_orphaned_servers()
    if reaped and args.verbose:
        say(f"stopped {len(reaped)} ephemeral Prefect server(s) left by a killed run: {reaped}")
    runs_flow = args.command in FLOW_COMMANDS or (args.command, getattr(args, "action", None)) == ("models", "retrain")
    try:
        if args.command in FLOW_COMMANDS:
            preflight(args)
        with ephemeral_api() if runs_flow else contextlib.nullcontext():
            return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line; the traceback behind -v
        if args.verbose:
            traceback.print_exc()
        print(_error_line(exc), file=sys.stderr)
        return 2 if _is_user_error(exc) else 1


def _is_user_error(exc: BaseException) -> bool:
    from configs import ConfigError
    from models.base import ModelError
    from models.keyfile import KeyFileError
    from pipeline.errors import TouchpointError

    return isinstance(exc, (TouchpointError, ConfigError, ModelError, KeyFileError, PermissionError, FileNotFoundError))


def _error_line(exc: BaseException) -> str:
    from pipeline.storage.safety import terminal_safe

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        msg = f"no space left on the device ({exc.filename or 'data directory'}); free some space and rerun"
    elif isinstance(exc, PermissionError):
        msg = f"permission denied: {exc.filename}; choose a writable --data-dir or fix the permissions"
    elif _is_user_error(exc):
        msg = str(exc)
    else:
        msg = f"{type(exc).__name__}: {exc} (rerun with -v for the traceback)"
    return "error: " + terminal_safe(msg)


if __name__ == "__main__":
    sys.exit(main())

"""``touchpoint models ...``: build, list and evaluate models in the versioned registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_models(args) -> int:
    from configs import load_settings
    from models.registry import Registry

    settings = load_settings(args.config, args.data_dir)
    reg = Registry(Path(settings.data_dir) / "models")
    if args.action == "build":
        from models.train import build_default_models

        build_default_models(settings, per_corpus=args.per_corpus, promote=not args.no_promote)
    elif args.action == "list":
        rows = reg.list()
        if not rows:
            print(f"no models in {reg.root}; run `touchpoint models build`")
        for r in rows:
            mark = "*" if r["current"] else " "
            print(f"{mark} {r['task']:<10} {r['version']:<28} {r['name']:<22} {r['backend']:<32} "
                  f"rows={r['training_rows']}")
    elif args.action == "evaluate":
        from models.evaluate import evaluate_dir

        folder = Path(args.path)
        if not folder.is_dir():
            raise SystemExit(f"error: {folder} is not a folder of labelled CSV files (text,label[,topic])")
        sent, top = reg.load(settings.models.sentiment), reg.load(settings.models.topics)
        print(f"sentiment {sent.meta_.tag}, topics {top.meta_.tag}; up to {args.limit} rows per file")
        results = evaluate_dir(sent, top, folder, args.limit)
        print(f"{'file':<34}{'task':<10}{'n':>6}{'classes':>8}{'macro-F1':>10}{'accuracy':>10}")
        for r in results:
            print(f"{r['file']:<34}{r['task']:<10}{r['n']:>6}{r['classes']:>8}{r['macro_f1']:>10.3f}{r['accuracy']:>10.3f}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``models`` subcommand on the main parser."""
    m = sub.add_parser("models", help="build, list and evaluate models")
    m.add_argument("action", choices=["build", "list", "evaluate"])
    m.add_argument("path", nargs="?", default="../shared/devdata", help="evaluate: folder of labelled CSVs")
    m.add_argument("--limit", type=int, default=1000, help="evaluate: rows sampled per file (0 = all)")
    m.add_argument("--per-corpus", type=int, help="build: training rows per corpus (default from config)")
    m.add_argument("--no-promote", action="store_true", help="build: register without making it current")
    m.add_argument("--json", help="evaluate: also write results to this JSON file")
    m.set_defaults(func=cmd_models)

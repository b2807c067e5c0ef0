"""``touchpoint models ...``: build, train, evaluate, compare, promote, roll back and retrain models.

  touchpoint models build [--data FILE]              default models (package corpora, or a labelled file)
  touchpoint models train sentiment --data FILE      train a version (head or finetune backend)
  touchpoint models train --task intent --data FILE  intents from a text,label file (labels = intent ids)
  touchpoint models evaluate [VERSION] --data FILE   metrics on the file's fixed held-out split
  touchpoint models evaluate FOLDER                  devdata folder evaluation (text,label[,topic] CSVs)
  touchpoint models compare A B --data FILE          two versions on the same rows
  touchpoint models promote TASK VERSION / rollback TASK / list / card TASK [VERSION]
  touchpoint models retrain sentiment --data FILE    train, gate against current, promote if better
  touchpoint models distill [--texts FILE ...]       a smaller encoder distilled from e5-small (docs/ml.md)

train, evaluate, compare and retrain take --task sentiment (the default) or --task intent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TASKS = ("sentiment", "intent")


def _registry(settings):
    from models.registry import Registry

    return Registry(Path(settings.data_dir) / "models")


def _kind(args) -> str:
    """The label kind of ``args.task``: "intent" for the intent task, else sentiment (its task folder
    may be renamed in settings)."""
    return "intent" if args.task == "intent" else "sentiment"


def _data(args, settings):
    from models.data.datasets import read_store
    from pipeline.ingest.labelled import read_labelled_file

    if getattr(args, "from_store", False):
        if _kind(args) != "sentiment":
            raise SystemExit("error: --from-store gives sentiment labels (ratings, NPS); give --data FILE for intents")
        return read_store(settings.data_dir)
    if not args.data:
        raise SystemExit("error: give --data FILE (a labelled CSV, JSONL or Parquet file) or --from-store")
    return read_labelled_file(args.data, args.text_col, args.label_col, args.label_map, task=_kind(args))


def _task(args) -> None:
    """``train``/``retrain`` take the task as a word (``train sentiment``) or as ``--task``; both must agree."""
    word, opt = getattr(args, "task_word", None), getattr(args, "task", None)
    if word and opt and word != opt:
        raise SystemExit(f"error: task {word!r} and --task {opt!r} disagree; give one")
    args.task = word or opt or "sentiment"


def _emit_json(args, payload) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if args.json == "-":
        print(text)
    else:
        Path(args.json).write_text(text, encoding="utf-8")


def _log(args):
    return (lambda m: print(m, file=sys.stderr)) if getattr(args, "json", None) == "-" else print


def attach_build_cache(settings) -> None:
    """Training corpora are encoded through the persistent vector cache too: a rebuild is quick."""
    from models.encoders.core import attach_vector_cache, get_encoder

    if settings.cache.vectors:
        try:
            enc = get_encoder(settings.models.encoder, data_dir=settings.data_dir)
        except Exception:  # noqa: BLE001 - not built yet (a converted checkpoint): training says so itself
            return
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)  # the build writes there anyway
        attach_vector_cache(enc, settings.data_dir, settings.cache.max_rows)


def cmd_build(args, settings) -> int:
    from models.training.train import build_default_models
    from pipeline.ingest.labelled import read_labelled_file

    attach_build_cache(settings)
    data = read_labelled_file(args.data) if args.data else None
    build_default_models(settings, per_corpus=args.per_corpus, promote=not args.no_promote, data=data)
    return 0


def cmd_train(args, settings) -> int:
    from models.training.train import train_labelled
    from pipeline.ingest.labelled import read_labelled_file

    _task(args)
    hp = {"epochs": args.epochs} if args.epochs else {}
    if _kind(args) == "intent" and (args.epochs or args.checkpoint):
        raise SystemExit("error: --epochs and --checkpoint are for the sentiment finetune backend")
    attach_build_cache(settings)
    data = _data(args, settings)
    held = (read_labelled_file(args.eval_data, args.text_col, args.label_col, args.label_map, task=_kind(args))
            if args.eval_data else None)
    from flows.progress import steps_progress

    with steps_progress() as bar:  # fine-tuning: a bar per epoch on a terminal, a log line per epoch always
        res = train_labelled(settings, data, backend=args.backend, promote=not args.no_promote,
                             checkpoint=args.checkpoint, hyperparameters=hp, log=_log(args), held_out=held,
                             task=None if _kind(args) == "sentiment" else args.task, progress=bar)
    if args.json:
        _emit_json(args, res)
    return 0


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """A labelled CSV's rows, by the pipeline's CSV reader; broken records are skipped, counted and located."""
    from pipeline.ingest.lines import iter_csv

    rows, bad = [], []
    for rec in iter_csv(path):
        if rec.error is None:
            rows.append(rec.value)
        else:
            bad.append(rec)
    if bad:
        print(f"{path}: {len(bad)} broken record(s) skipped; first at line {bad[0].line}: {bad[0].error}",
              file=sys.stderr)
    return rows


def cmd_evaluate(args, settings) -> int:
    reg = _registry(settings)
    if args.data or args.from_store:
        return _evaluate_versions(args, settings, [args.target])
    if _kind(args) != "sentiment":
        raise SystemExit(f"error: --task {args.task} is evaluated on a labelled file: give --data FILE")
    from models.training.evaluate import evaluate_files

    folder = Path(args.target or "../shared/devdata")
    if not folder.is_dir():
        raise SystemExit(f"error: {folder} is not a folder of labelled CSV files (text,label[,topic]); "
                         f"to evaluate a version on a labelled file use --data FILE")
    sent, top = reg.load(settings.models.sentiment), reg.load(settings.models.topics)
    print(f"sentiment {sent.meta_.tag}, topics {top.meta_.tag}; up to {args.limit} rows per file", file=sys.stderr)
    results = evaluate_files(sent, top, ((p.name, _csv_rows(p)) for p in sorted(folder.glob("*.csv"))), args.limit)
    if args.json == "-":
        _emit_json(args, results)
        return 0
    print(f"{'file':<34}{'task':<10}{'n':>6}{'classes':>8}{'macro-F1':>10}{'accuracy':>10}")
    for r in results:
        print(f"{r['file']:<34}{r['task']:<10}{r['n']:>6}{r['classes']:>8}{r['macro_f1']:>10.3f}{r['accuracy']:>10.3f}")
    if args.json:
        _emit_json(args, results)
    return 0


def _evaluate_versions(args, settings, versions: list[str | None]) -> int:
    from models.data.datasets import fixed_split
    from models.training.evaluate import compare_evaluations, evaluate_data, format_evaluation

    reg = _registry(settings)
    data = _data(args, settings)
    held = data if args.all_rows else data.subset(fixed_split(data, reg.splits_dir(args.task))[1])
    results = []
    for v in versions:
        version = v or reg.current_version(args.task)
        model = reg.load(args.task, version)
        ev = evaluate_data(model, held)
        reg.update_metrics(args.task, model.meta_.version, evaluations={ev["data"]: ev})
        results.append(ev)
    payload: dict = {"evaluations": results}
    if len(results) == 2:
        payload["comparison"] = compare_evaluations(results[0], results[1])
    if args.json == "-":
        _emit_json(args, payload)
        return 0
    where = "all rows" if args.all_rows else "the fixed held-out split"
    print(f"{data.source}: {where} ({len(held.texts)} of {len(data.texts)} rows)")
    for ev in results:
        print(format_evaluation(ev))
    if "comparison" in payload:
        c = payload["comparison"]
        print(f"{c['b']} - {c['a']}: macro-F1 {c['macro_f1'][2]:+.3f}, accuracy {c['accuracy'][2]:+.3f}; "
              "per class " + ", ".join(f"{k} {v[2]:+.3f}" for k, v in c["per_class_f1"].items()))
    if args.json:
        _emit_json(args, payload)
    return 0


def cmd_compare(args, settings) -> int:
    return _evaluate_versions(args, settings, [args.a, args.b])


def cmd_promote(args, settings) -> int:
    reg = _registry(settings)
    before = reg.current_version(args.task)
    reg.promote(args.task, args.version, args.reason)
    print(f"{args.task}: {before or 'none'} -> {args.version} ({args.reason})")
    return 0


def cmd_rollback(args, settings) -> int:
    reg = _registry(settings)
    before = reg.current_version(args.task)
    after = reg.rollback(args.task, args.reason)
    print(f"{args.task}: rolled back {before} -> {after}")
    return 0


def cmd_list(args, settings) -> int:
    reg = _registry(settings)
    rows = reg.list()
    if args.json == "-":
        _emit_json(args, rows)
        return 0
    if not rows:
        print(f"no models in {reg.root}; run `touchpoint models build`")
    for r in rows:
        mark = "*" if r["current"] else " "
        evals = r["metrics"].get("evaluations") or {}
        first = next(iter(evals.items()), None)
        f1 = f"macro-F1 {first[1]['macro_f1']:.3f} on {first[0]}" if first else "not evaluated"
        when = "; ".join(r["current_periods"]) or "never current"
        print(f"{mark} {r['task']:<10} {r['version']:<14} {r['backend']:<36} rows={r['training_rows']} "
              f"data={r['training_data_hash']} labels={len(r['labels'])}\n    {f1}\n    current: {when}")
    return 0


def cmd_card(args, settings) -> int:
    reg = _registry(settings)
    version = args.version or reg.current_version(args.task)
    if version is None:
        raise SystemExit(f"error: no current {args.task} version; give one")
    print((reg.version_dir(args.task, version) / "MODEL_CARD.md").read_text(encoding="utf-8"))
    return 0


def cmd_retrain(args, settings) -> int:
    from flows.retrain import retrain

    _task(args)
    res = retrain(data=args.data, from_store=args.from_store, text_col=args.text_col, label_col=args.label_col,
                  label_map=args.label_map, backend=args.backend, checkpoint=args.checkpoint,
                  config=args.config, data_dir=settings.data_dir, retrain_config=args.retrain_config,
                  task=args.task)
    if args.json:
        _emit_json(args, res)
        return 0
    print(f"{res['task']}: candidate {res['candidate']} {'PROMOTED' if res['promoted'] else 'NOT promoted'} "
          f"(current before: {res['current_before'] or 'none'})")
    for r in res["reasons"]:
        print(f"  - {r}")
    return 0


def cmd_distill(args, settings) -> int:
    from flows.progress import steps_progress
    from models.base import ModelError
    from models.encoders.convert import ensure_e5_checkpoint
    from models.encoders.student import (Recipe, corpus_sources, distill, pool_texts, read_texts, store_texts,
                                         student_dir)

    log = _log(args)
    if args.max_texts < 2:
        raise SystemExit(f"error: --max-texts {args.max_texts}: give at least 2")
    try:
        layers = tuple(int(x) for x in args.layers.split(","))
    except ValueError:
        raise SystemExit(f"error: --layers {args.layers!r}: give teacher layer numbers, e.g. 0,2,4,6,8,11") from None
    sources = []
    try:
        for f in args.texts or []:
            sources.append((f"file:{f}", read_texts(f, args.text_col)))
        if not args.no_store:
            sources.append(("store:feedback", store_texts(settings.data_dir)))
        if not args.no_corpora:
            sources += corpus_sources(Path(settings.data_dir) / "corpora")
    except ModelError as exc:
        raise SystemExit(f"error: {exc}") from None
    sources = [s for s in sources if s[1]]
    texts, described = pool_texts(sources, args.max_texts, args.seed)
    if len(texts) < 2:
        raise SystemExit("error: no texts to distil on: give --texts FILE, or run the flow first (the store's text)")
    for d in described:
        log(f"  {d['source']}: {d['used']:,} of {d['distinct']:,} distinct texts")
    recipe = Recipe(layers=layers, epochs=args.epochs, seed=args.seed, **({"lr": args.lr} if args.lr else {}))
    out = Path(args.out) if args.out else student_dir(settings.data_dir)
    try:
        with steps_progress("distilling") as bar:
            card = distill(ensure_e5_checkpoint(settings.data_dir), texts, out, recipe, sources=described,
                           progress=bar, log=log, init=args.init)
    except ModelError as exc:
        raise SystemExit(f"error: {exc}") from None
    log(f"student -> {out}\nuse it: set models.encoder: onnx.e5-student.int8.v1 in the config, then "
        f"`touchpoint models build` (the heads are trained again on its vectors) and `touchpoint models evaluate`")
    if args.json:
        _emit_json(args, card)
    return 0


COMMANDS = {"build": cmd_build, "distill": cmd_distill, "train": cmd_train, "evaluate": cmd_evaluate, "compare": cmd_compare,
            "promote": cmd_promote, "rollback": cmd_rollback, "list": cmd_list, "card": cmd_card,
            "retrain": cmd_retrain}


def cmd_models(args) -> int:
    from configs import load_settings
    from models.encoders.core import remember_data_dir

    settings = load_settings(args.config, args.data_dir)
    remember_data_dir(settings.data_dir)  # --data-dir finds the ONNX and static encoders without the env var
    return COMMANDS[args.action](args, settings)


def _data_args(p: argparse.ArgumentParser, store: bool = True) -> None:
    p.add_argument("--data", help="labelled file: .csv, .tsv, .jsonl or .parquet")
    p.add_argument("--text-col", default="text", help="text column (default text)")
    p.add_argument("--label-col", default="label", help="label column (default label)")
    p.add_argument("--label-map", help="raw label -> label: JSON '{\"1\": \"negative\"}' or 1=negative,5=positive")
    if store:
        p.add_argument("--from-store", action="store_true",
                       help="distant labels from the store: stars 1-2/3/4-5, NPS 0-6/7-8/9-10")


def _task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("task_word", nargs="?", choices=TASKS, metavar="TASK", help="sentiment (default) or intent")
    p.add_argument("--task", choices=TASKS, help="the same as TASK")


def _json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", nargs="?", const="-", help="machine-readable output: to stdout, or to FILE")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``models`` subcommand (and its actions) on the main parser."""
    m = sub.add_parser("models", help="build, train, evaluate, compare, promote, roll back and retrain models",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    m.set_defaults(func=cmd_models)

    b = acts.add_parser("build", help="train the default models (package corpora, or --data FILE)")
    b.add_argument("--per-corpus", type=int, help="training rows per corpus (default from config)")
    b.add_argument("--data", help="train sentiment on this labelled file instead of the package corpora")
    b.add_argument("--no-promote", action="store_true", help="register without making it current")

    t = acts.add_parser("train", help="train a sentiment or intent version on labelled data")
    _task_args(t)
    _data_args(t)
    t.add_argument("--eval-data", help="score this labelled file and train on every row of --data (few-shot "
                   "files); default: hold out the fixed split of --data")
    t.add_argument("--backend", choices=["head", "finetune"], default="head",
                   help="head: logistic regression on frozen embeddings (seconds); finetune: the transformer")
    t.add_argument("--checkpoint", help="finetune: local Hugging Face checkpoint dir (default: converted e5-small)")
    t.add_argument("--epochs", type=int, help="finetune: maximum epochs (early stopping may end sooner)")
    t.add_argument("--no-promote", action="store_true", help="register without making it current")
    _json_arg(t)

    e = acts.add_parser("evaluate", help="a version on a labelled file's fixed split, or the devdata folder")
    e.add_argument("target", nargs="?", help="with --data: VERSION (default current); else FOLDER of CSVs")
    e.add_argument("--task", default="sentiment", help="sentiment (default) or intent")
    _data_args(e)
    e.add_argument("--all-rows", action="store_true", help="score every row, not the held-out split (guard files)")
    e.add_argument("--limit", type=int, default=1000, help="FOLDER: rows sampled per file (0 = all)")
    _json_arg(e)

    c = acts.add_parser("compare", help="two versions on the same rows of a labelled file")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--task", default="sentiment", help="sentiment (default) or intent")
    _data_args(c)
    c.add_argument("--all-rows", action="store_true", help="score every row, not the held-out split")
    _json_arg(c)

    p = acts.add_parser("promote", help="make a version current (recorded in HISTORY.jsonl)")
    p.add_argument("task")
    p.add_argument("version")
    p.add_argument("--reason", default="manual promotion")

    r = acts.add_parser("rollback", help="make the previously current version current again")
    r.add_argument("task")
    r.add_argument("--reason", default="rollback")

    ls = acts.add_parser("list", help="versions with metrics, data hash, backend and when they were current")
    _json_arg(ls)

    cd = acts.add_parser("card", help="print a version's MODEL_CARD.md")
    cd.add_argument("task")
    cd.add_argument("version", nargs="?")

    ds = acts.add_parser("distill", help="distil a smaller encoder from e5-small on unlabelled text (minutes to hours)")
    ds.add_argument("--texts", action="append", help="unlabelled text: .txt (a text per line), .csv/.tsv/.jsonl/"
                    ".parquet (--text-col); repeat for several files")
    ds.add_argument("--text-col", default="text", help="text column or field (default text)")
    ds.add_argument("--no-store", action="store_true", help="leave out the store's (redacted) feedback text")
    ds.add_argument("--no-corpora", action="store_true", help="leave out the package corpora's text")
    ds.add_argument("--max-texts", type=int, default=8000,
                    help="distinct texts to train on, taken evenly from the sources (default 8000: ~6 min per epoch on 2 cores)")
    ds.add_argument("--layers", default="0,2,4,6,8,11", help="teacher layers the student starts from (default 0,2,4,6,8,11)")
    ds.add_argument("--epochs", type=int, default=1, help="passes over the texts (default 1)")
    ds.add_argument("--lr", type=float, help="peak learning rate (default 4e-4)")
    ds.add_argument("--seed", type=int, default=13, help="text order, batches, dropout and held-back texts")
    ds.add_argument("--out", help="checkpoint dir (default <data_dir>/models/encoders/e5-student)")
    ds.add_argument("--init", help="go on training this earlier student (same --layers) instead of starting afresh")
    _json_arg(ds)

    rt = acts.add_parser("retrain", help="train, compare with current on the fixed split, promote only if better")
    _task_args(rt)
    _data_args(rt)
    rt.add_argument("--backend", choices=["head", "finetune"], help="default from the retrain config")
    rt.add_argument("--checkpoint", help="finetune: local Hugging Face checkpoint dir")
    rt.add_argument("--retrain-config", help="gate config (default configs/retrain.yaml)")
    _json_arg(rt)
    for sp in acts.choices.values():
        sp.set_defaults(func=cmd_models)

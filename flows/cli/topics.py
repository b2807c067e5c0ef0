"""``touchpoint topics ...``: explore a dump, list discovered topics, promote one into the taxonomy.

  touchpoint topics discover PATH [--text-col text] [--all]   taxonomy coverage and proposed topics of a CSV/JSONL
  touchpoint topics list [--all] [--taxonomy]                  discovered topics in the store (or the taxonomy tree)
  touchpoint topics promote ID --parent P [--leaf NAME] [--label TEXT] [--taxonomy FILE]
                                                               move a discovered topic into the taxonomy
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

TEXT_COLUMNS = ("text", "content", "comment", "review", "body", "message")


def _settings(args):
    from configs import load_settings

    return load_settings(args.config, args.data_dir)


def _taxonomy_path(args, settings) -> Path:
    if getattr(args, "taxonomy", None):
        return Path(args.taxonomy)
    p = Path(settings.taxonomy)
    return p if p.is_absolute() else settings.config_path.parent / p


def _read_texts(path: Path, text_col: str | None, lang_col: str | None, limit: int) -> tuple[list[str], list]:
    """Texts (and languages) of a dump. CSV and JSON Lines go through the pipeline's own line readers
    (pipeline/ingest/lines.py: one reader per format); a broken record is left out, counted and located
    on stderr. TSV and Parquet, which the pipeline does not ingest, are read with pandas."""

    rows, bad = _records(path)
    if bad:
        line, reason = bad[0]
        print(f"warning: {path}: {len(bad)} record(s) left out; first at line {line}: {reason}", file=sys.stderr)
    columns = list(rows[0]) if rows else []
    col = text_col or next((c for c in TEXT_COLUMNS if c in columns), None)
    if col is None or col not in columns:
        raise SystemExit(f"error: {path}: no text column (looked for {text_col or ', '.join(TEXT_COLUMNS)}); "
                         f"columns are {', '.join(map(str, columns))}; pass --text-col")
    rows = [r for r in rows if str(r.get(col) if r.get(col) is not None else "").strip()]
    if limit:
        rows = rows[:limit]
    langs = [str(r.get(lang_col)) for r in rows] if lang_col and lang_col in columns else [None] * len(rows)
    return [" ".join(str(r[col]).split()) for r in rows], langs


def _records(path: Path) -> tuple[list[dict], list[tuple[int, str]]]:
    from pipeline.ingest.lines import iter_csv, iter_jsonl

    suffix = path.suffix.lower()
    if suffix in (".csv", ".jsonl", ".ndjson"):
        recs = iter_csv(path) if suffix == ".csv" else iter_jsonl(path)
        rows, bad = [], []
        for rec in recs:
            if rec.error is not None or not isinstance(rec.value, dict):
                bad.append((rec.line, rec.error.reason if rec.error is not None else "not an object"))
            else:
                rows.append(rec.value)
        return rows, bad
    import pandas as pd

    if suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")
    return df.to_dict("records"), []


def _topic_model(settings):
    """The registered topic model when one is built, else one fitted from the taxonomy now."""
    from configs import load_taxonomy
    from models.registry import Registry
    from models.heads.topics import TaxonomyTopics

    try:
        return Registry(Path(settings.data_dir) / "models").load(settings.models.topics)
    except Exception:  # noqa: BLE001 - no built model: fall back to the taxonomy file
        tax = load_taxonomy(settings)
        return TaxonomyTopics(encoder=settings.models.encoder, threshold=tax.threshold,
                              keyword_bonus=tax.keyword_bonus).fit(tax)


def cmd_discover(args) -> int:
    from pipeline.analytics.emerging import discovery_config, explore_texts
    from pipeline.langid import detect_languages
    from pipeline.normalize import normalize_text
    from pipeline.ingest.paths import allowed_roots, refusal
    from pipeline.pii import redact_all, redact_text

    settings = _settings(args)
    path = Path(args.path)
    why = refusal(path, allowed_roots(settings))
    if why:
        raise SystemExit(f"error: {why}")
    texts, hints = _read_texts(path, args.text_col, args.lang_col, args.limit)
    if not texts:
        raise SystemExit(f"error: {path}: no rows with text")
    # A raw dump holds emails, phones and names: cluster, quote and print only redacted text.
    policy = settings.redaction
    texts = redact_all([normalize_text(t) for t in texts], policy)[0]
    langs = hints if all(hints) else detect_languages(texts, hints, tuple(settings.languages.detect),
                                                      settings.languages.min_confidence)[0]
    cfg = discovery_config(settings)
    if args.threshold is not None:
        cfg = cfg.model_copy(update={"assign_threshold": args.threshold})
    if args.min_size is not None:
        cfg = cfg.model_copy(update={"min_topic_size": args.min_size})
    res = explore_texts(texts, langs, _topic_model(settings), cfg, max_new=args.max_new,
                        seed=settings.models.seed, cluster_all=args.all)
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=2, default=str))
        return 0
    n = len(texts)
    subs = Counter(res["subtopic"])
    print(f"{n} texts, languages {dict(sorted(Counter(langs).items()))}; taxonomy 'other': "
          f"{subs.get('other', 0)} ({subs.get('other', 0) / n:.0%})")
    print("\nTaxonomy topics (top 15)")
    print(f"  {'subtopic':34} {'n':>6} {'share':>6}")
    for t, c in sorted(subs.items(), key=lambda kv: (-kv[1], kv[0]))[:15]:
        print(f"  {t:34} {c:>6} {c / n:>6.1%}")
    print(f"\nProposed topics among {res['clustered']} {'texts' if args.all else 'other texts'} "
          f"(assign threshold {cfg.assign_threshold}, min size {cfg.min_topic_size})")
    print(f"  {'id':12} {'size':>5}  {'languages':18} terms / quote")
    for t in res["topics"]:
        lang_s = ",".join(f"{k}:{v}" for k, v in t["languages"].items())
        quote = redact_text(next(iter(q[0] for q in t["quotes"].values() if q), ""), policy).text
        terms = redact_text(t["terms"], policy).text
        print(f"  {t['topic_id']:12} {t['size']:>5}  {lang_s:18} {terms}\n  {'':38} \"{quote[:90]}\"")
    if not res["topics"]:
        print("  (none: too few similar texts; lower --min-size or --threshold)")
    if res.get("placeholder_only"):
        print(f"  ({res['placeholder_only']} texts held nothing but redacted personal data and were not clustered)")
    print("\nOutliers per language: " + ", ".join(
        f"{lg} {o['outliers']}/{o['sentences']} ({o['share']:.0%})" for lg, o in res["outliers"].items()))
    return 0


def cmd_list(args) -> int:
    settings = _settings(args)
    if args.taxonomy_tree:
        from configs import parse_yaml
        from configs.taxonomy_schema import CxTaxonomy

        p = _taxonomy_path(args, settings)
        tax = CxTaxonomy.model_validate(parse_yaml(p.read_text(encoding="utf-8")))
        for parent in tax.parents():
            print(f"{parent:24} {tax.node(parent).label}")
            for leaf in (t for t in tax.leaves() if t.startswith(parent + ".")):
                node = tax.node(leaf)
                print(f"  {leaf:32} {node.label}  [{', '.join(sorted(k for k, v in node.seeds.items() if v))}]")
        return 0
    from pipeline.storage import store
    from pipeline.analytics.emerging import list_discovered, outlier_report

    con = store.connect(settings.data_dir)
    try:
        rows = list_discovered(con, include_retired=args.all)
        outliers = outlier_report(con)
    finally:
        con.close()
    if args.json:
        print(json.dumps({"topics": rows, "outliers": outliers}, ensure_ascii=False, indent=2, default=str))
        return 0
    if not rows:
        print("no discovered topics yet (they appear after a nightly run with enough 'other' sentences)")
    print(f"{'id':12} {'status':8} {'volume':>6} {'last':>5} {'growth':>7} {'parent?':16} {'languages':16} terms")
    for r in rows:
        g = "" if r["growth"] is None else f"{r['growth']:+.0%}"
        print(f"{r['topic_id']:12} {r['status']:8} {r['volume'] or 0:>6} {r['last_run_sentences'] or 0:>5} {g:>7} "
              f"{(r['suggested_parent'] or ''):16} {(r['languages'] or ''):16} {r['terms']}")
    if outliers:
        print("\nLast run, outlier share per language: " + ", ".join(
            f"{o['language']} {o['outliers']}/{o['sentences']} ({o['outlier_share']:.0%})" for o in outliers))
    return 0


def promote(data_dir: str, topic_id: str, parent: str, taxonomy_path: Path, leaf: str | None = None,
            label: str | None = None) -> str:
    """Append the discovered topic as leaf ``parent.leaf`` (quotes as seeds); returns the new leaf id."""
    from configs import parse_yaml
    from configs.taxonomy_schema import CxTaxonomy
    from pipeline.storage import store
    from pipeline.analytics.emerging import ensure_tables, taxonomy_block

    con = store.connect(data_dir)
    try:
        ensure_tables(con)
        row = con.execute("SELECT terms, examples, status FROM discovered_topics WHERE topic_id = ?",
                          [topic_id]).fetchone()
        if row is None:
            raise SystemExit(f"error: no discovered topic {topic_id!r}; see `touchpoint topics list --all`")
        terms, examples, status = row
        if status == "promoted":
            raise SystemExit(f"error: {topic_id} was already promoted")
        quotes = json.loads(examples or "{}")
        if not any(quotes.values()):
            raise SystemExit(f"error: {topic_id} has no example sentences to use as seeds")
        leaf = leaf or "_".join(re.sub(r"[^a-z0-9]+", "_", t.strip().lower()).strip("_")
                                for t in terms.split(",")[:2] if t.strip()) or topic_id.replace("-", "_")
        leaf = re.sub(r"^[^a-z]+", "", leaf) or "discovered"
        text = taxonomy_path.read_text(encoding="utf-8")
        new_text = text.rstrip("\n") + "\n" + taxonomy_block(topic_id, parent, leaf, label or terms, quotes, terms)
        try:
            tax = CxTaxonomy.model_validate(parse_yaml(new_text))
        except Exception as exc:  # noqa: BLE001 - say what to fix
            raise SystemExit(f"error: promoting {topic_id} as {parent}.{leaf} would make {taxonomy_path} "
                             f"invalid: {exc}") from None
        if parent not in tax.parents():
            raise SystemExit(f"error: {parent!r} is not a parent topic; parents: {', '.join(tax.parents())}")
        tmp = taxonomy_path.with_suffix(taxonomy_path.suffix + ".tmp")
        tmp.write_text(new_text, encoding="utf-8")
        tmp.replace(taxonomy_path)
        con.execute("UPDATE discovered_topics SET status = 'promoted', promoted_to = ? WHERE topic_id = ?",
                    [f"{parent}.{leaf}", topic_id])
        return f"{parent}.{leaf}"
    finally:
        con.close()


def cmd_promote(args) -> int:
    settings = _settings(args)
    path = _taxonomy_path(args, settings)
    from pipeline.storage.pgstore import synced

    with synced(settings):  # a shared store (store.url): locked, pulled before, pushed after
        new_id = promote(settings.data_dir, args.id, args.parent, path, args.leaf, args.label)
    print(f"added {new_id} to {path}; rebuild the topic model (`touchpoint models build`) and "
          f"`touchpoint rescore` to apply it to stored sentences")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``topics`` subcommand (discover, list, promote) on the main parser."""
    t = sub.add_parser("topics", help="explore a dump, list discovered topics, promote one into the taxonomy",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = t.add_subparsers(dest="action", required=True, metavar="ACTION")

    d = acts.add_parser("discover", help="taxonomy coverage and proposed new topics of a CSV/JSONL/Parquet file")
    d.add_argument("path")
    d.add_argument("--text-col", help=f"text column (default: first of {', '.join(TEXT_COLUMNS)})")
    d.add_argument("--lang-col", help="language column (default: detect)")
    d.add_argument("--limit", type=int, default=5000, help="first N rows (0 = all)")
    d.add_argument("--all", action="store_true", help="cluster every text, not only the taxonomy's 'other'")
    d.add_argument("--threshold", type=float, help="assign threshold (language-centred cosine)")
    d.add_argument("--min-size", type=int, help="texts a proposed topic needs")
    d.add_argument("--max-new", type=int, default=10, help="proposed topics at most")
    d.add_argument("--json", action="store_true", help="print the full result as JSON")
    d.set_defaults(func=cmd_discover)

    ls = acts.add_parser("list", help="discovered topics in the store (new first), or --taxonomy for the tree")
    ls.add_argument("--all", action="store_true", help="include retired and promoted topics")
    ls.add_argument("--taxonomy", dest="taxonomy_tree", action="store_true", help="print the taxonomy tree")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    p = acts.add_parser("promote", help="move a discovered topic into the taxonomy, its quotes as seeds")
    p.add_argument("id", help="discovered topic id (dt-...)")
    p.add_argument("--parent", required=True, help="parent topic id, e.g. delivery")
    p.add_argument("--leaf", help="leaf name (default from the topic's top terms)")
    p.add_argument("--label", help="label (default the top terms)")
    p.add_argument("--taxonomy", help="taxonomy file to edit (default the config's taxonomy)")
    p.set_defaults(func=cmd_promote)

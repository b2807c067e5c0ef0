"""Discovered topics: what the taxonomy misses, with ids that stay stable from night to night.

Each run takes the "other" sentences not seen before (plus recent outliers), assigns them to the
discovered topics already stored by nearest centroid (no refit), proposes new topics from what is
left (flagged ``new``), and retires topics with no new sentence for ``retire_after_days``. Centroids
and per-language means are stored, so the same store and input give the same assignments. Tables
(``DDL``) and views are created here if missing; their schema lives in pipeline/storage/schema.py.
``emerging_topics`` keeps its old shape (one row per live discovered topic) for the report and alerts.

Redaction placeholders ("[EMAIL]", "[PHONE]", ...) and the words that only name them ("my email is
[EMAIL]", "电话 [PHONE]") are removed from what is clustered, so they never make a topic or its
terms; a sentence with nothing else left (``clustering_text`` is None) is left out of discovery and
marked in ``discovered_assignments`` with no run date, so it is not fetched again. Quotes prefer
sentences without placeholders.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

import numpy as np

from configs import Settings, load_taxonomy
from configs.taxonomy_schema import DiscoveryConfig
from models.heads.topics import parent_of, representative_quotes, run_discovery
from pipeline.pii import PLACEHOLDERS
from pipeline.storage import store
from pipeline.storage.schema import EMERGING_VIEWS, SCHEMA
from pipeline.storage.tables import insert_rows, upsert_rows

MAX_SENTENCES = 3000  # kept for callers of the old module; the limit is DiscoveryConfig.max_sentences
STATUSES = ("new", "active", "retired", "promoted")

DDL = {t: SCHEMA[t] for t in ('discovered_topics', 'discovered_assignments', 'discovered_topic_volume', 'discovery_runs', 'discovery_language_means')}  # the store's schema owns them


_CANDIDATES = """
SELECT s.feedback_id, s.idx, s.text, s.language, md5(s.text) AS text_md5, a.feedback_id IS NOT NULL AS seen
FROM sentences s
LEFT JOIN discovered_assignments a ON a.feedback_id = s.feedback_id AND a.idx = s.idx AND a.text_md5 = md5(s.text)
WHERE s.topic = 'other' AND length(s.text) >= 12
  AND (a.feedback_id IS NULL OR (a.topic_id IS NULL AND a.run_date >= ?))
ORDER BY seen, s.feedback_id, s.idx
LIMIT ?"""


# Words that name a redacted value ("email" in "my email is [EMAIL]"): dropped from a sentence that holds
# a placeholder. Latin and Persian words whole, Chinese ones as written (no word boundaries there).
_NAMING_WORDS = ("e-mail", "e-mails", "email", "emails", "mail", "mails", "mailbox", "address", "addresses",
                 "phone", "phones", "telephone", "tel", "mobile", "cell", "cellphone", "number", "numbers",
                 "card", "cards", "iban", "name", "names", "surname",
                 "posta", "indirizzo", "telefono", "cellulare", "numero", "carta", "nome", "cognome",
                 "ایمیل", "پست", "آدرس", "نشانی", "تلفن", "شماره", "موبایل", "کارت", "نام")
_NAMING_ZH = ("电子邮件", "电子邮箱", "邮箱", "邮件", "电话号码", "电话", "手机号", "手机", "号码", "地址", "银行卡", "卡号",
              "名字", "姓名")
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
_NAMING = re.compile(r"(?<![\w-])(?:" + "|".join(sorted(map(re.escape, _NAMING_WORDS), key=len, reverse=True))
                     + r")(?![\w-])|" + "|".join(map(re.escape, _NAMING_ZH)), re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")
_HAN = re.compile(r"[\u3400-\u9fff]")
MIN_CONTENT = 12  # letters a sentence must keep besides placeholders (a Chinese character counts 3)


def clustering_text(text: str) -> str | None:
    """``text`` as discovery clusters it: placeholders and the words naming them removed; None when
    nothing but them (and a few short words) is left. Text without a placeholder is unchanged."""
    if not _PLACEHOLDER.search(text):
        return text
    rest = " ".join(_NAMING.sub(" ", _PLACEHOLDER.sub(" ", text)).split())
    words = [w for w in _WORD.findall(rest) if len(w) >= 3 or _HAN.search(w)]
    content = sum(3 * len(w) if _HAN.search(w) else len(w) for w in words)
    return rest if content >= MIN_CONTENT else None


def has_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.search(text or ""))


def _quotes(texts: list[str], languages: list[str], similarity: list[float | None], topic: list[str | None],
            per_language: int) -> dict[str, dict[str, list[str]]]:
    """Representative quotes per topic and language, sentences without a placeholder first."""
    ranked = representative_quotes(texts, languages, similarity, topic, len(texts))
    return {tid: {lang: sorted(qs, key=has_placeholder)[:per_language] for lang, qs in by_lang.items()}
            for tid, by_lang in ranked.items()}


def discovery_config(settings: Settings) -> DiscoveryConfig:
    """The taxonomy's ``discovery:`` section when its schema has one, else the defaults."""
    return getattr(load_taxonomy(settings), "discovery", None) or DiscoveryConfig()


def ensure_tables(con) -> None:
    for table, cols in DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    for name, sql in EMERGING_VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")


def _run_date(con) -> date | None:
    """The data's own last day (reruns give the same result; no clock inside a stage)."""
    row = con.execute("SELECT max(event_date) FROM feedback").fetchone()
    return row[0] if row else None


def _load_state(con) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    means = {lang: np.asarray(v, np.float64) for lang, v in
             con.execute("SELECT language, mean FROM discovery_language_means").fetchall()}
    cols = [c.strip().split()[0] for c in DDL["discovered_topics"].split(",")]
    topics = {r[0]: dict(zip(cols, r)) for r in con.execute(
        f"SELECT {', '.join(cols)} FROM discovered_topics ORDER BY topic_id").fetchall()}
    centroids = {t: np.asarray(row["centroid"], np.float64) for t, row in topics.items()}
    return means, centroids, topics


def refresh_emerging_topics(settings: Settings, topics_model: Any, run_date: date | None = None) -> int:
    """Assign, propose and retire discovered topics; returns the number of live (new or active) topics."""
    cfg = discovery_config(settings)
    max_new = settings.run.discover_topics
    con = store.connect(settings.data_dir)
    try:
        ensure_tables(con)
        run_date = run_date or _run_date(con)
        if max_new <= 0 or run_date is None:
            store_emerging(con, [])
            return 0
        since = run_date - timedelta(days=cfg.retire_after_days)
        fetched = con.execute(_CANDIDATES, [since, cfg.max_sentences]).fetchall()
        clean = [clustering_text(r[2]) for r in fetched]
        rows = [r for r, c in zip(fetched, clean) if c is not None]
        texts = [c for c in clean if c is not None]
        left_out = [r for r, c in zip(fetched, clean) if c is None and not r[5]]
        if not any(not r[5] for r in rows):  # nothing new: leave the state as it is
            if left_out:
                con.execute("BEGIN TRANSACTION")
                _mark_left_out(con, left_out)
                con.execute("COMMIT")
            return _live_count(con)
        means, centroids, topics = _load_state(con)
        langs = [r[3] or "und" for r in rows]
        X = topics_model.embed(texts)
        res = run_discovery(texts, langs, X, centroids, means, str(run_date), cfg.assign_threshold,
                            cfg.min_topic_size, max_new, cfg.min_language_rows, settings.models.seed)
        hints = _parent_hints(topics_model, X, texts, res)
        _write_run(con, rows, langs, res, run_date, cfg, topics, hints, left_out)
        return _live_count(con)
    finally:
        con.close()


def _parent_hints(model: Any, X: np.ndarray, texts: list[str], res: dict[str, Any]) -> dict[str, str]:
    """New topic -> the taxonomy parent its members lean to (below threshold), for ``promote``."""
    out = {}
    if not hasattr(model, "scores_from_embeddings"):
        return out
    for p in res["new"]:
        m = p["members"]
        S = model.scores_from_embeddings(X[m], [texts[i] for i in m])
        votes = Counter(parent_of(model.topic_ids_[int(k)]) for k in S.argmax(axis=1))
        out[p["topic_id"]] = min(votes, key=lambda t: (-votes[t], t))
    return out


ASSIGNMENT_COLUMNS = ["feedback_id", "idx", "text_md5", "topic_id", "similarity", "run_date"]


def _unique_keys(rows: list[list[Any]]) -> list[list[Any]]:
    """The last row per (feedback_id, idx), as the statement-per-row writes left it."""
    return list({(r[0], r[1]): r for r in rows}.values())


def _mark_left_out(con, rows) -> None:
    """Sentences with nothing but placeholders: an assignment with no topic and no run date, so the
    candidate query (outliers are reconsidered by run date) never fetches them again."""
    upsert_rows(con, "discovered_assignments", ASSIGNMENT_COLUMNS, ["feedback_id", "idx"],
                _unique_keys([[r[0], r[1], r[4], None, None, None] for r in rows]))


def _write_run(con, rows, langs, res, run_date: date, cfg: DiscoveryConfig, topics, hints, left_out=()) -> None:
    new_ids = {p["topic_id"] for p in res["new"]}
    centroids_new = {p["topic_id"]: p for p in res["new"]}
    quotes = _quotes([r[2] for r in rows], langs, res["similarity"], res["topic"], cfg.quotes_per_language)
    counts = Counter((tid, lang) for tid, lang in zip(res["topic"], langs) if tid is not None)
    con.execute("BEGIN TRANSACTION")
    try:
        _mark_left_out(con, left_out)
        upsert_rows(con, "discovery_language_means", ["language", "mean"], ["language"],
                    [[lang, [float(v) for v in mu]] for lang, mu in sorted(res["means"].items())])
        # one statement pair for all candidates (was two statements per sentence)
        upsert_rows(con, "discovered_assignments", ASSIGNMENT_COLUMNS, ["feedback_id", "idx"],
                    _unique_keys([[r[0], r[1], r[4], tid, sim, run_date]
                                  for r, tid, sim in zip(rows, res["topic"], res["similarity"])]))
        for (tid, lang), n in sorted(counts.items()):
            con.execute("""INSERT INTO discovered_topic_volume SELECT ?, ?, ?, 0
                           WHERE NOT EXISTS (SELECT 1 FROM discovered_topic_volume
                                             WHERE run_date = ? AND topic_id = ? AND language = ?)""",
                        [run_date, tid, lang, run_date, tid, lang])
            con.execute("""UPDATE discovered_topic_volume SET sentences = sentences + ?
                           WHERE run_date = ? AND topic_id = ? AND language = ?""", [n, run_date, tid, lang])
        _write_run_stats(con, rows, langs, res, run_date, cfg, new_ids)
        for p in res["new"]:
            con.execute("INSERT INTO discovered_topics VALUES (?, 'new', ?, ?, ?, ?, 0, 0, NULL, '', '{}', ?, NULL)",
                        [p["topic_id"], p["terms"], hints.get(p["topic_id"]), run_date, run_date,
                         [float(v) for v in centroids_new[p["topic_id"]]["centroid"]]])
        for tid in sorted({t for t, _ in counts}):
            old = topics.get(tid, {})
            merged = json.loads(old.get("examples") or "{}")
            merged.update(quotes.get(tid, {}))
            con.execute("UPDATE discovered_topics SET last_seen = ?, examples = ? WHERE topic_id = ?",
                        [run_date, json.dumps(merged, ensure_ascii=False, sort_keys=True), tid])
        _refresh_derived(con, run_date, cfg.retire_after_days)
        store_emerging(con, _emerging_rows(con))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _write_run_stats(con, rows, langs, res, run_date, cfg, new_ids) -> None:
    """Per language, over this run's new sentences: assigned to known topics, to new ones, outliers."""
    stats: dict[str, Counter] = {}
    for r, lang, tid in zip(rows, langs, res["topic"]):
        if r[5]:
            continue  # an old outlier reconsidered: already counted on its own run
        c = stats.setdefault(lang, Counter())
        c["n"] += 1
        c["new" if tid in new_ids else "assigned" if tid else "outliers"] += 1
    for lang, c in sorted(stats.items()):
        prev = con.execute("SELECT sentences, assigned, new_topics, outliers FROM discovery_runs "
                           "WHERE run_date = ? AND language = ?", [run_date, lang]).fetchone() or (0, 0, 0, 0)
        n, a, nw, o = prev[0] + c["n"], prev[1] + c["assigned"], prev[2] + c["new"], prev[3] + c["outliers"]
        con.execute("DELETE FROM discovery_runs WHERE run_date = ? AND language = ?", [run_date, lang])
        con.execute("INSERT INTO discovery_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_date, lang, n, a, nw, o, round(o / n, 4) if n else None, cfg.assign_threshold])


def _refresh_derived(con, run_date: date, retire_after_days: int) -> None:
    """Volume, growth vs the previous run day, languages and status of every discovered topic."""
    con.execute("""
        UPDATE discovered_topics d SET volume = v.total, last_run_sentences = v.today, growth = v.growth,
               languages = v.langs
        FROM (SELECT topic_id, sum(sentences) AS total,
                     sum(sentences) FILTER (WHERE run_date = ?) AS today,
                     CASE WHEN coalesce(sum(sentences) FILTER (WHERE run_date = prev_day), 0) = 0 THEN NULL
                          ELSE round(coalesce(sum(sentences) FILTER (WHERE run_date = ?), 0) * 1.0
                                     / sum(sentences) FILTER (WHERE run_date = prev_day) - 1, 4) END AS growth,
                     string_agg(language || ':' || sentences, ', ' ORDER BY language) FILTER (WHERE run_date = ?) AS langs
              FROM (SELECT *, max(run_date) FILTER (WHERE run_date < ?) OVER (PARTITION BY topic_id) AS prev_day
                    FROM (SELECT run_date, topic_id, language, sum(sentences) AS sentences
                          FROM discovered_topic_volume GROUP BY ALL))
              GROUP BY topic_id) v
        WHERE d.topic_id = v.topic_id""", [run_date, run_date, run_date, run_date])
    con.execute("""UPDATE discovered_topics SET status = CASE
                       WHEN status = 'promoted' THEN 'promoted'
                       WHEN first_seen = ? THEN 'new'
                       WHEN last_seen < ? THEN 'retired' ELSE 'active' END""",
                [run_date, run_date - timedelta(days=retire_after_days)])


def _emerging_rows(con) -> list[dict[str, Any]]:
    out = []
    for tid, terms, volume, langs, examples in con.execute(
            """SELECT topic_id, terms, volume, languages, examples FROM discovered_topics
               WHERE status IN ('new', 'active') ORDER BY volume DESC, topic_id""").fetchall():
        ex = json.loads(examples or "{}")
        first = next((qs[0] for _, qs in sorted(ex.items(), key=lambda kv: kv[0] != "en") if qs), "")
        out.append({"cluster_id": tid, "terms": terms, "size": int(volume or 0), "example": first,
                    "languages": langs or ""})
    return out


def store_emerging(con, rows: list[dict[str, Any]]) -> None:
    """Rewrite the legacy ``emerging_topics`` table (read by the report and the alerts)."""
    cols = ["cluster_id", "terms", "size", "example", "languages"]
    con.execute("CREATE TABLE IF NOT EXISTS emerging_topics (cluster_id VARCHAR, terms VARCHAR, size INTEGER, "
                "example VARCHAR, languages VARCHAR)")
    con.execute("DELETE FROM emerging_topics")
    insert_rows(con, "emerging_topics", cols, [[r[c] for c in cols] for r in rows])


def _live_count(con) -> int:
    return con.execute("SELECT count(*) FROM discovered_topics WHERE status IN ('new', 'active')").fetchone()[0]


def list_discovered(con, include_retired: bool = False) -> list[dict[str, Any]]:
    """Discovered topics for ``touchpoint topics list``, newest and largest first."""
    ensure_tables(con)
    where = "" if include_retired else "WHERE status IN ('new', 'active')"
    cur = con.execute(f"""SELECT topic_id, status, terms, suggested_parent, first_seen, last_seen, volume,
                                 last_run_sentences, growth, languages, examples, promoted_to
                          FROM discovered_topics {where}
                          ORDER BY status <> 'new', volume DESC, topic_id""")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def outlier_report(con, run_date: date | None = None) -> list[dict[str, Any]]:
    """Per language: sentences, assigned, new, outliers and outlier share of a run day (default the last)."""
    ensure_tables(con)
    day = run_date or con.execute("SELECT max(run_date) FROM discovery_runs").fetchone()[0]
    cur = con.execute("SELECT * FROM discovery_runs WHERE run_date = ? ORDER BY language", [day])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def explore_texts(texts: list[str], languages: list[str], model: Any, cfg: DiscoveryConfig,
                  max_new: int = 8, seed: int = 13, cluster_all: bool = False,
                  X: np.ndarray | None = None) -> dict[str, Any]:
    """Ad hoc: taxonomy topics of a dump, and what discovery proposes for the rest (no store).

    ``texts`` should be redacted already. Returns per-text ``subtopic`` and ``discovered`` (topic id
    or None), the proposals with sizes, terms and quotes per language, the outlier share per
    language, and how many texts held nothing but redaction placeholders (``placeholder_only``, not
    clustered).
    """
    X = model.embed(texts) if X is None else X
    pred = model.predict_from_embeddings(X, texts)
    pool = list(range(len(texts))) if cluster_all else [i for i, p in enumerate(pred) if p["topic"] == "other"]
    clean = {i: clustering_text(texts[i]) for i in pool}
    rest = [i for i in pool if clean[i] is not None]
    Xr = X[rest].copy()
    changed = [j for j, i in enumerate(rest) if clean[i] != texts[i]]
    if changed:  # placeholders removed: embed what is clustered
        Xr[changed] = model.embed([clean[rest[j]] for j in changed])
    res = run_discovery([clean[i] for i in rest], [languages[i] for i in rest], Xr, {}, {}, "adhoc",
                        cfg.assign_threshold, cfg.min_topic_size, max_new, cfg.min_language_rows, seed)
    discovered: list[str | None] = [None] * len(texts)
    for i, tid in zip(rest, res["topic"]):
        discovered[i] = tid
    quotes = _quotes([texts[i] for i in rest], [languages[i] for i in rest], res["similarity"], res["topic"],
                     cfg.quotes_per_language)
    topics = [{"topic_id": p["topic_id"], "size": len(p["members"]), "terms": p["terms"],
               "languages": dict(sorted(Counter(languages[rest[m]] for m in p["members"]).items())),
               "quotes": quotes.get(p["topic_id"], {})} for p in res["new"]]
    per_lang: dict[str, Counter] = {}
    for i in rest:
        c = per_lang.setdefault(languages[i], Counter())
        c["n"] += 1
        c["outliers"] += discovered[i] is None
    outliers = {lg: {"sentences": c["n"], "outliers": c["outliers"], "share": round(c["outliers"] / c["n"], 4)}
                for lg, c in sorted(per_lang.items())}
    return {"subtopic": [p["subtopic"] for p in pred], "topic": [p["topic"] for p in pred],
            "discovered": discovered, "topics": topics, "outliers": outliers, "clustered": len(rest),
            "placeholder_only": len(pool) - len(rest)}


def taxonomy_block(topic_id: str, parent: str, leaf: str, label: str, quotes: dict[str, list[str]],
                   terms: str = "") -> str:
    """YAML text of a new leaf for configs/taxonomy.yaml (appended, so the file's comments survive)."""
    import yaml

    node = {"id": f"{parent}.{leaf}", "label": label,
            "keywords": {}, "seeds": {lg: list(qs) for lg, qs in sorted(quotes.items()) if qs}}
    body = yaml.safe_dump([node], allow_unicode=True, sort_keys=False, default_flow_style=None, width=120)
    note = f"  # promoted from discovered topic {topic_id}" + (f" (terms: {terms})" if terms else "")
    return note + "\n" + "\n".join("  " + line for line in body.rstrip("\n").splitlines()) + "\n"

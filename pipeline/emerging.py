"""Emerging topics: cluster the sentences the taxonomy could not place, and store the clusters."""

from __future__ import annotations

from typing import Any

from configs import Settings
from pipeline import store

MAX_SENTENCES = 3000


def refresh_emerging_topics(settings: Settings, topics_model: Any) -> int:
    """Recluster up to MAX_SENTENCES 'other' sentences (negative first) and replace emerging_topics."""
    k = settings.run.discover_topics
    con = store.connect(settings.data_dir, read_only=True)
    try:
        rows = con.execute(
            """SELECT text, language FROM sentences WHERE topic = 'other' AND length(text) >= 12
               ORDER BY sentiment_label <> 'negative', feedback_id, idx LIMIT ?""", [MAX_SENTENCES]).fetchall()
    finally:
        con.close()
    if k <= 0 or len(rows) < 10:
        store.replace_table(settings.data_dir, "emerging_topics", [])
        return 0
    texts = [r[0] for r in rows]
    langs = [r[1] for r in rows]
    _ids, summaries = topics_model.discover(texts, langs, k, settings.models.seed)
    store.replace_table(settings.data_dir, "emerging_topics", summaries)
    return len(summaries)

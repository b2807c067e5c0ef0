"""Build the default models (sentiment head and taxonomy topics) into the versioned registry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from configs import Settings, load_taxonomy
from models.corpora import load_training_set
from models.registry import Registry
from models.sentiment import EmbeddingSentiment
from models.topics import TaxonomyTopics


def build_default_models(settings: Settings, per_corpus: int | None = None, promote: bool = True,
                         log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train sentiment on package-shipped corpora and fit the taxonomy topics; register both."""
    data_dir = Path(settings.data_dir)
    reg = Registry(data_dir / "models")
    per = per_corpus or settings.models.training_per_corpus
    t0 = time.perf_counter()
    texts, labels, counts = load_training_set(data_dir / "corpora", per, settings.models.seed)
    log(f"training corpora: {', '.join(f'{k}={v}' for k, v in counts.items())} "
        f"({len(texts)} texts, {time.perf_counter() - t0:.1f}s)")
    t1 = time.perf_counter()
    sent = EmbeddingSentiment(encoder=settings.models.encoder, seed=settings.models.seed).fit(texts, labels)
    sent.meta_.metrics = {"training_corpora": counts}
    sent_dir = reg.save(settings.models.sentiment, sent, promote=promote)
    log(f"sentiment {sent.meta_.tag} trained in {time.perf_counter() - t1:.1f}s -> {sent_dir}")
    tax = load_taxonomy(settings)
    topics = TaxonomyTopics(encoder=settings.models.encoder, threshold=tax.threshold,
                            keyword_bonus=tax.keyword_bonus).fit(tax)
    top_dir = reg.save(settings.models.topics, topics, promote=promote)
    log(f"topics {topics.meta_.tag} ({len(topics.topic_ids_)} topics) -> {top_dir}")
    return {"sentiment": sent.meta_.tag, "topics": topics.meta_.tag}


def models_ready(settings: Settings) -> bool:
    reg = Registry(Path(settings.data_dir) / "models")
    return all(reg.current_version(t) for t in (settings.models.sentiment, settings.models.topics))

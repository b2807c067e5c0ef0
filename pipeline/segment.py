"""Sentence segmentation with spaCy's rule-based sentencizer (Chinese tokenised by jieba).

Line breaks are hard boundaries (chat and call turns are joined by newlines). Very long
feedback keeps its first ``max_sentences`` sentences for scoring; the full text stays stored.
"""

from __future__ import annotations

import logging
from functools import lru_cache

_SPACY_LANGS = {"en", "it", "fa", "ar", "de", "fr", "es", "pt", "nl", "zh"}
MAX_SENTENCE_CHARS = 512


@lru_cache(maxsize=16)
def _nlp(lang: str):
    import spacy

    if lang == "zh":
        import jieba

        jieba.setLogLevel(logging.WARNING)
        nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    else:
        nlp = spacy.blank(lang if lang in _SPACY_LANGS else "xx")
    nlp.add_pipe("sentencizer")
    return nlp


def split_sentences(texts: list[str], languages: list[str], max_sentences: int = 100) -> list[list[str]]:
    """Sentences per text, in order; texts are grouped by language for spaCy's batched pipe."""
    pieces: list[tuple[int, str, str]] = []  # (text index, language, line)
    for i, (t, lang) in enumerate(zip(texts, languages)):
        for line in t.split("\n"):
            if line.strip():
                pieces.append((i, lang, line.strip()))
    out: list[list[str]] = [[] for _ in texts]
    by_lang: dict[str, list[tuple[int, str]]] = {}
    for i, lang, line in pieces:
        by_lang.setdefault(lang, []).append((i, line))
    results: dict[tuple[int, int], list[str]] = {}
    for lang, rows in by_lang.items():
        nlp = _nlp(lang)
        for k, doc in enumerate(nlp.pipe((line for _, line in rows), batch_size=512)):
            results[(rows[k][0], k)] = [s.text.strip()[:MAX_SENTENCE_CHARS] for s in doc.sents if s.text.strip()]
    for (i, _k), sents in sorted(results.items()):
        room = max_sentences - len(out[i])
        if room > 0:
            out[i].extend(sents[:room])
    return out

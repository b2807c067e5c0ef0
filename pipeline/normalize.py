"""Text normalisation: Unicode NFKC, control characters, whitespace; exact-duplicate keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_CTRL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Arabic-script letters written with Arabic code points in Persian text (common in Digikala data).
_PERSIAN = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc"})


def normalize_text(text: str) -> str:
    """NFKC, drop control and zero-width-space characters, collapse runs of spaces, keep line breaks."""
    t = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    t = _CTRL.sub("", t)
    t = _SPACES.sub(" ", t)
    t = _BLANK_LINES.sub("\n", t)
    return "\n".join(line.strip() for line in t.split("\n")).strip()


def normalize_persian(text: str) -> str:
    """Map Arabic yeh/kaf to their Persian forms (only for text detected as Persian)."""
    return text.translate(_PERSIAN)


def content_key(*parts: object) -> bytes:
    """A 16-byte key of a record's content, for exact-duplicate detection across batches."""
    raw = "\x1f".join("" if p is None else str(p) for p in parts).encode()
    return hashlib.blake2b(raw, digest_size=16).digest()


def content_hash(*parts: object) -> str:
    """Hex form of ``content_key``: stored next to rows so conflicts and duplicates are decided by content."""
    return content_key(*parts).hex()

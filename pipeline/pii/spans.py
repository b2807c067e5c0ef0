"""Shared pieces of PII detection: the Span type, digit folding, overlap resolution, context cues."""

from __future__ import annotations

import re
from typing import NamedTuple

# Placeholder kinds, in the order a tie between overlapping spans is resolved (first wins).
KINDS = ("EMAIL", "IBAN", "CARD", "NATIONAL_ID", "PHONE", "ADDRESS", "NAME")
_RANK = {k: i for i, k in enumerate(KINDS)}


class Span(NamedTuple):
    start: int
    end: int
    kind: str


# Persian, Arabic-Indic and full-width digits (and the full-width plus and at sign) folded to ASCII,
# one character for one, so offsets found in the folded text are offsets in the original text.
_FOLD = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩０１２３４５６７８９＋＠（）－\u00a0\u2009\u202f\u2007",
    "01234567890123456789012345678" + "9+@()-" + "    ",
)


def fold(text: str) -> str:
    """Text with every decimal digit in ASCII; same length as the input."""
    return text.translate(_FOLD)


def resolve(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: the longer span wins an overlap, then the stricter kind (KINDS order)."""
    chosen: list[Span] = []
    for s in sorted(spans, key=lambda s: (-(s.end - s.start), _RANK[s.kind], s.start)):
        if all(s.end <= c.start or s.start >= c.end for c in chosen):
            chosen.append(s)
    return sorted(chosen)


# Words that say the number after them is not personal (order, tracking, invoice, reference numbers).
# Checked on the ~24 characters before a bare digit run, in all supported languages.
_NOT_PII_CUE = re.compile(
    r"(?:order|ordine|ordinazione|purchase|acquisto|kauf|compra|bestell\w*|auftrag\w*|tracking|tracciamento|sendung\w*|invoice|fattura|rechnung\w*|"
    r"ref(?:erence)?|riferimento|pratica|vorgang\w*|ticket|sku|ean|isbn|imei|serial|seriale|model+o?|artikel\w*|"
    r"codice (?:pratica|ordine|sconto|prodotto)|(?:promo|discount|coupon|product|gift) ?code|coupon|voucher|transaction|transazione|transaktion\w*|"
    r"version[e]?|build|firmware|"
    r"订单\w*|单号|运单|流水号|编号|取件码|发票|版本|"
    r"سفارش|پیگیری|رهگیری|تراکنش|فاکتور|بارکد|کد محصول|کد تخفیف|نسخه"
    r")\W{0,3}(?:n(?:o|r|um(?:ber|ero)?)?\.?|#|nummer|号|:|：)?\W{0,3}$",
    re.IGNORECASE,
)


def not_pii_context(folded: str, start: int) -> bool:
    """True when the words just before `start` name an order, tracking, invoice or similar number."""
    return bool(_NOT_PII_CUE.search(folded, max(0, start - 28), start))

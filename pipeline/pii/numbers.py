"""Checksummed numbers: payment cards (Luhn), IBANs (mod 97) and national identity numbers.

Every detector pairs a cheap pattern with a checksum, so a random number of the same shape is
kept with probability about 1 - 1/10 (Luhn), 1 - 1/97 (IBAN) or better (ids with dates inside).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pipeline.pii.spans import Span, not_pii_context

# ------------------------------------------------------------------------------------ cards

CARD = re.compile(r"(?<![A-Za-z0-9_-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)(?![A-Za-z0-9])")


def luhn_ok(digits: str) -> bool:
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(nums)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_prefix_ok(d: str) -> bool:
    # Issuer ranges (ISO/IEC 7812 major industry identifiers 2-6) and their lengths. Keeps
    # 13-digit EAN barcodes and 15-digit IMEIs out unless they look like Visa or Amex.
    n = len(d)
    if d[0] not in "23456":
        return False
    if n == 13:
        return d[0] == "4"
    if n == 15:
        return d[:2] in ("34", "37") or d[:4] in ("2014", "2149")
    return 16 <= n <= 19


def find_cards(folded: str) -> Iterator[Span]:
    for m in CARD.finditer(folded):
        s = m.group(0)
        d = s.replace(" ", "").replace("-", "")
        if not (luhn_ok(d) and _card_prefix_ok(d)):
            continue
        # A separated number must be grouped like a card (4-4-4-4, 4-6-5, 6-13), not a list of quantities.
        groups = re.split(r"[ -]", s)
        if len(groups) > 1 and (len(groups) > 5 or min(len(g) for g in groups) < 4):
            continue
        if len(groups) == 1 and not_pii_context(folded, m.start()):
            continue
        yield Span(m.start(), m.end(), "CARD")


# ------------------------------------------------------------------------------------ IBANs

# Lengths from the SWIFT IBAN registry; a country not listed here is not an IBAN country.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IR": 26, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24,
    "XK": 20,
}
# Country code, check digits, then up to 30 letters/digits in groups separated by single spaces.
# The candidate may run into the next word ("... 0130 00 Grazie"); find_ibans tries shorter cuts.
IBAN = re.compile(r"(?:(?<=IBAN)|(?<=iban)|(?<![A-Za-z0-9]))[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,32}", re.ASCII)


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or IBAN_LENGTHS.get(s[:2], len(s)) != len(s) or not s.isalnum():
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def find_ibans(folded: str) -> Iterator[Span]:
    for m in IBAN.finditer(folded):
        s = m.group(0)
        want = IBAN_LENGTHS.get(s[:2].upper())
        if want is None:
            continue
        # Cut after exactly `want` letters/digits; the cut must end at a word boundary.
        n = 0
        for i, c in enumerate(s):
            n += c != " "
            if n == want:
                end = m.start() + i + 1
                if end < len(folded) and folded[end].isalnum() and folded[end].isascii():
                    break
                if iban_ok(s[:i + 1]):
                    yield Span(m.start(), end, "IBAN")
                break


# ------------------------------------------------------------------------------------ national ids


@dataclass(frozen=True)
class IdDetector:
    """A national id detector: a pattern for candidates and a checksum that must pass."""

    name: str
    pattern: re.Pattern
    check: Callable[[str], bool]
    bare_digits: bool = False  # all digits: skip after "order no." and similar cues


_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20,
                    11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]))


def it_codice_fiscale_ok(s: str) -> bool:
    s = s.upper()
    total = 0
    for i, c in enumerate(s[:15]):
        total += _CF_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65)
    return chr(65 + total % 26) == s[15]


_CN_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
                 "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}


def cn_resident_id_ok(s: str) -> bool:
    s = s.replace(" ", "").upper()
    if s[:2] not in _CN_PROVINCES:
        return False
    try:
        _dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if not 1900 <= int(s[6:10]) <= 2100:
        return False
    return "10X98765432"[sum(int(a) * b for a, b in zip(s[:17], _CN_W)) % 11] == s[17]


def ir_national_code_ok(s: str) -> bool:
    s = s.replace("-", "")
    if len(set(s)) < 3:
        return False
    r = sum(int(c) * (10 - i) for i, c in enumerate(s[:9])) % 11
    return int(s[9]) == (r if r < 2 else 11 - r)


def de_tax_id_ok(s: str) -> bool:
    """German Steuer-IdNr: 11 digits, first not 0, ISO 7064 MOD 11,10 check digit."""
    s = s.replace(" ", "")
    if s[0] == "0":
        return False
    p = 10
    for c in s[:10]:
        t = (int(c) + p) % 10 or 10
        p = (2 * t) % 11
    return (11 - p) % 10 == int(s[10])


def fr_nir_ok(s: str) -> bool:
    """French social security number (NIR): 13 digits (Corsica 2A/2B) and a 97-complement key."""
    s = s.replace(" ", "").upper()
    body = s[:13].replace("2A", "19").replace("2B", "18")
    return s[0] in "12" and body.isdigit() and 97 - int(body) % 97 == int(s[13:15])


def es_dni_ok(s: str) -> bool:
    """Spanish DNI/NIE: 8 digits (NIE: X/Y/Z and 7 digits) and a mod-23 letter."""
    s = s.upper().replace("-", "")
    num = "XYZ".index(s[0]).__str__() + s[1:8] if s[0] in "XYZ" else s[:8]
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(num) % 23] == s[8]


_NB = r"(?<![A-Za-z0-9])"  # no letter or digit before; CJK and Persian letters may touch the id
_NA = r"(?![A-Za-z0-9])"
_O = "[0-9LMNPQRSTUV]"  # a CF digit, or its omocodia letter
NATIONAL_IDS: dict[str, IdDetector] = {d.name: d for d in [
    IdDetector("it_codice_fiscale", re.compile(
        _NB + rf"[A-Z]{{6}}{_O}{{2}}[ABCDEHLMPRST]{_O}{{2}}[A-Z]{_O}{{3}}[A-Z]" + _NA, re.IGNORECASE), it_codice_fiscale_ok),
    IdDetector("cn_resident_id", re.compile(_NB + r"\d{6} ?\d{8} ?\d{3}[\dXx]" + _NA), cn_resident_id_ok, True),
    IdDetector("ir_national_code", re.compile(_NB + r"\d{3}-?\d{6}-?\d" + _NA), ir_national_code_ok, True),
    IdDetector("de_tax_id", re.compile(_NB + r"\d{2} ?\d{3} ?\d{3} ?\d{3}" + _NA), de_tax_id_ok, True),
    IdDetector("fr_nir", re.compile(_NB + r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}" + _NA, re.I), fr_nir_ok, True),
    IdDetector("es_dni", re.compile(_NB + r"(?:\d{8}|[XYZ]\d{7})-?[A-Z]" + _NA, re.IGNORECASE), es_dni_ok),
]}


def find_national_ids(folded: str, names: tuple[str, ...]) -> Iterator[Span]:
    for name in names:
        det = NATIONAL_IDS[name]
        for m in det.pattern.finditer(folded):
            if det.check(m.group(0)) and not (det.bare_digits and not_pii_context(folded, m.start())):
                yield Span(m.start(), m.end(), "NATIONAL_ID")

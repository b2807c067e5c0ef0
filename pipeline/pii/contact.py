"""Contact details: e-mail addresses (IDN and obfuscated ones too) and phone numbers.

Phone numbers are validated with libphonenumber (`phonenumbers`) against the configured regions;
this module only finds candidate digit runs and decides where a number may start and end.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

from pipeline.pii.spans import Span, not_pii_context

# ------------------------------------------------------------------------------------ e-mail

_TLD = r"(?:xn--[A-Za-z0-9-]{2,59}|[A-Za-z]{2,24}(?![A-Za-z0-9])|[^\W\d_A-Za-z]{2,24})"
EMAIL = re.compile(r"[\w.%+'’-]+@(?:[\w-]+\.)+" + _TLD)
# Latin letters (accented ones too) vs. other scripts: a local part is cut where the script changes.
_LATIN_LOCAL = re.compile(r"[A-Za-z0-9\u00C0-\u024F._%+'’-]+$")
_WIDE_LOCAL = re.compile(r"[^\W\x00-\u024F]+$")

_W = r"[A-Za-z0-9_+-]+"
_AT = r"(?:\s*[\[({<]\s*(?:at|chiocciola)\s*[\])}>]\s*|\s*@\s*|\s+(?:at|chiocciola|ät)\s+)"
_DOT = r"(?:\s*[\[({<]\s*(?:dot|punto|punkt)\s*[\])}>]\s*|\s*\.\s*|\s+(?:dot|punto|punkt)\s+)"
_TLDS = ("com|net|org|info|biz|edu|gov|io|me|eu|it|de|fr|uk|co|es|ch|at|nl|be|cn|ir|ru|us|ca|au|jp|in|tr|pl|se|"
         "dk|no|fi|pt|gr|cz|hu|ro|br|ar|mx")
EMAIL_OBF = re.compile(
    rf"(?<![A-Za-z0-9_.@+-])(?P<local>{_W}(?:{_DOT}{_W}){{0,3}})(?P<at>{_AT})(?P<dom>{_W}(?:{_DOT}{_W}){{0,3}}?){_DOT}"
    rf"(?:{_TLDS})(?:{_DOT}(?:uk|it|de|cn|ir|jp|au|nz|za))?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_OBF_HINT = re.compile(r"[\[({<]\s*(?:at|chiocciola)\s*[\])}>]|\s(?:at|chiocciola|ät)\s|\s@|@\s", re.IGNORECASE)
_MAIL_PROVIDERS = {"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "msn", "icloud", "me", "aol", "gmx",
                   "web", "t-online", "libero", "virgilio", "tiscali", "alice", "tim", "fastwebnet", "qq", "163", "126",
                   "sina", "sohu", "foxmail", "yeah", "chmail", "protonmail", "proton", "mail", "yandex", "zoho"}
_ROLE_LOCALS = {"info", "contact", "support", "sales", "admin", "kontakt", "contatto", "contatti", "servizio", "help",
                "hello", "office", "service"}


def find_emails(folded: str) -> Iterator[Span]:
    if "@" in folded:
        for m in EMAIL.finditer(folded):
            at = folded.index("@", m.start())
            local = folded[m.start():at]
            # CJK and Persian letters are word characters: keep only the script run that touches the "@".
            tail = (_LATIN_LOCAL if local[-1] <= "\u024f" else _WIDE_LOCAL).search(local)
            if tail is None:
                continue
            start = m.start() + tail.start()
            while start < at and folded[start] in ".'’-":
                start += 1
            if start < at:
                yield Span(start, m.end(), "EMAIL")
    if _OBF_HINT.search(folded):
        for m in EMAIL_OBF.finditer(folded):
            if m.group("at").strip() == "@" and "@" in folded[m.start():m.end()] and " " not in m.group(0):
                continue  # a plain address, found above
            if _plausible_obfuscation(m):
                yield Span(m.start(), m.end(), "EMAIL")


def _plausible_obfuscation(m: re.Match) -> bool:
    at = m.group("at").strip().lower()
    if at not in ("at", "ät"):
        return True  # "(at)", "[at]", "@", "chiocciola": nobody writes these by accident
    local, dom = m.group("local"), m.group("dom")
    first_label = re.split(_DOT, dom, maxsplit=1)[0].lower()
    return (first_label in _MAIL_PROVIDERS or local.lower() in _ROLE_LOCALS
            or re.search(rf"{_DOT}|[0-9_]", local, re.IGNORECASE) is not None)


# ------------------------------------------------------------------------------------ phones

# A run of digits with the separators people use inside phone numbers; no letter may touch it
# (tracking codes such as SF1234567890123), but CJK and Persian letters may.
_LATIN = r"A-Za-z\u00C0-\u024F"
PHONE_RUN = re.compile(rf"(?<![{_LATIN}0-9_+])(?:\(\+?|\+)?\d[\d ()./-]{{5,26}}\d(?![{_LATIN}0-9])")
# Dates would validate as Italian or German landlines (06.05.2024, 20240506).
DATE = re.compile(r"(?<![\d./-])(?:\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2}))(?![./-]?\d)")
_NANPA = {"US", "CA", "AG", "AI", "AS", "BB", "BM", "BS", "DM", "DO", "GD", "GU", "JM", "KN", "KY", "LC", "MP", "MS",
          "PR", "SX", "TC", "TT", "VC", "VG", "VI"}


# "(977) 625-2661", "977-625-2661": written in the North American shape, a phone even when the area
# code is unassigned or fictional (test data, ABCD support chats); libphonenumber would say invalid.
NANP_SHAPE = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}")


@functools.lru_cache(maxsize=4096)
def phone_ok(candidate: str, regions: tuple[str, ...]) -> bool:
    """True when `candidate` is a valid number: international, or national in one of `regions`."""
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15 + 2:
        return False
    if NANP_SHAPE.fullmatch(candidate):
        return True
    head = candidate.lstrip("( ")
    try:
        if head.startswith("+"):
            return phonenumbers.is_valid_number(phonenumbers.parse(candidate, None))
        if digits.startswith("00"):
            # 00 is the international prefix in every configured region but the NANP (011).
            return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits[2:], None))
    except phonenumbers.NumberParseException:
        return False
    for region in regions:
        try:
            n = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue  # e.g. "011..." read as the US international prefix
        if phonenumbers.is_valid_number(n) and _trunk_ok(digits, region, n):
            return True
    return False


def _trunk_ok(digits: str, region: str, n: phonenumbers.PhoneNumber) -> bool:
    # A national number written without its trunk prefix ("0" in GB, DE, FR, IR, CN landlines) is
    # almost always something else (a date, a quantity): libphonenumber accepts it, we do not.
    if region in _NANPA:
        return True
    prefix = PhoneMetadata.metadata_for_region(region).national_prefix
    if not prefix or digits.startswith(prefix):
        return True
    return region == "CN" and phonenumbers.number_type(n) == PhoneNumberType.MOBILE


def find_phones(folded: str, regions: tuple[str, ...]) -> Iterator[Span]:
    # Dates would validate as Italian or French landlines (06.05.2024, 01/11/2022): blank them first.
    folded = DATE.sub(lambda d: "\x00" * len(d.group(0)), folded)
    for m in PHONE_RUN.finditer(folded):
        run, start = m.group(0), m.start()
        if run.startswith("(") and ")" not in run:
            run, start = run[1:], start + 1
        if sum(c.isdigit() for c in run) < 7 or DATE.fullmatch(run.strip("()")):
            continue
        if not run.startswith(("+", "(+")) and not_pii_context(folded, start):
            continue
        yield from _phones_in_run(run, start, regions)


def _phones_in_run(run: str, offset: int, regions: tuple[str, ...]) -> Iterator[Span]:
    # Try the whole run, then shorter windows that start and end at a space, longest first, so that
    # "333 1234567 or 02 1234 5678" and a number followed by a quantity are both handled.
    groups = run.split()
    if len(groups) >= 4 and len({len(g) for g in groups}) == 1 and len(groups[0]) >= 4:
        return  # "3269 1225 5932 5005": card- or serial-formatted digits, not a phone plus a remainder
    cuts = [0] + [i + 1 for i, c in enumerate(run) if c == " "]
    ends = [i for i, c in enumerate(run) if c == " "] + [len(run)]
    best = None
    for length in sorted({e - s for s in cuts for e in ends if e > s}, reverse=True):
        for s in cuts:
            e = s + length
            if e in ends:
                piece = run[s:e].strip(" ./-")
                if piece and not DATE.fullmatch(piece) and phone_ok(piece, regions):
                    best = (s, e)
                    break
        if best:
            break
    if best is None:
        return
    s, e = best
    s += len(run[s:e]) - len(run[s:e].lstrip(" ./-"))
    e -= len(run[s:e]) - len(run[s:e].rstrip(" ./-"))
    if run[s] == "(" and ")" not in run[s:e]:
        s += 1
    yield Span(offset + s, offset + e, "PHONE")
    if s > 0:
        yield from _phones_in_run(run[:s].rstrip(), offset, regions) if len(run[:s].strip()) >= 7 else iter(())
    if e < len(run) and len(run[e:].strip()) >= 7:
        rest = run[e:]
        lead = len(rest) - len(rest.lstrip(" ./-"))
        yield from _phones_in_run(rest.lstrip(" ./-"), offset + e + lead, regions)

"""Street addresses in English, Italian, German, Chinese and Persian: a street word and a house number.

Each language has its own shape: number first ("221B Baker Street"), street word first ("Via Roma
12"), a street suffix ("Hauptstraße 5"), a road character before the number ("建国路88号") or a
street word with a plate number ("خیابان ولیعصر، پلاک ۱۲"). Run on digit-folded text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.pii.spans import Span

_UP = "A-ZÀ-ÖØ-ÞÄÖÜ"
_CAPW = rf"[{_UP}][\w'’.-]*"
_EN_TYPES = (r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Av\.|Lane|Ln\.?|Drive|Dr\.?|Terrace|Terr\.?|Court|Ct\.?|Boulevard|"
             r"Blvd\.?|Way|Place|Pl\.?|Square|Sq\.?|Crescent|Cres\.?|Close|Loop|Parkway|Pkwy\.?|Highway|Hwy\.?|Row|Walk|"
             r"Gardens|Grove|Hill|Mews|Circle|Cir\.?|Trail")
EN = re.compile(
    rf"(?:(?i:flat|apt\.?|apartment|unit|suite)\s+\w{{1,4}},?\s+)?(?<![\w.,])\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?,?\s+"
    rf"(?:{_CAPW}\s+){{1,3}}(?:{_EN_TYPES})(?![\w])(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    rf"(?:,?\s+(?i:apt\.?|apartment|flat|unit|suite|#)\s*\w{{1,4}})?")
_IT_TYPES = (r"[Vv]ia|[Vv]iale|V\.le|[Pp]iazza|[Pp]iazzale|P\.zza|P\.za|P\.le|[Cc]orso|C\.so|[Ll]argo|[Vv]icolo|"
             r"[Ll]ungarno|[Ll]ungomare|[Ll]ungotevere|[Ss]trada(?: [Ss]tatale| [Pp]rovinciale)?|[Cc]ontrada|[Bb]orgo|"
             r"[Vv]ico|[Ss]alita|[Cc]alle|[Ff]ondamenta|[Rr]iva")
_IT_PART = r"(?:d[ei]|del|dell[ae]|degli|dei|della|delle|dello|d'|e|in|San|Santa|Sant'|S\.)"
IT = re.compile(
    rf"(?<![\w])(?:{_IT_TYPES})\s+(?:(?:{_CAPW}|{_IT_PART}|[IVX]+)\s*){{1,6}}?,?\s+(?:n\.?\s*|nr\.?\s*|civico\s+)?"
    rf"\d{{1,4}}(?:\s*/\s*[A-Za-z0-9]{{1,2}}|[A-Za-z](?![\w]))?(?![\d])")
_DE_SUFFIX = r"(?i:stra(?:ß|ss)e|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|berg|hof|park)"
DE = re.compile(
    rf"(?<![\w])(?:(?:{_CAPW}(?:-{_CAPW})*{_DE_SUFFIX}|{_CAPW}\s+{_DE_SUFFIX}|"
    rf"(?:Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Unter den|Zum|Zur|Alte[rs]?|Neue[rs]?)\s+{_CAPW}|"
    rf"(?:Ring|Markt|Platz|Weg|Allee))\s+\d{{1,4}}\s?[a-zA-Z]?(?:\s*-\s*\d{{1,4}}[a-z]?)?)(?![\w])")
ZH = re.compile(
    r"[\u4e00-\u9fff]{0,24}?(?:路|街|大道|大街|巷|胡同|弄|里)(?:[一二三四五六七八九十]+段)?\s*\d{1,5}\s*(?:号|弄|號)"
    r"(?:院|楼|大厦)?(?:\s*\d{1,4}\s*(?:号楼|号|楼|层|室|单元|栋|幢|座))*")
# characters after which an address cannot continue backwards ("我住在", "地址", "寄到", "送往")
_ZH_LEAD = re.compile(r".*(?:在|址|到|往|于|是|寄|送|放|的|了|有|和|就|还|：|:)")
_FA_STREET = r"(?:خیابان|بلوار|میدان|کوچه|کوی|بزرگراه|جاده|بن[\u200c ]?بست|خ\.)"
_FA_CITY = r"(?:تهران|اصفهان|شیراز|مشهد|تبریز|کرج|قم|اهواز|کرمانشاه|رشت|یزد|کرمان|اراک|ارومیه|همدان|زنجان|قزوین|ساری)"
FA = re.compile(
    rf"(?:{_FA_CITY}\s*[،,]\s*)?{_FA_STREET}[^.!?؟\n]{{0,90}}?پلاک\s*\d{{1,5}}"
    rf"(?:\s*[،,]?\s*(?:واحد|طبقه|زنگ)\s*\d{{1,3}})*")


def find_addresses(folded: str) -> Iterator[Span]:
    for rx in (EN, IT, DE, FA):
        for m in rx.finditer(folded):
            yield Span(m.start(), m.end(), "ADDRESS")
    for m in ZH.finditer(folded):
        lead = _ZH_LEAD.match(folded, m.start(), m.end())
        start = lead.end() if lead else m.start()
        yield Span(start, m.end(), "ADDRESS")

"""Generators of planted PII values with their own checksum code (independent of the redactor):
cards (Luhn), IBANs (mod 97), codice fiscale, Chinese resident ids, Iranian national codes, phones."""

from __future__ import annotations

import random

import phonenumbers  # only to make sure planted phone numbers are real-format numbers



# ---------------------------------------------------------------- checksums (independent code)


def luhn_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(num) % 97:02d}{bban}"


_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20,
                    11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]))


def cf_check(first15: str) -> str:
    s = 0
    for i, c in enumerate(first15):
        if i % 2 == 0:
            s += _CF_ODD[c]
        else:
            s += int(c) if c.isdigit() else ord(c) - 65
    return chr(65 + s % 26)


def cn_check(first17: str) -> str:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(a) * b for a, b in zip(first17, w)) % 11]


def ir_check(first9: str) -> str:
    r = sum(int(c) * (10 - i) for i, c in enumerate(first9)) % 11
    return str(r if r < 2 else 11 - r)


# ---------------------------------------------------------------- value generators


def gen_card(r: random.Random) -> str:
    prefix, length, groups = r.choice([
        ("4", 16, (4, 4, 4, 4)), ("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("55", 16, (4, 4, 4, 4)),
        ("2221", 16, (4, 4, 4, 4)), ("34", 15, (4, 6, 5)), ("37", 15, (4, 6, 5)), ("6011", 16, (4, 4, 4, 4)),
        ("62", 16, (4, 4, 4, 4)), ("62", 19, (6, 13)), ("603799", 16, (4, 4, 4, 4)),
        ("621986", 16, (4, 4, 4, 4)), ("3528", 16, (4, 4, 4, 4)), ("4", 13, (4, 4, 5)),
    ])
    body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    num = body + luhn_digit(body)
    sep = r.choice(["", " ", " ", "-", ""])
    out, i = [], 0
    for g in groups:
        out.append(num[i:i + g])
        i += g
    return sep.join(out) if sep else num


def gen_iban(r: random.Random) -> str:
    d = lambda n: "".join(str(r.randint(0, 9)) for _ in range(n))  # noqa: E731
    country, bban = r.choice([
        ("DE", lambda: d(18)), ("IT", lambda: r.choice("ABCDEFGHIJKLMNOPRSTUVWXYZ") + d(10) + d(12)),
        ("GB", lambda: r.choice(["NWBK", "BARC", "HBUK", "LOYD"]) + d(14)), ("FR", lambda: d(23)),
        ("IR", lambda: d(22)), ("NL", lambda: r.choice(["ABNA", "INGB", "RABO"]) + d(10)),
        ("ES", lambda: d(20)), ("CH", lambda: d(17)),
    ])
    s = iban(country, bban())
    style = r.random()
    if style < 0.45:
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    if style < 0.55:
        return s.lower() if r.random() < 0.5 else s
    return s


MONTHS = "ABCDEHLMPRST"


def gen_cf(r: random.Random) -> str:
    L = "BCDFGHLMNPRSTVZ"
    s = "".join(r.choice(L) for _ in range(3)) + "".join(r.choice(L + "AEIOU") for _ in range(3))
    day = r.randint(1, 28) + (40 if r.random() < 0.5 else 0)
    s += f"{r.randint(40, 99):02d}" + r.choice(MONTHS) + f"{day:02d}"
    s += r.choice(["H501", "F205", "L219", "A662", "G273", "D612", "Z404", "C351"])
    s += cf_check(s)
    return s.lower() if r.random() < 0.15 else s


CN_REGIONS = ["110105", "310115", "440305", "330106", "510107", "320102", "420106", "610113", "370202"]


def gen_cn_id(r: random.Random) -> str:
    while True:
        s = r.choice(CN_REGIONS) + f"{r.randint(1950, 2005)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
        s += f"{r.randint(0, 999):03d}"
        c = cn_check(s)
        if c == "X" or r.random() < 0.85:  # keep a few X check characters in the mix
            break
    out = s + c
    if c == "X" and r.random() < 0.3:
        out = out[:-1] + "x"
    return out


def gen_ir_code(r: random.Random) -> str:
    while True:
        s = "".join(str(r.randint(0, 9)) for _ in range(9))
        if len(set(s)) > 2:
            break
    code = s + ir_check(s)
    if r.random() < 0.2:
        code = f"{code[:3]}-{code[3:9]}-{code[9]}"
    return code


def _digits(r, n):
    return "".join(str(r.randint(0, 9)) for _ in range(n))


def _phone_ok(text: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text.translate(
            str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")), region))
    except phonenumbers.NumberParseException:
        return False


def gen_phone(r: random.Random, sub: str) -> str:
    for _ in range(200):
        v, region = _gen_phone_once(r, sub)
        if _phone_ok(v, region):
            return v
    raise RuntimeError(sub)


def _gen_phone_once(r: random.Random, sub: str) -> tuple[str, str]:
    d = lambda n: _digits(r, n)  # noqa: E731
    if sub == "phone_us":
        a, b, c = r.choice(["212", "415", "312", "617", "206", "646", "718", "305"]), str(r.randint(2, 9)) + d(2), d(4)
        f = r.choice(["({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a}{b}{c}", "+1 {a} {b} {c}",
                      "1-{a}-{b}-{c}", "+1 ({a}) {b}-{c}", "{a} {b} {c}"])
        return f.format(a=a, b=b, c=c), "US"
    if sub == "phone_gb":
        mob = "7" + r.choice(["911", "700", "400", "812", "534"]) + d(6)
        land = r.choice(["20" + r.choice("378") + d(7), "161" + r.choice("2489") + d(6), "113" + r.choice("2349") + d(6),
                         "131" + r.choice("2345") + d(6)])
        n = r.choice([mob, mob, land])
        f = r.choice(["0{n}", "0{p} {q}", "+44 {p} {q}", "+44 (0){p} {q}", "0044 {p} {q}", "+44{n}"])
        cut = 4 if n.startswith("7") or not n.startswith("20") else 2
        return f.format(n=n, p=n[:cut], q=n[cut:] if r.random() < 0.6 else n[cut:cut + 3] + " " + n[cut + 3:]), "GB"
    if sub == "phone_it":
        mob = "3" + r.choice(["33", "47", "40", "45", "28", "39", "66", "88"]) + d(7)
        land = r.choice(["06" + d(8), "02" + d(8), "055" + d(7), "011" + d(7), "081" + d(7)])
        n = r.choice([mob, mob, land])
        cut = 3 if n.startswith("3") else (2 if n[:2] in ("06", "02") else 3)
        p, q = n[:cut], n[cut:]
        f = r.choice(["{n}", "{p} {q}", "{p} {q1} {q2}", "+39 {p} {q}", "+39{n}", "0039 {n}", "(+39) {p}.{q1}.{q2}",
                      "{p}/{q}", "{p}-{q}", "+39 {p} {q1} {q2}"])
        return f.format(n=n, p=p, q=q, q1=q[:3], q2=q[3:]), "IT"
    if sub == "phone_de":
        mob = "1" + r.choice(["51", "52", "60", "70", "71", "76", "57"]) + d(8)
        land = r.choice(["30" + d(8), "89" + d(8), "40" + d(7), "221" + d(7), "69" + d(8)])
        n = r.choice([mob, land, land])
        cut = 3 if n.startswith("1") or n.startswith("2") else 2
        p, q = n[:cut], n[cut:]
        f = r.choice(["0{n}", "0{p} {q}", "0{p}/{q}", "0{p}-{q}", "+49 {p} {q}", "+49 (0){p} {q}", "0049 {p} {q}",
                      "+49{n}", "(0{p}) {q}"])
        return f.format(n=n, p=p, q=q), "DE"
    if sub == "phone_fr":
        n = r.choice(["6", "7", "1", "4", "9"]) + d(8)
        pairs = " ".join(n[i:i + 2] for i in range(1, 9, 2))
        f = r.choice(["0{n}", "0{a} {pairs}", "0{a}.{dots}", "+33 {a} {pairs}", "+33 (0){a} {pairs}", "0033 {a} {pairs}",
                      "+33{n}", "0{a}-{dashes}"])
        return f.format(n=n, a=n[0], pairs=pairs, dots=pairs.replace(" ", "."), dashes=pairs.replace(" ", "-")), "FR"
    if sub == "phone_cn":
        mob = "1" + r.choice(["38", "39", "50", "58", "86", "88", "37", "77", "99"]) + d(8)
        land = r.choice(["10" + r.choice("568") + d(7), "21" + r.choice("56") + d(7), "755" + r.choice("28") + d(7),
                         "20" + r.choice("38") + d(7)])
        n = r.choice([mob, mob, land])
        if n.startswith("1") and len(n) == 11:
            f = r.choice(["{n}", "{n}", "{a} {b} {c}", "{a}-{b}-{c}", "+86 {a} {b} {c}", "+86{n}", "0086 {n}", "+86-{n}"])
            return f.format(n=n, a=n[:3], b=n[3:7], c=n[7:]), "CN"
        cut = 2 if n[:2] in ("10", "21", "20") else 3
        f = r.choice(["0{p}-{q}", "(0{p}) {q}", "0{p} {q1} {q2}", "+86 {p} {q}", "0{p}{q}"])
        q = n[cut:]
        return f.format(p=n[:cut], q=q, q1=q[:4], q2=q[4:]), "CN"
    if sub == "phone_ir":
        mob = "9" + r.choice(["12", "19", "35", "36", "01", "90", "22"]) + d(7)
        land = r.choice(["21" + r.choice("2345678") + d(7), "31" + r.choice("3") + d(7), "51" + r.choice("3") + d(7)])
        n = r.choice([mob, mob, land])
        cut = 3 if n.startswith("9") else 2
        f = r.choice(["0{n}", "0{p} {q1} {q2}", "+98 {p} {q1} {q2}", "0098 {p} {q}", "+98{n}", "0{p}-{q}", "(0{p}) {q}"])
        q = n[cut:]
        return f.format(n=n, p=n[:cut], q=q, q1=q[:3], q2=q[3:]), "IR"
    if sub == "phone_e164":
        cc, nsn, reg = r.choice([
            ("49", "15" + r.choice("127") + d(8), "DE"), ("39", "3" + r.choice(["33", "47", "40"]) + d(7), "IT"),
            ("86", "13" + r.choice("89") + d(8), "CN"), ("98", "91" + r.choice("29") + d(7), "IR"),
            ("1", r.choice(["212", "415", "646"]) + str(r.randint(2, 9)) + d(6), "US"),
            ("44", "79" + r.choice("14") + d(7), "GB"), ("33", r.choice("67") + d(8), "FR"),
            ("34", "6" + r.choice(["12", "39", "50"]) + d(6), "ES"), ("31", "6" + r.choice("1234") + d(7), "NL"),
            ("81", "90" + r.choice("1234") + d(7), "JP"), ("971", "50" + d(7), "AE"), ("91", "98" + d(8), "IN"),
        ])
        return "+" + cc + nsn, reg
    raise ValueError(sub)

"""Build the planted PII corpus (corpus.jsonl) deterministically: `python tests/data/pii/make_corpus.py`.

Written before the detectors were tuned, with its own checksum code (it does not import the
redactor), so the corpus measures the redactor instead of mirroring it. About 30% of the rows are
marked `split: heldout`; tuning looked only at `split: tune`.

Each row: id, text, language, split, spans (start, end, kind, subkind, value), lookalike (None for
planted rows, else the look-alike family of a PII-free row).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from planted_numbers import (_digits, gen_card, gen_cf, gen_cn_id, gen_iban, gen_ir_code, gen_phone, ir_check,
                             luhn_digit)

OUT = Path(__file__).with_name("corpus.jsonl")
LANGS = ["en", "it", "zh", "fa", "de"]
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

EMAIL_LOCAL = ["mario.rossi", "jane_doe", "j.smith+orders", "giulia.bianchi85", "zhangwei", "li.na2020",
               "ali.rezaei", "sara_ahmadi", "max.mustermann", "k.schneider", "info", "o'connor.ann",
               "anna-lena.weber", "mehdi1368", "wang.fang", "luca.ferrari"]
EMAIL_DOMAINS = ["gmail.com", "libero.it", "yahoo.co.uk", "outlook.de", "qq.com", "163.com", "hotmail.it",
                 "web.de", "gmx.net", "chmail.ir", "example.org", "mail.company.co.uk", "fastwebnet.it", "icloud.com",
                 "t-online.de", "126.com"]
IDN_EMAILS = ["info@müller.de", "kontakt@bäckerei-schmidt.de", "用户@例子.中国", "zhang@公司.cn", "ali@ایران.ایران",
              "contatto@caffè.it", "sara@پست.ایران", "post@übergrößen.de", "直播@邮件.中国", "josé@correo-españa.es",
              "info@xn--mller-kva.de", "иван@почта.рф", "客服@淘宝.中国", "giorgia@città.it", "amir@شرکت.ایران",
              "jürgen.groß@straße.de"]


def gen_email(r: random.Random) -> str:
    return f"{r.choice(EMAIL_LOCAL)}@{r.choice(EMAIL_DOMAINS)}"


def gen_email_obf(r: random.Random, lang: str) -> str:
    first, last = r.choice([("mario", "rossi"), ("jane", "doe"), ("ali", "rezaei"), ("max", "mustermann"),
                            ("wang", "fang"), ("giulia", "verdi"), ("sara", "ahmadi"), ("tom", "baker")])
    prov, tld = r.choice([("gmail", "com"), ("libero", "it"), ("yahoo", "com"), ("web", "de"), ("qq", "com"),
                          ("hotmail", "it"), ("gmx", "de"), ("outlook", "com"), ("163", "com")])
    styles = [
        f"{first} dot {last} at {prov} dot {tld}",
        f"{first}.{last} at {prov}.{tld}",
        f"{first}.{last} [at] {prov} [dot] {tld}",
        f"{first}.{last}(at){prov}.{tld}",
        f"{first}{last} AT {prov} DOT {tld}",
        f"{first}.{last} {{at}} {prov}.{tld}",
        f"{first}_{last} @ {prov} . {tld}",
        f"{first}.{last}＠{prov}.{tld}",
        f"{first} (dot) {last} (at) {prov} (dot) {tld}",
    ]
    if lang == "it":
        styles += [f"{first} punto {last} chiocciola {prov} punto {tld}", f"{first}.{last} chiocciola {prov}.{tld}"]
    if lang == "de":
        styles += [f"{first}.{last} (at) {prov}.{tld}", f"{first} punkt {last} at {prov} punkt {tld}"]
    return r.choice(styles)


# ---------------------------------------------------------------- names and addresses

NAMES = {
    "en": (["Sarah", "David", "Emily", "James", "Olivia", "Michael", "Chloe", "Daniel", "Grace", "Aisha", "Raj",
            "Priya", "Liam", "Hannah", "Zoe", "Kwame"],
           ["Connor", "Miller", "Patel", "O'Brien", "Johnson", "Williams", "Taylor", "Nguyen", "Kowalski",
            "Smith-Jones", "Okafor", "Fitzgerald", "McDonald"]),
    "it": (["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sofia", "Matteo", "Elena", "Giovanni",
            "Martina", "Davide", "Niccolò", "Ilaria"],
           ["Rossi", "Bianchi", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "De Luca",
            "Conti", "D'Amico", "Lo Russo"]),
    "de": (["Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Maximilian", "Sophie", "Paul", "Jürgen", "Uwe",
            "Sabine", "Björn"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer",
            "Koch", "Groß", "Özdemir"]),
    "zh": (["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "杰", "小明", "子涵", "浩然", "欣怡", "雨桐", "建国"],
           ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "林", "欧阳", "司马"]),
    "fa": (["علی", "محمد", "رضا", "زهرا", "فاطمه", "مریم", "حسین", "سارا", "نرگس", "امیر", "مهدی", "پریسا", "نیلوفر",
            "کوروش", "آرش", "شیرین", "بهاره"],
           ["رضایی", "محمدی", "حسینی", "احمدی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی", "کاظمی", "تهرانی", "نوری"]),
}


def gen_name(r: random.Random, lang: str, full: bool | None = None) -> str:
    firsts, lasts = NAMES[lang]
    full = r.random() < 0.6 if full is None else full
    if lang == "zh":
        return r.choice(lasts) + r.choice(firsts)
    f = r.choice(firsts)
    return f"{f} {r.choice(lasts)}" if full else f


NAME_TEMPLATES = {
    "en": ["Hi, my name is {N} and I ordered a blender that arrived broken.", "This is {N} speaking, I'm calling about my refund.",
           "Agent: Good morning, am I speaking to {N}? Customer: yes.", "my name is {N}", "Hello {N}, thanks for contacting us!",
           "Dear {N}, we are sorry for the delay.", "My name's {N}, account holder since 2019.", "Hi, I'm {N}. The app crashes on login.",
           "Am I speaking to {T} {L}?", "Dear {T} {L},", "Hello, this is {N} from the 4th floor, the parcel is still missing.",
           "Good afternoon {T} {L}, how can I help?", "Thanks for calling, who am I speaking with? — It's {N}."],
    "it": ["Buongiorno, mi chiamo {N} e vi scrivo per un reso.", "Salve, sono {N}, ho un problema con l'ordine.",
           "Parlo con {N}?", "Gentile {N}, ci scusiamo per il ritardo.", "Ciao {N}! Grazie per averci contattato.",
           "Il mio nome è {N}.", "mi chiamo {N}", "Gentile {T} {L},", "Buonasera, sono {N} e chiamo per la fattura.",
           "Pronto, parlo con {T} {L}?", "Sono {N}, cliente dal 2015: il pacco non è mai arrivato."],
    "de": ["Guten Tag, ich heiße {N} und habe eine Reklamation.", "Mein Name ist {N}.", "Hier spricht {N}, ich rufe wegen der Rechnung an.",
           "Spreche ich mit {N}?", "Sehr geehrte {T} {L},", "Hallo {N}, danke für Ihre Nachricht!", "Ich bin {N} und warte seit Wochen.",
           "Guten Morgen, spreche ich mit {T} {L}?", "Sehr geehrter {T} {L}, leider ist das Paket verloren gegangen."],
    "zh": ["你好，我叫{N}，订单一直没发货。", "我是{N}，想投诉一下快递。", "您好，请问是{N}吗？", "尊敬的{N}：您好！",
           "我叫{N}", "客服你好，我是{N}，上周买的手机坏了", "我姓{S}，电话里说的那个退款还没到账。", "{N}您好，感谢您的耐心等待。",
           "你好{N}，您的包裹已经送达。"],
    "fa": ["سلام، اسم من {N} است و سفارشم نرسیده.", "من {N} هستم و از خرید راضی نیستم.", "سلام {N} هستم، پیگیری سفارش.",
           "ببخشید، با {N} صحبت می‌کنم؟", "{N} عزیز، از صبر شما متشکریم.", "نام من {N} است.", "سلام آقای {L}، وقت بخیر.",
           "خانم {L} گرامی، سفارش شما ارسال شد.", "اینجانب {N} درخواست مرجوعی دارم."],
}
TITLES = {"en": ["Mr", "Mrs.", "Ms", "Dr.", "Mr."], "it": ["Sig.", "Sig.ra", "signor", "dott.", "Dott.ssa"],
          "de": ["Frau", "Herr", "Herr Dr."]}

ADDRESS = {
    "en": (["Baker Street", "Pennsylvania Avenue", "Downing St", "Evergreen Terrace", "Privet Drive", "Fifth Ave",
            "High Road", "Sunset Blvd", "Mill Lane", "Church Road", "Oak Court", "Elm Street", "Kings Way",
            "Victoria Rd.", "Station Road", "Park Lane"], ["{n} {s}", "{n}{a} {s}", "Flat {f}, {n} {s}", "{n} {s}, Apt {f}"]),
    "it": (["Via Roma", "via Garibaldi", "Piazza del Duomo", "Corso Vittorio Emanuele II", "Viale dei Mille", "Vicolo Stretto",
            "Largo Argentina", "Via dei Fori Imperiali", "P.zza Navona", "via G. Verdi", "Via San Francesco d'Assisi",
            "Strada Statale", "Lungarno Corsini"], ["{s} {n}", "{s}, {n}", "{s} {n}/{A}", "{s} n. {n}", "{s} {n}{a}"]),
    "de": (["Hauptstraße", "Berliner Str.", "Goethestrasse", "Kaiserallee", "Lindenweg", "Marienplatz", "Schillerplatz",
            "Friedrich-Ebert-Straße", "Am Markt", "Bahnhofstr.", "Unter den Linden", "Rosenstraße", "Mühlenweg", "Ring"],
           ["{s} {n}", "{s} {n}{a}", "{s} {n}-{m}"]),
    "zh": (["北京市朝阳区建国路", "上海市浦东新区世纪大道", "广州市天河区天河路", "深圳市南山区科技园南路", "杭州市西湖区文三路",
            "朝阳区望京街道阜通东大街", "南京市鼓楼区中山路", "成都市武侯区人民南路四段", "武汉市洪山区珞喻路", "西安市雁塔区长安南路"],
           ["{s}{n}号", "{s}{n}号{f}楼", "{s}{n}号院{f}号楼", "{s}{n}弄{f}号"]),
    "fa": (["خیابان ولیعصر", "تهران، خیابان آزادی، کوچه {k}", "بلوار کشاورز", "میدان ونک، خیابان ملاصدرا",
            "خیابان شریعتی، کوچه گلستان", "اصفهان، خیابان چهارباغ عباسی", "شیراز، بلوار زند", "خیابان انقلاب، کوچه بهار",
            "مشهد، بلوار وکیل‌آباد"], ["{s}، پلاک {n}", "{s} پلاک {n}", "{s}، پلاک {n}، واحد {f}", "{s}، پلاک {n}، طبقه {f}"]),
}
ADDRESS_TEMPLATES = {
    "en": ["Please deliver to {A}, London NW1 6XE.", "I live at {A} and the courier never came.", "address: {A}",
           "{A} — that's where it should have gone.", "Ship it to {A} please, not to my office.",
           "The driver left the box outside {A} in the rain, it was soaked when I got home from work at 7."],
    "it": ["Spedire a {A}, 00184 Roma.", "Abito in {A} e il corriere non è mai passato.", "indirizzo: {A}",
           "{A}: è lì che doveva arrivare il pacco.", "Il pacco è stato lasciato davanti a {A} sotto la pioggia."],
    "de": ["Bitte liefern an {A}, 10115 Berlin.", "Ich wohne in der {A} und der Bote kam nie.", "Adresse: {A}",
           "{A} – dort sollte das Paket ankommen.", "Das Paket lag vor der Tür in der {A}, völlig durchnässt."],
    "zh": ["收货地址：{A}，请尽快发货。", "我住在{A}，快递员一直没来。", "地址{A}", "{A}，麻烦送到这里。",
           "快递放在{A}门口就走了，下雨全湿了。"],
    "fa": ["آدرس: {A}، لطفا سریع ارسال کنید.", "من در {A} زندگی می‌کنم و پیک نیامد.", "{A} — بسته باید اینجا می‌رسید.",
           "لطفا به {A} ارسال شود.", "بسته را جلوی در {A} گذاشتند و خیس شد."],
}


def gen_address(r: random.Random, lang: str) -> str:
    streets, forms = ADDRESS[lang]
    s = r.choice(streets).replace("{k}", str(r.randint(1, 20)))
    n = r.choice([str(r.randint(1, 250)), str(r.randint(1, 30)), "221"])
    out = r.choice(forms).format(s=s, n=n, a=r.choice("ABab"), A=r.choice("ABC"), f=r.randint(1, 12), m=int(n) + 2)
    if lang == "fa" and r.random() < 0.6:
        out = out.translate(PERSIAN)
    return out


# ---------------------------------------------------------------- carriers

LABELS = {
    "PHONE": {"en": ["phone", "mobile", "number"], "it": ["telefono", "cell", "numero"], "zh": ["电话", "手机", "手机号"],
              "fa": ["شماره", "تلفن", "موبایل"], "de": ["Telefon", "Handy", "Tel."]},
    "EMAIL": {"en": ["email", "e-mail", "mail"], "it": ["email", "mail", "posta"], "zh": ["邮箱", "电邮", "邮件"],
              "fa": ["ایمیل", "پست الکترونیک"], "de": ["E-Mail", "Mail"]},
    "CARD": {"en": ["card", "credit card", "Visa"], "it": ["carta", "carta di credito"], "zh": ["卡号", "银行卡", "信用卡"],
             "fa": ["کارت", "شماره کارت"], "de": ["Karte", "Kreditkarte", "Kartennummer"]},
    "IBAN": {"en": ["IBAN", "account"], "it": ["IBAN", "conto"], "zh": ["IBAN", "账号"], "fa": ["شبا", "IBAN"],
             "de": ["IBAN", "Konto"]},
    "NATIONAL_ID": {"en": ["ID", "tax code", "national ID"], "it": ["codice fiscale", "CF", "C.F."], "zh": ["身份证", "身份证号"],
                    "fa": ["کد ملی", "کدملی"], "de": ["Steuer-ID", "Ausweis"]},
}
CARRIERS = {
    "en": ["{L}: {X}", "{X}", "my {L} is {X}.", "You can reach me via {L} ({X}) — thanks!", "({X})", "{X}, please get back to me",
           "Hello, the parcel never arrived and the courier says it was delivered. I've been a customer for years and this is "
           "the first time this happened. My {L} {X} is on the account; sort it out or I cancel the subscription.",
           "Refund still pending?? {L}={X}", "{L} {X}!!!", "\"{X}\" is my {L}"],
    "it": ["{L}: {X}", "{X}", "il mio {L} è {X}.", "Potete contattarmi qui ({L} {X}), grazie!", "«{X}»", "{X}, richiamatemi",
           "Buongiorno, il pacco non è mai arrivato e il corriere dice che è stato consegnato. Sono cliente da anni e non era "
           "mai successo. {L} {X}: risolvete o disdico l'abbonamento.", "{L}={X}", "Rimborso ancora in attesa!! {L} {X}"],
    "zh": ["{L}：{X}", "我的{L}是{X}，谢谢", "{L}{X}", "请联系{X}尽快处理", "{X}", "快递一直没到……{L}{X}。客服也不回复，太失望了！",
           "（{L}：{X}）", "{X}谢谢", "退款到现在还没到账，我已经等了三个星期了，每次打客服都说在处理，{L}{X}，请尽快回复我，不然我就去投诉。"],
    "fa": ["{L}: {X}", "{L} من {X} است", "لطفا با {L}{X} تماس بگیرید", "{X}", "سفارشم هنوز نرسیده و پشتیبانی جواب نمی‌دهد. {L}: {X}. ممنون",
           "«{X}»", "{L}:{X}", "{X} ممنون", "سه هفته است منتظر بازگشت وجه هستم و هر بار می‌گویند در حال بررسی است؛ {L} {X} را ثبت کرده‌ام، لطفا رسیدگی کنید."],
    "de": ["{L}: {X}", "{X}", "Meine {L} ist {X}.", "Bitte melden Sie sich unter {X} zurück!", "({L} {X})", "{X}, danke",
           "Hallo, das Paket kam nie an und der Bote behauptet, es sei zugestellt worden. Ich bin seit Jahren Kunde. {L} {X} "
           "steht im Konto; bitte klären, sonst kündige ich.", "{L}={X}", "Erstattung immer noch offen!! {L} {X}"],
}

KIND_OF = {"email": "EMAIL", "email_idn": "EMAIL", "email_obf": "EMAIL", "card": "CARD", "iban": "IBAN",
           "cf_it": "NATIONAL_ID", "cn_resident_id": "NATIONAL_ID", "ir_national_code": "NATIONAL_ID",
           "name": "NAME", "address": "ADDRESS"}
PHONES = ["phone_e164", "phone_us", "phone_gb", "phone_it", "phone_de", "phone_fr", "phone_cn", "phone_ir"]
KIND_OF.update({p: "PHONE" for p in PHONES})
SUBKINDS = list(KIND_OF)


def value_for(r: random.Random, sub: str, lang: str) -> str:
    if sub == "email":
        return gen_email(r)
    if sub == "email_idn":
        return r.choice(IDN_EMAILS)
    if sub == "email_obf":
        return gen_email_obf(r, lang)
    if sub in PHONES:
        v = gen_phone(r, sub)
        if lang == "fa" and r.random() < 0.5:
            v = v.translate(PERSIAN if r.random() < 0.8 else ARABIC)
        elif lang == "zh" and r.random() < 0.1:
            v = v.translate(FULLWIDTH)
        return v
    if sub == "card":
        v = gen_card(r)
        return v.translate(PERSIAN) if lang == "fa" and r.random() < 0.4 else v
    if sub == "iban":
        return gen_iban(r)
    if sub == "cf_it":
        return gen_cf(r)
    if sub == "cn_resident_id":
        return gen_cn_id(r)
    if sub == "ir_national_code":
        v = gen_ir_code(r)
        return v.translate(PERSIAN) if lang == "fa" and r.random() < 0.5 else v
    raise ValueError(sub)


def planted_row(r: random.Random, sub: str, lang: str) -> tuple[str, list[dict]]:
    kind = KIND_OF[sub]
    if sub == "name":
        t = r.choice(NAME_TEMPLATES[lang])
        firsts, lasts = NAMES[lang]
        if "{S}" in t:
            v = r.choice(lasts)
            return _fill(t, "{S}", v, kind, sub)
        if "{L}" in t:
            v = r.choice(lasts)
            t = t.replace("{T}", r.choice(TITLES.get(lang, [""])))
            return _fill(t, "{L}", v, kind, sub)
        v = gen_name(r, lang)
        if lang in ("en", "it", "de") and r.random() < 0.08:
            v = v.lower()  # people type their own name in lower case
        return _fill(t, "{N}", v, kind, sub)
    if sub == "address":
        return _fill(r.choice(ADDRESS_TEMPLATES[lang]), "{A}", gen_address(r, lang), kind, sub)
    v = value_for(r, sub, lang)
    t = r.choice(CARRIERS[lang]).replace("{L}", r.choice(LABELS[kind][lang]))
    if sub == "iban" and r.random() < 0.5:  # an IBAN followed by a capitalised word (a known miss)
        t = t.replace("{X}", "{X} " + r.choice(["Grazie", "Thanks", "Danke", "Bank", "Intestato", "BIC", "Mario"]), 1)
    return _fill(t, "{X}", v, kind, sub)


def _fill(template: str, slot: str, value: str, kind: str, sub: str) -> tuple[str, list[dict]]:
    i = template.index(slot)
    text = template[:i] + value + template[i + len(slot):]
    return text, [{"start": i, "end": i + len(value), "kind": kind, "subkind": sub, "value": value}]


def combo_row(r: random.Random, lang: str) -> tuple[str, list[dict]]:
    """Two or three planted items in one longer text."""
    subs = r.sample(["email", "phone_it", "phone_cn", "phone_de", "card", "iban", "name", "address", "phone_ir",
                     "cf_it", "email_obf", "phone_gb"], k=r.choice([2, 3]))
    text, spans = "", []
    for s in subs:
        part, sp = planted_row(r, s, lang)
        sep = "" if not text else r.choice([" ", "\n", " — ", "。" if lang == "zh" else " "])
        off = len(text) + len(sep)
        text += sep + part
        spans += [dict(x, start=x["start"] + off, end=x["end"] + off) for x in sp]
    return text, spans


# ---------------------------------------------------------------- look-alikes (no PII)


def lookalikes(r: random.Random) -> list[tuple[str, str, str]]:
    d = lambda n: _digits(r, n)  # noqa: E731

    def non_luhn16():
        while True:
            s = r.choice("3456") + d(15)
            if luhn_digit(s[:-1]) != s[-1]:
                return s

    def not_ir(n=10):
        while True:
            s = d(n)
            if ir_check(s[:9]) != s[9]:
                return s

    rows = [
        # prices
        ("en", "price", f"Paid ${r.randint(1, 9)},{d(3)}.99 for it and it broke after {r.randint(2, 9)} days."),
        ("en", "price", f"Total: £{r.randint(100, 999)}.{d(2)} incl. VAT (was £{r.randint(1000, 1999)}.00)"),
        ("it", "price", f"Pagato {r.randint(1, 9)}.{d(3)},{d(2)} € e dopo una settimana non funziona."),
        ("it", "price", f"Costo spedizione 9,90€, totale {r.randint(100, 999)},{d(2)} EUR"),
        ("de", "price", f"Für {r.randint(1, 9)}.{d(3)},00 € erwarte ich mehr. Rabatt 15 % war ein Witz."),
        ("zh", "price", f"花了¥{r.randint(1000, 9999)}.00买的，{r.randint(3, 9)}天就坏了"),
        ("zh", "price", f"原价{r.randint(1000, 9999)}元，优惠后{r.randint(100, 999)}元"),
        ("fa", "price", f"قیمت {r.randint(1, 9)}٬{d(3)}٬{d(3)} تومان بود ولی کیفیتش خوب نیست".translate(PERSIAN)),
        ("fa", "price", f"مبلغ {r.randint(10, 99)} {d(3)} {d(3)} ریال کسر شد"),
        # order numbers (incl. long ones and ones that look like phones)
        ("en", "order", f"Order #{d(9)} still not shipped."),
        ("en", "order", f"order number {non_luhn16()} arrived damaged"),
        ("it", "order", f"Ordine n. {r.randint(100, 999)}-{d(7)}-{d(7)} mai arrivato"),
        ("it", "order", f"Numero ordine: {r.choice('345')}{d(9)} — ancora in lavorazione"),
        ("de", "order", f"Bestellnummer {d(10)} wurde storniert"),
        ("de", "order", f"Meine Bestellung 0{d(10)} ist nicht angekommen"),
        ("zh", "order", f"订单号：{r.choice(['2024', '2025'])}{r.randint(1, 12):02d}{d(12)}，一直没发货"),
        ("zh", "order", f"订单{d(19)}退款失败"),
        ("zh", "order", f"订单编号 {r.randint(1, 9)}{d(15)} 还没到"),
        ("fa", "order", f"شماره سفارش {d(9)} هنوز ارسال نشده".translate(PERSIAN)),
        ("fa", "order", f"کد پیگیری {not_ir()} را دارم ولی جواب نمی‌دهند"),
        ("fa", "order", f"کد رهگیری پستی {d(20)}".translate(PERSIAN)),
        # tracking codes
        ("en", "tracking", f"UPS tracking 1Z{d(3)}AA1{d(10)} shows delivered."),
        ("en", "tracking", f"Royal Mail RR{d(9)}GB, not moved for a week"),
        ("it", "tracking", f"Tracciamento LX{d(9)}IT fermo a Bologna"),
        ("de", "tracking", f"Sendungsnummer 00340434{d(12)} (DHL)"),
        ("zh", "tracking", f"顺丰单号SF{d(13)}，显示已签收"),
        ("zh", "tracking", f"京东快递JDVB{d(11)}三天没更新"),
        ("zh", "tracking", f"运单号：YT{d(13)}"),
        ("fa", "tracking", f"بارکد مرسوله {d(24)}".translate(PERSIAN)),
        # 16-digit non-Luhn numbers
        ("en", "non_luhn16", f"Reference {non_luhn16()} on the invoice"),
        ("it", "non_luhn16", f"Codice pratica {non_luhn16()}"),
        ("de", "non_luhn16", f"Vorgangsnummer: {non_luhn16()}"),
        ("zh", "non_luhn16", f"流水号{non_luhn16()}"),
        ("fa", "non_luhn16", f"شماره تراکنش {non_luhn16()}".translate(PERSIAN)),
        ("en", "non_luhn16", " ".join(v[i:i + 4] for v in [non_luhn16()] for i in range(0, 16, 4))
         + " is the gift card serial (not valid)"),
        # dates
        ("en", "date", f"Delivered on {r.randint(2019, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d} at 10:30."),
        ("it", "date", f"Consegna prevista il {r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2019, 2026)}, poi rinviata al {r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(2019, 2026)}"),
        ("de", "date", f"Am {r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(2019, 2026)} bestellt, am {r.randint(1, 28)}. März geliefert"),
        ("zh", "date", f"{r.randint(2019, 2026)}年{r.randint(1, 12)}月{r.randint(1, 28)}日下单，{r.randint(2019, 2026)}/{r.randint(1, 12):02d}/{r.randint(1, 28):02d}才到"),
        ("fa", "date", f"تاریخ سفارش {r.randint(1398, 1404)}/{r.randint(1, 12):02d}/{r.randint(1, 29):02d} بود".translate(PERSIAN)),
        ("en", "date", f"{r.randint(1, 12):02d}/{r.randint(1, 28):02d}/{r.randint(2019, 2026)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} UTC timestamp in the email header"),
        ("de", "date", f"Zeitstempel {r.randint(2019, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{r.randint(0, 23):02d}{r.randint(0, 59):02d}{r.randint(0, 59):02d} im Log"),
        # times
        ("en", "time", f"Waited from {r.randint(8, 11)}:{d(1)}5 to {r.randint(12, 17)}:{d(1)}0 on the phone line"),
        ("it", "time", f"Orario: {r.randint(8, 11)}.30-{r.randint(12, 19)}.00, chiamato alle {r.randint(8, 11)}:{d(2)}"),
        ("zh", "time", f"下午{r.randint(1, 6)}点{r.randint(10, 59)}分打的电话，等了{r.randint(20, 59)}分钟"),
        ("fa", "time", f"ساعت {r.randint(8, 11)}:{r.randint(10, 59)} تماس گرفتم".translate(PERSIAN)),
        # versions
        ("en", "version", f"App version {r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 300)} (build {d(4)}) crashes on iOS 17.{r.randint(0, 6)}.{r.randint(0, 3)}"),
        ("de", "version", f"Firmware v{r.randint(1, 9)}.{r.randint(0, 9)}.{d(2)} auf Windows 10.0.{d(5)}.{d(4)}"),
        ("it", "version", f"Dopo l'aggiornamento alla {r.randint(10, 14)}.{r.randint(0, 9)}.{r.randint(100, 999)}.{d(3)} non parte"),
        ("zh", "version", f"升级到{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(10, 99)}版本后闪退"),
        ("fa", "version", f"نسخه {r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(10, 99)} اپلیکیشن کار نمی‌کند"),
        # quantities and percentages
        ("en", "quantity", f"Ordered {r.randint(2, 12)} x {r.randint(100, 999)} ml bottles, got {r.randint(1, 3)}, {r.randint(10, 90)}% missing"),
        ("it", "quantity", f"{r.randint(2, 9)} confezioni da {r.randint(100, 999)} g, sconto del {r.randint(10, 70)}%"),
        ("de", "quantity", f"{r.randint(1, 9)} 000 Punkte, {r.randint(2, 9)} × {r.randint(100, 999)} g, {r.randint(10, 99)},{d(1)} % Rabatt"),
        ("zh", "quantity", f"买了{r.randint(2, 9)}箱，每箱{r.randint(12, 48)}瓶，少了{r.randint(10, 50)}%"),
        ("fa", "quantity", f"{r.randint(2, 9)} عدد سفارش دادم، {r.randint(10, 90)}٪ تخفیف".translate(PERSIAN)),
        ("en", "quantity", f"1 {d(3)} {d(3)} users affected, {r.randint(100, 999)} {d(3)} downloads"),
        # flights
        ("en", "flight", f"Flight LH {r.randint(100, 9999)} was cancelled, rebooked on BA{r.randint(100, 999)}"),
        ("it", "flight", f"Volo AZ{r.randint(100, 999)} del {r.randint(1, 28)} maggio in ritardo di {r.randint(2, 9)} ore"),
        ("zh", "flight", f"航班CA{r.randint(1000, 9999)}延误{r.randint(2, 9)}小时"),
        ("fa", "flight", f"پرواز IR {r.randint(100, 999)} تهران-مشهد لغو شد"),
        ("de", "flight", f"Flug EW {r.randint(1000, 9999)} um {r.randint(10, 23)}:{d(1)}5 Uhr"),
        # adversarial words near name and address cues
        ("en", "words", r.choice(["I'm happy with the product but this is unacceptable.", "my name is on the order but the parcel went elsewhere.",
                                   "Am I speaking to a robot? This is ridiculous.", "This is Amazon's fault, not the seller's.",
                                   "Hello, thanks for the quick reply!", "Dear customer service, nothing works.",
                                   "I am writing to complain.", "Street Fighter 6 arrived with a scratched disc, 3 Road Trip maps missing."])),
        ("it", "words", r.choice(["Sono molto deluso dal servizio.", "Sono stato contattato due volte.", "Sono Contento? No.",
                                   "Ciao a tutti, volevo segnalare un problema.", "via email mi hanno detto di aspettare 12 giorni",
                                   "Sono io il problema? Gentile cliente, la richiesta è chiusa.", "Mi chiamo fuori da questa storia."])),
        ("de", "words", r.choice(["Ich bin enttäuscht und werde nicht mehr bestellen.", "Ich bin Kunde seit 2019.",
                                   "Hallo zusammen, das Update ist fehlerhaft.", "Sehr geehrte Damen und Herren, das Gerät ist defekt.",
                                   "Hier spricht niemand Deutsch am Telefon.", "Straße gesperrt, 3 Tage Verspätung."])),
        ("zh", "words", r.choice(["我是第一次买这个牌子，质量一般。", "我是会员，为什么还要运费？", "我叫了三次客服都没人理。",
                                   "我是真的很失望", "路上堵车，快递晚了3天。", "第88号订单还没发货", "我是说这个价格太贵了"])),
        ("fa", "words", r.choice(["من خیلی ناراضی هستم.", "من مشتری قدیمی هستم و این رفتار زشت است.", "خیابان شلوغ بود و پیک دیر رسید.",
                                   "من از خرید پشیمان هستم.", "سلام، وقت بخیر. سفارش ۳ روز دیر رسید.", "من واقعا عصبانی هستم"])),
        # barcodes, VAT numbers and other well-formed non-PII codes
        ("en", "code", f"ISBN 978-{r.randint(0, 1)}-{d(3)}-{d(5)}-{d(1)} was the wrong edition"),
        ("it", "code", f"Partita IVA del venditore IT{d(11)} non valida"),
        ("de", "code", f"Artikelnummer {d(8)}, Modell X{r.randint(100, 999)}"),
        ("zh", "code", f"快递柜取件码{d(6)}，商品编号{d(12)}"),
        ("fa", "code", f"کد تخفیف OFF{r.randint(10, 99)} و کد محصول {d(8)}"),
    ]
    return rows


def main() -> None:
    r = random.Random(20261123)
    rows = []
    n = 0
    for sub in SUBKINDS:
        for lang in LANGS:
            for _ in range(4):
                text, spans = planted_row(r, sub, lang)
                n += 1
                rows.append({"id": f"p{n:04d}", "text": text, "language": lang, "spans": spans, "lookalike": None})
    for lang in LANGS:
        for _ in range(8):
            text, spans = combo_row(r, lang)
            n += 1
            rows.append({"id": f"p{n:04d}", "text": text, "language": lang, "spans": spans, "lookalike": None})
    k = 0
    for _ in range(4):
        for lang, family, text in lookalikes(r):
            k += 1
            rows.append({"id": f"n{k:04d}", "text": text, "language": lang, "spans": [], "lookalike": family})
    for row in rows:
        for s in row["spans"]:
            assert row["text"][s["start"]:s["end"]] == s["value"], row
        row["split"] = "heldout" if r.random() < 0.3 else "tune"
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({k: row[k] for k in ("id", "split", "language", "text", "spans", "lookalike")},
                               ensure_ascii=False) + "\n")
    planted = sum(1 for x in rows if x["spans"])
    print(f"{len(rows)} rows: {planted} planted, {len(rows) - planted} look-alikes -> {OUT}")


if __name__ == "__main__":
    main()

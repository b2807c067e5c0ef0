"""Customer effort read from text: repeated contact, transfers between agents, long waits, having to
repeat oneself, being sent to another channel; a 0-1 effort score per text.

``touchpoint.EffortCues.v1``: each cue is found by hand-written multilingual patterns (en, zh, fa, it)
or, for phrasings no pattern covers, by a linear head on encoder vectors of seed sentences (cue
present when its probability reaches ``proto_threshold``). The effort score is a noisy-OR of the cues
found, each with its weight (``WEIGHTS``), so two cues weigh more than one and the score stays in
[0, 1]. It measures effort the customer *describes*; silence about effort scores 0, not "easy".
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

BACKEND = "touchpoint.EffortCues.v1"
CUES = ["repeat_contact", "transfer", "long_wait", "repeat_self", "channel_switch"]
NONE = "none"
LABELS = CUES + [NONE]
# Repeated contact is the strongest effort driver in the CES literature; the others follow it.
WEIGHTS = {"repeat_contact": 0.6, "transfer": 0.5, "long_wait": 0.45, "repeat_self": 0.5, "channel_switch": 0.45}

_ORD_EN = r"(second|third|fourth|fifth|sixth|umpteenth|nth|\d+(st|nd|rd|th))"
_NUM_EN = r"(\d+|an?|one|two|three|four|five|six|ten|several|many|few)"
_UNIT_EN = r"(min(ute)?s?|hours?|hrs?|days?|weeks?|months?)"
_NUM_IT = r"(\d+|un'|una|un|due|tre|quattro|cinque|dieci|qualche|vari[eo]|più di)"
_UNIT_IT = r"(minut|or[ae]\b|giorn|settiman|mes[ei])"
_NUM_ZH = r"(\d+|[一两二三四五六七八九十几半多]+)"
_NUM_FA = r"(\d+|[۰-۹]+|یک|دو|سه|چهار|پنج|ده|چند|بیست|سی|چهل|پنجاه|چهل و پنج)"

PATTERNS: dict[str, list[str]] = {
    "repeat_contact": [
        '\\b(contacted|called|emailed|written to|messaged|phoned)\\b.{0,25}\\b(twice|three times|four times|five times|\\d+ times|several times|multiple times)', 'here i am again', 'keep (having to )?(contact|call|email|writ)', '\\band again on\\b', "once more i'?m (contacting|calling|writing)", '(umpteenth|nth) time', '\\b(previous|last|earlier) (call|email|ticket|chat|contact)\\b', '(chiamato|telefonato|scritto|contattato|segnalato)\\b.{0,20}\\b(due|tre|quattro|cinque|\\d+|varie|diverse|più) volte', 'continuare a (contattare|chiamare|scrivere)', '(segnalat|chiamat|scritt|contattat)\\w* .{0,30}\\be di nuovo\\b', '(chiamata|telefonata|email|segnalazione) precedente', 'ho dovuto richiamare', 'eccomi di nuovo', '联系了你们[两三四五六七八九十几\\d]+次', '又反映', '投诉过', '上次来电', '打多少次', '(反映|投诉|联系)过.{0,8}(又|再)', 'دوباره آمدهام', 'مدام.{0,20}تماس بگیرم', '(گزارش|شکایت|تماس).{0,20}دوباره', '(سه|چند|دو|چهار) تیکت', '(ماه|هفته) (پیش|قبل) هم', 'چندین تماس', 'تماس قبلی',
        _ORD_EN + r" (call|email|message|ticket|attempt|complaint|contact)",
        _ORD_EN + r" time (i'm |i am |i've |i have |that i )?(call|contact|writ|email|reach|chat|ask|report|complain)",
        r"\b(called|contacted|emailed|written|wrote|reported|complained|reached out|messaged|spoke)\b.{0,40}"
        r"\b(before|already|twice|three times|\d+ times|several times|last (week|month|time)|yesterday)",
        r"\b(calling|writing|contacting|reaching out|following up|chatting|getting in touch)\s+(again|once more|yet again|one more time)",
        r"\b(already|previously) (called|contacted|reported|complained|emailed|wrote|written|opened)",
        r"how many times do i have to", r"\bback again\b", r"\bhad to call back\b", r"\bcontacting you again\b",
        r"\b(multiple|several|many|countless|repeated) (calls|emails|contacts|tickets|messages)",
        r"\b(opened|raised|logged) (two|three|four|several|\d+) tickets", r"(calling|called) every day",
        r"(second|seconda|terza|quarta|quinta|ennesima) volta che", r"(seconda|terza|quarta|quinta) (email|chiamata|telefonata)",
        r"(quarto|quinto|terzo|secondo) (tentativo|reclamo)", r"\b(ho|avevo) già (chiamato|scritto|segnalato|contattato|aperto|lamentat)",
        r"(chiamo|scrivo|contatto|richiamo|ricontatto|sollecito|riscrivo) (di nuovo|ancora)", r"\bricontatt", r"\brichiam(o|are|ato)\b",
        r"(più|varie|diverse|tante) (chiamate|telefonate|email|segnalazioni)", r"dopo (varie|diverse|molte) chiamate",
        r"quante volte devo", r"(vi|ti) (contatto|scrivo) ancora", r"di nuovo qui", r"ancora una volta (devo|vi|per)",
        r"già lamentat", r"ho chiamato (tutti i giorni|il \d)",
        r"第[二三四五六七八九十n\d]+次", r"又(打|来|写|联系|发)", r"再次(联系|来电|打电话|跟进|反映)", r"已经(打|联系|反馈|反映|投诉|写|开)",
        r"(打|联系|反馈|反映|投诉)(了|过)[两三四五六\d几好]+次", r"多少次电话", r"一次又一次联系", r"好几次电话",
        r"每天都在打", r"再联系", r"上(周|个月|次)(就|已经)?(打|联系|投诉|反映)",
        r"(دومین|سومین|چهارمین|پنجمین|چندمین) (بار|تماس|ایمیل|تلاش|شکایت)", r"بار (دوم|سوم|چهارم|پنجم|چندم)",
        r"(دوباره|باز هم|مجددا|یک بار دیگر).{0,30}(تماس|زنگ|مینویسم|پیام|پیگیری|ایمیل)", r"قبلا.{0,25}(تماس|زنگ|نوشته|گزارش|شکایت)",
        r"(دو|سه|چهار|پنج|چند|چندین) (بار|تماس).{0,25}(تماس|زنگ|گزارش|نوشته)", r"چند بار باید",
        r"هر روز.{0,25}زنگ", r"دوباره برگشتم",
    ],
    "transfer": [
        '\\bput (me )?through to\\b.{0,40}\\b(then|another|back|who)', 'forwarding my call', 'sent me to another agent', 'escalated and then', '(sent|passed|put) me back', 'who sent me back', 'girare la (mia )?chiamata', 'mi passava a', 'rimandato indietro', "mi (ha|hanno) rimandato (al|alla|all')", '推给', '又让我回来', '每转一次', '让我找.{1,8}又让我找', '之间被推', 'ارجاع میدادند', 'به اپراتور دیگری', 'وصلم میکند', 'انتقال(ها|های)? ', 'فرستاد و .{0,25}دوباره به',
        r"(?<!bank )(?<!wire )(?<!money )\btransfer(s|red|ring)?\b(?! (money|funds))", r"\beach transfer\b", r"\btransfer (me|you)\b",
        r"\b(passed|bounced|handed|forwarded|redirected|shunted|sent|moved)\b.{0,30}\b(around|between|from one|to another|"
        r"to (a |the )?(different|another|other|wrong)|back and forth|over to)",
        r"pillar to post", r"\b(different|several) (people|agents|departments|teams|offices)\b", r"\bnot (my|her|his|our) department",
        r"trasferi", r"(mi )?(hanno|ha) (passat|girat|rimbalzat|sballottat|indirizzat)", r"rimbalzat", r"sballottat",
        r"(la|ti|vi) passo a", r"passat[oa] (tra|a un|a una)", r"girat[oa] a", r"da un (operatore|ufficio|reparto|interno|team) (all'altro|a un altro)",
        r"persone diverse", r"reparti diversi", r"non è di sua competenza", r"passato tra",
        r"转接", r"转给", r"转到", r"转了", r"转来转去", r"推来推去", r"踢来踢去", r"踢皮球", r"转错", r"转回", r"转走", r"不归.{0,3}管",
        r"不同的人", r"不同部门", r"交给别人", r"推到另一个",
        r"(وصل|منتقل|انتقال|ارجاع|پاس) ?(کردند|دادند|داد|کرد|شدم|شد)", r"پاس ?کاری", r"دست ?به ?دست", r"وصلتان کنم",
        r"از این (کارشناس|اتاق|داخلی|بخش|تیم) به آن", r"سپرد",
    ],
    "long_wait": [
        'nobody (replied|answered|responded|got back).{0,30}\\b(for|in) (\\d+|an?|one|two|three|four|several|many|few)', 'stuck in the (phone )?queue', 'hold music', '(waiting|stuck|queue|on hold).{0,30}\\bsince\\b', 'took (them )?(a|one|two|three) (week|month)', 'nessuno ha risposto.{0,30}\\bper\\b', '(passato|rimasto|messo|lasciato|stato)\\w* .{0,30}in attesa', 'coda telefonica', 'aspetto (una|la) richiamata', '在等回电', '过了.{1,4}(天|星期|周|月).{0,6}才', '才回复', '花了(\\d+|[一两二三四五六七八九十几半多]+)(个)?(分钟|小时)', '时间.{0,4}太长', '等客服',
        r"\bon hold\b", r"\bon the line for\b",
        r"\b(waited|waiting|wait|queue|queued|in line)\b.{0,40}\b" + _NUM_EN + r"\s*" + _UNIT_EN + r"\b",
        r"\b" + _NUM_EN + r"\s*" + _UNIT_EN + r"\b.{0,30}\b(wait|hold|queue|to (answer|reply|respond|get through|pick up|reply)|before)",
        r"\b(took|takes|taking) (forever|ages|hours|days|weeks|a month)", r"\bwait(ed)? (ages|forever)", r"number \d+ in (the )?queue",
        r"\bstill waiting\b", r"(wait(ing)?|hold|response) times? .{0,20}(long|ridiculous|unbearable|slow|terrible)",
        r"\bkept (us|me) waiting\b", r"\bstood in line\b", r"\bbeen waiting\b", r"took forever",
        r"\bwaited\b", r"waiting for (a|an|my) (call ?back|response|reply|answer)", r"\b(queue|waiting time|the wait)\b.{0,20}(endless|long|huge)",
        r"(aspett\w*|attesa|in coda|in linea|fila)\b.{0,40}" + _NUM_IT + r"\s*" + _UNIT_IT,
        _NUM_IT + r"\s*" + _UNIT_IT + r"\w*.{0,30}(attesa|aspett|in linea|prima che|per (parlare|rispondere))",
        r"un'eternità", r"un secolo", r"tempi di (attesa|risposta)", r"l'attesa", r"musica d'attesa", r"in coda", r"ancora in attesa",
        r"ci (hanno|ha) messo", r"ci sono voluti", r"ci è voluta?", r"aspetto da", r"fatto aspettare", r"ho aspettato", r"in attesa per",
        r"等了", r"排队", r"排在第", r"还在等", r"一直在等", r"等待时间", r"等待音乐", r"好久才", r"太久", r"等(了)?很久", r"才(有人|有客服)",
        _NUM_ZH + r"(个)?(分钟|小时|天|星期|周|个月).{0,6}(都|也)?没(人)?(回|接|回复|答复)", r"我在等",
        r"منتظر", r"معطل", r"پشت خط", r"در صف", r"توی صف", r"صف ", r"موسیقی انتظار", r"زمان انتظار", r"انتظار (برای|پشت)",
        _NUM_FA + r" ?(و نیم )?(دقیقه|ساعت|روز|هفته|ماه).{0,30}(طول کشید|منتظر|معطل|انتظار)", r"یک عمر", r"کلی طول کشید",
        r"طول کشید تا", r"(هفته|روز|ماه) کسی.{0,20}جواب نداد",
    ],
    "repeat_self": [
        '(verify|verified|confirm(ed)?) my identity .{0,20}(times|again)', 'same form (twice|again)', 'once to the .{0,20} twice', 'fill(ed)? out the same', 'raccontar\\w* di nuovo', 'di nuovo quello che ho detto', 'verificare la mia identità .{0,20}volte', '验证了.{0,3}次', '重讲', '填了[两三四]次', 'یک بار برای .{0,30}دو بار', '(دو|سه|چهار) بار برای',
        r"\b(repeat|repeating|repeated)\b.{0,20}\b(myself|my|the same|the whole|everything|story|complaint|information|details|it all)",
        r"\b(explain|explained|explaining|tell|told|telling|describe|spell|give|given|giving|resend|re-enter|typing|type|fill(ed)? out|"
        r"sent|send)\b.{0,40}\b(again|all over again|from (the )?(start|scratch|beginning)|over and over|once more|(\d+|two|three|four|five) times)",
        r"\bstart(ed)? (over|from scratch)\b", r"\bsame (questions?|information|answers|details)\b", r"\bas i (said|told|mentioned|wrote|explained)\b",
        r"for the (second|third|fourth|\d+(st|nd|rd|th)) time, here", r"\bagain and again\b", r"asked (me )?.{0,30}\bagain\b",
        r"instead of asking me again", r"\brepeat(ing)? myself\b", r"\bfrom the (start|beginning)\b", r"\bre-?(enter|send|sent)\b",
        r"ripet(ere|uto|o|ermi|endo)", r"rispieg", r"da capo", r"dall'inizio", r"da zero", r"ricominciar", r"stesse (domande|informazioni|risposte)",
        r"(spiegare|raccontat\w*|raccontare|chiesto|descrivere|dettare|dato|dare|compilare)\b.{0,30}\b(di nuovo|ancora|da capo|dall'inizio|(due|tre|quattro|cinque) volte)",
        r"\brimandar(le|li|lo|la)\b", r"\brinviare\b", r"\breinser", r"\bridett", r"\briscriv", r"come ho già (detto|scritto|spiegato)", r"più e più volte", r"chiedermelo di nuovo",
        r"stesso modulo", r"per la (seconda|terza|quarta) volta, ecco",
        r"重复", r"从头", r"重新(讲|说|报|填|发|输入|解释|描述|提交)", r"再(说|讲|解释|描述|问|报|发|填)(一|了)?遍", r"又问了?(我)?一遍", r"一遍又一遍",
        r"同样的(问题|信息|资料|回答)", r"[两三四五]遍", r"(再次|又一次)输入", r"从零开始", r"不要再问", r"再描述", r"又让我重新", r"说过了",
        r"تکرار (کنم|کردم|کنیم|میکنم)", r"حرفم را تکرار", r"از اول", r"از نو", r"از صفر",
        r"دوباره (توضیح|بگویم|گفتم|بفرستم|وارد|بپرسید|نپرسید|پرسیدند|شرح|خواستند)", r"همان (سؤال|سوال|اطلاعات|جواب|مشخصات)",
        r"بارها و بارها", r"همانطور که.{0,30}گفتم", r"(دو|سه|چهار|پنج) بار.{0,25}(گفته|توضیح|هجی|تأیید|پر کردم)", r"برای سومین بار، این",
    ],
    "channel_switch": [
        'was told to (call|phone|email|write|visit|go)', 'told me to (call|phone|email|write|send a letter|visit|go to|use)', '(came|went) to the (shop|store|branch|office) because', 'asked to (visit|go to|call|write)', '\\bsend a letter\\b', 'ora provo con', 'quindi (ora )?(provo|chiamo|scrivo|sono andat)', '非要我去', '去办公室', 'مجبور شدم.{0,30}زنگ بزنم', 'تلفنی تماس بگیرم', 'گفت برای .{0,30}(تلفنی|زنگ)',
        r"\b(chat|chatbot|bot|app|website|site|portal|online|phone|hotline|call cent(re|er)|email|store|shop|branch|office|agent|support)\b.{0,60}"
        r"\b(told|asked|sent|redirected|referred|directed) me to (call|phone|email|write|visit|go|use|fill|send|contact|print|"
        r"the (app|website|site|store|shop|branch|office|phone|hotline|chat|portal|web))",
        r"\b(had to|forced to|so i|ended up)\b.{0,12}\b(call(?! back)|phone|go (in person|to the (store|shop|branch|office))|visit|come to|switch|print and post)",
        r"\b(tried|trying)\b.{0,40}\b(then|now|finally)\b", r"\bafter trying\b", r"\b(on|via) (twitter|facebook|instagram|social media|whatsapp)\b",
        r"\bin person\b", r"\bfrom the chat to the (phone|store|shop|app|website)", r"\b(sent|redirected|referred) me (to|back to) the (app|website|phone|store|chat)",
        r"\b(use|try) the (chat|phone|app|website|web portal|portal) instead\b", r"\bnow (calling|trying the chat)\b",
        r"(mi ha|mi hanno|ha detto|hanno detto)\b.{0,20}\b(di (chiamare|telefonare|scrivere|mandare|andare|usare|compilare|contattare))",
        r"(sono dovut\w+|ho dovuto|(?<!volte )devo) (andare|chiamare|telefonare|passare|venire|stampare)", r"\b(su|via) (twitter|facebook|instagram|whatsapp|social)",
        r"di persona", r"(ho provato|dopo aver provato)\b.{0,40}\b(poi|ora|infine)", r"(rimandato|mandato|indirizzato) (al|alla|all'|in) (numero|telefono|sito|app|negozio|portale)",
        r"sono venut\w+ in negozio", r"ho provato .{0,20}(a chiamare|la chat)", r"passato dalla chat",
        r"让我(打电话|去|发邮件|写信|改|用|寄|填|找)", r"只好(打电话|去|到店|改|在微|把表格|试试|寄)", r"只能(去|打|亲自|在社交)", r"亲自", r"微博",
        r"微信", r"小红书", r"公众号", r"改打", r"推到(电话|热线)", r"(电话|邮件|在线客服|网站|应用|门店|自助服务).{0,8}(都|也)?试(过|了)", r"于是我打了电话",
        r"到店里来", r"跑了个遍", r"推到电话", r"在社交媒体",
        r"گفت(ند)? .{0,25}(زنگ بزنم|تماس بگیرم|ایمیل|بنویسم|بروم|استفاده کنم|پر کنم|بفرستم)", r"مجبور شدم.{0,25}(تلفن|بروم|حضوری|چاپ)",
        r"حضوری", r"(در|توی) (توییتر|اینستاگرام|تلگرام|واتس ?اپ|فیسبوک|شبکههای اجتماعی)", r"(فرستاد|ارجاع داد).{0,20}(سایت|فروشگاه|اپلیکیشن|تلفن|خط)",
        r"امتحان (کردم|میکنم)", r"پس زنگ زدم", r"به فروشگاه آمدم", r"تلفنی پیگیری", r"از چت به تلفن",
    ],
}

# Seed sentences for the head (none of them in the check set, tests/data/cx).
SEEDS: dict[str, dict[str, list[str]]] = {
    "repeat_contact": {
        "en": [
            "This is not the first time I've contacted you about this.",
            'I have called several times already.',
            "I'm getting in touch again because it's still broken.",
            'My second complaint about the same thing.',
            "I reached out last week and I'm doing it again now.",
        ],
        "it": [
            'Non è la prima volta che vi contatto per questo.',
            'Ho già chiamato diverse volte.',
            'Vi ricontatto perché è ancora rotto.',
            'Il mio secondo reclamo per la stessa cosa.',
            'Vi ho scritto la settimana scorsa e vi riscrivo ora.',
        ],
        "zh": [
            '这不是我第一次为这事联系你们了。',
            '我已经打过好几次电话了。',
            '东西还是坏的，我只好再联系你们。',
            '同一件事我第二次投诉了。',
            '上周联系过一次，现在又来了。',
        ],
        "fa": [
            'این اولین بار نیست که درباره\u200cی این موضوع تماس می\u200cگیرم.',
            'تا حالا چندین بار زنگ زده\u200cام.',
            'دوباره پیام می\u200cدهم چون هنوز خراب است.',
            'دومین شکایتم درباره\u200cی همین موضوع است.',
            'هفته\u200cی قبل پیام دادم و الان دوباره پیام می\u200cدهم.',
        ],
    },
    "transfer": {
        "en": [
            'They transferred my call to another department.',
            'I was passed between several agents.',
            'Each person handed me over to someone else.',
            'Put on hold and transferred again.',
            'I got sent from team to team.',
        ],
        "it": [
            'Hanno trasferito la chiamata a un altro reparto.',
            'Sono stato passato tra vari operatori.',
            'Ognuno mi passava a qualcun altro.',
            'Messo in attesa e trasferito di nuovo.',
            "Mi hanno mandato da un team all'altro.",
        ],
        "zh": [
            '他们把我的电话转到了另一个部门。',
            '我被好几个客服转来转去。',
            '每个人都把我交给别人。',
            '让我等着然后又转接了。',
            '我被从一个团队推到另一个团队。',
        ],
        "fa": [
            'تماسم را به بخش دیگری منتقل کردند.',
            'بین چند کارشناس دست\u200cبه\u200cدست شدم.',
            'هر کسی مرا به نفر دیگری سپرد.',
            'پشت خط نگهم داشتند و دوباره انتقالم دادند.',
            'از این تیم به آن تیم فرستاده شدم.',
        ],
    },
    "long_wait": {
        "en": [
            'I was kept on hold for a very long time.',
            'It took an hour to reach someone.',
            'Waiting for days without a reply.',
            'The queue to speak to an agent is huge.',
            "I've been waiting since this morning.",
        ],
        "it": [
            'Mi hanno lasciato in attesa per tantissimo tempo.',
            "Ci è voluta un'ora per parlare con qualcuno.",
            'Aspetto da giorni senza risposta.',
            'La coda per parlare con un operatore è enorme.',
            'Sto aspettando da stamattina.',
        ],
        "zh": [
            '我在电话里等了很久很久。',
            '花了一个小时才联系上人。',
            '好几天都没有回复，一直在等。',
            '排队等人工的人太多了。',
            '我从早上一直等到现在。',
        ],
        "fa": [
            'خیلی طولانی پشت خط نگهم داشتند.',
            'یک ساعت طول کشید تا به کسی برسم.',
            'چند روز است منتظر جوابم.',
            'صف صحبت با کارشناس خیلی طولانی است.',
            'از صبح منتظرم.',
        ],
    },
    "repeat_self": {
        "en": [
            'I had to repeat everything to the next agent.',
            'They asked me for the same details again.',
            'I keep explaining the same problem to different people.',
            'Had to start my explanation from the beginning.',
            'They made me resend information I had already given.',
        ],
        "it": [
            'Ho dovuto ripetere tutto al prossimo operatore.',
            'Mi hanno chiesto di nuovo gli stessi dati.',
            'Continuo a spiegare lo stesso problema a persone diverse.',
            "Ho dovuto ricominciare la spiegazione dall'inizio.",
            'Mi hanno fatto rimandare informazioni che avevo già dato.',
        ],
        "zh": [
            '我只好对下一个客服把所有事情重说一遍。',
            '他们又问了我一遍同样的资料。',
            '我一直在向不同的人解释同一个问题。',
            '只能从头开始重新解释。',
            '已经给过的信息又让我重新提交。',
        ],
        "fa": [
            'مجبور شدم همه چیز را برای کارشناس بعدی تکرار کنم.',
            'دوباره همان مشخصات را از من خواستند.',
            'مدام یک مشکل را برای آدم\u200cهای مختلف توضیح می\u200cدهم.',
            'مجبور شدم توضیحم را از اول شروع کنم.',
            'اطلاعاتی را که قبلاً داده بودم دوباره خواستند.',
        ],
    },
    "channel_switch": {
        "en": [
            'Online support sent me to the phone line.',
            "I had to go to the store because the app couldn't do it.",
            "Email didn't work, so I tried calling.",
            'The phone agent told me to use the chat instead.',
            'I ended up contacting you on social media.',
        ],
        "it": [
            "L'assistenza online mi ha mandato al telefono.",
            "Sono dovuto andare in negozio perché l'app non lo permetteva.",
            "L'email non funzionava, allora ho provato a chiamare.",
            "L'operatore al telefono mi ha detto di usare la chat.",
            'Alla fine vi ho contattato sui social.',
        ],
        "zh": [
            '在线客服让我改打电话。',
            '应用办不了，我只能去门店。',
            '邮件没用，于是我打了电话。',
            '电话客服让我改用在线聊天。',
            '最后我只能在社交媒体上找你们。',
        ],
        "fa": [
            'پشتیبانی آنلاین مرا به تلفن ارجاع داد.',
            'اپلیکیشن نمی\u200cتوانست و مجبور شدم به فروشگاه بروم.',
            'ایمیل جواب نداد، پس زنگ زدم.',
            'کارشناس تلفنی گفت به جای آن از چت استفاده کنم.',
            'آخر سر در شبکه\u200cهای اجتماعی با شما تماس گرفتم.',
        ],
    },
    "none": {
        "en": [
            'I was charged twice for my order.',
            'The app keeps logging me out.',
            "I'm very happy and will buy again.",
            'The website is hard to use.',
            'The product broke after two days.',
            'The staff were lovely.',
            'I want to return these shoes.',
            'The price is too high.',
            'Delivery was fast.',
            'The soup was too salty.',
            'The agent fixed it on the first call.',
            'Where can I find my invoice?',
        ],
        "it": [
            "Mi hanno addebitato due volte l'ordine.",
            "L'app continua a disconnettermi.",
            'Sono molto soddisfatto e ricomprerò.',
            'Il sito è difficile da usare.',
            'Il prodotto si è rotto dopo due giorni.',
            'Il personale è stato adorabile.',
            'Voglio restituire queste scarpe.',
            'Il prezzo è troppo alto.',
            'La consegna è stata veloce.',
            'La zuppa era troppo salata.',
            "L'operatore ha risolto alla prima chiamata.",
            'Dove trovo la mia fattura?',
        ],
        "zh": [
            '订单被扣了两次钱。',
            '应用老是把我登出。',
            '非常满意，还会再买。',
            '网站很难用。',
            '产品用了两天就坏了。',
            '工作人员很可爱。',
            '我想退这双鞋。',
            '价格太贵了。',
            '送货很快。',
            '汤太咸了。',
            '客服第一次通话就解决了。',
            '我在哪里可以找到发票？',
        ],
        "fa": [
            'برای سفارشم دو بار پول کم شد.',
            'اپلیکیشن مدام از حسابم خارجم می\u200cکند.',
            'خیلی راضی\u200cام و دوباره می\u200cخرم.',
            'کار با سایت سخت است.',
            'محصول بعد از دو روز خراب شد.',
            'کارکنان خیلی مهربان بودند.',
            'می\u200cخواهم این کفش\u200cها را پس بدهم.',
            'قیمت خیلی بالاست.',
            'ارسال سریع بود.',
            'سوپ خیلی شور بود.',
            'کارشناس در اولین تماس مشکل را حل کرد.',
            'فاکتورم را کجا پیدا کنم؟',
        ],
    },
}


class EffortModel:
    """Effort cues and a 0-1 effort score per text."""

    runtime_libraries = ("numpy",)

    def __init__(self, encoder: str = DEFAULT_ENCODER, C: float = 64.0, proto_threshold: float = 0.6,
                 seed: int = 13, name: str = "effort-cues"):
        self.encoder = encoder
        self.C = C
        self.proto_threshold = proto_threshold
        self.seed = seed
        self.name = name

    def fit(self, texts: list[str] | None = None, y: list[str] | None = None,
            patterns: dict[str, list[str]] | None = None, weights: dict[str, float] | None = None) -> "EffortModel":
        """Fit the head on seed sentences labelled with a cue or "none" (default: SEEDS, PATTERNS, WEIGHTS)."""
        texts, y = seed_data(texts, y, SEEDS, LABELS, "effort labels")
        self.patterns_ = {c: list((PATTERNS if patterns is None else patterns).get(c, [])) for c in CUES}
        w = WEIGHTS if weights is None else weights
        self.weights_ = np.asarray([float(w[c]) for c in CUES], dtype=np.float32)
        if not ((self.weights_ >= 0) & (self.weights_ <= 1)).all():
            raise ValueError(f"fit: cue weights must lie in [0, 1], got {dict(zip(CUES, self.weights_.tolist()))}")
        X = get_encoder(self.encoder).encode(texts)
        self.coef_, self.intercept_ = fit_linear_head(X, y, LABELS, self.C, self.seed)
        self._compiled = compile_cues(self.patterns_)
        dh = data_hash(texts, y)
        hp = {"C": self.C, "proto_threshold": self.proto_threshold, "seed": self.seed}
        self.meta_ = ModelMeta(task="effort", name=self.name,
                               version=version_of(dh, hp, self.patterns_, self.weights_.tolist(), self.encoder),
                               backend=BACKEND, encoder=self.encoder, labels=list(LABELS), training_data_hash=dh,
                               training_rows=len(texts), hyperparameters=hp)
        return self

    def embed(self, texts: list[str]) -> np.ndarray:
        """The encoder vectors this model predicts from (shared content cache); for batch callers."""
        return get_encoder(self.encoder).encode(list(texts))

    # -- prediction -----------------------------------------------------------------------------
    def strengths_from_embeddings(self, X: np.ndarray, texts: list[str]) -> np.ndarray:
        """(n, cues) cue strength in [0, 1]: 1 for a pattern match, else the head's probability when it
        reaches ``proto_threshold``, else 0."""
        self._check_fitted()
        if X.shape[0] == 0:
            return np.zeros((0, len(CUES)), dtype=np.float32)
        P = softmax(X.astype(np.float32) @ self.coef_.T + self.intercept_)[:, :len(CUES)]
        S = np.where(P >= self.proto_threshold, P, 0.0)
        return np.maximum(S, cue_hits(list(texts), self._compiled, CUES)).astype(np.float32)

    def pattern_hits(self, texts: list[str]) -> np.ndarray:
        """(n, cues) 0/1 pattern matches only (no encoder): for whole texts whose cue spans sentences."""
        self._check_fitted()
        return cue_hits(list(texts), self._compiled, CUES)

    def predict_from_embeddings(self, X: np.ndarray, texts: list[str]) -> list[dict[str, Any]]:
        return [self.record(row) for row in self.strengths_from_embeddings(X, texts)]

    def record(self, strengths: np.ndarray) -> dict[str, Any]:
        """Score and cue list from one row of cue strengths (also used to combine turns of a chat)."""
        score = 1.0 - float(np.prod(1.0 - self.weights_ * strengths))
        return {"effort_score": round(score, 4),
                "effort_cues": ",".join(c for c, s in zip(CUES, strengths) if s > 0),
                **{f"cue_{c}": round(float(s), 4) for c, s in zip(CUES, strengths)}}

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        texts = list(texts)
        return self.predict_from_embeddings(get_encoder(self.encoder).encode(texts), texts)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        self._check_fitted()
        return write_artifact(path, self.meta_, {"coef": self.coef_, "intercept": self.intercept_,
                                                 "weights": self.weights_,
                                                 "patterns": cues_to_array(self.patterns_, CUES)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EffortModel":
        meta, a = read_artifact(path, BACKEND, cls.runtime_libraries)
        m = cls(encoder=meta.encoder or DEFAULT_ENCODER, name=meta.name, **meta.hyperparameters)
        m.coef_, m.intercept_, m.weights_, m.meta_ = a["coef"], a["intercept"], a["weights"], meta
        m.patterns_ = cues_from_array(a["patterns"], CUES)
        m._compiled = compile_cues(m.patterns_)
        check_dim(path, m.coef_, get_encoder(m.encoder).dim, m.encoder)
        return m

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ModelError("effort model is not fitted: call fit() or load()")

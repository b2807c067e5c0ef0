"""Reliability property 18: no customer or agent name, email or phone outside redacted text.

Names, emails and phones are planted in every field that is not text (WebVTT speaker cues, chat
senders and authors, review authors and user names, survey and ticket customer ids); the real
nightly flow runs on them with the session's models, and no table, no file under the data dir and
no log line may hold one. Also: speakers stay distinct (call analytics still counts them), ids
still join, ``touchpoint ids lookup`` finds a customer, a damaged key file stops the run, and
topic discovery (ad hoc and nightly) never shows personal data or redaction placeholders.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.storage import store
from pipeline.errors import KeyFileError
from models.keyfile import key_file
from pipeline.identity import KEY_FILE, pseudonym_key, speaker_pseudonym
from pipeline.pii import PLACEHOLDERS
from pipeline.pii.pseudonym import ENV_KEY
from tests.conftest import copy_models, write_config
from tests.flows.conftest import q as _q

REVIEW_USER = "Maria_R_1987"  # an app-store user name: personal, though neither an email nor a phone
REVIEW_AUTHOR = "Franco Galli"
CALLER, AGENT, COLLEAGUE = "Maria Rossi", "Agent Giulia Bianchi", "Paolo Gialli"
CHAT_SENDER, CHAT_AUTHOR, CHAT_PHONE = "Chiara Neri", "luca.verdi@example.net", "+39 347 765 4321"
CHAT_CUSTOMER, ROW_AUTHOR = "anna.moretti", "Elena Ferri"
SURVEY_EMAIL = "sara.conti@example.org"
PLANTED = [REVIEW_USER, REVIEW_AUTHOR, CALLER, "Giulia Bianchi", COLLEAGUE, CHAT_SENDER, CHAT_AUTHOR, CHAT_PHONE,
           "3477654321", CHAT_CUSTOMER, ROW_AUTHOR, SURVEY_EMAIL]
PLACEHOLDER_WORDS = {p.strip("[]").lower() for p in PLACEHOLDERS.values()} | {"mail", "e-mail", "phone", "iban"}


def _leaks(blob: str) -> list[str]:
    low = blob.lower()
    return [p for p in PLANTED if p.lower() in low]


def _vtt() -> str:
    cues = [(AGENT, "Thank you for calling, how can I help you?"),
            (CALLER, "My parcel never arrived and the tracking page shows nothing."),
            (AGENT, "I am sorry, I will transfer you to my colleague in logistics."),
            (COLLEAGUE, "Thank you for holding, how may I help? I can see the parcel in the depot."),
            (CALLER, "Great, thanks a lot for the help.")]
    out = ["WEBVTT", "", "NOTE call_id=VTTP1 customer_id=Maria_R_1987 interaction_id=IP1 "
                         "started_at=2026-10-01T15:20:00", ""]
    for i, (who, text) in enumerate(cues):
        out += [f"00:00:{2 * i:02d}.000 --> 00:00:{2 * i + 1:02d}.500", f"<v {who}>{text}</v>", ""]
    return "\n".join(out)


def plant_landing(root: Path) -> Path:
    """A landing folder whose every non-text field holds a name, an email or a phone."""
    for d in ("calls", "chats", "reviews", "surveys", "tickets"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "calls" / "planted.vtt").write_text(_vtt(), encoding="utf-8")
    convs = [
        {"conversation_id": "CP1", "customer_id": CHAT_CUSTOMER, "started_at": "2026-10-01T10:00:00",
         "turns": [{"sender": "agent", "text": "Hello, how can I help?"},
                   {"sender": CHAT_SENDER, "text": "The checkout fails every time I pay."}]},
        {"conversation_id": "CP2", "customer_id": CHAT_CUSTOMER, "started_at": "2026-10-01T11:00:00",
         "turns": [{"author": "agent", "text": "Hi there, what can I do for you?"},
                   {"author": CHAT_AUTHOR, "text": "My refund is still missing after two weeks."}]},
        {"conversation_id": "CP3", "started_at": "2026-10-01T12:00:00",
         "turns": [{"speaker": "operator", "text": "Good morning, how can I help?"},
                   {"speaker": CHAT_PHONE, "text": "The app logs me out all the time."}]},
    ]
    (root / "chats" / "planted.jsonl").write_text("\n".join(json.dumps(c) for c in convs) + "\n", encoding="utf-8")
    with open(root / "chats" / "planted_rows.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["conversation_id", "customer_id", "author", "text", "time"])
        w.writerow(["CRP1", "U77", "agent", "Welcome, how can I help?", "2026-10-01T13:00:00"])
        w.writerow(["CRP1", "U77", ROW_AUTHOR, "The discount code was not applied to my order.", "2026-10-01T13:01:00"])
    reviews = root / "reviews"  # the Google Play shape: userName; another export: author
    pd.DataFrame([{"reviewId": "GP1", "userName": REVIEW_USER, "at": "2026-10-01T09:00:00", "score": 1,
                   "content": "The app crashes whenever I open the basket."}]).to_parquet(reviews / "planted_a.parquet")
    pd.DataFrame([{"reviewId": "GP2", "author": REVIEW_AUTHOR, "at": "2026-10-01T09:30:00", "score": 4,
                   "content": "Fast delivery and a nice box."}]).to_parquet(reviews / "planted_b.parquet")
    (root / "surveys" / "planted.csv").write_text(
        "response_id,customer_id,interaction_id,submitted_at,nps,comment\n"
        f"SP1,{REVIEW_USER},,2026-10-02T08:00:00,3,The basket keeps crashing\n"
        f"SP2,{SURVEY_EMAIL},,2026-10-02T09:00:00,9,\n"
        f"SP3,{CHAT_CUSTOMER},,2026-10-02T09:30:00,6,\n", encoding="utf-8")
    (root / "tickets" / "planted.csv").write_text(
        "ticket_id,customer_id,interaction_id,opened_at,resolved_at,status\n"
        f"TP1,{REVIEW_USER},IP1,2026-10-01T15:30:00,2026-10-02T15:30:00,solved\n", encoding="utf-8")
    return root


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def planted(tmp_path_factory, model_dir, prefect_harness):
    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("pii_fields")
    data_dir = root / "data"
    data_dir.mkdir()
    copy_models(model_dir, data_dir / "models")
    cfg = write_config(root / "config.yaml", data_dir, run={"discover_topics": 4})
    landing = plant_landing(root / "landing")
    cap = _Capture()
    loggers = [logging.getLogger(n) for n in ("", "touchpoint", "prefect")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(cap)
    logging.getLogger("touchpoint").setLevel(logging.DEBUG)
    try:
        res = nightly(landing=str(landing), config=str(cfg))
    finally:
        for lg, lv in zip(loggers, levels):
            lg.removeHandler(cap)
            lg.setLevel(lv)
    return {"data_dir": data_dir, "config": cfg, "result": res, "logs": cap.lines}


def test_no_planted_value_in_any_table_file_or_log(planted):
    data_dir, res = planted["data_dir"], planted["result"]
    assert res["records_in"] == 11 and _q(data_dir, "SELECT count(*) FROM quarantine")[0][0] == 0  # all went through
    tables = [r[0] for r in _q(data_dir, "SELECT table_name FROM duckdb_tables()")]
    assert {"feedback", "utterances", "scores", "tickets", "call_metrics"} <= set(tables)
    for table in tables:
        for row in _q(data_dir, f'SELECT * FROM "{table}"'):
            leaks = _leaks(json.dumps(row, default=str, ensure_ascii=False))
            assert not leaks, (table, leaks, row)
    for f in data_dir.rglob("*"):
        if f.is_file() and "models" not in f.relative_to(data_dir).parts:
            leaks = _leaks(f.read_bytes().decode("utf-8", "replace"))
            assert not leaks, (f, leaks)
    assert planted["logs"], "the run logged nothing: the log capture is broken"
    leaks = _leaks("\n".join(planted["logs"]) + json.dumps(res, default=str, ensure_ascii=False))
    assert not leaks, leaks


def test_speakers_are_keyed_pseudonyms_that_stay_distinct(planted):
    data_dir = planted["data_dir"]
    key = pseudonym_key(data_dir, create=False)
    utts = _q(data_dir, """SELECT u.turn, u.role, u.speaker FROM utterances u JOIN feedback f USING (feedback_id)
                          WHERE f.source_id = 'VTTP1' ORDER BY u.turn""")
    speakers = [s for _, _, s in utts]
    assert len(utts) == 5 and all(s.startswith("spk_") for s in speakers)
    assert speakers == [speaker_pseudonym(lab, key) for lab in (AGENT, CALLER, AGENT, COLLEAGUE, CALLER)]
    assert len(set(speakers)) == 3  # three people, three pseudonyms
    assert [r for _, r, _ in utts][:2] == ["agent", "customer"]  # roles came from the raw labels
    n_speakers, transfer_reason, agent_speaker = _q(data_dir, """SELECT m.n_speakers, m.transfer_reason,
        m.agent_speaker FROM call_metrics m JOIN feedback f USING (feedback_id) WHERE f.source_id = 'VTTP1'""")[0]
    assert n_speakers == 3 and "3 speaker labels" in transfer_reason
    assert agent_speaker == f"{speaker_pseudonym(AGENT, key)}, {speaker_pseudonym(COLLEAGUE, key)}"
    chat = _q(data_dir, """SELECT u.speaker FROM utterances u JOIN feedback f USING (feedback_id)
                          WHERE f.channel = 'chat' AND u.speaker IS NOT NULL""")
    assert len(chat) >= 8 and all(s.startswith("spk_") for (s,) in chat)


def test_customer_ids_are_always_pseudonyms_and_still_join(planted):
    data_dir = planted["data_dir"]
    ids = [r[0] for t in ("feedback", "scores", "tickets")
           for r in _q(data_dir, f"SELECT customer_id FROM {t} WHERE customer_id IS NOT NULL")]
    assert len(ids) >= 10 and all(i.startswith("pid_") for i in ids), ids
    # the review of user Maria_R_1987 joins her survey answer by the pseudonym they share
    nps, match = _q(data_dir, """SELECT s.nps, s.nps_match FROM feedback f JOIN feedback_scores s USING (feedback_id)
                                 WHERE f.source_id = 'GP1'""")[0]
    assert (nps, match) == (3.0, "customer_window")


def _cli(*argv: str) -> int:
    """One subcommand in this process (``main`` would also change the environment and logging)."""
    from flows.cli.main import build_parser

    args = build_parser().parse_args(list(argv))
    return args.func(args)


def test_ids_lookup_prints_the_stored_pseudonym(planted, capsys):
    data_dir = planted["data_dir"]
    stored = _q(data_dir, "SELECT customer_id FROM feedback WHERE source_id = 'GP1'")[0][0]
    email_id = _q(data_dir, "SELECT customer_id FROM scores WHERE score_id LIKE '%:SP2:nps'")[0][0]
    assert _cli("--config", str(planted["config"]), "ids", "lookup", REVIEW_USER, " Sara.Conti@Example.org",
                "nobody") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and stored in lines[0] and email_id in lines[1]  # emails match case-insensitively
    assert "feedback 3" in lines[0] and "scores 1" in lines[0] and "tickets 1" in lines[0]  # review, call, survey
    assert "not in the store" in lines[2]


# ---------------------------------------------------------------------------------------------
# The key file

@pytest.mark.parametrize("content", [b"", b"\n", b"0123456789abcdef"])
def test_an_empty_or_short_key_file_is_an_error_that_names_the_file(tmp_path, monkeypatch, content):
    monkeypatch.delenv(ENV_KEY, raising=False)
    (tmp_path / KEY_FILE).write_bytes(content)
    with pytest.raises(KeyFileError, match=r"\.pseudonym_key.*(empty|characters long).*restore") as err:
        pseudonym_key(tmp_path)
    assert str(tmp_path / KEY_FILE) in str(err.value)


def test_a_linked_or_unreadable_key_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    target = tmp_path / "elsewhere"
    target.write_text("a" * 64)
    (tmp_path / KEY_FILE).symlink_to(target)
    with pytest.raises(KeyFileError, match="cannot be read"):
        pseudonym_key(tmp_path)
    d = tmp_path / "dir"
    (d / KEY_FILE).mkdir(parents=True)
    with pytest.raises(KeyFileError, match="cannot be read"):
        pseudonym_key(d)
    with pytest.raises(KeyFileError, match="no key file"):
        pseudonym_key(tmp_path / "new", create=False)  # a lookup never invents a key


def test_racing_workers_get_one_complete_key(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    keys, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        keys.append(pseudonym_key(tmp_path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    path = tmp_path / KEY_FILE
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 64
    assert path.read_bytes() == keys[0] and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left behind
    assert key_file(path, "fix it") == (keys[0], False)  # the vector cache's creator reads the same file


def test_a_key_still_being_written_by_another_worker_is_waited_for(tmp_path, monkeypatch):
    """An older worker creates the file empty, then writes it: the reader waits instead of taking b''."""
    monkeypatch.delenv(ENV_KEY, raising=False)
    path = tmp_path / KEY_FILE
    path.write_bytes(b"")
    writer = threading.Timer(0.2, lambda: path.write_bytes(b"f" * 64))
    writer.start()
    try:
        assert pseudonym_key(tmp_path) == b"f" * 64
    finally:
        writer.join()


def test_the_vector_cache_uses_the_same_key_file_rules(tmp_path):
    from models.encoders.vector_cache import VectorDiskCache

    (tmp_path / ".key").write_bytes(b"")
    c = VectorDiskCache(tmp_path / "v.sqlite", "enc@1", 4)
    assert c.get_many(["hello"]) == {} and c.disabled and "KeyFileError" in c.disabled  # off, never a crash


def test_a_run_with_an_empty_key_file_stops_and_publishes_nothing(config, data_dir, tmp_path, monkeypatch,
                                                                   prefect_harness):
    from flows.nightly import rerun

    monkeypatch.delenv(ENV_KEY, raising=False)
    (data_dir / KEY_FILE).write_bytes(b"")
    dump = tmp_path / "dump" / "surveys"
    dump.mkdir(parents=True)
    (dump / "s.csv").write_text("response_id,customer_id,submitted_at,nps,comment\n"
                                f"K1,{REVIEW_USER},2026-10-01T10:00:00,4,Slow delivery\n", encoding="utf-8")
    with pytest.raises(KeyFileError, match="empty"):
        rerun(path=str(tmp_path / "dump"), config=str(config))
    if store.db_path(data_dir).exists():
        assert _q(data_dir, "SELECT count(*) FROM feedback")[0][0] == 0
        assert _q(data_dir, "SELECT count(*) FROM scores")[0][0] == 0


# ---------------------------------------------------------------------------------------------
# Discovery: ad hoc (`touchpoint topics discover`) and nightly

THEMES = {
    "parcel": ["The parcel never arrived, write to {e}", "My parcel did not arrive at all, my email is {e}",
               "Still no parcel after ten days, phone me on {p}", "The parcel was lost in transit, call {p}",
               "Parcel missing, tracking is stuck, my name is {n}, {e}", "No parcel yet, the courier lost it, {p}"],
    "contact": ["my email is {e}", "mail: {e}", "call me on {p}", "my number is {p}", "email {e}", "phone {p}"],
}


def test_topics_discover_prints_no_personal_data_or_placeholder_terms(config, data_dir, capsys):
    people = [("sara.conti@example.org", "+39 347 765 4321", "Maria Rossi"),
              ("luca.verdi@example.net", "+39 333 987 6543", "Paolo Gialli")]
    rows = [t.format(e=e, p=p, n=n) for tpl in THEMES.values() for t in tpl for e, p, n in people]
    path = data_dir / "dump.csv"
    pd.DataFrame({"text": rows}).to_csv(path, index=False)
    args = ["--config", str(config), "topics", "discover", str(path), "--all", "--min-size", "3",
            "--threshold", "0.2"]
    assert _cli(*args) == 0
    out = capsys.readouterr().out
    assert _cli(*args, "--json") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["topics"], out  # something was proposed, so quotes and terms were printed
    for blob in (out, json.dumps(res, ensure_ascii=False)):
        low = blob.lower()
        assert not [v for v in ("sara.conti", "luca.verdi", "347 765", "987 6543", "maria rossi", "paolo gialli",
                                "example.org", "example.net") if v in low], blob
    for t in res["topics"]:
        assert not {w.strip().lower() for w in t["terms"].split(",")} & PLACEHOLDER_WORDS, t["terms"]
        for qs in t["quotes"].values():
            assert all(_content(q) for q in qs), qs
    assert res["placeholder_only"] >= len(THEMES["contact"]) * len(people)


def _content(text: str) -> str:
    """What a sentence says besides placeholders and the words naming them."""
    from pipeline.analytics.emerging import clustering_text

    return clustering_text(text) or ""


class KeywordTopics:
    """Embeds by theme word (a stand-in for the encoder): sentences about parcels point one way,
    sentences about contact details another; a little noise from the text keeps them distinct."""

    AXES = {"parcel": 0, "gift": 1, "email": 2, "mail": 2, "phone": 3, "number": 3, "EMAIL": 2, "PHONE": 3}

    def embed(self, texts):
        out = []
        for t in texts:
            v = np.zeros(8)
            for w, axis in self.AXES.items():
                if w in t:
                    v[axis] += 1.0
            rng = np.random.default_rng(int(hashlib.md5(t.encode()).hexdigest()[:8], 16))
            v[4:] = 0.05 * rng.normal(size=4)
            out.append(v / max(np.linalg.norm(v), 1e-9))
        return np.stack(out)


def test_nightly_discovery_drops_placeholders_from_topics_terms_and_examples(tmp_path):
    from configs import load_settings
    from pipeline.analytics.emerging import refresh_emerging_topics

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = load_settings(write_config(tmp_path / "c.yaml", data_dir, run={"discover_topics": 8}))
    sentences = ([f"The gift wrap was torn, order {i}" for i in range(10)]
                 + [f"The parcel was late again, week {i}" for i in range(10)]
                 + [f"The parcel was late again, week {i}, mail me at [EMAIL]" for i in range(10, 14)]
                 + ["my email is [EMAIL]", "mail: [EMAIL]", "email [EMAIL] please", "my phone number is [PHONE]",
                    "call me on [PHONE]", "phone: [PHONE]"] * 3)
    con = store.connect(data_dir)
    try:
        for i, t in enumerate(sentences):
            con.execute("INSERT INTO feedback (feedback_id, event_date, touchpoint, language) "
                        "VALUES (?, ?, 'app', 'en')", [f"f{i}", date(2026, 10, 1)])
            con.execute("""INSERT INTO sentences (feedback_id, idx, language, text, topic, sentiment_label,
                           sentiment_score) VALUES (?, 0, 'en', ?, 'other', 'negative', -0.8)""", [f"f{i}", t])
    finally:
        con.close()
    model = KeywordTopics()
    assert refresh_emerging_topics(settings, model) == 2  # gift wrap and parcels; contact details are no topic
    topics = _q(data_dir, "SELECT topic_id, terms, examples FROM discovered_topics")
    emerging = _q(data_dir, "SELECT terms, example FROM emerging_topics")
    assert len(topics) == 2 and len(emerging) == 2
    for _, terms, examples in topics:
        assert not {w.strip().lower() for w in terms.split(",")} & PLACEHOLDER_WORDS, terms
        for qs in json.loads(examples).values():
            assert qs and all(_content(q) and "[" not in q for q in qs), qs  # quotes without placeholders first
    for terms, example in emerging:
        assert not {w.strip().lower() for w in terms.split(",")} & PLACEHOLDER_WORDS and "[" not in example
    # the placeholder-only sentences were left out once, and are not fetched again
    marked = _q(data_dir, "SELECT count(*) FROM discovered_assignments WHERE run_date IS NULL")[0][0]
    assert marked == 18
    before = _q(data_dir, "SELECT * FROM discovered_assignments ORDER BY ALL")
    refresh_emerging_topics(settings, model)
    assert _q(data_dir, "SELECT * FROM discovered_assignments ORDER BY ALL") == before


def test_placeholder_only_text_is_not_clustered():
    from pipeline.analytics.emerging import clustering_text

    for t in ("my email is [EMAIL]", "mail: [EMAIL]", "call me on [PHONE]", "电话 [PHONE]", "IBAN [IBAN]",
              "Grazie, il mio numero è [PHONE].", "[NAME]", "card [CARD] was charged"):
        assert clustering_text(t) is None, t
    assert clustering_text("My parcel never arrived, reach me at [EMAIL]") == "My parcel never arrived, reach me at"
    assert clustering_text("[NAME] from support solved my login problem") == "from support solved my login problem"
    assert clustering_text("the confirmation email never came") == "the confirmation email never came"

"""Call analytics on small synthetic calls written into a real store: trajectory, talk share, silence,
interruptions, transfers and swapped speaker labels; and the AWS Contact Lens sample read end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.analytics import call_analytics as ca
from pipeline.ingest.calls import assign_roles
from pipeline.ingest.vendors import call_shape
from pipeline.segment import split_sentences
from pipeline.reporting.report import calls_html
from pipeline.storage.store import connect

READERS = Path(__file__).resolve().parents[2] / "data" / "readers"
NEG = ("terrible", "angry", "never arrived", "still nothing", "ridiculous", "非常生气")
POS = ("great", "perfect", "thanks", "thank you so much", "wonderful", "太好了")


def score(sentence: str) -> float:
    """A stand-in for the sentiment model: the test decides each sentence's score from its words."""
    s = sentence.lower()
    return -0.8 if any(w in s for w in NEG) else 0.8 if any(w in s for w in POS) else 0.0


def add_call(con, fid: str, segs: list[tuple], touchpoint: str = "support", language: str = "en") -> None:
    """segs: (speaker, start, end, text), roles decided as ingest does (labels, then agent phrases)."""
    roles = assign_roles([{"speaker": s, "text": t} for s, _, _, t in segs], {})
    customer = "\n".join(t for s, _, _, t in segs if roles[s] == "customer")
    con.execute("INSERT INTO feedback (feedback_id, channel, touchpoint, event_date, language, text) "
                "VALUES (?, 'call', ?, DATE '2026-10-01', ?, ?)", [fid, touchpoint, language, customer])
    for i, (s, a, b, t) in enumerate(segs):
        con.execute("INSERT INTO utterances (feedback_id, turn, role, speaker, start_s, end_s, text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [fid, i, roles[s], s, a, b, t])
    for j, sent in enumerate(split_sentences([customer], [language])[0]):
        con.execute("INSERT INTO sentences (feedback_id, idx, text, sentiment_score) VALUES (?, ?, ?, ?)",
                    [fid, j, sent, score(sent)])


CALLS = {
    # customer angry at first, happy at the end; a 12 s hold after "let me check"
    "C1_improves": [
        ("A", 0.0, 3.0, "Thank you for calling, how can I help you?"),
        ("B", 3.2, 8.0, "My parcel never arrived. This is terrible."),
        ("A", 8.1, 10.0, "I am sorry, let me check."),
        ("B", 10.2, 11.0, "Still nothing on the tracking."),
        ("A", 23.0, 26.0, "I found it, it will be delivered tomorrow."),
        ("B", 26.2, 27.0, "Oh, I see."),
        ("B", 27.1, 29.0, "Great, thanks a lot!"),
    ],
    # the customer talks over the agent for 1.5 s; the agent's 0.1 s jitter is not an interruption
    "C2_overlap": [
        ("A", 0.0, 4.0, "Thank you for calling, how can I help you?"),
        ("B", 2.5, 7.0, "I want a refund, the product is ridiculous."),
        ("A", 6.9, 9.0, "I understand."),
        ("B", 9.2, 10.0, "Fine."),
    ],
    # agent transfers; a third label (the colleague) joins and ingest calls it a customer
    "C3_transfer": [
        ("A", 0.0, 3.0, "Thank you for calling, how can I help you?"),
        ("B", 3.1, 6.0, "My card was charged twice, this is terrible."),
        ("A", 6.1, 9.0, "I will transfer you to billing, one moment."),
        ("C", 9.5, 13.0, "Hello, billing here, thank you for holding, this is wonderful news for you."),
        ("B", 13.1, 15.0, "Ok, still nothing refunded."),
    ],
    # labels swapped: the labelled agent asks for a refund, the labelled customer greets the caller
    "C4_swapped": [
        ("AGENT", 0.0, 3.0, "I want a refund, my order never arrived."),
        ("CUSTOMER", 3.1, 9.0, "Thank you for calling, how can I help you? Let me check your order."),
        ("AGENT", 9.1, 10.0, "It is ridiculous."),
    ],
    # no times (a Google CCAI export without end offsets): characters and no silence
    "C5_untimed": [
        ("A", None, None, "Grazie per aver chiamato, come posso aiutarla?"),
        ("B", None, None, "Il mio ordine non è arrivato."),
    ],
    # one customer turn of three sentences: thirds of its sentences
    "C6_one_turn": [
        ("A", 0.0, 2.0, "Thank you for calling."),
        ("B", 2.1, 9.0, "The delivery was terrible. It came a week late. Perfect packaging though, thanks."),
    ],
}


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c = connect(tmp_path_factory.mktemp("calls"))
    for fid, segs in CALLS.items():
        add_call(c, fid, segs)
    c.execute("INSERT INTO feedback (feedback_id, channel, text) VALUES ('R1', 'review', 'not a call')")
    yield c
    c.close()


@pytest.fixture(scope="module")
def metrics(con) -> dict[str, dict]:
    return {r["feedback_id"]: r for r in ca.call_metrics(con).to_dict("records")}


def test_one_row_per_call_and_only_calls(metrics):
    assert sorted(metrics) == sorted(CALLS)


def test_trajectory_first_vs_last_third_of_customer_turns(metrics):
    m = metrics["C1_improves"]
    # 4 customer turns: first ceil(4/3)=2 turns (-0.8, -0.8), last 2 turns ("Oh, I see." 0, "Great" +0.8)
    assert m["trajectory_basis"] == "turns"
    assert m["sentiment_start"] == pytest.approx(-0.8)
    assert m["sentiment_end"] == pytest.approx(0.4)
    assert m["trajectory"] == "improved" and m["sentiment_delta"] == pytest.approx(1.2)
    one = metrics["C6_one_turn"]
    assert (one["trajectory_basis"], one["sentiment_start"], one["sentiment_end"]) == ("sentences", -0.8, 0.8)


def test_silence_and_talk_share_by_duration(metrics):
    m = metrics["C1_improves"]
    assert m["talk_basis"] == "duration"
    assert m["longest_silence_s"] == pytest.approx(12.0) and m["silence_at_s"] == pytest.approx(11.0)
    agent, customer = 3.0 + 1.9 + 3.0, 4.8 + 0.8 + 0.8 + 1.9
    assert m["agent_talk_share"] == pytest.approx(agent / (agent + customer), abs=1e-4)
    assert m["agent_talk_share"] + m["customer_talk_share"] == pytest.approx(1.0, abs=1e-3)
    assert m["duration_s"] == pytest.approx(29.0)
    assert m["interruptions"] == 0 and not m["transferred"] and not m["roles_suspect"]


def test_interruptions_count_real_overlaps_only(metrics):
    m = metrics["C2_overlap"]
    assert (m["interruptions"], m["customer_interruptions"], m["agent_interruptions"]) == (1, 1, 0)
    assert m["longest_silence_s"] == pytest.approx(0.2)


def test_transfer_phrase_and_third_speaker(metrics):
    m = metrics["C3_transfer"]
    assert m["transferred"] and m["transfers"] == 1
    assert "transfer you to" in m["transfer_reason"] and "3 speaker labels" in m["transfer_reason"]
    assert m["agent_speaker"] == "A, C"  # the colleague talks like an agent: not the customer
    # the colleague's "wonderful" sentence is not the customer's: start -0.8, end -0.8 (still nothing)
    assert (m["sentiment_start"], m["sentiment_end"], m["trajectory"]) == (-0.8, -0.8, "steady")


def test_swapped_labels_are_flagged_with_the_reason_and_corrected(metrics):
    m = metrics["C4_swapped"]
    assert m["roles_suspect"] is True
    assert "I want a refund" in m["roles_reason"] and "Thank you for calling" in m["roles_reason"]
    assert m["agent_speaker"] == "CUSTOMER"
    assert m["agent_talk_share"] == pytest.approx(5.9 / (5.9 + 3.0 + 0.9), abs=1e-3)  # the real agent
    # the stored sentences are the agent's words: no customer trajectory claimed
    assert m["trajectory"] == "roles_suspect" and pd.isna(m["sentiment_start"])


def test_untimed_call_uses_characters(metrics):
    m = metrics["C5_untimed"]
    a, c = len(CALLS["C5_untimed"][0][3]), len(CALLS["C5_untimed"][1][3])
    assert m["talk_basis"] == "characters"
    assert m["agent_talk_share"] == pytest.approx(a / (a + c), abs=1e-4)
    assert pd.isna(m["longest_silence_s"]) and pd.isna(m["interruptions"])


@pytest.mark.parametrize("text, hit", [
    ("Let me transfer you to our returns team.", True),
    ("I'm connecting you to a supervisor now.", True),
    ("Adesso le passo la chiamata al reparto tecnico.", True),
    ("La trasferisco a un collega.", True),
    ("我现在帮您转接到售后部门。", True),
    ("الان شما را به واحد مالی وصل می‌کنم", True),
    ("الان شما را به واحد مالی وصل ميكنم", True),  # Arabic letter forms, no ZWNJ
    ("I transferred the money yesterday.", False),
    ("Can you connect the printer to wifi?", False),
])
def test_transfer_phrases_multilingual(text, hit):
    assert bool(ca._cue(ca.TRANSFER, [text])[0]) is hit


def test_sentence_turns_falls_back_to_position_when_lines_do_not_match():
    text = "one.\ntwo a. two b.\nthree."
    assert ca.sentence_turns(text, ["one.", "two a. two b.", "three."], ["one.", "two a.", "two b.", "three."]) \
        == [0, 1, 1, 2]
    # a turn holding a line break: lines != turns, relative position in the text decides
    assert ca.sentence_turns("a b.\nc d.\ne f.", ["a b.\nc d.", "e f."], ["a b.", "c d.", "e f."]) == [0, 0, 1]


def test_refresh_replaces_the_table_in_place_and_feeds_the_report(con):
    first = ca.refresh_call_metrics(con)
    again = ca.refresh_call_metrics(con)
    stored = con.execute("SELECT * FROM call_metrics ORDER BY feedback_id").df()
    assert len(stored) == len(first) == len(again) == len(CALLS)
    assert list(stored.columns) == ca.COLUMNS
    summary = ca.summary(con)
    assert [r["touchpoint"] for r in summary] == ["support"] and summary[0]["calls"] == len(CALLS)
    assert summary[0]["roles_suspect"] == 1
    listen = [r["feedback_id"] for r in ca.report_rows(con)]
    assert listen[0] == "C4_swapped" and "C3_transfer" in listen and "C6_one_turn" not in listen
    assert "I want a refund" in ca.report_rows(con)[0]["why"]
    section = calls_html(summary, ca.report_rows(con), ca.trajectory_rows(con))
    assert "<svg" in section and "Calls worth a listen" in section and "<script" not in section
    md = ca.summary_markdown(summary).splitlines()
    assert md[0].startswith("| touchpoint | calls |") and md[2].startswith("| support | 6 |")


def test_empty_store_has_no_rows(tmp_path):
    con = connect(tmp_path)
    try:
        assert ca.call_metrics(con).empty
        assert ca.summary(con) == [] and ca.report_rows(con) == []
        assert "No calls" in calls_html([], [], []) and "No calls" in ca.summary_markdown([])
    finally:
        con.close()


def test_vendor_sample_shape_end_to_end():
    """The AWS Contact Lens sample, read by the ingest's own shape and role code."""
    obj = json.loads((READERS / "aws_contact_lens.json").read_text(encoding="utf-8"))
    segs = call_shape(obj).segments
    roles = assign_roles(segs, {})
    utts = pd.DataFrame([{"feedback_id": "X", "turn": i, "role": roles[s["speaker"]], "speaker": s["speaker"],
                          "start_s": s["start"], "end_s": s["end"], "text": s["text"]} for i, s in enumerate(segs)])
    text = "\n".join(utts.loc[utts["role"] == "customer", "text"])
    sents = pd.DataFrame([{"feedback_id": "X", "idx": j, "text": t, "sentiment_score": score(t)}
                          for j, t in enumerate(split_sentences([text], ["en"])[0])])
    calls = pd.DataFrame([{"feedback_id": "X", "touchpoint": "billing", "event_date": None, "language": "en",
                           "text": text}])
    m = ca.metrics_frame(calls, utts, sents).iloc[0].to_dict()
    assert m["agent_speaker"] == "AGENT" and not m["roles_suspect"]
    assert m["agent_talk_share"] == pytest.approx(0.5) and m["talk_basis"] == "duration"
    assert m["longest_silence_s"] == pytest.approx(0.3) and m["interruptions"] == 0
    assert m["trajectory"] == "improved" and m["sentiment_end"] == pytest.approx(0.8)


def test_vendor_export_with_swapped_roles_is_caught():
    """An AWS Call Analytics export whose ParticipantRole labels are the wrong way round."""
    obj = json.loads((Path(__file__).resolve().parents[2] / "data" / "calls_analytics" / "aws_swapped_roles.json")
                     .read_text(encoding="utf-8"))
    segs = call_shape(obj).segments
    roles = assign_roles(segs, {})
    assert roles == {"CUSTOMER": "customer", "AGENT": "agent"}  # what ingest believes from the labels
    utts = pd.DataFrame([{"feedback_id": "S", "turn": i, "role": roles[s["speaker"]], "speaker": s["speaker"],
                          "start_s": s["start"], "end_s": s["end"], "text": s["text"]} for i, s in enumerate(segs)])
    calls = pd.DataFrame([{"feedback_id": "S", "touchpoint": None, "event_date": None, "language": "en",
                           "text": "\n".join(utts.loc[utts["role"] == "customer", "text"])}])
    sents = pd.DataFrame(columns=["feedback_id", "idx", "text", "sentiment_score"])
    m = ca.metrics_frame(calls, utts, sents).iloc[0].to_dict()
    assert m["roles_suspect"] and m["agent_speaker"] == "CUSTOMER" and "I want a refund" in m["roles_reason"]
    # with the roles corrected: the real agent's transfer counts, the real customer is the one cut into
    assert m["transferred"] and m["transfers"] == 1
    assert (m["interruptions"], m["agent_interruptions"]) == (1, 1)
    assert m["longest_silence_s"] == pytest.approx(18.5)

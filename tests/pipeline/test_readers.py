from pathlib import Path

import pytest

from configs import load_settings
from pipeline.errors import InputError
from pipeline.ingest import list_inputs, match_source, read_items
from pipeline.ingest.calls import assign_roles
from pipeline.ingest.lines import line_accounting
from tests.conftest import LANDING

SETTINGS = load_settings()


def items(rel: str):
    path = LANDING / rel
    return list(read_items(path, match_source(rel, SETTINGS), 20000))


def by_kind(its):
    return [i for i in its if i.kind != "bad"], [i for i in its if i.kind == "bad"]


def test_every_fixture_file_has_a_source():
    found = {p.relative_to(LANDING).as_posix(): s.name for p, s in list_inputs(LANDING, SETTINGS)}
    assert found["calls/call_sample.json"] == "callcentre"
    assert found["chats/chat_rows.csv"] == "chat_rows"
    assert found["surveys/survey_sample.csv"] == "nps_survey"
    assert len(found) == 9


def test_review_csv_quarantines_ragged_out_of_range_and_bad_utf8_with_lines():
    good, bad = by_kind(items("reviews/appstore_sample.csv"))
    assert [g.data["source_id"] for g in good] == ["R1", "R2", "R3", "R4", "R5"]
    reasons = {b.line: (b.error.field, b.error.reason) for b in bad}
    assert "ragged row" in reasons[7][1]
    assert reasons[8][0] == "stars" and "outside the allowed range" in reasons[8][1]
    assert "invalid UTF-8" in reasons[9][1]
    assert good[0].data["rating"] == 1.0 and good[0].data["rating_scale"] == 5


def test_review_jsonl_mapping_and_errors():
    good, bad = by_kind(items("reviews/marketplace_sample.jsonl"))
    assert [g.data["source_id"] for g in good] == ["M1", "M2", "M3"]
    assert good[0].data["interaction_id"] == "O1" and good[0].data["customer_id"] == "U1"
    assert str(good[0].data["occurred_at"]) == "2026-10-01 08:00:00"  # Z converted to naive UTC
    lines = {b.line: b.error for b in bad}
    assert "broken JSON" in lines[4].reason
    assert lines[5].field == "ts" and "unparseable timestamp" in lines[5].reason
    assert lines[6].reason == "empty text"


def test_review_parquet(tmp_path):
    import pandas as pd

    p = tmp_path / "reviews" / "export.parquet"
    p.parent.mkdir()
    pd.DataFrame({"id": ["P1", "P2"], "text": ["Ottimo", ""], "rating": [5, 3],
                  "date": ["2026-10-01", "2026-10-02"]}).to_parquet(p)
    src = match_source("reviews/export.parquet", SETTINGS)
    good, bad = by_kind(list(read_items(p, src, 20000)))
    assert [g.data["source_id"] for g in good] == ["P1"] and bad[0].line == 2


def test_chat_jsonl_keeps_roles_and_quarantines_agent_only_conversation():
    good, bad = by_kind(items("chats/webchat_sample.jsonl"))
    assert len(good) == 1 and bad[0].line == 2 and "no customer turns" in bad[0].error.reason
    roles = [u["role"] for u in good[0].utterances]
    assert roles == ["agent", "customer", "agent", "customer"]
    assert good[0].data["text"].startswith("Non riesco ad accedere")


def test_abcd_shape_loads_with_action_turns_as_bot():
    good, bad = by_kind(items("chats/abcd_shape.json"))
    assert not bad and good[0].data["source_id"] == "101"
    assert [u["role"] for u in good[0].utterances] == ["agent", "customer", "bot", "customer", "agent", "customer"]


@pytest.mark.skipif(not (Path(__file__).resolve().parents[3] / "shared/devdata/en_support_abcd_sample.json").exists(),
                    reason="../shared/devdata not present")
def test_real_abcd_sample_loads():
    path = Path(__file__).resolve().parents[3] / "shared/devdata/en_support_abcd_sample.json"
    its = list(read_items(path, SETTINGS.source("chat_export"), 20000))
    good, bad = by_kind(its)
    assert len(good) == 3 and not bad
    assert all(any(u["role"] == "bot" for u in g.utterances) for g in good)


def test_flat_chat_rows_group_into_conversations():
    good, bad = by_kind(items("chats/chat_rows.csv"))
    assert not bad
    assert [g.data["source_id"] for g in good] == ["CR1", "CR2"]
    assert good[0].data["customer_id"] == "U4" and len(good[0].utterances) == 3


def test_non_contiguous_chat_rows_are_quarantined(tmp_path):
    p = tmp_path / "chats.csv"
    p.write_text("conversation_id,role,text\nA,customer,hi\nB,customer,yo\nA,customer,again\n", encoding="utf-8")
    good, bad = by_kind(list(read_items(p, SETTINGS.source("chat_rows"), 20000)))
    assert len(good) == 2 and bad[0].line == 4 and "not contiguous" in bad[0].error.reason


def test_call_json_roles_from_config_mapping_or_agent_phrases():
    good, _ = by_kind(items("calls/call_sample.json"))
    roles = {u["speaker"]: u["role"] for u in good[0].utterances}
    assert roles == {"SPEAKER_00": "agent", "SPEAKER_01": "customer"}
    assert good[0].data["text"].startswith("My refund has not arrived")


def test_vtt_voice_tags_and_note_metadata():
    good, bad = by_kind(items("calls/call_sample.vtt"))
    assert not bad
    g = good[0]
    assert g.data["customer_id"] == "U7" and g.data["interaction_id"] == "I7"
    assert [u["role"] for u in g.utterances] == ["agent", "customer", "agent"]  # agent phrase in Chinese
    assert g.utterances[1]["start_s"] == 3.5


def test_speaker_heuristic_falls_back_to_first_speaker():
    segs = [{"speaker": "X", "text": "hello"}, {"speaker": "Y", "text": "my parcel is late"}]
    assert assign_roles(segs, {}) == {"X": "agent", "Y": "customer"}


def test_surveys_scores_comments_and_nps_out_of_range():
    its = items("surveys/survey_sample.csv")
    good, bad = by_kind(its)
    assert len(good) == 7 and bad[0].line == 9 and bad[0].error.field == "nps"
    s1 = good[0]
    assert s1.kind == "feedback" and {s["kind"]: s["value"] for s in s1.scores} == {"nps": 2, "csat": 1, "ces": 7}
    s4 = good[3]
    assert s4.kind == "score" and [s["scale"] for s in s4.scores if s["kind"] == "csat"] == [7]


def test_tickets_resolution_hours_and_negative_durations():
    good, bad = by_kind(items("tickets/tickets_sample.csv"))
    assert good[0].data["resolution_hours"] == 4.0
    assert good[2].data["resolution_hours"] is None  # still open
    assert bad[0].line == 5 and "resolved before" in bad[0].error.reason


def test_unknown_extension_is_an_input_error(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_text("x")
    with pytest.raises(InputError, match="unknown file type"):
        list(read_items(p, SETTINGS.source("appstore").model_copy(update={"format": "auto"}), 100))


# ---------------------------------------------------------------------------------------------
# Regressions: stray quotes, ids, WebVTT cues, vendor call shapes, crashes, empty files

READERS = Path(__file__).resolve().parents[1] / "data" / "readers"


def _review_rows(n: int, body=lambda i: f"review number {i} is fine") -> list[str]:
    return ["review_id,user_id,created,stars,body,lang"] + [
        f"R{i},U{i},2026-10-01T09:00:00,4,{body(i)},en" for i in range(1, n + 1)]


def read(path, source: str):
    return list(read_items(path, SETTINGS.source(source), 20000))


def test_stray_quote_costs_one_row_not_the_rest_of_the_file(tmp_path):
    rows = _review_rows(2000)
    rows[3] = 'R3,U3,2026-10-01T09:00:00,4,"Great app but,en'  # row 3 = physical line 4
    p = tmp_path / "reviews.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    its = read(p, "appstore")
    good, bad = by_kind(its)
    assert len(good) == 1999 and [b.line for b in bad] == [4]
    assert "quoted field" in bad[0].error.reason and "never closed" in bad[0].error.reason
    assert good[2].data["source_id"] == "R4" and good[2].line == 5
    acc = line_accounting(p, its, "csv")
    assert acc.balanced and acc.header == 1 and acc.consumed == 2000


def test_stray_quote_closed_by_a_later_quote_is_caught_and_resynchronised(tmp_path):
    # the stray quote is "closed" by row 4's quoted text: csv would merge rows 3 and 4 into one
    # record with the right field count; strict quoting shows the merge.
    rows = _review_rows(6, body=lambda i: f'"review {i}, quoted"')
    rows[3] = 'R3,U3,2026-10-01T09:00:00,4,"oops,en'
    p = tmp_path / "reviews.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    its = read(p, "appstore")
    good, bad = by_kind(its)
    assert [g.data["source_id"] for g in good] == ["R1", "R2", "R4", "R5", "R6"]
    assert [b.line for b in bad] == [4] and "stray" in bad[0].error.reason
    assert line_accounting(p, its, "csv").balanced


def test_stray_quote_in_a_short_file_gives_a_ragged_multiline_reason(tmp_path):
    p = tmp_path / "reviews.csv"
    p.write_text('review_id,body\nR1,"unclosed\nR2,fine\n', encoding="utf-8")
    its = list(read_items(p, SETTINGS.source("appstore").model_copy(update={"columns": {}}), 20000))
    good, bad = by_kind(its)
    assert [g.data["source_id"] for g in good] == ["R2"] and bad[0].line == 2
    assert line_accounting(p, its, "csv").balanced


def test_swallowing_more_than_the_record_limit_is_a_located_error_not_a_crash(tmp_path):
    rows = _review_rows(1, body=lambda i: "x")
    rows.append('R2,U2,2026-10-01T09:00:00,4,"never closed,en')
    rows += [f"R{i},U{i},2026-10-01T09:00:00,4,{'y' * 200},en" for i in range(3, 6003)]  # ~1.3 MB
    p = tmp_path / "big.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    its = read(p, "appstore")
    good, bad = by_kind(its)
    assert len(good) == 6001 and [b.line for b in bad] == [3]
    assert "runs past" in bad[0].error.reason
    assert line_accounting(p, its, "csv").balanced


def test_legit_multiline_quoted_review_is_one_record(tmp_path):
    p = tmp_path / "reviews.csv"
    p.write_text('review_id,user_id,created,stars,body,lang\n'
                 'R1,U1,2026-10-01T09:00:00,4,"Line one,\n\nline three ""quoted""",en\n'
                 'R2,U2,2026-10-01T09:00:00,5,ok,en\n', encoding="utf-8")
    its = read(p, "appstore")
    assert [(i.kind, i.line, i.span) for i in its] == [("feedback", 2, 3), ("feedback", 5, 1)]
    assert its[0].data["text"] == 'Line one,\n\nline three "quoted"'
    assert line_accounting(p, its, "csv").balanced


def test_csv_errors_become_located_records(tmp_path):
    p = tmp_path / "reviews.csv"
    p.write_bytes(b"review_id,user_id,created,stars,body,lang\n"
                  b"R1,U1,2026-10-01T09:00:00,4,bare\rcarriage return inside,en\n"
                  b"R2,U2,2026-10-01T09:00:00,4,fine,en\n"
                  b'R3,U3,2026-10-01T09:00:00,4,"unterminated at the end,en')
    its = read(p, "appstore")
    good, bad = by_kind(its)
    assert [g.data["source_id"] for g in good] == ["R2"]
    assert {b.line for b in bad} >= {5} and all(b.error.reason for b in bad)
    assert line_accounting(p, its, "csv").balanced


def test_landing_fixtures_account_for_every_line():
    for rel, fmt in [("reviews/appstore_sample.csv", "csv"), ("reviews/marketplace_sample.jsonl", "jsonl"),
                     ("chats/chat_rows.csv", "csv"), ("chats/webchat_sample.jsonl", "jsonl"),
                     ("surveys/survey_sample.csv", "csv"), ("tickets/tickets_sample.csv", "csv")]:
        acc = line_accounting(LANDING / rel, items(rel), fmt)
        assert acc.balanced and acc.header == (1 if fmt == "csv" else 0), (rel, acc)


def test_chat_rows_conversation_spans_its_rows_around_a_bad_row(tmp_path):
    p = tmp_path / "chats.csv"
    p.write_text("conversation_id,role,text\nA,agent,hello\nA,customer,hi\nA,customer,too,many\n"
                 "A,customer,again\n", encoding="utf-8")
    its = read(p, "chat_rows")
    good, bad = by_kind(its)
    assert good[0].span == 3 and good[0].runs == ((2, 2), (5, 1)) and bad[0].line == 4
    assert line_accounting(p, its, "csv").balanced


def test_reviews_without_id_get_a_content_key(tmp_path):
    p = tmp_path / "noid.csv"
    lines = ["review_id,user_id,created,stars,body,lang"]
    lines += [f",U{i},2026-10-01T09:00:00,5,Great app,en" for i in range(6)]  # six customers
    lines += [",U0,2026-10-01T10:00:00,5,Great app,en"]  # same customer, another time
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good, bad = by_kind(read(p, "appstore"))
    assert not bad and len(good) == 7
    keys = [g.data["source_id"] for g in good]
    assert len(set(keys)) == 7 and all(k.startswith("h-") for k in keys)
    assert all(g.data["id_derived"] is True for g in good)
    again = tmp_path / "noid_reexport.csv"  # same rows, other order, CRLF line endings
    again.write_bytes(("\r\n".join([lines[0]] + lines[:0:-1]) + "\r\n").encode())
    assert sorted(g.data["source_id"] for g in read(again, "appstore")) == sorted(keys)


def test_review_with_id_is_not_marked_derived():
    good, _ = by_kind(items("reviews/appstore_sample.csv"))
    assert "id_derived" not in good[0].data


def test_conversation_without_id_gets_a_content_key(tmp_path):
    p = tmp_path / "chats.jsonl"
    turns = '[{"role": "agent", "text": "Hello"}, {"role": "customer", "text": "Great app"}]'
    p.write_text(f'{{"customer_id": "U1", "turns": {turns}}}\n{{"customer_id": "U2", "turns": {turns}}}\n'
                 f'{{"customer_id": "U1", "turns": {turns}}}\n', encoding="utf-8")
    good, bad = by_kind(read(p, "webchat"))
    keys = [g.data["source_id"] for g in good]
    assert not bad and keys[0] == keys[2] != keys[1] and good[0].data["id_derived"]


def test_calls_in_jsonl_without_ids_do_not_share_the_file_name(tmp_path):
    p = tmp_path / "calls.jsonl"
    p.write_text('{"segments": [{"speaker": "A", "text": "Thank you for calling"}, {"speaker": "B", "text": "one"}]}\n'
                 '{"segments": [{"speaker": "A", "text": "Thank you for calling"}, {"speaker": "B", "text": "two"}]}\n')
    good, _ = by_kind(read(p, "callcentre"))
    assert len({g.data["source_id"] for g in good}) == 2 and all(g.data["id_derived"] for g in good)


def test_broken_webvtt_cues_are_quarantined_and_good_cues_make_the_call():
    its = list(read_items(READERS / "broken_cues.vtt", SETTINGS.source("callcentre_vtt"), 20000))
    good, bad = by_kind(its)
    assert len(good) == 1 and good[0].line == 1
    assert [u["text"] for u in good[0].utterances] == [
        "Thank you for calling, how can I help?", "My parcel is two weeks late.", "I will check it right away."]
    assert good[0].data["customer_id"] == "U8"
    reasons = {b.line: (b.error.field, b.error.reason, b.raw) for b in bad}
    assert set(reasons) == {10, 14, 21, 24}
    assert "below 60" in reasons[10][1] and "impossible time" in reasons[10][2]
    assert "ends before it starts" in reasons[14][1]
    assert reasons[21][1] == "cue text without a timing line" and "lost its timing" in reasons[21][2]
    assert reasons[24][0] == "speaker" and "without any voice tag" in reasons[24][2]
    assert all(b.parent_line == 1 for b in bad)
    assert all(u["start_s"] < 60 for u in good[0].utterances)


def test_webvtt_without_voice_tags_uses_name_prefixes(tmp_path):
    p = tmp_path / "zoom.vtt"
    p.write_text("WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\nAnna Rossi: Thank you for calling, how can I help?\n\n"
                 "2\n00:00:03.500 --> 00:00:06.000\nBob: My parcel is late.\n\n3\n00:00:06.500 --> 00:00:07.000\nmumble\n")
    good, bad = by_kind(read(p, "callcentre_vtt"))
    assert [(u["speaker"], u["role"]) for u in good[0].utterances] == [("Anna Rossi", "agent"), ("Bob", "customer")]
    assert [b.line for b in bad] == [12]


def test_not_a_webvtt_file_is_one_bad_item(tmp_path):
    p = tmp_path / "x.vtt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    its = read(p, "callcentre_vtt")
    assert len(its) == 1 and its[0].kind == "bad" and its[0].line == 1


@pytest.mark.parametrize("name, vendor, call_id, customer_text", [
    ("aws_contact_lens.json", "aws_contact_lens", "c0ffee00-1111-2222-3333-444455556666",
     "I was charged twice for my subscription this month.\nGreat, thanks."),
    ("aws_transcribe.json", "aws_transcribe", "call-2026-10-01-0001", "My parcel never arrived."),
    ("aws_transcribe_segments.json", "aws_transcribe", "call-2026-10-01-0002", "Where is my refund?"),
    ("deepgram.json", "deepgram", "5d3bc1c2-7a9e-4c1e-9f3e-0d9b2d7b1a11", "My order arrived broken."),
    ("assemblyai.json", "assemblyai", "6rlr37h5ne-2f1c-4a8b-9e8a-5f0c3b3c7d21", "My card was declined twice at checkout."),
    ("google_ccai.json", "google_ccai", "google_ccai", "I cannot log in to my account since yesterday."),
])
def test_vendor_call_shapes(name, vendor, call_id, customer_text):
    src = SETTINGS.source("callcentre").model_copy(update={"speakers": {}})  # roles by labels/heuristics only
    good, bad = by_kind(list(read_items(READERS / name, src, 20000)))
    assert not bad and len(good) == 1
    d = good[0].data
    assert (d["vendor"], d["source_id"], d["text"]) == (vendor, call_id, customer_text)
    assert good[0].utterances[0]["role"] == "agent"
    assert all(u["start_s"] is None or 0 <= u["start_s"] < 20 for u in good[0].utterances)  # seconds, not ms


def test_vendor_metadata_language_and_time():
    good, _ = by_kind(read(READERS / "aws_contact_lens.json", "callcentre"))
    assert good[0].data["language_hint"] == "en"
    good, _ = by_kind(read(READERS / "deepgram.json", "callcentre"))
    assert str(good[0].data["occurred_at"]) == "2026-10-01 16:00:00"
    assert [u["speaker"] for u in good[0].utterances] == ["0", "1", "0"]  # speaker 0 is a label, not "missing"


def test_any_exception_inside_a_record_quarantines_only_that_record(tmp_path):
    good, bad = by_kind(read(READERS / "calls_numeric_and_nested.jsonl", "callcentre"))
    assert [g.data["source_id"] for g in good] == ["N1", "N3", "N4"]
    assert good[2].data["text"] == "7\n12.5"
    assert good[0].utterances[1]["text"] == "42"  # a number said is text
    assert bad[0].line == 2 and "expected text" in bad[0].error.reason
    p = tmp_path / "reviews.jsonl"
    deep = "[" * 10000 + "]" * 10000
    p.write_text('{"id": "M1", "content": "fine"}\n' + f'{{"id": "M2", "content": {deep}}}\n'
                 '{"id": "M3", "content": "also fine"}\n', encoding="utf-8")
    its = read(p, "marketplace")
    assert [(i.line, i.kind) for i in its] == [(1, "feedback"), (2, "bad"), (3, "feedback")]
    assert "nested too deeply" in its[1].error.reason and len(its[1].error.reason) < 100


def test_unexpected_exception_type_is_named(monkeypatch, tmp_path):
    import pipeline.ingest.reviews as reviews

    def boom(row, source, max_chars):
        raise TypeError("x" * 500)

    monkeypatch.setattr(reviews, "review_from_row", boom)
    its = items("reviews/marketplace_sample.jsonl")
    assert all(i.kind == "bad" for i in its)
    assert its[0].error.reason.startswith("unexpected TypeError: xxx") and len(its[0].error.reason) < 100


def test_json_document_nested_too_deeply_is_one_bad_item(tmp_path):
    p = tmp_path / "calls.json"
    p.write_text("[" * 100000 + "]" * 100000)
    its = read(p, "callcentre")
    assert len(its) == 1 and its[0].kind == "bad" and "nested too deeply" in its[0].error.reason


@pytest.mark.parametrize("source, name, content", [
    ("appstore", "appstore_empty.csv", b""),
    ("appstore", "appstore_header.csv", b"review_id,user_id,created,stars,body,lang\n"),
    ("appstore", "appstore_blank.csv", b"\n\n  \n"),
    ("marketplace", "m.jsonl", b""),
    ("marketplace", "m2.jsonl", b"\n \n"),
    ("chat_export", "c.json", b"  \n"),
    ("callcentre", "c.json", b""),
    ("callcentre_vtt", "c.vtt", b""),
    ("callcentre_vtt", "c2.vtt", b"WEBVTT\n\n"),
    ("nps_survey", "s.csv", b"response_id,nps\n"),
    ("helpdesk", "t.csv", b""),
])
def test_empty_or_header_only_files_yield_nothing(tmp_path, source, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    assert read(p, source) == []


def test_binary_garbage_does_not_crash(tmp_path):
    import random

    rnd = random.Random(7)
    blob = bytes(rnd.randrange(256) for _ in range(20000))
    for source, name in [("appstore", "g.csv"), ("marketplace", "g.jsonl"), ("chat_export", "g.json"),
                         ("callcentre", "g.json"), ("callcentre_vtt", "g.vtt"), ("reviews_parquet", "g.parquet"),
                         ("chat_rows", "g.csv"), ("nps_survey", "g.csv"), ("helpdesk", "g.csv")]:
        p = tmp_path / name
        p.write_bytes(blob)
        its = read(p, source)
        assert its and all(i.kind == "bad" and i.line >= 1 and i.error.reason for i in its), source
        if name.endswith(".csv"):
            assert line_accounting(p, its, "csv").balanced


def test_reasons_carry_short_excerpts_only(tmp_path):
    p = tmp_path / "m.jsonl"
    secret = "jane.doe@example.com " * 20
    p.write_text(f'{{"id": "M1", "content": "x", "ts": "{secret}"}}\n{{"id": "M2", "content": "x", "score": "{secret}"}}\n')
    its = read(p, "marketplace")
    for it in its:
        assert it.kind == "bad" and len(it.error.reason) < 90 and secret not in it.error.reason
    assert its[0].error.reason.startswith("unparseable timestamp 'jane.doe@example.com jane.doe@example...'")

from pathlib import Path

import pytest

from configs import load_settings
from pipeline.errors import InputError
from pipeline.ingest import list_inputs, match_source, read_items
from pipeline.ingest.calls import assign_roles
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

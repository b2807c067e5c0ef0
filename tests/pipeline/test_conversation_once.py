"""A conversation's text is its customer turns: redacted once, PII counted once (issue 18, work done twice)."""

from __future__ import annotations

import json

from configs import load_settings
from pipeline.ingest import read_items
from pipeline.process import FileContext, feedback_frames


def test_conversation_pii_is_redacted_in_the_turns_and_counted_once(tmp_path):
    settings = load_settings()
    source = settings.source("webchat")
    path = tmp_path / "chat.jsonl"
    conv = {"conversation_id": "c1", "customer_id": "u1", "turns": [
        {"role": "customer", "text": "Hi, write to anna.rossi@example.com please", "time": "2026-01-02T10:00:00"},
        {"role": "agent", "text": "Sure, call us on +39 06 1234 5678", "time": "2026-01-02T10:01:00"},
        {"role": "customer", "text": "Thanks   a lot", "time": "2026-01-02T10:02:00"}]}
    path.write_text(json.dumps(conv) + "\n", encoding="utf-8")
    items = [it for it in read_items(path, source, settings.contract.max_text_chars) if it.kind == "feedback"]
    assert len(items) == 1
    ctx = FileContext(rel="chat.jsonl", sha256="x", seq=1, source=source, settings=settings, pseudonym_key=b"k" * 32)
    feedback, utterances, n_pii = feedback_frames(items, ctx)
    # one e-mail (customer turn) + one phone (agent turn): two findings, each counted once
    assert n_pii == 2 and int(feedback["pii_redacted"].iloc[0]) == 2
    customer = utterances[utterances["role"] == "customer"]["text"].tolist()
    assert "anna.rossi@example.com" not in " ".join(utterances["text"])
    assert feedback["text"].iloc[0] == "\n".join(customer)  # the stored text is the redacted turns, joined
    assert customer[1] == "Thanks a lot"

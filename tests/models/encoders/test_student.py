"""The distilled student encoder (models/encoders/student.py): initialisation from the teacher's layers,
training that moves it toward the teacher, reproducibility from named inputs, the ONNX encoder built from
it, and ``touchpoint models distill`` end to end on the real converted e5-small."""

from __future__ import annotations

import csv
import json
import numpy as np
import pytest

from models.base import ModelError, sha256_file
from models.encoders.student import Recipe, distill, init_student, pool_texts, read_texts

from tests.conftest import SENTIMENT_TRAIN


def _texts(n: int) -> list[str]:
    with open(SENTIMENT_TRAIN, encoding="utf-8", newline="") as fh:
        rows = [" ".join(r["text"].split()) for r in csv.DictReader(fh)]
    out = list(dict.fromkeys(rows))
    assert len(out) >= n, len(out)
    return out[:n]


def test_student_layers_start_as_copies_of_the_named_teacher_layers(tiny_checkpoint):
    from transformers import AutoModel

    teacher = AutoModel.from_pretrained(str(tiny_checkpoint))
    student = init_student(teacher, (1,))
    assert student.config.num_hidden_layers == 1
    t, s = teacher.state_dict(), student.state_dict()
    for k, v in s.items():
        src = k.replace("encoder.layer.0.", "encoder.layer.1.", 1)
        assert np.array_equal(v.numpy(), t[src].numpy()), k
    assert not student.embeddings.word_embeddings.weight.requires_grad
    with pytest.raises(ModelError, match="increasing teacher layers"):
        init_student(teacher, (1, 0))
    with pytest.raises(ModelError, match="increasing teacher layers"):
        init_student(teacher, (2,))


def test_distillation_moves_the_student_toward_the_teacher_and_is_reproducible(encoders_dir, tmp_path):
    """2 of e5-small's 12 layers, 9 steps on 48 texts: closer to the teacher on the 16 texts held back;
    the same inputs, seed and recipe give the same weights, another seed other weights."""
    teacher = encoders_dir / "e5-small"
    texts = _texts(64)
    recipe = Recipe(layers=(0, 11), epochs=3, batch=16, lr=3e-4, warmup_steps=1, holdout=0.25, seed=5, threads=1)
    src = [{"source": "fixture", "rows": 64, "distinct": 64, "used": 64, "sha256": "x"}]
    card = distill(teacher, texts, tmp_path / "a", recipe, sources=src)
    before, after = card["agreement_held_back"]["before"], card["agreement_held_back"]["after"]
    assert after["cosine"] > before["cosine"] and after["hidden_mse"] < before["hidden_mse"], (before, after)
    assert card["texts"] == {"train": 48, "held_back": 16, "sha256": card["texts"]["sha256"]}
    assert card["recipe"]["seed"] == 5 and card["recipe"]["layers"] == [0, 11]
    meta = json.loads((tmp_path / "a" / "touchpoint.json").read_text())
    assert meta["student"]["steps"] == card["steps"] == 3 * 3 and meta["query_prefix"] == "query: "
    assert "| fixture | 64 |" in (tmp_path / "a" / "MODEL_CARD.md").read_text()
    distill(teacher, texts, tmp_path / "b", recipe)
    distill(teacher, texts, tmp_path / "c", Recipe(**{**recipe.__dict__, "seed": 6}))
    a, b, c = (sha256_file(tmp_path / d / "model.safetensors") for d in "abc")
    assert a == b and a != c
    # training further from an earlier student: its agreement is the start, the card names where it began
    more = distill(teacher, texts, tmp_path / "d", Recipe(**{**recipe.__dict__, "epochs": 1}), init=tmp_path / "a")
    assert more["init"]["sha256"] == a[:16] and more["init"]["steps"] == 9
    assert abs(more["agreement_held_back"]["before"]["cosine"] - after["cosine"]) < 1e-3
    with pytest.raises(ModelError, match="a student of teacher layers"):
        distill(teacher, texts, tmp_path / "e", Recipe(**{**recipe.__dict__, "layers": (0, 6)}), init=tmp_path / "a")


def test_text_sources_are_pooled_evenly_and_bad_files_are_named(tmp_path):
    pool, described = pool_texts([("big", [f"b{i}" for i in range(100)] + ["b1"]), ("small", ["s1", "s2", "b2"])],
                                 max_texts=10, seed=1)
    assert len(pool) == len(set(pool)) == 10
    assert {d["source"]: (d["rows"], d["distinct"], d["used"]) for d in described} == \
        {"big": (101, 100, 8), "small": (3, 2, 2)}  # b2 was already big's
    assert pool_texts([("big", [f"b{i}" for i in range(100)])], 10, seed=1)[0] == \
        pool_texts([("big", [f"b{i}" for i in range(100)])], 10, seed=1)[0]
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text field"}\n', encoding="utf-8")
    with pytest.raises(ModelError, match=r"t\.jsonl, line 2, field 'text'"):
        read_texts(bad)
    c = tmp_path / "t.csv"
    c.write_text("id,body\n1,hello\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"t\.csv, line 1: no column 'text'"):
        read_texts(c)
    assert read_texts(c, "body") == ["hello"]
    latin1 = tmp_path / "t.txt"
    latin1.write_bytes("ok\n".encode() + "caff\u00e8\n".encode("latin-1"))
    with pytest.raises(ModelError, match=r"t\.txt, line 2: not UTF-8"):
        read_texts(latin1)


def test_models_distill_builds_a_student_the_onnx_encoder_runs(encoders_dir, tmp_path, capsys):
    """The command on the real converted e5-small (2 of its 12 layers, a few steps), then the student as
    ``onnx.e5-student.int8.v1``: its own fingerprint, unit vectors of the teacher's width, closer to the
    teacher than a student never trained."""
    from flows.cli.main import main
    from models.encoders.core import get_encoder
    from tests.conftest import write_config

    data = tmp_path / "data"
    (data / "models" / "encoders").mkdir(parents=True)
    (data / "models" / "encoders" / "e5-small").symlink_to(encoders_dir / "e5-small", target_is_directory=True)
    cfg = write_config(tmp_path / "c.yaml", data)
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(_texts(60)) + "\n\n", encoding="utf-8")
    import torch

    torch.set_num_threads(1)  # the command trains on every core (2 here), then must give them back
    rc = main(["--config", str(cfg), "--data-dir", str(data), "models", "distill", "--texts", str(src),
               "--no-store", "--no-corpora", "--layers", "0,11", "--max-texts", "60", "--seed", "3",
               "--json", str(tmp_path / "card.json")])
    assert rc == 0
    assert torch.get_num_threads() == 1
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["sources"][0]["source"] == f"file:{src}" and card["sources"][0]["used"] == 60
    agree = card["agreement_held_back"]
    assert agree["after"]["cosine"] > agree["before"]["cosine"], agree
    assert agree["after"]["hidden_mse"] < agree["before"]["hidden_mse"], agree
    enc = get_encoder("onnx.e5-student.int8.v1", data_dir=data)
    teacher = get_encoder(load_name(), data_dir=encoders_dir.parents[1])
    assert enc.fingerprint != teacher.fingerprint and "e5-student" in enc.fingerprint
    v = enc.encode(["the delivery was late again", "servizio ottimo"])
    assert v.shape == (2, teacher.dim) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert "student -> " in capsys.readouterr().out


def load_name() -> str:
    from configs import load_settings

    return load_settings().models.encoder


def test_student_encoder_without_a_distillation_says_what_to_run(tmp_path):
    from models.encoders.core import get_encoder

    with pytest.raises(ModelError, match="touchpoint models distill"):
        get_encoder("onnx.e5-student.int8.v1", data_dir=tmp_path)


def test_store_text_is_the_feedback_text_in_record_order(tmp_path):
    import duckdb

    from models.encoders.student import store_texts

    assert store_texts(tmp_path) == []  # no store yet
    con = duckdb.connect(str(tmp_path / "touchpoint.duckdb"))
    con.execute("CREATE TABLE feedback (feedback_id VARCHAR, text VARCHAR)")
    con.execute("INSERT INTO feedback VALUES ('b', 'second  one'), ('a', 'first'), ('c', '  '), ('d', NULL)")
    con.close()
    assert store_texts(tmp_path) == ["first", "second one"]

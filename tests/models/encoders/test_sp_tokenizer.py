"""The ONNX encoder's sentencepiece tokenizer (models/encoders/sp_tokenizer.py) gives the ids of the
``tokenizer.json`` it was written from, on the real e5 vocabulary, and a tokenizer it cannot reproduce
keeps ``tokenizers``."""

import json
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("sentencepiece")

from tokenizers import Tokenizer  # noqa: E402

from models.encoders import sp_tokenizer  # noqa: E402
from models.encoders.onnx_encoder import OnnxEncoder, export_encoder  # noqa: E402
from pipeline.ingest.labelled import read_labelled_file  # noqa: E402
from tests.conftest import SENTIMENT_TRAIN  # noqa: E402

LANDING = Path(__file__).resolve().parents[2] / "data" / "landing"


@pytest.fixture(scope="module")
def artifact(model_dir) -> Path:
    """The session's exported default encoder (the real e5-small vocabulary, 250,002 pieces)."""
    found = sorted((model_dir / "encoders").glob("e5-small-onnx-*/meta.json"))
    assert found, f"no exported ONNX encoder under {model_dir / 'encoders'}"
    return found[0].parent


def corpus() -> list[str]:
    """Real-looking multilingual text: the hand-written training rows (en, zh, it, fa), every line of the
    landing fixtures (chats, calls, reviews, tickets, surveys with their markup), and the probes."""
    texts = list(read_labelled_file(SENTIMENT_TRAIN).texts)
    for f in sorted(p for p in LANDING.rglob("*") if p.is_file()):
        texts += f.read_text(encoding="utf-8", errors="replace").splitlines()
    return texts + sp_tokenizer.PROBES + ["word " * 700, "长" * 900]  # truncated at 512


def test_default_encoder_tokenizes_with_sentencepiece_and_says_so(artifact):
    meta = json.loads((artifact / "meta.json").read_text(encoding="utf-8"))
    assert meta["tokenizer"] == "sentencepiece" and meta["sp_probes_identical"] == len(sp_tokenizer.PROBES)
    enc = OnnxEncoder(artifact, "onnx.test")
    assert enc.fingerprint.endswith(":sp") and enc.tokenizer == "sentencepiece"
    assert enc._sp is None  # built at the first text to encode (a run served by the vector cache needs none)
    enc.encode(["ciao"])
    assert isinstance(enc._sp, sp_tokenizer.SentencePieceTokenizer) and enc._tok is None


def test_same_ids_as_tokenizers_on_every_fixture_text(artifact):
    texts = corpus()
    assert len(texts) > 300
    hf = Tokenizer.from_file(str(artifact / "tokenizer.json"))
    hf.no_padding()
    hf.enable_truncation(512)
    want = [e.ids for e in hf.encode_batch(texts)]
    got = sp_tokenizer.SentencePieceTokenizer(artifact / "tokenizer.model", artifact / "tokenizer.json").encode(texts)
    differ = [t[:60] for t, a, b in zip(texts, want, got) if a != b]
    assert differ == []
    assert max(len(g) for g in got) == 512 and all(g[0] == 0 and g[-1] == 2 for g in got)
    enc = OnnxEncoder(artifact, "onnx.test")  # the encoder's own path: prefix, then the same tokenizer
    assert enc.token_ids(texts[:50]) == [e.ids for e in hf.encode_batch([enc.prefix + t for t in texts[:50]])]


def test_a_tokenizer_it_cannot_reproduce_keeps_tokenizers(tmp_path, tiny_checkpoint):
    """The tiny BERT's WordPiece tokenizer is not a Unigram one: the export says so and runs tokenizers."""
    with pytest.raises(sp_tokenizer.Unsupported, match="WordPiece"):
        sp_tokenizer.write_model(tiny_checkpoint / "tokenizer.json", tmp_path / "x.model")
    (tmp_path / "art").mkdir()
    meta = export_encoder(tiny_checkpoint, tmp_path / "art", "fp32")
    assert meta["tokenizer"] == "tokenizers" and not (tmp_path / "art" / "tokenizer.model").exists()
    enc = OnnxEncoder(tmp_path / "art", "onnx.tiny")
    assert not enc.fingerprint.endswith(":sp") and enc.encode(["hello there"]).shape == (1, 32)
    assert enc._sp is None and enc._tok is not None


def test_a_tampered_sentencepiece_model_is_refused(tmp_path, artifact):
    import shutil

    from models.base import ModelError

    copy = tmp_path / "art"
    shutil.copytree(artifact, copy)
    with open(copy / "tokenizer.model", "ab") as fh:
        fh.write(b"\x00")
    with pytest.raises(ModelError, match="tokenizer.model"):
        OnnxEncoder(copy, "onnx.test")


def test_a_tokenizer_changed_after_the_encoder_was_built_is_refused_at_first_use(tmp_path, artifact):
    """The tokenizer is read at the first text to encode; its files are checked again then."""
    import shutil

    from models.base import ModelError

    copy = tmp_path / "art"
    shutil.copytree(artifact, copy)
    enc = OnnxEncoder(copy, "onnx.test")  # checked and accepted
    with open(copy / "tokenizer.json", "a", encoding="utf-8") as fh:
        fh.write(" ")
    with pytest.raises(ModelError, match="tokenizer.json"):
        enc.encode(["ciao"])
    assert enc._sp is None and enc._tok is None

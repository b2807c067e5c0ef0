"""Static multilingual token embeddings distilled from the converted e5 checkpoint (the fast tier).

Registry name ``static.e5-small.v1``. Each vocabulary token is run once through the transformer as
``<s> token </s>``; the mean of its output states is the token's vector (model2vec's recipe). The
vectors are reduced with PCA, weighted by SIF (a / (a + p(token)), p from the unigram tokenizer's own
log-probabilities, so frequent pieces such as "the" or "," count little) and stored. A sentence is the
L2-normalised mean of its tokens' vectors: a table lookup, no transformer per text (about 10,000+
texts/s on 2 cores against ~50 for the transformer).

Distillation is the expensive part (one forward pass per token), so the vocabulary is restricted to
the scripts of the configured languages (Latin, CJK, Arabic/Persian plus ASCII): 143k of the 250k
XLM-R pieces; tokens of other scripts get no vector. The artifact lives in
``<data_dir>/models/encoders/static-e5-small/``: ``tokenizer.json`` (copied from the checkpoint),
``weights.npz`` (``vectors`` float16, ``row`` int32 id -> row or -1; no pickle) and ``meta.json``
(source checkpoint fingerprint, options, sha256 of the weights, checked on load).

Build it with ``python -m models.encoders.static DATA_DIR`` or ``ensure_static_encoder(data_dir)``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from itertools import chain
from pathlib import Path

import numpy as np

from models.base import ModelError, NotInstalled, sha256_file, swap_dir

NAME = "static.e5-small.v1"
DIR_NAME = "static-e5-small"
DISTILLER_VERSION = 2  # bump when the output of distil() changes; stale artifacts are rebuilt
DEFAULT_DIMS = 256
DEFAULT_SCRIPTS = ("latin", "cjk", "arabic")
SIF_A = 1e-4


def _script(cp: int) -> str:
    if cp < 0x80 or cp == 0x2581:  # ASCII and the sentencepiece word marker
        return "ascii"
    if cp < 0x250 or 0x1E00 <= cp < 0x1F00:
        return "latin"
    if 0x600 <= cp < 0x780 or 0x8A0 <= cp < 0x900 or 0xFB50 <= cp < 0xFE00 or 0xFE70 <= cp < 0xFF00 \
            or 0x200C <= cp <= 0x200D:  # Arabic, Persian letter forms and the zero-width (non-)joiner
        return "arabic"
    if 0x4E00 <= cp < 0xA000 or 0x3400 <= cp < 0x4DC0 or 0x3000 <= cp < 0x3040 or 0xFF00 <= cp < 0xFFF0 \
            or 0xF900 <= cp < 0xFB00 or 0x2000 <= cp < 0x2070:  # Han, CJK punctuation, full-width forms
        return "cjk"
    return "other"


def keep_piece(piece: str, scripts: tuple[str, ...]) -> bool:
    """A vocabulary piece is distilled when every character is ASCII or in one of ``scripts``."""
    return all(s == "ascii" or s in scripts for s in (_script(ord(c)) for c in piece))


def _vocab(tokenizer_json: Path) -> tuple[list[str], np.ndarray, set[int], list[int]]:
    """Pieces in id order, log-probabilities, special ids, and the ids the tokenizer wraps a text in.

    Unigram tokenizers (e5/XLM-R) carry log-probabilities; for others (WordPiece, BPE) a Zipf law over
    the id order stands in, as model2vec does.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    vocab = tok.get_vocab(with_added_tokens=True)
    pieces = [""] * (max(vocab.values()) + 1)
    for p, i in vocab.items():
        pieces[i] = p
    tj = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    if tj.get("model", {}).get("type") == "Unigram":
        scores = np.asarray([s for _, s in tj["model"]["vocab"]], dtype=np.float64)
    else:
        scores = -np.log(np.arange(1, len(pieces) + 1, dtype=np.float64))
    special = {t["id"] for t in tj.get("added_tokens", []) if t.get("special")}
    wrap = tok.encode("", add_special_tokens=True).ids
    return pieces, scores[:len(pieces)], special, wrap


def distil(checkpoint: str | os.PathLike, out: str | os.PathLike, dims: int = DEFAULT_DIMS,
           scripts: tuple[str, ...] = DEFAULT_SCRIPTS, batch: int = 2048, max_tokens: int | None = None,
           log=print) -> dict:
    """Distil ``checkpoint`` (a converted e5 directory) into a static artifact directory ``out``.

    ``max_tokens`` keeps only the most probable pieces (tests use a tiny vocabulary).
    """
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise NotInstalled("distilling the static encoder needs torch and transformers: "
                           "pip install -e '.[dev]' (after torch==2.13.0)") from exc
    from models.base import checkpoint_fingerprint

    ckpt, out = Path(checkpoint), Path(out)
    t0 = time.perf_counter()
    pieces, scores, special, wrap = _vocab(ckpt / "tokenizer.json")
    ids = [i for i, p in enumerate(pieces) if p and i not in special and keep_piece(p, scripts)]
    if max_tokens:
        ids = sorted(sorted(ids, key=lambda i: (-scores[i], i))[:max_tokens])
    model = AutoModel.from_pretrained(str(ckpt)).eval()
    cfg = model.config
    bos, eos = (wrap[0], wrap[-1]) if len(wrap) >= 2 else (None, None)
    hidden = np.empty((len(ids), cfg.hidden_size), dtype=np.float32)
    torch.manual_seed(0)
    with torch.inference_mode():
        for a in range(0, len(ids), batch):
            chunk = torch.tensor(ids[a:a + batch], dtype=torch.long)[:, None]
            x = chunk if bos is None else torch.cat([torch.full_like(chunk, bos), chunk, torch.full_like(chunk, eos)], 1)
            h = model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state.mean(1)
            hidden[a:a + len(chunk)] = h.numpy()
            if log and a and a % (batch * 16) == 0:
                log(f"  distilled {a}/{len(ids)} tokens ({time.perf_counter() - t0:.0f}s)")
    del model
    dims = min(dims, hidden.shape[1], len(ids))
    mean = hidden.mean(0)
    # PCA by SVD of the covariance (384 x 384): deterministic, no sklearn randomness.
    cov = np.cov((hidden - mean).T.astype(np.float64))
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1][:dims]
    comp = evecs[:, order]
    comp *= np.sign(comp[np.abs(comp).argmax(0), range(dims)])  # fix the eigenvector sign
    vecs = (hidden - mean) @ comp.astype(np.float32)
    logp = scores[ids] - np.log(np.exp(scores[ids]).sum())
    sif = SIF_A / (SIF_A + np.exp(logp))
    vecs = (vecs * sif[:, None].astype(np.float32)).astype(np.float16)
    out.mkdir(parents=True, exist_ok=True)
    tok_json, new_id = _lean_tokenizer(ckpt / "tokenizer.json", ids)
    (out / "tokenizer.json").write_text(tok_json, encoding="utf-8")
    row = np.full(max(new_id.values()) + 1, -1, dtype=np.int32)
    row[[new_id[i] for i in ids]] = np.arange(len(ids), dtype=np.int32)
    with open(out / "weights.npz", "wb") as fh:
        np.savez(fh, vectors=vecs, row=row)
    meta = {"name": NAME, "distiller_version": DISTILLER_VERSION, "dims": int(dims), "scripts": list(scripts),
            "max_tokens": max_tokens, "tokens": len(ids), "vocab_size": len(pieces), "sif_a": SIF_A,
            "source_checkpoint": str(ckpt.resolve()), "source_fingerprint": checkpoint_fingerprint(ckpt),
            "weights_sha256": sha256_file(out / "weights.npz"),
            "tokenizer_sha256": sha256_file(out / "tokenizer.json"),
            "distil_seconds": round(time.perf_counter() - t0, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def _lean_tokenizer(path: Path, keep: list[int] | None = None) -> tuple[str, dict[int, int]]:
    """The checkpoint's tokenizer, slimmed for the static tier; returns (json, old id -> new id).

    Single-character Replace normalizers are dropped (the converter parks a few characters around
    NFKC that way): ~30% faster, same ids on 99.9% of real texts. With ``keep`` (sorted ids), a
    Unigram or WordPiece vocabulary is cut to those pieces plus the special tokens: pieces of other
    scripts have no vector anyway, and the cut halves the tokenizer's memory (~290 -> ~130 MB for
    XLM-R). Distillation never tokenizes text, so the static tier only needs to agree with itself.
    """
    tj = json.loads(path.read_text(encoding="utf-8"))
    norm = tj.get("normalizer") or {}
    if norm.get("type") == "Sequence":
        norm["normalizers"] = [n for n in norm["normalizers"]
                               if not (n.get("type") == "Replace" and "String" in n.get("pattern", {}))]
    model = tj.get("model", {})
    n_old = len(model["vocab"]) if isinstance(model.get("vocab"), (list, dict)) else 0
    if keep is None or model.get("type") not in ("Unigram", "WordPiece"):
        return json.dumps(tj, ensure_ascii=False), {i: i for i in range(n_old)}
    special = sorted(t["id"] for t in tj.get("added_tokens", []))
    kept = sorted(set(keep) | set(special))
    new_id = {old: k for k, old in enumerate(kept)}
    if model["type"] == "Unigram":
        model["vocab"] = [model["vocab"][i] for i in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    else:
        model["vocab"] = {p: new_id[i] for p, i in model["vocab"].items() if i in new_id}
    for t in tj.get("added_tokens", []):
        t["id"] = new_id[t["id"]]
    for spec in ((tj.get("post_processor") or {}).get("special_tokens") or {}).values():
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    return json.dumps(tj, ensure_ascii=False), new_id



def static_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "models" / "encoders" / DIR_NAME


def _is_current(out: Path, source_fp: str, dims: int, scripts: tuple[str, ...], max_tokens: int | None) -> bool:
    try:
        m = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (m.get("distiller_version") == DISTILLER_VERSION and m.get("source_fingerprint") == source_fp
            and m.get("dims") == dims and tuple(m.get("scripts", ())) == tuple(scripts)
            and m.get("max_tokens") == max_tokens and (out / "weights.npz").is_file())


def ensure_static_encoder(data_dir: str | os.PathLike, dims: int = DEFAULT_DIMS,
                          scripts: tuple[str, ...] = DEFAULT_SCRIPTS, max_tokens: int | None = None,
                          log=print) -> Path:
    """``<data_dir>/models/encoders/static-e5-small``, distilled (atomically) if missing or stale."""
    from models.base import checkpoint_fingerprint
    from models.encoders.convert import ensure_e5_checkpoint

    ckpt = ensure_e5_checkpoint(data_dir)
    out = static_dir(data_dir)
    fp = checkpoint_fingerprint(ckpt)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current(out, fp, dims, tuple(scripts), max_tokens):
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            meta = distil(ckpt, tmp, dims=dims, scripts=tuple(scripts), max_tokens=max_tokens, log=log)
            os.chmod(tmp, 0o755)
            swap_dir(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        if log:
            log(f"static encoder: {meta['tokens']} tokens x {meta['dims']} dims in {meta['distil_seconds']}s -> {out}")
    return out


class StaticEncoder:
    """Mean of static token vectors, L2-normalised; tokenised by the checkpoint's own fast tokenizer."""

    cheap = True  # a table lookup: cheaper than the persistent vector cache (models/encoders/vector_cache.py)

    def __init__(self, path: str | os.PathLike, name: str = NAME, batch: int = 4096):
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise NotInstalled("tokenizers is missing: pip install -e . (it comes with transformers)") from exc
        d = Path(path)
        try:
            self.meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{d}: not a static encoder artifact ({exc}); build it with "
                             f"`python -m models.encoders.static DATA_DIR`") from None
        for f, key in (("weights.npz", "weights_sha256"), ("tokenizer.json", "tokenizer_sha256")):
            if not (d / f).is_file() or sha256_file(d / f) != self.meta.get(key):
                raise ModelError(f"{d / f}: missing or checksum mismatch with meta.json (tampered or partially "
                                 f"written); rebuild with `python -m models.encoders.static DATA_DIR`")
        with np.load(d / "weights.npz", allow_pickle=False) as z:
            self._vecs = z["vectors"]  # float16 in memory (half the RSS); rows are widened when gathered
            self._row = z["row"]
        self._tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()
        self.name = name
        self.path = str(d)
        self.dim = int(self._vecs.shape[1])
        self.batch = batch
        self.fingerprint = f"{name}@{self.meta['weights_sha256'][:16]}:d{self.meta.get('distiller_version')}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for a in range(0, len(texts), self.batch):
            part = texts[a:a + self.batch]
            id_lists = [e.ids for e in self._tok.encode_batch(part, add_special_tokens=False)]
            lens = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
            if lens.sum() == 0:
                continue
            ids = np.fromiter(chain.from_iterable(id_lists), dtype=np.int64, count=int(lens.sum()))
            rows = self._row[ids]
            keep = rows >= 0
            owner = np.repeat(np.arange(len(part)), lens)[keep]
            acc = _sum_rows(owner, rows[keep], self._vecs, len(part))
            norms = np.linalg.norm(acc, axis=1, keepdims=True)
            out[a:a + len(part)] = np.divide(acc, norms, out=np.zeros_like(acc), where=norms > 0)
        return out


def _sum_rows(owner: np.ndarray, rows: np.ndarray, vecs: np.ndarray, n: int) -> np.ndarray:
    """(n, dim) sums: out[owner[i]] += vecs[rows[i]], as a sparse (texts x distinct tokens) product.

    Only the distinct tokens of the batch are widened to float32; this is ~25x faster than
    ``np.add.reduceat`` over the gathered rows, and each text's sum runs over its tokens in token-id
    order whatever else is in the batch, so batch and one-by-one results agree.
    """
    from scipy import sparse

    if len(rows) == 0:
        return np.zeros((n, vecs.shape[1]), dtype=np.float32)
    uniq, col = np.unique(rows, return_inverse=True)
    M = sparse.csr_matrix((np.ones(len(col), dtype=np.float32), (owner, col)), shape=(n, len(uniq)))
    return np.asarray(M @ vecs[uniq].astype(np.float32), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    """``python -m models.encoders.static DATA_DIR [--dims N]``: distil the static encoder and print where and how long."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m models.encoders.static", description=main.__doc__)
    ap.add_argument("data_dir", nargs="?", default=os.environ.get("TOUCHPOINT_DATA_DIR", "data"))
    ap.add_argument("--dims", type=int, default=DEFAULT_DIMS)
    ap.add_argument("--max-tokens", type=int, default=None)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = ensure_static_encoder(args.data_dir, dims=args.dims, max_tokens=args.max_tokens)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{out}  {time.perf_counter() - t0:.1f} s  {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

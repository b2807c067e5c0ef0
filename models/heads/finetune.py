"""Fine-tuned transformer sentiment: the encoder itself trained with a linear head (torch).

Registry name ``touchpoint.FinetunedTransformer.v1``. Works with any local Hugging Face checkpoint
directory (e.g. the converted multilingual-e5-small from models/encoders/convert.py): mean-pooled last hidden
states, a linear head, cross-entropy with balanced class weights, AdamW, early stopping on a
stratified validation split of the training rows. CPU by default here; on a GPU it runs under bf16
autocast. Seeded; on CPU deterministic (``torch.use_deterministic_algorithms`` during fit).

The word-embedding matrix (250k x 384 for e5-small, most of the parameters) is frozen by default:
it is not trained and not saved. An artifact stores only the trained parameters (npz, no pickle)
and points at its checkpoint by path and content fingerprint; loading refuses a changed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np

from models.artifacts import read_artifact, write_artifact
from models.base import CHECKPOINT_PREFIX, ModelError, ModelMeta, NotInstalled, checkpoint_fingerprint, data_hash
from models.heads.sentiment import SentimentBase, check_labels

BACKEND = "touchpoint.FinetunedTransformer.v1"


def _torch():
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise NotInstalled("the finetune backend needs torch and transformers: pip install -e '.[dev]' "
                           "(after torch)") from exc
    return torch


class FinetunedSentiment(SentimentBase):
    """Sentence sentiment from a fine-tuned transformer checkpoint."""

    runtime_libraries = ("torch", "transformers")

    def __init__(self, checkpoint: str, epochs: int = 4, lr: float = 3e-5, head_lr: float = 1e-3,
                 batch_size: int = 16, max_length: int = 128, freeze_embeddings: bool = True,
                 patience: int = 1, val_fraction: float = 0.15, seed: int = 13, weight_decay: float = 0.01,
                 bucket_batches: int = 50, name: str = "sentiment-finetuned"):
        self.checkpoint = checkpoint
        self.epochs = epochs
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.freeze_embeddings = freeze_embeddings
        self.patience = patience
        self.val_fraction = val_fraction
        self.seed = seed
        self.weight_decay = weight_decay
        self.bucket_batches = bucket_batches
        self.name = name

    def _hyperparameters(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("epochs", "lr", "head_lr", "batch_size", "max_length",
                                              "freeze_embeddings", "patience", "val_fraction", "seed",
                                              "weight_decay", "bucket_batches")}

    # -- building blocks ------------------------------------------------------------------
    def _build(self, n_labels: int):
        torch = _torch()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        hf_logging.disable_progress_bar()  # one bar per load floods CLI and flow logs
        path = Path(self.checkpoint)
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a Hugging Face checkpoint directory (no config.json); give a "
                             f"local directory with config.json, weights and tokenizer files")
        torch.manual_seed(self.seed)
        try:
            self.tokenizer_ = AutoTokenizer.from_pretrained(str(path))
            self.encoder_ = AutoModel.from_pretrained(str(path))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load checkpoint {path}: {exc}") from None
        try:  # e5 checkpoints converted by models/encoders/convert.py expect a "query: " prefix
            from models.encoders.convert import read_meta
            self.prefix_ = (read_meta(path) or {}).get("query_prefix", "")
        except ImportError:
            self.prefix_ = ""
        self.device_ = "cuda" if torch.cuda.is_available() else "cpu"
        torch.manual_seed(self.seed)
        self.head_ = torch.nn.Linear(int(self.encoder_.config.hidden_size), n_labels)
        if self.freeze_embeddings:
            self.encoder_.get_input_embeddings().weight.requires_grad_(False)
        self.encoder_.to(self.device_)
        self.head_.to(self.device_)

    def _logits(self, texts: list[str]):
        torch = _torch()
        enc = self.tokenizer_([self.prefix_ + t for t in texts], padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt").to(self.device_)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device_ == "cuda"):
            hidden = self.encoder_(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head_(pooled).float()

    def _trainable(self) -> dict[str, Any]:
        params = {f"enc.{k}": p for k, p in self.encoder_.named_parameters() if p.requires_grad}
        params.update({f"head.{k}": p for k, p in self.head_.named_parameters()})
        return params

    # -- estimator contract -------------------------------------------------------------
    def fit(self, texts: list[str], y: list[str], labels: list[str] | None = None,
            progress: Callable[[dict[str, Any]], None] | None = None) -> "FinetunedSentiment":
        """Fine-tune; ``progress`` (if given) is called after every batch with ``{"kind": "step", "epoch",
        "epochs", "step", "steps", "loss"}`` and after every epoch with ``{"kind": "epoch", "epoch", "epochs",
        "train_loss", "val_macro_f1", "best", "stop"}`` (``stop``: early stopping ends training here)."""
        torch = _torch()
        report = progress or (lambda event: None)
        from sklearn.metrics import f1_score

        labels = check_labels(texts, y, labels)
        self.labels_ = labels
        texts, y = list(texts), list(y)
        prev_det = torch.are_deterministic_algorithms_enabled()
        self._build(len(labels))
        if self.device_ == "cpu":
            torch.use_deterministic_algorithms(True)
        try:
            train_idx, val_idx = _stratified_split(y, self.val_fraction, self.seed)
            target = torch.tensor([labels.index(v) for v in y], device=self.device_)
            counts = np.bincount([labels.index(y[i]) for i in train_idx], minlength=len(labels))
            weights = np.where(counts > 0, len(train_idx) / (len(labels) * np.maximum(counts, 1)), 0.0)
            loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32,
                                                                    device=self.device_))
            enc_params = [p for p in self.encoder_.parameters() if p.requires_grad]
            opt = torch.optim.AdamW([{"params": enc_params, "lr": self.lr},
                                     {"params": self.head_.parameters(), "lr": self.head_lr}],
                                    weight_decay=self.weight_decay)
            gen = torch.Generator().manual_seed(self.seed)
            lengths = self._token_counts(texts)
            best, best_state, bad, history = -1.0, None, 0, []
            for epoch in range(self.epochs):
                self.encoder_.train()
                self.head_.train()
                order = [train_idx[i] for i in torch.randperm(len(train_idx), generator=gen).tolist()]
                batches = length_batches(order, lengths, self.batch_size, self.bucket_batches, gen)
                total = 0.0
                steps = len(batches)
                for step, batch in enumerate(batches, 1):
                    loss = loss_fn(self._logits([texts[i] for i in batch]), target[batch])
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(list(self._trainable().values()), 1.0)
                    opt.step()
                    total += float(loss.detach()) * len(batch)
                    report({"kind": "step", "epoch": epoch + 1, "epochs": self.epochs, "step": step,
                            "steps": steps, "loss": float(loss.detach())})
                if not val_idx:
                    history.append({"epoch": epoch + 1, "train_loss": round(total / len(order), 4)})
                    report({"kind": "epoch", "epoch": epoch + 1, "epochs": self.epochs, "train_loss": total / len(order),
                            "val_macro_f1": None, "best": False, "stop": False})
                    continue
                pred = self._proba([texts[i] for i in val_idx]).argmax(axis=1)
                f1 = float(f1_score([labels.index(y[i]) for i in val_idx], pred, average="macro",
                                    labels=list(range(len(labels))), zero_division=0))
                history.append({"epoch": epoch + 1, "train_loss": round(total / len(order), 4),
                                "val_macro_f1": round(f1, 4)})
                improved = f1 > best
                if improved:
                    best, bad = f1, 0
                    best_state = {k: p.detach().clone() for k, p in self._trainable().items()}
                else:
                    bad += 1
                stop = bad > self.patience  # early stopping: no better on validation for `patience` epochs
                report({"kind": "epoch", "epoch": epoch + 1, "epochs": self.epochs, "train_loss": total / len(order),
                        "val_macro_f1": f1, "best": improved, "stop": stop})
                if stop:
                    break
            if best_state is not None:
                with torch.no_grad():
                    for k, p in self._trainable().items():
                        p.copy_(best_state[k])
                    for k, c in enumerate(counts):  # a class absent from training is never predicted
                        if c == 0:
                            self.head_.bias[k] = -1e4
        finally:
            torch.use_deterministic_algorithms(prev_det)
        fp = checkpoint_fingerprint(self.checkpoint)
        dh = data_hash(texts, y)
        hp = self._hyperparameters()
        version = "ft1." + hashlib.sha256(json.dumps([dh, hp, fp, labels]).encode()).hexdigest()[:8]
        self.meta_ = ModelMeta(task="sentiment", name=self.name, version=version, backend=BACKEND,
                               encoder=CHECKPOINT_PREFIX + str(Path(self.checkpoint).resolve()),
                               labels=labels, training_data_hash=dh, training_rows=len(texts),
                               hyperparameters=hp, metrics={"training_history": history,
                                                            "device": self.device_})
        return self

    def _token_counts(self, texts: list[str]) -> list[int]:
        enc = self.tokenizer_([self.prefix_ + t for t in texts], truncation=True, max_length=self.max_length)
        return [len(ids) for ids in enc["input_ids"]]

    def _proba(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """Class probabilities, in batches of similar length (padding is masked out of the pooling, so a
        text's row does not depend on its neighbours; fewer pad tokens is less work)."""
        torch = _torch()
        self.encoder_.eval()
        self.head_.eval()
        out = np.zeros((len(texts), len(self.labels_)), np.float32)
        lengths = self._token_counts(texts) if texts else []
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        with torch.inference_mode():
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                out[idx] = torch.softmax(self._logits([texts[i] for i in idx]), dim=-1).cpu().numpy()
        return out

    def proba_fine(self, texts: list[str]) -> np.ndarray:
        if not hasattr(self, "head_"):
            raise ModelError("fine-tuned sentiment model is not fitted: call fit() or load()")
        return self._proba(list(texts))

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        if not hasattr(self, "meta_"):
            raise ModelError("fine-tuned sentiment model is not fitted: call fit() or load()")
        arrays = {k: p.detach().float().cpu().numpy() for k, p in self._trainable().items()}
        return write_artifact(path, self.meta_, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FinetunedSentiment":
        torch = _torch()
        meta, arrays = read_artifact(path, BACKEND, cls.runtime_libraries)
        checkpoint = (meta.encoder or "")[len(CHECKPOINT_PREFIX):]
        m = cls(checkpoint=checkpoint, name=meta.name, **meta.hyperparameters)
        m.labels_ = list(meta.labels)
        m._build(len(m.labels_))
        params = m._trainable()
        if set(params) != set(arrays):
            raise ModelError(f"{path}: stored parameters do not match checkpoint {checkpoint} "
                             f"({len(set(params) ^ set(arrays))} differ); retrain")
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(torch.from_numpy(arrays[k]).to(p.device, p.dtype))
        m.meta_ = meta
        return m


def length_batches(order: list[int], lengths: list[int], batch_size: int, window: int, gen) -> list[list[int]]:
    """Training batches of similar token length, still in random order: ``order`` (shuffled) is cut into
    windows of ``window`` batches, each window sorted by length and cut into batches, and the batches
    shuffled with ``gen`` (a torch Generator). Random batches pad every text to the longest of 16; on
    Persian reviews that is 38% real tokens, 99% in length buckets. ``window`` 0 keeps ``order``'s batches."""
    import torch

    size = batch_size * window if window > 0 else batch_size
    batches = []
    for w in range(0, len(order), size):
        chunk = order[w:w + size]
        if window > 0:
            chunk = sorted(chunk, key=lambda i: lengths[i])
        batches += [chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()] if window > 0 else batches


def _stratified_split(y: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, v in enumerate(y):
        by.setdefault(v, []).append(i)
    val = []
    for v in sorted(by):
        idx = by[v]
        rng.shuffle(idx)
        if len(idx) >= 4:
            val += idx[:max(1, int(round(len(idx) * fraction)))]
    vs = set(val)
    return [i for i in range(len(y)) if i not in vs], sorted(val)

"""Helpers shared by the trainer's tests: real text, shard directories as the pipeline
writes them, and a small training configuration."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from samples.fixtures import stdlib_docstrings  # noqa: F401  (the tests' corpus)
from shard_format import shard_entry, write_manifest, write_shard
from training_entry.config import TrainConfig

VOCAB_SIZE = 400


def is_val(doc: str) -> bool:
    """One document in ten goes to validation, chosen by its hash (as the pipeline does)."""
    return hashlib.sha256(doc.encode()).digest()[0] < 26


def write_shard_dir(directory: Path, *, train: list[np.ndarray], val: list[np.ndarray], vocab_size: int,
                    tokenizer_sha256: str, n_train_shards: int = 2) -> Path:
    """Shards and manifest.json as the pipeline's shard stage writes them; documents already BOS..EOS."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = {"train": [], "val": []}
    for split, docs, n in (("train", train, n_train_shards), ("val", val, 1)):
        for i in range(n):
            path = directory / f"{split}-{i:05d}.bin"
            write_shard(path, docs[i::n], vocab_size=vocab_size, tokenizer_sha256=bytes.fromhex(tokenizer_sha256))
            entries[split].append(shard_entry(path))
    write_manifest(directory, {"tokenizer_sha256": tokenizer_sha256, "vocab_size": vocab_size, "shards": entries})
    return directory


def config(shards, out, **overrides) -> TrainConfig:
    """A few-step run of the tiny preset on short sequences; 2 micro-batches of 2 a step."""
    settings = dict(data=str(shards), out=str(out), preset="tiny", steps=8, context=32, batch_tokens=128,
                    micro_batch_size=2, warmup_steps=2, eval_every=4, eval_sequences=8, log_every=100,
                    ckpt_every=100, export=False, record_samples=True)
    settings.update(overrides)
    return TrainConfig(**settings)


def records(run: Path, kind: str) -> list[dict]:
    """The "train" or "val" records of a run's metrics.jsonl."""
    lines = (Path(run) / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]

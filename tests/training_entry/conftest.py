"""Real, tiny fixtures: a SentencePiece model trained here on Python's own docstrings, and
shards written with shard_format exactly as the pipeline's shard stage writes them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
import torch

from shard_format import file_sha256
from tokenizer_training import TokenizerSpec, train_tokenizer

from .helpers import VOCAB_SIZE, is_val, stdlib_docstrings, write_shard_dir

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing from a model hub, ever
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Bitwise comparisons need a fixed thread count; one thread is also the fastest for tiny models
    on a shared 2-core machine (torchrun gives its processes one thread each as well)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return stdlib_docstrings()


@pytest.fixture(scope="session")
def data_root(tmp_path_factory, corpus) -> Path:
    """OUT-like folder: OUT/tokenizer/tokenizer.model and OUT/shards/ (2 train shards, 1 val)."""
    root = tmp_path_factory.mktemp("out")
    # As the pipeline's tokenizer stage trains it: LLaMA's settings (the HF export converts only those).
    train_tokenizer(corpus, root / "tokenizer", TokenizerSpec(vocab_size=VOCAB_SIZE, num_threads=1))
    sp = spm.SentencePieceProcessor(model_file=str(root / "tokenizer" / "tokenizer.model"))
    docs = {"train": [], "val": []}
    for doc in corpus:
        docs["val" if is_val(doc) else "train"].append(np.array([sp.bos_id(), *sp.encode(doc), sp.eos_id()]))
    write_shard_dir(root / "shards", train=docs["train"], val=docs["val"], vocab_size=sp.get_piece_size(),
                    tokenizer_sha256=file_sha256(root / "tokenizer" / "tokenizer.model"))
    return root


@pytest.fixture(scope="session")
def shards(data_root) -> Path:
    return data_root / "shards"


@pytest.fixture(scope="session")
def tokenizer_path(data_root) -> Path:
    return data_root / "tokenizer" / "tokenizer.model"

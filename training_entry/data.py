"""Training and validation sequences from memory-mapped token shards.

The shards of a split are read as one concatenated token stream (the mixture is
already baked in by the pipeline). Sample ``i`` is the ``context + 1`` tokens
starting at ``i * context``: inputs are the first ``context``, targets the last.

The order is defined by *global sample position*: position ``p`` of the run is
sample ``order[p]``, where the order is a seeded shuffle, fresh for each epoch.
Step ``s`` reads positions ``[s * G, (s + 1) * G)`` (G sequences per step), and
rank ``r`` of ``W`` takes the ``r``-th contiguous ``G / W`` of them. So the data a
step sees does not depend on the number of processes, and a run saved with 2
processes resumes with 1 without repeating or skipping a sample.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch

from shard_format import ShardFormatError, open_shard


class TokenStream:
    """Several shards read as one stream of tokens, by memory map.

    Every window read is checked against its shard's vocabulary: a corrupt id would
    otherwise crash the embedding far from here (a device-side assert on a GPU).
    """

    def __init__(self, paths: list[Path]):
        self.paths = list(paths)
        opened = [open_shard(p) for p in self.paths]
        self.shards = [tokens for _, tokens in opened]
        self.vocab_sizes = [header.vocab_size for header, _ in opened]
        sizes = [len(s) for s in self.shards]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # shard i covers [starts[i], starts[i+1])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def read(self, start: int, length: int) -> np.ndarray:
        """Tokens ``[start, start + length)`` of the stream, crossing shard boundaries as needed."""
        if start < 0 or start + length > len(self):
            raise IndexError(f"tokens [{start}, {start + length}) are outside a stream of {len(self)}")
        out = np.empty(length, dtype=np.int64)
        shard = int(np.searchsorted(self.starts, start, side="right")) - 1
        filled = 0
        while filled < length:
            offset = start + filled - self.starts[shard]
            piece = self.shards[shard][offset: offset + length - filled]
            self._check_ids(shard, int(offset), piece)
            out[filled: filled + len(piece)] = piece
            filled += len(piece)
            shard += 1
        return out

    def _check_ids(self, shard: int, offset: int, piece: np.ndarray) -> None:
        vocab = self.vocab_sizes[shard]
        if len(piece) and piece.max() >= vocab:
            at = int(np.argmax(piece >= vocab))
            raise ShardFormatError(f"{self.paths[shard]}: token id {piece[at]} at token offset {offset + at} is "
                                   f"outside the vocabulary [0, {vocab}): the shard is corrupt")


def sequences(stream: TokenStream, ids: list[int], context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) for samples ``ids``, each (B, T) int64; sample i starts at token i * T."""
    rows = np.stack([stream.read(i * context, context + 1) for i in ids])
    tokens = torch.from_numpy(rows)  # (B, T + 1)
    return tokens[:, :-1], tokens[:, 1:]


class SampleOrder:
    """A seeded shuffle of ``n`` samples per epoch, computed lazily in blocks.

    Each epoch permutes blocks of ``block`` consecutive samples, then the samples
    inside each block, so memory stays O(n / block + block) however large the corpus.
    The shard writer already orders documents by a hash, so block-local mixing is enough.
    """

    def __init__(self, n: int, seed: int, block: int = 1 << 16):
        if n <= 0:
            raise ValueError("no complete sample in the data")
        self.n, self.seed, self.block = n, seed, block
        self.n_blocks = math.ceil(n / block)

    @functools.lru_cache(maxsize=2)
    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        blocks = np.random.default_rng([self.seed, epoch]).permutation(self.n_blocks)
        sizes = np.minimum(self.block, self.n - blocks * self.block)
        return blocks, np.concatenate([[0], np.cumsum(sizes)])  # block order, where each starts in the epoch

    @functools.lru_cache(maxsize=4)
    def _within(self, epoch: int, block: int) -> np.ndarray:
        size = min(self.block, self.n - block * self.block)
        return np.random.default_rng([self.seed, epoch, block]).permutation(size)

    def __getitem__(self, position: int) -> int:
        epoch, j = divmod(int(position), self.n)
        blocks, starts = self._epoch(epoch)
        k = int(np.searchsorted(starts, j, side="right")) - 1
        block = int(blocks[k])
        return block * self.block + int(self._within(epoch, block)[j - starts[k]])


class TrainData:
    def __init__(self, stream: TokenStream, *, context: int, seed: int):
        self.stream, self.context = stream, context
        self.n_samples = (len(stream) - 1) // context
        if self.n_samples <= 0:
            raise ValueError(f"the training shards hold {len(stream)} tokens, fewer than one sequence of {context + 1}")
        self.order = SampleOrder(self.n_samples, seed)

    def sample_ids(self, step: int, *, sequences_per_step: int, rank: int, world_size: int) -> list[int]:
        """The samples rank ``rank`` reads at ``step`` (its contiguous share of the step's positions)."""
        per_rank = sequences_per_step // world_size
        first = step * sequences_per_step + rank * per_rank
        return [self.order[p] for p in range(first, first + per_rank)]

    def batch(self, sample_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return sequences(self.stream, sample_ids, self.context)


class ValData:
    """The first ``n`` non-overlapping sequences of the validation stream, in order.

    ``n`` is rounded down to a multiple of ``multiple_of`` (the number of processes), so
    that every process evaluates as many sequences as the others.
    """

    def __init__(self, stream: TokenStream, *, context: int, max_sequences: int, multiple_of: int = 1):
        self.stream, self.context = stream, context
        available = (len(stream) - 1) // context if len(stream) else 0
        self.n_sequences = min(max_sequences, available) // multiple_of * multiple_of

    def rank_ids(self, rank: int, world_size: int) -> list[int]:
        return list(range(rank, self.n_sequences, world_size))

    def batch(self, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return sequences(self.stream, ids, self.context)

    def target_tokens(self) -> np.ndarray:
        """Every token a validation loss is computed on (the targets of all sequences)."""
        if self.n_sequences == 0:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self.stream.read(i * self.context + 1, self.context) for i in range(self.n_sequences)])


def unigram_entropy(tokens: np.ndarray) -> float:
    """Entropy in nats of the tokens' own frequency distribution: the loss of the best context-free model."""
    counts = np.bincount(tokens)
    p = counts[counts > 0] / len(tokens)
    return float(-(p * np.log(p)).sum())

"""Training throughput of the trainer against a bare loop, on the CPU, in one process.

For each preset, the same model (same shape, same initial weights, same micro-batch
and sequence length) is trained twice:

* bare:    ``loss = cross_entropy(model(x), y); loss.backward(); adamw.step(); zero_grad()``
           on one fixed batch, nothing else;
* trainer: ``training_entry.loop.train`` on real shards, with everything it does each
           step (sample order, memory-mapped reads, lr schedule, gradient clipping,
           loss reduction, metrics.jsonl and log lines).

A step's time is, for the trainer, the wall time between consecutive metrics
records, so all the loop's work is counted. Rounds alternate the bare loop and the
trainer, each after a few warm-up steps. Reported: tokens/s of the fastest step of
each (the least disturbed by other processes on a shared machine; the primary
ratio) and of the median step. Target: trainer / bare >= 0.9. One thread by default:
on a small shared machine, multi-threaded timings swing by 5x with other load.

    .venv/bin/python bench/bench_trainer.py            # both presets, about 2 minutes
    .venv/bin/python bench/bench_trainer.py --presets tiny --threads 2

The shards are our real format, tokenized with a SentencePiece model trained here on
the standard library's docstrings; for the 32k vocabulary of the ~100M preset, its
learned pieces are padded with user-defined symbols to 32,000 so that the output
layer has LLaMA's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.config import PRESETS, flops_per_token, total_params  # noqa: E402
from model.llama import Llama  # noqa: E402
from samples.fixtures import stdlib_docstrings  # noqa: E402
from shard_format import file_sha256, shard_entry, write_manifest, write_shard  # noqa: E402
from training_entry.config import TrainConfig  # noqa: E402
from training_entry.loop import train  # noqa: E402
from training_entry.optim import build_optimizer  # noqa: E402

# preset: (sequence length, micro-batch size, vocabulary, warm-up steps, measured steps, rounds)
CASES = {
    "tiny": (128, 8, 400, 5, 40, 3),
    "small-100m": (256, 1, 32000, 1, 4, 2),
}


def make_data(root: Path, vocab: int, corpus: list[str]) -> Path:
    """OUT/tokenizer/tokenizer.model and OUT/shards as the pipeline writes them."""
    (root / "tokenizer").mkdir(parents=True)
    learned = min(vocab, 1000)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_prefix=str(root / "tokenizer" / "tokenizer"), vocab_size=vocab,
        model_type="bpe", user_defined_symbols=[f"<unused_{i}>" for i in range(vocab - learned)],
        num_threads=1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(root / "tokenizer" / "tokenizer.model"))
    docs = [np.array([sp.bos_id(), *sp.encode(d), sp.eos_id()]) for d in corpus]
    shards = root / "shards"
    shards.mkdir()
    sha = file_sha256(root / "tokenizer" / "tokenizer.model")
    write_shard(shards / "train-00000.bin", docs[1:], vocab_size=vocab, tokenizer_sha256=bytes.fromhex(sha))
    write_shard(shards / "val-00000.bin", docs[:1], vocab_size=vocab, tokenizer_sha256=bytes.fromhex(sha))
    write_manifest(shards, {"tokenizer_sha256": sha, "vocab_size": vocab,
                            "shards": {"train": [shard_entry(shards / "train-00000.bin")],
                                       "val": [shard_entry(shards / "val-00000.bin")]}})
    return shards


def bare_loop(preset: str, *, context: int, micro: int, vocab: int, warmup: int, steps: int) -> list[float]:
    """Seconds per step of the plainest possible training loop."""
    p = PRESETS[preset]
    cfg = p.model.replace(vocab_size=vocab, context=context)
    with torch.device("meta"):
        model = Llama(cfg)
    model.to_empty(device="cpu")
    model.init_weights(0)
    optimizer = build_optimizer(model, lr=p.peak_lr, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-5)
    tokens = torch.randint(0, vocab, (micro, context + 1), generator=torch.Generator().manual_seed(0))
    x, y = tokens[:, :-1], tokens[:, 1:]
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x).flatten(0, 1).float(), y.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
        times.append(time.perf_counter() - start)
    return times[warmup:]


def trainer_loop(preset: str, shards: Path, out: Path, *, context: int, micro: int, warmup: int,
                 steps: int) -> list[float]:
    """Seconds per step of training_entry's loop (wall time between consecutive metrics records)."""
    train(TrainConfig(data=str(shards), out=str(out), preset=preset, steps=warmup + steps, context=context,
                      batch_tokens=context * micro, micro_batch_size=micro, warmup_steps=1, log_every=10**6,
                      eval_every=10**6, ckpt_every=10**6, export=False))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    stamps = [r["time"] for r in records if r["kind"] == "train"]
    return list(np.diff(stamps))[warmup - 1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    corpus = stdlib_docstrings(200_000, min_chars=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            context, micro, vocab, warmup, steps, rounds = CASES[preset]
            shards = make_data(Path(tmp) / preset / "out", vocab, corpus)
            tokens = context * micro
            bare, ours = [], []  # seconds per step, all rounds
            for r in range(rounds):
                bare += bare_loop(preset, context=context, micro=micro, vocab=vocab, warmup=warmup, steps=steps)
                ours += trainer_loop(preset, shards, Path(tmp) / preset / f"run{r}", context=context, micro=micro,
                                     warmup=warmup, steps=steps)
                print(f"{preset} round {r + 1}: bare {tokens / statistics.median(bare[-steps:]):,.0f} tok/s, "
                      f"trainer {tokens / statistics.median(ours[-steps:]):,.0f} tok/s (medians)", flush=True)
            cfg = PRESETS[preset].model.replace(vocab_size=vocab, context=context)
            rows.append((preset, total_params(cfg), tokens, tokens / min(bare), tokens / min(ours),
                         min(bare) / min(ours), statistics.median(bare) / statistics.median(ours),
                         tokens / min(ours) * flops_per_token(cfg) / 1e9))
    print()
    print(f"{'preset':<11} {'params':>8} {'tokens/step':>11} {'bare tok/s':>11} {'trainer tok/s':>13} "
          f"{'ratio':>6} {'ratio (medians)':>15} {'trainer GFLOP/s':>15}")
    for preset, n, tokens, bare, ours, ratio, ratio_median, gflops in rows:
        print(f"{preset:<11} {n / 1e6:>7.1f}M {tokens:>11} {bare:>11,.0f} {ours:>13,.0f} {ratio:>6.2f} "
              f"{ratio_median:>15.2f} {gflops:>15.1f}")

if __name__ == "__main__":
    main()

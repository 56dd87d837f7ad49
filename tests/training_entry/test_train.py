"""The trainer in-process: overfitting, bitwise resume, and the errors a user can meet."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from shard_format import ShardFormatError, file_sha256
from training_entry import checkpoint
from training_entry.generate import generate, load_model
from training_entry.loop import train
from training_entry.resources import InsufficientMemoryError
from training_entry.tokenizer import DataMismatchError

from .helpers import config, records, write_shard_dir


def test_resume_gives_bitwise_identical_losses(shards, tmp_path):
    # 8 steps in one go, against 4 + 4 with a restart; 2 micro-batches per step exercise accumulation.
    train(config(shards, tmp_path / "whole"))
    train(config(shards, tmp_path / "split", stop_at_step=4))
    assert [r["step"] for r in records(tmp_path / "split", "train")] == [1, 2, 3, 4]
    assert checkpoint.latest(tmp_path / "split").name == "step-00000004"
    train(config(shards, tmp_path / "split"))

    whole, split = records(tmp_path / "whole", "train"), records(tmp_path / "split", "train")
    assert [r["step"] for r in split] == list(range(1, 9))
    assert [r["loss"] for r in split] == [r["loss"] for r in whole]  # exact float equality
    assert [r["grad_norm"] for r in split] == [r["grad_norm"] for r in whole]
    assert [r["lr"] for r in split] == [r["lr"] for r in whole]
    assert [r["val_loss"] for r in records(tmp_path / "split", "val")] == \
        [r["val_loss"] for r in records(tmp_path / "whole", "val")]
    assert whole[-1]["loss"] < whole[0]["loss"]  # it does learn
    a = load_file(checkpoint.latest(tmp_path / "whole") / "model.safetensors")
    b = load_file(checkpoint.latest(tmp_path / "split") / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    opt_a = torch.load(checkpoint.latest(tmp_path / "whole") / "optimizer.pt", weights_only=True)
    opt_b = torch.load(checkpoint.latest(tmp_path / "split") / "optimizer.pt", weights_only=True)
    assert all(torch.equal(opt_a["state"][k]["exp_avg_sq"], opt_b["state"][k]["exp_avg_sq"]) for k in opt_a["state"])
    # The data position: the same samples, step by step.
    samples = lambda run: (run / "samples" / "rank-0.jsonl").read_text()  # noqa: E731
    assert samples(tmp_path / "split") == samples(tmp_path / "whole")


def test_checkpoints_are_written_atomically_and_pruned(shards, tmp_path):
    train(config(shards, tmp_path / "run", steps=6, ckpt_every=2, keep_checkpoints=2))
    ckpts = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest", "step-00000004", "step-00000006"]
    assert (ckpts / "latest").read_text().strip() == "step-00000006"
    assert sorted(p.name for p in (ckpts / "step-00000006").iterdir()) == \
        ["model.safetensors", "optimizer.pt", "rng.pt", "state.json"]
    state = json.loads((ckpts / "step-00000006" / "state.json").read_text())
    assert state["step"] == 6 and state["samples_seen"] == 6 * 4 and state["tokens_seen"] == 6 * 128


def test_tiny_model_overfits_a_tiny_shard(tokenizer_path, corpus, tmp_path):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    doc = np.array([sp.bos_id(), *sp.encode(corpus[3]), sp.eos_id()])[: 4 * 32 + 1]  # exactly 4 sequences
    data = write_shard_dir(tmp_path / "shards", train=[doc], val=[doc], vocab_size=sp.get_piece_size(),
                           tokenizer_sha256=file_sha256(tokenizer_path), n_train_shards=1)
    run = tmp_path / "run"
    train(config(data, run, tokenizer=str(tokenizer_path), steps=120, warmup_steps=10, batch_tokens=128,
                 micro_batch_size=4, lr=1e-2, eval_every=120, ckpt_every=120, record_samples=False))
    losses = [r["loss"] for r in records(run, "train")]
    assert losses[0] > 5.0  # about ln(400) at the start
    assert losses[-1] < 0.5
    assert records(run, "val")[-1]["val_loss"] < 0.5

    # Greedy generation now recites the memorised text; top-p with a tiny nucleus is greedy too.
    model, _ = load_model(run)
    prompt, expected = doc[:12].tolist(), doc[12:28].tolist()
    assert generate(model, prompt, max_new_tokens=16) == expected
    gen = torch.Generator().manual_seed(0)
    assert generate(model, prompt, max_new_tokens=16, temperature=1.0, top_p=1e-6, generator=gen) == expected
    sampled = generate(model, prompt, max_new_tokens=16, temperature=5.0, top_p=1.0, generator=gen)
    assert len(sampled) == 16 and sampled != expected  # a hot full distribution wanders off


def test_vocabulary_mismatch_is_a_clear_error(shards, tokenizer_path, tmp_path):
    bad = write_shard_dir(tmp_path / "shards", train=[np.arange(200) % 400], val=[np.arange(50)],
                          vocab_size=500, tokenizer_sha256=file_sha256(tokenizer_path))
    with pytest.raises(DataMismatchError, match="vocabulary mismatch: the shards' manifest says 500 tokens "
                                                "but the tokenizer .* has 400"):
        train(config(bad, tmp_path / "run", tokenizer=str(tokenizer_path)))
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_other_tokenizer_is_a_clear_error(shards, corpus, tmp_path):
    import sentencepiece as spm

    # A real tokenizer of the same vocabulary size, trained on other text.
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus[::3]), model_prefix=str(tmp_path / "other"),
                                   vocab_size=400, model_type="bpe", num_threads=1, minloglevel=2)
    with pytest.raises(DataMismatchError, match="tokenizer mismatch: .*other.model has sha256"):
        train(config(shards, tmp_path / "run", tokenizer=str(tmp_path / "other.model")))


def test_missing_tokenizer_names_where_it_looked(tmp_path, shards):
    data = tmp_path / "out" / "shards"
    shutil.copytree(shards, data)
    with pytest.raises(FileNotFoundError, match=r"out/tokenizer/tokenizer\.model .*pass --tokenizer"):
        train(config(data, tmp_path / "run"))


def test_preset_too_big_for_memory_fails_before_allocating(shards, tmp_path):
    with pytest.raises(InsufficientMemoryError, match=r"preset 'llama1-65b' \(6\d\.\d\dB parameters\) needs about"):
        train(config(shards, tmp_path / "run", preset="llama1-65b", context=None, batch_tokens=None,
                     micro_batch_size=1, warmup_steps=1))


def test_resuming_with_another_recipe_is_refused(shards, tmp_path):
    train(config(shards, tmp_path / "run", stop_at_step=1))
    with pytest.raises(checkpoint.IncompatibleCheckpointError, match=r"different settings \(lr: 0\.003 -> 0\.001\)"):
        train(config(shards, tmp_path / "run", lr=1e-3))


@pytest.mark.slow
def test_activation_checkpointing_and_compile_train_the_same(shards, tmp_path):
    # Applied from outside the model; names in checkpoints stay the same, losses agree.
    train(config(shards, tmp_path / "plain", steps=3, eval_every=3))
    train(config(shards, tmp_path / "ac", steps=3, eval_every=3, activation_checkpointing=True))
    train(config(shards, tmp_path / "compiled", steps=3, eval_every=3, activation_checkpointing=True, compile=True))
    plain = [r["loss"] for r in records(tmp_path / "plain", "train")]
    assert [r["loss"] for r in records(tmp_path / "ac", "train")] == plain  # recomputation is exact on the CPU
    assert [r["loss"] for r in records(tmp_path / "compiled", "train")] == pytest.approx(plain, rel=1e-5)
    names = lambda run: sorted(load_file(checkpoint.latest(run) / "model.safetensors"))  # noqa: E731
    assert names(tmp_path / "compiled") == names(tmp_path / "ac") == names(tmp_path / "plain")


def test_truncated_or_foreign_shard_is_refused_before_training(shards, tmp_path):
    data = tmp_path / "out" / "shards"
    shutil.copytree(shards.parent, tmp_path / "out", dirs_exist_ok=True)
    victim = data / "train-00001.bin"
    original = victim.read_bytes()
    victim.write_bytes(original[: len(original) // 2])  # an interrupted copy
    with pytest.raises(ShardFormatError, match=r"train-00001\.bin: truncated shard"):
        train(config(data, tmp_path / "run"))
    victim.write_bytes(b"PK\x03\x04" + original[4:])  # same size, but a zip file's signature
    with pytest.raises(ShardFormatError, match=r"train-00001\.bin: not a token shard \(foreign file\)"):
        train(config(data, tmp_path / "run"))
    assert not (tmp_path / "run").exists()

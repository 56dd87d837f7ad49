"""`python -m training_entry` as a user runs it: train, generate, export, --help, and a clear error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shard_format import file_sha256

from .helpers import write_shard_dir

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "training_entry", *map(str, args)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained_run(shards, tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    result = cli("train", "--data", shards, "--out", run, "--preset", "tiny", "--steps", 60, "--context", 64,
                 "--batch-tokens", 512, "--warmup-steps", 5, "--eval-every", 30, "--log-every", 20,
                 "--ckpt-every", 30)
    return run, result.stdout


def test_train_reports_and_writes_its_outputs(trained_run):
    run, out = trained_run
    assert "step 20/60 | loss" in out and "tok/s | MFU" in out and "| ETA" in out
    assert "step 30/60 | validation loss" in out
    summary = json.loads((run / "summary.json").read_text())
    assert f"final validation loss {summary['final_val_loss']:.4f} nats/token; unigram entropy of the " \
           f"validation tokens {summary['val_unigram_entropy']:.4f}" in out
    assert summary["final_val_loss"] < summary["val_unigram_entropy"]  # it learnt more than token frequencies
    for name in ("metrics.jsonl", "loss.png", "tokenizer.model", "train_config.json", "hf/config.json",
                 "hf/model.safetensors", "hf/tokenizer.model", "checkpoints/step-00000060/model.safetensors"):
        assert (run / name).is_file(), name
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if m["kind"] == "train"] == list(range(1, 61))
    assert {"loss", "lr", "grad_norm", "tokens_per_s", "mfu", "data_s"} <= set(metrics[0])


def test_generate_prints_greedy_and_sampled_lines(trained_run):
    run, _ = trained_run
    out = cli("generate", "--checkpoint", run, "--prompt", "Return the", "--max-new-tokens", 12,
              "--num-samples", 2).stdout
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 3 and lines[0].startswith("[greedy] Return the")
    assert lines[1].startswith("[top-p 0.9, T 0.8, #1] Return the")
    again = cli("generate", "--checkpoint", run / "checkpoints" / "step-00000060", "--prompt", "Return the",
                "--max-new-tokens", 12, "--mode", "greedy").stdout
    assert lines[0] in again.splitlines()  # greedy is deterministic; a checkpoint directory works too


def test_export_command(trained_run, tmp_path):
    run, _ = trained_run
    cli("export", "--checkpoint", run, "--out", tmp_path / "hf")
    assert (tmp_path / "hf" / "model.safetensors").read_bytes() == (run / "hf" / "model.safetensors").read_bytes()


def test_help_for_every_command():
    assert "{train,generate,export}" in cli("--help").stdout
    train_help = cli("train", "--help").stdout
    for text in ("--data", "--preset", "--parallel {ddp,fsdp}", "llama1-65b", "resumed", "--stop-at-step"):
        assert text in train_help
    assert "--top-p" in cli("generate", "--help").stdout
    assert "from_pretrained" in cli("export", "--help").stdout


def test_vocabulary_mismatch_exits_with_a_message(tokenizer_path, tmp_path):
    data = write_shard_dir(tmp_path / "shards", train=[np.arange(300) % 50], val=[np.arange(40)], vocab_size=50,
                           tokenizer_sha256=file_sha256(tokenizer_path))
    result = cli("train", "--data", data, "--out", tmp_path / "run", "--tokenizer", tokenizer_path, check=False)
    assert result.returncode == 2
    assert "error: vocabulary mismatch: the shards' manifest says 50 tokens" in result.stderr
    assert "Traceback" not in result.stderr

"""`python -m training_entry` as a user runs it: train, generate, export, --help, and a clear error."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shard_format import file_sha256
from training_entry.cli import main

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


def one_error_line(capsys) -> str:
    """What a refused command printed: exactly one line on stderr, no traceback."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_export_never_deletes_a_directory_it_did_not_write(trained_run, tmp_path, capsys):
    run, _ = trained_run
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    assert main(["export", "--checkpoint", str(run), "--out", str(run)]) == 2  # the run directory itself
    assert f"refusing to replace {run}: it is not empty" in one_error_line(capsys)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    assert main(["export", "--checkpoint", str(run), "--out", str(mine)]) == 2
    one_error_line(capsys)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]

    (mine / "notes.txt").unlink()  # an empty directory may be used; an earlier export is replaced
    assert main(["export", "--checkpoint", str(run), "--out", str(mine)]) == 0
    assert main(["export", "--checkpoint", str(run), "--out", str(run / "hf")]) == 0  # train's own export
    assert (mine / "model.safetensors").read_bytes() == (run / "hf" / "model.safetensors").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary sibling left


@pytest.mark.parametrize("command", ["export", "train"])
def test_out_being_a_file_is_one_clear_line(trained_run, shards, tmp_path, capsys, command):
    run, _ = trained_run
    target = tmp_path / "a-file"
    target.write_text("keep me")
    args = ["export", "--checkpoint", str(run)] if command == "export" else ["train", "--data", str(shards)]
    assert main([*args, "--out", str(target)]) == 2
    assert f"{target} " in (line := one_error_line(capsys)) and "not a directory" in line
    assert target.read_text() == "keep me"


def test_train_refuses_a_folder_that_is_not_a_run(shards, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("the user's")
    assert main(["train", "--data", str(shards), "--out", str(tmp_path), "--steps", "2"]) == 2
    assert "is not empty and is not a run directory" in one_error_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("option, value, message", [
    ("--top-p", "0", r"--top-p must be in \(0, 1\], got 0"),
    ("--top-p", "1.5", r"--top-p must be in \(0, 1\], got 1.5"),
    ("--temperature", "-1", r"--temperature must be > 0, got -1"),
    ("--temperature", "0", r"--temperature must be > 0, got 0"),
])
def test_generate_sampling_settings_out_of_range_are_one_clear_line(trained_run, capsys, option, value, message):
    run, _ = trained_run
    assert main(["generate", "--checkpoint", str(run), "--prompt", "The", "--max-new-tokens", "4",
                 "--mode", "top-p", option, value]) == 2
    assert re.search(message, one_error_line(capsys))


def test_generate_help_gives_the_valid_ranges():
    text = cli("generate", "--help").stdout
    assert "in (0, 1]" in text and "> 0" in text


def test_train_refuses_an_hf_folder_it_did_not_write_before_training(shards, tmp_path, capsys):
    (tmp_path / "run" / "hf").mkdir(parents=True)
    (tmp_path / "run" / "train_config.json").write_text("{}")  # looks like a run directory
    (tmp_path / "run" / "hf" / "notes.txt").write_text("the user's")
    assert main(["train", "--data", str(shards), "--out", str(tmp_path / "run"), "--steps", "2"]) == 2
    assert "or pass --no-export" in one_error_line(capsys)
    assert sorted(p.name for p in (tmp_path / "run").rglob("*")) == ["hf", "notes.txt", "train_config.json"]

"""Torn files never block a resume: a half-written metrics line, a truncated checkpoint, a finished run rerun."""

import logging

import torch
from safetensors.torch import load_file

from training_entry import checkpoint
from training_entry.cli import main

from .helpers import records

ARGS = ["--steps", "8", "--context", "32", "--batch-tokens", "128", "--micro-batch-size", "2", "--warmup-steps", "2",
        "--eval-every", "4", "--eval-sequences", "8", "--ckpt-every", "2", "--no-export", "--peak-tflops", "1"]


def train(shards, run, *extra) -> None:
    assert main(["train", "--data", str(shards), "--out", str(run), *ARGS, *extra]) == 0


def final_weights(run) -> dict[str, torch.Tensor]:
    return load_file(checkpoint.latest(run) / "model.safetensors")


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_torn_last_metrics_line_is_dropped_with_a_warning(shards, tmp_path, caplog):
    run = tmp_path / "run"
    train(shards, run, "--stop-at-step", "4")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "step": 5, "loss": 4.1')  # the disk filled up mid-line
    train(shards, run)
    assert f"{run / 'metrics.jsonl'}: dropping its torn last line" in caplog.text
    assert [r["step"] for r in records(run, "train")] == list(range(1, 9))
    assert [r["step"] for r in records(run, "val")] == [4, 8]
    assert not list(run.glob(".metrics.jsonl.*"))  # rewritten through a temporary file


def test_a_truncated_checkpoint_falls_back_to_the_previous_one(shards, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="training_entry")
    train(shards, tmp_path / "whole")
    run = tmp_path / "run"
    train(shards, run, "--stop-at-step", "4")
    weights = run / "checkpoints" / "step-00000004" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # an interrupted copy of the run directory
    train(shards, run)
    ckpts = run / "checkpoints"
    assert f"checkpoint {ckpts / 'step-00000004'} is incomplete (model.safetensors has 1000 bytes" in caplog.text
    assert f"resumed from {ckpts / 'step-00000002'} at step 2" in caplog.text
    assert same_weights(final_weights(run), final_weights(tmp_path / "whole"))
    assert [r["step"] for r in records(run, "train")] == list(range(1, 9))


def test_rerunning_a_finished_run_adds_nothing(shards, tmp_path, caplog):
    run = tmp_path / "run"
    train(shards, run, "--steps", "6", "--eval-every", "4")  # the last validation comes after the last save
    metrics = (run / "metrics.jsonl").read_bytes()
    assert [r["step"] for r in records(run, "val")] == [4, 6]
    caplog.set_level(logging.INFO, logger="training_entry")
    train(shards, run, "--steps", "6", "--eval-every", "4")
    assert (run / "metrics.jsonl").read_bytes() == metrics
    assert "step 6/6 | validation loss" in caplog.text  # evaluated again for the summary, recorded once


def test_a_run_whose_checkpoints_are_all_damaged_is_not_restarted_over_them(shards, tmp_path, capsys):
    run = tmp_path / "run"
    train(shards, run, "--stop-at-step", "4")
    for step in (2, 4):
        (run / "checkpoints" / f"step-{step:08d}" / "optimizer.pt").unlink()
    capsys.readouterr()
    assert main(["train", "--data", str(shards), "--out", str(run), *ARGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no complete checkpoint (step-00000004, step-00000002 damaged)" in err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-00000002", "step-00000004"]

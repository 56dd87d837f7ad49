"""The trainer killed at named points (LLAMA_FAULT, see training_entry/faults.py), then rerun.

Each run is killed with SIGKILL while writing a checkpoint or a metrics line. The rerun
of the same command must resume and end with weights bitwise equal to an uninterrupted
run's, and no partial checkpoint may ever be taken for a complete one.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training_entry.conftest import corpus, data_root, one_thread, shards  # noqa: F401 (fixtures)
from training_entry import checkpoint
from training_entry.cli import main

ROOT = Path(__file__).resolve().parents[2]
# 6 steps, a checkpoint every 2, validation at 3 and 6.
ARGS = ["--steps", "6", "--context", "32", "--batch-tokens", "128", "--micro-batch-size", "2", "--warmup-steps", "2",
        "--eval-every", "3", "--eval-sequences", "8", "--ckpt-every", "2", "--keep-checkpoints", "2", "--no-export",
        "--peak-tflops", "1"]


def killed_run(shards, run, fault: str) -> None:
    """The CLI in a child process that LLAMA_FAULT kills; it must die by SIGKILL, not finish or fail."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "LLAMA_FAULT": fault}
    result = subprocess.run([sys.executable, "-m", "training_entry", "train", "--data", str(shards), "--out", str(run),
                             *ARGS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stdout[-2000:] + result.stderr[-2000:]


def rerun(shards, run) -> None:
    assert main(["train", "--data", str(shards), "--out", str(run), *ARGS]) == 0


def weights(run) -> dict[str, torch.Tensor]:
    return load_file(checkpoint.latest(run) / "model.safetensors")


@pytest.fixture(scope="module")
def reference(shards, tmp_path_factory):
    """The uninterrupted run's final weights and metrics."""
    run = tmp_path_factory.mktemp("reference") / "run"
    rerun(shards, run)
    return weights(run), metrics(run)


def metrics(run) -> list[tuple]:
    """(kind, step, loss) of every metrics record; every line must be whole JSON."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [(r["kind"], r["step"], r.get("loss", r.get("val_loss"))) for r in map(json.loads, lines)]


@pytest.mark.parametrize("fault, after_kill, resumes_from", [
    # Killed at the second checkpoint (step 4): weights written, optimizer and state not yet.
    ("checkpoint:after_weights@2", ["step-00000002", "step-00000004.tmp"], "step-00000002"),
    # Every file written and synced, not yet renamed into place.
    ("checkpoint:before_rename@2", ["step-00000002", "step-00000004.tmp"], "step-00000002"),
    # Renamed, but `latest` still names step 2: a checkpoint counts once `latest` names it.
    ("checkpoint:before_latest@2", ["step-00000002", "step-00000004"], "step-00000002"),
    # Half of the 6th metrics line (step 5's) written: a torn last line after the step-4 checkpoint.
    ("metrics:mid_line@6", ["step-00000002", "step-00000004"], "step-00000004"),
])
def test_killed_run_resumes_to_the_same_weights(shards, reference, tmp_path, fault, after_kill, resumes_from):
    run = tmp_path / "run"
    killed_run(shards, run, fault)
    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir() if p.is_dir()) == after_kill
    assert checkpoint.latest(run).name == resumes_from
    if fault.endswith("after_weights@2"):  # the partial one would not pass for complete even by its name
        assert checkpoint.incomplete(ckpts / "step-00000004.tmp").startswith("state.json unreadable")
    if fault.startswith("metrics"):
        assert not (run / "metrics.jsonl").read_text().endswith("\n")  # really torn

    rerun(shards, run)
    ref_weights, ref_metrics = reference
    ours = weights(run)
    assert ours.keys() == ref_weights.keys() and all(torch.equal(ours[k], ref_weights[k]) for k in ours)
    assert metrics(run) == ref_metrics  # each step once, the same losses, nothing torn
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest", "step-00000004", "step-00000006"]
    assert all(checkpoint.incomplete(ckpts / name) is None for name in ("step-00000004", "step-00000006"))

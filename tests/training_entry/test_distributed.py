"""Two processes on the CPU (gloo) under torchrun: DDP and FSDP2, and resuming across world sizes.

The data order is defined by global sample index, so every step must read exactly the
samples of an uninterrupted single-process run, whatever the number of processes
before and after the restart; the losses agree up to float reduction order.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shard_format import HEADER_SIZE
from training_entry.loop import train

from .helpers import config, records

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SETTINGS = dict(steps=6, context=32, batch_tokens=256, micro_batch_size=2, warmup_steps=2, eval_every=3,
                eval_sequences=8)  # 8 sequences a step: 4 micro-batches alone, 2 per process with two


def torchrun(shards, out, *extra, launcher=(), check=True):
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *launcher,
            "-m", "training_entry", "train", "--data", str(shards), "--out", str(out), "--preset", "tiny",
            "--no-export", "--record-samples", "--log-every", "1"]
    for key, value in SETTINGS.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([*args, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if not check:
        return result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def samples_by_step(run: Path) -> dict[int, list[int]]:
    """Global sample ids each step read, all ranks together in rank order; each (step, rank) once."""
    by_step: dict[int, dict[int, list[int]]] = {}
    for path in sorted((run / "samples").glob("rank-*.jsonl")):
        for r in map(json.loads, path.read_text().splitlines()):
            assert r["rank"] not in by_step.setdefault(r["step"], {}), f"step {r['step']} recorded twice"
            by_step[r["step"]][r["rank"]] = r["samples"]
    return {step: [s for rank in sorted(ranks) for s in ranks[rank]] for step, ranks in sorted(by_step.items())}


@pytest.fixture(scope="module")
def reference(shards, tmp_path_factory):
    """An uninterrupted single-process run."""
    run = tmp_path_factory.mktemp("reference") / "run"
    train(config(shards, run, **SETTINGS))
    return run


def check_same_as_reference(run: Path, reference: Path):
    assert samples_by_step(run) == samples_by_step(reference)  # no sample repeated or skipped, same order
    assert list(samples_by_step(run)) == list(range(1, 7))
    ours, ref = records(run, "train"), records(reference, "train")
    assert [r["step"] for r in ours] == list(range(1, 7))
    for a, b in zip(ours, ref):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6)
    for a, b in zip(records(run, "val"), records(reference, "val")):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)


def test_fsdp_two_processes_then_resume_alone(shards, reference, tmp_path):
    run = tmp_path / "run"
    out = torchrun(shards, run, "--parallel", "fsdp", "--stop-at-step", "3")
    assert "2 processes (fsdp)" in out and "stopped at step 3 of 6" in out
    state = json.loads((run / "checkpoints" / "step-00000003" / "state.json").read_text())
    assert state["world_size"] == 2 and state["samples_seen"] == 24
    train(config(shards, run, **SETTINGS))  # the rest with one process
    check_same_as_reference(run, reference)


def test_alone_then_resume_with_ddp_two_processes(shards, reference, tmp_path):
    run = tmp_path / "run"
    train(config(shards, run, stop_at_step=3, **SETTINGS))
    out = torchrun(shards, run, "--parallel", "ddp")
    assert "resumed from" in out and "2 processes (ddp)" in out
    check_same_as_reference(run, reference)


def test_shards_are_verified_across_processes(data_root, tmp_path):
    # Shard 1 (train-00001.bin) is hashed by rank 1 only; rank 0 must learn of it and stop too.
    shutil.copytree(data_root, tmp_path / "out")
    victim = tmp_path / "out" / "shards" / "train-00001.bin"
    data = bytearray(victim.read_bytes())
    data[HEADER_SIZE] ^= 1  # token 0: BOS (1) becomes 0, still inside the vocabulary
    victim.write_bytes(bytes(data))
    result = torchrun(tmp_path / "out" / "shards", tmp_path / "run", launcher=["--tee", "3"], check=False)
    assert result.returncode != 0
    for rank in (0, 1):
        assert f"[default{rank}]:error: {victim}: sha256 differs from the manifest's" in result.stderr
    assert not (tmp_path / "run").exists()

"""The pipeline killed (SIGKILL, as `kill -9` or a lost machine) at named points of a stage:
no stage ever looks finished with partial outputs, and the rerun's outputs equal an
uninterrupted run's byte for byte (the digest of tools/output_digest.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.test_run_state import tiny_config
from tools.output_digest import differences, digest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def pipeline(config: Path, out: Path, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LLAMA_FAULT"}
    if fault:
        env["LLAMA_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", str(config), "--output", str(out),
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    return tiny_config(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="module")
def uninterrupted(config, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("whole") / "out"
    done = pipeline(config, out)
    assert done.returncode == 0, done.stderr[-3000:]
    return digest(out)


def finished(out: Path) -> set[str]:
    return {p.stem for p in (out / ".stages").glob("*.json")} if (out / ".stages").exists() else set()


@pytest.mark.parametrize("point, stage", [
    ("stage:running:curate", "curate"),  # the Beam job ran, nothing published
    ("stage:publishing:curate", "curate"),  # curated/ of one source moved, the rest not
    ("stage:before_record:tokenizer", "tokenizer"),  # published, no completion record
    ("stage:publishing:shards", "shards"),
])
def test_killed_anywhere_the_rerun_equals_an_uninterrupted_run(config, uninterrupted, tmp_path, point, stage):
    out = tmp_path / "out"
    killed = pipeline(config, out, point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert stage not in finished(out), f"{stage} looks finished after being killed at {point}"
    if stage == "curate":
        # What a killed curate left must not feed a later stage run on its own.
        alone = subprocess.run([sys.executable, "-m", "pipeline", "tokenizer", "--config", str(config), "--output",
                                str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert alone.returncode == 2 and "curate" in alone.stderr.strip().splitlines()[-1]
        assert not (out / "tokenizer").exists()
    rerun = pipeline(config, out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert differences(uninterrupted, digest(out)) == []
    assert finished(out) == {"models", "curate", "tokenizer", "shards"}
    assert not [p for p in out.rglob(".tmp-*")] and not [p for p in out.rglob(".old-*")]
    assert not (out / ".lock").exists()
    assert json.loads((out / ".stages" / f"{stage}.json").read_text())["outputs"]

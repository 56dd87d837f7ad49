"""Shards are verified before their tokens train anything: sha256 against the manifest, ids against the vocabulary."""

import json
import logging
import shutil

import pytest

from shard_format import HEADER_SIZE, shard_entry, write_manifest
from training_entry.cli import main

# The helpers' few-step run, as a user types it.
ARGS = ["--steps", "8", "--context", "32", "--batch-tokens", "128", "--micro-batch-size", "2", "--warmup-steps", "2",
        "--eval-every", "4", "--eval-sequences", "8", "--no-export", "--peak-tflops", "1"]


@pytest.fixture
def data(data_root, tmp_path):
    """A private copy of OUT (tokenizer/ and shards/) to damage."""
    shutil.copytree(data_root, tmp_path / "out")
    return tmp_path / "out" / "shards"


def set_token(shard, offset: int, value: int) -> int:
    """Overwrite one token in place (the header stays valid); returns the old id."""
    with open(shard, "r+b") as f:
        f.seek(HEADER_SIZE + 2 * offset)
        old = int.from_bytes(f.read(2), "little")
        f.seek(HEADER_SIZE + 2 * offset)
        f.write(value.to_bytes(2, "little"))
    return old


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_a_token_changed_inside_the_vocabulary_is_refused_before_training(data, tmp_path, capsys):
    old = set_token(data / "train-00001.bin", 100, 0)
    set_token(data / "train-00001.bin", 100, (old + 1) % 400)  # still a valid id: only the sha256 can tell
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *ARGS]) == 2
    assert f"{data / 'train-00001.bin'}: sha256 differs from the manifest's" in error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_token_outside_the_vocabulary_names_shard_and_offset(data, tmp_path, capsys):
    # Written that way (a writer's bug), so the manifest's sha256 agrees: only the id check can tell.
    # Validation reads its sequences in order: sequence 1 holds tokens 32..64 of the val shard.
    set_token(data / "val-00000.bin", 40, 60000)
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["shards"]["val"] = [shard_entry(data / "val-00000.bin")]
    write_manifest(data, manifest)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *ARGS]) == 2
    assert f"{data / 'val-00000.bin'}: token id 60000 at token offset 40 is outside the vocabulary [0, 400)" \
        in error_line(capsys)


def test_no_verify_skips_the_hashing(data, tmp_path):
    set_token(data / "train-00000.bin", 7, (set_token(data / "train-00000.bin", 7, 0) + 1) % 400)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--no-verify", *ARGS,
                 "--steps", "3"]) == 0
    assert not (tmp_path / "run" / "verified_shards.json").exists()


def test_verified_once_per_run_and_again_when_a_shard_changes(data, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="training_entry")
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--stop-at-step", "2", *ARGS]) == 0
    assert "verifying the sha256 of 3" in caplog.text
    record = json.loads((run / "verified_shards.json").read_text())["shards"]
    manifest = json.loads((data / "manifest.json").read_text())
    assert sorted(r["sha256"] for r in record) == \
        sorted(e["sha256"] for split in ("train", "val") for e in manifest["shards"][split])

    caplog.clear()
    assert main(["train", "--data", str(data), "--out", str(run), "--stop-at-step", "4", *ARGS]) == 0
    assert "sha256 of all 3 already verified" in caplog.text and "verifying" not in caplog.text

    set_token(data / "val-00000.bin", 3, (set_token(data / "val-00000.bin", 3, 0) + 1) % 400)  # rewritten since
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--out", str(run), *ARGS]) == 2
    assert "val-00000.bin: sha256 differs from the manifest's" in error_line(capsys)

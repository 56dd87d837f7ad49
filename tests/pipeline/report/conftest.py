"""A finished run of the sample's small sources (C4 rebuilt, Wikipedia, Books, ArXiv; no CommonCrawl,
GitHub or StackExchange): every stage in seconds, shared by the report tests."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from pipeline import cli

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"


def tiny_config(path: Path) -> Path:
    path.write_text(json.dumps({  # JSON is YAML
        "inputs": {
            "c4": [str(SAMPLE / "c4" / "*.json.gz")],
            "wikipedia": [str(SAMPLE / "wikipedia" / "*.xml.bz2")],
            "books": [str(SAMPLE / "books" / "*.txt")],
            "arxiv": [str(SAMPLE / "arxiv" / "*")],
        },
        "c4": {"mode": "rebuild", "rules": {"bad_words": str(ROOT / "configs" / "c4_badwords_en.txt")}},
        "tokenizer": {"vocab_size": 500},
        "shards": {"target_tokens_per_shard": 200_000, "val_fraction": 0.05},
    }))
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(OUT, what `pipeline run` printed) of a finished run on the small sources."""
    if not (SAMPLE / "MANIFEST.json").exists():
        pytest.fail("data/sample is missing: `make test` builds it (make sample)")
    d = tmp_path_factory.mktemp("report-run")
    out, printed = d / "out", io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["run", "--config", str(tiny_config(d / "tiny.yaml")), "--output", str(out), "--quiet"]) == 0
    return out, printed.getvalue()


@pytest.fixture
def fake_train_run(tmp_path):
    """A train run directory as `training_entry train` + `generate --save` leave it (metrics written here)."""
    run = tmp_path / "train"
    run.mkdir()
    lines = [{"kind": "train", "step": s, "loss": 9 - s / 100, "lr": 1e-3, "grad_norm": 0.5, "tokens_per_s": 1000.0 + s,
              "mfu": 0.01 * (s % 3 + 1), "step_s": 0.5, "data_s": 0.001, "time": 0.0} for s in range(1, 301)]
    lines += [{"kind": "val", "step": s, "val_loss": 8 - s / 200, "tokens": 4096, "time": 0.0} for s in (100, 200, 300)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (run / "summary.json").write_text(json.dumps({"steps": 300, "tokens_seen": 300 * 2048, "final_val_loss": 6.5,
                                                  "val_unigram_entropy": 6.9, "tokens_per_s": 1150.0}))
    (run / "generations.json").write_text(json.dumps({"checkpoint": "x", "seed": 0, "samples": [
        {"mode": "greedy", "prompt": "The <river>", "continuation": " flows & bends"}]}))
    return run

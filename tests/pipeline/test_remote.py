"""OUT on object storage: the whole pipeline on the sample with --output s3://..., spoken to over
HTTP by Beam's S3 filesystem (boto3) against a moto S3 server on a loopback port. Its outputs
equal a local run's byte for byte (the golden digest), and a rerun reads its records from S3."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.output_digest import differences, digest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def pipeline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


def download(uri: str, flags: list[str], local: Path) -> None:
    script = ("import sys; from apache_beam.io.filesystems import FileSystems; "
              "from apache_beam.options.pipeline_options import PipelineOptions; "
              "FileSystems.set_options(PipelineOptions(sys.argv[3:])); "
              "from pipeline.store import Store; Store(sys.argv[1]).download_tree('', sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, uri, str(local), *flags], cwd=ROOT, check=True)


def test_a_run_on_s3_writes_what_a_local_run_writes(s3, tmp_path):
    uri = "s3://bucket/sample"
    done = pipeline("run", "--config", "configs/sample.yaml", "--output", uri, "--quiet", *s3)
    assert done.returncode == 0, done.stderr[-4000:]
    copy = tmp_path / "copy"
    download(uri, s3, copy)
    golden = json.loads((ROOT / "tests" / "golden" / "sample.json").read_text())
    assert differences(golden, digest(copy)) == []  # curated, rejected, stats, models, tokenizer, shards
    records = {p.stem: json.loads(p.read_text()) for p in (copy / ".stages").glob("*.json")}
    assert set(records) == {"models", "curate", "tokenizer", "shards"}
    assert not list(copy.glob(".tmp-*")) and not (copy / ".lock").exists()
    cards = json.loads((copy / "models" / "cards.json").read_text())
    assert cards["lid"]["path"] == "models/lid.176.ftz"  # relative to OUT: workers read it from the bucket

    again = pipeline("run", "--config", "configs/sample.yaml", "--output", uri, *s3)
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stderr.count("already finished with this config, skipped") == 4
    assert "== cc ==" in again.stdout  # the summaries, rebuilt from what the stages wrote to S3


def test_an_s3_prefix_holding_someone_elses_files_is_refused(s3, tmp_path):
    foreign = "s3://bucket/someone-else"
    download_dir = tmp_path / "x"
    download_dir.mkdir()
    (download_dir / "notes.txt").write_text("not a pipeline output")
    script = ("import sys; from apache_beam.io.filesystems import FileSystems; "
              "from apache_beam.options.pipeline_options import PipelineOptions; "
              "FileSystems.set_options(PipelineOptions(sys.argv[3:])); "
              "from pipeline.store import Store; Store(sys.argv[1]).upload(sys.argv[2], 'notes.txt')")
    subprocess.run([sys.executable, "-c", script, foreign, str(download_dir / "notes.txt"), *s3], cwd=ROOT, check=True)
    refused = pipeline("models", "--config", "configs/sample.yaml", "--output", foreign, *s3)
    assert refused.returncode == 2
    assert "holds files that are not a pipeline output" in refused.stderr.strip().splitlines()[-1]

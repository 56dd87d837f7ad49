"""The same job gives the same documents on FnApiRunner, the multi-process
DirectRunner and the portable runner (Beam's own Python job service)."""
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ["--set", "sample.max_records_per_file=60", "--set", "inputs.wikipedia=[]"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _run(out: Path, beam_args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", "configs/sample.yaml", "--output", str(out),
         *SUBSET, *beam_args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def _contents(out: Path):
    def rows(kind, columns):
        return sorted(tuple(r[c] for c in columns)
                      for f in sorted((out / kind / "cc").glob("*.parquet"))
                      for r in pq.read_table(f, columns=columns).to_pylist())
    stats = json.loads((out / "stats.json").read_text())["sources"]
    return rows("curated", ["id", "text", "lang"]), rows("rejected", ["id", "stage", "reason"]), stats


@pytest.fixture(scope="module")
def job_service():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("localhost", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("Beam's local job service did not start within 60 s")
    yield f"localhost:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_three_runners_give_the_same_documents(tmp_path, job_service):
    _run(tmp_path / "fnapi", [])
    reference = _contents(tmp_path / "fnapi")
    assert reference[0] and reference[1], "the subset must keep and drop something"

    _run(tmp_path / "multi", ["--runner", "DirectRunner", "--direct_running_mode", "multi_processing",
                              "--direct_num_workers", "2"])
    assert _contents(tmp_path / "multi") == reference

    _run(tmp_path / "portable", ["--runner", "PortableRunner", "--job_endpoint", job_service,
                                 "--environment_type", "LOOPBACK"])
    assert _contents(tmp_path / "portable") == reference

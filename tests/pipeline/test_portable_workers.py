"""Workers that have only the staged package: the CC curation and the shard stage through
Beam's PortableRunner, against Beam's own Python job service, with EXTERNAL SDK workers from
`worker_pool_main`. The workers run from a virtualenv holding apache-beam and the sdist
built from beam_setup.py (not the checkout), in a mount namespace where the checkout and
the launcher's /tmp are empty tmpfs mounts, with a HOME, TMPDIR and working directory of
their own. Inputs, outputs and models live on a moto S3 server. The outputs equal the
in-process runner's.

What this proves: no worker-side code path needs the launcher's files or the checkout;
everything a worker reads comes through the staged package, the pipeline options and
Beam's filesystems. What only a real Dataflow/Flink/Spark run proves: the runner's
container image and its boot program installing the staged sdist (README, "Remote runners").
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import free_port
from tools.output_digest import digest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
WORKER_VENV = ROOT / ".cache" / "worker-venv"

pytestmark = pytest.mark.slow


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    import socket

    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"{what} is not listening on {port}")


@pytest.fixture(scope="module")
def worker_pool(tmp_path_factory):
    """`localhost:PORT` of a worker pool that sees neither the checkout nor the launcher's /tmp."""
    if not (WORKER_VENV / ".built").exists():
        pytest.fail(f"{WORKER_VENV} is missing: `make test` builds it (make worker-venv)")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to hide the checkout in a mount namespace")
    dist = tmp_path_factory.mktemp("dist")
    sdist = subprocess.run([sys.executable, "beam_setup.py", "sdist", "--dist-dir", str(dist)], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    # This checkout's worker code, as a remote runner's workers get it: the staged sdist, installed.
    subprocess.run([str(WORKER_VENV / "bin" / "pip"), "install", "--quiet", "--no-deps", "--force-reinstall", sdist],
                   check=True)
    # The boot step a runner's SDK container runs (pipeline options from the provision service).
    shutil.copy(ROOT / "tests" / "pipeline" / "worker_boot.py", WORKER_VENV / "bin" / "llama-data-worker-boot.py")
    boot = WORKER_VENV / "bin" / "llama-data-worker-boot"
    boot.write_text("#!/bin/sh\nexec /run/llama-data-worker/venv/bin/python "
                    "/run/llama-data-worker/venv/bin/llama-data-worker-boot.py \"$@\"\n")
    boot.chmod(0o755)
    port = free_port()
    script = textwrap.dedent(f"""\
        set -e
        mkdir -p /run/llama-data-worker
        mount -t tmpfs worker /run/llama-data-worker
        mkdir /run/llama-data-worker/venv
        mount --bind {WORKER_VENV} /run/llama-data-worker/venv
        mount -t tmpfs hidden {ROOT}
        mount -t tmpfs hidden /tmp
        mkdir -p /tmp/home /tmp/work
        cd /tmp/work
        exec /run/llama-data-worker/venv/bin/python -m apache_beam.runners.worker.worker_pool_main \\
            --service_port={port} --container_executable=/run/llama-data-worker/venv/bin/llama-data-worker-boot
        """)
    # The worker venv's python first on PATH, for the boot script and what it starts.
    env = {"PATH": "/run/llama-data-worker/venv/bin:/usr/bin:/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp",
           "LANG": "C.UTF-8"}
    pool = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, pool, "the worker pool")
    # Proof of the isolation, from inside the namespace the workers live in.
    look = subprocess.run(["nsenter", "--target", str(pool.pid), "--mount", "sh", "-c",
                           f"ls -A {ROOT} 2>/dev/null; ls -A /tmp"], capture_output=True, text=True).stdout.split()
    assert "pipeline" not in look and "pyproject.toml" not in look and set(look) <= {"home", "work"}, look
    yield f"localhost:{port}"
    pool.terminate()
    pool.wait(timeout=30)


@pytest.fixture(scope="module")
def job_service():
    port = free_port()
    service = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, service, "the job service")
    yield f"localhost:{port}"
    service.terminate()
    service.wait(timeout=30)


def upload(s3: list[str], files: dict[str, Path]) -> None:
    script = ("import sys, json; from apache_beam.io.filesystems import FileSystems; "
              "from apache_beam.options.pipeline_options import PipelineOptions; "
              "FileSystems.set_options(PipelineOptions(sys.argv[2:])); "
              "from pipeline.store import Store; store = Store('s3://bucket'); "
              "[store.upload(local, key) for key, local in json.loads(sys.argv[1]).items()]")
    subprocess.run([sys.executable, "-c", script, json.dumps({k: str(v) for k, v in files.items()}), *s3],
                   cwd=ROOT, check=True)


def pipeline(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline", *args, "--quiet"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]


def downloaded(uri: str, s3: list[str], local: Path) -> dict:
    script = ("import sys; from apache_beam.io.filesystems import FileSystems; "
              "from apache_beam.options.pipeline_options import PipelineOptions; "
              "FileSystems.set_options(PipelineOptions(sys.argv[3:])); "
              "from pipeline.store import Store; Store(sys.argv[1]).download_tree('', sys.argv[2])")
    shutil.rmtree(local, ignore_errors=True)
    subprocess.run([sys.executable, "-c", script, uri, str(local), *s3], cwd=ROOT, check=True)
    got = digest(local)
    return {k: got[k] for k in ("curated", "rejected", "stats", "shards")}


def test_cc_and_shards_on_external_workers_that_have_only_the_staged_package(s3, worker_pool, job_service,
                                                                             tmp_path):
    cc = sorted((SAMPLE / "cc").glob("*.warc.wet.gz"))
    wiki = sorted((SAMPLE / "wikipedia").glob("*.xml.bz2"))
    upload(s3, {f"inputs/cc/{p.name}": p for p in cc} | {f"inputs/wikipedia/{p.name}": p for p in wiki})
    config = tmp_path / "remote.yaml"
    config.write_text(json.dumps({
        "extends": str(ROOT / "configs" / "sample.yaml"),
        "inputs": {"cc": ["s3://bucket/inputs/cc/*.warc.wet.gz"], "wikipedia": ["s3://bucket/inputs/wikipedia/*.xml.bz2"],
                   "c4": [], "github": [], "books": [], "arxiv": [], "stackexchange": []},
        "sample": {"max_records_per_file": 150},
        "tokenizer": {"vocab_size": 1000},
    }))
    out = "s3://bucket/portable"
    common = ["--config", str(config), "--output", out, *s3]
    portable = ["--runner", "PortableRunner", "--job_endpoint", job_service, "--environment_type", "EXTERNAL",
                "--environment_config", worker_pool]
    pipeline("models", *common)  # trains on the launcher: its one Beam job runs in process
    pipeline("curate", *common, *portable)
    pipeline("tokenizer", *common)
    pipeline("shards", *common, *portable)
    on_workers = downloaded(out, s3, tmp_path / "portable")
    assert on_workers["curated"]["cc"].split()[0] != "0"

    pipeline("curate", *common, "--force")  # the same stages in process
    pipeline("shards", *common, "--force")
    assert downloaded(out, s3, tmp_path / "in-process") == on_workers

"""Beam pipeline options: the local default, and packaging our code for remote workers."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNNER = "FnApiRunner"  # in-process; DirectRunner would first try to download Prism
LOCAL_RUNNERS = {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner"}


WORKER_PACKAGES = ["pipeline", "filters", "tokenizer_training", "shard_format"]


def build_worker_package(dist_dir: Path) -> Path:
    """Build the sdist remote workers install (beam_setup.py: our packages, no torch).

    Built in a copy of just those packages: next to pyproject.toml, setuptools would
    merge the full project's metadata (torch included) into it.
    """
    dist_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-data-worker-") as tmp:
        for package in WORKER_PACKAGES:
            shutil.copytree(ROOT / package, Path(tmp) / package,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copyfile(ROOT / "beam_setup.py", Path(tmp) / "setup.py")
        subprocess.run(
            [sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(dist_dir.resolve())],
            cwd=tmp, check=True, stdout=subprocess.DEVNULL,
        )
    (sdist,) = sorted(dist_dir.glob("*.tar.gz"))
    return sdist


def is_remote(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner or DEFAULT_RUNNER
    if runner in LOCAL_RUNNERS:
        return False
    env = options.get_all_options().get("environment_type") or ""
    # PortableRunner with LOOPBACK runs the SDK harness in this process: nothing to stage.
    return not (runner == "PortableRunner" and env.upper() == "LOOPBACK")


def guard_beam_data_plane() -> None:
    """Turn off the local runner's time-based flushing of data streams: it loses elements.

    The FnApiRunner's data plane (the gRPC one of `--direct_running_mode multi_processing`
    and the in-process one alike) wraps every stream in Beam's
    `TimeBasedBufferingClosableOutputStream` with a 1 s period
    (`worker_handlers.DATA_BUFFER_TIME_LIMIT_MS`, Beam 2.77). Its flusher thread runs
    `get(); callback(...); _clear()` while `write()` takes no lock: what the runner writes
    while the callback waits (it blocks while the 100 MB send queue is full, i.e. whenever
    a bundle's input is large) is cleared unsent. At 1 GB of CC text the line-dedup join
    lost thousands of documents or removal orders this way, nondeterministically
    (bench/RESULTS.md, "The 1 GB line-dedup loss"); summary.AccountingError caught it.
    With the limit 0 the streams are size-based, flushed only by the writing thread, and
    a bundle's input goes out whole at close. Idempotent; the launcher calls it before a
    Beam job (workers of a remote runner never use this code path).
    """
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0


def make_options(beam_args: list[str]) -> PipelineOptions:
    """PipelineOptions from the user's Beam flags, with our defaults filled in."""
    guard_beam_data_plane()
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    setup = options.view_as(SetupOptions)
    if is_remote(options) and not setup.extra_packages:
        sdist = build_worker_package(Path(tempfile.mkdtemp(prefix="llama-data-sdist-")))
        setup.extra_packages = [str(sdist)]
        log.info("staging %s for remote workers", sdist.name)
    # Models and config objects are pickled into DoFns; save_main_session is not needed.
    return options


def use_filesystem_options(beam_args: list[str]) -> None:
    """Beam's filesystems configured from the run's flags (an S3 endpoint, credentials), so the
    launcher's own reads and writes of OUT reach the same storage as the workers'."""
    from apache_beam.io.filesystems import FileSystems

    FileSystems.set_options(PipelineOptions(beam_args))

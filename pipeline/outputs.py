"""Output directory bookkeeping: atomic publication, stage completion, run.json."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from shard_format import atomic_write, faults

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ["apache-beam", "pyarrow", "fasttext-numpy2-wheel", "kenlm", "sentencepiece", "datasketch",
             "resiliparse", "fastwarc", "mwparserfromhell", "numpy", "torch"]


def fresh_dir(path: Path) -> Path:
    """`path` as a new empty directory (an earlier attempt's leftovers removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def staging_dir(out: Path, stage: str) -> Path:
    """A fresh temporary directory inside OUT (same filesystem, so rename is atomic)."""
    return fresh_dir(out / f".tmp-{stage}-{os.getpid()}")


def replace_dir(src: Path, dst: Path) -> None:
    """Rename the finished `src` to `dst`; an older `dst` is moved aside first and removed after,
    so `dst` is at every moment the old output or the whole new one."""
    if dst.exists():
        old = dst.with_name(f".old-{dst.name}-{os.getpid()}")
        dst.rename(old)
        src.rename(dst)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)


def publish(tmp: Path, out: Path, names: list[str], label: str = "") -> None:
    """Move each finished output from the staging dir into OUT, replacing old ones.

    Not atomic as a whole: the stage's completion record, written after, says when it is."""
    for i, name in enumerate(names):
        if (tmp / name).exists():
            replace_dir(tmp / name, out / name)
        if i == 0:
            faults.point(f"stage:publishing:{label}")  # one output moved, the others (if any) not


def code_version() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        f.write(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def write_run_json(out: Path, config, models: dict[str, Any], stages: list[str]) -> None:
    from pipeline.settings import as_plain

    previous = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    write_json_atomic(out / "run.json", {
        "config": as_plain(config),
        "code_version": code_version(),
        "libraries": library_versions(),
        "models": models,
        "stages": sorted(set(previous.get("stages", [])) | set(stages)),
    })

"""Publishing a stage's outputs into OUT, and run.json."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.store import Store
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


def staging(out: Store, stage: str) -> Store:
    """A fresh staging place inside OUT (on a local disk: the same filesystem, so renames are atomic)."""
    tmp = out.sub(f".tmp-{stage}-{os.getpid()}")
    if out.remote:
        tmp.delete_tree("")
    else:
        fresh_dir(Path(tmp.root))
    return tmp


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


def publish(out: Store, tmp: Store, names: list[str], label: str = "") -> None:
    """Move each finished output from the staging place into OUT, replacing old ones.

    Not atomic as a whole: the stage's completion record, written after, says when it is."""
    prefix = tmp.root[len(out.root) + 1:]
    for i, name in enumerate(names):
        if tmp.exists(name):
            out.move_tree(f"{prefix}/{name}", name)
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


def write_run_json(out: Store, config, models: dict[str, Any], stages: list[str]) -> None:
    from pipeline.settings import as_plain

    previous = out.read_json("run.json") if out.is_file("run.json") else {}
    out.write_json("run.json", {
        "config": as_plain(config),
        "code_version": code_version(),
        "libraries": library_versions(),
        "models": models,
        "stages": sorted(set(previous.get("stages", [])) | set(stages)),
    })

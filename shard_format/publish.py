"""Publish an output directory whole, and never replace one we did not write.

    with publish_directory(out, written_by="python -m training_entry export") as tmp:
        ...write the files into tmp...

The files are written into a fresh temporary sibling of ``out`` (same filesystem), which
is renamed to ``out`` when the block succeeds; on error it is removed and ``out`` is
untouched. A marker file, ``.written-by.json``, records the command and the files it
wrote. An existing ``out`` is replaced only when it is empty, or when its marker names
the same command and it holds no file the marker does not list; anything else is
refused with ``OutputRefusedError`` before any work is done. There is deliberately no
way to force it: remove a foreign directory yourself.

Torch-free and Beam-free, so the trainer, the tokenizer CLI and the pipeline can all use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

MARKER = ".written-by.json"


class OutputRefusedError(ValueError):
    """An output path exists and is not ours to replace (foreign files, or not a directory)."""


def _files(directory: Path) -> list[str]:
    """Every non-directory entry below ``directory``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if not p.is_dir())


def check_target(target: str | os.PathLike, *, written_by: str) -> None:
    """Raise OutputRefusedError unless ``target`` is absent, an empty directory, or our own earlier output."""
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputRefusedError(f"{target} exists and is not a directory; choose a directory for the output")
    found = _files(target)
    if not found:
        return
    refuse = f"refusing to replace {target}"
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
        owner, listed = marker["written_by"], set(marker["files"])
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputRefusedError(f"{refuse}: it is not empty and was not written by `{written_by}` (no {MARKER}); "
                                 f"choose a new or empty directory") from None
    if owner != written_by:
        raise OutputRefusedError(f"{refuse}: it was written by `{owner}`, not `{written_by}`; "
                                 f"choose a new or empty directory")
    foreign = [f for f in found if f != MARKER and f not in listed]
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise OutputRefusedError(f"{refuse}: it holds files an earlier `{written_by}` did not write "
                                 f"({', '.join(foreign[:3])}{more}); move them away or choose another directory")


def _fsync_tree(directory: Path) -> None:
    for path in [*directory.rglob("*"), directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def publish_directory(target: str | os.PathLike, *, written_by: str) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; on success it becomes ``target`` (see the module doc)."""
    target = Path(target).resolve()  # through a symlink: the sibling must sit next to the real directory
    check_target(target, written_by=written_by)  # before the caller spends time on the output
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputRefusedError(f"cannot create the folder for {target}: {e.strerror}") from None
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = target.with_name(f".{target.name}.{tag}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        marker = {"written_by": written_by, "files": _files(tmp)}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(tmp)
        check_target(target, written_by=written_by)  # again: it may have changed while we wrote
        old = target.with_name(f".{target.name}.{tag}.old")
        if target.exists():
            os.rename(target, old)  # rename(2) cannot replace a non-empty directory in one step
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)  # empty, or our own earlier output (checked above)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

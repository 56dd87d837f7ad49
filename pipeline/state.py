"""What OUT holds and who is writing it: completion records, the run lock, leftovers.

A stage is finished when `OUT/.stages/<stage>.json` exists with its key (a digest of
the config sections it reads and of its upstream stages' keys, see pipeline.cli),
written last, after its outputs are in place. The record names those outputs, the
config sections and the upstream records it consumed. A later stage reads exactly
the files its upstream record lists, and refuses when that stage has not finished
for the current config: a partly published or older output is never read.

One run at a time writes an OUT: `OUT/.lock` holds the host, pid and start time of
the run that has it. A lock left by a dead process on this host is taken over; one
from another host is refused (the message says how to clear it). With the lock held,
leftovers of killed runs (`.tmp-*` staging and `.old-*` replaced outputs, both names
only this pipeline creates) are removed.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from pipeline.outputs import write_json_atomic

log = logging.getLogger(__name__)

STATE_DIR = ".stages"
LOCK = ".lock"
LEFTOVER_PREFIXES = (".tmp-", ".old-")
LEFTOVER_DEPTH = 3  # OUT/curated/.old-cc-123, OUT/models/perplexity/.tmp-en-123


class StateError(RuntimeError):
    """OUT is not in the state a stage needs; the message says what to run."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- completion records

def stage_record(out: Path, stage: str) -> dict | None:
    """A stage's completion record, or None."""
    path = out / STATE_DIR / f"{stage}.json"
    return json.loads(path.read_text()) if path.exists() else None


def is_done(out: Path, stage: str, key: str) -> bool:
    return (stage_record(out, stage) or {}).get("key") == key


def record_done(out: Path, stage: str, key: str, *, sections: dict, upstream: dict[str, str],
                outputs: dict[str, Any], **info: Any) -> None:
    """Write the completion record: the last thing a stage does."""
    write_json_atomic(out / STATE_DIR / f"{stage}.json", {
        "stage": stage, "key": key, "finished_at": _now(), "sections": sections, "upstream": upstream,
        "outputs": outputs, **info,
    })


def forget(out: Path, stage: str) -> None:
    """Before a stage rewrites its outputs: it is no longer finished (nor is anything it fed)."""
    (out / STATE_DIR / f"{stage}.json").unlink(missing_ok=True)


def require_done(out: Path, stage: str, key: str, sections: dict, needed_by: str) -> dict:
    """The record of `stage` if it finished with the config `key` describes; else a StateError saying why."""
    record = stage_record(out, stage)
    rerun = f"run `python -m pipeline {stage}` (or `run`) with this config"
    if record is None or "outputs" not in record:
        legacy = (out / stage).exists() or (stage == "curate" and (out / "curated").exists())
        if legacy or record is not None:
            raise StateError(f"{needed_by}: the {stage} outputs in {out} were written without a completion "
                             f"record (an older version, or a run killed while publishing): {rerun}")
        raise StateError(f"{needed_by}: the {stage} stage has not finished in {out}: {rerun}")
    if record["key"] != key:
        changed = sorted(name for name, value in sections.items() if record.get("sections", {}).get(name) != value)
        what = f"its config sections {', '.join(changed)} differ" if changed else "an earlier stage it reads changed"
        raise StateError(f"{needed_by}: the {stage} outputs in {out} were made for another config ({what}): {rerun}")
    return record


# ---------------------------------------------------------------- the lock

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


class RunLock:
    """`OUT/.lock` for the duration of a run: one writer per OUT."""

    def __init__(self, out: Path, command: str):
        self.path, self.command = out / LOCK, command
        self.held = False

    def __enter__(self) -> RunLock:
        mine = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": _now(), "command": self.command}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(mine, f)
            self.held = True
            return self
        raise StateError(f"could not take {self.path}")

    def _take_over_if_stale(self) -> None:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            holder = {}
        here = holder.get("host") == socket.gethostname()
        if here and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
            log.warning("taking over %s from pid %s, which is no longer running (started %s)",
                        self.path, holder["pid"], holder.get("started_at"))
            self.path.unlink(missing_ok=True)
            return
        who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder else "another run"
        raise StateError(f"{self.path.parent} is in use by {who} since {holder.get('started_at', '?')} "
                         f"({holder.get('command', '?')}); wait for it, or if that run is gone, delete {self.path}")

    def __exit__(self, *exc) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def remove_leftovers(out: Path) -> list[Path]:
    """With the lock held: remove what killed runs left (`.tmp-*`, `.old-*`); returns what was removed."""
    removed = []

    def walk(directory: Path, depth: int) -> None:
        for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
            if entry.name.startswith(LEFTOVER_PREFIXES):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                removed.append(entry)
            elif depth > 1 and entry.is_dir() and not entry.is_symlink() and not entry.name.startswith("."):
                walk(entry, depth - 1)

    walk(out, LEFTOVER_DEPTH)
    for path in removed:
        log.info("removed %s, left by an earlier run that did not finish", path)
    return removed

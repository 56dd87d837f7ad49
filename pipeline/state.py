"""What OUT holds and who is writing it: completion records, the run lock, leftovers.

A stage is finished when `OUT/.stages/<stage>.json` exists with its key (a digest of
the config sections it reads and of its upstream stages' keys, see pipeline.cli),
written last, after its outputs are in place. The record names those outputs, the
config sections and the upstream records it consumed. A later stage reads exactly
the files its upstream record lists, and refuses when that stage has not finished
for the current config: a partly published or older output is never read.

One run at a time writes an OUT: `OUT/.lock` holds the host, pid and start time of
the run that has it. A lock left by a dead process on this host is taken over; one
from another host is refused (the message says how to clear it). On a local disk the
lock is created exclusively; an object store has no such operation through Beam's
filesystems, so there two runs starting within the same second can both take it
(run one launcher per OUT). With the lock held, leftovers of killed runs (`.tmp-*`
staging and `.old-*` replaced outputs, both names only this pipeline creates) are
removed.

Everything goes through `pipeline.store.Store`, so OUT may be a URI.
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

from pipeline.store import Store

log = logging.getLogger(__name__)

STATE_DIR = ".stages"
OWNER = f"{STATE_DIR}/owner"  # not *.json: the stage records are
LOCK = ".lock"
LEFTOVER_PREFIXES = (".tmp-", ".old-")
LEFTOVER_DEPTH = 3  # OUT/curated/.old-cc-123, OUT/models/perplexity/.tmp-en-123


class StateError(RuntimeError):
    """OUT is not in the state a stage needs; the message says what to run."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- completion records

def _record(stage: str) -> str:
    return f"{STATE_DIR}/{stage}.json"


def stage_record(out: Store, stage: str) -> dict | None:
    """A stage's completion record, or None."""
    return out.read_json(_record(stage)) if out.is_file(_record(stage)) else None


def is_done(out: Store, stage: str, key: str) -> bool:
    return (stage_record(out, stage) or {}).get("key") == key


def record_done(out: Store, stage: str, key: str, *, sections: dict, upstream: dict[str, str],
                outputs: dict[str, Any], **info: Any) -> None:
    """Write the completion record: the last thing a stage does."""
    out.write_json(_record(stage), {
        "stage": stage, "key": key, "finished_at": _now(), "sections": sections, "upstream": upstream,
        "outputs": outputs, **info,
    })


def forget(out: Store, stage: str) -> None:
    """Before a stage rewrites its outputs: it is no longer finished (nor is anything it fed)."""
    out.delete(_record(stage))


def mark_ours(out: Store, command: str) -> None:
    """Mark OUT as a pipeline output from the start (see preflight.check_output)."""
    if not out.is_file(OWNER):
        out.write_json(OWNER, {"created_by": command, "created_at": _now()})


def is_ours(out: Store) -> bool:
    return out.is_file(OWNER) or out.exists(STATE_DIR) or out.is_file(LOCK)


def require_done(out: Store, stage: str, key: str, sections: dict, needed_by: str) -> dict:
    """The record of `stage` if it finished with the config `key` describes; else a StateError saying why."""
    record = stage_record(out, stage)
    rerun = f"run `python -m pipeline {stage}` (or `run`) with this config"
    if record is None or "outputs" not in record:
        legacy = out.exists(stage) or (stage == "curate" and out.exists("curated"))
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

    def __init__(self, out: Store, command: str):
        self.out, self.command = out, command
        self.held = False

    def __enter__(self) -> RunLock:
        mine = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": _now(), "command": self.command}
        for _ in range(2):
            if self._create(json.dumps(mine).encode()):
                self.held = True
                return self
            self._take_over_if_stale()
        raise StateError(f"could not take {self.out.path(LOCK)}")

    def _create(self, data: bytes) -> bool:
        if self.out.remote:
            if self.out.is_file(LOCK):
                return False
            self.out.write_bytes(LOCK, data)
            return True
        try:
            fd = os.open(self.out.path(LOCK), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True

    def _take_over_if_stale(self) -> None:
        try:
            holder = self.out.read_json(LOCK)
        except (OSError, ValueError):
            holder = {}
        here = holder.get("host") == socket.gethostname()
        if here and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
            log.warning("taking over %s from pid %s, which is no longer running (started %s)",
                        self.out.path(LOCK), holder["pid"], holder.get("started_at"))
            self.out.delete(LOCK)
            return
        who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder else "another run"
        raise StateError(f"{self.out.root} is in use by {who} since {holder.get('started_at', '?')} "
                         f"({holder.get('command', '?')}); wait for it, or if that run is gone, delete "
                         f"{self.out.path(LOCK)}")

    def __exit__(self, *exc) -> None:
        if self.held:
            self.out.delete(LOCK)
            self.held = False


def remove_leftovers(out: Store) -> list[str]:
    """With the lock held: remove what killed runs left (`.tmp-*`, `.old-*`); returns what was removed."""
    if out.remote:  # moves delete as they go: only staging prefixes can be left
        removed = sorted({f.split("/", 1)[0] for f in out.match(".tmp-*/**")})
        for prefix in removed:
            out.delete_tree(prefix)
    else:
        removed = [str(p) for p in _local_leftovers(Path(out.root), LEFTOVER_DEPTH)]
    for path in removed:
        log.info("removed %s, left by an earlier run that did not finish", path)
    return removed


def _local_leftovers(directory: Path, depth: int) -> list[Path]:
    removed = []
    for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
        if entry.name.startswith(LEFTOVER_PREFIXES):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        elif depth > 1 and entry.is_dir() and not entry.is_symlink() and not entry.name.startswith("."):
            removed += _local_leftovers(entry, depth - 1)
    return removed

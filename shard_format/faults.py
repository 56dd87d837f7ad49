"""Named points where the reliability tests kill the trainer or the pipeline, as a crash or `kill -9` would.

    LLAMA_FAULT=checkpoint:after_weights      die the first time that point is reached
    LLAMA_FAULT=metrics:mid_line@5            die the fifth time

Trainer points: checkpoint:after_weights, checkpoint:before_rename,
checkpoint:before_latest (in checkpoint.save) and metrics:mid_line (half a
metrics.jsonl line written). Pipeline points: stage:running (the stage's Beam job
has run, nothing is published), stage:publishing (the first output published, the others not),
stage:before_record (all published, no completion record yet), each followed by the
stage name (`stage:publishing:curate`). The variable is read once at import; when it
is unset a point costs one comparison. Torch-free and Beam-free, so both sides use it.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("LLAMA_FAULT")
_NAME, _, _NTH = (_SPEC or "").partition("@")
_hits = 0


def reached(name: str) -> bool:
    """True when this is the moment LLAMA_FAULT names (the n-th time ``name`` is reached)."""
    global _hits
    if _SPEC is None or name != _NAME:
        return False
    _hits += 1
    return _hits == int(_NTH or 1)


def die() -> None:
    """SIGKILL ourselves: no finally blocks, no atexit, no flushing, exactly like an outside kill."""
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    if reached(name):
        die()

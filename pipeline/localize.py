"""Model files as workers use them: copied to the local disk once, checked against their sha256.

fastText, KenLM and SentencePiece open local paths only; on Dataflow the models live
in OUT/models on gs://, so a remote path is copied to the worker's disk first. The
models stage records every model's sha256 in OUT/models/cards.json; each worker
checks the file it is about to load against it once, so a model replaced or damaged
since (another run's file, a garbage file in OUT/models) stops the job naming the
file instead of silently scoring with it.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from shard_format import atomic_write, file_sha256

log = logging.getLogger(__name__)


class ModelMismatchError(RuntimeError):
    """A model file is not the one the models stage recorded."""


class ModelFile(NamedTuple):
    path: str
    sha256: str | None = None  # None: not checked (a path given directly, in tests)


def model_file(model: str | os.PathLike | Mapping[str, Any] | ModelFile) -> ModelFile:
    """A card from cards.json ({"path", "sha256", ...}), a ModelFile, or a bare path."""
    if isinstance(model, ModelFile):
        return model
    if isinstance(model, Mapping):
        return ModelFile(str(model["path"]), model.get("sha256"))
    return ModelFile(str(model))


def is_local(path: str) -> bool:
    return "://" not in str(path) or str(path).startswith("file://")


@functools.cache
def localize(path: str, sha256: str | None = None) -> str:
    """A local copy of `path` (itself when local), checked against `sha256` once per process."""
    path = str(path)
    if is_local(path):
        local = path.removeprefix("file://")
    else:
        local = _copy_to_local_disk(path)
    if sha256 is not None:
        check_model(local, sha256, path)
    return local


def check_model(local: str, sha256: str, name: str | None = None) -> None:
    """ModelMismatchError unless the file at `local` has `sha256` (`name`: how to call it in the error)."""
    name = name or local
    if not os.path.exists(local):
        raise ModelMismatchError(f"model file {name} is missing; rerun `python -m pipeline models`")
    got = file_sha256(local)
    if got != sha256:
        raise ModelMismatchError(f"model file {name} has sha256 {got[:16]}..., but the models stage recorded "
                                 f"{sha256[:16]}...: it changed since; rerun `python -m pipeline models`")


def _copy_to_local_disk(path: str) -> str:
    start = time.perf_counter()
    digest = hashlib.sha256(path.encode()).hexdigest()[:16]
    local_dir = os.path.join(tempfile.gettempdir(), "llama-data-models", digest)
    local = os.path.join(local_dir, os.path.basename(path))
    if not os.path.exists(local):
        os.makedirs(local_dir, exist_ok=True)
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src, atomic_write(local) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    log.info("copied model %s to %s in %.1fs", path, local, time.perf_counter() - start)
    return local


def localize_model(model: str | os.PathLike | Mapping[str, Any] | ModelFile) -> str:
    """`localize` of a card, a ModelFile or a path."""
    path, sha256 = model_file(model)
    return localize(path, sha256)

"""Model files on remote filesystems, copied to a worker's local disk once.

fastText, KenLM and SentencePiece open local paths only; on Dataflow the models
live in OUT/models on gs://. Local paths pass through unchanged.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
import time

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from shard_format import atomic_write

log = logging.getLogger(__name__)


def is_local(path: str) -> bool:
    return "://" not in str(path) or str(path).startswith("file://")


@functools.cache
def localize(path: str) -> str:
    path = str(path)
    if is_local(path):
        return path.removeprefix("file://")
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

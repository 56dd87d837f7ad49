"""Model caching and publication: a model directory is reused while its key is unchanged.

Each model directory holds a card with a `cache_key`: a sha256 over MODELS_VERSION,
the relevant config, and the inputs' (path, size, mtime) as Beam's filesystems
report them (cheap on gs:// and TB-sized inputs; content sha256s would need a full
read). A rerun with the same key reuses the model. Each directory is built under a
temporary name beside it and renamed into place when complete.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.outputs import fresh_dir, replace_dir, write_json_atomic

# Bump when training changes in a way that changes the models: invalidates caches.
MODELS_VERSION = "reference_models_v1"
CARD = "card.json"


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def match_files(patterns: Iterable[str]) -> list[str]:
    """Sorted paths matching the patterns (any Beam filesystem); a pattern matching nothing is an error."""
    from apache_beam.io.filesystems import FileSystems

    paths = set()
    for pattern in patterns:
        found = FileSystems.match([pattern])[0].metadata_list
        if not found:
            raise FileNotFoundError(f"no file matches {pattern!r}")
        paths.update(m.path for m in found)
    return sorted(paths)


def fingerprint(patterns: Iterable[str]) -> list[tuple[str, int, float]]:
    """(path, size, mtime) of every matched file: the cache key's view of the inputs."""
    from apache_beam.io.filesystems import FileSystems

    out = []
    for pattern in patterns:
        for m in FileSystems.match([pattern])[0].metadata_list:
            out.append((m.path, m.size_in_bytes, m.last_updated_in_seconds))
    return sorted(out)


def cached(directory: Path, key: str, files: Iterable[str]) -> dict | None:
    """The card of `directory` if it was built with `key` and still holds `files`, else None."""
    card_path = directory / CARD
    if not card_path.exists():
        return None
    card = json.loads(card_path.read_text())
    if card.get("cache_key") != key or not all((directory / f).exists() for f in files):
        return None
    return card


def building(directory: Path) -> Path:
    """A fresh, empty temporary directory beside `directory` to build it in."""
    return fresh_dir(directory.with_name(f".tmp-{directory.name}-{os.getpid()}"))


def publish(tmp: Path, directory: Path) -> None:
    """The finished `tmp` becomes `directory` (an older one is replaced)."""
    replace_dir(tmp, directory)


def write_card(directory: Path, card: dict) -> None:
    write_json_atomic(directory / CARD, card)


def card_path(path: Path, models_dir: Path) -> str:
    """A model file's path as cards record it: relative to OUT (`models/...`), so an OUT moved or
    copied elsewhere still names its own files and never another run's."""
    return str(Path(models_dir.name) / path.relative_to(models_dir))

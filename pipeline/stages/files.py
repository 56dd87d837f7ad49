"""Files a stage reads besides its inputs (blocklists, eval sets), matched on the launcher.

Patterns are paths or globs, local (relative to the working directory, like
`inputs`) or any Beam filesystem (gs://, s3://). Local paths are made absolute so
that workers started elsewhere read the same files; each pattern's matches are
sorted, so the order (and an eval example's index) never depends on the filesystem.
"""
from __future__ import annotations

import os

from apache_beam.io.filesystems import FileSystems


def match_files(key: str, patterns) -> list[str]:
    """Every file the patterns match, in order; FileNotFoundError naming `key` if one matches nothing."""
    files = []
    for pattern in patterns:
        if "://" not in pattern:
            pattern = os.path.abspath(pattern)
        found = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        if not found:
            raise FileNotFoundError(f"{key}: no file matches {pattern!r}")
        files += found
    return files


def read_lines(path: str):
    """The lines of a text file (a .gz one decompressed), as str without line ends; bad UTF-8 replaced."""
    with FileSystems.open(path) as f:
        for raw in f:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")

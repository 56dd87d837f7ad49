"""The per-document halves of cc_net's line deduplication (the global half is a Beam shuffle).

`distinct_line_hashes` is what a document contributes to the global count of which
documents contain which lines; `remove_lines` applies the verdict. Both are pure,
so the same logic runs in a unit test, in Beam, or in a Spark job.
"""
from __future__ import annotations

from collections.abc import Container

from filters.normalize import line_hashes


def distinct_line_hashes(text: str) -> set[int]:
    """The hashes of the document's non-blank lines, each once.

    A line repeated within one document therefore counts as one document: line
    dedup removes boilerplate shared *across* pages, and leaves repetition inside a
    page to the quality filters.
    """
    return {h for h in line_hashes(text) if h is not None}


def remove_lines(text: str, remove: Container[int]) -> tuple[str, int]:
    """The text without every line whose hash is in `remove`, and how many lines went.

    Lines are `\\n`-separated and the rest is kept byte for byte (blank lines and
    `\\r` included), so a document with nothing to remove comes back unchanged.
    """
    lines = text.split("\n")
    kept = [line for line, h in zip(lines, line_hashes(text)) if h is None or h not in remove]
    return "\n".join(kept), len(lines) - len(kept)

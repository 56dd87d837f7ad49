"""The per-document halves of cc_net's line deduplication (the global half is a Beam shuffle).

`line_positions` is what a document contributes to the global count of which
documents contain which lines (each distinct line once, with where it occurs);
`remove_line_positions` applies the verdict without hashing the text again.
`distinct_line_hashes` and `remove_lines` are the same by hash. All are pure, so the
same logic runs in a unit test, in Beam, or in a Spark job.
"""
from __future__ import annotations

from collections.abc import Container, Iterable

from filters.normalize import line_hashes


def line_positions(text: str) -> dict[int, list[int]]:
    """Hash of each distinct non-blank line -> the indices of the `\\n`-separated lines
    that normalise to it.

    A line repeated within one document therefore counts as one document: line
    dedup removes boilerplate shared *across* pages, and leaves repetition inside a
    page to the quality filters.
    """
    return group_positions(line_hashes(text))


def group_positions(hashes: list[int | None]) -> dict[int, list[int]]:
    """Line hashes (None for blank lines) -> hash: the indices where it occurs."""
    positions: dict[int, list[int]] = {}
    for i, h in enumerate(hashes):
        if h is not None:
            positions.setdefault(h, []).append(i)
    return positions


def distinct_line_hashes(text: str) -> set[int]:
    """The hashes of the document's non-blank lines, each once."""
    return set(line_positions(text))


def remove_line_positions(text: str, positions: Iterable[int]) -> tuple[str, int]:
    """The text without the lines at these indices, and how many lines went.

    Lines are `\\n`-separated and the rest is kept byte for byte (blank lines and
    `\\r` included), so a document with nothing to remove comes back unchanged.
    """
    drop = set(positions)
    if not drop:
        return text, 0
    lines = text.split("\n")
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return "\n".join(kept), len(lines) - len(kept)


def remove_lines(text: str, remove: Container[int]) -> tuple[str, int]:
    """The text without every line whose hash is in `remove`, and how many lines went."""
    return remove_line_positions(text, (i for i, h in enumerate(line_hashes(text)) if h is not None and h in remove))

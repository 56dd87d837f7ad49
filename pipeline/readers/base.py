"""What every reader yields, and the dry-run sampling it applies: Beam-free.

A source provides a `parse(path, fileobj)` generator that yields `Document`s and,
for records it cannot read, `Malformed(path, offset, error)` markers, then keeps
going with the next good record; well-formed records that are not documents are
`Skipped`, so that documents + skipped + malformed account for a whole file.
`pipeline.read` runs parsers inside Beam; tests and the models stage call them
directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from filters.document import Document, id_hash
from pipeline.settings import between, invalid


@dataclass(frozen=True, slots=True)
class Malformed:
    path: str
    offset: int  # byte offset of the bad record in the (compressed) file, or record index
    error: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A well-formed record that is not a document (a WARC request, a redirect, an image)."""

    path: str
    offset: int
    kind: str  # why: counted in stats as read/skipped:<kind>
    nbytes: int  # the record's payload bytes


class MalformedInputError(RuntimeError):
    """Raised instead of skipping when `strict` is set."""


Parser = Callable[[str, BinaryIO], Iterator["Document | Malformed | Skipped"]]


@dataclass(frozen=True, kw_only=True)
class Sampling:
    """Config `sample`: dry runs read a deterministic subset, chosen by record id."""

    # Keep this fraction of records, by a hash of the record id (repeatable).
    fraction: float = between(1.0, 0, 1, low_open=True)
    # At most this many records per input file; None: no cap.
    max_records_per_file: int | None = None

    def __post_init__(self):
        if not 0.0 < self.fraction <= 1.0:
            raise invalid("fraction", "must be in (0, 1]", self.fraction)
        if self.max_records_per_file is not None and self.max_records_per_file < 1:
            raise invalid("max_records_per_file", "must be >= 1 or null", self.max_records_per_file)

    @property
    def active(self) -> bool:
        return self.fraction < 1.0 or self.max_records_per_file is not None

    def keeps(self, doc_id: str) -> bool:
        return self.fraction >= 1.0 or id_hash(doc_id) < self.fraction * 2**64

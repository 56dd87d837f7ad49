"""The contract every document filter follows.

A filter makes one decision about one document: it returns the document (possibly
annotated or with lines removed) to keep it, or a `Drop` naming the reason. The
pipeline's generic DoFn turns any filter into a Beam step with a counter per reason
and a tagged output for rejects; tests call `apply` directly.
"""
from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from filters.document import Document


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str  # short snake_case, listed in the README


class DocumentFilter(abc.ABC):
    stage: ClassVar[str]  # the stage name written to rejected/ and stats.json
    reasons: ClassVar[tuple[str, ...]]  # every reason `apply` can return
    # Attributes holding model file paths. The pipeline copies a remote one (gs://...)
    # to the worker's local disk before `setup()`, since model libraries read local files.
    model_paths: ClassVar[tuple[str, ...]] = ()

    def setup(self) -> None:
        """Load heavy state (models). Called once per worker before `apply`."""

    @abc.abstractmethod
    def apply(self, doc: Document) -> Document | Drop:
        """Keep (and possibly annotate or trim) the document, or drop it with a reason."""

    def measurements(self, doc: Document, kept: bool) -> Iterable[tuple[str, int, int]]:
        """Extra `(metric, count, bytes)` rows for a document `apply` has just judged
        (kept or not), summed per metric into the stage's stats. None by default."""
        return ()

"""The one in-memory document type every stage passes along.

Beam-free on purpose: filters, readers and tests build and inspect it without Beam.
Fields mirror the Parquet schema in DESIGN.md; CommonCrawl-only fields stay None
for other sources.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    id: str  # stable: "<source>/<original id or url digest>"
    source: str  # cc c4 github wikipedia books arxiv stackexchange
    text: str
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable
    lang: str | None = None
    lang_score: float | None = None
    perplexity: float | None = None
    bucket: str | None = None  # head / middle / tail
    wikiref_score: float | None = None

    @property
    def nbytes(self) -> int:
        text = self.text
        # isascii() reads a flag CPython keeps on the string: no encoding needed.
        return len(text) if text.isascii() else len(text.encode("utf-8"))


def digest_id(source: str, key: str) -> str:
    """A stable document id from a key that is not itself a safe id (a URL, a path)."""
    return f"{source}/{hashlib.blake2b(key.encode('utf-8'), digest_size=8).hexdigest()}"


# Purposes of `id_hash` (blake2b's personalisation): each is its own independent
# "random" order of the documents. Changing one moves what it selects.
PURPOSES = {
    "": b"",  # dry-run sampling, the wikiref training sample
    "heldout": b"heldout",  # the wikiref classifier's held-out split
    "ppl-sample": b"ppl-sample",  # documents whose perplexities set the cutoffs
    "order": b"order",  # the wikiref training file's order
    "report-example": b"report-example",  # which rejected documents the run report shows per reason
}


def id_hash(doc_id: str, purpose: str = "") -> int:
    """A stable unsigned 64-bit hash of a document id, one independent one per purpose."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, person=PURPOSES[purpose]).digest()
    return int.from_bytes(digest, "little")

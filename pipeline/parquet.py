"""The Parquet document format of DESIGN.md, with an explicit pyarrow schema.

One definition for writing curated and rejected documents and reading them back
in later stages (tokenizer sampling, shards).
"""
from __future__ import annotations

import json
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from filters.document import Document

DOCUMENT_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("meta", pa.string()),  # JSON object
    # CommonCrawl quality fields; null for other sources.
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float64()),
    pa.field("perplexity", pa.float64()),
    pa.field("bucket", pa.string()),
    pa.field("wikiref_score", pa.float64()),
])

REJECTED_SCHEMA = DOCUMENT_SCHEMA.append(pa.field("stage", pa.string(), nullable=False)).append(
    pa.field("reason", pa.string(), nullable=False)
)


def document_to_row(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "source": doc.source,
        "text": doc.text,
        "url": doc.url,
        "meta": json.dumps(doc.meta, sort_keys=True, ensure_ascii=False, default=str),
        "lang": doc.lang,
        "lang_score": doc.lang_score,
        "perplexity": doc.perplexity,
        "bucket": doc.bucket,
        "wikiref_score": doc.wikiref_score,
    }


def rejection_to_row(rejection) -> dict[str, Any]:
    row = document_to_row(rejection.doc)
    row["stage"] = rejection.stage
    row["reason"] = rejection.reason
    return row


def row_to_document(row: dict[str, Any]) -> Document:
    return Document(
        id=row["id"],
        source=row["source"],
        text=row["text"],
        url=row.get("url"),
        meta=json.loads(row["meta"]) if row.get("meta") else {},
        lang=row.get("lang"),
        lang_score=row.get("lang_score"),
        perplexity=row.get("perplexity"),
        bucket=row.get("bucket"),
        wikiref_score=row.get("wikiref_score"),
    )


def iter_parquet_rows(path: str, columns: list[str] | None = None, batch_size: int = 1024) -> Iterator[dict]:
    """Stream rows of one Parquet file without loading it whole."""
    with pq.ParquetFile(path) as f:
        for batch in f.iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()

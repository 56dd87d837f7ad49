"""Dataset-wide dedup of units (lines, spans) on Beam: packed rows shuffled by hash shard.

A producer DoFn packs each document's unit hashes into `filters.line_dedup.LineRows`
and sends them with `emit_rows` (one element per shard per flush, not one per unit);
a GroupByKey brings each shard's rows together; `JudgeShards` applies a Beam-free
rule to each shard (`removal_positions`: cc_net's line dedup;
`first_occurrence_removals`: C4's span dedup) and sends one removal order per
document per bundle, keyed by its text key, to be joined with the documents.
Memory: one shard's rows (28 bytes per unit occurrence) on one worker at a time.
"""
from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import apache_beam as beam
import numpy as np
from apache_beam.transforms.window import GlobalWindows

from filters.document import Document
from filters.line_dedup import ROW, LineRows

# Rows buffered per bundle before they are sent to the shuffle (28 bytes each).
FLUSH_ROWS = 1 << 20
# Removal orders buffered per bundle, in documents, before they are sent on.
FLUSH_DOCS = 1 << 16

Judge = Callable[[np.ndarray, "dict[int, str] | None"], "dict[tuple[int, int], np.ndarray]"]


def doc_tag(doc: Document) -> int:
    """Tells apart documents (and copies of one normalised text): id and exact text, 64 bits.

    Two records under one id and one text (a page read twice) share a tag, and are
    the same document."""
    h = hashlib.blake2b(doc.id.encode("utf-8", "surrogatepass"), digest_size=8)
    h.update(zlib.crc32(doc.text.encode("utf-8", "surrogatepass")).to_bytes(4, "little"))
    return int.from_bytes(h.digest(), "little", signed=True)


def emit_rows(rows: LineRows, tag: str, *, final: bool = False):
    """Drain `rows` on tagged output `tag` as (shard, (rows bytes, ids)) once it holds
    FLUSH_ROWS rows, or always with `final`, from finish_bundle: the elements are
    then windowed, as Beam asks there."""
    if not (final or len(rows) >= FLUSH_ROWS):
        return
    for shard, data, ids in rows.drain():
        value = (shard, (data, ids))
        yield beam.pvalue.TaggedOutput(tag, GlobalWindows.windowed_value(value) if final else value)


class JudgeShards(beam.DoFn):
    """(shard, [(rows, ids)]) -> (text key, (document tag, positions as uint32 bytes)).

    Each shard is judged in memory by `judge`; a document's orders from all the
    shards of a bundle leave as one element.
    """

    def __init__(self, judge: Judge):
        self._judge = judge

    def start_bundle(self):
        self._orders: dict[tuple[int, int], list[np.ndarray]] = {}

    def process(self, element):
        _, parts = element
        parts = list(parts)
        rows = np.concatenate([np.frombuffer(data, ROW) for data, _ in parts])
        ids = None
        if parts[0][1] is not None:
            ids = {}
            for _, part_ids in parts:
                ids.update(part_ids)
        for doc, positions in self._judge(rows, ids).items():
            self._orders.setdefault(doc, []).append(positions)
        if len(self._orders) >= FLUSH_DOCS:
            yield from self._drain()

    def _drain(self):
        orders, self._orders = self._orders, {}
        for (text_key, tag), positions in orders.items():
            yield text_key, (tag, np.concatenate(positions).tobytes())

    def finish_bundle(self):
        for order in self._drain():
            yield GlobalWindows.windowed_value(order)


def positions_of(orders) -> set[int]:
    """The union of a document's removal orders (uint32 bytes) as a set of positions."""
    return {i for data in orders for i in np.frombuffer(data, np.uint32).tolist()}

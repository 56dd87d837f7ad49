"""CommonCrawl's dedup stages (cc_net): "exact_dedup" then "line_dedup", in one shuffle of the documents.

exact_dedup: one document per normalised text (`filters.normalize`: case, accents,
digits, punctuation and spacing ignored; line breaks count as spaces), the one with
the smallest id; rejects carry the kept id in `meta["duplicate_of"]`.

line_dedup: a line (compared by `filters.normalize.line_hash`; blank and
punctuation-only lines take no part) that occurs in two or more of the remaining
documents is removed from all of them. A line repeated only inside one document
counts once and stays. With `keep_first`, the document with the smallest id keeps
its copy (cc_net's one-pass `deduplicate`); by default every copy goes (cc_net's
two-pass dedup, what the cc_net paper and LLaMA used). Documents left with fewer
than `min_chars` characters (ends stripped) are dropped as `too_short`.

Everything global goes through Beam's shuffle, never a set of all lines in memory,
in two shuffles: the lines, as packed rows (line hash, text key, document tag,
position) grouped by line-hash shard, each shard judged on its own in memory
(`shards`: more shards, less memory each; `pipeline.stages.shard_dedup`); then the
documents grouped by normalised text together with their removal orders, where the
copy with the smallest id is kept and trimmed. Each document is normalised once.
Extra stat rows: (source, "line_dedup", "lines_in" / "lines_removed") -> (lines, bytes).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import apache_beam as beam

from filters.document import Document
from filters.line_dedup import DEFAULT_SHARDS, LineRows, remove_line_positions, removal_positions
from filters.normalize import line_digests
from pipeline.settings import at_least
from pipeline.stages.judge import Judge, judged
from pipeline.stages.shard_dedup import JudgeShards, doc_tag, emit_rows, positions_of
from pipeline.stats import STATS, StageResult, SumStats

EXACT_DEDUP = "exact_dedup"
LINE_DEDUP = "line_dedup"

_LINES = "lines"


@dataclass(frozen=True, kw_only=True)
class LineDedupSettings:
    """Config `cc.line_dedup` (commented in configs/sample.yaml)."""

    keep_first: bool = False  # True: the smallest id keeps a shared line (cc_net's one-pass dedup)
    # Documents left shorter than this are dropped: cc_net's `mine.Config.min_len`.
    min_chars: int = at_least(300, 0)
    shards: int = at_least(DEFAULT_SHARDS, 1)  # line-hash shards, each judged in one worker's memory


class _Fingerprint(beam.DoFn):
    """doc -> (text key, (tag, doc)); per bundle, its line rows by shard.

    One normalisation pass per document serves both stages: the text key is the
    hash of the whole normalised text, built from the normalised lines. The lines
    go out as packed rows (filters.line_dedup.LineRows), one element per shard per
    flush instead of one per line.
    """

    def __init__(self, source: str, shards: int, keep_first: bool):
        self._source, self._shards, self._keep_first = source, shards, keep_first

    def setup(self):
        self._exact = Judge(self._source, EXACT_DEDUP)

    def start_bundle(self):
        self._rows = LineRows(self._shards)

    def process(self, doc: Document):
        yield from self._exact.arrived(doc)
        tag = doc_tag(doc)
        text_key, hashes = line_digests(doc.text)
        yield text_key, (tag, doc)
        self._rows.add(text_key, tag, hashes, doc.id if self._keep_first else None)
        yield from emit_rows(self._rows, _LINES)

    def finish_bundle(self):
        yield from emit_rows(self._rows, _LINES, final=True)


class _Apply(beam.DoFn):
    """(text key, {"doc": [(tag, doc)], "remove": [(tag, positions)]}) -> the copy with
    the smallest id without its shared lines (kept, or too_short); the other copies
    rejected as exact duplicates."""

    def __init__(self, source: str, min_chars: int):
        self._source, self._min_chars = source, min_chars

    def setup(self):
        self._exact = Judge(self._source, EXACT_DEDUP, ["duplicate_document"])
        self._lines = Judge(self._source, LINE_DEDUP, ["too_short"])

    def process(self, element):
        _, joined = element
        docs = list(joined["doc"])
        if not docs:  # orders for a text that is not here: cannot happen, but never crash on it
            return
        # The smallest id is the copy kept; the tag breaks ties (the same id, another text).
        first = min(range(len(docs)), key=lambda i: (docs[i][1].id, docs[i][0]))
        tag, doc = docs[first]
        for i, (_, copy) in enumerate(docs):
            if i != first:  # a copy elsewhere, or the same page read twice
                dup = dataclasses.replace(copy, meta={**copy.meta, "duplicate_of": doc.id})
                yield from self._exact.drop(dup, "duplicate_document")
        yield from self._exact.passes(doc)
        remove = positions_of(positions for order_tag, positions in joined["remove"] if order_tag == tag)
        yield from self._remove_lines(doc, remove)

    def _remove_lines(self, doc: Document, remove: set[int]):
        yield from self._lines.arrived(doc)
        text, n_removed = remove_line_positions(doc.text, remove)
        out = dataclasses.replace(doc, text=text) if n_removed else doc
        yield from self._lines.trimmed(doc, out, doc.text.count("\n") + 1, n_removed)
        if len(out.text.strip()) < self._min_chars:
            if n_removed:  # the reject shows what was left, and why it got short
                out.meta = {**out.meta, "lines_removed": n_removed}
            yield from self._lines.drop(out, "too_short")
        else:
            yield from self._lines.keep(out)


class Dedup(beam.PTransform):
    """Stages "exact_dedup" then "line_dedup": see the module docstring."""

    def __init__(self, source: str, settings: LineDedupSettings):
        super().__init__()
        self._source, self._keep_first, self._min_chars = source, settings.keep_first, settings.min_chars
        self._shards = settings.shards

    def expand(self, docs) -> StageResult:
        fingerprint = _Fingerprint(self._source, self._shards, self._keep_first)
        prints = docs | "Fingerprint" >> beam.ParDo(fingerprint).with_outputs(_LINES, STATS, main="by_text")
        orders = (
            prints[_LINES]
            | "GroupByShard" >> beam.GroupByKey()
            | "RemovalOrders" >> beam.ParDo(JudgeShards(removal_positions))
        )
        out = judged({"doc": prints.by_text, "remove": orders} | "JoinByText" >> beam.CoGroupByKey(),
                     "Apply", _Apply(self._source, self._min_chars))
        stats = (prints[STATS], out.stats) | "SumStats" >> SumStats()
        return StageResult(out.kept, out.rejected, stats)

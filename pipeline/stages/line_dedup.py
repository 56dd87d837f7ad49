"""CommonCrawl's dedup stages, in one of two modes (`cc.line_dedup.mode`).

`cc_net` (the default; what cc_net's paper and LLaMA-1 used): cc_net's
`deduplicate_two_pass`, exactly. Stages "min_length" then "line_dedup":

min_length: documents shorter than `min_chars` characters as read (cc_net's
`min_len`, 300, applied by its `CCShardReader`) are dropped as `too_short`, so they
contribute no line hashes. (The reader has already stripped every line and taken
the first as the title: `pipeline.readers.warc_records.cc_net_wet_text`.)

line_dedup: every `\\n`-separated line is hashed with `filters.normalize.cc_net_line_hash`
(SHA-1 of `normalize_for_dedup`); a hash that occurs in two or more documents (records:
a page read twice is two) is removed from all of them; a line repeated only inside
one document keeps its first occurrence; a document left with no line is dropped
(`empty`), so both copies of a duplicated page go. No length filter follows.

`normalized` (our earlier rule): stages "exact_dedup" then "line_dedup", in one
shuffle of the documents. exact_dedup: one document per normalised text
(`filters.normalize.document_key`: case, accents, digits, punctuation and spacing
ignored; line breaks count as spaces), the one with the smallest id; rejects carry
the kept id in `meta["duplicate_of"]`. line_dedup: a line (compared by
`filters.normalize.line_hash`; blank and punctuation-only lines take no part) that
occurs in two or more of the remaining documents is removed from all of them; a line
repeated only inside one document counts once and stays. With `keep_first`, the
document with the smallest id keeps its copy (like cc_net's one-pass `deduplicate`,
with "first" the smallest id). Documents left with fewer than `min_chars` characters
(ends stripped) are dropped as `too_short`.

Scope: the whole input of the run, both modes. (cc_net deduplicated each of a dump's
~1,600 shards against the hashes of its group of 50 shards, `hash_in_mem`: a line
shared only across groups stayed in cc_net, and goes here.)

Everything global goes through Beam's shuffle, never a set of all lines in memory:
the lines, as packed rows (line hash, text key, document tag, position) grouped by
line-hash shard, each shard judged on its own in memory (`shards`: more shards, less
memory each; `pipeline.stages.shard_dedup`); then the removal orders joined with the
documents (by normalised text in `normalized` mode, where the copy with the smallest
id is kept and trimmed; by document tag in `cc_net` mode). In `cc_net` mode the empty
line's hash, which nearly every document has, is not shuffled as rows (it would fill
one shard with a row per document): the documents that have it are counted in one
global Combine instead. Each document is normalised once.

Extra stat rows: (source, "line_dedup", "lines_in" / "lines_removed") -> (lines,
bytes), and (source, "line_dedup", "mode:<mode>") -> (1, 0) naming the mode that ran.
"""
from __future__ import annotations

import dataclasses
from array import array
from dataclasses import dataclass
from typing import Literal

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from filters.document import Document
from filters.line_dedup import (
    DEFAULT_SHARDS,
    LineRows,
    cc_net_remove_duplicates,
    cc_net_rows,
    remove_line_positions,
    removal_positions,
    shared_line_positions,
)
from filters.normalize import CC_NET_EMPTY_HASH, cc_net_line_hashes, line_digests
from pipeline.settings import at_least, invalid
from pipeline.stages.judge import REJECTED, Judge, judged
from pipeline.stages.shard_dedup import JudgeShards, doc_tag, emit_rows, positions_of
from pipeline.stats import STATS, StageResult, SumStats

EXACT_DEDUP = "exact_dedup"
MIN_LENGTH = "min_length"
LINE_DEDUP = "line_dedup"

_LINES = "lines"
_BLANK = "blank"


@dataclass(frozen=True, kw_only=True)
class LineDedupSettings:
    """Config `cc.line_dedup` (commented in configs/sample.yaml)."""

    # cc_net: cc_net's reading and two-pass line dedup, exactly (LLaMA-1); normalized: our rule.
    mode: Literal["cc_net", "normalized"] = "cc_net"
    # normalized mode only: the smallest id keeps a shared line (like cc_net's one-pass dedup).
    keep_first: bool = False
    # cc_net: documents shorter than this as read are dropped (stage min_length; cc_net's
    # min_len). normalized: documents left shorter after line removal are dropped.
    min_chars: int = at_least(300, 0)
    shards: int = at_least(DEFAULT_SHARDS, 1)  # line-hash shards, each judged in one worker's memory

    def __post_init__(self):
        if self.keep_first and self.mode != "normalized":
            raise invalid("keep_first", "applies to mode normalized only (mode cc_net is cc_net's two-pass "
                                        "dedup, which removes every copy of a shared line)", self.keep_first)


def dedup_stage_names(settings: LineDedupSettings) -> tuple[str, ...]:
    """The stages the dedup transform of this mode reports, in order."""
    return (MIN_LENGTH, LINE_DEDUP) if settings.mode == "cc_net" else (EXACT_DEDUP, LINE_DEDUP)


def dedup_transform(source: str, settings: LineDedupSettings) -> beam.PTransform:
    """The dedup stages of this mode: CcNetDedup or Dedup."""
    return CcNetDedup(source, settings) if settings.mode == "cc_net" else Dedup(source, settings)


def _mode_row(pipeline, source: str, mode: str):
    """One stat row naming the mode that ran, for stats.json and the summary."""
    return pipeline | "Mode" >> beam.Create([((source, LINE_DEDUP, f"mode:{mode}"), (1, 0))])


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
    """Mode `normalized`: stages "exact_dedup" then "line_dedup" (the module docstring)."""

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
        mode = "normalized, keep_first" if self._keep_first else "normalized"
        stats = (prints[STATS], out.stats, _mode_row(docs.pipeline, self._source, mode)) | "SumStats" >> SumStats()
        return StageResult(out.kept, out.rejected, stats)


# ------------------------------------------------------------------------ cc_net mode

class _HashLines(beam.DoFn):
    """min_length, then cc_net's line hashes: doc -> (tag, (doc, its hashes as int64 bytes));
    per bundle, its line rows by shard (`_LINES`) and how many documents have an empty
    line (`_BLANK`)."""

    def __init__(self, source: str, shards: int, min_chars: int):
        self._source, self._shards, self._min_chars = source, shards, min_chars

    def setup(self):
        self._short = Judge(self._source, MIN_LENGTH, ["too_short"])
        self._lines = Judge(self._source, LINE_DEDUP)

    def start_bundle(self):
        self._rows = LineRows(self._shards)
        self._blank = 0

    def process(self, doc: Document):
        yield from self._short.arrived(doc)
        if len(doc.text) < self._min_chars:  # characters, as cc_net's len(raw_content)
            yield from self._short.drop(doc, "too_short")
            return
        yield from self._short.passes(doc)
        yield from self._lines.arrived(doc)
        tag = doc_tag(doc)
        if not doc.text:  # cc_net's HashesCollector skips an empty text: no hashes
            yield tag, (doc, b"")
            return
        hashes = cc_net_line_hashes(doc.text)
        yield tag, (doc, array("q", hashes).tobytes())
        self._rows.add(tag, tag, cc_net_rows(hashes))
        if CC_NET_EMPTY_HASH in hashes:
            self._blank += 1
        yield from emit_rows(self._rows, _LINES)

    def finish_bundle(self):
        yield from emit_rows(self._rows, _LINES, final=True)
        if self._blank:
            yield beam.pvalue.TaggedOutput(_BLANK, GlobalWindows.windowed_value(self._blank))


class _RemoveDuplicates(beam.DoFn):
    """(tag, {"doc": [(doc, hashes)], "remove": [(tag, positions)]}), and how many documents
    have an empty line -> each record without its duplicated lines (kept), or dropped as
    `empty` when no line is left."""

    def __init__(self, source: str):
        self._source = source

    def setup(self):
        self._lines = Judge(self._source, LINE_DEDUP, ["empty"])

    def process(self, element, blank_documents: int):
        _, joined = element
        positions = positions_of(positions for _, positions in joined["remove"])
        for doc, packed in joined["doc"]:  # several only for a record read more than once
            hashes = array("q")
            hashes.frombytes(packed)
            hashes = hashes.tolist()
            duplicated = {hashes[p] for p in positions}
            if blank_documents >= 2:
                duplicated.add(CC_NET_EMPTY_HASH)
            result = cc_net_remove_duplicates(doc.text, hashes, duplicated)
            if result is None:
                gone = dataclasses.replace(doc, text="")
                yield from self._lines.trimmed(doc, gone, len(hashes), len(hashes))
                rejected = dataclasses.replace(doc, meta={**doc.meta, "lines_removed": len(hashes)})
                yield from self._lines.drop(rejected, "empty")
                continue
            text, removed = result
            out = dataclasses.replace(doc, text=text) if removed else doc
            yield from self._lines.trimmed(doc, out, len(hashes), removed)
            yield from self._lines.keep(out)


class CcNetDedup(beam.PTransform):
    """Mode `cc_net`: stages "min_length" then "line_dedup" (the module docstring)."""

    def __init__(self, source: str, settings: LineDedupSettings):
        super().__init__()
        self._source, self._shards, self._min_chars = source, settings.shards, settings.min_chars

    def expand(self, docs) -> StageResult:
        hashed = docs | "HashLines" >> beam.ParDo(_HashLines(self._source, self._shards, self._min_chars)).with_outputs(
            _LINES, _BLANK, REJECTED, STATS, main="by_tag")
        orders = (
            hashed[_LINES]
            | "GroupByShard" >> beam.GroupByKey()
            | "SharedLines" >> beam.ParDo(JudgeShards(shared_line_positions))
        )
        blank_documents = hashed[_BLANK] | "CountBlank" >> beam.CombineGlobally(sum)
        out = (
            {"doc": hashed.by_tag, "remove": orders}
            | "JoinByTag" >> beam.CoGroupByKey()
            | "Remove" >> beam.ParDo(_RemoveDuplicates(self._source), beam.pvalue.AsSingleton(blank_documents))
            .with_outputs(REJECTED, STATS, main="kept")
        )
        stats = (hashed[STATS], out[STATS], _mode_row(docs.pipeline, self._source, "cc_net")) | "SumStats" >> SumStats()
        rejected = (hashed[REJECTED], out[REJECTED]) | "Rejected" >> beam.Flatten()
        return StageResult(out.kept, rejected, stats)

"""CommonCrawl curation, first half (cc_net): exact dedup, line dedup, language id.

Each stage is a composite PTransform returning a StageResult. Everything global
(which texts or lines occur in more than one document) goes through Beam's shuffle,
never a Python set, so it scales past one machine on a distributed runner. "First"
always means the smallest document id.

    docs -> Dedup (exact_dedup, line_dedup) -> LanguageId -> kept
    (each stage also emits its rejects and stat rows; CurateCC flattens them)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics

from filters.document import Document
from filters.lid import LanguageIdFilter
from filters.line_dedup import DEFAULT_SHARDS, LineRows, remove_line_positions, removal_positions
from filters.normalize import line_digests
from pipeline.dofn import REJECTED, FilterStage
from pipeline.quality import PerplexitySettings, WikirefSettings
from pipeline.settings import at_least, between, section
from pipeline.shard_dedup import JudgeShards, doc_tag, emit_rows, positions_of
from pipeline.stats import STATS, Rejection, StageResult, SumStats, run_stages, stat_row

EXACT_DEDUP = "exact_dedup"
LINE_DEDUP = "line_dedup"
LID = "lid"

_LINES = "lines"


@dataclass(frozen=True, kw_only=True)
class LineDedupSettings:
    """Config `cc.line_dedup` (commented in configs/sample.yaml)."""

    keep_first: bool = False  # True: the smallest id keeps a shared line (cc_net's one-pass dedup)
    # Documents left shorter than this are dropped: cc_net's `mine.Config.min_len`.
    min_chars: int = at_least(300, 0)
    shards: int = at_least(DEFAULT_SHARDS, 1)  # line-hash shards, each judged in one worker's memory


@dataclass(frozen=True, kw_only=True)
class LidSettings:
    """Config `cc.lid` and `c4.lid`: fastText's top language must be listed, with this probability."""

    languages: tuple[str, ...] = ("en",)
    threshold: float = between(0.5, 0, 1)  # cc_net's


@dataclass(frozen=True, kw_only=True)
class CCSettings:
    """Config `cc`."""

    main_content: bool = True  # resiliparse main-content extraction for WARC HTML (WET text as is)
    line_dedup: LineDedupSettings = section(LineDedupSettings)
    lid: LidSettings = section(LidSettings)
    perplexity: PerplexitySettings = section(PerplexitySettings)
    wikiref: WikirefSettings = section(WikirefSettings)

class _Fingerprint(beam.DoFn):
    """doc -> (text key, (tag, doc)); per bundle, its line rows by shard.

    One normalisation pass per document serves both stages: the text key is the
    hash of the whole normalised text, built from the normalised lines. The lines
    go out as packed rows (filters.line_dedup.LineRows), one element per shard per
    flush instead of one per line.
    """

    def __init__(self, source: str, shards: int, keep_first: bool):
        self._source, self._shards, self._keep_first = source, shards, keep_first

    def start_bundle(self):
        self._rows = LineRows(self._shards)

    def process(self, doc: Document):
        yield stat_row(self._source, EXACT_DEDUP, "in", 1, doc.nbytes)
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
        self._exact_kept = Metrics.counter(EXACT_DEDUP, "kept")
        self._exact_dropped = Metrics.counter(EXACT_DEDUP, "dropped_duplicate_document")
        self._kept = Metrics.counter(LINE_DEDUP, "kept")
        self._dropped = Metrics.counter(LINE_DEDUP, "dropped_too_short")
        self._removed_counter = Metrics.counter(LINE_DEDUP, "lines_removed")

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
                self._exact_dropped.inc()
                yield stat_row(self._source, EXACT_DEDUP, "dropped:duplicate_document", 1, copy.nbytes)
                dup = dataclasses.replace(copy, meta={**copy.meta, "duplicate_of": doc.id})
                yield beam.pvalue.TaggedOutput(REJECTED, Rejection(dup, EXACT_DEDUP, "duplicate_document"))
        self._exact_kept.inc()
        yield stat_row(self._source, EXACT_DEDUP, "kept", 1, doc.nbytes)
        yield stat_row(self._source, LINE_DEDUP, "in", 1, doc.nbytes)
        remove = positions_of(positions for order_tag, positions in joined["remove"] if order_tag == tag)
        yield from self._remove_lines(doc, remove)

    def _remove_lines(self, doc: Document, remove: set[int]):
        text, n_removed = remove_line_positions(doc.text, remove)
        out = dataclasses.replace(doc, text=text) if n_removed else doc
        # lines_in bytes are the document's bytes, so lines_removed bytes are exactly
        # what the trimming took away (line contents and their newlines).
        yield stat_row(self._source, LINE_DEDUP, "lines_in", doc.text.count("\n") + 1, doc.nbytes)
        yield stat_row(self._source, LINE_DEDUP, "lines_removed", n_removed, doc.nbytes - out.nbytes)
        self._removed_counter.inc(n_removed)
        if len(out.text.strip()) < self._min_chars:
            self._dropped.inc()
            if n_removed:  # the reject shows what was left, and why it got short
                out.meta = {**out.meta, "lines_removed": n_removed}
            yield stat_row(self._source, LINE_DEDUP, "dropped:too_short", 1, out.nbytes)
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(out, LINE_DEDUP, "too_short"))
        else:
            self._kept.inc()
            yield stat_row(self._source, LINE_DEDUP, "kept", 1, out.nbytes)
            yield out


class Dedup(beam.PTransform):
    """Stages "exact_dedup" then "line_dedup" (cc_net), with one shuffle of the documents.

    exact_dedup: one document per normalised text (`filters.normalize`: case,
    accents, digits, punctuation and spacing ignored; line breaks count as spaces),
    the one with the smallest id; rejects carry the kept id in `meta["duplicate_of"]`.

    line_dedup: a line (compared by `filters.normalize.line_hash`; blank and
    punctuation-only lines take no part) that occurs in two or more of the remaining
    documents is removed from all of them. A line repeated only inside one document
    counts once and stays. With `keep_first`, the document with the smallest id keeps
    its copy (cc_net's one-pass `deduplicate`); by default every copy goes (cc_net's
    two-pass dedup, what the cc_net paper and LLaMA used). Documents left with fewer
    than `min_chars` characters (ends stripped) are dropped as `too_short`.

    Everything global goes through Beam's shuffle, never a set of all lines in
    memory, in two shuffles: the lines, as packed rows (line hash, text key,
    document tag, position) grouped by line-hash shard, each shard judged on its own
    in memory (`shards`: more shards, less memory each); then the documents grouped
    by normalised text together with their removal orders, where the copy with the
    smallest id is kept and trimmed. Each document is normalised once. Extra stat
    rows: (source, "line_dedup", "lines_in" / "lines_removed") -> (lines, bytes).
    """

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
        out = (
            {"doc": prints.by_text, "remove": orders}
            | "JoinByText" >> beam.CoGroupByKey()
            | "Apply" >> beam.ParDo(_Apply(self._source, self._min_chars)).with_outputs(
                REJECTED, STATS, main="kept")
        )
        stats = (prints[STATS], out[STATS]) | "SumStats" >> SumStats()
        return StageResult(out.kept, out[REJECTED], stats)


class LanguageId(FilterStage):
    """Stage "lid": fastText LID (filters.lid.LanguageIdFilter) as a Beam stage.

    Extra stat rows: "lang_before:<lang>" for every document that got a prediction
    (all but `empty` ones) and "lang_after:<lang>" for kept ones. `model_path` is the
    LID model the models stage recorded.
    """

    def __init__(self, source: str, settings: LidSettings, model_path: str | Path):
        super().__init__(LanguageIdFilter(model_path, settings.languages, settings.threshold), source)

    def expand(self, docs) -> StageResult:
        # The filter annotates the document it is given; Beam forbids mutating inputs.
        return super().expand(docs | "Copy" >> beam.Map(dataclasses.replace))


class CurateCC(beam.PTransform):
    """Dedup (exact_dedup, line_dedup) -> LanguageId; rejects and stats of all three, flattened."""

    def __init__(self, source: str, settings: CCSettings, lid_model: str | Path):
        super().__init__()
        self._dedup = Dedup(source, settings.line_dedup)
        self._lid = LanguageId(source, settings.lid, lid_model)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [("Dedup", self._dedup), ("LanguageId", self._lid)])

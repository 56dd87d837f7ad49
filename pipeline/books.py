"""Books: Project Gutenberg and Books3-style plain text, Gutenberg boilerplate removed,
near-duplicates (MinHash LSH, >= 90% estimated shingle overlap) removed.

    docs -> Gutenberg ("gutenberg") -> NearDedup ("near_dedup") -> kept
              \\______________________\\_____________________-> rejected, stats

LLaMA-1 (section 2): "We remove books with more than 90% content overlap." Content
overlap is measured as the Jaccard similarity of word 5-gram shingles, estimated
with MinHash (filters.minhash).

NearDedup runs entirely on Beam's shuffle, so it scales past one worker's memory:

  1. signatures: (id, (document, signature)), computed once per document
  2. buckets:    one ((band key), id) per band -> GroupByKey -> candidate pairs
                 (a, b), a < b; a bucket over `max_bucket_size` ids pairs every id
                 with the bucket's smallest id only (counted, logged)
  3. join at a:  CoGroupByKey(signatures, pairs) -> (b, (a, signature of a))
  4. join at b:  CoGroupByKey(documents with signatures, candidates) -> verify each
                 candidate on the full signatures (estimated Jaccard >= threshold)

A document is dropped (`near_duplicate`, meta["duplicate_of"] = the smallest
verified id, meta["similarity"] = the estimate) when it has a verified near-duplicate
with a smaller id. The smallest id of every cluster therefore stays; in a chain
A ~ B ~ C where A and C are not near-duplicates of each other, B and C both go
(each has a smaller neighbour), and where only A ~ C and B ~ C, B stays as well as A
(B has no near-duplicate with a smaller id). Full connected components would need
iterative shuffles; this rule never keeps two verified near-duplicates.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from filters.books import GutenbergStrip
from filters.document import Document
from filters.minhash import SIGNATURE_DTYPE, MinHasher, MinHashParams, band_keys, estimated_jaccard
from pipeline.dofn import REJECTED, FilterStage
from pipeline.readers.books import parse_books
from pipeline.settings import section
from pipeline.stats import STATS, Rejection, StageResult, SumStats, run_stages, stat_row, sum_pairs

log = logging.getLogger(__name__)

SOURCE = "books"
GUTENBERG = GutenbergStrip.stage
NEAR_DEDUP = "near_dedup"
OVERSIZED_LOG_LIMIT = 5  # per worker


@dataclass(frozen=True, kw_only=True)
class BooksSettings:
    """Config `books`: near-duplicate removal at 90% content overlap (LLaMA-1)."""

    near_dedup: MinHashParams = section(MinHashParams)


class Gutenberg(beam.PTransform):
    """Stage "gutenberg": `filters.books.GutenbergStrip`, plus "markers:<kind>" rows.

    The markers rows count the kept books by which Gutenberg markers they had
    (both / start_only / end_only / none); a text still naming Project Gutenberg
    where a marker is missing is dropped as `gutenberg_markers_missing`.
    """

    def __init__(self, source: str = SOURCE):
        super().__init__()
        self._source = source

    def expand(self, docs) -> StageResult:
        result = docs | FilterStage(GutenbergStrip(), self._source)
        source = self._source
        markers = (
            result.kept
            | "Markers" >> beam.Map(lambda d: ((source, GUTENBERG, f"markers:{d.meta.get('gutenberg_markers', 'none')}"),
                                               (1, d.nbytes)))
            | "SumMarkers" >> beam.CombinePerKey(sum_pairs)
        )
        stats = (result.stats, markers) | "AllStats" >> beam.Flatten()
        return StageResult(result.kept, result.rejected, stats)


class _Sign(beam.DoFn):
    """Document -> (id, (document, signature bytes or None)); the MinHash permutations load once."""

    def __init__(self, params: MinHashParams):
        self._params = params

    def setup(self):
        self._hasher = MinHasher(self._params.num_perm, self._params.seed, self._params.shingle_size)
        self._no_words = Metrics.counter(NEAR_DEDUP, "documents_without_words")

    def process(self, doc: Document):
        sig = self._hasher.signature(doc.text)
        if sig is None:
            self._no_words.inc()  # nothing to compare: kept, never a candidate
        yield doc.id, (doc, None if sig is None else sig.tobytes())


def _signature(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=SIGNATURE_DTYPE)


class _BucketPairs(beam.DoFn):
    """(band key, ids) -> candidate pairs (a, b) with a < b; oversized buckets counted."""

    def __init__(self, source: str, max_bucket_size: int):
        self._source, self._max = source, max_bucket_size

    def setup(self):
        self._oversized = Metrics.counter(NEAR_DEDUP, "oversized_buckets")
        self._logged = 0

    def process(self, element):
        key, ids = element
        head = []
        for doc_id in ids:  # hold at most max_bucket_size + 1 ids
            head.append(doc_id)
            if len(head) > self._max:
                break
        if len(head) < 2:
            return
        if len(head) <= self._max:
            head = sorted(set(head))
            for i, a in enumerate(head):
                for b in head[i + 1:]:
                    yield a, b
            return
        # Oversized: pair every id with the bucket's smallest one (two streaming passes).
        smallest = min(ids)
        n = 0
        for doc_id in ids:
            n += 1
            if doc_id != smallest:
                yield smallest, doc_id
        self._oversized.inc()
        if self._logged < OVERSIZED_LOG_LIMIT:
            log.warning("near_dedup: LSH bucket %d holds %d documents (max_bucket_size %d); "
                        "pairing each with the smallest id %s only", key, n, self._max, smallest)
            self._logged += 1
        yield stat_row(self._source, NEAR_DEDUP, "oversized_buckets", 1, 0)
        yield stat_row(self._source, NEAR_DEDUP, "oversized_bucket_documents", n, 0)


def _candidates_at_a(element):
    """(a, {"sig": [signature of a], "pairs": [b, ...]}) -> (b, (a, signature of a)), once per b."""
    a, joined = element
    sigs = list(joined["sig"])
    if not sigs:
        return
    for b in sorted(set(joined["pairs"])):
        for sig in sigs:  # more than one only if two documents share an id
            yield b, (a, sig)


class _Verify(beam.DoFn):
    """(b, {"item": [(doc, sig)], "cand": [(a, sig_a)]}) -> kept, or near_duplicate of the smallest a."""

    def __init__(self, source: str, threshold: float):
        self._source, self._threshold = source, threshold

    def setup(self):
        self._kept = Metrics.counter(NEAR_DEDUP, "kept")
        self._dropped = Metrics.counter(NEAR_DEDUP, "dropped_near_duplicate")

    def process(self, element):
        _, joined = element
        cands = list(joined["cand"])
        src = self._source
        for doc, sig_bytes in joined["item"]:
            yield stat_row(src, NEAR_DEDUP, "in", 1, doc.nbytes)
            best = None  # (a, similarity) with the smallest verified a
            verified = 0
            if sig_bytes is not None and cands:
                sig = _signature(sig_bytes)
                for a, sig_a in cands:
                    similarity = estimated_jaccard(sig, _signature(sig_a))
                    if similarity >= self._threshold:
                        verified += 1
                        if best is None or a < best[0]:
                            best = (a, similarity)
                yield stat_row(src, NEAR_DEDUP, "candidate_pairs", len(cands), 0)
                yield stat_row(src, NEAR_DEDUP, "verified_pairs", verified, 0)
            if best is None:
                self._kept.inc()
                yield stat_row(src, NEAR_DEDUP, "kept", 1, doc.nbytes)
                yield doc
            else:
                self._dropped.inc()
                dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": best[0],
                                                     "similarity": round(best[1], 4)})
                yield stat_row(src, NEAR_DEDUP, "dropped:near_duplicate", 1, dup.nbytes)
                yield beam.pvalue.TaggedOutput(REJECTED, Rejection(dup, NEAR_DEDUP, "near_duplicate"))


class NearDedup(beam.PTransform):
    """Stage "near_dedup": MinHash LSH on Beam's shuffle; see the module docstring.

    Extra stat rows: "candidate_pairs" (distinct pairs verified), "verified_pairs"
    (pairs at or over the threshold), "oversized_buckets" and
    "oversized_bucket_documents" (the documents in them).
    """

    def __init__(self, params: MinHashParams, source: str):
        super().__init__()
        self._params, self._source = params, source

    def expand(self, docs) -> StageResult:
        params, source = self._params, self._source
        signed = docs | "Sign" >> beam.ParDo(_Sign(params))
        sigs = signed | "Signatures" >> beam.FlatMap(lambda kv: [(kv[0], kv[1][1])] if kv[1][1] is not None else [])
        buckets = (
            sigs
            | "BandKeys" >> beam.FlatMap(
                lambda kv: ((key, kv[0]) for key in band_keys(_signature(kv[1]), params.bands, params.rows)))
            | "GroupByBand" >> beam.GroupByKey()
            | "Pairs" >> beam.ParDo(_BucketPairs(source, params.max_bucket_size)).with_outputs(
                STATS, main="pairs")
        )
        at_a = (
            {"sig": sigs, "pairs": buckets.pairs}
            | "JoinAtA" >> beam.CoGroupByKey()
            | "CandidatesAtB" >> beam.FlatMap(_candidates_at_a)
        )
        out = (
            {"item": signed, "cand": at_a}
            | "JoinAtB" >> beam.CoGroupByKey()
            | "Verify" >> beam.ParDo(_Verify(source, params.threshold)).with_outputs(
                REJECTED, STATS, main="kept")
        )
        stats = (buckets[STATS], out[STATS]) | "SumStats" >> SumStats()
        return StageResult(out.kept, out[REJECTED], stats)


class CurateBooks(beam.PTransform):
    """Gutenberg -> NearDedup; rejects and stats of both, flattened."""

    def __init__(self, source: str, settings: BooksSettings):
        super().__init__()
        self._gutenberg = Gutenberg(source)
        self._near = NearDedup(settings.near_dedup, source)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [("Gutenberg", self._gutenberg), ("NearDedup", self._near)])


def build_books(p, config, models: dict) -> tuple[StageResult, beam.PCollection]:
    """The Books source for pipeline.curate: read inputs.books, curate with config.books."""
    from pipeline.read import read_source

    docs, read_stats = read_source(p, config, SOURCE, parse_books)
    return docs | "CurateBooks" >> CurateBooks(SOURCE, config.books), read_stats

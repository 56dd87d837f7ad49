"""Stage "near_dedup": MinHash LSH near-duplicate removal on Beam's shuffle (LLaMA-1's rule for books).

Settings are `filters.minhash.MinHashParams` (config `books.near_dedup`); signatures
and band keys come from `filters.minhash`, the one implementation.

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

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from filters.document import Document
from filters.minhash import SIGNATURE_DTYPE, MinHasher, MinHashParams, band_keys, estimated_jaccard
from pipeline.stages.judge import Judge, judged
from pipeline.stats import STATS, StageResult, SumStats, stat_row

log = logging.getLogger(__name__)

NEAR_DEDUP = "near_dedup"
OVERSIZED_LOG_LIMIT = 5  # per worker


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
        self._judge = Judge(self._source, NEAR_DEDUP, ["near_duplicate"])

    def process(self, element):
        _, joined = element
        cands = list(joined["cand"])
        for doc, sig_bytes in joined["item"]:
            yield from self._judge.arrived(doc)
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
                yield self._judge.row("candidate_pairs", len(cands), 0)
                yield self._judge.row("verified_pairs", verified, 0)
            if best is None:
                yield from self._judge.keep(doc)
            else:
                dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": best[0],
                                                     "similarity": round(best[1], 4)})
                yield from self._judge.drop(dup, "near_duplicate")


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
        out = judged({"item": signed, "cand": at_a} | "JoinAtB" >> beam.CoGroupByKey(),
                     "Verify", _Verify(source, params.threshold))
        stats = (buckets[STATS], out.stats) | "SumStats" >> SumStats()
        return StageResult(out.kept, out.rejected, stats)

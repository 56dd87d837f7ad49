"""Stage "near_dedup": MinHash LSH near-duplicate removal on Beam's shuffle, with two rules.

Signatures and band keys come from `filters.minhash`, the one implementation. The
front half is shared by every rule (and by the cross-source stage,
pipeline.stages.cross_source), and runs entirely on Beam's shuffle, so it scales
past one worker's memory:

  1. signatures: (key, (document, signature)), computed once per document
  2. buckets:    one ((band key), key) per band -> GroupByKey -> candidate pairs
                 (a, b), a < b; a bucket over `max_bucket_size` keys pairs every key
                 with the bucket's smallest key only (counted, logged)
  3. join at a:  CoGroupByKey(signatures, pairs) -> (b, (a, signature of a))
  4. join at b:  verify each candidate on the full signatures (estimated Jaccard
                 >= threshold): a verified pair

Then one of two rules decides which documents go:

pairwise (`NearDedup`: Books, LLaMA-1's rule for books, config `books.near_dedup`):
a document is dropped (`near_duplicate`, meta["duplicate_of"] = the smallest verified
id, meta["similarity"] = the estimate) when it has a verified near-duplicate with a
smaller id. Decided at step 4, with no further shuffle. In a chain A ~ B ~ C where A
and C are not near-duplicates of each other, the rule keeps every document with no
smaller neighbour: if B has the largest id, A and C both stay.

components (`DocumentNearDedup`: CommonCrawl and C4, config `cc.near_dedup` /
`c4.near_dedup`): the verified pairs are the edges of a graph whose connected
components are found on Beam by min-label propagation (pipeline.stages.components): every
document starts labelled with its own id and, each round, takes the smallest label
among itself and its neighbours; after at most `max_rounds` rounds (one GroupByKey
each) every document of a component holds the component's smallest id. Each
component keeps that document; the others are dropped (`near_duplicate`,
meta["duplicate_of"] = their label). So a chain A ~ B ~ C keeps one document. Rounds
used and any component still unconverged after `max_rounds` are counted (an
unconverged component keeps more than one document, never none: its smallest id
always keeps its own label).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from filters.document import Document
from filters.minhash import SIGNATURE_DTYPE, MinHasher, MinHashParams, band_keys, estimated_jaccard
from pipeline.settings import at_least, between, invalid
from pipeline.stages.components import MinLabelComponents
from pipeline.stages.judge import Judge, judged
from pipeline.stats import STATS, StageResult, SumStats, stat_row

log = logging.getLogger(__name__)

NEAR_DEDUP = "near_dedup"
NEAR_DUPLICATE = "near_duplicate"
OVERSIZED_LOG_LIMIT = 5  # per worker


@dataclass(frozen=True, kw_only=True)
class NearDedupSettings:
    """Config `cc.near_dedup` / `c4.near_dedup`: document near-dedup by connected components.

    Off by default (LLaMA-1 stopped at line dedup). 20 bands x 6 rows catch a pair at
    Jaccard 0.8 with probability 0.998 (the S-curve is steepest near 0.61); every
    candidate is verified on the full signature, so the threshold is what decides.
    """

    enabled: bool = False
    threshold: float = between(0.8, 0.0, 1.0, low_open=True)  # estimated Jaccard of word shingles
    num_perm: int = at_least(128, 1)
    bands: int = at_least(20, 1)
    rows: int = at_least(6, 1)
    shingle_size: int = at_least(5, 1)  # words per shingle
    seed: int = 1  # the MinHash permutations; every worker derives the same ones
    max_bucket_size: int = at_least(1000, 2)  # larger LSH buckets pair each key with the smallest only
    max_rounds: int = at_least(10, 1)  # label-propagation rounds (one shuffle each)

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm:
            raise invalid("bands", f"* rows ({self.bands} * {self.rows}) must not exceed num_perm "
                                   f"({self.num_perm})")

    @property
    def params(self) -> MinHashParams:
        return MinHashParams(shingle_size=self.shingle_size, num_perm=self.num_perm, bands=self.bands,
                             rows=self.rows, threshold=self.threshold, seed=self.seed,
                             max_bucket_size=self.max_bucket_size)


def stage_names(settings: NearDedupSettings) -> tuple[str, ...]:
    """("near_dedup",) when enabled, else nothing: for a source record's `stages`."""
    return (NEAR_DEDUP,) if settings.enabled else ()


def stages(source: str, settings: NearDedupSettings) -> list[tuple[str, beam.PTransform]]:
    """The (label, transform) to append to a source's chain when enabled."""
    return [("NearDedup", DocumentNearDedup(settings, source))] if settings.enabled else []


# ---------------------------------------------------------------- the shared front half

class _Sign(beam.DoFn):
    """(key, document) -> (key, (document, signature bytes or None)); permutations load once."""

    def __init__(self, params: MinHashParams, counter: str = NEAR_DEDUP):
        self._params, self._counter = params, counter

    def setup(self):
        self._hasher = MinHasher(self._params.num_perm, self._params.seed, self._params.shingle_size)
        self._no_words = Metrics.counter(self._counter, "documents_without_words")

    def process(self, element):
        key, doc = element
        sig = self._hasher.signature(doc.text)
        if sig is None:
            self._no_words.inc()  # nothing to compare: kept, never a candidate
        yield key, (doc, None if sig is None else sig.tobytes())


def _signature(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=SIGNATURE_DTYPE)


def _with_signature(element):
    key, (_, sig) = element
    if sig is not None:
        yield key, sig


def _band_keys(element, bands: int, rows: int):
    key, sig = element
    for band in band_keys(_signature(sig), bands, rows):
        yield band, key


def fixed_source(source: str, key) -> str:
    """The source of every key of a one-source stage."""
    return source


class _BucketPairs(beam.DoFn):
    """(band key, keys) -> candidate pairs (a, b) with a < b; oversized buckets counted.

    `source_of(key)` names the source a stat row belongs to; `cross_only` (keys are
    (rank, id)) skips pairs of the same rank, i.e. of the same source.
    """

    def __init__(self, source_of, max_bucket_size: int, stage: str = NEAR_DEDUP, cross_only: bool = False):
        self._source_of, self._max, self._stage, self._cross = source_of, max_bucket_size, stage, cross_only

    def setup(self):
        self._oversized = Metrics.counter(self._stage, "oversized_buckets")
        self._logged = 0

    def _wanted(self, a, b) -> bool:
        return not (self._cross and a[0] == b[0])

    def process(self, element):
        band, keys = element
        head = []
        for key in keys:  # hold at most max_bucket_size + 1 keys
            head.append(key)
            if len(head) > self._max:
                break
        if len(head) < 2:
            return
        if len(head) <= self._max:
            head = sorted(set(head))
            for i, a in enumerate(head):
                for b in head[i + 1:]:
                    if self._wanted(a, b):
                        yield a, b
            return
        # Oversized: pair every key with the bucket's smallest one (two streaming passes).
        smallest = min(keys)
        n = 0
        for key in keys:
            n += 1
            if key != smallest and self._wanted(smallest, key):
                yield smallest, key
        self._oversized.inc()
        if self._logged < OVERSIZED_LOG_LIMIT:
            log.warning("%s: LSH bucket %d holds %d documents (max_bucket_size %d); "
                        "pairing each with the smallest key %s only", self._stage, band, n, self._max, smallest)
            self._logged += 1
        source = self._source_of(smallest)
        yield stat_row(source, self._stage, "oversized_buckets", 1, 0)
        yield stat_row(source, self._stage, "oversized_bucket_documents", n, 0)


def _candidates_at_a(element):
    """(a, {"sig": [signature of a], "pairs": [b, ...]}) -> (b, (a, signature of a)), once per b."""
    a, joined = element
    sigs = list(joined["sig"])
    if not sigs:
        return
    for b in sorted(set(joined["pairs"])):
        for sig in sigs:  # more than one only if two documents share a key
            yield b, (a, sig)


def lsh_candidates(keyed_docs, params: MinHashParams, source_of, stage: str = NEAR_DEDUP, cross_only: bool = False):
    """Steps 1-3 on (key, document) pairs: (signed, signatures, candidates at b, bucket stat rows).

    signed: (key, (document, signature bytes or None)); signatures: (key, bytes) of the
    documents with words; candidates: (b, (a, signature of a)) for every pair a < b
    sharing a band.
    """
    signed = keyed_docs | "Sign" >> beam.ParDo(_Sign(params, stage))
    sigs = signed | "Signatures" >> beam.FlatMap(_with_signature)
    buckets = (
        sigs
        | "BandKeys" >> beam.FlatMap(_band_keys, params.bands, params.rows)
        | "GroupByBand" >> beam.GroupByKey()
        | "Pairs" >> beam.ParDo(_BucketPairs(source_of, params.max_bucket_size, stage, cross_only)).with_outputs(
            STATS, main="pairs")
    )
    at_b = (
        {"sig": sigs, "pairs": buckets.pairs}
        | "JoinAtA" >> beam.CoGroupByKey()
        | "CandidatesAtB" >> beam.FlatMap(_candidates_at_a)
    )
    return signed, sigs, at_b, buckets[STATS]


def verified(sig_bytes: bytes, candidates, threshold: float) -> list[tuple]:
    """The (a, similarity) of the candidates whose signature agrees with `sig_bytes` at >= threshold."""
    sig = _signature(sig_bytes)
    out = []
    for a, sig_a in candidates:
        similarity = estimated_jaccard(sig, _signature(sig_a))
        if similarity >= threshold:
            out.append((a, similarity))
    return out


def key_id(key) -> str:
    """The document id of a key: the id itself, or the id of a (rank, id) key."""
    return key if isinstance(key, str) else key[1]


# ---------------------------------------------------------------- the pairwise rule

class VerifyAtB(beam.DoFn):
    """(b, {"item": [(doc, sig)], "cand": [(a, sig_a)]}) -> kept, or dropped as a duplicate of the smallest a.

    `source`: every document's source, or None to judge each under its own source;
    `ranked`: the source names by rank, for keys (rank, id): drops then also count
    "duplicate_of:<source of a>".
    """

    def __init__(self, source: str | None, threshold: float, stage: str = NEAR_DEDUP, reason: str = NEAR_DUPLICATE,
                 ranked: tuple[str, ...] | None = None):
        self._source, self._threshold, self._stage, self._reason, self._ranked = (
            source, threshold, stage, reason, ranked)

    def setup(self):
        self._judges: dict[str, Judge] = {}

    def _judge(self, doc: Document) -> Judge:
        source = self._source or doc.source
        if source not in self._judges:
            self._judges[source] = Judge(source, self._stage, [self._reason])
        return self._judges[source]

    def process(self, element):
        _, joined = element
        cands = list(joined["cand"])
        for doc, sig_bytes in joined["item"]:
            judge = self._judge(doc)
            yield from judge.arrived(doc)
            best = None  # (a, similarity) with the smallest verified a
            if sig_bytes is not None and cands:
                matches = verified(sig_bytes, cands, self._threshold)
                for a, similarity in matches:
                    if best is None or a < best[0]:
                        best = (a, similarity)
                yield judge.row("candidate_pairs", len(cands), 0)
                yield judge.row("verified_pairs", len(matches), 0)
            if best is None:
                yield from judge.keep(doc)
                continue
            dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": key_id(best[0]),
                                                 "similarity": round(best[1], 4)})
            by = [(f"duplicate_of:{self._ranked[best[0][0]]}", 1, doc.nbytes)] if self._ranked else []
            yield from judge.drop(dup, self._reason, *by)


class NearDedup(beam.PTransform):
    """Stage "near_dedup" with the pairwise rule (Books); see the module docstring.

    Extra stat rows: "candidate_pairs" (distinct pairs verified), "verified_pairs"
    (pairs at or over the threshold), "oversized_buckets" and
    "oversized_bucket_documents" (the documents in them).
    """

    def __init__(self, params: MinHashParams, source: str):
        super().__init__()
        self._params, self._source = params, source

    def expand(self, docs) -> StageResult:
        keyed = docs | "KeyById" >> beam.Map(lambda d: (d.id, d))
        signed, _, at_b, bucket_stats = lsh_candidates(keyed, self._params, functools.partial(fixed_source, self._source))
        out = judged({"item": signed, "cand": at_b} | "JoinAtB" >> beam.CoGroupByKey(),
                     "Verify", VerifyAtB(self._source, self._params.threshold))
        stats = (bucket_stats, out.stats) | "SumStats" >> SumStats()
        return StageResult(out.kept, out.rejected, stats)


# ---------------------------------------------------------------- the components rule

class _VerifyEdges(beam.DoFn):
    """(b, {"sig": [signature of b], "cand": [(a, sig_a)]}) -> verified edges (a, b); pair counts as stat rows."""

    def __init__(self, source: str, threshold: float):
        self._source, self._threshold = source, threshold

    def process(self, element):
        b, joined = element
        cands = list(joined["cand"])
        if not cands:
            return
        for sig_bytes in joined["sig"]:
            matches = verified(sig_bytes, cands, self._threshold)
            yield stat_row(self._source, NEAR_DEDUP, "candidate_pairs", len(cands), 0)
            yield stat_row(self._source, NEAR_DEDUP, "verified_pairs", len(matches), 0)
            for a, _ in matches:
                yield a, b


class _Resolve(beam.DoFn):
    """(id, {"doc": [document], "label": [smaller label]}) -> kept, or near_duplicate of its label."""

    def __init__(self, source: str):
        self._source = source

    def setup(self):
        self._judge = Judge(self._source, NEAR_DEDUP, [NEAR_DUPLICATE])

    def process(self, element):
        _, joined = element
        labels = list(joined["label"])
        for doc in joined["doc"]:
            yield from self._judge.arrived(doc)
            if labels:
                dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": min(labels)})
                yield from self._judge.drop(dup, NEAR_DUPLICATE)
            else:
                yield from self._judge.keep(doc)


class DocumentNearDedup(beam.PTransform):
    """Stage "near_dedup" with the components rule (CommonCrawl, C4); see the module docstring.

    Extra stat rows: those of `NearDedup` and of `MinLabelComponents`.
    """

    def __init__(self, settings: NearDedupSettings, source: str):
        super().__init__()
        self._settings, self._source = settings, source

    def expand(self, docs) -> StageResult:
        settings, source = self._settings, self._source
        keyed = docs | "KeyById" >> beam.Map(lambda d: (d.id, d))
        _, sigs, at_b, bucket_stats = lsh_candidates(keyed, settings.params, functools.partial(fixed_source, source))
        edges = ({"sig": sigs, "cand": at_b}
                 | "JoinAtB" >> beam.CoGroupByKey()
                 | "Verify" >> beam.ParDo(_VerifyEdges(source, settings.threshold)).with_outputs(STATS, main="edges"))
        labels, component_rows = edges.edges | "Components" >> MinLabelComponents(source, NEAR_DEDUP,
                                                                                  settings.max_rounds)
        drops = labels | "Drops" >> beam.Filter(lambda kv: kv[1] != kv[0])
        out = judged({"doc": keyed, "label": drops} | "JoinLabels" >> beam.CoGroupByKey(), "Resolve",
                     _Resolve(source))
        stats = (bucket_stats, edges[STATS], component_rows, out.stats) | "SumStats" >> SumStats()
        return StageResult(out.kept, out.rejected, stats)


# ---------------------------------------------------------------- the summary

def summary_lines(entry: dict, indent: str = " " * 15) -> list[str]:
    """Clusters and label-propagation rounds of a components near_dedup entry of stats.json."""
    if "max_rounds" not in entry:
        return []  # the pairwise rule (Books)
    sizes = entry.get("cluster_sizes", {})
    clusters = sum(sizes.values())
    docs = sum(int(n) * count for n, count in sizes.items())
    shown = ", ".join(f"{count} of {n}" for n, count in sorted(sizes.items(), key=lambda kv: int(kv[0])))
    rounds = len(entry.get("label_changes", {}))
    lines = [f"{indent}{clusters} near-duplicate clusters ({docs} documents; clusters of n: {shown or 'none'}), "
             f"each keeps its smallest id",
             f"{indent}connected components: labels settled after {rounds} of at most "
             f"{entry['max_rounds']['count']} rounds"]
    unconverged = entry.get("unconverged_documents", {}).get("count", 0)
    if unconverged:
        lines.append(f"{indent}NOT CONVERGED: {unconverged} documents in "
                     f"{entry.get('unconverged_components', {}).get('count', 0)} components still had a smaller "
                     "label to take; raise max_rounds (those components keep more than one document)")
    return lines

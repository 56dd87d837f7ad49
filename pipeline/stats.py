"""Accounting that every stage reports, computed inside the pipeline.

Each stage emits a PCollection of `StatKey -> (documents, bytes)` pairs alongside
its outputs: the DoFn that judges a document writes its rows (`stat_row`, on the
`STATS` tagged output), and the stage sums them in one `SumStats`. The launcher
flattens all stages' rows, sums per key again (a Combine, so it works on every
runner without relying on runner metrics), writes them to `OUT/stats.json`, and
checks `in == kept + dropped` per stage. Beam counters are incremented as well,
so a Dataflow user sees the same numbers in the job UI.

Key layout: (source, stage, metric), where metric is one of
  "in", "kept", "dropped:<reason>"      document accounting (must balance)
  anything else, e.g. "lines_removed", "lang_before:fr"   extra measurements
"""
from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam

from filters.document import Document

StatKey = tuple[str, str, str]
StatValue = tuple[int, int]  # documents (or lines, for line metrics), bytes

STATS = "stats"  # the tagged output on which a DoFn emits its own stat rows


def stat_row(source: str, stage: str, metric: str, count: int, nbytes: int):
    """One stat row for a DoFn's STATS output; rows are summed per key downstream."""
    return beam.pvalue.TaggedOutput(STATS, ((source, stage, metric), (count, nbytes)))


class StageResult(NamedTuple):
    kept: beam.PCollection  # Document
    rejected: beam.PCollection  # Rejection
    stats: beam.PCollection  # (StatKey, StatValue)


def run_stages(docs, stages) -> StageResult:
    """Apply `(label, transform)` stages in order, each to the previous one's kept
    documents; their rejects and stats are flattened into one StageResult."""
    results = []
    for label, stage in stages:
        results.append(docs | label >> stage)
        docs = results[-1].kept
    if not results:
        raise ValueError("run_stages needs at least one stage")
    return StageResult(
        docs,
        tuple(r.rejected for r in results) | "AllRejected" >> beam.Flatten(),
        tuple(r.stats for r in results) | "AllStats" >> beam.Flatten(),
    )


class Chain(beam.PTransform):
    """`run_stages` as a transform: `(label, transform)` stages applied in order."""

    def __init__(self, stages):
        super().__init__()
        self._stages = list(stages)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, self._stages)


class Rejection(NamedTuple):
    doc: Document
    stage: str
    reason: str


def sum_pairs(values) -> StatValue:
    docs = nbytes = 0
    for d, b in values:
        docs += d
        nbytes += b
    return docs, nbytes


class SumStats(beam.PTransform):
    """Flatten any number of stat PCollections and sum them per key.

    One combine per composite stage, not one per metric: each combine is a shuffle
    and a stage of its own on the runner.
    """

    def expand(self, stat_pcolls):
        if not isinstance(stat_pcolls, beam.PCollection):
            stat_pcolls = stat_pcolls | beam.Flatten()
        return stat_pcolls | beam.CombinePerKey(sum_pairs)

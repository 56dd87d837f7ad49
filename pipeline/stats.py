"""Accounting that every stage reports, computed inside the pipeline.

Each stage emits a PCollection of `StatKey -> (documents, bytes)` pairs alongside
its outputs. The launcher flattens them all, sums per key (a Combine, so it works
on every runner without relying on runner metrics), writes them to
`OUT/stats.json`, and checks `in == kept + dropped` per stage. Beam counters are
incremented as well, so a Dataflow user sees the same numbers in the job UI.

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


def count_docs(docs, source: str, stage: str, metric: str, label: str):
    """One row per document, `(source, stage, metric) -> (1, its UTF-8 bytes)`, to be summed."""
    key = (source, stage, metric)
    return docs | label >> beam.Map(lambda d: (key, (1, d.nbytes)))


def count_rejections(rejections, label: str):
    """One row per rejection, under (source, stage, "dropped:<reason>"), to be summed."""
    return rejections | label >> beam.Map(
        lambda r: ((r.doc.source, r.stage, f"dropped:{r.reason}"), (1, r.doc.nbytes)))


def stage_rows(pcoll_in, kept, rejected, source: str, stage: str, label: str):
    """The standard in / kept / dropped:<reason> rows of one stage, per document, unsummed:
    pass them with any other rows of the same transform to one `SumStats`."""
    return (
        count_docs(pcoll_in, source, stage, "in", f"{label}CountIn"),
        count_docs(kept, source, stage, "kept", f"{label}CountKept"),
        count_rejections(rejected, f"{label}CountDropped"),
    )


def stage_stats(pcoll_in, kept, rejected, source: str, stage: str, label: str):
    """`stage_rows`, summed per key."""
    return stage_rows(pcoll_in, kept, rejected, source, stage, label) | f"{label}SumStats" >> SumStats()


class SumStats(beam.PTransform):
    """Flatten any number of stat PCollections and sum them per key.

    One combine per composite stage, not one per metric: each combine is a shuffle
    and a stage of its own on the runner.
    """

    def expand(self, stat_pcolls):
        return stat_pcolls | beam.Flatten() | beam.CombinePerKey(sum_pairs)

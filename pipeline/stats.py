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


class CountDocs(beam.PTransform):
    """Count documents and their UTF-8 bytes under (source, stage, metric)."""

    def __init__(self, source: str, stage: str, metric: str):
        super().__init__(label=None)
        self._key = (source, stage, metric)

    def expand(self, docs):
        key = self._key
        return (
            docs
            | beam.Map(lambda d: (key, (1, d.nbytes)))
            | beam.CombinePerKey(sum_pairs)
        )


class CountRejections(beam.PTransform):
    """Count rejections per (source, stage, "dropped:<reason>")."""

    def expand(self, rejections):
        return (
            rejections
            | beam.Map(lambda r: ((r.doc.source, r.stage, f"dropped:{r.reason}"), (1, r.doc.nbytes)))
            | beam.CombinePerKey(sum_pairs)
        )


def stage_stats(pcoll_in, kept, rejected, source: str, stage: str, label: str):
    """The standard in / kept / dropped:<reason> rows for one stage, flattened."""
    return (
        pcoll_in | f"{label}CountIn" >> CountDocs(source, stage, "in"),
        kept | f"{label}CountKept" >> CountDocs(source, stage, "kept"),
        rejected | f"{label}CountDropped" >> CountRejections(),
    ) | f"{label}FlattenStats" >> beam.Flatten()


class SumStats(beam.PTransform):
    """Flatten any number of stat PCollections and sum them per key."""

    def expand(self, stat_pcolls):
        return stat_pcolls | beam.Flatten() | beam.CombinePerKey(sum_pairs)

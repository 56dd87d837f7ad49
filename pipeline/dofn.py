"""One generic DoFn that runs any `filters.base.DocumentFilter` as a Beam step."""
from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from filters.base import DocumentFilter, Drop
from pipeline.localize import localize
from pipeline.stats import STATS, Rejection, StageResult, SumStats, stat_row

log = logging.getLogger(__name__)

REJECTED = "rejected"


class ApplyFilter(beam.DoFn):
    """Keep or drop each document; rejects go to the `rejected` tagged output, and the
    stage's in / kept / dropped:<reason> rows (plus the filter's own measurements) to
    the `stats` one.

    Heavy state loads in `setup()`, once per worker; its load time is logged.
    """

    def __init__(self, doc_filter: DocumentFilter, source: str):
        self._filter = doc_filter
        self._stage = doc_filter.stage
        self._source = source

    def setup(self):
        start = time.perf_counter()
        for attr in self._filter.model_paths:
            setattr(self._filter, attr, localize(getattr(self._filter, attr)))
        self._filter.setup()
        log.info("%s: set up in %.2fs", self._stage, time.perf_counter() - start)
        self._kept = Metrics.counter(self._stage, "kept")
        self._dropped = {r: Metrics.counter(self._stage, f"dropped_{r}") for r in self._filter.reasons}

    def process(self, doc):
        source, stage = self._source, self._stage
        yield stat_row(source, stage, "in", 1, doc.nbytes)
        result = self._filter.apply(doc)
        if isinstance(result, Drop):
            counter = self._dropped.get(result.reason)
            if counter is None:  # a reason the filter did not declare: still counted
                counter = self._dropped[result.reason] = Metrics.counter(stage, f"dropped_{result.reason}")
            counter.inc()
            yield stat_row(source, stage, f"dropped:{result.reason}", 1, doc.nbytes)
            for metric, count, nbytes in self._filter.measurements(doc, kept=False):
                yield stat_row(source, stage, metric, count, nbytes)
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(doc, stage, result.reason))
        else:
            self._kept.inc()
            yield stat_row(source, stage, "kept", 1, result.nbytes)
            for metric, count, nbytes in self._filter.measurements(result, kept=True):
                yield stat_row(source, stage, metric, count, nbytes)
            yield result


class FilterStage(beam.PTransform):
    """Any DocumentFilter as a composite stage returning kept, rejected and stats."""

    def __init__(self, doc_filter: DocumentFilter, source: str):
        super().__init__(label=doc_filter.stage)
        self._filter = doc_filter
        self._source = source

    def expand(self, docs) -> StageResult:
        out = docs | "Apply" >> beam.ParDo(ApplyFilter(self._filter, self._source)).with_outputs(
            REJECTED, STATS, main="kept")
        return StageResult(out.kept, out[REJECTED], out[STATS] | "SumStats" >> SumStats())

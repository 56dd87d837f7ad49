"""One generic DoFn that runs any `filters.base.DocumentFilter` as a Beam step."""
from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from filters.base import DocumentFilter, Drop
from pipeline.localize import localize
from pipeline.stats import Rejection, StageResult, SumStats, stage_rows

log = logging.getLogger(__name__)

REJECTED = "rejected"


class ApplyFilter(beam.DoFn):
    """Keep or drop each document; rejects go to the `rejected` tagged output.

    Heavy state loads in `setup()`, once per worker; its load time is logged.
    """

    def __init__(self, doc_filter: DocumentFilter):
        self._filter = doc_filter
        self._stage = doc_filter.stage

    def setup(self):
        start = time.perf_counter()
        for attr in self._filter.model_paths:
            setattr(self._filter, attr, localize(getattr(self._filter, attr)))
        self._filter.setup()
        log.info("%s: set up in %.2fs", self._stage, time.perf_counter() - start)
        self._kept = Metrics.counter(self._stage, "kept")
        self._dropped = {r: Metrics.counter(self._stage, f"dropped_{r}") for r in self._filter.reasons}

    def process(self, doc):
        result = self._filter.apply(doc)
        if isinstance(result, Drop):
            counter = self._dropped.get(result.reason)
            if counter is None:  # a reason the filter did not declare: still counted
                counter = self._dropped[result.reason] = Metrics.counter(self._stage, f"dropped_{result.reason}")
            counter.inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(doc, self._stage, result.reason))
        else:
            self._kept.inc()
            yield result


class FilterStage(beam.PTransform):
    """Any DocumentFilter as a composite stage returning kept, rejected and stats.

    Subclasses add stat rows of their own in `extra_rows`; all are summed in one combine.
    """

    def __init__(self, doc_filter: DocumentFilter, source: str):
        super().__init__(label=doc_filter.stage)
        self._filter = doc_filter
        self._source = source

    def expand(self, docs) -> StageResult:
        out = docs | "Apply" >> beam.ParDo(ApplyFilter(self._filter)).with_outputs(REJECTED, main="kept")
        rows = stage_rows(docs, out.kept, out[REJECTED], self._source, self._filter.stage, "")
        stats = (*rows, *self.extra_rows(out.kept, out[REJECTED])) | "SumStats" >> SumStats()
        return StageResult(out.kept, out[REJECTED], stats)

    def extra_rows(self, kept, rejected) -> tuple:
        """More `(StatKey, StatValue)` PCollections, per document, to be summed with the rest."""
        return ()

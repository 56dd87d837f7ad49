"""One way to keep or drop a document: `Judge`, and `FilterStage` for any `DocumentFilter`.

Every DoFn that judges documents accounts for them through a `Judge`, whose calls
yield what the DoFn emits: the document itself when kept, a `Rejection` on the
`rejected` tagged output when dropped, stat rows on the `stats` tagged output
(`in`, `kept`, `dropped:<reason>`, plus any measurements given with the verdict),
and the Beam counters (`<stage>/kept`, `<stage>/dropped_<reason>`) a Dataflow user
sees in the job UI. So `in == kept + dropped` holds by construction.

    def process(self, doc):
        yield from self._judge.arrived(doc)
        if bad(doc):
            yield from self._judge.drop(doc, "too_short", ("lines_removed", n, nbytes))
        else:
            yield from self._judge.keep(doc)
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from filters.base import DocumentFilter, Drop
from filters.document import Document
from pipeline.localize import localize
from pipeline.stats import STATS, Rejection, StageResult, SumStats, stat_row

log = logging.getLogger(__name__)

REJECTED = "rejected"  # the tagged output of rejected documents

Measurement = tuple[str, int, int]  # (metric, count, bytes): an extra stat row

# Drops whose text the run report never shows (nor keeps for it): only the id, the
# URL's host and the reason. Matched against the reason and the stage name, each
# without a ":<detail>" suffix, so a stage may qualify its reasons ("pii_masked:email").
SENSITIVE_REASONS = frozenset({
    "bad_words",  # C4's bad-words rule: the text is what the rule exists to keep out of sight
    "url_blocklist",  # a blocklisted domain (adult, malware, ...)
    "contaminated",  # benchmark text: showing it spreads the leak
    "decontamination",  # the stage
    "pii", "pii_masked",  # personal data
})


def is_sensitive(stage: str, reason: str) -> bool:
    """Whether a drop's text must not be shown (SENSITIVE_REASONS)."""
    return any(name.split(":", 1)[0] in SENSITIVE_REASONS for name in (reason, stage))


class Judge:
    """The accounting of one stage of one source, for use inside a DoFn (build it in `setup`)."""

    def __init__(self, source: str, stage: str, reasons: Iterable[str] = ()):
        self.source, self.stage = source, stage
        self._kept = Metrics.counter(stage, "kept")
        self._dropped = {r: Metrics.counter(stage, f"dropped_{r}") for r in reasons}
        self._lines_removed = Metrics.counter(stage, "lines_removed")

    def row(self, metric: str, count: int, nbytes: int):
        """One stat row of this stage (summed per metric downstream)."""
        return stat_row(self.source, self.stage, metric, count, nbytes)

    def arrived(self, doc: Document):
        """A document entering the stage."""
        yield self.row("in", 1, doc.nbytes)

    def trimmed(self, before: Document, after: Document, lines_in: int, removed: int):
        """Rows for lines the stage removed from a document: "lines_in" and "lines_removed" (lines, bytes).

        lines_in bytes are the document's bytes, so lines_removed bytes are exactly what
        the trimming took away (line contents and their newlines)."""
        self._lines_removed.inc(removed)
        yield self.row("lines_in", lines_in, before.nbytes)
        yield self.row("lines_removed", removed, before.nbytes - after.nbytes)

    def keep(self, doc: Document, *measurements: Measurement):
        yield from self.passes(doc, *measurements)
        yield doc

    def passes(self, doc: Document, *measurements: Measurement):
        """Kept, and handed to a later stage in the same DoFn: counted, not emitted."""
        self._kept.inc()
        yield self.row("kept", 1, doc.nbytes)
        for metric, count, nbytes in measurements:
            yield self.row(metric, count, nbytes)

    def drop(self, doc: Document, reason: str, *measurements: Measurement):
        counter = self._dropped.get(reason)
        if counter is None:  # a reason the stage did not declare: still counted
            counter = self._dropped[reason] = Metrics.counter(self.stage, f"dropped_{reason}")
        counter.inc()
        yield self.row(f"dropped:{reason}", 1, doc.nbytes)
        for metric, count, nbytes in measurements:
            yield self.row(metric, count, nbytes)
        yield beam.pvalue.TaggedOutput(REJECTED, Rejection(doc, self.stage, reason))


class ApplyFilter(beam.DoFn):
    """Keep or drop each document by a `DocumentFilter`, with the filter's measurements.

    Heavy state loads in `setup()`, once per worker; its load time is logged.
    """

    def __init__(self, doc_filter: DocumentFilter, source: str, checksums: Mapping[str, str] | None = None):
        self._filter = doc_filter
        self._source = source
        self._checksums = dict(checksums or {})

    def setup(self):
        start = time.perf_counter()
        for attr in self._filter.model_paths:  # local, and the file the models stage recorded
            setattr(self._filter, attr, localize(getattr(self._filter, attr), self._checksums.get(attr)))
        self._filter.setup()
        log.info("%s: set up in %.2fs", self._filter.stage, time.perf_counter() - start)
        self._judge = Judge(self._source, self._filter.stage, self._filter.reasons)

    def process(self, doc):
        yield from self._judge.arrived(doc)
        result = self._filter.apply(doc)
        if isinstance(result, Drop):
            yield from self._judge.drop(doc, result.reason, *self._filter.measurements(doc, kept=False))
        else:
            yield from self._judge.keep(result, *self._filter.measurements(result, kept=True))


class FilterStage(beam.PTransform):
    """Any DocumentFilter as a composite stage returning kept, rejected and stats.

    `checksums`: the sha256 each of the filter's model files must have ({attribute: sha256})."""

    def __init__(self, doc_filter: DocumentFilter, source: str, checksums: Mapping[str, str] | None = None):
        super().__init__(label=doc_filter.stage)
        self._filter = doc_filter
        self._source = source
        self._checksums = checksums

    def expand(self, docs) -> StageResult:
        return judged(docs, "Apply", ApplyFilter(self._filter, self._source, self._checksums))


def judged(pcoll, label: str, dofn: beam.DoFn, *side_inputs) -> StageResult:
    """Apply a judging DoFn (one that yields through a Judge) and gather its three outputs;
    `side_inputs` are passed to its `process` after the element."""
    out = pcoll | label >> beam.ParDo(dofn, *side_inputs).with_outputs(REJECTED, STATS, main="kept")
    return StageResult(out.kept, out[REJECTED], out[STATS] | f"{label}Stats" >> SumStats())
